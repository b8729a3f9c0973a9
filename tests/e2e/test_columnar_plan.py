"""Frames read through the names plan (``RunNames``, then Arrow pages by
name) equal the frames of the JSON path, for Api and AsyncApi: with filters
and orders, after runs the collection already loaded, and when the server
names only some runs at a time (its cap), each answer going on from the
cursor of the one before.

The JSON path (a client told the server offers no columnar pages) is the
oracle; the hand runs have different lengths, so pages hold both grids and
``_step`` columns.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

import runs_client
from runs_client.history import arrow_pages
from runs_server.http import columnar_endpoint
from tests.e2e.conftest import (
    E2E_KEY,
    HAND,
    N_HAND,
    Server,
    record_requests,
    start_server,
)
from tests.e2e.either_api import make_either


@pytest.fixture(scope="module")
def live() -> Iterator[Server]:
    server = start_server(demo=False)
    # Runs of one length, so that their pages carry a step grid.
    server.store.projects.create("e2e", "even")
    for i in range(7):
        run = server.store.runs.add("e2e/even", f"even{i}")
        rows = [{"_step": 5 * i + j, "loss": i + j / 8, "acc": j} for j in range(30)]
        server.store.history.log(run, rows, update_summary=False)
    yield server
    server.stop()


@pytest.fixture
def plain(live: Server) -> Iterator[runs_client.Api]:
    api = runs_client.Api(api_key=E2E_KEY, base_url=live.url)
    arrow_pages._COLUMNAR[api.client] = None  # as a server without the feature
    yield api
    api.close()


@pytest.fixture(params=["sync", "async"])
def columnar(request: pytest.FixtureRequest, live: Server) -> Iterator[Any]:
    api = make_either(request.param, api_key=E2E_KEY, base_url=live.url)
    yield api
    api.close()


CASES: list[dict[str, Any]] = [
    {"path": HAND, "order": "-config.x", "keys": ["loss"], "samples": 6},
    {"path": HAND, "filters": {"tags": "b"}, "keys": ["loss", "acc"], "samples": 9},
    {"path": HAND, "order": "+summary_metrics.y", "keys": None, "samples": 4},
    {"path": "e2e/even", "order": "-name", "keys": ["loss"], "samples": 7},
    {"path": "e2e/even", "keys": None, "samples": 500},
]


def _histories(api: Any, case: dict[str, Any], loaded: int = 0) -> pd.DataFrame:
    runs = api.runs(case["path"], filters=case.get("filters"),
                    order=case.get("order", "-created_at"), per_page=3)  # fmt: skip
    if loaded:  # the collection lists its first page before histories()
        assert len(runs[:loaded]) == loaded
    frame = runs.histories(keys=case["keys"], samples=case["samples"],
                           format="pandas", rows_per_request=40)  # fmt: skip
    assert isinstance(frame, pd.DataFrame)
    return frame


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_names_plan_frames_equal_json_frames(
    columnar: Any, plain: runs_client.Api, case: dict[str, Any]
) -> None:
    requests = record_requests(columnar)
    got = _histories(columnar, case)
    want = _histories(plain, case)
    pd.testing.assert_frame_equal(got, want)
    assert want["run_id"].nunique() > 1
    assert requests.count("RunNames") == 1
    pages = [o for o in requests.operations if o.startswith("Runs")]
    assert len(pages) > 1  # several pages, asked by name


def test_runs_loaded_first_then_named(columnar: Any, plain: runs_client.Api) -> None:
    case = CASES[0]
    requests = record_requests(columnar)
    got = _histories(columnar, case, loaded=3)
    pd.testing.assert_frame_equal(got, _histories(plain, case))
    assert got["run_id"].nunique() == N_HAND
    assert requests.count("RunNames") == 1


@pytest.mark.parametrize("case", [CASES[1], CASES[3]], ids=["filtered", "even"])
def test_names_past_the_cap_chain_through_end_cursors(
    columnar: Any,
    plain: runs_client.Api,
    monkeypatch: pytest.MonkeyPatch,
    case: dict[str, Any],
) -> None:
    """Past the server's cap the names come 2 an answer, each answer from
    the cursor of the one before; every page still goes by name."""
    monkeypatch.setattr(columnar_endpoint, "MAX_PLAN_NAMES", 2)
    requests = record_requests(columnar)
    got = _histories(columnar, case)
    pd.testing.assert_frame_equal(got, _histories(plain, case))
    assert got["run_id"].nunique() > 4
    listed = len(plain.runs(case["path"], filters=case.get("filters")))
    assert requests.count("RunNames") == (listed + 1) // 2
    plans = [v for o, v in zip(requests.operations, requests.variables, strict=True)
             if o == "RunNames"]  # fmt: skip
    assert "cursor" not in plans[0] and all("cursor" in v for v in plans[1:])
    pages = [v for o, v in zip(requests.operations, requests.variables, strict=True)
             if o.startswith("Runs")]  # fmt: skip
    assert pages and all("cursor" not in v for v in pages)  # all by name


def test_only_step_frames_equal_json_frames(
    columnar: Any, plain: runs_client.Api, live: Server
) -> None:
    """Runs logging only ``_step``: their pages keep a ``_step`` column."""
    if live.store.projects.find("e2e", "steps") is None:
        live.store.projects.create("e2e", "steps")
        for i in range(3):
            run = live.store.runs.add("e2e/steps", f"s{i}")
            rows = [{"_step": 10 * i + j} for j in range(5)]
            live.store.history.log(run, rows, update_summary=False)
    for keys in (["_step"], None):
        case = {"path": "e2e/steps", "order": "+name", "keys": keys, "samples": 500}
        got = _histories(columnar, case)
        pd.testing.assert_frame_equal(got, _histories(plain, case))
        assert got["_step"].tolist() == [*range(5), *range(10, 15), *range(20, 25)]
