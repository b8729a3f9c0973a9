"""The official W&B SDK at the seed's version (0.18.0) runs the runs workflow
against runs_server: listing, len, indexing, iteration, history, scan, system
metrics, filters and order, one run, sweeps and histories().

wandb lives in its own virtual environment (`make sdk-venv`, which `make test`
runs), since it must not leak into ours.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runs_server.http.app import RunsServerApp
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store
from tests.demo_seed import seed_demo_copy

ROOT = Path(__file__).resolve().parents[2]
SDK_PYTHON = Path(
    os.environ.get("RUNS_SDK_PYTHON", ROOT / ".venv-sdk" / "bin" / "python")
)
SCRIPT = Path(__file__).with_name("sdk_workflow.py")


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[BackgroundServer, Store, str]]:
    store = Store()
    info = seed_demo_copy(store)
    server = BackgroundServer(RunsServerApp(store)).start()
    yield server, store, info.api_key
    server.stop()
    store.close()


@pytest.fixture(scope="module")
def seen(served: tuple[BackgroundServer, Store, str]) -> dict[str, Any]:
    if not SDK_PYTHON.exists():
        pytest.fail(f"{SDK_PYTHON} is missing: run `make sdk-venv` (make test does)")
    server, _, key = served
    env = {
        **os.environ,
        "WANDB_BASE_URL": server.url,
        "WANDB_API_KEY": key,
        "WANDB_SILENT": "true",
        "WANDB_MODE": "online",
    }
    env.pop("WANDB_ENTITY", None)
    result = subprocess.run(
        [str(SDK_PYTHON), str(SCRIPT), "demo/mnist"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def store_runs(
    store: Store, where: str = "", order: str = "created_at, name"
) -> list[Any]:
    project = store.projects.id_of("demo/mnist")
    sql = f"SELECT name, state FROM runs WHERE project_id=? {where} ORDER BY {order}"
    return list(store.conn.execute(sql, (project,)).fetchall())


def test_listing_len_and_order(
    seen: dict[str, Any], served: tuple[BackgroundServer, Store, str]
) -> None:
    expected = [row[0] for row in store_runs(served[1])]
    assert seen["len"] == len(expected) >= 300
    assert seen["ids"] == expected
    assert seen["ids_again"] == expected
    assert seen["first"]["id"] == expected[0]
    assert seen["index_last"] == expected[-1]
    assert seen["run_id"] == expected[0]


def test_run_fields(seen: dict[str, Any]) -> None:
    first = seen["first"]
    assert first["state"] in {"running", "finished", "crashed", "failed", "killed"}
    assert first["config_keys"] and "_wandb" not in first["config_keys"]
    assert first["created_at"].startswith("20")


def test_history_calls(seen: dict[str, Any]) -> None:
    assert seen["history_shape"][0] > 0
    assert seen["history_steps_sorted"] is True
    assert seen["keyed_keys"] == ["_step", "loss"]
    assert 0 < seen["keyed_len"] <= 20
    assert seen["scan_len"] > 0
    assert seen["system_len"] > 0


def test_filters_order_sweeps_histories(
    seen: dict[str, Any], served: tuple[BackgroundServer, Store, str]
) -> None:
    finished = store_runs(served[1], "AND state='finished'")
    assert seen["finished_len"] == len(finished)
    assert seen["finished_states"] == ["finished"]
    assert len(seen["sweeps"]) == 2
    assert {"run_id", "_step", "loss"} <= set(seen["histories_columns"])
    assert seen["histories_runs"] > 1


def test_sdk_python_is_really_wandb_018() -> None:
    version = subprocess.run(
        [str(SDK_PYTHON), "-c", "import wandb; print(wandb.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version == "0.18.0"
    assert sys.executable != str(SDK_PYTHON)
