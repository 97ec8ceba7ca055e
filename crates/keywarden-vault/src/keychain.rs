//! The OS keychain, through the `keyring` crate with the platform store chosen
//! explicitly at compile time (Secret Service on Linux and FreeBSD, Keychain on
//! macOS, Credential Manager on Windows). There is no fallback: on any other
//! platform, or when the store does not answer, the store reports itself
//! unavailable instead of quietly keeping values somewhere that forgets them.

use base64::Engine as _;
use keywarden_core::SecretValue;
use zeroize::Zeroizing;

use crate::store::{SecretStore, StoreError, StoreInfo, StoreKind};

/// Values are wrapped before they reach the keychain so that any text (multi-line
/// PEM blocks, JSON, trailing spaces) comes back byte for byte, and so that a
/// value not written by Keywarden is recognised.
const ENVELOPE_PREFIX: &str = "kw1:";

/// Windows Credential Manager keeps at most 2,560 bytes per credential, and
/// `keyring` stores the password as UTF-16: 1,280 characters of envelope.
#[cfg(target_os = "windows")]
const MAX_ENVELOPE_CHARS: Option<usize> = Some(1280);
#[cfg(not(target_os = "windows"))]
const MAX_ENVELOPE_CHARS: Option<usize> = None;

pub struct KeychainStore {
    service: String,
}

impl KeychainStore {
    /// `service` names this profile's entries, e.g. `keywarden:<installation id>`.
    pub fn new(service: impl Into<String>) -> Self {
        Self {
            service: service.into(),
        }
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    fn entry(&self, key: &str) -> Result<keyring::Entry, StoreError> {
        platform::entry(&self.service, key).map_err(map_err)
    }
}

/// The largest raw value whose envelope fits the platform limit.
fn max_value_bytes() -> usize {
    max_value_bytes_for(MAX_ENVELOPE_CHARS)
}

fn max_value_bytes_for(limit: Option<usize>) -> usize {
    match limit {
        None => SecretValue::MAX_BYTES,
        Some(chars) => ((chars - ENVELOPE_PREFIX.len()) / 4 * 3).min(SecretValue::MAX_BYTES),
    }
}

pub(crate) fn wrap(value: &SecretValue) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(
        ENVELOPE_PREFIX.len() + value.len() * 4 / 3 + 4,
    ));
    out.push_str(ENVELOPE_PREFIX);
    base64::engine::general_purpose::STANDARD.encode_string(value.expose().as_bytes(), &mut out);
    out
}

pub(crate) fn unwrap(stored: &str) -> Result<SecretValue, StoreError> {
    let body = stored
        .strip_prefix(ENVELOPE_PREFIX)
        .ok_or(StoreError::BadFormat)?;
    let bytes = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| StoreError::BadFormat)?,
    );
    let text = std::str::from_utf8(&bytes).map_err(|_| StoreError::BadFormat)?;
    SecretValue::new(text.to_owned()).map_err(|_| StoreError::BadFormat)
}

fn map_err(err: keyring::Error) -> StoreError {
    match err {
        keyring::Error::NoStorageAccess(e) => StoreError::Locked(e.to_string()),
        keyring::Error::PlatformFailure(e) => StoreError::Unavailable(e.to_string()),
        keyring::Error::TooLong(what, max) => StoreError::TooLarge {
            len: 0,
            max: max as usize,
            store: format!("the keychain ({what})"),
        },
        keyring::Error::BadEncoding(_) => StoreError::BadFormat,
        other => StoreError::Failed(other.to_string()),
    }
}

impl SecretStore for KeychainStore {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            kind: StoreKind::Keychain,
            label: platform::LABEL.into(),
            persistent: platform::PERSISTENT,
            location: format!("service \"{}\"", self.service),
            max_value_bytes: max_value_bytes(),
        }
    }

    fn get(&self, key: &str) -> Result<Option<SecretValue>, StoreError> {
        match self.entry(key)?.get_password() {
            Ok(stored) => {
                let stored = Zeroizing::new(stored);
                unwrap(&stored).map(Some)
            }
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(err) => Err(map_err(err)),
        }
    }

    fn set(&self, key: &str, value: &SecretValue) -> Result<(), StoreError> {
        let max = max_value_bytes();
        if value.len() > max {
            return Err(StoreError::TooLarge {
                len: value.len(),
                max,
                store: platform::LABEL.into(),
            });
        }
        let wrapped = wrap(value);
        self.entry(key)?.set_password(&wrapped).map_err(map_err)
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.entry(key)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(err) => Err(map_err(err)),
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "freebsd"))]
mod platform {
    pub const LABEL: &str = "Secret Service (org.freedesktop.secrets)";
    pub const PERSISTENT: bool = true;

    pub fn entry(service: &str, key: &str) -> keyring::Result<keyring::Entry> {
        let cred = keyring::secret_service::SsCredential::new_with_target(None, service, key)?;
        Ok(keyring::Entry::new_with_credential(Box::new(cred)))
    }
}

#[cfg(target_os = "macos")]
mod platform {
    pub const LABEL: &str = "macOS Keychain";
    pub const PERSISTENT: bool = true;

    pub fn entry(service: &str, key: &str) -> keyring::Result<keyring::Entry> {
        let cred = keyring::macos::MacCredential::new_with_target(None, service, key)?;
        Ok(keyring::Entry::new_with_credential(Box::new(cred)))
    }
}

#[cfg(target_os = "windows")]
mod platform {
    pub const LABEL: &str = "Windows Credential Manager";
    pub const PERSISTENT: bool = true;

    pub fn entry(service: &str, key: &str) -> keyring::Result<keyring::Entry> {
        let cred = keyring::windows::WinCredential::new_with_target(None, service, key)?;
        Ok(keyring::Entry::new_with_credential(Box::new(cred)))
    }
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "freebsd",
    target_os = "macos",
    target_os = "windows"
)))]
mod platform {
    pub const LABEL: &str = "no supported keychain on this platform";
    pub const PERSISTENT: bool = false;

    pub fn entry(_service: &str, _key: &str) -> keyring::Result<keyring::Entry> {
        Err(keyring::Error::PlatformFailure(
            "this platform has no keychain Keywarden supports".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_round_trips_any_text() {
        for text in [
            "simple",
            "line1\nline2\n",
            "  spaced  ",
            "{\"k\": \"v\"}",
            "ünïcødé ✓",
            "\r\n\t",
        ] {
            let v = SecretValue::new(text).unwrap();
            let wrapped = wrap(&v);
            assert!(wrapped.starts_with("kw1:"));
            assert!(!wrapped.contains('\n'));
            assert_eq!(unwrap(&wrapped).unwrap().expose(), text);
        }
        assert_eq!(unwrap("plain"), Err(StoreError::BadFormat));
        assert_eq!(unwrap("kw1:!!!"), Err(StoreError::BadFormat));
    }

    #[test]
    fn the_windows_limit_fits_the_envelope() {
        // Credential Manager: 2,560 bytes, stored as UTF-16.
        let max = max_value_bytes_for(Some(1280));
        assert_eq!(max, 957);
        assert!(wrap(&SecretValue::new("x".repeat(max)).unwrap()).len() <= 1280);
        assert!(wrap(&SecretValue::new("x".repeat(max + 1)).unwrap()).len() > 1280);
        assert_eq!(max_value_bytes_for(None), SecretValue::MAX_BYTES);
        assert!(max_value_bytes() <= SecretValue::MAX_BYTES);
    }
}
