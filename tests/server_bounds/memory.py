"""Peak memory of one request, measured with tracemalloc around the endpoint."""

from __future__ import annotations

import threading
import tracemalloc
from typing import Any

import orjson

from runs_server.history import HistoryExports
from runs_server.http.app import ServerConfig
from runs_server.http.graphql_endpoint import GraphQLEndpoint
from runs_server.store import Store
from tests.reliability.conftest import TALLY
from tests.reliability.servers import OWNER_KEY

AUTH = "Basic " + __import__("base64").b64encode(f"api:{OWNER_KEY}".encode()).decode()


def measured(
    store: Store,
    query: str,
    variables: dict[str, Any] | None = None,
    config: ServerConfig | None = None,
) -> tuple[dict[str, Any], int]:
    """The answer to ``query`` and the peak bytes Python held while answering."""
    exports = HistoryExports()
    endpoint = GraphQLEndpoint(store, config or ServerConfig(), exports)
    body = orjson.dumps({"query": query, "variables": variables})
    tracemalloc.start()
    try:
        reply = endpoint.respond(body, AUTH, threading.Event())
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        exports.close()
    TALLY["hostile_requests"] += 1
    return orjson.loads(reply.body), peak
