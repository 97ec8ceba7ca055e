//! The core service: admin actions, authentication of admin callers, idempotency
//! and audit. HTTP handlers are thin adapters over these functions.
//!
//! Every mutating action is planned first (new objects, audit rows, response),
//! then committed as one [`Mutation`], then applied to this replica's index at once.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use keywarden_core::{Timestamp, now};
use keywarden_keys::{ApiKey, KeyDigest, KeyRef};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use zeroize::Zeroizing;

use crate::authz;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::index::{Index, parse_network};
use crate::model::{
    AccessMethod, AccessProfile, AuditEntry, Change, Group, Key, Kind, Object, Principal,
    PrincipalKind, RatePolicy, Role, Slot, privilege,
};
use crate::store::{AuditQuery, IdemBegin, IdemDone, Mutation, NewAudit, Store, Write};
use crate::verify::{Context, Decision, Source, Verifier};

/// Prefix and environment of session tokens (`kwt_session_…`), distinct from API keys.
pub const SESSION_PREFIX: &str = "kwt";
pub const SESSION_ENV: &str = "session";
/// A pending Idempotency-Key older than this is taken to be abandoned.
const IDEMPOTENCY_STALE_SECS: i64 = 60;
const MAX_LIST: usize = 100;
const MAX_TEXT: usize = 1000;

/// Who is calling the admin API.
#[derive(Debug, Clone)]
pub struct Caller {
    /// `key:<id>` or `session:<principal id>`: the audit log's actor.
    pub actor: String,
    pub principal_id: String,
    /// What the caller may do: a session holds its principal's privileges, a key its
    /// effective scopes.
    pub privileges: BTreeSet<String>,
    /// The key the caller authenticated with (`None` for a session): every credential it
    /// makes for its own principal stays within this key's restrictions.
    pub key: Option<Key>,
    /// The session's id when the caller authenticated with a session token.
    pub session_id: Option<String>,
}

impl Caller {
    pub fn require(&self, privilege: &str) -> Result<()> {
        if self.privileges.contains(privilege) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "this action needs the `{privilege}` privilege"
            )))
        }
    }

    /// Keys of any principal need `keys:manage`; the caller's own keys also accept `keys:self`.
    pub fn require_key_access(&self, principal_id: &str) -> Result<()> {
        if self.privileges.contains(privilege::KEYS_MANAGE)
            || (principal_id == self.principal_id && self.privileges.contains(privilege::KEYS_SELF))
        {
            Ok(())
        } else {
            Err(Error::Forbidden(
                "this action needs `keys:manage`, or `keys:self` on your own principal".to_owned(),
            ))
        }
    }
}

/// A response planned by an action: status, JSON body, the body to store for replays
/// (without any secret), and the changes to commit.
pub struct Planned {
    pub status: u16,
    pub body: Value,
    pub replay_body: Option<Value>,
    pub mutation: Mutation,
    pub etag: Option<i64>,
}

/// The outcome of a mutating request.
#[derive(Debug)]
pub struct Outcome {
    pub status: u16,
    pub body: Value,
    pub etag: Option<i64>,
    pub replayed: bool,
}

pub struct Service {
    pub store: Arc<dyn Store>,
    pub index: Arc<RwLock<Index>>,
    pub verifier: Arc<Verifier>,
    pub config: Config,
    argon2: Argon2<'static>,
    /// Verified against when the user name is unknown, so both cases cost the same.
    dummy_hash: std::sync::OnceLock<String>,
    /// Keys the idempotency fingerprints of requests that carry secrets; never stored.
    fingerprint_key: Zeroizing<[u8; 32]>,
    /// Hashing concurrency, per-user-name throttle and failed-login counts.
    pub login_limits: crate::limits::login::LoginLimits,
}

mod auth;
mod bodies;
mod commit;
mod feed;
mod groups;
mod init;
mod keys;
mod principals;
mod validate;

pub use bodies::*;
pub use validate::parse_if_match;
use validate::*;

impl Service {
    pub fn new(
        store: Arc<dyn Store>,
        index: Arc<RwLock<Index>>,
        verifier: Arc<Verifier>,
        config: Config,
    ) -> Self {
        // OWASP minimum for Argon2id: m = 19 MiB, t = 2, p = 1.
        let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let login_limits = crate::limits::login::LoginLimits::new(
            config.login_concurrency,
            crate::limits::table::Policy {
                max_failures: config.login_user_max_failures,
                window: config.login_user_failure_window,
                block: config.login_user_block,
            },
        );
        Self {
            store,
            index,
            verifier,
            config,
            argon2,
            dummy_hash: std::sync::OnceLock::new(),
            fingerprint_key: {
                let mut key = Zeroizing::new([0u8; 32]);
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, key.as_mut_slice());
                key
            },
            login_limits,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies committed changes to this replica's index at once.
    pub fn apply_local(&self, changes: &[Change]) {
        let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
        index.apply(changes);
    }
}

/// A hash of a fixed password, verified against when a user name is unknown or has no
/// password, so those cases cost what a wrong password costs.
fn dummy_hash(argon2: &Argon2<'_>) -> String {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2
        .hash_password(b"keywarden-dummy-password", &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
}

fn key_view(entry: &crate::index::KeyEntry) -> Key {
    let mut k = entry.key.view();
    let used = entry.last_used.load(std::sync::atomic::Ordering::Relaxed);
    if used > 0 {
        k.last_used_at = Some(used);
    }
    k
}

fn audit_detail(object: &Object) -> Value {
    match object {
        Object::Key(k) => {
            json!({ "display_prefix": k.display_prefix, "principal_id": k.principal_id, "enabled": k.enabled })
        }
        Object::Principal(p) => json!({ "name": p.name, "enabled": p.enabled }),
        Object::Group(g) => json!({ "name": g.name }),
        Object::Role(r) => json!({ "name": r.name, "privileges": r.privileges }),
        Object::Profile(p) => json!({ "name": p.name }),
    }
}
