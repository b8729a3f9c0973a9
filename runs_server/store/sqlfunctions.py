"""The SQL functions every store connection provides.

``rc_re2_search(pattern, value)``: 1 if the RE2 ``pattern`` is found anywhere
in ``value`` (a string), else 0. The listing's filter compiler emits calls to
it for ``$regex``. RE2 runs in linear time, so no pattern can stall the server.

``rc_cut_row(row, keys)``: the stored history ``row`` cut to ``keys`` (a JSON
array of strings) as strict JSON text (``jsonrows.cut_text``).
``sampledHistory`` calls it for the rows SQLite cannot cut itself: rows with
bare NaN/Infinity tokens, which are not JSON to SQLite.
"""

from __future__ import annotations

import functools
import sqlite3
from typing import Any

import orjson
import re2

from runs_server.store import jsonrows

__all__ = [
    "CUT_ROW_FUNCTION",
    "REGEX_FUNCTION",
    "compiled_regex",
    "install_functions",
]

REGEX_FUNCTION = "rc_re2_search"
CUT_ROW_FUNCTION = "rc_cut_row"

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # callers report bad patterns; keep stderr clean


@functools.lru_cache(maxsize=256)
def compiled_regex(pattern: str) -> Any:
    """``pattern`` compiled by RE2 (cached); raises ``re2.error`` when invalid."""
    return re2.compile(pattern, _OPTIONS)


def _search(pattern: object, value: object) -> int:
    # Never raise inside SQLite: a raising UDF becomes an OperationalError.
    if not isinstance(pattern, str) or not isinstance(value, str):
        return 0
    try:
        return 1 if compiled_regex(pattern).search(value) is not None else 0
    except Exception:
        return 0


def _cut_row(row: str, keys: str) -> str:
    # Stored rows were decoded when logged, so this cannot fail on good data;
    # on a damaged file SQLite reports the exception as an error (a row is
    # never silently left out, as a NULL would be by group_concat).
    return jsonrows.cut_text(row, orjson.loads(keys))


def install_functions(conn: sqlite3.Connection) -> None:
    """Register the store's SQL functions on ``conn``. Call once per connection."""
    conn.create_function(REGEX_FUNCTION, 2, _search, deterministic=True)
    conn.create_function(CUT_ROW_FUNCTION, 2, _cut_row, deterministic=True)
