"""An in-memory store with the ddl.py layout, filled by plain SQL (not store.py)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from runs_server.listing import count_runs, cursor_for, install_functions, page_runs
from runs_server.store import jsonrows
from runs_server.store.ddl import DDL

PROJECT = 1
OTHER_PROJECT = 2

_COLUMNS = (
    "name",
    "display_name",
    "state",
    "group_name",
    "job_type",
    "host",
    "username",
    "sweep_name",
    "created_at",
    "heartbeat_at",
    "updated_at",
)


def new_db() -> sqlite3.Connection:
    """A fresh in-memory store with two projects and the listing functions."""
    conn = sqlite3.connect(":memory:")
    conn.row_factory = sqlite3.Row
    conn.executescript(DDL)
    install_functions(conn)
    conn.execute("INSERT INTO entities (id, name) VALUES (1, 'e')")
    conn.executemany(
        "INSERT INTO projects (id, entity_id, name, created_at) VALUES (?, 1, ?, ?)",
        [(PROJECT, "p", "2024-01-01T00:00:00"), (OTHER_PROJECT, "q", "2024-01-01")],
    )
    return conn


@pytest.fixture
def db() -> Iterator[sqlite3.Connection]:
    conn = new_db()
    yield conn
    conn.close()


def insert_run(
    conn: sqlite3.Connection, run: dict[str, Any], project_id: int = PROJECT
) -> None:
    """Insert ``run``: keys as the ``runs`` columns; ``config`` already wrapped
    as {"key": {"value": ...}}, ``summary`` plain, ``tags`` a list."""
    config = run.get("config", {})
    summary = run.get("summary", {})
    cols = {c: run.get(c) for c in _COLUMNS}
    cols["state"] = cols["state"] or "finished"
    cols["created_at"] = cols["created_at"] or "2024-01-01T00:00:00"
    conn.execute(
        f"INSERT INTO runs (project_id, {', '.join(cols)}, config, config_q, "
        "summary_metrics, summary_metrics_q, tags) VALUES "
        f"(?, {', '.join('?' * len(cols))}, ?, ?, ?, ?, ?)",
        (
            project_id,
            *cols.values(),
            json.dumps(config),
            jsonrows.dumps_query(config),  # the store's query copy
            json.dumps(summary),
            jsonrows.dumps_query(summary),
            json.dumps(run.get("tags", []), ensure_ascii=False),
        ),
    )


def delete_run(conn: sqlite3.Connection, name: str, project_id: int = PROJECT) -> None:
    conn.execute(
        "DELETE FROM runs WHERE project_id = ? AND name = ?", (project_id, name)
    )


def count(conn: sqlite3.Connection, filters: str | None) -> int:
    q = count_runs(PROJECT, filters)
    return int(conn.execute(q.sql, q.params).fetchone()[0])


def fetch_page(
    conn: sqlite3.Connection,
    filters: str | None,
    order: str | None,
    after: str | None,
    per_page: int,
) -> tuple[list[str], str | None]:
    """(run ids of one page, cursor for the next page or None)."""
    q = page_runs(PROJECT, filters, order, after, per_page)
    rows = conn.execute(q.sql, q.params).fetchall()
    page = rows[:per_page]
    more = len(rows) > per_page
    return [r["name"] for r in page], cursor_for(order, page[-1]) if more else None


def page_all(
    conn: sqlite3.Connection,
    filters: str | None = None,
    order: str | None = None,
    per_page: int = 3,
) -> list[str]:
    """Every run id the filters select, in order, paging ``per_page`` at a time.

    Bounded: no listing needs more pages than the table's runs fill, so a
    keyset comparison that stops advancing fails here instead of hanging.
    """
    total = int(conn.execute("SELECT count(*) FROM runs").fetchone()[0])
    most = total // max(1, per_page) + 2
    names: list[str] = []
    after: str | None = None
    for _ in range(most):
        page, after = fetch_page(conn, filters, order, after, per_page)
        names += page
        if after is None:
            return names
    raise AssertionError(
        f"page_all: {most} pages of {per_page} hold every one of {total} runs, "
        f"yet the cursor still says more follow (after {after!r}): the keyset "
        "does not advance"
    )


def select(
    conn: sqlite3.Connection, filters: Any, order: str | None = None
) -> list[str]:
    """Run ids matching ``filters`` (a dict is JSON-encoded); checks count too."""
    text = (
        filters if isinstance(filters, str) or filters is None else json.dumps(filters)
    )
    names = page_all(conn, text, order, per_page=4)
    assert count(conn, text) == len(names)
    return names
