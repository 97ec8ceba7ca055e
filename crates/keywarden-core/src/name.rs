use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} is {len} characters long; the limit is {max}")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{what} must start with a letter or '_' (found {found:?})")]
    BadStart { what: &'static str, found: char },
    #[error(
        "{what} may contain only letters, digits, '_' and '-' (found {found:?} at position {position})"
    )]
    BadChar {
        what: &'static str,
        found: char,
        position: usize,
    },
    #[error("host pattern {0:?} is not a host name, an IP address or '*.domain'")]
    BadHost(String),
}

fn check_ident(what: &'static str, s: &str, max: usize) -> Result<(), NameError> {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return Err(NameError::Empty { what });
    };
    let len = s.chars().count();
    if len > max {
        return Err(NameError::TooLong { what, len, max });
    }
    if !(first.is_ascii_alphabetic() || first == '_') {
        return Err(NameError::BadStart { what, found: first });
    }
    for (i, c) in s.chars().enumerate().skip(1) {
        if !(c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(NameError::BadChar {
                what,
                found: c,
                position: i + 1,
            });
        }
    }
    Ok(())
}

macro_rules! ident_type {
    ($(#[$doc:meta])* $ty:ident, $what:literal, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $ty(String);

        impl $ty {
            pub const MAX_LEN: usize = $max;

            pub fn new(s: impl Into<String>) -> Result<Self, NameError> {
                let s = s.into();
                check_ident($what, &s, $max)?;
                Ok(Self(s))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $ty {
            type Error = NameError;
            fn try_from(s: String) -> Result<Self, NameError> {
                Self::new(s)
            }
        }

        impl From<$ty> for String {
            fn from(n: $ty) -> String {
                n.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $ty {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, NameError> {
                Self::new(s)
            }
        }
    };
}

ident_type!(
    /// The name of a secret, as written in templates: `${secret.billing_api}`.
    /// Letters, digits, `_` and `-`, starting with a letter or `_`, at most 64 characters.
    /// Names are unique without regard to case.
    SecretName, "a secret name", 64
);
ident_type!(
    /// The name of an environment such as `production` or `Test`.
    EnvironmentName, "an environment name", 32
);
ident_type!(
    /// A free label used to group and search secrets.
    Tag, "a tag", 32
);

/// A destination a secret may be sent to: `api.example.com`, `*.example.com`,
/// `127.0.0.1`, `[::1]`, optionally with `:port`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HostPattern(String);

impl HostPattern {
    pub fn new(s: impl Into<String>) -> Result<Self, NameError> {
        let raw: String = s.into();
        let s = raw.trim().to_ascii_lowercase();
        let bad = || NameError::BadHost(raw.clone());
        if s.is_empty() || s.len() > 253 {
            return Err(bad());
        }
        let (host, port) = split_port(&s).ok_or_else(bad)?;
        if let Some(port) = port {
            port.parse::<u16>().map_err(|_| bad())?;
        }
        let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            v6.parse::<std::net::Ipv6Addr>().is_ok()
        } else {
            let name = host.strip_prefix("*.").unwrap_or(host);
            !name.is_empty()
                && name.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                })
        };
        if !host_ok {
            return Err(bad());
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `host` (and optionally `port`) is covered by this pattern.
    /// `*.example.com` covers `a.example.com` and `a.b.example.com`, not `example.com`.
    pub fn matches(&self, host: &str, port: Option<u16>) -> bool {
        let Some((pat_host, pat_port)) = split_port(&self.0) else {
            return false;
        };
        if let Some(pp) = pat_port
            && port.map(|p| p.to_string()) != Some(pp.to_owned())
        {
            return false;
        }
        let host = host.to_ascii_lowercase();
        match pat_host.strip_prefix("*.") {
            Some(suffix) => host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}")),
            None => host == pat_host,
        }
    }
}

fn split_port(s: &str) -> Option<(&str, Option<&str>)> {
    if s.starts_with('[') {
        let end = s.find(']')?;
        let (host, rest) = s.split_at(end + 1);
        return match rest.strip_prefix(':') {
            Some(port) => Some((host, Some(port))),
            None if rest.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match s.rsplit_once(':') {
        Some((host, port)) => Some((host, Some(port))),
        None => Some((s, None)),
    }
}

impl TryFrom<String> for HostPattern {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, NameError> {
        Self::new(s)
    }
}

impl From<HostPattern> for String {
    fn from(h: HostPattern) -> String {
        h.0
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn secret_names() {
        assert!(SecretName::new("billing_api").is_ok());
        assert!(SecretName::new("_x-1").is_ok());
        assert_eq!(
            SecretName::new(""),
            Err(NameError::Empty {
                what: "a secret name"
            })
        );
        assert!(matches!(
            SecretName::new("1abc"),
            Err(NameError::BadStart { found: '1', .. })
        ));
        assert!(matches!(
            SecretName::new("a.b"),
            Err(NameError::BadChar {
                found: '.',
                position: 2,
                ..
            })
        ));
        assert!(matches!(
            SecretName::new("a".repeat(65)),
            Err(NameError::TooLong { .. })
        ));
        let err = SecretName::new("bad name").unwrap_err().to_string();
        assert!(err.contains("position 4"), "{err}");
    }

    #[test]
    fn serde_validates() {
        assert!(serde_json::from_str::<SecretName>("\"ok_name\"").is_ok());
        assert!(serde_json::from_str::<SecretName>("\"no way\"").is_err());
    }

    #[test]
    fn host_patterns() {
        let p = HostPattern::new("*.Example.com").unwrap();
        assert_eq!(p.as_str(), "*.example.com");
        assert!(p.matches("api.example.com", None));
        assert!(p.matches("a.b.example.com", Some(443)));
        assert!(!p.matches("example.com", None));
        assert!(!p.matches("evil-example.com", None));
        let exact = HostPattern::new("localhost:8080").unwrap();
        assert!(exact.matches("localhost", Some(8080)));
        assert!(!exact.matches("localhost", Some(8081)));
        assert!(
            HostPattern::new("[::1]:443")
                .unwrap()
                .matches("[::1]", Some(443))
        );
        for bad in ["", "http://x", "a b", "x:port", "-a.com", "a..b"] {
            assert!(HostPattern::new(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn name_validation_never_panics(s in ".{0,80}") {
            let _ = SecretName::new(s.clone());
            let _ = HostPattern::new(s);
        }

        #[test]
        fn valid_names_round_trip(s in "[A-Za-z_][A-Za-z0-9_-]{0,63}") {
            let n = SecretName::new(s.clone()).unwrap();
            prop_assert_eq!(n.as_str(), s.as_str());
        }
    }
}
