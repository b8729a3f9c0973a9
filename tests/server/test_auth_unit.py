# ruff: noqa: E501
"""Unit tests of the auth rules and small HTTP helpers."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from runs_server.http.auth import (
    AuthError,
    api_key_from_header,
    authenticate,
    is_loopback,
)
from runs_server.http.replies import accepts_gzip as _accepts_gzip
from runs_server.store import Store
from tests.server.conftest import Live


def basic(user: str, key: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{key}".encode()).decode()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.4", False),
        ("::", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_api_key_from_header() -> None:
    assert api_key_from_header(None) is None
    assert api_key_from_header(basic("api", "k" * 40)) == "k" * 40
    assert api_key_from_header(basic("anyone", "key")) == "key"
    for bad in (
        "Bearer x",
        "Basic ***",
        "Basic \xff\xfe",
        "",
        "Basic",
        basic("api", ""),
        "Basic " + base64.b64encode(b"nocolon").decode(),
    ):
        with pytest.raises(AuthError):
            api_key_from_header(bad)


@pytest.mark.parametrize(
    "header",
    ["0123456789abcdef0123456789abcdef01234567", "local-0123456789abcdef:x y"],
)
def test_a_bare_key_sent_as_the_header_is_not_echoed(header: str) -> None:
    # A client that sends the raw key as the Authorization header must not get
    # it back in the 401 message, which clients show and log.
    with pytest.raises(AuthError) as caught:
        api_key_from_header(header)
    secret = header.partition(" ")[0]
    assert secret not in str(caught.value)
    assert secret[:8] not in str(caught.value)
    with pytest.raises(AuthError, match="'Bearer'"):
        api_key_from_header("Bearer x")  # a scheme name is still shown


def test_authenticate_rules() -> None:
    store = Store()
    demo = store.users.create("demo")
    other = store.users.create("other")
    assert other.api_key is not None
    assert authenticate(store, None, require_auth=False) == demo
    assert authenticate(store, basic("api", other.api_key), require_auth=False) == other
    assert authenticate(store, basic("api", other.api_key), require_auth=True) == other
    with pytest.raises(AuthError, match="requires an API key"):
        authenticate(store, None, require_auth=True)
    # Open means open: an unknown but well-formed key acts as the default user.
    assert authenticate(store, basic("api", "wrong"), require_auth=False) == demo
    with pytest.raises(AuthError, match="invalid API key"):
        authenticate(store, basic("api", "wrong"), require_auth=True)
    with pytest.raises(AuthError, match="malformed"):
        authenticate(store, "Basic !!!", require_auth=False)


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.8", True),
        ("*", True),
        ("gzip;q=0", False),
        ("gzip;q=x", False),
        ("identity", False),
        ("", False),
        ("*;q=0, gzip", True),
        ("gzip;q=0, *", False),
        ("deflate, *;q=0", False),
    ],
)
def test_accepts_gzip(header: str, accepted: bool) -> None:
    assert _accepts_gzip(header) is accepted


def test_parallel_requests(live_server: Live) -> None:
    query = {
        "query": '{ project(name: "mnist", entityName: "demo") { runs(first: 20) { edges { node { name history(samples: 10) } } } } }'
    }

    def fetch(_: int) -> int:
        response = httpx.post(live_server.graphql_url, json=query, timeout=30)
        assert "errors" not in response.json()
        return len(response.json()["data"]["project"]["runs"]["edges"])

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(fetch, range(32))) == [20] * 32
