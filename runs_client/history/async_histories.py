"""``AsyncRuns.histories()`` and ``AsyncRuns.iter_histories()``: the sync
path's argument checks, page flows, conversions, frames and resume tokens
(``histories``, ``bulk``), with pages awaited from ``async_bulk``.

Converting a page (parsing its lines, building columns) is CPU work done on
the event loop between awaits, as the sync path does it between requests;
the next page's request is already in flight meanwhile.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol, TypeVar

from .._exceptions import InvalidArgumentError, NotFoundError, RunsClientError
from ..transport.flows import arun
from . import arrow_pages
from .async_bulk import apages
from .frames import Columns
from .histories import (
    Format,
    HistoryBatch,
    RunSource,
    _add,
    _fetcher,
    _frame,
    _prepare,
    _Progress,
    _records,
    _show_progress,
    _start,
    batch_converter,
    incomplete,
    prepare_batches,
)
from .pages import HistoryQuery, Join, Page, Position, encode_token
from .run_rows import Stream
from .union_schema import schema_of

__all__ = ["AsyncRunSource", "afetch_histories", "aiter_batches"]

T = TypeVar("T")


class AsyncRunSource(RunSource, Protocol):
    """An async collection (``AsyncRuns`` is one)."""

    async def _aload_through(self, position: int | None) -> None: ...

    async def count(self) -> int: ...


async def _pages(
    runs: AsyncRunSource,
    query: HistoryQuery,
    start: Position,
    print_: str,
    rows_per_request: int,
    progress: bool | None,
    format: Format,
    convert: Callable[[Page], T],
) -> AsyncIterator[tuple[Page, T, Position]]:
    """As ``histories._pages``: converted pages; a failure becomes
    IncompleteHistoriesError resuming after the last page converted."""
    done: list[str] = []
    resume = start
    total = 0
    show = _show_progress(progress) and not start.done
    if show:
        total = await runs.count()
    bar = _Progress(show, lambda: total)
    try:
        if format != "default":  # frames: Arrow pages, if the server has them
            await arun(runs.client, arrow_pages.form_flow(runs.client, query))
        fetcher = _fetcher(runs, query, rows_per_request, format)
        async for page, position in apages(fetcher, start):
            data = convert(page)
            done.extend(page.run_ids)
            bar.update(len(page.run_ids))
            resume = position
            yield page, data, position
    except (InvalidArgumentError, NotFoundError):
        raise
    except RunsClientError as exc:
        raise incomplete(runs, done, resume, print_, exc) from exc
    finally:
        bar.close()


async def afetch_histories(
    runs: AsyncRunSource,
    samples: int,
    keys: list[str] | None,
    x_axis: str,
    format: Format,
    stream: Stream,
    *,
    join: Join,
    progress: bool | None,
    rows_per_request: int,
) -> Any:
    """Every run's rows: one list, or one frame built once from all pages."""
    query, print_ = _prepare(runs, samples, keys, x_axis, format, stream, join)
    start = _start(runs, None, print_)
    if format == "default":
        rows: list[dict[str, Any]] = []
        async for _, records, _ in _pages(
            runs, query, start, print_, rows_per_request, progress, format, _records
        ):
            rows.extend(records)
        return rows
    columns = Columns()
    async for _ in _pages(
        runs, query, start, print_, rows_per_request, progress, format,
        lambda page: _add(columns, page, query),
    ):  # fmt: skip
        pass
    return _frame(columns, format, None)


def aiter_batches(
    runs: AsyncRunSource,
    samples: int,
    keys: list[str] | None,
    x_axis: str,
    format: Format,
    stream: Stream,
    *,
    join: Join,
    union_schema_: bool,
    after: str | None,
    progress: bool | None,
    rows_per_request: int,
) -> AsyncIterator[HistoryBatch[Any]]:
    """Checks arguments now; the returned iterator fetches page by page."""
    query, print_ = prepare_batches(
        runs, samples, keys, x_axis, format, stream, join, union_schema_, after
    )
    return _batches(runs, query, format, union_schema_, after, print_,
                    progress, rows_per_request)  # fmt: skip


async def _batches(
    runs: AsyncRunSource,
    query: HistoryQuery,
    format: Format,
    use_union: bool,
    after: str | None,
    print_: str,
    progress: bool | None,
    rows_per_request: int,
) -> AsyncIterator[HistoryBatch[Any]]:
    schema = None
    if use_union:
        await runs._aload_through(None)
        schema = schema_of(runs.objects, query)
    start = _start(runs, after, print_)
    convert = batch_converter(format, query, schema)
    async for page, data, position in _pages(
        runs, query, start, print_, rows_per_request, progress, format, convert
    ):
        yield HistoryBatch(
            tuple(page.run_ids), data, encode_token(print_, position), schema
        )
