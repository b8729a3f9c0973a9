# ruff: noqa: E501  (GraphQL documents read best on one line)
"""Issue 17 item 8: history work is charged by what is read, not by the rows
kept; a quick request is answered while heavy ones fill every worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest

from runs_server.graphql.limits import RESPONSE_TOO_LARGE
from runs_server.http.app import ServerConfig
from runs_server.http.lanes import quick_body
from runs_server.store import Store
from tests.reliability.conftest import TALLY
from tests.reliability.servers import file_store, serving
from tests.server_bounds.memory import measured

PROJECT = 'project(name: "big", entityName: "load")'


def sampled(specs: int, keys: list[str], alias: str = "s") -> str:
    spec = orjson.dumps(orjson.dumps({"keys": keys, "samples": 1}).decode()).decode()
    return f"{alias}: sampledHistory(specs: [{', '.join([spec] * specs)}])"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = file_store(tmp_path_factory.mktemp("reads"))
    with store.transaction():
        for name in ("r0000", "r0001"):
            store.history.log_events(
                store.runs.id_of("load/big", name),
                [{"_timestamp": 1.0 + t, "cpu": t} for t in range(15_000)],
            )
    yield store
    store.close()


def test_sampled_history_is_charged_by_the_values_it_reads(store: Store) -> None:
    TALLY["bad_inputs"] += 1
    # 40 specs keep 1 row per run each (40,000 rows kept) but read every
    # value of their key: 40 x 1,000 runs x 20 rows = 800,000.
    query = f"{{ {PROJECT} {{ runs(first: 1000) {{ edges {{ node {{ {sampled(40, ['loss'])} }} }} }} }} }}"
    config = ServerConfig(max_values_read=500_000)
    body, _ = measured(store, query, config=config)
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == RESPONSE_TOO_LARGE
    assert "read more than 500,000 history values" in error["message"]
    fits, _ = measured(store, query, config=ServerConfig(max_values_read=800_000))
    assert "errors" not in fits


def test_events_are_charged_by_the_rows_they_read(store: Store) -> None:
    # Two runs of 15,000 events: 30,000 rows read (charged 10,000 at a time)
    # to keep one each.
    TALLY["bad_inputs"] += 1
    query = f'{{ {PROJECT} {{ runs(first: 2, order: "+name") {{ edges {{ node {{ events(samples: 1) }} }} }} }} }}'
    body, _ = measured(store, query, config=ServerConfig(max_values_read=29_999))
    assert body["errors"][0]["extensions"]["code"] == RESPONSE_TOO_LARGE
    fits, _ = measured(store, query, config=ServerConfig(max_values_read=30_000))
    assert [
        len(e["node"]["events"]) for e in fits["data"]["project"]["runs"]["edges"]
    ] == [1, 1]


def test_quick_requests_are_told_apart() -> None:
    def body(query: str) -> bytes:
        return orjson.dumps({"query": query})

    assert quick_body(body("{ viewer { username entity } }"))
    assert quick_body(
        body(
            f"{{ {PROJECT} {{ name runCount runs(first: 3) {{ edges {{ node {{ name }} }} }} }} }}"
        )
    )
    for heavy in (
        f"{{ {PROJECT} {{ runs(first: 10) {{ edges {{ node {{ history(samples: 1) }} }} }} }} }}",
        f'{{ {PROJECT} {{ runCount(filters: "{{}}") }} }}',
        f"{{ {PROJECT} {{ runs(first: 100) {{ edges {{ node {{ name config }} }} }} }} }}",
        "{ viewer { " + "username " * 300 + "} }",
        "not graphql",
    ):
        assert not quick_body(body(heavy)), heavy


def test_a_quick_request_is_answered_while_heavy_ones_fill_every_worker(
    store: Store,
) -> None:
    heavy = f"{{ {PROJECT} {{ runs(first: 1000) {{ edges {{ node {{ {sampled(50, ['_step', 'loss'], 'a')} {sampled(50, ['loss', '_step'], 'b')} }} }} }} }} }}"
    finished: list[str] = []
    with serving(store, ServerConfig(max_in_flight=2)) as server:
        lanes = server.app.lanes

        def ask(name: str, query: str) -> None:
            answer = httpx.post(server.graphql_url, json={"query": query}, timeout=120)
            assert answer.status_code == 200 and "errors" not in answer.json()
            finished.append(name)

        threads = [
            threading.Thread(target=ask, args=(f"heavy{i}", heavy)) for i in range(3)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while lanes.heavy_running < 2:  # both workers busy (and one waiting)
            assert time.monotonic() < deadline, "the heavy requests never started"
            time.sleep(0.005)
        ask("quick", "{ viewer { username } }")
        for thread in threads:
            thread.join(timeout=120)
    assert finished[0] == "quick", finished
    assert len(finished) == 4


def test_many_small_sampled_lists_hold_their_size_not_a_block_each(
    store: Store,
) -> None:
    # 40,000 one-row lists: each held a 4 KiB block of orjson's (160 MB)
    query = f"{{ {PROJECT} {{ runs(first: 1000) {{ edges {{ node {{ {sampled(40, ['loss'])} }} }} }} }} }}"
    body, peak = measured(store, query)
    assert "errors" not in body
    assert peak < 32 * 1024 * 1024, f"peak {peak:,} bytes"
