"""Runs, projects, sweeps and paging over HTTP."""
# ruff: noqa: E501  (GraphQL documents read best on one line)

from __future__ import annotations

import base64
import json

import pytest

from tests.server.conftest import Gql, Live, errors_of

pytestmark = pytest.mark.e2e

RUN_FIELDS = """
  id name displayName state config summaryMetrics systemMetrics historyKeys
  historyLineCount tags group jobType commit host notes description sweepName
  readOnly projectId createdAt heartbeatAt updatedAt user { name username }
"""


def test_run_fields(gql: Gql) -> None:
    query = (
        '{ project(name: "exact", entityName: "test") { id internalId name entityName '
        'run(name: "cadence") {' + RUN_FIELDS + "} } }"
    )
    project = gql(query)["data"]["project"]
    assert (project["name"], project["entityName"]) == ("exact", "test")
    run = project["run"]
    assert base64.b64decode(run["id"]).decode() == "Run:v1:cadence:exact:test"
    assert run["name"] == "cadence" and run["displayName"] == "Cadence"
    assert json.loads(run["config"]) == {
        "lr": {"value": 0.1, "desc": None},
        "model": {"value": {"layers": 3}, "desc": None},
    }
    summary = json.loads(run["summaryMetrics"])
    assert summary["final"] == "done" and summary["_step"] == 99
    assert run["historyKeys"]["lastStep"] == 99
    assert set(run["historyKeys"]["keys"]) == {"_step", "loss", "val", "final"}
    assert run["historyKeys"]["keys"]["val"]["typeCounts"] == [
        {"type": "number", "count": 11}
    ]  # + step 3
    assert run["historyLineCount"] == 100
    assert run["tags"] == ["a", "b"]
    assert (run["group"], run["jobType"], run["commit"], run["host"]) == (
        "g",
        "train",
        "abc",
        "h1",
    )
    assert (run["notes"], run["description"], run["sweepName"]) == ("n", "d", None)
    assert run["createdAt"] == "2024-01-01T00:00:01"
    assert run["heartbeatAt"] == "2024-01-01T01:00:01"
    # W&B's User.name is non-null: a user stored without a name shows its username.
    assert run["user"] == {"name": "tester", "username": "tester"}
    assert run["readOnly"] is True  # the caller (demo) is not in entity test
    assert isinstance(run["projectId"], int)


def test_history_keys_of_run_without_history(gql: Gql) -> None:
    run = gql(
        '{ project(name: "exact", entityName: "test") { run(name: "empty") { historyKeys } } }'
    )
    assert run["data"]["project"]["run"]["historyKeys"] == {"lastStep": -1, "keys": {}}


def test_missing_things_are_null(gql: Gql) -> None:
    assert gql('{ project(name: "nope", entityName: "demo") { name } }')["data"] == {
        "project": None
    }
    assert gql('{ project(name: "mnist", entityName: "nobody") { name } }')["data"] == {
        "project": None
    }
    data = gql(
        '{ project(name: "mnist", entityName: "demo") { run(name: "zzz") { name } sweep(sweepName: "zzz") { name } } }'
    )
    assert data["data"]["project"] == {"run": None, "sweep": None}


def test_project_default_entity_is_viewers(gql: Gql) -> None:
    assert gql('{ project(name: "mnist") { entityName } }')["data"]["project"] == {
        "entityName": "demo"
    }


def test_sweep(gql: Gql) -> None:
    sweep = gql(
        '{ project(name: "mnist", entityName: "demo") { sweep(sweepName: "swp1abcd") '
        "{ id name displayName method state config bestLoss runCount runCountExpected createdAt } } }"
    )["data"]["project"]["sweep"]
    assert sweep["name"] == "swp1abcd" and sweep["method"] == "bayes"
    assert sweep["runCount"] == 40 == sweep["runCountExpected"]
    assert "method: bayes" in sweep["config"]


def test_viewer(gql: Gql) -> None:
    viewer = gql(
        "{ viewer { id entity username name email admin flags teams { edges { node { name } } } apiKeys { edges { node { name } } } } }"
    )["data"]["viewer"]
    assert viewer["entity"] == "demo" and viewer["username"] == "demo"
    assert json.loads(viewer["flags"]) == {}
    assert viewer["teams"]["edges"] == [{"node": {"name": "demo"}}]


PAGE = """query Page($cursor: String, $first: Int, $order: String, $filters: JSONString) {
  project(name: "mnist", entityName: "demo") {
    runCount(filters: $filters)
    runs(first: $first, after: $cursor, order: $order, filters: $filters) {
      totalCount
      edges { cursor node { name createdAt } }
      pageInfo { startCursor endCursor hasNextPage hasPreviousPage }
    }
  }
}"""


def _all_names(gql: Gql, **variables: object) -> list[str]:
    names: list[str] = []
    cursor = None
    while True:
        runs = gql(PAGE, {**variables, "cursor": cursor})["data"]["project"]["runs"]
        names += [e["node"]["name"] for e in runs["edges"]]
        if not runs["pageInfo"]["hasNextPage"]:
            return names
        assert runs["pageInfo"]["endCursor"] == runs["edges"][-1]["cursor"]
        cursor = runs["pageInfo"]["endCursor"]


def test_default_page_size_and_order(gql: Gql) -> None:
    runs = gql(PAGE)["data"]["project"]["runs"]
    assert len(runs["edges"]) == 50
    created = [e["node"]["createdAt"] for e in runs["edges"]]
    assert created == sorted(created)
    assert runs["totalCount"] == 320
    assert runs["pageInfo"]["hasNextPage"] and not runs["pageInfo"]["hasPreviousPage"]


@pytest.mark.parametrize(
    "filters",
    [
        None,
        '{"state": "finished"}',
        '{"$or": [{"tags": "best"}, {"config.lr": {"$lt": 0.001}}]}',
    ],
)
def test_paging_matches_run_count(gql: Gql, filters: str | None) -> None:
    names = _all_names(gql, first=37, filters=filters, order="-created_at")
    count = gql(PAGE, {"filters": filters, "first": 0})["data"]["project"]["runCount"]
    assert len(names) == len(set(names)) == count


def test_cursor_survives_runs_added_and_deleted(gql: Gql, live_server: Live) -> None:
    store = live_server.store
    store.projects.create("test", "churn")
    query = PAGE.replace('"mnist", entityName: "demo"', '"churn", entityName: "test"')
    for i in range(30):
        store.runs.add(
            "test/churn", f"r{i:03d}", created_at=f"2024-02-01T00:00:{i:02d}"
        )
    seen: list[str] = []
    cursor = None
    page = 0
    while True:
        runs = gql(query, {"cursor": cursor, "first": 7})["data"]["project"]["runs"]
        seen += [e["node"]["name"] for e in runs["edges"]]
        if not runs["pageInfo"]["hasNextPage"]:
            break
        cursor = runs["pageInfo"]["endCursor"]
        # between pages: delete a run already seen and one not yet seen, add two
        with store.lock:
            store.runs.delete(store.runs.id_of("test/churn", seen[-1]))
            if page == 0:
                store.runs.delete(store.runs.id_of("test/churn", "r029"))
            store.runs.add("test/churn", f"new{page}", created_at="2024-01-01T00:00:00")
            store.runs.add(
                "test/churn", f"late{page}", created_at="2024-03-01T00:00:00"
            )
        page += 1
    assert len(seen) == len(set(seen))
    throughout = {f"r{i:03d}" for i in range(29)}  # r029 was deleted
    assert throughout <= set(seen)


def test_first_caps(gql: Gql) -> None:
    assert "between 0 and 1000" in errors_of(gql(PAGE, {"first": 1001}))
    assert "between 0 and 1000" in errors_of(gql(PAGE, {"first": -1}))
    assert len(gql(PAGE, {"first": 1000})["data"]["project"]["runs"]["edges"]) == 320
    assert "not supported" in errors_of(
        gql(
            '{ project(name: "mnist", entityName: "demo") { runs(last: 5) { totalCount } } }'
        )
    )


@pytest.mark.parametrize(
    ("filters", "needle"),
    [
        ("{not json", "JSON"),
        ('{"state": {"$bogus": 1}}', "$bogus"),
        ('{"createdAt": {"$gt": 5}}', "date"),
        ('{"name": {"$regex": "("}}', "regex"),
        ('{"name": "\'; DROP TABLE runs; --"}', None),
        ('{"config.\\" OR 1=1 --": 1}', "double quote"),
        ('{"name": "' + "x" * 50_000 + '"}', None),
        ('{"name": "' + "x" * 200_000 + '"}', "at most"),
    ],
)
def test_bad_and_hostile_filters(gql: Gql, filters: str, needle: str | None) -> None:
    body = gql(PAGE, {"filters": filters, "first": 5})
    if needle is None:  # hostile but valid: matches nothing, breaks nothing
        assert body["data"]["project"]["runCount"] == 0, body
    else:
        assert needle.lower() in errors_of(body).lower()
    assert gql(PAGE, {"first": 1})["data"]["project"]["runCount"] == 320


def test_bad_order_and_cursor(gql: Gql) -> None:
    assert errors_of(gql(PAGE, {"order": "+nonsense("}))
    assert errors_of(gql(PAGE, {"cursor": "not-a-cursor"}))
