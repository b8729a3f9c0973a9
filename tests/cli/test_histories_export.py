"""``runs-client histories``: files read back equal ``Runs.histories()``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from runs_client import Api
from tests.cli.conftest import MIXED
from tests.server.conftest import EXACT, Live

pytestmark = pytest.mark.e2e


def expected_rows(live: Live, project: str, **kwargs: Any) -> list[dict[str, Any]]:
    with Api(base_url=live.url) as api:
        rows: list[dict[str, Any]] = api.runs(project).histories(**kwargs)
        return rows


def same(exported: Any, original: Any, json_text: bool = False) -> bool:
    """A value written to a typed column still means the logged value.

    ``json_text``: the column holds every value as JSON text (media, or a key
    logged with mixed types), so a logged string ``n`` is written ``"n"``.
    """
    if json_text and original is not None and isinstance(exported, str):
        exported = json.loads(exported)
        if isinstance(original, float) and math.isnan(original):
            return isinstance(exported, float) and math.isnan(exported)
        return bool(exported == original)
    if original is None or (isinstance(original, float) and math.isnan(original)):
        return exported is None or (
            isinstance(exported, float) and math.isnan(exported)
        )
    if isinstance(original, (bool, str)):
        return bool(exported == original)
    if isinstance(original, (int, float)):
        if isinstance(exported, str):
            exported = json.loads(exported)
        return float(exported) == float(original)
    return bool(json.loads(exported) == original)  # media dicts: JSON text


def assert_same_rows(
    got: list[dict[str, Any]],
    want: list[dict[str, Any]],
    json_columns: frozenset[str] = frozenset(),
) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g["run_id"] == w["run_id"]
        for key in set(g) | set(w):
            assert same(g.get(key), w.get(key), key in json_columns), (
                w["run_id"],
                key,
                g.get(key),
                w.get(key),
            )


MIXED_SCHEMA = {
    "run_id": pa.string(),
    "_step": pa.int64(),
    "count": pa.float64(),  # an int in one run, a float in another
    "note": pa.string(),  # text in one run, numbers in another: JSON text
    "loss": pa.float64(),
    "img": pa.string(),  # media: JSON text
}
MIXED_JSON_COLUMNS = frozenset({"note", "img"})


@pytest.mark.parametrize("project", [MIXED, EXACT])
def test_parquet_equals_histories(
    cli: Any, live: Live, tmp_path: Path, project: str
) -> None:
    out = tmp_path / "h.parquet"
    done = cli("histories", project, "--samples", "50", "-o", str(out))
    assert done.code == 0, done.err
    want = expected_rows(live, project, samples=50)
    table = pq.read_table(out)
    json_columns = MIXED_JSON_COLUMNS if project == MIXED else frozenset()
    assert_same_rows(table.to_pylist(), want, json_columns)
    runs = 3  # both projects hold three runs
    last = done.out.strip().splitlines()[-1]
    assert last.startswith(f"wrote {runs} runs, {len(want)} rows to {out} (")
    if project == MIXED:
        assert {f.name: f.type for f in table.schema} == MIXED_SCHEMA
        assert table.schema.names[:2] == ["run_id", "_step"]


def test_csv_equals_histories(cli: Any, live: Live, tmp_path: Path) -> None:
    out = tmp_path / "h.csv"
    assert cli("histories", MIXED, "-o", str(out)).code == 0
    table = pacsv.read_csv(
        out,
        convert_options=pacsv.ConvertOptions(
            column_types=MIXED_SCHEMA, strings_can_be_null=True
        ),
    )
    assert_same_rows(table.to_pylist(), expected_rows(live, MIXED), MIXED_JSON_COLUMNS)


def test_jsonl_equals_histories(cli: Any, live: Live, tmp_path: Path) -> None:
    out = tmp_path / "h.jsonl"
    assert cli("histories", EXACT, "-o", str(out)).code == 0
    lines = out.read_text().splitlines()
    got = [json.loads(line) for line in lines]  # bare NaN/Infinity, as W&B writes
    want = expected_rows(live, EXACT)
    assert_same_rows(got, want)
    assert any(isinstance(r.get("loss"), float) and math.isinf(r["loss"]) for r in got)


def test_folder_gets_one_parquet_per_page(cli: Any, live: Live, tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    done = cli("histories", MIXED, "--per-page", "1", "--keys", "loss", "-o", f"{out}/")
    assert done.code == 0, done.err
    parts = sorted(out.glob("part-*.parquet"))
    assert len(parts) == 3  # three runs, one per page
    schemas = {pq.read_schema(p) for p in parts}
    assert len(schemas) == 1  # every page fits the one schema
    got = pq.read_table(out).to_pylist()
    want = expected_rows(live, MIXED, keys=["loss"])
    assert_same_rows(got, want)
    assert "(3 files)" in done.out


def test_keys_and_system_stream(cli: Any, live: Live, tmp_path: Path) -> None:
    out = tmp_path / "sys.parquet"
    assert cli("histories", EXACT, "--stream", "system", "-o", str(out)).code == 0
    want = expected_rows(live, EXACT, stream="system")
    assert want, "test/exact has system metrics"
    assert_same_rows(pq.read_table(out).to_pylist(), want)


def test_progress_knows_the_total_before_listing(live: Live, tmp_path: Path) -> None:
    """The total comes from one runCount request, before the runs are listed
    (no "0/?" wait); each page reports its runs and rows."""
    from runs_cli.export import export_histories
    from tests.e2e.conftest import record_requests

    events: list[tuple[str, Any]] = []
    with Api(base_url=live.url) as api:
        requests = record_requests(api)
        runs = api.runs("demo/mnist", filters={"state": "finished"}, per_page=50)

        def started(total: int) -> None:
            events.append(("start", (total, list(requests.operations))))

        result = export_histories(
            runs,
            str(tmp_path / "h.parquet"),
            samples=20,
            on_start=started,
            on_page=lambda n, rows: events.append(("page", (n, rows))),
        )
    (kind, (total, sent)), *pages = events
    assert kind == "start" and sent == ["RunCount"]
    assert total == result.runs > 50
    assert sum(n for _, (n, _) in pages) == total
    assert sum(rows for _, (_, rows) in pages) == result.rows > 0


def test_progress_line_shows_runs_rows_and_time_left() -> None:
    import io

    from rich.console import Console

    from runs_cli.commands import export_progress

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    progress = export_progress(console)
    task = progress.add_task("histories", total=10, rows=0)
    progress.update(task, advance=4, rows=12_345)
    console.print(progress.make_tasks_table(progress.tasks))
    text = out.getvalue()
    assert "4/10" in text and "runs, 12,345 rows" in text
    assert "-:--:--" in text or "0:00:0" in text  # time left, then elapsed
