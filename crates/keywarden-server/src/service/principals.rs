//! Principals and their passwords.

use super::*;

impl Service {
    pub fn list_principals(&self, caller: &Caller) -> Result<Vec<Principal>> {
        caller.require(privilege::ADMIN_READ)?;
        let mut list: Vec<Principal> = self
            .read()
            .principals
            .values()
            .map(|p| (**p).clone())
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(list)
    }

    pub fn get_principal(&self, caller: &Caller, id: &str) -> Result<Principal> {
        if caller.principal_id != id {
            caller.require(privilege::ADMIN_READ)?;
        }
        self.read()
            .principals
            .get(id)
            .map(|p| (**p).clone())
            .ok_or(Error::NotFound("principal"))
    }

    fn check_refs(&self, index: &Index, groups: &[String], profiles: &[String]) -> Result<()> {
        if let Some(g) = groups.iter().find(|g| !index.groups.contains_key(*g)) {
            return Err(Error::invalid("groups", format!("no group with id {g}")));
        }
        if let Some(p) = profiles.iter().find(|p| !index.profiles.contains_key(*p)) {
            return Err(Error::invalid(
                "profiles",
                format!("no access profile with id {p}"),
            ));
        }
        Ok(())
    }

    pub fn plan_create_principal(&self, caller: &Caller, req: CreatePrincipal) -> Result<Planned> {
        caller.require(privilege::ADMIN_WRITE)?;
        check_name("name", &req.name)?;
        check_text("description", &req.description)?;
        if let Some(logo) = &req.logo {
            check_text("logo", logo)?;
        }
        if !req.profiles.is_empty() && req.kind != PrincipalKind::ApiClient {
            return Err(Error::invalid(
                "profiles",
                "access profiles apply to API clients only",
            ));
        }
        let id = new_id();
        {
            let index = self.read();
            self.check_refs(&index, &req.groups, &req.profiles)?;
            caller.holds_all(
                authz::privileges_of_groups(&index, &req.groups).iter(),
                "put a principal into these groups",
            )?;
            authz::check_jwt_profiles_unshared(&index, &id, &req.profiles)?;
        }
        let at = now();
        let p = Principal {
            id,
            kind: req.kind,
            name: req.name,
            description: req.description,
            logo: req.logo.filter(|l| !l.is_empty()),
            enabled: req.enabled,
            groups: req.groups,
            profiles: req.profiles,
            created_at: at,
            updated_at: at,
            version: 1,
        };
        Ok(self.plan(
            caller,
            201,
            Object::Principal(p),
            None,
            "principal.create",
            vec![],
        ))
    }

    pub fn plan_patch_principal(
        &self,
        caller: &Caller,
        id: &str,
        expected: Option<i64>,
        req: PatchPrincipal,
    ) -> Result<Planned> {
        caller.require(privilege::ADMIN_WRITE)?;
        let index = self.read();
        let mut p = index
            .principals
            .get(id)
            .map(|p| (**p).clone())
            .ok_or(Error::NotFound("principal"))?;
        let current = Self::check_version(p.version, expected)?;
        authz::may_act_on(caller, &index, id, "change this principal")?;
        if let Some(name) = req.name {
            check_name("name", &name)?;
            p.name = name;
        }
        if let Some(d) = req.description {
            check_text("description", &d)?;
            p.description = d;
        }
        if let Some(logo) = req.logo {
            check_text("logo", &logo)?;
            p.logo = (!logo.is_empty()).then_some(logo);
        }
        let mut action = "principal.update";
        if let Some(enabled) = req.enabled {
            if enabled != p.enabled {
                action = if enabled {
                    "principal.enable"
                } else {
                    "principal.disable"
                };
            }
            p.enabled = enabled;
        }
        // Only the lists sent are checked: a group deleted since is simply ignored elsewhere.
        if let Some(groups) = req.groups {
            self.check_refs(&index, &groups, &[])?;
            caller.holds_all(
                authz::privileges_of_groups(&index, &groups).iter(),
                "put a principal into these groups",
            )?;
            p.groups = groups;
        }
        if let Some(profiles) = req.profiles {
            if !profiles.is_empty() && p.kind != PrincipalKind::ApiClient {
                return Err(Error::invalid(
                    "profiles",
                    "access profiles apply to API clients only",
                ));
            }
            self.check_refs(&index, &[], &profiles)?;
            authz::check_jwt_profiles_unshared(&index, id, &profiles)?;
            p.profiles = profiles;
        }
        drop(index);
        // A disabled principal's sessions end with the change, on every replica.
        let end_sessions = if p.enabled {
            vec![]
        } else {
            vec![id.to_owned()]
        };
        p.version = current + 1;
        p.updated_at = now();
        let mut planned = self.plan(
            caller,
            200,
            Object::Principal(p),
            Some(current),
            action,
            vec![],
        );
        planned.mutation.end_sessions = end_sessions;
        Ok(planned)
    }

    /// Deletes a principal and revokes all its keys.
    pub fn plan_delete_principal(
        &self,
        caller: &Caller,
        id: &str,
        expected: Option<i64>,
    ) -> Result<Planned> {
        caller.require(privilege::ADMIN_WRITE)?;
        let index = self.read();
        let p = index
            .principals
            .get(id)
            .ok_or(Error::NotFound("principal"))?;
        Self::check_version(p.version, expected)?;
        authz::may_act_on(caller, &index, id, "delete this principal")?;
        let at = now();
        let mut writes = vec![Write::Delete {
            kind: Kind::Principal,
            id: id.to_owned(),
            expected_version: Some(p.version),
        }];
        let mut audit = vec![NewAudit {
            actor: caller.actor.clone(),
            action: "principal.delete".into(),
            target: format!("principal:{id}"),
            detail: json!({ "name": p.name }),
        }];
        for entry in index
            .keys
            .values()
            .filter(|k| k.key.principal_id == id && k.key.revoked_at.is_none())
        {
            let mut k = entry.key.clone();
            k.revoked_at = Some(at);
            k.version += 1;
            k.updated_at = at;
            audit.push(NewAudit {
                actor: caller.actor.clone(),
                action: "key.revoke".into(),
                target: format!("key:{}", k.id),
                detail: json!({ "display_prefix": k.display_prefix, "because": "principal deleted" }),
            });
            writes.push(Write::Put {
                expected_version: Some(entry.key.version),
                object: Object::Key(k),
            });
        }
        Ok(Planned {
            status: 200,
            body: json!({ "deleted": id }),
            replay_body: None,
            etag: None,
            mutation: Mutation {
                actor: caller.actor.clone(),
                at,
                writes,
                audit,
                end_sessions: vec![id.to_owned()],
                ..Mutation::default()
            },
        })
    }

    /// Sets a user's password (Argon2id) and ends the user's sessions; keys are not touched.
    /// Your own password needs the current one (a credential never mints a stronger one:
    /// a narrowed key cannot set a password and log in with everything); another user's
    /// needs `admin:write` and that user's privileges within yours.
    pub async fn set_password(
        &self,
        caller: &Caller,
        id: &str,
        req: SetPassword,
        idempotency_key: Option<&str>,
        request: &[u8],
    ) -> Result<Outcome> {
        let SetPassword {
            password,
            current_password,
        } = req;
        let password = Zeroizing::new(password);
        let current = current_password.map(Zeroizing::new);
        if password.chars().count() < 12 || password.len() > 1024 {
            return Err(Error::invalid("password", "must be 12 to 1024 characters"));
        }
        let own = caller.principal_id == id;
        {
            let index = self.read();
            let p = index
                .principals
                .get(id)
                .ok_or(Error::NotFound("principal"))?;
            if p.kind != PrincipalKind::User {
                return Err(Error::invalid(
                    "password",
                    "only users log in with a password",
                ));
            }
            if !own {
                caller.require(privilege::ADMIN_WRITE)?;
                authz::may_act_on(caller, &index, id, "set this user's password")?;
            }
        }
        if own {
            let Some(current) = current else {
                return Err(Error::invalid(
                    "current_password",
                    "changing your own password needs the current one",
                ));
            };
            let Some(stored) = self.store.password_hash(id).await? else {
                return Err(Error::Forbidden(
                    "you have no password yet: an administrator sets the first one".into(),
                ));
            };
            if !self.password_matches(stored, current).await? {
                return Err(Error::Forbidden("the current password is not right".into()));
            }
        }
        let hash = self.hash_password(password).await?;
        let planned = Planned {
            status: 200,
            body: json!({ "principal_id": id, "password_set": true }),
            replay_body: None,
            etag: None,
            mutation: Mutation {
                actor: caller.actor.clone(),
                at: now(),
                audit: vec![NewAudit {
                    actor: caller.actor.clone(),
                    action: "principal.set_password".into(),
                    target: format!("principal:{id}"),
                    detail: json!({ "sessions_ended": true }),
                }],
                password: Some((id.to_owned(), hash)),
                end_sessions: vec![id.to_owned()],
                ..Mutation::default()
            },
        };
        self.run_sensitive(caller, idempotency_key, request, || Ok(planned))
            .await
    }

    /// Argon2id of a new password, computed through the login gate: password hashing is
    /// bounded in concurrency (and so in memory) whoever asks for it.
    async fn hash_password(&self, password: Zeroizing<String>) -> Result<String> {
        let Some(permit) = self.login_limits.gate.acquire().await else {
            return Err(Error::TooManyRequests { retry_after: 1 });
        };
        let argon2 = self.argon2.clone();
        permit
            .run(move |_memory| {
                let salt = SaltString::generate(&mut rand::rngs::OsRng);
                argon2
                    .hash_password(password.as_bytes(), &salt)
                    .map(|h| h.to_string())
                    .map_err(|e| format!("password hashing failed: {e}"))
            })
            .await
            .ok_or_else(|| Error::Internal("the password could not be hashed".into()))?
            .map_err(Error::Internal)
    }

    /// Checks a password against a stored Argon2id PHC string, through the login gate.
    async fn password_matches(&self, stored: String, password: Zeroizing<String>) -> Result<bool> {
        let Some(permit) = self.login_limits.gate.acquire().await else {
            return Err(Error::TooManyRequests { retry_after: 1 });
        };
        permit
            .run(move |memory| {
                crate::limits::login::verify_password(memory, &stored, password.as_bytes())
            })
            .await
            .ok_or_else(|| Error::Internal("the password could not be checked".into()))
    }
}
