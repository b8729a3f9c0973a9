"""Retries end to end: a server injecting 429s, 5xx, dropped connections and
truncated bodies still yields exactly the right runs and rows; when every
attempt fails, the error says what happened. Sleeps are recorded, not slept."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

import runs_client
from runs_client import GraphQLError, RateLimitError, RetryingClient, ServerError
from runs_client.transport.constants import MAX_BACKOFF
from runs_server.http.app import ServerConfig
from runs_server.http.faults import FaultConfig

from .conftest import (
    E2E_KEY,
    HAND,
    SCAN,
    SPARSE_LAST,
    SPECS,
    Requests,
    Server,
    record_requests,
    start_server,
)
from .test_errors import assert_key_hidden, secret_forms
from .test_history import assert_rows, with_run_id

pytestmark = pytest.mark.e2e

RETRY_AFTER = 3
FLAKY = FaultConfig(
    rate_429=0.15,
    rate_5xx=0.15,
    rate_drop=0.1,
    rate_truncate=0.1,
    retry_after_s=RETRY_AFTER,
    seed=7,
)


def flaky_api(
    server: Server, max_retries: int
) -> tuple[runs_client.Api, list[float], Requests]:
    """An Api whose retrying client records its sleeps instead of sleeping."""
    api = runs_client.Api(api_key=E2E_KEY, base_url=server.url)
    sleeps: list[float] = []
    api.client = RetryingClient(
        api.client.url,
        api.client.http_client,
        max_retries=max_retries,
        sleep=sleeps.append,
    )
    return api, sleeps, record_requests(api)


@pytest.fixture(scope="module")
def flaky_server() -> Iterator[Server]:
    live = start_server(ServerConfig(faults=FLAKY), demo=False)
    yield live
    live.stop()


def created_ids() -> list[str]:
    return [s.id for s in sorted(SPECS, key=lambda s: (s.created_at, s.id))]


def test_listing_completes_through_faults(
    flaky_server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="runs_client")
    api, sleeps, requests = flaky_api(flaky_server, max_retries=30)
    statuses: list[int] = []
    hooks = api.client.http_client.event_hooks
    hooks["response"] = [lambda response: statuses.append(response.status_code)]
    api.client.http_client.event_hooks = hooks
    with api:
        runs = api.runs(HAND, per_page=3)
        assert len(runs) == len(SPECS)
        got = [r.id for r in runs]
        assert got == created_ids()
        assert {r.id: r.sweep.name if r.sweep else None for r in runs} == {
            s.id: s.sweep for s in SPECS
        }
        filtered = api.runs(HAND, filters={"tags": "a"}, order="-config.x", per_page=2)
        assert [r.id for r in filtered] == [
            s.id
            for s in sorted(
                (s for s in SPECS if "a" in s.tags and "x" in s.config),
                key=lambda s: (s.config["x"], s.id),
                reverse=True,
            )
        ] + sorted(
            (s.id for s in SPECS if "a" in s.tags and "x" not in s.config), reverse=True
        )
    # Every failed attempt was retried after one recorded sleep.
    # RunCount, 8 pages, 2 sweeps; then 6 filtered pages and their one sweep (sw2).
    succeeded = 1 + 8 + 2 + 6 + 1
    assert len(requests.operations) == succeeded + len(sleeps)
    assert len(sleeps) >= 5, "the fault share should have hit some requests"
    # Each 429's Retry-After was honoured; other failures backed off with jitter.
    assert statuses.count(429) >= 1
    assert sleeps.count(RETRY_AFTER) == statuses.count(429)
    assert all(0 <= s <= MAX_BACKOFF for s in sleeps)
    assert {*statuses} - {200, 429} <= {500, 502, 503, 504}
    logged = caplog.text
    assert "retry" in logged
    for form in secret_forms(E2E_KEY):
        assert form not in logged


def test_history_completes_through_faults(flaky_server: Server) -> None:
    api, sleeps, _ = flaky_api(flaky_server, max_retries=30)
    with api:
        runs = api.runs(HAND, filters={"config.seed": {"$lt": 6}})
        ordered = sorted(SPECS[:6], key=lambda s: (s.created_at, s.id))
        assert_rows(runs.histories(), with_run_id(ordered))
        sparse = api.run(f"{SCAN}/sparse")
        rows = list(sparse.scan_history(page_size=250))
        assert [r["_step"] for r in rows] == list(range(SPARSE_LAST + 1))
        assert rows[1500] == {"_step": 1500, "loss": 375.0, "rare": 15000}
    assert sleeps


def exhausted(
    fault: FaultConfig, max_retries: int = 3
) -> tuple[Exception, list[float]]:
    live = start_server(ServerConfig(faults=fault), demo=False)
    try:
        api, sleeps, requests = flaky_api(live, max_retries=max_retries)
        with api, pytest.raises(runs_client.RunsClientError) as info:
            len(api.runs(HAND))
        assert requests.operations == ["RunCount"] * (max_retries + 1)
        assert len(sleeps) == max_retries
        assert_key_hidden(info.value, E2E_KEY)
        return info.value, sleeps
    finally:
        live.stop()


def test_rate_limited_every_time_raises_rate_limit_error() -> None:
    error, sleeps = exhausted(FaultConfig(rate_429=1.0, retry_after_s=RETRY_AFTER))
    assert isinstance(error, RateLimitError)
    assert error.retry_after == RETRY_AFTER
    assert error.status_code == 429
    assert sleeps == [RETRY_AFTER] * 3
    assert "rate limited (HTTP 429) after 4 attempt(s)" in str(error)
    assert "raise max_retries" in str(error)


def test_server_errors_every_time_raise_the_last_answer() -> None:
    # The injected 5xx carries a GraphQL `errors` body; after retries that is
    # both a ServerError (an outage) and a GraphQLError (was GraphQLError only).
    error, sleeps = exhausted(FaultConfig(rate_5xx=1.0), max_retries=2)
    assert isinstance(error, GraphQLError) and isinstance(error, ServerError)
    assert error.status_code in (500, 502, 503, 504)
    assert error.messages == ["server error (injected fault)"]
    assert f"HTTP {error.status_code} after 3 attempt(s)" in str(error)
    assert "server error (injected fault)" in str(error)
    # Exponential backoff with full jitter: attempt n waits at most 0.5 * 2**n.
    assert all(0 <= s <= 0.5 * 2**n for n, s in enumerate(sleeps))


def test_dropped_connections_every_time_raise_server_error() -> None:
    error, _ = exhausted(FaultConfig(rate_drop=1.0), max_retries=2)
    assert type(error) is ServerError
    assert "after 3 attempt(s)" in str(error)


def test_truncated_bodies_every_time_raise_server_error() -> None:
    error, _ = exhausted(FaultConfig(rate_truncate=1.0), max_retries=1)
    assert type(error) is ServerError
    assert "not valid JSON" in str(error)


def test_read_timeouts_are_retried_then_raise_timeout_error() -> None:
    live = start_server(ServerConfig(latency_ms=400), demo=False)
    try:
        with runs_client.Api(
            api_key=E2E_KEY, base_url=live.url, timeout=0.1, max_retries=1
        ) as api:
            sleeps: list[float] = []
            api.client = RetryingClient(
                api.client.url,
                api.client.http_client,
                max_retries=1,
                sleep=sleeps.append,
            )
            requests = record_requests(api)
            with pytest.raises(runs_client.TimeoutError) as info:
                len(api.runs(HAND))
            assert requests.operations == ["RunCount", "RunCount"]
            assert len(sleeps) == 1
            assert "timed out (ReadTimeout) after 2 attempt(s)" in str(info.value)
            assert "Raise `timeout`" in str(info.value)
            assert_key_hidden(info.value, E2E_KEY)
        with runs_client.Api(api_key=E2E_KEY, base_url=live.url, timeout=5) as api:
            assert len(api.runs(HAND)) == len(SPECS)  # slow, but in time
    finally:
        live.stop()
