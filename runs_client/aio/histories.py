"""``AsyncRuns.histories()`` and ``AsyncRuns.iter_histories()``: the typed
entry points (one overload per ``format``) over ``history.async_histories``;
``await runs.histories(format="pandas")`` is a ``pd.DataFrame``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Literal, overload

import pandas as pd

from ..history.async_histories import AsyncRunSource, afetch_histories, aiter_batches
from ..history.histories import Format, HistoryBatch
from ..history.pages import Join
from ..history.policy import ROW_BUDGET
from ..history.run_rows import Stream
from ..key_hints import ahinted_batches, columns_of, history_hint_flow
from ..runs_histories import check_budget
from ..transport.flows import arun

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

__all__ = ["AsyncRunsHistories"]


class AsyncRunsHistories:
    """What ``AsyncRuns`` reads of its runs' history: ``Runs.histories()``
    and ``iter_histories()`` awaited (same arguments, checks and answers)."""

    @overload
    async def histories(
        self: AsyncRunSource,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        format: Literal["default"] = "default",
        stream: Stream = "default",
        *,
        join: Join = "and",
        progress: bool | None = None,
        rows_per_request: int = ROW_BUDGET,
    ) -> list[dict[str, Any]]: ...

    @overload
    async def histories(
        self: AsyncRunSource,
        samples: int,
        keys: list[str] | None,
        x_axis: str,
        format: Literal["pandas"],
        stream: Stream = "default",
        *,
        join: Join = "and",
        progress: bool | None = None,
        rows_per_request: int = ROW_BUDGET,
    ) -> pd.DataFrame: ...

    @overload
    async def histories(
        self: AsyncRunSource,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        *,
        format: Literal["pandas"],
        stream: Stream = "default",
        join: Join = "and",
        progress: bool | None = None,
        rows_per_request: int = ROW_BUDGET,
    ) -> pd.DataFrame: ...

    @overload
    async def histories(
        self: AsyncRunSource,
        samples: int,
        keys: list[str] | None,
        x_axis: str,
        format: Literal["polars"],
        stream: Stream = "default",
        *,
        join: Join = "and",
        progress: bool | None = None,
        rows_per_request: int = ROW_BUDGET,
    ) -> pl.DataFrame: ...

    @overload
    async def histories(
        self: AsyncRunSource,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        *,
        format: Literal["polars"],
        stream: Stream = "default",
        join: Join = "and",
        progress: bool | None = None,
        rows_per_request: int = ROW_BUDGET,
    ) -> pl.DataFrame: ...

    @overload
    async def histories(
        self: AsyncRunSource,
        samples: int,
        keys: list[str] | None,
        x_axis: str,
        format: Literal["arrow"],
        stream: Stream = "default",
        *,
        join: Join = "and",
        progress: bool | None = None,
        rows_per_request: int = ROW_BUDGET,
    ) -> pa.Table: ...

    @overload
    async def histories(
        self: AsyncRunSource,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        *,
        format: Literal["arrow"],
        stream: Stream = "default",
        join: Join = "and",
        progress: bool | None = None,
        rows_per_request: int = ROW_BUDGET,
    ) -> pa.Table: ...

    async def histories(
        self: AsyncRunSource,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        format: Format = "default",
        stream: Stream = "default",
        *,
        join: Join = "and",
        progress: bool | None = None,
        rows_per_request: int = ROW_BUDGET,
    ) -> list[dict[str, Any]] | pd.DataFrame | pl.DataFrame | pa.Table:
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
        result: Any = await afetch_histories(
            self, samples, keys, x_axis, format, stream,
            join=join, progress=progress, rows_per_request=rows_per_request,
        )  # fmt: skip
        if keys and stream == "default":
            hint = history_hint_flow(
                self.entity, self.project, [*keys, x_axis], columns_of(result)
            )
            await arun(self.client, hint)
        return result

    @overload
    def iter_histories(
        self: AsyncRunSource,
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
    ) -> AsyncIterator[HistoryBatch[list[dict[str, Any]]]]: ...

    @overload
    def iter_histories(
        self: AsyncRunSource,
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
    ) -> AsyncIterator[HistoryBatch[pd.DataFrame]]: ...

    @overload
    def iter_histories(
        self: AsyncRunSource,
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
    ) -> AsyncIterator[HistoryBatch[pl.DataFrame]]: ...

    @overload
    def iter_histories(
        self: AsyncRunSource,
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
    ) -> AsyncIterator[HistoryBatch[pa.Table]]: ...

    def iter_histories(
        self: AsyncRunSource,
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
    ) -> AsyncIterator[HistoryBatch[Any]]:
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
        batches = aiter_batches(
            self, samples, keys, x_axis, format, stream, join=join,
            union_schema_=union_schema, after=after, progress=progress,
            rows_per_request=rows_per_request,
        )  # fmt: skip
        if keys and stream == "default":  # a KeyWarning after the last batch
            return ahinted_batches(self, batches, [*keys, x_axis])
        return batches
