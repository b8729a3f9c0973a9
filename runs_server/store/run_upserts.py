"""Runs created and changed by the write path (``upsertBucket``): ``store.upserts``.

Unlike ``store.runs.add``/``put``, which take plain values, these take the
texts the SDK sends (its config is already wrapped as W&B serves it) and
change only the columns given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runs_server.store import jsonrows
from runs_server.store.database import Database
from runs_server.store.errors import StoreError
from runs_server.store.timeutil import now_iso

# Columns an upsert may set; JSON ones get their query copy (``_q``) too.
COLUMNS = frozenset(
    {
        "display_name",
        "state",
        "config",
        "summary_metrics",
        "tags",
        "group_name",
        "job_type",
        "commit_hash",
        "host",
        "notes",
        "description",
        "sweep_name",
    }
)
_QUERY_COPIES = {"config": "config_q", "summary_metrics": "summary_metrics_q"}


def _assignments(columns: Mapping[str, Any]) -> dict[str, Any]:
    """The SQL column values for ``columns`` (JSON columns as text plus copy)."""
    unknown = set(columns) - COLUMNS
    if unknown:
        raise StoreError(f"not a run column an upsert sets: {sorted(unknown)}")
    values: dict[str, Any] = {}
    for column, value in columns.items():
        if column in _QUERY_COPIES:
            values[column] = jsonrows.dumps(value)
            values[_QUERY_COPIES[column]] = jsonrows.dumps_query(value)
        elif column == "tags":
            values[column] = jsonrows.dumps(list(value))
        else:
            values[column] = value
    return values


class RunUpserts:
    """Create-or-update of runs by name, and updates by storage id."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def upsert(
        self,
        project_id: int,
        name: str,
        columns: Mapping[str, Any],
        *,
        user_id: int | None,
        username: str | None,
    ) -> tuple[int, bool]:
        """Run ``name`` of project ``project_id`` with ``columns`` set; created
        (running, made by ``username``) when missing. Returns its storage id
        and whether it was created."""
        values = _assignments(columns)
        now = now_iso()
        with self._db.transaction() as c:
            row = c.execute(
                "SELECT id FROM runs WHERE project_id=? AND name=?", (project_id, name)
            ).fetchone()
            if row is not None:
                self._update(int(row[0]), values, now)
                return int(row[0]), False
            fresh: dict[str, Any] = {
                "display_name": name,
                "state": "running",
                "user_id": user_id,
                "username": username,
                "created_at": now,
                "heartbeat_at": now,
                "updated_at": now,
                **values,
            }
            names = ", ".join(fresh)
            cur = c.execute(
                f"INSERT INTO runs (project_id, name, {names}) "
                f"VALUES (?, ?, {', '.join('?' * len(fresh))})",
                (project_id, name, *fresh.values()),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid, True

    def update(self, run: int, columns: Mapping[str, Any]) -> None:
        """Set ``columns`` of run ``run`` (a storage id); the others stay."""
        self._update(run, _assignments(columns), now_iso())

    def _update(self, run: int, values: Mapping[str, Any], now: str) -> None:
        values = {**values, "updated_at": now}
        assignments = ", ".join(f"{column}=?" for column in values)
        with self._db.transaction() as c:
            cur = c.execute(
                f"UPDATE runs SET {assignments} WHERE id=?", (*values.values(), run)
            )
            if cur.rowcount == 0:
                raise StoreError(f"no run with storage id {run}")
