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

// ---------------------------------------------------------------------------------------------
// Request and response bodies
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePrincipal {
    pub kind: PrincipalKind,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub logo: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub profiles: Vec<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchPrincipal {
    pub name: Option<String>,
    pub description: Option<String>,
    /// An empty string removes the logo.
    pub logo: Option<String>,
    pub enabled: Option<bool>,
    pub groups: Option<Vec<String>>,
    pub profiles: Option<Vec<String>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPassword {
    pub password: String,
    /// Required to change your own password.
    #[serde(default)]
    pub current_password: Option<String>,
}

impl std::fmt::Debug for SetPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SetPassword(***)")
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchGroup {
    pub name: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRole {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub privileges: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchRole {
    pub name: Option<String>,
    pub description: Option<String>,
    pub privileges: Option<Vec<String>>,
    pub groups: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProfile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub collections: Vec<String>,
    #[serde(default)]
    pub policy: Option<RatePolicy>,
    #[serde(default = "token_method")]
    pub access_method: AccessMethod,
    #[serde(default)]
    pub ip_allowlist: Vec<String>,
}

fn token_method() -> AccessMethod {
    AccessMethod::Token
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchProfile {
    pub name: Option<String>,
    pub description: Option<String>,
    pub collections: Option<Vec<String>>,
    /// `{"requests":0,"per_seconds":0}` is refused; send `clear_policy: true` to remove it.
    pub policy: Option<RatePolicy>,
    #[serde(default)]
    pub clear_policy: bool,
    pub access_method: Option<AccessMethod>,
    pub ip_allowlist: Option<Vec<String>>,
}

/// Creates a key. Without `digest` the server generates the key and returns it once;
/// with `digest` (hex SHA-256) and `display_prefix` the client generated it offline.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub environment: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub path_prefixes: Vec<String>,
    #[serde(default)]
    pub operations: Vec<String>,
    #[serde(default)]
    pub ip_allowlist: Vec<String>,
    pub expires_at: Option<Timestamp>,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub slot: Option<Slot>,
    pub policy: Option<RatePolicy>,
    pub profile_id: Option<String>,
    #[serde(default)]
    pub allow_query_param: bool,
    pub digest: Option<String>,
    pub display_prefix: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchKey {
    pub name: Option<String>,
    pub description: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub read_only: Option<bool>,
    pub path_prefixes: Option<Vec<String>>,
    pub operations: Option<Vec<String>>,
    pub ip_allowlist: Option<Vec<String>>,
    pub expires_at: Option<Timestamp>,
    #[serde(default)]
    pub clear_expiry: bool,
    pub enabled: Option<bool>,
    pub policy: Option<RatePolicy>,
    #[serde(default)]
    pub clear_policy: bool,
    pub allow_query_param: Option<bool>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateKey {
    /// How long the old key keeps working (default one day, at most 90 days).
    pub grace_seconds: Option<u64>,
    /// The successor generated by the client (hex SHA-256), with `display_prefix`: the
    /// server never sees the key, and a retry after a lost answer cannot lose it.
    pub digest: Option<String>,
    pub display_prefix: Option<String>,
}

/// The body of a refresh: optionally the successor generated by the client.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshKey {
    pub digest: Option<String>,
    pub display_prefix: Option<String>,
}

/// A key just issued. `key` is shown once and never again (`null` on an idempotent replay).
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedKey {
    pub key: Option<String>,
    pub object: Key,
    /// The key this one replaces (rotation, refresh).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced: Option<Key>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A session as its owner sees it; never the token.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// The first 16 hex digits of the token's SHA-256: names the session, cannot be used as it.
    pub id: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// Whether this is the session making the request.
    pub current: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsEnded {
    pub ended: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    pub token: String,
    pub expires_at: Timestamp,
    pub principal_id: String,
}

/// The credential and context of a verification request. Strings borrow from the
/// request body where they can (verification is the hot path).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest<'a> {
    #[serde(borrow)]
    #[schema(value_type = String)]
    pub key: Cow<'a, str>,
    #[serde(borrow, default = "get_method")]
    #[schema(value_type = String, default = "GET")]
    pub method: Cow<'a, str>,
    #[serde(borrow, default = "root_path")]
    #[schema(value_type = String, default = "/")]
    pub path: Cow<'a, str>,
    /// The address of the client that presented the key.
    #[serde(borrow, default)]
    #[schema(value_type = Option<String>)]
    pub client_address: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    #[schema(value_type = Option<String>)]
    pub environment: Option<Cow<'a, str>>,
    /// A scope the request needs.
    #[serde(borrow, default)]
    #[schema(value_type = Option<String>)]
    pub scope: Option<Cow<'a, str>>,
    /// The operation being invoked, for keys restricted to operations.
    #[serde(borrow, default)]
    #[schema(value_type = Option<String>)]
    pub operation: Option<Cow<'a, str>>,
}

impl std::fmt::Debug for VerifyRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn get_method() -> Cow<'static, str> {
    Cow::Borrowed("GET")
}
fn root_path() -> Cow<'static, str> {
    Cow::Borrowed("/")
}

/// A summary of the principal, borrowed from the index for serialization.
#[derive(Debug, Serialize)]
pub struct PrincipalRef<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub kind: PrincipalKind,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyResponse<'a> {
    pub valid: bool,
    /// What a gateway should answer: 200, 401, 403 or 429.
    pub status: u16,
    pub reason: crate::verify::Reason,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::verify::PrincipalSummary>)]
    pub principal: Option<PrincipalRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub key_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub environment: Option<&'a str>,
    #[schema(value_type = Vec<String>)]
    pub scopes: &'a crate::model::Privileges,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl<'a> From<&'a Decision> for VerifyResponse<'a> {
    fn from(d: &'a Decision) -> Self {
        VerifyResponse {
            valid: d.allowed(),
            status: d.status(),
            reason: d.reason,
            principal: d.principal.as_ref().map(|p| PrincipalRef {
                id: &p.id,
                name: &p.name,
                kind: p.kind,
            }),
            key_id: d.key_id(),
            environment: d.environment(),
            scopes: &d.scopes,
            retry_after: d.retry_after,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeView {
    pub seq: i64,
    pub kind: Kind,
    pub id: String,
    /// `put` or `delete`.
    pub op: String,
    pub version: i64,
    pub actor: String,
    pub at: Timestamp,
    /// The object after the change (no digests or secrets); absent for deletes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangePage {
    pub changes: Vec<ChangeView>,
    /// Pass as `since` to get the next page.
    pub next: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub next: i64,
}

// ---------------------------------------------------------------------------------------------
// Validation helpers
// ---------------------------------------------------------------------------------------------

fn check_name(field: &str, name: &str) -> Result<()> {
    if name.trim().is_empty()
        || name.len() > 100
        || name.chars().any(char::is_control)
        || name != name.trim()
    {
        return Err(Error::invalid(
            field,
            "must be 1 to 100 characters, without control characters or surrounding spaces",
        ));
    }
    Ok(())
}

fn check_text(field: &str, text: &str) -> Result<()> {
    if text.len() > MAX_TEXT
        || text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(Error::invalid(
            field,
            "must be at most 1000 characters without control characters",
        ));
    }
    Ok(())
}

fn check_tokens(field: &str, list: &[String]) -> Result<()> {
    if list.len() > MAX_LIST {
        return Err(Error::invalid(field, "at most 100 entries"));
    }
    for item in list {
        if item == privilege::ANY && field == "privileges" {
            continue;
        }
        if item.is_empty()
            || item.len() > 100
            || !item
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":_.-/".contains(&b))
        {
            return Err(Error::invalid(
                field,
                "entries must be 1 to 100 characters of A-Z, a-z, 0-9 and : _ . - /",
            ));
        }
    }
    Ok(())
}

/// Path rules are stored normalized (see [`crate::verify::normalize_path`]), so a rule is
/// compared with request paths in the one form both take; a rule that is not is refused,
/// with the normalized form as a hint. Rules hold no `;`: servers that strip path
/// parameters would read `/api/v1;x` as `/api/v1`.
fn check_paths(list: &[String]) -> Result<()> {
    if list.len() > MAX_LIST {
        return Err(Error::invalid("path_prefixes", "at most 100 entries"));
    }
    for rule in list {
        let (exact, path) = match rule.strip_prefix('=') {
            Some(path) => ("=", path),
            None => ("", rule.as_str()),
        };
        let normalized = crate::verify::normalize_path(path);
        if path.len() > 1000 || path.contains(';') || normalized.as_deref() != Some(path) {
            let hint = match normalized {
                Some(n) if n != path && !n.contains(';') && !n.contains([' ', '#', '?']) => {
                    format!("; did you mean `{exact}{n}`?")
                }
                _ => String::new(),
            };
            return Err(Error::invalid(
                "path_prefixes",
                format!(
                    "each entry is a normalized path starting with `/` (or `=/` for exactly \
                     that path): no `.` or `..` segments, no repeated `/`, no `;`, \
                     no percent-escapes{hint}"
                ),
            ));
        }
    }
    Ok(())
}

fn check_networks(field: &str, list: &[String]) -> Result<()> {
    if list.len() > MAX_LIST {
        return Err(Error::invalid(field, "at most 100 entries"));
    }
    for entry in list {
        if parse_network(entry).is_none() {
            return Err(Error::invalid(
                field,
                "each entry is an IPv4/IPv6 address or CIDR range",
            ));
        }
    }
    Ok(())
}

fn check_policy(field: &str, policy: &Option<RatePolicy>) -> Result<()> {
    if let Some(p) = policy
        && (p.requests == 0 || p.per_seconds == 0 || p.per_seconds > 86_400 * 31)
    {
        return Err(Error::invalid(
            field,
            "requests and per_seconds must be positive (per_seconds at most 31 days)",
        ));
    }
    Ok(())
}

/// A JWT access method must be able to verify tokens: a known signing method, an HMAC
/// secret of at least 32 characters, or a PEM public key of the method's family.
fn check_access_method(method: &AccessMethod) -> Result<()> {
    match crate::jwt::JwtKey::for_method(method) {
        Some(Err(e)) => Err(Error::invalid(e.field, e.message)),
        _ => Ok(()),
    }
}

/// Checks a digest and display prefix sent by a client that generated its key offline.
fn check_supplied_digest(
    digest: &str,
    display: &str,
    environment: &str,
) -> Result<(String, String)> {
    let digest = KeyDigest::from_hex(digest)
        .ok_or_else(|| {
            Error::invalid(
                "digest",
                "must be the 64 hex characters of the key's SHA-256",
            )
        })?
        .to_hex();
    if !keywarden_keys::is_valid_display_prefix(display) {
        return Err(Error::invalid(
            "display_prefix",
            "must read <prefix>_<env>_XXXX…",
        ));
    }
    let expected = format!("_{environment}_");
    if !display.contains(&expected) {
        return Err(Error::invalid(
            "display_prefix",
            "its environment must match `environment`",
        ));
    }
    Ok((digest, display.to_owned()))
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn to_value<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Parses an `If-Match` value (`"3"`, `W/"3"`, `*`) into a version (`None` for `*`).
pub fn parse_if_match(value: &str) -> Result<Option<i64>> {
    let v = value.trim();
    if v == "*" {
        return Ok(None);
    }
    let v = v.strip_prefix("W/").unwrap_or(v);
    v.trim_matches('"')
        .parse::<i64>()
        .map(Some)
        .map_err(|_| Error::Invalid {
            code: "invalid_header",
            field: Some("If-Match".into()),
            message: "If-Match must be an ETag such as \"3\"".into(),
        })
}

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

    // ---------------------------------------------------------------------------------------
    // Authentication of admin callers
    // ---------------------------------------------------------------------------------------

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

    // ---------------------------------------------------------------------------------------
    // Idempotent commit
    // ---------------------------------------------------------------------------------------

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
        let fingerprint = hex::encode(Sha256::digest(request));
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
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(self.fingerprint_key.as_slice())
            .map_err(|e| Error::Internal(e.to_string()))?;
        mac.update(request);
        let fingerprint = format!("hmac:{}", hex::encode(mac.finalize().into_bytes()));
        self.run_with(caller, idempotency_key, fingerprint, plan)
            .await
    }

    async fn run_with<F>(
        &self,
        caller: &Caller,
        idempotency_key: Option<&str>,
        hash: String,
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

    async fn commit(&self, planned: Planned, idem: Option<(String, String)>) -> Result<Outcome> {
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

    fn plan(
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

    fn check_version(current: i64, expected: Option<i64>) -> Result<i64> {
        match expected {
            Some(v) if v != current => Err(Error::PreconditionFailed),
            _ => Ok(current),
        }
    }

    // ---------------------------------------------------------------------------------------
    // Principals
    // ---------------------------------------------------------------------------------------

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

    // ---------------------------------------------------------------------------------------
    // Groups, roles, profiles
    // ---------------------------------------------------------------------------------------

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

    // ---------------------------------------------------------------------------------------
    // Keys
    // ---------------------------------------------------------------------------------------

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

    // ---------------------------------------------------------------------------------------
    // Change feed, audit, verification
    // ---------------------------------------------------------------------------------------

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

    // ---------------------------------------------------------------------------------------
    // First start
    // ---------------------------------------------------------------------------------------

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
