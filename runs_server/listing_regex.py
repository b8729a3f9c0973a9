"""RE2 ``$regex`` support: validation at compile time, a SQLite function at run time.

RE2 runs in linear time, so no pattern can stall the server.
"""

from __future__ import annotations

import functools
import sqlite3
from typing import Any

import re2

from runs_server.listing_errors import FilterError

__all__ = ["REGEX_FUNCTION", "compile_regex", "install_functions"]

REGEX_FUNCTION = "rc_re2_search"
MAX_PATTERN_CHARS = 10_000

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # errors become FilterError; keep stderr clean


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    return re2.compile(pattern, _OPTIONS)


def compile_regex(pattern: str) -> None:
    """Check that ``pattern`` is a valid RE2 pattern, or raise FilterError."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise FilterError(
            f"$regex pattern is {len(pattern)} characters long; "
            f"at most {MAX_PATTERN_CHARS} are accepted"
        )
    try:
        _compiled(pattern)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise FilterError(
            f"invalid $regex {pattern!r}: {detail}; accepted: an RE2 pattern "
            "(https://github.com/google/re2/wiki/Syntax), searched, not anchored"
        ) from None


def _search(pattern: object, value: object) -> int:
    # Never raise inside SQLite: a raising UDF becomes an OperationalError.
    if not isinstance(pattern, str) or not isinstance(value, str):
        return 0
    try:
        return 1 if _compiled(pattern).search(value) is not None else 0
    except Exception:
        return 0


def install_functions(conn: sqlite3.Connection) -> None:
    """Register the SQL functions listing queries use on ``conn``.

    Currently ``rc_re2_search(pattern, value)``: 1 if the RE2 ``pattern`` is found
    anywhere in ``value`` (a string), else 0. Call once per connection.
    """
    conn.create_function(REGEX_FUNCTION, 2, _search, deterministic=True)
