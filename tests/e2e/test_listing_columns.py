"""Listings that ask only for what they show, against runs_server: named
columns (``runs_frame(columns=...)``), lazy runs and page sizes.

Expected values come from ``SPECS``, the table ``e2e/hand`` was seeded from.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pandas as pd
import pytest

import runs_client
from runs_client import KeyWarning, runs_frame

from .conftest import E2E_KEY, HAND, N_HAND, SPECS, Server, Spec

pytestmark = pytest.mark.e2e

ORDER = sorted(SPECS, key=lambda s: (s.created_at, s.id))  # the server's order


class Sent:
    """Operation names and variables of every request an ``Api`` sent."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> None:
        self.bodies.append(json.loads(request.content))

    @property
    def operations(self) -> list[str]:
        return [str(b.get("operationName")) for b in self.bodies]

    def variables(self, operation: str) -> list[dict[str, Any]]:
        return [
            b.get("variables", {})
            for b in self.bodies
            if b.get("operationName") == operation
        ]


@pytest.fixture
def api(server: Server) -> Iterator[runs_client.Api]:
    with runs_client.Api(base_url=server.url, api_key=E2E_KEY) as made:
        yield made


def record(api: runs_client.Api) -> Sent:
    sent = Sent()
    api.client.http_client.event_hooks["request"] = [sent]
    return sent


def same(got: Any, want: Any) -> bool:
    """Equal, NaN equal to NaN, a missing value (None) equal to NaN."""
    if isinstance(want, float) and math.isnan(want):
        return isinstance(got, float) and math.isnan(got)
    if want is None:
        return got is None or (isinstance(got, float) and math.isnan(got))
    return bool(got == want)


def config_of(spec: Spec) -> dict[str, Any]:
    return {k: v for k, v in spec.config.items() if k != "_wandb"}


def test_named_columns_hold_the_stored_values(api: runs_client.Api) -> None:
    sent = record(api)
    columns = [
        "id",
        "config.opt.name",  # nested
        "config.x",  # every fourth run lacks it
        "summary.nested.f1",
        "summary.y",  # every fifth run lacks it
        "summary.weird",  # NaN, +/-Infinity: the server's stdlib path
        "created_at",
    ]
    frame = runs_frame(api.runs(HAND), columns=columns)
    assert list(frame.columns) == columns
    assert frame["id"].tolist() == [s.id for s in ORDER]
    for got, spec in zip(frame.to_dict("records"), ORDER, strict=True):
        assert got["config.opt.name"] == spec.config["opt"]["name"]
        assert same(got["config.x"], spec.config.get("x"))
        assert got["summary.nested.f1"] == spec.summary["nested"]["f1"]
        assert same(got["summary.y"], spec.summary.get("y"))
        assert same(got["summary.weird"], spec.summary["weird"])
        assert got["created_at"] == pd.Timestamp(spec.created_at, tz="UTC")
    assert sent.operations == ["ServerPageCap", "RunsPageSelected"]
    (page,) = sent.variables("RunsPageSelected")
    assert page["configKeys"] == ["opt", "opt.name", "x"]
    assert page["summaryKeys"] == ["nested", "nested.f1", "y", "weird"]
    assert page["withRunFields"] is True  # created_at is a run field
    assert page["perPage"] == 1000  # runs_server's advertised cap


def test_named_columns_match_the_whole_frame(api: runs_client.Api) -> None:
    columns = ["config.lr", "config.batch", "summary.loss", "summary.acc"]
    whole = runs_frame(api.runs(HAND))
    sent = record(api)
    named = runs_frame(api.runs(HAND), columns=columns)
    pd.testing.assert_frame_equal(named, whole[columns])
    (page,) = sent.variables("RunsPageSelected")
    assert page["withRunFields"] is False  # only config and summary asked


def test_a_key_no_run_has_is_null_and_named(api: runs_client.Api) -> None:
    sent = record(api)
    with pytest.warns(KeyWarning) as caught:
        frame = runs_frame(api.runs(HAND), columns=["config.lrr", "summary.los"])
    assert frame["config.lrr"].isna().all() and len(frame) == N_HAND
    assert frame["summary.los"].isna().all()
    hints = {w.message.key: w.message.closest for w in caught.list}  # type: ignore[union-attr]
    assert "config.lr" in hints["lrr"]
    assert "summary.loss" in hints["los"]
    assert sent.operations.count("ProjectRunKeys") == 1


def test_lazy_runs_load_a_page_at_first_read(api: runs_client.Api) -> None:
    sent = record(api)
    runs = api.runs(HAND, per_page=5, lazy=True, include_sweeps=False)
    assert [r.id for r in runs] == [s.id for s in ORDER]
    assert sent.operations.count("RunsPageSelected") == 5  # 24 runs, 5 a page
    assert "RunsHeavyFields" not in sent.operations
    assert runs[7].config == config_of(ORDER[7])
    assert sent.operations.count("RunsHeavyFields") == 1
    # Its page (runs 5..9) came with it; the others did not.
    assert runs[9].summary["loss"] == ORDER[9].summary["loss"]
    assert sent.operations.count("RunsHeavyFields") == 1
    for run, spec in zip(runs, ORDER, strict=True):
        assert run.config == config_of(spec)
        assert run.summary["acc"] == spec.summary["acc"]
    assert sent.operations.count("RunsHeavyFields") == 5  # one per page


def test_lazy_runs_hold_what_full_runs_hold(api: runs_client.Api) -> None:
    full = list(api.runs(HAND, include_sweeps=False))
    lazy = list(api.runs(HAND, lazy=True, include_sweeps=False))
    for a, b in zip(full, lazy, strict=True):
        assert (a.id, a.name, a.state, a.tags, a.created_at) == (
            b.id,
            b.name,
            b.state,
            b.tags,
            b.created_at,
        )
        assert a.rawconfig == b.rawconfig
        assert a.system_metrics == b.system_metrics
        assert json.dumps(a.summary, sort_keys=True) == json.dumps(
            b.summary, sort_keys=True
        )


def test_default_pages_are_sized_and_the_cap_asked_once(
    api: runs_client.Api,
) -> None:
    sent = record(api)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(list(api.runs(HAND))) == N_HAND
        assert len(list(api.runs(HAND, lazy=True))) == N_HAND
    assert sent.operations.count("ServerPageCap") == 1
    assert [v["perPage"] for v in sent.variables("RunsPage")] == [512]
    assert [v["perPage"] for v in sent.variables("RunsPageSelected")] == [1000]


def test_a_fixed_page_size_is_kept(api: runs_client.Api) -> None:
    sent = record(api)
    assert len(list(api.runs(HAND, per_page=7, include_sweeps=False))) == N_HAND
    assert [v["perPage"] for v in sent.variables("RunsPage")] == [7, 7, 7, 7]
    assert "ServerPageCap" not in sent.operations
