"""Run writes against a respx fake: what update, delete, stop and create_run
send (operation, variables with the SDKs' names), what they return, and the
mistakes refused before anything is sent; every case for ``Api`` and for
``AsyncApi`` (respx's async mocks, through ``either_api``'s sync view)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from runs_client import (
    AuthenticationError,
    GraphQLError,
    InvalidArgumentError,
    ServerError,
)
from tests.client_unit.runs_fake_server import make_run
from tests.e2e.either_api import make_either

URL = "https://api.test/graphql"


class Fake:
    """Answers the write operations and RunByName; records every body."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.node = make_run("abc123")

    def sent(self, op: str) -> list[dict[str, Any]]:
        return [b["variables"] for b in self.bodies if b["operationName"] == op]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        op, variables = body["operationName"], body.get("variables") or {}
        if op == "RunByName":
            return httpx.Response(200, json={"data": {"project": {"run": self.node}}})
        if op == "UpsertBucket" and variables.get("entity") == "nokey":
            return httpx.Response(401, json={"errors": [{"message": "no key"}]})
        if op == "UpsertBucket":
            if variables.get("entity") == "forbidden":
                error = {"message": "user 'ada' is not a member of entity 'forbidden'"}
                return httpx.Response(200, json={"data": None, "errors": [error]})
            if variables.get("name"):
                self.node = make_run(variables["name"], state=variables["state"])
            for variable, key in (
                ("config", "config"),
                ("summaryMetrics", "summaryMetrics"),
                ("tags", "tags"),
                ("notes", "notes"),
                ("displayName", "displayName"),
                ("groupName", "group"),
            ):
                if variables.get(variable) is not None:
                    self.node[key] = variables[variable]
            payload = {"bucket": self.node, "inserted": bool(variables.get("name"))}
            return httpx.Response(200, json={"data": {"upsertBucket": payload}})
        if op == "DeleteRun" and variables.get("id") == "storage-gone":
            error = {"message": "run not found", "path": ["deleteRun"]}
            return httpx.Response(200, json={"data": None, "errors": [error]})
        if op == "StopRun" and variables.get("id") == "storage-busy":
            return httpx.Response(503, json={"errors": [{"message": "busy"}]})
        if op == "DeleteRun":
            result = {"deleteRun": {"clientMutationId": None}}
            return httpx.Response(200, json={"data": result})
        if op == "StopRun":
            return httpx.Response(200, json={"data": {"stopRun": {"success": True}}})
        return httpx.Response(400, json={"errors": [{"message": f"no {op}"}]})


@pytest.fixture
def fake() -> Iterator[Fake]:
    server = Fake()
    with respx.mock(assert_all_called=False) as router:
        router.post(URL).mock(side_effect=server)
        yield server


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest) -> Iterator[Any]:
    """An ``Api``, or an ``AsyncApi`` whose every call is awaited."""
    client = make_either(
        request.param, api_key="k" * 40, base_url="https://api.test", max_retries=0
    )
    yield client
    client.close()


def test_update_sends_upsert_bucket_by_storage_id_and_shows_the_result(
    fake: Fake, api: Any
) -> None:
    run = api.run("ada/mnist/abc123")
    run.update(
        config={"lr": 0.5, "new": [1, 2]},
        summary={"loss": math.nan, "extra": 1},
        tags=["a", "b"],
        notes="n2",
        name="renamed",
        group="g2",
    )
    (sent,) = fake.sent("UpsertBucket")
    assert sent["id"] == "storage-abc123" and "name" not in sent
    config = json.loads(sent["config"])
    # given keys set (wrapped, as W&B stores them); the others and _wandb kept
    assert config["lr"] == {"value": 0.5, "desc": None}
    assert config["new"] == {"value": [1, 2], "desc": None}
    assert config["_wandb"] == {"value": {"cli_version": "0.18.0"}}
    assert config["layers"] == {"value": [64, 32]}
    assert '"loss":NaN' in sent["summaryMetrics"]  # W&B's bare token
    assert json.loads(sent["summaryMetrics"])["best"] != 0  # kept (NaN)
    assert (sent["tags"], sent["notes"], sent["displayName"], sent["groupName"]) == (
        ["a", "b"],
        "n2",
        "renamed",
        "g2",
    )
    assert run.config["lr"] == 0.5 and run.config["new"] == [1, 2]
    assert run.tags == ["a", "b"] and run.name == "renamed" and run.group == "g2"
    assert math.isnan(run.summary["loss"]) and run.summary["extra"] == 1


def test_update_sends_only_what_is_given(fake: Fake, api: Any) -> None:
    run = api.run("ada/mnist/abc123")
    run.update(tags=[])
    (sent,) = fake.sent("UpsertBucket")
    assert sent == {"id": "storage-abc123", "tags": []}
    assert run.tags == []


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"config": [1]}, r"config=\[1\] is not accepted"),
        ({"config": {1: 2}}, "dict with str keys"),
        ({"summary": {"x": object()}}, "JSON cannot encode"),
        ({"tags": "one"}, "not one str"),
        ({"tags": ["a", 1]}, "every tag must be a str"),
        ({"notes": 3}, "notes=3 is not accepted"),
    ],
)
def test_update_mistakes_are_refused_before_sending(
    fake: Fake, api: Any, kwargs: dict[str, Any], words: str
) -> None:
    run = api.run("ada/mnist/abc123")
    with pytest.raises(InvalidArgumentError, match=words):
        run.update(**kwargs)
    assert fake.sent("UpsertBucket") == []


def test_delete_and_stop_send_the_storage_id(fake: Fake, api: Any) -> None:
    run = api.run("ada/mnist/abc123")
    run.stop()
    run.delete()
    assert fake.sent("StopRun") == [{"id": "storage-abc123"}]
    assert fake.sent("DeleteRun") == [{"id": "storage-abc123"}]


def test_create_run_sends_what_the_sdk_sends_and_returns_the_run(
    fake: Fake, api: Any
) -> None:
    run = api.create_run(
        run_id="fresh1",
        project="proj",
        entity="ada",
        config={"seed": 7},
        tags=["t"],
    )
    (sent,) = fake.sent("UpsertBucket")
    assert (sent["name"], sent["project"], sent["entity"], sent["state"]) == (
        "fresh1",
        "proj",
        "ada",
        "running",
    )
    assert json.loads(sent["config"]) == {"seed": {"value": 7, "desc": None}}
    assert (run.id, run.entity, run.project, run.state) == (
        "fresh1",
        "ada",
        "proj",
        "running",
    )
    assert run.tags == ["t"]


def test_create_run_defaults_to_uncategorized_and_a_random_id(
    fake: Fake, api: Any
) -> None:
    api.create_run(entity="ada", state="pending")
    (sent,) = fake.sent("UpsertBucket")
    assert sent["project"] == "uncategorized" and sent["state"] == "pending"
    assert len(sent["name"]) == 8


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"state": "finished"}, "state='finished' is not accepted"),
        ({"run_id": ""}, "run_id='' is not accepted"),
        ({"project": 5}, "project=5 is not accepted"),
    ],
)
def test_create_run_mistakes_are_refused_before_sending(
    fake: Fake, api: Any, kwargs: dict[str, Any], words: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=words):
        api.create_run(entity="ada", **kwargs)
    assert fake.bodies == []


def test_a_refused_write_is_a_graphql_error_with_the_servers_message(
    fake: Fake, api: Any
) -> None:
    with pytest.raises(GraphQLError, match="not a member of entity 'forbidden'"):
        api.create_run(entity="forbidden", project="p")


def test_refused_deletes_and_stops_raise_and_change_nothing_here(
    fake: Fake, api: Any
) -> None:
    fake.node = make_run("gone")
    gone = api.run("ada/mnist/gone")
    with pytest.raises(GraphQLError, match="run not found"):
        gone.delete()
    fake.node = make_run("busy")
    busy = api.run("ada/mnist/busy")
    with pytest.raises(ServerError):
        busy.stop()  # 503, max_retries=0: one attempt
    assert fake.sent("StopRun") == [{"id": "storage-busy"}]
    assert (gone.id, busy.id) == ("gone", "busy")


def test_a_write_without_a_valid_key_is_an_authentication_error(
    fake: Fake, api: Any
) -> None:
    with pytest.raises(AuthenticationError):
        api.create_run(entity="nokey", project="p", run_id="r")
    assert len(fake.sent("UpsertBucket")) == 1  # 401 is never retried
