"""A mirror copies every run, history row and event row of the source."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from runs_client import GraphQLError
from runs_mirror import MirrorError, mirror_project
from runs_mirror import source as source_module
from runs_server.http.app import ServerConfig
from runs_server.http.faults import FaultConfig
from runs_server.store import Store
from tests.mirror.conftest import Source, snapshot

pytestmark = pytest.mark.e2e

DEMO = "demo/mnist"
EXACT = "test/exact"


def test_full_mirror_equals_the_source(source: Source) -> None:
    copy = Store()
    with source.api() as api:
        summary = mirror_project(api, DEMO, copy)
        exact = mirror_project(api, EXACT, copy)
    want = snapshot(source.store, DEMO)
    assert snapshot(copy, DEMO) == want
    assert snapshot(copy, EXACT) == snapshot(source.store, EXACT)
    rows = sum(len(r["history"]) for r in want["runs"].values())
    events = sum(len(r["events"]) for r in want["runs"].values())
    assert (summary.new, summary.updated, summary.unchanged) == (320, 0, 0)
    assert (summary.history_rows, summary.event_rows) == (rows, events)
    # One listing, pages within the row budget, one request per sweep.
    assert summary.requests <= 1 + math.ceil(rows / 64_000) + 3 + 2
    assert summary.bytes > 0 and "320 new" in summary.describe()
    # Source rows kept verbatim: the text row with "_step": 3.0 and a NaN.
    step3 = copy.conn.execute(
        "SELECT row FROM history JOIN runs ON runs.id=history.run_id "
        "WHERE runs.name='cadence' AND step=3"
    ).fetchone()[0]
    assert step3 == '{"_step": 3.0, "loss": NaN, "val": 0.5}'
    assert exact.new == 3


def test_windows_and_small_pages_give_the_same_copy(source: Source) -> None:
    # A 150-row budget: runs longer than that are fetched in step windows.
    copy = Store()
    with source.api() as api:
        summary = mirror_project(api, DEMO, copy, row_budget=150, max_in_flight=2)
    assert snapshot(copy, DEMO) == snapshot(source.store, DEMO)
    longest = max(
        r["history_line_count"] for r in snapshot(source.store, DEMO)["runs"].values()
    )
    assert summary.requests > longest // 150  # the longest run took windows


def test_size_refusals_are_halved() -> None:
    src = Source(ServerConfig(max_response_rows=700))
    try:
        copy = Store()
        with src.api() as api:
            mirror_project(api, DEMO, copy, row_budget=100_000)
        assert snapshot(copy, DEMO) == snapshot(src.store, DEMO)
    finally:
        src.close()


def test_faults_and_rate_limits_give_the_same_copy() -> None:
    faults = FaultConfig(
        rate_429=0.1, rate_5xx=0.1, rate_drop=0.05, rate_truncate=0.05, retry_after_s=0
    )
    src = Source(ServerConfig(faults=faults))
    try:
        copy = Store()
        with src.api(max_retries=10) as api:
            api.client._sleep = lambda _s: None  # type: ignore[method-assign]
            mirror_project(api, DEMO, copy, row_budget=5_000)
        assert snapshot(copy, DEMO) == snapshot(src.store, DEMO)
    finally:
        src.close()


def test_per_run_fallback_when_bulk_history_is_refused(
    source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = source_module.Source._post
    bulk = {"RunsMirrorPage", "RunsHistoryWindowPage"}

    def refusing(self, text, operation, variables):  # type: ignore[no-untyped-def]
        if operation in bulk:
            raise GraphQLError(
                "history is not available here",
                errors=[
                    {
                        "message": "history is not available here",
                        "path": ["project", "runs", "edges", 0, "node", "history"],
                    }
                ],
            )
        return real(self, text, operation, variables)

    monkeypatch.setattr(source_module.Source, "_post", refusing)
    copy = Store()
    with source.api() as api:
        summary = mirror_project(
            api, EXACT, copy, filters={"name": {"$in": ["cadence", "events"]}}
        )
    want = snapshot(source.store, EXACT)
    want["runs"] = {k: v for k, v in want["runs"].items() if k != "empty"}
    assert snapshot(copy, EXACT) == want
    assert any("one by one" in w for w in summary.warnings)


def test_mistakes_are_named(source: Source) -> None:
    with source.api() as api:
        with pytest.raises(MirrorError, match="ENTITY/PROJECT"):
            mirror_project(api, "demo", Store())
        with pytest.raises(MirrorError, match="filters"):
            mirror_project(api, DEMO, Store(), filters="state=finished")  # type: ignore[arg-type]
        with pytest.raises(Exception, match="no project demo/nope"):
            mirror_project(api, "demo/nope", Store())


def test_cli_mirror_then_serve_the_copy(source: Source, tmp_path: Path) -> None:
    from runs_cli.main import main

    db = tmp_path / "copy.db"
    args = ["mirror", DEMO, "--base-url", source.url, "--db", str(db)]
    finished_only = ["--filter", '{"state": "finished"}']
    assert main([*args, "--api-key", source.key, *finished_only]) == 0
    with Store(db) as copy:
        names = set(snapshot(copy, DEMO)["runs"])
    finished = {
        r[0]
        for r in source.store.conn.execute(
            "SELECT name FROM runs WHERE state='finished' AND project_id=1"
        )
    }
    assert names == finished
    assert main([*args, "--db", str(tmp_path), "--api-key", source.key]) != 0


def test_steps_far_apart_cost_rows_over_budget_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Steps that count tokens: 3,000 rows 10^10 steps apart (the last near
    # 3 x 10^13). Fixed windows of the 500-row budget would take 6 x 10^10
    # requests; adaptive windows take O(rows / budget + log(step range)).
    src = Source()
    try:
        src.store.projects.create("test", "tokens", created_at="2024-01-01T00:00:00")
        run = src.store.runs.add(
            "test/tokens", "llm", created_at="2024-01-01T00:00:01", user="tester"
        )
        steps = [i * 10**10 for i in range(3000)]
        src.store.history.log(run, [{"_step": s, "loss": s % 7} for s in steps])
        copy = Store()
        bound = 4 * (3000 // 500 + 1) + 3 * 46 + 4
        with src.api() as api:
            sent = 0
            execute = api.client.execute

            def counted(*args: Any, **kwargs: Any) -> Any:
                nonlocal sent
                sent += 1
                assert sent <= bound, f"the mirror sent over {bound} requests"
                return execute(*args, **kwargs)

            monkeypatch.setattr(api.client, "execute", counted)
            summary = mirror_project(api, "test/tokens", copy, row_budget=500)
        assert snapshot(copy, "test/tokens") == snapshot(src.store, "test/tokens")
        assert summary.history_rows == 3000
        assert summary.requests <= bound
    finally:
        src.close()
