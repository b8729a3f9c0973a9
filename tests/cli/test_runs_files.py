"""Runs tables as files: every frame ``runs_frame`` returns writes to Parquet
and CSV as it is, and the CLI writes lists and dicts as JSON text, never as
Python reprs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest

from runs_client import Api, runs_frame
from runs_client.run_table import RUN_COLUMNS
from tests.server.conftest import Live

pytestmark = pytest.mark.e2e


def test_polars_runs_frame_writes_as_it_is(live: Live, tmp_path: Path) -> None:
    with Api(base_url=live.url) as api:
        runs = api.runs("demo/mnist", per_page=500)
        frame = runs_frame(runs, format="polars")
        tags = [list(run.tags) for run in runs]
    assert pl.Object not in frame.schema.values()
    assert frame.columns[: len(RUN_COLUMNS)] == list(RUN_COLUMNS)
    assert [json.loads(t) for t in frame["tags"]] == tags
    assert any(tags)
    frame.write_parquet(tmp_path / "runs.parquet")
    frame.write_csv(tmp_path / "runs.csv")
    assert pl.read_parquet(tmp_path / "runs.parquet").equals(frame)
    back = pl.read_csv(tmp_path / "runs.csv")
    assert back["id"].to_list() == frame["id"].to_list()


def test_runs_csv_writes_json_not_reprs(cli: Any, live: Live) -> None:
    done = cli("runs", "demo/mnist", "--format", "csv")
    assert done.code == 0, done.err
    rows = list(csv.DictReader(io.StringIO(done.out)))
    with Api(base_url=live.url) as api:
        want = {r.id: (list(r.tags), r.config) for r in api.runs("demo/mnist")}
    for row in rows:
        tags, config = want[row["id"]]
        assert json.loads(row["tags"]) == tags  # ["a","b"], not ['a', 'b']
        assert json.loads(row["config.optimizer.betas"]) == config["optimizer"]["betas"]
    assert "'" not in "".join(r["tags"] for r in rows)


def test_runs_format_parquet(cli: Any, live: Live, tmp_path: Path) -> None:
    out = tmp_path / "runs.parquet"
    done = cli("runs", "demo/mnist", "--format", "parquet", "-o", str(out))
    assert done.code == 0, done.err
    assert done.out.startswith(f"wrote 320 runs to {out}")
    table = pd.read_parquet(out)
    with Api(base_url=live.url) as api:
        runs = api.runs("demo/mnist", per_page=500)
        frame = runs_frame(runs)
    assert table["id"].tolist() == frame["id"].tolist()
    assert table["tags"].tolist() == frame["tags"].tolist()  # JSON text in both
    assert [json.loads(t) for t in table["tags"]] == [list(r.tags) for r in runs]
    assert table["summary.loss"].equals(frame["summary.loss"])
    missing = cli("runs", "demo/mnist", "--format", "parquet")
    assert missing.code == 2 and "add -o runs.parquet" in missing.err
