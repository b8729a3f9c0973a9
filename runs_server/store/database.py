"""SQLite connections, the writer's lock, transactions and the schema version.

One connection writes; a re-entrant lock serialises its use across threads.
Every write runs inside ``transaction()``: the outermost block is one SQLite
transaction (one commit), a nested block joins it as a savepoint, so a failure
inside it undoes only its own writes when the caller handles the error.

Reads of a request go through ``reader()``. A file store (WAL mode) hands each
reader a pooled connection of its own inside one read transaction: readers see
a consistent snapshot, never wait for each other or for the writer, and can be
interrupted alone (``progress``). An in-memory store has one connection only,
so its readers take the lock and use it in turn.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from runs_server.store.ddl import DDL, SCHEMA_VERSION
from runs_server.store.errors import StoreVersionError
from runs_server.store.migrations import MIGRATIONS
from runs_server.store.sqlfunctions import install_functions

# Idle reader connections kept open for the next request (a connect costs
# ~0.1 ms plus the page cache it starts without).
READER_POOL_SIZE = 16
# SQLite VM instructions between two calls of a reader's progress handler.
PROGRESS_STEPS = 10_000


def _in_memory(path: str) -> bool:
    return path == ":memory:" or path.startswith("file::memory:") or path == ""


class Database:
    """The connection to a SQLite file (or ``":memory:"``), ready for the layout."""

    def __init__(self, path: str | os.PathLike[str] = ":memory:") -> None:
        self.path = str(path)
        self.lock = threading.RLock()
        self._depth = 0  # how many transaction() blocks are open
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self.conn = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None
        )
        self.conn.row_factory = sqlite3.Row
        try:
            self._configure()
            self._prepare_schema()
        except BaseException:
            self.conn.close()
            raise

    @property
    def in_memory(self) -> bool:
        return _in_memory(self.path)

    def close(self) -> None:
        with self.lock:
            self.conn.close()
            while not self._idle.empty():
                self._idle.get_nowait().close()

    @contextmanager
    def reader(
        self, progress: Callable[[], int] | None = None
    ) -> Iterator[sqlite3.Connection]:
        """A connection for reads only, inside one read transaction.

        ``progress`` is called every ``PROGRESS_STEPS`` SQLite instructions; a
        non-zero return interrupts the running statement (it raises
        ``sqlite3.OperationalError``).
        """
        if self.in_memory:
            with self.lock:
                self.conn.set_progress_handler(progress, PROGRESS_STEPS)
                try:
                    yield self.conn
                finally:
                    self.conn.set_progress_handler(None, 0)
            return
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self._open_reader()
        conn.set_progress_handler(progress, PROGRESS_STEPS)
        reusable = False
        try:
            conn.execute("BEGIN")
            yield conn
            reusable = True
        finally:
            conn.set_progress_handler(None, 0)
            try:
                conn.execute("ROLLBACK")  # reads only: nothing to keep
            except sqlite3.Error:
                reusable = False
            if reusable and self._idle.qsize() < READER_POOL_SIZE:
                self._idle.put(conn)
            else:
                conn.close()

    def _open_reader(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA query_only = ON")
        conn.execute("PRAGMA cache_size = -16384")  # 16 MiB per reader
        install_functions(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock; commit once when the outermost block ends without error."""
        with self.lock:
            depth = self._depth
            name = f"rc_nested_{depth}"
            self.conn.execute("BEGIN" if depth == 0 else f"SAVEPOINT {name}")
            self._depth += 1
            try:
                yield self.conn
            except BaseException:
                if depth == 0:
                    self.conn.execute("ROLLBACK")
                else:
                    self.conn.execute(f"ROLLBACK TO {name}")
                    self.conn.execute(f"RELEASE {name}")
                raise
            finally:
                self._depth -= 1
            self.conn.execute("COMMIT" if depth == 0 else f"RELEASE {name}")

    def _configure(self) -> None:
        conn = self.conn
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA cache_size = -65536")  # 64 MiB: history pages stay hot
        if not self.in_memory:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        install_functions(conn)  # the RE2 function the listing's SQL calls

    def _prepare_schema(self) -> None:
        conn = self.conn
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
            with self.transaction() as c:
                migrate(c)
                version += 1
                c.execute(
                    "UPDATE meta SET value=? WHERE key='schema_version'",
                    (str(version),),
                )
        conn.executescript(DDL)  # idempotent: adds indexes a migration may lack
