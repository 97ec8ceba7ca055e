//! Keys: issue, change, rotate, refresh, revoke, delete.

use super::*;

impl Service {
    pub fn list_keys(&self, caller: &Caller, principal_id: Option<&str>) -> Result<Vec<Key>> {
        match principal_id {
            Some(p)
                if p == caller.principal_id && caller.privileges.contains(privilege::KEYS_SELF) => {
            }
            _ => caller.require(privilege::ADMIN_READ)?,
        }
        let index = self.read();
        let mut list: Vec<Key> = index
            .keys
            .values()
            .filter(|k| principal_id.is_none_or(|p| k.key.principal_id == p))
            .map(|k| key_view(k))
            .collect();
        list.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(list)
    }

    pub fn get_key(&self, caller: &Caller, id: &str) -> Result<Key> {
        let index = self.read();
        let entry = index.keys.get(id).ok_or(Error::NotFound("key"))?;
        if caller.require(privilege::ADMIN_READ).is_err() {
            caller.require_key_access(&entry.key.principal_id)?;
        }
        Ok(key_view(entry))
    }

    pub fn plan_create_key(
        &self,
        caller: &Caller,
        principal_id: &str,
        mut req: CreateKey,
    ) -> Result<Planned> {
        caller.require_key_access(principal_id)?;
        let index = self.read();
        let principal = index
            .principals
            .get(principal_id)
            .ok_or(Error::NotFound("principal"))?;
        // A key made with a key inherits every restriction the request does not narrow.
        if principal_id == caller.principal_id
            && let Some(bound) = &caller.key
        {
            authz::inherit(&index, &mut req, bound);
        }
        check_name("name", &req.name)?;
        check_text("description", &req.description)?;
        check_tokens("scopes", &req.scopes)?;
        check_tokens("operations", &req.operations)?;
        check_paths(&req.path_prefixes)?;
        check_networks("ip_allowlist", &req.ip_allowlist)?;
        check_policy("policy", &req.policy)?;
        if let Some(profile) = &req.profile_id {
            if !index.profiles.contains_key(profile) {
                return Err(Error::invalid("profile_id", "no such access profile"));
            }
            if !principal.profiles.contains(profile) {
                return Err(Error::invalid(
                    "profile_id",
                    "the access profile is not attached to this principal",
                ));
            }
        }
        if let Some(slot) = req.slot
            && index.keys.values().any(|k| {
                k.key.principal_id == principal_id
                    && k.key.slot == Some(slot)
                    && k.key.revoked_at.is_none()
            })
        {
            return Err(Error::Conflict(format!(
                "the principal already has a {} key: rotate or refresh it instead",
                if slot == Slot::Primary {
                    "primary"
                } else {
                    "secondary"
                }
            )));
        }
        let environment = req
            .environment
            .clone()
            .unwrap_or_else(|| self.config.default_environment.clone());
        if !keywarden_keys::is_valid_label(&environment) {
            return Err(Error::invalid(
                "environment",
                "1 to 16 characters of a-z and 0-9",
            ));
        }
        let (secret, digest, display_prefix) = match (&req.digest, &req.display_prefix) {
            (None, None) => {
                let key = ApiKey::generate(&self.config.key_prefix, &environment)
                    .map_err(|e| Error::Internal(e.to_string()))?;
                let digest = key.digest().to_hex();
                let display = key.display_prefix();
                (Some(key), digest, display)
            }
            (Some(digest), Some(display)) => {
                let (digest, display) = check_supplied_digest(digest, display, &environment)?;
                (None, digest, display)
            }
            _ => {
                return Err(Error::invalid(
                    "digest",
                    "send both digest and display_prefix, or neither",
                ));
            }
        };
        drop(index);
        let at = now();
        let key = Key {
            id: new_id(),
            principal_id: principal_id.to_owned(),
            name: req.name,
            description: req.description,
            environment,
            display_prefix,
            digest,
            scopes: req.scopes,
            read_only: req.read_only,
            path_prefixes: req.path_prefixes,
            operations: req.operations,
            ip_allowlist: req.ip_allowlist,
            expires_at: req.expires_at,
            enabled: req.enabled,
            slot: req.slot,
            policy: req.policy,
            profile_id: req.profile_id,
            allow_query_param: req.allow_query_param,
            revoked_at: None,
            replaced_by: None,
            last_used_at: None,
            created_at: at,
            updated_at: at,
            version: 1,
        };
        authz::may_manage_key(caller, &self.read(), &key)?;
        let mut planned = self.plan(
            caller,
            201,
            Object::Key(key.clone()),
            None,
            "key.create",
            vec![],
        );
        let issued = IssuedKey {
            key: secret.as_ref().map(|k| k.expose().to_owned()),
            object: key.view(),
            replaced: None,
        };
        planned.replay_body = Some(to_value(&IssuedKey {
            key: None,
            object: key.view(),
            replaced: None,
        }));
        planned.body = to_value(&issued);
        Ok(planned)
    }

    fn key_for_change(
        &self,
        caller: &Caller,
        id: &str,
        expected: Option<i64>,
    ) -> Result<(Key, i64)> {
        let index = self.read();
        let entry = index.keys.get(id).ok_or(Error::NotFound("key"))?;
        authz::may_manage_key(caller, &index, &entry.key)?;
        let current = Self::check_version(entry.key.version, expected)?;
        Ok((entry.key.clone(), current))
    }

    pub fn plan_patch_key(
        &self,
        caller: &Caller,
        id: &str,
        expected: Option<i64>,
        req: PatchKey,
    ) -> Result<Planned> {
        let (mut k, current) = self.key_for_change(caller, id, expected)?;
        if k.revoked_at.is_some() {
            return Err(Error::Conflict("a revoked key cannot be changed".into()));
        }
        if let Some(name) = req.name {
            check_name("name", &name)?;
            k.name = name;
        }
        if let Some(d) = req.description {
            check_text("description", &d)?;
            k.description = d;
        }
        if let Some(s) = req.scopes {
            check_tokens("scopes", &s)?;
            k.scopes = s;
        }
        if let Some(r) = req.read_only {
            k.read_only = r;
        }
        if let Some(p) = req.path_prefixes {
            check_paths(&p)?;
            k.path_prefixes = p;
        }
        if let Some(o) = req.operations {
            check_tokens("operations", &o)?;
            k.operations = o;
        }
        if let Some(list) = req.ip_allowlist {
            check_networks("ip_allowlist", &list)?;
            k.ip_allowlist = list;
        }
        if req.expires_at.is_some() {
            k.expires_at = req.expires_at;
        }
        if req.clear_expiry {
            k.expires_at = None;
        }
        let mut action = "key.update";
        if let Some(enabled) = req.enabled {
            if enabled != k.enabled {
                action = if enabled { "key.enable" } else { "key.disable" };
            }
            k.enabled = enabled;
        }
        if req.policy.is_some() {
            check_policy("policy", &req.policy)?;
            k.policy = req.policy;
        }
        if req.clear_policy {
            k.policy = None;
        }
        if let Some(q) = req.allow_query_param {
            k.allow_query_param = q;
        }
        // The key as it would be after the change must be within the caller's power too:
        // a key patching itself (or a sibling) can only narrow it.
        authz::may_manage_key(caller, &self.read(), &k)?;
        k.version = current + 1;
        k.updated_at = now();
        Ok(self.plan(caller, 200, Object::Key(k), Some(current), action, vec![]))
    }

    /// Revokes a key by id: it never works again.
    pub fn plan_revoke_key(
        &self,
        caller: &Caller,
        id: &str,
        expected: Option<i64>,
    ) -> Result<Planned> {
        let (mut k, current) = self.key_for_change(caller, id, expected)?;
        if k.revoked_at.is_some() {
            let body = k.view();
            let mut planned = self.plan(
                caller,
                200,
                Object::Key(k),
                Some(current),
                "key.revoke",
                vec![],
            );
            planned.body = to_value(&body);
            planned.mutation.writes.clear();
            planned.mutation.audit.clear();
            return Ok(planned);
        }
        k.revoked_at = Some(now());
        k.version = current + 1;
        k.updated_at = now();
        Ok(self.plan(
            caller,
            200,
            Object::Key(k),
            Some(current),
            "key.revoke",
            vec![],
        ))
    }

    /// Deletes a key (and so revokes it).
    pub fn plan_delete_key(
        &self,
        caller: &Caller,
        id: &str,
        expected: Option<i64>,
    ) -> Result<Planned> {
        let (k, current) = self.key_for_change(caller, id, expected)?;
        Ok(Planned {
            status: 200,
            body: json!({ "deleted": id }),
            replay_body: None,
            etag: None,
            mutation: Mutation {
                actor: caller.actor.clone(),
                at: now(),
                writes: vec![Write::Delete {
                    kind: Kind::Key,
                    id: id.to_owned(),
                    expected_version: Some(current),
                }],
                audit: vec![NewAudit {
                    actor: caller.actor.clone(),
                    action: "key.delete".into(),
                    target: format!("key:{id}"),
                    detail: json!({ "display_prefix": k.display_prefix, "principal_id": k.principal_id }),
                }],
                ..Mutation::default()
            },
        })
    }

    /// Issues a successor with the same settings. `grace`: `Some(secs)` keeps the old key
    /// working that long (rotation), `None` revokes it at once (refresh).
    pub fn plan_replace_key(
        &self,
        caller: &Caller,
        id: &str,
        expected: Option<i64>,
        grace: Option<u64>,
        supplied: (Option<String>, Option<String>),
    ) -> Result<Planned> {
        let (mut old, current) = self.key_for_change(caller, id, expected)?;
        if old.revoked_at.is_some() || old.replaced_by.is_some() {
            return Err(Error::Conflict(
                "this key was already revoked or replaced".into(),
            ));
        }
        let at = now();
        let (new_secret, digest, display_prefix) = match supplied {
            (None, None) => {
                let key = ApiKey::generate(&self.config.key_prefix, &old.environment)
                    .map_err(|e| Error::Internal(e.to_string()))?;
                let digest = key.digest().to_hex();
                let display = key.display_prefix();
                (Some(key), digest, display)
            }
            (Some(digest), Some(display)) => {
                let (digest, display) = check_supplied_digest(&digest, &display, &old.environment)?;
                (None, digest, display)
            }
            _ => {
                return Err(Error::invalid(
                    "digest",
                    "send both digest and display_prefix, or neither",
                ));
            }
        };
        let mut new = old.clone();
        new.id = new_id();
        new.digest = digest;
        new.display_prefix = display_prefix;
        new.created_at = at;
        new.updated_at = at;
        new.version = 1;
        new.revoked_at = None;
        new.last_used_at = None;
        // The successor keeps `enabled` and every restriction: rotating a disabled key
        // gives a disabled successor.
        old.replaced_by = Some(new.id.clone());
        old.slot = None;
        old.version = current + 1;
        old.updated_at = at;
        let action = match grace {
            Some(secs) => {
                if secs > 90 * 86_400 {
                    return Err(Error::invalid("grace_seconds", "at most 90 days"));
                }
                let until = at + i64::try_from(secs).unwrap_or(0);
                old.expires_at = Some(old.expires_at.map_or(until, |e| e.min(until)));
                "key.rotate"
            }
            None => {
                old.revoked_at = Some(at);
                "key.refresh"
            }
        };
        let old_view = old.view();
        let mut planned = self.plan(
            caller,
            201,
            Object::Key(new.clone()),
            None,
            action,
            vec![Write::Put {
                object: Object::Key(old.clone()),
                expected_version: Some(current),
            }],
        );
        planned.mutation.audit.push(NewAudit {
            actor: caller.actor.clone(),
            action: if grace.is_some() { "key.grace".into() } else { "key.revoke".into() },
            target: format!("key:{}", old.id),
            detail: json!({ "display_prefix": old.display_prefix, "expires_at": old.expires_at, "replaced_by": new.id }),
        });
        planned.body = to_value(&IssuedKey {
            key: new_secret.as_ref().map(|k| k.expose().to_owned()),
            object: new.view(),
            replaced: Some(old_view.clone()),
        });
        planned.replay_body = Some(to_value(&IssuedKey {
            key: None,
            object: new.view(),
            replaced: Some(old_view),
        }));
        Ok(planned)
    }
}
