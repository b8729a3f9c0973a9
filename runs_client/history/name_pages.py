"""Pages of runs known by name, asked several at once (``BulkFetcher``'s
thread scheduler; ``async_bulk`` has the same rule for tasks).

A page is asked as soon as a request ends, not when the caller takes the
next page: at most ``max_in_flight`` requests at once, and at most twice that
many pages asked and not yet taken, so a slow caller holds a bounded number
of pages.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from ..transport.flows import Flow, run
from .pages import Page, Position

__all__ = ["Fetcher", "pages_by_name"]


class Fetcher(Protocol):
    """What ``pages_by_name`` uses of a ``bulk.BulkFetcher``."""

    client: Any
    max_in_flight: int

    def _by_names(self, names: list[str]) -> Flow[Page]: ...


def pages_by_name(
    fetcher: Fetcher,
    pool: ThreadPoolExecutor,
    chunks: list[list[str]],
    start: Position,
) -> Iterator[tuple[Page, Position]]:
    """The pages of ``chunks`` (names, a page each) in order, each with the
    position after it (``start``'s cursor continues after the names)."""
    ahead: deque[Future[Page]] = deque()
    guard = threading.RLock()  # a done callback may run in the caller
    # Requests running are the launched futures not yet done. A future is
    # done (its result visible to the caller) before its callbacks run, so a
    # count kept by callbacks could still hold a page the caller has taken,
    # and then no page would be asked for the caller to wait on.
    live: set[Future[Page]] = set()
    launched = 0

    def fill(done: Future[Page] | None = None) -> None:
        nonlocal launched
        if done is not None and done.cancelled():
            return  # shutting down
        with guard:
            live.difference_update([f for f in live if f.done()])
            while (
                launched < len(chunks)
                and len(live) < fetcher.max_in_flight
                and len(ahead) < 2 * fetcher.max_in_flight
            ):
                flow = fetcher._by_names(chunks[launched])
                try:
                    future = pool.submit(run, fetcher.client, flow)
                except RuntimeError:  # the pool is shutting down: stop
                    return
                ahead.append(future)
                live.add(future)
                launched += 1
                future.add_done_callback(fill)

    for i in range(len(chunks)):
        fill()
        with guard:
            future = ahead.popleft()
        page = future.result()
        rest = tuple(n for c in chunks[i + 1 :] for n in c)
        yield page, Position(rest, start.cursor, start.more)
