use std::fmt;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::{SecretBytes, SecretValue};

/// The key of the fingerprint hash. It lives with the secrets (in the keychain or
/// the encrypted vault file), never in the database, so the fingerprints stored in
/// the database cannot be used to test guesses of a value offline.
#[derive(Debug, Clone)]
pub struct FingerprintKey(SecretBytes);

impl FingerprintKey {
    pub const LEN: usize = 32;

    pub fn generate() -> Self {
        Self(SecretBytes::random(Self::LEN))
    }

    pub fn from_bytes(bytes: SecretBytes) -> Option<Self> {
        (bytes.expose().len() == Self::LEN).then_some(Self(bytes))
    }

    pub fn expose(&self) -> &[u8] {
        self.0.expose()
    }

    /// HMAC-SHA-256 of the value, truncated to 128 bits.
    pub fn fingerprint(&self, value: &SecretValue) -> Fingerprint {
        // An HMAC key of any length is valid, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.expose())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(value.expose().as_bytes());
        let digest = mac.finalize().into_bytes();
        Fingerprint(hex::encode(&digest[..16]))
    }
}

/// Identifies a secret value without revealing it: `kwfp:3f9a1c0b7d2e…`.
/// Two values with the same fingerprint (under the same key) are the same value.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// Accepts a stored fingerprint (32 lowercase hex characters).
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The short form shown to people: the first 12 hex digits.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }

    /// Constant-time comparison.
    pub fn ct_eq(&self, other: &Fingerprint) -> bool {
        use subtle::ConstantTimeEq;
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.short())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "kwfp:{}", self.short())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_keyed_and_stable() {
        let k1 = FingerprintKey::generate();
        let k2 = FingerprintKey::generate();
        let v = SecretValue::new("sk_live_abc").unwrap();
        let f1 = k1.fingerprint(&v);
        assert!(f1.ct_eq(&k1.fingerprint(&v)));
        assert_ne!(f1, k2.fingerprint(&v));
        assert_ne!(
            f1,
            k1.fingerprint(&SecretValue::new("sk_live_abd").unwrap())
        );
        assert_eq!(f1.as_str().len(), 32);
        assert!(Fingerprint::parse(f1.as_str()).is_some());
        assert!(Fingerprint::parse("xyz").is_none());
        assert!(f1.to_string().starts_with("kwfp:"));
        assert!(!f1.as_str().contains("sk_live"));
    }
}
