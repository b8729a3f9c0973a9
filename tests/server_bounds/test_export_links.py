"""Issue 17 item 10: export links answer odd paths and ranges as RFC 9110
says (404/416, never 500), stream from disk, and building is charged."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import httpx
import pytest

from runs_server.graphql.limits import RESPONSE_TOO_LARGE
from runs_server.history.parquet import ExportFile
from runs_server.http.app import RunsServerApp, ServerConfig
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store

BIG_FILE_BYTES = 24 * 1024 * 1024
PARQUET = '{ project(name: "p", entityName: "e") { run(name: "r") { parquetHistory(liveKeys: ["_step"]) { parquetUrls } } } }'  # noqa: E501


def filled_store() -> Store:
    store = Store(":memory:")
    store.users.create("e")
    store.projects.create("e", "p")
    run = store.runs.add("e/p", "r")
    store.history.log(run, [{"_step": s, "loss": 1.0 / (s + 1)} for s in range(2000)])
    return store


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    store = filled_store()
    with BackgroundServer(RunsServerApp(store)) as server:
        yield server
    store.close()


@pytest.fixture(scope="module")
def big_link(server: BackgroundServer) -> str:
    """A link to a 24 MiB export file (random bytes; only its size matters)."""
    exports = server.app.exports
    path = exports.folder / "run-7-100-99.parquet"
    path.write_bytes(bytes(range(256)) * (BIG_FILE_BYTES // 256))
    return server.url + exports.signed_path(ExportFile(7, "100-99", path))


def test_odd_run_ids_and_numbers_in_the_link_are_404_or_403(
    big_link: str, server: BackgroundServer
) -> None:
    base, _, query = big_link.partition("?")
    prefix = server.url + "/files/history/"
    for odd in ("%C2%B2", "1" * 5000, "%D9%A1", "-1", ""):
        assert httpx.get(f"{prefix}{odd}/100-99.parquet?{query}").status_code == 404
    for version in ("%C2%B2-1", "1-" + "9" * 5000, "1--"):
        assert httpx.get(f"{prefix}7/{version}.parquet?{query}").status_code == 404
    signature = query.partition("&")[2]
    for expires in ("9" * 5000, "%C2%B2", "-5"):
        answer = httpx.get(f"{base}?expires={expires}&{signature}")
        assert answer.status_code == 403
    answer = httpx.get(f"{base}?{query.partition('&signature=')[0]}&signature=%C3%A9")
    assert answer.status_code == 403


def test_ranges_follow_rfc_9110(big_link: str) -> None:
    size = BIG_FILE_BYTES

    def get(spec: str) -> httpx.Response:
        return httpx.get(big_link, headers={"Range": spec})

    for unsatisfiable in ("bytes=-0", f"bytes={'9' * 5000}-", f"bytes={size}-"):
        answer = get(unsatisfiable)
        assert answer.status_code == 416, unsatisfiable
        assert answer.headers["content-range"] == f"bytes */{size}"
    whole_tail = get(f"bytes=-{'9' * 5000}")  # a suffix longer than the file
    assert whole_tail.status_code == 206
    assert whole_tail.headers["content-range"] == f"bytes 0-{size - 1}/{size}"
    clamped = get(f"bytes=10-{'9' * 5000}")
    assert clamped.status_code == 206 and len(clamped.content) == size - 10
    one = get("bytes=256-256")
    assert one.status_code == 206 and one.content == b"\x00"


def test_exports_stream_from_disk(big_link: str) -> None:
    """Serving a 24 MiB file, whole or one byte, holds a few chunks, not it."""
    tracemalloc.start()
    try:
        one = httpx.get(big_link, headers={"Range": "bytes=0-0"})
        received = 0
        with httpx.stream("GET", big_link) as whole:
            for chunk in whole.iter_raw(64 * 1024):
                received += len(chunk)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert one.content == b"\x00" and received == BIG_FILE_BYTES
    assert peak < BIG_FILE_BYTES // 4, f"peak {peak:,} bytes"


def test_building_an_export_is_charged_to_the_row_cap() -> None:
    store = filled_store()
    config = ServerConfig(max_response_rows=1000)
    with BackgroundServer(RunsServerApp(store, config)) as small:
        body = httpx.post(small.graphql_url, json={"query": PARQUET}).json()
        assert body["errors"][0]["extensions"]["code"] == RESPONSE_TOO_LARGE
        assert list(small.app.exports.folder.iterdir()) == []  # nothing built
    store.close()


def test_building_an_export_is_charged_its_values_read() -> None:
    store = filled_store()  # 2,000 rows of _step and loss: 4,000 values
    for budget, refused in ((3_999, True), (4_000, False)):
        config = ServerConfig(max_values_read=budget)
        with BackgroundServer(RunsServerApp(store, config)) as small:
            body = httpx.post(small.graphql_url, json={"query": PARQUET}).json()
        assert ("errors" in body) is refused, body
        if refused:
            assert "read more than 3,999 history values" in body["errors"][0]["message"]
    store.close()
