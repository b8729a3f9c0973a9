"""POST /columnar/history: a page of runs' history as an Arrow IPC stream.

The request is the bulk page query's own body (``{"operationName":
"RunsHistoryPage" | "RunsSampledHistoryPage" | "RunsEventsPage",
"variables": {...}}``; the query text is not executed): the same entity,
project, filters, order, cursor, perPage, samples and specs (one spec), and
``stepGrid: true`` from a client that reads ``_step`` from the page's
metadata when the page allows (``history.columnar``). It is
answered under the same rules as POST /graphql: the same authentication and
project visibility, page cap, row and byte caps, deadline and hang-up checks.
``RunNames`` (the same entity, project, filters, order and cursor) answers
JSON: the names of the runs after the cursor, so that a client can ask
their pages by name, several at once (``data.project.runNames``, at most
``MAX_PLAN_NAMES``; ``complete``; and when it is false, ``endCursor``, the
cursor after the last name, where the client asks for the next names).
A page is an Arrow stream (``history.columnar``); anything else is a
GraphQL-shaped JSON body (``errors``, or ``data.project`` null for a project
that is missing or not readable), so a client reads it as it reads /graphql.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import orjson

from runs_server import history, listing
from runs_server.graphql.context import Refused, RequestContext
from runs_server.graphql.limits import MAX_FIRST, MAX_SPECS, MAX_VARIABLE_STRING_CHARS
from runs_server.history.columnar import (
    ARROW_STREAM_TYPE,
    arrow_stream,
    read_columns,
    read_events,
)
from runs_server.http.auth import AuthError, authenticate
from runs_server.http.config import ServerConfig
from runs_server.http.graphql_endpoint import longest_string
from runs_server.http.replies import Reply, error_reply, graphql_reply
from runs_server.store import Store

COLUMNAR_PATH = "/columnar/history"
OPERATIONS = (
    "RunsHistoryPage",
    "RunsSampledHistoryPage",
    "RunsEventsPage",
    "RunNames",
)
# Names a ``RunNames`` answer holds at most (128 characters each: about
# 2.6 MB); past it the answer says it is incomplete and where the next names
# start (``endCursor``).
MAX_PLAN_NAMES = 20_000
# What a page reads of its runs (not their config or summary).
PAGE_COLUMNS = "runs.id, runs.name, runs.history_line_count"
REQUEST_FORM = (
    'a JSON object like {"operationName": "RunsHistoryPage", "variables": '
    '{"entity": "...", "project": "...", "perPage": 50, "samples": 500}}'
)


class _BadRequest(ValueError):
    """A request outside the accepted form: its message says which part."""


def _string(variables: dict[str, Any], name: str, required: bool = False) -> Any:
    value = variables.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise _BadRequest(f"variables.{name} must be a string, got {value!r:.80}")
    return value


def _flag(variables: dict[str, Any], name: str) -> bool:
    value = variables.get(name, False)
    if not isinstance(value, bool):
        raise _BadRequest(f"variables.{name} must be true or false, got {value!r:.80}")
    return value


def _int(variables: dict[str, Any], name: str) -> int | None:
    value = variables.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise _BadRequest(f"variables.{name} must be an integer, got {value!r:.80}")
    return value


class ColumnarEndpoint:
    """Answers one columnar history request on a worker thread."""

    def __init__(self, store: Store, config: ServerConfig) -> None:
        self.store = store
        self.config = config

    def respond(
        self, body: bytes, authorization: str | None, gone: threading.Event
    ) -> Reply:
        if gone.is_set():
            return error_reply(499, "the client hung up")
        try:
            user = authenticate(
                self.store, authorization, require_auth=self.config.require_auth
            )
        except AuthError as exc:
            return error_reply(
                401, str(exc), (b"www-authenticate", b'Basic realm="runs_server"')
            )
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return error_reply(
                400, f"the request body is not JSON; send {REQUEST_FORM}"
            )
        if not isinstance(data, dict) or data.get("operationName") not in OPERATIONS:
            return error_reply(
                400, f"the request body must be {REQUEST_FORM}, naming one of "
                f"{', '.join(OPERATIONS)}"
            )  # fmt: skip
        variables = data.get("variables") or {}
        if not isinstance(variables, dict):
            return error_reply(400, f"variables must be an object; send {REQUEST_FORM}")
        longest = longest_string(variables)
        if longest > MAX_VARIABLE_STRING_CHARS:
            return _errors(
                f"a string in the variables is {longest:,} characters long; the "
                f"limit is {MAX_VARIABLE_STRING_CHARS:,}: send less"
            )
        context = RequestContext(
            self.store,
            user,
            max_rows=self.config.max_response_rows,
            max_bytes=self.config.max_response_bytes,
            deadline=time.monotonic() + self.config.request_seconds,
            cancelled=gone,
        )
        try:
            return self._page(str(data["operationName"]), variables, context)
        except Refused as exc:
            return graphql_reply({"data": None, "errors": [exc.formatted]})
        except ValueError as exc:  # the caller's mistake, said plainly
            return _errors(str(exc))
        finally:
            context.close()

    def _page(
        self, operation: str, variables: dict[str, Any], context: RequestContext
    ) -> Reply:
        entity = _string(variables, "entity") or (
            context.user.entity if context.user else None
        )
        name = _string(variables, "project", required=True)
        project = self.store.projects.find(entity, name) if entity else None
        if project is None or not self.store.projects.can_read(context.user, project):
            # As /graphql: an unreadable project looks missing.
            return graphql_reply({"data": {"project": None}})
        per_page = _int(variables, "perPage")
        per_page = 50 if per_page is None else per_page
        if not 0 <= per_page <= MAX_FIRST:
            raise _BadRequest(
                f"first must be between 0 and {MAX_FIRST} runs per page, got "
                f"{per_page}: lower per_page"
            )
        order = _string(variables, "order")
        if operation == "RunNames":
            return self._names(project.id, variables, order, context)
        sql = listing.page_runs(
            project.id,
            _string(variables, "filters"),
            order,
            _string(variables, "cursor"),
            per_page,
            PAGE_COLUMNS,
        )
        rows = context.conn.execute(sql.sql, sql.params).fetchall()
        has_next = len(rows) > per_page
        rows = rows[:per_page]
        ids = [int(r["id"]) for r in rows]
        end = listing.cursor_for(order, rows[-1]) if rows else None
        conn, check = context.conn, context.check
        grid = _flag(variables, "stepGrid")
        if operation == "RunsEventsPage":
            samples = history.check_samples(_int(variables, "samples"))
            page = read_events(conn, ids, samples=samples, check=check)
            context.spend_rows(page.total)
        elif operation == "RunsHistoryPage":
            samples = history.check_samples(_int(variables, "samples"))
            context.spend_rows(_budget(rows, samples))
            page = read_columns(conn, ids, samples=samples, check=check, step_grid=grid)
        else:
            spec = self._spec(variables)
            context.spend_rows(_budget(rows, spec.samples))
            page = read_columns(
                conn, ids, samples=None, spec=spec, check=check, step_grid=grid
            )
        body = arrow_stream(page, [str(r["name"]) for r in rows], end, has_next)
        context.spend_bytes(len(body))
        return Reply(200, body, [(b"content-type", ARROW_STREAM_TYPE.encode())])

    @staticmethod
    def _names(
        project_id: int,
        variables: dict[str, Any],
        order: str | None,
        context: RequestContext,
    ) -> Reply:
        """The names of the runs after ``cursor`` in the collection's order
        (at most ``MAX_PLAN_NAMES``; ``complete`` says whether that is all,
        and ``endCursor`` where the rest start when it is not): a client that
        knows them asks their pages by name, several at once, instead of one
        page after another's end cursor."""
        sql = listing.page_runs(
            project_id,
            _string(variables, "filters"),
            order,
            _string(variables, "cursor"),
            MAX_PLAN_NAMES,
            "runs.name",
        )
        rows = context.conn.execute(sql.sql, sql.params).fetchall()
        context.check()
        complete = len(rows) <= MAX_PLAN_NAMES
        rows = rows[:MAX_PLAN_NAMES]
        answer: dict[str, Any] = {
            "runNames": [str(row["name"]) for row in rows],
            "complete": complete,
        }
        if not complete:
            answer["endCursor"] = listing.cursor_for(order, rows[-1])
        return graphql_reply({"data": {"project": answer}})

    @staticmethod
    def _spec(variables: dict[str, Any]) -> history.Spec:
        specs = variables.get("specs")
        if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs):
            raise _BadRequest("variables.specs must be a list of JSON strings")
        if len(specs) != 1:
            raise _BadRequest(
                f"columnar sampledHistory takes exactly one spec, got {len(specs)} "
                f"(at most {MAX_SPECS} on /graphql): send one request per spec"
            )
        return history.parse_spec(specs[0])


def _budget(rows: list[Any], samples: int | None) -> int:
    """Upper bound of the rows the page returns, for the row cap."""
    counts = (int(r["history_line_count"]) for r in rows)
    return sum(counts if samples is None else (min(c, samples) for c in counts))


def _errors(message: str) -> Reply:
    return graphql_reply({"errors": [{"message": message}]})
