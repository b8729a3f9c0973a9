"""Runs: adding, finding, updating and deleting them."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runs_server.store import jsonrows
from runs_server.store.database import Database
from runs_server.store.errors import StoreError
from runs_server.store.projects import Projects
from runs_server.store.timeutil import iso, now_iso


def _wrap_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    # W&B serves config values wrapped: {"k": {"value": v, "desc": None}}.
    return {k: {"value": v, "desc": None} for k, v in (config or {}).items()}


@dataclass(frozen=True)
class RunIndexEntry:
    """What a copy needs to know whether a run changed: see ``Runs.index``."""

    id: int
    state: str
    updated_at: str | None
    heartbeat_at: str | None
    history_line_count: int
    last_step: int | None


# The descriptive columns ``add`` and ``put`` write (history counts aside).
_COLUMNS = (
    "display_name",
    "state",
    "config",
    "config_q",
    "summary_metrics",
    "summary_metrics_q",
    "system_metrics",
    "tags",
    "group_name",
    "job_type",
    "commit_hash",
    "host",
    "notes",
    "description",
    "sweep_name",
    "user_id",
    "username",
    "created_at",
    "heartbeat_at",
    "updated_at",
)


def _column_values(
    c: sqlite3.Connection, name: str, fields: Mapping[str, Any]
) -> tuple[object, ...]:
    """The ``_COLUMNS`` values of a run from ``add``'s keyword arguments."""
    wrapped = _wrap_config(fields["config"])
    summary_obj = dict(fields["summary"] or {})
    created = iso(fields["created_at"]) or now_iso()
    heartbeat = iso(fields["heartbeat_at"])
    user = fields["user"]
    user_id: int | None = None
    if user is not None:
        row = c.execute("SELECT id FROM users WHERE username=?", (user,)).fetchone()
        if row is None:
            raise StoreError(f"no user named {user!r}")
        user_id = int(row[0])
    tags = fields["tags"]
    if isinstance(tags, str):
        raise StoreError(f"tags must be a list of strings, got {tags!r}")
    display_name = fields["display_name"]
    return (
        display_name if display_name is not None else name,
        fields["state"],
        jsonrows.dumps(wrapped),
        jsonrows.dumps_query(wrapped),
        jsonrows.dumps(summary_obj),
        jsonrows.dumps_query(summary_obj),
        jsonrows.dumps(dict(fields["system_metrics"] or {})),
        jsonrows.dumps(list(tags)),
        fields["group"],
        fields["job_type"],
        fields["commit"],
        fields["host"],
        fields["notes"],
        fields["description"],
        fields["sweep"],
        user_id,
        user,
        created,
        heartbeat,
        iso(fields["updated_at"]) or heartbeat or created,
    )


class Runs:
    """The runs of all projects: ``store.runs``."""

    def __init__(self, db: Database, projects: Projects) -> None:
        self._db = db
        self._projects = projects

    def add(
        self,
        project: str | int,
        name: str | None = None,
        *,
        display_name: str | None = None,
        state: str = "finished",
        config: Mapping[str, Any] | None = None,
        summary: Mapping[str, Any] | None = None,
        system_metrics: Mapping[str, Any] | None = None,
        tags: Sequence[str] = (),
        group: str | None = None,
        job_type: str | None = None,
        commit: str | None = None,
        host: str | None = None,
        notes: str | None = None,
        description: str | None = None,
        sweep: str | None = None,
        user: str | None = None,
        created_at: datetime | str | None = None,
        heartbeat_at: datetime | str | None = None,
        updated_at: datetime | str | None = None,
    ) -> int:
        """Add a run; returns its storage id (for ``store.history``).

        ``name`` is the run id (generated when omitted); ``config`` holds plain
        values, which the store wraps as W&B serves them (``{"k": {"value": v}}``);
        ``user`` is a username.
        """
        project_id = self._projects.id_of(project)
        run_name = name or secrets.token_hex(4)
        with self._db.transaction() as c:
            values = _column_values(c, run_name, locals())
            cur = c.execute(
                f"INSERT INTO runs (project_id, name, {', '.join(_COLUMNS)}) "
                f"VALUES ({', '.join('?' * (len(_COLUMNS) + 2))})",
                (project_id, run_name, *values),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    def put(
        self,
        project: str | int,
        name: str,
        *,
        display_name: str | None = None,
        state: str = "finished",
        config: Mapping[str, Any] | None = None,
        summary: Mapping[str, Any] | None = None,
        system_metrics: Mapping[str, Any] | None = None,
        tags: Sequence[str] = (),
        group: str | None = None,
        job_type: str | None = None,
        commit: str | None = None,
        host: str | None = None,
        notes: str | None = None,
        description: str | None = None,
        sweep: str | None = None,
        user: str | None = None,
        created_at: datetime | str | None = None,
        heartbeat_at: datetime | str | None = None,
        updated_at: datetime | str | None = None,
    ) -> int:
        """Add run ``name``, or set every field of it to these values (``None``
        clears one); its history and events stay. Returns its storage id.

        For copies of runs kept elsewhere: unlike ``update``, fields not given
        take their defaults rather than keeping the stored values.
        """
        project_id = self._projects.id_of(project)
        with self._db.transaction() as c:
            row = c.execute(
                "SELECT id FROM runs WHERE project_id=? AND name=?", (project_id, name)
            ).fetchone()
            if row is None:
                values = _column_values(c, name, locals())
                cur = c.execute(
                    f"INSERT INTO runs (project_id, name, {', '.join(_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * (len(_COLUMNS) + 2))})",
                    (project_id, name, *values),
                )
                assert cur.lastrowid is not None
                return cur.lastrowid
            run = int(row[0])
            values = _column_values(c, name, locals())
            assignments = ", ".join(f"{column}=?" for column in _COLUMNS)
            c.execute(f"UPDATE runs SET {assignments} WHERE id=?", (*values, run))
            return run

    def index(self, project: str | int) -> dict[str, RunIndexEntry]:
        """Every run of ``project`` by name, with the fields that tell a change."""
        project_id = self._projects.id_of(project)
        with self._db.lock:
            rows = self._db.conn.execute(
                "SELECT id, name, state, updated_at, heartbeat_at, "
                "history_line_count, last_step FROM runs WHERE project_id=?",
                (project_id,),
            ).fetchall()
        return {
            str(r["name"]): RunIndexEntry(
                int(r["id"]),
                str(r["state"]),
                r["updated_at"],
                r["heartbeat_at"],
                int(r["history_line_count"]),
                r["last_step"],
            )
            for r in rows
        }

    def id_of(self, project: str | int, name: str) -> int:
        """The storage id of run ``name`` in ``project``."""
        project_id = self._projects.id_of(project)
        with self._db.lock:
            row = self._db.conn.execute(
                "SELECT id FROM runs WHERE project_id=? AND name=?", (project_id, name)
            ).fetchone()
        if row is None:
            raise StoreError(f"no run {name!r} in project {project!r}")
        return int(row[0])

    def update(
        self,
        run: int,
        *,
        state: str | None = None,
        config: Mapping[str, Any] | None = None,
        summary: Mapping[str, Any] | None = None,
        tags: Sequence[str] | None = None,
        created_at: datetime | str | None = None,
        heartbeat_at: datetime | str | None = None,
        updated_at: datetime | str | None = None,
    ) -> None:
        """Change fields of run ``run`` (a storage id); ``None`` leaves one as is.

        ``config`` (plain values, wrapped as in ``add``) and ``summary`` replace
        the stored objects whole. ``updated_at`` defaults to now.
        """
        columns: dict[str, object] = {}
        if state is not None:
            columns["state"] = state
        if config is not None:
            wrapped = _wrap_config(config)
            columns["config"] = jsonrows.dumps(wrapped)
            columns["config_q"] = jsonrows.dumps_query(wrapped)
        if summary is not None:
            summary_obj = dict(summary)
            columns["summary_metrics"] = jsonrows.dumps(summary_obj)
            columns["summary_metrics_q"] = jsonrows.dumps_query(summary_obj)
        if tags is not None:
            if isinstance(tags, str):
                raise StoreError(f"tags must be a list of strings, got {tags!r}")
            columns["tags"] = jsonrows.dumps(list(tags))
        if created_at is not None:
            columns["created_at"] = iso(created_at)
        if heartbeat_at is not None:
            columns["heartbeat_at"] = iso(heartbeat_at)
        columns["updated_at"] = iso(updated_at) or now_iso()
        assignments = ", ".join(f"{name}=?" for name in columns)
        with self._db.transaction() as c:
            cur = c.execute(
                f"UPDATE runs SET {assignments} WHERE id=?", (*columns.values(), run)
            )
            if cur.rowcount == 0:
                raise StoreError(f"no run with storage id {run}")

    def delete(self, run: int) -> None:
        """Delete a run with its history and events."""
        with self._db.transaction() as c:
            for table in ("history", "history_columns", "events"):
                c.execute(f"DELETE FROM {table} WHERE run_id=?", (run,))
            c.execute("DELETE FROM runs WHERE id=?", (run,))
