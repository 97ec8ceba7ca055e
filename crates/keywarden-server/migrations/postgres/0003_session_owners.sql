-- Schema 3: sessions are listed and ended per principal (password change, disable, delete,
-- "sign out everywhere"), and say when they began.
ALTER TABLE sessions ADD COLUMN created_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX sessions_principal ON sessions (principal_id);
