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
    /// Whether `path` is allowed by the prefixes (`=` for an exact path).
    pub fn allows_path(&self, path: &str) -> bool {
        self.path_prefixes.is_empty()
            || self
                .path_prefixes
                .iter()
                .any(|p| match p.strip_prefix('=') {
                    Some(exact) => path == exact,
                    None => path.starts_with(p.as_str()),
                })
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
        assert!(p.allows_method("get"));
        assert!(!p.allows_method("POST"));
        assert!(KeyPolicy::default().allows_path("/anything"));
    }
}
