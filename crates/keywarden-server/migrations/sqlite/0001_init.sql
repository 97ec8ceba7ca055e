-- Keywarden key server, schema 1 (SQLite). Migrations are only ever added, never edited.
CREATE TABLE objects (
    kind        TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    unique_name TEXT    UNIQUE,
    body        TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE changes (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    kind    TEXT    NOT NULL,
    id      TEXT    NOT NULL,
    version INTEGER NOT NULL,
    body    TEXT,
    actor   TEXT    NOT NULL,
    at      INTEGER NOT NULL
);
CREATE TABLE audit (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    target TEXT    NOT NULL,
    detail TEXT    NOT NULL
);
CREATE INDEX audit_actor ON audit (actor, seq);
CREATE INDEX audit_target ON audit (target, seq);
CREATE TABLE idempotency (
    actor        TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    status       INTEGER,
    body         TEXT,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (actor, key)
);
CREATE TABLE passwords (
    principal_id TEXT    PRIMARY KEY,
    hash         TEXT    NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE TABLE sessions (
    digest       TEXT    PRIMARY KEY,
    principal_id TEXT    NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE TABLE key_usage (
    key_id       TEXT    PRIMARY KEY,
    last_used_at INTEGER NOT NULL
);
