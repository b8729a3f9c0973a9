"""Histories into a Parquet dataset partitioned by run (``write_history_dataset``
and ``runs-client histories --partition-by-run``): one file per run in
``run_id=<id>/``, read back (hive partitioning) as ``Runs.histories()``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from runs_client import Api, write_history_dataset
from tests.cli.conftest import MIXED
from tests.cli.test_histories_export import (
    MIXED_JSON_COLUMNS,
    assert_same_rows,
    expected_rows,
)
from tests.server.conftest import EXACT, Live

pytestmark = pytest.mark.e2e


def read_dataset(folder: Path) -> list[dict[str, Any]]:
    """The dataset's rows, ``run_id`` from the folder names, in run and step
    order (a dataset's files come in no set order)."""
    by_name = ds.partitioning(pa.schema([("run_id", pa.string())]), flavor="hive")
    table = ds.dataset(folder, format="parquet", partitioning=by_name).to_table()
    return sorted(table.to_pylist(), key=lambda r: (r["run_id"], r["_step"]))


def by_run_and_step(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["run_id"], r["_step"]))


def run_folders(folder: Path) -> dict[str, list[str]]:
    return {
        d.name: sorted(p.name for p in d.iterdir())
        for d in folder.iterdir()
        if d.is_dir()
    }


def test_cli_writes_one_file_per_run(cli: Any, live: Live, tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    done = cli(
        "histories", MIXED, "--per-page", "2", "--samples", "50",
        "--partition-by-run", "-o", f"{out}/",
    )  # fmt: skip
    assert done.code == 0, done.err
    want = expected_rows(live, MIXED, samples=50)
    runs = sorted({r["run_id"] for r in want})
    assert len(runs) == 3  # two pages: runs of one page split into folders
    assert run_folders(out) == {f"run_id={r}": ["part-0.parquet"] for r in runs}
    for run in runs:  # the run id is the folder's name, not a column
        schema = pq.read_schema(out / f"run_id={run}" / "part-0.parquet")
        assert "run_id" not in schema.names and "_step" in schema.names
    assert_same_rows(read_dataset(out), by_run_and_step(want), MIXED_JSON_COLUMNS)
    assert "(3 files)" in done.out


def test_cli_refuses_partitions_into_a_file(cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "h.parquet"
    done = cli("histories", MIXED, "--partition-by-run", "-o", str(out))
    assert done.code != 0
    assert "--partition-by-run writes a folder" in done.err
    assert not out.exists()


def test_write_history_dataset_equals_histories(live: Live, tmp_path: Path) -> None:
    out = tmp_path / "exact"
    with Api(base_url=live.url) as api:
        result = write_history_dataset(api.runs(EXACT), out, samples=7)
        want = api.runs(EXACT).histories(samples=7)
        assert result.runs == 3 and result.rows == len(want)
        assert result.files == len({r["run_id"] for r in want})
        assert result.resume_token is not None
        assert_same_rows(read_dataset(out), by_run_and_step(want))
        # Written again: each run's file is replaced, nothing added.
        before = run_folders(out)
        again = write_history_dataset(api.runs(EXACT), out, samples=7)
        assert run_folders(out) == before and again.rows == result.rows
        assert_same_rows(read_dataset(out), by_run_and_step(want))


def test_write_history_dataset_refuses_a_file(live: Live, tmp_path: Path) -> None:
    path = tmp_path / "taken"
    path.write_text("x")
    with Api(base_url=live.url) as api, pytest.raises(ValueError, match="is a file"):
        write_history_dataset(api.runs(EXACT), path)
