//! Planning and committing an action once per Idempotency-Key.

use super::*;

impl Service {
    /// Runs a planned action once per Idempotency-Key: replays the stored result of
    /// the same request, refuses a different request with the same key (422) and a
    /// concurrent duplicate (409).
    pub async fn run<F>(
        &self,
        caller: &Caller,
        idempotency_key: Option<&str>,
        request: &[u8],
        plan: F,
    ) -> Result<Outcome>
    where
        F: FnOnce() -> Result<Planned>,
    {
        let fingerprint = || hex::encode(Sha256::digest(request));
        self.run_with(caller, idempotency_key, fingerprint, plan)
            .await
    }

    /// [`Service::run`] for a request that carries a password or a signing secret: its
    /// idempotency fingerprint is an HMAC under a key that lives only in this process's
    /// memory, so the database never holds a fast hash of the secret. (A retry that reaches
    /// another replica, or this one after a restart, is refused as a different request,
    /// never replayed.)
    pub async fn run_sensitive<F>(
        &self,
        caller: &Caller,
        idempotency_key: Option<&str>,
        request: &[u8],
        plan: F,
    ) -> Result<Outcome>
    where
        F: FnOnce() -> Result<Planned>,
    {
        use hmac::Mac;
        use hmac::digest::KeyInit;
        let fingerprint = || {
            let mut mac =
                <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(self.fingerprint_key.as_slice())
                    .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
            mac.update(request);
            format!("hmac:{}", hex::encode(mac.finalize().into_bytes()))
        };
        self.run_with(caller, idempotency_key, fingerprint, plan)
            .await
    }

    /// `fingerprint` is computed only when the request carries an Idempotency-Key.
    async fn run_with<F>(
        &self,
        caller: &Caller,
        idempotency_key: Option<&str>,
        fingerprint: impl FnOnce() -> String,
        plan: F,
    ) -> Result<Outcome>
    where
        F: FnOnce() -> Result<Planned>,
    {
        let Some(idem) = idempotency_key else {
            let planned = plan()?;
            return self.commit(planned, None).await;
        };
        if idem.is_empty() || idem.len() > 255 || !idem.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::Invalid {
                code: "invalid_header",
                field: Some("Idempotency-Key".into()),
                message: "Idempotency-Key must be 1 to 255 visible ASCII characters".into(),
            });
        }
        let hash = fingerprint();
        let at = now();
        match self
            .store
            .idempotency_begin(&caller.actor, idem, &hash, at, at - IDEMPOTENCY_STALE_SECS)
            .await?
        {
            IdemBegin::Replay { status, body } => {
                let body = serde_json::from_str(&body).unwrap_or(Value::Null);
                let etag = body.get("version").and_then(Value::as_i64);
                Ok(Outcome {
                    status,
                    body,
                    etag,
                    replayed: true,
                })
            }
            IdemBegin::Mismatch => Err(Error::IdempotencyMismatch),
            IdemBegin::InFlight => Err(Error::IdempotencyInFlight),
            IdemBegin::Started => {
                let result = match plan() {
                    Ok(planned) => {
                        self.commit(planned, Some((caller.actor.clone(), idem.to_owned())))
                            .await
                    }
                    Err(e) => Err(e),
                };
                if result.is_err() {
                    // Nothing was committed: let a retry run again.
                    let _ = self.store.idempotency_abort(&caller.actor, idem).await;
                }
                result
            }
        }
    }

    pub(super) async fn commit(
        &self,
        planned: Planned,
        idem: Option<(String, String)>,
    ) -> Result<Outcome> {
        let Planned {
            status,
            body,
            replay_body,
            mut mutation,
            etag,
        } = planned;
        if let Some((actor, key)) = idem {
            let stored = replay_body.as_ref().unwrap_or(&body).to_string();
            mutation.idempotency = Some(IdemDone {
                actor,
                key,
                status,
                body: stored,
            });
        }
        let actor = mutation.actor.clone();
        let actions: Vec<(String, String)> = mutation
            .audit
            .iter()
            .map(|a| (a.action.clone(), a.target.clone()))
            .collect();
        // The write and its application to the in-memory index run as one task that a
        // cancelled request (a client that disconnects) cannot split: once the database
        // has the change, the index has it too.
        let store = Arc::clone(&self.store);
        let index = Arc::clone(&self.index);
        tokio::spawn(async move {
            let changes = store.apply(mutation).await?;
            index
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .apply(&changes);
            Ok::<_, Error>(())
        })
        .await
        .map_err(|e| Error::Internal(format!("the write task failed: {e}")))??;
        for (action, target) in actions {
            tracing::info!(%actor, %action, %target, "admin action");
        }
        Ok(Outcome {
            status,
            body,
            etag,
            replayed: false,
        })
    }

    pub(super) fn plan(
        &self,
        caller: &Caller,
        status: u16,
        object: Object,
        expected: Option<i64>,
        action: &str,
        mut extra: Vec<Write>,
    ) -> Planned {
        let at = now();
        let detail = audit_detail(&object);
        let target = format!("{}:{}", object.kind().as_str(), object.id());
        let body = object.public_json();
        let etag = Some(object.version());
        let mut writes = vec![Write::Put {
            object,
            expected_version: expected,
        }];
        writes.append(&mut extra);
        Planned {
            status,
            body,
            replay_body: None,
            etag,
            mutation: Mutation {
                actor: caller.actor.clone(),
                at,
                writes,
                audit: vec![NewAudit {
                    actor: caller.actor.clone(),
                    action: action.to_owned(),
                    target,
                    detail,
                }],
                ..Mutation::default()
            },
        }
    }

    pub(super) fn check_version(current: i64, expected: Option<i64>) -> Result<i64> {
        match expected {
            Some(v) if v != current => Err(Error::PreconditionFailed),
            _ => Ok(current),
        }
    }
}
