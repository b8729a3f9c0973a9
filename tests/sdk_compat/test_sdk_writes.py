"""Both official SDKs (0.18 and 0.31) log into runs_server and read it back.

``sdk_writes_workflow.py`` runs in each SDK's own interpreter against a
server this module starts: 1,000 steps of three keys with config, summary,
tags, notes and a saved file; a resume that adds 100 steps; an offline run
synced with ``wandb sync``; then the public API's reads, ``run.update()``,
``api.create_run()`` and ``run.delete()``. What the SDK saw, what our GraphQL
serves and what the store holds must all equal what was logged.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import runs_client
from runs_server.http.app import RunsServerApp
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("sdk_writes_workflow.py")
SDKS = {
    "0.18": Path(
        os.environ.get("RUNS_SDK_PYTHON", ROOT / ".venv-sdk" / "bin" / "python")
    ),
    "0.31": Path(
        os.environ.get("RUNS_SDK31_PYTHON", ROOT / ".venv-sdk31" / "bin" / "python")
    ),
}
KEY = "k" * 40
STEPS, MORE, OFFLINE = 1000, 100, 200
PLAN = {"steps": STEPS, "more_steps": MORE, "offline_steps": OFFLINE}


def logged_row(step: int) -> dict[str, float]:
    """What the workflow logs at ``step`` (its ``row``)."""
    return {"loss": 1.0 / (step + 1), "acc": step / 1000, "lr": 0.1 * 0.99**step}


def sdk_env(home: Path, url: str, version: str) -> dict[str, str]:
    """The SDK's environment: this server, a private home, and the slow
    extras off (system stats sampling, metadata probes, git, code saving)."""
    env = {
        **os.environ,
        "WANDB_BASE_URL": url,
        "WANDB_API_KEY": KEY,
        "WANDB_SILENT": "true",
        "WANDB_DIR": str(home),
        "WANDB_CONFIG_DIR": str(home / "config"),
        "WANDB_CACHE_DIR": str(home / "cache"),
        "WANDB_DATA_DIR": str(home / "data"),
        "WANDB_DISABLE_GIT": "true",
        "WANDB_DISABLE_CODE": "true",
        "HOME": str(home),
    }
    prefix = "WANDB__" if version == "0.18" else "WANDB_X_"
    env[prefix + "DISABLE_STATS"] = "true"
    env[prefix + "DISABLE_META"] = "true"
    for name in ("WANDB_ENTITY", "WANDB_PROJECT", "WANDB_MODE", "WANDB_RUN_ID"):
        env.pop(name, None)
    return env


@pytest.fixture(scope="module", params=sorted(SDKS))
def logged(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, Any], BackgroundServer, Store]]:
    version: str = request.param
    python = SDKS[version]
    if not python.exists():
        pytest.fail(
            f"{python} is missing: run `make sdk-venv sdk31-venv` (make test does)"
        )
    store = Store()
    store.users.create("ada", api_key=KEY)
    home = tmp_path_factory.mktemp(f"sdk{version}")
    plan = {**PLAN, "project": "writes", "download_dir": str(home / "downloads")}
    with BackgroundServer(RunsServerApp(store)) as server:
        result = subprocess.run(
            [str(python), str(SCRIPT), json.dumps(plan)],
            env=sdk_env(home, server.url, version),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-4000:]
        seen = json.loads(result.stdout.strip().splitlines()[-1])
        yield version, seen, server, store
    store.close()


def _served(server: BackgroundServer, run: str) -> dict[str, Any]:
    query = """query($run: String!) { project(name: "writes", entityName: "ada") {
        run(name: $run) { state config summaryMetrics tags notes group jobType
          historyLineCount history(samples: 100000) } } }"""
    response = httpx.post(
        server.graphql_url,
        json={"query": query, "variables": {"run": run}},
        auth=("api", KEY),
        timeout=60,
    )
    run_data: dict[str, Any] = response.json()["data"]["project"]["run"]
    return run_data


def test_the_logged_run_reads_back_through_the_sdk(
    logged: tuple[str, dict[str, Any], BackgroundServer, Store],
) -> None:
    _version, seen, _server, _store = logged
    steps = STEPS + MORE
    assert seen["entity"] == "ada"
    assert seen["state"] == "finished"
    assert seen["config"] == {"lr": 0.1, "layers": 3, "arch": {"kind": "mlp"}}
    assert seen["tags"] == ["base", "sdk"]
    assert (seen["notes"], seen["group"], seen["job_type"]) == (
        "first notes",
        "g1",
        "train",
    )
    assert seen["history"] == [
        {"_step": s, **logged_row(s)} for s in range(steps)
    ]  # every step once, in order: the resume added 100
    last = logged_row(steps - 1)
    assert seen["summary"] == {
        "loss": last["loss"],
        "acc": last["acc"],
        "best_acc": 0.875,
    }
    assert "weights.txt" in seen["files"]
    assert seen["downloaded"] == "w=1,2,3\n"


def test_the_logged_run_reads_back_through_our_graphql(
    logged: tuple[str, dict[str, Any], BackgroundServer, Store],
) -> None:
    _version, _seen, server, store = logged
    run = _served(server, "logged")
    steps = STEPS + MORE
    assert run["historyLineCount"] == steps
    rows = [json.loads(r) for r in run["history"]]
    assert [{k: r[k] for k in ("_step", "loss", "acc", "lr")} for r in rows] == [
        {"_step": s, **logged_row(s)} for s in range(steps)
    ]
    assert all("_timestamp" in r and "_runtime" in r for r in rows)
    summary = json.loads(run["summaryMetrics"])
    assert (
        summary["best_acc"] == 0.875
        and summary["loss"] == logged_row(steps - 1)["loss"]
    )
    config = json.loads(run["config"])
    # (run.update() sent the whole config again: SDK 0.18 leaves _wandb out)
    assert config["arch"]["value"] == {"kind": "mlp"} and config["lr"]["value"] == 0.1
    # The store took each history line once: its offset is the row count.
    run_id = store.runs.id_of("ada/writes", "logged")
    assert store.streams.next_offset(run_id, "wandb-history.jsonl") == steps


def test_wandb_sync_of_an_offline_run_gives_the_same_run(
    logged: tuple[str, dict[str, Any], BackgroundServer, Store],
) -> None:
    _version, seen, server, _store = logged
    assert seen["sync_exit"] == 0, seen["sync_output"]
    assert seen["offline"] == {
        "state": "finished",
        "config": {"seed": 7},
        "tags": ["off"],
        "steps": list(range(OFFLINE)),
    }
    run = _served(server, "offline")
    rows = [json.loads(r) for r in run["history"]]
    assert [{k: r[k] for k in logged_row(0)} for r in rows] == [
        logged_row(s) for s in range(OFFLINE)
    ]


def test_public_api_update_create_and_delete(
    logged: tuple[str, dict[str, Any], BackgroundServer, Store],
) -> None:
    _version, seen, server, store = logged
    assert seen["updated"] == {
        "tags": ["base", "sdk", "updated"],
        "notes": "new notes",
        "extra": 5,
        "note": "kept",
    }
    run = _served(server, "logged")
    assert run["tags"] == ["base", "sdk", "updated"]
    assert json.loads(run["config"])["extra"]["value"] == 5
    # create_run made it (the SDK read it back), delete removed it.
    assert seen["made"] == "made" and seen["deleted"] is True
    assert _served(server, "made") is None
    names = {r[0] for r in store.conn.execute("SELECT name FROM runs")}
    assert names == {"logged", "offline"}


def test_the_logged_run_reads_back_through_runs_client(
    logged: tuple[str, dict[str, Any], BackgroundServer, Store],
) -> None:
    _version, seen, server, _store = logged
    with runs_client.Api(api_key=KEY, base_url=server.url) as api:
        run = api.run("ada/writes/logged")
        steps = STEPS + MORE
        assert (run.state, run.tags, run.group, run.job_type) == (
            "finished",
            ["base", "sdk", "updated"],  # after the SDK's run.update()
            "g1",
            "train",
        )
        assert run.config == {
            "lr": 0.1,
            "layers": 3,
            "arch": {"kind": "mlp"},
            "extra": 5,
        }
        assert run.summary["best_acc"] == 0.875
        rows = list(run.scan_history(keys=["_step", "loss", "acc", "lr"]))
        assert [{k: r[k] for k in ("_step", *logged_row(0))} for r in rows] == [
            {"_step": s, **logged_row(s)} for s in range(steps)
        ]
        frame = api.runs("ada/writes").histories(
            samples=steps, keys=["loss"], format="pandas"
        )
        assert sorted(frame["run_id"].unique()) == ["logged", "offline"]
        assert len(frame) == steps + OFFLINE
    assert seen["made"] == "made"
