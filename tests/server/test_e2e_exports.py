"""Run.parquetHistory: Parquet files of a run's history at signed, expiring links;
the fields newer SDKs ask for; telemetry; artifacts answered plainly."""

from __future__ import annotations

import io
import math
import time
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from runs_server.http.app import RunsServerApp, ServerConfig
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store, jsonrows
from tests.server.conftest import EXACT, TESTER_KEY, Gql, Live, add_exact_project

PARQUET = """query($run: String!) { project(name: "exact", entityName: "test") {
  run(name: $run) {
    parquetHistory(liveKeys: ["_step"]) { parquetUrls liveData } } } }"""


def _links(gql: Gql, run: str = "cadence") -> dict[str, Any]:
    body = gql(PARQUET, {"run": run})
    assert "errors" not in body, body
    return dict(body["data"]["project"]["run"]["parquetHistory"])


def _stored(store: Store, run: str) -> list[dict[str, Any]]:
    run_id = store.runs.id_of(EXACT, run)
    return [
        jsonrows.loads(r[0])
        for r in store.conn.execute(
            "SELECT row FROM history WHERE run_id=? ORDER BY step", (run_id,)
        )
    ]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def test_parquet_holds_every_stored_row(gql: Gql, live_server: Live) -> None:
    links = _links(gql)
    assert links["liveData"] == []
    (url,) = links["parquetUrls"]
    response = httpx.get(url)
    assert response.status_code == 200
    table = pq.read_table(io.BytesIO(response.content))
    assert table.schema.field("_step").type == "int64"
    rows = table.to_pylist()
    stored = _stored(live_server.store, "cadence")
    assert len(rows) == len(stored) == 100
    for got, want in zip(rows, stored, strict=True):
        present = {k: v for k, v in got.items() if v is not None}
        assert present.keys() == want.keys()
        assert all(_same(present[k], want[k]) for k in want), (got, want)
    # step 3 was stored as "_step": 3.0 with a NaN; step 5 holds Infinity
    assert rows[3]["_step"] == 3 and math.isnan(rows[3]["loss"])
    assert rows[5]["loss"] == math.inf


def test_links_serve_head_and_byte_ranges(gql: Gql) -> None:
    (url,) = _links(gql)["parquetUrls"]
    whole = httpx.get(url).content
    head = httpx.head(url)
    assert head.status_code == 200
    assert int(head.headers["content-length"]) == len(whole)
    part = httpx.get(url, headers={"Range": "bytes=4-11"})
    assert part.status_code == 206
    assert part.content == whole[4:12]
    assert part.headers["content-range"] == f"bytes 4-11/{len(whole)}"
    # an end past the file is clamped (the SDK asks one byte more than it reads)
    tail = httpx.get(url, headers={"Range": f"bytes={len(whole) - 4}-{len(whole)}"})
    assert tail.status_code == 206 and tail.content == whole[-4:] == b"PAR1"
    suffix = httpx.get(url, headers={"Range": "bytes=-4"})
    assert suffix.content == b"PAR1"
    beyond = httpx.get(url, headers={"Range": f"bytes={len(whole)}-"})
    assert beyond.status_code == 416


def test_tampered_links_are_refused(gql: Gql) -> None:
    (url,) = _links(gql)["parquetUrls"]
    base, _, query = url.partition("?")
    params = dict(p.split("=", 1) for p in query.split("&"))
    later = int(params["expires"]) + 3600
    extended = f"{base}?expires={later}&signature={params['signature']}"
    assert httpx.get(extended).status_code == 403
    other_run = base.replace("/history/", "/history/9")
    assert httpx.get(f"{other_run}?{query}").status_code in (403, 404)
    assert httpx.get(base).status_code == 403
    assert httpx.post(url).status_code == 405


def test_a_run_that_logs_more_gets_a_new_file() -> None:
    store = Store()
    add_exact_project(store)
    with BackgroundServer(RunsServerApp(store)) as server:
        client = httpx.Client(base_url=server.url, timeout=30)

        def link() -> str:
            body = client.post(
                "/graphql",
                json={"query": PARQUET, "variables": {"run": "cadence"}},
                auth=("api", TESTER_KEY),
            ).json()
            (url,) = body["data"]["project"]["run"]["parquetHistory"]["parquetUrls"]
            return str(url)

        first = link()
        assert link().split("?")[0] == first.split("?")[0]  # cached
        run = store.runs.id_of(EXACT, "cadence")
        store.history.log(run, [{"loss": 0.0}])
        second = link()
        assert second.split("?")[0] != first.split("?")[0]
        assert httpx.get(first).status_code == 404  # replaced
        table = pq.read_table(io.BytesIO(httpx.get(second).content))
        assert table.num_rows == 101
        client.close()
    store.close()


def test_links_expire_on_a_server_that_requires_auth() -> None:
    store = Store()
    add_exact_project(store)
    config = ServerConfig(require_auth=True, export_url_ttl_s=1.0)
    with BackgroundServer(RunsServerApp(store, config)) as server:
        anonymous = httpx.post(
            server.graphql_url, json={"query": PARQUET, "variables": {"run": "cadence"}}
        )
        assert anonymous.status_code == 401  # no key, no link
        body = httpx.post(
            server.graphql_url,
            json={"query": PARQUET, "variables": {"run": "cadence"}},
            auth=("api", TESTER_KEY),
        ).json()
        (url,) = body["data"]["project"]["run"]["parquetHistory"]["parquetUrls"]
        assert httpx.get(url).status_code == 200  # a link needs no key...
        time.sleep(2.1)
        expired = httpx.get(url)  # ...but works only until it expires
        assert expired.status_code == 403
        assert "expired" in expired.json()["errors"][0]["message"]
    store.close()


def test_fields_newer_sdks_ask_for(gql: Gql, live_server: Live) -> None:
    body = gql(
        """{ viewer { deletedAt }
        users(query: "TESTER") { edges { node { username deletedAt
          apiKeys { edges { node { name } } } } } }
        models(entityName: "demo", first: 1) { edges { node { name isBenchmark
          totalSweeps user { username apiKeys { edges { node { name } } } } } }
          pageInfo { hasNextPage endCursor } }
        project(name: "exact", entityName: "test") { totalSweeps
          sweeps { edges { node { name } } totalCount }
          run(name: "cadence") { fileCount
            files(names: [], first: 10) {
              edges { node { name } } pageInfo { hasNextPage } } } } }"""
    )
    assert "errors" not in body, body
    data = body["data"]
    assert data["viewer"] == {"deletedAt": None}
    (user,) = data["users"]["edges"]
    # a lookup never shows another user's API key
    assert user["node"] == {
        "username": "tester",
        "deletedAt": None,
        "apiKeys": {"edges": []},
    }
    (project,) = data["models"]["edges"]
    store = live_server.store
    sweeps = store.conn.execute(
        "SELECT count(*) FROM sweeps JOIN projects ON projects.id=sweeps.project_id "
        "WHERE projects.name='mnist'"
    ).fetchone()[0]
    assert project["node"]["name"] == "mnist"
    assert project["node"]["totalSweeps"] == sweeps == 2
    assert project["node"]["isBenchmark"] is False
    assert project["node"]["user"] == {"username": "demo", "apiKeys": {"edges": []}}
    assert data["project"]["totalSweeps"] == 0
    assert data["project"]["sweeps"] == {"edges": [], "totalCount": 0}
    run = data["project"]["run"]
    assert run == {
        "fileCount": 0,
        "files": {"edges": [], "pageInfo": {"hasNextPage": False}},
    }


def test_sweeps_page_through_every_sweep(gql: Gql, live_server: Live) -> None:
    query = """query($after: String) { project(name: "mnist", entityName: "demo") {
      sweeps(first: 1, after: $after) { edges { node { name runCount } }
        pageInfo { hasNextPage endCursor } } } }"""
    names: list[str] = []
    after = None
    while True:
        page = gql(query, {"after": after})["data"]["project"]["sweeps"]
        names += [e["node"]["name"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    expected = [
        r[0]
        for r in live_server.store.conn.execute(
            "SELECT sweeps.name FROM sweeps JOIN projects ON projects.id="
            "sweeps.project_id WHERE projects.name='mnist' ORDER BY sweeps.id"
        )
    ]
    assert names == expected
    bad = gql(
        '{ project(name: "mnist", entityName: "demo") '
        '{ sweeps(after: "x") { totalCount } } }'
    )
    assert "malformed cursor" in bad["errors"][0]["message"]


def test_telemetry_and_artifacts(http: httpx.Client, gql: Gql) -> None:
    for path in ("/sdk/otel/v1/metrics", "/sdk/otel/v1/logs"):
        telemetry = http.post(path, content=b"\x0a\x00")
        assert telemetry.status_code == 204, path
    body = gql(
        '{ project(name: "mnist", entityName: "demo") '
        "{ artifactTypes { edges { node { name } } } } }"
    )
    (error,) = body["errors"]
    assert error["message"].startswith("artifacts are not served here")
    assert "artifactTypes" in error["message"]


@pytest.mark.parametrize("header", ["bytes=a-b", "bytes=5-2", "items=0-1"])
def test_malformed_ranges_are_refused(gql: Gql, header: str) -> None:
    (url,) = _links(gql)["parquetUrls"]
    assert httpx.get(url, headers={"Range": header}).status_code == 416
