"""histories() over the bulk path against runs_server: the same rows as the
per-run path, in every format, with the request counts the row budget gives."""

from __future__ import annotations

import json
import math
from typing import Any

import polars as pl
import pytest

import runs_client
from tests.e2e.conftest import ApiFactory, record_requests

DEMO = "demo/mnist"


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def rows_equal(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert set(g) == set(w)
        assert all(same(g[k], w[k]) for k in g), (g, w)


def per_run(runs: runs_client.Runs, **kwargs: Any) -> list[dict[str, Any]]:
    """The reference: one Run.history request per run, run after run."""
    rows: list[dict[str, Any]] = []
    for run in runs:
        rows.extend(
            {**r, "run_id": run.id} for r in run.history(pandas=False, **kwargs)
        )
    return rows


@pytest.mark.parametrize(
    "kwargs",
    [
        {"samples": 20},
        {"samples": 30, "keys": ["loss"]},
        {"samples": 25, "keys": ["loss", "val.acc"], "x_axis": "_step"},
        {"samples": 10, "stream": "system"},
    ],
    ids=["full", "one-key", "two-keys", "system"],
)
def test_bulk_rows_equal_the_per_run_path(make_api: ApiFactory, kwargs: Any) -> None:
    api = make_api()
    filters = {"state": {"$in": ["finished", "crashed"]}}
    want = per_run(api.runs(DEMO, filters=filters), **kwargs)
    requests = record_requests(api)
    runs = api.runs(DEMO, filters=filters)
    got = runs.histories(**kwargs, rows_per_request=2_000)
    rows_equal(got, want)
    # Only bulk pages: no RunsPage, no per-run requests.
    assert set(requests.operations) <= {
        "RunsHistoryPage", "RunsSampledHistoryPage", "RunsEventsPage"
    }  # fmt: skip
    n_runs = len({r["run_id"] for r in want})
    assert len(requests.operations) >= 2 or n_runs <= 2_000 // kwargs["samples"]


def test_loaded_runs_keep_their_order(make_api: ApiFactory) -> None:
    api = make_api()
    runs = api.runs(DEMO, order="-summary_metrics.loss", per_page=40)
    first = runs[:50]  # two pages loaded, then the rest after the cursor
    rows = runs.histories(samples=5, keys=["loss"], rows_per_request=300)
    order = list(dict.fromkeys(r["run_id"] for r in rows))
    listed = [r.id for r in api.runs(DEMO, order="-summary_metrics.loss")]
    with_rows = [name for name in listed if name in set(order)]
    assert order == with_rows
    assert order[:10] == [r.id for r in first if r.id in set(order)][:10]


def test_formats_agree(make_api: ApiFactory) -> None:
    api = make_api()
    runs = api.runs(DEMO, filters={"group": "augment"})
    rows = runs.histories(samples=40)
    frame = runs.histories(samples=40, format="pandas")
    polars = runs.histories(samples=40, format="polars")
    arrow = runs.histories(samples=40, format="arrow")
    columns = ["run_id", *sorted({k for r in rows for k in r} - {"run_id"})]
    assert list(frame.columns) == polars.columns == arrow.column_names == columns
    for name in columns:
        want = [r.get(name) for r in rows]
        got_pl = polars[name].to_list()
        if polars.schema[name] == pl.String and name not in ("run_id", "phase"):
            # Media as JSON text (was pl.Object), as in arrow.
            got_pl = [None if v is None else json.loads(v) for v in got_pl]
        assert all(same(g, w) for g, w in zip(got_pl, want, strict=True)), name
        if arrow.schema.field(name).type != "string" or name in ("run_id", "phase"):
            got = arrow.column(name).to_pylist()
            assert all(same(g, w) for g, w in zip(got, want, strict=True)), name
    assert len(frame) == len(rows) == polars.height == arrow.num_rows


def test_120_runs_500_samples_is_one_request(make_api: ApiFactory) -> None:
    api = make_api()
    total = len(api.runs(DEMO))
    requests = record_requests(api)
    frame = api.runs(DEMO).histories(keys=["loss"], format="pandas")
    assert frame["run_id"].nunique() > 120
    # 64,000 rows // 500 samples = 128 runs in the first request; later pages
    # grow, since most demo runs hold fewer than 500 rows with "loss" (Arrow
    # pages of one key take 1,000 runs). Besides the pages: one
    # ServerFeatures probe (columnar pages?) and, for Arrow pages, one
    # RunNames (the runs' names, so that pages go by name, several at once),
    # for Api and AsyncApi alike.
    extra = {"ServerFeatures", "RunNames"}
    assert set(requests.operations) - extra == {"RunsSampledHistoryPage"}
    assert requests.count("ServerFeatures") == 1
    assert requests.count("RunNames") == 1
    assert requests.count("RunsSampledHistoryPage") < math.ceil(total / 128)


def test_iter_histories_batches_add_up_to_histories(make_api: ApiFactory) -> None:
    api = make_api()
    runs = api.runs(DEMO, filters={"group": "distill"})
    whole = runs.histories(samples=20)
    batches = list(runs.iter_histories(samples=20, rows_per_request=200))
    assert len(batches) > 1
    rows_equal([r for b in batches for r in b.data], whole)
    frames = list(
        runs.iter_histories(samples=20, format="polars", rows_per_request=200)
    )
    assert len(frames) > 1
    # The same runs in the same order, each run's rows in one batch; where
    # the batches split may differ (frames read Arrow pages asked by name,
    # several at once, dicts pages after a cursor whose size follows the
    # rows the last one held).
    assert [r for b in frames for r in b.run_ids] == [
        r for b in batches for r in b.run_ids
    ]
    per_run = {r: len(b.data.filter(b.data["run_id"] == r)) for b in frames
               for r in b.run_ids}  # fmt: skip
    assert per_run == {r: sum(1 for row in b.data if row["run_id"] == r)
                       for b in batches for r in b.run_ids}  # fmt: skip
    assert sum(b.data.height for b in frames) == sum(len(b.data) for b in batches)
