# ruff: noqa: E501  (GraphQL documents read best on one line)
"""history, sampledHistory and events: per run and for a whole page."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from tests.server.conftest import STEPS, Gql, Live, errors_of

pytestmark = pytest.mark.e2e

RUN = '{ project(name: "exact", entityName: "test") { run(name: "%s") { %s } } }'


def one(
    gql: Gql, field: str, run: str = "cadence", variables: dict[str, Any] | None = None
) -> Any:
    body = gql(RUN % (run, field), variables)
    assert "errors" not in body, body
    return body["data"]["project"]["run"]


def history(gql: Gql, args: str = "", run: str = "cadence") -> list[dict[str, Any]]:
    field = f"history({args})" if args else "history"
    rows = one(gql, field, run)["history"]
    return [json.loads(r) for r in rows]


def steps(rows: list[dict[str, Any]]) -> list[int]:
    return [int(r["_step"]) for r in rows]


def test_history_all_rows_as_stored(gql: Gql) -> None:
    raw = one(gql, "history")["history"]
    assert len(raw) == STEPS
    # stored text is served as is: the float step and the bare NaN survive
    assert raw[3] == '{"_step": 3.0, "loss": NaN, "val": 0.5}'
    assert "Infinity" in raw[5]
    rows = [json.loads(r) for r in raw]
    assert steps(rows) == list(range(STEPS))
    assert math.isnan(rows[3]["loss"]) and rows[5]["loss"] == math.inf


def test_history_sampling(gql: Gql) -> None:
    five = history(gql, "samples: 5")
    assert len(five) == 5 and five[0]["_step"] == 0 and five[-1]["_step"] == STEPS - 1
    assert steps(five) == sorted(steps(five))
    assert history(gql, "samples: 5") == five  # deterministic
    assert steps(history(gql, "samples: 1")) == [STEPS - 1]
    assert len(history(gql, f"samples: {STEPS}")) == STEPS
    assert len(history(gql, "samples: 100000")) == STEPS


def test_history_step_window_is_max_exclusive(gql: Gql) -> None:
    assert steps(history(gql, "minStep: 10, maxStep: 20")) == list(range(10, 20))
    assert steps(history(gql, "minStep: 95")) == list(range(95, 100))
    assert steps(history(gql, "maxStep: 3")) == [0, 1, 2]
    window = history(gql, "minStep: 10, maxStep: 50, samples: 3")
    assert steps(window) == [10, 30, 49]
    assert history(gql, "minStep: 1000") == []


def test_history_of_run_without_rows(gql: Gql) -> None:
    assert history(gql, run="empty") == []
    assert one(
        gql, 'sampledHistory(specs: ["{\\"keys\\": [\\"loss\\"]}"])', "empty"
    ) == {"sampledHistory": [[]]}


def sampled(gql: Gql, *specs: dict[str, Any], run: str = "cadence") -> Any:
    variables = {"specs": [json.dumps(s) for s in specs], "run": run}
    query = (
        'query S($specs: [JSONString!]!, $run: String!) { project(name: "exact", entityName: "test") '
        "{ run(name: $run) { sampledHistory(specs: $specs) } } }"
    )
    body = gql(query, variables)
    return body


def test_sampled_history_and_rule(gql: Gql) -> None:
    body = sampled(gql, {"keys": ["_step", "loss", "val"]})
    (rows,) = body["data"]["project"]["run"]["sampledHistory"]
    # rows holding every key: every 10th step, plus step 3 (text row with val)
    assert steps(rows) == [0, 3, 10, 20, 30, 40, 50, 60, 70, 80, 90]
    assert all(set(r) == {"_step", "loss", "val"} for r in rows)
    # strict JSON on the wire: NaN is the string "NaN" in a JSON-typed field
    # (changed: was a bare NaN token)
    assert rows[1]["loss"] == "NaN"


def test_sampled_history_keys_logged_apart_give_nested_empty_list(gql: Gql) -> None:
    body = sampled(gql, {"keys": ["val", "final"]})
    assert body["data"]["project"]["run"]["sampledHistory"] == [[]]
    body = sampled(gql, {"keys": ["nope"]}, {"keys": ["final"]})
    assert body["data"]["project"]["run"]["sampledHistory"] == [[], [{"final": "done"}]]


def test_sampled_history_window_inclusive_and_samples(gql: Gql) -> None:
    (rows,) = sampled(gql, {"keys": ["_step"], "minStep": 10, "maxStep": 20})["data"][
        "project"
    ]["run"]["sampledHistory"]
    assert steps(rows) == list(range(10, 21))
    (rows,) = sampled(gql, {"keys": ["_step", "loss"], "samples": 4})["data"][
        "project"
    ]["run"]["sampledHistory"]
    assert steps(rows) == [0, 33, 66, 99]
    (rows,) = sampled(gql, {"keys": ["loss"], "samples": 1})["data"]["project"]["run"][
        "sampledHistory"
    ]
    assert rows == [{"loss": 0.01}]


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("not json", "not valid JSON"),
        ("[1]", '"keys"'),
        ('{"keys": []}', "non-empty list"),
        ('{"keys": [1]}', "non-empty list"),
        ('{"keys": ["a"], "samples": 0}', "between 1 and 100000"),
        ('{"keys": ["a"], "samples": 100001}', "between 1 and 100000"),
        ('{"keys": ["a"], "minStep": "x"}', "minStep"),
        ('{"keys": ["a"], "minStep": 1e30}', "minStep must be an integer step"),
        ('{"keys": ["a"], "maxStep": 9223372036854775808}', "64 bits"),
        ('{"keys": ["a"], "minStep": -9223372036854775809}', "64 bits"),
    ],
)
def test_sampled_history_bad_specs(gql: Gql, spec: str, needle: str) -> None:
    body = gql(
        'query S($s: [JSONString!]!) { project(name: "exact", entityName: "test") { run(name: "cadence") { sampledHistory(specs: $s) } } }',
        {"s": [spec]},
    )
    assert needle in errors_of(body)


def test_sampled_history_spec_count_cap(gql: Gql) -> None:
    query = 'query S($s: [JSONString!]!) { project(name: "exact", entityName: "test") { run(name: "cadence") { sampledHistory(specs: $s) } } }'
    spec = '{"keys": ["loss"], "samples": 2}'
    body = gql(query, {"s": [spec] * 101})
    assert "at most 100 specs, got 101" in errors_of(body)
    lists = gql(query, {"s": [spec] * 100})["data"]["project"]["run"]["sampledHistory"]
    assert len(lists) == 100 and all(len(rows) == 2 for rows in lists)


def test_samples_cap(gql: Gql) -> None:
    for bad in ("0", "100001", "-5"):
        body = gql(RUN % ("cadence", f"history(samples: {bad})"))
        assert "between 1 and 100000" in errors_of(body)
        body = gql(RUN % ("events", f"events(samples: {bad})"))
        assert "between 1 and 100000" in errors_of(body)


def test_events_ordered_by_timestamp(gql: Gql) -> None:
    rows = [json.loads(r) for r in one(gql, "events", "events")["events"]]
    assert [r["_timestamp"] for r in rows] == [1.0, 2.0, 3.0, 4.0, 5.0]
    rows = [json.loads(r) for r in one(gql, "events(samples: 2)", "events")["events"]]
    assert [r["_timestamp"] for r in rows] == [1.0, 5.0]
    assert one(gql, "events", "cadence") == {"events": []}


# -- a whole page in one request -------------------------------------------------

PAGE = """query P($first: Int, $samples: Int, $specs: [JSONString!]!) {
  project(name: "mnist", entityName: "demo") {
    runs(first: $first) { edges { node { name historyLineCount
      history(samples: $samples) sampledHistory(specs: $specs) events(samples: $samples) } } }
  }
}"""
RUN_BY_NAME = """query R($name: String!, $samples: Int, $specs: [JSONString!]!) {
  project(name: "mnist", entityName: "demo") {
    run(name: $name) { history(samples: $samples) sampledHistory(specs: $specs) events(samples: $samples) }
  }
}"""


def test_page_of_histories_equals_per_run_requests(gql: Gql) -> None:
    specs = [json.dumps({"keys": ["_step", "loss", "val.acc"], "samples": 20})]
    page = gql(PAGE, {"first": 40, "samples": 30, "specs": specs})
    assert "errors" not in page
    nodes = [e["node"] for e in page["data"]["project"]["runs"]["edges"]]
    assert len(nodes) == 40
    assert any(n["historyLineCount"] > 30 for n in nodes)
    for node in nodes[::7]:
        single = gql(RUN_BY_NAME, {"name": node["name"], "samples": 30, "specs": specs})
        run = single["data"]["project"]["run"]
        assert run["history"] == node["history"]
        assert run["events"] == node["events"]
        # compared as text: NaN != NaN
        assert json.dumps(run["sampledHistory"]) == json.dumps(node["sampledHistory"])
        assert len(node["history"]) == min(30, node["historyLineCount"])


def test_page_costs_a_few_queries_not_one_per_run(live_server: Live, gql: Gql) -> None:
    conn = live_server.store.conn
    specs = [json.dumps({"keys": ["loss"], "samples": 5})]
    query = PAGE.replace(
        "name historyLineCount", "name historyLineCount user { username }"
    )
    counts = []
    for first in (10, 200):
        statements: list[str] = []
        conn.set_trace_callback(statements.append)
        try:
            body = gql(query, {"first": first, "samples": 5, "specs": specs})
        finally:
            conn.set_trace_callback(None)
        assert len(body["data"]["project"]["runs"]["edges"]) == first
        counts.append(len(statements))
    # viewer + project + page + history + sampledHistory + events + users
    assert counts[0] == counts[1] <= 7, counts


def test_response_row_cap(live_server: Live) -> None:
    import httpx

    from runs_server.http.app import RunsServerApp, ServerConfig
    from runs_server.http.serving import BackgroundServer

    app = RunsServerApp(live_server.store, ServerConfig(max_response_rows=1000))
    with BackgroundServer(app) as server:
        body = httpx.post(
            server.graphql_url,
            json={
                "query": PAGE,
                "variables": {"first": 50, "specs": ['{"keys": ["loss"]}']},
            },
        ).json()
    message = errors_of(body)
    assert "more than 1,000 history rows" in message and "per_page" in message
    assert "samples" in message
    assert len(body["errors"]) <= 3  # one per field, not one per run


@pytest.mark.parametrize(
    ("run", "fields", "cap"),
    [
        ("cadence", "a: history b: history", 150),
        ("events", "a: events b: events", 8),
        (
            "cadence",
            'a: sampledHistory(specs: ["{\\"keys\\": [\\"loss\\"]}"]) '
            'b: sampledHistory(specs: ["{\\"keys\\": [\\"loss\\"]}"])',
            150,
        ),
    ],
)
def test_row_cap_counts_every_alias(
    live_server: Live, run: str, fields: str, cap: int
) -> None:
    # The same field under two aliases returns its rows twice: both count
    # (cadence has 100 history rows, events 5 event rows).
    import httpx

    from runs_server.http.app import RunsServerApp, ServerConfig
    from runs_server.http.serving import BackgroundServer

    app = RunsServerApp(live_server.store, ServerConfig(max_response_rows=cap))
    with BackgroundServer(app) as server:
        single = httpx.post(
            server.graphql_url, json={"query": RUN % (run, fields.split(" b: ")[0])}
        ).json()
        assert "errors" not in single, single
        body = httpx.post(
            server.graphql_url, json={"query": RUN % (run, fields)}
        ).json()
    assert f"more than {cap:,} history rows" in errors_of(body)
