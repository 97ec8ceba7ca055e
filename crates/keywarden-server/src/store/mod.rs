//! Storage behind one trait, [`Store`], with two implementations:
//! [`sqlite::SqliteStore`] (embedded default) and [`postgres::PgStore`] (replicas).
//!
//! Invariants every implementation keeps:
//! * a [`Mutation`] is one transaction: objects, change rows, audit rows, a password
//!   and the idempotent response commit together or not at all;
//! * change sequence numbers become visible in increasing order (writers are serialized),
//!   so a reader that follows `seq > cursor` never skips a change;
//! * keys are looked up by nothing but their id: the verifier's index lives in memory,
//!   and no raw key ever reaches SQL.

pub mod postgres;
pub mod sqlite;

use async_trait::async_trait;
use keywarden_core::Timestamp;

use crate::model::{AuditEntry, Change, Kind, Object};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An object with the same unique name (or key digest) exists.
    #[error("{0} already exists")]
    Conflict(String),
    /// The object is not at the expected version (or no longer exists).
    #[error("the object changed since it was read")]
    VersionMismatch,
    #[error("not found")]
    NotFound,
    #[error("the database failed: {0}")]
    Backend(String),
    #[error("the stored data is damaged: {0}")]
    Corrupt(String),
}

/// One change to the objects.
#[derive(Debug, Clone)]
// A mutation holds a handful of writes; boxing the object would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Write {
    /// Insert (`expected_version: None`, the object must not exist) or update
    /// (the stored version must equal `expected_version`).
    Put {
        object: Object,
        expected_version: Option<i64>,
    },
    Delete {
        kind: Kind,
        id: String,
        expected_version: Option<i64>,
    },
}

#[derive(Debug, Clone)]
pub struct NewAudit {
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: serde_json::Value,
}

/// The response stored for an Idempotency-Key, in the same transaction as the change it describes.
#[derive(Debug, Clone)]
pub struct IdemDone {
    pub actor: String,
    pub key: String,
    pub status: u16,
    pub body: String,
}

/// Everything one admin action changes, committed atomically.
#[derive(Debug, Clone, Default)]
pub struct Mutation {
    pub actor: String,
    pub at: Timestamp,
    pub writes: Vec<Write>,
    pub audit: Vec<NewAudit>,
    /// `(principal id, Argon2id PHC string)`.
    pub password: Option<(String, String)>,
    /// Principals whose sessions end with this change (password change, disable, delete).
    pub end_sessions: Vec<String>,
    pub idempotency: Option<IdemDone>,
}

/// A session as listed to its owner: an id (the first 16 hex digits of the token's
/// digest: enough to name it, useless to use it) and its times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Length of a session id: a prefix of the token's hex digest.
pub const SESSION_ID_LEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdemBegin {
    /// First time this key is seen (or an abandoned attempt is taken over): go ahead.
    Started,
    /// Already done: replay the stored response.
    Replay { status: u16, body: String },
    /// The same key was used with a different request.
    Mismatch,
    /// Another request with this key is still running.
    InFlight,
}

#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub since: i64,
    pub limit: i64,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
}

/// What the server loads at start.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub objects: Vec<Object>,
    pub seq: i64,
    pub usage: Vec<(String, Timestamp)>,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> &'static str;
    /// Woken when another replica commits a change (PostgreSQL `LISTEN`), so followers
    /// need not wait for their next poll. `None`: poll only.
    fn change_signal(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }
    async fn load(&self) -> Result<Snapshot, StoreError>;
    async fn changes_since(&self, since: i64, limit: i64) -> Result<Vec<Change>, StoreError>;
    async fn apply(&self, mutation: Mutation) -> Result<Vec<Change>, StoreError>;
    async fn idempotency_begin(
        &self,
        actor: &str,
        key: &str,
        request_hash: &str,
        now: Timestamp,
        stale_before: Timestamp,
    ) -> Result<IdemBegin, StoreError>;
    async fn idempotency_abort(&self, actor: &str, key: &str) -> Result<(), StoreError>;
    async fn append_audit(&self, entries: Vec<NewAudit>, at: Timestamp) -> Result<(), StoreError>;
    async fn audit(&self, query: AuditQuery) -> Result<Vec<AuditEntry>, StoreError>;
    async fn password_hash(&self, principal_id: &str) -> Result<Option<String>, StoreError>;
    async fn session_insert(
        &self,
        digest: &str,
        principal_id: &str,
        expires_at: Timestamp,
    ) -> Result<(), StoreError>;
    async fn session_get(&self, digest: &str) -> Result<Option<(String, Timestamp)>, StoreError>;
    async fn session_delete(&self, digest: &str) -> Result<(), StoreError>;
    /// A principal's sessions that have not expired, newest first.
    async fn session_list(&self, principal_id: &str) -> Result<Vec<SessionRow>, StoreError>;
    /// Ends a principal's sessions: all of them, or the one whose id is `id`. Returns how many.
    async fn session_end(&self, principal_id: &str, id: Option<&str>) -> Result<u64, StoreError>;
    async fn record_usage(&self, usage: Vec<(String, Timestamp)>) -> Result<(), StoreError>;
    /// Forgets Idempotency-Key records created before `idempotency_before` and expired sessions.
    async fn prune(&self, idempotency_before: Timestamp, now: Timestamp) -> Result<(), StoreError>;
    /// Inserts many keys at once, outside the change feed's usual path (benchmarks, imports).
    async fn bulk_insert(
        &self,
        objects: Vec<Object>,
        actor: &str,
        at: Timestamp,
    ) -> Result<(), StoreError>;
}

pub(crate) fn decode_change(
    seq: i64,
    kind: &str,
    id: String,
    version: i64,
    body: Option<String>,
    actor: String,
    at: Timestamp,
) -> Result<Change, StoreError> {
    let kind =
        Kind::parse(kind).ok_or_else(|| StoreError::Corrupt(format!("unknown kind {kind}")))?;
    let object = match body {
        Some(body) => Some(
            Object::from_json(kind, &body)
                .map_err(|e| StoreError::Corrupt(format!("{kind:?} {id}: {e}")))?,
        ),
        None => None,
    };
    Ok(Change {
        seq,
        kind,
        id,
        object,
        version,
        actor,
        at,
    })
}

pub(crate) fn decode_object(kind: &str, id: &str, body: &str) -> Result<Object, StoreError> {
    let kind =
        Kind::parse(kind).ok_or_else(|| StoreError::Corrupt(format!("unknown kind {kind}")))?;
    Object::from_json(kind, body).map_err(|e| StoreError::Corrupt(format!("{kind:?} {id}: {e}")))
}

pub(crate) fn decode_audit(
    seq: i64,
    at: Timestamp,
    actor: String,
    action: String,
    target: String,
    detail: &str,
) -> AuditEntry {
    let detail = serde_json::from_str(detail).unwrap_or(serde_json::Value::Null);
    AuditEntry {
        seq,
        at,
        actor,
        action,
        target,
        detail,
    }
}

/// Opens the store named by a database setting: a `postgres://` / `postgresql://` URL or a SQLite file path.
pub async fn open(
    database: &str,
    pg_pool_size: usize,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        Ok(std::sync::Arc::new(
            postgres::PgStore::connect(database, pg_pool_size).await?,
        ))
    } else {
        let path = database
            .strip_prefix("sqlite://")
            .unwrap_or(database)
            .to_owned();
        let store = tokio::task::spawn_blocking(move || {
            sqlite::SqliteStore::open(std::path::Path::new(&path))
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))??;
        Ok(std::sync::Arc::new(store))
    }
}
