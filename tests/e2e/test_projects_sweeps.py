"""Api.projects, Api.project, Api.sweep with sweep.runs and sweep.best_run(),
against runs_server, checked against the store."""

from __future__ import annotations

import json
import math

import pytest

import runs_client
from tests.e2e.conftest import ENTITY, HAND, Server


def test_projects_of_an_entity(api: runs_client.Api, server: Server) -> None:
    projects = api.projects(ENTITY)
    expected = [
        r[0]
        for r in server.store.conn.execute(
            "SELECT projects.name FROM projects JOIN entities ON entities.id="
            "projects.entity_id WHERE entities.name=? ORDER BY projects.id",
            (ENTITY,),
        )
    ]
    assert [p.name for p in projects] == expected == ["hand", "scan"]
    assert all(isinstance(p, runs_client.Project) for p in projects)
    assert projects[0].path == [ENTITY, "hand"]
    assert projects[0].total_sweeps == 2


def test_one_project(api: runs_client.Api) -> None:
    project = api.project("hand", ENTITY)
    assert (project.entity, project.name, project.total_sweeps) == (ENTITY, "hand", 2)
    with pytest.raises(runs_client.NotFoundError, match="e2e/nope"):
        api.project("nope", ENTITY)
    with pytest.raises(runs_client.InvalidArgumentError, match="entity="):
        api.project("e2e/hand")


def test_sweep_runs_and_best_run(api: runs_client.Api, server: Server) -> None:
    sweep = api.sweep(f"{HAND}/sw1")
    rows = server.store.conn.execute(
        "SELECT runs.name, runs.summary_metrics FROM runs JOIN projects ON "
        "projects.id=runs.project_id WHERE projects.name='hand' AND sweep_name='sw1' "
        "ORDER BY runs.created_at, runs.name"
    ).fetchall()
    assert [run.id for run in sweep.runs] == [r[0] for r in rows]
    assert len(rows) > 1
    # best by a summary metric: numbers first (ascending), then NaN, then missing
    key = next(iter(json.loads(rows[0][1])), None)
    assert key is not None
    values = {r[0]: json.loads(r[1]).get(key) for r in rows}
    numbers = sorted(
        (v, n)
        for n, v in values.items()
        if isinstance(v, (int, float)) and not math.isnan(v)
    )
    best = sweep.best_run(order=f"+summary_metrics.{key}")
    assert best is not None and best.id == numbers[0][1]
    # sw1's config names no metric: the most recent run, with a warning, as the
    # official SDK 0.31 does (see test_best_run.py)
    with pytest.warns(UserWarning, match="names no metric"):
        latest = sweep.best_run()
    assert latest is not None and latest.id == rows[-1][0]
    with pytest.raises(runs_client.NotFoundError):
        api.sweep(f"{HAND}/nosuch")
