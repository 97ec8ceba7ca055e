//! Who may grant what. The admin API's authorization rules, in one place:
//!
//! * **No escalation** (Kubernetes RBAC's `escalate`/`bind` rule): a caller can only create,
//!   change, grant or delete a role whose privileges it holds; can put a principal into a
//!   group only if it holds every privilege the group grants; can act on a principal (change
//!   it, delete it, set its password, manage its keys) only if that principal's privileges
//!   are within its own.
//! * **A credential never mints a stronger one** (Vault: a token cannot create a child with
//!   policies it lacks): a caller that authenticated with a key can make or change keys of
//!   its own principal only within that key's restrictions — scopes, environment, read-only,
//!   paths, operations, IP allowlist, expiry, access profile, query use, rate policy. A key
//!   created that way inherits every restriction it does not narrow.
//!
//! "Privileges" here are every string a role holds: the server's own (`admin:write`…) and
//! the scopes keys carry to APIs (`rest`, a collection name…). Both are power.

use std::collections::BTreeSet;

use ipnet::IpNet;

use crate::error::{Error, Result};
use crate::index::{Index, parse_network};
use crate::model::{AccessMethod, Key, Principal, privilege};
use crate::service::{Caller, CreateKey};
use crate::verify::path_matches;

/// The privileges in `wanted` that `held` lacks, sorted. Holding `*` lacks nothing.
pub fn lacking<'a>(
    held: &BTreeSet<String>,
    wanted: impl IntoIterator<Item = &'a String>,
) -> Vec<&'a str> {
    if held.contains(privilege::ANY) {
        return Vec::new();
    }
    let mut out: Vec<&str> = wanted
        .into_iter()
        .filter(|p| !held.contains(*p))
        .map(String::as_str)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn quoted(list: &[&str]) -> String {
    list.iter()
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Caller {
    /// Refuses unless the caller holds every privilege in `wanted`. `what` completes
    /// "you cannot …" (e.g. "grant this role").
    pub fn holds_all<'a>(
        &self,
        wanted: impl IntoIterator<Item = &'a String>,
        what: &str,
    ) -> Result<()> {
        let missing = lacking(&self.privileges, wanted);
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "you cannot {what}: it carries {} which you do not hold",
                quoted(&missing)
            )))
        }
    }
}

/// Privileges a group grants: those of every role granted to it.
pub fn group_privileges(index: &Index, group: &str) -> BTreeSet<String> {
    index
        .roles
        .values()
        .filter(|r| r.groups.iter().any(|g| g == group))
        .flat_map(|r| r.privileges.iter().cloned())
        .collect()
}

/// Privileges a principal would hold as a member of exactly these groups.
pub fn privileges_of_groups(index: &Index, groups: &[String]) -> BTreeSet<String> {
    groups
        .iter()
        .filter(|g| index.groups.contains_key(*g))
        .flat_map(|g| group_privileges(index, g))
        .collect()
}

/// Refuses to act on a principal that holds privileges the caller lacks. `what`
/// completes "you cannot …".
pub fn may_act_on(caller: &Caller, index: &Index, principal_id: &str, what: &str) -> Result<()> {
    let held = index.privileges_of(principal_id);
    let missing = lacking(&caller.privileges, held.iter());
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "you cannot {what}: the principal holds {} which you do not",
            quoted(&missing)
        )))
    }
}

/// Principals an access profile is attached to.
pub fn principals_with_profile<'a>(
    index: &'a Index,
    profile: &'a str,
) -> impl Iterator<Item = &'a Principal> + 'a {
    index
        .principals
        .values()
        .map(AsRef::as_ref)
        .filter(move |p| p.profiles.iter().any(|id| id == profile))
}

/// A JWT access profile's secret (or key pair) identifies exactly one API client: refuses
/// to attach such a profile to `principal_id` when another principal already has it.
pub fn check_jwt_profiles_unshared(
    index: &Index,
    principal_id: &str,
    profiles: &[String],
) -> Result<()> {
    for id in profiles {
        let Some(entry) = index.profiles.get(id) else {
            continue;
        };
        if !matches!(entry.profile.access_method, AccessMethod::Jwt { .. }) {
            continue;
        }
        if let Some(other) = principals_with_profile(index, id).find(|p| p.id != principal_id) {
            return Err(Error::Conflict(format!(
                "the JWT access profile `{}` already identifies the API client `{}`: \
                 a JWT signing secret identifies exactly one client, so create a profile per client",
                entry.profile.name, other.name
            )));
        }
    }
    Ok(())
}

/// What a key can do: its scopes within its principal's privileges, narrowed by its
/// access profile's collections. `*` (grant anything) is not a scope and never passes to
/// a key made with a key.
pub fn effective_scopes(index: &Index, key: &Key) -> BTreeSet<String> {
    let held = index.privileges_of(&key.principal_id);
    let mut set: BTreeSet<String> = if key.scopes.is_empty() {
        held.as_ref().clone()
    } else {
        key.scopes
            .iter()
            .filter(|s| held.contains(*s))
            .cloned()
            .collect()
    };
    if let Some(profile) = key.profile_id.as_ref().and_then(|p| index.profiles.get(p))
        && !profile.profile.collections.is_empty()
    {
        set.retain(|s| profile.profile.collections.contains(s));
    }
    set.remove(privilege::ANY);
    set
}

fn networks(list: &[String]) -> Vec<IpNet> {
    list.iter().filter_map(|n| parse_network(n)).collect()
}

/// Whether a path rule is covered by a bounding rule: an exact rule by an equal exact
/// rule or a prefix covering its path; a prefix rule by a prefix covering it.
fn rule_covered(rule: &str, bound: &str) -> bool {
    match (rule.strip_prefix('='), bound.strip_prefix('=')) {
        (_, Some(exact)) => rule.strip_prefix('=') == Some(exact),
        (Some(path), None) => path_matches(bound, path),
        (None, None) => path_matches(bound, rule),
    }
}

/// Checks that `candidate` can do nothing that `bound` (the caller's own key) cannot.
/// `Err` names the first restriction the candidate would widen.
pub fn within_bounds(
    index: &Index,
    candidate: &Key,
    bound: &Key,
) -> std::result::Result<(), String> {
    let mine = effective_scopes(index, bound);
    let theirs = effective_scopes(index, candidate);
    let mut missing: Vec<&str> = theirs
        .iter()
        .filter(|s| !mine.contains(*s))
        .map(String::as_str)
        .collect();
    missing.sort_unstable();
    if !missing.is_empty() {
        return Err(format!("scopes {} beyond your key's", quoted(&missing)));
    }
    if candidate.environment != bound.environment {
        return Err(format!(
            "environment `{}` where your key is `{}`",
            candidate.environment, bound.environment
        ));
    }
    if bound.read_only && !candidate.read_only {
        return Err("writes, where your key is read-only".into());
    }
    if !bound.path_prefixes.is_empty()
        && (candidate.path_prefixes.is_empty()
            || !candidate
                .path_prefixes
                .iter()
                .all(|r| bound.path_prefixes.iter().any(|b| rule_covered(r, b))))
    {
        return Err("paths outside your key's path prefixes".into());
    }
    if !bound.operations.is_empty()
        && (candidate.operations.is_empty()
            || !candidate
                .operations
                .iter()
                .all(|o| bound.operations.contains(o)))
    {
        return Err("operations outside your key's".into());
    }
    if !bound.ip_allowlist.is_empty() {
        let outer = networks(&bound.ip_allowlist);
        let inner = networks(&candidate.ip_allowlist);
        if inner.is_empty() || !inner.iter().all(|n| outer.iter().any(|o| o.contains(n))) {
            return Err("addresses outside your key's IP allowlist".into());
        }
    }
    if let Some(limit) = bound.expires_at
        && candidate.expires_at.is_none_or(|e| e > limit)
    {
        return Err("an expiry later than your key's".into());
    }
    if bound.profile_id.is_some() && candidate.profile_id != bound.profile_id {
        return Err("another access profile than your key's".into());
    }
    if !bound.allow_query_param && candidate.allow_query_param {
        return Err("use as a query parameter, which your key may not".into());
    }
    if let Some(b) = bound.policy {
        let looser = candidate.policy.is_none_or(|c| {
            // Burst and sustained rate may only shrink: c/cs <= b/bs, cross-multiplied.
            c.requests > b.requests
                || u64::from(c.requests) * u64::from(b.per_seconds)
                    > u64::from(b.requests) * u64::from(c.per_seconds)
        });
        if looser {
            return Err("a looser rate policy than your key's".into());
        }
    }
    Ok(())
}

/// Fills what a key request leaves open from the caller's own key, so a key made with a
/// key inherits every restriction it does not narrow.
pub fn inherit(index: &Index, req: &mut CreateKey, bound: &Key) {
    if req.scopes.is_empty() {
        req.scopes = effective_scopes(index, bound).into_iter().collect();
    }
    if req.environment.is_none() {
        req.environment = Some(bound.environment.clone());
    }
    req.read_only |= bound.read_only;
    if req.path_prefixes.is_empty() {
        req.path_prefixes.clone_from(&bound.path_prefixes);
    }
    if req.operations.is_empty() {
        req.operations.clone_from(&bound.operations);
    }
    if req.ip_allowlist.is_empty() {
        req.ip_allowlist.clone_from(&bound.ip_allowlist);
    }
    if req.expires_at.is_none() {
        req.expires_at = bound.expires_at;
    }
    if req.profile_id.is_none() {
        req.profile_id.clone_from(&bound.profile_id);
    }
    if req.policy.is_none() {
        req.policy = bound.policy;
    }
}

/// May the caller create, change, rotate, refresh, revoke or delete this key (as it is,
/// or as it would be after the change)?
pub fn may_manage_key(caller: &Caller, index: &Index, key: &Key) -> Result<()> {
    caller.require_key_access(&key.principal_id)?;
    if key.principal_id != caller.principal_id {
        return may_act_on(
            caller,
            index,
            &key.principal_id,
            "manage this principal's keys",
        );
    }
    if let Some(bound) = &caller.key
        && let Err(why) = within_bounds(index, key, bound)
    {
        return Err(Error::Forbidden(format!(
            "a key cannot make or change a key stronger than itself: this one would allow {why}"
        )));
    }
    // Through `keys:self`, an API client's own keys stay under one of its access profiles.
    if !caller.privileges.contains(privilege::KEYS_MANAGE)
        && let Some(principal) = index.principals.get(&key.principal_id)
        && !principal.profiles.is_empty()
        && !key
            .profile_id
            .as_ref()
            .is_some_and(|p| principal.profiles.contains(p))
    {
        return Err(Error::invalid(
            "profile_id",
            "your own keys must carry one of your access profiles",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_rules_are_covered_only_by_wider_rules() {
        assert!(rule_covered("/api/v1/x", "/api/v1"));
        assert!(rule_covered("=/api/v1/x", "/api/v1"));
        assert!(rule_covered("=/api/v1", "=/api/v1"));
        assert!(!rule_covered("/api/v1", "=/api/v1"));
        assert!(!rule_covered("/api", "/api/v1"));
        assert!(!rule_covered("/", "/api/"));
    }
}
