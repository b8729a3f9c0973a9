"""Columnar pages (``history.columnar.read_columns``) hold the rows a plain
model of the logged rows says, whichever way the page is read: the usual
page (every key of a run one numeric chunk over every step: ``columnar_fast``)
and pages that are not (a sparse key, a text key), read run by run.

The model: a run's rows are the logged rows; ``sampledHistory`` keeps those
in the spec's step bounds holding every spec key, ``history`` every row; then
the sampling rule keeps ceil(b * (n - 1) / (s - 1)) for b < s.
"""

from __future__ import annotations

import math
import sqlite3
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runs_server.history import Spec, columnar
from runs_server.store import Store

FLOAT = st.floats(-1e6, 1e6, allow_nan=False) | st.just(math.nan)
INT = st.integers(-(2**40), 2**40)


@st.composite
def runs(draw: st.DrawFn) -> list[list[list[dict[str, Any]]]]:
    """Runs, each log calls of rows: ``loss`` (floats) and ``n`` (ints) in
    every row at every step, unless the draw adds a sparse ``extra`` key or a
    text ``note`` (pages that are not the usual case)."""
    out = []
    unusual = draw(st.sampled_from(["none", "none", "sparse", "text"]))
    for _ in range(draw(st.integers(0, 4))):
        step = draw(st.integers(0, 5))
        calls = []
        for _ in range(draw(st.integers(0, 2))):
            rows = []
            for _ in range(draw(st.integers(1, 25))):
                row: dict[str, Any] = {"_step": step, "loss": draw(FLOAT)}
                row["n"] = draw(INT)
                if unusual == "sparse" and step % 3 == 0:
                    row["extra"] = draw(FLOAT)
                if unusual == "text":
                    row["note"] = draw(st.text("ab", max_size=3))
                rows.append(row)
                step += 1
            calls.append(rows)
        out.append(calls)
    return out


def _kept(count: int, samples: int | None) -> list[int]:
    if samples is None or samples >= count:
        return list(range(count))
    if samples == 1:
        return [count - 1]
    return sorted({math.ceil(b * (count - 1) / (samples - 1)) for b in range(samples)})


def _model(
    logged: list[list[dict[str, Any]]], spec: Spec | None, samples: int | None
) -> tuple[list[int], list[dict[str, Any]]]:
    counts, rows = [], []
    for run_rows in logged:
        if spec is not None:
            lo = -math.inf if spec.min_step is None else spec.min_step
            hi = math.inf if spec.max_step is None else spec.max_step
            run_rows = [
                {k: r[k] for k in spec.keys}
                for r in run_rows
                if lo <= r["_step"] <= hi and all(k in r for k in spec.keys)
            ]
        kept = [run_rows[i] for i in _kept(len(run_rows), samples)]
        counts.append(len(kept))
        rows += kept
    return counts, rows


def _rows(page: columnar.PageColumns) -> list[dict[str, Any]]:
    """The page's rows, each with the keys it holds."""
    rows: list[dict[str, Any]] = [{} for _ in range(page.total)]
    for key, segments in page.segments.items():
        for segment in segments:
            values = segment.values
            if isinstance(values, np.ndarray):
                values = values.tolist()
            for at, value in zip(segment.rows.tolist(), values, strict=True):
                rows[at][key] = value
    return rows


def _same(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> bool:
    def norm(row: dict[str, Any]) -> dict[str, Any]:
        return {k: "nan" if v != v else v for k, v in row.items()}

    return [norm(r) for r in got] == [norm(r) for r in want]


@pytest.fixture(scope="module")
def store() -> Any:
    with Store() as held:
        held.projects.create("e", "fast")
        yield held


_names = iter(range(10**6))


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    logged=runs(),
    samples=st.none() | st.integers(1, 30),
    bounds=st.tuples(st.none() | st.integers(0, 30), st.none() | st.integers(0, 60)),
    keys=st.sampled_from([("_step", "loss"), ("loss",), ("_step", "loss", "n")]),
)
def test_columnar_pages_hold_the_models_rows(
    store: Store,
    logged: list[list[list[dict[str, Any]]]],
    samples: int | None,
    bounds: tuple[int | None, int | None],
    keys: tuple[str, ...],
) -> None:
    ids = []
    for calls in logged:
        run = store.runs.add("e/fast", f"r{next(_names)}")
        for rows in calls:
            store.history.log(run, rows, update_summary=False)
        ids.append(run)
    flat = [[row for rows in calls for row in rows] for calls in logged]
    fast_pages = []
    real = columnar.fast_columns

    def spying(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        fast_pages.append(found is not None)
        return found

    conn: sqlite3.Connection = store.conn
    spec = Spec(keys, samples, *bounds)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(columnar, "fast_columns", spying)
        for asked, per_run in ((None, samples), (spec, spec.samples)):
            page = columnar.read_columns(
                conn, ids, samples=None if asked else per_run, spec=asked
            )
            counts, want = _model(flat, asked, per_run)
            assert page.counts == counts
            assert _same(_rows(page), want)
    usual = all(set(r) == {"_step", "loss", "n"} for rows in flat for r in rows)
    if usual:  # small chunks of later calls join the first: one chunk a key
        assert fast_pages == [True, True]
    elif any("note" in r for run_rows in flat for r in run_rows):
        assert fast_pages[0] is False  # text: read run by run


def test_sample_positions_follow_the_rule() -> None:
    from runs_server.history.columnar_fast import sample_positions

    for count in (0, 1, 2, 7, 500, 1001):
        for samples in (None, 1, 2, 3, 500, 2000):
            assert sample_positions(count, samples).tolist() == _kept(count, samples)
