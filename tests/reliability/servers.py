# ruff: noqa: E501
"""Stores and servers for the reliability suite: file stores (WAL, a
connection per request), as ``serve`` runs them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from runs_server.http.app import RunsServerApp, ServerConfig
from runs_server.http.serving import BackgroundServer
from runs_server.store import Store
from tests.reliability.conftest import track

BIG = "load/big"
BIG_RUNS = 1000
ROWS_PER_RUN = 20
OWNER_KEY = "o" * 40
OTHER_KEY = "p" * 40


def fill_big(store: Store, runs: int = BIG_RUNS) -> None:
    """``load/big``: ``runs`` runs of ``ROWS_PER_RUN`` history rows each."""
    store.users.create("owner", entity="load", api_key=OWNER_KEY)
    store.users.create("other", entity="elsewhere", api_key=OTHER_KEY)
    store.projects.create("load", "big", private=True, created_at="2024-01-01T00:00:00")
    with store.transaction():
        for i in range(runs):
            run = store.runs.add(
                BIG,
                f"r{i:04d}",
                config={"i": i, "lr": 10.0 ** -(i % 5)},
                summary={"loss": 1.0 / (i + 1)},
                created_at=f"2024-01-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}",
            )
            store.history.log(
                run,
                [{"_step": s, "loss": (i + 1) / (s + 1)} for s in range(ROWS_PER_RUN)],
            )


def store_runs(store: Store, project: str = BIG) -> list[str]:
    """Run ids the store holds for ``project``, read directly, sorted."""
    entity, name = project.split("/")
    rows = store.conn.execute(
        "SELECT runs.name FROM runs JOIN projects ON projects.id=runs.project_id "
        "JOIN entities ON entities.id=projects.entity_id "
        "WHERE entities.name=? AND projects.name=? ORDER BY runs.name",
        (entity, name),
    )
    return [str(r[0]) for r in rows]


def digest(store: Store) -> tuple[Any, ...]:
    """What a read must never change: row counts and the total of changes."""
    with store.lock:
        counts = tuple(
            store.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("runs", "history", "events", "users", "projects")
        )
        return (*counts, store.conn.total_changes)


@contextlib.contextmanager
def serving(
    store: Store, config: ServerConfig | None = None
) -> Iterator[BackgroundServer]:
    with BackgroundServer(track(RunsServerApp(store, config))) as server:
        yield server


def post(
    url: str, query: str, variables: dict[str, Any] | None = None, **kw: Any
) -> httpx.Response:
    return httpx.post(
        url + "/graphql",
        json={"query": query, "variables": variables or {}},
        timeout=60,
        **kw,
    )


def file_store(path: Path) -> Store:
    store = Store(path / "runs.db")
    fill_big(store)
    return store
