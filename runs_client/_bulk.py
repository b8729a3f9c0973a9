"""Histories of many runs, a page of runs per request.

``history``, ``sampledHistory`` or ``events`` is selected on every node of
``project.runs`` (``queries/bulk_history.graphql``), so N runs cost about
N / runs-per-request round trips instead of N. Runs per request follow a row
budget (``ROW_BUDGET // rows per run``, clamped to the server's page cap);
a page refused as too large, or timing out, is asked again as two halves.

Where the pages come from (``Position``): first the runs the collection has
already loaded, asked by name (``{"name": {"$in": [...]}}``) in chunks, up to
``MAX_IN_FLIGHT`` requests at a time; then the pages after the collection's
cursor, one after another (each needs the previous page's end cursor), the
next one in flight while the caller converts the last.

A server that refuses history fields on the runs connection gets one request
per run instead (bounded concurrency), remembered for that client.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import logging
import threading
import warnings
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import orjson
import runs_gql
from runs_gql.base_model import UNSET
from runs_gql.operations import (
    RUNS_EVENTS_PAGE_GQL,
    RUNS_HISTORY_PAGE_GQL,
    RUNS_SAMPLED_HISTORY_PAGE_GQL,
)

from ._exceptions import (
    GraphQLError,
    InvalidArgumentError,
    NotFoundError,
    ServerError,
    TimeoutError,
)
from ._history import Stream, parse_lines, sampled_rows
from ._json import dumps_compact
from ._rows import (
    fix_nonfinite_strings,
    has_nonfinite_strings,
    normalise_steps,
    order_permutation,
    parse_line_groups,
)
from ._transport import DECODED_KEY, RetryingClient
from ._typed_pages import RowDecoder, row_decoder

__all__ = [
    "FULL_ROW_BUDGET",
    "MAX_IN_FLIGHT",
    "MAX_RUNS_PER_REQUEST",
    "MAX_SPECS",
    "ROW_BUDGET",
    "BulkFetcher",
    "HistoryQuery",
    "Join",
    "Page",
    "Position",
    "decode_token",
]

logger = logging.getLogger("runs_client")

Join = Literal["and", "outer"]

# History rows asked per request: 120 runs x 500 samples is one request, and a
# page of rows parsed into dicts stays far below a few hundred MB.
ROW_BUDGET = 64_000
# The default budget for full history rows (every key): a full row is several
# times the bytes of a sampled row of a few keys, and pages of full rows are
# what a long export holds in memory while it converts them.
FULL_ROW_BUDGET = 32_000
# The server's caps: runs per page (``first``) and specs per sampledHistory.
MAX_RUNS_PER_REQUEST = 1000
MAX_SPECS = 100
# Requests in flight at once (the server and the network work while we parse).
MAX_IN_FLIGHT = 3
# Names per ``$in`` filter stay well inside the server's size limits anyway,
# since a chunk is at most MAX_RUNS_PER_REQUEST names.
_HISTORY_FIELDS = frozenset({"history", "sampledHistory", "events"})
# Machine-readable codes of a size refusal; the message is the fallback for
# servers that send no code.
_TOO_LARGE_CODES = frozenset({"RESPONSE_TOO_LARGE", "TOO_LARGE"})
_TOO_LARGE_MESSAGES = ("history rows in one response", "too large")

# Clients whose server refused history on the runs connection: asked per run.
_PER_RUN_CLIENTS: weakref.WeakKeyDictionary[runs_gql.Client, str] = (
    weakref.WeakKeyDictionary()
)


class BulkHistoryWarning(UserWarning):
    """The server cannot send history for a page of runs: one request per run."""


@dataclass(frozen=True)
class HistoryQuery:
    """What a histories() call asks for, the same for every page."""

    samples: int
    keys: tuple[str, ...] | None  # None: full rows
    x_axis: str
    stream: Stream
    join: Join

    @property
    def specs(self) -> list[str]:
        """``sampledHistory`` specs: one with every key, or one per key."""
        if self.keys is None:
            return []
        if self.join == "and":
            keys = list(dict.fromkeys([self.x_axis, *self.keys]))
            return [dumps_compact({"keys": keys, "samples": self.samples})]
        return [
            dumps_compact({"keys": [self.x_axis, key], "samples": self.samples})
            for key in dict.fromkeys(self.keys)
            if key != self.x_axis
        ] or [dumps_compact({"keys": [self.x_axis], "samples": self.samples})]

    @property
    def row_keys(self) -> list[str] | None:
        """The keys every row holds (the AND rule), when the query fixes them."""
        if self.keys is None or self.join != "and":
            return None
        return list(dict.fromkeys([self.x_axis, *self.keys]))

    @property
    def order_by(self) -> str:
        if self.stream == "system":
            return "_timestamp"
        return self.x_axis if self.join == "outer" and self.keys else "_step"

    @property
    def rows_per_run(self) -> int:
        return self.samples * max(1, len(self.specs))


@dataclass(frozen=True)
class Position:
    """Where a fetch stands: loaded runs still to ask by name, then the cursor."""

    names: tuple[str, ...] = ()
    cursor: str | None = None
    more: bool = False

    @property
    def done(self) -> bool:
        return not self.names and not self.more


@dataclass
class Page:
    """Rows of some runs, each run's rows together, as the server sent them.

    Step order, ``_step`` floats and ``"NaN"`` strings (``nonfinite``) are
    left to the consumer, which fixes them column by column for frames
    (``Columns.add_page``) or row by row for dicts (``Page.records``).
    """

    run_ids: list[str]
    counts: list[int]
    rows: list[dict[str, Any]]
    order_by: str = "_step"
    nonfinite: bool = False
    end_cursor: str | None = None
    has_next: bool = False
    requests: int = 1
    # History lines not parsed yet, one list per run (then ``rows`` is empty
    # and ``counts`` counts lines): parsed by the consumer, a few runs at a
    # time (``batches``), so a page's rows never all exist as dicts at once.
    lines: list[list[str]] | None = None
    operation: str = "RunsHistoryPage"  # named by a ServerError for a bad line
    # Rows decoded as objects of ``_typed_pages`` rather than dicts (sampled
    # history for frames): the decoder that made them, which names their fields.
    decoder: RowDecoder | None = None

    @property
    def fields(self) -> dict[str, str] | None:
        """Each key's attribute in the row objects; None for dict rows."""
        return None if self.decoder is None else self.decoder.fields

    def as_dicts(self) -> None:
        """Row objects (if any) turned into dicts."""
        if self.decoder is not None:
            self.rows = list(map(self.decoder.as_dict, self.rows))
            self.decoder = None

    def materialize(self) -> None:
        """Parse ``lines`` (if any) into ``rows``."""
        if self.lines is None:
            return
        groups = parse_line_groups(self.lines, self.operation)
        self.counts = [len(group) for group in groups]
        self.rows = [row for group in groups for row in group]
        self.lines = None

    def batches(self, rows: int) -> Iterator[Page]:
        """This page as parsed pages of whole runs, about ``rows`` rows each;
        each batch's lines are released once it is parsed."""
        lines = self.lines
        if lines is None:
            yield self
            return
        start, size = 0, 0
        for end, group in enumerate(lines, 1):
            size += len(group)
            if size < rows and end < len(lines):
                continue
            batch = Page(self.run_ids[start:end], self.counts[start:end], [],
                         self.order_by, lines=lines[start:end],
                         operation=self.operation)  # fmt: skip
            lines[start:end] = [[] for _ in range(end - start)]
            batch.materialize()
            yield batch
            start, size = end, 0

    @classmethod
    def of(
        cls, per_run: Sequence[tuple[str, list[dict[str, Any]]]], order_by: str
    ) -> Page:
        run_ids = [run_id for run_id, _ in per_run]
        counts = [len(rows) for _, rows in per_run]
        flat = list(itertools.chain.from_iterable(rows for _, rows in per_run))
        return cls(run_ids, counts, flat, order_by)

    def records(self, run_id_key: str) -> list[dict[str, Any]]:
        """The rows as dicts in order, each with its run id under ``run_id_key``."""
        self.materialize()
        self.as_dicts()
        rows = self.rows
        if self.nonfinite:
            fix_nonfinite_strings(rows)
        normalise_steps(rows)
        order = order_permutation(rows, self.counts, self.order_by)
        if order is not None:
            rows = [rows[i] for i in order]
        at = 0
        for run_id, count in zip(self.run_ids, self.counts, strict=True):
            for row in rows[at : at + count]:
                row[run_id_key] = run_id
            at += count
        return rows


def fingerprint(entity: str, project: str, filters: str | None, order: str | None,
                query: HistoryQuery) -> str:  # fmt: skip
    """Ties a resume token to the query it belongs to."""
    parts = [entity, project, filters, order, query.samples, query.keys,
             query.x_axis, query.stream, query.join]  # fmt: skip
    text = orjson.dumps(parts)
    return hashlib.sha256(text).hexdigest()[:16]


def encode_token(print_: str, position: Position) -> str:
    payload = {"v": 1, "q": print_, "n": list(position.names),
               "c": position.cursor, "m": position.more}  # fmt: skip
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def decode_token(token: object, print_: str) -> Position:
    """The position a resume token stands for; refuses another query's token."""
    problem = "it is not a resume token from runs_client"
    if isinstance(token, str):
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            payload = orjson.loads(raw)
        except (binascii.Error, ValueError):
            payload = None
        if isinstance(payload, dict) and payload.get("v") == 1:
            if payload.get("q") != print_:
                problem = (
                    "it belongs to another histories() query (other runs, "
                    "filters, order, samples, keys, x_axis, stream or join)"
                )
            else:
                names = payload.get("n")
                cursor = payload.get("c")
                if (
                    isinstance(names, list)
                    and all(isinstance(n, str) for n in names)
                    and (cursor is None or isinstance(cursor, str))
                ):
                    return Position(tuple(names), cursor, bool(payload.get("m")))
    raise InvalidArgumentError(
        f"after={token!r:.60} cannot be used: {problem}. Pass the resume_token of "
        "a HistoryBatch or of IncompleteHistoriesError from the same query."
    )


def _errors(exc: GraphQLError) -> list[dict[str, Any]]:
    return [e for e in exc.errors if isinstance(e, dict)]


def is_too_large(exc: Exception) -> bool:
    """A refusal for size (or a timeout): the page is worth asking as halves."""
    if isinstance(exc, TimeoutError):
        return True
    if not isinstance(exc, GraphQLError):
        return False
    for error in _errors(exc):
        extensions = error.get("extensions")
        if isinstance(extensions, dict) and "code" in extensions:
            if extensions["code"] in _TOO_LARGE_CODES:
                return True
            continue
        message = str(error.get("message", ""))
        if any(m in message for m in _TOO_LARGE_MESSAGES):
            return True
    return False


def refuses_bulk(exc: Exception) -> bool:
    """A GraphQL error pointing into a node's history field of ``project.runs``."""
    if not isinstance(exc, GraphQLError) or is_too_large(exc):
        return False
    for error in _errors(exc):
        path = error.get("path")
        if (
            isinstance(path, list)
            and "edges" in path
            and path
            and path[-1] in _HISTORY_FIELDS
        ):
            return True
    return False


def _in_filter(filters: dict[str, Any] | None, names: Sequence[str]) -> str:
    by_name = {"name": {"$in": list(names)}}
    return dumps_compact({"$and": [filters, by_name]} if filters else by_name)


@dataclass
class BulkFetcher:
    """Fetches pages of run histories for one query of one collection."""

    client: runs_gql.Client
    entity: str
    project: str
    filters: dict[str, Any] | None
    order: str | None
    query: HistoryQuery
    rows_per_request: int = ROW_BUDGET
    max_in_flight: int = MAX_IN_FLIGHT
    # Sampled rows may come as objects (``Page.decoder``): only a frame
    # builder (``Columns.add_page(fields=...)``) reads them.
    row_objects: bool = False
    page_size: int = field(init=False)
    requests: int = field(init=False, default=0)
    _seen_cursors: set[str] = field(init=False, default_factory=set)
    _refused: int | None = field(init=False, default=None)  # smallest refused size

    def __post_init__(self) -> None:
        per_run = max(1, self.query.rows_per_run)
        self.page_size = max(
            1, min(MAX_RUNS_PER_REQUEST, self.rows_per_request // per_run)
        )
        self._filters_json = dumps_compact(self.filters) if self.filters else None

    # -- the page stream ---------------------------------------------------

    def pages(self, start: Position) -> Iterator[tuple[Page, Position]]:
        """Pages in collection order, each with the position after it."""
        if self.client in _PER_RUN_CLIENTS:
            yield from self._per_run_pages(start)
            return
        pool = ThreadPoolExecutor(self.max_in_flight, "runs-client-history")
        try:
            position = start
            for page, position in self._pipelined(pool, start):
                yield page, position
        except GraphQLError as exc:
            if not refuses_bulk(exc):
                raise
            self._remember_refusal(exc)
            yield from self._per_run_pages(position)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _pipelined(
        self, pool: ThreadPoolExecutor, start: Position
    ) -> Iterator[tuple[Page, Position]]:
        names = list(start.names)
        size = self.page_size
        chunks = [names[i : i + size] for i in range(0, len(names), size)]
        ahead: deque[Future[Page]] = deque()
        for i in range(len(chunks)):
            while len(ahead) < self.max_in_flight and i + len(ahead) < len(chunks):
                ahead.append(pool.submit(self._by_names, chunks[i + len(ahead)]))
            page = ahead.popleft().result()
            rest = tuple(n for c in chunks[i + 1 :] for n in c)
            yield page, Position(rest, start.cursor, start.more)
        if not start.more:
            return
        # Each page's request launches the next one as soon as its body (and
        # so its end cursor) arrives, before the page is converted; at most
        # max_in_flight pages are requested or waiting to be consumed.
        lock = threading.Lock()
        queued: deque[Future[Page]] = deque()
        due: list[str | None] = []  # a next cursor held back by that bound

        def launch(cursor: str | None) -> None:
            queued.append(pool.submit(self._after, cursor, on_next))

        def on_next(cursor: str | None) -> None:
            with lock:
                if len(queued) < self.max_in_flight:
                    launch(cursor)
                else:
                    due.append(cursor)

        launch(start.cursor)
        while True:
            with lock:
                if not queued and due:
                    launch(due.pop())
                if not queued:
                    return
                future = queued.popleft()
            page = future.result()
            with lock:
                if due and len(queued) < self.max_in_flight:
                    launch(due.pop())
            yield page, Position((), page.end_cursor, page.has_next)

    def _fit(self, size: int, runs: int, rows: int) -> None:
        """After a full page, size the next by the rows its runs really held
        (runs often log fewer rows than ``samples``): at most double, never
        past the budget nor half a size the server refused."""
        if runs < size or rows <= 0:
            return
        fitted = int(self.rows_per_request * runs // rows)
        limit = MAX_RUNS_PER_REQUEST
        if self._refused is not None:
            limit = max(1, self._refused // 2)
        self.page_size = max(self.page_size, min(fitted, 2 * size, limit))

    # -- one page ----------------------------------------------------------

    def _by_names(self, names: list[str]) -> Page:
        """The runs ``names`` (by ``$in``), in the order given; halves on refusal."""
        try:
            page = self._request(None, len(names), _in_filter(self.filters, names))
        except (GraphQLError, TimeoutError) as exc:
            if len(names) < 2 or not is_too_large(exc):
                raise
            half = len(names) // 2
            logger.info("history page of %d runs refused (%s): halves", len(names), exc)
            first, second = self._by_names(names[:half]), self._by_names(names[half:])
            first.materialize()
            second.materialize()
            if first.decoder is not second.decoder:
                first.as_dicts()  # one kind of row per page
                second.as_dicts()
            return Page(
                first.run_ids + second.run_ids,
                first.counts + second.counts,
                first.rows + second.rows,
                requests=first.requests + second.requests,
                decoder=first.decoder,
            )
        # Runs deleted since they were listed are simply absent.
        index = {run_id: i for i, run_id in enumerate(page.run_ids)}
        if [n for n in names if n in index] == page.run_ids:
            return page
        return self._reordered(page, [n for n in names if n in index])

    def _reordered(self, page: Page, run_ids: list[str]) -> Page:
        page.materialize()
        starts: dict[str, tuple[int, int]] = {}
        at = 0
        for run_id, count in zip(page.run_ids, page.counts, strict=True):
            starts[run_id] = (at, count)
            at += count
        rows: list[dict[str, Any]] = []
        for run_id in run_ids:
            begin, count = starts[run_id]
            rows.extend(page.rows[begin : begin + count])
        counts = [starts[r][1] for r in run_ids]
        return replace(page, run_ids=run_ids, counts=counts, rows=rows)

    def _after(
        self, cursor: str | None, on_next: Callable[[str | None], None] | None = None
    ) -> Page:
        """The next page after ``cursor``; a refused page is asked at half size.

        ``on_next(end_cursor)`` is called as soon as the body says there is a
        next page (and the cursor advanced), before the page is built.
        """

        def advanced(end: str | None, has_next: bool, runs: int, rows: int) -> None:
            if has_next and (end is None or end in self._seen_cursors):
                raise ServerError(
                    f"The server's run pager for {self.entity}/{self.project} did "
                    f"not advance (end cursor {end!r}); stopping instead of looping."
                )
            if has_next and not runs:
                raise ServerError(
                    f"The server sent an empty page of {self.entity}/{self.project} "
                    "runs that claims more pages; stopping instead of looping."
                )
            if end is not None:
                self._seen_cursors.add(end)
            self._fit(size, runs, rows)
            if has_next and on_next is not None:
                on_next(end)

        while True:
            size = self.page_size
            try:
                return self._request(cursor, size, self._filters_json, advanced)
            except (GraphQLError, TimeoutError) as exc:
                if size < 2 or not is_too_large(exc):
                    raise
                logger.info("history page of %d runs refused (%s): halves", size, exc)
                self.page_size = size // 2
                self._refused = min(self._refused or size, size)

    def _request(
        self,
        cursor: str | None,
        per_page: int,
        filters: str | None,
        advanced: Callable[[str | None, bool, int, int], None] | None = None,
    ) -> Page:
        """One page; ``advanced(end_cursor, has_next, runs, rows)`` as soon as the
        body is parsed, before the page is built."""
        query = self.query
        variables: dict[str, Any] = {
            "entity": self.entity,
            "project": self.project,
            "cursor": cursor if cursor is not None else UNSET,
            "perPage": per_page,
            "order": self.order if self.order is not None else UNSET,
            "filters": filters if filters is not None else UNSET,
        }
        if query.stream == "system":
            operation, text = "RunsEventsPage", RUNS_EVENTS_PAGE_GQL
            field_name = "events"
            variables["samples"] = query.samples
        elif query.keys is None:
            operation, text = "RunsHistoryPage", RUNS_HISTORY_PAGE_GQL
            field_name = "history"
            variables["samples"] = query.samples
        else:
            return self._sampled(variables, advanced)
        data, _, _ = self._post(text, operation, variables)
        nodes, end, has_next = self._nodes(data)
        if advanced is not None:
            rows = sum(len(node.get(field_name) or ()) for node in nodes)
            advanced(end, has_next, len(nodes), rows)
        lines = [[line for line in node.get(field_name) or () if line]
                 for node in nodes]  # fmt: skip
        names = [str(n["name"]) for n in nodes]
        page = Page(names, [len(group) for group in lines], [], query.order_by,
                    end_cursor=end, has_next=has_next, lines=lines,
                    operation=operation)  # fmt: skip
        return page

    def _sampled(
        self,
        variables: dict[str, Any],
        advanced: Callable[[str | None, bool, int, int], None] | None = None,
    ) -> Page:
        """``sampledHistory`` pages; specs beyond MAX_SPECS go in more requests
        for the same runs (by name), merged on ``x_axis``."""
        specs = self.query.specs
        variables["specs"] = specs[:MAX_SPECS]
        keys = self.query.row_keys
        decoder = None
        if self.row_objects and keys is not None and len(specs) <= MAX_SPECS:
            decoder = row_decoder(tuple(keys))
        data, body, decoded = self._post(
            RUNS_SAMPLED_HISTORY_PAGE_GQL, "RunsSampledHistoryPage", variables, decoder
        )
        if not decoded:
            decoder = None
        nodes, end, has_next = self._nodes(data)
        if advanced is not None:
            rows = sum(
                sum(len(rows or ()) for rows in node.get("sampledHistory") or ())
                for node in nodes
            )
            advanced(end, has_next, len(nodes), rows)
        names = [str(n["name"]) for n in nodes]
        per_spec = {name: list(n.get("sampledHistory") or []) for name, n in
                    zip(names, nodes, strict=True)}  # fmt: skip
        nonfinite = has_nonfinite_strings(body)
        requests = 1
        for start in range(MAX_SPECS, len(specs) if names else 0, MAX_SPECS):
            more = dict(variables, specs=specs[start : start + MAX_SPECS],
                        cursor=UNSET, perPage=len(names),
                        filters=_in_filter(self.filters, names))  # fmt: skip
            extra, extra_body, _ = self._post(
                RUNS_SAMPLED_HISTORY_PAGE_GQL, "RunsSampledHistoryPage", more
            )
            requests += 1
            nonfinite = nonfinite or has_nonfinite_strings(extra_body)
            for node in self._nodes(extra)[0]:
                if str(node["name"]) in per_spec:
                    per_spec[str(node["name"])].extend(node.get("sampledHistory") or [])
        merge = self._merge if decoder is None else _objects
        per_run = [(name, merge(per_spec[name])) for name in names]
        page = Page.of(per_run, self.query.order_by)
        page.end_cursor, page.has_next, page.requests = end, has_next, requests
        page.decoder = decoder
        page.nonfinite = nonfinite and self.query.join == "and"
        return page

    def _merge(self, lists: list[Any]) -> list[dict[str, Any]]:
        if self.query.join == "and":
            first = lists[0] if lists else None
            if isinstance(first, list) and set(map(type, first)) <= {dict}:
                return first  # the usual case, checked in one C-level pass
            return [r for r in first or () if isinstance(r, dict)]
        return merge_on(self.query.x_axis, [sampled_rows(rows) for rows in lists])

    def _post(
        self,
        text: str,
        operation: str,
        variables: dict[str, Any],
        decoder: RowDecoder | None = None,
    ) -> tuple[dict[str, Any], bytes, bool]:
        """The page's data and body, and whether ``decoder`` read it."""
        given = {k: v for k, v in variables.items() if v is not UNSET}
        client = self.client
        if decoder is not None and isinstance(client, RetryingClient):
            response = client.execute(
                text, operation_name=operation, variables=given, decode=decoder
            )
        else:
            response = client.execute(text, operation_name=operation, variables=given)
        data = client.get_data(response)
        self.requests += 1
        return data, response.content, DECODED_KEY in response.extensions

    def _nodes(
        self, data: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], str | None, bool]:
        project = data.get("project")
        if project is None:
            raise NotFoundError(f"Project {self.entity}/{self.project} not found.")
        runs = project.get("runs") or {}
        nodes = [
            e["node"]
            for e in runs.get("edges") or ()
            if isinstance(e, dict) and isinstance(e.get("node"), dict)
        ]
        info = runs.get("pageInfo") or {}
        return nodes, info.get("endCursor"), bool(info.get("hasNextPage"))

    # -- the per-run fallback ----------------------------------------------

    def _remember_refusal(self, exc: GraphQLError) -> None:
        why = "; ".join(exc.messages) or str(exc)
        _PER_RUN_CLIENTS[self.client] = why
        warnings.warn(
            f"The server at {self.client.url} refuses history fields on the runs "
            f"connection ({why}); runs_client asks each run's history in its own "
            "request instead (slower), for every histories() call of this Api.",
            BulkHistoryWarning,
            stacklevel=4,
        )

    def _per_run_pages(self, start: Position) -> Iterator[tuple[Page, Position]]:
        names = list(start.names)
        if start.more:
            names.extend(self._list_names(start.cursor))
        size = self.page_size
        with ThreadPoolExecutor(self.max_in_flight, "runs-client-history") as pool:
            for begin in range(0, len(names), size):
                chunk = names[begin : begin + size]
                per_run = list(zip(chunk, pool.map(self._one_run, chunk), strict=True))
                page = Page.of(per_run, self.query.order_by)
                page.requests = len(chunk)
                yield page, Position(tuple(names[begin + size :]))

    def _list_names(self, cursor: str | None) -> list[str]:
        names: list[str] = []
        while True:
            response = self.client.runs_page(
                self.entity,
                self.project,
                cursor=cursor if cursor is not None else UNSET,
                per_page=MAX_RUNS_PER_REQUEST,
                order=self.order if self.order is not None else UNSET,
                filters=self._filters_json or UNSET,
            )
            self.requests += 1
            if response.project is None:
                raise NotFoundError(f"Project {self.entity}/{self.project} not found.")
            runs = response.project.runs
            if runs is None:
                return names
            names.extend(e.node.name for e in runs.edges or () if e and e.node)
            if not runs.page_info.has_next_page or runs.page_info.end_cursor in (
                None,
                cursor,
            ):
                return names
            cursor = runs.page_info.end_cursor

    def _one_run(self, name: str) -> list[dict[str, Any]]:
        query, client = self.query, self.client
        entity, project = self.entity, self.project
        if query.stream == "system":
            events = client.run_events(entity, project, name, samples=query.samples)
            run = events.project.run if events.project else None
            return parse_lines(run.events if run else None, "RunEvents")
        if query.keys is None:
            full = client.run_history(entity, project, name, samples=query.samples)
            run_h = full.project.run if full.project else None
            return parse_lines(run_h.history if run_h else None, "RunHistory")
        lists: list[Any] = []
        specs = query.specs
        for begin in range(0, len(specs), MAX_SPECS):
            sampled = client.run_sampled_history(
                entity, project, name, specs=specs[begin : begin + MAX_SPECS]
            )
            run_s = sampled.project.run if sampled.project else None
            lists.extend((run_s.sampled_history if run_s else None) or [])
        if query.join == "and":
            return sampled_rows(lists[0] if lists else None)
        return merge_on(query.x_axis, [sampled_rows(rows) for rows in lists])


def _objects(lists: list[Any]) -> list[Any]:
    """A run's rows decoded as objects: the one spec's list (the AND rule)."""
    return (lists[0] if lists else None) or []


def merge_on(
    x_axis: str, lists: Sequence[list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Rows of several specs joined on ``x_axis`` (an outer join), first seen first."""
    merged: dict[Any, dict[str, Any]] = {}
    for rows in lists:
        for row in rows:
            x = row.get(x_axis)
            target = merged.get(x)
            if target is None:
                merged[x] = dict(row)
            else:
                target.update(row)
    return list(merged.values())
