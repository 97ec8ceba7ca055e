//! Keywarden's API key format.
//!
//! A key reads `<prefix>_<env>_<random>_<checksum>`, for example
//! `kw_live_4Qm…_0aZ9Qx`:
//!
//! * `prefix` names the vendor (`kw`), so secret scanners can recognise the key;
//! * `env` names the environment the key belongs to (`live`, `test`, …);
//! * `random` is [`RANDOM_LEN`] base62 characters drawn from the operating
//!   system's random source (about 190 bits; the parser accepts 22 to 64
//!   characters, that is at least 128 bits);
//! * `checksum` is the CRC32 of `<prefix>_<env>_<random>` written as
//!   [`CHECKSUM_LEN`] base62 characters. It catches every single-character typo
//!   before any lookup: CRC32 detects every error burst of up to 32 bits.
//!
//! `prefix` and `env` are 1 to 16 characters of `[a-z0-9]`.
//!
//! A server stores only the [`KeyDigest`] (SHA-256 of the whole key text) and a
//! short [`display prefix`](KeyRef::display_prefix). The crate does no I/O and
//! has no transport or UI dependency: the desktop uses it to generate keys
//! offline and sends only the digest.

pub mod credential;

use std::fmt;

use keywarden_core::SecretValue;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Length of the random part of a generated key.
pub const RANDOM_LEN: usize = 32;
/// Shortest random part the parser accepts (22 base62 characters ≥ 130 bits).
pub const MIN_RANDOM_LEN: usize = 22;
/// Longest random part the parser accepts.
pub const MAX_RANDOM_LEN: usize = 64;
/// Length of the checksum part.
pub const CHECKSUM_LEN: usize = 6;
/// Longest prefix or environment label.
pub const MAX_LABEL_LEN: usize = 16;
/// Longest key text the parser looks at.
pub const MAX_KEY_LEN: usize = MAX_LABEL_LEN * 2 + MAX_RANDOM_LEN + CHECKSUM_LEN + 3;
/// How many random characters the display prefix shows.
pub const DISPLAY_RANDOM_CHARS: usize = 4;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Why a text is not a key. The error never contains the text itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the key is empty")]
    Empty,
    #[error("the key is longer than {MAX_KEY_LEN} characters")]
    TooLong,
    #[error("the key must read <prefix>_<env>_<random>_<checksum>")]
    Structure,
    #[error("the key prefix must be 1 to 16 characters of a-z and 0-9")]
    Prefix,
    #[error("the key environment must be 1 to 16 characters of a-z and 0-9")]
    Environment,
    #[error("the random part of the key must be 22 to 64 characters of A-Z, a-z and 0-9")]
    Random,
    #[error("the key checksum does not match: the key was mistyped or truncated")]
    Checksum,
}

/// Checks a prefix or environment label: 1 to 16 characters of `[a-z0-9]`.
pub fn is_valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= MAX_LABEL_LEN
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn is_base62(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The checksum text of a key body (`<prefix>_<env>_<random>`).
fn checksum(body: &str) -> [u8; CHECKSUM_LEN] {
    let mut n = u64::from(crc32fast::hash(body.as_bytes()));
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// SHA-256 of a key's full text. Not secret: it is what the server stores.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyDigest([u8; 32]);

impl KeyDigest {
    pub fn of(text: &str) -> Self {
        Self(Sha256::digest(text.as_bytes()).into())
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parses 64 hexadecimal characters (either case).
    pub fn from_hex(text: &str) -> Option<Self> {
        if text.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Self(bytes))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Equality in constant time.
    pub fn ct_eq(&self, other: &KeyDigest) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyDigest({})", self.to_hex())
    }
}

/// A checked key borrowed from some text (a header, a query string).
///
/// Parsing allocates nothing; this is what a verifier uses on its hot path.
/// `Debug` shows only the display prefix.
#[derive(Clone, Copy)]
pub struct KeyRef<'a> {
    text: &'a str,
    prefix_end: usize,
    env_end: usize,
}

impl<'a> KeyRef<'a> {
    /// Checks the structure and the checksum. Never panics, on any input.
    pub fn parse(text: &'a str) -> Result<Self, KeyError> {
        if text.is_empty() {
            return Err(KeyError::Empty);
        }
        if text.len() > MAX_KEY_LEN {
            return Err(KeyError::TooLong);
        }
        let mut parts = text.split('_');
        let (Some(prefix), Some(env), Some(random), Some(check), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(KeyError::Structure);
        };
        if !is_valid_label(prefix) {
            return Err(KeyError::Prefix);
        }
        if !is_valid_label(env) {
            return Err(KeyError::Environment);
        }
        if !(MIN_RANDOM_LEN..=MAX_RANDOM_LEN).contains(&random.len()) || !is_base62(random) {
            return Err(KeyError::Random);
        }
        let body_len = text.len() - check.len() - 1;
        let expected = checksum(&text[..body_len]);
        if check.as_bytes() != expected {
            return Err(KeyError::Checksum);
        }
        Ok(Self {
            text,
            prefix_end: prefix.len(),
            env_end: prefix.len() + 1 + env.len(),
        })
    }

    pub fn prefix(&self) -> &'a str {
        &self.text[..self.prefix_end]
    }

    pub fn environment(&self) -> &'a str {
        &self.text[self.prefix_end + 1..self.env_end]
    }

    pub fn digest(&self) -> KeyDigest {
        KeyDigest::of(self.text)
    }

    /// `<prefix>_<env>_<first four random characters>…`: enough for a person to
    /// tell keys apart, far too little to guess one.
    pub fn display_prefix(&self) -> String {
        let random_start = self.env_end + 1;
        let shown = &self.text[random_start..random_start + DISPLAY_RANDOM_CHARS];
        format!("{}{}…", &self.text[..random_start], shown)
    }

    /// The clear text. Every call site uses the key on purpose.
    pub fn expose(&self) -> &'a str {
        self.text
    }
}

impl fmt::Debug for KeyRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyRef({})", self.display_prefix())
    }
}

/// An owned, checked key. Redacted in `Debug`/`Display`, wiped from memory on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    secret: SecretValue,
    prefix_end: usize,
    env_end: usize,
}

impl ApiKey {
    /// A new key with [`RANDOM_LEN`] characters from the operating system's random source.
    pub fn generate(prefix: &str, environment: &str) -> Result<Self, KeyError> {
        use rand::RngCore;
        if !is_valid_label(prefix) {
            return Err(KeyError::Prefix);
        }
        if !is_valid_label(environment) {
            return Err(KeyError::Environment);
        }
        let mut text = String::with_capacity(MAX_KEY_LEN);
        text.push_str(prefix);
        text.push('_');
        text.push_str(environment);
        text.push('_');
        // Rejection sampling keeps every character uniform: 248 = 4 × 62.
        let mut rng = rand::rngs::OsRng;
        let mut pool = zeroize::Zeroizing::new([0u8; 64]);
        let mut taken = 0;
        while taken < RANDOM_LEN {
            rng.fill_bytes(pool.as_mut());
            for &byte in pool.iter() {
                if byte < 248 && taken < RANDOM_LEN {
                    text.push(char::from(BASE62[usize::from(byte % 62)]));
                    taken += 1;
                }
            }
        }
        let check = checksum(&text);
        text.push('_');
        text.extend(check.iter().map(|&b| char::from(b)));
        let secret = SecretValue::new(text).map_err(|_| KeyError::Empty)?;
        Ok(Self {
            secret,
            prefix_end: prefix.len(),
            env_end: prefix.len() + 1 + environment.len(),
        })
    }

    /// Checks a key typed or pasted by a person.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let key = KeyRef::parse(text)?;
        let (prefix_end, env_end) = (key.prefix_end, key.env_end);
        let secret = SecretValue::new(text.to_owned()).map_err(|_| KeyError::Empty)?;
        Ok(Self {
            secret,
            prefix_end,
            env_end,
        })
    }

    pub fn as_ref(&self) -> KeyRef<'_> {
        KeyRef {
            text: self.secret.expose(),
            prefix_end: self.prefix_end,
            env_end: self.env_end,
        }
    }

    pub fn prefix(&self) -> &str {
        self.as_ref().prefix()
    }

    pub fn environment(&self) -> &str {
        self.as_ref().environment()
    }

    pub fn digest(&self) -> KeyDigest {
        self.as_ref().digest()
    }

    pub fn display_prefix(&self) -> String {
        self.as_ref().display_prefix()
    }

    /// The clear text, to show once or store in a keychain.
    pub fn expose(&self) -> &str {
        self.secret.expose()
    }

    /// Hands the key over as a [`SecretValue`] (for a keychain).
    pub fn into_secret(self) -> SecretValue {
        self.secret
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({}, ***)", self.display_prefix())
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}***", self.display_prefix())
    }
}

/// Checks a display prefix sent by a client that generated its key offline:
/// `<prefix>_<env>_` followed by exactly four base62 characters and `…`.
pub fn is_valid_display_prefix(text: &str) -> bool {
    let Some(body) = text.strip_suffix('…') else {
        return false;
    };
    let mut parts = body.split('_');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(prefix), Some(env), Some(shown), None) => {
            is_valid_label(prefix)
                && is_valid_label(env)
                && shown.len() == DISPLAY_RANDOM_CHARS
                && is_base62(shown)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_has_the_documented_shape() {
        let key = ApiKey::generate("kw", "live").unwrap();
        let text = key.expose();
        let parts: Vec<&str> = text.split('_').collect();
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[0], "kw");
        assert_eq!(parts[1], "live");
        assert_eq!(parts[2].len(), RANDOM_LEN);
        assert_eq!(parts[3].len(), CHECKSUM_LEN);
        assert_eq!(key.prefix(), "kw");
        assert_eq!(key.environment(), "live");
        assert!(key.display_prefix().starts_with("kw_live_"));
        assert!(is_valid_display_prefix(&key.display_prefix()));
    }

    #[test]
    fn debug_and_display_redact_the_key() {
        let key = ApiKey::generate("kw", "test").unwrap();
        let random = key.expose().split('_').nth(2).unwrap().to_owned();
        for shown in [
            format!("{key:?}"),
            format!("{key}"),
            format!("{:?}", key.as_ref()),
        ] {
            assert!(!shown.contains(&random[DISPLAY_RANDOM_CHARS..]), "{shown}");
        }
    }

    #[test]
    fn known_checksum_is_stable() {
        // The checksum is part of a published format: it must never change.
        let body = "kw_live_0123456789abcdefghijABCDEFGHIJ";
        let check = checksum(body);
        let n = crc32fast::hash(body.as_bytes()) as u64;
        let decoded = check.iter().fold(0u64, |acc, &b| {
            acc * 62 + BASE62.iter().position(|&c| c == b).unwrap() as u64
        });
        assert_eq!(decoded, n);
        let key = format!("{body}_{}", std::str::from_utf8(&check).unwrap());
        assert!(KeyRef::parse(&key).is_ok());
    }

    #[test]
    fn rejects_malformed_keys_with_a_reason() {
        let key = ApiKey::generate("kw", "live").unwrap();
        let text = key.expose();
        assert_eq!(KeyRef::parse("").unwrap_err(), KeyError::Empty);
        assert_eq!(
            KeyRef::parse(&"a".repeat(500)).unwrap_err(),
            KeyError::TooLong
        );
        assert_eq!(
            KeyRef::parse("kw_live_abc").unwrap_err(),
            KeyError::Structure
        );
        assert_eq!(
            KeyRef::parse(&format!("{text}_x")).unwrap_err(),
            KeyError::Structure
        );
        assert_eq!(
            KeyRef::parse(&text.replacen("kw", "KW", 1)).unwrap_err(),
            KeyError::Prefix
        );
        assert_eq!(
            KeyRef::parse(&text.replacen("live", "li-e", 1)).unwrap_err(),
            KeyError::Environment
        );
        assert_eq!(
            KeyRef::parse("kw_live_short_000000").unwrap_err(),
            KeyError::Random
        );
        let mut truncated = text.to_owned();
        truncated.pop();
        assert_eq!(KeyRef::parse(&truncated).unwrap_err(), KeyError::Checksum);
        assert!(ApiKey::generate("k_w", "live").is_err());
        assert!(ApiKey::generate("kw", "").is_err());
    }

    #[test]
    fn digest_hex_round_trip_and_constant_time_equality() {
        let key = ApiKey::generate("kw", "live").unwrap();
        let digest = key.digest();
        assert_eq!(KeyDigest::from_hex(&digest.to_hex()), Some(digest));
        assert!(digest.ct_eq(&KeyDigest::of(key.expose())));
        assert!(!digest.ct_eq(&KeyDigest::of("other")));
        assert_eq!(KeyDigest::from_hex("zz"), None);
        assert_eq!(KeyDigest::from_hex(&"g".repeat(64)), None);
    }

    #[test]
    fn display_prefix_validation() {
        assert!(is_valid_display_prefix("kw_live_AbCd…"));
        assert!(!is_valid_display_prefix("kw_live_AbCd"));
        assert!(!is_valid_display_prefix("kw_live_AbCde…"));
        assert!(!is_valid_display_prefix("kw_Live_AbCd…"));
        assert!(!is_valid_display_prefix("kw_live_Ab_d…"));
    }
}
