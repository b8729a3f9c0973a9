"""One test body for both clients: ``Either`` gives ``Api`` as it is, and
``AsyncApi`` through a sync view whose every call is awaited to its end on
one event loop per test (the loop the ``AsyncApi``'s pool belongs to).

The view maps ``len(runs)`` to ``await runs.count()``, ``runs[i]`` and
slices to ``await runs.get(...)``, iteration to ``async for``, and each
coroutine method to its awaited result; async iterators (``scan_history``,
``iter_histories``) are gathered into lists.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any

import runs_client


class Loop:
    """The event loop one test's ``AsyncApi`` lives on."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        # One view per object, so that identity checks see shared objects.
        self.views: dict[int, tuple[Any, Any]] = {}

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self.loop.run_until_complete(coro)

    def gather(self, stream: AsyncIterator[Any]) -> list[Any]:
        async def collect() -> list[Any]:
            return [item async for item in stream]

        return self.run(collect())

    def close(self) -> None:
        self.loop.close()


def view(value: Any, loop: Loop) -> Any:
    """``value`` awaited and wrapped as needed."""
    if inspect.iscoroutine(value):
        value = loop.run(value)
    if isinstance(value, AsyncIterator):
        return iter(loop.gather(value))
    if isinstance(value, list):
        return [view(item, loop) for item in value]
    kind: type[Awaited]
    if isinstance(value, runs_client.AsyncRuns):
        kind = RunsView
    elif isinstance(value, (runs_client.AsyncRun, runs_client.AsyncSweep)):
        kind = Awaited
    else:
        return value
    held = loop.views.get(id(value))
    if held is None:
        held = loop.views[id(value)] = (value, kind(value, loop))
    return held[1]


class Awaited:
    """Any async object seen through a sync surface."""

    __slots__ = ("_loop", "_target")

    @property  # type: ignore[misc]
    def __dict__(self) -> dict[str, Any]:  # vars(): the viewed object's
        return vars(self._target)

    def __init__(self, target: Any, loop: Loop) -> None:
        self._target = target
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not callable(value) or inspect.isclass(value):
            return view(value, self._loop) if name in ("runs", "sweep") else value

        def call(*args: Any, **kwargs: Any) -> Any:
            return view(value(*args, **kwargs), self._loop)

        return call

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance() sees the object viewed
        return type(self._target)

    def __eq__(self, other: object) -> bool:
        target = other._target if isinstance(other, Awaited) else other
        return bool(self._target == target)

    def __hash__(self) -> int:
        return hash(self._target)

    def __repr__(self) -> str:
        return repr(self._target)


class RunsView(Awaited):
    __slots__ = ()

    def __len__(self) -> int:
        return int(self._loop.run(self._target.count()))

    def __getitem__(self, index: int | slice) -> Any:
        return view(self._loop.run(self._target.get(index)), self._loop)

    def __iter__(self) -> Iterator[Any]:
        return iter(view(self._loop.gather(self._target.__aiter__()), self._loop))


class ApiView(Awaited):
    """``AsyncApi`` as if it were ``Api``; ``close()`` closes pool and loop."""

    __slots__ = ()

    def close(self) -> None:
        self._loop.run(self._target.aclose())
        self._loop.close()


def make_either(kind: str, **kwargs: Any) -> Any:
    """An ``Api``, or an ``ApiView`` over an ``AsyncApi``, both closed by
    ``close()``. Under the view, an ``AsyncApi`` needs its default entity
    asked first (``runs()`` sends nothing): it is asked here."""
    if kind == "sync":
        return runs_client.Api(**kwargs)
    loop = Loop()
    api = loop.run(_open(kwargs))
    return ApiView(api, loop)


async def _open(kwargs: dict[str, Any]) -> runs_client.AsyncApi:
    return runs_client.AsyncApi(**kwargs)
