"""Runs: paging, len, indexing, slices, iteration, sweeps and argument checks."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest
import runs_gql

from runs_client._exceptions import InvalidArgumentError, NotFoundError, ServerError
from runs_client.run import Run
from runs_client.runs import Runs
from runs_client.sweep import Sweep
from tests.client_unit.runs_fake_server import (  # noqa: F401  (fixtures)
    ENTITY,
    PROJECT,
    FakeWandb,
    client_fixture,
    fake_fixture,
    make_run,
    make_sweep,
)


def ids(runs: list[Run]) -> list[str]:
    return [r.id for r in runs]


def seed(fake: FakeWandb, n: int, **kwargs: Any) -> list[str]:
    fake.runs = [make_run(f"r{i:03d}", **kwargs) for i in range(n)]
    return [f"r{i:03d}" for i in range(n)]


def new_runs(client: runs_gql.Client, **kwargs: Any) -> Runs:
    return Runs(client, ENTITY, PROJECT, **kwargs)


# -- surface ---------------------------------------------------------------


def test_query_is_the_generated_page_operation() -> None:
    assert Runs.QUERY == runs_gql.operations.RUNS_PAGE_GQL
    assert "query RunsPage" in Runs.QUERY


def test_constructor_makes_no_request(client: runs_gql.Client, fake: FakeWandb) -> None:
    seed(fake, 3)
    runs = new_runs(client)
    assert fake.total == 0
    assert repr(runs) == f"<Runs {ENTITY}/{PROJECT}>"
    assert fake.total == 0


def test_positional_arguments_in_seed_order(client: runs_gql.Client) -> None:
    runs = Runs(client, "e", "p", {"state": "finished"}, "-created_at", 7, False)
    assert (runs.entity, runs.project) == ("e", "p")
    assert runs.filters == {"state": "finished"}
    assert runs.order == "-created_at"
    assert runs.per_page == 7
    assert runs.include_sweeps is False


def test_variables_sent(client: runs_gql.Client, fake: FakeWandb) -> None:
    seed(fake, 3)
    runs = new_runs(client, filters={"state": "finished"}, order="-created_at")
    runs[0]
    variables = fake.bodies[0]["variables"]
    assert fake.bodies[0]["operationName"] == "RunsPage"
    assert variables["filters"] == '{"state":"finished"}'
    assert variables["order"] == "-created_at"
    assert variables["perPage"] == 50
    assert "cursor" not in variables  # first page: no cursor at all


def test_update_variables_sets_page_size_and_cursor(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    seed(fake, 5)
    runs = new_runs(client, per_page=2)
    runs.update_variables()
    assert runs.variables["perPage"] == 2
    assert runs.variables["cursor"] is None
    runs[0]
    runs.update_variables()
    assert runs.variables["cursor"] == "c2"
    assert fake.bodies[-1]["variables"].get("cursor") is None
    runs[2]
    assert fake.bodies[-1]["variables"]["cursor"] == "c2"


def test_convert_objects_returns_last_page(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    expected = seed(fake, 5)
    runs = new_runs(client, per_page=2)
    runs[2]
    page = runs.convert_objects()
    assert ids(page) == expected[2:4]
    assert all(isinstance(r, Run) for r in page)


def test_convert_objects_before_any_page(client: runs_gql.Client) -> None:
    with pytest.raises(NotFoundError):
        new_runs(client).convert_objects()


# -- len ---------------------------------------------------------------------


def test_len_on_fresh_runs_is_one_count_request(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    seed(fake, 120)
    runs = new_runs(client)
    assert len(runs) == 120
    assert fake.calls == {"RunCount": 1}
    assert len(runs) == 120
    assert fake.total == 1


def test_len_uses_count_from_loaded_page(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    seed(fake, 120)
    runs = new_runs(client)
    runs[0]
    assert len(runs) == 120
    assert fake.calls == {"RunsPage": 1}


def test_len_sends_filters(client: runs_gql.Client, fake: FakeWandb) -> None:
    seed(fake, 2)
    len(new_runs(client, filters={"tags": "x"}))
    assert fake.bodies[0]["variables"]["filters"] == '{"tags":"x"}'


def test_len_once_all_loaded_is_what_is_held(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    # The count was taken before a run was deleted: after the last page the
    # collection reports what it really holds, so len and iteration agree.
    seed(fake, 3)
    fake.run_count = 4
    runs = new_runs(client)
    assert len(list(runs)) == 3
    assert len(runs) == 3


def test_len_on_empty_project(client: runs_gql.Client, fake: FakeWandb) -> None:
    runs = new_runs(client)
    assert len(runs) == 0
    assert list(runs) == []
    assert runs[:] == []


# -- indexing ----------------------------------------------------------------


def test_index_loads_only_needed_pages(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    expected = seed(fake, 200)
    runs = new_runs(client, per_page=50)
    assert runs[120].id == expected[120]
    assert fake.calls == {"RunsPage": 3}
    assert runs[0].id == expected[0]
    assert runs[149].id == expected[149]
    assert fake.total == 3


def test_negative_index(client: runs_gql.Client, fake: FakeWandb) -> None:
    expected = seed(fake, 120)
    runs = new_runs(client, per_page=50)
    assert runs[-1].id == expected[-1]
    assert runs[-120].id == expected[0]
    assert fake.calls == {"RunsPage": 3}


def test_index_out_of_range(client: runs_gql.Client, fake: FakeWandb) -> None:
    seed(fake, 7)
    runs = new_runs(client, per_page=5)
    with pytest.raises(IndexError, match="out of range"):
        runs[7]
    with pytest.raises(IndexError):
        runs[-8]
    assert runs[-7].id == "r000"


def test_index_on_empty(client: runs_gql.Client, fake: FakeWandb) -> None:
    with pytest.raises(IndexError):
        new_runs(client)[0]
    with pytest.raises(IndexError):
        new_runs(client)[-1]


@pytest.mark.parametrize("bad", ["0", 1.0, None, (1,), [0]])
def test_index_wrong_type(client: runs_gql.Client, fake: FakeWandb, bad: Any) -> None:
    seed(fake, 3)
    with pytest.raises(TypeError, match="integers"):
        new_runs(client)[bad]
    assert fake.total == 0


def test_bad_slice_bounds(client: runs_gql.Client, fake: FakeWandb) -> None:
    seed(fake, 3)
    runs = new_runs(client)
    with pytest.raises(TypeError, match="integers or None"):
        runs["a":]
    with pytest.raises(ValueError, match="zero"):
        runs[::0]
    assert fake.total == 0


SLICES = [
    slice(5, None),
    slice(-3, None),
    slice(None, None, 2),
    slice(10, 2, -2),
    slice(None, None, -1),
    slice(None, 5),
    slice(2, 9, 3),
    slice(-10, -2),
    slice(3, -3),
    slice(-2, 2, -1),
    slice(100, None),
    slice(None, -100),
    slice(40, 10),
    slice(None, 3, -1),
]


@pytest.mark.parametrize("index", SLICES, ids=str)
def test_slices_equal_list_slices(
    client: runs_gql.Client, fake: FakeWandb, index: slice
) -> None:
    expected = seed(fake, 23)
    result = new_runs(client, per_page=4)[index]
    assert isinstance(result, list)
    assert ids(result) == expected[index]


def test_closed_slice_loads_only_needed_pages(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    expected = seed(fake, 200)
    runs = new_runs(client, per_page=50)
    assert ids(runs[0:60]) == expected[0:60]
    assert fake.calls == {"RunsPage": 2}
    assert ids(runs[10:2:-2]) == expected[10:2:-2]
    assert fake.total == 2


def test_open_slice_loads_all_pages_once(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    expected = seed(fake, 120)
    runs = new_runs(client, per_page=50)
    assert ids(runs[5:]) == expected[5:]
    assert ids(runs[-3:]) == expected[-3:]
    assert ids(runs[::2]) == expected[::2]
    assert fake.calls == {"RunsPage": 3}


# -- iteration ---------------------------------------------------------------


def test_iterating_twice_fetches_pages_once(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    expected = seed(fake, 120)
    runs = new_runs(client, per_page=50)
    assert [r.id for r in runs] == expected
    assert [r.id for r in runs] == expected
    assert fake.calls == {"RunsPage": 3}


def test_list_of_fresh_runs_asks_count_once(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    # list() asks len() for a size hint first: one small RunCount request.
    expected = seed(fake, 120)
    runs = new_runs(client, per_page=50)
    assert ids(list(runs)) == expected
    assert ids(list(runs)) == expected
    assert fake.calls == {"RunCount": 1, "RunsPage": 3}


def test_iter_returns_self_and_resets(client: runs_gql.Client, fake: FakeWandb) -> None:
    expected = seed(fake, 5)
    runs = new_runs(client, per_page=2)
    assert iter(runs) is runs
    assert runs.next().id == expected[0]
    assert next(runs).id == expected[1]
    assert iter(runs) is runs
    assert runs.next().id == expected[0]


def test_next_raises_stop_iteration_at_end(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    seed(fake, 2)
    runs = new_runs(client)
    runs.next()
    runs.next()
    with pytest.raises(StopIteration):
        runs.next()
    with pytest.raises(StopIteration):
        next(runs)
    assert fake.calls == {"RunsPage": 1}


def test_next_after_a_failed_page_load_skips_no_run(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    # A notebook catches a RateLimitError mid-iteration and carries on: the run
    # whose page failed to load must still come next, not be skipped.
    expected = seed(fake, 4)
    runs = new_runs(client, per_page=2)
    assert [runs.next().id, runs.next().id] == expected[:2]
    load_page = fake._op_RunsPage

    def fail_once(variables: dict[str, Any]) -> dict[str, Any]:
        del fake._op_RunsPage  # type: ignore[attr-defined]
        raise httpx.ConnectError("connection reset")

    fake._op_RunsPage = fail_once  # type: ignore[method-assign]
    with pytest.raises(httpx.ConnectError):
        runs.next()
    assert fake._op_RunsPage == load_page
    assert [runs.next().id, runs.next().id] == expected[2:]
    with pytest.raises(StopIteration):
        runs.next()


def test_iteration_exact_page_boundary(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    expected = seed(fake, 100)
    runs = new_runs(client, per_page=50)
    assert [r.id for r in runs] == expected
    assert fake.calls == {"RunsPage": 2}


# -- errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    "action",
    [len, lambda r: r[0], lambda r: r[-1], list, lambda r: r[2:]],
    ids=["len", "index", "negative", "iterate", "slice"],
)
def test_missing_project_names_the_path(
    client: runs_gql.Client, fake: FakeWandb, action: Any
) -> None:
    fake.project_exists = False
    with pytest.raises(NotFoundError, match=f"{ENTITY}/{PROJECT}"):
        action(new_runs(client))


def test_pager_refuses_cursor_that_does_not_advance(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    seed(fake, 10)
    fake.stuck_cursor = True
    runs = new_runs(client, per_page=2)
    with pytest.raises(ServerError, match="did not advance"):
        list(runs)
    assert fake.calls["RunsPage"] == 2


# None is not bad: it leaves the page size to the client (run_listing).
@pytest.mark.parametrize("per_page", [0, -1, 1.5, "50", True])
def test_bad_per_page(client: runs_gql.Client, fake: FakeWandb, per_page: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="per_page must be a positive"):
        new_runs(client, per_page=per_page)
    assert fake.total == 0


@pytest.mark.parametrize(
    "filters",
    [
        "state=finished",
        ["state"],
        {"created_at": object()},
        {"loss": {"$lt": math.nan}},
        {1: {"$eq": 2}, (1, 2): "x"},
    ],
)
def test_bad_filters(client: runs_gql.Client, fake: FakeWandb, filters: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="filters must be") as info:
        new_runs(client, filters=filters)
    assert "dict" in str(info.value) or "JSON" in str(info.value)
    assert fake.total == 0


# -- sweeps ------------------------------------------------------------------


def test_sweeps_fetched_once_each(client: runs_gql.Client, fake: FakeWandb) -> None:
    fake.runs = [make_run(f"r{i}", sweep="sa" if i % 2 else "sb") for i in range(10)]
    fake.runs.append(make_run("solo"))
    fake.sweeps = {"sa": make_sweep("sa"), "sb": make_sweep("sb")}
    runs = list(new_runs(client, per_page=3))
    assert fake.calls["SweepByName"] == 2
    swept = [r for r in runs if r.sweep_name]
    assert all(isinstance(r.sweep, Sweep) for r in swept)
    assert {r.sweep.name for r in swept if r.sweep} == {"sa", "sb"}
    assert runs[1].sweep is runs[3].sweep
    assert runs[-1].sweep is None


def test_failed_sweep_fetch_loses_no_page(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    # The sweep request of a page's run fails (and is caught): that page's
    # runs must be loaded on the next try, not skipped with its cursor.
    fake.runs = [make_run(f"r{i}", sweep="sw" if i == 2 else None) for i in range(5)]
    fake.sweeps = {"sw": make_sweep("sw")}

    def fail_once(variables: dict[str, Any]) -> dict[str, Any]:
        del fake._op_SweepByName  # type: ignore[attr-defined]
        raise httpx.ConnectError("connection reset")

    fake._op_SweepByName = fail_once  # type: ignore[method-assign]
    runs = new_runs(client, per_page=2)
    assert runs[0].id == "r0"
    with pytest.raises(httpx.ConnectError):
        runs[2]
    assert ids(runs[:]) == ["r0", "r1", "r2", "r3", "r4"]
    assert runs[2].sweep is not None and runs[2].sweep.name == "sw"
    assert len(runs) == 5


def test_include_sweeps_false_never_fetches(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    fake.runs = [make_run(f"r{i}", sweep="sa") for i in range(10)]
    fake.sweeps = {"sa": make_sweep("sa")}
    runs = [r for r in new_runs(client, include_sweeps=False)]
    assert fake.calls == {"RunsPage": 1}
    assert all(r.sweep is None and r.sweep_name == "sa" for r in runs)


def test_missing_sweep_is_none_and_asked_once(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    fake.runs = [make_run(f"r{i}", sweep="gone") for i in range(4)]
    runs = list(new_runs(client))
    assert fake.calls["SweepByName"] == 1
    assert all(r.sweep is None for r in runs)
