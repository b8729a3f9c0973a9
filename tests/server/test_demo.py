# ruff: noqa: E501  (SQL and GraphQL read best on one line)
"""The demo seed: what it holds, determinism, no reseeding."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from runs_server.loaders.demo import SEED, seed_demo
from runs_server.store import Store
from tests.server.conftest import Gql, Live


def _fingerprint(store: Store) -> list[tuple[object, ...]]:
    return [
        tuple(r)
        for r in store.conn.execute(
            "SELECT runs.name, runs.config, runs.state, runs.created_at, "
            "(SELECT group_concat(row, '|') FROM (SELECT row FROM history h "
            " WHERE h.run_id = runs.id ORDER BY step DESC LIMIT 3)) "
            "FROM runs JOIN projects ON projects.id = runs.project_id "
            "WHERE projects.name IN ('mnist', 'secret') ORDER BY runs.id"
        )
    ]


def test_demo_contents(live_server: Live) -> None:
    conn = live_server.store.conn
    project = live_server.store.projects.find("demo", "mnist")
    assert project is not None
    where = (project.id,)
    assert (
        conn.execute("SELECT count(*) FROM runs WHERE project_id=?", where).fetchone()[
            0
        ]
        >= 300
    )
    states = {
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT state FROM runs WHERE project_id=?", where
        )
    }
    assert states == {
        "running",
        "finished",
        "crashed",
        "failed",
        "killed",
        "preempted",
        "pending",
    }
    sweeps = dict(
        conn.execute(
            "SELECT sweep_name, count(*) FROM runs WHERE project_id=? AND sweep_name IS NOT NULL GROUP BY 1",
            where,
        ).fetchall()
    )
    assert sweeps == {"swp1abcd": 40, "swp2efgh": 24}
    groups = {
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT group_name FROM runs WHERE project_id=?", where
        )
    }
    assert {"baseline", "augment", "distill", None} <= groups
    tags = {
        t for (raw,) in conn.execute("SELECT tags FROM runs") for t in json.loads(raw)
    }
    assert {"baseline", "best"} <= tags
    longest = conn.execute("SELECT max(history_line_count) FROM runs").fetchone()[0]
    assert longest == 2000
    config = json.loads(
        conn.execute(
            "SELECT config FROM runs WHERE project_id=? LIMIT 1", where
        ).fetchone()[0]
    )
    assert config["optimizer"]["value"]["name"] in {"adam", "sgd", "adamw"}  # nested
    rows = "\n".join(r[0] for r in conn.execute("SELECT row FROM history"))
    assert "NaN" in rows and "Infinity" in rows and '"phase":"warmup"' in rows
    assert '"_type":"image-file"' in rows
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] > 1000


def test_demo_cadences_show_the_and_rule(gql: Gql) -> None:
    query = """query S($specs: [JSONString!]!) { project(name: "mnist", entityName: "demo") {
      runs(first: 5, filters: "{\\"state\\": \\"finished\\"}") { edges { node { historyLineCount sampledHistory(specs: $specs) } } } } }"""
    specs = [
        json.dumps({"keys": ["_step", "loss"]}),
        json.dumps({"keys": ["_step", "loss", "val.acc"]}),
        json.dumps({"keys": ["_step", "val.acc", "test.acc"]}),
    ]
    body = gql(query, {"specs": specs})
    for edge in body["data"]["project"]["runs"]["edges"]:
        n = edge["node"]["historyLineCount"]
        every, tenth, end = edge["node"]["sampledHistory"]
        assert len(every) == n
        assert len(tenth) == (n + 9) // 10
        assert len(end) == (1 if (n - 1) % 10 == 0 else 0)


def test_demo_is_deterministic_and_not_reseeded(
    tmp_path: Path, live_server: Live
) -> None:
    path = tmp_path / "demo.db"
    with Store(path) as store:
        first = seed_demo(store)
        assert first.seeded and first.api_key == live_server.demo_key
        assert _fingerprint(store) == _fingerprint(live_server.store)
    with Store(path) as store:
        again = seed_demo(store)
        assert not again.seeded and again.api_key == first.api_key
        assert store.conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 323


def test_demo_does_not_depend_on_the_local_time_zone(
    monkeypatch: pytest.MonkeyPatch, live_server: Live
) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        with Store() as store:
            seed_demo(store)
            elsewhere = _fingerprint(store)
            created, row = store.conn.execute(
                "SELECT created_at, row FROM runs JOIN history ON run_id = runs.id "
                "WHERE step = 0 ORDER BY runs.id LIMIT 1"
            ).fetchone()
    finally:
        monkeypatch.undo()
        time.tzset()
    assert elsewhere == _fingerprint(live_server.store)
    # _timestamp (epoch seconds) and createdAt (zone-less UTC) name one instant
    epoch = datetime.fromisoformat(created).replace(tzinfo=timezone.utc).timestamp()
    assert json.loads(row)["_timestamp"] == epoch


@pytest.mark.parametrize("seed", [SEED])
def test_seed_constant_is_fixed(seed: int) -> None:
    assert seed == 20240301
