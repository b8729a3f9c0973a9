"""Run.history and Run.scan_history: selection, windows, sparse keys, stopping."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
import pytest
import runs_gql

from runs_client._exceptions import InvalidArgumentError, NotFoundError
from runs_client.run import Run
from runs_client.runs import fetch_run
from tests.client_unit.runs_fake_server import (  # noqa: F401  (fixtures)
    ENTITY,
    PROJECT,
    FakeWandb,
    client_fixture,
    fake_fixture,
    make_run,
)


def line(**row: Any) -> str:
    return json.dumps(row)


def add_run(fake: FakeWandb, run_id: str, lines: list[str], **kwargs: Any) -> None:
    fake.runs.append(make_run(run_id, **kwargs))
    fake.history[run_id] = lines


def get(client: runs_gql.Client, fake: FakeWandb, run_id: str) -> Run:
    run = fetch_run(client, ENTITY, PROJECT, run_id)
    fake.calls.clear()
    fake.bodies.clear()
    return run


def window_bounds(fake: FakeWandb) -> list[tuple[int, int]]:
    return [
        (b["variables"]["minStep"], b["variables"]["maxStep"])
        for b in fake.bodies
        if b["operationName"] == "RunHistoryWindow"
    ]


# -- history -----------------------------------------------------------------


def test_history_pandas_by_default(client: runs_gql.Client, fake: FakeWandb) -> None:
    add_run(fake, "r", [line(_step=1, loss=math.nan), line(_step=0, loss=1.0, s="x")])
    frame = get(client, fake, "r").history()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["_step", "loss", "s"]  # no run_id on one run
    assert frame["_step"].tolist() == [0, 1]
    assert frame["loss"].isna().tolist() == [False, True]
    assert fake.calls == {"RunHistory": 1}


def test_history_list_of_dicts(client: runs_gql.Client, fake: FakeWandb) -> None:
    add_run(fake, "r", [line(_step=0, loss=math.inf)])
    rows = get(client, fake, "r").history(samples=3, pandas=False)
    assert rows == [{"_step": 0, "loss": math.inf}]
    assert fake.bodies[0]["variables"]["samples"] == 3


def test_history_keys_and_x_axis(client: runs_gql.Client, fake: FakeWandb) -> None:
    add_run(fake, "r", [line(_step=0, a=1, b=2), line(_step=1, a=3)])
    run = get(client, fake, "r")
    assert run.history(keys=["a", "b"], pandas=False) == [{"_step": 0, "a": 1, "b": 2}]
    spec = json.loads(fake.bodies[0]["variables"]["specs"][0])
    assert spec == {"keys": ["_step", "a", "b"], "samples": 500}


def test_history_empty_keys_means_full_rows(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    # The official SDK tests `if keys:`: an empty list asks for full rows, not
    # for rows holding only x_axis.
    add_run(fake, "r", [line(_step=0, loss=1.0, acc=0.5)])
    run = get(client, fake, "r")
    assert run.history(keys=[], pandas=False) == [{"_step": 0, "loss": 1.0, "acc": 0.5}]
    assert fake.calls == {"RunHistory": 1}


def test_history_custom_x_axis_keeps_step_order(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    # Rows stay in step order (design: "row order within a run is step order";
    # the SDK keeps the server's order), whatever x_axis is.
    add_run(fake, "r", [line(_step=s, loss=1.0 - s / 4, acc=s) for s in range(3)])
    rows = get(client, fake, "r").history(keys=["acc"], x_axis="loss", pandas=False)
    assert rows == [
        {"loss": 1.0, "acc": 0},
        {"loss": 0.75, "acc": 1},
        {"loss": 0.5, "acc": 2},
    ]


def test_history_empty(client: runs_gql.Client, fake: FakeWandb) -> None:
    add_run(fake, "r", [])
    run = get(client, fake, "r")
    assert run.history(pandas=False) == []
    assert run.history().empty
    assert run.history(keys=["nothing"], pandas=False) == []


def test_history_system_stream(client: runs_gql.Client, fake: FakeWandb) -> None:
    add_run(fake, "r", [])
    fake.events["r"] = [line(_timestamp=2.0, cpu=1), line(_timestamp=1.0, cpu=2)]
    rows = get(client, fake, "r").history(stream="system", pandas=False)
    assert [r["cpu"] for r in rows] == [2, 1]
    assert fake.calls == {"RunEvents": 1}


def test_history_of_deleted_run(client: runs_gql.Client, fake: FakeWandb) -> None:
    add_run(fake, "r", [])
    run = get(client, fake, "r")
    fake.runs.clear()
    with pytest.raises(NotFoundError, match=f"{ENTITY}/{PROJECT}/r"):
        run.history()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"samples": 0},
        {"keys": "loss"},
        {"keys": [1]},
        {"stream": "gpu"},
        {"keys": ["loss"], "stream": "system"},
        {"x_axis": 3},
    ],
)
def test_history_invalid_arguments(
    client: runs_gql.Client, fake: FakeWandb, kwargs: dict[str, Any]
) -> None:
    add_run(fake, "r", [])
    run = get(client, fake, "r")
    with pytest.raises(InvalidArgumentError):
        run.history(**kwargs)
    assert fake.total == 0


# -- scan_history ----------------------------------------------------------------


def test_scan_pages_by_step_windows(client: runs_gql.Client, fake: FakeWandb) -> None:
    add_run(fake, "r", [line(_step=i, loss=i / 10) for i in range(25)], last_step=24)
    run = get(client, fake, "r")
    rows = list(run.scan_history(page_size=10))
    assert [r["_step"] for r in rows] == list(range(25))
    assert window_bounds(fake) == [(0, 10), (10, 20), (20, 25)]
    assert fake.calls == {"RunHistoryWindow": 3}
    # Each window asks for page_size rows (a window may span more steps).
    samples = [b["variables"]["samples"] for b in fake.bodies]
    assert samples == [10, 10, 10]


def test_scan_sparse_keys_projected(client: runs_gql.Client, fake: FakeWandb) -> None:
    lines = [
        line(_step=i, loss=float(i), **({"val": i * 2} if i % 7 == 0 else {}))
        for i in range(30)
    ]
    add_run(fake, "r", lines, last_step=29)
    run = get(client, fake, "r")
    rows = list(run.scan_history(keys=["val"], page_size=5))
    assert rows == [{"val": 0}, {"val": 14}, {"val": 28}, {"val": 42}, {"val": 56}]
    rows = list(run.scan_history(keys=["_step", "val"], page_size=100))
    assert [r["_step"] for r in rows] == [0, 7, 14, 21, 28]


def test_scan_does_not_spin_on_gaps(client: runs_gql.Client, fake: FakeWandb) -> None:
    # Steps 0 and 4500 only: a window with one row of 1,000 steps grows (at
    # most 4x), so the gap costs one request, and the scan stops at the last
    # step.
    add_run(fake, "r", [line(_step=0, a=1), line(_step=4500, a=2)], last_step=4500)
    run = get(client, fake, "r")
    rows = list(run.scan_history(page_size=1000))
    assert [r["a"] for r in rows] == [1, 2]
    assert window_bounds(fake) == [(0, 1000), (1000, 4501)]


def test_scan_keys_never_present(client: runs_gql.Client, fake: FakeWandb) -> None:
    add_run(fake, "r", [line(_step=i) for i in range(10)], last_step=9)
    run = get(client, fake, "r")
    assert list(run.scan_history(keys=["missing"], page_size=3)) == []
    assert fake.calls == {"RunHistoryWindow": 4}


def test_scan_min_and_max_step(client: runs_gql.Client, fake: FakeWandb) -> None:
    add_run(fake, "r", [line(_step=i) for i in range(50)], last_step=49)
    run = get(client, fake, "r")
    rows = list(run.scan_history(min_step=12, max_step=31, page_size=10))
    assert [r["_step"] for r in rows] == list(range(12, 31))
    assert window_bounds(fake) == [(12, 22), (22, 31)]


def test_scan_max_step_capped_at_last_step(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    add_run(fake, "r", [line(_step=i) for i in range(5)], last_step=4)
    run = get(client, fake, "r")
    assert len(list(run.scan_history(max_step=10**9, page_size=1000))) == 5
    assert window_bounds(fake) == [(0, 5)]


def test_scan_asks_history_keys_once_when_unknown(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    add_run(fake, "r", [line(_step=i) for i in range(3)], last_step=None)
    run = get(client, fake, "r")
    fake.runs[0]["historyKeys"] = {"lastStep": 2, "keys": {}}  # server knows it
    assert len(list(run.scan_history())) == 3
    assert len(list(run.scan_history())) == 3
    assert fake.calls == {"RunHistoryKeys": 1, "RunHistoryWindow": 2}
    assert run.last_step == 2


def test_scan_run_without_history(client: runs_gql.Client, fake: FakeWandb) -> None:
    add_run(fake, "r", [], last_step=None)
    run = get(client, fake, "r")
    assert list(run.scan_history()) == []
    assert list(run.scan_history()) == []
    assert fake.calls == {"RunHistoryKeys": 1}


def test_scan_is_lazy(client: runs_gql.Client, fake: FakeWandb) -> None:
    add_run(fake, "r", [line(_step=i) for i in range(30)], last_step=29)
    run = get(client, fake, "r")
    scan = run.scan_history(page_size=10)
    assert fake.total == 0
    assert next(scan)["_step"] == 0
    assert fake.total == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"page_size": 0},
        {"page_size": 2.5},
        {"keys": "loss"},
        {"keys": ["a", None]},
        {"min_step": -1},
        {"max_step": "10"},
    ],
)
def test_scan_invalid_arguments_raise_at_call(
    client: runs_gql.Client, fake: FakeWandb, kwargs: dict[str, Any]
) -> None:
    add_run(fake, "r", [], last_step=None)
    run = get(client, fake, "r")
    with pytest.raises(InvalidArgumentError):
        run.scan_history(**kwargs)  # raises before iteration starts
    assert fake.total == 0
