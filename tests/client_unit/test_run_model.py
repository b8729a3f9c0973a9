"""Run: typed attributes from RunFields, url/path/repr, and fetch_run."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest
import runs_gql

from runs_client._exceptions import NotFoundError
from runs_client.run import Run, RunUser
from runs_client.runs import fetch_run
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


def build(client: runs_gql.Client, **extra: Any) -> Run:
    fields = runs_gql.RunFields.model_validate(make_run("abc123", **extra))
    return Run(client, ENTITY, PROJECT, fields)


def test_identity_and_names(client: runs_gql.Client) -> None:
    run = build(client)
    assert run.id == "abc123"
    assert run.storage_id == "storage-abc123"
    assert run.name == run.display_name == "name-abc123"
    assert run.entity == ENTITY and run.project == PROJECT
    assert run.path == [ENTITY, PROJECT, "abc123"]
    assert repr(run) == f"<Run {ENTITY}/{PROJECT}/abc123 (finished)>"


def test_config_unwrapped_without_internal_keys(client: runs_gql.Client) -> None:
    run = build(client)
    assert run.config == {"lr": 0.01, "layers": [64, 32], "plain": 3}
    assert run.rawconfig["lr"] == {"value": 0.01, "desc": None}
    assert run.rawconfig["_wandb"] == {"value": {"cli_version": "0.18.0"}}


def test_config_wandb_version_left_out(client: runs_gql.Client) -> None:
    config = json.dumps({"wandb_version": 1, "a": {"value": {"value": 2}}})
    run = build(client, config=config)
    assert run.config == {"a": {"value": 2}}  # unwrapped once only


def test_summary_and_system_metrics_parsed_with_nan(client: runs_gql.Client) -> None:
    run = build(client)
    assert run.summary["loss"] == 0.1
    assert math.isnan(run.summary["best"])
    assert run.system_metrics == {"system.cpu": 12.5}


def test_summary_with_raw_control_characters(client: runs_gql.Client) -> None:
    # W&B has stored summaries with unescaped tabs/newlines in strings; the SDK
    # parses them (json.loads strict=False) instead of failing the whole listing.
    run = build(client, summaryMetrics='{"note": "a\tb\nc", "best": NaN}')
    assert run.summary["note"] == "a\tb\nc"
    assert math.isnan(run.summary["best"])


def test_null_json_fields_are_empty(client: runs_gql.Client) -> None:
    run = build(
        client,
        config=None,
        summaryMetrics=None,
        systemMetrics="",
        tags=None,
        historyKeys=None,
        user=None,
        state=None,
    )
    assert run.config == run.rawconfig == run.summary == run.system_metrics == {}
    assert run.tags == []
    assert run.history_keys == {} and run.last_step is None
    assert run.user is None
    assert run.state == "unknown"


def test_plain_attributes(client: runs_gql.Client) -> None:
    run = build(client, sweep="sw1")
    assert run.state == "finished"
    assert run.tags == ["baseline"]
    assert (run.group, run.job_type, run.notes) == ("g1", "train", "a note")
    assert (run.commit, run.host, run.description) == ("deadbeef", "gpu-1", None)
    assert run.sweep_name == "sw1"
    assert run.sweep is None
    assert run.history_keys["lastStep"] == 9
    assert run.last_step == 9
    assert run.history_line_count == 10
    assert run.read_only is False and run.project_id == 7
    assert run.user == RunUser(name="Ada", username="ada")


def test_datetimes_are_utc_aware(client: runs_gql.Client) -> None:
    run = build(client)
    assert run.created_at == datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    assert run.heartbeat_at == datetime(2024, 5, 1, 13, tzinfo=timezone.utc)
    assert run.created_at.tzinfo is not None
    assert run.updated_at is None


def test_last_step_from_float(client: runs_gql.Client) -> None:
    run = build(client, historyKeys={"lastStep": 41.0, "keys": {}})
    assert run.last_step == 41


@pytest.mark.parametrize(
    ("api_url", "app"),
    [
        ("https://api.wandb.ai/graphql", "https://wandb.ai"),
        ("https://api.wandb.ai/graphql/", "https://wandb.ai"),
        ("https://wandb.example.com/graphql", "https://wandb.example.com"),
        ("http://127.0.0.1:8080/graphql", "http://127.0.0.1:8080"),
        ("https://host.test/prefix/graphql", "https://host.test/prefix"),
    ],
)
def test_url_from_api_url(api_url: str, app: str) -> None:
    with httpx.Client() as http:
        client = runs_gql.Client(url=api_url, http_client=http)
        run = build(client)
    assert run.url == f"{app}/{ENTITY}/{PROJECT}/runs/abc123"


# -- fetch_run -----------------------------------------------------------------


def test_fetch_run(client: runs_gql.Client, fake: FakeWandb) -> None:
    fake.runs = [make_run("abc123")]
    run = fetch_run(client, ENTITY, PROJECT, "abc123")
    assert isinstance(run, Run) and run.id == "abc123"
    assert fake.calls == {"RunByName": 1}
    assert fake.bodies[0]["variables"]["name"] == "abc123"


def test_fetch_run_with_its_sweep(client: runs_gql.Client, fake: FakeWandb) -> None:
    fake.runs = [make_run("abc123", sweep="sw1")]
    fake.sweeps = {"sw1": make_sweep("sw1")}
    run = fetch_run(client, ENTITY, PROJECT, "abc123")
    assert isinstance(run.sweep, Sweep) and run.sweep.name == "sw1"
    assert fake.calls == {"RunByName": 1, "SweepByName": 1}
    run = fetch_run(client, ENTITY, PROJECT, "abc123", include_sweeps=False)
    assert run.sweep is None
    assert fake.calls["SweepByName"] == 1


def test_fetch_run_missing_run_names_path(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    with pytest.raises(NotFoundError, match=f"Run {ENTITY}/{PROJECT}/nope not found"):
        fetch_run(client, ENTITY, PROJECT, "nope")


def test_fetch_run_missing_project_names_path(
    client: runs_gql.Client, fake: FakeWandb
) -> None:
    fake.project_exists = False
    with pytest.raises(NotFoundError, match=f"Project {ENTITY}/{PROJECT} not found"):
        fetch_run(client, ENTITY, PROJECT, "abc123")
