//! Authentication of admin callers, login, sessions.

use super::*;

impl Service {
    /// Authenticates an admin request from its bearer credential (an admin API key or a session token).
    pub async fn authenticate(
        &self,
        credential: Option<&str>,
        method: &str,
        path: &str,
        client: Option<IpAddr>,
    ) -> Result<Caller> {
        let Some(text) = credential else {
            return Err(Error::Unauthenticated);
        };
        let Ok(key) = KeyRef::parse(text) else {
            self.verifier.throttle_failure(client);
            return Err(Error::Unauthenticated);
        };
        if key.prefix() == SESSION_PREFIX && key.environment() == SESSION_ENV {
            let digest = key.digest().to_hex();
            let Some((principal_id, expires_at)) = self.store.session_get(&digest).await? else {
                self.verifier.throttle_failure(client);
                return Err(Error::Unauthenticated);
            };
            let index = self.read();
            let enabled = index
                .principals
                .get(&principal_id)
                .is_some_and(|p| p.enabled);
            if expires_at <= now() || !enabled {
                return Err(Error::Unauthenticated);
            }
            let privileges = index.privileges_of(&principal_id).as_ref().clone();
            return Ok(Caller {
                actor: format!("session:{principal_id}"),
                principal_id,
                privileges,
                key: None,
                session_id: Some(digest[..crate::store::SESSION_ID_LEN].to_owned()),
            });
        }
        let ctx = Context {
            method,
            path,
            client,
            ..Context::default()
        };
        let decision = self
            .verifier
            .verify(Some(text), Source::Header, &ctx, client, now());
        match decision.reason {
            crate::verify::Reason::Ok => {
                let principal = decision.principal.as_ref().ok_or(Error::Unauthenticated)?;
                let key_id = decision.key_id().unwrap_or_default();
                Ok(Caller {
                    actor: format!("key:{key_id}"),
                    principal_id: principal.id.clone(),
                    privileges: decision.scopes.iter().cloned().collect(),
                    key: decision.key.as_ref().map(|k| k.key.clone()),
                    session_id: None,
                })
            }
            crate::verify::Reason::InvalidKey => Err(Error::Unauthenticated),
            crate::verify::Reason::RateLimited | crate::verify::Reason::TooManyFailures => {
                Err(Error::TooManyRequests {
                    retry_after: decision.retry_after.unwrap_or(1),
                })
            }
            other => Err(Error::Forbidden(format!(
                "the admin key was refused: {}",
                other.as_str()
            ))),
        }
    }

    /// Logs a user in with a password. Unauthenticated and expensive (one Argon2id hash), so
    /// the attempt is charged to the client address and to the user name *before* the hash
    /// (a blocked one is answered 429 at once), hashes run `login_concurrency` at a time, and
    /// a failure is only counted, for one aggregated audit row per flush
    /// ([`Service::flush_login_failures`]). A successful attempt is not charged.
    pub async fn login(&self, login: Login, client: Option<IpAddr>) -> Result<Session> {
        use crate::limits::login::Refusal;
        use std::time::Instant;
        let limits = &self.login_limits;
        let throttle = &self.verifier.throttle;
        let refused = |wait: std::time::Duration, why: Refusal| {
            limits.failures.refused(client, why);
            Error::TooManyRequests {
                retry_after: crate::limits::retry_after_secs(wait),
            }
        };
        let refund_address = || {
            if let Some(address) = client {
                throttle.refund(address, Instant::now());
            }
        };
        if let Some(address) = client {
            throttle
                .charge(address, Instant::now())
                .map_err(|wait| refused(wait, Refusal::AddressThrottled))?;
        }
        if let Err(wait) = limits.users.charge(&login.username, Instant::now()) {
            refund_address();
            return Err(refused(wait, Refusal::UserThrottled));
        }
        let Some(permit) = limits.gate.acquire().await else {
            // No hash, no guess tested: nothing to charge.
            refund_address();
            limits.users.refund(&login.username, Instant::now());
            return Err(refused(std::time::Duration::from_secs(1), Refusal::Busy));
        };
        let password = Zeroizing::new(login.password);
        let principal = {
            let index = self.read();
            index
                .principals
                .values()
                .find(|p| p.name == login.username && p.kind == PrincipalKind::User)
                .map(|p| (p.id.clone(), p.enabled))
        };
        let stored = match &principal {
            Some((id, _)) => self.store.password_hash(id).await?,
            None => None,
        };
        let has_password = stored.is_some();
        let argon2 = self.argon2.clone();
        let dummy = self.dummy_hash.get().cloned();
        // On a hashing thread, in its reused memory; the slot stays taken until the hash is
        // done, even if this request is dropped (client gone, timeout).
        let (ok, new_dummy) = permit
            .run(move |memory| {
                let (hash, new_dummy) = match (stored, dummy) {
                    (Some(hash), _) | (None, Some(hash)) => (hash, None),
                    (None, None) => {
                        let hash = dummy_hash(&argon2);
                        (hash.clone(), Some(hash))
                    }
                };
                let ok = crate::limits::login::verify_password(memory, &hash, password.as_bytes());
                (ok, new_dummy)
            })
            .await
            .ok_or_else(|| Error::Internal("the password could not be checked".into()))?;
        if let Some(hash) = new_dummy {
            let _ = self.dummy_hash.set(hash);
        }
        let known_name = principal.as_ref().map(|_| login.username.as_str());
        let Some((principal_id, true)) = principal.filter(|_| ok && has_password) else {
            limits.failures.failed(client, known_name);
            return Err(Error::Unauthenticated);
        };
        refund_address();
        limits.users.forgive(&login.username);
        let token = ApiKey::generate(SESSION_PREFIX, SESSION_ENV)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let expires_at =
            now() + i64::try_from(self.config.session_ttl.as_secs()).unwrap_or(i64::MAX / 2);
        self.store
            .session_insert(&token.digest().to_hex(), &principal_id, expires_at)
            .await?;
        self.store
            .append_audit(
                vec![NewAudit {
                    actor: format!("session:{principal_id}"),
                    action: "auth.login".into(),
                    target: format!("principal:{principal_id}"),
                    detail: json!({ "expires_at": expires_at }),
                }],
                now(),
            )
            .await?;
        Ok(Session {
            token: token.expose().to_owned(),
            expires_at,
            principal_id,
        })
    }

    /// Your sessions (whoever you authenticated as), newest first.
    pub async fn list_sessions(&self, caller: &Caller) -> Result<SessionList> {
        let rows = self.store.session_list(&caller.principal_id).await?;
        Ok(SessionList {
            sessions: rows
                .into_iter()
                .map(|r| SessionView {
                    current: caller.session_id.as_deref() == Some(r.id.as_str()),
                    id: r.id,
                    created_at: r.created_at,
                    expires_at: r.expires_at,
                })
                .collect(),
        })
    }

    /// Ends sessions of a principal: all, or the one named `id`. Your own need nothing
    /// more; another principal's need `admin:write` and its privileges within yours.
    pub async fn end_sessions(
        &self,
        caller: &Caller,
        principal_id: &str,
        id: Option<&str>,
    ) -> Result<SessionsEnded> {
        if principal_id != caller.principal_id {
            caller.require(privilege::ADMIN_WRITE)?;
            let index = self.read();
            if !index.principals.contains_key(principal_id) {
                return Err(Error::NotFound("principal"));
            }
            authz::may_act_on(
                caller,
                &index,
                principal_id,
                "end this principal's sessions",
            )?;
        }
        if let Some(id) = id
            && (id.len() != crate::store::SESSION_ID_LEN
                || !id.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(Error::NotFound("session"));
        }
        // Recorded before it takes effect: an action whose audit write fails does not happen.
        self.store
            .append_audit(
                vec![NewAudit {
                    actor: caller.actor.clone(),
                    action: "auth.sessions_end".into(),
                    target: format!("principal:{principal_id}"),
                    detail: json!({ "session": id }),
                }],
                now(),
            )
            .await?;
        let ended = self.store.session_end(principal_id, id).await?;
        if id.is_some() && ended == 0 {
            return Err(Error::NotFound("session"));
        }
        Ok(SessionsEnded { ended })
    }

    /// Writes the failed logins counted since the last flush as one `auth.login_failed` audit
    /// row (counts, distinct addresses, the most tried existing user names; never a password).
    pub async fn flush_login_failures(&self) -> Result<()> {
        let Some(detail) = self.login_limits.failures.take() else {
            return Ok(());
        };
        self.store
            .append_audit(
                vec![NewAudit {
                    actor: "system".into(),
                    action: "auth.login_failed".into(),
                    target: "auth.login".into(),
                    detail,
                }],
                now(),
            )
            .await?;
        Ok(())
    }

    pub async fn logout(&self, credential: &str) -> Result<()> {
        if let Ok(key) = KeyRef::parse(credential)
            && key.prefix() == SESSION_PREFIX
        {
            self.store.session_delete(&key.digest().to_hex()).await?;
        }
        Ok(())
    }
}
