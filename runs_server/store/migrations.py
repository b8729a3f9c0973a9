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


def add_history_values(conn: sqlite3.Connection) -> None:
    """Layout 2 -> 3: ``history_values``, each history value's JSON text (and
    its ``[_step, key]`` row) by (run, key, step), filled from the stored rows
    (``sampledHistory`` reads it)."""
    conn.execute(
        """CREATE TABLE IF NOT EXISTS history_values (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    step INTEGER NOT NULL,
    value TEXT NOT NULL,               -- the row's value of key, as JSON text
    pair TEXT,                         -- the row a [_step, key] spec returns
    PRIMARY KEY (run_id, key, step)    -- sampledHistory reads a key's rows in order
) WITHOUT ROWID"""
    )
    cursor = conn.execute("SELECT run_id, step, row FROM history")
    while batch := cursor.fetchmany(10_000):
        records = [
            record
            for run, step, text in batch
            for record in jsonrows.value_records(run, step, jsonrows.loads(text))
        ]
        conn.executemany(
            "INSERT INTO history_values (run_id, key, step, value, pair) "
            "VALUES (?, ?, ?, ?, ?)",
            records,
        )


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _v1_query_copies,
    2: add_history_values,
}
