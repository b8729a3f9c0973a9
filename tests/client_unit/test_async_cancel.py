"""Cancelling an ``AsyncRetryingClient`` call (``asyncio.timeout``, a task
cancelled) closes the answer being read and leaves the client usable."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncIterator

import httpx
import pytest

from runs_client.transport.async_retrying import AsyncRetryingClient

URL = "https://wandb.example.test/graphql"
VIEWER = (
    b'{"data": {"viewer": {"id": "u1", "entity": "alice", "username": "alice",'
    b' "name": "Alice", "email": null, "flags": null, "teams": null}}}'
)

pytestmark = pytest.mark.timeout(30)


class StalledBody(httpx.AsyncByteStream):
    """Sends half a body, then nothing until cancelled; records its closing."""

    def __init__(self, started: asyncio.Event, closed: list[bool]) -> None:
        self.started = started
        self.closed = closed

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield VIEWER[:20]
        self.started.set()
        await asyncio.Event().wait()  # never set: only cancellation ends it
        yield VIEWER[20:]

    async def aclose(self) -> None:
        self.closed.append(True)


def stalling_then_ok(started: asyncio.Event, closed: list[bool]) -> httpx.AsyncClient:
    calls = {"n": 0}

    async def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(200, stream=StalledBody(started, closed))
        return httpx.Response(200, content=VIEWER)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def test_asyncio_timeout_closes_the_answer_and_the_client_stays_usable() -> None:
    async def main() -> None:
        started, closed = asyncio.Event(), []
        async with stalling_then_ok(started, closed) as http:
            client = AsyncRetryingClient(URL, http, max_retries=0)
            with pytest.raises(builtins.TimeoutError):
                async with asyncio.timeout(0.2):
                    await client.viewer()
            assert started.is_set() and closed == [True]
            viewer = await client.viewer()  # the same client, the next answer
            assert viewer.viewer is not None and viewer.viewer.entity == "alice"

    asyncio.run(main())


def test_cancelled_task_closes_the_answer_and_the_client_stays_usable() -> None:
    async def main() -> None:
        started, closed = asyncio.Event(), []
        async with stalling_then_ok(started, closed) as http:
            client = AsyncRetryingClient(URL, http, max_retries=3)
            task = asyncio.create_task(client.viewer())
            await started.wait()  # the body is being read
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # Not retried as a failure: cancelled, closed, no second request.
            assert closed == [True]
            viewer = await client.viewer()
            assert viewer.viewer is not None and viewer.viewer.id == "u1"

    asyncio.run(main())


def test_requests_in_flight_are_bounded_by_the_client() -> None:
    # 300 calls at once, 5 slots: the server never sees more than 5 at once,
    # and every call is answered.
    async def main() -> tuple[int, int]:
        active = {"now": 0, "peak": 0}

        async def handler(request: httpx.Request) -> httpx.Response:
            active["now"] += 1
            active["peak"] = max(active["peak"], active["now"])
            await asyncio.sleep(0)  # let the other calls pile up
            active["now"] -= 1
            return httpx.Response(200, content=VIEWER)

        transport = httpx.MockTransport(handler)
        async with httpx.AsyncClient(transport=transport) as http:
            client = AsyncRetryingClient(URL, http, max_in_flight=5)
            answers = await asyncio.gather(*(client.viewer() for _ in range(300)))
        return len(answers), active["peak"]

    answered, peak = asyncio.run(main())
    assert answered == 300
    assert 1 < peak <= 5


@pytest.mark.parametrize("stall", ["head", "body"])
def test_deadline_covers_head_and_body(stall: str) -> None:
    from runs_client import TimeoutError as RunsTimeoutError

    async def main() -> tuple[str, list[bool]]:
        started, closed = asyncio.Event(), []
        calls = {"n": 0}

        async def handler(request: httpx.Request) -> httpx.Response:
            calls["n"] += 1
            if stall == "head":
                await asyncio.Event().wait()  # no status line, ever
            return httpx.Response(200, stream=StalledBody(started, closed))

        transport = httpx.MockTransport(handler)
        async with httpx.AsyncClient(transport=transport) as http:
            client = AsyncRetryingClient(URL, http, max_retries=1, deadline=0.1)
            client._sleep = _no_sleep  # type: ignore[method-assign]
            with pytest.raises(RunsTimeoutError) as caught:
                await client.viewer()
        assert calls["n"] == 2  # the late attempt was retried once
        return str(caught.value), closed

    message, closed = asyncio.run(main())
    assert "deadline" in message and "Viewer" in message
    assert closed == ([] if stall == "head" else [True, True])


async def _no_sleep(seconds: float) -> None:
    return None
