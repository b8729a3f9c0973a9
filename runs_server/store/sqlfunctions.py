"""The SQL functions every store connection provides.

``rc_re2_search(pattern, value)``: 1 if the RE2 ``pattern`` is found anywhere
in ``value`` (a string), else 0. The listing's filter compiler emits calls to
it for ``$regex``. RE2 runs in linear time, so no pattern can stall the server.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import re2

__all__ = ["REGEX_FUNCTION", "compiled_regex", "install_functions", "request_patterns"]

REGEX_FUNCTION = "rc_re2_search"

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # callers report bad patterns; keep stderr clean


# The patterns of the request running on this thread (see request_patterns).
_local = threading.local()


@functools.lru_cache(maxsize=256)
def _shared(pattern: str) -> Any:
    return re2.compile(pattern, _OPTIONS)


def compiled_regex(pattern: str) -> Any:
    """``pattern`` compiled by RE2 (cached); raises ``re2.error`` when invalid.

    Within ``request_patterns`` a pattern, once compiled, is kept for the
    rest of the request whatever other requests put in the shared cache.
    """
    mine: dict[str, Any] | None = getattr(_local, "patterns", None)
    if mine is None:
        return _shared(pattern)
    found = mine.get(pattern)
    if found is None:
        found = mine[pattern] = _shared(pattern)
    return found


@contextmanager
def request_patterns() -> Iterator[None]:
    """Keep the patterns this thread compiles until the block ends (a request;
    the listing bounds how many)."""
    _local.patterns = {}
    try:
        yield
    finally:
        _local.patterns = None


def _search(pattern: object, value: object) -> int:
    # Never raise inside SQLite: a raising UDF becomes an OperationalError.
    if not isinstance(pattern, str) or not isinstance(value, str):
        return 0
    try:
        return 1 if compiled_regex(pattern).search(value) is not None else 0
    except Exception:
        return 0


def install_functions(conn: sqlite3.Connection) -> None:
    """Register the store's SQL functions on ``conn``. Call once per connection."""
    conn.create_function(REGEX_FUNCTION, 2, _search, deterministic=True)
