"""Fixtures for runs_server tests: stores and live servers on 127.0.0.1.

``live_server`` (session scope) is the main end-to-end target: the demo seed
plus the small, hand-made ``test/exact`` project whose every row is known.
Other configurations (auth required, faults, latency) start their own
``BackgroundServer`` on another free port and stop it at the end.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from runs_server.http.app import RunsServerApp, ServerConfig
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store
from tests.demo_seed import seed_demo_copy

EXACT = "test/exact"
TESTER_KEY = "t" * 40
STEPS = 100


def add_exact_project(store: Store) -> None:
    """``test/exact``: runs whose rows the history tests assert one by one.

    ``cadence``: ``loss`` every step 0..99, ``val`` every 10 steps, ``final``
    once at step 99; step 3 is stored as text with ``"_step": 3.0`` and a NaN,
    step 5 has an Infinity. ``empty`` has no history. ``events`` logged its
    system metrics out of ``_timestamp`` order.
    """
    store.users.create("tester", entity="test", api_key=TESTER_KEY)
    store.projects.create("test", "exact", created_at="2024-01-01T00:00:00")
    run = store.runs.add(
        EXACT,
        "cadence",
        display_name="Cadence",
        config={"lr": 0.1, "model": {"layers": 3}},
        tags=["a", "b"],
        group="g",
        job_type="train",
        commit="abc",
        host="h1",
        notes="n",
        description="d",
        user="tester",
        created_at="2024-01-01T00:00:01",
        heartbeat_at="2024-01-01T01:00:01",
    )
    rows: list[Any] = []
    for s in range(STEPS):
        if s == 3:
            rows.append('{"_step": 3.0, "loss": NaN, "val": 0.5}')
            continue
        row: dict[str, Any] = {"_step": s, "loss": 1.0 / (s + 1)}
        if s == 5:
            row["loss"] = math.inf
        if s % 10 == 0:
            row["val"] = s / 100
        if s == STEPS - 1:
            row["final"] = "done"
        rows.append(row)
    store.history.log(run, rows)
    store.runs.add(EXACT, "empty", created_at="2024-01-01T00:00:02", state="running")
    events = store.runs.add(EXACT, "events", created_at="2024-01-01T00:00:03")
    store.history.log_events(
        events,
        [{"_timestamp": float(t), "system.cpu": t} for t in (5, 1, 4, 2, 3)],
    )


@dataclass
class Live:
    """A running server: its URLs, its store and the demo API key."""

    server: BackgroundServer
    store: Store
    demo_key: str

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def graphql_url(self) -> str:
        return self.server.graphql_url


def start_live(config: ServerConfig | None = None) -> Live:
    store = Store()
    info = seed_demo_copy(store)
    add_exact_project(store)
    server = BackgroundServer(RunsServerApp(store, config)).start()
    return Live(server, store, info.api_key)


@pytest.fixture(scope="session")
def live_server() -> Iterator[Live]:
    """The open (loopback, no auth required) server over demo + test/exact."""
    live = start_live()
    yield live
    live.server.stop()
    live.store.close()


@pytest.fixture(scope="session")
def http(live_server: Live) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client


Gql = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session")
def gql(http: httpx.Client) -> Gql:
    """POST a query; assert HTTP 200; return the JSON body (data and errors)."""

    def run(query: str, variables: dict[str, Any] | None = None, **body: Any) -> Any:
        payload: dict[str, Any] = {"query": query, **body}
        if variables is not None:
            payload["variables"] = variables
        response = http.post("/graphql", json=payload)
        assert response.status_code == 200, response.text
        return parse_body(response.content)

    return run


def parse_body(content: bytes) -> Any:
    """Parse a response body with a strict JSON parser (orjson): newer official
    SDKs parse in Go and reject bare NaN/Infinity tokens in a body."""
    return orjson.loads(content)


def errors_of(body: dict[str, Any]) -> str:
    """All error messages of a response, joined, for ``in`` assertions."""
    assert body.get("errors"), f"expected errors, got {body}"
    return " | ".join(e["message"] for e in body["errors"])
