"""sampledHistory pages decoded into row objects (msgspec) for frames: the
same frames as from dict rows, and the usual parser for bodies it does not fit."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
import respx

from runs_client import GraphQLError, IncompleteHistoriesError
from runs_client.history.bulk import BulkFetcher
from runs_client.history.pages import HistoryQuery, Page
from runs_client.history.typed_pages import orjson_numbers, row_decoder
from runs_client.runs import Runs
from runs_client.transport.attempts import DECODED_KEY
from runs_client.transport.flows import run
from runs_client.transport.retrying import RetryingClient

URL = "https://api.test/graphql"
ENTITY, PROJECT = "ada", "mnist"


def page_body(runs: dict[str, list[Any]], **extra: Any) -> str:
    """A RunsSampledHistoryPage answer holding ``runs`` (name -> rows), as text."""
    edges = [
        {"node": {"name": n, "sampledHistory": [rows]}} for n, rows in runs.items()
    ]
    page = {"edges": edges, "pageInfo": {"endCursor": "c1", "hasNextPage": False}}
    return json.dumps({"data": {"project": {"runs": page}}, **extra})


@pytest.fixture
def served() -> Iterator[dict[str, str]]:
    """Every request answered with ``served["body"]``."""
    state: dict[str, str] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=state["body"].encode())

    with respx.mock(assert_all_called=False) as router:
        router.post(URL).mock(side_effect=answer)
        yield state


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each sampled page was read by the row decoder."""
    seen: list[bool] = []
    original = BulkFetcher._post

    def spy(self: BulkFetcher, *args: Any) -> Any:
        result = yield from original(self, *args)  # _post is a flow
        seen.append(result[2])
        return result

    monkeypatch.setattr(BulkFetcher, "_post", spy)
    return seen


def runs_of() -> Runs:
    http = httpx.Client()
    return Runs(RetryingClient(URL, http, max_retries=0), ENTITY, PROJECT)


def frames_match_dict_rows(keys: list[str]) -> None:
    """Every frame format holds what the dict rows (format='default') hold."""
    rows = runs_of().histories(keys=keys, progress=False)
    columns = ["run_id", *sorted({"_step", *keys})]
    frame = runs_of().histories(keys=keys, format="pandas", progress=False)
    polars = runs_of().histories(keys=keys, format="polars", progress=False)
    arrow = runs_of().histories(keys=keys, format="arrow", progress=False)
    assert list(frame.columns) == polars.columns == arrow.column_names == columns
    assert len(frame) == len(rows)
    for name in columns:
        want = [r.get(name) for r in rows]
        got_pl = polars[name].to_list()
        got_pa = arrow.column(name).to_pylist()
        got_pd = frame[name].tolist()
        json_text = False
        if arrow.schema.field(name).type == "string" and name not in ("run_id",):
            texts = [w for w in want if w is not None]
            if texts and not all(isinstance(w, str) for w in texts):
                # JSON text in every frame (was pl.Object, and Python values
                # in pandas).
                json_text = True
                got_pa = [None if v is None else json.loads(v) for v in got_pa]
                got_pl = [None if v is None else json.loads(v) for v in got_pl]
                got_pd = [None if v is None else json.loads(v) for v in got_pd]
        assert (name in frame.attrs["json_columns"]) == json_text, name
        for got in (got_pl, got_pa, got_pd):
            assert [_norm(g) for g in got] == [_norm(w) for w in want], name


def _norm(value: Any) -> Any:
    # One missing marker (pandas holds None as NaN in numeric columns) and
    # NaN comparable to itself.
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "<missing>"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return ("number", value)
    if isinstance(value, int) and not isinstance(value, bool):
        return ("number", float(value)) if abs(value) < 2**53 else ("int", value)
    return value


MIXED_RUNS: dict[str, list[Any]] = {
    "r1": [
        {"_step": 0, "loss": 0.5, "note": "a", "flag": True, "img": None},
        {"_step": 2, "loss": "NaN", "note": "NaN", "flag": False, "img": {"x": [1]}},
        {"_step": 1, "loss": "Infinity", "note": None, "flag": True, "img": [1, 2]},
        {"_step": 3, "loss": "-Infinity", "note": "b", "flag": False, "big": 2**70},
    ],
    "r2": [
        {"_step": 0.0, "loss": 1, "note": "c", "flag": None, "big": 2**63 + 1},
        {"_step": 1.0, "loss": "1.5", "note": "d", "flag": True, "big": -(2**64)},
        {"_step": 2.0, "loss": 2.5, "extra": "ignored", "big": {"n": 2**66}},
    ],
    "r3": [],
    # Steps that are not all numbers: ordered by the numbers, the rest last.
    "r4": [{"_step": 5, "loss": 1.0}, {"_step": "x", "loss": 2.0}, {"_step": 4}],
}
MIXED_KEYS = ["loss", "note", "flag", "img", "big"]


def test_row_objects_give_the_frames_dict_rows_give(
    served: dict[str, str], decoded: list[bool]
) -> None:
    # Markers, number-like text, text, bools, media, lists, nulls, missing and
    # extra keys, unsorted and float steps, integers beyond 64 bits.
    served["body"] = page_body(MIXED_RUNS)
    frames_match_dict_rows(MIXED_KEYS)
    # default format: dict rows; the three frame formats: row objects.
    assert decoded == [False, True, True, True]


def test_frames_hold_orjsons_numbers_for_integers_beyond_64_bits(
    served: dict[str, str],
) -> None:
    served["body"] = page_body(MIXED_RUNS)
    frame = runs_of().histories(keys=MIXED_KEYS, format="pandas", progress=False)
    want = orjson.loads(served["body"])  # what every other path reads
    nodes = [e["node"] for e in want["data"]["project"]["runs"]["edges"]]
    big = [r.get("big") for n in nodes for r in n["sampledHistory"][0]]
    order = [0, 2, 1, 3, 4, 5, 6, 9, 7, 8]  # each run's rows in step order
    # JSON text, as every column beyond int64 (was Python values).
    got = [None if v is None else json.loads(v) for v in frame["big"].tolist()]
    assert [_norm(v) for v in got] == [_norm(big[i]) for i in order]
    assert got[4] == 2**63 + 1  # within u64: an int
    assert got[5] == float(-(2**64))
    assert got[3] == float(2**70)


@pytest.mark.parametrize(
    "body",
    [
        # Raw control characters: the standard library reads them.
        page_body({"r1": [{"_step": 0, "loss": 1.0, "note": "x"}]}).replace(
            '"x"', '"raw\tx"'
        ),
        # A row that is not an object (skipped by the dict path).
        page_body({"r1": [{"_step": 0, "loss": 1.0, "note": "x"}, 7]}),
        # A number beyond float64 (the standard library makes it inf).
        page_body({"r1": [{"_step": 0, "loss": 1.0, "note": "x"}]}).replace(
            "1.0", "1e400"
        ),
        # Bare NaN tokens of an older server.
        page_body({"r1": [{"_step": 0, "loss": math.nan, "note": "x"}]}),
    ],
)
def test_bodies_the_decoder_does_not_fit_are_parsed_as_before(
    served: dict[str, str], decoded: list[bool], body: str
) -> None:
    served["body"] = body
    frames_match_dict_rows(["loss", "note"])
    assert decoded == [False] * 4


def test_graphql_errors_are_raised_as_before(
    served: dict[str, str], decoded: list[bool]
) -> None:
    body = page_body({"r1": [{"_step": 0, "loss": 1.0}]}, errors=[{"message": "boom"}])
    served["body"] = body
    assert row_decoder(("_step", "loss"))(body.encode()) is None
    with pytest.raises(IncompleteHistoriesError) as info:
        runs_of().histories(keys=["loss"], format="pandas", progress=False)
    assert isinstance(info.value.__cause__, GraphQLError)
    assert "boom" in str(info.value)


def test_decoder_keeps_the_envelope_the_fetcher_reads() -> None:
    decode = row_decoder(("_step", "loss"))
    assert decode(b'{"data":{"project":null}}') == {"data": {"project": None}}
    assert decode(b'{"data":{"project":{"runs":null}}}') == {
        "data": {"project": {"runs": None}}
    }
    assert decode(b'{"data":null}') is None  # the usual parser says why
    body = (
        b'{"data":{"project":{"runs":{"edges":[null,{"node":null},{"node":'
        b'{"name":"r","sampledHistory":[[{"loss":2,"_step":1,"x":3}]]}}],'
        b'"pageInfo":{"endCursor":"e","hasNextPage":true}}}}}'
    )
    data = decode(body)
    assert data is not None
    runs = data["data"]["project"]["runs"]
    assert runs["pageInfo"] == {"endCursor": "e", "hasNextPage": True}
    (edge,) = runs["edges"]
    assert edge["node"]["name"] == "r"
    (row,) = edge["node"]["sampledHistory"][0]
    assert decode.as_dict(row) == {"_step": 1, "loss": 2}  # asked keys only


def test_transport_decode_hook(served: dict[str, str]) -> None:
    served["body"] = '{"data":{"viewer":{"id":"1"}}}'
    with httpx.Client() as http:
        client = RetryingClient(URL, http, max_retries=0)
        calls: list[bytes] = []

        def decode_to(result: dict[str, Any] | None) -> Callable[[bytes], Any]:
            def decode(body: bytes) -> dict[str, Any] | None:
                calls.append(body)
                return result

            return decode

        response = client.execute("{viewer{id}}", decode=decode_to({"data": {"a": 1}}))
        assert client.get_data(response) == {"a": 1}
        assert DECODED_KEY in response.extensions
        response = client.execute("{viewer{id}}", decode=decode_to(None))
        assert client.get_data(response) == {"viewer": {"id": "1"}}
        assert DECODED_KEY not in response.extensions
        assert calls == [served["body"].encode()] * 2


def _page(decoder: bool, run: str) -> Page:
    rows: list[Any] = [{"_step": 0, "loss": 1.5}]
    if decoder:
        decode = row_decoder(("_step", "loss"))
        body = page_body({run: rows}).encode()
        data = decode(body)
        assert data is not None
        rows = data["data"]["project"]["runs"]["edges"][0]["node"]["sampledHistory"][0]
        return Page([run], [1], rows, decoder=decode)
    return Page([run], [1], rows)


def test_halves_of_both_kinds_make_one_page_of_dict_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from runs_client import TimeoutError

    query = HistoryQuery(10, ("loss",), "_step", "default", "and")
    fetcher = BulkFetcher(runs_of().client, ENTITY, PROJECT, None, None, query)

    def request(cursor: Any, per_page: int, filters: str | None, *_: Any) -> Any:
        # A flow (as _request is) that sends nothing.
        if per_page > 1:
            raise TimeoutError("too slow")
        name = json.loads(filters or "{}")["name"]["$in"][0]
        return _page(name == "a", name)
        yield

    monkeypatch.setattr(fetcher, "_request", request)
    page = run(fetcher.client, fetcher._by_names(["a", "b"]))
    assert page.decoder is None
    assert page.rows == [{"_step": 0, "loss": 1.5}, {"_step": 0, "loss": 1.5}]
    assert page.run_ids == ["a", "b"]


def test_records_of_a_page_of_row_objects_are_dicts() -> None:
    page = _page(True, "a")
    assert page.records("run_id") == [{"_step": 0, "loss": 1.5, "run_id": "a"}]


def test_orjson_numbers_rule() -> None:
    values = [2**64 - 1, 2**64, -(2**63), -(2**63) - 1, [2**65], {"a": -(2**70)}, 1.5]
    assert orjson_numbers(values) == orjson.loads(json.dumps(values))


def test_keys_msgspec_cannot_name_are_parsed_as_before(
    served: dict[str, str], decoded: list[bool]
) -> None:
    key = 'say "hi"\\now'
    assert row_decoder(("_step", key)) is None
    served["body"] = page_body(
        {"r1": [{"_step": 0, key: 1.5}, {"_step": 1, key: "NaN"}]}
    )
    frames_match_dict_rows([key])
    assert decoded == [False] * 4
