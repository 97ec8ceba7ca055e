//! The verification decision: a pure function of the in-memory index, the
//! request context and the clock, plus the per-replica limiters.
//!
//! Unknown, malformed, revoked, expired and deleted keys all produce the same
//! [`Decision`] (`401`, reason `invalid_key`, nothing else); the true cause is
//! only counted in [`RefusalStats`] for the audit log.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use keywarden_core::Timestamp;
use keywarden_keys::{KeyDigest, KeyRef, MAX_KEY_LEN};
use serde::Serialize;
use utoipa::ToSchema;

use crate::index::{Index, KeyEntry, ProfileEntry, address_allowed};
use crate::limits::{FailureThrottle, RateLimiter, retry_after_secs};
use crate::model::{Principal, PrincipalKind, Privileges, privilege};

/// Why a request was allowed or refused, as callers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Ok,
    /// No credential, or a key that is unknown, malformed, revoked, expired or deleted.
    InvalidKey,
    KeyDisabled,
    PrincipalDisabled,
    /// The principal lacks the `key:use` privilege, or the key's access profile is gone.
    PrincipalNotPermitted,
    EnvironmentMismatch,
    ReadOnly,
    PathNotAllowed,
    OperationNotAllowed,
    AddressNotAllowed,
    ScopeNotGranted,
    QueryParamNotAllowed,
    RateLimited,
    TooManyFailures,
    /// `/v1/auth-request` from a peer that is not a trusted gateway, or without the
    /// gateway's facts (`X-Original-Method`, `X-Original-URI`) exactly once each.
    UntrustedGateway,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Ok => "ok",
            Reason::InvalidKey => "invalid_key",
            Reason::KeyDisabled => "key_disabled",
            Reason::PrincipalDisabled => "principal_disabled",
            Reason::PrincipalNotPermitted => "principal_not_permitted",
            Reason::EnvironmentMismatch => "environment_mismatch",
            Reason::ReadOnly => "read_only",
            Reason::PathNotAllowed => "path_not_allowed",
            Reason::OperationNotAllowed => "operation_not_allowed",
            Reason::AddressNotAllowed => "address_not_allowed",
            Reason::ScopeNotGranted => "scope_not_granted",
            Reason::QueryParamNotAllowed => "query_param_not_allowed",
            Reason::RateLimited => "rate_limited",
            Reason::TooManyFailures => "too_many_failures",
            Reason::UntrustedGateway => "untrusted_gateway",
        }
    }
}

/// Every reason, in declaration order (the slot of a reason is its position).
const REASONS: [Reason; 15] = [
    Reason::Ok,
    Reason::InvalidKey,
    Reason::KeyDisabled,
    Reason::PrincipalDisabled,
    Reason::PrincipalNotPermitted,
    Reason::EnvironmentMismatch,
    Reason::ReadOnly,
    Reason::PathNotAllowed,
    Reason::OperationNotAllowed,
    Reason::AddressNotAllowed,
    Reason::ScopeNotGranted,
    Reason::QueryParamNotAllowed,
    Reason::RateLimited,
    Reason::TooManyFailures,
    Reason::UntrustedGateway,
];

/// The true cause of a refusal, counted but never shown to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Missing,
    Malformed,
    Unknown,
    Revoked,
    Expired,
    PrincipalGone,
    /// A JWT whose profile is attached to several principals: its key cannot tell them apart.
    JwtProfileShared,
    /// A JWT for a profile whose stored secret or public key cannot verify anything.
    JwtKeyUnusable,
    Refused(Reason),
}

/// Causes before the `Refused(_)` ones.
const FIXED_CAUSES: usize = 8;
const CAUSES: usize = FIXED_CAUSES + REASONS.len();

impl Cause {
    fn slot(self) -> usize {
        match self {
            Cause::Missing => 0,
            Cause::Malformed => 1,
            Cause::Unknown => 2,
            Cause::Revoked => 3,
            Cause::Expired => 4,
            Cause::PrincipalGone => 5,
            Cause::JwtProfileShared => 6,
            Cause::JwtKeyUnusable => 7,
            Cause::Refused(r) => FIXED_CAUSES + r as usize,
        }
    }

    fn name(slot: usize) -> &'static str {
        const NAMES: [&str; FIXED_CAUSES] = [
            "missing",
            "malformed",
            "unknown",
            "revoked",
            "expired",
            "principal_gone",
            "jwt_profile_shared",
            "jwt_key_unusable",
        ];
        if slot < FIXED_CAUSES {
            NAMES[slot]
        } else {
            REASONS
                .get(slot - FIXED_CAUSES)
                .map(|r| r.as_str())
                .unwrap_or("other")
        }
    }
}

/// Counts of refusals by true cause since start (and since the last audit flush).
#[derive(Debug, Default)]
pub struct RefusalStats {
    total: [AtomicU64; CAUSES],
    flushed: [AtomicU64; CAUSES],
}

impl RefusalStats {
    fn count(&self, cause: Cause) {
        self.total[cause.slot()].fetch_add(1, Ordering::Relaxed);
    }

    /// `(cause, count)` since start.
    pub fn totals(&self) -> Vec<(&'static str, u64)> {
        (0..CAUSES)
            .filter_map(|i| {
                let n = self.total[i].load(Ordering::Relaxed);
                (n > 0).then(|| (Cause::name(i), n))
            })
            .collect()
    }

    /// `(cause, count)` since the previous call.
    pub fn take_delta(&self) -> Vec<(&'static str, u64)> {
        (0..CAUSES)
            .filter_map(|i| {
                let total = self.total[i].load(Ordering::Relaxed);
                let before = self.flushed[i].swap(total, Ordering::Relaxed);
                (total > before).then(|| (Cause::name(i), total - before))
            })
            .collect()
    }
}

/// Where the key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A header (Authorization, custom header) or a request body.
    Header,
    /// The `auth-key` query parameter.
    Query,
}

/// What is known about the request the key is presented with.
#[derive(Debug, Clone, Default)]
pub struct Context<'a> {
    pub method: &'a str,
    /// The request target; any query string is ignored.
    pub path: &'a str,
    pub client: Option<IpAddr>,
    pub environment: Option<&'a str>,
    pub scope: Option<&'a str>,
    pub operation: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PrincipalSummary {
    pub id: String,
    pub name: String,
    pub kind: PrincipalKind,
}

#[derive(Debug, Clone)]
pub struct Decision {
    pub reason: Reason,
    pub cause: Option<Cause>,
    /// The principal the key acts as (shared with the index: no copy on the hot path).
    pub principal: Option<Arc<Principal>>,
    /// The key that was presented (absent for JWTs and refusals).
    pub key: Option<Arc<KeyEntry>>,
    /// Effective scopes; shared with the index when the key narrows nothing.
    pub scopes: Arc<Privileges>,
    pub retry_after: Option<u64>,
}

impl Decision {
    pub fn key_id(&self) -> Option<&str> {
        self.key.as_ref().map(|k| k.key.id.as_str())
    }

    pub fn environment(&self) -> Option<&str> {
        self.key.as_ref().map(|k| k.key.environment.as_str())
    }

    pub fn principal_summary(&self) -> Option<PrincipalSummary> {
        self.principal.as_ref().map(|p| PrincipalSummary {
            id: p.id.clone(),
            name: p.name.clone(),
            kind: p.kind,
        })
    }

    pub fn allowed(&self) -> bool {
        self.reason == Reason::Ok
    }

    /// The status a gateway should answer.
    pub fn status(&self) -> u16 {
        match self.reason {
            Reason::Ok => 200,
            Reason::InvalidKey => 401,
            Reason::RateLimited | Reason::TooManyFailures => 429,
            _ => 403,
        }
    }

    fn refused(reason: Reason, cause: Cause) -> Self {
        Decision {
            reason,
            cause: Some(cause),
            principal: None,
            key: None,
            scopes: Arc::default(),
            retry_after: None,
        }
    }
}

// Paths are judged by the same code on the desktop (pre-flight) and here.
pub use keywarden_core::path::{normalize_path, path_matches};

pub fn is_read_method(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS")
}

pub struct Verifier {
    pub index: Arc<RwLock<Index>>,
    pub limiter: RateLimiter,
    pub throttle: FailureThrottle,
    pub stats: RefusalStats,
}

impl Verifier {
    pub fn new(index: Arc<RwLock<Index>>, throttle: FailureThrottle) -> Self {
        Self {
            index,
            limiter: RateLimiter::default(),
            throttle,
            stats: RefusalStats::default(),
        }
    }

    /// Counts an `auth_request` refused because it did not come from a trusted gateway.
    pub fn refuse_untrusted_gateway(&self) {
        self.stats.count(Cause::Refused(Reason::UntrustedGateway));
    }

    /// Counts a failed authentication against an address (admin API, login).
    pub fn throttle_failure(&self, address: Option<IpAddr>) {
        if let Some(address) = address {
            self.throttle.record_failure(address, Instant::now());
        }
    }

    /// Decides about a key presented with a request. `throttle_address` is the
    /// address failures are counted against (the client, else the caller).
    pub fn verify(
        &self,
        key_text: Option<&str>,
        source: Source,
        ctx: &Context<'_>,
        throttle_address: Option<IpAddr>,
        now: Timestamp,
    ) -> Decision {
        let instant = Instant::now();
        if let Some(address) = throttle_address
            && let Err(wait) = self.throttle.check(address, instant)
        {
            let mut d = Decision::refused(
                Reason::TooManyFailures,
                Cause::Refused(Reason::TooManyFailures),
            );
            d.retry_after = Some(retry_after_secs(wait));
            self.stats.count(Cause::Refused(Reason::TooManyFailures));
            return d;
        }
        let decision = self.decide(key_text, source, ctx, now, instant);
        if let Some(cause) = decision.cause {
            self.stats.count(cause);
            if decision.reason == Reason::InvalidKey
                && let Some(address) = throttle_address
            {
                self.throttle.record_failure(address, instant);
            }
        }
        decision
    }

    fn decide(
        &self,
        key_text: Option<&str>,
        source: Source,
        ctx: &Context<'_>,
        now: Timestamp,
        instant: Instant,
    ) -> Decision {
        let invalid = |cause| Decision::refused(Reason::InvalidKey, cause);
        let Some(text) = key_text else {
            return invalid(Cause::Missing);
        };
        let key = match KeyRef::parse(text) {
            Ok(key) => key,
            Err(_) if source == Source::Header && crate::jwt::looks_like_jwt(text) => {
                return self.decide_jwt(text, ctx, now, instant);
            }
            Err(_) => {
                // Hash anyway, so a malformed key costs about what a well-formed unknown one does.
                let bounded = &text.as_bytes()[..text.len().min(MAX_KEY_LEN)];
                std::hint::black_box(KeyDigest::of(&String::from_utf8_lossy(bounded)));
                return invalid(Cause::Malformed);
            }
        };
        let digest = key.digest();
        let index = self.index.read().unwrap_or_else(|p| p.into_inner());
        let Some(entry) = index.key_by_digest(&digest) else {
            return invalid(Cause::Unknown);
        };
        let k = &entry.key;
        if k.revoked_at.is_some() {
            return invalid(Cause::Revoked);
        }
        if k.expires_at.is_some_and(|at| at <= now) {
            return invalid(Cause::Expired);
        }
        let Some(principal) = index.principals.get(&k.principal_id) else {
            return invalid(Cause::PrincipalGone);
        };
        let refuse = |reason| Decision::refused(reason, Cause::Refused(reason));
        if !k.enabled {
            return refuse(Reason::KeyDisabled);
        }
        if !principal.enabled {
            return refuse(Reason::PrincipalDisabled);
        }
        if source == Source::Query && !k.allow_query_param {
            return refuse(Reason::QueryParamNotAllowed);
        }
        let privileges = index.privileges_of(&principal.id);
        if !privileges.contains(privilege::KEY_USE) {
            return refuse(Reason::PrincipalNotPermitted);
        }
        let profile = match &k.profile_id {
            Some(id) => match index.profiles.get(id) {
                Some(p) => Some(Arc::clone(p)),
                None => return refuse(Reason::PrincipalNotPermitted),
            },
            None => None,
        };
        if let Some(env) = ctx.environment
            && env != k.environment
        {
            return refuse(Reason::EnvironmentMismatch);
        }
        if k.read_only && !is_read_method(ctx.method) {
            return refuse(Reason::ReadOnly);
        }
        if !k.path_prefixes.is_empty() {
            let allowed = normalize_path(ctx.path)
                .is_some_and(|path| k.path_prefixes.iter().any(|rule| path_matches(rule, &path)));
            if !allowed {
                return refuse(Reason::PathNotAllowed);
            }
        }
        if !k.operations.is_empty()
            && !ctx
                .operation
                .is_some_and(|op| k.operations.iter().any(|o| o == op))
        {
            return refuse(Reason::OperationNotAllowed);
        }
        if !k.ip_allowlist.is_empty()
            && !ctx
                .client
                .is_some_and(|ip| address_allowed(&entry.networks, ip))
        {
            return refuse(Reason::AddressNotAllowed);
        }
        if let Some(p) = &profile
            && !p.profile.ip_allowlist.is_empty()
            && !ctx
                .client
                .is_some_and(|ip| address_allowed(&p.networks, ip))
        {
            return refuse(Reason::AddressNotAllowed);
        }
        let narrowed_by_profile = profile
            .as_ref()
            .is_some_and(|p| !p.profile.collections.is_empty());
        let scopes: Arc<Privileges> = if k.scopes.is_empty() && !narrowed_by_profile {
            Arc::clone(&privileges)
        } else {
            let mut set: BTreeSet<String> = if k.scopes.is_empty() {
                privileges.as_ref().clone()
            } else {
                k.scopes
                    .iter()
                    .filter(|s| privileges.contains(*s))
                    .cloned()
                    .collect()
            };
            if let Some(p) = &profile
                && !p.profile.collections.is_empty()
            {
                set.retain(|s| p.profile.collections.contains(s));
            }
            Arc::new(set)
        };
        if let Some(required) = ctx.scope
            && !scopes.contains(required)
        {
            return refuse(Reason::ScopeNotGranted);
        }
        let policy = k
            .policy
            .or_else(|| profile.as_ref().and_then(|p| p.profile.policy));
        if let Some(policy) = policy
            && let Err(wait) = self.limiter.check(&k.id, policy, instant)
        {
            let mut d = refuse(Reason::RateLimited);
            d.retry_after = Some(retry_after_secs(wait));
            return d;
        }
        if entry.last_used.load(Ordering::Relaxed) != now {
            entry.last_used.store(now, Ordering::Relaxed);
        }
        Decision {
            reason: Reason::Ok,
            cause: None,
            principal: Some(Arc::clone(principal)),
            key: Some(Arc::clone(entry)),
            scopes,
            retry_after: None,
        }
    }

    /// A JWT from an API client whose access profile uses the JWT access method. `sub`
    /// names the client; the token must verify with the key of one of its JWT profiles,
    /// with the algorithm pinned to that profile's signing method, and that profile must
    /// be attached to this client alone (a key shared by two clients identifies neither).
    /// Order: header and `sub` (no trust), client, profile, signature, then the rules.
    fn decide_jwt(
        &self,
        token: &str,
        ctx: &Context<'_>,
        now: Timestamp,
        instant: Instant,
    ) -> Decision {
        use crate::index::Attached;
        use crate::jwt::Refusal;
        let invalid = |cause| Decision::refused(Reason::InvalidKey, cause);
        let refuse = |reason| Decision::refused(reason, Cause::Refused(reason));
        let mut payload = Vec::new();
        let Some(unverified) = crate::jwt::peek(token, &mut payload) else {
            return invalid(Cause::Malformed);
        };
        // Under the index lock: the client and the profiles whose key may verify the token.
        // The signature is checked after the lock is released (an RSA or ECDSA check is
        // slow enough to hold up the index's writers).
        // `cause` is the true cause if no profile accepts the token, see `cause_max`.
        let (principal, privileges, candidates, mut cause) = {
            let index = self.index.read().unwrap_or_else(|p| p.into_inner());
            let Some(principal) = index.principals.get(unverified.sub.as_ref()) else {
                return invalid(Cause::Unknown);
            };
            if principal.kind != PrincipalKind::ApiClient {
                return invalid(Cause::Unknown);
            }
            let mut cause = Cause::Unknown;
            let mut candidates: Vec<Arc<ProfileEntry>> = Vec::new();
            for entry in principal
                .profiles
                .iter()
                .filter_map(|id| index.profiles.get(id))
            {
                match &entry.jwt {
                    Some(Ok(key)) if key.algorithm == unverified.alg => {}
                    Some(Err(_)) => {
                        cause = cause_max(cause, Cause::JwtKeyUnusable);
                        continue;
                    }
                    _ => continue,
                }
                let alone = matches!(index.attached_to(&entry.profile.id),
                    Some(Attached::One(only)) if *only == principal.id);
                if !alone {
                    cause = cause_max(cause, Cause::JwtProfileShared);
                    continue;
                }
                candidates.push(Arc::clone(entry));
            }
            (
                Arc::clone(principal),
                index.privileges_of(&principal.id),
                candidates,
                cause,
            )
        };
        let mut accepted = None;
        for entry in candidates {
            let Some(Ok(key)) = &entry.jwt else { continue };
            match key.verify(token, now) {
                Ok(claims) if claims.sub == principal.id => {
                    accepted = Some(entry);
                    break;
                }
                Ok(_) | Err(Refusal::Claims) => cause = cause_max(cause, Cause::Malformed),
                Err(Refusal::Time) => cause = cause_max(cause, Cause::Expired),
                Err(Refusal::Signature) => {}
            }
        }
        let Some(profile) = accepted else {
            return invalid(cause);
        };
        if !principal.enabled {
            return refuse(Reason::PrincipalDisabled);
        }
        if !privileges.contains(privilege::KEY_USE) {
            return refuse(Reason::PrincipalNotPermitted);
        }
        if !profile.profile.ip_allowlist.is_empty()
            && !ctx
                .client
                .is_some_and(|ip| address_allowed(&profile.networks, ip))
        {
            return refuse(Reason::AddressNotAllowed);
        }
        let scopes: Arc<Privileges> = if profile.profile.collections.is_empty() {
            Arc::clone(&privileges)
        } else {
            Arc::new(
                privileges
                    .iter()
                    .filter(|s| profile.profile.collections.contains(*s))
                    .cloned()
                    .collect(),
            )
        };
        if let Some(required) = ctx.scope
            && !scopes.contains(required)
        {
            return refuse(Reason::ScopeNotGranted);
        }
        // One client per profile key, so the profile's bucket is the client's.
        if let Some(policy) = profile.profile.policy
            && let Err(wait) = self.limiter.check(&profile.jwt_bucket, policy, instant)
        {
            let mut d = refuse(Reason::RateLimited);
            d.retry_after = Some(retry_after_secs(wait));
            return d;
        }
        Decision {
            reason: Reason::Ok,
            cause: None,
            principal: Some(principal),
            key: None,
            scopes,
            retry_after: None,
        }
    }
}

/// The more telling of two causes of a refused JWT (a token signed with the right key
/// but expired says more than an unknown signature; a shared profile more than both).
fn cause_max(a: Cause, b: Cause) -> Cause {
    fn rank(c: Cause) -> u8 {
        match c {
            Cause::Unknown => 0,
            Cause::JwtKeyUnusable => 1,
            Cause::Malformed => 2,
            Cause::Expired => 3,
            Cause::JwtProfileShared => 4,
            _ => 0,
        }
    }
    if rank(b) > rank(a) { b } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalize_as_nginx_and_rfc_3986() {
        for (target, normalized) in [
            ("/", "/"),
            ("/api/v1/x?y=1", "/api/v1/x"),
            ("/api/v1/x?y=/../../admin", "/api/v1/x"),
            ("/api/./v1/../v2", "/api/v2"),
            ("/api/..", "/"),
            ("/api/v1/..", "/api/"),
            ("/api/v1/.", "/api/v1/"),
            ("/api/v1/", "/api/v1/"),
            // Slashes are merged before dot segments are removed (nginx's `$uri`).
            ("/api/v1//../admin", "/api/admin"),
            ("/api/a/..//b", "/api/b"),
            ("///api//x", "/api/x"),
            ("//", "/"),
            ("/api/v1/.//x", "/api/v1/x"),
            ("/api/v1/./../x", "/api/x"),
            // Only `.` and `..` are dot segments.
            ("/api/...", "/api/..."),
            ("/api/a/.../..", "/api/a/"),
            ("/api/..../x", "/api/..../x"),
            ("/api/.x/..y", "/api/.x/..y"),
            // Escapes of ordinary characters are decoded, as the upstream decodes them.
            ("/api/%41", "/api/A"),
            ("/api/v%31/x", "/api/v1/x"),
            ("/api/%3F/..", "/api/"),
            ("/api/%23/../x", "/api/x"),
            ("/files/my%20doc", "/files/my doc"),
            // Path parameters of ordinary segments are kept.
            ("/api/a;b/../c", "/api/c"),
            ("/api/v1;x", "/api/v1;x"),
        ] {
            assert_eq!(
                normalize_path(target).as_deref(),
                Some(normalized),
                "{target}"
            );
        }
    }

    #[test]
    fn ambiguous_paths_are_refused() {
        for target in [
            "",
            "api",
            "*",
            "http://host/api",
            // Above the root (nginx answers 400).
            "/..",
            "/../api",
            "/api/../..",
            "//..",
            "/api/v1/../../..",
            // Encoded dot, slash, backslash, percent, in either case.
            "/api/%2e%2e/admin",
            "/api/%2E%2E/admin",
            "/api/.%2e/admin",
            "/api/%2e",
            "/api%2Fadmin",
            "/api/v1%2f..%2fadmin",
            "/api/%5c..%5cadmin",
            "/api/%5C",
            "/api/%25",
            "/api/%252e%252e/admin",
            // Backslash, fragment, whitespace, control and non-ASCII bytes.
            "/a\\b",
            "/api\\..\\admin",
            "/api/x#/../../admin",
            "/api/a b",
            "/api/a\tb",
            "/api/\u{7f}",
            "/api/\u{e9}",
            "/api/%00",
            "/api/%0a",
            "/api/%7F",
            "/api/%c3%a9",
            "/api/%80",
            // Invalid escapes.
            "/api/%",
            "/api/%4",
            "/api/%zz",
            "/api/%g1",
            "/api/%%41",
            // Dot or empty segments with path parameters (`..;` is `..` to Tomcat, Jetty).
            "/api/v1/..;/admin",
            "/api/v1/..;x/admin",
            "/api/v1/.;/admin",
            "/api/v1/;x/../../admin",
            "/api/..%3b/admin",
        ] {
            assert_eq!(normalize_path(target), None, "{target:?}");
        }
    }

    #[test]
    fn rules_match_at_segment_boundaries() {
        // A rule without a final slash: the path itself and what lies below it.
        assert!(path_matches("/api/v1", "/api/v1"));
        assert!(path_matches("/api/v1", "/api/v1/"));
        assert!(path_matches("/api/v1", "/api/v1/users/7"));
        assert!(!path_matches("/api/v1", "/api/v1-internal"));
        assert!(!path_matches("/api/v1", "/api/v1-internal/users"));
        assert!(!path_matches("/api/v1", "/api/v10"));
        assert!(!path_matches("/api/v1", "/api/v1;x"));
        assert!(!path_matches("/api/v1", "/api/v"));
        assert!(!path_matches("/api/v1", "/api"));
        assert!(!path_matches("/api/v1", "/API/V1"));
        // A rule with a final slash: everything under it.
        assert!(path_matches("/api/", "/api/"));
        assert!(path_matches("/api/", "/api/x/y"));
        assert!(!path_matches("/api/", "/api"));
        assert!(!path_matches("/api/", "/api-internal/x"));
        assert!(!path_matches("/api/", "/admin"));
        assert!(path_matches("/", "/"));
        assert!(path_matches("/", "/anything/at/all"));
        // `=`: exactly that path.
        assert!(path_matches("=/api/x", "/api/x"));
        assert!(!path_matches("=/api/x", "/api/x/"));
        assert!(!path_matches("=/api/x", "/api/x/y"));
        assert!(!path_matches("=/api/x", "/api/xy"));
    }

    #[test]
    fn tricks_do_not_escape_a_rule() {
        let allowed = |rule: &str, target: &str| {
            normalize_path(target).is_some_and(|path| path_matches(rule, &path))
        };
        assert!(allowed("/api/v1", "/api/v1/users"));
        assert!(allowed("/api/v1", "/api/v1/x/../users"));
        assert!(allowed("/api/v1", "/api//v1"));
        // Merging first: `/api/v1//../admin` is `/api/admin`, outside `/api/v1`.
        assert!(!allowed("/api/v1", "/api/v1//../admin"));
        assert!(!allowed("/api/v1", "/api/v1/../v1-internal"));
        assert!(!allowed("/api/v1", "/api/v1-internal"));
        assert!(!allowed("/api/v1", "/api/v1/..;/admin"));
        assert!(!allowed("/api/v1", "/api/v1/%2e%2e/admin"));
        assert!(!allowed("/api/v1", "/api/v1%2f..%2f..%2fadmin"));
        assert!(!allowed("/api/v1/", "/api/v1"));
        assert!(!allowed("/api/v1/", "/api/v1/.."));
        assert!(allowed("/api/v1/", "/api/v1/."));
        assert!(allowed("=/api/status", "/api/./status?x=1"));
        assert!(!allowed("=/api/status", "/api/status/"));
        assert!(allowed("/api/v1", "/api/v%31/users"));
    }
}
