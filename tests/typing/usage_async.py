"""A user's async script; must pass ``mypy --strict`` from outside the
repository (see test_typing.py). Not run."""

from __future__ import annotations

import asyncio
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
from typing_extensions import assert_type

from runs_client import (
    AsyncApi,
    AsyncRun,
    AsyncRuns,
    HistoryBatch,
    Project,
    RunsClientError,
    aruns_frame,
)


async def main() -> None:
    async with AsyncApi(timeout=30.0, max_retries=2) as api:
        runs = api.runs("entity/project", filters={"state": "finished"})
        assert_type(runs, AsyncRuns)
        assert_type(await runs.count(), int)
        assert_type(await runs.get(0), AsyncRun)
        assert_type(await runs.get(slice(2, 5)), list[AsyncRun])
        async for run in runs:
            assert_type(run, AsyncRun)
            assert_type(await run.history(), pd.DataFrame)
            assert_type(await run.history(pandas=False), list[dict[str, Any]])
            async for row in run.scan_history(keys=["loss"]):
                assert_type(row, dict[str, Any])
        assert_type(await runs.histories(format="pandas"), pd.DataFrame)
        assert_type(await runs.histories(samples=10, format="polars"), pl.DataFrame)
        assert_type(await runs.histories(format="arrow"), pa.Table)
        assert_type(await runs.histories(), list[dict[str, Any]])
        async for batch in runs.iter_histories(format="pandas"):
            assert_type(batch, HistoryBatch[pd.DataFrame])
        assert_type(await api.projects(), list[Project])
        assert_type(await aruns_frame(runs), pd.DataFrame)
        made = await api.create_run(project="p", config={"lr": 0.1}, tags=["a"])
        assert_type(made, AsyncRun)
        await made.update(summary={"loss": 0.5}, name="n")
        await made.stop()
        await made.delete()
        try:
            await api.run("entity/project/run_id")
        except RunsClientError as exc:
            print(exc)


asyncio.run(main())
