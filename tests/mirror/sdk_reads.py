"""What the official SDK reads from a server: run by an SDK venv's python.

Prints one JSON object (NaN written as a token, read back by the test), so
the test can compare what the SDK returns against the source and the copy.
"""

import json
import sys

import wandb

api = wandb.Api(timeout=60)
path = sys.argv[1]
out = {}
listed = api.runs(
    path, filters={"state": {"$in": ["finished", "crashed"]}}, order="-created_at"
)
out["listing"] = [run.id for run in listed]
runs = api.runs(path, order="+summary_metrics.loss", per_page=100)
out["by_loss"] = [run.id for run in runs][:50]
for run in list(api.runs(path, per_page=20))[:6]:
    out[run.id] = {
        "config": run.config,
        "summary": dict(run.summary),
        "tags": run.tags,
        "group": run.group,
        "history": run.history(samples=100_000, pandas=False),
        "scan": list(run.scan_history(page_size=300)),
        "system": run.history(stream="system", samples=1000, pandas=False),
    }
print(json.dumps(out, default=str))
