"""Run writes against a respx fake: what update, delete, stop and create_run
send (operation, variables with the SDKs' names), what they return, and the
mistakes refused before anything is sent."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from runs_client import Api, GraphQLError, InvalidArgumentError
from tests.client_unit.runs_fake_server import make_run

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


@pytest.fixture
def api() -> Iterator[Api]:
    with Api(api_key="k" * 40, base_url="https://api.test", max_retries=0) as client:
        yield client


def test_update_sends_upsert_bucket_by_storage_id_and_shows_the_result(
    fake: Fake, api: Api
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


def test_update_sends_only_what_is_given(fake: Fake, api: Api) -> None:
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
    fake: Fake, api: Api, kwargs: dict[str, Any], words: str
) -> None:
    run = api.run("ada/mnist/abc123")
    with pytest.raises(InvalidArgumentError, match=words):
        run.update(**kwargs)
    assert fake.sent("UpsertBucket") == []


def test_delete_and_stop_send_the_storage_id(fake: Fake, api: Api) -> None:
    run = api.run("ada/mnist/abc123")
    run.stop()
    run.delete()
    assert fake.sent("StopRun") == [{"id": "storage-abc123"}]
    assert fake.sent("DeleteRun") == [{"id": "storage-abc123"}]


def test_create_run_sends_what_the_sdk_sends_and_returns_the_run(
    fake: Fake, api: Api
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
    fake: Fake, api: Api
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
    fake: Fake, api: Api, kwargs: dict[str, Any], words: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=words):
        api.create_run(entity="ada", **kwargs)
    assert fake.bodies == []


def test_a_refused_write_is_a_graphql_error_with_the_servers_message(
    fake: Fake, api: Api
) -> None:
    with pytest.raises(GraphQLError, match="not a member of entity 'forbidden'"):
        api.create_run(entity="forbidden", project="p")
