"""The bulk histories path: request counts, halving, per-run fallback, resume
tokens, strict-JSON non-finite strings, join='outer', formats and batches."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from runs_client import (
    BulkHistoryWarning,
    HistoryBatch,
    IncompleteHistoriesError,
    InvalidArgumentError,
    ServerError,
)
from runs_client.runs import Runs
from runs_client.transport.retrying import RetryingClient
from tests.client_unit.runs_fake_server import (  # noqa: F401  (fixtures)
    ENTITY,
    PROJECT,
    URL,
    FakeWandb,
    fake_fixture,
    make_run,
)


def line(**row: Any) -> str:
    return json.dumps(row)


@pytest.fixture
def client() -> Iterator[RetryingClient]:
    with httpx.Client() as http:
        yield RetryingClient(URL, http, max_retries=1, sleep=lambda _: None)


def seed(fake: FakeWandb, n: int = 10, steps: int = 4) -> None:
    """Runs r00..r(n-1); run i logs loss every step, acc on even steps, and
    run 0 logs NaN and Infinity."""
    fake.runs = [make_run(f"r{i:02d}") for i in range(n)]
    fake.history = {}
    for i in range(n):
        rows = []
        for s in range(steps):
            row: dict[str, Any] = {"_step": s, "loss": i + s / 10}
            if s % 2 == 0:
                row["acc"] = s / 4
            if i == 0 and s == 1:
                row["loss"] = math.nan
            if i == 0 and s == 2:
                row["loss"] = math.inf
            rows.append(line(**row))
        fake.history[f"r{i:02d}"] = rows


def runs_of(client: RetryingClient, **kwargs: Any) -> Runs:
    return Runs(client, ENTITY, PROJECT, **kwargs)


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def blank(value: Any) -> Any:
    """NaN and None as one missing marker (pandas cannot tell them apart)."""
    return None if isinstance(value, float) and math.isnan(value) else value


def rows_equal(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> bool:
    if len(got) != len(want):
        return False
    for g, w in zip(got, want, strict=True):
        if set(g) != set(w) or not all(same(g[k], w[k]) for k in g):
            return False
    return True


def expected_rows(fake: FakeWandb, names: list[str]) -> list[dict[str, Any]]:
    return [
        {**json.loads(text), "run_id": name}
        for name in names
        for text in fake.history.get(name, [])
    ]


# -- request counts and page sizes --------------------------------------------


def test_pages_follow_the_row_budget(client: RetryingClient, fake: FakeWandb) -> None:
    seed(fake, n=10, steps=100)  # runs as long as samples: pages never grow
    rows = runs_of(client).histories(samples=100, rows_per_request=300)
    # 300 // 100 = 3 runs per request: 4 requests for 10 runs, after cursors.
    assert fake.calls == {"RunsHistoryPage": 4}
    assert [b["variables"]["perPage"] for b in fake.bodies] == [3, 3, 3, 3]
    assert rows_equal(rows, expected_rows(fake, [f"r{i:02d}" for i in range(10)]))


def test_loaded_runs_are_asked_by_name_in_collection_order(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, n=7)
    runs = runs_of(client, per_page=4)
    assert runs[0].id == "r00"  # loads the first page of 4 runs
    fake.calls.clear()
    fake.bodies.clear()
    rows = runs.histories(samples=100, rows_per_request=200)
    by_name = [b for b in fake.bodies if "$in" in (b["variables"].get("filters") or "")]
    assert [json.loads(b["variables"]["filters"])["name"]["$in"] for b in by_name] == [
        ["r00", "r01"],
        ["r02", "r03"],
    ]
    # Then the pages after the collection's cursor (c4).
    after = [b["variables"].get("cursor") for b in fake.bodies if b not in by_name]
    assert after[0] == "c4"
    names = [f"r{i:02d}" for i in range(7)]
    assert rows_equal(rows, expected_rows(fake, names))
    assert runs.next().id == "r00"  # the collection itself is untouched


# -- halving -----------------------------------------------------------------


@pytest.mark.parametrize("code", ["RESPONSE_TOO_LARGE", None], ids=["code", "message"])
def test_refused_pages_are_asked_as_halves(
    client: RetryingClient, fake: FakeWandb, code: str | None
) -> None:
    seed(fake, n=9)
    fake.max_page_runs = 2
    fake.size_code = code
    rows = runs_of(client).histories(samples=10)
    sizes = [b["variables"]["perPage"] for b in fake.bodies]
    # 9 runs asked at once, refused; then halves until 2 fit, kept from then on.
    assert sizes[:4] == [1000, 500, 250, 125]
    assert all(size <= 2 for size in sizes[-5:])
    assert rows_equal(rows, expected_rows(fake, [f"r{i:02d}" for i in range(9)]))


def test_refused_named_chunks_are_split(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, n=6)
    fake.max_page_runs = 2
    runs = runs_of(client, per_page=6)
    runs[0]
    frame = runs.histories(samples=10, format="pandas")
    assert frame["run_id"].drop_duplicates().tolist() == [f"r{i:02d}" for i in range(6)]


def test_another_size_code_is_not_a_size_refusal(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, n=3)
    fake.max_page_runs = 1
    fake.size_code = "SOMETHING_ELSE"  # a code that is not ours: no halving
    with pytest.warns(BulkHistoryWarning):
        runs_of(client).histories()
    bulk = [b for b in fake.bodies if b["operationName"] == "RunsHistoryPage"]
    assert [b["variables"]["perPage"] for b in bulk] == [32_000 // 500]  # full rows


# -- per-run fallback --------------------------------------------------------


def test_server_refusing_bulk_history_gets_per_run_requests_once_warned(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, n=5)
    fake.bulk_refused = True
    with pytest.warns(BulkHistoryWarning, match="refuses history fields"):
        rows = runs_of(client).histories(samples=10)
    names = [f"r{i:02d}" for i in range(5)]
    assert rows_equal(rows, expected_rows(fake, names))
    assert fake.calls["RunsHistoryPage"] == 1
    assert fake.calls["RunHistory"] == 5
    fake.calls.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # remembered: no second warning
        again = runs_of(client).histories(samples=10, format="pandas")
    assert fake.calls["RunsHistoryPage"] == 0 and fake.calls["RunHistory"] == 5
    assert again["run_id"].drop_duplicates().tolist() == names


# -- failure part-way and resume ---------------------------------------------


def test_failure_part_way_raises_with_completed_runs_and_resume_token(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, n=8, steps=10)  # runs as long as samples: pages keep 2 runs
    # Request 3 and its one retry fail: pages 1 and 2 (2 runs each) are done.
    fake.failing_bulk = {3, 4}
    runs = runs_of(client)
    with pytest.raises(IncompleteHistoriesError) as caught:
        runs.histories(samples=10, rows_per_request=20, format="pandas")
    error = caught.value
    assert error.completed_run_ids == ["r00", "r01", "r02", "r03"]
    assert error.cause.status_code == 500
    fake.failing_bulk = set()
    batches = list(
        runs.iter_histories(
            samples=10,
            format="pandas",
            rows_per_request=20,
            after=error.resume_token,
        )
    )
    resumed = [r for b in batches for r in b.run_ids]
    assert resumed == ["r04", "r05", "r06", "r07"]
    frame = pd.concat([b.data for b in batches], ignore_index=True)
    want = expected_rows(fake, resumed)
    assert frame["run_id"].tolist() == [r["run_id"] for r in want]


def test_resume_token_of_another_query_is_refused(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, n=4, steps=10)
    runs = runs_of(client)
    first = next(iter(runs.iter_histories(samples=10, rows_per_request=20)))
    sent = fake.total
    with pytest.raises(InvalidArgumentError, match="another histories"):
        runs.iter_histories(samples=11, after=first.resume_token)
    with pytest.raises(InvalidArgumentError, match="not a resume token"):
        runs.iter_histories(after="garbage")
    assert fake.total == sent


def test_batches_say_which_runs_they_hold_and_resume_anywhere(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, n=5, steps=10)
    fake.history["r02"] = []  # a run with no rows is still completed
    runs = runs_of(client)
    batches = list(runs.iter_histories(samples=10, rows_per_request=20))
    assert [b.run_ids for b in batches] == [("r00", "r01"), ("r02", "r03"), ("r04",)]
    assert all(isinstance(b, HistoryBatch) for b in batches)
    for i, batch in enumerate(batches):
        rest = list(runs.iter_histories(samples=10, after=batch.resume_token))
        assert [r for b in rest for r in b.run_ids] == [
            r for b in batches[i + 1 :] for r in b.run_ids
        ]


def test_tokens_after_pages_of_loaded_runs_resume_without_repeats(
    client: RetryingClient, fake: FakeWandb
) -> None:
    # The collection already holds r00..r05 (two listing pages of 3): their
    # histories are asked by name, the rest after the collection's cursor. A
    # token taken after any batch, of either kind, resumes with exactly the
    # runs after it, from this collection or a fresh one.
    seed(fake, n=9, steps=10)
    names = [f"r{i:02d}" for i in range(9)]
    runs = runs_of(client, per_page=3)
    assert runs[4].id == "r04" and len(runs.objects) == 6
    batches = list(runs.iter_histories(samples=10, rows_per_request=20))
    assert [r for b in batches for r in b.run_ids] == names
    assert len(batches) >= 4  # batches by name and after the cursor
    for i, batch in enumerate(batches):
        want = [r for b in batches[i + 1 :] for r in b.run_ids]
        for collection in (runs, runs_of(client, per_page=3)):
            rest = collection.iter_histories(samples=10, after=batch.resume_token)
            assert [r for b in rest for r in b.run_ids] == want


# -- non-finite values -------------------------------------------------------


def test_strict_json_nan_strings_become_floats_everywhere(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, n=2)
    fake.strict_json = True
    rows = runs_of(client).histories(keys=["loss"])
    assert fake.bodies[-1]["operationName"] == "RunsSampledHistoryPage"
    loss = [r["loss"] for r in rows if r["run_id"] == "r00"]
    assert math.isnan(loss[1]) and loss[2] == math.inf
    frame = runs_of(client).histories(keys=["loss"], format="pandas")
    assert frame["loss"].dtype == "float64"
    polars = runs_of(client).histories(keys=["loss"], format="polars")
    assert polars.schema["loss"] == pl.Float64
    run = runs_of(client)[0]
    single = run.history(keys=["loss"], pandas=False)
    assert math.isnan(single[1]["loss"]) and single[2]["loss"] == math.inf


# -- keys at different cadences ----------------------------------------------


def test_join_outer_sends_one_spec_per_key_and_merges_on_x_axis(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, n=2)
    and_rows = runs_of(client).histories(keys=["loss", "acc"])
    assert {r["_step"] for r in and_rows} == {0, 2}  # the AND rule
    fake.bodies.clear()
    rows = runs_of(client).histories(keys=["loss", "acc"], join="outer")
    (body,) = fake.bodies
    specs = [json.loads(s)["keys"] for s in body["variables"]["specs"]]
    assert specs == [["_step", "loss"], ["_step", "acc"]]
    want = expected_rows(fake, ["r00", "r01"])
    assert rows_equal(rows, want)


def test_join_outer_chunks_specs_beyond_the_server_limit(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, n=2)
    keys = [f"k{i}" for i in range(150)]
    for name in fake.history:
        fake.history[name] = [line(_step=0, **dict.fromkeys(keys, 1.0))]
    frame = runs_of(client).histories(
        keys=keys, join="outer", format="pandas", rows_per_request=10**6
    )
    assert [len(b["variables"]["specs"]) for b in fake.bodies] == [100, 50]
    assert list(frame.columns) == ["run_id", "_step", *sorted(keys)]
    assert len(frame) == 2


# -- formats -------------------------------------------------------------------


def test_every_format_holds_the_same_data(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, n=6)
    fake.history["r03"].append(line(_step=9, note="text", img={"_type": "image-file"}))
    runs = runs_of(client)
    rows = runs.histories(samples=50, rows_per_request=100)
    frame = runs.histories(samples=50, rows_per_request=100, format="pandas")
    polars = runs.histories(samples=50, rows_per_request=100, format="polars")
    arrow = runs.histories(samples=50, rows_per_request=100, format="arrow")
    assert isinstance(arrow, pa.Table)
    columns = ["run_id", "_step", "acc", "img", "loss", "note"]
    assert list(frame.columns) == polars.columns == arrow.column_names == columns
    for name in columns:
        want = [r.get(name) for r in rows]
        got_pa = arrow.column(name).to_pylist()
        got_pl = polars[name].to_list()
        if name == "img":  # arrow and polars (was pl.Object) hold media as JSON
            got_pa = [None if v is None else json.loads(v) for v in got_pa]
            got_pl = [None if v is None else json.loads(v) for v in got_pl]
        for got in (got_pl, got_pa):
            assert all(same(g, w) for g, w in zip(got, want, strict=True)), name
        # pandas has no null apart from NaN in float columns; media is JSON
        # text there too (was Python values).
        got_pd = [blank(v) for v in frame[name].tolist()]
        if name == "img":
            got_pd = [None if v is None else json.loads(v) for v in got_pd]
        assert all(same(g, w) for g, w in zip(got_pd, map(blank, want), strict=True)), (
            name
        )
    assert arrow.schema.field("loss").type == pa.float64()
    assert arrow.schema.field("_step").type == pa.int64()


def test_union_schema_gives_every_batch_the_same_columns(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, n=4)
    for i, run in enumerate(fake.runs):
        run["historyKeys"] = {
            "lastStep": 3,
            "keys": {
                "_step": {"typeCounts": [{"type": "number", "count": 4}]},
                "loss": {"typeCounts": [{"type": "number", "count": 4}]},
                "acc": {"typeCounts": [{"type": "number", "count": 2}]},
                **(
                    {"mixed": {"typeCounts": [{"type": "string", "count": 1}]}}
                    if i == 0
                    else {"mixed": {"typeCounts": [{"type": "number", "count": 1}]}}
                ),
            },
        }
    fake.history["r00"].append(line(_step=4, mixed="x"))
    fake.history["r03"].append(line(_step=4, mixed=3))
    batches = list(
        runs_of(client).iter_histories(
            format="arrow", union_schema=True, rows_per_request=1000
        )
    )
    assert len(batches) == 2  # 1,000 rows // 500 samples: 2 runs per batch
    schemas = {str(b.data.schema) for b in batches}
    assert len(schemas) == 1
    (schema,) = {json.dumps(b.schema) for b in batches}
    assert json.loads(schema) == {
        "run_id": "str",
        "_step": "int",
        "acc": "float",
        "loss": "float",
        "mixed": "json",
    }
    mixed = [v for b in batches for v in b.data.column("mixed").to_pylist()]
    assert [v for v in mixed if v is not None] == ['"x"', "3"]


def test_union_schema_needs_a_frame_format(
    client: RetryingClient, fake: FakeWandb
) -> None:
    with pytest.raises(InvalidArgumentError, match="frame format"):
        runs_of(client).iter_histories(union_schema=True)
    assert fake.total == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"join": "inner"}, "join must be"),
        ({"rows_per_request": 0}, "rows_per_request must be"),
        ({"format": "parquet"}, "format must be"),
    ],
)
def test_bad_arguments_send_nothing(
    client: RetryingClient, fake: FakeWandb, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        runs_of(client).histories(**kwargs)
    assert fake.total == 0


def test_progress_counts_runs(
    client: RetryingClient, fake: FakeWandb, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(fake, n=3)
    runs_of(client).histories(progress=True, rows_per_request=1000)
    assert "3/3" in capsys.readouterr().err
    assert fake.calls["RunCount"] == 1  # the total, asked once


def test_default_budget_is_smaller_for_full_rows(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, n=3)
    runs_of(client).histories(samples=500)
    runs_of(client).histories(samples=500, keys=["loss"])
    sizes = {b["operationName"]: b["variables"]["perPage"] for b in fake.bodies}
    # 32,000 // 500 full rows; 64,000 // 500 sampled rows.
    assert sizes == {"RunsHistoryPage": 64, "RunsSampledHistoryPage": 128}


def test_pages_that_time_out_are_asked_as_halves(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, n=9)
    fake.timeout_page_runs = 2
    rows = runs_of(client).histories(samples=10, rows_per_request=10_000)
    sizes = [b["variables"]["perPage"] for b in fake.bodies]
    # 9 runs asked at once time out (and their retry); then halves until 2 fit.
    assert sizes[:2] == [1000, 1000]
    assert sizes[2:8] == [500, 500, 250, 250, 125, 125]
    assert all(size <= 2 for size in sizes[-5:])
    assert rows_equal(rows, expected_rows(fake, [f"r{i:02d}" for i in range(9)]))


def test_next_cursor_page_is_requested_while_the_last_is_converted(
    client: RetryingClient, fake: FakeWandb
) -> None:
    import time

    seed(fake, n=10, steps=100)  # full pages: no growth
    batches = runs_of(client).iter_histories(samples=100, rows_per_request=200)
    first = next(batches)
    assert first.run_ids == ("r00", "r01")
    # The consumer holds the first batch; the next pages are requested
    # meanwhile, at most MAX_IN_FLIGHT (3) ahead of it.
    deadline = time.monotonic() + 5
    while fake.calls["RunsHistoryPage"] < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    assert fake.calls["RunsHistoryPage"] == 4
    rest = [run for batch in batches for run in batch.run_ids]
    assert rest == [f"r{i:02d}" for i in range(2, 10)]
    assert fake.calls["RunsHistoryPage"] == 5


def test_pages_grow_when_runs_hold_fewer_rows_than_samples(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, n=10, steps=4)
    rows = runs_of(client).histories(samples=100, rows_per_request=300)
    # 3 runs of 4 rows fill 12 of 300 rows: the next page doubles, and again.
    assert [b["variables"]["perPage"] for b in fake.bodies] == [3, 6, 12]
    assert rows_equal(rows, expected_rows(fake, [f"r{i:02d}" for i in range(10)]))


# -- damaged history lines ------------------------------------------------------


def test_a_line_that_is_not_json_is_a_server_error_naming_the_operation(
    client: RetryingClient, fake: FakeWandb
) -> None:
    seed(fake, n=3)
    fake.history["r01"][1] = '{"_step": 1, "loss": '  # cut short
    with pytest.raises(IncompleteHistoriesError) as caught:
        runs_of(client).histories(samples=100)
    cause = caught.value.cause
    assert isinstance(cause, ServerError)
    assert "RunsHistoryPage" in str(cause)
    assert "not JSON" in str(cause)
    assert caught.value.completed_run_ids == []  # nothing passed off as done
    run = runs_of(client)[1]
    with pytest.raises(ServerError, match="RunHistory: the server sent a history"):
        run.history(pandas=False)
