"""``Runs.histories()`` and ``Runs.iter_histories()``: the typed entry points
(one overload per ``format``) over ``runs_client.history``.

The overloads are written once, as protocols generic in each format's
answer (``HistoriesMethod``, ``IterHistoriesMethod``): ``Runs`` and
``AsyncRuns`` type their methods with them, the async one answering
coroutines; the implementations are plain functions under those names.

A mixin of ``Runs``, apart so that the collection's paging and the history
reads each fit one module; its methods take any ``RunCollection``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, overload

import pandas as pd

from ._exceptions import InvalidArgumentError
from .history.histories import (
    Format,
    HistoryBatch,
    RunCollection,
    fetch_histories,
    iter_batches,
)
from .history.pages import Join
from .history.policy import ROW_BUDGET
from .history.run_rows import Stream
from .key_hints import columns_of, hinted_batches, history_hint_flow
from .transport.flows import run

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

__all__ = [
    "HistoriesMethod",
    "IterHistoriesMethod",
    "RunsHistories",
    "as_method",
    "check_budget",
]


Rows = TypeVar("Rows", covariant=True)  # the answer for format="default"
Pandas = TypeVar("Pandas", covariant=True)  # ... for "pandas"
Polars = TypeVar("Polars", covariant=True)  # ... for "polars"
Arrow = TypeVar("Arrow", covariant=True)  # ... for "arrow"


class HistoriesMethod(Protocol[Rows, Pandas, Polars, Arrow]):
    """``histories()``'s signature, one overload per ``format``, written
    once: ``Runs`` answers with the rows or frame, ``AsyncRuns`` with a
    coroutine of them (see ``RunsHistories.histories`` for the docs)."""

    @overload
    def __call__(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        format: Literal["default"] = "default",
        stream: Stream = "default",
        *,
        join: Join = "and",
        progress: bool | None = None,
        rows_per_request: int = ROW_BUDGET,
    ) -> Rows: ...

    @overload
    def __call__(
        self,
        samples: int,
        keys: list[str] | None,
        x_axis: str,
        format: Literal["pandas"],
        stream: Stream = "default",
        *,
        join: Join = "and",
        progress: bool | None = None,
        rows_per_request: int = ROW_BUDGET,
    ) -> Pandas: ...

    @overload
    def __call__(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        *,
        format: Literal["pandas"],
        stream: Stream = "default",
        join: Join = "and",
        progress: bool | None = None,
        rows_per_request: int = ROW_BUDGET,
    ) -> Pandas: ...

    @overload
    def __call__(
        self,
        samples: int,
        keys: list[str] | None,
        x_axis: str,
        format: Literal["polars"],
        stream: Stream = "default",
        *,
        join: Join = "and",
        progress: bool | None = None,
        rows_per_request: int = ROW_BUDGET,
    ) -> Polars: ...

    @overload
    def __call__(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        *,
        format: Literal["polars"],
        stream: Stream = "default",
        join: Join = "and",
        progress: bool | None = None,
        rows_per_request: int = ROW_BUDGET,
    ) -> Polars: ...

    @overload
    def __call__(
        self,
        samples: int,
        keys: list[str] | None,
        x_axis: str,
        format: Literal["arrow"],
        stream: Stream = "default",
        *,
        join: Join = "and",
        progress: bool | None = None,
        rows_per_request: int = ROW_BUDGET,
    ) -> Arrow: ...

    @overload
    def __call__(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        *,
        format: Literal["arrow"],
        stream: Stream = "default",
        join: Join = "and",
        progress: bool | None = None,
        rows_per_request: int = ROW_BUDGET,
    ) -> Arrow: ...


class IterHistoriesMethod(Protocol[Rows, Pandas, Polars, Arrow]):
    """``iter_histories()``'s signature, one overload per ``format``, for
    ``Runs`` (an iterator of batches) and ``AsyncRuns`` (an async one)."""

    @overload
    def __call__(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        format: Literal["default"] = "default",
        stream: Stream = "default",
        *,
        join: Join = "and",
        union_schema: bool = False,
        after: str | None = None,
        progress: bool | None = None,
        rows_per_request: int = ROW_BUDGET,
    ) -> Rows: ...

    @overload
    def __call__(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        *,
        format: Literal["pandas"],
        stream: Stream = "default",
        join: Join = "and",
        union_schema: bool = False,
        after: str | None = None,
        progress: bool | None = None,
        rows_per_request: int = ROW_BUDGET,
    ) -> Pandas: ...

    @overload
    def __call__(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        *,
        format: Literal["polars"],
        stream: Stream = "default",
        join: Join = "and",
        union_schema: bool = False,
        after: str | None = None,
        progress: bool | None = None,
        rows_per_request: int = ROW_BUDGET,
    ) -> Polars: ...

    @overload
    def __call__(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        *,
        format: Literal["arrow"],
        stream: Stream = "default",
        join: Join = "and",
        union_schema: bool = False,
        after: str | None = None,
        progress: bool | None = None,
        rows_per_request: int = ROW_BUDGET,
    ) -> Arrow: ...


def as_method(function: Callable[..., Any], name: str, doc: str | None = None) -> Any:
    """``function`` as the method ``name`` (its name, and ``doc`` if given),
    typed by the attribute it is assigned to (a ``...Method`` protocol)."""
    function.__name__ = name
    function.__qualname__ = function.__qualname__.rsplit(".", 1)[0] + "." + name
    if doc is not None:
        function.__doc__ = doc
    return function


class RunsHistories:
    """What ``Runs`` reads of its runs' history."""

    def _histories(
        self: RunCollection,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        format: Format = "default",
        stream: Stream = "default",
        *,
        join: Join = "and",
        progress: bool | None = None,
        rows_per_request: int = ROW_BUDGET,
    ) -> Any:
        """Sampled history of every run in the collection.

        The history of a whole page of runs comes in one request (about
        ``rows_per_request // samples`` runs, at most 1,000), a few requests
        in flight at once; runs already loaded keep their order.

        Args:
            samples: rows per run, at most.
            keys: only rows holding all these keys (and ``x_axis``), projected
                to them; None (or ``[]``) for full rows.
            x_axis: the key every row holds with ``keys``.
            format: "default" for a list of row dicts, "pandas", "polars" or
                "arrow" (a pyarrow Table) for one frame. Every row carries
                ``run_id``; frame columns are sorted, ``run_id`` first.
            stream: "default" for logged metrics, "system" for system metrics
                (ordered by ``_timestamp``; ``keys`` not allowed).
            join: "and" (W&B's rule: a row needs every key) or "outer": each
                key sampled on its own (``samples`` rows per key and run) and
                the rows merged on ``x_axis``, for keys logged at different
                cadences; rows are then in ``x_axis`` order.
            progress: a progress bar of runs done; None shows it in an
                interactive terminal or a notebook only.
            rows_per_request: the row budget that sizes each request; left
                at its default, full rows (``keys=None``) use 32,000, since
                a full row is several times a sampled row's size.

        Returns:
            Rows of all runs, run after run in collection order, each run's
            rows in step order. Keys only some runs logged are kept (missing
            values null/NaN). In every frame format, a column whose values
            are neither all numbers, all bools nor all text (media dicts,
            lists, mixtures) is JSON text, so the frame writes to Parquet and
            CSV as it is (pandas: ``frame.attrs["json_columns"]``).

        Raises:
            InvalidArgumentError: a bad argument (or polars/pyarrow missing),
                before any request.
            IncompleteHistoriesError: a page failed after its retries; it
                carries the completed run ids and a ``resume_token`` for
                ``iter_histories(after=...)``.
        """
        check_budget(rows_per_request)
        result: Any = fetch_histories(
            self, samples, keys, x_axis, format, stream,
            join=join, progress=progress, rows_per_request=rows_per_request,
        )  # fmt: skip
        if keys and stream == "default":
            hint = history_hint_flow(
                self.entity, self.project, [*keys, x_axis], columns_of(result)
            )
            run(self.client, hint)
        return result

    histories: HistoriesMethod[
        list[dict[str, Any]], pd.DataFrame, pl.DataFrame, pa.Table
    ] = as_method(_histories, "histories")

    def _iter_histories(
        self: RunCollection,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        format: Format = "default",
        stream: Stream = "default",
        *,
        join: Join = "and",
        union_schema: bool = False,
        after: str | None = None,
        progress: bool | None = None,
        rows_per_request: int = ROW_BUDGET,
    ) -> Iterator[HistoryBatch[Any]]:
        """The rows of ``histories()``, a page of runs at a time.

        Each ``HistoryBatch`` holds the complete history of ``run_ids`` (in
        collection order) as ``data`` (list of dicts or one frame per batch)
        and a ``resume_token``: ``iter_histories(..., after=token)`` with the
        same arguments goes on with the runs after that batch (the token of
        ``IncompleteHistoriesError`` works the same way).

        Args:
            union_schema: give every frame batch the same columns and types,
                from the runs' ``historyKeys`` (loads the run list first):
                numbers float64 (``_step`` int64), text, bools; media, lists
                and keys of mixed types as JSON text. Frame formats only.
            after: a resume token; the other arguments as in ``histories()``.

        Raises:
            InvalidArgumentError: a bad argument or token, before any request.
            IncompleteHistoriesError: from the iterator, when a page fails
                after its retries.
        """
        check_budget(rows_per_request)
        batches = iter_batches(
            self, samples, keys, x_axis, format, stream, join=join,
            union_schema_=union_schema, after=after, progress=progress,
            rows_per_request=rows_per_request,
        )  # fmt: skip
        if keys and stream == "default":  # a KeyWarning after the last batch
            return hinted_batches(self, batches, [*keys, x_axis])
        return batches

    iter_histories: IterHistoriesMethod[
        Iterator[HistoryBatch[list[dict[str, Any]]]],
        Iterator[HistoryBatch[pd.DataFrame]],
        Iterator[HistoryBatch[pl.DataFrame]],
        Iterator[HistoryBatch[pa.Table]],
    ] = as_method(_iter_histories, "iter_histories")


def check_budget(rows_per_request: object) -> None:
    if (
        not isinstance(rows_per_request, int)
        or isinstance(rows_per_request, bool)
        or rows_per_request < 1
    ):
        raise InvalidArgumentError(
            "rows_per_request must be a positive integer (history rows per "
            f"request, e.g. {ROW_BUDGET}); got {rows_per_request!r}."
        )
