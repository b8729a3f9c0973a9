"""Each filter operator and field on a small fixed project."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from runs_server.listing.filters import FilterError, compile_filter
from tests.server_listing.conftest import OTHER_PROJECT, insert_run, new_db, select

NAN = float("nan")
INF = float("inf")

RUNS: list[dict[str, Any]] = [
    {
        "name": "r1",
        "display_name": "alpha",
        "state": "finished",
        "config": {
            "lr": {"value": 0.1},
            "opt": {"value": {"name": "adam", "beta": 0.9}},
            "layers": {"value": [64, 32]},
            "flag": {"value": True},
            "s": {"value": "10"},
        },
        "summary": {"loss": 0.5, "val": {"acc": 0.9}, "bad": NAN},
        "tags": ["best", "baseline"],
        "group_name": "g1",
        "job_type": "train",
        "host": "h1",
        "username": "alice",
        "sweep_name": "sw1",
        "created_at": "2024-03-09T09:00:00",
        "heartbeat_at": "2024-03-09T09:00:10",
        "updated_at": "2024-03-09T09:00:10",
    },
    {
        "name": "r2",
        "display_name": "beta",
        "state": "running",
        "config": {
            "lr": {"value": 1},
            "opt": {"value": {"name": "sgd"}},
            "flag": {"value": False},
            "s": {"value": 5},
        },
        "summary": {"loss": INF, "val": {"acc": "n/a"}},
        "tags": ["wip"],
        "group_name": "g1",
        "job_type": "eval",
        "host": "h2",
        "username": "bob",
        "created_at": "2024-03-09T10:30:00",
        "heartbeat_at": "2024-03-09T11:30:00",
    },
    {
        "name": "r3",
        "state": "crashed",
        "config": {"lr": {"value": None}},
        "created_at": "2024-03-10T00:00:00",
    },
    {
        "name": "r4",
        "display_name": "gamma",
        "state": "failed",
        "summary": {"loss": 2, "bad": "NaN"},  # a logged string, not a NaN
        "tags": ["best"],
        "created_at": "2024-03-08T23:59:59",
        "heartbeat_at": "2024-03-09T00:00:00",
    },
]
ALL = {"r1", "r2", "r3", "r4"}


@pytest.fixture(scope="module")
def conn() -> Iterator[sqlite3.Connection]:
    db = new_db()
    for run in RUNS:
        insert_run(db, run)
    # Same names in another project must never leak in.
    insert_run(db, {"name": "r1", "state": "running"}, project_id=OTHER_PROJECT)
    insert_run(db, {"name": "x9", "state": "finished"}, project_id=OTHER_PROJECT)
    yield db
    db.close()


CASES: list[tuple[Any, set[str]]] = [
    (None, ALL),
    ("", ALL),
    ("  ", ALL),
    ("null", ALL),
    ("{}", ALL),
    ({"name": "r1"}, {"r1"}),
    ({"name": {"$in": ["r1", "r4", "zz"]}}, {"r1", "r4"}),
    ({"displayName": "alpha"}, {"r1"}),
    ({"display_name": {"$ne": "alpha"}}, {"r2", "r3", "r4"}),
    ({"displayName": None}, {"r3"}),
    ({"displayName": {"$ne": None}}, {"r1", "r2", "r4"}),
    ({"displayName": {"$regex": "^al"}}, {"r1"}),
    ({"displayName": {"$regex": "ph"}}, {"r1"}),
    ({"displayName": {"$regex": "(?i)ALPHA|GAMMA"}}, {"r1", "r4"}),
    ({"displayName": {"$gt": "alpha", "$lt": "gamma"}}, {"r2"}),
    ({"state": "finished"}, {"r1"}),
    ({"state": {"$in": ["finished", "running"]}}, {"r1", "r2"}),
    ({"state": {"$nin": ["finished"]}}, {"r2", "r3", "r4"}),
    ({"state": 1}, set()),
    ({"state": {"$ne": 1}}, ALL),
    ({"tags": "best"}, {"r1", "r4"}),
    ({"tags": {"$eq": "wip"}}, {"r2"}),
    ({"tags": {"$in": ["wip", "baseline"]}}, {"r1", "r2"}),
    ({"tags": {"$nin": ["best"]}}, {"r2", "r3"}),
    ({"tags": {"$ne": "best"}}, {"r2", "r3"}),
    ({"tags": {"$nin": []}}, ALL),
    ({"tags": {"$in": []}}, set()),
    ({"tags": {"$regex": "^base"}}, {"r1"}),
    ({"tags": {"$gt": "v"}}, {"r2"}),
    ({"tags": {"$exists": True}}, ALL),
    ({"tags": {"$exists": False}}, set()),
    ({"tags": None}, set()),
    ({"group": "g1"}, {"r1", "r2"}),
    ({"group": None}, {"r3", "r4"}),
    ({"group": {"$exists": False}}, {"r3", "r4"}),
    ({"jobType": "train"}, {"r1"}),
    ({"job_type": {"$ne": "train"}}, {"r2", "r3", "r4"}),
    ({"host": "h2"}, {"r2"}),
    ({"username": {"$in": ["alice", "bob"]}}, {"r1", "r2"}),
    ({"sweep": "sw1"}, {"r1"}),
    ({"sweep": {"$exists": False}}, {"r2", "r3", "r4"}),
    ({"createdAt": {"$gt": "2024-03-09T10"}}, {"r2", "r3"}),
    ({"created_at": {"$lt": "2024-03-09"}}, {"r4"}),
    ({"createdAt": {"$gte": "2024-03-09T09:00:00Z"}}, {"r1", "r2", "r3"}),
    ({"createdAt": {"$gte": "2024-03-09T09:00:00+00:00"}}, {"r1", "r2", "r3"}),
    ({"createdAt": "2024-03-09T09:00:00"}, {"r1"}),
    ({"createdAt": "2024-03-09 09:00:00"}, {"r1"}),
    ({"createdAt": {"$regex": "^2024-03-09"}}, {"r1", "r2"}),
    ({"heartbeatAt": {"$exists": False}}, {"r3"}),
    ({"heartbeat_at": {"$lt": "2024-03-09T10"}}, {"r1", "r4"}),
    ({"updatedAt": {"$exists": True}}, {"r1"}),
    ({"duration": 10}, {"r1"}),
    ({"duration": {"$gte": 10, "$lte": 10.0}}, {"r1"}),
    ({"duration": {"$gt": 60}}, {"r2"}),
    ({"duration": {"$lt": 60}}, {"r1", "r4"}),
    ({"duration": {"$exists": False}}, {"r3"}),
    ({"duration": None}, {"r3"}),
    ({"config.lr": 0.1}, {"r1"}),
    ({"config.lr.value": 0.1}, {"r1"}),
    ({"config.lr": 1}, {"r2"}),
    ({"config.lr": 1.0}, {"r2"}),
    ({"config.lr": None}, {"r3", "r4"}),
    ({"config.lr": {"$exists": True}}, {"r1", "r2", "r3"}),
    ({"config.lr": {"$gt": 0}}, {"r1", "r2"}),
    ({"config.lr": {"$ne": 1}}, {"r1", "r3", "r4"}),
    ({"config.lr": {"$in": [1, None]}}, {"r2", "r3", "r4"}),
    ({"config.lr": {"$nin": [0.1, 1]}}, {"r3", "r4"}),
    ({"config.opt.name": "adam"}, {"r1"}),
    ({"config.opt.value.name": "sgd"}, {"r2"}),
    ({"config.opt.beta": {"$exists": True}}, {"r1"}),
    ({"config.opt": {"$exists": True}}, {"r1", "r2"}),
    ({"config.opt": {"$ne": "adam"}}, ALL),
    ({"config.flag": True}, {"r1"}),
    ({"config.flag": False}, {"r2"}),
    ({"config.flag": 1}, set()),
    ({"config.flag": {"$gt": False}}, {"r1"}),
    ({"config.flag": {"$in": [True, False]}}, {"r1", "r2"}),
    ({"config.s": {"$gt": 1}}, {"r2"}),
    ({"config.s": {"$gt": "1"}}, {"r1"}),
    ({"config.s": "5"}, set()),
    ({"config.layers": {"$exists": True}}, {"r1"}),
    ({"config.layers": {"$ne": 64}}, ALL),
    ({"config.layers": 64}, set()),
    ({"summary_metrics.loss": {"$lt": 1}}, {"r1"}),
    # Infinity is a number; NaN equals nothing and satisfies no comparison;
    # the string "NaN" is a string.
    ({"summary_metrics.loss": {"$gte": 0}}, {"r1", "r2", "r4"}),
    ({"summary_metrics.loss": {"$gt": 1}}, {"r2", "r4"}),
    ('{"summary_metrics.loss": {"$lt": Infinity}}', {"r1", "r4"}),
    ('{"summary_metrics.loss": {"$gte": -Infinity}}', {"r1", "r2", "r4"}),
    ({"summaryMetrics.loss": "Infinity"}, set()),
    ('{"summary_metrics.loss": Infinity}', {"r2"}),
    ('{"summary_metrics.loss": {"$in": [Infinity, 2]}}', {"r2", "r4"}),
    ({"summary_metrics.bad": "NaN"}, {"r4"}),
    ({"summary_metrics.bad": {"$in": ["NaN"]}}, {"r4"}),
    ({"summary_metrics.bad": {"$ne": "NaN"}}, {"r1", "r2", "r3"}),
    ({"summary_metrics.bad": {"$exists": True}}, {"r1", "r4"}),
    ({"summary_metrics.bad": {"$gt": 0}}, set()),
    ({"summary_metrics.bad": {"$lte": 0}}, set()),
    ('{"summary_metrics.bad": NaN}', set()),
    ('{"summary_metrics.bad": {"$in": [NaN]}}', set()),
    ('{"summary_metrics.bad": {"$ne": NaN}}', ALL),
    ('{"summary_metrics.bad": {"$nin": [NaN, "NaN"]}}', {"r1", "r2", "r3"}),
    ('{"summary_metrics.loss": {"$gt": NaN}}', set()),
    ({"summary_metrics.val.acc": {"$gte": 0.5}}, {"r1"}),
    ({"summary_metrics.val.acc": {"$regex": "n/"}}, {"r2"}),
    ({"summary_metrics.val": {"$exists": False}}, {"r3", "r4"}),
    ({"$or": [{"state": "crashed"}, {"tags": "wip"}]}, {"r2", "r3"}),
    ({"$nor": [{"state": "crashed"}, {"tags": "wip"}]}, {"r1", "r4"}),
    ({"$and": [{"group": "g1"}, {"config.lr": {"$lt": 0.5}}]}, {"r1"}),
    ({"$and": [{}]}, ALL),
    ({"group": "g1", "state": "running"}, {"r2"}),
    (
        {"$or": [{"$and": [{"tags": "best"}, {"state": "failed"}]}, {"name": "r3"}]},
        {"r3", "r4"},
    ),
    ({"$nor": [{"$nor": [{"tags": "best"}]}]}, {"r1", "r4"}),
]


@pytest.mark.parametrize(("flt", "expected"), CASES, ids=[str(c[0]) for c in CASES])
def test_filter_selects(conn: sqlite3.Connection, flt: Any, expected: set[str]) -> None:
    names = select(conn, flt)
    assert set(names) == expected
    assert len(names) == len(expected)


ERRORS: list[tuple[str, str]] = [
    ("{", "filters are not valid JSON"),
    ("[]", "must be a JSON object"),
    ("5", "must be a JSON object"),
    (
        '{"state": {"$foo": 1}}',
        'unknown operator "$foo" on field "state"; accepted: $and $or $nor $eq $ne '
        "$gt $gte $lt $lte $in $nin $exists $regex",
    ),
    ('{"nope": 1}', 'unknown field "nope"; accepted: name, displayName'),
    ('{"createdAt": {"$gt": 5}}', 'field "createdAt" is a date; $gt needs a zone-less'),
    ('{"createdAt": 1709900000}', "is a date"),
    ('{"createdAt": "yesterday"}', "is a date; accepted: a zone-less UTC ISO"),
    ('{"heartbeatAt": {"$in": [true]}}', "is a date"),
    ('{"duration": "5"}', "number of seconds"),
    ('{"duration": {"$regex": "5"}}', "the field holds numbers"),
    ('{"state": {"$regex": "("}}', "invalid $regex"),
    ('{"state": {"$regex": "(?<=a)b"}}', "invalid $regex"),
    ('{"state": {"$regex": 5}}', "takes a pattern string"),
    ('{"state": {"$in": "a"}}', '$in on field "state" takes a list'),
    ('{"state": {"$nin": 3}}', '$nin on field "state" takes a list'),
    ('{"state": {"$exists": 1}}', "takes true or false"),
    ('{"$and": []}', "$and takes a non-empty list"),
    ('{"$or": {}}', "$or takes a non-empty list"),
    ('{"$or": [1]}', "each item of $or must be a JSON object"),
    ('{"state": {"$or": []}}', "cannot be used on field"),
    ('{"$foo": 1}', 'unknown operator "$foo" where a field is expected'),
    ('{"config.a": {"x": 1}}', "is an object without operators"),
    ('{"config.a": {"$gt": 1, "x": 1}}', "is an object without operators"),
    ('{"config.a": {}}', "empty condition"),
    ('{"config.a": [1]}', "got an array"),
    ('{"config.a": {"$in": [[1]]}}', "got an array"),
    ('{"config.a": {"$gt": null}}', "got null"),
    ('{"config.a": {"$lt": {}}}', "got an object"),
    ('{"config.a..b": 1}', "has an empty key"),
    ('{"config.": 1}', "has an empty key"),
    ('{"summary_metrics.": 1}', "has an empty key"),
    ('{"config": 1}', "unknown field"),
    ('{"config.a\\"b": 1}', "double quote"),
    ('{"config.a\\\\b": 1}', "backslash"),
    ('{"config.a\\nb": 1}', "control character"),
    ('{"state": "\\ud800"}', "lone surrogate"),
    ('{"config.\\ud800": 1}', "lone surrogate"),
    ('{"tags": {"$exists": false, "$bad": 1}}', 'unknown operator "$bad"'),
]


@pytest.mark.parametrize(("text", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_filter_errors(text: str, message: str) -> None:
    with pytest.raises(FilterError) as info:
        compile_filter(text)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_filter_must_be_string() -> None:
    with pytest.raises(FilterError, match="JSON string"):
        compile_filter({"state": "x"})  # type: ignore[arg-type]


def test_sql_carries_no_values_or_paths() -> None:
    frag = compile_filter(
        json.dumps({"config.secret_key": "needle", "summary_metrics.k": {"$gt": 3}})
    )
    assert "needle" not in frag.sql and "secret_key" not in frag.sql
    assert "needle" in frag.params and '$."secret_key"."value"' in frag.params
