use serde::{Deserialize, Serialize};

/// What an administrator allowed a key to do, as far as the desktop knows it.
/// Attached to a secret that holds a key managed through the Admin side, and used
/// by the request composer's pre-flight check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyPolicy {
    /// Only GET, HEAD and OPTIONS are allowed.
    #[serde(default)]
    pub read_only: bool,
    /// Allowed request-path prefixes; a leading `=` means exactly that path. Empty: any path.
    #[serde(default)]
    pub path_prefixes: Vec<String>,
    /// The environment the key belongs to (e.g. `live`, `test`).
    #[serde(default)]
    pub environment: Option<String>,
    /// Hosts of production APIs; a non-production key sent to one of them is flagged.
    #[serde(default)]
    pub production_hosts: Vec<String>,
}

impl KeyPolicy {
    /// Whether `path` is allowed by the prefixes (`=` for an exact path), judged as the key
    /// server judges it: normalized as the upstream will serve it, prefixes at segment
    /// boundaries, ambiguous paths refused (see [`crate::path`]).
    pub fn allows_path(&self, path: &str) -> bool {
        if self.path_prefixes.is_empty() {
            return true;
        }
        let Some(path) = crate::path::normalize_path(path) else {
            return false;
        };
        self.path_prefixes
            .iter()
            .any(|rule| crate::path::path_matches(rule, &path))
    }

    pub fn allows_method(&self, method: &str) -> bool {
        !self.read_only
            || matches!(
                method.to_ascii_uppercase().as_str(),
                "GET" | "HEAD" | "OPTIONS"
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_methods() {
        let p = KeyPolicy {
            read_only: true,
            path_prefixes: vec!["/api/v1/".into(), "=/health".into()],
            ..Default::default()
        };
        assert!(p.allows_path("/api/v1/users"));
        assert!(p.allows_path("/health"));
        assert!(!p.allows_path("/health/deep"));
        assert!(!p.allows_path("/admin"));
        // As the key server judges them: resolved first, prefixes at segment boundaries.
        assert!(!p.allows_path("/api/v1/../admin"));
        assert!(!p.allows_path("/api/v1//../../admin"));
        assert!(!p.allows_path("/api/v1/%2e%2e/admin"));
        let q = KeyPolicy {
            path_prefixes: vec!["/api/v1".into()],
            ..Default::default()
        };
        assert!(q.allows_path("/api/v1"));
        assert!(q.allows_path("/api/v1/x?y=1"));
        assert!(!q.allows_path("/api/v1-internal"));
        assert!(p.allows_method("get"));
        assert!(!p.allows_method("POST"));
        assert!(KeyPolicy::default().allows_path("/anything"));
    }
}
