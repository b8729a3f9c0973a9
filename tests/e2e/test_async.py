"""What only the async client has: retries awaited (recorded, not slept)
through a faulty server, many reads at once with ``asyncio.gather``,
cancellation that leaves the client usable, no thread per call, and
``runs()`` that sends nothing.

The rest of the client's end-to-end cases run for ``AsyncApi`` too, through
``make_api``'s ``async`` parameter (see ``either_api``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import runs_client
from runs_client import AsyncApi, AsyncRetryingClient, InvalidArgumentError
from runs_client.transport.constants import MAX_BACKOFF
from runs_server.http.app import ServerConfig

from .conftest import E2E_KEY, HAND, SCAN, SPARSE_LAST, SPECS, Server, start_server
from .test_retries import FLAKY, RETRY_AFTER, created_ids

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def flaky_server() -> Iterator[Server]:
    live = start_server(ServerConfig(faults=FLAKY), demo=False)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def slow_server() -> Iterator[Server]:
    live = start_server(ServerConfig(latency_ms=300), demo=False)
    yield live
    live.stop()


def flaky_async_api(server: Server) -> tuple[AsyncApi, list[float], list[int]]:
    """An AsyncApi whose client records its sleeps instead of sleeping, and
    the status of every answer."""
    api = AsyncApi(api_key=E2E_KEY, base_url=server.url)
    sleeps: list[float] = []
    statuses: list[int] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def seen(response: httpx.Response) -> None:
        statuses.append(response.status_code)

    api.client = AsyncRetryingClient(
        api.client.url, api.client.http_client, max_retries=30, sleep=sleep
    )
    api.client.http_client.event_hooks = {"response": [seen]}
    return api, sleeps, statuses


def test_retries_through_faults_give_exactly_the_runs_and_rows(
    flaky_server: Server,
) -> None:
    async def main() -> tuple[list[str], int, Any, list[dict[str, Any]]]:
        api, sleeps, statuses = flaky_async_api(flaky_server)
        async with api:
            runs = api.runs(HAND, per_page=3)
            count = await runs.count()
            ids = [run.id async for run in runs]
            frame = await runs.histories(samples=1000, format="pandas")
            rows = await (await runs.get(0)).history(samples=1000, pandas=False)
        assert len(sleeps) >= 5, "the fault share should have hit some requests"
        # Each 429's Retry-After was honoured; other failures backed off.
        assert sleeps.count(RETRY_AFTER) == statuses.count(429) >= 1
        assert all(0 <= s <= MAX_BACKOFF for s in sleeps if s != RETRY_AFTER)
        return ids, count, frame, rows

    ids, count, frame, rows = asyncio.run(main())
    assert count == len(SPECS)
    assert ids == created_ids()
    assert len(frame) == sum(len(s.history) for s in SPECS)
    first = min(SPECS, key=lambda s: (s.created_at, s.id))
    assert [r["_step"] for r in rows] == [r["_step"] for r in first.history]


def test_gather_reads_many_at_once_and_matches_one_after_another(
    server: Server,
) -> None:
    filters = [{"state": "finished"}, {"tags": "a"}, {"config.batch": 64}, None]

    async def main() -> tuple[list[list[str]], list[list[str]], int]:
        async with AsyncApi(api_key=E2E_KEY, base_url=server.url) as api:

            async def listing(f: dict[str, Any] | None) -> list[str]:
                runs = api.runs(HAND, filters=f, per_page=4, include_sweeps=False)
                return [run.id async for run in runs]

            together = await asyncio.gather(*(listing(f) for f in filters))
            apart = [await listing(f) for f in filters]
            counts = await asyncio.gather(*(api.runs(HAND).count() for _ in range(50)))
            assert set(counts) == {len(SPECS)}
            pool = api.client.http_client._transport._pool  # type: ignore[attr-defined]
            return list(together), apart, len(pool.connections)

    together, apart, connections = asyncio.run(main())
    assert together == apart
    assert connections <= 100  # httpx's default connection limit


def test_cancelled_read_closes_its_request_and_the_client_stays_usable(
    slow_server: Server,
) -> None:
    async def main() -> int:
        async with AsyncApi(api_key=E2E_KEY, base_url=slow_server.url) as api:
            runs = api.runs(HAND)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(runs.count(), 0.05)  # the server takes 0.3 s
            task = asyncio.ensure_future(api.runs(SCAN).count())
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # No request is left open: both connections went back to the pool.
            pool = api.client.http_client._transport._pool  # type: ignore[attr-defined]
            assert all(not c.is_connecting() for c in pool.connections)
            assert pool._requests == []
            return await runs.count()

    assert asyncio.run(main()) == len(SPECS)


def test_no_thread_per_call_inside_a_running_loop(server: Server) -> None:
    started: list[str] = []
    original = threading.Thread.start

    def start(self: threading.Thread) -> None:
        started.append(self.name)
        original(self)

    async def main() -> int:
        # A running loop, as in Jupyter: nothing here may start a loop or a thread.
        async with AsyncApi(api_key=E2E_KEY, base_url=server.url) as api:
            runs = api.runs(HAND, per_page=5)
            frame = await runs.histories(samples=50, format="pandas")
            steps = [r async for r in (await runs.get(0)).scan_history()]
            return len(frame) + len(steps)

    threading.Thread.start = start  # type: ignore[method-assign]
    try:
        assert asyncio.run(main()) > 0
    finally:
        threading.Thread.start = original  # type: ignore[method-assign]
    # The in-process server starts its own worker threads lazily; none other.
    assert [name for name in started if not name.startswith("runs_server")] == []


def test_runs_sends_nothing_and_needs_a_known_entity(server: Server) -> None:
    sent: list[str] = []

    async def hook(request: httpx.Request) -> None:
        sent.append(str(request.url))

    async def main() -> int:
        async with AsyncApi(api_key=E2E_KEY, base_url=server.url) as api:
            api.client.http_client.event_hooks = {"request": [hook]}
            runs = api.runs(HAND, filters={"state": "finished"})
            assert sent == [] and repr(runs) == f"<AsyncRuns {HAND}>"
            with pytest.raises(InvalidArgumentError, match="default_entity"):
                api.runs("hand")
            assert sent == []
            assert await api.default_entity() == "e2e"
            return await api.runs("hand").count()

    assert asyncio.run(main()) == len(SPECS)


def test_scan_of_many_windows_matches_the_sync_client(server: Server) -> None:
    async def main() -> list[dict[str, Any]]:
        async with AsyncApi(api_key=E2E_KEY, base_url=server.url) as api:
            run = await api.run(f"{SCAN}/sparse")
            return [r async for r in run.scan_history(keys=["rare"], page_size=300)]

    with runs_client.Api(api_key=E2E_KEY, base_url=server.url) as sync:
        expected = list(
            sync.run(f"{SCAN}/sparse").scan_history(keys=["rare"], page_size=300)
        )
    got = asyncio.run(main())
    assert got == expected and len(got) == 3
    assert SPARSE_LAST > 300 * 6  # several windows were asked
