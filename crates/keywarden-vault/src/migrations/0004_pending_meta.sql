-- The metadata a `replacing` row takes when its new value is confirmed (`Vault::upsert`:
-- a new value and merged metadata are one operation). JSON; NULL when the operation
-- changes the value only. Applied or dropped together with `pending_fingerprint`.
ALTER TABLE secrets ADD COLUMN pending_meta TEXT;
