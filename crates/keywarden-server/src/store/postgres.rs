//! The PostgreSQL store, for several server replicas over one database.
//!
//! Writers take a transaction-scoped advisory lock before they allocate change
//! sequence numbers, so sequence numbers commit in order and a replica that
//! follows `seq > cursor` never skips a change committed late.

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use keywarden_core::Timestamp;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use super::sqlite::idem_outcome;
use super::{
    AuditQuery, IdemBegin, Mutation, NewAudit, SessionRow, Snapshot, Store, StoreError, Write,
    decode_audit, decode_change, decode_object,
};
use crate::model::{AuditEntry, Change, Object};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/postgres/0002_expiry_indexes.sql"),
    ),
    (
        3,
        include_str!("../../migrations/postgres/0003_session_owners.sql"),
    ),
];
/// Serializes writers (change sequence order) and migrations across replicas.
const WRITE_LOCK: i64 = 0x6b77_7772;

/// The channel `NOTIFY`-ed by every committed change.
const CHANNEL: &str = "keywarden_changes";

pub struct PgStore {
    pool: Pool,
    signal: std::sync::Arc<tokio::sync::Notify>,
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// Keeps one connection `LISTEN`ing on [`CHANNEL`] and wakes `signal` on each notification;
/// reconnects with a pause when the connection drops.
async fn listen(config: tokio_postgres::Config, signal: std::sync::Arc<tokio::sync::Notify>) {
    loop {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                let listen = async move {
                    if let Err(e) = client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                        tracing::warn!(error = %e, "cannot LISTEN for changes");
                        return;
                    }
                    // Keep the client alive while the connection is driven below.
                    std::future::pending::<()>().await;
                };
                let drive = async {
                    while let Some(message) =
                        std::future::poll_fn(|cx| connection.poll_message(cx)).await
                    {
                        match message {
                            Ok(tokio_postgres::AsyncMessage::Notification(_)) => {
                                signal.notify_one()
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "change listener connection failed");
                                break;
                            }
                        }
                    }
                };
                tokio::select! {
                    () = listen => {}
                    () = drive => {}
                }
                // Wake the follower once: anything missed while reconnecting is read by its poll.
                signal.notify_one();
            }
            Err(e) => tracing::warn!(error = %e, "change listener cannot connect"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

fn backend(e: tokio_postgres::Error) -> StoreError {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        return StoreError::Conflict("an object with this name".to_owned());
    }
    // The error text of tokio-postgres names the server's message, never our parameters.
    StoreError::Backend(e.to_string())
}

fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Backend(format!("database connection: {e}"))
}

impl PgStore {
    pub async fn connect(url: &str, pool_size: usize) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|_| StoreError::Backend("the PostgreSQL URL is not valid".to_owned()))?;
        let config_for_listener = config.clone();
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(2))
            .build()
            .map_err(|e| StoreError::Backend(format!("database pool: {e}")))?;
        let signal = std::sync::Arc::new(tokio::sync::Notify::new());
        let listener = tokio::spawn(listen(config_for_listener, std::sync::Arc::clone(&signal)));
        let store = Self {
            pool,
            signal,
            listener,
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.pool.get().await.map_err(pool_err)?;
        let tx = client.transaction().await.map_err(backend)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
            .await
            .map_err(backend)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .await
        .map_err(backend)?;
        let current: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )
            .await
            .map_err(backend)?
            .get(0);
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            tx.batch_execute(sql).await.map_err(backend)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                &[version, &keywarden_core::now()],
            )
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }
}

async fn insert_audit(
    tx: &deadpool_postgres::Transaction<'_>,
    entries: &[NewAudit],
    at: Timestamp,
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO audit (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)",
        )
        .await
        .map_err(backend)?;
    for e in entries {
        let detail = e.detail.to_string();
        tx.execute(&stmt, &[&at, &e.actor, &e.action, &e.target, &detail])
            .await
            .map_err(backend)?;
    }
    Ok(())
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn change_signal(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        Some(std::sync::Arc::clone(&self.signal))
    }

    async fn load(&self) -> Result<Snapshot, StoreError> {
        let mut client = self.pool.get().await.map_err(pool_err)?;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .start()
            .await
            .map_err(backend)?;
        let mut snapshot = Snapshot::default();
        for row in tx
            .query("SELECT kind, id, body FROM objects", &[])
            .await
            .map_err(backend)?
        {
            let (kind, id, body): (String, String, String) = (row.get(0), row.get(1), row.get(2));
            snapshot.objects.push(decode_object(&kind, &id, &body)?);
        }
        snapshot.seq = tx
            .query_one("SELECT COALESCE(MAX(seq), 0) FROM changes", &[])
            .await
            .map_err(backend)?
            .get(0);
        for row in tx
            .query("SELECT key_id, last_used_at FROM key_usage", &[])
            .await
            .map_err(backend)?
        {
            snapshot.usage.push((row.get(0), row.get(1)));
        }
        tx.commit().await.map_err(backend)?;
        Ok(snapshot)
    }

    async fn changes_since(&self, since: i64, limit: i64) -> Result<Vec<Change>, StoreError> {
        let client = self.pool.get().await.map_err(pool_err)?;
        let stmt = client
            .prepare_cached(
                "SELECT seq, kind, id, version, body, actor, at FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .await
            .map_err(backend)?;
        let rows = client
            .query(&stmt, &[&since, &limit])
            .await
            .map_err(backend)?;
        rows.into_iter()
            .map(|r| {
                let kind: String = r.get(1);
                decode_change(
                    r.get(0),
                    &kind,
                    r.get(2),
                    r.get(3),
                    r.get(4),
                    r.get(5),
                    r.get(6),
                )
            })
            .collect()
    }

    async fn apply(&self, m: Mutation) -> Result<Vec<Change>, StoreError> {
        let mut client = self.pool.get().await.map_err(pool_err)?;
        let tx = client.transaction().await.map_err(backend)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
            .await
            .map_err(backend)?;
        insert_audit(&tx, &m.audit, m.at).await?;
        let mut changes = Vec::with_capacity(m.writes.len());
        for write in &m.writes {
            let (kind, id, version, object) = match write {
                Write::Put {
                    object,
                    expected_version,
                } => {
                    let body = object.to_json().to_string();
                    let kind = object.kind().as_str();
                    let unique = object.unique_name();
                    let n = match expected_version {
                        None => tx
                            .execute(
                                "INSERT INTO objects (kind, id, version, unique_name, body, updated_at)
                                 VALUES ($1, $2, $3, $4, $5, $6)",
                                &[&kind, &object.id(), &object.version(), &unique, &body, &m.at],
                            )
                            .await
                            .map_err(|e| match backend(e) {
                                StoreError::Conflict(_) => StoreError::Conflict(format!("a {kind} with this name")),
                                other => other,
                            })?,
                        Some(v) => tx
                            .execute(
                                "UPDATE objects SET version = $1, unique_name = $2, body = $3, updated_at = $4
                                 WHERE kind = $5 AND id = $6 AND version = $7",
                                &[&object.version(), &unique, &body, &m.at, &kind, &object.id(), v],
                            )
                            .await
                            .map_err(|e| match backend(e) {
                                StoreError::Conflict(_) => StoreError::Conflict(format!("a {kind} with this name")),
                                other => other,
                            })?,
                    };
                    if n == 0 {
                        return Err(StoreError::VersionMismatch);
                    }
                    (
                        object.kind(),
                        object.id().to_owned(),
                        object.version(),
                        Some(object.clone()),
                    )
                }
                Write::Delete {
                    kind,
                    id,
                    expected_version,
                } => {
                    let row = tx
                        .query_opt(
                            "SELECT version FROM objects WHERE kind = $1 AND id = $2 FOR UPDATE",
                            &[&kind.as_str(), id],
                        )
                        .await
                        .map_err(backend)?;
                    let Some(row) = row else {
                        return Err(StoreError::NotFound);
                    };
                    let current: i64 = row.get(0);
                    if expected_version.is_some_and(|v| v != current) {
                        return Err(StoreError::VersionMismatch);
                    }
                    tx.execute(
                        "DELETE FROM objects WHERE kind = $1 AND id = $2",
                        &[&kind.as_str(), id],
                    )
                    .await
                    .map_err(backend)?;
                    (*kind, id.clone(), current + 1, None)
                }
            };
            let body = object.as_ref().map(|o| o.to_json().to_string());
            let seq: i64 = tx
                .query_one(
                    "INSERT INTO changes (kind, id, version, body, actor, at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
                    &[&kind.as_str(), &id, &version, &body, &m.actor, &m.at],
                )
                .await
                .map_err(backend)?
                .get(0);
            changes.push(Change {
                seq,
                kind,
                id,
                object,
                version,
                actor: m.actor.clone(),
                at: m.at,
            });
        }
        for principal in &m.end_sessions {
            tx.execute("DELETE FROM sessions WHERE principal_id = $1", &[principal])
                .await
                .map_err(backend)?;
        }
        if let Some((principal, hash)) = &m.password {
            tx.execute(
                "INSERT INTO passwords (principal_id, hash, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (principal_id) DO UPDATE SET hash = excluded.hash, updated_at = excluded.updated_at",
                &[principal, hash, &m.at],
            )
            .await
            .map_err(backend)?;
        }
        if let Some(done) = &m.idempotency {
            tx.execute(
                "UPDATE idempotency SET state = 'done', status = $1, body = $2 WHERE actor = $3 AND key = $4",
                &[&i64::from(done.status), &done.body, &done.actor, &done.key],
            )
            .await
            .map_err(backend)?;
        }
        if !changes.is_empty() {
            // Delivered to listeners when (and only if) the transaction commits.
            tx.execute("SELECT pg_notify($1, '')", &[&CHANNEL])
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(changes)
    }

    async fn idempotency_begin(
        &self,
        actor: &str,
        key: &str,
        request_hash: &str,
        now: Timestamp,
        stale_before: Timestamp,
    ) -> Result<IdemBegin, StoreError> {
        let mut client = self.pool.get().await.map_err(pool_err)?;
        let tx = client.transaction().await.map_err(backend)?;
        let inserted = tx
            .execute(
                "INSERT INTO idempotency (actor, key, request_hash, state, created_at)
                 VALUES ($1, $2, $3, 'pending', $4) ON CONFLICT (actor, key) DO NOTHING",
                &[&actor, &key, &request_hash, &now],
            )
            .await
            .map_err(backend)?;
        let outcome = if inserted == 1 {
            IdemBegin::Started
        } else {
            let row = tx
                .query_one(
                    "SELECT request_hash, state, status, body, created_at FROM idempotency
                     WHERE actor = $1 AND key = $2 FOR UPDATE",
                    &[&actor, &key],
                )
                .await
                .map_err(backend)?;
            let outcome = idem_outcome(
                row.get::<_, String>(0).as_str(),
                request_hash,
                row.get::<_, String>(1).as_str(),
                row.get(2),
                row.get(3),
                row.get(4),
                stale_before,
            );
            if outcome == IdemBegin::Started {
                tx.execute(
                    "UPDATE idempotency SET created_at = $1 WHERE actor = $2 AND key = $3",
                    &[&now, &actor, &key],
                )
                .await
                .map_err(backend)?;
            }
            outcome
        };
        tx.commit().await.map_err(backend)?;
        Ok(outcome)
    }

    async fn idempotency_abort(&self, actor: &str, key: &str) -> Result<(), StoreError> {
        let client = self.pool.get().await.map_err(pool_err)?;
        client
            .execute(
                "DELETE FROM idempotency WHERE actor = $1 AND key = $2 AND state = 'pending'",
                &[&actor, &key],
            )
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn append_audit(&self, entries: Vec<NewAudit>, at: Timestamp) -> Result<(), StoreError> {
        let mut client = self.pool.get().await.map_err(pool_err)?;
        let tx = client.transaction().await.map_err(backend)?;
        insert_audit(&tx, &entries, at).await?;
        tx.commit().await.map_err(backend)
    }

    async fn audit(&self, q: AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let client = self.pool.get().await.map_err(pool_err)?;
        let rows = client
            .query(
                "SELECT seq, at, actor, action, target, detail FROM audit
                 WHERE seq > $1 AND ($2::TEXT IS NULL OR actor = $2) AND ($3::TEXT IS NULL OR action = $3)
                   AND ($4::TEXT IS NULL OR target = $4)
                 ORDER BY seq LIMIT $5",
                &[&q.since, &q.actor, &q.action, &q.target, &q.limit],
            )
            .await
            .map_err(backend)?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let detail: String = r.get(5);
                decode_audit(r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), &detail)
            })
            .collect())
    }

    async fn password_hash(&self, principal_id: &str) -> Result<Option<String>, StoreError> {
        let client = self.pool.get().await.map_err(pool_err)?;
        let row = client
            .query_opt(
                "SELECT hash FROM passwords WHERE principal_id = $1",
                &[&principal_id],
            )
            .await
            .map_err(backend)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn session_insert(
        &self,
        digest: &str,
        principal_id: &str,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let client = self.pool.get().await.map_err(pool_err)?;
        client
            .execute(
                "INSERT INTO sessions (digest, principal_id, expires_at, created_at) VALUES ($1, $2, $3, $4)",
                &[&digest, &principal_id, &expires_at, &keywarden_core::now()],
            )
            .await
            .map_err(backend)?;
        client
            .execute(
                "DELETE FROM sessions WHERE expires_at < $1",
                &[&keywarden_core::now()],
            )
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn session_get(&self, digest: &str) -> Result<Option<(String, Timestamp)>, StoreError> {
        let client = self.pool.get().await.map_err(pool_err)?;
        let row = client
            .query_opt(
                "SELECT principal_id, expires_at FROM sessions WHERE digest = $1",
                &[&digest],
            )
            .await
            .map_err(backend)?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    async fn session_delete(&self, digest: &str) -> Result<(), StoreError> {
        let client = self.pool.get().await.map_err(pool_err)?;
        client
            .execute("DELETE FROM sessions WHERE digest = $1", &[&digest])
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn session_list(&self, principal_id: &str) -> Result<Vec<SessionRow>, StoreError> {
        let client = self.pool.get().await.map_err(pool_err)?;
        let rows = client
            .query(
                "SELECT left(digest, 16), created_at, expires_at FROM sessions
                 WHERE principal_id = $1 AND expires_at > $2 ORDER BY created_at DESC, digest",
                &[&principal_id, &keywarden_core::now()],
            )
            .await
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| SessionRow {
                id: r.get(0),
                created_at: r.get(1),
                expires_at: r.get(2),
            })
            .collect())
    }

    async fn session_end(&self, principal_id: &str, id: Option<&str>) -> Result<u64, StoreError> {
        let client = self.pool.get().await.map_err(pool_err)?;
        let n =
            match id {
                Some(id) => client
                    .execute(
                        "DELETE FROM sessions WHERE principal_id = $1 AND left(digest, 16) = $2",
                        &[&principal_id, &id],
                    )
                    .await,
                None => {
                    client
                        .execute(
                            "DELETE FROM sessions WHERE principal_id = $1",
                            &[&principal_id],
                        )
                        .await
                }
            }
            .map_err(backend)?;
        Ok(n)
    }

    async fn record_usage(&self, usage: Vec<(String, Timestamp)>) -> Result<(), StoreError> {
        let mut client = self.pool.get().await.map_err(pool_err)?;
        let tx = client.transaction().await.map_err(backend)?;
        let stmt = tx
            .prepare_cached(
                "INSERT INTO key_usage (key_id, last_used_at) VALUES ($1, $2)
                 ON CONFLICT (key_id) DO UPDATE SET last_used_at = GREATEST(key_usage.last_used_at, excluded.last_used_at)",
            )
            .await
            .map_err(backend)?;
        for (id, at) in &usage {
            tx.execute(&stmt, &[id, at]).await.map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn prune(&self, idempotency_before: Timestamp, now: Timestamp) -> Result<(), StoreError> {
        let client = self.pool.get().await.map_err(pool_err)?;
        client
            .execute(
                "DELETE FROM idempotency WHERE created_at < $1",
                &[&idempotency_before],
            )
            .await
            .map_err(backend)?;
        client
            .execute("DELETE FROM sessions WHERE expires_at < $1", &[&now])
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn bulk_insert(
        &self,
        objects: Vec<Object>,
        actor: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut client = self.pool.get().await.map_err(pool_err)?;
        let tx = client.transaction().await.map_err(backend)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
            .await
            .map_err(backend)?;
        let obj = tx
            .prepare_cached(
                "INSERT INTO objects (kind, id, version, unique_name, body, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .await
            .map_err(backend)?;
        let change = tx
            .prepare_cached("INSERT INTO changes (kind, id, version, body, actor, at) VALUES ($1, $2, $3, $4, $5, $6)")
            .await
            .map_err(backend)?;
        for o in &objects {
            let body = o.to_json().to_string();
            let kind = o.kind().as_str();
            tx.execute(
                &obj,
                &[&kind, &o.id(), &o.version(), &o.unique_name(), &body, &at],
            )
            .await
            .map_err(backend)?;
            tx.execute(&change, &[&kind, &o.id(), &o.version(), &body, &actor, &at])
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }
}
