"""The newest official SDK's workflow, run by wandb 0.31.0 against runs_server.

Executed in its own virtual environment (see `make sdk31-venv`), not imported
by pytest. argv[1] is a JSON object naming what to read (paths, run ids,
filters, orders); stdout's last line is one JSON object with what the SDK saw
(NaN and Infinity as Python's json writes them); the test compares it with the
store.
"""

import json
import sys

import wandb

plan = json.loads(sys.argv[1])
path = plan["path"]
api = wandb.Api(timeout=60)
out = {}


def rows(items):
    return [dict(row) for row in items]


runs = api.runs(path, per_page=50)
out["len"] = len(runs)
out["ids"] = [run.id for run in runs]
out["listed"] = {
    run.id: {"state": run.state, "summary_keys": sorted(run.summary.keys())}
    for run in runs[:5]
}
out["filtered"] = {
    name: [run.id for run in api.runs(path, filters=flt, per_page=50)]
    for name, flt in plan["filters"].items()
}
out["ordered"] = {
    order: [run.id for run in api.runs(path, order=order, per_page=7)[:10]]
    for order in plan["orders"]
}

out["runs"] = {}
for run_id in plan["run_ids"]:
    run = api.run(f"{path}/{run_id}")
    seen = {
        "history_keyed": rows(run.history(keys=["loss"], samples=100000, pandas=False)),
        "history_frame_len": len(run.history(samples=50)),
        "scan_full": rows(run.scan_history()),
        "scan_keyed": {
            str(size): rows(
                run.scan_history(keys=["loss", "grad_norm"], page_size=size)
            )
            for size in plan["page_sizes"]
        },
        "scan_full_paged": {
            str(size): len(list(run.scan_history(page_size=size)))
            for size in plan["page_sizes"]
        },
        "files": len(run.files()),
    }
    out["runs"][run_id] = seen

long_run = api.run(plan["long_run"])
out["long_full"] = [row["_step"] for row in long_run.scan_history()]
out["long_keyed"] = rows(long_run.scan_history(keys=["loss"], page_size=5000))

finished = api.runs(path, filters={"state": "finished"}, per_page=20)
out["histories"] = {
    "default": len(finished.histories(samples=10, keys=["loss"])),
    "pandas": list(
        finished.histories(samples=10, keys=["loss"], format="pandas").shape
    ),
    "polars": list(
        finished.histories(samples=10, keys=["loss"], format="polars").shape
    ),
}

viewer = api.viewer
out["viewer"] = {"username": viewer.username, "entity": viewer.entity}
entity, project_name = path.split("/")
out["projects"] = sorted(p.name for p in api.projects(entity))
project = api.project(project_name, entity)
out["project"] = project.name
out["project_sweeps"] = sorted(s.id for s in project.sweeps())
sweep = api.sweep(f"{path}/{plan['sweep']}")
out["sweep_runs"] = sorted(run.id for run in sweep.runs)
out["reports"] = [report.name for report in api.reports(path)]
out["best_run"] = {}
for sweep_path in plan["best_run_sweeps"]:
    best = api.sweep(sweep_path).best_run()
    out["best_run"][sweep_path.rsplit("/", 1)[1]] = best.id if best else None
print(json.dumps(out))
