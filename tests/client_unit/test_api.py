"""Api: settings, headers, default entity, path forms, argument checks."""

from __future__ import annotations

import base64
import json
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from runs_client._exceptions import (
    AuthenticationError,
    InvalidArgumentError,
    NotFoundError,
    RunsClientError,
)
from runs_client.api import Api
from runs_client.transport.constants import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT
from runs_client.transport.retrying import RetryingClient

BASE = "https://api.wandb.ai"
URL = BASE + "/graphql"
KEY = "0123456789abcdef0123456789abcdef01234567"


def run_node(name: str = "abc123") -> dict[str, Any]:
    return {
        "id": "UnVuOjE=",
        "name": name,
        "displayName": "brave-fox-1",
        "state": "finished",
        "config": json.dumps({"lr": {"value": 0.01}, "_wandb": {"value": {}}}),
        "summaryMetrics": json.dumps({"loss": 0.1}),
        "systemMetrics": "{}",
        "historyKeys": {"lastStep": 9, "keys": {}},
        "historyLineCount": 10,
        "tags": ["a"],
        "group": None,
        "jobType": None,
        "commit": None,
        "host": None,
        "notes": None,
        "description": None,
        "sweepName": None,
        "readOnly": False,
        "projectId": 1,
        "createdAt": "2024-05-01T12:00:00",
        "heartbeatAt": "2024-05-01T13:00:00",
        "updatedAt": "2024-05-01T13:00:00",
        "user": {"name": "Alice", "username": "alice"},
    }


VIEWER = {
    "viewer": {
        "id": "u1",
        "entity": "alice",
        "username": "alice",
        "name": "Alice",  # non-null on W&B (weave's wb_schema.gql, SDK 0.31)
        "email": None,
        "flags": None,
        "teams": None,
    }
}


class FakeServer:
    """Answers by operationName and records what was asked."""

    def __init__(self, viewer: dict[str, Any] | None = None) -> None:
        self.viewer = VIEWER if viewer is None else viewer
        self.requests: list[httpx.Request] = []

    def ops(self) -> list[str]:
        return [json.loads(r.content).get("operationName") for r in self.requests]

    def variables(self, op: str) -> list[dict[str, Any]]:
        bodies = [json.loads(r.content) for r in self.requests]
        return [b["variables"] for b in bodies if b.get("operationName") == op]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = json.loads(request.content)
        op = body.get("operationName")
        if op == "Viewer":
            return httpx.Response(200, json={"data": self.viewer})
        if op == "RunByName":
            name = body["variables"]["name"]
            run = None if name == "missing" else run_node(name)
            return httpx.Response(200, json={"data": {"project": {"run": run}}})
        return httpx.Response(400, json={"errors": [{"message": f"no {op}"}]})


@pytest.fixture
def server(respx_mock: respx.MockRouter) -> FakeServer:
    fake = FakeServer()
    respx_mock.post(URL).mock(side_effect=fake)
    respx_mock.post("http://localhost:8080/graphql").mock(side_effect=fake)
    return fake


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"api:{key}".encode()).decode()


# -- settings and headers ----------------------------------------------------


def test_defaults() -> None:
    with Api() as api:
        assert api.base_url == BASE
        assert isinstance(api.client, RetryingClient)
        assert api.client.url == URL
        assert api.client.max_retries == DEFAULT_MAX_RETRIES
        assert api._http.timeout == DEFAULT_TIMEOUT
        assert api._http.trust_env


def test_key_sent_as_basic_auth(server: FakeServer) -> None:
    with Api(KEY) as api:
        api.viewer  # noqa: B018
    [request] = server.requests
    assert request.headers["Authorization"] == basic(KEY)
    assert request.headers["Accept-Encoding"] == "gzip"
    assert request.headers["User-Agent"].startswith("runs-client/")


def test_no_key_sends_no_authorization_header(server: FakeServer) -> None:
    with Api() as api:
        api.viewer  # noqa: B018
    [request] = server.requests
    assert "authorization" not in request.headers


def test_key_precedence_reaches_the_wire(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.wandb.ai login user password netrckey\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    seen = []
    for env_key, arg_key in [(None, None), ("envkey", None), ("envkey", "argkey")]:
        if env_key:
            monkeypatch.setenv("WANDB_API_KEY", env_key)
        with Api(arg_key) as api:
            api.viewer  # noqa: B018
        seen.append(server.requests[-1].headers["Authorization"])
    assert seen == [basic("netrckey"), basic("envkey"), basic("argkey")]


def test_netrc_host_is_the_base_urls(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.wandb.ai login user password hostedkey\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("WANDB_BASE_URL", "http://localhost:8080")
    with Api() as api:
        assert api.client.url == "http://localhost:8080/graphql"
        api.viewer  # noqa: B018
    assert "authorization" not in server.requests[-1].headers


def test_timeout_and_retries_pass_through(monkeypatch) -> None:
    monkeypatch.setenv("WANDB_HTTP_TIMEOUT", "7")
    with Api(max_retries=0) as api:
        assert api._http.timeout == httpx.Timeout(7.0)
        assert api.client.max_retries == 0
    with Api(timeout=httpx.Timeout(1.0, read=30.0)) as api:
        assert api._http.timeout.read == 30.0


def test_verify_and_proxy_pass_through() -> None:
    ctx = ssl.create_default_context()
    with Api(verify=ctx, proxy="http://proxy.example:3128") as api:
        transport = api._http._transport_for_url(httpx.URL(URL))
        assert transport is not api._http._transport  # the proxy's transport


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"max_retries": True}, "max_retries"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": "60"}, "timeout"),
        ({"base_url": "api.wandb.ai"}, "base_url"),
        ({"default_entity": ""}, "default_entity"),
        ({"proxy": 3128}, "proxy"),
        ({"proxy": "proxy.example:3128"}, "proxy"),
        ({"proxy": "ftp://proxy.example:21"}, "proxy"),
        ({"proxy": ""}, "proxy"),
        ({"verify": 1}, "verify"),
    ],
)
def test_bad_settings(respx_mock, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        Api(**kwargs)
    assert respx_mock.calls.call_count == 0


def test_bad_proxy_message_says_what_is_accepted_and_hides_password() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        Api(proxy="htp://user:hunter2@proxy.example:3128")
    message = str(caught.value)
    assert "http://" in message and "socks5://" in message
    assert "hunter2" not in message


@pytest.mark.parametrize(
    "value", ["ftp://user:hunter2@proxy.example:21", "socks4://proxy.example:1080"]
)
def test_bad_proxy_from_environment(monkeypatch, value: str) -> None:
    monkeypatch.setenv("HTTPS_PROXY", value)
    with pytest.raises(InvalidArgumentError, match="HTTPS_PROXY") as caught:
        Api()
    assert "hunter2" not in str(caught.value)
    assert "http://" in str(caught.value)


def test_close_and_context_manager() -> None:
    api = Api()
    with api as entered:
        assert entered is api
    assert api._http.is_closed
    Api().close()


def test_use_after_close_says_so(server: FakeServer) -> None:
    # httpx's own RuntimeError ("the client has been closed") is not ours.
    with Api() as api:
        runs = api.runs("ent/proj")
    with pytest.raises(RunsClientError, match="closed") as info:
        runs[0]
    assert "with Api() as api" in str(info.value)
    with pytest.raises(RunsClientError, match="closed"):
        api.run("ent/proj/abc")
    assert server.ops() == []


# -- default entity ------------------------------------------------------------


def test_default_entity_asked_once_and_lazily(server: FakeServer) -> None:
    with Api() as api:
        api.runs("ent/proj")
        api.run("ent/proj/abc")
        assert server.ops() == ["RunByName"]  # no viewer: paths had an entity
        first = api.runs("proj")
        second = api.runs("proj2")
        api.run("proj/abc")
        assert api.default_entity == "alice"
    assert server.ops() == ["RunByName", "Viewer", "RunByName"]
    assert (first.entity, first.project) == ("alice", "proj")
    assert (second.entity, second.project) == ("alice", "proj2")
    assert server.variables("RunByName")[-1]["entity"] == "alice"


def test_default_entity_from_env_or_argument(server: FakeServer, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_ENTITY", "team")
    with Api() as api:
        assert api.runs("proj").entity == "team"
    with Api(default_entity="mine") as api:
        assert api.runs("proj").entity == "mine"
    assert server.requests == []


def test_no_viewer_is_an_authentication_error(respx_mock) -> None:
    fake = FakeServer(viewer={"viewer": None})
    respx_mock.post(URL).mock(side_effect=fake)
    with Api() as api, pytest.raises(AuthenticationError, match="no API key") as info:
        api.runs("proj")
    assert info.value.request is not None
    assert info.value.request.operation_name == "Viewer"


def test_viewer_without_entity(respx_mock) -> None:
    fake = FakeServer(viewer={"viewer": {**VIEWER["viewer"], "entity": None}})
    respx_mock.post(URL).mock(side_effect=fake)
    with Api(KEY) as api, pytest.raises(NotFoundError, match="WANDB_ENTITY"):
        api.runs("proj")


# -- runs() and run() ------------------------------------------------------------


def test_runs_passes_everything_to_runs(server: FakeServer) -> None:
    with Api() as api:
        runs = api.runs(
            "ent/proj",
            filters={"state": "finished"},
            order="-created_at",
            per_page=7,
            include_sweeps=False,
        )
    assert runs.client is api.client
    assert (runs.entity, runs.project) == ("ent", "proj")
    assert runs.filters == {"state": "finished"}
    assert (runs.order, runs.per_page, runs.include_sweeps) == ("-created_at", 7, False)
    assert server.requests == []  # building Runs sends nothing


def test_runs_defaults_match_the_sdk(server: FakeServer) -> None:
    with Api() as api:
        runs = api.runs("ent/proj")
    assert (runs.order, runs.per_page, runs.include_sweeps) == ("+created_at", 50, True)
    assert runs.filters is None


def test_runs_project_from_env(server: FakeServer, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_PROJECT", "ent/envproj")
    with Api() as api:
        assert api.runs().project == "envproj"


def test_runs_without_project(server: FakeServer) -> None:
    with Api() as api, pytest.raises(InvalidArgumentError, match="WANDB_PROJECT"):
        api.runs()
    assert server.requests == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"path": "a/b/c"}, "'entity/project'"),
        ({"path": ""}, "'entity/project'"),
        ({"filters": "state=finished"}, "filters of type str are not accepted"),
        ({"filters": {"created_at": object()}}, "not JSON-serialisable"),
        ({"filters": {"loss": float("nan")}}, "not JSON-serialisable"),
        ({"per_page": 0}, "per_page"),
        ({"per_page": 2.0}, "per_page"),
        ({"per_page": True}, "per_page"),
        ({"order": ""}, "order"),
        ({"order": None}, "order"),
        ({"include_sweeps": "yes"}, "include_sweeps"),
    ],
)
def test_runs_bad_arguments_send_nothing(
    server: FakeServer, kwargs: dict[str, Any], match: str
) -> None:
    kwargs.setdefault("path", "ent/proj")
    with Api() as api, pytest.raises(InvalidArgumentError, match=match) as info:
        api.runs(**kwargs)
    assert server.requests == []
    assert "accept" in str(info.value) or "use only" in str(info.value)


@pytest.mark.parametrize(
    "path",
    ["ent/proj/abc123", "ent/proj/runs/abc123", "ent/proj:abc123", "proj/abc123"],
)
def test_run_path_forms(server: FakeServer, path: str) -> None:
    with Api(default_entity="ent") as api:
        run = api.run(path)
    assert run.id == "abc123"
    assert server.ops() == ["RunByName"]
    assert server.variables("RunByName") == [
        {"entity": "ent", "project": "proj", "name": "abc123"}
    ]


def test_run_bad_path_sends_nothing(server: FakeServer) -> None:
    with Api() as api, pytest.raises(InvalidArgumentError, match="project/run_id"):
        api.run("abc123")
    assert server.requests == []


def test_missing_run_is_not_found(server: FakeServer) -> None:
    with Api() as api, pytest.raises(NotFoundError, match="ent/proj/missing"):
        api.run("ent/proj/missing")


def test_sweep_path_checked_before_request(server: FakeServer) -> None:
    with Api() as api, pytest.raises(InvalidArgumentError, match="sweep_id"):
        api.sweep("just-a-sweep")
    assert server.requests == []
