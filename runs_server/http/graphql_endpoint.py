"""POST /graphql: authenticate, parse the body, check its size and shape,
execute against the store and refuse what would be too large."""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

import orjson
from ariadne import graphql_sync
from graphql import GraphQLError

from runs_server.graphql.context import RequestContext
from runs_server.graphql.cost import cost_rule
from runs_server.graphql.documents import DocumentCache, validator
from runs_server.graphql.execution import PreEncodedExecutionContext
from runs_server.graphql.limits import (
    MAX_QUERY_BYTES,
    MAX_VARIABLE_STRING_CHARS,
    RESPONSE_TOO_LARGE,
    QueryShapeRule,
)
from runs_server.graphql.schema import executable_schema
from runs_server.history import HistoryExports
from runs_server.http.auth import AuthError, api_key_from_header, authenticate
from runs_server.http.config import ServerConfig
from runs_server.http.replies import Reply, error_reply, graphql_reply
from runs_server.listing.regex import regex_budget
from runs_server.store import Store
from runs_server.writes.liveness import Liveness

graphql_logger = logging.getLogger("runs_server.graphql")

REQUEST_FORM = 'a JSON object like {"query": "...", "variables": {...}}'
# Fields of W&B's artifact API: answered with one clear error, not a
# schema error the SDKs cannot explain.
_UNSERVED_FIELD = re.compile(r"Cannot query field '(\w*[Aa]rtifact\w*)'")
ARTIFACTS_MESSAGE = (
    "artifacts are not served here: runs_server serves runs, their config, "
    "summary, history and sweeps (asked for field {field!r}); read artifacts "
    "from W&B itself"
)


class _UnexpectedErrorsOnly(logging.Filter):
    """Log resolver bugs; the caller's mistakes are in the response already."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, GraphQLError):
            original = error.original_error
            return original is not None and not isinstance(
                original, (GraphQLError, ValueError)
            )
        return True


graphql_logger.addFilter(_UnexpectedErrorsOnly())


class GraphQLEndpoint:
    """Answers one GraphQL request body on a worker thread."""

    def __init__(
        self, store: Store, config: ServerConfig, exports: HistoryExports
    ) -> None:
        self.store = store
        self.config = config
        self.exports = exports
        self.schema = executable_schema()
        self.documents = DocumentCache()
        self.liveness = Liveness(store, config.crash_after_s)

    def respond(
        self,
        body: bytes,
        authorization: str | None,
        gone: threading.Event,
        base_url: str = "",
    ) -> Reply:
        if gone.is_set():  # hung up while waiting for a thread: skip the work
            return error_reply(499, "the client hung up")
        try:
            user = authenticate(
                self.store, authorization, require_auth=self.config.require_auth
            )
            key = api_key_from_header(authorization)
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
        self.liveness.check()  # runs whose heartbeats stopped read as crashed
        if not isinstance(data, dict):
            return error_reply(400, f"the request body must be {REQUEST_FORM}")
        context = RequestContext(
            self.store,
            user,
            max_rows=self.config.max_response_rows,
            max_bytes=self.config.max_response_bytes,
            max_reads=self.config.max_values_read,
            # Only a key the store knows (it authenticated this request) may
            # be shown back; on an open server any other key acts as the
            # default user and must not reveal that user's key.
            api_key=key if user is not None and key == user.api_key else None,
            deadline=time.monotonic() + self.config.request_seconds,
            cancelled=gone,
            exports=self.exports,
            base_url=base_url,
        )
        try:
            with regex_budget(context.check):
                return self.execute(data, context)
        finally:
            context.close()

    def execute(self, data: dict[str, Any], context: RequestContext) -> Reply:
        query = data.get("query")
        if isinstance(query, str) and len(query) > MAX_QUERY_BYTES:
            message = f"query text over {MAX_QUERY_BYTES} characters; send less"
            return graphql_reply({"errors": [{"message": message}]})
        longest = longest_string(data.get("variables"))
        if longest > MAX_VARIABLE_STRING_CHARS:
            message = (
                f"a string in the variables is {longest:,} characters long; the "
                f"limit is {MAX_VARIABLE_STRING_CHARS:,}: send less"
            )
            return graphql_reply({"errors": [{"message": message}]})
        if data.get("operationName") == "":
            data["operationName"] = None  # some clients send "" for "absent"
        if data.get("variables") is None:
            data.pop("variables", None)
        # No lock here: parsing and validation touch no store, and the
        # resolvers take the request's connection on first use.
        # A text seen before is neither parsed nor checked again (but for
        # its cost, which depends on the variables): see graphql.documents.
        entry = self.documents.entry(query)
        checks: dict[str, Any] = (
            {"validation_rules": [QueryShapeRule, cost_rule(data.get("variables"))]}
            if entry is None
            else {
                "query_document": entry.document,
                "query_validator": validator(entry, data.get("variables")),
            }
        )
        _ok, result = graphql_sync(
            self.schema,
            data,
            context_value=context,
            introspection=True,
            logger=graphql_logger,
            execution_context_class=PreEncodedExecutionContext,
            **checks,
        )
        context.close()  # serialisation needs no connection
        if context.refusal is not None:
            # One error, no partial data: the other fields stopped short.
            return graphql_reply({"data": None, "errors": [context.refusal.formatted]})
        explain_unserved(result)
        reply = graphql_reply(result)
        if len(reply.body) > context.max_bytes:  # the estimate fell short
            refusal = context.refuse(
                f"this response would be larger than {context.max_bytes:,} bytes; "
                "ask for less in one request (a smaller per_page, fewer fields "
                "or aliases, or lower samples)",
                RESPONSE_TOO_LARGE,
            )
            return graphql_reply({"data": None, "errors": [refusal.formatted]})
        return reply


def longest_string(value: Any, depth: int = 0) -> int:
    """The length of the longest string key or value inside ``value``."""
    if isinstance(value, str):
        return len(value)
    if depth > 64:  # orjson refuses deeper documents anyway
        return 0
    if isinstance(value, dict):
        return max(
            (max(len(k), longest_string(v, depth + 1)) for k, v in value.items()),
            default=0,
        )
    if isinstance(value, list):
        return max((longest_string(v, depth + 1) for v in value), default=0)
    return 0


def explain_unserved(result: dict[str, Any]) -> None:
    """Say plainly that artifacts are not served, instead of a schema error."""
    for error in result.get("errors") or []:
        found = _UNSERVED_FIELD.search(str(error.get("message", "")))
        if found:
            error["message"] = ARTIFACTS_MESSAGE.format(field=found.group(1))
            error.setdefault("extensions", {})["code"] = "NOT_SERVED"
