"""Sweep: typed attributes from SweepByName, fetch_sweep, app URLs."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import runs_gql

from runs_client._exceptions import NotFoundError
from runs_client.sweep import Sweep, app_url, fetch_sweep
from tests.client_unit.runs_fake_server import (  # noqa: F401  (fixtures)
    ENTITY,
    PROJECT,
    FakeWandb,
    client_fixture,
    fake_fixture,
    make_sweep,
)


def test_fetch_sweep_attributes(client: runs_gql.Client, fake: FakeWandb) -> None:
    fake.sweeps = {"sw1": make_sweep("sw1")}
    sweep = fetch_sweep(client, ENTITY, PROJECT, "sw1")
    assert isinstance(sweep, Sweep)
    assert fake.calls == {"SweepByName": 1}
    assert fake.bodies[0]["variables"]["name"] == "sw1"
    assert (sweep.id, sweep.name, sweep.display_name) == (
        "sweep-sw1",
        "sw1",
        "Sweep sw1",
    )
    assert (sweep.method, sweep.state, sweep.description) == ("bayes", "FINISHED", None)
    assert sweep.config == {"method": "bayes", "metric": {"name": "loss"}}
    assert sweep.best_loss == 0.05
    assert (sweep.run_count, sweep.run_count_expected) == (5, 10)
    assert sweep.created_at == datetime(2024, 5, 1, 10, tzinfo=timezone.utc)
    assert sweep.updated_at is None
    assert sweep.path == [ENTITY, PROJECT, "sw1"]
    assert sweep.url == f"https://api.test/{ENTITY}/{PROJECT}/sweeps/sw1"
    assert repr(sweep) == f"<Sweep {ENTITY}/{PROJECT}/sw1 (FINISHED)>"


def test_yaml_config_parsed(client: runs_gql.Client, fake: FakeWandb) -> None:
    # W&B stores sweep configs as YAML; the text stays in raw_config.
    text = "method: grid\nmetric:\n  name: acc\n  goal: maximize\n"
    fake.sweeps = {"sw1": {**make_sweep("sw1"), "config": text}}
    sweep = fetch_sweep(client, ENTITY, PROJECT, "sw1")
    assert sweep is not None
    assert sweep.config == {
        "method": "grid",
        "metric": {"name": "acc", "goal": "maximize"},
    }
    assert sweep.raw_config == text


@pytest.mark.parametrize("text", ["- a list\n", "method: [unclosed\n", "just text"])
def test_config_that_is_no_mapping_is_empty(
    client: runs_gql.Client, fake: FakeWandb, text: str
) -> None:
    fake.sweeps = {"sw1": {**make_sweep("sw1"), "config": text}}
    sweep = fetch_sweep(client, ENTITY, PROJECT, "sw1")
    assert sweep is not None and sweep.config == {} and sweep.raw_config == text


def test_missing_sweep_is_none(client: runs_gql.Client, fake: FakeWandb) -> None:
    assert fetch_sweep(client, ENTITY, PROJECT, "nope") is None


def test_missing_project(client: runs_gql.Client, fake: FakeWandb) -> None:
    fake.project_exists = False
    with pytest.raises(NotFoundError, match=f"{ENTITY}/{PROJECT}"):
        fetch_sweep(client, ENTITY, PROJECT, "sw1")


@pytest.mark.parametrize(
    ("api", "app"),
    [
        ("https://api.wandb.ai", "https://wandb.ai"),
        ("https://api.wandb.ai/graphql", "https://wandb.ai"),
        ("http://localhost:8080/graphql", "http://localhost:8080"),
        ("https://wandb.corp.example/", "https://wandb.corp.example"),
    ],
)
def test_app_url(api: str, app: str) -> None:
    assert app_url(api) == app
