"""Projects, who may read them, and their sweeps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runs_server.store import jsonrows
from runs_server.store.database import Database
from runs_server.store.errors import StoreError
from runs_server.store.timeutil import iso, now_iso
from runs_server.store.users import User, entity_id


@dataclass(frozen=True)
class Project:
    id: int
    entity_id: int
    entity: str
    name: str
    private: bool
    created_at: str


_SWEEP_COLUMNS = (
    "display_name",
    "method",
    "state",
    "description",
    "config",
    "best_loss",
    "run_count_expected",
    "created_at",
    "updated_at",
)


class Projects:
    """Projects and sweeps: ``store.projects``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self,
        entity: str,
        name: str,
        *,
        private: bool = False,
        created_at: datetime | str | None = None,
    ) -> int:
        """Create ``entity/name`` (and the entity if needed); returns its id."""
        with self._db.transaction() as c:
            owner = entity_id(c, entity, create=True)
            cur = c.execute(
                "INSERT INTO projects (entity_id, name, private, created_at) "
                "VALUES (?, ?, ?, ?)",
                (owner, name, int(private), iso(created_at) or now_iso()),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    def find(self, entity: str, name: str) -> Project | None:
        with self._db.lock:
            row = self._db.conn.execute(
                "SELECT projects.*, entities.name AS entity FROM projects "
                "JOIN entities ON entities.id=projects.entity_id "
                "WHERE entities.name=? AND projects.name=?",
                (entity, name),
            ).fetchone()
        if row is None:
            return None
        return Project(
            row["id"],
            row["entity_id"],
            row["entity"],
            row["name"],
            bool(row["private"]),
            row["created_at"],
        )

    def id_of(self, path: str | int) -> int:
        """The id of project ``"entity/name"`` (ints pass through)."""
        if isinstance(path, int):
            return path
        entity, sep, name = path.partition("/")
        if not sep:
            raise StoreError(f"project path must be 'entity/project', got {path!r}")
        project = self.find(entity, name)
        if project is None:
            raise StoreError(f"no project {path!r}")
        return project.id

    def can_read(self, user: User | None, project: Project) -> bool:
        """Public projects are readable by all; private ones by members and admins."""
        if not project.private:
            return True
        if user is None:
            return False
        if user.admin or user.entity_id == project.entity_id:
            return True
        with self._db.lock:
            row = self._db.conn.execute(
                "SELECT 1 FROM memberships WHERE user_id=? AND entity_id=?",
                (user.id, project.entity_id),
            ).fetchone()
        return row is not None

    def create_sweep(
        self,
        project: str | int,
        name: str,
        *,
        display_name: str | None = None,
        method: str | None = "bayes",
        state: str | None = "FINISHED",
        description: str | None = None,
        config: str | Mapping[str, Any] | None = None,
        best_loss: float | None = None,
        run_count_expected: int | None = None,
        created_at: datetime | str | None = None,
        updated_at: datetime | str | None = None,
        replace: bool = False,
    ) -> int:
        """Create a sweep; ``config`` is text (W&B serves YAML) or a mapping.

        With ``replace``, a sweep of that name in the project takes these values.
        """
        project_id = self.id_of(project)
        config_text = (
            config
            if isinstance(config, str) or config is None
            else jsonrows.dumps(config)
        )
        with self._db.transaction() as c:
            cur = c.execute(
                "INSERT INTO sweeps (project_id, name, display_name, method, state, "
                "description, config, best_loss, run_count_expected, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                + (
                    " ON CONFLICT(project_id, name) DO UPDATE SET "
                    + ", ".join(f"{c}=excluded.{c}" for c in _SWEEP_COLUMNS)
                    if replace
                    else ""
                ),
                (
                    project_id,
                    name,
                    display_name,
                    method,
                    state,
                    description,
                    config_text,
                    best_loss,
                    run_count_expected,
                    iso(created_at) or now_iso(),
                    iso(updated_at),
                ),
            )
            if replace:
                row = c.execute(
                    "SELECT id FROM sweeps WHERE project_id=? AND name=?",
                    (project_id, name),
                ).fetchone()
                return int(row[0])
            assert cur.lastrowid is not None
            return cur.lastrowid
