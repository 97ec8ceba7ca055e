//! Groups, roles and access profiles.

use super::*;

impl Service {
    pub fn list_groups(&self, caller: &Caller) -> Result<Vec<Group>> {
        caller.require(privilege::ADMIN_READ)?;
        let mut list: Vec<Group> = self.read().groups.values().map(|g| (**g).clone()).collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(list)
    }

    pub fn get_group(&self, caller: &Caller, id: &str) -> Result<Group> {
        caller.require(privilege::ADMIN_READ)?;
        self.read()
            .groups
            .get(id)
            .map(|g| (**g).clone())
            .ok_or(Error::NotFound("group"))
    }

    pub fn plan_create_group(&self, caller: &Caller, req: CreateGroup) -> Result<Planned> {
        caller.require(privilege::ADMIN_WRITE)?;
        check_name("name", &req.name)?;
        check_text("description", &req.description)?;
        let at = now();
        let g = Group {
            id: new_id(),
            name: req.name,
            description: req.description,
            created_at: at,
            updated_at: at,
            version: 1,
        };
        Ok(self.plan(caller, 201, Object::Group(g), None, "group.create", vec![]))
    }

    pub fn plan_patch_group(
        &self,
        caller: &Caller,
        id: &str,
        expected: Option<i64>,
        req: PatchGroup,
    ) -> Result<Planned> {
        caller.require(privilege::ADMIN_WRITE)?;
        let mut g = {
            let index = self.read();
            let g = index
                .groups
                .get(id)
                .map(|g| (**g).clone())
                .ok_or(Error::NotFound("group"))?;
            caller.holds_all(
                authz::group_privileges(&index, id).iter(),
                "change this group",
            )?;
            g
        };
        let current = Self::check_version(g.version, expected)?;
        if let Some(name) = req.name {
            check_name("name", &name)?;
            g.name = name;
        }
        if let Some(d) = req.description {
            check_text("description", &d)?;
            g.description = d;
        }
        g.version = current + 1;
        g.updated_at = now();
        Ok(self.plan(
            caller,
            200,
            Object::Group(g),
            Some(current),
            "group.update",
            vec![],
        ))
    }

    pub fn list_roles(&self, caller: &Caller) -> Result<Vec<Role>> {
        caller.require(privilege::ADMIN_READ)?;
        let mut list: Vec<Role> = self.read().roles.values().map(|r| (**r).clone()).collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(list)
    }

    pub fn get_role(&self, caller: &Caller, id: &str) -> Result<Role> {
        caller.require(privilege::ADMIN_READ)?;
        self.read()
            .roles
            .get(id)
            .map(|r| (**r).clone())
            .ok_or(Error::NotFound("role"))
    }

    fn check_role_groups(&self, groups: &[String]) -> Result<()> {
        let index = self.read();
        if let Some(g) = groups.iter().find(|g| !index.groups.contains_key(*g)) {
            return Err(Error::invalid("groups", format!("no group with id {g}")));
        }
        Ok(())
    }

    pub fn plan_create_role(&self, caller: &Caller, req: CreateRole) -> Result<Planned> {
        caller.require(privilege::ADMIN_WRITE)?;
        check_name("name", &req.name)?;
        check_text("description", &req.description)?;
        check_tokens("privileges", &req.privileges)?;
        self.check_role_groups(&req.groups)?;
        caller.holds_all(&req.privileges, "create a role with these privileges")?;
        let at = now();
        let r = Role {
            id: new_id(),
            name: req.name,
            description: req.description,
            privileges: req.privileges,
            groups: req.groups,
            created_at: at,
            updated_at: at,
            version: 1,
        };
        Ok(self.plan(caller, 201, Object::Role(r), None, "role.create", vec![]))
    }

    pub fn plan_patch_role(
        &self,
        caller: &Caller,
        id: &str,
        expected: Option<i64>,
        req: PatchRole,
    ) -> Result<Planned> {
        caller.require(privilege::ADMIN_WRITE)?;
        let mut r = self
            .read()
            .roles
            .get(id)
            .map(|r| (**r).clone())
            .ok_or(Error::NotFound("role"))?;
        let current = Self::check_version(r.version, expected)?;
        caller.holds_all(&r.privileges, "change this role")?;
        if let Some(name) = req.name {
            check_name("name", &name)?;
            r.name = name;
        }
        if let Some(d) = req.description {
            check_text("description", &d)?;
            r.description = d;
        }
        if let Some(p) = req.privileges {
            check_tokens("privileges", &p)?;
            caller.holds_all(&p, "give a role these privileges")?;
            r.privileges = p;
        }
        if let Some(g) = req.groups {
            self.check_role_groups(&g)?;
            r.groups = g;
        }
        r.version = current + 1;
        r.updated_at = now();
        Ok(self.plan(
            caller,
            200,
            Object::Role(r),
            Some(current),
            "role.update",
            vec![],
        ))
    }

    pub fn list_profiles(&self, caller: &Caller) -> Result<Vec<AccessProfile>> {
        caller.require(privilege::ADMIN_READ)?;
        let mut list: Vec<AccessProfile> = self
            .read()
            .profiles
            .values()
            .map(|p| p.profile.view())
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(list)
    }

    pub fn get_profile(&self, caller: &Caller, id: &str) -> Result<AccessProfile> {
        caller.require(privilege::ADMIN_READ)?;
        self.read()
            .profiles
            .get(id)
            .map(|p| p.profile.view())
            .ok_or(Error::NotFound("access profile"))
    }

    pub fn plan_create_profile(&self, caller: &Caller, req: CreateProfile) -> Result<Planned> {
        caller.require(privilege::ADMIN_WRITE)?;
        check_name("name", &req.name)?;
        check_text("description", &req.description)?;
        check_tokens("collections", &req.collections)?;
        check_policy("policy", &req.policy)?;
        check_access_method(&req.access_method)?;
        check_networks("ip_allowlist", &req.ip_allowlist)?;
        let at = now();
        let p = AccessProfile {
            id: new_id(),
            name: req.name,
            description: req.description,
            collections: req.collections,
            policy: req.policy,
            access_method: req.access_method,
            ip_allowlist: req.ip_allowlist,
            created_at: at,
            updated_at: at,
            version: 1,
        };
        Ok(self.plan(
            caller,
            201,
            Object::Profile(p),
            None,
            "profile.create",
            vec![],
        ))
    }

    pub fn plan_patch_profile(
        &self,
        caller: &Caller,
        id: &str,
        expected: Option<i64>,
        req: PatchProfile,
    ) -> Result<Planned> {
        caller.require(privilege::ADMIN_WRITE)?;
        let (mut p, attached) = {
            let index = self.read();
            let p = index
                .profiles
                .get(id)
                .map(|p| p.profile.clone())
                .ok_or(Error::NotFound("access profile"))?;
            // A profile decides what its clients' keys and tokens can do: changing it is
            // acting on every client it is attached to.
            let attached: Vec<String> = authz::principals_with_profile(&index, id)
                .map(|c| c.id.clone())
                .collect();
            for client in &attached {
                authz::may_act_on(caller, &index, client, "change this access profile")?;
            }
            (p, attached)
        };
        let current = Self::check_version(p.version, expected)?;
        if let Some(name) = req.name {
            check_name("name", &name)?;
            p.name = name;
        }
        if let Some(d) = req.description {
            check_text("description", &d)?;
            p.description = d;
        }
        if let Some(c) = req.collections {
            check_tokens("collections", &c)?;
            p.collections = c;
        }
        if req.policy.is_some() {
            check_policy("policy", &req.policy)?;
            p.policy = req.policy;
        }
        if req.clear_policy {
            p.policy = None;
        }
        if let Some(mut m) = req.access_method {
            // Sending the "***" marker back keeps the stored secret.
            if let (AccessMethod::Jwt { secret: new, .. }, AccessMethod::Jwt { secret: old, .. }) =
                (&mut m, &p.access_method)
                && new.as_deref() == Some("***")
            {
                new.clone_from(old);
            }
            check_access_method(&m)?;
            if matches!(m, AccessMethod::Jwt { .. }) && attached.len() > 1 {
                return Err(Error::Conflict(
                    "this access profile is attached to several API clients, and a JWT signing \
                     secret identifies exactly one: use a profile per client"
                        .into(),
                ));
            }
            p.access_method = m;
        }
        if let Some(list) = req.ip_allowlist {
            check_networks("ip_allowlist", &list)?;
            p.ip_allowlist = list;
        }
        p.version = current + 1;
        p.updated_at = now();
        Ok(self.plan(
            caller,
            200,
            Object::Profile(p),
            Some(current),
            "profile.update",
            vec![],
        ))
    }

    /// Deletes a group, role or profile. A profile still applied to keys cannot be deleted.
    pub fn plan_delete(
        &self,
        caller: &Caller,
        kind: Kind,
        id: &str,
        expected: Option<i64>,
    ) -> Result<Planned> {
        caller.require(privilege::ADMIN_WRITE)?;
        let index = self.read();
        let (version, name) = match kind {
            Kind::Group => {
                let g = index.groups.get(id).ok_or(Error::NotFound("group"))?;
                caller.holds_all(
                    authz::group_privileges(&index, id).iter(),
                    "delete this group",
                )?;
                (g.version, g.name.clone())
            }
            Kind::Role => {
                let r = index.roles.get(id).ok_or(Error::NotFound("role"))?;
                caller.holds_all(&r.privileges, "delete this role")?;
                (r.version, r.name.clone())
            }
            Kind::Profile => {
                let p = index
                    .profiles
                    .get(id)
                    .ok_or(Error::NotFound("access profile"))?;
                if index
                    .keys
                    .values()
                    .any(|k| k.key.profile_id.as_deref() == Some(id) && k.key.revoked_at.is_none())
                {
                    return Err(Error::Conflict(
                        "the access profile is still applied to keys".into(),
                    ));
                }
                for client in authz::principals_with_profile(&index, id) {
                    authz::may_act_on(caller, &index, &client.id, "delete this access profile")?;
                }
                (p.profile.version, p.profile.name.clone())
            }
            _ => return Err(Error::NotFound("object")),
        };
        Self::check_version(version, expected)?;
        Ok(Planned {
            status: 200,
            body: json!({ "deleted": id }),
            replay_body: None,
            etag: None,
            mutation: Mutation {
                actor: caller.actor.clone(),
                at: now(),
                writes: vec![Write::Delete {
                    kind,
                    id: id.to_owned(),
                    expected_version: Some(version),
                }],
                audit: vec![NewAudit {
                    actor: caller.actor.clone(),
                    action: format!("{}.delete", kind.as_str()),
                    target: format!("{}:{id}", kind.as_str()),
                    detail: json!({ "name": name }),
                }],
                ..Mutation::default()
            },
        })
    }
}
