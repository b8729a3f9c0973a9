"""The SQLite layout of the local server's store.

One place for the tables so that the store, the filter compiler and the
resolvers agree on column names. JSON columns hold JSON text. Columns ending in
``_q`` hold a query copy of a JSON column that SQLite's JSON1 can read: bare
``NaN``/``Infinity`` tokens (valid for W&B, rejected by SQLite 3.40) are
replaced there by ``1e999``/``-1e999`` (reals: infinities) and the marker
object ``{"": "NaN"}`` (see ``jsonrows.dumps_query``); the original text is
what is served. Version 2 changed the query copy (version 1 held the strings
``"NaN"``, ``"Infinity"``, ``"-Infinity"``), not the tables. Version 3 added
``history_values`` (each logged value's text, for ``sampledHistory``);
version 4 replaced it by ``history_columns`` (a key's steps and values as two
JSON arrays per log call): one write per key and call instead of one per
value, and ``sampledHistory`` reads whole columns. Version 4 also dropped
``history.keys`` (each row's key list), which only the old AND rule read.
Version 5 added the write path's tables: ``stream_offsets`` (how many lines
of each file_stream file a run took: a retried chunk is not taken twice),
``console_lines`` (output.log), ``run_files`` (uploaded files) and
``run_controls`` (stop requests, exit codes).
"""

from __future__ import annotations

SCHEMA_VERSION = 5

# Layout 5's tables (the write path); also what migration 4 -> 5 runs.
WRITE_PATH_DDL = """
CREATE TABLE IF NOT EXISTS stream_offsets (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    file TEXT NOT NULL,                -- wandb-history.jsonl, output.log, ...
    next_offset INTEGER NOT NULL,      -- lines taken: where the next chunk starts
    PRIMARY KEY (run_id, file)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS console_lines (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    line INTEGER NOT NULL,             -- a line sent again replaces the old text
    text TEXT NOT NULL,
    PRIMARY KEY (run_id, line)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS run_files (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    content BLOB,                      -- NULL until uploaded
    size_bytes INTEGER NOT NULL DEFAULT 0,
    md5 TEXT,                          -- base64 of the MD5 digest, as W&B serves it
    updated_at TEXT NOT NULL,
    UNIQUE (run_id, name)
);
CREATE TABLE IF NOT EXISTS run_controls (
    run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    exitcode INTEGER                   -- reported by the last file_stream post
);
"""

DDL = (
    """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS entities (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    name TEXT,
    email TEXT,
    entity_id INTEGER NOT NULL REFERENCES entities(id),
    api_key TEXT UNIQUE,
    admin INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS memberships (
    user_id INTEGER NOT NULL REFERENCES users(id),
    entity_id INTEGER NOT NULL REFERENCES entities(id),
    PRIMARY KEY (user_id, entity_id)
);
CREATE TABLE IF NOT EXISTS projects (
    id INTEGER PRIMARY KEY,
    entity_id INTEGER NOT NULL REFERENCES entities(id),
    name TEXT NOT NULL,
    private INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    UNIQUE (entity_id, name)
);
CREATE TABLE IF NOT EXISTS sweeps (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    name TEXT NOT NULL,
    display_name TEXT,
    method TEXT,
    state TEXT,
    description TEXT,
    config TEXT,
    best_loss REAL,
    run_count_expected INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT,
    UNIQUE (project_id, name)
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,            -- storage id (Run.id is derived from it)
    project_id INTEGER NOT NULL REFERENCES projects(id),
    name TEXT NOT NULL,                -- the run id (Run.name)
    display_name TEXT,
    state TEXT NOT NULL,
    config TEXT NOT NULL DEFAULT '{}', -- {"key": {"value": ..., "desc": ...}, ...}
    config_q TEXT NOT NULL DEFAULT '{}',
    summary_metrics TEXT NOT NULL DEFAULT '{}',
    summary_metrics_q TEXT NOT NULL DEFAULT '{}',
    system_metrics TEXT NOT NULL DEFAULT '{}',
    tags TEXT NOT NULL DEFAULT '[]',   -- JSON array of strings
    group_name TEXT,
    job_type TEXT,
    commit_hash TEXT,
    host TEXT,
    notes TEXT,
    description TEXT,
    sweep_name TEXT,
    user_id INTEGER REFERENCES users(id),
    username TEXT,                     -- denormalised for filters
    created_at TEXT NOT NULL,          -- zone-less UTC ISO, e.g. 2024-05-01T12:00:00
    heartbeat_at TEXT,
    updated_at TEXT,
    history_keys TEXT NOT NULL DEFAULT '{}',  -- {"key": {...}} without lastStep
    history_line_count INTEGER NOT NULL DEFAULT 0,
    last_step INTEGER,
    UNIQUE (project_id, name)
);
CREATE INDEX IF NOT EXISTS runs_project_created ON runs (project_id, created_at, name);
CREATE TABLE IF NOT EXISTS history (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    row TEXT NOT NULL,                 -- the row as served: JSON text, NaN tokens kept
    PRIMARY KEY (run_id, step)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history_columns (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    first_step INTEGER NOT NULL,       -- one chunk per key per log call:
    last_step INTEGER NOT NULL,        -- chunks of a key never overlap
    steps TEXT NOT NULL,               -- JSON array: the steps whose rows hold key
    vals TEXT NOT NULL,                -- JSON array: their values, strict JSON
    PRIMARY KEY (run_id, key, first_step)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    timestamp REAL NOT NULL,
    row TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
"""
    + WRITE_PATH_DDL
)
