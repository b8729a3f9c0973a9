"""Hostile filters: SQL fragments, odd keys, huge and deeply nested input.

Each gives correct results or a FilterError, never a sqlite3 error.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runs_server.listing import ListingError
from runs_server.listing import filters as filters_module
from runs_server.listing.filters import FilterError, compile_filter
from tests.server_listing.conftest import count, insert_run, new_db, page_all, select

SQL_BITS = [
    "'; DROP TABLE runs; --",
    '"; DROP TABLE runs; --',
    "') OR 1=1 --",
    "1 OR 1=1",
    "$",
    "?",
    "%_*",
    "\x00",
    "é\u2028😀",
]
ODD_KEYS = [
    "it's",
    "'; DROP TABLE runs; --",
    ") OR (1=1",
    "$",
    "x[0]",
    "[",
    "]",
    "*",
    "#",
    "a b",
    "café",
    "😀",
    "?",
    "value",
]


@pytest.fixture(scope="module")
def conn() -> Iterator[sqlite3.Connection]:
    db = new_db()
    for i, key in enumerate(ODD_KEYS):
        insert_run(
            db,
            {
                "name": f"k{i}",
                "config": {key: {"value": i}, "n": {"value": {key: "deep"}}},
                "summary": {key: SQL_BITS[i % len(SQL_BITS)]},
                "tags": [SQL_BITS[i % len(SQL_BITS)]],
                "display_name": SQL_BITS[i % len(SQL_BITS)],
            },
        )
    yield db
    db.close()


def _intact(conn: sqlite3.Connection) -> None:
    assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == len(ODD_KEYS)


@pytest.mark.parametrize("value", SQL_BITS)
@pytest.mark.parametrize(
    "field", ["name", "displayName", "state", "tags", "group", "config.x", "sweep"]
)
@pytest.mark.parametrize("op", ["$eq", "$ne", "$gt", "$in", "$nin", "$regex"])
def test_sql_values_are_data(
    conn: sqlite3.Connection, value: str, field: str, op: str
) -> None:
    operand: Any = [value] if op in ("$in", "$nin") else value
    if op == "$regex":
        operand = "\\Q" + value + "\\E"
    names = select(conn, {field: {op: operand}})
    _intact(conn)
    # SQLite 3.40's JSON reader cuts strings at an escaped NUL (\u0000), so a
    # NUL inside JSON-stored values (tags, config, summary) cannot match.
    json_nul = field == "tags" and "\x00" in value
    if field in ("displayName", "tags") and op in ("$eq", "$in", "$regex"):
        if json_nul:
            return
        expected = [
            f"k{i}"
            for i in range(len(ODD_KEYS))
            if SQL_BITS[i % len(SQL_BITS)] == value
        ]
        assert sorted(names) == sorted(expected)


@pytest.mark.parametrize("index", range(len(ODD_KEYS)))
def test_odd_keys_are_addressable(conn: sqlite3.Connection, index: int) -> None:
    key = ODD_KEYS[index]
    assert select(conn, {f"config.{key}": index}) == [f"k{index}"]
    # A second segment "value" is always the config wrapper, so a nested key
    # named "value" is reached as config.n.value.value.
    nested = "config.n.value.value" if key == "value" else f"config.n.{key}"
    assert select(conn, {nested: "deep"}) == [f"k{index}"]
    expected_bit = SQL_BITS[index % len(SQL_BITS)]
    if "\x00" not in expected_bit:  # see test_sql_values_are_data
        assert f"k{index}" in select(conn, {f"summary_metrics.{key}": expected_bit})
    ordered = page_all(conn, None, f"-config.{key}", 2)
    assert ordered[0] == f"k{index}" and len(ordered) == len(ODD_KEYS)
    _intact(conn)


def test_huge_strings(conn: sqlite3.Connection) -> None:
    big = "x" * (filters_module.MAX_FILTER_CHARS - 100)
    assert select(conn, {"displayName": big}) == []
    assert select(conn, {"config.a": {"$nin": [big]}}) != []
    with pytest.raises(FilterError, match="characters long; at most"):
        compile_filter(json.dumps({"displayName": big + "y" * 200}))
    with pytest.raises(FilterError, match="at most 10000 are accepted"):
        compile_filter(json.dumps({"displayName": {"$regex": "a" * 10_001}}))
    huge_key = "k" * 50_000
    assert select(conn, {f"config.{huge_key}": 1}) == []


def test_regex_is_linear(conn: sqlite3.Connection) -> None:
    insert_run(conn, {"name": "long", "display_name": "a" * 50_000})
    try:
        start = time.perf_counter()
        assert select(conn, {"displayName": {"$regex": "(a*)*b"}}) == []
        assert select(conn, {"displayName": {"$regex": "(a|aa)+$"}}) == ["long"]
        assert time.perf_counter() - start < 5
    finally:
        conn.execute("DELETE FROM runs WHERE name = 'long'")


def _nested(depth: int) -> dict[str, Any]:
    # Worst case for SQL nesting: every level mixes a leaf with the next level,
    # cycling through the three logical operators.
    leaf: dict[str, Any] = {
        "tags": {"$nin": ["a", "b"]},
        "config.x.y": {"$regex": "z", "$ne": 3},
        "duration": {"$gt": 1},
        "summary_metrics.a": {"$in": [1, "x", None, True]},
    }
    doc = leaf
    for level in range(depth):
        op = ("$and", "$or", "$nor")[level % 3]
        doc = {"state": {"$ne": "x"}, op: [{"tags": "q"}, doc, {"name": {"$gt": "a"}}]}
    return doc


@pytest.mark.parametrize("depth", [1, 5, filters_module.MAX_DEPTH])
def test_deepest_accepted_nesting_runs(conn: sqlite3.Connection, depth: int) -> None:
    select(conn, _nested(depth))
    select(conn, {"$nor": [_nested(depth - 1)]} if depth > 1 else _nested(0))


def test_too_deep_is_a_filter_error() -> None:
    with pytest.raises(FilterError, match="nested too deeply"):
        compile_filter(json.dumps(_nested(filters_module.MAX_DEPTH + 1)))
    with pytest.raises(FilterError, match="nested too deeply"):
        compile_filter("[" * 49_000 + "]" * 49_000)
    with pytest.raises(FilterError, match="nested too deeply"):
        compile_filter('{"$and": [' * 10_000)


def test_most_conditions_accepted_run(conn: sqlite3.Connection) -> None:
    n = filters_module.MAX_NODES - 2
    flat = {"$and": [{"config.x": {"$ne": i}} for i in range(n // 2)]}
    select(conn, flat)
    ors = {"$or": [{"summary_metrics.y": i} for i in range(n // 2)]}
    assert select(conn, ors) == []
    many_ops = {"$and": [{f"config.k{i}": {"$ne": i}} for i in range(n // 2)]}
    assert len(select(conn, many_ops)) == len(ODD_KEYS)
    with pytest.raises(FilterError, match="more than 500 conditions"):
        compile_filter(json.dumps({"$or": [{"name": str(i)} for i in range(600)]}))
    with pytest.raises(FilterError, match="more than 500 conditions"):
        compile_filter(json.dumps({"$or": [{} for i in range(600)]}))


def test_long_in_lists(conn: sqlite3.Connection) -> None:
    values = list(range(filters_module.MAX_LIST))
    lists = filters_module.MAX_PARAMS // (len(values) + 2)
    flt = {"$and": [{f"config.x{i}": {"$nin": values}} for i in range(lists)]}
    assert len(select(conn, flt)) == len(ODD_KEYS)
    flt["$and"].append({"config.z": {"$in": values}})
    with pytest.raises(FilterError, match="SQL parameters"):
        compile_filter(json.dumps(flt))
    with pytest.raises(FilterError, match="at most 1000"):
        compile_filter(json.dumps({"name": {"$in": [*values, 1]}}))


def test_extreme_numbers(conn: sqlite3.Connection) -> None:
    for number in (2**64, -(2**70), 1e308, 1e-320, 1e400, -1e400):
        select(conn, {"config.x": {"$gt": number}})
        select(conn, {"config.x": {"$in": [number]}})
        if abs(number) != float("inf"):
            select(conn, {"duration": {"$lt": number}})
    # The bare tokens are numbers (changed: Infinity was the string "Infinity").
    compile_filter('{"duration": {"$lt": Infinity}}')
    with pytest.raises(FilterError, match="needs a number"):
        compile_filter('{"duration": {"$lt": "Infinity"}}')


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(["$eq", "$in", "$and", "$regex", "config.a", "tags", "("]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(
        st.sampled_from(
            [
                "$and", "$or", "$nor", "$eq", "$ne", "$gt", "$lte", "$in", "$nin",
                "$exists", "$regex", "$foo", "name", "tags", "createdAt", "duration",
                "config.a", "config.a.value.b", "summary_metrics.x.y", "state",
                "config.'", "bogus", "config..", "heartbeatAt",
            ]
        )
        | st.text(max_size=6),
        inner,
        max_size=4,
    ),
    max_leaves=25,
)  # fmt: skip


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(doc=_json)
def test_fuzzed_filters_never_break_sql(conn: sqlite3.Connection, doc: Any) -> None:
    text = json.dumps(doc)
    try:
        compile_filter(text)
    except ListingError:
        return
    names = page_all(conn, text, None, 5)
    assert count(conn, text) == len(names) == len(set(names))
