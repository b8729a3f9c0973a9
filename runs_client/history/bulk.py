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
next one in flight while the caller converts the last. For Arrow pages the
server first names the runs after the cursor (one cheap request), so that
all of them are asked by name, several at once.

A server that refuses history fields on the runs connection gets one request
per run instead (bounded concurrency), remembered for that client.
"""

from __future__ import annotations

import functools
import logging
import threading
import warnings
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import runs_gql
from runs_gql.async_client import AsyncClient
from runs_gql.base_model import UNSET
from runs_gql.operations import (
    RUNS_EVENTS_PAGE_GQL,
    RUNS_HISTORY_PAGE_GQL,
    RUNS_SAMPLED_HISTORY_PAGE_GQL,
)

from .._exceptions import (
    GraphQLError,
    NotFoundError,
    TimeoutError,
)
from ..transport.async_retrying import AsyncRetryingClient
from ..transport.attempts import DECODED_KEY
from ..transport.flows import Flow, call, run
from ..transport.jsonio import dumps_compact
from ..transport.page_guard import PageGuard
from ..transport.retrying import RetryingClient
from . import arrow_pages
from .name_pages import pages_by_name
from .names_plan import names_guard, planned
from .pages import HistoryQuery, Page, Position, merge_on, reordered, run_objects
from .per_run import one_run
from .policy import (
    MAX_IN_FLIGHT,
    MAX_RUNS_PER_REQUEST,
    MAX_SPECS,
    ROW_BUDGET,
    is_too_large,
    refuses_bulk,
)
from .rows import (
    has_nonfinite_strings,
)
from .run_rows import sampled_rows
from .typed_pages import RowDecoder, row_decoder

__all__ = [
    "BulkFetcher",
    "BulkHistoryWarning",
]

logger = logging.getLogger("runs_client")

# The generated client a fetcher's flows are sent on, sync or async.
AnyClient = runs_gql.Client | AsyncClient

# Clients that take a ``decode`` for sampled pages (see ``_post``).
RETRYING_CLIENTS = (RetryingClient, AsyncRetryingClient)


# Clients whose server refused history on the runs connection: asked per run.
_PER_RUN_CLIENTS: weakref.WeakKeyDictionary[AnyClient, str] = (
    weakref.WeakKeyDictionary()
)


class BulkHistoryWarning(UserWarning):
    """The server cannot send history for a page of runs: one request per run."""


# Told of each page after the cursor as soon as its body is parsed:
# (end cursor, has next, run names, rows) -> which runs are new.
Advanced = Callable[[str | None, bool, list[str], int], list[bool]]


def _names(nodes: list[dict[str, Any]]) -> list[str]:
    return [str(node["name"]) for node in nodes]


def _in_filter(filters: dict[str, Any] | None, names: Sequence[str]) -> str:
    by_name = {"name": {"$in": list(names)}}
    return dumps_compact({"$and": [filters, by_name]} if filters else by_name)


@dataclass
class BulkFetcher:
    """Fetches pages of run histories for one query of one collection."""

    client: AnyClient
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
    _guard: PageGuard = field(init=False)
    _refused: int | None = field(init=False, default=None)  # smallest refused size

    def __post_init__(self) -> None:
        per_run = max(1, self.query.rows_per_run)
        self.page_size = max(
            1, min(MAX_RUNS_PER_REQUEST, self.rows_per_request // per_run)
        )
        self._filters_json = dumps_compact(self.filters) if self.filters else None
        where = f"run pager for {self.entity}/{self.project}"
        self._guard = PageGuard(where, MAX_RUNS_PER_REQUEST)

    # -- the page stream ---------------------------------------------------

    def pages(self, start: Position) -> Iterator[tuple[Page, Position]]:
        """Pages in collection order, each with the position after it."""
        if self.client in _PER_RUN_CLIENTS:
            yield from self._per_run_pages(start)
            return
        pool = ThreadPoolExecutor(self.max_in_flight, "runs-client-history")
        guard = names_guard(self)
        position = start
        try:
            while True:  # a plan past the server's cap ends at a cursor
                plan = run(self.client, planned(self, position, guard))
                partial = plan.more and len(plan.names) > len(position.names)
                for page, position in self._pipelined(pool, plan, not partial):
                    yield page, position
                if not partial:
                    return
        except GraphQLError as exc:
            if not refuses_bulk(exc):
                raise
            self._remember_refusal(exc)
            yield from self._per_run_pages(position)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _pipelined(
        self, pool: ThreadPoolExecutor, start: Position, by_cursor: bool = True
    ) -> Iterator[tuple[Page, Position]]:
        """``start``'s named runs, then (``by_cursor``) the pages after its
        cursor."""
        names = list(start.names)
        size = self.page_size
        chunks = [names[i : i + size] for i in range(0, len(names), size)]
        yield from pages_by_name(self, pool, chunks, start)
        if not start.more or not by_cursor:
            return
        # Each page's request launches the next one as soon as its body (and
        # so its end cursor) arrives, before the page is converted; at most
        # max_in_flight pages are requested or waiting to be consumed.
        lock = threading.Lock()
        queued: deque[Future[Page]] = deque()
        due: list[str | None] = []  # a next cursor held back by that bound

        def launch(cursor: str | None) -> None:
            queued.append(pool.submit(run, self.client, self._after(cursor, on_next)))

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

    def _by_names(self, names: list[str]) -> Flow[Page]:
        """The runs ``names`` (by ``$in``), in the order given; halves on refusal."""
        try:
            page = yield from self._request(
                None, len(names), _in_filter(self.filters, names)
            )
        except (GraphQLError, TimeoutError) as exc:
            if len(names) < 2 or not is_too_large(exc):
                raise
            half = len(names) // 2
            logger.info("history page of %d runs refused (%s): halves", len(names), exc)
            first = yield from self._by_names(names[:half])
            second = yield from self._by_names(names[half:])
            if first.chunks is not None and second.chunks is not None:
                return arrow_pages.joined(first, second)
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
        kept = [n for n in names if n in index]
        if page.chunks is not None:
            return arrow_pages.reordered(page, kept)
        return reordered(page, kept)

    def _after(
        self, cursor: str | None, on_next: Callable[[str | None], None] | None = None
    ) -> Flow[Page]:
        """The next page after ``cursor``; a refused page is asked at half size.

        ``on_next(end_cursor)`` is called as soon as the body says there is a
        next page (and the cursor advanced), before the page is built.
        """

        def advanced(
            end: str | None, has_next: bool, names: list[str], rows: int
        ) -> list[bool]:
            self._guard.per_page = size
            fresh = self._guard.admit(names, has_next=has_next, end_cursor=end)
            self._fit(size, len(names), rows)
            if has_next and on_next is not None:
                on_next(end)
            return fresh

        while True:
            size = self.page_size
            try:
                return (
                    yield from self._request(cursor, size, self._filters_json, advanced)
                )
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
        advanced: Advanced | None = None,
    ) -> Flow[Page]:
        """One page; ``advanced(end_cursor, has_next, names, rows)`` as soon as
        the body is parsed, before the page is built: it says which runs are
        new (a run the pager sent before is dropped)."""
        query = self.query
        variables: dict[str, Any] = {
            "entity": self.entity,
            "project": self.project,
            "cursor": cursor if cursor is not None else UNSET,
            "perPage": per_page,
            "order": self.order if self.order is not None else UNSET,
            "filters": filters if filters is not None else UNSET,
        }
        if self.row_objects and arrow_pages.has_form(self.client, query):
            self.requests += 1  # frames: Arrow pages from the columnar endpoint
            flow = arrow_pages.page_flow(self.client, query, variables, advanced)
            return (yield from flow)
        if query.stream == "system":
            operation, text = "RunsEventsPage", RUNS_EVENTS_PAGE_GQL
            field_name = "events"
            variables["samples"] = query.samples
        elif query.keys is None:
            operation, text = "RunsHistoryPage", RUNS_HISTORY_PAGE_GQL
            field_name = "history"
            variables["samples"] = query.samples
        else:
            return (yield from self._sampled(variables, advanced))
        data, _, _ = yield from self._post(text, operation, variables)
        nodes, end, has_next = self._nodes(data)
        if advanced is not None:
            rows = sum(len(node.get(field_name) or ()) for node in nodes)
            fresh = advanced(end, has_next, _names(nodes), rows)
            nodes = [node for node, new in zip(nodes, fresh, strict=True) if new]
        lines = [[line for line in node.get(field_name) or () if line]
                 for node in nodes]  # fmt: skip
        names = _names(nodes)
        page = Page(names, [len(group) for group in lines], [], query.order_by,
                    end_cursor=end, has_next=has_next, lines=lines,
                    operation=operation)  # fmt: skip
        return page

    def _sampled(
        self,
        variables: dict[str, Any],
        advanced: Advanced | None = None,
    ) -> Flow[Page]:
        """``sampledHistory`` pages; specs beyond MAX_SPECS go in more requests
        for the same runs (by name), merged on ``x_axis``."""
        specs = self.query.specs
        variables["specs"] = specs[:MAX_SPECS]
        keys = self.query.row_keys
        decoder = None
        if self.row_objects and keys is not None and len(specs) <= MAX_SPECS:
            decoder = row_decoder(tuple(keys))
        data, body, decoded = yield from self._post(
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
            fresh = advanced(end, has_next, _names(nodes), rows)
            nodes = [node for node, new in zip(nodes, fresh, strict=True) if new]
        names = _names(nodes)
        per_spec = {name: list(n.get("sampledHistory") or []) for name, n in
                    zip(names, nodes, strict=True)}  # fmt: skip
        nonfinite = has_nonfinite_strings(body)
        requests = 1
        for start in range(MAX_SPECS, len(specs) if names else 0, MAX_SPECS):
            more = dict(variables, specs=specs[start : start + MAX_SPECS],
                        cursor=UNSET, perPage=len(names),
                        filters=_in_filter(self.filters, names))  # fmt: skip
            extra, extra_body, _ = yield from self._post(
                RUNS_SAMPLED_HISTORY_PAGE_GQL, "RunsSampledHistoryPage", more
            )
            requests += 1
            nonfinite = nonfinite or has_nonfinite_strings(extra_body)
            for node in self._nodes(extra)[0]:
                if str(node["name"]) in per_spec:
                    per_spec[str(node["name"])].extend(node.get("sampledHistory") or [])
        merge = self._merge if decoder is None else run_objects
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
    ) -> Flow[tuple[dict[str, Any], bytes, bool]]:
        """The page's data and body, and whether ``decoder`` read it."""
        given = {k: v for k, v in variables.items() if v is not UNSET}
        client = self.client
        response: httpx.Response
        if decoder is not None and isinstance(client, RETRYING_CLIENTS):
            response = yield call(
                "execute", text, operation_name=operation, variables=given,
                decode=decoder,
            )  # fmt: skip
        else:
            response = yield call(
                "execute", text, operation_name=operation, variables=given
            )
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
            names.extend(run(self.client, self._list_names(start.cursor)))
        size = self.page_size
        with ThreadPoolExecutor(self.max_in_flight, "runs-client-history") as pool:
            for begin in range(0, len(names), size):
                chunk = names[begin : begin + size]
                flows = (
                    one_run(self.query, self.entity, self.project, n) for n in chunk
                )
                done = pool.map(functools.partial(run, self.client), flows)
                per_run = list(zip(chunk, done, strict=True))
                page = Page.of(per_run, self.query.order_by)
                page.requests = len(chunk)
                yield page, Position(tuple(names[begin + size :]))

    def _list_names(self, cursor: str | None) -> Flow[list[str]]:
        where = f"run pager for {self.entity}/{self.project}"
        guard = PageGuard(where, MAX_RUNS_PER_REQUEST)
        names: list[str] = []
        while True:
            response: runs_gql.RunsPage = yield call(
                "runs_page",
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
            page = [e.node.name for e in runs.edges or () if e and e.node]
            end, has_next = runs.page_info.end_cursor, runs.page_info.has_next_page
            fresh = guard.admit(
                page,
                has_next=has_next,
                end_cursor=end,
                count=response.project.run_count,
            )
            names.extend(n for n, new in zip(page, fresh, strict=True) if new)
            if not has_next:
                return names
            cursor = end

    def _one_run(self, name: str) -> Flow[list[dict[str, Any]]]:
        return one_run(self.query, self.entity, self.project, name)
