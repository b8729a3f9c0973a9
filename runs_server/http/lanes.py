"""Two lanes of worker threads: quick requests never wait behind heavy ones;
and the cheapest requests run on the event loop itself.

Requests execute on worker threads (at most ``max_in_flight`` at once hold a
connection and build an answer). Heavy requests can fill every worker for
seconds; a quick request (a small body whose query the cost estimate finds
cheap: at most QUICK_MAX_COST fields, reading no history, filtering and
ordering nothing) runs on a lane of its own instead, so ``viewer`` or a
project lookup is answered promptly while the heavy ones run.

The cheapest requests run on the event loop itself, one after another: a
text already parsed and validated (``DocumentCache``) asking at most
INLINE_MAX_COST fields, no history, runs unfiltered in their indexed order
(a page of a listing: a few ms). Handing each to a thread and back cost two
wake-ups that wait for a core when clients share it: with 4 clients on 2
cores, a 50-run listing page's p99 fell from about 24 ms to 16 ms.
Not over a store in memory, whose readers wait for the writers' lock.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from graphql import GraphQLError, parse

from runs_server.graphql.cost import is_inline, is_quick
from runs_server.graphql.documents import DocumentCache

# Bodies no larger than this are classified (parsed once more, on the event
# loop: a few microseconds for a small body); larger ones are heavy.
QUICK_MAX_BODY_BYTES = 4096
QUICK_LANE_THREADS = 1


class Lanes:
    """The heavy pool (``max_in_flight`` threads) and the quick lane."""

    def __init__(self, max_in_flight: int) -> None:
        self.heavy = ThreadPoolExecutor(max_in_flight, thread_name_prefix="runs_server")
        self.quick = ThreadPoolExecutor(
            QUICK_LANE_THREADS, thread_name_prefix="runs_server_quick"
        )
        self._lock = threading.Lock()
        # The documents the GraphQL endpoint parsed: a text seen before is
        # classified without parsing it again on the event loop.
        self.documents: DocumentCache | None = None
        self.heavy_running = 0  # heavy requests executing now, for tests
        # Whether cheap requests may run on the event loop: not over a store
        # in memory, whose readers share the writers' lock (a wait for it
        # must not stall the loop).
        self.inline = False
        self.inline_served = 0  # requests run on the event loop, for tests

    def pick(self, body: bytes) -> ThreadPoolExecutor | None:
        """The lane of a GraphQL body (decoded once for both rules); None:
        run it on the event loop."""
        request = _Request.of(body, self.documents)
        if request is None:
            return self.heavy
        if self.inline and self.documents is not None and request.inline():
            return None
        return self.quick if request.quick() else self.heavy

    def counted(self, pool: ThreadPoolExecutor, work: Any) -> Any:
        """``work`` wrapped to keep ``heavy_running`` when run on ``pool``."""
        if pool is not self.heavy:
            return work

        def run(*args: Any) -> Any:
            with self._lock:
                self.heavy_running += 1
            try:
                return work(*args)
            finally:
                with self._lock:
                    self.heavy_running -= 1

        return run

    def shutdown(self) -> None:
        for pool in (self.heavy, self.quick):
            pool.shutdown(wait=False, cancel_futures=True)


class _Request:
    """A small GraphQL body, decoded once: its text, its variables and the
    document kept for that text (None when it was never validated)."""

    def __init__(
        self, query: str, variables: Any, documents: DocumentCache | None
    ) -> None:
        self.query = query
        self.variables: dict[str, Any] = (
            variables if isinstance(variables, dict) else {}
        )
        self.kept = None if documents is None else documents.peek(query)

    @classmethod
    def of(cls, body: bytes, documents: DocumentCache | None) -> _Request | None:
        """The body's request; None when it is too large to classify on the
        event loop or is no JSON object with a text query."""
        if len(body) > QUICK_MAX_BODY_BYTES:
            return None
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        query = data.get("query") if isinstance(data, dict) else None
        if not isinstance(query, str):
            return None  # refused quickly anyway; no need to hurry it
        return cls(query, data.get("variables"), documents)

    def inline(self) -> bool:
        """Cheap enough for the event loop: its text was parsed and validated
        before (kept), and it asks at most ``INLINE_MAX_COST`` fields, no
        history, no filter, runs in their indexed order (``cost.is_inline``)."""
        return self.kept is not None and is_inline(self.kept, self.variables)

    def quick(self) -> bool:
        """Quick (see the module's rule); a text never seen is parsed here."""
        document = self.kept
        if document is None:
            try:
                document = parse(
                    self.query, no_location=True, max_tokens=QUICK_MAX_BODY_BYTES
                )
            except GraphQLError:
                return False
        return is_quick(document, self.variables)


def inline_body(body: bytes, documents: DocumentCache | None) -> bool:
    """Whether a GraphQL body may run on the event loop (``_Request.inline``)."""
    if documents is None:
        return False
    request = _Request.of(body, documents)
    return request is not None and request.inline()


def quick_body(body: bytes, documents: DocumentCache | None = None) -> bool:
    """Whether a GraphQL request body is quick (see the module's rule)."""
    request = _Request.of(body, documents)
    return request is not None and request.quick()
