"""Runs.histories: selection, row order, mixed keys and types, all three formats."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
import runs_gql

from runs_client._exceptions import InvalidArgumentError, NotFoundError
from runs_client.runs import Runs
from tests.client_unit.runs_fake_server import (  # noqa: F401  (fixtures)
    ENTITY,
    PROJECT,
    FakeWandb,
    client_fixture,
    fake_fixture,
    make_run,
)

IMG = {"_type": "image-file", "path": "media/images/a.png", "width": 8}


def line(**row: Any) -> str:
    # json.dumps writes nan/inf as bare NaN/Infinity, as W&B stores them.
    return json.dumps(row)


def seed_mixed(fake: FakeWandb) -> None:
    """Run a logs loss/acc/note/img; run b logs loss and val.acc and a list."""
    fake.runs = [make_run("a"), make_run("b"), make_run("quiet")]
    fake.history = {
        "a": [
            line(_step=0, loss=1.0, acc=math.inf, note="start", img=IMG),
            line(_step=1, loss=math.nan, acc=0.5, note="mid"),
            line(_step=2, loss=0.25, acc=-math.inf),
        ],
        # Sent out of order and with a float step: must come back sorted, int.
        "b": [
            line(_step=3.0, loss=0.5, lst=[1, 2]),
            line(**{"_step": 1, "loss": 0.75, "val.acc": 0.9}),
        ],
    }


def runs_of(client: runs_gql.Client, **kwargs: Any) -> Runs:
    return Runs(client, ENTITY, PROJECT, **kwargs)


# -- default format ----------------------------------------------------------


def test_default_format_rows(client: runs_gql.Client, fake: FakeWandb) -> None:
    seed_mixed(fake)
    rows = runs_of(client).histories()
    assert [(r["run_id"], r["_step"]) for r in rows] == [
        ("a", 0),
        ("a", 1),
        ("a", 2),
        ("b", 1),
        ("b", 3),
    ]
    assert isinstance(rows[4]["_step"], int)
    assert rows[0]["acc"] == math.inf and rows[2]["acc"] == -math.inf
    assert math.isnan(rows[1]["loss"])
    assert rows[0]["img"] == IMG
    assert rows[4]["lst"] == [1, 2]
    assert "note" not in rows[3]  # default rows are what each run logged


def test_one_bulk_request_for_all_runs(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    # One page of runs with their history: no RunsPage, no per-run request.
    seed_mixed(fake)
    runs_of(client, per_page=2).histories(samples=100)
    assert fake.calls == {"RunsHistoryPage": 1}
    (sent,) = [b["variables"] for b in fake.bodies]
    # Runs per request by the row budget (32,000 full rows), not by per_page.
    assert sent["samples"] == 100 and sent["perPage"] == 320


def test_histories_keeps_iteration_position(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    seed_mixed(fake)
    runs = runs_of(client)
    assert runs.next().id == "a"
    runs.histories()
    assert runs.next().id == "b"


def test_keys_use_sampled_history_with_x_axis(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    seed_mixed(fake)
    rows = runs_of(client).histories(samples=20, keys=["loss", "acc"])
    specs = [json.loads(spec) for b in fake.bodies for spec in b["variables"]["specs"]]
    assert specs == [{"keys": ["_step", "loss", "acc"], "samples": 20}]
    assert fake.calls == {"RunsSampledHistoryPage": 1}
    # AND rule: only run a's rows hold both keys; rows hold just those keys.
    assert [set(r) for r in rows] == [{"_step", "loss", "acc", "run_id"}] * 3
    assert [r["run_id"] for r in rows] == ["a", "a", "a"]


def test_keys_with_custom_x_axis(client: runs_gql.Client, fake: FakeWandb) -> None:
    seed_mixed(fake)
    rows = runs_of(client).histories(keys=["loss"], x_axis="acc")
    assert [r["acc"] for r in rows] == [math.inf, 0.5, -math.inf]  # step order
    spec = json.loads(fake.bodies[0]["variables"]["specs"][0])
    assert spec["keys"] == ["acc", "loss"]


def test_x_axis_among_keys_is_asked_once(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    seed_mixed(fake)
    runs_of(client).histories(keys=["_step", "loss"])
    spec = json.loads(fake.bodies[0]["variables"]["specs"][0])
    assert spec["keys"] == ["_step", "loss"]


def test_system_stream_uses_events_by_timestamp(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    fake.runs = [make_run("a"), make_run("b")]
    fake.events = {
        "a": [
            line(_timestamp=20.0, _runtime=2, **{"system.cpu": 50.0}),
            line(_timestamp=10.0, _runtime=1, **{"system.cpu": 40.0}),
        ],
        "b": [line(_timestamp=5.0, **{"system.gpu.0.gpu": 99})],
    }
    rows = runs_of(client).histories(stream="system", x_axis="ignored")
    assert fake.calls == {"RunsEventsPage": 1}
    assert [(r["run_id"], r["_timestamp"]) for r in rows] == [
        ("a", 10.0),
        ("a", 20.0),
        ("b", 5.0),
    ]
    frame = runs_of(client).histories(stream="system", format="pandas")
    assert "_step" not in frame.columns
    assert frame["system.gpu.0.gpu"].isna().tolist() == [True, True, False]


# -- pandas ------------------------------------------------------------------


def test_pandas_one_frame_all_columns(client: runs_gql.Client, fake: FakeWandb) -> None:
    seed_mixed(fake)
    frame = runs_of(client).histories(format="pandas")
    assert isinstance(frame, pd.DataFrame)
    # Sorted, run_id first, as the official SDK sorts them (was first-seen).
    assert list(frame.columns) == [
        "run_id",
        "_step",
        "acc",
        "img",
        "loss",
        "lst",
        "note",
        "val.acc",
    ]
    assert frame["run_id"].tolist() == ["a", "a", "a", "b", "b"]
    assert frame["_step"].tolist() == [0, 1, 2, 1, 3]
    assert frame["_step"].dtype == np.int64
    assert frame["loss"].dtype == np.float64
    assert math.isnan(frame["loss"][1])
    assert frame["acc"].tolist()[:3] == [math.inf, 0.5, -math.inf]
    assert frame["acc"][3:].isna().all()
    assert frame["val.acc"].dtype == np.float64
    assert frame["val.acc"].isna().tolist() == [True, True, True, False, True]
    assert frame["note"].dtype == object
    assert frame["note"].tolist() == ["start", "mid", None, None, None]
    assert json.loads(frame["img"][0]) == IMG  # JSON text (was the dict)
    assert frame["lst"][4] == "[1,2]"
    assert frame.attrs["json_columns"] == ["img", "lst"]
    assert list(frame.index) == [0, 1, 2, 3, 4]


def test_pandas_positional_format(client: runs_gql.Client, fake: FakeWandb) -> None:
    seed_mixed(fake)
    frame = runs_of(client).histories(500, None, "_step", "pandas")
    assert len(frame) == 5


# -- polars ------------------------------------------------------------------


def test_polars_one_frame_all_columns(client: runs_gql.Client, fake: FakeWandb) -> None:
    seed_mixed(fake)
    frame = runs_of(client).histories(format="polars")
    assert isinstance(frame, pl.DataFrame)
    assert frame.columns == [
        "run_id",
        "_step",
        "acc",
        "img",
        "loss",
        "lst",
        "note",
        "val.acc",
    ]
    assert frame.schema["run_id"] == pl.String
    assert frame.schema["_step"] == pl.Int64
    assert frame.schema["loss"] == pl.Float64
    assert frame.schema["note"] == pl.String
    assert frame.schema["img"] == pl.String  # JSON text (was pl.Object)
    assert frame["_step"].to_list() == [0, 1, 2, 1, 3]
    assert frame["run_id"].to_list() == ["a", "a", "a", "b", "b"]
    loss = frame["loss"].to_list()
    assert math.isnan(loss[1]) and loss[4] == 0.5
    assert frame["acc"].to_list() == [math.inf, 0.5, -math.inf, None, None]
    assert frame["val.acc"].to_list() == [None, None, None, 0.9, None]
    assert json.loads(frame["img"].to_list()[0]) == IMG
    assert json.loads(frame["lst"].to_list()[4]) == [1, 2]
    # Numeric work on the frame does what users expect.
    assert frame.filter(pl.col("run_id") == "b")["loss"].mean() == 0.625


def test_polars_mixed_types_in_one_column(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    fake.runs = [make_run("a"), make_run("b")]
    fake.history = {
        "a": [line(_step=0, v=1.5), line(_step=1, v="text")],
        "b": [line(_step=0, v=IMG), line(_step=1, v=[1, "x"]), line(_step=2, v=True)],
    }
    frame = runs_of(client).histories(format="polars")
    assert frame.schema["v"] == pl.String  # JSON text (was pl.Object)
    assert [json.loads(v) for v in frame["v"].to_list()] == [
        1.5, "text", IMG, [1, "x"], True
    ]  # fmt: skip
    frame_pd = runs_of(client).histories(format="pandas")
    assert frame_pd["v"].dtype == object  # JSON text too (was Python values)
    assert frame_pd["v"].tolist() == frame["v"].to_list()
    assert frame_pd.attrs["json_columns"] == ["v"]


def test_polars_missing_says_how_to_install(
    client: runs_gql.Client, fake: FakeWandb, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_mixed(fake)
    monkeypatch.setitem(sys.modules, "polars", None)  # import now fails
    with pytest.raises(
        InvalidArgumentError, match=r"pip install runs-client\[polars\]"
    ):
        runs_of(client).histories(format="polars")
    assert fake.total == 0


# -- empty results -----------------------------------------------------------


@pytest.mark.parametrize("with_runs", [False, True], ids=["no-runs", "no-history"])
def test_empty_results(
    client: runs_gql.Client, fake: FakeWandb, with_runs: bool
) -> None:
    if with_runs:
        fake.runs = [make_run("a")]
    assert runs_of(client).histories() == []
    frame = runs_of(client).histories(format="pandas")
    assert list(frame.columns) == ["run_id"] and len(frame) == 0
    frame_pl = runs_of(client).histories(format="polars")
    assert frame_pl.columns == ["run_id"] and frame_pl.height == 0
    assert frame_pl.schema["run_id"] == pl.String


def test_missing_project(client: runs_gql.Client, fake: FakeWandb) -> None:
    fake.project_exists = False
    with pytest.raises(NotFoundError, match=f"{ENTITY}/{PROJECT}"):
        runs_of(client).histories()


# -- argument checks: all before any request ---------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"format": "csv"}, "format must be"),
        ({"format": None}, "format must be"),
        ({"stream": "gpu"}, "stream must be"),
        ({"keys": "loss"}, "keys must be a list of strings"),
        ({"keys": ("loss",)}, "keys must be a list of strings"),
        ({"keys": ["loss", 3]}, "keys must be a list of strings"),
        ({"keys": ["loss"], "stream": "system"}, "keys cannot be combined"),
        ({"keys": [], "stream": "system"}, "keys cannot be combined"),
        ({"samples": 0}, "samples must be a positive integer"),
        ({"samples": -5}, "samples must be a positive integer"),
        ({"samples": "500"}, "samples must be a positive integer"),
        ({"samples": 2.5}, "samples must be a positive integer"),
        ({"x_axis": None}, "x_axis must be"),
        ({"x_axis": ""}, "x_axis must be"),
    ],
)
def test_invalid_arguments_send_nothing(
    client: runs_gql.Client, fake: FakeWandb, kwargs: dict[str, Any], match: str
) -> None:
    seed_mixed(fake)
    with pytest.raises(InvalidArgumentError, match=match):
        runs_of(client).histories(**kwargs)
    assert fake.total == 0
