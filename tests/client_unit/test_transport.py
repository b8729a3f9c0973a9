"""RetryingClient and AsyncRetryingClient: retry sequences, backoff, error
mapping and request counts.

Every test that builds its client with ``make`` runs twice: for the sync
client, and for the async one (respx's async mocks, each call awaited in an
event loop of its own), whose answers must be the same.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import respx

from runs_client._exceptions import (
    AuthenticationError,
    ConnectionError,
    GraphQLError,
    NotFoundError,
    RateLimitError,
    RunsClientError,
    ServerError,
    ServerGraphQLError,
    TimeoutError,
    TransientError,
)
from runs_client.transport.async_retrying import AsyncRetryingClient
from runs_client.transport.constants import (
    INITIAL_BACKOFF,
    MAX_BACKOFF,
    MAX_RETRY_AFTER,
)
from runs_client.transport.retrying import RetryingClient, parse_retry_after

URL = "https://wandb.example.test/graphql"
VIEWER = {"data": {"viewer": {"id": "u1", "entity": "alice", "username": "alice",
                               "name": "Alice", "email": None, "flags": None,
                               "teams": None}}}  # fmt: skip


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


@pytest.fixture
def slept() -> list[float]:
    return []


# Which client ``make`` builds: set for each test by the ``kind`` fixture.
KIND = {"value": "sync"}


@pytest.fixture(autouse=True, params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> Iterator[str]:
    KIND["value"] = request.param
    yield request.param
    KIND["value"] = "sync"


class AwaitedEach:
    """The async client seen through a sync surface: each coroutine method
    runs to its end in a fresh event loop, so one test body checks both."""

    def __init__(self, client: AsyncRetryingClient) -> None:
        self.client = client

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.client, name)
        if not inspect.iscoroutinefunction(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            return asyncio.run(value(*args, **kwargs))

        return call


def make(http: httpx.Client, slept: list[float], max_retries: int = 3) -> Any:
    # jitter=1.0 makes full-jitter backoff deterministic: the upper bound.
    if KIND["value"] == "async":

        async def sleep(seconds: float) -> None:
            slept.append(seconds)

        return AwaitedEach(
            AsyncRetryingClient(
                URL,
                httpx.AsyncClient(auth=http.auth),
                max_retries=max_retries,
                sleep=sleep,
                jitter=lambda: 1.0,
            )
        )
    return RetryingClient(
        URL, http, max_retries=max_retries, sleep=slept.append, jitter=lambda: 1.0
    )


def ok() -> httpx.Response:
    return httpx.Response(200, json=VIEWER)


def test_success_is_one_request(respx_mock: respx.MockRouter, http, slept) -> None:
    route = respx_mock.post(URL).mock(return_value=ok())
    viewer = make(http, slept).viewer()
    assert viewer.viewer is not None and viewer.viewer.entity == "alice"
    assert route.call_count == 1
    assert slept == []


def test_429_honours_retry_after_seconds(respx_mock, http, slept) -> None:
    route = respx_mock.post(URL).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), ok()]
    )
    make(http, slept).viewer()
    assert route.call_count == 2
    assert slept == [7.0]


def test_429_honours_retry_after_http_date(respx_mock, http, slept) -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    header = format_datetime(when, usegmt=True)
    respx_mock.post(URL).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": header}), ok()]
    )
    make(http, slept).viewer()
    assert len(slept) == 1
    assert 27.0 <= slept[0] <= 30.0


def test_retry_after_is_capped(respx_mock, http, slept) -> None:
    respx_mock.post(URL).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "3600"}), ok()]
    )
    make(http, slept).viewer()
    assert slept == [MAX_RETRY_AFTER]


def test_429_exhausted_is_rate_limit_error(respx_mock, http, slept) -> None:
    route = respx_mock.post(URL).mock(
        return_value=httpx.Response(
            429, headers={"Retry-After": "2"}, json={"message": "slow down"}
        )
    )
    with pytest.raises(RateLimitError) as info:
        make(http, slept, max_retries=2).viewer()
    assert route.call_count == 3
    assert slept == [2.0, 2.0]
    err = info.value
    assert err.retry_after == 2.0
    assert err.status_code == 429
    assert err.server_message == "slow down"
    assert "429" in str(err) and "Viewer" in str(err)


def test_500_x_n_then_server_error(respx_mock, http, slept) -> None:
    route = respx_mock.post(URL).mock(return_value=httpx.Response(500, text="boom"))
    with pytest.raises(ServerError) as info:
        make(http, slept, max_retries=3).viewer()
    assert route.call_count == 4
    # Exponential: the jitter upper bound doubles each attempt.
    assert slept == [INITIAL_BACKOFF * 2**n for n in range(3)]
    assert info.value.status_code == 500
    assert info.value.server_message == "boom"


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
def test_transient_status_retried_then_success(respx_mock, http, slept, status):
    route = respx_mock.post(URL).mock(side_effect=[httpx.Response(status), ok()])
    make(http, slept).viewer()
    assert route.call_count == 2
    assert len(slept) == 1


def test_408_exhausted_is_timeout(respx_mock, http, slept) -> None:
    respx_mock.post(URL).mock(return_value=httpx.Response(408))
    with pytest.raises(TimeoutError):
        make(http, slept, max_retries=1).viewer()


def test_backoff_is_capped_and_jittered(http) -> None:
    client = RetryingClient(URL, http, jitter=lambda: 1.0)
    assert client._delay(30, None) == MAX_BACKOFF
    half = RetryingClient(URL, http, jitter=lambda: 0.5)
    assert half._delay(2, None) == 0.5 * INITIAL_BACKOFF * 4
    assert RetryingClient(URL, http, jitter=lambda: 0.0)._delay(5, None) == 0.0


def test_backoff_cap_holds_for_many_retries(http) -> None:
    # 2.0 ** attempt overflows a float past attempt 1023: max_retries is unbounded.
    client = RetryingClient(URL, http, max_retries=5000, jitter=lambda: 1.0)
    assert client._delay(1024, None) == MAX_BACKOFF
    assert client._delay(4999, None) == MAX_BACKOFF


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, RunsClientError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, NotFoundError),
        (409, RunsClientError),
        (422, RunsClientError),
    ],
)
def test_client_errors_never_retried(respx_mock, http, slept, status, error) -> None:
    route = respx_mock.post(URL).mock(return_value=httpx.Response(status))
    with pytest.raises(error) as info:
        make(http, slept).viewer()
    assert route.call_count == 1
    assert slept == []
    assert info.value.status_code == status
    assert not isinstance(info.value, (ServerError, RateLimitError, GraphQLError))


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect_names_the_new_location(respx_mock, http, slept, status) -> None:
    # e.g. base_url http:// where the server only speaks https://.
    new = "https://other.example.test/graphql"
    respx_mock.post(URL).mock(
        return_value=httpx.Response(status, headers={"Location": new}, text="<html>")
    )
    with pytest.raises(RunsClientError) as info:
        make(http, slept).viewer()
    assert slept == []
    message = str(info.value)
    assert f"HTTP {status}" in message and new in message and "base_url" in message


def test_401_without_key_says_so(respx_mock, http, slept) -> None:
    respx_mock.post(URL).mock(return_value=httpx.Response(401))
    with pytest.raises(AuthenticationError, match="no API key was sent"):
        make(http, slept).viewer()


def test_401_with_key_says_refused(respx_mock, slept) -> None:
    respx_mock.post(URL).mock(
        return_value=httpx.Response(401, json={"errors": [{"message": "bad key"}]})
    )
    with (
        httpx.Client(auth=("api", "k" * 40)) as http,
        pytest.raises(AuthenticationError) as info,
    ):
        make(http, slept).viewer()
    assert "refused the API key" in str(info.value)
    assert info.value.server_message == "bad key"
    assert "k" * 40 not in str(info.value)


def test_dropped_connection_then_success(respx_mock, http, slept) -> None:
    route = respx_mock.post(URL).mock(
        side_effect=[
            httpx.RemoteProtocolError("peer closed connection"),
            httpx.ConnectError("connection reset"),
            ok(),
        ]
    )
    make(http, slept).viewer()
    assert route.call_count == 3


def test_dropped_connection_exhausted_is_server_error(respx_mock, http, slept):
    # Was ConnectError: a refused connection is now ConnectionError (no server
    # answered); a connection dropped mid-answer stays ServerError.
    route = respx_mock.post(URL).mock(side_effect=httpx.ReadError("reset"))
    with pytest.raises(ServerError, match="ReadError") as info:
        make(http, slept, max_retries=2).viewer()
    assert route.call_count == 3
    assert isinstance(info.value.__cause__, httpx.ReadError)


def test_refused_connection_exhausted_is_connection_error(respx_mock, http, slept):
    route = respx_mock.post(URL).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(ConnectionError, match="no server answered") as info:
        make(http, slept, max_retries=2).viewer()
    assert route.call_count == 3
    assert isinstance(info.value, TransientError)
    assert not isinstance(info.value, ServerError)
    assert isinstance(info.value.__cause__, httpx.ConnectError)


@pytest.mark.parametrize(
    "content",
    [b'{"data": {"viewer": {"id": "u1", "ent', b"<html>502 Bad Gateway</html>", b"[]"],
)
def test_unreadable_body_retried(respx_mock, http, slept, content) -> None:
    route = respx_mock.post(URL).mock(
        side_effect=[httpx.Response(200, content=content), ok()]
    )
    make(http, slept).viewer()
    assert route.call_count == 2


def test_truncated_body_exhausted_is_server_error(respx_mock, http, slept) -> None:
    route = respx_mock.post(URL).mock(
        return_value=httpx.Response(200, content=b'{"data": {"vie')
    )
    with pytest.raises(ServerError, match="not valid JSON"):
        make(http, slept, max_retries=1).viewer()
    assert route.call_count == 2


def test_timeout_exhausted_is_timeout_error(respx_mock, http, slept) -> None:
    route = respx_mock.post(URL).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(TimeoutError) as info:
        make(http, slept, max_retries=2).viewer()
    assert route.call_count == 3
    assert len(slept) == 2
    assert "timeout" in str(info.value)
    assert not isinstance(info.value, ServerError)


def test_timeout_then_success(respx_mock, http, slept) -> None:
    route = respx_mock.post(URL).mock(
        side_effect=[httpx.ConnectTimeout("slow"), httpx.ReadTimeout("slow"), ok()]
    )
    make(http, slept).viewer()
    assert route.call_count == 3


ERRORS = [
    {"message": "project not readable", "path": ["project", "runs"]},
    {"message": "bad filter: unknown operator $foo", "path": None},
]


@pytest.mark.parametrize("status", [200, 400])
def test_graphql_errors_any_status(respx_mock, http, slept, status) -> None:
    route = respx_mock.post(URL).mock(
        return_value=httpx.Response(status, json={"data": None, "errors": ERRORS})
    )
    with pytest.raises(GraphQLError) as info:
        make(http, slept).viewer()
    assert route.call_count == 1
    err = info.value
    assert err.status_code == status
    assert err.messages == [e["message"] for e in ERRORS]
    assert err.paths == [["project", "runs"], None]
    assert "unknown operator $foo" in str(err)
    assert err.request is not None and err.request.operation_name == "Viewer"


def test_a_repeated_graphql_error_is_said_once(respx_mock, http, slept) -> None:
    """Runs and their count in one query: a bad filter is refused twice."""
    twice = [{"message": 'unknown field "foo"; accepted: name'}] * 2
    respx_mock.post(URL).mock(
        return_value=httpx.Response(200, json={"data": None, "errors": twice})
    )
    with pytest.raises(GraphQLError) as info:
        make(http, slept).viewer()
    assert str(info.value).count("unknown field") == 1
    assert len(info.value.messages) == 2  # every error is still kept


def test_graphql_errors_on_5xx_after_retries(respx_mock, http, slept) -> None:
    route = respx_mock.post(URL).mock(
        return_value=httpx.Response(500, json={"errors": ERRORS})
    )
    # Was GraphQLError only: an exhausted 5xx is an outage, so it is now a
    # ServerGraphQLError, both a ServerError and a GraphQLError.
    with pytest.raises(ServerError) as info:
        make(http, slept, max_retries=1).viewer()
    assert route.call_count == 2
    assert info.value.status_code == 500
    assert isinstance(info.value, GraphQLError)
    assert isinstance(info.value, ServerGraphQLError)
    assert info.value.messages == [e["message"] for e in ERRORS]
    assert "unknown operator $foo" in str(info.value)


def test_request_info_on_errors(respx_mock, http, slept) -> None:
    respx_mock.post(URL).mock(return_value=httpx.Response(404))
    with pytest.raises(NotFoundError) as info:
        make(http, slept).run_count("ent", "proj")
    req = info.value.request
    assert req is not None
    assert (req.method, req.url, req.operation_name) == ("POST", URL, "RunCount")
    # UNSET variables are not sent, so not reported either.
    assert req.variables == {"entity": "ent", "project": "proj"}


def test_nan_and_infinity_bodies(respx_mock, http, slept) -> None:
    body = b'{"data": {"x": NaN, "y": Infinity, "z": -Infinity, "n": 1}}'
    respx_mock.post(URL).mock(return_value=httpx.Response(200, content=body))
    client = make(http, slept)
    data: dict[str, Any] = client.get_data(client.execute("{ x }"))
    assert math.isnan(data["x"])
    assert data["y"] == math.inf and data["z"] == -math.inf and data["n"] == 1


def test_get_data_on_foreign_response(http, slept) -> None:
    client = make(http, slept)
    request = httpx.Request("POST", URL)
    good = httpx.Response(200, json={"data": {"a": 1}}, request=request)
    assert client.get_data(good) == {"a": 1}
    bad = httpx.Response(200, json={"errors": [{"message": "no"}]}, request=request)
    with pytest.raises(GraphQLError):
        client.get_data(bad)
    empty = httpx.Response(200, json={"data": None}, request=request)
    with pytest.raises(ServerError):
        client.get_data(empty)


def test_max_retries_zero_means_one_attempt(respx_mock, http, slept) -> None:
    route = respx_mock.post(URL).mock(return_value=httpx.Response(503))
    with pytest.raises(ServerError):
        make(http, slept, max_retries=0).viewer()
    assert route.call_count == 1
    assert slept == []


def test_retries_are_logged_at_debug(respx_mock, http, slept, caplog) -> None:
    respx_mock.post(URL).mock(side_effect=[httpx.Response(503), ok()])
    with caplog.at_level(logging.DEBUG, logger="runs_client"):
        make(http, slept).viewer()
    [record] = [r for r in caplog.records if r.name == "runs_client"]
    message = record.getMessage()
    assert "Viewer" in message and "retry 1/3" in message and "HTTP 503" in message


def test_unsendable_request_is_not_retried(respx_mock, http, slept) -> None:
    route = respx_mock.post(URL).mock(side_effect=httpx.UnsupportedProtocol("ftp"))
    with pytest.raises(RunsClientError, match="could not be sent"):
        make(http, slept).viewer()
    assert route.call_count == 1


def test_parse_retry_after() -> None:
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("5", now=now) == 5.0
    assert parse_retry_after("1.5", now=now) == 1.5
    assert parse_retry_after("-3", now=now) == 0.0
    assert parse_retry_after("Wed, 01 May 2024 12:00:10 GMT", now=now) == 10.0
    assert parse_retry_after("Wed, 01 May 2024 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    # Not a number of seconds: ignored, not an infinite (or NaN) wait.
    for bad in ("inf", "Infinity", "nan", "1e999"):
        assert parse_retry_after(bad, now=now) is None, bad


def test_infinite_retry_after_is_not_reported(respx_mock, http, slept) -> None:
    respx_mock.post(URL).mock(
        return_value=httpx.Response(429, headers={"Retry-After": "inf"})
    )
    with pytest.raises(RateLimitError) as info:
        make(http, slept, max_retries=1).viewer()
    assert info.value.retry_after is None
    assert "inf" not in str(info.value)
    assert slept == [INITIAL_BACKOFF]  # the ordinary backoff


def test_gzip_bodies_decoded_and_corrupt_ones_retried(respx_mock, http, slept):
    import gzip
    import json

    packed = gzip.compress(json.dumps(VIEWER).encode())
    gz = {"Content-Encoding": "gzip"}
    route = respx_mock.post(URL).mock(
        side_effect=[
            httpx.Response(200, headers=gz, content=packed[: len(packed) // 2] + b"x"),
            httpx.Response(200, headers=gz, content=packed),
        ]
    )
    viewer = make(http, slept).viewer()
    assert viewer.viewer is not None and viewer.viewer.id == "u1"
    assert route.call_count == 2


def test_body_not_matching_the_schema_is_a_server_error(
    respx_mock: respx.MockRouter, http, slept
) -> None:
    # Valid GraphQL JSON, wrong shape: runCount a string, edges not a list.
    body = {"data": {"project": {"runCount": "many", "readOnly": None,
                                 "runs": {"edges": 5, "pageInfo": {}}}}}  # fmt: skip
    route = respx_mock.post(URL).mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(ServerError) as caught:
        make(http, slept).runs_page(entity="e", project="p")
    message = str(caught.value)
    assert "(runs_page)" in message and "does not match the W&B schema" in message
    assert "project.runCount" in message and "base_url" in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert route.call_count == 1 and slept == []


def test_every_generated_operation_is_schema_checked() -> None:
    import runs_gql

    operations = [
        name
        for name, method in vars(runs_gql.Client).items()
        if callable(method) and not name.startswith("_")
    ]
    # 13 + Projects, ProjectByName + the mirror's 3 + the writes' 3
    # + ProjectRunKeys + the lean listing's RunsPageSelected, RunsHeavyFields
    # and ServerPageCap
    assert len(operations) == 25
    for name in operations:
        assert vars(RetryingClient)[name].__wrapped__ is vars(runs_gql.Client)[name]
    from runs_gql.async_client import AsyncClient

    for name in operations:
        wrapped = vars(AsyncRetryingClient)[name].__wrapped__
        assert wrapped is vars(AsyncClient)[name]
        assert inspect.iscoroutinefunction(vars(AsyncRetryingClient)[name])
