"""Every frame the client returns writes to Parquet and CSV as it is and
reads back equal to a plain model of the README's rule: a column whose values
are all numbers is numeric, all booleans bool, all text text, all missing
null; any other column (tags, lists, dicts, media, values of mixed types) is
JSON text, one string per value.

Projects of a few runs are drawn from a pool of values (numbers with NaN and
infinities, booleans, text with commas, quotes and newlines, lists, dicts,
media), loaded into a store served over loopback, and read back through
``runs_frame`` (pandas, polars), ``histories()`` and ``iter_histories()``
(pandas, polars, arrow), ``Run.history(pandas=True)`` and the CLI's
``runs --format csv|parquet``.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runs_client import Api, runs_frame
from runs_server.http.app import RunsServerApp
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store
from tests.cli.conftest import run_in_process

pytestmark = pytest.mark.e2e

IMAGE = {"_type": "image-file", "path": "media/a.png", "width": 8}
POOL: list[Any] = [
    None, True, False, 0, 7, -3, 2**40, 2.5, -1e-7, 1e300,
    math.nan, math.inf, -math.inf,
    "text", "a,b", 'say "hi"', "two\nlines", "ünï",
    [1, "x"], [], ["a", "b"], IMAGE, {"k": [1, 2]},
]  # fmt: skip
VALUE = st.sampled_from(POOL)
KEYS = ("a", "b", "c")
START = datetime(2024, 1, 1, tzinfo=timezone.utc)
_PROJECTS = itertools.count()


@st.composite
def projects(draw: st.DrawFn) -> list[dict[str, Any]]:
    runs = []
    for i in range(draw(st.integers(1, 3))):
        config = draw(st.dictionaries(st.sampled_from(KEYS), VALUE, max_size=3))
        # Nested config: a namespace, flattened to dotted columns.
        if draw(st.booleans()):
            config["opt"] = {"name": draw(VALUE), "beta": draw(VALUE)}
        summary = draw(st.dictionaries(st.sampled_from(KEYS), VALUE, max_size=3))
        rows = [
            {"_step": step, **draw(st.dictionaries(st.sampled_from(KEYS), VALUE))}
            for step in range(draw(st.integers(0, 4)))
        ]
        tags = draw(st.lists(st.sampled_from(["x", "y,z", 'q"t']), max_size=2))
        runs.append(
            {"id": f"r{i}", "config": config, "summary": summary, "rows": rows,
             "tags": tags, "group": draw(st.sampled_from([None, "g"]))}
        )  # fmt: skip
    return runs


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Store, str]]:
    store = Store()
    store.users.create("frames", entity="frames")
    server = BackgroundServer(RunsServerApp(store)).start()
    yield store, server.url
    server.stop()
    store.close()


def _load(store: Store, runs: list[dict[str, Any]]) -> str:
    name = f"p{next(_PROJECTS)}"
    store.projects.create("frames", name)
    path = f"frames/{name}"
    for i, run in enumerate(runs):
        stored = store.runs.add(
            path, run["id"], display_name=f"run {i}", config=run["config"],
            summary=run["summary"], tags=run["tags"], group=run["group"],
            created_at=START + timedelta(minutes=i),
        )  # fmt: skip
        if run["rows"]:
            store.history.log(stored, run["rows"], update_summary=False)
    return path


# The plain model ------------------------------------------------------------


def _flat(prefix: str, values: dict[str, Any], into: dict[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, dict) and value and "_type" not in value:
            _flat(f"{prefix}.{key}", value, into)
        else:
            into[f"{prefix}.{key}"] = value


def _table_model(runs: list[dict[str, Any]]) -> dict[str, list[Any]]:
    rows = []
    for i, run in enumerate(runs):
        row: dict[str, Any] = {
            "id": run["id"], "name": f"run {i}", "state": "finished",
            "created_at": START + timedelta(minutes=i), "group": run["group"],
            "job_type": None, "tags": run["tags"], "user": None, "sweep": None,
        }  # fmt: skip
        _flat("config", run["config"], row)
        _flat("summary", run["summary"], row)
        rows.append(row)
    names = dict.fromkeys(k for row in rows for k in row)
    return {name: [row.get(name) for row in rows] for name in names}


def _history_model(runs: list[dict[str, Any]]) -> dict[str, list[Any]]:
    rows = [{**r, "run_id": run["id"]} for run in runs for r in run["rows"]]
    names = dict.fromkeys(k for row in rows for k in row)
    return {name: [row.get(name) for row in rows] for name in names}


def _kind(values: list[Any]) -> str:
    types = {type(v) for v in values if v is not None}
    if not types:
        return "null"
    if types <= {int, float}:
        return "number"
    if types in ({bool}, {str}, {datetime}):
        return types.pop().__name__
    return "json"


def _same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN, ints equal to the same floats, in lists and dicts."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    numbers = {type(a), type(b)} <= {int, float}
    return (type(a) is type(b) or numbers) and bool(a == b)


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return value == "" or (isinstance(value, float) and math.isnan(value))


def _check_column(name: str, got: list[Any], want: list[Any], csv: bool) -> None:
    """``got`` (as read back from a file) holds the model's ``want``."""
    kind = _kind(want)
    assert len(got) == len(want), name
    for g, w in zip(got, want, strict=True):
        if kind == "null" or w is None:
            assert _missing(g), (name, g, w)
        elif kind == "number":
            if isinstance(g, str):
                g = float(g) if g else math.nan
            # A missing number and NaN are one in pandas and in CSV.
            assert _same(float(g), float(w)) or (math.isnan(w) and _missing(g)), (
                name, g, w
            )  # fmt: skip
        elif kind == "bool":
            assert g == w or (csv and str(g).lower() == str(w).lower()), (name, g, w)
        elif kind == "datetime":
            assert pd.Timestamp(g) == pd.Timestamp(w), (name, g, w)
        elif kind == "str":
            assert g == w, (name, g, w)
        else:
            assert isinstance(g, str), (name, g, w)
            assert _same(json.loads(g), w), (name, g, w)


def _check(
    frame_back: dict[str, list[Any]], model: dict[str, list[Any]], csv: bool
) -> None:
    assert set(frame_back) == set(model), (sorted(frame_back), sorted(model))
    for name, want in model.items():
        _check_column(name, frame_back[name], want, csv)


# Writing and reading back, per library ---------------------------------------


def _pandas_back(
    frame: pd.DataFrame, tmp: Path
) -> Iterator[tuple[dict[str, list[Any]], bool]]:
    frame.to_parquet(tmp / "f.parquet", index=False)
    frame.to_csv(tmp / "f.csv", index=False)
    back = pd.read_parquet(tmp / "f.parquet")
    yield {str(c): back[c].tolist() for c in back.columns}, False
    if len(frame.columns):
        text = pd.read_csv(tmp / "f.csv", dtype=str, keep_default_na=False)
        yield {str(c): text[c].tolist() for c in text.columns}, True


def _polars_back(
    frame: pl.DataFrame, tmp: Path
) -> Iterator[tuple[dict[str, list[Any]], bool]]:
    frame.write_parquet(tmp / "f.parquet")
    frame.write_csv(tmp / "f.csv")
    back = pl.read_parquet(tmp / "f.parquet")
    assert back.equals(frame)
    yield {c: back[c].to_list() for c in back.columns}, False
    if len(frame.columns) and len(frame):
        text = pl.read_csv(tmp / "f.csv", infer_schema=False)
        yield {c: text[c].to_list() for c in text.columns}, True


def _arrow_back(
    table: pa.Table, tmp: Path
) -> Iterator[tuple[dict[str, list[Any]], bool]]:
    pq.write_table(table, tmp / "f.parquet")
    pacsv.write_csv(table, tmp / "f.csv")
    back = pq.read_table(tmp / "f.parquet")
    assert back.equals(table)
    yield {c: back.column(c).to_pylist() for c in back.column_names}, False
    if table.num_columns and table.num_rows:
        options = pacsv.ConvertOptions(
            column_types={c: pa.string() for c in table.column_names},
            strings_can_be_null=False,
        )
        text = pacsv.read_csv(tmp / "f.csv", convert_options=options)
        yield {c: text.column(c).to_pylist() for c in text.column_names}, True


def _written_back(frame: Any, tmp: Path) -> Iterator[tuple[dict[str, list[Any]], bool]]:
    if isinstance(frame, pd.DataFrame):
        return _pandas_back(frame, tmp)
    if isinstance(frame, pl.DataFrame):
        return _polars_back(frame, tmp)
    return _arrow_back(frame, tmp)


def _expect(frame: Any, model: dict[str, list[Any]], tmp: Path) -> None:
    for back, csv in _written_back(frame, tmp):
        _check(back, model, csv)


@settings(
    max_examples=20,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(runs=projects())
def test_every_frame_writes_and_reads_back_as_the_model(
    served: tuple[Store, str], tmp_path: Path, runs: list[dict[str, Any]]
) -> None:
    store, url = served
    path = _load(store, runs)
    table, history = _table_model(runs), _history_model(runs)
    if not history:  # no run logged a row: the frames hold run_id alone
        history = {"run_id": []}
    with Api(base_url=url) as api:
        listed = api.runs(path, order="+created_at")
        for fmt in ("pandas", "polars"):
            _expect(runs_frame(listed, format=fmt), table, tmp_path)
        for fmt in ("pandas", "polars", "arrow"):
            frame = listed.histories(samples=10, format=fmt, progress=False)  # type: ignore[call-overload]
            _expect(frame, history, tmp_path)
            for batch in listed.iter_histories(format=fmt, progress=False):  # type: ignore[call-overload]
                ids = set(batch.run_ids)
                part = [run for run in runs if run["id"] in ids]
                want = _history_model(part) or {"run_id": []}
                _expect(batch.data, want, tmp_path)
        first = listed[0]
        rows = _history_model(runs[:1])
        rows.pop("run_id", None)
        _expect(first.history(samples=10, pandas=True), rows, tmp_path)
    for fmt in ("csv", "parquet"):
        out = tmp_path / f"cli.{fmt}"
        done = run_in_process("runs", path, "--format", fmt, "-o", str(out), url=url)
        assert done.code == 0, done.err
        if fmt == "csv":
            text = pd.read_csv(out, dtype=str, keep_default_na=False)
            _check({str(c): text[c].tolist() for c in text.columns}, table, True)
        else:
            back = pd.read_parquet(out)
            _check({str(c): back[c].tolist() for c in back.columns}, table, False)
