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

Outermost transactions begin IMMEDIATE: the write lock is taken before the
first read, so a check-then-write (is the schema there? is the demo seeded?)
cannot race another process doing the same on the same file; a second writer
waits up to ``WRITE_WAIT_S`` for the lock. SQLite failures no input could
avoid (disk full, read-only file, lock held too long) surface as
``StoreWriteError`` naming the file. A file this process cannot write is
opened read-only (``mode=ro``): it can be served, never written.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import quote

from runs_server.store.ddl import DDL, SCHEMA_VERSION
from runs_server.store.errors import StoreVersionError, is_busy, write_failure
from runs_server.store.migrations import MIGRATIONS
from runs_server.store.sqlfunctions import install_functions

# Idle reader connections kept open for the next request (a connect costs
# ~0.1 ms plus the page cache it starts without).
READER_POOL_SIZE = 16
# Readers map up to this much of the store file (``PRAGMA mmap_size``): a
# history page's blobs are then read in place instead of copied page by page
# into SQLite's cache (a columnar page's SQL took a third of the time). The
# mapped pages are the OS's file cache, shared by every connection and
# worker; RSS counts those a connection touched. Idle readers are reused last
# in, first out, so that few connections (and mappings) stay warm.
READER_MMAP_BYTES = 2 * 1024 * 1024 * 1024
# SQLite VM instructions between two calls of a reader's progress handler.
PROGRESS_STEPS = 10_000
# Seconds a writer waits for another process's write lock (a demo seed or a
# load in the other process) before giving up with one line.
WRITE_WAIT_S = 60.0
OPEN_RETRY_S = 0.02


def _in_memory(path: str) -> bool:
    return path == ":memory:" or path.startswith("file::memory:") or path == ""


def writable(path: str) -> bool:
    """Whether this process may write the file (a new file: its folder)."""
    if os.path.exists(path):
        return os.access(path, os.W_OK)
    return os.access(os.path.dirname(os.path.abspath(path)), os.W_OK)


class Database:
    """The connection to a SQLite file (or ``":memory:"``), ready for the layout.

    ``read_only``: open the file for reads only; None (the default) does so
    when the file is not writable.
    """

    def __init__(
        self, path: str | os.PathLike[str] = ":memory:", read_only: bool | None = None
    ) -> None:
        self.path = str(path)
        if read_only is None:
            read_only = not _in_memory(self.path) and not writable(self.path)
        self.read_only = read_only
        self.lock = threading.RLock()
        self._depth = 0  # how many transaction() blocks are open
        self._idle: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self.conn = self._open()

    def _open(self) -> sqlite3.Connection:
        """The writer's connection, configured, the layout in place.

        A few steps of opening (switching a new file to WAL, reading a file
        another process is switching) answer "database is locked" at once
        instead of waiting; they are tried again until ``WRITE_WAIT_S``.
        """
        deadline = time.monotonic() + WRITE_WAIT_S
        while True:
            self.conn = self._connect()
            self.conn.row_factory = sqlite3.Row
            try:
                self._configure()
                self._prepare_schema()
                return self.conn
            except BaseException as exc:
                self.conn.close()
                if is_busy(exc) and time.monotonic() < deadline:
                    time.sleep(OPEN_RETRY_S)
                    continue
                failure = write_failure(exc, self.path)
                if failure is None or failure is exc:
                    raise
                raise failure from exc

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

    def _connect(self) -> sqlite3.Connection:
        if not self.read_only:
            return sqlite3.connect(
                self.path,
                timeout=WRITE_WAIT_S,
                check_same_thread=False,
                isolation_level=None,
            )
        uri = f"file:{quote(os.path.abspath(self.path))}?mode=ro"
        return sqlite3.connect(
            uri, uri=True, check_same_thread=False, isolation_level=None
        )

    def _open_reader(self) -> sqlite3.Connection:
        conn = self._connect()
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA query_only = ON")
        conn.execute("PRAGMA cache_size = -16384")  # 16 MiB per reader
        conn.execute(f"PRAGMA mmap_size = {READER_MMAP_BYTES}")
        install_functions(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock; commit once when the outermost block ends without error.

        A SQLite failure no input could avoid (full, read-only, locked) is
        raised as ``StoreWriteError``; the transaction is undone either way.
        """
        with self.lock:
            depth = self._depth
            name = f"rc_nested_{depth}"
            try:
                self.conn.execute(
                    "BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT {name}"
                )
            except sqlite3.Error as exc:
                failure = write_failure(exc, self.path)
                if failure is None:
                    raise
                raise failure from exc
            self._depth += 1
            try:
                yield self.conn
                if depth == 0:
                    self.conn.execute("COMMIT")
            except BaseException as exc:
                self._undo(depth, name)
                failure = write_failure(exc, self.path)
                if failure is not None and failure is not exc:
                    raise failure from exc
                raise
            finally:
                self._depth -= 1
            if depth > 0:
                self.conn.execute(f"RELEASE {name}")

    def _undo(self, depth: int, name: str) -> None:
        # A full disk or an I/O error may have rolled the whole transaction
        # back already (SQLite does so on its own): then there is nothing to undo.
        if not self.conn.in_transaction:
            return
        if depth == 0:
            self.conn.execute("ROLLBACK")
        else:
            self.conn.execute(f"ROLLBACK TO {name}")
            self.conn.execute(f"RELEASE {name}")

    def _configure(self) -> None:
        conn = self.conn
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA cache_size = -65536")  # 64 MiB: history pages stay hot
        install_functions(conn)  # the RE2 function the listing's SQL calls
        if self.read_only:
            conn.execute("PRAGMA query_only = ON")
        elif not self.in_memory:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")

    def _tables(self) -> set[str]:
        return {
            r[0]
            for r in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table'"
            )
        }

    def _version(self) -> int:
        row = self.conn.execute(
            "SELECT value FROM meta WHERE key='schema_version'"
        ).fetchone()
        if row is None:
            raise StoreVersionError(
                f"{self.path} has no schema_version in its meta table"
            )
        return int(row[0])

    def _prepare_schema(self) -> None:
        conn = self.conn
        tables = self._tables()
        if not tables and self.read_only:
            raise StoreVersionError(
                f"{self.path} is read-only and holds no runs_server store; "
                "pass a writable path to create one"
            )
        if not tables:
            # One script, one IMMEDIATE transaction: a crash leaves no
            # half-made schema, and a second process starting on the same new
            # file waits, then finds every table there (IF NOT EXISTS, OR IGNORE).
            conn.executescript(
                f"BEGIN IMMEDIATE;{DDL}INSERT OR IGNORE INTO meta (key, value) "
                f"VALUES ('schema_version', '{SCHEMA_VERSION}');COMMIT;"
            )
            tables = self._tables()
        if "meta" not in tables:
            raise StoreVersionError(
                f"{self.path} is not a runs_server database (it has no meta table); "
                "use a new file or ':memory:'"
            )
        version = self._version()
        if version > SCHEMA_VERSION:
            raise StoreVersionError(
                f"{self.path} has store schema version {version}, newer than this "
                f"server's version {SCHEMA_VERSION}; upgrade runs-client to open it"
            )
        if version < SCHEMA_VERSION and self.read_only:
            raise StoreVersionError(
                f"{self.path} is read-only and has store schema version {version}, "
                f"older than this server's version {SCHEMA_VERSION}; make it "
                "writable once so that it is upgraded"
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
                # Another process may have migrated while this one waited.
                if self._version() == version:
                    migrate(c)
                    c.execute(
                        "UPDATE meta SET value=? WHERE key='schema_version'",
                        (str(version + 1),),
                    )
            version = self._version()
        if not self.read_only:
            conn.executescript(DDL)  # idempotent: adds indexes a migration may lack
