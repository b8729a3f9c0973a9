"""The binary forms of ``history_columns`` (store layout 6) give back exactly
what was logged, however the rows were split into log calls (small chunks
are joined to the next call's), against a plain model of the logged rows."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from runs_server.store import Store, column_chunks

VALUE = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**70), 2**70),
    st.text(max_size=4),
    st.booleans(),
    st.none(),
    st.just("NaN"),
    st.builds(lambda x: {"_type": "image-file", "x": x}, st.floats()),
)


def _same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN, a float never equal to an int or a bool."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _stored(store: Store, run: int) -> dict[str, tuple[list[int], list[Any]]]:
    out: dict[str, tuple[list[int], list[Any]]] = {}
    for key, lo, hi, step_bin, kind, num, exact, vals in store.conn.execute(
        "SELECT key, first_step, last_step, step_bin, num_type, num_bin, exact, vals "
        "FROM history_columns WHERE run_id=? ORDER BY key, first_step",
        (run,),
    ):
        steps, values = out.setdefault(key, ([], []))
        steps += column_chunks.steps_of(step_bin, lo, hi).tolist()
        got = column_chunks.values(kind, num, exact, vals)
        values += got.tolist() if isinstance(got, np.ndarray) else got
    return out


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    calls=st.lists(
        st.lists(
            st.tuples(
                st.integers(1, 3),  # the step gap
                st.dictionaries(st.sampled_from(["a", "b", "c"]), VALUE, max_size=3),
            ),
            min_size=1,
            max_size=8,
        ),
        min_size=1,
        max_size=4,
    ),
    kinds=st.sampled_from(["float", "int", "mixed"]),
)
def test_binary_forms_give_back_what_was_logged(calls: Any, kinds: str) -> None:
    store = Store()
    store.projects.create("e", "p")
    run = store.runs.add("e/p", "r")
    model: dict[str, tuple[list[int], list[Any]]] = {}
    step = 0
    for call in calls:
        rows = []
        for gap, row in call:
            step += gap
            if kinds == "float":  # all-float keys, the binary float64 path
                row = {k: float(i) / 3 for i, k in enumerate(row)}
            elif kinds == "int":
                row = {k: i for i, k in enumerate(row)}
            rows.append({**row, "_step": step})
            for key, value in rows[-1].items():
                model.setdefault(key, ([], []))[0].append(step)
                model[key][1].append(value)
        store.history.log(run, rows, update_summary=False)
    stored = _stored(store, run)
    assert stored.keys() == model.keys()
    for key, (steps, values) in model.items():
        assert stored[key][0] == steps
        assert len(stored[key][1]) == len(values)
        assert all(map(_same, stored[key][1], values)), (key, stored[key], values)


def test_v4_file_gets_binary_forms(tmp_path: Path) -> None:
    path = tmp_path / "v4.db"
    conn = sqlite3.connect(path)
    files = Path(__file__).parent / "store_files"
    conn.executescript((files / "v4.sql").read_text("utf-8"))
    conn.close()
    with Store(path) as store:
        run = store.runs.id_of("lab/mnist", "r1")
        stored = _stored(store, run)
        kinds = dict(
            store.conn.execute("SELECT key, num_type FROM history_columns").fetchall()
        )
    assert kinds == {"_step": "i8", "loss": "f8"}
    assert stored["_step"] == ([0, 1], [0, 1])
    loss = stored["loss"][1]
    assert math.isnan(loss[0]) and loss[1] == 0.5  # the NaN the strict vals lose
