"""``Store``: one database file and the parts of it callers ask for.

``store.users`` (entities, users, keys), ``store.projects`` (projects, sweeps,
read access), ``store.runs`` (add, find, update, delete) and ``store.history``
(history and events rows), and the write path's ``store.upserts``,
``store.streams`` and ``store.files`` share one connection and its lock;
``store.transaction()`` groups their writes into one commit.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from runs_server.store.database import Database
from runs_server.store.history_rows import HistoryRows
from runs_server.store.projects import Projects
from runs_server.store.run_files import RunFiles
from runs_server.store.run_upserts import RunUpserts
from runs_server.store.runs import Runs
from runs_server.store.streams import Streams
from runs_server.store.users import Users


class Store:
    """A SQLite file (or ``":memory:"``) holding entities, projects and runs."""

    def __init__(
        self, path: str | os.PathLike[str] = ":memory:", read_only: bool | None = None
    ) -> None:
        """``read_only``: reads only (every write raises ``StoreWriteError``);
        None opens a file this process cannot write read-only."""
        self._db = Database(path, read_only)
        self.users = Users(self._db)
        self.projects = Projects(self._db)
        self.runs = Runs(self._db, self.projects)
        self.history = HistoryRows(self._db)
        # The write path's parts (upsertBucket, file_stream, uploaded files).
        self.upserts = RunUpserts(self._db)
        self.streams = Streams(self._db)
        self.files = RunFiles(self._db)

    @property
    def path(self) -> str:
        return self._db.path

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection; hold ``lock`` while using it from several threads."""
        return self._db.conn

    @property
    def lock(self) -> threading.RLock:
        return self._db.lock

    @property
    def read_only(self) -> bool:
        return self._db.read_only

    @property
    def in_memory(self) -> bool:
        """An in-memory store serves one reader at a time (one connection)."""
        return self._db.in_memory

    def reader(
        self, progress: Callable[[], int] | None = None
    ) -> AbstractContextManager[sqlite3.Connection]:
        """A read-only connection with a consistent snapshot (see ``Database``)."""
        return self._db.reader(progress)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes: one commit at the end, all undone if the block raises.

        Writes inside (``store.runs.add``, ``store.history.log``, ...) join the
        group; other threads wait for the lock until it ends.
        """
        with self._db.transaction():
            yield

    def get_meta(self, key: str) -> str | None:
        with self._db.lock:
            row = self._db.conn.execute(
                "SELECT value FROM meta WHERE key=?", (key,)
            ).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._db.transaction() as c:
            c.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value),
            )
