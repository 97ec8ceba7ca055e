-- Metadata of secrets. Values are never stored here: they live in the secret store,
-- keyed by `secrets.id`. `state` records an operation in flight on the store so that
-- an interruption between the database and the store can be repaired on next start.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE secrets (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL COLLATE NOCASE UNIQUE,
    description         TEXT NOT NULL DEFAULT '',
    tags                TEXT NOT NULL DEFAULT '[]',
    environment         TEXT,
    enabled             INTEGER NOT NULL DEFAULT 1,
    allowed_hosts       TEXT NOT NULL DEFAULT '[]',
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    last_used_at        INTEGER,
    expires_at          INTEGER,
    fingerprint         TEXT NOT NULL,
    version             INTEGER NOT NULL DEFAULT 1,
    state               TEXT NOT NULL DEFAULT 'active'
                        CHECK (state IN ('creating', 'active', 'replacing', 'deleting')),
    pending_fingerprint TEXT
) STRICT;

CREATE INDEX secrets_state ON secrets (state) WHERE state <> 'active';

-- Every value a secret has had, by fingerprint only.
CREATE TABLE secret_versions (
    secret_id   TEXT NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER,
    PRIMARY KEY (secret_id, version)
) STRICT;
