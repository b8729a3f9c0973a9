-- A runs_server store file written by layout version 5 (Connection.iterdump()).
-- Kept so that later layouts prove their migration opens it; never edit.
BEGIN TRANSACTION;
CREATE TABLE console_lines (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    line INTEGER NOT NULL,             -- a line sent again replaces the old text
    text TEXT NOT NULL,
    PRIMARY KEY (run_id, line)
) WITHOUT ROWID;
CREATE TABLE entities (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
INSERT INTO "entities" VALUES(1,'lab');
INSERT INTO "entities" VALUES(2,'team');
CREATE TABLE events (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    timestamp REAL NOT NULL,
    row TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
INSERT INTO "events" VALUES(1,0,1714564800.0,'{"_timestamp":1714564800.0,"system.cpu":12}');
CREATE TABLE history (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    row TEXT NOT NULL,                 -- the row as served: JSON text, NaN tokens kept
    PRIMARY KEY (run_id, step)
) WITHOUT ROWID;
INSERT INTO "history" VALUES(1,0,'{"_step": 0, "loss": NaN}');
INSERT INTO "history" VALUES(1,1,'{"_step":1,"loss":0.5}');
CREATE TABLE history_columns (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    first_step INTEGER NOT NULL,       -- one chunk per key per log call:
    last_step INTEGER NOT NULL,        -- chunks of a key never overlap
    steps TEXT NOT NULL,               -- JSON array: the steps whose rows hold key
    vals TEXT NOT NULL,                -- JSON array: their values, strict JSON
    PRIMARY KEY (run_id, key, first_step)
) WITHOUT ROWID;
INSERT INTO "history_columns" VALUES(1,'_step',0,1,'[0,1]','[0,1]');
INSERT INTO "history_columns" VALUES(1,'loss',0,1,'[0,1]','["NaN",0.5]');
CREATE TABLE memberships (
    user_id INTEGER NOT NULL REFERENCES users(id),
    entity_id INTEGER NOT NULL REFERENCES entities(id),
    PRIMARY KEY (user_id, entity_id)
);
INSERT INTO "memberships" VALUES(1,1);
INSERT INTO "memberships" VALUES(1,2);
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO "meta" VALUES('schema_version','5');
CREATE TABLE projects (
    id INTEGER PRIMARY KEY,
    entity_id INTEGER NOT NULL REFERENCES entities(id),
    name TEXT NOT NULL,
    private INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    UNIQUE (entity_id, name)
);
INSERT INTO "projects" VALUES(1,1,'mnist',0,'2024-05-01T12:00:00');
CREATE TABLE run_controls (
    run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    exitcode INTEGER                   -- reported by the last file_stream post
);
CREATE TABLE run_files (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    content BLOB,                      -- NULL until uploaded
    size_bytes INTEGER NOT NULL DEFAULT 0,
    md5 TEXT,                          -- base64 of the MD5 digest, as W&B serves it
    updated_at TEXT NOT NULL,
    UNIQUE (run_id, name)
);
CREATE TABLE runs (
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
INSERT INTO "runs" VALUES(1,1,'r1','r1','finished','{"lr":{"value":0.1,"desc":null}}','{"lr":{"value":0.1,"desc":null}}','{"x":1,"_step":1,"loss":0.5}','{"x":1,"_step":1,"loss":0.5}','{"system.cpu":12}','["a"]',NULL,NULL,NULL,NULL,NULL,NULL,'sw1',1,'ada','2024-05-01T12:00:00','2024-05-01T12:10:00','2024-05-01T12:10:00','{"_step":{"typeCounts":[{"type":"number","count":2}]},"loss":{"typeCounts":[{"type":"number","count":2}]}}',2,1);
CREATE TABLE stream_offsets (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    file TEXT NOT NULL,                -- wandb-history.jsonl, output.log, ...
    next_offset INTEGER NOT NULL,      -- lines taken: where the next chunk starts
    PRIMARY KEY (run_id, file)
) WITHOUT ROWID;
CREATE TABLE sweeps (
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
INSERT INTO "sweeps" VALUES(1,1,'sw1',NULL,'bayes','FINISHED',NULL,'method: bayes
',NULL,NULL,'2024-05-01T12:00:00',NULL);
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    name TEXT,
    email TEXT,
    entity_id INTEGER NOT NULL REFERENCES entities(id),
    api_key TEXT UNIQUE,
    admin INTEGER NOT NULL DEFAULT 0
);
INSERT INTO "users" VALUES(1,'ada',NULL,NULL,1,'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk',0);
CREATE INDEX runs_project_created ON runs (project_id, created_at, name);
COMMIT;
