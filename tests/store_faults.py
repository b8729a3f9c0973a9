"""Store faults for tests: a full disk, and waits on another process's lock.

``disk_full_after(pages)`` makes every store opened inside it unable to grow
its file by more than ``pages`` pages (SQLite's ``max_page_count``): past
that, SQLite fails the write with SQLITE_FULL, exactly as on a full disk.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from runs_server.store.database import Database

__all__ = ["disk_full_after", "wait_for_write_lock"]


@contextmanager
def disk_full_after(pages: int) -> Iterator[None]:
    real = Database._configure

    def limited(self: Database) -> None:
        real(self)
        held = int(self.conn.execute("PRAGMA page_count").fetchone()[0])
        self.conn.execute(f"PRAGMA max_page_count = {held + pages}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Database, "_configure", limited)
        yield


def write_lock_held(db: Path) -> bool:
    """Whether another connection holds ``db``'s write lock right now."""
    conn = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
        return True
    finally:
        conn.close()


def wait_for_write_lock(db: Path, *, seconds: float = 60) -> None:
    """Return once another process holds ``db``'s write lock (a deadline)."""
    deadline = time.monotonic() + seconds
    while not (db.exists() and write_lock_held(db)):
        if time.monotonic() > deadline:
            raise AssertionError(f"nobody took the write lock of {db} in {seconds} s")
        time.sleep(0.005)
