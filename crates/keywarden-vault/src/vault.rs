//! The vault: secrets' metadata in SQLite, their values in a [`SecretStore`].
//!
//! Invariants:
//! * A value never reaches the database; only its keyed fingerprint does.
//! * Listing and searching touch the database only, never the store.
//! * Every operation that touches both records its intent in the row's `state`
//!   first, so an interruption is repaired by [`Vault::repair`] on the next start.
//! * Such an operation holds the profile's lock (`keywarden.lock` beside the
//!   database: threads and processes, bounded wait) from its first look at the row to
//!   its last write, and so does repair: a marked row seen under the lock belongs to
//!   an operation that died, never to one still running in another process.
//! * The store is self-tested (a round trip) before the first value is written or
//!   read in a session; a failing store is reported, never replaced by another.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use keywarden_core::{
    EnvironmentName, Fingerprint, FingerprintKey, HostPattern, KeyPolicy, SecretBytes, SecretName,
    SecretValue, Tag, Timestamp, now,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::db::{self, DbError};
use crate::filevault::{FileStore, FileVaultError, KdfParams};
use crate::keychain::KeychainStore;
use crate::lockfile::{SharedGuard, SharedLock};
use crate::store::{SecretStore, StoreError, StoreInfo, StoreKind, TimeoutStore, lock};

/// Secrets expiring within this many seconds are flagged "soon".
pub const EXPIRY_WARNING: i64 = 7 * 24 * 3600;
const SELF_TEST_KEY: &str = "_selftest";
const FINGERPRINT_KEY: &str = "_fingerprint_key";
const DB_FILE: &str = "keywarden.db";
const VAULT_FILE: &str = "vault.kwv";
const PROFILE_LOCK_FILE: &str = "keywarden.lock";
/// Default time a keychain call may take before it is abandoned.
pub const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("no secret named {0:?}")]
    NotFound(String),
    #[error("a secret named {0:?} already exists")]
    NameTaken(String),
    #[error("the secret {0:?} is disabled; enable it to use it")]
    Disabled(String),
    #[error(
        "the secret store has no value for {0:?}; it may have been removed outside Keywarden. Set a new value or delete the secret"
    )]
    ValueMissing(String),
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    File(#[from] FileVaultError),
}

impl From<rusqlite::Error> for VaultError {
    fn from(e: rusqlite::Error) -> Self {
        VaultError::Db(e.into())
    }
}

impl VaultError {
    pub fn invalid(field: &'static str, message: impl std::fmt::Display) -> Self {
        VaultError::Invalid {
            field,
            message: message.to_string(),
        }
    }
}

/// Where a secret stands with respect to its expiry date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    None,
    Ok,
    Soon,
    Expired,
}

/// Everything about a secret except its value.
#[derive(Debug, Clone, PartialEq)]
pub struct SecretMeta {
    pub id: String,
    pub name: SecretName,
    pub description: String,
    pub tags: Vec<Tag>,
    pub environment: Option<EnvironmentName>,
    pub enabled: bool,
    pub allowed_hosts: Vec<HostPattern>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub fingerprint: Fingerprint,
    /// 1 + number of rotations.
    pub version: u32,
    /// The administrator's policy for the key this secret holds, when known.
    pub key_policy: Option<KeyPolicy>,
}

impl SecretMeta {
    pub fn expiry(&self, at: Timestamp) -> Expiry {
        match self.expires_at {
            None => Expiry::None,
            Some(t) if t <= at => Expiry::Expired,
            Some(t) if t - at <= EXPIRY_WARNING => Expiry::Soon,
            Some(_) => Expiry::Ok,
        }
    }
}

/// The fields a person sets on a secret, already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct SecretFields {
    pub name: SecretName,
    pub description: String,
    pub tags: Vec<Tag>,
    pub environment: Option<EnvironmentName>,
    pub expires_at: Option<Timestamp>,
    pub allowed_hosts: Vec<HostPattern>,
}

impl SecretFields {
    pub fn named(name: SecretName) -> Self {
        Self {
            name,
            description: String::new(),
            tags: vec![],
            environment: None,
            expires_at: None,
            allowed_hosts: vec![],
        }
    }

    /// Validates raw input, naming the offending field in the error.
    pub fn parse(
        name: &str,
        description: &str,
        tags: &[String],
        environment: Option<&str>,
        expires_at: Option<Timestamp>,
        allowed_hosts: &[String],
    ) -> Result<Self, VaultError> {
        Ok(Self {
            name: parse_name(name)?,
            description: parse_description(description)?,
            tags: parse_tags(tags)?,
            environment: parse_environment(environment)?,
            expires_at: check_expiry(expires_at)?,
            allowed_hosts: parse_hosts(allowed_hosts)?,
        })
    }
}

fn parse_name(name: &str) -> Result<SecretName, VaultError> {
    SecretName::new(name.trim()).map_err(|e| VaultError::invalid("name", e))
}

fn parse_description(description: &str) -> Result<String, VaultError> {
    let description = description.trim().to_owned();
    if description.chars().count() > 1000 {
        return Err(VaultError::invalid(
            "description",
            "the description is longer than 1,000 characters",
        ));
    }
    Ok(description)
}

fn parse_tags(tags: &[String]) -> Result<Vec<Tag>, VaultError> {
    let mut parsed = Vec::new();
    for t in tags.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        let tag = Tag::new(t).map_err(|e| VaultError::invalid("tags", e))?;
        if !parsed.contains(&tag) {
            parsed.push(tag);
        }
    }
    if parsed.len() > 32 {
        return Err(VaultError::invalid(
            "tags",
            "a secret can have at most 32 tags",
        ));
    }
    Ok(parsed)
}

fn parse_environment(environment: Option<&str>) -> Result<Option<EnvironmentName>, VaultError> {
    match environment.map(str::trim).filter(|e| !e.is_empty()) {
        Some(e) => Ok(Some(
            EnvironmentName::new(e).map_err(|e| VaultError::invalid("environment", e))?,
        )),
        None => Ok(None),
    }
}

fn parse_hosts(allowed_hosts: &[String]) -> Result<Vec<HostPattern>, VaultError> {
    let mut hosts = Vec::new();
    for h in allowed_hosts
        .iter()
        .map(|h| h.trim())
        .filter(|h| !h.is_empty())
    {
        let host = HostPattern::new(h).map_err(|e| VaultError::invalid("allowedHosts", e))?;
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    Ok(hosts)
}

fn check_expiry(expires_at: Option<Timestamp>) -> Result<Option<Timestamp>, VaultError> {
    if let Some(t) = expires_at
        && !(0..=253_402_300_799).contains(&t)
    {
        return Err(VaultError::invalid(
            "expiresAt",
            "the expiry date is out of range",
        ));
    }
    Ok(expires_at)
}

/// Which secret [`Vault::upsert`] writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A new secret with this name: [`VaultError::NameTaken`] when the name is in use.
    New(SecretName),
    /// The secret with this name (case-insensitive), created when there is none.
    Named(SecretName),
    /// An existing secret, by id or name: [`VaultError::NotFound`] when there is none.
    Existing(String),
}

/// Metadata changes for [`Vault::upsert`]. `None` keeps what the secret has (a new
/// secret gets the defaults: no description, tags, environment, expiry or hosts; enabled).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SecretPatch {
    /// A new name; only for an existing secret, and not together with a new value.
    pub name: Option<SecretName>,
    pub description: Option<String>,
    pub tags: Option<Vec<Tag>>,
    pub environment: Option<Option<EnvironmentName>>,
    pub expires_at: Option<Option<Timestamp>>,
    pub allowed_hosts: Option<Vec<HostPattern>>,
    pub enabled: Option<bool>,
}

impl SecretPatch {
    /// Sets every field (a form that shows them all); the name too.
    pub fn all(fields: SecretFields) -> Self {
        Self {
            name: Some(fields.name),
            description: Some(fields.description),
            tags: Some(fields.tags),
            environment: Some(fields.environment),
            expires_at: Some(fields.expires_at),
            allowed_hosts: Some(fields.allowed_hosts),
            enabled: None,
        }
    }

    /// Validates the fields given (`None`: keep), naming the offending field in the error.
    /// An empty environment clears it.
    pub fn parse(
        description: Option<&str>,
        tags: Option<&[String]>,
        environment: Option<&str>,
        expires_at: Option<Timestamp>,
        allowed_hosts: Option<&[String]>,
    ) -> Result<Self, VaultError> {
        Ok(Self {
            name: None,
            description: description.map(parse_description).transpose()?,
            tags: tags.map(parse_tags).transpose()?,
            environment: environment
                .map(|e| parse_environment(Some(e)))
                .transpose()?,
            expires_at: check_expiry(expires_at)?.map(Some),
            allowed_hosts: allowed_hosts.map(parse_hosts).transpose()?,
            enabled: None,
        })
    }

    /// The fields a secret has after this patch (`base`: what it has now, or a new secret's).
    fn merged(&self, base: SecretFields) -> SecretFields {
        SecretFields {
            name: self.name.clone().unwrap_or(base.name),
            description: self.description.clone().unwrap_or(base.description),
            tags: self.tags.clone().unwrap_or(base.tags),
            environment: self.environment.clone().unwrap_or(base.environment),
            expires_at: self.expires_at.unwrap_or(base.expires_at),
            allowed_hosts: self.allowed_hosts.clone().unwrap_or(base.allowed_hosts),
        }
    }
}

/// What [`Vault::upsert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    /// A new secret (version 1).
    Created,
    /// A new value (the version went up) and the merged metadata.
    Replaced,
    /// Metadata only (no value was given).
    Updated,
}

/// The metadata a `replacing` row takes when its new value is confirmed, in column form.
#[derive(serde::Serialize, serde::Deserialize)]
struct PendingMeta {
    description: String,
    tags: String,
    environment: Option<String>,
    expires_at: Option<Timestamp>,
    allowed_hosts: String,
    enabled: Option<bool>,
}

impl PendingMeta {
    fn new(fields: &SecretFields, enabled: Option<bool>) -> Self {
        Self {
            description: fields.description.clone(),
            tags: json_list(&fields.tags),
            environment: fields.environment.as_ref().map(|e| e.to_string()),
            expires_at: fields.expires_at,
            allowed_hosts: json_list(&fields.allowed_hosts),
            enabled,
        }
    }
}

/// One value a secret has had.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueVersion {
    pub version: u32,
    pub fingerprint: Fingerprint,
    pub created_at: Timestamp,
    pub retired_at: Option<Timestamp>,
}

/// Why a value is read: to use it (refused when disabled) or to show it on explicit request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Use,
    Reveal,
}

/// The store's health as last observed.
#[derive(Debug, Clone, PartialEq)]
pub enum Health {
    Untested,
    Ok,
    Failed(StoreError),
}

/// A truthful report of the vault's state.
#[derive(Debug, Clone)]
pub struct Status {
    pub store: StoreInfo,
    pub health: Health,
    pub secret_count: u32,
    /// Rows whose store operation was interrupted and still awaits repair.
    pub pending_repairs: u32,
    pub home: PathBuf,
}

/// What [`Vault::repair`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RepairReport {
    pub rolled_back_creates: u32,
    pub finished_deletes: u32,
    pub finished_rotations: u32,
    pub rolled_back_rotations: u32,
    pub failed: u32,
}

/// Which store the person chose for this profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Keychain,
    File,
}

pub struct Vault {
    db: Mutex<Connection>,
    /// Held around every operation that marks a row, and around repair.
    ops: SharedLock,
    store: RwLock<Arc<dyn SecretStore>>,
    file: RwLock<Option<Arc<FileStore>>>,
    /// The fingerprint key, loaded after a successful self-test. The mutex is held
    /// across the first fetch so that concurrent callers do not each hit the keychain.
    ready: Mutex<Option<FingerprintKey>>,
    health: Mutex<Health>,
    home: PathBuf,
}

/// The data directory: `KEYWARDEN_HOME`, or the platform's data directory.
pub fn default_home() -> PathBuf {
    if let Some(home) = std::env::var_os("KEYWARDEN_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(home);
    }
    directories::ProjectDirs::from("dev", "Keywarden", "Keywarden")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".keywarden"))
}

fn store_timeout() -> Duration {
    std::env::var("KEYWARDEN_KEYCHAIN_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_STORE_TIMEOUT)
}

impl Vault {
    /// Opens the profile at `home` with the store the person chose for it
    /// (the OS keychain unless they switched to a vault file, which starts locked).
    pub fn open(home: &Path) -> Result<Self, VaultError> {
        let conn = db::open(&home.join(DB_FILE))?;
        let install_id = install_id(&conn)?;
        let backend = backend_setting(&conn)?;
        let (store, file): (Arc<dyn SecretStore>, _) = match backend {
            Backend::Keychain => (keychain_store(&install_id), None),
            Backend::File => {
                let file = Arc::new(FileStore::locked(home.join(VAULT_FILE)));
                (file.clone(), Some(file))
            }
        };
        Ok(Self::assemble(conn, store, file, home.to_path_buf()))
    }

    /// A vault over a given connection and store (tests, benchmarks).
    pub fn with_store(conn: Connection, store: Arc<dyn SecretStore>, home: PathBuf) -> Self {
        Self::assemble(conn, store, None, home)
    }

    fn assemble(
        conn: Connection,
        store: Arc<dyn SecretStore>,
        file: Option<Arc<FileStore>>,
        home: PathBuf,
    ) -> Self {
        // The lock lives beside the database it guards; a private (in-memory) database
        // needs no file.
        let lock_path = conn
            .path()
            .filter(|p| !p.is_empty())
            .map(|p| Path::new(p).with_file_name(PROFILE_LOCK_FILE));
        Self {
            ops: SharedLock::new(lock_path, crate::lockfile::lock_timeout()),
            db: Mutex::new(conn),
            store: RwLock::new(store),
            file: RwLock::new(file),
            ready: Mutex::new(None),
            health: Mutex::new(Health::Untested),
            home,
        }
    }

    fn store(&self) -> Arc<dyn SecretStore> {
        self.store
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn file(&self) -> Option<Arc<FileStore>> {
        self.file
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    pub fn backend(&self) -> Backend {
        match self.store().info().kind {
            StoreKind::File => Backend::File,
            _ => Backend::Keychain,
        }
    }

    fn record<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        match &result {
            Ok(_) => {
                let mut h = lock(&self.health);
                if matches!(*h, Health::Failed(_)) {
                    *h = Health::Ok;
                }
            }
            Err(e) => *lock(&self.health) = Health::Failed(e.clone()),
        }
        result
    }

    /// The profile's operation lock. Lock order: `ops`, then `ready`, then `db`, then
    /// the store; `ops` is reentrant, so an operation may call another.
    fn exclusive(&self) -> Result<SharedGuard<'_>, StoreError> {
        self.record(self.ops.acquire())
    }

    /// Runs the store's round-trip self-test (once per session) and loads the fingerprint key.
    fn ready(&self) -> Result<FingerprintKey, StoreError> {
        if let Some(key) = lock(&self.ready).as_ref() {
            return Ok(key.clone());
        }
        // Under the profile lock: processes starting together neither trip over each
        // other's self-test value nor each create a fingerprint key.
        let _op = self.exclusive()?;
        let mut ready = lock(&self.ready);
        if let Some(key) = ready.as_ref() {
            return Ok(key.clone());
        }
        let store = self.store();
        let key = self.record(self_test(&*store).and_then(|()| load_fingerprint_key(&*store)))?;
        *lock(&self.health) = Health::Ok;
        *ready = Some(key.clone());
        Ok(key)
    }

    /// Runs the self-test now (if it has not run) and reports the result.
    pub fn self_test(&self) -> Result<(), StoreError> {
        self.ready().map(|_| ())
    }

    pub fn status(&self) -> Result<Status, VaultError> {
        let (secret_count, pending_repairs) = {
            let db = lock(&self.db);
            db.query_row(
                "SELECT COUNT(*) FILTER (WHERE state <> 'creating'), COUNT(*) FILTER (WHERE state <> 'active') FROM secrets",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
        };
        let mut health = lock(&self.health).clone();
        if let Some(file) = self.file()
            && !file.is_unlocked()
        {
            health = Health::Failed(StoreError::VaultLocked);
        }
        Ok(Status {
            store: self.store().info(),
            health,
            secret_count,
            pending_repairs,
            home: self.home.clone(),
        })
    }

    /// Lists secrets whose name, description, tags or environment contain `search`
    /// (case-insensitive), sorted by name. Never touches the secret store.
    pub fn list(&self, search: Option<&str>) -> Result<Vec<SecretMeta>, VaultError> {
        let pattern = search.map(str::trim).filter(|s| !s.is_empty()).map(|s| {
            let escaped = s
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
        let db = lock(&self.db);
        let mut stmt = db.prepare_cached(
            "SELECT id, name, description, tags, environment, enabled, allowed_hosts, created_at, updated_at,
                    last_used_at, expires_at, fingerprint, version, key_policy
             FROM secrets
             WHERE state IN ('active', 'replacing')
               AND (?1 IS NULL OR name LIKE ?1 ESCAPE '\\' OR description LIKE ?1 ESCAPE '\\'
                    OR tags LIKE ?1 ESCAPE '\\' OR environment LIKE ?1 ESCAPE '\\')
             ORDER BY name COLLATE NOCASE",
        )?;
        let rows = stmt.query_map([pattern], row_to_meta)?;
        rows.map(|r| r.map_err(VaultError::from)).collect()
    }

    /// Finds a secret by id or by name (case-insensitive).
    pub fn find(&self, id_or_name: &str) -> Result<SecretMeta, VaultError> {
        let db = lock(&self.db);
        find_in(&db, id_or_name)?.ok_or_else(|| VaultError::NotFound(id_or_name.to_owned()))
    }

    /// Creates a secret. Nothing is written anywhere unless the store passed its self-test.
    pub fn create(
        &self,
        fields: SecretFields,
        enabled: bool,
        value: &SecretValue,
    ) -> Result<SecretMeta, VaultError> {
        let name = fields.name.clone();
        let mut patch = SecretPatch::all(fields);
        patch.enabled = Some(enabled);
        Ok(self.upsert(Target::New(name), patch, Some(value))?.0)
    }

    fn check_size(&self, value: &SecretValue) -> Result<(), VaultError> {
        let info = self.store().info();
        if value.len() > info.max_value_bytes {
            return Err(StoreError::TooLarge {
                len: value.len(),
                max: info.max_value_bytes,
                store: info.label,
            }
            .into());
        }
        Ok(())
    }

    /// Replaces all metadata fields (including the name) of a secret.
    pub fn update(&self, id: &str, fields: SecretFields) -> Result<SecretMeta, VaultError> {
        Ok(self
            .upsert(
                Target::Existing(id.to_owned()),
                SecretPatch::all(fields),
                None,
            )?
            .0)
    }

    pub fn set_enabled(&self, id: &str, enabled: bool) -> Result<SecretMeta, VaultError> {
        let patch = SecretPatch {
            enabled: Some(enabled),
            ..Default::default()
        };
        Ok(self.upsert(Target::Existing(id.to_owned()), patch, None)?.0)
    }

    /// Rotation: stores a new value; the old value's fingerprint and dates stay in the history.
    pub fn replace_value(&self, id: &str, value: &SecretValue) -> Result<SecretMeta, VaultError> {
        Ok(self
            .upsert(
                Target::Existing(id.to_owned()),
                SecretPatch::default(),
                Some(value),
            )?
            .0)
    }

    /// Creates or updates a secret — a new value and merged metadata — as one operation.
    ///
    /// The fields of `patch` that are `None` keep what the secret has. With a value
    /// different from the current one, the row is marked `replacing` with the new
    /// fingerprint and the merged metadata, the value is written, and one durable
    /// transaction records the new version and the metadata together; a new secret is
    /// inserted marked `creating`, written, then made active. An interruption at any
    /// point is finished or rolled back whole by [`Vault::repair`]: the secret ends up
    /// with its old value and metadata or with both new ones. Without a value the
    /// metadata change is a single transaction. A value equal to the current one is
    /// refused (`Invalid { field: "value" }`), as a rotation to it would be.
    ///
    /// The whole operation holds the profile lock, so it never interleaves with another
    /// process's operation on the same profile or with a repair. It returns only once
    /// the value and the row are on disk.
    pub fn upsert(
        &self,
        target: Target,
        patch: SecretPatch,
        value: Option<&SecretValue>,
    ) -> Result<(SecretMeta, Upserted), VaultError> {
        if let Some(v) = value {
            self.check_size(v)?;
        }
        let _op = self.exclusive()?;
        let fp = match value {
            Some(v) => Some(self.ready()?.fingerprint(v)),
            None => None,
        };
        let lookup = match &target {
            Target::New(name) | Target::Named(name) => name.as_str(),
            Target::Existing(id) => id.as_str(),
        };
        // A row left marked under this name or id belongs to an operation that died
        // (this thread holds the lock): finish or roll it back first.
        self.repair_matching(lookup)?;
        let current = find_in(&lock(&self.db), lookup)?;
        let current = match (target, current) {
            (Target::New(name), Some(_)) => return Err(VaultError::NameTaken(name.to_string())),
            (Target::Existing(id), None) => return Err(VaultError::NotFound(id)),
            (Target::New(name) | Target::Named(name), None) => Err(name),
            (_, Some(current)) => Ok(current),
        };
        let current = match current {
            Ok(current) => current,
            Err(name) => return self.create_new(name, patch, value.zip(fp)),
        };
        let fields = patch.merged(fields_of(&current));
        let new_value = match (value, fp) {
            (Some(_), Some(fp)) if fp.ct_eq(&current.fingerprint) => {
                return Err(VaultError::invalid(
                    "value",
                    "the new value is the same as the current one",
                ));
            }
            (Some(v), Some(fp)) => Some((v, fp)),
            _ => None,
        };
        let Some((value, fp)) = new_value else {
            self.update_fields(&current, &fields, patch.enabled)?;
            return Ok((self.find(&current.id)?, Upserted::Updated));
        };
        if fields.name.as_str() != current.name.as_str() {
            return Err(VaultError::invalid(
                "name",
                "a new name and a new value are set in two steps: rename first",
            ));
        }
        let pending = serde_json::to_string(&PendingMeta::new(&fields, patch.enabled))
            .map_err(|e| VaultError::invalid("value", e))?;
        {
            let db = lock(&self.db);
            let marked = db.execute(
                "UPDATE secrets SET state = 'replacing', pending_fingerprint = ?2, pending_meta = ?3
                 WHERE id = ?1 AND state = 'active'",
                params![current.id, fp.as_str(), pending],
            )?;
            if marked != 1 {
                return Err(VaultError::NotFound(current.name.to_string()));
            }
        }
        if let Err(err) = self.record(self.store().set(&current.id, value)) {
            let db = lock(&self.db);
            let _ = db.execute(
                "UPDATE secrets SET state = 'active', pending_fingerprint = NULL, pending_meta = NULL
                 WHERE id = ?1",
                [&current.id],
            );
            return Err(err.into());
        }
        finish_replace(&mut lock(&self.db), &current.id, &fp)?;
        Ok((self.find(&current.id)?, Upserted::Replaced))
    }

    /// [`Vault::upsert`] of a name no secret has. The caller holds the profile lock.
    fn create_new(
        &self,
        name: SecretName,
        patch: SecretPatch,
        value: Option<(&SecretValue, Fingerprint)>,
    ) -> Result<(SecretMeta, Upserted), VaultError> {
        if patch.name.as_ref().is_some_and(|n| n != &name) {
            return Err(VaultError::invalid(
                "name",
                "a new secret takes the name it is created under",
            ));
        }
        let Some((value, fp)) = value else {
            return Err(VaultError::invalid(
                "value",
                format!("{name} does not exist yet: a new secret needs a value"),
            ));
        };
        let enabled = patch.enabled.unwrap_or(true);
        let fields = patch.merged(SecretFields::named(name));
        let meta = self.create_marked(fields, enabled, value, &fp)?;
        Ok((meta, Upserted::Created))
    }

    /// The create half of [`Vault::upsert`]: insert marked `creating`, write the value,
    /// make it active (durably). The caller holds the profile lock.
    fn create_marked(
        &self,
        fields: SecretFields,
        enabled: bool,
        value: &SecretValue,
        fp: &Fingerprint,
    ) -> Result<SecretMeta, VaultError> {
        let id = uuid::Uuid::new_v4().to_string();
        let at = now();
        {
            let mut db = lock(&self.db);
            let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let inserted = tx.execute(
                "INSERT INTO secrets (id, name, description, tags, environment, enabled, allowed_hosts,
                                      created_at, updated_at, expires_at, fingerprint, state)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, 'creating')",
                params![
                    id,
                    fields.name.as_str(),
                    fields.description,
                    json_list(&fields.tags),
                    fields.environment.as_ref().map(|e| e.as_str()),
                    enabled,
                    json_list(&fields.allowed_hosts),
                    at,
                    fields.expires_at,
                    fp.as_str()
                ],
            );
            if let Err(rusqlite::Error::SqliteFailure(f, _)) = &inserted
                && f.code == rusqlite::ErrorCode::ConstraintViolation
            {
                return Err(VaultError::NameTaken(fields.name.to_string()));
            }
            inserted?;
            tx.execute(
                "INSERT INTO secret_versions (secret_id, version, fingerprint, created_at) VALUES (?1, 1, ?2, ?3)",
                params![id, fp.as_str(), at],
            )?;
            tx.commit()?;
        }
        if let Err(err) = self.record(self.store().set(&id, value)) {
            let db = lock(&self.db);
            let _ = db.execute("DELETE FROM secrets WHERE id = ?1", [&id]);
            return Err(err.into());
        }
        durably(&mut lock(&self.db), |tx| {
            let finished = tx.execute(
                "UPDATE secrets SET state = 'active' WHERE id = ?1 AND state = 'creating'",
                [&id],
            )?;
            if finished != 1 {
                return Err(VaultError::NotFound(fields.name.to_string()));
            }
            Ok(())
        })?;
        self.find(&id)
    }

    /// A metadata-only change, in one transaction. The caller holds the profile lock.
    fn update_fields(
        &self,
        current: &SecretMeta,
        fields: &SecretFields,
        enabled: Option<bool>,
    ) -> Result<(), VaultError> {
        durably(&mut lock(&self.db), |tx| {
            if let Some(other) = find_in(tx, fields.name.as_str())?
                && other.id != current.id
            {
                return Err(VaultError::NameTaken(fields.name.to_string()));
            }
            let updated = tx.execute(
                "UPDATE secrets SET name = ?2, description = ?3, tags = ?4, environment = ?5, expires_at = ?6,
                        allowed_hosts = ?7, enabled = COALESCE(?8, enabled), updated_at = ?9
                 WHERE id = ?1",
                params![
                    current.id,
                    fields.name.as_str(),
                    fields.description,
                    json_list(&fields.tags),
                    fields.environment.as_ref().map(|e| e.as_str()),
                    fields.expires_at,
                    json_list(&fields.allowed_hosts),
                    enabled,
                    now()
                ],
            );
            if let Err(rusqlite::Error::SqliteFailure(f, _)) = &updated
                && f.code == rusqlite::ErrorCode::ConstraintViolation
            {
                return Err(VaultError::NameTaken(fields.name.to_string()));
            }
            updated?;
            Ok(())
        })
    }

    /// Deletes a secret and its value.
    pub fn delete(&self, id: &str) -> Result<(), VaultError> {
        let _op = self.exclusive()?;
        let current = self.find(id)?;
        {
            let db = lock(&self.db);
            db.execute(
                "UPDATE secrets SET state = 'deleting' WHERE id = ?1",
                [&current.id],
            )?;
        }
        if let Err(err) = self.record(self.store().delete(&current.id)) {
            let db = lock(&self.db);
            let _ = db.execute(
                "UPDATE secrets SET state = 'active' WHERE id = ?1",
                [&current.id],
            );
            return Err(err.into());
        }
        durably(&mut lock(&self.db), |tx| {
            tx.execute("DELETE FROM secrets WHERE id = ?1", [&current.id])?;
            Ok(())
        })
    }

    /// Reads a value: one store call. `Purpose::Use` refuses a disabled secret.
    pub fn read(
        &self,
        id: &str,
        purpose: Purpose,
    ) -> Result<(SecretMeta, SecretValue), VaultError> {
        let meta = self.find(id)?;
        if purpose == Purpose::Use && !meta.enabled {
            return Err(VaultError::Disabled(meta.name.to_string()));
        }
        let value = self
            .record(self.store().get(&meta.id))?
            .ok_or_else(|| VaultError::ValueMissing(meta.name.to_string()))?;
        {
            let db = lock(&self.db);
            db.execute(
                "UPDATE secrets SET last_used_at = ?2 WHERE id = ?1",
                params![meta.id, now()],
            )?;
        }
        Ok((meta, value))
    }

    /// Attaches (or removes) the administrator's policy for the key this secret holds.
    pub fn set_key_policy(
        &self,
        id: &str,
        policy: Option<&KeyPolicy>,
    ) -> Result<SecretMeta, VaultError> {
        let current = self.find(id)?;
        let json = policy.map(|p| serde_json::to_string(p).unwrap_or_default());
        lock(&self.db).execute(
            "UPDATE secrets SET key_policy = ?2 WHERE id = ?1",
            params![current.id, json],
        )?;
        self.find(&current.id)
    }

    /// Keeps a value that belongs to Keywarden itself (an admin credential, a key
    /// waiting to replace a stored one) in the secret store under a reserved name.
    /// Reserved names start with `_`, which no secret id does.
    pub fn store_internal(&self, name: &str, value: &SecretValue) -> Result<(), VaultError> {
        check_internal(name)?;
        self.ready()?;
        self.record(self.store().set(name, value))?;
        Ok(())
    }

    /// Reads a value stored with [`Vault::store_internal`].
    pub fn read_internal(&self, name: &str) -> Result<Option<SecretValue>, VaultError> {
        check_internal(name)?;
        self.ready()?;
        Ok(self.record(self.store().get(name))?)
    }

    /// Removes a value stored with [`Vault::store_internal`]; succeeds when there was none.
    pub fn delete_internal(&self, name: &str) -> Result<(), VaultError> {
        check_internal(name)?;
        self.ready()?;
        self.record(self.store().delete(name))?;
        Ok(())
    }

    /// Runs `f` on the local database connection (profiles, environments, history).
    /// Never hold the connection across a secret-store call.
    pub fn with_db<T>(&self, f: impl FnOnce(&mut Connection) -> T) -> T {
        f(&mut lock(&self.db))
    }

    pub fn versions(&self, id: &str) -> Result<Vec<ValueVersion>, VaultError> {
        let meta = self.find(id)?;
        let db = lock(&self.db);
        let mut stmt = db.prepare_cached(
            "SELECT version, fingerprint, created_at, retired_at FROM secret_versions
             WHERE secret_id = ?1 ORDER BY version DESC",
        )?;
        let rows = stmt.query_map([&meta.id], |r| {
            Ok(ValueVersion {
                version: r.get(0)?,
                fingerprint: fingerprint_col(r, 1)?,
                created_at: r.get(2)?,
                retired_at: r.get(3)?,
            })
        })?;
        rows.map(|r| r.map_err(VaultError::from)).collect()
    }

    /// Completes or rolls back operations that an interruption left half-done.
    ///
    /// Rows are judged under the profile lock, which every marking operation holds
    /// until it is done: a row still marked then was left by an operation that died
    /// (or whose own rollback failed), never by one running in another process.
    pub fn repair(&self) -> Result<RepairReport, VaultError> {
        let mut report = RepairReport::default();
        // The common case, checked without the lock: nothing to do.
        let any: bool = lock(&self.db).query_row(
            "SELECT EXISTS (SELECT 1 FROM secrets WHERE state <> 'active')",
            [],
            |r| r.get(0),
        )?;
        if !any {
            return Ok(report);
        }
        let _op = self.exclusive()?;
        for (id, state, pending_fp) in self.marked_rows(None)? {
            if let Err(err) = self.repair_row(&id, &state, pending_fp.as_deref(), &mut report) {
                tracing::warn!(secret_id = %id, error = %err, "could not repair an interrupted operation");
                report.failed += 1;
            }
        }
        Ok(report)
    }

    /// Marked rows (all, or those with this id or name). The caller holds the profile lock.
    fn marked_rows(
        &self,
        id_or_name: Option<&str>,
    ) -> Result<Vec<(String, String, Option<String>)>, VaultError> {
        let db = lock(&self.db);
        let mut stmt = db.prepare_cached(
            "SELECT id, state, pending_fingerprint FROM secrets
             WHERE state <> 'active' AND (?1 IS NULL OR id = ?1 OR name = ?1)",
        )?;
        let rows = stmt
            .query_map([id_or_name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Repairs the marked rows with this id or name before an operation on it.
    fn repair_matching(&self, id_or_name: &str) -> Result<(), VaultError> {
        let mut report = RepairReport::default();
        for (id, state, pending_fp) in self.marked_rows(Some(id_or_name))? {
            self.repair_row(&id, &state, pending_fp.as_deref(), &mut report)?;
        }
        if report != RepairReport::default() {
            tracing::info!(?report, "repaired an interrupted operation");
        }
        Ok(())
    }

    /// Finishes or rolls back one marked row. The caller holds the profile lock.
    fn repair_row(
        &self,
        id: &str,
        state: &str,
        pending_fp: Option<&str>,
        report: &mut RepairReport,
    ) -> Result<(), VaultError> {
        let store = self.store();
        match state {
            "creating" | "deleting" => {
                self.record(store.delete(id))?;
                durably(&mut lock(&self.db), |tx| {
                    tx.execute("DELETE FROM secrets WHERE id = ?1", [id])?;
                    Ok(())
                })?;
                if state == "creating" {
                    report.rolled_back_creates += 1;
                } else {
                    report.finished_deletes += 1;
                }
            }
            "replacing" => {
                let key = self.ready()?;
                let stored = self.record(store.get(id))?;
                let target = pending_fp.and_then(Fingerprint::parse);
                let mut db = lock(&self.db);
                match (stored, target) {
                    (Some(v), Some(fp)) if key.fingerprint(&v).ct_eq(&fp) => {
                        finish_replace(&mut db, id, &fp)?;
                        report.finished_rotations += 1;
                    }
                    _ => {
                        durably(&mut db, |tx| {
                            tx.execute(
                                "UPDATE secrets SET state = 'active', pending_fingerprint = NULL,
                                        pending_meta = NULL
                                 WHERE id = ?1",
                                [id],
                            )?;
                            Ok(())
                        })?;
                        report.rolled_back_rotations += 1;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Names of secrets whose value is missing from the store (one store call per secret:
    /// run on request only).
    pub fn missing_values(&self) -> Result<Vec<SecretName>, VaultError> {
        let store = self.store();
        let mut missing = Vec::new();
        for meta in self.list(None)? {
            if self.record(store.get(&meta.id))?.is_none() {
                missing.push(meta.name);
            }
        }
        Ok(missing)
    }

    /// Unlocks the vault file with its passphrase.
    pub fn unlock(&self, passphrase: &SecretValue) -> Result<(), VaultError> {
        let file = self.file().ok_or_else(|| {
            VaultError::invalid(
                "passphrase",
                "this profile keeps its secrets in the OS keychain, not in a vault file",
            )
        })?;
        file.unlock(passphrase)?;
        // The file may not be the one this session saw before (replaced, restored):
        // its self-test and fingerprint key are looked at afresh.
        *lock(&self.ready) = None;
        *lock(&self.health) = Health::Untested;
        Ok(())
    }

    /// Switches where values are kept. Allowed only while the vault holds no secrets.
    pub fn choose_backend(
        &self,
        backend: Backend,
        passphrase: Option<&SecretValue>,
    ) -> Result<(), VaultError> {
        let _op = self.exclusive()?;
        let count: u32 =
            lock(&self.db).query_row("SELECT COUNT(*) FROM secrets", [], |r| r.get(0))?;
        if count > 0 && backend != self.backend() {
            return Err(VaultError::invalid(
                "backend",
                format!(
                    "the vault holds {count} secrets; the store can only be switched while it is empty"
                ),
            ));
        }
        let (store, file): (Arc<dyn SecretStore>, Option<Arc<FileStore>>) = match backend {
            Backend::Keychain => {
                let id = install_id(&lock(&self.db))?;
                (keychain_store(&id), None)
            }
            Backend::File => {
                let passphrase = passphrase.ok_or_else(|| {
                    VaultError::invalid("passphrase", "a passphrase is required for a vault file")
                })?;
                let path = self.home.join(VAULT_FILE);
                let file = if path.exists() {
                    let f = FileStore::locked(&path);
                    f.unlock(passphrase)?;
                    f
                } else {
                    FileStore::create(&path, passphrase, KdfParams::DEFAULT)?
                };
                let file = Arc::new(file);
                (file.clone(), Some(file))
            }
        };
        let value = match backend {
            Backend::Keychain => "keychain",
            Backend::File => "file",
        };
        lock(&self.db).execute(
            "INSERT INTO meta (key, value) VALUES ('store_backend', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [value],
        )?;
        *self
            .store
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = store;
        *self
            .file
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = file;
        *lock(&self.ready) = None;
        *lock(&self.health) = Health::Untested;
        Ok(())
    }
}

fn check_internal(name: &str) -> Result<(), VaultError> {
    if name.len() < 2
        || !name.starts_with('_')
        || name == SELF_TEST_KEY
        || name == FINGERPRINT_KEY
        || name.len() > 200
    {
        return Err(VaultError::invalid(
            "name",
            "reserved store names start with `_` and are not the vault's own",
        ));
    }
    Ok(())
}

fn keychain_store(install_id: &str) -> Arc<dyn SecretStore> {
    let keychain: Arc<dyn SecretStore> =
        Arc::new(KeychainStore::new(format!("keywarden:{install_id}")));
    Arc::new(TimeoutStore::new(keychain, store_timeout()))
}

fn self_test(store: &dyn SecretStore) -> Result<(), StoreError> {
    let probe = SecretValue::new(format!("keywarden-self-test-{}", uuid::Uuid::new_v4()))
        .map_err(|e| StoreError::Failed(e.to_string()))?;
    store.set(SELF_TEST_KEY, &probe)?;
    let back = store.get(SELF_TEST_KEY)?;
    store.delete(SELF_TEST_KEY)?;
    if back.as_ref() != Some(&probe) {
        return Err(StoreError::Failed(
            "the self-test wrote a value and read back something else; refusing to store secrets there".into(),
        ));
    }
    Ok(())
}

fn load_fingerprint_key(store: &dyn SecretStore) -> Result<FingerprintKey, StoreError> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    if let Some(stored) = store.get(FINGERPRINT_KEY)? {
        let bytes = b64
            .decode(stored.expose())
            .map_err(|_| StoreError::BadFormat)?;
        return FingerprintKey::from_bytes(SecretBytes::new(bytes)).ok_or(StoreError::BadFormat);
    }
    let key = FingerprintKey::generate();
    let encoded = SecretValue::new(b64.encode(key.expose()))
        .map_err(|e| StoreError::Failed(e.to_string()))?;
    store.set(FINGERPRINT_KEY, &encoded)?;
    Ok(key)
}

fn install_id(conn: &Connection) -> Result<String, VaultError> {
    let existing: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'install_id'", [], |r| {
            r.get(0)
        })
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('install_id', ?1)",
        [&id],
    )?;
    Ok(id)
}

fn backend_setting(conn: &Connection) -> Result<Backend, VaultError> {
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'store_backend'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match v.as_deref() {
        Some("file") => Backend::File,
        _ => Backend::Keychain,
    })
}

/// The fields a secret has now.
fn fields_of(meta: &SecretMeta) -> SecretFields {
    SecretFields {
        name: meta.name.clone(),
        description: meta.description.clone(),
        tags: meta.tags.clone(),
        environment: meta.environment.clone(),
        expires_at: meta.expires_at,
        allowed_hosts: meta.allowed_hosts.clone(),
    }
}

/// Runs `f` in an immediate transaction committed with `synchronous = FULL`: once it
/// returns, the change (and every earlier one) survives a crash or a power loss.
/// The connection's own setting is restored afterwards.
fn durably<T>(
    db: &mut Connection,
    f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, VaultError>,
) -> Result<T, VaultError> {
    let before: i64 = db.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
    if before < 2 {
        db.pragma_update(None, "synchronous", 2)?;
    }
    let result = (|| {
        let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    })();
    if before < 2 {
        let _ = db.pragma_update(None, "synchronous", before);
    }
    result
}

/// Records a confirmed new value (version + 1, the old one retired) and the pending
/// metadata the row carries, in one durable transaction.
fn finish_replace(db: &mut Connection, id: &str, fp: &Fingerprint) -> Result<(), VaultError> {
    let at = now();
    durably(db, |tx| {
        let (version, pending): (u32, Option<String>) = tx.query_row(
            "SELECT version, pending_meta FROM secrets WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if let Some(meta) = pending.and_then(|p| serde_json::from_str::<PendingMeta>(&p).ok()) {
            tx.execute(
                "UPDATE secrets SET description = ?2, tags = ?3, environment = ?4, expires_at = ?5,
                        allowed_hosts = ?6, enabled = COALESCE(?7, enabled)
                 WHERE id = ?1",
                params![
                    id,
                    meta.description,
                    meta.tags,
                    meta.environment,
                    meta.expires_at,
                    meta.allowed_hosts,
                    meta.enabled
                ],
            )?;
        }
        record_version(tx, id, version, fp, at)
    })
}

fn record_version(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    version: u32,
    fp: &Fingerprint,
    at: Timestamp,
) -> Result<(), VaultError> {
    tx.execute(
        "UPDATE secret_versions SET retired_at = ?2 WHERE secret_id = ?1 AND retired_at IS NULL",
        params![id, at],
    )?;
    tx.execute(
        "INSERT INTO secret_versions (secret_id, version, fingerprint, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![id, version + 1, fp.as_str(), at],
    )?;
    tx.execute(
        "UPDATE secrets SET fingerprint = ?2, version = ?3, updated_at = ?4, state = 'active',
                pending_fingerprint = NULL, pending_meta = NULL
         WHERE id = ?1",
        params![id, fp.as_str(), version + 1, at],
    )?;
    Ok(())
}

fn find_in(db: &Connection, id_or_name: &str) -> Result<Option<SecretMeta>, VaultError> {
    let mut stmt = db.prepare_cached(
        "SELECT id, name, description, tags, environment, enabled, allowed_hosts, created_at, updated_at,
                last_used_at, expires_at, fingerprint, version, key_policy
         FROM secrets WHERE (id = ?1 OR name = ?1) AND state IN ('active', 'replacing')",
    )?;
    Ok(stmt.query_row([id_or_name], row_to_meta).optional()?)
}

fn json_list<T: serde::Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

fn bad_column(i: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        i,
        rusqlite::types::Type::Text,
        what.to_owned().into(),
    )
}

fn fingerprint_col(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Fingerprint> {
    let s: String = r.get(i)?;
    Fingerprint::parse(&s).ok_or_else(|| bad_column(i, "invalid fingerprint"))
}

fn row_to_meta(r: &rusqlite::Row<'_>) -> rusqlite::Result<SecretMeta> {
    let json = |i: usize| -> rusqlite::Result<Vec<String>> {
        let s: String = r.get(i)?;
        serde_json::from_str(&s).map_err(|_| bad_column(i, "invalid list"))
    };
    let name: String = r.get(1)?;
    let env: Option<String> = r.get(4)?;
    Ok(SecretMeta {
        id: r.get(0)?,
        name: SecretName::new(name).map_err(|_| bad_column(1, "invalid name"))?,
        description: r.get(2)?,
        tags: json(3)?
            .into_iter()
            .filter_map(|t| Tag::new(t).ok())
            .collect(),
        environment: env.and_then(|e| EnvironmentName::new(e).ok()),
        enabled: r.get(5)?,
        allowed_hosts: json(6)?
            .into_iter()
            .filter_map(|h| HostPattern::new(h).ok())
            .collect(),
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
        last_used_at: r.get(9)?,
        expires_at: r.get(10)?,
        fingerprint: fingerprint_col(r, 11)?,
        version: r.get(12)?,
        key_policy: {
            let p: Option<String> = r.get(13)?;
            p.and_then(|p| serde_json::from_str(&p).ok())
        },
    })
}
