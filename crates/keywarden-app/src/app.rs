use std::path::PathBuf;
use std::sync::Arc;

use keywarden_core::{SecretValue, now};
use keywarden_vault::{
    Backend, Expiry, Health as VaultHealth, Purpose, SecretFields, SecretMeta, SecretPatch,
    StoreError, StoreKind, Target, Vault, VaultError,
};

use crate::clipboard::{CLIPBOARD_CLEAR_AFTER, Clipboard, ClipboardGuard};
use crate::ipc::*;

/// How long a revealed value stays visible in the window.
const HIDE_AFTER_SECONDS: u32 = 10;

/// The desktop's commands over one profile's vault.
pub struct App {
    vault: Result<Arc<Vault>, IpcError>,
    pub(crate) clipboard: ClipboardGuard,
    home: PathBuf,
    /// Drives outgoing requests; created on first send.
    runtime: std::sync::OnceLock<tokio::runtime::Runtime>,
    /// The Admin screen's state (opened on first use; see `admin.rs`).
    pub(crate) admin: crate::admin::AdminSlot,
}

impl App {
    /// Opens the profile at `home`. Never fails: a database that cannot be opened is
    /// reported by [`App::status`] and by every command.
    pub fn open(home: PathBuf, clipboard: Arc<dyn Clipboard>) -> Self {
        let vault = Vault::open(&home).map(Arc::new).map_err(to_ipc);
        if let Ok(v) = &vault {
            // Finish what an interruption left half-done; errors are reported in status.
            if let Err(err) = v.repair() {
                tracing::warn!(error = %err, "repair of interrupted operations failed");
            }
        }
        Self {
            vault,
            clipboard: ClipboardGuard::new(clipboard),
            home,
            runtime: Default::default(),
            admin: Default::default(),
        }
    }

    /// An app over a given vault (tests).
    pub fn with_vault(vault: Vault, clipboard: Arc<dyn Clipboard>) -> Self {
        let home = vault.home().to_path_buf();
        Self {
            vault: Ok(Arc::new(vault)),
            clipboard: ClipboardGuard::new(clipboard),
            home,
            runtime: Default::default(),
            admin: Default::default(),
        }
    }

    pub(crate) fn runtime(&self) -> Result<&tokio::runtime::Runtime, IpcError> {
        if let Some(rt) = self.runtime.get() {
            return Ok(rt);
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("keywarden-http")
            .enable_all()
            .build()
            .map_err(|e| IpcError {
                code: ErrorCode::Internal,
                message: format!("cannot start the HTTP runtime: {e}"),
                field: None,
            })?;
        Ok(self.runtime.get_or_init(|| rt))
    }

    pub(crate) fn vault(&self) -> Result<&Vault, IpcError> {
        self.vault.as_deref().map_err(Clone::clone)
    }

    pub(crate) fn shared_vault(&self) -> Result<Arc<Vault>, IpcError> {
        self.vault.clone()
    }

    pub(crate) fn home(&self) -> &std::path::Path {
        &self.home
    }

    pub fn status(&self) -> VaultStatus {
        let status = self.vault().and_then(|v| v.status().map_err(to_ipc));
        let s = match status {
            Ok(s) => s,
            Err(err) => {
                return VaultStatus {
                    backend: BackendKind::Keychain,
                    backend_label: "unavailable".into(),
                    persistent: false,
                    location: String::new(),
                    health: Health::Unavailable,
                    message: Some(err.message),
                    secret_count: 0,
                    pending_repairs: 0,
                    data_dir: self.home.display().to_string(),
                };
            }
        };
        let (health, message) = match s.health {
            VaultHealth::Ok => (Health::Ok, None),
            VaultHealth::Untested => (Health::Untested, None),
            VaultHealth::Failed(e @ (StoreError::Locked(_) | StoreError::VaultLocked)) => {
                (Health::Locked, Some(e.to_string()))
            }
            VaultHealth::Failed(e) => (Health::Unavailable, Some(e.to_string())),
        };
        VaultStatus {
            backend: match s.store.kind {
                StoreKind::File => BackendKind::File,
                _ => BackendKind::Keychain,
            },
            backend_label: s.store.label,
            persistent: s.store.persistent,
            location: s.store.location,
            health,
            message,
            secret_count: s.secret_count,
            pending_repairs: s.pending_repairs,
            data_dir: s.home.display().to_string(),
        }
    }

    /// Runs the store's round-trip self-test now and reports the status.
    pub fn self_test(&self) -> VaultStatus {
        if let Ok(v) = self.vault()
            && let Err(err) = v.self_test()
        {
            tracing::warn!(error = %err, "secret store self-test failed");
        }
        self.status()
    }

    pub fn list_secrets(&self, req: ListSecrets) -> Result<Vec<SecretSummary>, IpcError> {
        let at = now();
        Ok(self
            .vault()?
            .list(req.search.as_deref())
            .map_err(to_ipc)?
            .iter()
            .map(|m| summary(m, at))
            .collect())
    }

    pub fn create_secret(&self, req: CreateSecret) -> Result<SecretSummary, IpcError> {
        let CreateSecret {
            name,
            description,
            tags,
            environment,
            enabled,
            expires_at,
            allowed_hosts,
            value,
        } = req;
        let value = secret_value(value)?;
        let fields = SecretFields::parse(
            &name,
            &description,
            &tags,
            environment.as_deref(),
            expires_at,
            &allowed_hosts,
        )
        .map_err(to_ipc)?;
        let target = Target::New(fields.name.clone());
        let patch = SecretPatch {
            enabled: Some(enabled),
            ..SecretPatch::all(fields)
        };
        let (meta, _) = self
            .vault()?
            .upsert(target, patch, Some(&value))
            .map_err(to_ipc)?;
        tracing::info!(secret = %meta.name, "secret created");
        Ok(summary(&meta, now()))
    }

    pub fn update_secret(&self, req: UpdateSecret) -> Result<SecretSummary, IpcError> {
        let fields = SecretFields::parse(
            &req.name,
            &req.description,
            &req.tags,
            req.environment.as_deref(),
            req.expires_at,
            &req.allowed_hosts,
        )
        .map_err(to_ipc)?;
        let (meta, _) = self
            .vault()?
            .upsert(Target::Existing(req.id), SecretPatch::all(fields), None)
            .map_err(to_ipc)?;
        Ok(summary(&meta, now()))
    }

    pub fn replace_value(&self, req: ReplaceValue) -> Result<SecretSummary, IpcError> {
        let ReplaceValue { id, value } = req;
        let value = secret_value(value)?;
        let meta = self.vault()?.replace_value(&id, &value).map_err(to_ipc)?;
        tracing::info!(secret = %meta.name, version = meta.version, "secret value replaced");
        Ok(summary(&meta, now()))
    }

    pub fn set_enabled(&self, req: SetEnabled) -> Result<SecretSummary, IpcError> {
        let meta = self
            .vault()?
            .set_enabled(&req.id, req.enabled)
            .map_err(to_ipc)?;
        Ok(summary(&meta, now()))
    }

    pub fn delete_secret(&self, req: SecretRef) -> Result<(), IpcError> {
        self.vault()?.delete(&req.id).map_err(to_ipc)?;
        tracing::info!(secret_id = %req.id, "secret deleted");
        Ok(())
    }

    /// The explicit reveal: the only command that sends a value to the window.
    pub fn reveal_secret(&self, req: SecretRef) -> Result<RevealedSecret, IpcError> {
        let (meta, value) = self
            .vault()?
            .read(&req.id, Purpose::Reveal)
            .map_err(to_ipc)?;
        tracing::info!(secret = %meta.name, "secret revealed");
        Ok(RevealedSecret {
            id: meta.id,
            value: value.expose().to_owned(),
            hide_after_seconds: HIDE_AFTER_SECONDS,
        })
    }

    /// Copies a value to the clipboard from Rust; it is cleared after 30 s if still there.
    pub fn copy_secret(&self, req: SecretRef) -> Result<CopyReceipt, IpcError> {
        let (meta, value) = self.vault()?.read(&req.id, Purpose::Use).map_err(to_ipc)?;
        self.clipboard
            .copy(value.expose(), CLIPBOARD_CLEAR_AFTER)
            .map_err(|e| IpcError {
                code: ErrorCode::Internal,
                message: format!("could not write the clipboard: {e}"),
                field: None,
            })?;
        tracing::info!(secret = %meta.name, "secret copied to the clipboard");
        Ok(CopyReceipt {
            clears_after_seconds: CLIPBOARD_CLEAR_AFTER.as_secs() as u32,
        })
    }

    /// Copies a secret the window is showing once (a key just issued), with the same
    /// 30-second clear as [`App::copy_secret`].
    pub fn copy_text(&self, req: CopyText) -> Result<CopyReceipt, IpcError> {
        let value = SecretValue::new(req.text.as_str()).map_err(|e| IpcError {
            code: ErrorCode::InvalidInput,
            message: e.to_string(),
            field: Some("text".into()),
        })?;
        self.clipboard
            .copy(value.expose(), CLIPBOARD_CLEAR_AFTER)
            .map_err(|e| IpcError {
                code: ErrorCode::Internal,
                message: format!("could not write the clipboard: {e}"),
                field: None,
            })?;
        Ok(CopyReceipt {
            clears_after_seconds: CLIPBOARD_CLEAR_AFTER.as_secs() as u32,
        })
    }

    pub fn secret_versions(&self, req: SecretRef) -> Result<Vec<ValueVersion>, IpcError> {
        let versions = self.vault()?.versions(&req.id).map_err(to_ipc)?;
        Ok(versions
            .into_iter()
            .map(|v| ValueVersion {
                version: v.version,
                fingerprint: v.fingerprint.to_string(),
                created_at: v.created_at,
                retired_at: v.retired_at,
            })
            .collect())
    }

    pub fn unlock_vault(&self, req: Passphrase) -> Result<VaultStatus, IpcError> {
        let passphrase = secret_value(req.passphrase).map_err(|e| IpcError {
            field: Some("passphrase".into()),
            ..e
        })?;
        self.vault()?.unlock(&passphrase).map_err(to_ipc)?;
        Ok(self.self_test())
    }

    pub fn choose_backend(&self, req: ChooseBackend) -> Result<VaultStatus, IpcError> {
        let passphrase = match req.passphrase {
            Some(p) => Some(secret_value(p.passphrase).map_err(|e| IpcError {
                field: Some("passphrase".into()),
                ..e
            })?),
            None => None,
        };
        let backend = match req.backend {
            BackendKind::Keychain => Backend::Keychain,
            BackendKind::File => Backend::File,
        };
        self.vault()?
            .choose_backend(backend, passphrase.as_ref())
            .map_err(to_ipc)?;
        Ok(self.self_test())
    }

    /// Clears the clipboard if it still holds a copied value and stops the admin sync loop. Call on quit.
    pub fn shutdown(&self) {
        self.clipboard.clear_now();
        self.admin_stop_sync();
    }
}

fn secret_value(mut raw: String) -> Result<SecretValue, IpcError> {
    let value = SecretValue::new(std::mem::take(&mut raw));
    zeroize::Zeroize::zeroize(&mut raw);
    value.map_err(|e| IpcError {
        code: ErrorCode::InvalidInput,
        message: e.to_string(),
        field: Some("value".into()),
    })
}

/// The IPC (and `kw --json`) view of a secret at time `at`.
pub fn summary(m: &SecretMeta, at: i64) -> SecretSummary {
    SecretSummary {
        id: m.id.clone(),
        name: m.name.to_string(),
        description: m.description.clone(),
        tags: m.tags.iter().map(|t| t.to_string()).collect(),
        environment: m.environment.as_ref().map(|e| e.to_string()),
        enabled: m.enabled,
        created_at: m.created_at,
        updated_at: m.updated_at,
        last_used_at: m.last_used_at,
        expires_at: m.expires_at,
        expiry: match m.expiry(at) {
            Expiry::None => ExpiryState::None,
            Expiry::Ok => ExpiryState::Ok,
            Expiry::Soon => ExpiryState::Soon,
            Expiry::Expired => ExpiryState::Expired,
        },
        allowed_hosts: m.allowed_hosts.iter().map(|h| h.to_string()).collect(),
        fingerprint: m.fingerprint.to_string(),
        versions: m.version,
    }
}

/// Maps a vault error to the stable IPC shape. Messages never contain secret values.
pub(crate) fn to_ipc(err: VaultError) -> IpcError {
    let message = err.to_string();
    let (code, field) = match &err {
        VaultError::NotFound(_) => (ErrorCode::NotFound, None),
        VaultError::NameTaken(_) => (ErrorCode::Conflict, Some("name")),
        VaultError::Disabled(_) => (ErrorCode::Disabled, None),
        VaultError::ValueMissing(_) => (ErrorCode::ValueMissing, None),
        VaultError::Invalid { field, .. } => (ErrorCode::InvalidInput, Some(*field)),
        VaultError::Store(s) => match s {
            StoreError::Unavailable(_) | StoreError::Failed(_) | StoreError::BadFormat => {
                (ErrorCode::KeychainUnavailable, None)
            }
            StoreError::Locked(_) => (ErrorCode::KeychainLocked, None),
            StoreError::Timeout(_) => (ErrorCode::KeychainTimeout, None),
            StoreError::Busy { .. } => (ErrorCode::Timeout, None),
            // The session was locked: the window asks for the passphrase again.
            StoreError::VaultChanged(_) => (ErrorCode::VaultLocked, None),
            StoreError::TooLarge { .. } => (ErrorCode::TooLarge, Some("value")),
            StoreError::VaultLocked => (ErrorCode::VaultLocked, None),
            StoreError::WrongPassphrase => (ErrorCode::WrongPassphrase, Some("passphrase")),
        },
        VaultError::File(f) => match f {
            keywarden_vault::filevault::FileVaultError::WrongPassphrase => {
                (ErrorCode::WrongPassphrase, Some("passphrase"))
            }
            keywarden_vault::filevault::FileVaultError::WeakPassphrase(_) => {
                (ErrorCode::InvalidInput, Some("passphrase"))
            }
            _ => (ErrorCode::Database, None),
        },
        VaultError::Db(_) => (ErrorCode::Database, None),
    };
    IpcError {
        code,
        message,
        field: field.map(str::to_owned),
    }
}
