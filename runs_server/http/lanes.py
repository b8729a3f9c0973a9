"""Two lanes of worker threads: quick requests never wait behind heavy ones.

Requests execute on worker threads (at most ``max_in_flight`` at once hold a
connection and build an answer). Heavy requests can fill every worker for
seconds; a quick request (a small body whose query the cost estimate finds
cheap: at most QUICK_MAX_COST fields, reading no history, filtering and
ordering nothing) runs on a lane of its own instead, so ``viewer`` or a
project lookup is answered promptly while the heavy ones run.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from graphql import GraphQLError, parse

from runs_server.graphql.cost import is_quick
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

    def pick(self, body: bytes) -> ThreadPoolExecutor:
        return self.quick if quick_body(body, self.documents) else self.heavy

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


def quick_body(body: bytes, documents: DocumentCache | None = None) -> bool:
    """Whether a GraphQL request body is quick (see the module's rule)."""
    if len(body) > QUICK_MAX_BODY_BYTES:
        return False
    try:
        data = orjson.loads(body)
        query = data.get("query") if isinstance(data, dict) else None
        if not isinstance(query, str):
            return False  # refused quickly anyway; no need to hurry it
        variables = data.get("variables")
        document = None if documents is None else documents.peek(query)
        if document is None:
            document = parse(query, no_location=True, max_tokens=QUICK_MAX_BODY_BYTES)
    except (orjson.JSONDecodeError, GraphQLError):
        return False
    return is_quick(document, variables if isinstance(variables, dict) else {})
