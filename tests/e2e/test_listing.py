"""Listing through ``Api.runs``: len, filters, orders, pages, iteration, indexing.

Every expected answer is computed in Python from ``SPECS``, the table the
``e2e/hand`` project was seeded from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import runs_client
from runs_client import AsyncRun, Run

from .conftest import (
    HAND,
    N_HAND,
    SPECS,
    ApiFactory,
    Spec,
    record_requests,
    start_server,
)

pytestmark = pytest.mark.e2e

Pred = Callable[[Spec], bool]


def ids(runs: Any) -> list[str]:
    return [r.id for r in runs]


def created_order(specs: list[Spec]) -> list[str]:
    """The server's default order: +created_at, ties by run id."""
    return [s.id for s in sorted(specs, key=lambda s: (s.created_at, s.id))]


def iso(spec: Spec) -> str:
    return spec.created_at.isoformat(timespec="seconds")


def x_of(spec: Spec) -> Any:
    return spec.config.get("x")


FILTERS: list[tuple[dict[str, Any], Pred]] = [
    ({"state": "finished"}, lambda s: s.state == "finished"),
    ({"state": {"$eq": "running"}}, lambda s: s.state == "running"),
    ({"state": {"$ne": "finished"}}, lambda s: s.state != "finished"),
    (
        {"state": {"$in": ["crashed", "failed"]}},
        lambda s: s.state in ("crashed", "failed"),
    ),
    (
        {"state": {"$nin": ["finished", "running"]}},
        lambda s: s.state not in ("finished", "running"),
    ),
    ({"state": "no-such-state"}, lambda s: False),
    ({"tags": "a"}, lambda s: "a" in s.tags),
    ({"tags": {"$in": ["b", "c"]}}, lambda s: bool({"b", "c"} & set(s.tags))),
    ({"tags": {"$nin": ["a"]}}, lambda s: "a" not in s.tags),
    ({"$and": [{"tags": "a"}, {"tags": "c"}]}, lambda s: {"a", "c"} <= set(s.tags)),
    ({"config.lr": 0.01}, lambda s: s.config["lr"] == 0.01),
    ({"config.lr.value": 0.01}, lambda s: s.config["lr"] == 0.01),
    ({"config.lr": {"$lt": 0.005}}, lambda s: s.config["lr"] < 0.005),
    ({"config.lr.value": {"$gte": 0.01}}, lambda s: s.config["lr"] >= 0.01),
    ({"config.batch": {"$in": [16, 64]}}, lambda s: s.config["batch"] in (16, 64)),
    ({"config.opt.name": "adam"}, lambda s: s.config["opt"]["name"] == "adam"),
    ({"config.opt.beta": {"$gt": 0.95}}, lambda s: s.config["opt"]["beta"] > 0.95),
    ({"config.x": {"$exists": True}}, lambda s: "x" in s.config),
    ({"config.x": {"$exists": False}}, lambda s: "x" not in s.config),
    # Mongo semantics: $ne and $nin also match runs that lack the field.
    ({"config.x": {"$ne": 2}}, lambda s: x_of(s) != 2),
    ({"config.x": {"$nin": [0, 1]}}, lambda s: x_of(s) not in (0, 1)),
    (
        {"config.x": {"$gt": 1, "$lte": 3}},
        lambda s: x_of(s) is not None and 1 < x_of(s) <= 3,
    ),
    ({"summary_metrics.y": {"$gte": 5}}, lambda s: s.summary.get("y", -1) >= 5),
    ({"summary_metrics.y": {"$exists": False}}, lambda s: "y" not in s.summary),
    (
        {"summary_metrics.nested.f1": {"$lt": 0.05}},
        lambda s: s.summary["nested"]["f1"] < 0.05,
    ),
    (
        {"created_at": {"$gte": "2024-05-01T03:00:00", "$lt": "2024-05-01T07:00:00"}},
        lambda s: "2024-05-01T03:00:00" <= iso(s) < "2024-05-01T07:00:00",
    ),
    # A date prefix compares as a string: "…T05" sorts before "…T05:00:00".
    ({"createdAt": {"$lt": "2024-05-01T05"}}, lambda s: iso(s) < "2024-05-01T05"),
    ({"createdAt": {"$gt": "2024-05-01T10"}}, lambda s: iso(s) > "2024-05-01T10"),
    (
        {"display_name": {"$regex": "^(alpha|gamma)-[12]$"}},
        lambda s: s.display_name in ("alpha-1", "alpha-2", "gamma-1", "gamma-2"),
    ),
    # $regex searches (not anchored): "ta-" is inside "beta-N" and "delta-N".
    ({"displayName": {"$regex": "ta-"}}, lambda s: "ta-" in s.display_name),
    ({"name": {"$regex": "h1"}}, lambda s: s.id.startswith("h1")),
    (
        {"$or": [{"state": "running"}, {"config.batch": 64}]},
        lambda s: s.state == "running" or s.config["batch"] == 64,
    ),
    (
        {
            "$and": [
                {"$or": [{"tags": "a"}, {"group": "g2"}]},
                {"config.x": {"$exists": True}},
            ]
        },
        lambda s: ("a" in s.tags or s.group == "g2") and "x" in s.config,
    ),
    (
        {"$nor": [{"state": "finished"}, {"tags": "b"}]},
        lambda s: s.state != "finished" and "b" not in s.tags,
    ),
    (
        {"group": "g1", "jobType": "train"},
        lambda s: s.group == "g1" and s.job_type == "train",
    ),
    ({"sweep": "sw2"}, lambda s: s.sweep == "sw2"),
    ({"username": "e2e"}, lambda s: True),
]


@pytest.mark.parametrize(("filters", "pred"), FILTERS, ids=[str(f) for f, _ in FILTERS])
def test_filters_round_trip(
    make_api: ApiFactory, filters: dict[str, Any], pred: Pred
) -> None:
    api = make_api()
    expected = created_order([s for s in SPECS if pred(s)])
    assert len(api.runs(HAND, filters=filters)) == len(expected)
    assert ids(api.runs(HAND, filters=filters, per_page=5)) == expected


def test_len_is_the_run_count_and_costs_one_request(make_api: ApiFactory) -> None:
    api = make_api()
    requests = record_requests(api)
    runs = api.runs(HAND)
    assert requests.operations == []  # nothing is sent before it is needed
    assert len(runs) == N_HAND
    assert len(runs) == N_HAND
    assert requests.operations == ["RunCount"]
    assert len(api.runs("demo/mnist")) == 320


def missing_last(
    specs: list[Spec], key: Callable[[Spec], Any], descending: bool
) -> list[str]:
    """Runs with the key sorted by (key, id) in the direction, then the rest
    by id in the same direction."""
    have = [s for s in specs if key(s) is not None]
    lack = [s for s in specs if key(s) is None]
    have.sort(key=lambda s: (key(s), s.id), reverse=descending)
    lack.sort(key=lambda s: s.id, reverse=descending)
    return [s.id for s in have + lack]


ORDERS: list[tuple[str, Callable[[Spec], Any], bool]] = [
    ("+created_at", lambda s: s.created_at, False),
    ("-created_at", lambda s: s.created_at, True),
    ("createdAt", lambda s: s.created_at, False),
    ("+name", lambda s: s.id, False),
    ("-name", lambda s: s.id, True),
    ("+config.x", x_of, False),
    ("-config.x", x_of, True),
    ("-config.x.value", x_of, True),
    ("+config.lr", lambda s: s.config["lr"], False),
    ("+summary_metrics.y", lambda s: s.summary.get("y"), False),
    ("-summary_metrics.y", lambda s: s.summary.get("y"), True),
    ("-summary_metrics.nested.f1", lambda s: s.summary["nested"]["f1"], True),
]


@pytest.mark.parametrize(
    ("order", "key", "descending"), ORDERS, ids=[o for o, _, _ in ORDERS]
)
def test_orders_round_trip(
    make_api: ApiFactory, order: str, key: Callable[[Spec], Any], descending: bool
) -> None:
    api = make_api()
    expected = missing_last(SPECS, key, descending)
    assert ids(api.runs(HAND, order=order, per_page=7)) == expected


def test_order_with_filter(api: runs_client.Api) -> None:
    runs = api.runs(HAND, filters={"tags": "b"}, order="-config.x", per_page=3)
    specs = [s for s in SPECS if "b" in s.tags]
    assert ids(runs) == missing_last(specs, x_of, True)


def test_small_pages_give_every_run_once(make_api: ApiFactory) -> None:
    api = make_api()
    requests = record_requests(api)
    runs = api.runs(HAND, per_page=7, include_sweeps=False)
    got = ids(runs)
    assert got == created_order(SPECS)
    assert len(set(got)) == N_HAND
    assert requests.operations == ["RunsPage"] * 4  # ceil(24 / 7)


@pytest.mark.parametrize("per_page", [1, 7, 24, 25, 1000])
def test_page_sizes_agree(api: runs_client.Api, per_page: int) -> None:
    assert ids(api.runs(HAND, per_page=per_page)) == created_order(SPECS)


def test_demo_paged_small_equals_paged_large(api: runs_client.Api) -> None:
    small = ids(api.runs("demo/mnist", per_page=7, include_sweeps=False))
    large = ids(api.runs("demo/mnist", per_page=1000, include_sweeps=False))
    assert small == large
    assert len(small) == len(set(small)) == 320


@pytest.mark.sync_only
def test_iterating_twice_gives_the_same_runs_and_refetches_nothing(
    make_api: ApiFactory,
) -> None:
    api = make_api()
    requests = record_requests(api)
    runs = api.runs(HAND, per_page=7, include_sweeps=False)
    first = list(runs)
    sent = len(requests.operations)
    second = list(runs)
    assert [r.id for r in first] == [r.id for r in second] == created_order(SPECS)
    assert all(a is b for a, b in zip(first, second, strict=True))
    assert len(requests.operations) == sent
    # The seed's protocol: iter() resets, next() advances.
    assert iter(runs) is runs
    assert runs.next().id == first[0].id
    assert next(runs).id == first[1].id


SLICES: list[Any] = [
    0,
    -1,
    5,
    23,
    -24,
    slice(5, None),
    slice(-3, None),
    slice(None, None, 3),
    slice(10, 2, -2),
    slice(None, None, -1),
    slice(3, 9),
    slice(-10, -4, 2),
    slice(30, None),
]


@pytest.mark.parametrize("index", SLICES, ids=[str(i) for i in SLICES])
def test_indexing_matches_the_list(api: runs_client.Api, index: Any) -> None:
    everything = ids(api.runs(HAND, per_page=7, include_sweeps=False))
    fresh = api.runs(HAND, per_page=7, include_sweeps=False)
    got = fresh[index]
    if isinstance(index, slice):
        assert isinstance(got, list)
        assert ids(got) == everything[index]
    else:
        assert isinstance(got, (Run, AsyncRun))
        assert got.id == everything[index]


@pytest.mark.parametrize(
    ("index", "pages"),
    [(0, 1), (6, 1), (7, 2), (slice(0, 3), 1), (slice(10, 2, -2), 2)],
)
def test_indexing_loads_only_the_pages_it_needs(
    make_api: ApiFactory, index: Any, pages: int
) -> None:
    api = make_api()
    requests = record_requests(api)
    api.runs(HAND, per_page=7, include_sweeps=False)[index]
    assert requests.operations == ["RunsPage"] * pages


@pytest.mark.parametrize("index", [N_HAND, -N_HAND - 1, 10_000])
def test_index_out_of_range(api: runs_client.Api, index: int) -> None:
    runs = api.runs(HAND, per_page=7)
    with pytest.raises(IndexError, match=f"index {index} out of range"):
        runs[index]


def test_empty_result(api: runs_client.Api) -> None:
    runs = api.runs(HAND, filters={"state": "pending"})
    assert len(runs) == 0
    assert list(runs) == []
    assert runs[5:] == []
    with pytest.raises(IndexError):
        runs[0]


def test_runs_added_and_removed_between_pages(make_api: ApiFactory) -> None:
    """Keyset cursors: no duplicates or gaps among the runs that stay."""
    live = start_server(demo=False)
    try:
        api = make_api(base_url=live.url)
        runs = api.runs(HAND, per_page=5, include_sweeps=False)
        expected = created_order(SPECS)
        assert ids(runs[:5]) == expected[:5]
        live.store.runs.add(HAND, "zearly", created_at="2024-04-01T00:00:00")
        live.store.runs.add(HAND, "zlate", created_at="2024-06-01T00:00:00")
        live.store.runs.delete(live.store.runs.id_of(HAND, expected[15]))
        got = ids(runs)
        assert got == [i for i in expected if i != expected[15]] + ["zlate"]
        assert len(runs) == N_HAND  # counted from what was loaded
        assert len(api.runs(HAND)) == N_HAND + 1  # a fresh count sees zearly too
    finally:
        live.stop()
