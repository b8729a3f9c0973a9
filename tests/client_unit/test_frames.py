"""frames.Columns: column-wise gathering and dtype choices for pandas and polars."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runs_client.history.frames import Columns


def columns_of(*runs: tuple[str, list[dict[str, Any]]]) -> Columns:
    columns = Columns()
    columns.add_runs(runs)
    return columns


def test_missing_keys_filled_and_order_kept() -> None:
    columns = columns_of(
        ("a", [{"x": 1}, {"x": 2, "y": "s"}]),
        ("b", []),
        ("c", [{"z": 0.5}]),
    )
    assert len(columns) == 3
    frame = columns.to_pandas()
    assert list(frame.columns) == ["run_id", "x", "y", "z"]
    assert frame["run_id"].tolist() == ["a", "a", "c"]
    assert frame["x"].dtype == np.float64  # ints with a gap become float NaN
    assert frame["x"].isna().tolist() == [False, False, True]
    assert frame["y"].tolist() == [None, "s", None]
    assert frame["z"].isna().tolist() == [True, True, False]


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        ([1, 2, 3], np.int64),
        ([1, 2.5, 3], np.float64),
        ([math.nan, math.inf, -math.inf], np.float64),
        ([True, False, True], np.bool_),
        ([True, None, False], object),
        ([True, 1, 2.0], object),  # bool is no number here
        ([2**70, 1, 2], object),  # beyond int64
        (["a", "b", None], object),
        ([None, None, None], object),
        ([[1, 2], [3], []], object),
        ([{"_type": "image-file"}, 1, "x"], object),
    ],
)
def test_pandas_dtypes(values: list[Any], dtype: Any) -> None:
    """Uniform columns keep their type (text, bools with gaps and all-null
    columns as objects); any other is JSON text, named in
    ``attrs["json_columns"]`` (changed from Python values, which pandas
    writes to CSV as reprs and to Parquet not at all when mixed)."""
    frame = columns_of(("r", [{"v": v} for v in values])).to_pandas()
    assert frame["v"].dtype == dtype
    if dtype is object:
        got = frame["v"].tolist()
        uniform = {type(v) for v in values} - {type(None)} in ({str}, {bool}, set())
        assert frame.attrs["json_columns"] == ([] if uniform else ["v"])
        if not uniform:
            assert all(isinstance(g, str) for g in got)
            got = [json.loads(g) for g in got]
        assert got == values  # lists not exploded


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        ([1, None, 3], pl.Int64),
        ([1, 2.5, None], pl.Float64),
        ([math.nan, math.inf, None], pl.Float64),
        ([True, None], pl.Boolean),
        (["a", None], pl.String),
        ([None, None], pl.Null),
        ([[1, 2], [3, "x"]], pl.String),
        ([{"a": 1}, {"b": "x"}], pl.String),
        ([1, "x", {"a": 1}, None], pl.String),
        ([2**70, 1], pl.String),
    ],
)
def test_polars_dtypes(values: list[Any], dtype: Any, tmp_path: Path) -> None:
    """Uniform columns keep their type; any other is JSON text (changed from
    pl.Object, which writes to neither Parquet nor CSV)."""
    frame = columns_of(("r", [{"v": v} for v in values])).to_polars()
    assert frame.schema["v"] == dtype
    got = frame["v"].to_list()
    assert len(got) == len(values)
    if dtype == pl.String and values != ["a", None]:  # not all text: JSON
        got = [None if a is None else json.loads(a) for a in got]
    for a, b in zip(got, values, strict=True):
        assert a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))
    frame.write_parquet(tmp_path / "f.parquet")  # as it is, no conversion
    frame.write_csv(tmp_path / "f.csv")
    assert pl.read_parquet(tmp_path / "f.parquet").equals(frame)


def test_logged_run_id_key_is_replaced() -> None:
    frame = columns_of(("real", [{"run_id": "logged", "x": 1}])).to_pandas()
    assert list(frame.columns) == ["run_id", "x"]
    assert frame["run_id"].tolist() == ["real"]


def test_without_run_id() -> None:
    columns = Columns(with_run_id=False)
    columns.add_run([{"x": 1}])
    assert list(columns.to_pandas().columns) == ["x"]
    assert Columns(with_run_id=False).to_pandas().empty


def test_empty_frames_have_run_id() -> None:
    frame = Columns().to_pandas()
    assert list(frame.columns) == ["run_id"] and len(frame) == 0
    frame_pl = Columns().to_polars()
    assert frame_pl.columns == ["run_id"] and frame_pl.schema["run_id"] == pl.String


def _reference_kind(values: list[Any]) -> tuple[str, bool]:
    """The column-kind rule, value by value (the specification _kind follows)."""
    kinds: set[str] = set()
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool):
            kinds.add("bool")
        elif isinstance(v, int):
            kinds.add("int" if -(2**63) <= v <= 2**63 - 1 else "object")
        elif isinstance(v, float):
            kinds.add("float")
        elif isinstance(v, str):
            kinds.add("str")
        else:
            kinds.add("object")
    missing = any(v is None for v in values)
    if not kinds:
        return "null", missing
    if kinds <= {"int", "float"}:
        return ("int" if kinds == {"int"} else "float"), missing
    if kinds in ({"bool"}, {"str"}):
        return kinds.pop(), missing
    return "object", missing


def test_column_kind_matches_the_value_by_value_rule() -> None:
    from enum import IntEnum

    from runs_client.history.chunks import _kind

    class Level(IntEnum):
        LOW = 1

    pool: list[Any] = [
        None, 0, -3, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 1.5, math.nan,
        math.inf, True, False, "s", "", [1], {"a": 1}, np.float64(2.5), Level.LOW,
    ]  # fmt: skip
    import itertools

    for size in range(4):
        for combo in itertools.product(pool, repeat=size):
            values = list(combo)
            kind, missing = _kind(values)
            expected_kind, expected_missing = _reference_kind(values)
            assert kind == expected_kind, values
            # An object column holds None as it is: its flag is not used.
            assert kind == "object" or missing == expected_missing, values


@pytest.mark.parametrize(
    "values",
    [
        [1.5, "NaN", 2, None, "Infinity", "-Infinity"],
        [1, 2, "NaN"],
        ["NaN", "Infinity"],
        [1.0, "NaN", "text"],
        [2**70, "NaN"],
        [True, "NaN"],
        [None, "NaN", 0.5],
        # Floats and text: numpy reads any number-like text, which must stay text.
        [0.5, "NaN", None, "Infinity", math.nan, -math.inf, "-Infinity"],
        [0.5, "1.5", "NaN"],
        [0.5, "nan", "NaN"],
        [0.5, " inf", "Infinity"],
        [0.5, "1e3"],
        [0.5, "NaN", "NaN text"],
        [0.5, "NaN", {"a": 1}],
        [0.5, "NaN", [1, 2]],
        ["NaN", None],
        [None, "Infinity", None],
        ["a", "b", None],
        ["1", "2"],
        ["1", "NaN"],
        ["a", "NaN"],
    ],
)
def test_nonfinite_markers_become_floats_as_value_by_value(values: list[Any]) -> None:
    # The numpy fast paths must give what replacing each marker gives.
    assert_nonfinite_fixed_as_value_by_value(values)


def assert_nonfinite_fixed_as_value_by_value(values: list[Any]) -> None:
    from runs_client.history.chunks import Chunk
    from runs_client.history.chunks import nonfinite_fixed as _nonfinite_fixed
    from runs_client.history.rows import NONFINITE_STRINGS

    fast = _nonfinite_fixed(values)
    slow = Chunk.of(
        [NONFINITE_STRINGS.get(v, v) if type(v) is str else v for v in values]
    )
    assert fast.kind == slow.kind
    assert fast.present().tolist() == slow.present().tolist()
    if slow.data is None:
        assert fast.data is None
        return
    assert fast.data is not None
    assert [repr(v) for v in fast.data.tolist()] == [
        repr(v) for v in slow.data.tolist()
    ]


_MARKER_POOL = st.sampled_from(
    [
        "NaN", "Infinity", "-Infinity", "nan", "inf", "1.5", " 2 ", "-0", "text",
        "", 0.5, -2.0, 0.0, math.nan, math.inf, -math.inf, 1e308, 3, -7, 0, 2**63,
        True, False, None, [1.0], {"a": "NaN"},
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(_MARKER_POOL, max_size=12))
def test_nonfinite_fix_property(values: list[Any]) -> None:
    # Columns drawn from the values a strict-JSON page holds, markers and
    # number-like text among them, against the value-by-value oracle.
    assert_nonfinite_fixed_as_value_by_value(values)


def test_line_groups_with_tokens_parse_like_the_standard_library() -> None:
    import json

    from runs_client.history.rows import parse_line_groups

    groups = [
        ['{"_step":0,"a":1}', '{"_step":1,"a":NaN}', '{"_step":2,"s":"NaN text"}'],
        [],
        ['{"_step":0,"b":-Infinity}', "[1]", '{"_step":1,"b":2.5}'],
        ['{"_step":0,"c":"raw\tcontrol"}', '{"_step":1,"c":Infinity}'],
    ]
    got = parse_line_groups(groups, "RunsHistoryPage")
    want = [
        [
            v
            for v in (json.loads(line, strict=False) for line in g)
            if isinstance(v, dict)
        ]
        for g in groups
    ]
    assert repr(got) == repr(want)  # repr: NaN == NaN
