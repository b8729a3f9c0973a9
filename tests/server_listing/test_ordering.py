"""Orders, keyset cursors and the index the default order uses."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator

import pytest

from runs_server.listing import (
    SORT_COLUMN_PREFIX,
    CursorError,
    ListingError,
    OrderError,
    cursor_for,
    page_runs,
)
from runs_server.listing.cursors import order_digest
from runs_server.listing.ordering import parse_order
from tests.server_listing.conftest import (
    PROJECT,
    fetch_page,
    insert_run,
    new_db,
    page_all,
)
from tests.server_listing.test_filters import RUNS


@pytest.fixture(scope="module")
def conn() -> Iterator[sqlite3.Connection]:
    db = new_db()
    for run in RUNS:
        insert_run(db, run)
    # Mixed types under one config key, and a tie on created_at.
    mixed = [
        ("m1", {"value": "abc"}),
        ("m2", {"value": None}),
        ("m3", {"value": {"a": 1}}),
        ("m4", {"value": [1]}),
        ("m5", {"value": True}),
        ("m6", {"value": False}),
        ("m7", {"value": -3}),
    ]
    for name, wrapped in mixed:
        insert_run(
            db,
            {
                "name": name,
                "config": {"lr": wrapped},
                "created_at": "2024-03-09T10:30:00",
            },
        )
    yield db
    db.close()


ORDERS = [
    (None, ["r4", "r1", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "r2", "r3"]),
    ("", ["r4", "r1", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "r2", "r3"]),
    ("+created_at", ["r4", "r1", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "r2", "r3"]),
    ("createdAt", ["r4", "r1", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "r2", "r3"]),
    ("-createdAt", ["r3", "r2", "m7", "m6", "m5", "m4", "m3", "m2", "m1", "r1", "r4"]),
    ("+name", ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "r1", "r2", "r3", "r4"]),
    ("-name", ["r4", "r3", "r2", "r1", "m7", "m6", "m5", "m4", "m3", "m2", "m1"]),
    # Missing values last in both directions, ties by name.
    ("displayName", ["r1", "r2", "r4", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "r3"]),
    (
        "-display_name",
        ["r4", "r2", "r1", "r3", "m7", "m6", "m5", "m4", "m3", "m2", "m1"],
    ),
    ("state", ["r3", "r4", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "r1", "r2"]),
    ("heartbeatAt", ["r4", "r1", "r2", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "r3"]),
    (
        "-heartbeat_at",
        ["r2", "r1", "r4", "r3", "m7", "m6", "m5", "m4", "m3", "m2", "m1"],
    ),
    ("-duration", ["r2", "r1", "r4", "r3", "m7", "m6", "m5", "m4", "m3", "m2", "m1"]),
    # null < numbers < strings < objects < arrays < booleans; missing last.
    ("config.lr", ["m2", "r3", "m7", "r1", "r2", "m1", "m3", "m4", "m6", "m5", "r4"]),
    (
        "-config.lr.value",
        ["m5", "m6", "m4", "m3", "m1", "r2", "r1", "m7", "r3", "m2", "r4"],
    ),
    # Infinity is a number, above every finite one.
    (
        "summary_metrics.loss",
        ["r1", "r4", "r2", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "r3"],
    ),
    (
        "-summary_metrics.loss",
        ["r2", "r4", "r1", "r3", "m7", "m6", "m5", "m4", "m3", "m2", "m1"],
    ),
    # NaN (r1) after every value (r4 logged the string "NaN"), before missing,
    # in both directions, as pandas sorts.
    (
        "summary_metrics.bad",
        ["r4", "r1", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "r2", "r3"],
    ),
    (
        "-summary_metrics.bad",
        ["r4", "r1", "r3", "r2", "m7", "m6", "m5", "m4", "m3", "m2", "m1"],
    ),
    (
        "-summaryMetrics.val.acc",
        ["r2", "r1", "r4", "r3", "m7", "m6", "m5", "m4", "m3", "m2", "m1"],
    ),
]


@pytest.mark.parametrize(("order", "expected"), ORDERS, ids=[str(o[0]) for o in ORDERS])
@pytest.mark.parametrize("per_page", [1, 3, 50])
def test_orders(
    conn: sqlite3.Connection, order: str | None, expected: list[str], per_page: int
) -> None:
    assert page_all(conn, None, order, per_page) == expected


def test_order_with_filter(conn: sqlite3.Connection) -> None:
    flt = json.dumps({"config.lr": {"$exists": True}})
    assert page_all(conn, flt, "-config.lr", 2) == [
        "m5", "m6", "m4", "m3", "m1", "r2", "r1", "m7", "r3", "m2",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("order", "message"),
    [
        ("+nope", 'unknown field "nope"'),
        ("-tags", 'cannot order by "tags"'),
        ("+", "unknown field"),
        ("config.", "empty key"),
        ('+config.a"b', "double quote"),
    ],
)
def test_order_errors(order: str, message: str) -> None:
    with pytest.raises(OrderError, match=message):
        page_runs(PROJECT, None, order, None, 10)


def test_first_validated() -> None:
    with pytest.raises(ListingError, match="non-negative"):
        page_runs(PROJECT, None, None, None, -1)


def test_first_zero_reports_more(conn: sqlite3.Connection) -> None:
    q = page_runs(PROJECT, None, None, None, 0)
    assert len(conn.execute(q.sql, q.params).fetchall()) == 1


def test_sort_columns_trail(conn: sqlite3.Connection) -> None:
    q = page_runs(PROJECT, None, "config.lr", None, 5)
    row = conn.execute(q.sql, q.params).fetchone()
    keys = row.keys()
    # missing flag, NaN flag, type rank, value
    assert keys[-4:] == [f"{SORT_COLUMN_PREFIX}{i}" for i in range(4)]
    # Every runs column but the query copies, which only filters read in SQL
    # (a column added to the table is served unless left out here on purpose).
    copies = ("config_q", "summary_metrics_q")
    table = [r[1] for r in conn.execute("PRAGMA table_info(runs)")]
    assert keys[:-4] == [c for c in table if c not in copies]


def _cursor(body: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode()


def _digest(order: str) -> str:
    return order_digest(parse_order(order))


_DEFAULT = _digest("+created_at")


@pytest.mark.parametrize(
    ("cursor", "message"),
    [
        ("abc", "malformed cursor"),
        ("!!!!", "malformed cursor"),
        ("YXJyYXljb25uZWN0aW9uOjQ5", "malformed cursor"),  # arrayconnection:49
        (_cursor([1, 2]), "malformed cursor"),
        (_cursor({"v": 2, "o": _DEFAULT, "k": [5], "n": "r1"}), "malformed"),
        (_cursor({"v": 2, "o": _DEFAULT, "k": [], "n": "r1"}), "malformed"),
        (_cursor({"v": 2, "o": _DEFAULT, "k": ["x"], "n": 3}), "malformed"),
        (_cursor({"v": 2, "o": _digest("-name"), "k": [], "n": "r1"}), "another"),
        (_cursor({"v": 3, "o": _DEFAULT, "k": ["x"], "n": "r1"}), "malformed"),
        # Version 1 held the order itself: such cursors are refused plainly.
        (_cursor({"v": 1, "o": "+created_at", "k": ["x"], "n": "r1"}), "malformed"),
        ("é", "malformed cursor"),
        ("x" * 400_000, "malformed cursor"),
    ],
)
def test_cursor_errors(cursor: str, message: str) -> None:
    with pytest.raises(CursorError, match=message):
        page_runs(PROJECT, None, None, cursor, 10)


def test_cursor_orders_must_match(conn: sqlite3.Connection) -> None:
    _, after = fetch_page(conn, None, "-config.lr", None, 2)
    assert after is not None
    page_runs(PROJECT, None, "-config.lr.value", after, 2)  # same order, alias
    with pytest.raises(CursorError, match=r'another order than "\+config.lr"'):
        page_runs(PROJECT, None, "+config.lr", after, 2)


def test_cursor_size_does_not_grow_with_the_order(conn: sqlite3.Connection) -> None:
    # The order was copied into every cursor: a 300 KB order made a 128 MB page.
    long_order = "-config." + "k" * 900
    _, short = fetch_page(conn, None, "-config.k", None, 1)
    _, long = fetch_page(conn, None, long_order, None, 1)
    assert short is not None and long is not None
    assert len(long) == len(short)


def test_order_length_is_capped() -> None:
    with pytest.raises(OrderError, match="the limit is 1,000"):
        page_runs(PROJECT, None, "-config." + "k" * 2000, None, 10)


def test_cursor_for_row(conn: sqlite3.Connection) -> None:
    q = page_runs(PROJECT, None, "name", None, 1)
    row = conn.execute(q.sql, q.params).fetchone()
    cursor = cursor_for("name", row)
    names, _ = fetch_page(conn, None, "name", cursor, 1)
    assert names == ["m2"]


def _plan(conn: sqlite3.Connection, order: str | None, after: str | None) -> str:
    q = page_runs(PROJECT, '{"state": "finished"}', order, after, 50)
    rows = conn.execute("EXPLAIN QUERY PLAN " + q.sql, q.params).fetchall()
    return " | ".join(r[-1] for r in rows)


@pytest.mark.parametrize("order", [None, "+created_at", "-createdAt"])
def test_default_order_uses_index(conn: sqlite3.Connection, order: str | None) -> None:
    _, after = fetch_page(conn, None, order, None, 2)
    for cursor in (None, after):
        plan = _plan(conn, order, cursor)
        assert "runs_project_created" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
    assert "(created_at,name)" in _plan(conn, order, after)
