"""Columnar history pages: Arrow IPC streams from runs_server's
POST /columnar/history, turned into column chunks with no row in between.

Used when the server advertises ``columnarHistory`` in ``serverInfo.features``
(asked once per client) and pyarrow is installed, for frames only (dict rows
keep the JSON path), for ``history``, ``events`` and one-spec
``sampledHistory``. W&B advertises no such feature, so it gets the JSON path.

The request is the bulk page query's body, sent through a retrying client of
the caller's kind (``RetryingClient``, or ``AsyncRetryingClient`` for
``AsyncApi``) aimed at the endpoint, so retries, deadlines and the size cap
are the same; the probe and the page are flows (``transport.flows``), so
both clients share request building and parsing and only the loop differs;
its ``decode`` hook reads an Arrow body, and an error comes back as GraphQL
JSON, raised as from /graphql (a refusal for size halves the page as usual).

A stream's columns: numbers as float64/int64 (nulls where a run's row lacks
the key), other keys as one JSON text per value (field metadata
``runs.kind=json``), decoded here as the JSON path decodes rows. The schema
metadata ``runs`` names the page's runs, their row counts and the page info,
and, as the client asks (``stepGrid``), may give ``_step`` as each run's
first step plus the offsets every run of the page keeps: a few numbers, not
8 bytes a row on the wire.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable
from dataclasses import replace
from itertools import compress
from typing import Any

import numpy as np
import orjson
from runs_gql.base_model import UNSET
from runs_gql.operations import (
    RUNS_EVENTS_PAGE_GQL,
    RUNS_HISTORY_PAGE_GQL,
    RUNS_SAMPLED_HISTORY_PAGE_GQL,
)

from .._exceptions import NotFoundError, RunsClientError, ServerError
from ..transport.async_retrying import AsyncRetryingClient
from ..transport.flows import Flow, call, call_on, run
from ..transport.retrying import RetryingClient
from .chunks import Chunk, Kind, chunk_of, concat
from .frames import RUN_ID, Columns, _integral_steps
from .pages import HistoryQuery, Page
from .typed_pages import orjson_numbers

__all__ = [
    "ROW_BUDGET",
    "add_page",
    "columnar_client",
    "columnar_flow",
    "form_flow",
    "has_form",
    "joined",
    "page_flow",
    "reordered",
    "request",
    "row_budget",
]

FEATURE = "columnarHistory"
PATH = "/columnar/history"
FEATURES_QUERY = "query ServerFeatures { serverInfo { features { name isEnabled } } }"
_ARROW_STREAM_START = b"\xff\xff\xff\xff"  # an IPC stream's continuation marker

# The retrying clients that can read Arrow pages.
Retrying = RetryingClient | AsyncRetryingClient
RETRYING = (RetryingClient, AsyncRetryingClient)

# Per client: the columnar client to use, or None when not offered.
_COLUMNAR: weakref.WeakKeyDictionary[object, Retrying | None] = (
    weakref.WeakKeyDictionary()
)


def _offered_flow(client: Retrying) -> Flow[bool]:
    """Whether ``client``'s server advertises the columnar feature."""
    try:
        response = yield call(
            "execute", FEATURES_QUERY, operation_name="ServerFeatures"
        )
        data = client.get_data(response)
    except RunsClientError:  # a server without serverInfo.features
        return False
    features = (data.get("serverInfo") or {}).get("features") or ()
    return any(
        isinstance(f, dict) and f.get("name") == FEATURE and f.get("isEnabled")
        for f in features
    )


def columnar_client(client: object) -> Retrying | None:
    """The client for ``client``'s columnar endpoint; None when the server
    does not offer one (or pyarrow is missing). Asked once per client: a
    sync client asks here; an async one only reads what its awaited
    ``columnar_flow`` found (None before)."""
    if client in _COLUMNAR:
        return _COLUMNAR[client]
    if not isinstance(client, RetryingClient):
        return None
    return run(client, columnar_flow(client))


def columnar_flow(client: object) -> Flow[Retrying | None]:
    """``columnar_client`` as a flow, for a sync or an async client: the
    ``ServerFeatures`` probe (once per client), then a client of the same
    kind aimed at the endpoint (it shares the pool and settings)."""
    if client in _COLUMNAR:
        return _COLUMNAR[client]
    found: Retrying | None = None
    if isinstance(client, RETRYING) and _has_pyarrow():
        offered = yield from _offered_flow(client)
        found = _aimed(client) if offered else None
    _COLUMNAR[client] = found
    return found


def _aimed(client: Retrying) -> Retrying:
    """A client of ``client``'s kind at the endpoint, with its pool, headers,
    settings, sleep and clock; it shares its byte budget (and, async, its
    bound on requests in flight), so the client's bounds hold for both."""
    url = client.url.rstrip("/").removesuffix("/graphql") + PATH
    policy = client.policy
    settings: dict[str, Any] = {
        "max_retries": client.max_retries,
        "deadline": client.deadline,
        "max_response_bytes": client.max_response_bytes,
        "jitter": policy.jitter,
        "clock": policy.clock,
        "sleep": client._sleep,
    }
    aimed: Retrying
    if isinstance(client, AsyncRetryingClient):
        aimed = AsyncRetryingClient(url, client.http_client, client.headers, **settings)
        aimed._slots = client._slots
    else:
        aimed = RetryingClient(url, client.http_client, client.headers, **settings)
    aimed.policy.in_flight_bytes = policy.in_flight_bytes
    return aimed


def _has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def _decode(body: Any) -> dict[str, Any] | None:
    """An Arrow body (bytes, or a pyarrow buffer: ``transport.pooled``) as
    ``{"data": {"table": ...}}``; None for anything else (JSON errors, which
    the usual parser reads). A cut stream raises, and the caller retries it
    as a body that is no JSON."""
    if bytes(memoryview(body)[:4]) != _ARROW_STREAM_START:
        return None
    import pyarrow as pa

    try:
        table = pa.ipc.open_stream(body).read_all()
    except (pa.ArrowInvalid, OSError):
        return None
    return {"data": {"table": table}}


# Rows per request by default: a row of 5 numeric keys is about 40 bytes of
# Arrow, so a page is about 8 MB (the server refuses pages over its byte cap,
# and the client then halves them).
ROW_BUDGET = 200_000
# A page of fewer named keys takes more rows for about the same bytes (8 a
# value; ``_step`` comes as a grid): fewer requests, each with its own fixed
# cost. At most the server's default row cap per request.
PAGE_BYTES = 8 * 1024 * 1024
MAX_PAGE_ROWS = 1_000_000


def row_budget(query: HistoryQuery) -> int:
    """Rows per request for Arrow pages of ``query``: ``ROW_BUDGET``, or for
    named keys as many rows as ``PAGE_BYTES`` holds of their values."""
    if query.keys is None or query.stream == "system":
        return ROW_BUDGET
    keys = query.row_keys or query.keys
    values = max(1, sum(1 for key in keys if key != "_step"))
    return max(ROW_BUDGET, min(MAX_PAGE_ROWS, PAGE_BYTES // (8 * values)))


def has_form(client: object, query: HistoryQuery) -> bool:
    """Whether pages of ``query`` come from the columnar endpoint (for an
    async client: as its awaited ``form_flow`` found)."""
    if query.keys is not None and query.join != "and":
        return False
    return columnar_client(client) is not None


def form_flow(client: object, query: HistoryQuery) -> Flow[bool]:
    """``has_form`` as a flow: probes the server (once per client) when the
    query could use the endpoint; what an async client awaits first."""
    if query.keys is not None and query.join != "and":
        return False
    return (yield from columnar_flow(client)) is not None


def request(
    client: object,
    query: HistoryQuery,
    variables: dict[str, Any],
    advanced: Callable[[str | None, bool, list[str], int], list[bool]] | None,
) -> Page:
    """``page_flow`` sent on a sync client."""
    return run(client, page_flow(client, query, variables, advanced))


def page_flow(
    client: object,
    query: HistoryQuery,
    variables: dict[str, Any],
    advanced: Callable[[str | None, bool, list[str], int], list[bool]] | None,
) -> Flow[Page]:
    """One page of the bulk page query of ``variables`` from the columnar
    endpoint (``has_form`` said there is one), sent on its client (sync or
    async). ``advanced(end_cursor, has_next, names, rows)`` as soon as the
    body is read; the runs it says are not new are dropped."""
    columnar = columnar_client(client)
    assert columnar is not None
    variables = {k: v for k, v in variables.items() if v is not UNSET}
    if query.stream == "system":
        operation, text = "RunsEventsPage", RUNS_EVENTS_PAGE_GQL
        variables["samples"] = query.samples
    elif query.keys is None:
        operation, text = "RunsHistoryPage", RUNS_HISTORY_PAGE_GQL
        variables["samples"] = query.samples
    else:
        operation, text = "RunsSampledHistoryPage", RUNS_SAMPLED_HISTORY_PAGE_GQL
        variables["specs"] = query.specs
    variables["stepGrid"] = True  # _step as run starts + offsets where it can
    response = yield call_on(
        columnar, "execute", text, operation_name=operation, variables=variables,
        decode=_decode,
    )  # fmt: skip
    table = columnar.get_data(response).get("table")
    if table is None:
        where = f"{variables['entity']}/{variables['project']}"
        raise NotFoundError(f"Project {where} not found.")
    order_by = query.order_by
    info = orjson.loads(table.schema.metadata[b"runs"])
    chunks = {name: _chunk(table, name) for name in table.column_names}
    if "stepGrid" in info:
        chunks["_step"] = _grid_steps(info, table.num_rows, columnar.url)
    page = Page([str(n) for n in info["runs"]], [int(c) for c in info["counts"]],
                [], order_by, end_cursor=info.get("endCursor"),
                has_next=bool(info.get("hasNextPage")), chunks=chunks)  # fmt: skip
    if advanced is None:
        return page
    fresh = advanced(page.end_cursor, page.has_next, page.run_ids, table.num_rows)
    if all(fresh):
        return page
    return reordered(page, list(compress(page.run_ids, fresh)))


def _chunk(table: Any, name: str) -> Chunk:
    column = table.column(name)
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    metadata = table.schema.field(name).metadata or {}
    if metadata.get(b"runs.kind") == b"json":
        texts = array.fill_null("null").to_pylist()
        joined = "[" + ",".join(texts) + "]"
        try:
            values = orjson.loads(joined)
        except orjson.JSONDecodeError:  # bare NaN/Infinity tokens
            values = json.loads(joined, strict=False)
        chunk = chunk_of(values, False)
        if chunk.kind == "object":  # integers past 64 bits as orjson reads them
            chunk = chunk_of(list(map(orjson_numbers, values)), False)
    else:
        chunk = _numbers(array)
    if name == "_step" and chunk.kind == "float":
        chunk = _integral_steps(chunk)
    return chunk


def _grid_steps(info: dict[str, Any], rows: int, url: str) -> Chunk:
    """``_step`` from a page's ``stepGrid``: the ``i``-th run with rows has
    the steps ``starts[i] + offsets``."""
    grid = info["stepGrid"]
    starts = np.asarray(grid.get("starts", ()), dtype=np.int64)
    offsets = np.asarray(grid.get("offsets", ()), dtype=np.int64)
    counts = [int(c) for c in info["counts"] if c]
    if (
        starts.ndim != 1
        or offsets.ndim != 1
        or len(starts) != len(counts)
        or any(c != len(offsets) for c in counts)
        or len(starts) * len(offsets) != rows
    ):
        raise ServerError(
            f"{url} sent a columnar page whose stepGrid ({len(starts)} runs x "
            f"{len(offsets)} steps) does not match its {rows} rows"
        )
    return Chunk.grid(starts, offsets)  # built when the column is joined


def _numbers(array: Any) -> Chunk:
    import pyarrow as pa

    n = len(array)
    valid = None
    if array.null_count:
        valid = array.is_valid().to_numpy(zero_copy_only=False)
    kind: Kind = "int" if pa.types.is_integer(array.type) else "float"
    if valid is None:
        # A read-only view of the body's buffer, no copy: the frame's column
        # is one concatenation of the pages' views (``chunks.concat``).
        return Chunk(kind, n, array.to_numpy(zero_copy_only=False), None)
    data = np.array(array.fill_null(0).to_numpy(zero_copy_only=False), copy=True)
    if kind == "float":
        data[~valid] = np.nan
    return Chunk(kind, n, data, valid)


def add_page(columns: Columns, page: Page) -> None:
    """Append a columnar page to ``columns`` (``run_id`` first, as the JSON
    path's pages)."""
    assert page.chunks is not None
    chunks = dict(page.chunks)
    chunks.pop(RUN_ID, None)  # our run id wins over a logged key, as in the SDK
    chunks[RUN_ID] = Chunk.repeat(page.run_ids, page.counts)
    columns.add_chunks(sum(page.counts), chunks)


def reordered(page: Page, run_ids: list[str]) -> Page:
    """The page's runs in the order ``run_ids``."""
    assert page.chunks is not None
    starts, at = {}, 0
    for run_id, count in zip(page.run_ids, page.counts, strict=True):
        starts[run_id] = (at, count)
        at += count
    order = np.concatenate(
        [np.arange(s, s + c) for s, c in map(starts.__getitem__, run_ids)]
        or [np.zeros(0, dtype=np.int64)]
    )
    chunks = {name: c.take(order) for name, c in page.chunks.items()}
    counts = [starts[r][1] for r in run_ids]
    return replace(page, run_ids=run_ids, counts=counts, chunks=chunks)


def joined(first: Page, second: Page) -> Page:
    """Two pages' runs as one page, ``first``'s runs first."""
    assert first.chunks is not None and second.chunks is not None
    n1, n2 = sum(first.counts), sum(second.counts)
    chunks = {}
    for name in {*first.chunks, *second.chunks}:
        a = first.chunks.get(name) or Chunk("null", n1)
        chunks[name] = concat([a, second.chunks.get(name) or Chunk("null", n2)])
    return Page(first.run_ids + second.run_ids, first.counts + second.counts, [],
                first.order_by, requests=first.requests + second.requests,
                chunks=chunks)  # fmt: skip
