"""History rows logged as JSON texts, as file_stream hands them to the store
(decoded in bulk, split into columns by key shape, types counted per column),
store what a plain model of the rows says: each key's steps and values, the
historyKeys type counts, the row texts as sent, the line count."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runs_server.store import Store, StoreError
from tests.server.test_column_chunks import VALUE, _same, _stored


def _label(value: Any) -> str:
    """W&B's historyKeys type of a value (the model)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return str(value["_type"])
    raise AssertionError(value)


def _text(row: dict[str, Any]) -> str:
    # W&B's own form: bare NaN tokens (those rows take the careful path).
    return json.dumps(row, separators=(",", ":"), allow_nan=True)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    calls=st.lists(
        st.lists(
            st.tuples(
                st.integers(1, 3),  # the step gap
                st.dictionaries(
                    st.sampled_from(["a", "b", "c", "d.e"]), VALUE, max_size=4
                ),
            ),
            min_size=1,
            max_size=12,
        ),
        min_size=1,
        max_size=4,
    ),
    same_shape=st.booleans(),
)
def test_text_rows_store_what_was_logged(calls: Any, same_shape: bool) -> None:
    store = Store()
    store.projects.create("e", "p")
    run = store.runs.add("e/p", "r")
    model: dict[str, tuple[list[int], list[Any]]] = {}
    types: dict[str, Counter[str]] = {}
    texts: list[str] = []
    step = 0
    for call in calls:
        lines = []
        for gap, row in call:
            step += gap
            if same_shape:  # every row the same keys, some in another order
                row = {k: row.get(k, 0.5) for k in ("abc" if gap % 2 else "cba")}
            full = {**row, "_step": step}
            lines.append(_text(full))
            for key, value in full.items():
                model.setdefault(key, ([], []))[0].append(step)
                model[key][1].append(value)
                types.setdefault(key, Counter())[_label(value)] += 1
        assert store.history.log(run, lines, update_summary=False) == len(lines)
        texts += lines
    stored = _stored(store, run)
    assert stored.keys() == model.keys()
    for key, (steps, values) in model.items():
        assert stored[key][0] == steps
        assert len(stored[key][1]) == len(values)
        assert all(map(_same, stored[key][1], values)), (key, stored[key], values)
    keys_text, count = store.conn.execute(
        "SELECT history_keys, history_line_count FROM runs WHERE id=?", (run,)
    ).fetchone()
    counts = {
        key: {t["type"]: t["count"] for t in info["typeCounts"]}
        for key, info in json.loads(keys_text).items()
    }
    assert counts == {key: dict(c) for key, c in types.items()}
    assert count == len(texts)
    rows = [r[0] for r in store.conn.execute("SELECT row FROM history ORDER BY step")]
    assert rows == texts


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"_step": 1, "a": 1}', '{"_step": 1, "a": 2}'], "step 1 after step 1"),
        (['{"_step": 2}', '{"_step": 1}'], "step 1 after step 2"),
        (['{"_step": 1.5}'], "whole number"),
        (['{"_step": "x"}'], "must be a number"),
        (["[1, 2]"], "must be a JSON object"),
    ],
)
def test_bad_text_rows_store_nothing(lines: list[str], message: str) -> None:
    store = Store()
    store.projects.create("e", "p")
    run = store.runs.add("e/p", "r")
    store.history.log(run, ['{"_step": 0, "a": 0}'])
    with pytest.raises(StoreError, match=message):
        store.history.log(run, lines)
    assert store.conn.execute("SELECT count(*) FROM history").fetchone()[0] == 1
    chunks = "SELECT count(*) FROM history_columns WHERE last_step > 0"
    assert store.conn.execute(chunks).fetchone()[0] == 0


def test_a_row_without_step_gets_the_next_one() -> None:
    store = Store()
    store.projects.create("e", "p")
    run = store.runs.add("e/p", "r")
    store.history.log(run, ['{"_step": 4, "a": 1}', '{"a": 2}'])
    steps = store.conn.execute("SELECT step FROM history ORDER BY step").fetchall()
    assert [s[0] for s in steps] == [4, 5]
