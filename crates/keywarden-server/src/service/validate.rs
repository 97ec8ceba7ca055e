//! Checks of what a request may contain, and small helpers shared by the actions.

use super::*;

pub(super) fn check_name(field: &str, name: &str) -> Result<()> {
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

pub(super) fn check_text(field: &str, text: &str) -> Result<()> {
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

pub(super) fn check_tokens(field: &str, list: &[String]) -> Result<()> {
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
pub(super) fn check_paths(list: &[String]) -> Result<()> {
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

pub(super) fn check_networks(field: &str, list: &[String]) -> Result<()> {
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

pub(super) fn check_policy(field: &str, policy: &Option<RatePolicy>) -> Result<()> {
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
pub(super) fn check_access_method(method: &AccessMethod) -> Result<()> {
    match crate::jwt::JwtKey::for_method(method) {
        Some(Err(e)) => Err(Error::invalid(e.field, e.message)),
        _ => Ok(()),
    }
}

/// Checks a digest and display prefix sent by a client that generated its key offline.
pub(super) fn check_supplied_digest(
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

pub(super) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(super) fn to_value<T: Serialize>(value: &T) -> Value {
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
