"""The server's SQLite store and its typed Python API.

Tests, the demo seed and the JSON Lines loader write through this API; the
GraphQL resolvers read through it. One connection serves a ``Store``; a
re-entrant lock serialises its use across threads (uvicorn runs resolvers in a
worker thread). The layout is ``runs_server.ddl``.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from runs_server import jsonrows
from runs_server.ddl import DDL, SCHEMA_VERSION
from runs_server.listing import install_functions
from runs_server.timeutil import iso, now_iso

Row = Mapping[str, Any] | str
"""A history or event row: a mapping, or its JSON text (NaN tokens allowed)."""

# Upgrades of older files, keyed by the version they start from.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {}


class StoreError(Exception):
    """A store operation that cannot be done as asked."""


class StoreVersionError(StoreError):
    """The database file was written by an incompatible server version."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    name: str | None
    email: str | None
    entity_id: int
    entity: str
    api_key: str | None
    admin: bool


@dataclass(frozen=True)
class Project:
    id: int
    entity_id: int
    entity: str
    name: str
    private: bool
    created_at: str


def _as_step(value: Any) -> int:
    # W&B rows sometimes carry _step as a float such as 3.0.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StoreError(f"_step must be a number, got {value!r}")
    if isinstance(value, float) and not value.is_integer():
        raise StoreError(f"_step must be a whole number, got {value!r}")
    return int(value)


def new_api_key() -> str:
    """A 40-character hex key, the shape of a W&B API key."""
    return secrets.token_hex(20)


class Store:
    """A SQLite file (or ``":memory:"``) holding entities, projects and runs."""

    def __init__(self, path: str | os.PathLike[str] = ":memory:") -> None:
        self.path = str(path)
        self.lock = threading.RLock()
        self._conn = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None
        )
        self._conn.row_factory = sqlite3.Row
        try:
            self._configure()
            self._prepare_schema()
        except BaseException:
            self._conn.close()
            raise

    # -- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        with self.lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection; hold ``lock`` while using it from several threads."""
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _configure(self) -> None:
        conn = self._conn
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA cache_size = -65536")  # 64 MiB: history pages stay hot
        if self.path != ":memory:" and not self.path.startswith("file::memory:"):
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        install_functions(conn)  # the RE2 regexp() the filter compiler's SQL calls

    def _prepare_schema(self) -> None:
        conn = self._conn
        tables = {
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if not tables:
            # One script, one transaction: a crash leaves no half-made schema.
            conn.executescript(
                f"BEGIN;{DDL}INSERT INTO meta (key, value) "
                f"VALUES ('schema_version', '{SCHEMA_VERSION}');COMMIT;"
            )
            return
        if "meta" not in tables:
            raise StoreVersionError(
                f"{self.path} is not a runs_server database (it has no meta table); "
                "use a new file or ':memory:'"
            )
        row = conn.execute(
            "SELECT value FROM meta WHERE key='schema_version'"
        ).fetchone()
        if row is None:
            raise StoreVersionError(
                f"{self.path} has no schema_version in its meta table"
            )
        version = int(row[0])
        if version > SCHEMA_VERSION:
            raise StoreVersionError(
                f"{self.path} has store schema version {version}, newer than this "
                f"server's version {SCHEMA_VERSION}; upgrade runs-client to open it"
            )
        while version < SCHEMA_VERSION:
            migrate = MIGRATIONS.get(version)
            if migrate is None:
                raise StoreVersionError(
                    f"{self.path} has store schema version {version}, older than this "
                    f"server's version {SCHEMA_VERSION}, and no migration exists; "
                    "re-create it (e.g. runs-client serve --demo --db NEW_FILE)"
                )
            with self._write() as c:
                migrate(c)
                version += 1
                c.execute(
                    "UPDATE meta SET value=? WHERE key='schema_version'",
                    (str(version),),
                )
        conn.executescript(DDL)  # idempotent: adds indexes a migration may lack

    # -- meta --------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self.lock:
            row = self._conn.execute(
                "SELECT value FROM meta WHERE key=?", (key,)
            ).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as c:
            c.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value),
            )

    # -- entities, users, projects, sweeps ---------------------------------

    def create_entity(self, name: str) -> int:
        """Create an entity (a user's or a team's namespace); returns its id."""
        with self._write() as c:
            return self._entity_id(c, name, create=True)

    def _entity_id(self, c: sqlite3.Connection, name: str, *, create: bool) -> int:
        row = c.execute("SELECT id FROM entities WHERE name=?", (name,)).fetchone()
        if row is not None:
            return int(row[0])
        if not create:
            raise StoreError(f"no entity named {name!r}")
        cur = c.execute("INSERT INTO entities (name) VALUES (?)", (name,))
        assert cur.lastrowid is not None
        return cur.lastrowid

    def create_user(
        self,
        username: str,
        *,
        entity: str | None = None,
        api_key: str | None = None,
        name: str | None = None,
        email: str | None = None,
        admin: bool = False,
        teams: Sequence[str] = (),
    ) -> User:
        """Create a user whose default entity is ``entity`` (or its username).

        A missing ``api_key`` is generated; the entities it names and ``teams``
        are created when missing and the user becomes a member of them.
        """
        key = api_key if api_key is not None else new_api_key()
        entity_name = entity or username
        with self._write() as c:
            entity_id = self._entity_id(c, entity_name, create=True)
            cur = c.execute(
                "INSERT INTO users (username, name, email, entity_id, api_key, admin) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (username, name, email, entity_id, key, int(admin)),
            )
            assert cur.lastrowid is not None
            user_id = cur.lastrowid
            for team in (entity_name, *teams):
                c.execute(
                    "INSERT OR IGNORE INTO memberships (user_id, entity_id) "
                    "VALUES (?, ?)",
                    (user_id, self._entity_id(c, team, create=True)),
                )
        return User(user_id, username, name, email, entity_id, entity_name, key, admin)

    def create_project(
        self,
        entity: str,
        name: str,
        *,
        private: bool = False,
        created_at: datetime | str | None = None,
    ) -> int:
        """Create ``entity/name`` (and the entity if needed); returns its id."""
        with self._write() as c:
            entity_id = self._entity_id(c, entity, create=True)
            cur = c.execute(
                "INSERT INTO projects (entity_id, name, private, created_at) "
                "VALUES (?, ?, ?, ?)",
                (entity_id, name, int(private), iso(created_at) or now_iso()),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    def project_id(self, path: str | int) -> int:
        """The id of project ``"entity/name"`` (ints pass through)."""
        if isinstance(path, int):
            return path
        entity, sep, name = path.partition("/")
        if not sep:
            raise StoreError(f"project path must be 'entity/project', got {path!r}")
        project = self.find_project(entity, name)
        if project is None:
            raise StoreError(f"no project {path!r}")
        return project.id

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
    ) -> int:
        """Create a sweep; ``config`` is text (W&B serves YAML) or a mapping."""
        project_id = self.project_id(project)
        config_text = (
            config
            if isinstance(config, str) or config is None
            else jsonrows.dumps(config)
        )
        with self._write() as c:
            cur = c.execute(
                "INSERT INTO sweeps (project_id, name, display_name, method, state, "
                "description, config, best_loss, run_count_expected, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            assert cur.lastrowid is not None
            return cur.lastrowid

    # -- runs ----------------------------------------------------------------

    def add_run(
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
        """Add a run; returns its storage id (for ``log_history``/``log_events``).

        ``name`` is the run id (generated when omitted); ``config`` holds plain
        values, which the store wraps as W&B serves them (``{"k": {"value": v}}``);
        ``user`` is a username.
        """
        project_id = self.project_id(project)
        run_name = name or secrets.token_hex(4)
        wrapped = {k: {"value": v, "desc": None} for k, v in (config or {}).items()}
        summary_obj = dict(summary or {})
        created = iso(created_at) or now_iso()
        with self._write() as c:
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

    def run_id(self, project: str | int, name: str) -> int:
        """The storage id of run ``name`` in ``project``."""
        project_id = self.project_id(project)
        with self.lock:
            row = self._conn.execute(
                "SELECT id FROM runs WHERE project_id=? AND name=?", (project_id, name)
            ).fetchone()
        if row is None:
            raise StoreError(f"no run {name!r} in project {project!r}")
        return int(row[0])

    def delete_run(self, run: int) -> None:
        """Delete a run with its history and events."""
        with self._write() as c:
            c.execute("DELETE FROM history WHERE run_id=?", (run,))
            c.execute("DELETE FROM events WHERE run_id=?", (run,))
            c.execute("DELETE FROM runs WHERE id=?", (run,))

    def log_history(
        self, run: int, rows: Iterable[Row], *, update_summary: bool = True
    ) -> int:
        """Append history rows to run ``run`` (a storage id); returns the count.

        Text rows are stored as given (so ``NaN`` tokens and ``"_step": 3.0``
        survive); mapping rows are encoded with bare NaN tokens. A row without
        ``_step`` gets the next step. Steps must increase. With
        ``update_summary`` the run's summary takes each key's last value, as
        W&B's does; dotted history keys (``val.acc``, how W&B flattens logged
        dicts) are nested again in the summary (``{"val": {"acc": ...}}``), so
        ``summary_metrics.val.acc`` filters and orders find them.
        """
        with self._write() as c:
            state = c.execute(
                "SELECT history_keys, last_step, summary_metrics FROM runs WHERE id=?",
                (run,),
            ).fetchone()
            if state is None:
                raise StoreError(f"no run with storage id {run}")
            counts = _type_counts(jsonrows.loads(state[0]))
            last: int | None = state[1]
            summary: dict[str, Any] = jsonrows.loads(state[2])
            records: list[tuple[int, int, str, str]] = []
            for row in rows:
                text = row if isinstance(row, str) else None
                obj = jsonrows.loads(row) if isinstance(row, str) else dict(row)
                if not isinstance(obj, dict):
                    raise StoreError(
                        f"a history row must be a JSON object, got {row!r:.80}"
                    )
                if obj.get("_step") is None:
                    obj["_step"] = 0 if last is None else last + 1
                    text = None
                step = _as_step(obj["_step"])
                if last is not None and step <= last:
                    raise StoreError(
                        f"history steps must increase: step {step} after step {last}"
                    )
                for key, value in obj.items():
                    per_key = counts.setdefault(key, {})
                    kind = jsonrows.type_name(value)
                    per_key[kind] = per_key.get(kind, 0) + 1
                if update_summary:
                    for key, value in obj.items():
                        _set_nested(summary, key, value)
                records.append(
                    (
                        run,
                        step,
                        jsonrows.dumps_keys(list(obj)),
                        text or jsonrows.dumps(obj),
                    )
                )
                last = step
            c.executemany(
                "INSERT INTO history (run_id, step, keys, row) VALUES (?, ?, ?, ?)",
                records,
            )
            keys_text = jsonrows.dumps(
                {
                    k: {
                        "typeCounts": [
                            {"type": t, "count": n} for t, n in kinds.items()
                        ]
                    }
                    for k, kinds in counts.items()
                }
            )
            c.execute(
                "UPDATE runs SET history_keys=?, last_step=?, "
                "history_line_count=history_line_count+? WHERE id=?",
                (keys_text, last, len(records), run),
            )
            if update_summary and records:
                c.execute(
                    "UPDATE runs SET summary_metrics=?, summary_metrics_q=? WHERE id=?",
                    (jsonrows.dumps(summary), jsonrows.dumps_query(summary), run),
                )
            return len(records)

    def log_events(self, run: int, rows: Iterable[Row]) -> int:
        """Append system-metrics rows (each with ``_timestamp``); returns the count.

        The run's ``systemMetrics`` takes each non-underscore key's last value.
        """
        with self._write() as c:
            state = c.execute(
                "SELECT system_metrics, (SELECT max(seq) FROM events WHERE run_id=?) "
                "FROM runs WHERE id=?",
                (run, run),
            ).fetchone()
            if state is None:
                raise StoreError(f"no run with storage id {run}")
            system: dict[str, Any] = jsonrows.loads(state[0])
            seq = -1 if state[1] is None else int(state[1])
            records: list[tuple[int, int, float, str]] = []
            for row in rows:
                obj = jsonrows.loads(row) if isinstance(row, str) else dict(row)
                stamp = obj.get("_timestamp") if isinstance(obj, dict) else None
                if isinstance(stamp, bool) or not isinstance(stamp, (int, float)):
                    raise StoreError(
                        f"an event row needs a numeric _timestamp: {row!r:.80}"
                    )
                seq += 1
                text = row if isinstance(row, str) else jsonrows.dumps(obj)
                records.append((run, seq, float(stamp), text))
                system.update((k, v) for k, v in obj.items() if not k.startswith("_"))
            c.executemany(
                "INSERT INTO events (run_id, seq, timestamp, row) VALUES (?, ?, ?, ?)",
                records,
            )
            c.execute(
                "UPDATE runs SET system_metrics=? WHERE id=?",
                (jsonrows.dumps(system), run),
            )
            return len(records)

    def load_jsonl(
        self, source: str | os.PathLike[str] | Iterable[str]
    ) -> dict[str, int]:
        """Load a JSON Lines export (format: ``runs_server.jsonl``); returns counts."""
        from runs_server.jsonl import load_lines

        if isinstance(source, (str, os.PathLike)):
            with Path(source).open(encoding="utf-8") as lines:
                return load_lines(self, lines)
        return load_lines(self, source)

    # -- reads used by the resolvers ----------------------------------------

    def user_by_key(self, api_key: str) -> User | None:
        return self._user("users.api_key=?", (api_key,))

    def user_by_name(self, username: str) -> User | None:
        return self._user("users.username=?", (username,))

    def default_user(self) -> User | None:
        """Who an unauthenticated caller acts as on an open server: the first user."""
        return self._user("1=1", ())

    def _user(self, where: str, params: tuple[object, ...]) -> User | None:
        with self.lock:
            row = self._conn.execute(
                "SELECT users.*, entities.name AS entity FROM users "
                f"JOIN entities ON entities.id=users.entity_id WHERE {where} "
                "ORDER BY users.id LIMIT 1",
                params,
            ).fetchone()
        if row is None:
            return None
        return User(
            row["id"],
            row["username"],
            row["name"],
            row["email"],
            row["entity_id"],
            row["entity"],
            row["api_key"],
            bool(row["admin"]),
        )

    def user_entities(self, user_id: int) -> list[str]:
        """Names of the entities ``user_id`` belongs to, by name."""
        with self.lock:
            rows = self._conn.execute(
                "SELECT entities.name FROM memberships JOIN entities "
                "ON entities.id=memberships.entity_id WHERE user_id=? "
                "ORDER BY entities.name",
                (user_id,),
            ).fetchall()
        return [str(r[0]) for r in rows]

    def find_project(self, entity: str, name: str) -> Project | None:
        with self.lock:
            row = self._conn.execute(
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

    def can_read(self, user: User | None, project: Project) -> bool:
        """Public projects are readable by all; private ones by members and admins."""
        if not project.private:
            return True
        if user is None:
            return False
        if user.admin or user.entity_id == project.entity_id:
            return True
        with self.lock:
            row = self._conn.execute(
                "SELECT 1 FROM memberships WHERE user_id=? AND entity_id=?",
                (user.id, project.entity_id),
            ).fetchone()
        return row is not None


def _set_nested(target: dict[str, Any], dotted: str, value: Any) -> None:
    """``target[a][b] = value`` for ``a.b``; a non-dict in the way is replaced."""
    *parents, leaf = dotted.split(".")
    for part in parents:
        child = target.get(part)
        if not isinstance(child, dict):
            child = target[part] = {}
        target = child
    target[leaf] = value


def _type_counts(history_keys: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """The stored historyKeys as ``{key: {type: count}}``, for updating."""
    counts: dict[str, dict[str, int]] = {}
    for key, info in history_keys.items():
        per_key = counts.setdefault(key, {})
        for entry in info.get("typeCounts", []):
            per_key[entry["type"]] = entry["count"]
    return counts
