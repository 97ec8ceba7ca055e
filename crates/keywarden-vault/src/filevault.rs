//! The encrypted vault file: the explicit choice for machines without a keychain.
//!
//! Layout (all integers little-endian), version 1:
//!
//! | bytes  | field                                         |
//! |--------|-----------------------------------------------|
//! | 0..8   | magic `KWVAULT\0`                             |
//! | 8      | format version (1)                            |
//! | 9      | KDF id (1 = Argon2id v1.3)                     |
//! | 10..14 | Argon2 memory cost in KiB                     |
//! | 14..18 | Argon2 time cost                              |
//! | 18..22 | Argon2 parallelism                            |
//! | 22..38 | salt                                          |
//! | 38..62 | XChaCha20-Poly1305 nonce                      |
//! | 62..   | ciphertext and tag; the header is the AAD     |
//!
//! KDF parameters are read from the header but bounded, so a crafted file cannot
//! make Keywarden allocate gigabytes or spin for minutes. Every write re-encrypts
//! the whole file under a fresh nonce and replaces it atomically (write to a
//! temporary file, fsync, rename, fsync the directory), so an interrupted write or a
//! full disk leaves the previous file intact, and a write has returned only once it
//! is on disk.
//!
//! Several processes may use one file (the desktop app and `kw` commands). Every
//! read-modify-write holds an exclusive `flock` on `<file>.lock` (see
//! [`crate::lockfile`]; a bounded wait, released by the kernel if the holder dies)
//! and re-reads the file under it, so no process writes from a stale copy and no
//! write is lost. Re-reading costs no key derivation: the session keeps the derived
//! key, and a file whose salt or KDF parameters changed (replaced, or its passphrase
//! changed) is refused and locks the session. Each write's random nonce identifies
//! it, so an unchanged header means an unchanged file and reads skip decrypting.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use keywarden_core::{SecretBytes, SecretValue};
use zeroize::Zeroizing;

use crate::lockfile;
use crate::store::{SecretStore, StoreError, StoreInfo, StoreKind, lock};

const MAGIC: &[u8; 8] = b"KWVAULT\0";
const FORMAT_VERSION: u8 = 1;
const KDF_ARGON2ID: u8 = 1;
const HEADER_LEN: usize = 62;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;

/// Argon2id cost parameters stored in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl KdfParams {
    /// 64 MiB, 3 passes, 1 lane: above the OWASP minimum (19 MiB, 2 passes).
    pub const DEFAULT: KdfParams = KdfParams {
        memory_kib: 64 * 1024,
        iterations: 3,
        parallelism: 1,
    };
    /// Bounds accepted when reading a header.
    const MAX_MEMORY_KIB: u32 = 1024 * 1024;
    const MIN_MEMORY_KIB: u32 = 19 * 1024;
    const MAX_ITERATIONS: u32 = 20;
    const MAX_PARALLELISM: u32 = 16;

    fn check(self) -> Result<Self, FileVaultError> {
        let ok = (Self::MIN_MEMORY_KIB..=Self::MAX_MEMORY_KIB).contains(&self.memory_kib)
            && (1..=Self::MAX_ITERATIONS).contains(&self.iterations)
            && (1..=Self::MAX_PARALLELISM).contains(&self.parallelism);
        if ok {
            Ok(self)
        } else {
            Err(FileVaultError::BadHeader(
                "key-derivation parameters out of bounds",
            ))
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FileVaultError {
    #[error("{0} is not a Keywarden vault file")]
    NotAVault(String),
    #[error("the vault file header is invalid: {0}")]
    BadHeader(&'static str),
    #[error(
        "the vault file was written by a newer Keywarden (format {0}); upgrade Keywarden to open it"
    )]
    NewerFormat(u8),
    #[error("wrong passphrase for the vault file (or the file was altered)")]
    WrongPassphrase,
    #[error("the vault file's contents are damaged")]
    Damaged,
    #[error("a vault file already exists at {0}")]
    Exists(String),
    #[error("the passphrase must be at least {0} characters")]
    WeakPassphrase(usize),
    #[error("could not read or write the vault file: {0}")]
    Io(String),
    #[error(
        "the vault file {0} was replaced, or its passphrase changed, by another program since it was unlocked; nothing was written and this session was locked. Unlock it again with its current passphrase"
    )]
    Replaced(String),
    #[error(
        "the vault file {0} was moved or deleted by another program since it was unlocked; nothing was written and this session was locked. Put the file back (or restore it from a backup) and unlock it again"
    )]
    Vanished(String),
    #[error(transparent)]
    Lock(StoreError),
}

impl From<FileVaultError> for StoreError {
    fn from(e: FileVaultError) -> Self {
        match e {
            FileVaultError::WrongPassphrase => StoreError::WrongPassphrase,
            FileVaultError::Lock(err) => err,
            e @ (FileVaultError::Replaced(_) | FileVaultError::Vanished(_)) => {
                StoreError::VaultChanged(e.to_string())
            }
            other => StoreError::Failed(other.to_string()),
        }
    }
}

struct Unlocked {
    key: SecretBytes,
    params: KdfParams,
    salt: [u8; SALT_LEN],
    /// The header of the file as this session last read or wrote it. Its nonce is
    /// fresh for every write, so an equal header means the file has not changed.
    header: [u8; HEADER_LEN],
    entries: HashMap<String, SecretValue>,
}

/// A vault file, locked until [`FileStore::unlock`] is given its passphrase.
pub struct FileStore {
    path: PathBuf,
    lock_path: PathBuf,
    lock_timeout: Duration,
    state: Mutex<Option<Unlocked>>,
}

pub const MIN_PASSPHRASE_CHARS: usize = 8;

impl FileStore {
    /// A handle on an existing vault file, still locked.
    pub fn locked(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        Self {
            lock_path: lockfile::beside(&path),
            path,
            lock_timeout: lockfile::lock_timeout(),
            state: Mutex::new(None),
        }
    }

    /// How long a write waits for another process's lock before giving up
    /// (default: [`lockfile::lock_timeout`]).
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The lock file beside the vault file, held around every read-modify-write.
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    /// Creates a new, empty vault file. Refuses to overwrite an existing one.
    pub fn create(
        path: impl Into<PathBuf>,
        passphrase: &SecretValue,
        params: KdfParams,
    ) -> Result<Self, FileVaultError> {
        let store = Self::locked(path);
        if passphrase.expose().chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(FileVaultError::WeakPassphrase(MIN_PASSPHRASE_CHARS));
        }
        let exists = || FileVaultError::Exists(store.path.display().to_string());
        if store.path.exists() {
            return Err(exists());
        }
        let params = params.check()?;
        let salt: [u8; SALT_LEN] = random_array();
        let key = derive(passphrase, &salt, params)?;
        let entries = HashMap::new();
        {
            let _held = lockfile::lock_exclusive(&store.lock_path, store.lock_timeout)
                .map_err(FileVaultError::Lock)?;
            // Another process may have created it while the key was derived.
            if store.path.exists() {
                return Err(exists());
            }
            let header = write_file(&store.path, &key, params, &salt, &entries, false)?;
            *lock(&store.state) = Some(Unlocked {
                key,
                params,
                salt,
                header,
                entries,
            });
        }
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn is_unlocked(&self) -> bool {
        lock(&self.state).is_some()
    }

    /// Reads and decrypts the file. A wrong passphrase leaves the store locked.
    pub fn unlock(&self, passphrase: &SecretValue) -> Result<(), FileVaultError> {
        let bytes = std::fs::read(&self.path).map_err(|e| FileVaultError::Io(e.to_string()))?;
        let unlocked = decrypt_file(&bytes, passphrase, &self.path)?;
        *lock(&self.state) = Some(unlocked);
        Ok(())
    }

    /// Forgets the derived key and the decrypted values.
    pub fn lock(&self) {
        *lock(&self.state) = None;
    }

    /// Brings the session's copy up to date with the file, using the session's key.
    ///
    /// A file that is gone, or that this session's key no longer opens (another salt
    /// or KDF parameters: replaced, or its passphrase changed), locks the session:
    /// its values may be stale and its key is of no use for the new file.
    fn refresh(&self, slot: &mut Option<Unlocked>) -> Result<(), FileVaultError> {
        let Some(state) = slot.as_mut() else {
            return Ok(());
        };
        let shown = || self.path.display().to_string();
        let result = (|| {
            let mut file = match std::fs::File::open(&self.path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(FileVaultError::Vanished(shown()));
                }
                Err(e) => return Err(FileVaultError::Io(e.to_string())),
            };
            let mut head = [0u8; HEADER_LEN];
            if file.read_exact(&mut head).is_err() {
                return Err(FileVaultError::Replaced(shown()));
            }
            if head == state.header {
                return Ok(None);
            }
            let mut bytes = head.to_vec();
            file.read_to_end(&mut bytes)
                .map_err(|e| FileVaultError::Io(e.to_string()))?;
            let (params, salt, nonce) = match parse_header(&bytes, &self.path) {
                Ok(parsed) => parsed,
                Err(_) => return Err(FileVaultError::Replaced(shown())),
            };
            if params != state.params || salt != state.salt {
                return Err(FileVaultError::Replaced(shown()));
            }
            let entries = match open_sealed(&state.key, &nonce, &bytes) {
                Ok(entries) => entries,
                Err(FileVaultError::WrongPassphrase) => {
                    return Err(FileVaultError::Replaced(shown()));
                }
                Err(e) => return Err(e),
            };
            Ok(Some((head, entries)))
        })();
        match result {
            Ok(None) => Ok(()),
            Ok(Some((head, entries))) => {
                state.header = head;
                state.entries = entries;
                Ok(())
            }
            Err(e @ (FileVaultError::Replaced(_) | FileVaultError::Vanished(_))) => {
                tracing::warn!(path = %self.path.display(), "the vault file changed under an unlocked session; locking it");
                *slot = None;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }
}

fn random_array<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(SecretBytes::random(N).expose());
    out
}

fn derive(
    passphrase: &SecretValue,
    salt: &[u8],
    params: KdfParams,
) -> Result<SecretBytes, FileVaultError> {
    let argon_params = argon2::Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(32),
    )
    .map_err(|_| FileVaultError::BadHeader("key-derivation parameters rejected"))?;
    let argon = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon_params,
    );
    let mut key = Zeroizing::new(vec![0u8; 32]);
    argon
        .hash_password_into(passphrase.expose().as_bytes(), salt, &mut key)
        .map_err(|_| FileVaultError::BadHeader("key derivation failed"))?;
    Ok(SecretBytes::new(key.to_vec()))
}

fn header(params: KdfParams, salt: &[u8; SALT_LEN], nonce: &[u8; NONCE_LEN]) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..8].copy_from_slice(MAGIC);
    h[8] = FORMAT_VERSION;
    h[9] = KDF_ARGON2ID;
    h[10..14].copy_from_slice(&params.memory_kib.to_le_bytes());
    h[14..18].copy_from_slice(&params.iterations.to_le_bytes());
    h[18..22].copy_from_slice(&params.parallelism.to_le_bytes());
    h[22..38].copy_from_slice(salt);
    h[38..62].copy_from_slice(nonce);
    h
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(b)
}

/// Parses and checks a header without deriving anything.
fn parse_header(
    bytes: &[u8],
    path: &Path,
) -> Result<(KdfParams, [u8; SALT_LEN], [u8; NONCE_LEN]), FileVaultError> {
    if bytes.len() < 8 || &bytes[..8] != MAGIC {
        return Err(FileVaultError::NotAVault(path.display().to_string()));
    }
    if bytes.len() < HEADER_LEN + 16 {
        return Err(FileVaultError::BadHeader("the file is truncated"));
    }
    if bytes[8] > FORMAT_VERSION {
        return Err(FileVaultError::NewerFormat(bytes[8]));
    }
    if bytes[8] != FORMAT_VERSION {
        return Err(FileVaultError::BadHeader("unknown format version"));
    }
    if bytes[9] != KDF_ARGON2ID {
        return Err(FileVaultError::BadHeader("unknown key-derivation function"));
    }
    let params = KdfParams {
        memory_kib: u32_at(bytes, 10),
        iterations: u32_at(bytes, 14),
        parallelism: u32_at(bytes, 18),
    }
    .check()?;
    let mut salt = [0u8; SALT_LEN];
    salt.copy_from_slice(&bytes[22..38]);
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&bytes[38..62]);
    Ok((params, salt, nonce))
}

fn decrypt_file(
    bytes: &[u8],
    passphrase: &SecretValue,
    path: &Path,
) -> Result<Unlocked, FileVaultError> {
    let (params, salt, nonce) = parse_header(bytes, path)?;
    let key = derive(passphrase, &salt, params)?;
    let entries = open_sealed(&key, &nonce, bytes)?;
    let mut header = [0u8; HEADER_LEN];
    header.copy_from_slice(&bytes[..HEADER_LEN]);
    Ok(Unlocked {
        key,
        params,
        salt,
        header,
        entries,
    })
}

/// Decrypts a whole file (header already parsed) with a derived key.
fn open_sealed(
    key: &SecretBytes,
    nonce: &[u8; NONCE_LEN],
    bytes: &[u8],
) -> Result<HashMap<String, SecretValue>, FileVaultError> {
    let cipher =
        XChaCha20Poly1305::new_from_slice(key.expose()).map_err(|_| FileVaultError::Damaged)?;
    let plain = Zeroizing::new(
        cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: &bytes[HEADER_LEN..],
                    aad: &bytes[..HEADER_LEN],
                },
            )
            .map_err(|_| FileVaultError::WrongPassphrase)?,
    );
    decode_entries(&plain).ok_or(FileVaultError::Damaged)
}

fn encode_entries(entries: &HashMap<String, SecretValue>) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::new());
    out.push(1u8);
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    let mut keys: Vec<&String> = entries.keys().collect();
    keys.sort();
    for k in keys {
        let v = entries[k].expose().as_bytes();
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        out.extend_from_slice(v);
    }
    out
}

fn decode_entries(bytes: &[u8]) -> Option<HashMap<String, SecretValue>> {
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if bytes.len() < n {
            return None;
        }
        let (head, rest) = bytes.split_at(n);
        *bytes = rest;
        Some(head)
    }
    fn take_u32(bytes: &mut &[u8]) -> Option<usize> {
        take(bytes, 4).map(|b| u32_at(b, 0) as usize)
    }
    let mut rest = bytes;
    if take(&mut rest, 1)? != [1u8] {
        return None;
    }
    let count = take_u32(&mut rest)?;
    let mut map = HashMap::with_capacity(count.min(100_000));
    for _ in 0..count {
        let klen = take_u32(&mut rest)?;
        let key = std::str::from_utf8(take(&mut rest, klen)?).ok()?.to_owned();
        let vlen = take_u32(&mut rest)?;
        let value = std::str::from_utf8(take(&mut rest, vlen)?).ok()?;
        map.insert(key, SecretValue::new(value.to_owned()).ok()?);
    }
    rest.is_empty().then_some(map)
}

/// Seals `entries` under a fresh nonce and replaces the file atomically; returns the
/// header written. `replace: false` refuses to overwrite an existing file.
fn write_file(
    path: &Path,
    key: &SecretBytes,
    params: KdfParams,
    salt: &[u8; SALT_LEN],
    entries: &HashMap<String, SecretValue>,
    replace: bool,
) -> Result<[u8; HEADER_LEN], FileVaultError> {
    let io = |e: std::io::Error| FileVaultError::Io(e.to_string());
    let nonce: [u8; NONCE_LEN] = random_array();
    let head = header(params, salt, &nonce);
    let cipher =
        XChaCha20Poly1305::new_from_slice(key.expose()).map_err(|_| FileVaultError::Damaged)?;
    let plain = encode_entries(entries);
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &plain,
                aad: &head,
            },
        )
        .map_err(|_| FileVaultError::Damaged)?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(&head).map_err(io)?;
    tmp.write_all(&sealed).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    if replace {
        tmp.persist(path).map_err(|e| io(e.error))?;
    } else {
        tmp.persist_noclobber(path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                FileVaultError::Exists(path.display().to_string())
            } else {
                io(e.error)
            }
        })?;
    }
    // The rename is durable only once the directory is: a write is not reported
    // done before that.
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io)?;
    Ok(head)
}

impl FileStore {
    /// One read-modify-write: under the lock file, re-read the file, apply `f` to its
    /// current entries, and write the result if `f` changed something.
    fn modify(
        &self,
        f: impl FnOnce(&mut HashMap<String, SecretValue>) -> bool,
    ) -> Result<(), StoreError> {
        let mut guard = lock(&self.state);
        if guard.is_none() {
            return Err(StoreError::VaultLocked);
        }
        let _held = lockfile::lock_exclusive(&self.lock_path, self.lock_timeout)?;
        self.refresh(&mut guard)?;
        let state = guard.as_mut().ok_or(StoreError::VaultLocked)?;
        let mut entries = state.entries.clone();
        if !f(&mut entries) {
            return Ok(());
        }
        let header = write_file(
            &self.path,
            &state.key,
            state.params,
            &state.salt,
            &entries,
            true,
        )?;
        state.header = header;
        state.entries = entries;
        Ok(())
    }
}

impl SecretStore for FileStore {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            kind: StoreKind::File,
            label: "Encrypted vault file (Argon2id + XChaCha20-Poly1305)".into(),
            persistent: true,
            location: self.path.display().to_string(),
            max_value_bytes: SecretValue::MAX_BYTES,
        }
    }

    /// Reads the file's current contents (another process may have written since):
    /// the rename is atomic, so no lock is needed to read a whole file.
    fn get(&self, key: &str) -> Result<Option<SecretValue>, StoreError> {
        let mut guard = lock(&self.state);
        if guard.is_none() {
            return Err(StoreError::VaultLocked);
        }
        self.refresh(&mut guard)?;
        let state = guard.as_ref().ok_or(StoreError::VaultLocked)?;
        Ok(state.entries.get(key).cloned())
    }

    fn set(&self, key: &str, value: &SecretValue) -> Result<(), StoreError> {
        self.modify(|m| m.insert(key.to_owned(), value.clone()).as_ref() != Some(value))
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.modify(|m| m.remove(key).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: KdfParams = KdfParams {
        memory_kib: 19 * 1024,
        iterations: 1,
        parallelism: 1,
    };

    fn pass(s: &str) -> SecretValue {
        SecretValue::new(s).unwrap()
    }

    #[test]
    fn create_set_reopen_get() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.kwv");
        let store = FileStore::create(&path, &pass("correct horse"), FAST).unwrap();
        store.set("a", &pass("canary-file-vault\nline2")).unwrap();
        store.set("b", &pass("second")).unwrap();
        store.delete("b").unwrap();
        let raw = std::fs::read(&path).unwrap();
        assert!(!raw.windows(6).any(|w| w == b"canary"));

        let reopened = FileStore::locked(&path);
        assert_eq!(reopened.get("a"), Err(StoreError::VaultLocked));
        assert_eq!(
            reopened.unlock(&pass("wrong horse!")),
            Err(FileVaultError::WrongPassphrase)
        );
        assert!(!reopened.is_unlocked());
        reopened.unlock(&pass("correct horse")).unwrap();
        assert_eq!(
            reopened.get("a").unwrap().unwrap().expose(),
            "canary-file-vault\nline2"
        );
        assert_eq!(reopened.get("b").unwrap(), None);
    }

    #[test]
    fn refuses_overwrite_and_weak_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.kwv");
        assert!(matches!(
            FileStore::create(&path, &pass("short"), FAST),
            Err(FileVaultError::WeakPassphrase(8))
        ));
        FileStore::create(&path, &pass("long enough"), FAST).unwrap();
        assert!(matches!(
            FileStore::create(&path, &pass("long enough"), FAST),
            Err(FileVaultError::Exists(_))
        ));
    }

    #[test]
    fn bad_headers_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.kwv");
        FileStore::create(&path, &pass("long enough"), FAST).unwrap();
        let good = std::fs::read(&path).unwrap();
        let p = Path::new("x");
        assert!(matches!(
            parse_header(b"hello", p),
            Err(FileVaultError::NotAVault(_))
        ));
        assert!(matches!(
            parse_header(&good[..40], p),
            Err(FileVaultError::BadHeader(_))
        ));
        let mut newer = good.clone();
        newer[8] = 9;
        assert_eq!(
            parse_header(&newer, p).unwrap_err(),
            FileVaultError::NewerFormat(9)
        );
        let mut huge = good.clone();
        huge[10..14].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            parse_header(&huge, p),
            Err(FileVaultError::BadHeader(_))
        ));
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(
            decrypt_file(&flipped, &pass("long enough"), p).err(),
            Some(FileVaultError::WrongPassphrase)
        );
        // Altering the header (here: the salt) is detected too.
        let mut salted = good;
        salted[30] ^= 1;
        assert!(decrypt_file(&salted, &pass("long enough"), p).is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_files_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = parse_header(&bytes, Path::new("x"));
            let _ = decode_entries(&bytes);
        }
    }

    fn open_as(path: &Path, passphrase: &str) -> FileStore {
        let store = FileStore::locked(path);
        store.unlock(&pass(passphrase)).unwrap();
        store
    }

    fn read_back(path: &Path, passphrase: &str, key: &str) -> Option<String> {
        open_as(path, passphrase)
            .get(key)
            .unwrap()
            .map(|v| v.expose().to_owned())
    }

    #[test]
    fn two_sessions_on_one_file_never_lose_each_others_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.kwv");
        let a = FileStore::create(&path, &pass("correct horse"), FAST).unwrap();
        let b = open_as(&path, "correct horse");
        a.set("from_a", &pass("a1")).unwrap();
        // b's copy predates a's write; its own write must not drop it.
        b.set("from_b", &pass("b1")).unwrap();
        a.set("from_a", &pass("a2")).unwrap();
        b.delete("gone").unwrap();
        assert_eq!(b.get("from_a").unwrap().unwrap().expose(), "a2");
        assert_eq!(a.get("from_b").unwrap().unwrap().expose(), "b1");
        assert_eq!(
            read_back(&path, "correct horse", "from_a").as_deref(),
            Some("a2")
        );
        assert_eq!(
            read_back(&path, "correct horse", "from_b").as_deref(),
            Some("b1")
        );
        a.delete("from_b").unwrap();
        assert_eq!(b.get("from_b").unwrap(), None);
    }

    #[test]
    fn many_sessions_writing_at_once_keep_every_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.kwv");
        drop(FileStore::create(&path, &pass("correct horse"), FAST).unwrap());
        let sessions: Vec<FileStore> = (0..6).map(|_| open_as(&path, "correct horse")).collect();
        std::thread::scope(|s| {
            for (n, store) in sessions.iter().enumerate() {
                s.spawn(move || {
                    for i in 0..15 {
                        store
                            .set(&format!("k{n}_{i}"), &pass(&format!("v{n}_{i}")))
                            .unwrap();
                    }
                });
            }
        });
        let check = open_as(&path, "correct horse");
        for n in 0..6 {
            for i in 0..15 {
                assert_eq!(
                    check.get(&format!("k{n}_{i}")).unwrap().unwrap().expose(),
                    format!("v{n}_{i}")
                );
            }
        }
        assert_eq!(lock(&check.state).as_ref().unwrap().entries.len(), 90);
    }

    #[test]
    fn a_file_replaced_under_an_open_session_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.kwv");
        let session = FileStore::create(&path, &pass("first passphrase"), FAST).unwrap();
        session.set("k", &pass("old")).unwrap();

        // Another program puts a different vault (new salt, new passphrase) in its place.
        let elsewhere = dir.path().join("other.kwv");
        let other = FileStore::create(&elsewhere, &pass("second passphrase"), FAST).unwrap();
        other.set("k", &pass("new")).unwrap();
        std::fs::rename(&elsewhere, &path).unwrap();
        let replaced = std::fs::read(&path).unwrap();

        let err = session.set("k2", &pass("v")).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, StoreError::VaultChanged(_)), "{message}");
        assert!(message.contains("replaced"), "{message}");
        assert!(message.contains("Unlock it again"), "{message}");
        assert!(
            !session.is_unlocked(),
            "the session forgets its key and values"
        );
        assert_eq!(session.get("k"), Err(StoreError::VaultLocked));
        assert_eq!(std::fs::read(&path).unwrap(), replaced, "nothing written");
        // Unlocking again with the file's passphrase is the way out.
        session.unlock(&pass("second passphrase")).unwrap();
        assert_eq!(session.get("k").unwrap().unwrap().expose(), "new");
    }

    #[test]
    fn a_session_seeing_the_file_changed_by_a_read_is_locked_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.kwv");
        let session = FileStore::create(&path, &pass("first passphrase"), FAST).unwrap();
        let elsewhere = dir.path().join("other.kwv");
        drop(FileStore::create(&elsewhere, &pass("first passphrase"), FAST).unwrap());
        // Same passphrase, but a new salt: this session's derived key does not open it.
        std::fs::rename(&elsewhere, &path).unwrap();
        assert!(matches!(session.get("k"), Err(StoreError::VaultChanged(_))));
        assert!(!session.is_unlocked());
    }

    #[test]
    fn a_vault_file_removed_under_an_open_session_is_not_recreated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.kwv");
        let session = FileStore::create(&path, &pass("correct horse"), FAST).unwrap();
        session.set("k", &pass("v")).unwrap();
        std::fs::remove_file(&path).unwrap();
        let err = session.set("k2", &pass("v2")).unwrap_err();
        assert!(err.to_string().contains("moved or deleted"), "{err}");
        assert!(!path.exists());
    }

    #[test]
    fn a_held_lock_makes_a_write_fail_within_the_bound_and_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.kwv");
        drop(FileStore::create(&path, &pass("correct horse"), FAST).unwrap());
        let store = open_as(&path, "correct horse").with_lock_timeout(Duration::from_millis(200));
        store.set("k", &pass("v1")).unwrap();
        let before = std::fs::read(&path).unwrap();

        // Another process holds the lock (another open file description behaves the same).
        let held = lockfile::lock_exclusive(store.lock_path(), Duration::ZERO).unwrap();
        let started = std::time::Instant::now();
        let err = store.set("k", &pass("v2")).unwrap_err();
        assert!(matches!(err, StoreError::Busy { .. }), "{err}");
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(err.to_string().contains("v.kwv.lock"), "{err}");
        assert!(matches!(store.delete("k"), Err(StoreError::Busy { .. })));
        assert_eq!(std::fs::read(&path).unwrap(), before);
        // Reads need no lock: the file is replaced atomically.
        assert_eq!(store.get("k").unwrap().unwrap().expose(), "v1");

        drop(held);
        store.set("k", &pass("v2")).unwrap();
        assert_eq!(
            read_back(&path, "correct horse", "k").as_deref(),
            Some("v2")
        );
    }

    #[test]
    fn the_first_write_of_a_new_file_never_replaces_one_that_appeared_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.kwv");
        drop(FileStore::create(&path, &pass("correct horse"), FAST).unwrap());
        let before = std::fs::read(&path).unwrap();
        let key = SecretBytes::new(vec![7u8; 32]);
        let salt: [u8; SALT_LEN] = random_array();
        assert!(matches!(
            write_file(&path, &key, FAST, &salt, &HashMap::new(), false),
            Err(FileVaultError::Exists(_))
        ));
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn entries_round_trip() {
        let mut m = HashMap::new();
        m.insert("k1".to_owned(), pass("v1"));
        m.insert("k2".to_owned(), pass("multi\nline"));
        let enc = encode_entries(&m);
        assert_eq!(decode_entries(&enc).unwrap(), m);
        assert!(decode_entries(&enc[..enc.len() - 1]).is_none());
    }
}
