"""Run by the official SDK's interpreter (0.18 or 0.31): the write path.

Logs a run online (config, summary, tags, notes, a saved file), resumes it
with more steps, logs one offline and syncs it with ``wandb sync``, then
uses the public API: reads everything back, ``run.update()``,
``api.create_run()`` and ``run.delete()``. Prints one JSON line of what the
SDK saw; the test compares it, and the store, with what was logged.

Usage: python sdk_writes_workflow.py '{"project": ..., "steps": ..., ...}'
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import wandb


def row(step: int) -> dict[str, float]:
    return {"loss": 1.0 / (step + 1), "acc": step / 1000, "lr": 0.1 * 0.99**step}


def log_steps(run: Any, start: int, stop: int) -> None:
    for step in range(start, stop):
        run.log(row(step))


def main() -> None:
    plan = json.loads(sys.argv[1])
    project, steps, more = plan["project"], plan["steps"], plan["more_steps"]
    settings = wandb.Settings(console="off", save_code=False)

    run = wandb.init(
        project=project,
        id="logged",
        config={"lr": 0.1, "layers": 3, "arch": {"kind": "mlp"}},
        tags=["base", "sdk"],
        notes="first notes",
        group="g1",
        job_type="train",
        settings=settings,
    )
    log_steps(run, 0, steps)
    run.summary["best_acc"] = 0.875
    path = os.path.join(run.dir, "weights.txt")
    with open(path, "w") as f:
        f.write("w=1,2,3\n")
    run.save(path, base_path=run.dir, policy="now")
    run.finish()

    resumed = wandb.init(
        project=project, id="logged", resume="allow", settings=settings
    )
    log_steps(resumed, steps, steps + more)
    resumed.finish()

    offline = wandb.init(
        project=project,
        id="offline",
        mode="offline",
        config={"seed": 7},
        tags=["off"],
        settings=settings,
    )
    log_steps(offline, 0, plan["offline_steps"])
    offline_dir = os.path.dirname(offline.dir)
    offline.finish()
    synced = subprocess.run(
        [sys.executable, "-m", "wandb", "sync", offline_dir],
        capture_output=True,
        text=True,
        timeout=120,
    )

    api = wandb.Api(timeout=60)
    got = api.run(f"{project}/logged")
    out: dict[str, Any] = {
        "sync_exit": synced.returncode,
        "sync_output": (synced.stdout + synced.stderr)[-2000:],
        "entity": got.entity,
        "state": got.state,
        "config": {k: v for k, v in got.config.items() if not k.startswith("_")},
        "summary": {k: got.summary[k] for k in ("loss", "acc", "best_acc")},
        "tags": got.tags,
        "notes": got.notes,
        "group": got.group,
        "job_type": got.job_type,
        "history": [
            {k: r[k] for k in ("_step", "loss", "acc", "lr")}
            # Full rows: SDK 0.18's keyed scan pages sampledHistory, whose
            # maxStep this server takes as inclusive (see wandb-api.md).
            for r in got.scan_history()
        ],
        "files": sorted(f.name for f in got.files()),
    }
    got.file("weights.txt").download(root=plan["download_dir"], replace=True)
    with open(os.path.join(plan["download_dir"], "weights.txt")) as f:
        out["downloaded"] = f.read()
    off = api.run(f"{project}/offline")
    out["offline"] = {
        "state": off.state,
        "config": {k: v for k, v in off.config.items() if not k.startswith("_")},
        "tags": off.tags,
        "steps": [r["_step"] for r in off.scan_history()],
    }

    got.tags = ["base", "sdk", "updated"]
    got.notes = "new notes"
    got.config["extra"] = 5
    got.summary["note"] = "kept"
    got.update()
    again = api.run(f"{project}/logged")
    out["updated"] = {
        "tags": again.tags,
        "notes": again.notes,
        "extra": again.config.get("extra"),
        "note": again.summary.get("note"),
    }

    made = api.create_run(run_id="made", project=project)
    out["made"] = api.run(f"{project}/made").id
    made.delete()
    try:  # a new Api: the first one keeps the runs it loaded
        wandb.Api(timeout=60).run(f"{project}/made").state  # noqa: B018
        out["deleted"] = False
    except Exception:
        out["deleted"] = True
    print(json.dumps(out))


if __name__ == "__main__":
    main()
