use std::fmt;

use zeroize::{Zeroize, Zeroizing};

/// A secret value: an API key, a token, a PEM block, a JSON credential.
///
/// * `Debug` and `Display` print `***`, never the value.
/// * The memory is overwritten when the value is dropped.
/// * There is no `Serialize`: a value can only leave through [`SecretValue::expose`],
///   which makes every place that handles the clear text easy to find.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Zeroizing<String>);

/// Largest value accepted anywhere in Keywarden (64 KiB). Platform stores may
/// accept less; they check their own limit before writing.
pub const MAX_SECRET_BYTES: usize = 64 * 1024;

impl SecretValue {
    /// See [`MAX_SECRET_BYTES`].
    pub const MAX_BYTES: usize = MAX_SECRET_BYTES;
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ValueError {
    #[error("the secret value is empty")]
    Empty,
    #[error("the secret value is {len} bytes; the limit is {max} bytes")]
    TooLarge { len: usize, max: usize },
    #[error("the secret value is not UTF-8 text (encode binary data with base64 first)")]
    NotUtf8,
    #[error("the secret value contains a NUL byte")]
    Nul,
}

impl SecretValue {
    /// Wraps a value after checking that it is non-empty, bounded and free of NUL bytes.
    pub fn new(value: impl Into<String>) -> Result<Self, ValueError> {
        let value = Zeroizing::new(value.into());
        if value.is_empty() {
            return Err(ValueError::Empty);
        }
        if value.len() > MAX_SECRET_BYTES {
            return Err(ValueError::TooLarge {
                len: value.len(),
                max: MAX_SECRET_BYTES,
            });
        }
        if value.contains('\0') {
            return Err(ValueError::Nul);
        }
        Ok(Self(value))
    }

    /// Builds a value from raw bytes read from a pipe or a prompt.
    ///
    /// A single trailing line break is removed when the input is one line
    /// (`echo key | kw secret set`); multi-line values such as PEM blocks are kept verbatim.
    pub fn from_input(bytes: Vec<u8>) -> Result<Self, ValueError> {
        let bytes = Zeroizing::new(bytes);
        let text = match std::str::from_utf8(&bytes) {
            Ok(text) => text,
            Err(_) => return Err(ValueError::NotUtf8),
        };
        let trimmed = text
            .strip_suffix('\n')
            .map(|t| t.strip_suffix('\r').unwrap_or(t));
        let text = match trimmed {
            Some(line) if !line.contains('\n') => line,
            _ => text,
        };
        Self::new(text.to_owned())
    }

    /// The clear text. Every call site is a place where the secret is used on purpose.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(***)")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Secret bytes (derived keys, random material). Redacted and zeroized like [`SecretValue`].
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// `len` bytes from the operating system's random source.
    pub fn random(len: usize) -> Self {
        use rand::RngCore;
        let mut bytes = vec![0u8; len];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self::new(bytes)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes({} bytes, ***)", self.0.len())
    }
}

impl Zeroize for SecretBytes {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let v = SecretValue::new("canary-7f3a").unwrap();
        assert_eq!(format!("{v:?}"), "SecretValue(***)");
        assert_eq!(format!("{v}"), "***");
        assert!(!format!("{:?}", Some(&v)).contains("canary"));
        let b = SecretBytes::new(b"canary-bytes".to_vec());
        assert!(!format!("{b:?}").contains("canary"));
    }

    #[test]
    fn input_trims_one_line_break_only_for_single_lines() {
        assert_eq!(
            SecretValue::from_input(b"abc\n".to_vec()).unwrap().expose(),
            "abc"
        );
        assert_eq!(
            SecretValue::from_input(b"abc\r\n".to_vec())
                .unwrap()
                .expose(),
            "abc"
        );
        assert_eq!(
            SecretValue::from_input(b"abc".to_vec()).unwrap().expose(),
            "abc"
        );
        let pem = "-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n";
        assert_eq!(
            SecretValue::from_input(pem.as_bytes().to_vec())
                .unwrap()
                .expose(),
            pem
        );
    }

    #[test]
    fn rejects_bad_values() {
        assert_eq!(SecretValue::new(""), Err(ValueError::Empty));
        assert_eq!(
            SecretValue::from_input(b"\n".to_vec()),
            Err(ValueError::Empty)
        );
        assert_eq!(SecretValue::new("a\0b"), Err(ValueError::Nul));
        assert_eq!(
            SecretValue::from_input(vec![0xff, 0xfe]),
            Err(ValueError::NotUtf8)
        );
        let big = "x".repeat(MAX_SECRET_BYTES + 1);
        assert!(matches!(
            SecretValue::new(big),
            Err(ValueError::TooLarge { .. })
        ));
    }

    #[test]
    fn random_bytes_differ() {
        assert_ne!(SecretBytes::random(32), SecretBytes::random(32));
    }
}
