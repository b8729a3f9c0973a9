"""The official SDK's runs workflow, run by wandb 0.18.0 against runs_server.

Executed in its own virtual environment (see `make sdk-venv`), not imported by
pytest. Prints one JSON object with what the SDK saw; the test compares it with
the store.
"""

import json
import sys

import wandb

api = wandb.Api(timeout=30)
entity_project = sys.argv[1]
out = {}
runs = api.runs(entity_project, per_page=50)
out["len"] = len(runs)
out["ids"] = [run.id for run in runs]
out["ids_again"] = [run.id for run in runs]
first = runs[0]
out["first"] = {
    "id": first.id,
    "name": first.name,
    "state": first.state,
    "config_keys": sorted(first.config),
    "created_at": first.created_at,
}
out["index_last"] = runs[out["len"] - 1].id
history = first.history(samples=50)
out["history_shape"] = list(history.shape)
out["history_steps_sorted"] = list(history["_step"]) == sorted(history["_step"])
keyed = first.history(keys=["loss"], samples=20, pandas=False)
out["keyed_keys"] = sorted({k for row in keyed for k in row})
out["keyed_len"] = len(keyed)
out["scan_len"] = len(list(first.scan_history(page_size=200)))
out["system_len"] = len(first.history(stream="system", samples=10, pandas=False))
finished = api.runs(
    entity_project, filters={"state": "finished"}, order="-created_at", per_page=20
)
out["finished_len"] = len(finished)
out["finished_states"] = sorted({run.state for run in finished})
one = api.run(f"{entity_project}/{first.id}")
out["run_id"] = one.id
swept = [run for run in runs if run.sweep_name]
out["sweeps"] = sorted({run.sweep.name for run in swept if run.sweep})
frame = finished.histories(samples=10, keys=["loss"], format="pandas")
out["histories_columns"] = sorted(frame.columns)
out["histories_runs"] = int(frame["run_id"].nunique())
print(json.dumps(out))
