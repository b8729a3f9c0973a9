"""HTTP Basic api:<key> auth, open loopback mode and private projects."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from runs_server.http.app import RunsServerApp, ServerConfig
from runs_server.http.serving import BackgroundServer
from tests.server.conftest import TESTER_KEY, Live

pytestmark = pytest.mark.e2e

VIEWER = {"query": "{ viewer { username } }"}
SECRET = {"query": '{ project(name: "secret", entityName: "alice") { name runCount } }'}


def alice_key(live: Live) -> str:
    user = live.store.users.by_name("alice")
    assert user is not None and user.api_key is not None
    return user.api_key


def test_open_loopback_acts_as_demo_user(live_server: Live) -> None:
    response = httpx.post(live_server.graphql_url, json=VIEWER)
    assert response.json() == {"data": {"viewer": {"username": "demo"}}}


def test_valid_key_acts_as_its_user(live_server: Live) -> None:
    response = httpx.post(
        live_server.graphql_url, json=VIEWER, auth=("api", TESTER_KEY)
    )
    assert response.json()["data"]["viewer"]["username"] == "tester"


def test_unknown_key_acts_as_demo_user_when_open(live_server: Live) -> None:
    # Was 401 (test_wrong_key_is_401_even_when_open): an open server now takes
    # any well-formed key as the default user, as the banner says.
    response = httpx.post(
        live_server.graphql_url, json=VIEWER, auth=("api", "a-cloud-key")
    )
    assert response.json() == {"data": {"viewer": {"username": "demo"}}}


@pytest.mark.parametrize(
    "auth_header", ["Basic !!!", "Bearer token", "Basic YXBp", "Basic w6k="]
)
def test_malformed_authorization_is_401_even_when_open(
    live_server: Live, auth_header: str
) -> None:
    response = httpx.post(
        live_server.graphql_url, json=VIEWER, headers={"Authorization": auth_header}
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")
    assert response.json()["errors"][0]["message"]


def test_private_project_visible_only_to_members(live_server: Live) -> None:
    anonymous = httpx.post(live_server.graphql_url, json=SECRET).json()
    assert anonymous == {"data": {"project": None}}
    other = httpx.post(live_server.graphql_url, json=SECRET, auth=("api", TESTER_KEY))
    assert other.json() == {"data": {"project": None}}
    owner = httpx.post(
        live_server.graphql_url, json=SECRET, auth=("api", alice_key(live_server))
    )
    assert owner.json() == {"data": {"project": {"name": "secret", "runCount": 3}}}


@pytest.fixture(scope="module")
def locked(live_server: Live) -> Iterator[BackgroundServer]:
    app = RunsServerApp(live_server.store, ServerConfig(require_auth=True))
    with BackgroundServer(app) as server:
        yield server


def test_require_auth_refuses_requests_without_key(locked: BackgroundServer) -> None:
    response = httpx.post(locked.graphql_url, json=VIEWER)
    assert response.status_code == 401
    assert "api" in response.json()["errors"][0]["message"]


def test_require_auth_accepts_valid_key(
    locked: BackgroundServer, live_server: Live
) -> None:
    response = httpx.post(
        locked.graphql_url, json=VIEWER, auth=("api", live_server.demo_key)
    )
    assert response.json() == {"data": {"viewer": {"username": "demo"}}}
    wrong = httpx.post(locked.graphql_url, json=VIEWER, auth=("api", "x" * 40))
    assert wrong.status_code == 401
