//! The change feed, the audit log, refusal statistics and the periodic flushes.

use super::*;

impl Service {
    pub async fn changes(&self, caller: &Caller, since: i64, limit: i64) -> Result<ChangePage> {
        caller.require(privilege::ADMIN_READ)?;
        let limit = limit.clamp(1, 1000);
        let changes = self.store.changes_since(since.max(0), limit).await?;
        let next = changes.last().map_or(since.max(0), |c| c.seq);
        Ok(ChangePage {
            changes: changes
                .into_iter()
                .map(|c| ChangeView {
                    seq: c.seq,
                    kind: c.kind,
                    op: if c.object.is_some() {
                        "put".into()
                    } else {
                        "delete".into()
                    },
                    id: c.id,
                    version: c.version,
                    actor: c.actor,
                    at: c.at,
                    object: c.object.map(|o| o.public_json()),
                })
                .collect(),
            next,
        })
    }

    pub async fn audit(&self, caller: &Caller, query: AuditQuery) -> Result<AuditPage> {
        caller.require(privilege::AUDIT_READ)?;
        let query = AuditQuery {
            limit: query.limit.clamp(1, 1000),
            since: query.since.max(0),
            ..query
        };
        let since = query.since;
        let entries = self.store.audit(query).await?;
        let next = entries.last().map_or(since, |e| e.seq);
        Ok(AuditPage { entries, next })
    }

    pub fn verify_stats(&self, caller: &Caller) -> Result<Value> {
        caller.require(privilege::ADMIN_READ)?;
        let refused: serde_json::Map<String, Value> = self
            .verifier
            .stats
            .totals()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), json!(v)))
            .collect();
        Ok(json!({ "refused": refused, "keys": self.read().key_count() }))
    }

    /// Writes refusal counts since the last flush to the audit log.
    pub async fn flush_refusal_counts(&self) -> Result<()> {
        let delta = self.verifier.stats.take_delta();
        if delta.is_empty() {
            return Ok(());
        }
        let counts: serde_json::Map<String, Value> = delta
            .into_iter()
            .map(|(k, v)| (k.to_owned(), json!(v)))
            .collect();
        self.store
            .append_audit(
                vec![NewAudit {
                    actor: "system".into(),
                    action: "verify.refused".into(),
                    target: "verify".into(),
                    detail: Value::Object(counts),
                }],
                now(),
            )
            .await?;
        Ok(())
    }

    /// Writes last-used times newer than `since` to the store.
    pub async fn flush_usage(&self, since: Timestamp) -> Result<()> {
        let usage: Vec<(String, Timestamp)> = {
            let index = self.read();
            index
                .keys
                .values()
                .filter_map(|k| {
                    let at = k.last_used.load(std::sync::atomic::Ordering::Relaxed);
                    (at >= since && at > 0).then(|| (k.key.id.clone(), at))
                })
                .collect()
        };
        if !usage.is_empty() {
            self.store.record_usage(usage).await?;
        }
        Ok(())
    }
}
