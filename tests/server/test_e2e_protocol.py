"""HTTP protocol details: operationName, variables, headers, gzip, timing."""
# ruff: noqa: E501  (GraphQL documents read best on one line)

from __future__ import annotations

import gzip
import json

import httpx
import pytest
from graphql import get_introspection_query

from runs_server.http.app import RunsServerApp, ServerConfig
from runs_server.http.replies import compresses as _compresses
from runs_server.http.serving import BackgroundServer
from tests.server.conftest import Gql, Live

pytestmark = pytest.mark.e2e

VIEWER = "query Viewer { viewer { username entity } }"


@pytest.mark.parametrize("operation_name", ["absent", None, "", "Viewer"])
def test_operation_name_variants(http: httpx.Client, operation_name: object) -> None:
    body: dict[str, object] = {"query": VIEWER}
    if operation_name != "absent":
        body["operationName"] = operation_name
    response = http.post("/graphql", json=body)
    assert response.status_code == 200
    assert response.json() == {
        "data": {"viewer": {"username": "demo", "entity": "demo"}}
    }


def test_operation_name_picks_among_several(gql: Gql) -> None:
    doc = VIEWER + " query Other { viewer { email } }"
    assert gql(doc, operationName="Other")["data"] == {
        "viewer": {"email": "demo@example.com"}
    }
    assert "operation" in gql(doc)["errors"][0]["message"]


def test_variables_absent_null_and_extra(gql: Gql) -> None:
    query = 'query P($e: String = "demo") { project(name: "mnist", entityName: $e) { name } }'
    expected = {"project": {"name": "mnist"}}
    assert gql(query)["data"] == expected
    assert gql(query, variables=None)["data"] == expected
    assert gql(query, {"e": "demo", "undeclared": 1, "sweep": "x"})["data"] == expected


def test_unknown_headers_ignored(http: httpx.Client) -> None:
    headers = {
        "Use-Admin-Privileges": "true",
        "X-Wandb-Username": "whoever",
        "X-Junk": "1",
    }
    response = http.post("/graphql", json={"query": VIEWER}, headers=headers)
    assert response.status_code == 200
    assert response.json()["data"]["viewer"]["username"] == "demo"


GZIP_QUERY = '{ project(name: "mnist", entityName: "demo") { runs(first: 20) { edges { node { config } } } } }'


def test_gzip_when_accepted(live_server: Live) -> None:
    # The live server's clients are on loopback, where "auto" skips gzip
    # (it would cost more than it saves): "always" shows the gzip path.
    app = RunsServerApp(live_server.store, ServerConfig(compress="always"))
    with BackgroundServer(app) as server:
        _check_gzip(f"{server.url}/graphql", GZIP_QUERY)


def test_no_gzip_on_loopback_by_default(live_server: Live) -> None:
    raw = httpx.post(
        live_server.graphql_url,
        json={"query": GZIP_QUERY},
        headers={"Accept-Encoding": "gzip"},
    )
    assert "content-encoding" not in raw.headers
    assert len(raw.json()["data"]["project"]["runs"]["edges"]) == 20


@pytest.mark.parametrize(
    ("mode", "client", "size", "accept", "expected"),
    [
        ("auto", ("10.1.2.3", 5000), 5000, "gzip", True),
        ("auto", ("127.0.0.1", 5000), 5000, "gzip", False),
        ("auto", ("::1", 5000), 5000, "gzip", False),
        ("auto", None, 5000, "gzip", True),
        ("auto", ("10.1.2.3", 5000), 100, "gzip", False),
        ("auto", ("10.1.2.3", 5000), 5000, "identity", False),
        ("always", ("127.0.0.1", 5000), 5000, "gzip", True),
        ("always", ("127.0.0.1", 5000), 5000, "identity", False),
        ("never", ("10.1.2.3", 5000), 5000, "gzip", False),
    ],
)
def test_gzip_decision(
    mode: str, client: object, size: int, accept: str, expected: bool
) -> None:
    assert _compresses(mode, client, size, accept) is expected


def _check_gzip(url: str, query: str) -> None:
    raw = httpx.post(
        url,
        json={"query": query},
        headers={"Accept-Encoding": "gzip"},
    )
    assert raw.headers["content-encoding"] == "gzip"
    assert len(raw.json()["data"]["project"]["runs"]["edges"]) == 20
    plain = httpx.post(
        url,
        json={"query": query},
        headers={"Accept-Encoding": "identity"},
    )
    assert "content-encoding" not in plain.headers
    assert plain.json() == raw.json()
    # and the bytes really are gzip
    with httpx.stream(
        "POST",
        url,
        json={"query": query},
        headers={"Accept-Encoding": "gzip"},
    ) as streamed:
        body = b"".join(streamed.iter_raw())
    assert json.loads(gzip.decompress(body)) == plain.json()


def test_server_timing_on_every_response(http: httpx.Client) -> None:
    for response in (
        http.post("/graphql", json={"query": VIEWER}),
        http.post("/graphql", json={"query": "{ nope }"}),
        http.post("/graphql", content=b"not json"),
        http.get("/graphql"),
        http.get("/elsewhere"),
    ):
        timing = response.headers["server-timing"]
        assert timing.startswith("app;dur="), timing
        assert float(timing.split("dur=")[1].split(";")[0]) >= 0


def test_introspection_available(gql: Gql) -> None:
    body = gql(get_introspection_query(descriptions=True))
    assert "errors" not in body
    names = {t["name"] for t in body["data"]["__schema"]["types"]}
    assert {"Run", "Project", "RunConnection", "JSONString", "Int64"} <= names


def test_bad_requests_are_4xx_with_errors(http: httpx.Client) -> None:
    json_type = {"Content-Type": "application/json"}
    not_json = http.post("/graphql", content=b"{nope", headers=json_type)
    assert not_json.status_code == 400
    assert "not JSON" in not_json.json()["errors"][0]["message"]
    not_object = http.post("/graphql", json=[1, 2])
    assert not_object.status_code == 400
    assert http.get("/graphql").status_code == 405
    assert http.get("/nowhere").status_code == 404
    assert http.get("/healthz").json() == {"ok": True}


def test_graphql_errors_are_http_200(gql: Gql) -> None:
    assert "Cannot query field" in gql("{ nope }")["errors"][0]["message"]
    assert gql("{ viewer { ")["errors"]
    body = gql("{ viewer { id } }", variables=None, operationName=5)
    assert body["errors"]
