# ruff: noqa: E501
"""Issue 9, client items 8-13, and the client against a failing server.

Retry waits are recorded through the injected ``sleep`` (never slept), so the
policy is checked exactly and the tests stay fast.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

import runs_client
from runs_client import (
    ConnectionError,
    GraphQLError,
    RateLimitError,
    ServerError,
    TimeoutError,
    TransientError,
)
from runs_client.transport.constants import MAX_RETRY_AFTER
from runs_server.http.app import ServerConfig
from runs_server.http.faults import FaultConfig
from runs_server.store import Store
from tests.client_unit.runs_fake_server import make_run
from tests.reliability.conftest import TALLY
from tests.reliability.servers import BIG, OWNER_KEY, file_store, serving, store_runs

pytestmark = pytest.mark.e2e

FAKE = "http://fake.test"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = file_store(tmp_path_factory.mktemp("faults"))
    yield store
    store.close()


def api_for(url: str, slept: list[float], **kwargs: Any) -> runs_client.Api:
    api = runs_client.Api(api_key=OWNER_KEY, base_url=url, **kwargs)
    api.client._sleep = slept.append
    return api


# -- against the real server's fault knobs -----------------------------------------


@pytest.mark.parametrize(
    "faults",
    [
        FaultConfig(rate_429=0.3, retry_after_s=2, seed=1),
        FaultConfig(rate_5xx=0.3, seed=2),
        FaultConfig(rate_drop=0.3, seed=3),
        FaultConfig(rate_truncate=0.3, seed=4),
        FaultConfig(
            rate_429=0.1, rate_5xx=0.1, rate_drop=0.1, rate_truncate=0.1, seed=5
        ),
    ],
    ids=["429", "5xx", "drop", "truncate", "mixed"],
)
def test_iterating_1000_runs_through_faults_returns_exactly_the_store(
    store: Store, faults: FaultConfig
) -> None:
    slept: list[float] = []
    expected = store_runs(store)
    with serving(store, ServerConfig(faults=faults)) as server:
        api = api_for(server.url, slept, max_retries=8)
        try:
            got = [run.id for run in api.runs(BIG, per_page=100, include_sweeps=False)]
        except TransientError:
            got = None  # the documented error; never a partial list
        finally:
            api.close()
    TALLY["rows_checked"] += len(expected)
    assert got is not None, "retries should ride out a 30% fault rate"
    assert sorted(got) == expected and len(got) == len(set(got))
    TALLY["rows_lost"] += len(set(expected) - set(got))
    assert slept  # some faults happened, and each wait followed the policy
    if faults.rate_429 and not (faults.rate_5xx or faults.rate_drop):
        assert set(slept) == {float(faults.retry_after_s)}
    assert all(0 <= s <= MAX_RETRY_AFTER for s in slept)


def test_faults_every_time_raise_a_transient_error(store: Store) -> None:
    for faults, kind in (
        (FaultConfig(rate_429=1.0), RateLimitError),
        (FaultConfig(rate_5xx=1.0), ServerError),
        (FaultConfig(rate_drop=1.0), ServerError),
        (FaultConfig(rate_truncate=1.0), ServerError),
    ):
        slept: list[float] = []
        with serving(store, ServerConfig(faults=faults)) as server:
            api = api_for(server.url, slept, max_retries=3)
            with pytest.raises(kind) as info:
                list(api.runs(BIG, include_sweeps=False))
            api.close()
        assert isinstance(info.value, TransientError)
        assert len(slept) == 3  # max_retries waits, then the error


def test_slow_responses_hit_the_read_timeout(store: Store) -> None:
    with serving(store, ServerConfig(latency_ms=1500)) as server:
        api = api_for(server.url, [], max_retries=1, timeout=0.3)
        with pytest.raises(TimeoutError):
            api.viewer  # noqa: B018
        api.close()


def test_refused_connection_is_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: refused
        slept: list[float] = []
        api = api_for(f"http://127.0.0.1:{port}", slept, max_retries=2)
        with pytest.raises(ConnectionError, match="no server answered") as info:
            api.viewer  # noqa: B018
        api.close()
    assert isinstance(info.value, TransientError) and len(slept) == 2
    TALLY["faults"] += 3


# -- 11. a server dripping its answer ------------------------------------------------


def test_slow_drip_is_stopped_by_the_deadline() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def drip() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                )
                for _ in range(200):
                    if stop.wait(0.05):
                        return
                    try:
                        conn.sendall(b" ")
                    except OSError:
                        break

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    api = api_for(url, [], max_retries=1, timeout=2.0, deadline=0.5)
    try:
        with pytest.raises(TimeoutError, match="deadline"):
            api.viewer  # noqa: B018
    finally:
        api.close()
        stop.set()
        listener.close()
        thread.join(5)
    TALLY["faults"] += 2


def test_deadline_defaults_to_three_read_timeouts() -> None:
    with runs_client.Api(api_key="k", base_url=FAKE, timeout=5) as api:
        assert api.client.deadline == 15
    with runs_client.Api(api_key="k", base_url=FAKE, timeout=None) as api:
        assert api.client.deadline is None


# -- 8, 9, 10, 12: answers no honest server sends ----------------------------------------


def page(
    names: list[str], has_next: bool, cursor: str, count: int | None = 5
) -> dict[str, Any]:
    edges = [{"cursor": n, "node": make_run(n)} for n in names]
    runs = {"edges": edges, "pageInfo": {"endCursor": cursor, "hasNextPage": has_next}}
    project = {"runCount": count, "readOnly": False, "runs": runs}
    return {"data": {"project": project}}


# Answers a pager mock gives before it fails the test: a broken guard fails
# fast instead of paging on an endless mock.
MOCK_BOUND = 50


def answered(*bodies: Any) -> Iterator[httpx.Response]:
    for body in bodies:
        yield httpx.Response(200, json=body)
    for n in range(1, MOCK_BOUND):  # a pager that never ends: empty pages
        yield httpx.Response(200, json=page([], True, f"c{n}"))
    raise AssertionError(f"the client sent over {MOCK_BOUND} requests")


@respx.mock
def test_empty_page_claiming_more_is_refused() -> None:
    route = respx.post(FAKE + "/graphql").mock(
        side_effect=answered(page(["a"], True, "c0"))
    )
    with (
        runs_client.Api(api_key="k", base_url=FAKE) as api,
        pytest.raises(ServerError, match="empty page that claims more"),
    ):
        # A fixed page size: the mock answers pages only (no ServerPageCap).
        list(api.runs("e/p", per_page=50, include_sweeps=False))
    assert route.call_count == 2
    TALLY["bad_inputs"] += 1


@respx.mock
def test_more_runs_than_counted_is_refused() -> None:
    def pages() -> Iterator[httpx.Response]:
        for n in range(1, MOCK_BOUND):
            yield httpx.Response(200, json=page([f"r{n}"], True, f"c{n}", count=5))
        raise AssertionError(f"the client sent over {MOCK_BOUND} requests")

    route = respx.post(FAKE + "/graphql").mock(side_effect=pages())
    with (
        runs_client.Api(api_key="k", base_url=FAKE) as api,
        pytest.raises(ServerError, match="more than the 5 it counted"),
    ):
        list(api.runs("e/p", per_page=1, include_sweeps=False))
    assert route.call_count < 20
    TALLY["bad_inputs"] += 1


@respx.mock
def test_more_edges_than_asked_is_refused() -> None:
    respx.post(FAKE + "/graphql").mock(
        return_value=httpx.Response(
            200, json=page([f"r{i}" for i in range(60)], False, "c", 60)
        )
    )
    with (
        runs_client.Api(api_key="k", base_url=FAKE) as api,
        pytest.raises(ServerError, match="60 runs for a page of 50"),
    ):
        list(api.runs("e/p", per_page=50, include_sweeps=False))
    TALLY["bad_inputs"] += 1


@respx.mock
def test_gzip_bomb_is_refused_by_the_size_cap() -> None:
    bomb = gzip.compress(
        b'{"data": {"viewer": {"id": "' + b"0" * 20_000_000 + b'"}}}', 9
    )
    assert len(bomb) < 100_000
    respx.post(FAKE + "/graphql").mock(
        return_value=httpx.Response(
            200,
            content=bomb,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )
    )
    with (
        runs_client.Api(
            api_key="k", base_url=FAKE, max_response_bytes=1_000_000
        ) as api,
        pytest.raises(ServerError, match="larger than 1,000,000 bytes"),
    ):
        api.viewer  # noqa: B018
    TALLY["bad_inputs"] += 1


@respx.mock
def test_deeply_nested_json_is_server_error_naming_the_operation() -> None:
    respx.post(FAKE + "/graphql").mock(
        return_value=httpx.Response(200, content=b"[" * 100_000 + b"]" * 100_000)
    )
    with (
        runs_client.Api(api_key="k", base_url=FAKE, max_retries=0) as api,
        pytest.raises(ServerError, match=r"\(Viewer\)"),
    ):
        api.viewer  # noqa: B018
    TALLY["bad_inputs"] += 1


@respx.mock
def test_exhausted_5xx_with_errors_is_both_kinds() -> None:
    respx.post(FAKE + "/graphql").mock(
        return_value=httpx.Response(503, json={"errors": [{"message": "overloaded"}]})
    )
    with runs_client.Api(api_key="k", base_url=FAKE, max_retries=2) as api:
        api.client._sleep = lambda _s: None
        with pytest.raises(ServerError) as info:
            api.viewer  # noqa: B018
    assert isinstance(info.value, GraphQLError) and info.value.messages == [
        "overloaded"
    ]


def test_size_cap_holds_for_answers_in_flight_together() -> None:
    # Three answers of 600,000 bytes, each under the 1,000,000-byte cap, are
    # read at once (each waits at a barrier after its first half): together
    # they pass the cap, so the client refuses what would go over it.
    barrier = threading.Barrier(3, timeout=20)
    half = b" " * 300_000

    def body() -> Iterator[bytes]:
        yield b'{"data": {"viewer": {"id": "x"}}}' + half[33:]
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()  # broken when a refused reader left: go on
        yield half

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=body(), headers={"Content-Type": "application/json"}
        )

    errors: list[BaseException] = []
    with (
        respx.mock() as router,
        runs_client.Api(
            api_key="k", base_url=FAKE, max_response_bytes=1_000_000, max_retries=0
        ) as api,
    ):
        router.post(FAKE + "/graphql").mock(side_effect=answer)

        def ask() -> None:
            try:
                api.client.execute("{ viewer { id } }")
            except BaseException as exc:  # collected, asserted below
                errors.append(exc)
                barrier.abort()

        threads = [threading.Thread(target=ask) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        budget = api.client.in_flight_bytes
    assert errors, "three answers over the client's cap together were all read"
    assert all(
        isinstance(e, ServerError) and "reading at once" in str(e) for e in errors
    )
    assert budget.peak <= 1_000_000
    assert budget.held == 0  # every reservation was given back
    TALLY["bad_inputs"] += 1


@respx.mock
def test_size_cap_is_given_back_after_each_answer() -> None:
    big = b'{"data": {"viewer": {"id": "' + b"0" * 600_000 + b'"}}}'
    respx.post(FAKE + "/graphql").mock(return_value=httpx.Response(200, content=big))
    with runs_client.Api(
        api_key="k", base_url=FAKE, max_response_bytes=1_000_000, max_retries=0
    ) as api:
        for _ in range(5):  # 3,000,000 bytes in all, one answer at a time
            api.client.execute("{ viewer { id } }")
        assert api.client.in_flight_bytes.held == 0
