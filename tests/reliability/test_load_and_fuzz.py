# ruff: noqa: E501
"""Pagination while runs change, 8 concurrent clients, and fuzzed requests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import runs_client
from runs_server.store import Store
from tests.reliability.conftest import TALLY
from tests.reliability.servers import (
    BIG,
    OWNER_KEY,
    digest,
    file_store,
    serving,
    store_runs,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = file_store(tmp_path_factory.mktemp("load"))
    yield store
    store.close()


def test_pagination_while_runs_are_added_and_deleted(store: Store) -> None:
    before = set(store_runs(store))
    stop = threading.Event()
    added: list[str] = []
    deleted: set[str] = set()

    def churn() -> None:
        n = 0
        while not stop.is_set() and n < 200:
            n += 1
            name = f"new{n:04d}"
            store.runs.add(BIG, name, created_at="2024-01-01T12:00:00")
            added.append(name)
            victim = f"r{(n * 7) % 1000:04d}"
            if victim not in deleted:
                store.runs.delete(store.runs.id_of(BIG, victim))
                deleted.add(victim)
            time.sleep(0.002)

    with serving(store) as server:
        worker = threading.Thread(target=churn)
        worker.start()
        try:
            with runs_client.Api(api_key=OWNER_KEY, base_url=server.url) as api:
                seen = [
                    run.id for run in api.runs(BIG, per_page=25, include_sweeps=False)
                ]
        finally:
            stop.set()
            worker.join(30)
    assert len(seen) == len(set(seen)), "a run was yielded twice"
    throughout = before - deleted
    missing = throughout - set(seen)
    TALLY["rows_checked"] += len(throughout)
    TALLY["rows_lost"] += len(missing)
    assert not missing, (
        f"runs that existed throughout were skipped: {sorted(missing)[:5]}"
    )


def test_eight_concurrent_clients(store: Store) -> None:
    expected = store_runs(store)
    errors: list[BaseException] = []
    rounds: list[int] = []

    def client() -> None:
        try:
            with runs_client.Api(api_key=OWNER_KEY, base_url=url) as api:
                deadline = time.monotonic() + 6
                n = 0
                while time.monotonic() < deadline:
                    runs = api.runs(BIG, per_page=200, include_sweeps=False)
                    assert sorted(r.id for r in runs) == expected
                    history = api.run(f"{BIG}/r0003").history(pandas=False)
                    assert [row["_step"] for row in history] == list(range(20))
                    n += 1
                rounds.append(n)
        except BaseException as exc:  # reported below, with the others
            errors.append(exc)

    with serving(store) as server:
        url = server.url
        threads = [threading.Thread(target=client) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert not errors, errors[:3]
    assert len(rounds) == 8 and min(rounds) >= 1
    TALLY["rows_checked"] += sum(rounds) * len(expected)
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


FILTER_FIELDS = [
    "state",
    "config.i",
    "config.lr",
    "summary_metrics.loss",
    "name",
    "tags",
    "createdAt",
    "$or",
    "$and",
    "duration",
    "$bogus",
]
OPS = [
    "$eq",
    "$ne",
    "$gt",
    "$lt",
    "$gte",
    "$lte",
    "$in",
    "$nin",
    "$regex",
    "$exists",
    "$size",
    "$nope",
]
VALUES = st.one_of(
    st.integers(-5, 1005),
    st.floats(allow_nan=False),
    st.sampled_from(["finished", "r0001", "(", "a*", ""]),
    st.booleans(),
    st.none(),
    st.lists(st.integers(0, 10), max_size=3),
)
FILTERS = st.recursive(
    st.dictionaries(
        st.sampled_from(FILTER_FIELDS),
        st.one_of(VALUES, st.dictionaries(st.sampled_from(OPS), VALUES, max_size=2)),
        max_size=3,
    ),
    lambda inner: st.dictionaries(
        st.sampled_from(["$or", "$and", "$nor", "config.i"]),
        st.lists(inner, max_size=3),
        max_size=2,
    ),
    max_leaves=8,
)
TOKENS = [
    "{",
    "}",
    "(",
    ")",
    "project",
    'name: "big"',
    'entityName: "load"',
    "runs",
    "first: 3",
    "edges",
    "node",
    "name",
    "viewer",
    "...",
    "fragment",
    "on",
    "Run",
    "query",
    "$x",
    ":",
    "Int",
    "!",
    "history",
    "@skip",
    "__typename",
    "mutation",
    '"',
    "\\u0000",
    "1e999",
]


@pytest.fixture(scope="module")
def fuzz_server(store: Store) -> Iterator[str]:
    with serving(store) as server:
        yield server.url


@pytest.fixture(scope="module")
def fresh() -> Iterator[httpx.Client]:
    """Requests each on a new connection, as ``httpx.post`` sends them, without
    the SSL context ``httpx.post`` builds per call (most of these tests' time)."""
    with httpx.Client(limits=httpx.Limits(max_keepalive_connections=0)) as client:
        yield client


@settings(
    derandomize=True,
    deadline=None,
    max_examples=150,
    suppress_health_check=list(HealthCheck),
)
@given(
    filters=FILTERS,
    order=st.sampled_from(
        ["+name", "-config.i", "summary_metrics.loss", "bogus", "-", ""]
    ),
)
def test_fuzzed_filters_give_a_clear_error_or_an_answer(
    fuzz_server: str,
    fresh: httpx.Client,
    store: Store,
    filters: dict[str, object],
    order: str,
) -> None:
    TALLY["bad_inputs"] += 1
    before = digest(store)
    query = 'query($f: JSONString, $o: String) { project(name: "big", entityName: "load") { runCount(filters: $f) runs(filters: $f, order: $o, first: 5) { edges { node { name } } } } }'
    response = fresh.post(
        fuzz_server + "/graphql",
        json={
            "query": query,
            "variables": {"f": orjson.dumps(filters).decode(), "o": order},
        },
        auth=("api", OWNER_KEY),
        timeout=60,
    )
    assert response.status_code == 200
    body = response.json()
    if body.get("errors"):
        assert all(
            e["message"] and "Traceback" not in e["message"] for e in body["errors"]
        )
    else:
        project = body["data"]["project"]
        assert len(project["runs"]["edges"]) == min(5, project["runCount"])
    assert digest(store) == before


@settings(
    derandomize=True,
    deadline=None,
    max_examples=150,
    suppress_health_check=list(HealthCheck),
)
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_fuzzed_documents_give_a_clear_error_or_an_answer(
    fuzz_server: str, fresh: httpx.Client, store: Store, tokens: list[str]
) -> None:
    TALLY["bad_inputs"] += 1
    before = digest(store)
    response = fresh.post(
        fuzz_server + "/graphql", json={"query": " ".join(tokens)}, timeout=60
    )
    assert 200 <= response.status_code < 500
    body = response.json()
    assert body.get("errors") or "data" in body
    assert digest(store) == before
    assert fresh.get(fuzz_server + "/healthz").json() == {"ok": True}
