"""The store's errors, and the SQLite failures that are not the input's fault."""

from __future__ import annotations

import sqlite3

# SQLite's primary result codes (the low byte of an extended code).
_BUSY, _READONLY, _FULL = 5, 8, 13
_BY_TEXT = {  # Python 3.10's sqlite3 errors carry no code, only SQLite's text
    "database or disk is full": _FULL,
    "attempt to write a readonly database": _READONLY,
    "database is locked": _BUSY,
}


class StoreError(Exception):
    """A store operation that cannot be done as asked."""


class StoreVersionError(StoreError):
    """The database file was written by an incompatible server version."""


class StoreWriteError(StoreError):
    """A write the store cannot make whatever it is asked to write: the disk
    is full, the file is read-only, or another process holds the write lock.
    Nothing of the failed transaction was kept."""


def _primary(exc: BaseException) -> int | None:
    if not isinstance(exc, sqlite3.Error):
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else _BY_TEXT.get(str(exc))


def is_busy(exc: BaseException) -> bool:
    """A SQLite "database is locked": another connection holds a lock."""
    return _primary(exc) == _BUSY


def write_failure(exc: BaseException, path: str) -> StoreWriteError | None:
    """The ``StoreWriteError`` for a SQLite error that no input could avoid
    (full, read-only, locked), or None when the error may be the input's."""
    if isinstance(exc, StoreWriteError):
        return exc
    primary = _primary(exc)
    where = "memory" if path in ("", ":memory:") else path
    if primary == _FULL:
        return StoreWriteError(
            f"{where} is full (the disk holding it, or its size limit): {exc}; "
            "free some space and try again"
        )
    if primary == _READONLY:
        return StoreWriteError(
            f"{where} is read-only: {exc}; make the file (and its folder) "
            "writable, or only serve it"
        )
    if primary == _BUSY:
        return StoreWriteError(
            f"{where} is locked by another process writing to it: {exc}; "
            "try again when that process is done"
        )
    return None
