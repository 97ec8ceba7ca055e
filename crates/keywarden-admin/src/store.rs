//! The local admin database: connections, the local view, the outbox and the id map.
//!
//! Invariants:
//! * An action's outbox row and its effect on the local view are written in one
//!   transaction, with `synchronous=FULL`, before the caller hears "queued".
//! * A row leaves `queued` only through [`LocalDb::record`] (the server answered),
//!   or through the person (retry, discard, resolve). Nothing is ever dropped silently.
//! * Rows that share an object are sent one after the other, in `seq` order; a row
//!   also waits for every earlier row on an object it depends on (see [`LocalDb::eligible`]).
//! * Local ids (`local-<uuid>`) are replaced by server ids in the same transaction that
//!   records the create as applied, everywhere they appear.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use keywarden_core::now;
use keywarden_server::model::Kind;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::Clock;
use crate::error::{AdminError, Result};

pub const LOCAL_PREFIX: &str = "local-";
/// How long applied actions stay in the outbox (its history).
pub const DONE_KEPT_SECS: i64 = 30 * 86_400;
const OPEN: &str = "('queued', 'failed', 'conflict')";

/// A new local id for an object created offline.
pub fn local_id() -> String {
    format!("{LOCAL_PREFIX}{}", uuid::Uuid::new_v4().simple())
}

pub fn is_local(id: &str) -> bool {
    id.starts_with(LOCAL_PREFIX)
}

/// Whether `text` holds a local id (`local-` and 32 hex digits) that was never mapped.
pub fn contains_local_id(text: &str) -> bool {
    text.match_indices(LOCAL_PREFIX).any(|(i, _)| {
        let rest = &text.as_bytes()[i + LOCAL_PREFIX.len()..];
        rest.len() >= 32 && rest[..32].iter().all(u8::is_ascii_hexdigit)
    })
}

/// How an action presents its version to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IfMatch {
    /// No `If-Match` (creates, rotate, refresh, revoke).
    Omit,
    /// `If-Match: *`: the person's intent holds whatever changed (enable, disable).
    Any,
    /// `If-Match: "<base_version>"`: refused with 412 when someone changed the object.
    Version,
}

impl IfMatch {
    fn as_str(self) -> &'static str {
        match self {
            IfMatch::Omit => "omit",
            IfMatch::Any => "any",
            IfMatch::Version => "version",
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            "any" => IfMatch::Any,
            "version" => IfMatch::Version,
            _ => IfMatch::Omit,
        }
    }
}

/// What an action does to the local view when it is queued (optimistically).
#[derive(Debug, Clone)]
pub enum ViewOp {
    Put {
        kind: Kind,
        id: String,
        body: Value,
    },
    Merge {
        kind: Kind,
        id: String,
        fields: Value,
    },
    Delete {
        kind: Kind,
        id: String,
    },
}

/// A step on the local vault that follows an applied action (rotation into the vault).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultStep {
    /// The vault secret whose value is replaced.
    pub secret_id: String,
    /// The reserved store name that holds the new key until the server has it.
    pub pending: String,
}

/// `(outbox seq, connection, the new key's id, the step)` of an applied rotation.
pub type PendingVaultStep = (i64, String, Option<String>, VaultStep);

/// An admin action ready to be queued.
#[derive(Debug, Clone)]
pub struct NewAction {
    pub kind: Kind,
    pub object_id: String,
    pub action: String,
    pub summary: String,
    pub method: &'static str,
    pub path: String,
    pub body: Option<Value>,
    pub if_match: IfMatch,
    pub base_version: i64,
    pub deps: Vec<String>,
    pub new_object_id: Option<String>,
    pub vault_step: Option<VaultStep>,
    pub view: Vec<ViewOp>,
    /// `(key id, vault secret id)` links to record.
    pub key_secret: Option<(String, String)>,
}

/// An outbox row as the sender needs it.
#[derive(Debug, Clone)]
pub struct Sendable {
    pub seq: i64,
    pub idem_key: String,
    pub kind: Kind,
    pub object_id: String,
    pub action: String,
    pub method: String,
    pub path: String,
    pub body: Option<String>,
    pub if_match: IfMatch,
    pub base_version: i64,
    pub attempts: i64,
    pub new_object_id: Option<String>,
}

/// What the server's answer means for one action.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// 2xx (first time or replayed).
    Applied(Value),
    /// The object is gone; for a revoke or delete that is what was wanted.
    Gone,
    /// 412: the object changed on the server. `server`: its current state and version.
    Conflict(Option<(Value, i64)>),
    /// Refused for good (400, 403, 409 conflict, 422): waits for the person.
    Failed(String),
    /// Try again later. `counts`: the attempt counts towards the limit.
    Retry {
        reason: String,
        after_ms: Option<u64>,
        counts: bool,
    },
}

/// One outbox row as people see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub seq: i64,
    pub connection: String,
    pub kind: String,
    pub object_id: String,
    pub action: String,
    pub summary: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_ms: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub done_at: Option<i64>,
    /// For a conflict: the object as the server has it now.
    pub server_object: Option<Value>,
    pub server_version: Option<i64>,
    /// For a conflict: the request that was refused (what you meant).
    pub intent: Option<Value>,
    pub idempotency_key: String,
}

/// An object of the local view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewObject {
    pub kind: String,
    pub id: String,
    pub version: i64,
    pub body: Value,
    pub deleted: bool,
    /// Actions still queued (or failed, or in conflict) on this object.
    pub pending: i64,
    /// `failed` or `conflict` when one of them needs the person.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub queued: i64,
    pub failed: i64,
    pub conflicts: i64,
    pub done: i64,
    /// Queued actions waiting for a retry time.
    pub waiting: i64,
    pub next_attempt_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionRow {
    pub name: String,
    pub url: String,
    pub ca_pem: Option<String>,
    pub auth: String,
    pub username: Option<String>,
    pub cursor: i64,
    pub last_sync_at: Option<i64>,
    pub last_error: Option<String>,
}

pub struct LocalDb {
    conn: Mutex<Connection>,
    /// Schedules retries (`next_attempt_ms`) and decides which rows are due.
    clock: Arc<dyn Clock>,
}

fn kind_of(text: &str) -> rusqlite::Result<Kind> {
    Kind::parse(text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("unknown kind {text}").into(),
        )
    })
}

fn json_text(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// Removes an issued key from a response before it is stored (the server never returns
/// one for client-generated keys; this is a second lock on the door).
fn strip_key(mut v: Value) -> Value {
    if let Some(obj) = v.as_object_mut()
        && obj.contains_key("key")
    {
        obj.insert("key".into(), Value::Null);
    }
    v
}

impl LocalDb {
    /// Opens the profile's database (`keywarden.db` in `home`), migrating it.
    pub fn open(home: &Path) -> Result<Self> {
        let conn = keywarden_vault::db::open(&home.join("keywarden.db"))?;
        Self::from_connection(conn)
    }

    pub fn from_connection(conn: Connection) -> Result<Self> {
        // Every commit on this connection reaches the disk before it returns: a queued
        // action survives a crash and a power loss.
        conn.execute_batch("PRAGMA synchronous = FULL;")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(Self {
            conn: Mutex::new(conn),
            clock: crate::clock::system(),
        })
    }

    /// Schedules retries by `clock` instead of the system clock (tests move it by hand).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Now, by the clock that schedules retries.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` on the connection (tests, integrity checks).
    pub fn with_conn<T>(&self, f: impl FnOnce(&Connection) -> T) -> T {
        f(&self.lock())
    }

    // -----------------------------------------------------------------------------------
    // Connections
    // -----------------------------------------------------------------------------------

    pub fn upsert_connection(
        &self,
        name: &str,
        url: &str,
        ca_pem: Option<&str>,
        auth: &str,
        username: Option<&str>,
    ) -> Result<()> {
        self.lock().execute(
            "INSERT INTO admin_connections (name, url, ca_pem, auth, username, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (name) DO UPDATE SET url = excluded.url, ca_pem = excluded.ca_pem,
                 auth = excluded.auth, username = excluded.username, last_error = NULL",
            params![name, url, ca_pem, auth, username, now()],
        )?;
        Ok(())
    }

    pub fn connections(&self) -> Result<Vec<ConnectionRow>> {
        let db = self.lock();
        let mut stmt = db.prepare(
            "SELECT name, url, ca_pem, auth, username, cursor, last_sync_at, last_error
             FROM admin_connections ORDER BY created_at, name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(ConnectionRow {
                name: r.get(0)?,
                url: r.get(1)?,
                ca_pem: r.get(2)?,
                auth: r.get(3)?,
                username: r.get(4)?,
                cursor: r.get(5)?,
                last_sync_at: r.get(6)?,
                last_error: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn connection(&self, name: &str) -> Result<ConnectionRow> {
        self.connections()?
            .into_iter()
            .find(|c| c.name == name)
            .ok_or_else(|| AdminError::UnknownConnection(name.to_owned()))
    }

    pub fn remove_connection(&self, name: &str) -> Result<()> {
        let mut db = self.lock();
        let tx = db.transaction()?;
        let open: i64 = tx.query_row(
            &format!("SELECT COUNT(*) FROM admin_outbox WHERE connection = ?1 AND state IN {OPEN}"),
            [name],
            |r| r.get(0),
        )?;
        if open > 0 {
            return Err(AdminError::invalid(
                "connection",
                format!(
                    "{open} actions for {name:?} have not reached the server yet; sync them or discard them first"
                ),
            ));
        }
        for table in [
            "admin_objects",
            "admin_outbox",
            "admin_id_map",
            "admin_key_secrets",
        ] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE connection = ?1"),
                [name],
            )?;
        }
        tx.execute("DELETE FROM admin_connections WHERE name = ?1", [name])?;
        tx.commit()?;
        Ok(())
    }

    pub fn set_sync_result(&self, name: &str, error: Option<&str>) -> Result<()> {
        let db = self.lock();
        if error.is_none() {
            db.execute(
                "UPDATE admin_connections SET last_sync_at = ?2, last_error = NULL WHERE name = ?1",
                params![name, now()],
            )?;
            // Applied and discarded actions stay visible for 30 days, then go.
            db.execute(
                "DELETE FROM admin_outbox WHERE connection = ?1 AND state IN ('done', 'discarded')
                     AND vault_step IS NULL AND done_at < ?2",
                params![name, now() - DONE_KEPT_SECS],
            )?;
        } else {
            db.execute(
                "UPDATE admin_connections SET last_error = ?2 WHERE name = ?1",
                params![name, error],
            )?;
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------
    // Enqueue
    // -----------------------------------------------------------------------------------

    /// Queues actions and applies their effect on the local view, all in one durable
    /// transaction. Returns their sequence numbers.
    pub fn enqueue(&self, connection: &str, actions: Vec<NewAction>) -> Result<Vec<i64>> {
        let mut db = self.lock();
        let tx = db.transaction()?;
        let at = now();
        let mut seqs = Vec::with_capacity(actions.len());
        for a in actions {
            tx.prepare_cached(
                "INSERT INTO admin_outbox (connection, idem_key, kind, object_id, action, summary, method, path,
                     body, if_match, base_version, deps, new_object_id, vault_step, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )?
            .execute(params![
                connection,
                uuid::Uuid::new_v4().to_string(),
                a.kind.as_str(),
                a.object_id,
                a.action,
                a.summary,
                a.method,
                a.path,
                a.body.as_ref().map(json_text),
                a.if_match.as_str(),
                a.base_version,
                json_text(&serde_json::json!(a.deps)),
                a.new_object_id,
                a.vault_step.as_ref().map(|s| json_text(&serde_json::json!(s))),
                at,
            ])?;
            let seq = tx.last_insert_rowid();
            seqs.push(seq);
            let mut refs: Vec<&String> = vec![&a.object_id];
            refs.extend(a.deps.iter());
            refs.extend(a.new_object_id.iter());
            for r in refs {
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO admin_outbox_refs (ref, seq) VALUES (?1, ?2)",
                )?
                .execute(params![r, seq])?;
            }
            for op in &a.view {
                apply_view_op(&tx, connection, op, at)?;
            }
            if let Some((key_id, secret_id)) = &a.key_secret {
                tx.execute(
                    "INSERT OR REPLACE INTO admin_key_secrets (connection, key_id, secret_id) VALUES (?1, ?2, ?3)",
                    params![connection, key_id, secret_id],
                )?;
            }
        }
        tx.commit()?;
        Ok(seqs)
    }

    // -----------------------------------------------------------------------------------
    // Sending
    // -----------------------------------------------------------------------------------

    /// Actions that may be sent now, oldest first, at most `limit`.
    ///
    /// Walking the open rows in `seq` order, a row is held back when an earlier open row
    /// concerns the same object, when an earlier open row concerns an object it depends on,
    /// or when an earlier open row depends on its object. So a revoke is never overtaken,
    /// a key waits for its principal's create, and a delete waits for what uses the object.
    pub fn eligible(
        &self,
        connection: &str,
        now_ms: i64,
        limit: usize,
        skip: &HashSet<i64>,
    ) -> Result<Vec<Sendable>> {
        let db = self.lock();
        let mut stmt = db.prepare_cached(&format!(
            "SELECT seq, idem_key, kind, object_id, action, method, path, body, if_match, base_version,
                    attempts, new_object_id, deps, state, next_attempt_ms
             FROM admin_outbox WHERE connection = ?1 AND state IN {OPEN} ORDER BY seq"
        ))?;
        let mut rows = stmt.query([connection])?;
        let mut objects_busy: HashSet<String> = HashSet::new();
        let mut deps_busy: HashSet<String> = HashSet::new();
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let object_id: String = r.get(3)?;
            let deps: Vec<String> =
                serde_json::from_str(&r.get::<_, String>(12)?).unwrap_or_default();
            let state: String = r.get(13)?;
            let next: i64 = r.get(14)?;
            let held = objects_busy.contains(&object_id)
                || deps_busy.contains(&object_id)
                || deps.iter().any(|d| objects_busy.contains(d));
            let seq: i64 = r.get(0)?;
            if !held
                && state == "queued"
                && next <= now_ms
                && out.len() < limit
                && !skip.contains(&seq)
            {
                out.push(Sendable {
                    seq,
                    idem_key: r.get(1)?,
                    kind: kind_of(&r.get::<_, String>(2)?)?,
                    object_id: object_id.clone(),
                    action: r.get(4)?,
                    method: r.get(5)?,
                    path: r.get(6)?,
                    body: r.get(7)?,
                    if_match: IfMatch::parse(&r.get::<_, String>(8)?),
                    base_version: r.get(9)?,
                    attempts: r.get(10)?,
                    new_object_id: r.get(11)?,
                });
            }
            objects_busy.insert(object_id);
            deps_busy.extend(deps);
        }
        Ok(out)
    }

    /// Records the server's answers, in one transaction.
    pub fn record(
        &self,
        connection: &str,
        results: Vec<(Sendable, Outcome)>,
        policy: &crate::sync::RetryPolicy,
    ) -> Result<()> {
        if results.is_empty() {
            return Ok(());
        }
        let now_ms = self.now_ms();
        let mut db = self.lock();
        let tx = db.transaction()?;
        let at = now();
        for (row, outcome) in results {
            // Another process may have recorded this row meanwhile: only open rows change.
            let state: Option<String> = tx
                .query_row(
                    "SELECT state FROM admin_outbox WHERE seq = ?1",
                    [row.seq],
                    |r| r.get(0),
                )
                .optional()?;
            if !matches!(state.as_deref(), Some("queued")) {
                continue;
            }
            match outcome {
                Outcome::Applied(body) => apply_result(&tx, connection, &row, body, at)?,
                Outcome::Gone => {
                    if row.action.ends_with(".delete") || row.action == "key.revoke" {
                        tx.execute(
                            "DELETE FROM admin_objects WHERE connection = ?1 AND kind = ?2 AND id = ?3",
                            params![connection, row.kind.as_str(), row.object_id],
                        )?;
                        tx.execute(
                            "UPDATE admin_outbox SET state = 'done', done_at = ?2, last_error = 'the object was already gone on the server' WHERE seq = ?1",
                            params![row.seq, at],
                        )?;
                    } else {
                        tx.execute(
                            "UPDATE admin_outbox SET state = 'failed', attempts = attempts + 1,
                                 last_error = 'the object no longer exists on the server (deleted by someone else?); discard this action'
                             WHERE seq = ?1",
                            [row.seq],
                        )?;
                    }
                }
                Outcome::Conflict(server) => {
                    let (obj, version) = match server {
                        Some((o, v)) => (Some(json_text(&o)), Some(v)),
                        None => (None, None),
                    };
                    tx.execute(
                        "UPDATE admin_outbox SET state = 'conflict', attempts = attempts + 1, server_object = ?2,
                             server_version = ?3,
                             last_error = 'the object changed on the server since you edited it: keep yours (overwrite) or take theirs'
                         WHERE seq = ?1",
                        params![row.seq, obj, version],
                    )?;
                }
                Outcome::Failed(reason) => {
                    tx.execute(
                        "UPDATE admin_outbox SET state = 'failed', attempts = attempts + 1, last_error = ?2 WHERE seq = ?1",
                        params![row.seq, reason],
                    )?;
                }
                Outcome::Retry {
                    reason,
                    after_ms,
                    counts,
                } => {
                    let attempts = row.attempts + i64::from(counts);
                    if counts && attempts >= i64::from(policy.max_attempts) {
                        tx.execute(
                            "UPDATE admin_outbox SET state = 'failed', attempts = ?2, last_error = ?3 WHERE seq = ?1",
                            params![
                                row.seq,
                                attempts,
                                format!("gave up after {attempts} attempts: {reason}; retry it when the server is healthy")
                            ],
                        )?;
                    } else {
                        let delay = after_ms.unwrap_or_else(|| policy.backoff_ms(attempts as u32));
                        tx.execute(
                            "UPDATE admin_outbox SET attempts = ?2, next_attempt_ms = ?3, last_error = ?4 WHERE seq = ?1",
                            params![row.seq, attempts, now_ms + delay as i64, reason],
                        )?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Applies what the change feed says other administrators did. Objects with open
    /// actions keep showing the person's intent; their actions meet the server's version
    /// when they are sent (412 becomes a conflict to resolve).
    pub fn apply_changes(&self, connection: &str, changes: &[Value], next: i64) -> Result<()> {
        let mut db = self.lock();
        let tx = db.transaction()?;
        let at = now();
        for c in changes {
            let (Some(kind), Some(id), Some(version)) = (
                c.get("kind").and_then(Value::as_str).and_then(Kind::parse),
                c.get("id").and_then(Value::as_str),
                c.get("version").and_then(Value::as_i64),
            ) else {
                continue;
            };
            let busy: bool = tx.query_row(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM admin_outbox WHERE connection = ?1 AND object_id = ?2 AND state IN {OPEN})"
                ),
                params![connection, id],
                |r| r.get(0),
            )?;
            if busy {
                continue;
            }
            match c.get("object") {
                Some(obj) if c.get("op").and_then(Value::as_str) != Some("delete") => {
                    upsert_object(&tx, connection, kind, id, version, obj, at, false)?;
                }
                _ => {
                    tx.execute(
                        "DELETE FROM admin_objects WHERE connection = ?1 AND kind = ?2 AND id = ?3",
                        params![connection, kind.as_str(), id],
                    )?;
                }
            }
        }
        tx.execute(
            "UPDATE admin_connections SET cursor = MAX(cursor, ?2) WHERE name = ?1",
            params![connection, next],
        )?;
        tx.commit()?;
        Ok(())
    }

    // -----------------------------------------------------------------------------------
    // Reading
    // -----------------------------------------------------------------------------------

    pub fn object(&self, connection: &str, kind: Kind, id: &str) -> Result<Option<ViewObject>> {
        let id = self.resolve_id(connection, id)?;
        Ok(self
            .query_objects(connection, Some(kind), Some(&id))?
            .into_iter()
            .next())
    }

    /// The server id an offline local id became, or the id itself.
    pub fn resolve_id(&self, connection: &str, id: &str) -> Result<String> {
        if !is_local(id) {
            return Ok(id.to_owned());
        }
        let mapped: Option<String> = self
            .lock()
            .query_row(
                "SELECT server_id FROM admin_id_map WHERE connection = ?1 AND local_id = ?2",
                params![connection, id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(mapped.unwrap_or_else(|| id.to_owned()))
    }

    pub fn objects(&self, connection: &str, kind: Option<Kind>) -> Result<Vec<ViewObject>> {
        self.query_objects(connection, kind, None)
    }

    fn query_objects(
        &self,
        connection: &str,
        kind: Option<Kind>,
        id: Option<&str>,
    ) -> Result<Vec<ViewObject>> {
        let db = self.lock();
        let mut stmt = db.prepare_cached(&format!(
            "SELECT o.kind, o.id, o.version, o.body, o.deleted,
                    (SELECT COUNT(*) FROM admin_outbox x WHERE x.connection = o.connection AND x.object_id = o.id AND x.state IN {OPEN}),
                    (SELECT x.state FROM admin_outbox x WHERE x.connection = o.connection AND x.object_id = o.id
                        AND x.state IN ('failed', 'conflict') ORDER BY x.seq LIMIT 1)
             FROM admin_objects o WHERE o.connection = ?1 AND {}",
            if id.is_some() {
                "o.kind = ?2 AND o.id = ?3"
            } else {
                "(?2 IS NULL OR o.kind = ?2) AND ?3 IS NULL"
            }
        ))?;
        let rows = stmt.query_map(params![connection, kind.map(Kind::as_str), id], |r| {
            Ok(ViewObject {
                kind: r.get(0)?,
                id: r.get(1)?,
                version: r.get(2)?,
                body: serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or(Value::Null),
                deleted: r.get(4)?,
                pending: r.get(5)?,
                problem: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn counts(&self, connection: Option<&str>) -> Result<Counts> {
        let now = self.now_ms();
        let db = self.lock();
        let row = db.query_row(
            "SELECT COUNT(*) FILTER (WHERE state = 'queued'), COUNT(*) FILTER (WHERE state = 'failed'),
                    COUNT(*) FILTER (WHERE state = 'conflict'), COUNT(*) FILTER (WHERE state = 'done'),
                    COUNT(*) FILTER (WHERE state = 'queued' AND next_attempt_ms > ?2),
                    MIN(next_attempt_ms) FILTER (WHERE state = 'queued' AND next_attempt_ms > ?2)
             FROM admin_outbox WHERE (?1 IS NULL OR connection = ?1)",
            params![connection, now],
            |r| {
                Ok(Counts {
                    queued: r.get(0)?,
                    failed: r.get(1)?,
                    conflicts: r.get(2)?,
                    done: r.get(3)?,
                    waiting: r.get(4)?,
                    next_attempt_ms: r.get(5)?,
                })
            },
        )?;
        Ok(row)
    }

    /// Outbox rows, newest first. `states`: only these states (all when empty).
    pub fn outbox(
        &self,
        connection: Option<&str>,
        states: &[&str],
        limit: usize,
    ) -> Result<Vec<OutboxEntry>> {
        let db = self.lock();
        let mut stmt = db.prepare_cached(
            "SELECT seq, connection, kind, object_id, action, summary, state, attempts, next_attempt_ms,
                    last_error, created_at, done_at, server_object, server_version, body, idem_key
             FROM admin_outbox WHERE (?1 IS NULL OR connection = ?1) ORDER BY seq DESC",
        )?;
        let rows = stmt.query_map(params![connection], |r| {
            let server: Option<String> = r.get(12)?;
            let body: Option<String> = r.get(14)?;
            Ok(OutboxEntry {
                seq: r.get(0)?,
                connection: r.get(1)?,
                kind: r.get(2)?,
                object_id: r.get(3)?,
                action: r.get(4)?,
                summary: r.get(5)?,
                state: r.get(6)?,
                attempts: r.get(7)?,
                next_attempt_ms: r.get(8)?,
                last_error: r.get(9)?,
                created_at: r.get(10)?,
                done_at: r.get(11)?,
                server_object: server.and_then(|s| serde_json::from_str(&s).ok()),
                server_version: r.get(13)?,
                intent: body.and_then(|s| serde_json::from_str(&s).ok()),
                idempotency_key: r.get(15)?,
            })
        })?;
        let mut out = Vec::new();
        for row in rows {
            let row = row?;
            if states.is_empty() || states.contains(&row.state.as_str()) {
                out.push(row);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    pub fn entry(&self, seq: i64) -> Result<OutboxEntry> {
        let db = self.lock();
        let conn: Option<String> = db
            .query_row(
                "SELECT connection FROM admin_outbox WHERE seq = ?1",
                [seq],
                |r| r.get(0),
            )
            .optional()?;
        drop(db);
        let conn = conn.ok_or(AdminError::NoSuchAction(seq))?;
        self.outbox(Some(&conn), &[], usize::MAX)?
            .into_iter()
            .find(|e| e.seq == seq)
            .ok_or(AdminError::NoSuchAction(seq))
    }

    // -----------------------------------------------------------------------------------
    // The person's decisions
    // -----------------------------------------------------------------------------------

    /// Sends a failed (or conflicting, or waiting) action again, from attempt zero.
    pub fn retry(&self, seq: i64) -> Result<()> {
        let e = self.entry(seq)?;
        if !matches!(e.state.as_str(), "failed" | "queued") {
            return Err(AdminError::WrongState {
                seq,
                state: e.state,
                expected: "failed or queued",
            });
        }
        self.lock().execute(
            "UPDATE admin_outbox SET state = 'queued', attempts = 0, next_attempt_ms = 0 WHERE seq = ?1",
            [seq],
        )?;
        Ok(())
    }

    /// Retries every failed action and wakes every waiting one.
    pub fn retry_all(&self, connection: Option<&str>) -> Result<usize> {
        Ok(self.lock().execute(
            "UPDATE admin_outbox SET state = 'queued', attempts = 0, next_attempt_ms = 0
             WHERE state IN ('failed', 'queued') AND (?1 IS NULL OR connection = ?1)",
            params![connection],
        )?)
    }

    /// Gives up an action that has not been applied. The local view is refreshed by the
    /// next pull (the cursor is rewound so the object is read again).
    pub fn discard(&self, seq: i64) -> Result<OutboxEntry> {
        let e = self.entry(seq)?;
        if !matches!(e.state.as_str(), "failed" | "queued" | "conflict") {
            return Err(AdminError::WrongState {
                seq,
                state: e.state,
                expected: "queued, failed or in conflict",
            });
        }
        let mut db = self.lock();
        let tx = db.transaction()?;
        tx.execute(
            "UPDATE admin_outbox SET state = 'discarded', done_at = ?2 WHERE seq = ?1",
            params![seq, now()],
        )?;
        if is_local(&e.object_id) && e.action.ends_with(".create") {
            tx.execute(
                "DELETE FROM admin_objects WHERE connection = ?1 AND id = ?2",
                params![e.connection, e.object_id],
            )?;
        }
        // Read everything again on the next pull so the view loses the discarded intent.
        tx.execute(
            "UPDATE admin_connections SET cursor = 0 WHERE name = ?1",
            [&e.connection],
        )?;
        tx.execute(
            "DELETE FROM admin_objects WHERE connection = ?1 AND id = ?2 AND id NOT LIKE 'local-%'",
            params![e.connection, e.object_id],
        )?;
        tx.commit()?;
        Ok(e)
    }

    /// Resolves a conflict. `mine`: send the action again over the server's version;
    /// otherwise take the server's version and drop the action.
    pub fn resolve(&self, seq: i64, mine: bool) -> Result<OutboxEntry> {
        let e = self.entry(seq)?;
        if e.state != "conflict" {
            return Err(AdminError::WrongState {
                seq,
                state: e.state,
                expected: "in conflict",
            });
        }
        let mut db = self.lock();
        let tx = db.transaction()?;
        if mine {
            let version = e.server_version.ok_or_else(|| {
                AdminError::invalid(
                    "seq",
                    "the server's version is unknown; sync again to read it, then resolve",
                )
            })?;
            tx.execute(
                "UPDATE admin_outbox SET state = 'queued', attempts = 0, next_attempt_ms = 0,
                     base_version = ?2, last_error = NULL WHERE seq = ?1",
                params![seq, version],
            )?;
        } else {
            tx.execute(
                "UPDATE admin_outbox SET state = 'discarded', done_at = ?2 WHERE seq = ?1",
                params![seq, now()],
            )?;
            if let (Some(obj), Some(v), Some(kind)) =
                (&e.server_object, e.server_version, Kind::parse(&e.kind))
            {
                upsert_object(&tx, &e.connection, kind, &e.object_id, v, obj, now(), true)?;
            }
        }
        tx.commit()?;
        Ok(e)
    }

    /// The vault secret that holds a key generated here, if any.
    pub fn key_secret(&self, connection: &str, key_id: &str) -> Result<Option<String>> {
        let key_id = self.resolve_id(connection, key_id)?;
        Ok(self
            .lock()
            .query_row(
                "SELECT secret_id FROM admin_key_secrets WHERE connection = ?1 AND key_id = ?2",
                params![connection, key_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Applied actions whose vault step (rotation into the vault) has not run yet.
    pub fn pending_vault_steps(&self) -> Result<Vec<PendingVaultStep>> {
        let db = self.lock();
        let mut stmt = db.prepare(
            "SELECT seq, connection, new_object_id, vault_step FROM admin_outbox
             WHERE state = 'done' AND vault_step IS NOT NULL ORDER BY seq",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, conn, new_id, step) = row?;
            if let Ok(step) = serde_json::from_str(&step) {
                out.push((seq, conn, new_id, step));
            }
        }
        Ok(out)
    }

    /// Marks a vault step done and links the new key to the secret.
    pub fn finish_vault_step(
        &self,
        seq: i64,
        connection: &str,
        key_id: Option<&str>,
        secret_id: &str,
    ) -> Result<()> {
        let mut db = self.lock();
        let tx = db.transaction()?;
        tx.execute(
            "UPDATE admin_outbox SET vault_step = NULL WHERE seq = ?1",
            [seq],
        )?;
        if let Some(key_id) = key_id {
            tx.execute(
                "DELETE FROM admin_key_secrets WHERE connection = ?1 AND secret_id = ?2",
                params![connection, secret_id],
            )?;
            tx.execute(
                "INSERT OR REPLACE INTO admin_key_secrets (connection, key_id, secret_id) VALUES (?1, ?2, ?3)",
                params![connection, key_id, secret_id],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Puts a server object into the view (after a read), unless open actions hold it.
    pub fn put_object(&self, connection: &str, kind: Kind, obj: &Value) -> Result<()> {
        let (Some(id), Some(version)) = (
            obj.get("id").and_then(Value::as_str),
            obj.get("version").and_then(Value::as_i64),
        ) else {
            return Ok(());
        };
        let db = self.lock();
        upsert_object(&db, connection, kind, id, version, obj, now(), false)
    }
}

#[allow(clippy::too_many_arguments)]
fn upsert_object(
    tx: &Connection,
    connection: &str,
    kind: Kind,
    id: &str,
    version: i64,
    obj: &Value,
    at: i64,
    force: bool,
) -> Result<()> {
    let sql = if force {
        "INSERT INTO admin_objects (connection, kind, id, version, body, deleted, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)
         ON CONFLICT (connection, kind, id) DO UPDATE SET version = excluded.version, body = excluded.body,
             deleted = 0, updated_at = excluded.updated_at"
    } else {
        "INSERT INTO admin_objects (connection, kind, id, version, body, deleted, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)
         ON CONFLICT (connection, kind, id) DO UPDATE SET version = excluded.version, body = excluded.body,
             deleted = 0, updated_at = excluded.updated_at
         WHERE excluded.version >= admin_objects.version"
    };
    tx.prepare_cached(sql)?.execute(params![
        connection,
        kind.as_str(),
        id,
        version,
        json_text(obj),
        at
    ])?;
    Ok(())
}

fn apply_view_op(tx: &Connection, connection: &str, op: &ViewOp, at: i64) -> Result<()> {
    match op {
        ViewOp::Put { kind, id, body } => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO admin_objects (connection, kind, id, version, body, deleted, updated_at)
                 VALUES (?1, ?2, ?3, 0, ?4, 0, ?5)",
            )?
            .execute(params![connection, kind.as_str(), id, json_text(body), at])?;
        }
        ViewOp::Merge { kind, id, fields } => {
            let current: Option<String> = tx
                .query_row(
                    "SELECT body FROM admin_objects WHERE connection = ?1 AND kind = ?2 AND id = ?3",
                    params![connection, kind.as_str(), id],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(current) = current {
                let mut body: Value = serde_json::from_str(&current).unwrap_or(Value::Null);
                if let (Some(b), Some(f)) = (body.as_object_mut(), fields.as_object()) {
                    for (k, v) in f {
                        b.insert(k.clone(), v.clone());
                    }
                }
                tx.execute(
                    "UPDATE admin_objects SET body = ?4, updated_at = ?5 WHERE connection = ?1 AND kind = ?2 AND id = ?3",
                    params![connection, kind.as_str(), id, json_text(&body), at],
                )?;
            }
        }
        ViewOp::Delete { kind, id } => {
            tx.execute(
                "UPDATE admin_objects SET deleted = 1, updated_at = ?4 WHERE connection = ?1 AND kind = ?2 AND id = ?3",
                params![connection, kind.as_str(), id, at],
            )?;
        }
    }
    Ok(())
}

/// Replaces a local id by its server id in every open row that names it. Objects of the
/// view that still mention the local id are ones whose own pending action will replace
/// their body; readers resolve local ids through `admin_id_map` meanwhile.
fn map_id(tx: &Connection, connection: &str, kind: Kind, local: &str, server: &str) -> Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO admin_id_map (connection, local_id, server_id) VALUES (?1, ?2, ?3)",
        params![connection, local, server],
    )?;
    tx.execute(
        &format!(
            "UPDATE admin_outbox SET object_id = replace(object_id, ?2, ?3), path = replace(path, ?2, ?3),
                 body = replace(body, ?2, ?3), deps = replace(deps, ?2, ?3),
                 new_object_id = replace(new_object_id, ?2, ?3)
             WHERE seq IN (SELECT seq FROM admin_outbox_refs WHERE ref = ?2)
               AND connection = ?1 AND state IN {OPEN}"
        ),
        params![connection, local, server],
    )?;
    tx.execute(
        "UPDATE OR IGNORE admin_outbox_refs SET ref = ?2 WHERE ref = ?1",
        params![local, server],
    )?;
    tx.execute(
        "DELETE FROM admin_outbox_refs WHERE ref = ?1",
        params![local],
    )?;
    tx.execute(
        "DELETE FROM admin_objects WHERE connection = ?1 AND kind = ?2 AND id = ?3",
        params![connection, kind.as_str(), local],
    )?;
    tx.execute(
        "UPDATE admin_key_secrets SET key_id = ?3 WHERE connection = ?1 AND key_id = ?2",
        params![connection, local, server],
    )?;
    Ok(())
}

/// After the server applied `row` and answered `body`: map ids, refresh the view, move
/// the base version of later actions on the same objects, mark the row done.
fn apply_result(
    tx: &Connection,
    connection: &str,
    row: &Sendable,
    body: Value,
    at: i64,
) -> Result<()> {
    let kind = row.kind;
    // (object as the server has it, the local id it had here, the base the action used)
    let mut produced: Vec<(Value, String, i64)> = Vec::new();
    match row.action.as_str() {
        "key.create" => {
            if let Some(o) = body.get("object") {
                produced.push((o.clone(), row.object_id.clone(), row.base_version));
            }
        }
        "key.rotate" | "key.refresh" => {
            if let Some(o) = body.get("object") {
                let local = row.new_object_id.clone().unwrap_or_default();
                produced.push((o.clone(), local, 0));
            }
            if let Some(o) = body.get("replaced") {
                produced.push((o.clone(), row.object_id.clone(), row.base_version));
            }
        }
        a if a.ends_with(".delete") => {
            tx.execute(
                "DELETE FROM admin_objects WHERE connection = ?1 AND kind = ?2 AND id = ?3",
                params![connection, kind.as_str(), row.object_id],
            )?;
        }
        "principal.set_password" => {}
        _ => {
            if body.get("id").is_some() {
                produced.push((body.clone(), row.object_id.clone(), row.base_version));
            }
        }
    }
    for (obj, was, base) in produced {
        let (Some(id), Some(version)) = (
            obj.get("id").and_then(Value::as_str),
            obj.get("version").and_then(Value::as_i64),
        ) else {
            continue;
        };
        if is_local(&was) && was != id {
            map_id(tx, connection, kind, &was, id)?;
        }
        upsert_object(tx, connection, kind, id, version, &obj, at, true)?;
        tx.execute(
            &format!(
                "UPDATE admin_outbox SET base_version = ?4
                 WHERE connection = ?1 AND object_id = ?2 AND seq > ?3 AND base_version = ?5 AND state IN {OPEN}"
            ),
            params![connection, id, row.seq, version, base],
        )?;
    }
    tx.execute(
        "UPDATE admin_outbox SET state = 'done', done_at = ?2, result = ?3, last_error = NULL, attempts = attempts + 1
         WHERE seq = ?1",
        params![row.seq, at, json_text(&strip_key(body))],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::RetryPolicy;

    fn db() -> LocalDb {
        LocalDb::from_connection(keywarden_vault::db::open_in_memory().unwrap()).unwrap()
    }

    fn action(object: &str, deps: &[&str]) -> NewAction {
        NewAction {
            kind: Kind::Key,
            object_id: object.into(),
            action: "key.update".into(),
            summary: String::new(),
            method: "PATCH",
            path: format!("/v1/keys/{object}"),
            body: Some(serde_json::json!({})),
            if_match: IfMatch::Version,
            base_version: 1,
            deps: deps.iter().map(|d| (*d).to_owned()).collect(),
            new_object_id: None,
            vault_step: None,
            view: vec![],
            key_secret: None,
        }
    }

    fn eligible_objects(db: &LocalDb) -> Vec<String> {
        db.eligible("c", i64::MAX, 100, &HashSet::new())
            .unwrap()
            .into_iter()
            .map(|s| s.object_id)
            .collect()
    }

    #[test]
    fn one_object_at_a_time_and_dependencies_first() {
        let db = db();
        db.upsert_connection("c", "http://127.0.0.1:1", None, "key", None)
            .unwrap();
        let seqs = db
            .enqueue(
                "c",
                vec![
                    action("p", &[]),
                    action("k1", &["p"]),
                    action("k2", &["p"]),
                    action("k1", &[]),
                    action("x", &[]),
                    // A delete of p waits for everything that depends on p.
                    action("p", &[]),
                ],
            )
            .unwrap();
        assert_eq!(eligible_objects(&db), ["p", "x"]);
        let applied = |seq: i64| {
            let row = db
                .eligible("c", i64::MAX, 100, &HashSet::new())
                .unwrap()
                .into_iter()
                .find(|s| s.seq == seq)
                .unwrap();
            db.record(
                "c",
                vec![(row, Outcome::Applied(serde_json::json!({})))],
                &RetryPolicy::default(),
            )
            .unwrap();
        };
        applied(seqs[0]);
        assert_eq!(eligible_objects(&db), ["k1", "k2", "x"]);
        // Nothing depends on p any more: its second action may go.
        applied(seqs[1]);
        applied(seqs[2]);
        assert_eq!(eligible_objects(&db), ["k1", "x", "p"]);
        // A failed row holds its object's later rows (and whoever depends on it).
        let row = db
            .eligible("c", i64::MAX, 100, &HashSet::new())
            .unwrap()
            .remove(0);
        db.record(
            "c",
            vec![(row, Outcome::Failed("400".into()))],
            &RetryPolicy::default(),
        )
        .unwrap();
        assert_eq!(eligible_objects(&db), ["x", "p"]);
        db.retry(seqs[3]).unwrap();
        assert_eq!(eligible_objects(&db), ["k1", "x", "p"]);
    }

    #[test]
    fn retries_wait_and_give_up_after_the_limit() {
        let db = db();
        db.upsert_connection("c", "http://127.0.0.1:1", None, "key", None)
            .unwrap();
        db.enqueue("c", vec![action("k", &[])]).unwrap();
        let policy = RetryPolicy {
            max_attempts: 3,
            base_ms: 60_000,
            cap_ms: 60_000,
        };
        for _ in 0..2 {
            let row = db
                .eligible("c", i64::MAX, 1, &HashSet::new())
                .unwrap()
                .remove(0);
            let retry = Outcome::Retry {
                reason: "500".into(),
                after_ms: None,
                counts: true,
            };
            db.record("c", vec![(row, retry)], &policy).unwrap();
        }
        assert_eq!(db.counts(Some("c")).unwrap().queued, 1);
        // Offline does not count.
        let row = db
            .eligible("c", i64::MAX, 1, &HashSet::new())
            .unwrap()
            .remove(0);
        let offline = Outcome::Retry {
            reason: "unreachable".into(),
            after_ms: Some(0),
            counts: false,
        };
        db.record("c", vec![(row, offline)], &policy).unwrap();
        assert_eq!(db.counts(Some("c")).unwrap().failed, 0);
        let row = db
            .eligible("c", i64::MAX, 1, &HashSet::new())
            .unwrap()
            .remove(0);
        let retry = Outcome::Retry {
            reason: "500".into(),
            after_ms: None,
            counts: true,
        };
        db.record("c", vec![(row, retry)], &policy).unwrap();
        let c = db.counts(Some("c")).unwrap();
        assert_eq!((c.queued, c.failed), (0, 1));
        let failed = db.outbox(Some("c"), &["failed"], 1).unwrap();
        assert!(
            failed[0]
                .last_error
                .as_deref()
                .unwrap()
                .contains("gave up after 3")
        );
    }

    /// A clock that moves only when the test says so.
    struct Frozen(std::sync::atomic::AtomicI64);
    impl Clock for Frozen {
        fn now_ms(&self) -> i64 {
            self.0.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    #[test]
    fn retries_are_scheduled_and_due_by_the_outbox_clock() {
        let clock = Arc::new(Frozen(std::sync::atomic::AtomicI64::new(1_000_000)));
        let db = LocalDb::from_connection(keywarden_vault::db::open_in_memory().unwrap())
            .unwrap()
            .with_clock(clock.clone());
        db.upsert_connection("c", "http://127.0.0.1:1", None, "key", None)
            .unwrap();
        db.enqueue("c", vec![action("a", &[]), action("b", &[])])
            .unwrap();
        let t = db.now_ms();
        assert_eq!(t, 1_000_000);
        let rows = db.eligible("c", t, 10, &HashSet::new()).unwrap();
        assert_eq!(rows.len(), 2);
        let policy = RetryPolicy::default();
        let wait = Outcome::Retry {
            reason: "busy".into(),
            after_ms: Some(3_000),
            counts: false,
        };
        let backoff = Outcome::Retry {
            reason: "500".into(),
            after_ms: None,
            counts: true,
        };
        db.record(
            "c",
            vec![(rows[0].clone(), wait), (rows[1].clone(), backoff)],
            &policy,
        )
        .unwrap();
        let next = |object: &str| {
            db.outbox(Some("c"), &["queued"], 10)
                .unwrap()
                .into_iter()
                .find(|e| e.object_id == object)
                .unwrap()
        };
        // A fixed wait is exact on a clock that does not move.
        assert_eq!(next("a").next_attempt_ms, t + 3_000);
        assert_eq!(next("a").attempts, 0);
        // The first counted failure waits within [0, base · 2¹].
        let b = next("b");
        assert_eq!(b.attempts, 1);
        assert!((t..=t + 1_000).contains(&b.next_attempt_ms), "{b:?}");
        let c = db.counts(Some("c")).unwrap();
        assert_eq!(c.waiting, 1 + i64::from(b.next_attempt_ms > t));
        // Nothing is due before its time on the outbox's clock, everything is after it.
        let due = |at: i64| -> Vec<String> {
            db.eligible("c", at, 10, &HashSet::new())
                .unwrap()
                .into_iter()
                .map(|s| s.object_id)
                .collect()
        };
        assert!(!due(t + 2_999).contains(&"a".to_owned()));
        clock
            .0
            .store(t + 3_000, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(due(db.now_ms()), ["a", "b"]);
        assert_eq!(db.counts(Some("c")).unwrap().waiting, 0);
    }

    #[test]
    fn backoff_is_full_jitter_under_the_cap() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_ms: 100,
            cap_ms: 5_000,
        };
        for attempt in 0..40 {
            let ceiling = (100u64 << attempt.min(30)).min(5_000);
            for _ in 0..50 {
                assert!(p.backoff_ms(attempt) <= ceiling);
            }
        }
        let spread: HashSet<u64> = (0..200).map(|_| p.backoff_ms(10)).collect();
        assert!(spread.len() > 50, "jittered");
    }

    #[test]
    fn local_ids_are_recognised_only_whole() {
        let id = local_id();
        assert!(contains_local_id(&format!("/v1/principals/{id}/keys")));
        assert!(!contains_local_id("a key named local-dev"));
        assert!(!contains_local_id("/v1/principals/3f1c/keys"));
    }
}
