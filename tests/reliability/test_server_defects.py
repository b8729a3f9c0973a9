# ruff: noqa: E501  (GraphQL documents read best on one line)
"""Issue 9, server items 1-7: each test failed before its fix."""

from __future__ import annotations

import base64
import logging
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from runs_server.graphql.context import RequestContext
from runs_server.graphql.limits import RESPONSE_TOO_LARGE
from runs_server.history import MAX_KEYS_PER_SPEC
from runs_server.http.app import ServerConfig
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store
from tests.reliability.conftest import TALLY
from tests.reliability.servers import (
    BIG,
    OTHER_KEY,
    OWNER_KEY,
    digest,
    file_store,
    post,
    serving,
)

pytestmark = pytest.mark.e2e

PAGE = 'query($order: String, $first: Int) { project(name: "big", entityName: "load") { runs(first: $first, order: $order) { edges { cursor node { name } } pageInfo { endCursor } } } }'
KEYS = "{ viewer { username apiKeys { edges { node { name } } } } }"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = file_store(tmp_path_factory.mktemp("defects"))
    yield store
    store.close()


@pytest.fixture(scope="module")
def server(store: Store) -> Iterator[BackgroundServer]:
    with serving(store) as server:
        yield server


# -- 1. a long order -------------------------------------------------------------


def test_long_order_is_refused_and_cursors_stay_small(server: BackgroundServer) -> None:
    TALLY["bad_inputs"] += 1
    body = post(
        server.url, PAGE, {"order": "-config." + "x" * 200_000, "first": 1000}
    ).json()
    assert "the limit is 1,000" in body["errors"][0]["message"]
    sizes = set()
    for order in ("-config.i", "-config." + "i" * 900):
        edges = post(server.url, PAGE, {"order": order, "first": 3}).json()["data"][
            "project"
        ]["runs"]["edges"]
        sizes.add(len(edges[0]["cursor"]))
    assert max(sizes) < 200  # the 900-character order does not reach the cursor


# -- 2. readers do not wait for each other -------------------------------------


def test_trivial_request_after_a_heavy_one_finishes_first(
    server: BackgroundServer,
) -> None:
    heavy = (
        "{ "
        + " ".join(
            f'a{i}: project(name: "big", entityName: "load") {{ runs(first: 1000) {{ edges {{ node {{ history(samples: 20) config }} }} }} }}'
            for i in range(8)
        )
        + " }"
    )
    done: dict[str, float] = {}

    def run(name: str, query: str) -> None:
        response = post(server.url, query)
        assert response.status_code == 200 and "errors" not in response.json()
        done[name] = time.monotonic()

    heavy_thread = threading.Thread(target=run, args=("heavy", heavy))
    heavy_thread.start()
    time.sleep(0.2)  # the heavy one is under way (order only; no timing asserted)
    run("trivial", "{ viewer { username } }")
    heavy_thread.join(timeout=120)
    assert done["trivial"] < done["heavy"]


def test_requests_use_a_connection_each(store: Store) -> None:
    # File stores give each reader its own connection (WAL), in-memory ones share.
    with store.reader() as a, store.reader() as b:
        assert a is not b and a is not store.conn
        assert a.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# -- 3. budgets --------------------------------------------------------------------


def test_many_aliases_are_refused_by_the_byte_budget(store: Store) -> None:
    TALLY["bad_inputs"] += 1
    fields = " ".join(
        f'a{i}: project(name: "big", entityName: "load") {{ runs(first: 1000) {{ edges {{ node {{ config summaryMetrics systemMetrics historyKeys tags }} }} }} }}'
        for i in range(12)  # under the query-cost estimate, over the bytes
    )
    with serving(store, ServerConfig(max_response_bytes=200_000)) as small:
        started = time.monotonic()
        body = post(small.url, "{ " + fields + " }").json()
        assert time.monotonic() - started < 60
        assert body["data"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == [RESPONSE_TOO_LARGE]
        assert "larger than 200,000 bytes" in body["errors"][0]["message"]
        # the server still serves
        assert post(small.url, "{ viewer { username } }").json()["data"]["viewer"]


def test_row_cap_refusal_carries_the_same_code(store: Store) -> None:
    with serving(store, ServerConfig(max_response_rows=100)) as small:
        body = post(
            small.url,
            '{ project(name: "big", entityName: "load") { runs(first: 10) { edges { node { history } } } } }',
        ).json()
    assert body["errors"][0]["extensions"]["code"] == RESPONSE_TOO_LARGE
    assert "more than 100 history rows" in body["errors"][0]["message"]


def test_abandoned_work_is_interrupted(store: Store) -> None:
    context = RequestContext(store, None)
    slow = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    timer = threading.Timer(0.2, context.cancelled.set)
    timer.start()
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="interrupted"):
        context.conn.execute(slow).fetchone()
    assert time.monotonic() - started < 30
    context.close()


def test_request_over_the_time_limit_is_stopped(store: Store) -> None:
    query = (
        "{ "
        + " ".join(
            f'a{i}: project(name: "big", entityName: "load") {{ runs(first: 1000) {{ edges {{ node {{ history }} }} }} }}'
            for i in range(40)
        )
        + " }"
    )
    with serving(store, ServerConfig(request_seconds=0.05)) as quick:
        body = post(quick.url, query).json()
    assert body["errors"][0]["extensions"]["code"] == "REQUEST_TIMEOUT"


# -- 4. keys per spec -------------------------------------------------------------


def test_too_many_keys_per_spec_is_a_clear_error(
    server: BackgroundServer, caplog: pytest.LogCaptureFixture
) -> None:
    TALLY["bad_inputs"] += 1
    spec = orjson.dumps({"keys": [f"k{i}" for i in range(1000)]}).decode()
    query = 'query($s: [JSONString!]!) { project(name: "big", entityName: "load") { runs(first: 2) { edges { node { sampledHistory(specs: $s) } } } } }'
    with caplog.at_level(logging.ERROR, logger="runs_server"):
        body = post(server.url, query, {"s": [spec]}).json()
    message = body["errors"][0]["message"]
    assert (
        f"at most {MAX_KEYS_PER_SPEC} keys" in message
        and "Expression tree" not in message
    )
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# -- 5. slow request bodies --------------------------------------------------------


def test_body_shorter_than_its_length_times_out(store: Store) -> None:
    TALLY["bad_inputs"] += 1
    with serving(store, ServerConfig(body_timeout_s=0.5)) as quick:
        host, port = quick.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(
                b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"query"'
            )
            answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408")


# -- 6. key exposure, Host, Content-Type -----------------------------------------------


def keys_seen(url: str, auth: tuple[str, str] | None = None) -> tuple[str, list[str]]:
    viewer = post(url, KEYS, auth=auth).json()["data"]["viewer"]
    return viewer["username"], [e["node"]["name"] for e in viewer["apiKeys"]["edges"]]


def test_keys_shown_only_to_the_request_that_sent_them(
    server: BackgroundServer,
) -> None:
    assert keys_seen(server.url)[1] == []  # no key: acts as a user, sees no key
    assert keys_seen(server.url, ("api", "some-cloud-key"))[1] == []
    assert keys_seen(server.url, ("api", OWNER_KEY)) == ("owner", [OWNER_KEY])
    assert keys_seen(server.url, ("api", OTHER_KEY)) == ("other", [OTHER_KEY])


@pytest.mark.parametrize(
    "host", ["evil.example", "127.0.0.1.evil.example", "10.0.0.1:80"]
)
def test_foreign_host_is_refused_on_loopback(
    server: BackgroundServer, host: str
) -> None:
    TALLY["bad_inputs"] += 1
    response = post(server.url, KEYS, headers={"Host": host})
    assert response.status_code == 403
    assert "not a loopback name" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    "host", ["localhost", "127.0.0.1:8080", "[::1]:1", "app.localhost"]
)
def test_loopback_hosts_are_served(server: BackgroundServer, host: str) -> None:
    assert post(server.url, KEYS, headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        None,
    ],
)
def test_graphql_posts_must_be_json(
    server: BackgroundServer, content_type: str | None
) -> None:
    TALLY["bad_inputs"] += 1
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = httpx.post(
        server.url + "/graphql", content=orjson.dumps({"query": KEYS}), headers=headers
    )
    assert response.status_code == 415
    assert "application/json" in response.json()["errors"][0]["message"]


# -- 7. auth matrix ----------------------------------------------------------------------


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"api:{key}".encode()).decode()


PRIVATE = '{ project(name: "big", entityName: "load") { runCount } }'


@pytest.mark.parametrize(
    ("require_auth", "authorization", "status", "who", "sees_private"),
    [
        (False, None, 200, "owner", True),  # the default user is the first: owner
        (False, basic("wrong"), 200, "owner", True),
        (False, basic(OWNER_KEY), 200, "owner", True),
        (False, basic(OTHER_KEY), 200, "other", False),
        (False, "Basic !!!", 401, None, None),
        (False, "Bearer x", 401, None, None),
        (True, None, 401, None, None),
        (True, basic("wrong"), 401, None, None),
        (True, basic(OWNER_KEY), 200, "owner", True),
        (True, basic(OTHER_KEY), 200, "other", False),
        (True, "Basic !!!", 401, None, None),
    ],
)
def test_auth_matrix(
    store: Store,
    require_auth: bool,
    authorization: str | None,
    status: int,
    who: str | None,
    sees_private: bool | None,
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    with serving(store, ServerConfig(require_auth=require_auth)) as srv:
        viewer = post(srv.url, "{ viewer { username } }", headers=headers)
        project = post(srv.url, PRIVATE, headers=headers)
    assert viewer.status_code == status
    if status == 200:
        assert viewer.json()["data"]["viewer"]["username"] == who
        assert (project.json()["data"]["project"] is not None) == sees_private


def test_hostile_requests_change_nothing(
    server: BackgroundServer, store: Store
) -> None:
    before = digest(store)
    for body in (
        b"{",
        b"[]",
        b'{"query": 5}',
        b'{"query": "mutation { x }"}',
        b"\xff\xfe",
    ):
        TALLY["bad_inputs"] += 1
        response = httpx.post(
            server.url + "/graphql",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        assert 200 <= response.status_code < 500
    assert digest(store) == before
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_serve_without_db_uses_a_temporary_file(tmp_path: Path) -> None:
    import argparse

    from runs_server.command import (
        add_serve_arguments,
        main,  # noqa: F401  (the flag's default)
    )

    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    assert parser.parse_args([]).db is None  # not ":memory:": see run_serve
    assert BIG  # the module's project exists in the file store
