//! The first start: the administrator, its role, group and first key.

use super::*;

impl Service {
    /// Creates the administrator role, group and user and an admin key; returns the key (shown once).
    pub async fn initialize(
        &self,
        admin_name: &str,
        password: Option<Zeroizing<String>>,
    ) -> Result<ApiKey> {
        if self
            .read()
            .roles
            .values()
            .any(|r| r.privileges.iter().any(|p| p == privilege::ADMIN_WRITE))
        {
            return Err(Error::Conflict(
                "the server is already initialized (an administrator role exists)".into(),
            ));
        }
        check_name("admin_name", admin_name)?;
        let at = now();
        let system = Caller {
            actor: "system".into(),
            principal_id: String::new(),
            privileges: BTreeSet::new(),
            key: None,
            session_id: None,
        };
        let group = Group {
            id: new_id(),
            name: "administrators".into(),
            description: "Full access".into(),
            created_at: at,
            updated_at: at,
            version: 1,
        };
        let role = Role {
            id: new_id(),
            name: "administrator".into(),
            description: "Every privilege".into(),
            privileges: privilege::ALL_ADMIN
                .iter()
                .map(|p| (*p).to_owned())
                .collect(),
            groups: vec![group.id.clone()],
            created_at: at,
            updated_at: at,
            version: 1,
        };
        let principal = Principal {
            id: new_id(),
            kind: PrincipalKind::User,
            name: admin_name.to_owned(),
            description: "First administrator".into(),
            logo: None,
            enabled: true,
            groups: vec![group.id.clone()],
            profiles: vec![],
            created_at: at,
            updated_at: at,
            version: 1,
        };
        let secret = ApiKey::generate(&self.config.key_prefix, "admin")
            .map_err(|e| Error::Internal(e.to_string()))?;
        let key = Key {
            id: new_id(),
            principal_id: principal.id.clone(),
            name: "initial admin key".into(),
            description: "Created by `keywarden-server init`".into(),
            environment: "admin".into(),
            display_prefix: secret.display_prefix(),
            digest: secret.digest().to_hex(),
            scopes: vec![],
            read_only: false,
            path_prefixes: vec![],
            operations: vec![],
            ip_allowlist: vec![],
            expires_at: None,
            enabled: true,
            slot: Some(Slot::Primary),
            policy: None,
            profile_id: None,
            allow_query_param: false,
            revoked_at: None,
            replaced_by: None,
            last_used_at: None,
            created_at: at,
            updated_at: at,
            version: 1,
        };
        let principal_id = principal.id.clone();
        let mut planned = self.plan(
            &system,
            201,
            Object::Group(group),
            None,
            "group.create",
            vec![],
        );
        for (object, action) in [
            (Object::Role(role), "role.create"),
            (Object::Principal(principal), "principal.create"),
            (Object::Key(key), "key.create"),
        ] {
            let p = self.plan(&system, 201, object, None, action, vec![]);
            planned.mutation.writes.extend(p.mutation.writes);
            planned.mutation.audit.extend(p.mutation.audit);
        }
        if let Some(password) = password {
            let p = self.plan_set_password_unchecked(&principal_id, &password)?;
            planned.mutation.password = Some(p);
        }
        self.commit(planned, None).await?;
        Ok(secret)
    }

    fn plan_set_password_unchecked(&self, id: &str, password: &str) -> Result<(String, String)> {
        if password.chars().count() < 12 {
            return Err(Error::invalid("password", "must be at least 12 characters"));
        }
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let hash = self
            .argon2
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))?
            .to_string();
        Ok((id.to_owned(), hash))
    }
}
