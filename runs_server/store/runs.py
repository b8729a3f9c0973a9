"""Runs: adding, finding, updating and deleting them."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
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
        wrapped = _wrap_config(config)
        summary_obj = dict(summary or {})
        created = iso(created_at) or now_iso()
        with self._db.transaction() as c:
            user_id: int | None = None
            if user is not None:
                row = c.execute(
                    "SELECT id FROM users WHERE username=?", (user,)
                ).fetchone()
                if row is None:
                    raise StoreError(f"no user named {user!r}")
                user_id = int(row[0])
            cur = c.execute(
                "INSERT INTO runs (project_id, name, display_name, state, config, "
                "config_q, summary_metrics, summary_metrics_q, system_metrics, tags, "
                "group_name, job_type, commit_hash, host, notes, description, "
                "sweep_name, user_id, username, created_at, heartbeat_at, updated_at) "
                f"VALUES ({', '.join('?' * 22)})",
                (
                    project_id,
                    run_name,
                    display_name if display_name is not None else run_name,
                    state,
                    jsonrows.dumps(wrapped),
                    jsonrows.dumps_query(wrapped),
                    jsonrows.dumps(summary_obj),
                    jsonrows.dumps_query(summary_obj),
                    jsonrows.dumps(dict(system_metrics or {})),
                    jsonrows.dumps(list(tags)),
                    group,
                    job_type,
                    commit,
                    host,
                    notes,
                    description,
                    sweep,
                    user_id,
                    user,
                    created,
                    iso(heartbeat_at),
                    iso(updated_at) or iso(heartbeat_at) or created,
                ),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

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
            c.execute("DELETE FROM history WHERE run_id=?", (run,))
            c.execute("DELETE FROM events WHERE run_id=?", (run,))
            c.execute("DELETE FROM runs WHERE id=?", (run,))
