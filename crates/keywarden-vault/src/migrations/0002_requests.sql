-- Key profiles: how a stored secret is presented (header, Basic, JWT, query parameter)
-- and where it may be sent. `spec` is JSON owned by keywarden-request.
CREATE TABLE profiles (
    name       TEXT PRIMARY KEY COLLATE NOCASE,
    spec       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- Named environments with their variables (`${env.NAME}`); `spec` is JSON.
CREATE TABLE environments (
    name       TEXT PRIMARY KEY COLLATE NOCASE,
    spec       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- Saved requests, grouped in collections. Only templates are stored, never rendered values.
CREATE TABLE saved_requests (
    id         TEXT PRIMARY KEY,
    collection TEXT NOT NULL DEFAULT 'Default',
    name       TEXT NOT NULL,
    spec       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (collection, name)
) STRICT;

-- Request history: the templates that were sent and the fingerprints of the secrets
-- that went into them, never the rendered text.
CREATE TABLE history (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    sent_at      INTEGER NOT NULL,
    spec         TEXT NOT NULL,
    secrets      TEXT NOT NULL DEFAULT '[]',
    status       INTEGER,
    error        TEXT,
    duration_ms  INTEGER,
    response_bytes INTEGER
) STRICT;

CREATE INDEX history_sent_at ON history (sent_at DESC);

-- The policy an administrator attached to a key stored as this secret (read-only,
-- path prefixes, environment), used by the pre-flight check. JSON, NULL when unknown.
ALTER TABLE secrets ADD COLUMN key_policy TEXT;
