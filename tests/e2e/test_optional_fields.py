"""The client keeps working against a W&B that lacks a weakly evidenced Run
field (issue 18): ``host``, ``updatedAt``, ``projectId``, ``systemMetrics``,
``events``, ``sampledHistory``. Each server here serves the shipped schema
without one field, the way ``runs-client serve --schema FILE`` does
(``schema_from_sdl`` bound to the app), and answers "Cannot query field
'X' on type 'Run'" as W&B would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files

import httpx
import pytest

import runs_client
from runs_client import GraphQLError
from runs_server.graphql.schema import schema_from_sdl
from runs_server.http.app import RunsServerApp
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store

KEY = "o" * 40
PATH = "lab/proj"
FIELD_LINES = {
    "host": "  host: String\n",
    "updatedAt": '  updatedAt: DateTime\n  "Seconds',
    "projectId": "  projectId: Int\n",
    "systemMetrics": "  systemMetrics: JSONString\n",
    "events": '  "System-metrics rows, each a JSON string, ordered by _timestamp."\n'
    "  events(samples: Int): [String]\n",
    "sampledHistory": '  "One list of rows per spec; a row must hold all '
    "of the spec's keys; maxStep is inclusive.\"\n"
    "  sampledHistory(specs: [JSONString!]!): [JSON]\n",
}


def _sdl_without(field: str) -> str:
    sdl = (files("runs_gql") / "graphql" / "schema.graphql").read_text("utf-8")
    line = FIELD_LINES[field]
    assert sdl.count(line) == 1, field
    kept = '  "Seconds' if field == "updatedAt" else ""
    return sdl.replace(line, kept)


def _store() -> Store:
    store = Store()
    store.users.create("owner", entity="lab", api_key=KEY)
    store.projects.create("lab", "proj")
    for i in range(3):
        run = store.runs.add(
            PATH,
            f"run{i}",
            host=f"host{i}",
            config={"lr": i},
            created_at=f"2024-01-0{i + 1}T00:00:00",
            updated_at=f"2024-02-0{i + 1}T00:00:00",
        )
        store.history.log(run, [{"_step": s, "loss": s / 10} for s in range(5)])
        store.history.log_events(
            run, [{"_timestamp": 1.0 + t, "system.cpu": t} for t in range(3)]
        )
    return store


class Counted:
    """Operation names sent, and how many answers were GraphQL errors."""

    def __init__(self) -> None:
        self.operations: list[str] = []
        self.refused = 0

    def request(self, request: httpx.Request) -> None:
        self.operations.append(json.loads(request.content).get("operationName"))

    def response(self, response: httpx.Response) -> None:
        response.read()
        if b'"errors"' in response.content:
            self.refused += 1


@contextmanager
def _serving_without(field: str) -> Iterator[str]:
    store = _store()
    app = RunsServerApp(store)
    app.graphql.schema = schema_from_sdl(_sdl_without(field))  # as serve --schema
    server = BackgroundServer(app).start()
    try:
        yield server.url
    finally:
        server.stop()
        store.close()


@pytest.fixture(scope="module", params=sorted(FIELD_LINES))
def lacking(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    with _serving_without(request.param) as url:
        yield request.param, url


@pytest.fixture(scope="module")
def without_events() -> Iterator[str]:
    with _serving_without("events") as url:
        yield url


@pytest.fixture(scope="module")
def without_sampled_history() -> Iterator[str]:
    with _serving_without("sampledHistory") as url:
        yield url


def _api(url: str) -> tuple[runs_client.Api, Counted]:
    api = runs_client.Api(api_key=KEY, base_url=url)
    counted = Counted()
    hooks = api.client.http_client.event_hooks
    hooks["request"] = [*hooks.get("request", []), counted.request]
    hooks["response"] = [*hooks.get("response", []), counted.response]
    api.client.http_client.event_hooks = hooks
    return api, counted


def test_listing_and_one_run_keep_working(lacking: tuple[str, str]) -> None:
    field, url = lacking
    api, counted = _api(url)
    with api:
        runs = list(api.runs(PATH, per_page=2, include_sweeps=False))
        assert [r.id for r in runs] == ["run0", "run1", "run2"]
        assert [r.config["lr"] for r in runs] == [0, 1, 2]
        one = api.run(f"{PATH}/run1")
    shown = {
        "host": [r.host for r in runs] + [one.host],
        "updatedAt": [r.updated_at for r in runs] + [one.updated_at],
        "systemMetrics": [r.system_metrics for r in runs] + [one.system_metrics],
    }
    if field == "host":
        assert shown["host"] == [None] * 4  # read as null
    else:
        assert shown["host"] == ["host0", "host1", "host2", "host1"]
    if field == "updatedAt":
        assert shown["updatedAt"] == [None] * 4
    if field in ("host", "updatedAt", "projectId", "systemMetrics"):
        # one refusal, then every later operation leaves the field out
        assert counted.refused == 1
        assert counted.operations.count("RunsPage") == 3  # 2 pages + the refused one
    else:
        assert counted.refused == 0  # events is not in RunFields


def test_mirror_page_keeps_working(lacking: tuple[str, str]) -> None:
    field, url = lacking
    api, counted = _api(url)
    with api:
        page = api.client.runs_mirror_page(entity="lab", project="proj", samples=10)
    assert page.project is not None and page.project.runs is not None
    nodes = [edge.node for edge in page.project.runs.edges]
    assert [n.name for n in nodes] == ["run0", "run1", "run2"]
    assert all(len(n.history) == 5 for n in nodes)
    events = [n.events for n in nodes]
    if field == "events":
        assert events == [None, None, None]  # left out, read as null
        assert counted.refused == 1
    else:
        assert all(e is not None and len(e) == 3 for e in events)


def test_an_operation_reading_only_the_missing_field_says_so(
    without_events: str,
) -> None:
    # events is the one optional field some operations read alone
    api, _ = _api(without_events)
    with api:
        api.client.runs_mirror_page(entity="lab", project="proj")  # learns it
        with pytest.raises(GraphQLError, match=r"does not serve Run\.events"):
            api.run(f"{PATH}/run0").history(stream="system", pandas=False)
        # histories() wraps it (IncompleteHistoriesError), naming it too
        with pytest.raises(
            runs_client.RunsClientError, match=r"does not serve Run\.events"
        ):
            api.runs(PATH).histories(stream="system")


def test_history_by_keys_reads_full_history_instead(
    without_sampled_history: str,
) -> None:
    api, counted = _api(without_sampled_history)
    with api:
        rows = api.run(f"{PATH}/run1").history(keys=["loss"], samples=3, pandas=False)
        # 5 rows hold loss: every 2nd (ceil(5 / 3)) and the last, at most 3
        assert [r["_step"] for r in rows] == [0, 2, 4]
        assert all(set(r) == {"_step", "loss"} for r in rows)
        assert rows[1]["loss"] == 0.2
        counted.operations.clear()
        with pytest.warns(runs_client.BulkHistoryWarning, match="sampledHistory"):
            frame = api.runs(PATH).histories(samples=10, keys=["loss"], format="pandas")
    assert len(frame) == 15 and sorted(set(frame["run_id"])) == ["run0", "run1", "run2"]
    assert list(frame[frame["run_id"] == "run2"]["loss"]) == [0.0, 0.1, 0.2, 0.3, 0.4]
    # the bulk page was refused once, then each run was read by step windows
    assert counted.operations.count("RunsSampledHistoryPage") == 1
    assert counted.operations.count("RunHistoryWindow") == 3


def test_the_server_really_lacks_it(lacking: tuple[str, str]) -> None:
    field, url = lacking
    args = '(specs: ["{}"])' if field == "sampledHistory" else ""
    body = httpx.post(
        url + "/graphql",
        json={
            "query": '{ project(name: "proj", entityName: "lab") '
            f'{{ run(name: "run0") {{ {field}{args} }} }} }}'
        },
        auth=("api", KEY),
        timeout=10,
    ).json()
    assert f"Cannot query field '{field}' on type 'Run'" in body["errors"][0]["message"]
