"""History through the client: ``Run.history``, ``Run.scan_history`` and
``Runs.histories``, compared row by row with what was logged."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest

import runs_client
from runs_client import Run

from .conftest import (
    BY_ID,
    GAPPY_STEPS,
    HAND,
    RARE_STEPS,
    SCAN,
    SPARSE_LAST,
    SPECS,
    ApiFactory,
    Spec,
    record_requests,
)
from .test_run import same_json

pytestmark = pytest.mark.e2e

# A few runs of e2e/hand, each showing something: run 0 has NaN/Infinity,
# ``acc`` and ``text``; run 1 neither ``acc`` nor ``text`` nor events; run 3
# the image; run 6 ``acc`` and ``text`` and events.
SOME = {"config.seed": {"$in": [0, 1, 3, 6]}}
SOME_SPECS = [SPECS[0], SPECS[1], SPECS[3], SPECS[6]]  # created order


def hand_run(api: runs_client.Api, index: int) -> Run:
    return api.run(f"{HAND}/{SPECS[index].id}")


def scan_run(api: runs_client.Api, name: str) -> Run:
    return api.run(f"{SCAN}/{name}")


def assert_rows(got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert same_json(g, e), (g, e)


def project(rows: list[dict[str, Any]], keys: list[str]) -> list[dict[str, Any]]:
    """W&B's AND rule: rows holding every key, holding just those keys."""
    return [{k: r[k] for k in keys} for r in rows if all(k in r for k in keys)]


# -- Run.history ---------------------------------------------------------------


def test_history_list_is_every_row_in_step_order(api: runs_client.Api) -> None:
    for index in (0, 3, 23):
        rows = hand_run(api, index).history(pandas=False)
        assert_rows(rows, SPECS[index].history)


def test_history_frame_keeps_nan_infinity_strings_and_media(
    api: runs_client.Api,
) -> None:
    frame = hand_run(api, 0).history()
    spec = SPECS[0]
    assert list(frame["_step"]) == list(range(len(spec.history)))
    assert frame["_step"].dtype == np.int64
    assert frame["loss"].dtype == np.float64
    loss = frame["loss"].tolist()
    assert math.isnan(loss[1]) and loss[2] == math.inf
    assert loss[0] == 0.0 and loss[3:] == [s / 8 for s in range(3, len(loss))]
    assert frame["acc"].dtype == np.float64  # logged on even steps only
    acc = frame["acc"].tolist()
    assert acc[::2] == [s / 16 for s in range(0, len(acc), 2)]
    assert all(math.isnan(a) for a in acc[1::2])
    assert frame["text"].tolist() == [f"t{s}" for s in range(len(spec.history))]
    assert "run_id" not in frame.columns
    # Columns sorted as in histories() (was first-seen order).
    assert list(frame.columns) == sorted(frame.columns)

    image = hand_run(api, 3).history()["img"].tolist()
    assert image[:-1] == [None] * (len(image) - 1)
    # JSON text in every frame (was the dict in pandas)
    assert json.loads(image[-1]) == {
        "_type": "image-file", "path": "media/img_3.png", "width": 8
    }  # fmt: skip


def test_history_keys_follow_the_and_rule(api: runs_client.Api) -> None:
    run0 = hand_run(api, 0)
    history = SPECS[0].history
    acc = run0.history(keys=["acc"], pandas=False)
    assert_rows(acc, project(history, ["_step", "acc"]))
    assert [r["_step"] for r in acc] == [0, 2, 4]
    both = run0.history(keys=["loss", "acc"], pandas=False)
    assert_rows(both, project(history, ["_step", "loss", "acc"]))
    assert [r["loss"] for r in both] == [0.0, math.inf, 0.5]
    # Keys logged at different steps: no row holds both.
    assert hand_run(api, 3).history(keys=["img", "loss"], pandas=False) == [
        {"_step": 7, "img": SPECS[3].history[-1]["img"], "loss": 3 + 7 / 8}
    ]
    assert hand_run(api, 1).history(keys=["loss", "acc"], pandas=False) == []
    frame = hand_run(api, 1).history(keys=["loss", "acc"])
    assert isinstance(frame, pd.DataFrame) and len(frame) == 0


def test_history_x_axis(api: runs_client.Api) -> None:
    rows = hand_run(api, 0).history(keys=["acc"], x_axis="_runtime", pandas=False)
    assert rows == [{"_runtime": float(s), "acc": s / 16} for s in (0, 2, 4)]


def test_history_samples_keeps_first_and_last(api: runs_client.Api) -> None:
    rows = scan_run(api, "sparse").history(samples=10, pandas=False)
    steps = [r["_step"] for r in rows]
    assert len(steps) == 10
    assert steps[0] == 0 and steps[-1] == SPARSE_LAST
    assert steps == sorted(set(steps))
    assert all(r["loss"] == r["_step"] / 4 for r in rows)


def test_history_system_stream(api: runs_client.Api) -> None:
    rows = hand_run(api, 6).history(stream="system", pandas=False)
    expected = sorted(SPECS[6].events, key=lambda e: e["_timestamp"])
    assert rows == expected
    assert [r["_runtime"] for r in rows] == [0.0, 10.0, 20.0]
    frame = hand_run(api, 6).history(stream="system")
    assert frame["system.cpu"].tolist() == [6.0, 16.0, 26.0]
    assert hand_run(api, 1).history(stream="system", pandas=False) == []


# -- Run.scan_history ------------------------------------------------------------


def sparse_rows() -> list[dict[str, Any]]:
    return [
        {"_step": s, "loss": s / 4, **({"rare": s * 10} if s in RARE_STEPS else {})}
        for s in range(SPARSE_LAST + 1)
    ]


def test_scan_history_returns_every_row_in_step_order(make_api: ApiFactory) -> None:
    api = make_api()
    run = scan_run(api, "sparse")
    requests = record_requests(api)
    assert list(run.scan_history(page_size=300)) == sparse_rows()
    assert requests.operations == ["RunHistoryWindow"] * 7  # ceil(2000 / 300)


def test_scan_history_sparse_key_terminates(make_api: ApiFactory) -> None:
    api = make_api()
    run = scan_run(api, "sparse")
    requests = record_requests(api)
    rows = list(run.scan_history(keys=["rare"], page_size=500))
    assert rows == [{"rare": s * 10} for s in RARE_STEPS]
    assert requests.operations == ["RunHistoryWindow"] * 4
    both = list(run.scan_history(keys=["_step", "rare", "loss"]))
    assert both == [{"_step": s, "rare": s * 10, "loss": s / 4} for s in RARE_STEPS]
    assert list(run.scan_history(keys=["no_such_key"], page_size=700)) == []


@pytest.mark.parametrize(
    ("min_step", "max_step", "expected"),
    [
        (4, None, [1500, 1999]),
        (4, 1999, [1500]),  # max_step is exclusive
        (1500, 1501, [1500]),
        (0, 3, []),
        (0, 4, [3]),
        (1501, 1999, []),
        (2000, None, []),
        (0, 10**9, [3, 1500, 1999]),  # capped at the last step
    ],
)
def test_scan_history_step_windows(
    api: runs_client.Api, min_step: int, max_step: int | None, expected: list[int]
) -> None:
    run = scan_run(api, "sparse")
    rows = run.scan_history(
        keys=["_step", "rare"], page_size=250, min_step=min_step, max_step=max_step
    )
    assert [r["_step"] for r in rows] == expected


def test_scan_history_window_of_full_rows(api: runs_client.Api) -> None:
    rows = list(
        scan_run(api, "sparse").scan_history(page_size=7, min_step=95, max_step=110)
    )
    assert rows == sparse_rows()[95:110]


def test_scan_history_page_size_smaller_than_the_gaps(make_api: ApiFactory) -> None:
    api = make_api()
    run = scan_run(api, "gappy")
    requests = record_requests(api)
    rows = list(run.scan_history(page_size=50))
    assert rows == [{"_step": s, "v": s} for s in GAPPY_STEPS]
    assert all(type(r["_step"]) is int for r in rows)  # 900.0 came back as 900
    # Fixed windows of 50 steps took ceil(2501 / 50) = 51 requests for these
    # 6 rows; adaptive windows grow over the gaps.
    assert set(requests.operations) == {"RunHistoryWindow"}
    assert len(requests.operations) <= 6
    assert list(run.scan_history(keys=["v"], page_size=1000, min_step=2)) == [
        {"v": 250},
        {"v": 251},
        {"v": 900},
        {"v": 2500},
    ]


def test_scan_history_of_a_run_without_history_sends_nothing(
    make_api: ApiFactory,
) -> None:
    api = make_api()
    run = scan_run(api, "blank")
    requests = record_requests(api)
    assert list(run.scan_history()) == []
    assert list(run.scan_history(keys=["loss"], page_size=1)) == []
    assert requests.operations == []


def test_scan_history_of_listed_runs(api: runs_client.Api) -> None:
    runs = {r.id: r for r in api.runs(SCAN)}
    assert sorted(runs) == ["blank", "gappy", "sparse"]
    assert [r["v"] for r in runs["gappy"].scan_history(page_size=300)] == list(
        GAPPY_STEPS
    )


# -- Runs.histories --------------------------------------------------------------


def with_run_id(specs: list[Spec]) -> list[dict[str, Any]]:
    return [{**row, "run_id": s.id} for s in specs for row in s.history]


def test_histories_default_is_every_row_with_run_id(make_api: ApiFactory) -> None:
    api = make_api()
    runs = api.runs(HAND, per_page=10, include_sweeps=False)
    rows = runs.histories()
    ordered = [BY_ID[r.id] for r in runs]
    assert [s.id for s in ordered] == [
        s.id for s in sorted(SPECS, key=lambda s: (s.created_at, s.id))
    ]
    assert_rows(rows, with_run_id(ordered))
    assert len(rows) == sum(len(s.history) for s in SPECS) == 396


def test_histories_pandas(api: runs_client.Api) -> None:
    frame = api.runs(HAND, filters=SOME).histories(format="pandas")
    expected = with_run_id(SOME_SPECS)
    assert len(frame) == len(expected)
    assert frame.columns[0] == "run_id"
    assert set(frame.columns) == {
        "run_id",
        "_step",
        "_runtime",
        "_timestamp",
        "loss",
        "acc",
        "text",
        "img",
    }
    assert frame["run_id"].tolist() == [r["run_id"] for r in expected]
    assert frame["_step"].dtype == np.int64
    assert frame["_step"].tolist() == [r["_step"] for r in expected]
    for column in ("loss", "acc", "_runtime", "_timestamp"):
        assert frame[column].dtype == np.float64, column
        got = frame[column].tolist()
        want = [r.get(column, math.nan) for r in expected]
        assert all(same_json(g, w) for g, w in zip(got, want, strict=True)), column
    loss0 = frame.loc[frame["run_id"] == SPECS[0].id, "loss"].tolist()
    assert math.isnan(loss0[1]) and loss0[2] == math.inf
    assert frame["text"].dtype == object
    assert frame["text"].tolist() == [r.get("text") for r in expected]
    images = [None if v is None else json.loads(v) for v in frame["img"].tolist()]
    assert images == [r.get("img") for r in expected]  # JSON text (was dicts)
    assert frame["img"].notna().sum() == 1


def test_histories_polars(api: runs_client.Api) -> None:
    frame = api.runs(HAND, filters=SOME).histories(format="polars")
    expected = with_run_id(SOME_SPECS)
    assert isinstance(frame, pl.DataFrame)
    assert frame.height == len(expected)
    assert frame.columns[0] == "run_id"
    assert frame.schema["run_id"] == pl.String
    assert frame.schema["_step"] == pl.Int64
    assert frame.schema["loss"] == pl.Float64
    assert frame.schema["acc"] == pl.Float64
    assert frame.schema["text"] == pl.String
    assert frame["run_id"].to_list() == [r["run_id"] for r in expected]
    assert frame["_step"].to_list() == [r["_step"] for r in expected]
    # Missing values are null; NaN and Infinity stay float values.
    assert frame["acc"].to_list() == [r.get("acc") for r in expected]
    loss = frame["loss"].to_list()
    assert math.isnan(loss[1]) and loss[2] == math.inf
    assert loss[3:] == [r["loss"] for r in expected][3:]
    assert frame["loss"].null_count() == 0
    assert frame["text"].to_list() == [r.get("text") for r in expected]
    # Media as JSON text (was pl.Object), so the frame writes to Parquet/CSV.
    assert frame.schema["img"] == pl.String
    img = [None if v is None else json.loads(v) for v in frame["img"].to_list()]
    assert img == [r.get("img") for r in expected]


def test_histories_keys_and_rule(api: runs_client.Api) -> None:
    runs = api.runs(HAND, filters=SOME)
    rows = runs.histories(keys=["loss", "acc"])
    expected = [
        {**r, "run_id": s.id}
        for s in SOME_SPECS
        for r in project(s.history, ["_step", "loss", "acc"])
    ]
    assert_rows(rows, expected)
    assert {r["run_id"] for r in rows} == {SPECS[0].id, SPECS[6].id}
    frame = runs.histories(keys=["text"], format="pandas")
    assert frame.columns.tolist() == ["run_id", "_step", "text"]
    assert frame["text"].tolist() == [
        r["text"] for s in SOME_SPECS for r in s.history if "text" in r
    ]
    polars = runs.histories(keys=["acc"], format="polars")
    assert polars.columns == ["run_id", "_step", "acc"]
    assert polars["acc"].to_list() == [r["acc"] for r in expected]


def test_histories_system_stream(api: runs_client.Api) -> None:
    runs = api.runs(HAND, filters=SOME)
    rows = runs.histories(stream="system")
    expected = [
        {**e, "run_id": s.id}
        for s in SOME_SPECS
        for e in sorted(s.events, key=lambda e: e["_timestamp"])
    ]
    assert rows == expected
    frame = runs.histories(format="polars", stream="system")
    # Sorted, run_id first, as the official SDK sorts them (was first-seen).
    assert frame.columns == ["run_id", "_runtime", "_timestamp", "system.cpu"]
    assert frame["system.cpu"].to_list() == [e["system.cpu"] for e in expected]


def test_histories_samples_per_run(api: runs_client.Api) -> None:
    rows = api.runs(HAND, filters=SOME).histories(samples=3, keys=["loss"])
    # Each run keeps its first and last row and one between: 3 of 5..11 rows.
    by_run: dict[str, list[int]] = {}
    for row in rows:
        by_run.setdefault(row["run_id"], []).append(row["_step"])
    assert list(by_run) == [s.id for s in SOME_SPECS]
    for spec in SOME_SPECS:
        steps = by_run[spec.id]
        assert len(steps) == 3
        assert steps[0] == 0 and steps[-1] == len(spec.history) - 1
        assert 0 < steps[1] < steps[-1]


def test_histories_of_no_runs(api: runs_client.Api) -> None:
    runs = api.runs(HAND, filters={"state": "pending"})
    assert runs.histories() == []
    assert len(runs.histories(format="pandas")) == 0
    assert runs.histories(format="polars").height == 0
