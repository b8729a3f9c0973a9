"""The client's side of columnar pages: the names plan (``RunNames`` once,
then pages by name; by cursor from a server that refuses it or names only
some runs), ``stepGrid`` decoding and its checks, Arrow page sizes
(``row_budget``) and large Arrow bodies joined into pooled memory.

A respx fake serves /graphql (the features probe) and /columnar/history
(Arrow pages built here with pyarrow); the expected frames come from a plain
model of the fake's runs.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pandas as pd
import pyarrow as pa
import pytest
import respx

import runs_client
from runs_client.history import arrow_pages
from runs_client.history.pages import HistoryQuery
from runs_client.transport.pooled import pooled_join
from runs_client.transport.retrying import RetryingClient
from tests.e2e.either_api import make_either

BASE = "https://api.test"
ARROW = "application/vnd.apache.arrow.stream"
# name -> (first step, row count): every run logs loss = step / 2 each step.
Runs = dict[str, tuple[int, int]]
RUNS: Runs = {f"r{i:02d}": (i * 10, 3 + i % 2) for i in range(9)}
MAX_REQUESTS = 60


class Columnar:
    """The fake server: ``names`` how it answers RunNames ("all", "refuse",
    "incomplete" with no cursor, "chained": 2 names and the cursor after them,
    "stuck": the first 2 names and their cursor every time), ``grid``
    whether pages send _step as a grid ("good", "bad" or None)."""

    def __init__(
        self, names: str = "all", grid: str | None = None, runs: Runs = RUNS
    ) -> None:
        self.runs = runs
        self.names = names
        self.grid = grid
        self.calls: Counter[str] = Counter()
        self.sent: list[dict[str, Any]] = []
        self.limit = MAX_REQUESTS

    def graphql(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self._count(body)
        assert body["operationName"] == "ServerFeatures", body["operationName"]
        features = [{"name": "columnarHistory", "isEnabled": True}]
        info = {"serverInfo": {"features": features}}
        return httpx.Response(200, json={"data": info})

    def _count(self, body: dict[str, Any]) -> None:
        self.calls[body["operationName"]] += 1
        self.sent.append(body)
        if sum(self.calls.values()) > self.limit:
            raise AssertionError(f"the fake got over {self.limit} requests")

    def columnar(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self._count(body)
        variables = body["variables"]
        order = list(self.runs)
        start = int(variables["cursor"][1:]) if variables.get("cursor") else 0
        if body["operationName"] == "RunNames":
            if self.names == "refuse":  # as a server before RunNames
                message = "the request body must be ..., naming one of RunsHistoryPage"
                return httpx.Response(400, json={"errors": [{"message": message}]})
            names = order[start:]
            if self.names == "garbage":
                names = [1, 2]  # type: ignore[list-item]
            complete = self.names != "incomplete"
            if not complete:
                names = names[:2]
            project: dict[str, Any] = {"runNames": names, "complete": complete}
            if self.names in ("chained", "stuck"):  # 2 names an answer, a cursor
                stop = 2 if self.names == "stuck" else start + 2
                project = {"runNames": order[stop - 2 : stop],
                           "complete": stop >= len(order)}  # fmt: skip
                if stop < len(order):
                    project["endCursor"] = f"c{stop}"
            return httpx.Response(200, json={"data": {"project": project}})
        filters = json.loads(variables.get("filters") or "{}")
        if "name" in filters:
            wanted = set(filters["name"]["$in"])
            names = [n for n in order if n in wanted]
            end, more = None, False
        else:
            per_page = int(variables.get("perPage", 50))
            names = order[start : start + per_page]
            end = f"c{start + len(names)}"
            more = start + len(names) < len(order)
        return httpx.Response(200, content=self.page(names, end, more),
                              headers={"content-type": ARROW})  # fmt: skip

    def page(self, names: list[str], end: str | None, more: bool) -> bytes:
        runs = self.runs
        steps = [runs[n][0] + j for n in names for j in range(runs[n][1])]
        info: dict[str, Any] = {"runs": names, "counts": [runs[n][1] for n in names],
                                "endCursor": end, "hasNextPage": more}  # fmt: skip
        columns = {"loss": pa.array([s / 2 for s in steps], pa.float64())}
        if self.grid is None:
            columns["_step"] = pa.array(steps, pa.int64())
        else:
            counts = {runs[n][1] for n in names}
            offsets = list(range(max(counts)))
            if self.grid == "bad":
                offsets.append(len(offsets))  # one more step than rows
            info["stepGrid"] = {"starts": [runs[n][0] for n in names],
                                "offsets": offsets}  # fmt: skip
        table = pa.table(columns).replace_schema_metadata({"runs": orjson.dumps(info)})
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return bytes(sink.getvalue())


@pytest.fixture
def mocked() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def serve(router: respx.MockRouter, fake: Columnar) -> Columnar:
    router.post(BASE + "/graphql").mock(side_effect=fake.graphql)
    router.post(BASE + "/columnar/history").mock(side_effect=fake.columnar)
    return fake


def model(runs: Runs = RUNS) -> pd.DataFrame:
    rows = [(n, first + j, (first + j) / 2)
            for n, (first, count) in runs.items() for j in range(count)]  # fmt: skip
    return pd.DataFrame(rows, columns=["run_id", "_step", "loss"])


def frame(kind: str, **kwargs: Any) -> pd.DataFrame:
    api = make_either(kind, api_key="k" * 40, base_url=BASE, max_retries=0)
    try:
        got = api.runs("ada/mnist", per_page=4).histories(format="pandas", **kwargs)
    finally:
        api.close()
    assert isinstance(got, pd.DataFrame)
    return got[["run_id", "_step", "loss"]].reset_index(drop=True)


def same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("keys", [None, ["loss"]])
def test_names_then_pages_by_name(
    mocked: respx.MockRouter, kind: str, keys: list[str] | None
) -> None:
    fake = serve(mocked, Columnar())
    same(frame(kind, keys=keys, rows_per_request=8), model())
    assert fake.calls["RunNames"] == 1 and fake.calls["ServerFeatures"] == 1
    pages = [b for b in fake.sent if b["operationName"].startswith("Runs")]
    assert pages and all("cursor" not in b["variables"] for b in pages)
    asked = [n for b in pages
             for n in json.loads(b["variables"]["filters"])["name"]["$in"]]  # fmt: skip
    # each run asked once, by name (pages run at once: they may arrive in any order)
    assert sorted(asked) == list(RUNS)
    assert all(b["variables"]["stepGrid"] is True for b in pages)


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("names", ["refuse", "incomplete"])
def test_without_a_full_names_plan_pages_go_by_cursor(
    mocked: respx.MockRouter, kind: str, names: str
) -> None:
    fake = serve(mocked, Columnar(names))
    same(frame(kind, keys=["loss"], rows_per_request=8), model())
    assert fake.calls["RunNames"] == 1
    pages = [b for b in fake.sent if b["operationName"].startswith("Runs")]
    assert all("name" not in json.loads(b["variables"].get("filters") or "{}")
               for b in pages)  # fmt: skip
    cursors = [b["variables"].get("cursor") for b in pages]
    assert cursors[0] is None and len(cursors) > 1 and cursors[1] is not None


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_names_past_the_cap_chain_through_their_end_cursors(
    mocked: respx.MockRouter, kind: str
) -> None:
    fake = serve(mocked, Columnar("chained"))
    same(frame(kind, keys=["loss"], rows_per_request=8), model())
    plans = [b["variables"].get("cursor") for b in fake.sent
             if b["operationName"] == "RunNames"]  # fmt: skip
    assert plans == [None, "c2", "c4", "c6", "c8"]
    pages = [b for b in fake.sent if b["operationName"].startswith("Runs")]
    assert all("cursor" not in b["variables"] for b in pages)  # all by name
    asked = [n for b in pages
             for n in json.loads(b["variables"]["filters"])["name"]["$in"]]  # fmt: skip
    assert sorted(asked) == list(RUNS)


def test_tokens_taken_between_chained_plans_resume_with_the_runs_after(
    mocked: respx.MockRouter,
) -> None:
    fake = serve(mocked, Columnar("chained"))
    fake.limit = 400  # a walk resumed after each of its batches
    api = runs_client.Api(api_key="k" * 40, base_url=BASE, max_retries=0)
    try:
        runs = api.runs("ada/mnist", per_page=4)
        kwargs: dict[str, Any] = {"format": "pandas", "rows_per_request": 8}
        batches = list(runs.iter_histories(**kwargs))
        assert [r for b in batches for r in b.run_ids] == list(RUNS)
        assert len(batches) > 3  # tokens between and within the plans' names
        for i, batch in enumerate(batches):
            rest = runs.iter_histories(after=batch.resume_token, **kwargs)
            want = [r for b in batches[i + 1 :] for r in b.run_ids]
            assert [r for b in rest for r in b.run_ids] == want
    finally:
        api.close()


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_names_plan_that_does_not_advance_is_a_server_error(
    mocked: respx.MockRouter, kind: str
) -> None:
    fake = serve(mocked, Columnar("stuck"))
    with pytest.raises(runs_client.IncompleteHistoriesError) as caught:
        frame(kind, keys=["loss"], rows_per_request=8)
    assert isinstance(caught.value.__cause__, runs_client.ServerError)
    assert "did not advance" in str(caught.value)
    assert fake.calls["RunNames"] == 2  # the second answer repeats the first


def test_names_that_are_not_text_are_a_server_error(
    mocked: respx.MockRouter,
) -> None:
    serve(mocked, Columnar("garbage"))
    with pytest.raises(runs_client.IncompleteHistoriesError) as caught:
        frame("sync", keys=["loss"])
    assert isinstance(caught.value.__cause__, runs_client.ServerError)
    assert "run names that are not a list of text" in str(caught.value)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_good_step_grid_gives_the_step_column(
    mocked: respx.MockRouter, kind: str
) -> None:
    even = {name: (first, 4) for name, (first, _) in RUNS.items()}  # one length
    serve(mocked, Columnar(grid="good", runs=even))
    got = frame(kind, keys=["loss"])
    same(got, model(even))
    assert got["_step"].tolist()[:5] == [0, 1, 2, 3, 10]


def test_a_step_grid_that_does_not_match_the_rows_is_refused(
    mocked: respx.MockRouter,
) -> None:
    serve(mocked, Columnar(grid="bad"))
    client = RetryingClient(BASE + "/graphql", httpx.Client(), max_retries=0)
    variables = {"entity": "ada", "project": "mnist", "perPage": 3}
    with pytest.raises(runs_client.ServerError, match="stepGrid"):
        arrow_pages.request(client, query(["loss"]), variables, None)


# -- row_budget --------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "rows"),
    [
        ({}, 200_000),  # every key
        ({"stream": "system"}, 200_000),  # events
        ({"keys": ["loss"]}, 1_000_000),  # 8 MiB / 8 = 1,048,576: capped
        ({"keys": ["_step", "loss"]}, 1_000_000),  # _step is no value
        ({"keys": ["a", "b"]}, 524_288),
        ({"keys": ["a", "b", "c"]}, 349_525),
        ({"keys": ["a", "b", "c", "d", "e"]}, 209_715),
        ({"keys": ["a", "b", "c", "d", "e", "f"]}, 200_000),  # 174,762: floor
        ({"keys": ["_step"]}, 1_000_000),
        ({"keys": ["loss"], "x_axis": "_runtime"}, 524_288),  # x is a value
    ],
)
def test_row_budget(kwargs: dict[str, Any], rows: int) -> None:
    assert arrow_pages.row_budget(query(**kwargs)) == rows


def query(
    keys: list[str] | None = None, stream: str = "default", x_axis: str = "_step"
) -> HistoryQuery:
    return HistoryQuery(500, None if keys is None else tuple(keys), x_axis,
                        stream, "and")  # type: ignore[arg-type]  # fmt: skip


# -- pooled bodies -----------------------------------------------------------

MIB = 1024 * 1024


def test_pooled_join_thresholds_and_kinds() -> None:
    chunks = [bytes([i % 251]) * 1000 for i in range(1049)]  # 1,049,000 bytes
    size = sum(map(len, chunks))
    assert size > MIB
    joined = pooled_join(ARROW, chunks, size)
    assert isinstance(joined, pa.Buffer) and joined.to_pybytes() == b"".join(chunks)
    assert pooled_join(ARROW + "; charset=binary", chunks, size) is not None
    assert pooled_join(ARROW.upper(), chunks, size) is not None
    small = [b"x" * (MIB - 1)]
    assert pooled_join(ARROW, small, MIB - 1) is None
    exact = pooled_join(ARROW, [b"y" * MIB], MIB)
    assert exact is not None and exact.size == MIB
    for other in ("application/json", "application/octet-stream", None):
        assert pooled_join(other, chunks, size) is None


def _arrow_body(rows: int) -> bytes:
    table = pa.table({"v": pa.array(range(rows), pa.float64())})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


@pytest.mark.parametrize("rows", [1000, 200_000])
def test_decode_reads_what_the_server_sent(mocked: respx.MockRouter, rows: int) -> None:
    body = _arrow_body(rows)
    mocked.post(BASE + "/x").mock(
        return_value=httpx.Response(200, content=body, headers={"content-type": ARROW})
    )
    seen: list[Any] = []

    def decode(got: Any) -> dict[str, Any]:
        seen.append(got)
        return {"data": {"ok": True}}

    with httpx.Client() as http:
        client = RetryingClient(BASE + "/x", http, max_retries=0)
        response = client.execute("q", operation_name="Q", decode=decode)
        assert client.get_data(response) == {"ok": True}
    (got,) = seen
    # Large bodies come as a pooled pyarrow buffer, small ones as bytes.
    assert isinstance(got, pa.Buffer if len(body) >= MIB else bytes)
    assert bytes(memoryview(got)) == body
    assert response.content == (b"" if len(body) >= MIB else body)


def test_a_gzipped_large_arrow_body_is_joined_decompressed(
    mocked: respx.MockRouter,
) -> None:
    body = _arrow_body(200_000)
    packed = gzip.compress(body, compresslevel=1)
    headers = {"content-type": ARROW, "content-encoding": "gzip"}
    mocked.post(BASE + "/x").mock(
        return_value=httpx.Response(200, content=packed, headers=headers)
    )
    seen: list[Any] = []
    with httpx.Client() as http:
        client = RetryingClient(BASE + "/x", http, max_retries=0)
        client.execute(
            "q", operation_name="Q", decode=lambda b: seen.append(b) or {"data": {}}
        )
    (got,) = seen
    assert isinstance(got, pa.Buffer) and got.to_pybytes() == body


@pytest.mark.parametrize("status", [400, 500])
def test_large_failed_bodies_stay_content(
    mocked: respx.MockRouter, status: int
) -> None:
    message = "refused " + "z" * MIB
    body = json.dumps({"errors": [{"message": message}]}).encode()
    reply = httpx.Response(status, content=body, headers={"content-type": ARROW})
    mocked.post(BASE + "/x").mock(return_value=reply)
    with httpx.Client() as http:
        client = RetryingClient(BASE + "/x", http, max_retries=0, sleep=lambda _: None)
        with pytest.raises(runs_client.GraphQLError) as caught:
            client.execute("q", operation_name="Q", decode=lambda _: None)
    assert "refused zzz" in str(caught.value)  # the body was read as content


def test_large_json_bodies_stay_content(mocked: respx.MockRouter) -> None:
    data = {"blob": "w" * (2 * MIB)}
    mocked.post(BASE + "/x").mock(return_value=httpx.Response(200, json={"data": data}))
    with httpx.Client() as http:
        client = RetryingClient(BASE + "/x", http, max_retries=0)
        assert client.get_data(client.execute("q", operation_name="Q")) == data
