//! The in-memory index the verifier reads: every object, keys by digest, and each
//! principal's privileges. It follows the store's change feed, so verification
//! never waits on the database.
//!
//! Changes are applied by version: an older version never replaces a newer one,
//! and a deleted id never comes back. So the same change may arrive twice (once
//! from the replica's own write, once from the feed) without harm.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use ipnet::IpNet;
use keywarden_core::Timestamp;
use keywarden_keys::KeyDigest;

use crate::jwt::{JwtKey, KeyError};
use crate::model::{AccessProfile, Change, Group, Key, Kind, Object, Principal, Privileges, Role};

/// A key as the verifier needs it: the stored object plus parsed rules.
#[derive(Debug)]
pub struct KeyEntry {
    pub key: Key,
    pub digest: KeyDigest,
    pub networks: Vec<IpNet>,
    /// Unix seconds of the last successful verification on this replica (0: never).
    pub last_used: AtomicI64,
}

#[derive(Debug)]
pub struct ProfileEntry {
    pub profile: AccessProfile,
    pub networks: Vec<IpNet>,
    /// For a JWT access method: its verification key, parsed once when the profile
    /// enters the index; an error when the stored key material cannot verify anything
    /// (its tokens are then refused). `None` for other access methods.
    pub jwt: Option<Result<JwtKey, KeyError>>,
    /// The rate-limiter bucket of tokens verified with this profile's key (one client per key).
    pub jwt_bucket: String,
}

impl ProfileEntry {
    pub fn new(profile: AccessProfile) -> Self {
        let networks = profile
            .ip_allowlist
            .iter()
            .filter_map(|n| parse_network(n))
            .collect();
        let jwt = JwtKey::for_method(&profile.access_method);
        if let Some(Err(e)) = &jwt {
            tracing::error!(profile_id = %profile.id, field = e.field,
                "stored JWT access method cannot verify tokens; they are refused");
        }
        let jwt_bucket = format!("jwt:{}", profile.id);
        ProfileEntry {
            profile,
            networks,
            jwt,
            jwt_bucket,
        }
    }
}

/// Whom an access profile is attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attached {
    /// Exactly one principal: for a JWT profile, the only one its secret or key identifies.
    One(String),
    /// Two or more principals (data from before one JWT profile per client was enforced):
    /// a JWT signed with its key could be any of them, so the verifier accepts none.
    Several,
}

/// Parses an allowlist entry: an address (`10.0.0.1`, `::1`) or a CIDR range.
pub fn parse_network(text: &str) -> Option<IpNet> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Some(net.trunc());
    }
    text.parse::<IpAddr>().ok().map(IpNet::from)
}

/// Whether an address is in any of the networks (IPv4-mapped IPv6 addresses count as IPv4).
pub fn address_allowed(networks: &[IpNet], address: IpAddr) -> bool {
    let address = match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(address),
        v4 => v4,
    };
    networks.iter().any(|n| n.contains(&address))
}

#[derive(Debug, Default)]
pub struct Index {
    pub principals: HashMap<String, Arc<Principal>>,
    pub groups: HashMap<String, Arc<Group>>,
    pub roles: HashMap<String, Arc<Role>>,
    pub profiles: HashMap<String, Arc<ProfileEntry>>,
    pub keys: HashMap<String, Arc<KeyEntry>>,
    /// First 16 bytes of the digest → key id. The full digest is compared in constant time after the lookup.
    by_digest: HashMap<[u8; 16], Arc<KeyEntry>>,
    privileges: HashMap<String, Arc<Privileges>>,
    /// Profile id → the principals it is attached to.
    attached: HashMap<String, Attached>,
    deleted: HashSet<(Kind, String)>,
    /// The last change-feed sequence number read from the store.
    pub seq: i64,
}

fn digest_slot(digest: &KeyDigest) -> [u8; 16] {
    let mut slot = [0u8; 16];
    slot.copy_from_slice(&digest.as_bytes()[..16]);
    slot
}

impl Index {
    pub fn from_objects(objects: Vec<Object>, seq: i64, usage: &[(String, Timestamp)]) -> Self {
        let mut index = Index {
            seq,
            ..Index::default()
        };
        for object in objects {
            index.put(object);
        }
        for (id, at) in usage {
            if let Some(entry) = index.keys.get(id) {
                entry.last_used.store(*at, Ordering::Relaxed);
            }
        }
        index.recompute_privileges();
        index.recompute_attachments();
        index
    }

    /// Finds the key with this digest; the comparison of the full digest is constant-time.
    pub fn key_by_digest(&self, digest: &KeyDigest) -> Option<&Arc<KeyEntry>> {
        self.by_digest
            .get(&digest_slot(digest))
            .filter(|entry| entry.digest.ct_eq(digest))
    }

    pub fn privileges_of(&self, principal_id: &str) -> Arc<Privileges> {
        self.privileges
            .get(principal_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Whom the profile is attached to (`None`: nobody).
    pub fn attached_to(&self, profile_id: &str) -> Option<&Attached> {
        self.attached.get(profile_id)
    }

    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    fn current_version(&self, kind: Kind, id: &str) -> Option<i64> {
        match kind {
            Kind::Principal => self.principals.get(id).map(|o| o.version),
            Kind::Group => self.groups.get(id).map(|o| o.version),
            Kind::Role => self.roles.get(id).map(|o| o.version),
            Kind::Profile => self.profiles.get(id).map(|o| o.profile.version),
            Kind::Key => self.keys.get(id).map(|o| o.key.version),
        }
    }

    /// Applies changes from the feed or from this replica's own writes.
    pub fn apply(&mut self, changes: &[Change]) {
        let mut privileges_changed = false;
        let mut attachments_changed = false;
        for change in changes {
            if self.deleted.contains(&(change.kind, change.id.clone())) {
                continue;
            }
            match &change.object {
                Some(object) => {
                    if self
                        .current_version(change.kind, &change.id)
                        .is_some_and(|v| v > object.version())
                    {
                        continue;
                    }
                    privileges_changed |= change.kind != Kind::Key && change.kind != Kind::Profile;
                    attachments_changed |= change.kind == Kind::Principal;
                    self.put(object.clone());
                }
                None => {
                    privileges_changed |= change.kind != Kind::Key && change.kind != Kind::Profile;
                    attachments_changed |= change.kind == Kind::Principal;
                    self.remove(change.kind, &change.id);
                    self.deleted.insert((change.kind, change.id.clone()));
                }
            }
        }
        if privileges_changed {
            self.recompute_privileges();
        }
        if attachments_changed {
            self.recompute_attachments();
        }
    }

    fn put(&mut self, object: Object) {
        match object {
            Object::Principal(p) => {
                self.principals.insert(p.id.clone(), Arc::new(p));
            }
            Object::Group(g) => {
                self.groups.insert(g.id.clone(), Arc::new(g));
            }
            Object::Role(r) => {
                self.roles.insert(r.id.clone(), Arc::new(r));
            }
            Object::Profile(p) => {
                self.profiles
                    .insert(p.id.clone(), Arc::new(ProfileEntry::new(p)));
            }
            Object::Key(k) => {
                let Some(digest) = KeyDigest::from_hex(&k.digest) else {
                    tracing::error!(key_id = %k.id, "stored key has no valid digest; ignored");
                    return;
                };
                let last_used = self
                    .keys
                    .get(&k.id)
                    .map(|old| old.last_used.load(Ordering::Relaxed))
                    .unwrap_or(k.last_used_at.unwrap_or(0));
                let networks = k
                    .ip_allowlist
                    .iter()
                    .filter_map(|n| parse_network(n))
                    .collect();
                let entry = Arc::new(KeyEntry {
                    key: k,
                    digest,
                    networks,
                    last_used: AtomicI64::new(last_used),
                });
                self.by_digest
                    .insert(digest_slot(&digest), Arc::clone(&entry));
                self.keys.insert(entry.key.id.clone(), entry);
            }
        }
    }

    fn remove(&mut self, kind: Kind, id: &str) {
        match kind {
            Kind::Principal => {
                self.principals.remove(id);
            }
            Kind::Group => {
                self.groups.remove(id);
            }
            Kind::Role => {
                self.roles.remove(id);
            }
            Kind::Profile => {
                self.profiles.remove(id);
            }
            Kind::Key => {
                if let Some(entry) = self.keys.remove(id) {
                    self.by_digest.remove(&digest_slot(&entry.digest));
                }
            }
        }
    }

    fn recompute_privileges(&mut self) {
        let mut by_group: HashMap<&str, BTreeSet<String>> = HashMap::new();
        for role in self.roles.values() {
            for group in &role.groups {
                by_group
                    .entry(group.as_str())
                    .or_default()
                    .extend(role.privileges.iter().cloned());
            }
        }
        let mut privileges = HashMap::with_capacity(self.principals.len());
        for principal in self.principals.values() {
            let mut set = BTreeSet::new();
            for group in &principal.groups {
                if self.groups.contains_key(group)
                    && let Some(p) = by_group.get(group.as_str())
                {
                    set.extend(p.iter().cloned());
                }
            }
            privileges.insert(principal.id.clone(), Arc::new(set));
        }
        self.privileges = privileges;
    }

    fn recompute_attachments(&mut self) {
        let mut attached: HashMap<String, Attached> = HashMap::new();
        for principal in self.principals.values() {
            for profile in &principal.profiles {
                match attached.get_mut(profile) {
                    None => {
                        attached.insert(profile.clone(), Attached::One(principal.id.clone()));
                    }
                    Some(Attached::One(first)) if *first == principal.id => {}
                    Some(other) => *other = Attached::Several,
                }
            }
        }
        for (id, a) in &attached {
            if *a == Attached::Several && self.profiles.get(id).is_some_and(|p| p.jwt.is_some()) {
                tracing::warn!(profile_id = %id,
                    "JWT access profile attached to several principals; its tokens are refused");
            }
        }
        self.attached = attached;
    }
}
