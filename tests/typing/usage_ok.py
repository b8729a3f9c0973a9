"""A user's script; must pass ``mypy --strict`` (see test_typing.py). Not run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import runs_client
from runs_client import Api, Run, Runs, RunsClientError


def summarise(run: Run) -> str:
    created: datetime = run.created_at
    config: dict[str, Any] = run.config
    state: str = run.state
    tags: list[str] = run.tags
    summary: dict[str, Any] = run.summary
    lr = config.get("lr", 0.0)
    return f"{run.id} {run.name} {state} {created:%Y-%m-%d} {lr} {tags} {summary}"


def either(run: Run, as_frame: bool) -> object:
    # The seed's `pandas` is a plain bool: a bool variable must type-check.
    return run.history(samples=100, pandas=as_frame)


def main() -> None:
    with Api(timeout=30.0, max_retries=2) as api:
        runs: Runs = api.runs("entity/project", filters={"state": "finished"})
        total: int = len(runs)
        first: Run = runs[0]
        last_three: list[Run] = runs[-3:]
        print(total, summarise(first), [r.id for r in last_three])
        for run in runs:
            print(summarise(run))
        single = api.run("entity/project/abc123")
        rows: list[dict[str, Any]] = single.history(pandas=False)
        print(rows[:1], single.url, api.viewer.entity)
    try:
        Api(base_url="http://localhost:8080").run("proj/abc")
    except runs_client.NotFoundError as err:
        print(err.request, err.server_message)
    except RunsClientError as err:
        print(err)


if __name__ == "__main__":
    main()
