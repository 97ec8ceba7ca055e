//! The embedded store: one SQLite file in WAL mode, `synchronous=FULL`.
//!
//! rusqlite is synchronous, so every call runs on the blocking pool behind one
//! connection. Only admin actions, the change-feed poll and usage flushes come here;
//! verification never does.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use keywarden_core::Timestamp;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{
    AuditQuery, IdemBegin, Mutation, NewAudit, SessionRow, Snapshot, Store, StoreError, Write,
    decode_audit, decode_change, decode_object,
};
use crate::model::{AuditEntry, Change, Object};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/sqlite/0002_expiry_indexes.sql"),
    ),
    (
        3,
        include_str!("../../migrations/sqlite/0003_session_owners.sql"),
    ),
];

pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

fn backend(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(err, _) = &e
        && err.code == rusqlite::ErrorCode::ConstraintViolation
    {
        return StoreError::Conflict("an object with this name".to_owned());
    }
    StoreError::Backend(e.to_string())
}

/// Creates the database file 0600, or narrows an existing one to 0600.
#[cfg(unix)]
fn restrict_permissions(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let io = |e: std::io::Error| StoreError::Backend(format!("{}: {e}", path.display()));
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    let sibling = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        std::path::PathBuf::from(name)
    };
    for file in [path.to_path_buf(), sibling("-wal"), sibling("-shm")] {
        match std::fs::metadata(&file) {
            Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                    .map_err(io)?;
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path) -> Result<(), StoreError> {
    Ok(())
}

impl SqliteStore {
    /// Opens (or creates) the database file. The file is readable by its owner only
    /// (0600, also when it existed with wider permissions); SQLite gives its `-wal` and
    /// `-shm` files the database file's permissions.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        restrict_permissions(path)?;
        let conn = Connection::open(path).map_err(backend)?;
        Self::init(conn)
    }

    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(backend)?)
    }

    fn init(mut conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(backend)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(backend)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(backend)?;
        migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| StoreError::Backend("connection lock poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )
    .map_err(backend)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend)?;
    let current: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(backend)?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.execute_batch(sql).map_err(backend)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            params![version, keywarden_core::now()],
        )
        .map_err(backend)?;
    }
    tx.commit().map_err(backend)
}

fn insert_audit(
    tx: &rusqlite::Transaction<'_>,
    entries: &[NewAudit],
    at: Timestamp,
) -> Result<(), StoreError> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO audit (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(backend)?;
    for e in entries {
        stmt.execute(params![
            at,
            e.actor,
            e.action,
            e.target,
            e.detail.to_string()
        ])
        .map_err(backend)?;
    }
    Ok(())
}

fn put_object(
    tx: &rusqlite::Transaction<'_>,
    object: &Object,
    expected: Option<i64>,
    at: Timestamp,
) -> Result<(), StoreError> {
    let body = object.to_json().to_string();
    let kind = object.kind().as_str();
    let changed = match expected {
        None => tx
            .execute(
                "INSERT INTO objects (kind, id, version, unique_name, body, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![kind, object.id(), object.version(), object.unique_name(), body, at],
            )
            .map_err(|e| match backend(e) {
                StoreError::Conflict(_) => StoreError::Conflict(format!("a {kind} with this name")),
                other => other,
            })?,
        Some(version) => tx
            .execute(
                "UPDATE objects SET version = ?1, unique_name = ?2, body = ?3, updated_at = ?4
                 WHERE kind = ?5 AND id = ?6 AND version = ?7",
                params![object.version(), object.unique_name(), body, at, kind, object.id(), version],
            )
            .map_err(|e| match backend(e) {
                StoreError::Conflict(_) => StoreError::Conflict(format!("a {kind} with this name")),
                other => other,
            })?,
    };
    if changed == 0 {
        return Err(StoreError::VersionMismatch);
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn load(&self) -> Result<Snapshot, StoreError> {
        self.run(|conn| {
            let mut snapshot = Snapshot::default();
            let tx = conn.transaction().map_err(backend)?;
            {
                let mut stmt = tx
                    .prepare("SELECT kind, id, body FROM objects")
                    .map_err(backend)?;
                let mut rows = stmt.query([]).map_err(backend)?;
                while let Some(row) = rows.next().map_err(backend)? {
                    let kind: String = row.get(0).map_err(backend)?;
                    let id: String = row.get(1).map_err(backend)?;
                    let body: String = row.get(2).map_err(backend)?;
                    snapshot.objects.push(decode_object(&kind, &id, &body)?);
                }
                snapshot.seq = tx
                    .query_row("SELECT COALESCE(MAX(seq), 0) FROM changes", [], |r| {
                        r.get(0)
                    })
                    .map_err(backend)?;
                let mut stmt = tx
                    .prepare("SELECT key_id, last_used_at FROM key_usage")
                    .map_err(backend)?;
                let rows = stmt
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(backend)?;
                for row in rows {
                    snapshot.usage.push(row.map_err(backend)?);
                }
            }
            tx.commit().map_err(backend)?;
            Ok(snapshot)
        })
        .await
    }

    async fn changes_since(&self, since: i64, limit: i64) -> Result<Vec<Change>, StoreError> {
        self.run(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT seq, kind, id, version, body, actor, at FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )
                .map_err(backend)?;
            let mut rows = stmt.query(params![since, limit]).map_err(backend)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(backend)? {
                let kind: String = row.get(1).map_err(backend)?;
                out.push(decode_change(
                    row.get(0).map_err(backend)?,
                    &kind,
                    row.get(2).map_err(backend)?,
                    row.get(3).map_err(backend)?,
                    row.get(4).map_err(backend)?,
                    row.get(5).map_err(backend)?,
                    row.get(6).map_err(backend)?,
                )?);
            }
            Ok(out)
        })
        .await
    }

    async fn apply(&self, m: Mutation) -> Result<Vec<Change>, StoreError> {
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            // Audit first: an action whose audit row cannot be written does not happen.
            insert_audit(&tx, &m.audit, m.at)?;
            let mut changes = Vec::with_capacity(m.writes.len());
            for write in &m.writes {
                let (kind, id, version, object) = match write {
                    Write::Put { object, expected_version } => {
                        put_object(&tx, object, *expected_version, m.at)?;
                        (object.kind(), object.id().to_owned(), object.version(), Some(object.clone()))
                    }
                    Write::Delete { kind, id, expected_version } => {
                        let current: Option<i64> = tx
                            .query_row(
                                "SELECT version FROM objects WHERE kind = ?1 AND id = ?2",
                                params![kind.as_str(), id],
                                |r| r.get(0),
                            )
                            .optional()
                            .map_err(backend)?;
                        let Some(current) = current else { return Err(StoreError::NotFound) };
                        if expected_version.is_some_and(|v| v != current) {
                            return Err(StoreError::VersionMismatch);
                        }
                        tx.execute("DELETE FROM objects WHERE kind = ?1 AND id = ?2", params![kind.as_str(), id])
                            .map_err(backend)?;
                        (*kind, id.clone(), current + 1, None)
                    }
                };
                let body = object.as_ref().map(|o| o.to_json().to_string());
                tx.execute(
                    "INSERT INTO changes (kind, id, version, body, actor, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![kind.as_str(), id, version, body, m.actor, m.at],
                )
                .map_err(backend)?;
                let seq = tx.last_insert_rowid();
                changes.push(Change { seq, kind, id, object, version, actor: m.actor.clone(), at: m.at });
            }
            if let Some((principal, hash)) = &m.password {
                tx.execute(
                    "INSERT INTO passwords (principal_id, hash, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (principal_id) DO UPDATE SET hash = excluded.hash, updated_at = excluded.updated_at",
                    params![principal, hash, m.at],
                )
                .map_err(backend)?;
            }
            for principal in &m.end_sessions {
                tx.execute("DELETE FROM sessions WHERE principal_id = ?1", params![principal])
                    .map_err(backend)?;
            }
            if let Some(done) = &m.idempotency {
                tx.execute(
                    "UPDATE idempotency SET state = 'done', status = ?1, body = ?2 WHERE actor = ?3 AND key = ?4",
                    params![done.status, done.body, done.actor, done.key],
                )
                .map_err(backend)?;
            }
            tx.commit().map_err(backend)?;
            Ok(changes)
        })
        .await
    }

    async fn idempotency_begin(
        &self,
        actor: &str,
        key: &str,
        request_hash: &str,
        now: Timestamp,
        stale_before: Timestamp,
    ) -> Result<IdemBegin, StoreError> {
        let (actor, key, hash) = (actor.to_owned(), key.to_owned(), request_hash.to_owned());
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            let inserted = tx
                .execute(
                    "INSERT OR IGNORE INTO idempotency (actor, key, request_hash, state, created_at)
                     VALUES (?1, ?2, ?3, 'pending', ?4)",
                    params![actor, key, hash, now],
                )
                .map_err(backend)?;
            let outcome = if inserted == 1 {
                IdemBegin::Started
            } else {
                let (stored_hash, state, status, body, created_at): (String, String, Option<i64>, Option<String>, i64) =
                    tx.query_row(
                        "SELECT request_hash, state, status, body, created_at FROM idempotency WHERE actor = ?1 AND key = ?2",
                        params![actor, key],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                    )
                    .map_err(backend)?;
                idem_outcome(&stored_hash, &hash, &state, status, body, created_at, stale_before)
            };
            if outcome == IdemBegin::Started && inserted == 0 {
                tx.execute(
                    "UPDATE idempotency SET created_at = ?1 WHERE actor = ?2 AND key = ?3",
                    params![now, actor, key],
                )
                .map_err(backend)?;
            }
            tx.commit().map_err(backend)?;
            Ok(outcome)
        })
        .await
    }

    async fn idempotency_abort(&self, actor: &str, key: &str) -> Result<(), StoreError> {
        let (actor, key) = (actor.to_owned(), key.to_owned());
        self.run(move |conn| {
            conn.execute(
                "DELETE FROM idempotency WHERE actor = ?1 AND key = ?2 AND state = 'pending'",
                params![actor, key],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn append_audit(&self, entries: Vec<NewAudit>, at: Timestamp) -> Result<(), StoreError> {
        self.run(move |conn| {
            let tx = conn.transaction().map_err(backend)?;
            insert_audit(&tx, &entries, at)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn audit(&self, q: AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        self.run(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT seq, at, actor, action, target, detail FROM audit
                     WHERE seq > ?1 AND (?2 IS NULL OR actor = ?2) AND (?3 IS NULL OR action = ?3)
                       AND (?4 IS NULL OR target = ?4)
                     ORDER BY seq LIMIT ?5",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(
                    params![q.since, q.actor, q.action, q.target, q.limit],
                    |r| {
                        let detail: String = r.get(5)?;
                        Ok(decode_audit(
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            &detail,
                        ))
                    },
                )
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
    }

    async fn password_hash(&self, principal_id: &str) -> Result<Option<String>, StoreError> {
        let id = principal_id.to_owned();
        self.run(move |conn| {
            conn.query_row(
                "SELECT hash FROM passwords WHERE principal_id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn session_insert(
        &self,
        digest: &str,
        principal_id: &str,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let (digest, id) = (digest.to_owned(), principal_id.to_owned());
        self.run(move |conn| {
            conn.execute(
                "INSERT INTO sessions (digest, principal_id, expires_at, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![digest, id, expires_at, keywarden_core::now()],
            )
            .map_err(backend)?;
            conn.execute(
                "DELETE FROM sessions WHERE expires_at < ?1",
                params![keywarden_core::now()],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn session_get(&self, digest: &str) -> Result<Option<(String, Timestamp)>, StoreError> {
        let digest = digest.to_owned();
        self.run(move |conn| {
            conn.query_row(
                "SELECT principal_id, expires_at FROM sessions WHERE digest = ?1",
                params![digest],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn session_delete(&self, digest: &str) -> Result<(), StoreError> {
        let digest = digest.to_owned();
        self.run(move |conn| {
            conn.execute("DELETE FROM sessions WHERE digest = ?1", params![digest])
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn session_list(&self, principal_id: &str) -> Result<Vec<SessionRow>, StoreError> {
        let id = principal_id.to_owned();
        self.run(move |conn| {
            let mut stmt = conn
                .prepare(
                    "SELECT substr(digest, 1, 16), created_at, expires_at FROM sessions
                     WHERE principal_id = ?1 AND expires_at > ?2 ORDER BY created_at DESC, digest",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![id, keywarden_core::now()], |r| {
                    Ok(SessionRow {
                        id: r.get(0)?,
                        created_at: r.get(1)?,
                        expires_at: r.get(2)?,
                    })
                })
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
    }

    async fn session_end(&self, principal_id: &str, id: Option<&str>) -> Result<u64, StoreError> {
        let (principal, id) = (principal_id.to_owned(), id.map(str::to_owned));
        self.run(move |conn| {
            let n = match id {
                Some(id) => conn.execute(
                    "DELETE FROM sessions WHERE principal_id = ?1 AND substr(digest, 1, 16) = ?2",
                    params![principal, id],
                ),
                None => conn.execute(
                    "DELETE FROM sessions WHERE principal_id = ?1",
                    params![principal],
                ),
            }
            .map_err(backend)?;
            Ok(n as u64)
        })
        .await
    }

    async fn record_usage(&self, usage: Vec<(String, Timestamp)>) -> Result<(), StoreError> {
        self.run(move |conn| {
            let tx = conn.transaction().map_err(backend)?;
            {
                let mut stmt = tx
                    .prepare_cached(
                        "INSERT INTO key_usage (key_id, last_used_at) VALUES (?1, ?2)
                         ON CONFLICT (key_id) DO UPDATE SET last_used_at = MAX(last_used_at, excluded.last_used_at)",
                    )
                    .map_err(backend)?;
                for (id, at) in &usage {
                    stmt.execute(params![id, at]).map_err(backend)?;
                }
            }
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn prune(&self, idempotency_before: Timestamp, now: Timestamp) -> Result<(), StoreError> {
        self.run(move |conn| {
            conn.execute(
                "DELETE FROM idempotency WHERE created_at < ?1",
                params![idempotency_before],
            )
            .map_err(backend)?;
            conn.execute("DELETE FROM sessions WHERE expires_at < ?1", params![now])
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn bulk_insert(
        &self,
        objects: Vec<Object>,
        actor: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let actor = actor.to_owned();
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            {
                let mut obj = tx
                    .prepare_cached(
                        "INSERT INTO objects (kind, id, version, unique_name, body, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )
                    .map_err(backend)?;
                let mut change = tx
                    .prepare_cached(
                        "INSERT INTO changes (kind, id, version, body, actor, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )
                    .map_err(backend)?;
                for o in &objects {
                    let body = o.to_json().to_string();
                    let kind = o.kind().as_str();
                    obj.execute(params![kind, o.id(), o.version(), o.unique_name(), body, at]).map_err(backend)?;
                    change.execute(params![kind, o.id(), o.version(), body, actor, at]).map_err(backend)?;
                }
            }
            tx.commit().map_err(backend)
        })
        .await
    }
}

pub(crate) fn idem_outcome(
    stored_hash: &str,
    hash: &str,
    state: &str,
    status: Option<i64>,
    body: Option<String>,
    created_at: Timestamp,
    stale_before: Timestamp,
) -> IdemBegin {
    if stored_hash != hash {
        return IdemBegin::Mismatch;
    }
    match (state, status, body) {
        ("done", Some(status), Some(body)) => IdemBegin::Replay {
            status: u16::try_from(status).unwrap_or(200),
            body,
        },
        _ if created_at < stale_before => IdemBegin::Started,
        _ => IdemBegin::InFlight,
    }
}
