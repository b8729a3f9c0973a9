"""``AsyncRuns.histories()`` and ``AsyncRuns.iter_histories()``: the typed
entry points over ``history.async_histories``. Their overloads and docs are
``Runs``' (``runs_histories.HistoriesMethod``, ``IterHistoriesMethod``),
answering coroutines: ``await runs.histories(format="pandas")`` is a
``pd.DataFrame``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd

from ..history.async_histories import AsyncRunSource, afetch_histories, aiter_batches
from ..history.histories import Format, HistoryBatch
from ..history.pages import Join
from ..history.policy import ROW_BUDGET
from ..history.run_rows import Stream
from ..key_hints import ahinted_batches, columns_of, history_hint_flow
from ..runs_histories import (
    HistoriesMethod,
    IterHistoriesMethod,
    RunsHistories,
    as_method,
    check_budget,
)
from ..transport.flows import arun

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

__all__ = ["AsyncRunsHistories"]

T = TypeVar("T")
# What ``histories()`` answers here: a coroutine of the sync answer.
Answer = Coroutine[Any, Any, T]


class AsyncRunsHistories:
    """What ``AsyncRuns`` reads of its runs' history: ``Runs.histories()``
    and ``iter_histories()`` awaited (same arguments, checks and answers)."""

    async def _histories(
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
    ) -> Any:
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

    histories: HistoriesMethod[
        Answer[list[dict[str, Any]]],
        Answer[pd.DataFrame],
        Answer[pl.DataFrame],
        Answer[pa.Table],
    ] = as_method(_histories, "histories", RunsHistories.histories.__doc__)

    def _iter_histories(
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
        check_budget(rows_per_request)
        batches = aiter_batches(
            self, samples, keys, x_axis, format, stream, join=join,
            union_schema_=union_schema, after=after, progress=progress,
            rows_per_request=rows_per_request,
        )  # fmt: skip
        if keys and stream == "default":  # a KeyWarning after the last batch
            return ahinted_batches(self, batches, [*keys, x_axis])
        return batches

    iter_histories: IterHistoriesMethod[
        AsyncIterator[HistoryBatch[list[dict[str, Any]]]],
        AsyncIterator[HistoryBatch[pd.DataFrame]],
        AsyncIterator[HistoryBatch[pl.DataFrame]],
        AsyncIterator[HistoryBatch[pa.Table]],
    ] = as_method(
        _iter_histories, "iter_histories", RunsHistories.iter_histories.__doc__
    )
