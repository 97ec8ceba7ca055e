-- Schema 2: indexes for pruning old Idempotency-Key records and expired sessions.
CREATE INDEX idempotency_created ON idempotency (created_at);
CREATE INDEX sessions_expires ON sessions (expires_at);
