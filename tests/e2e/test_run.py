"""``Run`` attributes, ``Api.run`` path forms and sweeps, against runs_server."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import runs_client
from runs_client import AsyncSweep, Run, Sweep

from .conftest import (
    BY_ID,
    E2E_KEY,
    ENTITY,
    HAND,
    SPECS,
    SWEEPS,
    ApiFactory,
    Server,
    Spec,
    record_requests,
)

pytestmark = pytest.mark.e2e


def same_json(a: Any, b: Any) -> bool:
    """Equality where NaN equals NaN (and inf keeps its sign)."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(same_json, a, b))
    return type(a) is type(b) and a == b


def assert_matches(run: Run, spec: Spec, base_url: str) -> None:
    assert run.id == spec.id
    assert run.name == run.display_name == spec.display_name
    assert run.state == spec.state
    assert run.entity == ENTITY and run.project == "hand"
    assert run.path == [ENTITY, "hand", spec.id]
    assert run.url == f"{base_url}/{ENTITY}/hand/runs/{spec.id}"
    plain = {k: v for k, v in spec.config.items() if k != "_wandb"}
    assert run.config == plain
    assert "_wandb" not in run.config
    assert run.rawconfig == {
        k: {"value": v, "desc": None} for k, v in spec.config.items()
    }
    assert same_json(run.summary, spec.summary), run.summary
    assert run.tags == spec.tags
    assert run.group == spec.group
    assert run.job_type == spec.job_type
    assert run.created_at == spec.created_at.replace(tzinfo=timezone.utc)
    assert run.created_at.utcoffset() == timedelta(0)
    assert run.heartbeat_at == spec.heartbeat_at.replace(tzinfo=timezone.utc)
    assert run.user == runs_client.RunUser(name="End To End", username="e2e")
    assert run.sweep_name == spec.sweep
    assert run.last_step == len(spec.history) - 1
    assert run.history_line_count == len(spec.history)
    expected_system = {"system.cpu": spec.index + 10.0} if spec.events else {}
    assert run.system_metrics == expected_system


def test_every_attribute_of_every_run(api: runs_client.Api, server: Server) -> None:
    runs = list(api.runs(HAND, per_page=10))
    assert len(runs) == len(SPECS)
    for run in runs:
        assert_matches(run, BY_ID[run.id], server.url)


def test_storage_ids_are_distinct_and_opaque(api: runs_client.Api) -> None:
    runs = list(api.runs(HAND))
    storage_ids = {r.storage_id for r in runs}
    assert len(storage_ids) == len(runs)
    assert not storage_ids & {r.id for r in runs}
    assert api.run(f"{HAND}/{runs[3].id}").storage_id == runs[3].storage_id


def test_nan_and_infinities_in_summary_survive(api: runs_client.Api) -> None:
    by_id = {r.id: r for r in api.runs(HAND, filters={"config.seed": {"$lt": 3}})}
    weird = [by_id[s.id].summary["weird"] for s in SPECS[:3]]
    assert math.isnan(weird[0])
    assert weird[1:] == [math.inf, -math.inf]


def sweep_specs() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for spec in SPECS:
        if spec.sweep:
            out.setdefault(spec.sweep, []).append(spec.id)
    return out


def test_include_sweeps_fetches_each_distinct_sweep_once(
    make_api: ApiFactory, server: Server
) -> None:
    api = make_api()
    requests = record_requests(api)
    runs = [run for run in api.runs(HAND, per_page=5)]  # no len() hint: no RunCount
    assert requests.count("SweepByName") == len(SWEEPS) == 2
    assert requests.count("RunsPage") == 5  # ceil(24 / 5)
    assert len(requests.operations) == 7
    for run in runs:
        spec = BY_ID[run.id]
        if spec.sweep is None:
            assert run.sweep is None
            continue
        sweep = run.sweep
        assert isinstance(sweep, (Sweep, AsyncSweep))
        assert sweep.name == spec.sweep
        assert sweep.display_name == SWEEPS[spec.sweep]
        assert sweep.method == "grid"
        assert sweep.config == {
            "method": "grid",
            "parameters": {"lr": {"values": [0.1, 0.01, 0.001, 0.0001]}},
        }
        assert sweep.best_loss == 0.5
        assert sweep.path == [ENTITY, "hand", spec.sweep]
        assert sweep.url == f"{server.url}/{ENTITY}/hand/sweeps/{spec.sweep}"
    # Runs of one sweep share one Sweep object.
    for members in sweep_specs().values():
        objects = {id(r.sweep) for r in runs if r.id in members}
        assert len(objects) == 1
    # A new collection asks again, once per sweep.
    requests.clear()
    assert len([run for run in api.runs(HAND, per_page=5)]) == len(SPECS)
    assert sorted(requests.operations) == ["RunsPage"] * 5 + ["SweepByName"] * 2


@pytest.mark.sync_only
def test_include_sweeps_false_sends_no_sweep_request(make_api: ApiFactory) -> None:
    api = make_api()
    requests = record_requests(api)
    runs = list(api.runs(HAND, per_page=5, include_sweeps=False))
    # list() asks len() for a size hint first: one RunCount.
    assert requests.operations == ["RunCount"] + ["RunsPage"] * 5
    assert all(r.sweep is None for r in runs)
    assert {r.id: r.sweep_name for r in runs} == {s.id: s.sweep for s in SPECS}


RUN_ID = SPECS[4].id  # in sweep sw1


@pytest.mark.parametrize(
    "path",
    [
        f"{ENTITY}/hand/{RUN_ID}",
        f"{ENTITY}/hand/runs/{RUN_ID}",
        f"{ENTITY}/hand:{RUN_ID}",
        f"hand/{RUN_ID}",
        f"  {ENTITY}/hand/{RUN_ID}  ",
    ],
)
def test_api_run_path_forms(make_api: ApiFactory, server: Server, path: str) -> None:
    # "project/run_id" takes the viewer's entity: e2e, the key's owner.
    api = make_api()
    requests = record_requests(api)
    run = api.run(path)
    assert_matches(run, SPECS[4], server.url)
    assert isinstance(run.sweep, (Sweep, AsyncSweep)) and run.sweep.name == "sw1"
    viewer = ["Viewer"] if path.startswith("hand/") else []
    assert requests.operations == [*viewer, "RunByName", "SweepByName"]


@pytest.mark.sync_only
def test_default_entity_is_asked_once(make_api: ApiFactory) -> None:
    api = make_api()
    requests = record_requests(api)
    assert len(api.runs("hand")) == len(SPECS)
    api.run(f"hand/{SPECS[2].id}")
    assert requests.count("Viewer") == 1
    assert api.default_entity == ENTITY


def test_api_default_entity_argument_skips_the_viewer(make_api: ApiFactory) -> None:
    api = make_api(default_entity=ENTITY)
    requests = record_requests(api)
    assert api.run(f"hand/{SPECS[2].id}").id == SPECS[2].id
    assert requests.operations == ["RunByName"]


def test_api_sweep(api: runs_client.Api) -> None:
    sweep = api.sweep(f"{HAND}/sw2")
    assert (sweep.name, sweep.display_name, sweep.method) == (
        "sw2",
        "second-sweep",
        "grid",
    )
    assert sweep.created_at == datetime(2024, 5, 1, tzinfo=timezone.utc)


def test_demo_project_through_the_open_server_without_a_key(
    server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    # No key on an open loopback server: the server acts as the demo user.
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    with runs_client.Api(api_key=None, base_url=server.url) as api:
        requests = record_requests(api)
        assert api.viewer.username == "demo"
        runs = api.runs("mnist", per_page=100)
        assert len(runs) == 320
        first = runs[0]
        start = datetime(2024, 3, 1, 9, tzinfo=timezone.utc)
        assert start <= first.created_at <= start + timedelta(minutes=40)
        assert "_wandb" in first.rawconfig and "_wandb" not in first.config
        assert first.config["seed"] == 0
        assert first.sweep is not None and first.sweep.name == "swp1abcd"
        assert requests.operations == [
            "Viewer",
            "RunCount",
            "RunsPage",
            "SweepByName",
            "SweepByName",
        ]
        sent = api.client.http_client.headers
        assert "authorization" not in {k.lower() for k in sent}


def test_base_url_with_a_trailing_slash(make_api: ApiFactory, server: Server) -> None:
    api = make_api(base_url=server.url + "/")
    assert api.base_url == server.url
    run = api.run(f"{HAND}/{SPECS[5].id}")
    assert run.url == f"{server.url}/{HAND}/runs/{SPECS[5].id}"


def test_listed_and_fetched_runs_agree(api: runs_client.Api) -> None:
    listed = {r.id: r for r in api.runs(HAND)}
    for spec in (SPECS[0], SPECS[13]):
        fetched = api.run(f"{HAND}/{spec.id}")
        a, b = vars(fetched), vars(listed[spec.id])
        assert a.keys() == b.keys()
        for key in a.keys() - {"client", "sweep"}:
            assert same_json(a[key], b[key]) or a[key] == b[key], key
        assert (fetched.sweep and fetched.sweep.name) == spec.sweep


def test_repr_and_key(make_api: ApiFactory) -> None:
    api = make_api()
    assert E2E_KEY not in repr(api)
    run = api.run(f"{HAND}/{SPECS[0].id}")
    assert repr(run) == f"<Run {HAND}/{SPECS[0].id} (finished)>"
