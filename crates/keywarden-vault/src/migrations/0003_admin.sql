-- Offline-first administration (crate keywarden-admin). No secret ever lands here:
-- admin credentials and generated keys live in the secret store; keys appear by id,
-- digest-free display prefix and the vault secret that holds them.

-- Key servers this profile administers. `embedded` connections run a local
-- keywarden-server whose database lives in the data directory; their URL is found at start.
CREATE TABLE admin_connections (
    name         TEXT PRIMARY KEY,
    url          TEXT NOT NULL,
    ca_pem       TEXT,
    auth         TEXT NOT NULL CHECK (auth IN ('key', 'session', 'embedded')),
    username     TEXT,
    cursor       INTEGER NOT NULL DEFAULT 0,
    last_sync_at INTEGER,
    last_error   TEXT,
    created_at   INTEGER NOT NULL
) STRICT;

-- The local view: the last known server state of every object, plus what queued
-- actions intend (optimistic). `id` is the server id, or `local-<uuid>` until the
-- object's create action has been applied.
CREATE TABLE admin_objects (
    connection TEXT NOT NULL,
    kind       TEXT NOT NULL,
    id         TEXT NOT NULL,
    version    INTEGER NOT NULL DEFAULT 0,
    body       TEXT NOT NULL,
    deleted    INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (connection, kind, id)
) STRICT;

-- The outbox: one row per admin action, written in the same transaction as its
-- effect on the local view (synchronous=FULL). `idem_key` is sent as Idempotency-Key
-- on every attempt. Actions on one object (and on objects they depend on) are sent in
-- `seq` order.
CREATE TABLE admin_outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    connection      TEXT NOT NULL,
    idem_key        TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    object_id       TEXT NOT NULL,
    action          TEXT NOT NULL,
    summary         TEXT NOT NULL DEFAULT '',
    method          TEXT NOT NULL,
    path            TEXT NOT NULL,
    body            TEXT,
    if_match        TEXT NOT NULL CHECK (if_match IN ('omit', 'any', 'version')),
    base_version    INTEGER NOT NULL DEFAULT 0,
    deps            TEXT NOT NULL DEFAULT '[]',
    new_object_id   TEXT,
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'failed', 'conflict', 'done', 'discarded')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    server_object   TEXT,
    server_version  INTEGER,
    result          TEXT,
    vault_step      TEXT,
    created_at      INTEGER NOT NULL,
    done_at         INTEGER
) STRICT;

CREATE INDEX admin_outbox_open ON admin_outbox (connection, seq)
    WHERE state IN ('queued', 'failed', 'conflict');
CREATE INDEX admin_outbox_object ON admin_outbox (connection, object_id)
    WHERE state IN ('queued', 'failed', 'conflict');

-- Every object id an outbox row names (its object, its dependencies, the successor of a
-- rotation), so that mapping a local id touches only the rows that use it.
CREATE TABLE admin_outbox_refs (
    ref TEXT NOT NULL,
    seq INTEGER NOT NULL REFERENCES admin_outbox (seq) ON DELETE CASCADE,
    PRIMARY KEY (ref, seq)
) STRICT, WITHOUT ROWID;

-- Local ids of objects created offline, and the server ids they became.
CREATE TABLE admin_id_map (
    connection TEXT NOT NULL,
    local_id   TEXT NOT NULL,
    server_id  TEXT NOT NULL,
    PRIMARY KEY (connection, local_id)
) STRICT;

-- Keys generated here and kept in the local vault: which secret holds which key.
CREATE TABLE admin_key_secrets (
    connection TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    secret_id  TEXT NOT NULL,
    PRIMARY KEY (connection, key_id)
) STRICT;
