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
from runs_server.store.ddl import WRITE_PATH_DDL


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
    because the next step (3 -> 4) replaces it, so filling it would be wasted."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS history_values (run_id INTEGER NOT NULL, "
        "key TEXT NOT NULL, step INTEGER NOT NULL, value TEXT NOT NULL, pair TEXT, "
        "PRIMARY KEY (run_id, key, step)) WITHOUT ROWID"
    )


def _v3_history_columns(conn: sqlite3.Connection) -> None:
    """3 -> 4: ``history_values`` (one row per logged value) gives way to
    ``history_columns`` (per run and key, its steps and values as JSON
    arrays), filled from the stored rows; ``history.keys`` is dropped."""
    conn.execute("DROP TABLE IF EXISTS history_values")
    conn.execute("ALTER TABLE history DROP COLUMN keys")  # read by no query now
    conn.execute(
        """CREATE TABLE IF NOT EXISTS history_columns (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    first_step INTEGER NOT NULL,       -- one chunk per key per log call:
    last_step INTEGER NOT NULL,        -- chunks of a key never overlap
    steps TEXT NOT NULL,               -- JSON array: the steps whose rows hold key
    vals TEXT NOT NULL,                -- JSON array: their values, strict JSON
    PRIMARY KEY (run_id, key, first_step)
) WITHOUT ROWID"""
    )
    runs = [r[0] for r in conn.execute("SELECT DISTINCT run_id FROM history")]
    for run in runs:
        rows = conn.execute(
            "SELECT step, row FROM history WHERE run_id=? ORDER BY step", (run,)
        )
        conn.executemany(
            "INSERT INTO history_columns "
            "(run_id, key, first_step, last_step, steps, vals) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            jsonrows.column_records(
                run, ((step, jsonrows.loads(text)) for step, text in rows)
            ),
        )


def _v4_write_path(conn: sqlite3.Connection) -> None:
    """4 -> 5: the write path's tables (file_stream offsets, console lines,
    uploaded files, stop requests) are created empty: runs written before
    had none of these."""
    for statement in WRITE_PATH_DDL.split(";"):
        if statement.strip():
            conn.execute(statement)


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _v1_query_copies,
    2: _v2_history_values,
    3: _v3_history_columns,
    4: _v4_write_path,
}
