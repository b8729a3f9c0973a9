"""``Runs.histories()`` and ``Runs.iter_histories()``: many runs' history,
a page of runs per request, into one frame or a stream of typed batches.

``HistoryBatch`` is what ``iter_histories`` yields: the rows of whole runs
(``run_ids``), as a list of dicts or a pandas/polars/arrow frame, and the
``resume_token`` that continues after it. ``IncompleteHistoriesError`` is
what a fetch that fails part-way raises: the runs completed and the token.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, TypeVar

from .._exceptions import (
    IncompleteHistoriesError,
    InvalidArgumentError,
    NotFoundError,
    RunsClientError,
)
from . import arrow_pages
from .bulk import AnyClient, BulkFetcher, BulkHistoryWarning
from .chunks import Schema
from .frames import RUN_ID, Columns, import_polars, import_pyarrow
from .pages import (
    HistoryQuery,
    Join,
    Page,
    Position,
    decode_token,
    encode_token,
    fingerprint,
)
from .policy import FULL_ROW_BUDGET, MAX_IN_FLIGHT, ROW_BUDGET
from .run_rows import Stream, check_history_args
from .union_schema import schema_of

__all__ = [
    "FORMATS",
    "BulkHistoryWarning",
    "Format",
    "HistoryBatch",
    "Join",
    "LoggedRun",
    "RunCollection",
    "RunSource",
    "batch_converter",
    "fetch_histories",
    "incomplete",
    "iter_batches",
    "prepare_batches",
]


class LoggedRun(Protocol):
    """What histories() reads of a run (``runs_client.Run`` is one)."""

    @property
    def id(self) -> str: ...

    @property
    def history_keys(self) -> dict[str, Any]: ...

    @property
    def system_metrics(self) -> dict[str, Any]: ...


class RunSource(Protocol):
    """What histories() reads of a collection, sync or async: where its runs
    are, the runs and cursor it holds, and its count if known. A protocol,
    so that this room never imports the domain objects above it."""

    @property
    def client(self) -> AnyClient: ...

    @property
    def entity(self) -> str: ...

    @property
    def project(self) -> str: ...

    @property
    def filters(self) -> dict[str, Any] | None: ...

    @property
    def order(self) -> str | None: ...

    @property
    def variables(self) -> dict[str, Any]: ...

    @property
    def objects(self) -> Sequence[LoggedRun]: ...

    @property
    def cursor(self) -> str | None: ...

    @property
    def more(self) -> bool: ...

    @property
    def _count(self) -> int | None: ...


class RunCollection(RunSource, Protocol):
    """A sync collection (``runs_client.Runs`` is one), which loads its runs
    and counts them when asked."""

    def _load_through(self, position: int | None) -> None: ...

    def __len__(self) -> int: ...


Format = Literal["default", "pandas", "polars", "arrow"]
FORMATS: tuple[str, ...] = ("default", "pandas", "polars", "arrow")
JOINS: tuple[str, ...] = ("and", "outer")

T = TypeVar("T")


@dataclass(frozen=True)
class HistoryBatch(Generic[T]):
    """One page of ``iter_histories``: the complete history of ``run_ids``.

    Attributes:
        run_ids: the runs this batch completes, in collection order (runs
            with no rows included).
        data: their rows: a list of dicts with ``run_id``, or one frame.
        resume_token: ``iter_histories(after=resume_token)`` continues with
            the runs after this batch.
        schema: with ``union_schema=True``, the column types every batch of
            the iteration shares (``run_id`` first); otherwise None.
    """

    run_ids: tuple[str, ...]
    data: T
    resume_token: str
    schema: Schema | None = None

    @property
    def num_rows(self) -> int:
        data: Any = self.data
        if isinstance(data, list):
            return len(data)
        return int(data.shape[0]) if hasattr(data, "shape") else int(data.num_rows)


def _check_arguments(
    samples: object,
    keys: object,
    x_axis: object,
    format: object,
    stream: object,
    join: object,
) -> None:
    """Every argument checked before any request; format's library imported."""
    check_history_args(samples, keys, x_axis, stream)
    if format not in FORMATS:
        raise InvalidArgumentError(
            "format must be 'default' (list of dicts), 'pandas', 'polars' or "
            f"'arrow' (a pyarrow Table); got {format!r}."
        )
    if join not in JOINS:
        raise InvalidArgumentError(
            "join must be 'and' (rows holding every key, W&B's rule) or 'outer' "
            f"(each key sampled on its own, merged on x_axis); got {join!r}."
        )
    if format == "polars":
        import_polars()
    if format == "arrow":
        import_pyarrow()


def _query(
    samples: int, keys: list[str] | None, x_axis: str, stream: Stream, join: Join
) -> HistoryQuery:
    # None or [] means full rows, as in the SDK's `if keys:`.
    return HistoryQuery(samples, tuple(keys) if keys else None, x_axis, stream, join)


def _show_progress(progress: bool | None) -> bool:
    if progress is not None:
        return bool(progress)
    shell = sys.modules.get("IPython")
    if shell is not None:
        get_ipython = getattr(shell, "get_ipython", None)
        ip = get_ipython() if callable(get_ipython) else None
        if ip is not None and type(ip).__name__ == "ZMQInteractiveShell":
            return True  # a notebook
    return sys.stderr is not None and sys.stderr.isatty()


class _Progress:
    """Runs done of the total, with tqdm's auto mode (notebook or terminal)."""

    def __init__(self, enabled: bool, total: Callable[[], int]) -> None:
        self._bar: Any = None
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total(), unit="run", desc="histories")

    def update(self, runs: int) -> None:
        if self._bar is not None:
            self._bar.update(runs)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _records(page: Page) -> list[dict[str, Any]]:
    return page.records(RUN_ID)


def _frame(columns: Columns, format: str, schema: Schema | None) -> Any:
    # Built once, so the gathered chunks are released as the frame is built.
    if format == "pandas":
        return columns.to_pandas(schema, release=True)
    if format == "polars":
        return columns.to_polars(schema, release=True)
    return columns.to_arrow(schema, release=True)


# History lines parsed into dicts at a time on the way to a frame: the dicts
# of a page never all exist at once (memory), while numpy still works on
# long columns.
PARSE_BATCH_ROWS = 8192


def _add(columns: Columns, page: Page, query: HistoryQuery) -> None:
    if page.chunks is not None:
        arrow_pages.add_page(columns, page)
        return
    for batch in page.batches(PARSE_BATCH_ROWS):
        columns.add_page(
            batch.run_ids,
            batch.counts,
            batch.rows,
            keys=query.row_keys,
            order_by=batch.order_by,
            nonfinite_strings=batch.nonfinite,
            fields=batch.fields,
        )


def _start(runs: RunSource, after: str | None, print_: str) -> Position:
    if after is not None:
        return decode_token(after, print_)
    return Position(tuple(r.id for r in runs.objects), runs.cursor, runs.more)


def _fetcher(
    runs: RunSource, query: HistoryQuery, rows_per_request: int, format: Format
) -> BulkFetcher:
    columnar = format != "default" and arrow_pages.has_form(runs.client, query)
    if rows_per_request == ROW_BUDGET and columnar:
        rows_per_request = arrow_pages.row_budget(query)  # the default, for Arrow
    elif rows_per_request == ROW_BUDGET and query.keys is None:
        rows_per_request = FULL_ROW_BUDGET  # the default, for full rows
    return BulkFetcher(
        runs.client,
        runs.entity,
        runs.project,
        runs.filters,
        runs.order,
        query,
        rows_per_request=rows_per_request,
        max_in_flight=MAX_IN_FLIGHT,
        row_objects=format != "default",  # frames read row objects
    )


def _pages(
    runs: RunCollection,
    query: HistoryQuery,
    start: Position,
    print_: str,
    rows_per_request: int,
    progress: bool | None,
    format: Format,
    convert: Callable[[Page], T],
) -> Iterator[tuple[Page, T, Position]]:
    """Pages converted by ``convert``, with their positions; a failure (of a
    request, or of parsing what it brought) becomes IncompleteHistoriesError
    whose token resumes after the last page converted."""
    done: list[str] = []
    resume = start
    bar = _Progress(_show_progress(progress) and not start.done, lambda: _total(runs))
    try:
        fetcher = _fetcher(runs, query, rows_per_request, format)
        for page, position in fetcher.pages(start):
            data = convert(page)  # history lines are parsed here
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


def _total(runs: RunCollection) -> int:
    return runs._count if runs._count is not None else len(runs)


def incomplete(
    runs: RunSource,
    done: list[str],
    resume: Position,
    print_: str,
    exc: RunsClientError,
) -> IncompleteHistoriesError:
    """The error of a fetch that failed after ``done`` runs: it resumes
    after the last page converted (``resume``)."""
    return IncompleteHistoriesError(
        f"histories() of {runs.entity}/{runs.project} stopped after "
        f"{len(done)} complete run(s): {exc} Resume with "
        "runs.iter_histories(..., after=error.resume_token), same arguments.",
        completed_run_ids=done,
        resume_token=encode_token(print_, resume),
        cause=exc,
    )


def _prepare(
    runs: RunSource,
    samples: int,
    keys: list[str] | None,
    x_axis: str,
    format: Format,
    stream: Stream,
    join: Join,
) -> tuple[HistoryQuery, str]:
    """Every argument checked (before any request); the query and the
    fingerprint its resume tokens carry."""
    _check_arguments(samples, keys, x_axis, format, stream, join)
    query = _query(samples, keys, x_axis, stream, join)
    print_ = fingerprint(runs.entity, runs.project, runs.variables["filters"],
                         runs.order, query)  # fmt: skip
    return query, print_


def fetch_histories(
    runs: RunCollection,
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
        for _, records, _ in _pages(
            runs, query, start, print_, rows_per_request, progress, format, _records
        ):
            rows.extend(records)
        return rows
    columns = Columns()
    for _ in _pages(
        runs, query, start, print_, rows_per_request, progress, format,
        lambda page: _add(columns, page, query),
    ):  # fmt: skip
        pass
    return _frame(columns, format, None)


def prepare_batches(
    runs: RunSource,
    samples: int,
    keys: list[str] | None,
    x_axis: str,
    format: Format,
    stream: Stream,
    join: Join,
    union_schema_: bool,
    after: str | None,
) -> tuple[HistoryQuery, str]:
    """``iter_histories``' arguments checked, before any request."""
    query, print_ = _prepare(runs, samples, keys, x_axis, format, stream, join)
    if union_schema_ and format == "default":
        raise InvalidArgumentError(
            "union_schema=True needs a frame format ('pandas', 'polars' or "
            "'arrow'): dict rows have no column types."
        )
    if after is not None:
        decode_token(after, print_)  # a bad token fails now, not at next()
    return query, print_


def batch_converter(
    format: Format, query: HistoryQuery, schema: Schema | None
) -> Callable[[Page], Any]:
    """What one page becomes in a ``HistoryBatch``: records or a frame."""

    def convert(page: Page) -> Any:
        if format == "default":
            return _records(page)
        columns = Columns()
        _add(columns, page, query)
        return _frame(columns, format, schema)

    return convert


def iter_batches(
    runs: RunCollection,
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
    schema: Callable[[HistoryQuery], Schema] | None = None,
) -> Iterator[HistoryBatch[Any]]:
    """Checks arguments now; the returned iterator fetches page by page.
    ``schema(query)``: the batches' schema, found by the caller (instead of
    ``union_schema_``'s, from every run of ``runs`` loaded and held)."""
    query, print_ = prepare_batches(
        runs, samples, keys, x_axis, format, stream, join, union_schema_, after
    )
    fixed = None if schema is None else schema(query)
    return _batches(runs, query, format, union_schema_, after, print_,
                    progress, rows_per_request, fixed)  # fmt: skip


def _batches(
    runs: RunCollection,
    query: HistoryQuery,
    format: Format,
    use_union: bool,
    after: str | None,
    print_: str,
    progress: bool | None,
    rows_per_request: int,
    fixed: Schema | None = None,
) -> Iterator[HistoryBatch[Any]]:
    if use_union and fixed is None:
        runs._load_through(None)
    schema = schema_of(runs.objects, query) if use_union else None
    schema = fixed if fixed is not None else schema
    start = _start(runs, after, print_)
    convert = batch_converter(format, query, schema)
    for page, data, position in _pages(
        runs, query, start, print_, rows_per_request, progress, format, convert
    ):
        yield HistoryBatch(
            tuple(page.run_ids), data, encode_token(print_, position), schema
        )


DEFAULT_ROWS_PER_REQUEST = ROW_BUDGET
