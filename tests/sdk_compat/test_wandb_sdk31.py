"""The newest official W&B SDK (0.31.0) runs its workflow against runs_server.

0.31 reads history through its Go core: ``scan_history`` asks
``Run.parquetHistory`` for Parquet files (downloaded whole, or read with HTTP
range requests when keys are given), responses are parsed by a strict JSON
parser, and it asks for fields 0.18 never did (viewer, projects, sweeps,
files). Everything it sees is compared with the store, read directly: run ids
and filters against the plain-Python reference of the value rules, history
rows against the stored rows, on runs holding NaN and Infinity and a run of
100,000 steps.

wandb lives in its own virtual environment (``make sdk31-venv``, which
``make test`` runs).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runs_server.http.app import RunsServerApp
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store, jsonrows
from tests.demo_seed import seed_demo_copy
from tests.server_listing import reference_eval as ref

ROOT = Path(__file__).resolve().parents[2]
SDK_PYTHON = Path(
    os.environ.get("RUNS_SDK31_PYTHON", ROOT / ".venv-sdk31" / "bin" / "python")
)
SCRIPT = Path(__file__).with_name("sdk31_workflow.py")
PATH = "demo/mnist"
LONG = "demo/long"
LONG_STEPS = 100_000
PAGE_SIZES = [1, 7, 1000]
FILTERS = {
    "finished": {"state": "finished"},
    "grad_inf": {"summary_metrics.grad_norm": {"$gt": 4.8}},
    "loss_low": {"summary_metrics.loss": {"$lt": 0.5}},
    "loss_ne": {"summary_metrics.loss": {"$ne": 0.5}},
}
ORDERS = [
    "-summary_metrics.loss",
    "+summary_metrics.loss",
    "-summary_metrics.grad_norm",
]


def _long_rows() -> Iterator[dict[str, Any]]:
    for s in range(LONG_STEPS):
        row: dict[str, Any] = {"_step": s, "loss": 1.0 / (s + 1)}
        if s % 997 == 0:
            row["loss"] = math.nan
        if s % 10 == 0:
            row["acc"] = s / LONG_STEPS
        yield row


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[BackgroundServer, Store, str]]:
    store = Store()
    info = seed_demo_copy(store)
    store.projects.create("demo", "long")
    run = store.runs.add(LONG, "long0", user="demo", created_at="2024-01-01T00:00:00")
    store.history.log(run, _long_rows())
    _add_best_run_sweeps(store)
    server = BackgroundServer(RunsServerApp(store)).start()
    yield server, store, info.api_key
    server.stop()
    store.close()


def _add_best_run_sweeps(store: Store) -> None:
    """Sweeps in demo/long for best_run(): one whose config names no metric,
    one whose metric (acc, maximized) its most recent run lacks."""
    store.projects.create_sweep(LONG, "nometric", config="method: random\n")
    store.projects.create_sweep(
        LONG,
        "partial",
        config="method: bayes\nmetric:\n  goal: maximize\n  name: acc\n",
    )
    for name, sweep, minute, summary in [
        ("n-old", "nometric", 1, {"acc": 0.5}),
        ("n-new", "nometric", 5, {"acc": 0.1}),
        ("p-low", "partial", 1, {"acc": 0.2}),
        ("p-high", "partial", 2, {"acc": 0.9}),
        ("p-none", "partial", 3, {"loss": 0.1}),
    ]:
        store.runs.add(
            LONG,
            name,
            sweep=sweep,
            summary=summary,
            user="demo",  # every W&B run has one; 0.31 fails on a run without
            created_at=f"2024-02-01T00:0{minute}:00",
        )


def _store_runs(store: Store) -> list[dict[str, Any]]:
    """The project's runs as the reference reads them."""
    project = store.projects.id_of(PATH)
    out = []
    for row in store.conn.execute(
        "SELECT * FROM runs WHERE project_id=? ORDER BY created_at, name", (project,)
    ):
        out.append(
            {
                "name": row["name"],
                "state": row["state"],
                "created_at": row["created_at"],
                "summary": jsonrows.loads(row["summary_metrics"]),
                "config": jsonrows.loads(row["config"]),
                "sweep_name": row["sweep_name"],
            }
        )
    return out


def _history(store: Store, run_id: str, path: str = PATH) -> list[dict[str, Any]]:
    run = store.runs.id_of(path, run_id)
    return [
        jsonrows.loads(r[0])
        for r in store.conn.execute(
            "SELECT row FROM history WHERE run_id=? ORDER BY step", (run,)
        )
    ]


def _picked(store: Store) -> list[str]:
    """A run whose history holds NaN, one whose history holds Infinity."""
    project = store.projects.id_of(PATH)
    nan = store.conn.execute(
        "SELECT name FROM runs WHERE project_id=? AND state='crashed' "
        "AND history_line_count < 400 ORDER BY name LIMIT 1",
        (project,),
    ).fetchone()[0]
    inf = store.conn.execute(
        "SELECT runs.name FROM runs JOIN history ON history.run_id=runs.id "
        "WHERE project_id=? AND history.row LIKE '%Infinity%' "
        "ORDER BY runs.history_line_count, runs.name LIMIT 1",
        (project,),
    ).fetchone()[0]
    return [nan, inf]


@pytest.fixture(scope="module")
def seen(
    served: tuple[BackgroundServer, Store, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    if not SDK_PYTHON.exists():
        pytest.fail(f"{SDK_PYTHON} is missing: run `make sdk31-venv` (make test does)")
    server, store, key = served
    sweep = store.conn.execute("SELECT name FROM sweeps ORDER BY id").fetchone()[0]
    plan = {
        "path": PATH,
        "filters": FILTERS,
        "orders": ORDERS,
        "run_ids": _picked(store),
        "page_sizes": PAGE_SIZES,
        "long_run": f"{LONG}/long0",
        "sweep": sweep,
        "best_run_sweeps": [f"{LONG}/nometric", f"{LONG}/partial"],
    }
    home = tmp_path_factory.mktemp("sdk31")
    env = {
        **os.environ,
        "WANDB_BASE_URL": server.url,
        "WANDB_API_KEY": key,
        "WANDB_SILENT": "true",
        "WANDB_MODE": "online",
        "WANDB_CACHE_DIR": str(home / "cache"),  # no Parquet from an earlier run
        "WANDB_DIR": str(home),
        "WANDB_CONFIG_DIR": str(home / "config"),
        "HOME": str(home),
    }
    env.pop("WANDB_ENTITY", None)
    result = subprocess.run(
        [str(SDK_PYTHON), str(SCRIPT), json.dumps(plan)],
        env=env,
        capture_output=True,
        text=True,
        timeout=420,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    out = dict(json.loads(result.stdout.strip().splitlines()[-1]))
    out["plan"] = plan
    return out


def _same(a: Any, b: Any) -> bool:
    """JSON equality where NaN equals NaN (W&B's "NaN" strings count as NaN)."""
    if isinstance(a, str) and a in ("NaN", "Infinity", "-Infinity"):
        a = float(a)
    if isinstance(b, str) and b in ("NaN", "Infinity", "-Infinity"):
        b = float(b)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def _assert_rows(got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert _same(g, e), (g, e)


def _project(rows: list[dict[str, Any]], keys: list[str]) -> list[dict[str, Any]]:
    """The AND rule: rows holding every key, cut to ``_step`` and those keys."""
    wanted = ["_step", *keys]
    return [{k: r[k] for k in wanted} for r in rows if all(k in r for k in wanted)]


def test_listing_filters_and_order(
    seen: dict[str, Any], served: tuple[BackgroundServer, Store, str]
) -> None:
    runs = _store_runs(served[1])
    assert seen["len"] == len(runs) >= 300
    assert seen["ids"] == [r["name"] for r in runs]
    for name, flt in FILTERS.items():
        expected = [r["name"] for r in runs if ref.matches(r, flt)]
        assert seen["filtered"][name] == expected, name
    for order in ORDERS:
        assert seen["ordered"][order] == ref.sort_names(runs, order)[:10], order
    # Infinity is a number in filters: a run whose grad_norm is Infinity is > 4.8
    infinite = [r["name"] for r in runs if r["summary"].get("grad_norm") == math.inf]
    assert set(infinite) <= set(seen["filtered"]["grad_inf"])
    # a top 5 by -loss shows no diverged (NaN) run while numbers remain
    top = seen["ordered"]["-summary_metrics.loss"][:5]
    by_name = {r["name"]: r for r in runs}
    assert not any(math.isnan(by_name[n]["summary"]["loss"]) for n in top)


def test_history_and_scan_match_the_store(
    seen: dict[str, Any], served: tuple[BackgroundServer, Store, str]
) -> None:
    store = served[1]
    for run_id in seen["plan"]["run_ids"]:
        stored = _history(store, run_id)
        got = seen["runs"][run_id]
        assert any(
            isinstance(v, float) and not math.isfinite(v)
            for row in stored
            for v in row.values()
        )
        _assert_rows(got["history_keyed"], _project(stored, ["loss"]))
        assert got["history_frame_len"] == min(50, len(stored))
        # full rows: every logged key; a key a row did not log is absent or null
        full = [{k: v for k, v in r.items() if v is not None} for r in got["scan_full"]]
        _assert_rows(full, stored)
        for size in PAGE_SIZES:
            keyed = got["scan_keyed"][str(size)]
            _assert_rows(keyed, _project(stored, ["loss", "grad_norm"]))
            assert got["scan_full_paged"][str(size)] == len(stored)
        assert got["files"] == 0


def test_a_run_of_100000_steps(
    seen: dict[str, Any], served: tuple[BackgroundServer, Store, str]
) -> None:
    assert seen["long_full"] == list(range(LONG_STEPS))
    stored = _history(served[1], "long0", LONG)
    _assert_rows(seen["long_keyed"], _project(stored, ["loss"]))


def test_histories_viewer_projects_sweeps(
    seen: dict[str, Any], served: tuple[BackgroundServer, Store, str]
) -> None:
    store = served[1]
    runs = _store_runs(store)
    finished = [r for r in runs if r["state"] == "finished"]
    # samples=10 rows holding loss, per finished run, in every format
    expected = sum(
        min(10, len(_project(_history(store, r["name"]), ["loss"]))) for r in finished
    )
    histories = seen["histories"]
    assert histories["default"] == histories["pandas"][0] == expected > 0
    assert histories["polars"][0] == expected
    assert seen["viewer"] == {"username": "demo", "entity": "demo"}
    assert seen["projects"] == ["long", "mnist"]
    assert seen["project"] == "mnist"
    sweeps = [
        r[0]
        for r in store.conn.execute(
            "SELECT sweeps.name FROM sweeps JOIN projects ON projects.id=project_id "
            "WHERE projects.name='mnist' ORDER BY sweeps.id"
        )
    ]
    assert seen["project_sweeps"] == sorted(sweeps)
    sweep = seen["plan"]["sweep"]
    assert seen["sweep_runs"] == sorted(
        r["name"] for r in runs if r["sweep_name"] == sweep
    )


def test_reports_and_best_run(seen: dict[str, Any]) -> None:
    # api.reports() lists none (it failed with "Cannot query field 'allViews'")
    assert seen["reports"] == []
    # no metric in the config: 0.31 warns and takes the first run in the
    # server's default order (order null); by a metric its newest run lacks:
    # the best of those holding it
    assert seen["best_run"]["nometric"] in ("n-old", "n-new")
    assert seen["best_run"]["partial"] == "p-high"


def test_telemetry_posts_are_accepted(
    served: tuple[BackgroundServer, Store, str],
) -> None:
    # 0.31 posts OTLP metrics and logs; both were accepted and dropped, logs got 404
    for path in ("/sdk/otel/v1/metrics", "/sdk/otel/v1/logs"):
        response = httpx.post(served[0].url + path, content=b"\x0a\x00", timeout=10)
        assert response.status_code == 204, path


def test_sdk_python_is_really_wandb_031() -> None:
    version = subprocess.run(
        [str(SDK_PYTHON), "-c", "import wandb; print(wandb.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version == "0.31.0"
    assert sys.executable != str(SDK_PYTHON)
