//! The sync engine: push the outbox (concurrently across objects, in order within
//! one), pull the change feed, back off with full jitter.

use std::collections::HashSet;
use std::sync::Arc;

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::client::{Client, Net};
use crate::error::Result;
use crate::store::{LocalDb, Outcome};

/// Exponential backoff with full jitter, and the attempt limit before an action
/// waits for the person in `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_ms: u64,
    pub cap_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base_ms: 500,
            cap_ms: 60_000,
        }
    }
}

impl RetryPolicy {
    /// A random delay in `[0, min(cap, base · 2^attempt)]` ("full jitter").
    pub fn backoff_ms(&self, attempt: u32) -> u64 {
        let ceiling = self
            .base_ms
            .saturating_mul(1u64 << attempt.min(30))
            .min(self.cap_ms);
        rand::thread_rng().gen_range(0..=ceiling)
    }
}

/// How one push went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushReport {
    pub sent: u64,
    pub applied: u64,
    pub failed: u64,
    pub conflicts: u64,
    pub retrying: u64,
    pub unreachable: bool,
    pub unauthenticated: bool,
}

/// Tuning of a push.
#[derive(Debug, Clone, Copy)]
pub struct PushOptions {
    /// Requests in flight at once (different objects only).
    pub concurrency: usize,
    /// Actions taken from the outbox per round (their answers commit together).
    pub batch: usize,
    pub policy: RetryPolicy,
    /// How long one request may take before its answer counts as lost.
    pub request_timeout: std::time::Duration,
}

impl Default for PushOptions {
    fn default() -> Self {
        Self {
            concurrency: 16,
            batch: 256,
            policy: RetryPolicy::default(),
            request_timeout: std::time::Duration::from_secs(15),
        }
    }
}

/// Sends every action that may go now, round after round, until none is left, the
/// server is unreachable, or the credential is refused.
pub async fn push(
    db: &Arc<LocalDb>,
    client: &Client,
    connection: &str,
    options: PushOptions,
) -> Result<PushReport> {
    let mut report = PushReport::default();
    let permits = Arc::new(Semaphore::new(options.concurrency.max(1)));
    // Actions told to retry are tried again by the next push, never in a tight loop here.
    let mut tried: HashSet<i64> = HashSet::new();
    loop {
        let batch = {
            let db = Arc::clone(db);
            let connection = connection.to_owned();
            let limit = options.batch;
            let skip = tried.clone();
            tokio::task::spawn_blocking(move || db.eligible(&connection, db.now_ms(), limit, &skip))
                .await
                .map_err(|e| crate::AdminError::Internal(e.to_string()))??
        };
        if batch.is_empty() {
            break;
        }
        let mut tasks = tokio::task::JoinSet::new();
        for (i, row) in batch.into_iter().enumerate() {
            let client = client.clone();
            let permits = Arc::clone(&permits);
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                let (outcome, net) = client.send(&row).await;
                (i, row, outcome, net)
            });
        }
        let mut results = Vec::new();
        while let Some(done) = tasks.join_next().await {
            let Ok((i, row, outcome, net)) = done else {
                continue;
            };
            report.sent += 1;
            match &outcome {
                Outcome::Applied(_) | Outcome::Gone => report.applied += 1,
                Outcome::Failed(reason) => {
                    tracing::warn!(seq = row.seq, action = %row.action, %reason, "admin action refused");
                    report.failed += 1;
                }
                Outcome::Conflict(_) => report.conflicts += 1,
                Outcome::Retry { .. } => {
                    report.retrying += 1;
                    tried.insert(row.seq);
                }
            }
            match net {
                Net::Ok => {}
                Net::Unreachable => report.unreachable = true,
                Net::Unauthenticated => report.unauthenticated = true,
            }
            results.push((i, row, outcome));
        }
        results.sort_by_key(|(i, _, _)| *i);
        let results: Vec<_> = results.into_iter().map(|(_, r, o)| (r, o)).collect();
        {
            let db = Arc::clone(db);
            let connection = connection.to_owned();
            let policy = options.policy;
            tokio::task::spawn_blocking(move || db.record(&connection, results, &policy))
                .await
                .map_err(|e| crate::AdminError::Internal(e.to_string()))??;
        }
        if report.unreachable || report.unauthenticated {
            break;
        }
    }
    Ok(report)
}

/// Reads the change feed from the stored cursor and applies it to the local view.
pub async fn pull(db: &Arc<LocalDb>, client: &Client, connection: &str) -> Result<u64> {
    let mut cursor = db.connection(connection)?.cursor;
    let mut applied = 0u64;
    loop {
        let (page, _) = client
            .get(&format!("/v1/changes?since={cursor}&limit=1000"))
            .await?;
        let changes = page
            .get("changes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let next = page.get("next").and_then(Value::as_i64).unwrap_or(cursor);
        if changes.is_empty() {
            return Ok(applied);
        }
        applied += changes.len() as u64;
        let db2 = Arc::clone(db);
        let conn = connection.to_owned();
        tokio::task::spawn_blocking(move || db2.apply_changes(&conn, &changes, next))
            .await
            .map_err(|e| crate::AdminError::Internal(e.to_string()))??;
        if next <= cursor {
            return Ok(applied);
        }
        cursor = next;
    }
}
