"""Columnar history (POST /columnar/history, Arrow) gives the frames the JSON
path gives, for random histories: NaN and infinities, text, media, bools,
missing keys, ints past 64 bits, float steps, runs logged in several calls.

Each example logs a new project into the session server's store, then reads
it with two clients: one that uses the columnar endpoint (the server offers
it), one told it is not offered (the JSON path). A plain model of the logged
rows checks which (run, step) rows a frame holds.

Known differences, kept out of the data: strict-JSON ``sampledHistory``
cannot tell a logged string ``"NaN"`` from a NaN (the JSON path reads it as a
float; the columnar path keeps the string), and the JSON path reads an int
past 64 bits exactly only on a line that also holds a bare NaN token.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
from typing import Any

import httpx
import pandas as pd
import polars.testing
import pyarrow.ipc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import runs_client
from runs_client.history import arrow_pages
from runs_server.http.config import ServerConfig
from tests.e2e.conftest import E2E_KEY, Server, record_requests, start_server

_counter = itertools.count()

FLOATS = st.floats(allow_nan=True, allow_infinity=True)
FINITE = st.floats(allow_nan=False, allow_infinity=False)
SMALL_INTS = st.integers(-(2**40), 2**40)
BIG_INTS = st.integers(2**63, 2**70) | st.integers(-(2**70), -(2**63) - 1)
TEXT = st.text(alphabet="abc xyz", max_size=5)
MEDIA = st.builds(lambda p: {"_type": "image-file", "path": p, "size": 3}, TEXT)
VALUES = {
    "loss": FLOATS,
    "n": SMALL_INTS,
    "txt": TEXT,
    "media": MEDIA,
    "flag": st.booleans(),
    "mix": st.one_of(FLOATS, SMALL_INTS, TEXT, MEDIA, st.booleans(), st.none()),
}


@st.composite
def histories(draw: st.DrawFn) -> list[list[list[dict[str, Any]]]]:
    """Runs, each a list of log calls, each a list of rows."""
    runs = []
    for _ in range(draw(st.integers(1, 4))):
        step = draw(st.integers(0, 3))
        calls = []
        for _ in range(draw(st.integers(0, 3))):
            rows = []
            for _ in range(draw(st.integers(1, 12))):
                keys = draw(st.sets(st.sampled_from(sorted(VALUES)), max_size=6))
                row = {k: draw(VALUES[k]) for k in sorted(keys)}
                if draw(st.integers(0, 9)) == 0:
                    finite = not any(
                        isinstance(v, float) and not math.isfinite(v)
                        for v in row.values()
                    )
                    if finite:  # see the module docstring
                        row["big"] = draw(BIG_INTS)
                row["_step"] = float(step) if draw(st.integers(0, 19)) == 0 else step
                step += draw(st.integers(1, 3))
                rows.append(row)
            calls.append(rows)
        runs.append(calls)
    return runs


def _log(server: Server, runs: list[list[list[dict[str, Any]]]]) -> str:
    project = f"columnar{next(_counter)}"
    store = server.store
    store.projects.create("e2e", project)
    for i, calls in enumerate(runs):
        run = store.runs.add(f"e2e/{project}", f"r{i}", created_at=f"2024-01-0{i + 1}")
        for rows in calls:
            store.history.log(run, rows, update_summary=False)
        events = [
            {"_timestamp": 1000.0 + j, "cpu": j * 1.5, "gpu": j} for j in range(3)
        ]
        store.history.log_events(run, events)
    return project


@pytest.fixture(scope="module")
def server() -> Any:
    """A server of its own: the examples add projects to its store, which
    must not show in the session server's listings."""
    live = start_server(demo=False)
    yield live
    live.stop()


@pytest.fixture
def clients(server: Server) -> Any:
    columnar = runs_client.Api(api_key=E2E_KEY, base_url=server.url)
    plain = runs_client.Api(api_key=E2E_KEY, base_url=server.url)
    arrow_pages._COLUMNAR[plain.client] = None  # as a server without the feature
    yield columnar, plain
    columnar.close()
    plain.close()


def _kept(count: int, samples: int) -> list[int]:
    """The plain sampling rule: every row, the last one, or evenly spaced."""
    if samples >= count:
        return list(range(count))
    if samples == 1:
        return [count - 1]
    return sorted({math.ceil(b * (count - 1) / (samples - 1)) for b in range(samples)})


def _frame(api: runs_client.Api, project: str, **kwargs: Any) -> Any:
    runs = api.runs(f"e2e/{project}", per_page=2)
    return runs.histories(**kwargs)


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(runs=histories(), samples=st.integers(1, 30))
def test_columnar_frames_equal_json_frames(
    server: Server, clients: Any, runs: Any, samples: int
) -> None:
    columnar, plain = clients
    project = _log(server, runs)
    requests = record_requests(columnar)
    for kwargs in (
        {"samples": samples, "format": "pandas"},
        {"samples": samples, "format": "arrow"},
        {"samples": samples, "keys": ["loss"], "format": "pandas"},
        {"samples": samples, "keys": ["n", "txt"], "format": "polars"},
        {"samples": samples, "stream": "system", "format": "pandas"},
    ):
        got = _frame(columnar, project, **kwargs)
        want = _frame(plain, project, **kwargs)
        if kwargs["format"] == "pandas":
            pd.testing.assert_frame_equal(got, want)
        elif kwargs["format"] == "arrow":  # Table.equals holds NaN != NaN
            assert got.schema.equals(want.schema)
            pd.testing.assert_frame_equal(got.to_pandas(), want.to_pandas())
        else:
            polars.testing.assert_frame_equal(got, want)
    assert requests.count("RunsHistoryPage") >= 1  # the columnar path was taken
    # The plain model: which rows of each run the full-row frame holds.
    frame = _frame(columnar, project, samples=samples, format="pandas")
    expected = []
    for i, calls in enumerate(runs):
        steps = [int(row["_step"]) for rows in calls for row in rows]
        expected += [(f"r{i}", steps[j]) for j in _kept(len(steps), samples)]
    got_rows = (
        list(zip(frame["run_id"], frame["_step"], strict=True)) if len(frame) else []
    )
    assert got_rows == expected


def test_columnar_requests_go_to_the_endpoint(server: Server, clients: Any) -> None:
    columnar, _ = clients
    project = _log(server, [[[{"loss": 0.5}, {"loss": math.nan}]]])
    urls: list[str] = []
    http = columnar.client.http_client
    http.event_hooks = {"request": [lambda r: urls.append(r.url.path)]}
    frame = _frame(columnar, project, samples=10, format="pandas")
    assert frame["loss"].tolist()[0] == 0.5 and math.isnan(frame["loss"].tolist()[1])
    assert "/columnar/history" in urls
    # iter_histories' frames take the same pages.
    urls.clear()
    runs = columnar.runs(f"e2e/{project}")
    batches = list(runs.iter_histories(samples=10, format="arrow"))
    assert [b.num_rows for b in batches] == [2]
    assert "/columnar/history" in urls
    # Dict rows keep the JSON path.
    urls.clear()
    _frame(columnar, project, samples=10)
    assert "/columnar/history" not in urls


def test_columnar_endpoint_refuses_what_graphql_refuses(server: Server) -> None:
    url = server.url + "/columnar/history"
    base = {"entity": "e2e", "project": "hand"}

    def post(operation: str, **variables: Any) -> httpx.Response:
        body = {"operationName": operation, "variables": {**base, **variables}}
        return http.post(url, json=body)

    with httpx.Client(timeout=30) as http:
        bad_page = post("RunsHistoryPage", perPage=5000)
        assert "between 0 and 1000" in bad_page.json()["errors"][0]["message"]
        assert post("Other").status_code == 400
        missing = post("RunsHistoryPage", project="nope")
        assert missing.json() == {"data": {"project": None}}
        spec = '{"keys": ["loss"]}'
        two_specs = post("RunsSampledHistoryPage", specs=[spec, spec])
        assert "exactly one spec" in two_specs.json()["errors"][0]["message"]
        get = http.get(url)
        assert get.status_code == 405


def test_columnar_endpoint_under_auth_and_limits() -> None:
    """Keys, private projects and the row cap hold on /columnar/history as on
    /graphql."""
    config = ServerConfig(require_auth=True, max_response_rows=10)
    live = start_server(config, demo=False)
    try:
        store = live.store
        store.users.create("other", api_key="o" * 40)
        store.projects.create("other", "secret", private=True)
        run = store.runs.add("other/secret", "r0")
        store.history.log(run, [{"loss": float(i)} for i in range(20)])
        url = live.url + "/columnar/history"

        def post(key: str | None, **variables: Any) -> httpx.Response:
            auth = None if key is None else ("api", key)
            body = {"operationName": "RunsHistoryPage",
                    "variables": {"entity": "other", "project": "secret",
                                  **variables}}  # fmt: skip
            return httpx.post(url, json=body, auth=auth, timeout=30)

        assert post(None).status_code == 401
        hidden = post(E2E_KEY)  # a user who is not a member
        assert hidden.json() == {"data": {"project": None}}
        capped = post("o" * 40).json()["errors"][0]
        assert capped["extensions"]["code"] == "RESPONSE_TOO_LARGE"
        page = post("o" * 40, samples=5)
        assert page.headers["content-type"] == "application/vnd.apache.arrow.stream"
        table = pyarrow.ipc.open_stream(page.content).read_all()
        assert table.column("loss").to_pylist() == [0.0, 5.0, 10.0, 15.0, 19.0]
    finally:
        live.stop()


def test_async_api_reads_the_columnar_endpoint_as_api_does(server: Server) -> None:
    """AsyncApi probes the server once, reads frames from /columnar/history
    and gets the frames of the JSON path (a sync client told there is no
    endpoint); dict rows keep the JSON path."""
    project = _log(
        server,
        [
            [[{"loss": 0.5, "txt": "a"}, {"loss": math.nan, "n": 2**40}]],
            [[{"loss": math.inf, "media": {"_type": "image-file", "path": "p"}}]],
            [],
        ],
    )
    plain = runs_client.Api(api_key=E2E_KEY, base_url=server.url)
    arrow_pages._COLUMNAR[plain.client] = None  # as a server without the feature
    paths: list[str] = []
    operations: list[str] = []

    async def main() -> list[Any]:
        async with runs_client.AsyncApi(api_key=E2E_KEY, base_url=server.url) as api:

            async def hook(request: httpx.Request) -> None:
                paths.append(request.url.path)
                operations.append(json.loads(request.content)["operationName"])

            api.client.http_client.event_hooks = {"request": [hook]}
            runs = api.runs(f"e2e/{project}", per_page=2)
            frames = [
                await runs.histories(samples=10, format="pandas"),
                await runs.histories(samples=10, keys=["loss"], format="pandas"),
                await runs.histories(stream="system", format="pandas"),
            ]
            assert "/columnar/history" in paths
            paths.clear()
            frames.append(await runs.histories(samples=10))  # dict rows
            assert "/columnar/history" not in paths
            # The endpoint's client is the AsyncApi's pool and bounds: one
            # connection limit, one budget of answer bytes in flight.
            columnar = arrow_pages.columnar_client(api.client)
            assert isinstance(columnar, runs_client.AsyncRetryingClient)
            assert columnar.http_client is api.client.http_client
            assert columnar._slots is api.client._slots
            assert columnar.in_flight_bytes is api.client.in_flight_bytes
            return frames

    try:
        got = asyncio.run(main())
        want = [
            _frame(plain, project, samples=10, format="pandas"),
            _frame(plain, project, samples=10, keys=["loss"], format="pandas"),
            _frame(plain, project, stream="system", format="pandas"),
            _frame(plain, project, samples=10),
        ]
    finally:
        plain.close()
    for got_frame, want_frame in zip(got[:3], want[:3], strict=True):
        pd.testing.assert_frame_equal(got_frame, want_frame)
    assert len(got[0]) == 3 and got[0]["loss"].tolist()[0] == 0.5
    assert str(got[3]) == str(want[3])  # NaN != NaN: compared as text
    assert operations.count("ServerFeatures") == 1
