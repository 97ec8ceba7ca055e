//! Where secret values live. The database never holds them; a [`SecretStore`] does.

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keywarden_core::SecretValue;

/// Which kind of store holds the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Keychain,
    File,
    /// In-memory store for tests. Never chosen by the product.
    Memory,
}

/// A truthful description of a store, for status displays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreInfo {
    pub kind: StoreKind,
    /// e.g. "Secret Service (org.freedesktop.secrets)".
    pub label: String,
    /// Whether values survive a reboot.
    pub persistent: bool,
    /// A keychain service name or a file path.
    pub location: String,
    /// The largest value (in bytes, before wrapping) the store accepts.
    pub max_value_bytes: usize,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    #[error(
        "no keychain is available ({0}). On Linux, Keywarden needs a Secret Service such as GNOME Keyring or KeePassXC on the session bus; on a machine without one, switch to an encrypted vault file (`kw store use-file`)"
    )]
    Unavailable(String),
    #[error(
        "the keychain is locked ({0}); unlock it (log in to the desktop session or unlock the login keyring) and try again"
    )]
    Locked(String),
    #[error(
        "the keychain did not answer within {0} seconds; it may be waiting for an unlock prompt. Unlock it and try again"
    )]
    Timeout(u64),
    #[error("the value is {len} bytes; {store} accepts at most {max} bytes")]
    TooLarge {
        len: usize,
        max: usize,
        store: String,
    },
    #[error("the vault file is locked: enter its passphrase first")]
    VaultLocked,
    #[error("wrong passphrase for the vault file (or the file was altered)")]
    WrongPassphrase,
    #[error("the stored value has an unrecognised format; it was not written by Keywarden")]
    BadFormat,
    #[error("the secret store failed: {0}")]
    Failed(String),
    #[error(
        "another Keywarden process (the desktop app or a `kw` command) has held {path} for more than {waited}; nothing was changed. Let it finish (or close it) and try again"
    )]
    Busy { path: String, waited: String },
    /// The vault file changed in a way this session cannot follow (replaced, passphrase
    /// changed, removed); the session was locked. The text says what to do.
    #[error("{0}")]
    VaultChanged(String),
}

/// A place that keeps secret values by an opaque key (a secret's id).
///
/// Implementations block; callers run them off any async runtime. Every call may
/// be slow (tens of milliseconds for a keychain), so callers never call a store
/// per row of a list.
pub trait SecretStore: Send + Sync {
    fn info(&self) -> StoreInfo;
    fn get(&self, key: &str) -> Result<Option<SecretValue>, StoreError>;
    fn set(&self, key: &str, value: &SecretValue) -> Result<(), StoreError>;
    /// Removes the value; succeeds when there was none.
    fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// Values in memory, for unit tests of the layers above.
#[derive(Default)]
pub struct MemoryStore {
    values: Mutex<HashMap<String, SecretValue>>,
    calls: std::sync::atomic::AtomicUsize,
    fail_with: Mutex<Option<StoreError>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of get/set/delete calls made so far.
    pub fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Makes every later call fail with `err` (or succeed again with `None`).
    pub fn fail_with(&self, err: Option<StoreError>) {
        *lock(&self.fail_with) = err;
    }

    pub fn len(&self) -> usize {
        lock(&self.values).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn enter(&self) -> Result<(), StoreError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        match &*lock(&self.fail_with) {
            Some(err) => Err(err.clone()),
            None => Ok(()),
        }
    }
}

impl SecretStore for MemoryStore {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            kind: StoreKind::Memory,
            label: "memory (tests only)".into(),
            persistent: false,
            location: "process memory".into(),
            max_value_bytes: keywarden_core::SecretValue::MAX_BYTES,
        }
    }

    fn get(&self, key: &str) -> Result<Option<SecretValue>, StoreError> {
        self.enter()?;
        Ok(lock(&self.values).get(key).cloned())
    }

    fn set(&self, key: &str, value: &SecretValue) -> Result<(), StoreError> {
        self.enter()?;
        lock(&self.values).insert(key.to_owned(), value.clone());
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.enter()?;
        lock(&self.values).remove(key);
        Ok(())
    }
}

impl<S: SecretStore + ?Sized> SecretStore for Arc<S> {
    fn info(&self) -> StoreInfo {
        (**self).info()
    }
    fn get(&self, key: &str) -> Result<Option<SecretValue>, StoreError> {
        (**self).get(key)
    }
    fn set(&self, key: &str, value: &SecretValue) -> Result<(), StoreError> {
        (**self).set(key, value)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        (**self).delete(key)
    }
}

/// Runs every call of the inner store on a worker thread and gives up after a timeout.
///
/// A locked Secret Service can block for minutes waiting for an unlock prompt; the
/// caller gets [`StoreError::Timeout`] instead of a frozen window. The abandoned call
/// finishes (or not) on its own thread.
pub struct TimeoutStore {
    inner: Arc<dyn SecretStore>,
    timeout: Duration,
}

impl TimeoutStore {
    pub fn new(inner: Arc<dyn SecretStore>, timeout: Duration) -> Self {
        Self { inner, timeout }
    }

    fn run<T: Send + 'static>(
        &self,
        op: impl FnOnce(&dyn SecretStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = Arc::clone(&self.inner);
        let (tx, rx) = mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("keywarden-store".into())
            .spawn(move || {
                let _ = tx.send(op(&*inner));
            });
        if let Err(err) = spawned {
            return Err(StoreError::Failed(format!(
                "could not start a worker thread: {err}"
            )));
        }
        match rx.recv_timeout(self.timeout) {
            Ok(result) => result,
            Err(_) => Err(StoreError::Timeout(self.timeout.as_secs().max(1))),
        }
    }
}

impl SecretStore for TimeoutStore {
    fn info(&self) -> StoreInfo {
        self.inner.info()
    }

    fn get(&self, key: &str) -> Result<Option<SecretValue>, StoreError> {
        let key = key.to_owned();
        self.run(move |s| s.get(&key))
    }

    fn set(&self, key: &str, value: &SecretValue) -> Result<(), StoreError> {
        let key = key.to_owned();
        let value = value.clone();
        self.run(move |s| s.set(&key, &value))
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        let key = key.to_owned();
        self.run(move |s| s.delete(&key))
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Slow;
    impl SecretStore for Slow {
        fn info(&self) -> StoreInfo {
            MemoryStore::new().info()
        }
        fn get(&self, _: &str) -> Result<Option<SecretValue>, StoreError> {
            std::thread::sleep(Duration::from_secs(5));
            Ok(None)
        }
        fn set(&self, _: &str, _: &SecretValue) -> Result<(), StoreError> {
            Ok(())
        }
        fn delete(&self, _: &str) -> Result<(), StoreError> {
            Ok(())
        }
    }

    #[test]
    fn timeout_store_gives_up() {
        let store = TimeoutStore::new(Arc::new(Slow), Duration::from_millis(50));
        let started = std::time::Instant::now();
        assert_eq!(store.get("x"), Err(StoreError::Timeout(1)));
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(store.delete("x"), Ok(()));
    }

    #[test]
    fn memory_store_round_trip_and_failures() {
        let store = MemoryStore::new();
        let v = SecretValue::new("v").unwrap();
        store.set("a", &v).unwrap();
        assert_eq!(store.get("a").unwrap(), Some(v));
        store.delete("a").unwrap();
        assert_eq!(store.get("a").unwrap(), None);
        store.fail_with(Some(StoreError::Locked("test".into())));
        assert!(matches!(store.get("a"), Err(StoreError::Locked(_))));
        assert_eq!(store.calls(), 5);
    }
}
