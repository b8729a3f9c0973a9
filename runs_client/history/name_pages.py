"""Pages of runs known by name, asked several at once (``BulkFetcher``'s
thread scheduler; ``async_bulk`` uses the same ``AheadWindow`` for tasks).

A page is asked as soon as a request ends, not when the caller takes the
next page: at most ``max_in_flight`` requests at once, and at most twice that
many pages asked and not yet taken, so a slow caller holds a bounded number
of pages.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, Protocol, TypeVar

from ..transport.flows import Flow, run
from .pages import Page, Position

__all__ = ["AheadWindow", "Fetcher", "Pending", "pages_by_name"]


class Fetcher(Protocol):
    """What ``pages_by_name`` uses of a ``bulk.BulkFetcher``."""

    client: Any
    max_in_flight: int

    def _by_names(self, names: list[str]) -> Flow[Page]: ...


class Pending(Protocol):
    """A request in flight as ``AheadWindow`` holds it: a thread pool's
    ``Future`` or an event loop's ``Task``."""

    def done(self) -> bool: ...

    def cancelled(self) -> bool: ...

    def add_done_callback(self, fn: Callable[[Any], object], /) -> None: ...


P = TypeVar("P", bound=Pending)


class AheadWindow(Generic[P]):
    """The requests of ``count`` pages, asked ahead of the caller in order:
    the next is asked as soon as a request ends, with at most ``bound``
    running and at most twice that asked and not yet taken. ``launch(i)``
    asks page ``i`` (None: shutting down, ask no more)."""

    def __init__(self, count: int, bound: int, launch: Callable[[int], P | None]):
        self._count, self._bound, self._launch = count, bound, launch
        self._ahead: deque[P] = deque()
        # Requests running are the launched ones not yet done. A future is
        # done (its result visible to the caller) before its callbacks run,
        # so a count kept by callbacks could still hold a page the caller has
        # taken, and then no page would be asked for the caller to wait on.
        self._live: set[P] = set()
        self._launched = 0
        self._guard = threading.RLock()  # callbacks run in pool threads too

    def fill(self, done: P | None = None) -> None:
        """Ask what the bounds allow (also each request's done callback)."""
        if done is not None and done.cancelled():
            return  # shutting down
        with self._guard:
            self._live.difference_update([p for p in self._live if p.done()])
            while (
                self._launched < self._count
                and len(self._live) < self._bound
                and len(self._ahead) < 2 * self._bound
            ):
                pending = self._launch(self._launched)
                if pending is None:
                    return
                self._ahead.append(pending)
                self._live.add(pending)
                self._launched += 1
                pending.add_done_callback(self.fill)

    def next(self) -> P:
        """The next page's request (asked, perhaps not yet answered)."""
        self.fill()
        with self._guard:
            return self._ahead.popleft()


def pages_by_name(
    fetcher: Fetcher,
    pool: ThreadPoolExecutor,
    chunks: list[list[str]],
    start: Position,
) -> Iterator[tuple[Page, Position]]:
    """The pages of ``chunks`` (names, a page each) in order, each with the
    position after it (``start``'s cursor continues after the names)."""

    def launch(i: int) -> Future[Page] | None:
        flow = fetcher._by_names(chunks[i])
        try:
            return pool.submit(run, fetcher.client, flow)
        except RuntimeError:  # the pool is shutting down: stop
            return None

    window = AheadWindow(len(chunks), fetcher.max_in_flight, launch)
    for i in range(len(chunks)):
        page = window.next().result()
        rest = tuple(n for c in chunks[i + 1 :] for n in c)
        yield page, Position(rest, start.cursor, start.more)
