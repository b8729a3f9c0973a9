"""Sampling in SQL keeps exactly the rows the Python rule keeps.

``history`` and ``sampledHistory`` choose a run's kept rows in SQL (step
arithmetic for contiguous steps, ``row_number()`` otherwise). The oracle is
``sampling.sample`` over the rows filtered in Python, on stores whose steps
have gaps, keys logged at other cadences, step bounds and NaN values.
"""

from __future__ import annotations

import itertools
import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from runs_server.history import fetch_history, fetch_sampled, parse_spec
from runs_server.history.sampling import sample
from runs_server.store import Store

KEYS = ("a", "b", "c")


Logged = tuple[list[dict[str, object]], list[int]]
"""A run's rows and where its log calls split them."""


@st.composite
def stores(draw: st.DrawFn) -> list[Logged]:
    """Runs as lists of rows: increasing steps (maybe gapped), keys at random."""
    runs = []
    for _ in range(draw(st.integers(1, 3))):
        gaps = draw(st.lists(st.integers(1, 3), max_size=40))
        steps = [sum(gaps[: i + 1]) for i in range(len(gaps))]
        rows: list[dict[str, object]] = []
        for step in steps:
            # W&B sometimes logs _step as a float such as 3.0.
            row: dict[str, object] = {
                "_step": draw(st.sampled_from([step, step * 1.0]))
            }
            for key in KEYS:
                if draw(st.booleans()):
                    row[key] = draw(st.sampled_from([step * 0.5, math.nan, "t", None]))
            rows.append(row)
        # Logged in calls of random sizes: a key's column spans chunks.
        marks = draw(st.lists(st.integers(0, len(rows)), max_size=4))
        runs.append((rows, sorted(set(marks))))
    return runs


def _load(runs: list[Logged]) -> tuple[Store, list[int]]:
    store = Store()
    store.projects.create("e", "p")
    ids = []
    for i, (rows, marks) in enumerate(runs):
        run = store.runs.add("e/p", f"r{i}")
        for lo, hi in itertools.pairwise([0, *marks, len(rows)]):
            store.history.log(run, rows[lo:hi], update_summary=False)
        ids.append(run)
    return store, ids


def _step(row: dict[str, object]) -> int:
    step = row["_step"]
    assert isinstance(step, (int, float))
    return int(step)


def _text(value: object) -> str:
    return json.dumps(value, allow_nan=True, sort_keys=False)


def _strict(row: dict[str, object]) -> dict[str, object]:
    """The row as sampledHistory serves it: strict JSON, non-finite numbers as
    the strings "NaN", "Infinity", "-Infinity"."""
    names = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
    return {
        k: names[str(v)] if isinstance(v, float) and str(v) in names else v
        for k, v in row.items()
    }


@settings(max_examples=150, deadline=None, derandomize=True)
@given(stores(), st.integers(1, 45), st.integers(0, 60), st.integers(0, 60))
def test_history_sample_matches_python_rule(
    logged: list[Logged], samples: int, lo: int, width: int
) -> None:
    store, ids = _load(logged)
    runs = [rows for rows, _ in logged]
    for bounds in ((None, None), (lo, lo + width)):
        got = fetch_history(
            store.conn, ids, samples=samples, min_step=bounds[0], max_step=bounds[1]
        )
        for run, rows in zip(ids, runs, strict=True):
            inside = [
                r
                for r in rows
                if (bounds[0] is None or bounds[0] <= _step(r))
                and (bounds[1] is None or _step(r) < bounds[1])
            ]
            expected = [r["_step"] for r in sample(inside, samples)]
            served = [json.loads(line)["_step"] for line in json.loads(got[run])]
            assert served == expected


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    stores(),
    st.lists(st.sampled_from(("_step", *KEYS)), min_size=1, max_size=3, unique=True),
    st.one_of(st.none(), st.integers(1, 45)),
    st.one_of(st.none(), st.integers(0, 60)),
)
def test_sampled_history_matches_python_rule(
    logged: list[Logged],
    keys: list[str],
    samples: int | None,
    max_step: int | None,
) -> None:
    store, ids = _load(logged)
    runs = [rows for rows, _ in logged]
    spec: dict[str, object] = {"keys": keys, "samples": samples, "maxStep": max_step}
    got = fetch_sampled(store.conn, ids, parse_spec(json.dumps(spec)))
    for run, rows in zip(ids, runs, strict=True):
        holding = [
            r
            for r in rows
            if all(k in r for k in keys) and (max_step is None or _step(r) <= max_step)
        ]
        expected = [_strict({k: r[k] for k in keys}) for r in sample(holding, samples)]
        # As text: key order is the spec's.
        assert (
            got[run].decode()
            == "["
            + ",".join(_text(r).replace(", ", ",").replace(": ", ":") for r in expected)
            + "]"
        )


def test_keys_with_printf_and_json_specials_are_written_exactly() -> None:
    store, ids = _load([([{"_step": 0, "100%": 1, 'a"%s\\b': "x%d"}], [])])
    spec = parse_spec(json.dumps({"keys": ["_step", "100%", 'a"%s\\b']}))
    text = fetch_sampled(store.conn, ids, spec)[ids[0]].decode()
    assert json.loads(text) == [{"_step": 0, "100%": 1, 'a"%s\\b': "x%d"}]


ODD_KEYS = ("a", "\u00e9t\u00e9", "b.c")
ODD_VALUES = (
    0.1,
    math.nan,
    math.inf,
    -math.inf,
    "NaN",
    "Infinity x",
    None,
    True,
    10**20,
    1e-300,
    [1, 2.5, "s"],
    {"_type": "image-file", "path": "a.png"},
)


@st.composite
def text_runs(draw: st.DrawFn) -> list[list[str]]:
    """Runs as rows logged as text the way the stdlib writes it: non-ASCII
    keys escaped (``\\u00e9``) and bare NaN/Infinity tokens, as a mirror copies
    them from W&B verbatim."""
    runs = []
    for _ in range(draw(st.integers(1, 3))):
        rows = []
        for step in range(draw(st.integers(0, 25))):
            row: dict[str, object] = {"_step": step}
            for key in ODD_KEYS:
                if draw(st.booleans()):
                    row[key] = draw(st.sampled_from(ODD_VALUES))
            rows.append(json.dumps(row, allow_nan=True))
        runs.append(rows)
    return runs


def _served(value: object) -> object:
    """A value as sampledHistory serves it (strict JSON), for the model."""
    if isinstance(value, float) and not math.isfinite(value):
        return (
            "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        )
    return value


@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    text_runs(),
    st.lists(
        st.sampled_from(("_step", *ODD_KEYS)), min_size=1, max_size=3, unique=True
    ),
    st.one_of(st.none(), st.integers(1, 30)),
)
def test_sampled_history_of_verbatim_text_rows_matches_python_rule(
    runs: list[list[str]], keys: list[str], samples: int | None
) -> None:
    # Rows as a mirror copies them: escaped keys, bare NaN/Infinity tokens,
    # media, lists, integers past 64 bits; keys logged at random cadences.
    store = Store()
    store.projects.create("e", "p")
    ids = []
    for i, rows in enumerate(runs):
        ids.append(store.runs.add("e/p", f"r{i}"))
        store.history.log(ids[-1], rows, update_summary=False)
    got = fetch_sampled(
        store.conn, ids, parse_spec(json.dumps({"keys": keys, "samples": samples}))
    )
    for run, rows in zip(ids, runs, strict=True):
        decoded = [json.loads(r) for r in rows]
        holding = [r for r in decoded if all(k in r for k in keys)]
        expected = [{k: _served(r[k]) for k in keys} for r in sample(holding, samples)]
        served = json.loads(got[run])
        assert served == expected
        assert all(list(r) == keys for r in served)  # the spec's key order


def test_integers_past_64_bits_and_exponents_are_served_exactly() -> None:
    store = Store()
    store.projects.create("e", "p")
    run = store.runs.add("e/p", "r")
    store.history.log(run, ['{"_step":0,"x":1E5,"big":123456789012345678901234}'])
    spec = parse_spec('{"keys": ["_step", "x", "big"]}')
    text = fetch_sampled(store.conn, [run], spec)[run].decode()
    assert text == '[{"_step":0,"x":100000.0,"big":123456789012345678901234}]'


def test_a_run_logged_a_row_at_a_time_keeps_few_chunks_per_key() -> None:
    store = Store()
    store.projects.create("e", "p")
    run = store.runs.add("e/p", "r")
    for step in range(3000):
        row = {"_step": step, "loss": step / 2} if step % 3 else {"_step": step}
        store.history.log(run, [row], update_summary=False)
    chunks = dict(
        store.conn.execute(
            "SELECT key, count(*) FROM history_columns GROUP BY key"
        ).fetchall()
    )
    # Each chunk fills to about SMALL_CHUNK_CHARS of step text (some 1,700
    # five-character steps) before the next one starts: 2 chunks, not 3,000.
    assert chunks == {"_step": 2, "loss": 2}
    spec = parse_spec('{"keys": ["_step", "loss"], "samples": 4}')
    got = json.loads(fetch_sampled(store.conn, [run], spec)[run])
    held = [s for s in range(3000) if s % 3]
    expected = [{"_step": s, "loss": s / 2} for s in sample(held, 4)]
    assert got == expected
