"""Fields, arguments and nullability the server serves as W&B does (issue 18):
``config(keys:)``, ``summaryMetrics(keys:)``, ``computeSeconds``,
``Project.entity``/``updatedAt``, ``Entity.isTeam``, ``User.photoUrl``, paged
``users`` and ``teams``, ``viewer(entityName:)``, non-null ``User.name`` and
``Sweep.method``/``state``/``config``."""
# ruff: noqa: E501  (GraphQL documents read best on one line)

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from runs_server.http.app import RunsServerApp
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store
from tests.server.conftest import errors_of, parse_body

pytestmark = pytest.mark.e2e

KEY = "k" * 40


@pytest.fixture(scope="module")
def post() -> Iterator[Any]:
    store = Store()
    store.users.create("ann", api_key=KEY, name="Ann", teams=["lab", "zoo"])
    store.users.create("bob", email="bob@example.com")  # stored without a name
    store.users.create("bobby", name="Bobby", teams=["lab"])
    for i in range(5):
        store.users.create(f"user{i}", email=f"u{i}@example.com")
    store.projects.create("ann", "p", created_at="2024-01-01T00:00:00")
    store.projects.create("lab", "shared", created_at="2024-02-01T00:00:00")
    store.runs.add(
        "ann/p",
        "r1",
        config={"lr": 0.1, "batch": 32, "opt": {"name": "adam"}},
        summary={"loss": 0.5, "acc": float("nan"), "epoch": 3},
        user="bob",
        created_at="2024-01-01T00:00:00",
        heartbeat_at="2024-01-01T01:00:30",
        updated_at="2024-03-05T00:00:00",
    )
    store.runs.add("ann/p", "r2", created_at="2024-01-02T00:00:00")
    store.projects.create_sweep("ann/p", "s1", method=None, state=None, config=None)
    store.projects.create_sweep(
        "ann/p", "s2", method=None, config=json.dumps({"method": "grid"})
    )
    server = BackgroundServer(RunsServerApp(store)).start()
    with httpx.Client(base_url=server.url, timeout=30, auth=("api", KEY)) as client:

        def run(query: str, **variables: Any) -> Any:
            response = client.post(
                "/graphql", json={"query": query, "variables": variables}
            )
            assert response.status_code == 200, response.text
            return parse_body(response.content)

        yield run
    server.stop()
    store.close()


RUN = '{ project(name: "p", entityName: "ann") { run(name: "r1") { %s } } }'


def test_config_and_summary_keys_return_only_those_keys(post: Any) -> None:
    run = post(
        RUN
        % 'config(keys: ["lr", "opt", "absent"]) summaryMetrics(keys: ["acc", "epoch"]) all: config'
    )
    run = run["data"]["project"]["run"]
    assert json.loads(run["config"]) == {
        "lr": {"value": 0.1, "desc": None},
        "opt": {"value": {"name": "adam"}, "desc": None},
    }
    summary = json.loads(run["summaryMetrics"])
    assert set(summary) == {"acc", "epoch"} and summary["epoch"] == 3
    assert summary["acc"] != summary["acc"]  # NaN kept, as a bare token
    assert set(json.loads(run["all"])) == {"lr", "batch", "opt"}


def test_no_keys_is_an_empty_object(post: Any) -> None:
    run = post(RUN % "config(keys: []) summaryMetrics(keys: [])")
    run = run["data"]["project"]["run"]
    assert (run["config"], run["summaryMetrics"]) == ("{}", "{}")


def test_keys_cut_the_stored_text_keeping_values_as_written(post: Any) -> None:
    # A summary without NaN takes the raw path: values spliced as stored.
    run = post(
        '{ project(name: "p", entityName: "ann") { run(name: "r1") { '
        'config(keys: ["opt", "lr", "opt", "lr.x"]) } } }'
    )["data"]["project"]["run"]
    assert run["config"] == (
        '{"opt":{"value":{"name":"adam"},"desc":null},"lr":{"value":0.1,"desc":null}}'
    )


def test_server_info_advertises_its_page_cap(post: Any) -> None:
    body = post("{ serverInfo { maxPageSize } }")
    assert body["data"]["serverInfo"]["maxPageSize"] == 1000
    # ... and holds to it: one run more per page is refused.
    refused = post(
        '{ project(name: "p", entityName: "ann") { runs(first: 1001) { edges { node { name } } } } }'
    )
    assert "first must be between 0 and 1000" in errors_of(refused)


def test_compute_seconds_and_user_of_a_run(post: Any) -> None:
    body = post(
        '{ project(name: "p", entityName: "ann") { runs { edges { node { name computeSeconds '
        "user { id name username photoUrl } } } } } }"
    )
    nodes = {
        e["node"]["name"]: e["node"] for e in body["data"]["project"]["runs"]["edges"]
    }
    assert nodes["r1"]["computeSeconds"] == 3630
    assert nodes["r2"]["computeSeconds"] == 0  # no heartbeat yet
    # User.name is non-null on W&B: a user stored without one shows its username.
    assert nodes["r1"]["user"]["name"] == "bob"
    assert nodes["r1"]["user"]["photoUrl"] is None


def test_project_entity_and_updated_at(post: Any) -> None:
    body = post(
        '{ a: project(name: "p", entityName: "ann") { updatedAt entity { id name isTeam } } '
        'b: project(name: "shared", entityName: "lab") { updatedAt entity { name isTeam } } }'
    )
    a, b = body["data"]["a"], body["data"]["b"]
    assert a["entity"]["name"] == "ann" and a["entity"]["isTeam"] is False
    assert a["updatedAt"] == "2024-03-05T00:00:00"  # its latest run change
    assert b["entity"] == {"name": "lab", "isTeam": True}
    assert b["updatedAt"] == "2024-02-01T00:00:00"  # no runs: its creation


def test_viewer_takes_entity_name_and_pages_its_teams(post: Any) -> None:
    body = post(
        '{ viewer(entityName: "lab") { username teams(first: 2) { edges { cursor node { name isTeam } } } } }'
    )
    viewer = body["data"]["viewer"]
    assert viewer["username"] == "ann"
    edges = viewer["teams"]["edges"]
    assert [(e["node"]["name"], e["node"]["isTeam"]) for e in edges] == [
        ("ann", False),
        ("lab", True),
    ]
    rest = post(
        "query($after: String) { viewer { teams(first: 2, after: $after) { edges { node { name } } } } }",
        after=edges[-1]["cursor"],
    )
    assert [e["node"]["name"] for e in rest["data"]["viewer"]["teams"]["edges"]] == [
        "zoo"
    ]


def test_users_pages_with_exact_matches_first(post: Any) -> None:
    query = (
        "query($q: String, $after: String, $first: Int) { users(query: $q, after: $after, first: $first) "
        "{ pageInfo { endCursor hasNextPage } edges { cursor node { username name } } } }"
    )
    first = post(query, q="bob", first=1)["data"]["users"]
    assert [e["node"]["username"] for e in first["edges"]] == ["bob"]
    assert first["pageInfo"]["hasNextPage"] is True
    second = post(query, q="bob", first=1, after=first["pageInfo"]["endCursor"])[
        "data"
    ]["users"]
    assert [e["node"]["username"] for e in second["edges"]] == ["bobby"]
    assert second["pageInfo"]["hasNextPage"] is False
    seen, after, pages = [], None, 0
    while pages < 10:  # a guard: 6 users in pages of 2 take 3 pages
        page = post(query, q="example.com", first=2, after=after)["data"]["users"]
        seen += [e["node"]["username"] for e in page["edges"]]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == 3 and seen == ["bob"] + [f"user{i}" for i in range(5)]


def test_users_by_usernames_and_ids(post: Any) -> None:
    ids = post(
        '{ users(usernames: ["ann", "bobby", "nobody"]) { edges { node { id username } } } }'
    )
    nodes = [e["node"] for e in ids["data"]["users"]["edges"]]
    assert [n["username"] for n in nodes] == ["ann", "bobby"]
    again = post(
        "query($ids: [ID!]) { users(ids: $ids) { edges { node { username } } } }",
        ids=[nodes[1]["id"]],
    )
    assert [e["node"]["username"] for e in again["data"]["users"]["edges"]] == ["bobby"]
    bad = post('{ users(ids: ["nope"]) { edges { node { username } } } }')
    assert "users(ids:) takes User ids" in errors_of(bad)
    backwards = post('{ users(query: "b", last: 2) { edges { node { username } } } }')
    assert "users(before:, last:) are not supported" in errors_of(backwards)


def test_no_condition_lists_no_users(post: Any) -> None:
    body = post("{ users { pageInfo { hasNextPage } edges { node { username } } } }")
    assert body["data"]["users"] == {"pageInfo": {"hasNextPage": False}, "edges": []}


def test_sweep_fields_w_and_b_requires_are_never_null(post: Any) -> None:
    body = post(
        '{ project(name: "p", entityName: "ann") { s1: sweep(sweepName: "s1") { method state config runCount createdAt } '
        's2: sweep(sweepName: "s2") { method } } }'
    )
    project = body["data"]["project"]
    assert project["s1"]["method"] == "" and project["s1"]["state"] == ""
    assert project["s1"]["config"] == "{}" and project["s1"]["runCount"] == 0
    assert project["s1"]["createdAt"]
    assert project["s2"]["method"] == "grid"  # from its config


def test_all_views_is_an_empty_page(post: Any) -> None:
    body = post(
        '{ project(name: "p", entityName: "ann") { allViews(viewType: "runs", first: 50) '
        "{ totalCount edges { cursor node { id name spec user { username } } } "
        "pageInfo { endCursor hasNextPage } } } }"
    )
    assert body["data"]["project"]["allViews"] == {
        "totalCount": 0,
        "edges": [],
        "pageInfo": {"endCursor": None, "hasNextPage": False},
    }
