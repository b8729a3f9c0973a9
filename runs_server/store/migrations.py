"""Upgrades of files written by older layouts, keyed by the version they start from.

The rule: every change of ``ddl.DDL`` raises ``SCHEMA_VERSION`` by one and adds
``MIGRATIONS[old_version]``, a function that upgrades a connection from the
previous layout, together with a test that opens a file written by that
previous layout (``tests/server/test_store_migrations.py`` keeps the files).
A change of what a column holds (not only of ``DDL``) counts as a layout change.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from runs_server.store import jsonrows


def _v1_query_copies(conn: sqlite3.Connection) -> None:
    """1 -> 2: the query copies (``config_q``, ``summary_metrics_q``) held NaN and
    the infinities as the strings "NaN"/"Infinity"/"-Infinity", so a logged
    string "NaN" could not be told from a NaN, and infinities were not numbers.
    Rewrite them from the stored text (``jsonrows.dumps_query``)."""
    rows = conn.execute("SELECT id, config, summary_metrics FROM runs").fetchall()
    conn.executemany(
        "UPDATE runs SET config_q=?, summary_metrics_q=? WHERE id=?",
        [
            (
                jsonrows.dumps_query(jsonrows.loads(config)),
                jsonrows.dumps_query(jsonrows.loads(summary)),
                run_id,
            )
            for run_id, config, summary in rows
        ],
    )


def _v2_history_values(conn: sqlite3.Connection) -> None:
    """2 -> 3: layout 3 added ``history_values``; it is created empty here,
    because the next step (3 -> 4) drops it, so filling it would be wasted."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS history_values (run_id INTEGER NOT NULL, "
        "key TEXT NOT NULL, step INTEGER NOT NULL, value TEXT NOT NULL, pair TEXT, "
        "PRIMARY KEY (run_id, key, step)) WITHOUT ROWID"
    )


def _v3_drop_history_values(conn: sqlite3.Connection) -> None:
    """3 -> 4: ``sampledHistory`` cuts the kept rows from ``history`` in SQL, so
    the per-value copy of every row (``history_values``) is no longer kept."""
    conn.execute("DROP TABLE IF EXISTS history_values")


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _v1_query_copies,
    2: _v2_history_values,
    3: _v3_drop_history_values,
}
