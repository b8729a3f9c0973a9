"""Upgrades of files written by older layouts, keyed by the version they start from.

The rule: every change of ``ddl.DDL`` raises ``SCHEMA_VERSION`` by one and adds
``MIGRATIONS[old_version]``, a function that upgrades a connection from the
previous layout, together with a test that opens a file written by that
previous layout (``tests/server/test_store_migrations.py`` keeps the files).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from runs_server.store import jsonrows


def add_history_values(conn: sqlite3.Connection) -> None:
    """Layout 1 -> 2: ``history_values``, each history value's JSON text (and
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
    1: add_history_values,
}
