"""``aruns_frame``: ``runs_frame`` of an ``AsyncRuns`` (or any async
iterable of runs), its runs loaded first."""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from typing import TYPE_CHECKING, Literal, overload

import pandas as pd

from ..run_table import check_frame_format, runs_frame
from .runs import AsyncRun

if TYPE_CHECKING:
    import polars as pl

__all__ = ["aruns_frame"]


@overload
async def aruns_frame(
    runs: AsyncIterable[AsyncRun] | Iterable[AsyncRun],
    format: Literal["pandas"] = "pandas",
) -> pd.DataFrame: ...


@overload
async def aruns_frame(
    runs: AsyncIterable[AsyncRun] | Iterable[AsyncRun], format: Literal["polars"]
) -> pl.DataFrame: ...


async def aruns_frame(
    runs: AsyncIterable[AsyncRun] | Iterable[AsyncRun],
    format: Literal["pandas", "polars"] = "pandas",
) -> pd.DataFrame | pl.DataFrame:
    """One row per run, as ``runs_frame``: ``await aruns_frame(api.runs(...))``."""
    check_frame_format(format)
    if isinstance(runs, AsyncIterable):
        held = [run async for run in runs]
    else:
        held = list(runs)
    return runs_frame(held, format)
