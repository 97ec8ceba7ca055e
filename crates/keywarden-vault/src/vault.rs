//! The vault: secrets' metadata in SQLite, their values in a [`SecretStore`].
//!
//! Invariants:
//! * A value never reaches the database; only its keyed fingerprint does.
//! * Listing and searching touch the database only, never the store.
//! * Every operation that touches both records its intent in the row's `state`
//!   first, so an interruption is repaired by [`Vault::repair`] on the next start.
//! * The store is self-tested (a round trip) before the first value is written or
//!   read in a session; a failing store is reported, never replaced by another.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use keywarden_core::{
    EnvironmentName, Fingerprint, FingerprintKey, HostPattern, KeyPolicy, SecretBytes, SecretName,
    SecretValue, Tag, Timestamp, now,
};
use rusqlite::{Connection, OptionalExtension, params};

use crate::db::{self, DbError};
use crate::filevault::{FileStore, FileVaultError, KdfParams};
use crate::keychain::KeychainStore;
use crate::store::{SecretStore, StoreError, StoreInfo, StoreKind, TimeoutStore, lock};

/// Secrets expiring within this many seconds are flagged "soon".
pub const EXPIRY_WARNING: i64 = 7 * 24 * 3600;
const SELF_TEST_KEY: &str = "_selftest";
const FINGERPRINT_KEY: &str = "_fingerprint_key";
const DB_FILE: &str = "keywarden.db";
const VAULT_FILE: &str = "vault.kwv";
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
        let name = SecretName::new(name.trim()).map_err(|e| VaultError::invalid("name", e))?;
        let description = description.trim().to_owned();
        if description.chars().count() > 1000 {
            return Err(VaultError::invalid(
                "description",
                "the description is longer than 1,000 characters",
            ));
        }
        let mut parsed_tags = Vec::new();
        for t in tags.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
            let tag = Tag::new(t).map_err(|e| VaultError::invalid("tags", e))?;
            if !parsed_tags.contains(&tag) {
                parsed_tags.push(tag);
            }
        }
        if parsed_tags.len() > 32 {
            return Err(VaultError::invalid(
                "tags",
                "a secret can have at most 32 tags",
            ));
        }
        let environment = match environment.map(str::trim).filter(|e| !e.is_empty()) {
            Some(e) => {
                Some(EnvironmentName::new(e).map_err(|e| VaultError::invalid("environment", e))?)
            }
            None => None,
        };
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
        if let Some(t) = expires_at
            && !(0..=253_402_300_799).contains(&t)
        {
            return Err(VaultError::invalid(
                "expiresAt",
                "the expiry date is out of range",
            ));
        }
        Ok(Self {
            name,
            description,
            tags: parsed_tags,
            environment,
            expires_at,
            allowed_hosts: hosts,
        })
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
        Self {
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

    /// Runs the store's round-trip self-test (once per session) and loads the fingerprint key.
    fn ready(&self) -> Result<FingerprintKey, StoreError> {
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
        {
            let db = lock(&self.db);
            if find_in(&db, fields.name.as_str())?.is_some() {
                return Err(VaultError::NameTaken(fields.name.to_string()));
            }
        }
        self.check_size(value)?;
        let key = self.ready()?;
        let fp = key.fingerprint(value);
        let id = uuid::Uuid::new_v4().to_string();
        let at = now();
        {
            let mut db = lock(&self.db);
            let tx = db.transaction()?;
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
        {
            let db = lock(&self.db);
            db.execute("UPDATE secrets SET state = 'active' WHERE id = ?1", [&id])?;
        }
        self.find(&id)
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
        let current = self.find(id)?;
        {
            let db = lock(&self.db);
            if let Some(other) = find_in(&db, fields.name.as_str())?
                && other.id != current.id
            {
                return Err(VaultError::NameTaken(fields.name.to_string()));
            }
            db.execute(
                "UPDATE secrets SET name = ?2, description = ?3, tags = ?4, environment = ?5, expires_at = ?6,
                        allowed_hosts = ?7, updated_at = ?8
                 WHERE id = ?1",
                params![
                    current.id,
                    fields.name.as_str(),
                    fields.description,
                    json_list(&fields.tags),
                    fields.environment.as_ref().map(|e| e.as_str()),
                    fields.expires_at,
                    json_list(&fields.allowed_hosts),
                    now()
                ],
            )?;
        }
        self.find(&current.id)
    }

    pub fn set_enabled(&self, id: &str, enabled: bool) -> Result<SecretMeta, VaultError> {
        let current = self.find(id)?;
        {
            let db = lock(&self.db);
            db.execute(
                "UPDATE secrets SET enabled = ?2, updated_at = ?3 WHERE id = ?1",
                params![current.id, enabled, now()],
            )?;
        }
        self.find(&current.id)
    }

    /// Rotation: stores a new value; the old value's fingerprint and dates stay in the history.
    pub fn replace_value(&self, id: &str, value: &SecretValue) -> Result<SecretMeta, VaultError> {
        let current = self.find(id)?;
        self.check_size(value)?;
        let key = self.ready()?;
        let fp = key.fingerprint(value);
        if fp.ct_eq(&current.fingerprint) {
            return Err(VaultError::invalid(
                "value",
                "the new value is the same as the current one",
            ));
        }
        {
            let db = lock(&self.db);
            db.execute(
                "UPDATE secrets SET state = 'replacing', pending_fingerprint = ?2 WHERE id = ?1",
                params![current.id, fp.as_str()],
            )?;
        }
        if let Err(err) = self.record(self.store().set(&current.id, value)) {
            let db = lock(&self.db);
            let _ = db.execute(
                "UPDATE secrets SET state = 'active', pending_fingerprint = NULL WHERE id = ?1",
                [&current.id],
            );
            return Err(err.into());
        }
        {
            let mut db = lock(&self.db);
            finish_rotation(&mut db, &current.id, &fp)?;
        }
        self.find(&current.id)
    }

    /// Deletes a secret and its value.
    pub fn delete(&self, id: &str) -> Result<(), VaultError> {
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
        let db = lock(&self.db);
        db.execute("DELETE FROM secrets WHERE id = ?1", [&current.id])?;
        Ok(())
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
    pub fn repair(&self) -> Result<RepairReport, VaultError> {
        let pending: Vec<(String, String, Option<String>)> = {
            let db = lock(&self.db);
            let mut stmt = db.prepare(
                "SELECT id, state, pending_fingerprint FROM secrets WHERE state <> 'active'",
            )?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?
        };
        let mut report = RepairReport::default();
        if pending.is_empty() {
            return Ok(report);
        }
        let store = self.store();
        for (id, state, pending_fp) in pending {
            let outcome: Result<(), VaultError> = (|| {
                match state.as_str() {
                    "creating" | "deleting" => {
                        self.record(store.delete(&id))?;
                        lock(&self.db).execute("DELETE FROM secrets WHERE id = ?1", [&id])?;
                        if state == "creating" {
                            report.rolled_back_creates += 1;
                        } else {
                            report.finished_deletes += 1;
                        }
                    }
                    "replacing" => {
                        let key = self.ready()?;
                        let stored = self.record(store.get(&id))?;
                        let target = pending_fp.as_deref().and_then(Fingerprint::parse);
                        let mut db = lock(&self.db);
                        match (stored, target) {
                            (Some(v), Some(fp)) if key.fingerprint(&v).ct_eq(&fp) => {
                                finish_rotation(&mut db, &id, &fp)?;
                                report.finished_rotations += 1;
                            }
                            _ => {
                                db.execute(
                                    "UPDATE secrets SET state = 'active', pending_fingerprint = NULL WHERE id = ?1",
                                    [&id],
                                )?;
                                report.rolled_back_rotations += 1;
                            }
                        }
                    }
                    _ => {}
                }
                Ok(())
            })();
            if let Err(err) = outcome {
                tracing::warn!(secret_id = %id, error = %err, "could not repair an interrupted operation");
                report.failed += 1;
            }
        }
        Ok(report)
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
        *lock(&self.health) = Health::Untested;
        Ok(())
    }

    /// Switches where values are kept. Allowed only while the vault holds no secrets.
    pub fn choose_backend(
        &self,
        backend: Backend,
        passphrase: Option<&SecretValue>,
    ) -> Result<(), VaultError> {
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

fn finish_rotation(db: &mut Connection, id: &str, fp: &Fingerprint) -> Result<(), VaultError> {
    let at = now();
    let tx = db.transaction()?;
    let version: u32 = tx.query_row("SELECT version FROM secrets WHERE id = ?1", [id], |r| {
        r.get(0)
    })?;
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
                pending_fingerprint = NULL
         WHERE id = ?1",
        params![id, fp.as_str(), version + 1, at],
    )?;
    tx.commit()?;
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
