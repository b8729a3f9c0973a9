"""Fixtures for mirror tests: a source server on loopback, and store snapshots.

A snapshot reads a project through the store (SQL over its tables): every
run's columns but the storage ids, its history rows (step, text) and
its events in served order, and the project's sweeps. Two stores hold equal
copies exactly when their snapshots are equal.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import runs_client
from runs_server.http.app import RunsServerApp, ServerConfig
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store
from tests.demo_seed import seed_demo_copy
from tests.server.conftest import add_exact_project

_SKIP = {"id", "project_id", "user_id"}


def snapshot(store: Store, path: str) -> dict[str, Any]:
    project = store.projects.id_of(path)
    conn = store.conn
    runs: dict[str, Any] = {}
    for row in conn.execute("SELECT * FROM runs WHERE project_id=?", (project,)):
        fields = {k: row[k] for k in row.keys() if k not in _SKIP}  # noqa: SIM118
        history = conn.execute(
            "SELECT step, row FROM history WHERE run_id=? ORDER BY step",
            (row["id"],),
        ).fetchall()
        events = conn.execute(
            "SELECT timestamp, row FROM events WHERE run_id=? ORDER BY timestamp, seq",
            (row["id"],),
        ).fetchall()
        fields["history"] = [tuple(r) for r in history]
        fields["events"] = [tuple(r) for r in events]
        runs[row["name"]] = fields
    sweeps = [
        {k: r[k] for k in r.keys() if k not in _SKIP}  # noqa: SIM118
        for r in conn.execute(
            "SELECT * FROM sweeps WHERE project_id=? ORDER BY name", (project,)
        )
    ]
    return {"runs": runs, "sweeps": sweeps}


class Source:
    """A source server over its own store (demo + test/exact)."""

    def __init__(self, config: ServerConfig | None = None) -> None:
        self.store = Store()
        self.key = seed_demo_copy(self.store).api_key
        add_exact_project(self.store)
        self.server = BackgroundServer(RunsServerApp(self.store, config)).start()

    @property
    def url(self) -> str:
        return self.server.url

    def api(self, **kwargs: Any) -> runs_client.Api:
        return runs_client.Api(api_key=self.key, base_url=self.url, **kwargs)

    def close(self) -> None:
        self.server.stop()
        self.store.close()


@pytest.fixture(scope="module")
def source() -> Iterator[Source]:
    """A source nobody changes (tests that change one start their own)."""
    src = Source()
    yield src
    src.close()
