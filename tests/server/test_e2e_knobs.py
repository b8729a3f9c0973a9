"""Latency and fault injection, over HTTP."""

from __future__ import annotations

import time

import httpx
import pytest

from runs_server.http.app import RunsServerApp, ServerConfig
from runs_server.http.faults import Fault, FaultConfig, FaultInjector
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store

pytestmark = pytest.mark.e2e

QUERY = {"query": "{ viewer { username } }"}


def serve(config: ServerConfig) -> BackgroundServer:
    store = Store()
    store.users.create("demo")
    return BackgroundServer(RunsServerApp(store, config))


def timing_ms(response: httpx.Response) -> float:
    return float(response.headers["server-timing"].split("dur=")[1].split(";")[0])


def test_latency_is_added_and_excluded_from_server_timing() -> None:
    with serve(ServerConfig(latency_ms=300)) as server:
        started = time.perf_counter()
        response = httpx.post(server.graphql_url, json=QUERY)
        elapsed = time.perf_counter() - started
    assert response.json() == {"data": {"viewer": {"username": "demo"}}}
    assert elapsed >= 0.3
    assert timing_ms(response) < 150


def test_fault_429_has_retry_after() -> None:
    with serve(
        ServerConfig(faults=FaultConfig(rate_429=1.0, retry_after_s=7))
    ) as server:
        response = httpx.post(server.graphql_url, json=QUERY)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.headers["ratelimit-remaining"] == "0"
    assert "server-timing" in response.headers


def test_fault_5xx() -> None:
    with serve(ServerConfig(faults=FaultConfig(rate_5xx=1.0))) as server:
        statuses = {
            httpx.post(server.graphql_url, json=QUERY).status_code for _ in range(12)
        }
    assert statuses <= {500, 502, 503, 504} and statuses


def test_fault_drop_breaks_the_connection() -> None:
    with serve(ServerConfig(faults=FaultConfig(rate_drop=1.0))) as server:
        with pytest.raises(httpx.TransportError):
            httpx.post(server.graphql_url, json=QUERY)
        # the server survives: a later request still fails the same way
        with pytest.raises(httpx.TransportError):
            httpx.post(server.graphql_url, json=QUERY)


def test_fault_truncate_gives_invalid_json() -> None:
    with serve(ServerConfig(faults=FaultConfig(rate_truncate=1.0))) as server:
        response = httpx.post(server.graphql_url, json=QUERY)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_fault_share_and_determinism() -> None:
    config = FaultConfig(
        rate_429=0.2, rate_5xx=0.1, rate_drop=0.05, rate_truncate=0.05, seed=3
    )
    first = [FaultInjector(config).draw()[0] for _ in range(1)]
    a = FaultInjector(config)
    b = FaultInjector(config)
    draws_a = [a.draw()[0] for _ in range(2000)]
    assert draws_a == [b.draw()[0] for _ in range(2000)]
    assert first[0] == draws_a[0]
    share = sum(d is Fault.RATE_LIMIT for d in draws_a) / 2000
    assert 0.15 < share < 0.25
    assert sum(d is None for d in draws_a) / 2000 == pytest.approx(0.6, abs=0.05)


def test_fault_rates_validated() -> None:
    with pytest.raises(ValueError, match="sum to at most 1"):
        FaultConfig(rate_429=0.7, rate_5xx=0.7)
