"""The write path over HTTP: upsertBucket, file_stream, run files, stops, deletes.

Each test starts from its own store and server, writes as the SDKs do, and
reads back through GraphQL and the store.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from runs_server.http.app import RunsServerApp, ServerConfig
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store
from runs_server.writes import buckets

pytestmark = pytest.mark.e2e

ADA_KEY = "a" * 40
BOB_KEY = "b" * 40
UPSERT = """
mutation UpsertBucket($id: String, $name: String, $project: String,
    $entity: String, $config: JSONString, $tags: [String!],
    $summaryMetrics: JSONString, $notes: String, $state: String) {
  upsertBucket(input: {id: $id, name: $name, modelName: $project,
      entityName: $entity, config: $config, tags: $tags,
      summaryMetrics: $summaryMetrics, notes: $notes, state: $state}) {
    bucket { id name displayName config tags notes state summaryMetrics
             project { name entity { name } } }
    inserted
  }
}
"""
READ = """
query Read($entity: String, $project: String, $run: String!) {
  project(name: $project, entityName: $entity) {
    run(name: $run) { state stopped exitcode historyLineCount summaryMetrics
      history logLineCount fileCount
      files { edges { node { name sizeBytes md5 url } } } }
  }
}
"""


@dataclass
class Served:
    server: BackgroundServer
    store: Store
    client: httpx.Client

    def gql(self, query: str, key: str | None = ADA_KEY, **variables: Any) -> Any:
        auth = ("api", key) if key else None
        response = self.client.post(
            self.server.graphql_url,
            json={"query": query, "variables": variables},
            auth=auth,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def create(self, name: str = "r1", project: str = "p") -> str:
        body = self.gql(UPSERT, name=name, project=project, entity="ada")
        return str(body["data"]["upsertBucket"]["bucket"]["id"])

    def stream(
        self,
        post: dict[str, Any] | bytes,
        run: str = "r1",
        key: str | None = ADA_KEY,
        project: str = "p",
        **headers: str,
    ) -> httpx.Response:
        content = post if isinstance(post, bytes) else orjson.dumps(post)
        return self.client.post(
            f"{self.server.url}/files/ada/{project}/{run}/file_stream",
            content=content,
            headers={"content-type": "application/json", **headers},
            auth=("api", key) if key else None,
        )

    def read(self, run: str = "r1", project: str = "p") -> dict[str, Any]:
        body = self.gql(READ, entity="ada", project=project, run=run)
        run_data: dict[str, Any] = body["data"]["project"]["run"]
        return run_data


def _serve(require_auth: bool = False) -> Iterator[Served]:
    store = Store()
    store.users.create("ada", api_key=ADA_KEY)
    store.users.create("bob", api_key=BOB_KEY)
    config = ServerConfig(require_auth=require_auth)
    app = RunsServerApp(store, config)
    with BackgroundServer(app) as server, httpx.Client(timeout=30) as client:
        yield Served(server, store, client)
    store.close()


@pytest.fixture
def served() -> Iterator[Served]:
    yield from _serve()


@pytest.fixture
def strict() -> Iterator[Served]:
    yield from _serve(require_auth=True)


def history(lines: list[str], offset: int) -> dict[str, Any]:
    return {"files": {"wandb-history.jsonl": {"offset": offset, "content": lines}}}


def rows(start: int, stop: int) -> list[str]:
    return [f'{{"_step": {s}, "loss": {1 / (s + 1)}}}' for s in range(start, stop)]


def test_upsert_creates_the_project_then_updates_the_run(served: Served) -> None:
    assert served.store.projects.find("ada", "p") is None
    created = served.gql(
        UPSERT,
        name="r1",
        project="p",
        entity="ada",
        config='{"lr": {"value": 0.1, "desc": null}}',
        tags=["a"],
    )["data"]["upsertBucket"]
    assert created["inserted"] is True
    bucket = created["bucket"]
    assert bucket["project"] == {"name": "p", "entity": {"name": "ada"}}
    assert (bucket["state"], bucket["tags"]) == ("running", ["a"])
    again = served.gql(
        UPSERT, id=bucket["id"], notes="n", tags=["a", "b"], summaryMetrics='{"x": 1}'
    )["data"]["upsertBucket"]
    assert again["inserted"] is False
    assert again["bucket"]["config"] == bucket["config"]  # not sent: kept
    assert again["bucket"]["tags"] == ["a", "b"]
    assert again["bucket"]["notes"] == "n"
    assert orjson.loads(again["bucket"]["summaryMetrics"]) == {"x": 1}


def test_a_retried_chunk_adds_nothing_and_an_overlap_adds_the_rest(
    served: Served,
) -> None:
    served.create()
    for _ in range(3):  # the same chunk, retried
        assert served.stream(history(rows(0, 3), 0)).status_code == 200
    assert served.stream(history(rows(2, 6), 2)).status_code == 200  # overlaps
    got = [orjson.loads(r) for r in served.read()["history"]]
    assert [r["_step"] for r in got] == [0, 1, 2, 3, 4, 5]


def test_a_gap_is_refused_and_nothing_of_the_post_is_stored(served: Served) -> None:
    served.create()
    assert served.stream(history(rows(0, 2), 0)).status_code == 200
    post = history(rows(5, 7), 5)
    post["files"]["wandb-events.jsonl"] = {
        "offset": 0,
        "content": ['{"_timestamp": 1.0, "cpu": 5}'],
    }
    post["files"]["wandb-summary.json"] = {"offset": 0, "content": ['{"loss": 9}']}
    response = served.stream(post)
    assert response.status_code == 409
    message = response.json()["errors"][0]["message"]
    assert "offset 5" in message and "lines 2..4 missing" in message
    run = served.read()
    assert run["historyLineCount"] == 2
    assert orjson.loads(run["summaryMetrics"]) == {}
    assert served.store.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"not json", 400, "not JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (orjson.dumps(history(rows(0, 1), -1)), 400, "offset must be"),
        (orjson.dumps(history([1, 2], 0)), 400, "list of strings"),  # type: ignore[list-item]
        (orjson.dumps({"files": {"../x": {"offset": 0}}}), 400, "relative path"),
        (orjson.dumps({"complete": "yes"}), 400, "complete must be"),
        (orjson.dumps(history(['{"_step": 0}', "[1]"], 0)), 400, "JSON object"),
        (orjson.dumps(history(["x" * (5 * 2**20)], 0)), 413, "at most 4,194,304"),
    ],
)
def test_bad_posts_get_a_clear_4xx_and_store_nothing(
    served: Served, body: bytes, status: int, words: str
) -> None:
    served.create()
    response = served.stream(body)
    assert response.status_code == status, response.text
    assert words in response.json()["errors"][0]["message"]
    assert served.read()["historyLineCount"] == 0
    assert served.store.conn.execute("SELECT count(*) FROM history").fetchone()[0] == 0


def test_a_100_mb_line_is_refused_unread(served: Served) -> None:
    served.create()
    line = "x" * (100 * 2**20)
    try:
        response = served.stream(orjson.dumps(history([line], 0)))
    except httpx.HTTPError:  # the server may close before taking it all
        response = None
    if response is not None:
        assert response.status_code == 413
        assert "over 16,777,216 bytes" in response.json()["errors"][0]["message"]
    assert served.read()["historyLineCount"] == 0


def test_path_characters_in_names_are_refused(served: Served) -> None:
    response = served.client.post(
        f"{served.server.url}/files/ada/p/a%2Fb/file_stream",
        content=b"{}",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert "'/'" in response.json()["errors"][0]["message"]
    body = served.gql(UPSERT, name="a:b", project="p", entity="ada")
    assert "':'" in body["errors"][0]["message"]
    assert served.store.conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 0


def test_gzip_posts_summary_console_and_finish(served: Served) -> None:
    served.create()
    post = history(rows(0, 2), 0)
    post["files"]["wandb-summary.json"] = {
        "offset": 0,
        "content": ['{"loss": 1}', '{"loss": 0.5, "best": NaN}'],
    }
    post["files"]["output.log"] = {"offset": 0, "content": ["epoch 1", "10%"]}
    assert (
        served.stream(gzip.compress(orjson.dumps(post)), **{"content-encoding": "gzip"})
    ).status_code == 200
    # A progress line rewritten, then the end: exit code 0 is finished.
    rewrite = {"files": {"output.log": {"offset": 1, "content": ["100%"]}}}
    served.stream({**rewrite, "complete": True, "exitcode": 0})
    run = served.read()
    assert run["state"] == "finished" and run["exitcode"] == 0
    assert run["summaryMetrics"] == '{"loss":0.5,"best":NaN}'
    assert run["logLineCount"] == 2
    assert served.store.streams.console(served.store.runs.id_of("ada/p", "r1")) == [
        "epoch 1",
        "100%",
    ]


def test_a_nonzero_exit_code_is_failed(served: Served) -> None:
    served.create()
    served.stream({"complete": True, "exitcode": 3})
    assert served.read()["state"] == "failed"


def test_stop_turns_stopped_true_and_tells_the_stream(served: Served) -> None:
    run_id = served.create()
    assert served.stream({}).json() == {"exitcode": None, "limits": {}}
    stop = "mutation($id: ID!) { stopRun(input: {id: $id}) { success } }"
    assert served.gql(stop, id=run_id)["data"]["stopRun"]["success"] is True
    assert served.read()["stopped"] is True
    assert served.stream({}).json()["stopped"] is True
    # The SDK interrupts the script; a stopped run that exits non-zero is killed.
    served.stream({"complete": True, "exitcode": 255})
    assert served.read()["state"] == "killed"


def test_files_upload_list_and_download(served: Served) -> None:
    served.create()
    create = """mutation($files: [String!]!) { createRunFiles(input: {
        entityName: "ada", projectName: "p", runName: "r1", files: $files}) {
        runID uploadHeaders files { name uploadUrl } } }"""
    out = served.gql(create, files=["model/w.bin", "notes.txt"])["data"]
    links = {f["name"]: f["uploadUrl"] for f in out["createRunFiles"]["files"]}
    assert served.client.put(links["model/w.bin"], content=b"\x00\x01").is_success
    assert served.client.put(links["notes.txt"], content=b"hello").is_success
    run = served.read()
    assert run["fileCount"] == 2
    nodes = {e["node"]["name"]: e["node"] for e in run["files"]["edges"]}
    assert nodes["notes.txt"]["sizeBytes"] == 5
    assert served.client.get(nodes["notes.txt"]["url"]).content == b"hello"
    assert served.client.get(nodes["model/w.bin"]["url"]).content == b"\x00\x01"
    # A read link does not upload; a forged signature opens nothing.
    assert served.client.put(nodes["notes.txt"]["url"], content=b"x").status_code == 403
    forged = links["notes.txt"][:-4] + "0000"
    assert served.client.put(forged, content=b"x").status_code == 403
    assert served.client.get(nodes["notes.txt"]["url"]).content == b"hello"


def test_delete_removes_the_run_its_rows_and_files(served: Served) -> None:
    run_id = served.create()
    served.stream(history(rows(0, 3), 0))
    served.store.files.put(served.store.runs.id_of("ada/p", "r1"), "f.txt", b"x")
    delete = "mutation($id: ID!) { deleteRun(input: {id: $id}) { clientMutationId } }"
    assert "errors" not in served.gql(delete, id=run_id)
    assert served.read() is None
    for table in ("runs", "history", "run_files", "stream_offsets"):
        count = served.store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert count[0] == 0, table


def test_writes_need_a_member_of_the_entity(strict: Served) -> None:
    strict.create()
    # bob's key is known but bob is not a member of ada's entity
    body = strict.gql(UPSERT, name="r2", project="p", entity="ada", key=BOB_KEY)
    assert "not a member of entity 'ada'" in body["errors"][0]["message"]
    assert strict.stream({}, key=BOB_KEY).status_code == 403
    assert strict.stream({}, key=None).status_code == 401
    assert strict.stream({}, key="c" * 40).status_code == 401


def test_an_open_server_writes_as_the_demo_user_into_its_entities(
    served: Served,
) -> None:
    # Any well-formed key acts as the first user (ada) on an open server.
    other = "z" * 40
    made = served.gql(UPSERT, name="r9", project="q", key=other)
    assert made["data"]["upsertBucket"]["bucket"]["project"]["entity"]["name"] == "ada"
    refused = served.gql(UPSERT, name="r9", project="q", entity="bob", key=other)
    assert "not a member of entity 'bob'" in refused["errors"][0]["message"]


def test_a_read_only_store_refuses_writes_as_retryable(tmp_path: Any) -> None:
    path = tmp_path / "runs.db"
    with Store(path) as writable:
        writable.users.create("ada", api_key=ADA_KEY)
        served_run, _ = buckets.upsert_bucket(
            writable, writable.users.by_key(ADA_KEY), {"name": "r1", "modelName": "p"}
        )
    store = Store(path, read_only=True)
    app = RunsServerApp(store)
    with BackgroundServer(app) as server, httpx.Client(timeout=30) as client:
        served = Served(server, store, client)
        body = served.gql(UPSERT, name="r2", project="p", entity="ada")
        assert body["errors"][0]["extensions"]["code"] == "STORE_UNAVAILABLE"
        response = served.stream(history(rows(0, 2), 0))
        assert response.status_code == 503 and response.headers["retry-after"]
        assert "read-only" in response.json()["errors"][0]["message"]
        assert served.read()["historyLineCount"] == 0  # reads still work
    store.close()
    assert served_run.name == "r1"
