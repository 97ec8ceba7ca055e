//! The Admin screen's commands: key servers, principals, groups, roles, access profiles,
//! keys, the outbox, conflicts, the sync indicator and the audit log. Every command is a
//! thin adapter over `keywarden_admin::Admin`; like the rest of `App`, each one blocks
//! (hosts call it from `spawn_blocking`).

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use keywarden_admin::{
    Admin, AdminError, AuditQuery, Background, CreatedKey, KeyInput, Kind, ListFilter, Placement,
    display_name,
};
use keywarden_core::SecretValue;

use crate::App;
use crate::app::to_ipc;
use crate::clipboard::CLIPBOARD_CLEAR_AFTER;
use crate::ipc::*;

/// How often the background loop pulls other administrators' changes.
pub const PULL_INTERVAL: Duration = Duration::from_secs(10);

/// The Admin screen's state inside [`App`]: opened on first use.
#[derive(Default)]
pub struct AdminSlot {
    admin: OnceLock<Result<Arc<Admin>, IpcError>>,
    background: Mutex<Option<Background>>,
}

fn ipc(code: ErrorCode, message: impl Into<String>, field: Option<&str>) -> IpcError {
    IpcError {
        code,
        message: message.into(),
        field: field.map(str::to_owned),
    }
}

/// Maps an admin error to the stable IPC shape. Messages never carry a credential or key.
pub(crate) fn admin_error(err: AdminError) -> IpcError {
    let message = err.to_string();
    match err {
        AdminError::Invalid { field, .. } => ipc(ErrorCode::InvalidInput, message, Some(field)),
        AdminError::NotFound { .. } | AdminError::NoSuchAction(_) => {
            ipc(ErrorCode::NotFound, message, None)
        }
        AdminError::NoConnection | AdminError::UnknownConnection(_) => {
            ipc(ErrorCode::NotFound, message, Some("connection"))
        }
        AdminError::WrongState { .. } => ipc(ErrorCode::Conflict, message, None),
        AdminError::Unauthenticated { .. } | AdminError::Refused(_) => {
            ipc(ErrorCode::Refused, message, None)
        }
        AdminError::Unreachable { .. } => ipc(ErrorCode::SendFailed, message, None),
        AdminError::Vault(v) => to_ipc(v),
        AdminError::Db(_) => ipc(ErrorCode::Database, message, None),
        AdminError::Embedded(_) | AdminError::Internal(_) => {
            ipc(ErrorCode::Internal, message, None)
        }
    }
}

fn kind(k: AdminKind) -> Kind {
    match k {
        AdminKind::Principal => Kind::Principal,
        AdminKind::Group => Kind::Group,
        AdminKind::Role => Kind::Role,
        AdminKind::Profile => Kind::Profile,
        AdminKind::Key => Kind::Key,
    }
}

fn admin_kind(k: &str) -> AdminKind {
    match k {
        "principal" => AdminKind::Principal,
        "group" => AdminKind::Group,
        "role" => AdminKind::Role,
        "profile" => AdminKind::Profile,
        _ => AdminKind::Key,
    }
}

fn object(o: keywarden_admin::ViewObject) -> AdminObject {
    AdminObject {
        kind: admin_kind(&o.kind),
        label: display_name(&o),
        id: o.id,
        version: o.version,
        body: o.body,
        deleted: o.deleted,
        pending: u32::try_from(o.pending).unwrap_or(u32::MAX),
        problem: o.problem,
    }
}

fn action(e: keywarden_admin::OutboxEntry) -> AdminAction {
    AdminAction {
        seq: e.seq,
        connection: e.connection,
        kind: e.kind,
        object_id: e.object_id,
        action: e.action,
        summary: e.summary,
        state: e.state,
        attempts: u32::try_from(e.attempts).unwrap_or(u32::MAX),
        next_attempt_ms: e.next_attempt_ms,
        last_error: e.last_error,
        created_at: e.created_at,
        done_at: e.done_at,
        intent: e.intent,
        server_object: e.server_object,
        server_version: e.server_version,
    }
}

fn secret(mut raw: String, field: &str) -> Result<SecretValue, IpcError> {
    let value = SecretValue::new(std::mem::take(&mut raw));
    zeroize::Zeroize::zeroize(&mut raw);
    value.map_err(|e| ipc(ErrorCode::InvalidInput, e.to_string(), Some(field)))
}

fn count(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl App {
    /// The admin side, opened on first use over this profile's vault.
    pub fn admin(&self) -> Result<Arc<Admin>, IpcError> {
        self.admin
            .admin
            .get_or_init(|| {
                let vault = self.shared_vault()?;
                Admin::open(self.home().to_path_buf(), Some(vault))
                    .map(Arc::new)
                    .map_err(admin_error)
            })
            .clone()
    }

    /// Uses a prepared `Admin` (tests). Refused once the admin side is open.
    pub fn set_admin(&self, admin: Arc<Admin>) -> Result<(), IpcError> {
        self.admin
            .admin
            .set(Ok(admin))
            .map_err(|_| ipc(ErrorCode::Conflict, "the admin side is already open", None))
    }

    fn conn(&self, admin: &Admin, name: Option<&str>) -> Result<String, IpcError> {
        admin.connection_name(name).map_err(admin_error)
    }

    /// Starts the background sync loop (idempotent). It syncs whenever an action is
    /// queued, when a retry is due, and every 10 s to pull other administrators' changes.
    pub fn admin_start_sync(&self) -> Result<AdminSyncStatus, IpcError> {
        let admin = self.admin()?;
        let mut bg = self
            .admin
            .background
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if bg.is_none() {
            *bg = Some(admin.start_background(PULL_INTERVAL));
        }
        drop(bg);
        self.admin_status()
    }

    /// Stops the background loop (on quit).
    pub fn admin_stop_sync(&self) {
        let bg = self
            .admin
            .background
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        drop(bg);
    }

    pub fn admin_connect(&self, req: ConnectServer) -> Result<Connected, IpcError> {
        let admin = self.admin()?;
        let (verified, expires) = match &req.sign_in {
            AdminSignIn::AdminKey { key } => {
                let key = secret(key.clone(), "key")?;
                let ok = admin
                    .connect_with_key(&req.name, &req.url, req.ca_pem.as_deref(), key)
                    .map_err(admin_error)?;
                (ok, None)
            }
            AdminSignIn::Password { username, password } => {
                let password = secret(password.clone(), "password")?;
                let expires = admin
                    .connect_with_login(
                        &req.name,
                        &req.url,
                        req.ca_pem.as_deref(),
                        username,
                        &password,
                    )
                    .map_err(admin_error)?;
                (true, Some(expires))
            }
        };
        tracing::info!(connection = %req.name, verified, "key server connected");
        Ok(Connected {
            name: req.name.clone(),
            verified,
            session_expires_at: expires,
        })
    }

    /// Starts (and connects) the key server embedded in the app: for a fresh machine.
    pub fn admin_connect_embedded(&self) -> Result<Connected, IpcError> {
        let admin = self.admin()?;
        admin.connect_embedded().map_err(admin_error)?;
        Ok(Connected {
            name: keywarden_admin::EMBEDDED.into(),
            verified: true,
            session_expires_at: None,
        })
    }

    pub fn admin_disconnect(&self, req: ConnectionRef) -> Result<(), IpcError> {
        let admin = self.admin()?;
        let name = self.conn(&admin, req.connection.as_deref())?;
        admin.disconnect(&name).map_err(admin_error)
    }

    /// The sync indicator: online/offline, queued, failed, conflicts, last sync.
    pub fn admin_status(&self) -> Result<AdminSyncStatus, IpcError> {
        let s = self.admin()?.status().map_err(admin_error)?;
        Ok(AdminSyncStatus {
            connections: s
                .connections
                .into_iter()
                .map(|c| AdminConnectionStatus {
                    name: c.name,
                    url: c.url,
                    auth: c.auth,
                    username: c.username,
                    online: c.online,
                    needs_sign_in: c.needs_sign_in,
                    last_sync_at: c.last_sync_at,
                    last_error: c.last_error,
                    queued: c.queued,
                    failed: c.failed,
                    conflicts: c.conflicts,
                    waiting: c.waiting,
                    next_attempt_ms: c.next_attempt_ms,
                })
                .collect(),
            queued: s.queued,
            failed: s.failed,
            conflicts: s.conflicts,
            background: s.background,
        })
    }

    /// Syncs now (the "Sync now" button).
    pub fn admin_sync_now(&self, req: ConnectionRef) -> Result<Vec<AdminSyncReport>, IpcError> {
        let admin = self.admin()?;
        let reports = match req.connection {
            Some(name) => vec![admin.sync(&name).map_err(admin_error)?],
            None => admin.sync_all().map_err(admin_error)?,
        };
        Ok(reports
            .into_iter()
            .map(|r| AdminSyncReport {
                connection: r.connection,
                applied: count(r.push.applied),
                failed: count(r.push.failed),
                conflicts: count(r.push.conflicts),
                retrying: count(r.push.retrying),
                pulled: count(r.pulled),
                error: r.error,
            })
            .collect())
    }

    pub fn admin_list(&self, req: AdminListQuery) -> Result<Vec<AdminObject>, IpcError> {
        let admin = self.admin()?;
        let conn = self.conn(&admin, req.connection.as_deref())?;
        let filter = ListFilter {
            search: req.search,
            principal_id: req.principal_id,
            enabled: req.enabled,
            pending_only: req.pending_only,
            include_inactive: req.include_inactive,
        };
        Ok(admin
            .list(&conn, kind(req.kind), &filter)
            .map_err(admin_error)?
            .into_iter()
            .map(object)
            .collect())
    }

    pub fn admin_get(&self, req: AdminRef) -> Result<AdminObject, IpcError> {
        let admin = self.admin()?;
        let conn = self.conn(&admin, req.connection.as_deref())?;
        admin
            .find(&conn, kind(req.kind), &req.id)
            .map(object)
            .map_err(admin_error)
    }

    /// Reads an object from the server now (e.g. a key's last use during a rotation).
    pub fn admin_refresh(&self, req: AdminRef) -> Result<AdminObject, IpcError> {
        let admin = self.admin()?;
        let conn = self.conn(&admin, req.connection.as_deref())?;
        admin
            .fetch(&conn, kind(req.kind), &req.id)
            .map(object)
            .map_err(admin_error)
    }

    pub fn admin_create(&self, req: AdminCreate) -> Result<AdminObject, IpcError> {
        let admin = self.admin()?;
        let conn = self.conn(&admin, req.connection.as_deref())?;
        let bad = |e: serde_json::Error| {
            ipc(
                ErrorCode::InvalidInput,
                format!("the fields are not valid: {e}"),
                Some("fields"),
            )
        };
        let created = match req.kind {
            AdminKind::Principal => {
                admin.create_principal(&conn, serde_json::from_value(req.fields).map_err(bad)?)
            }
            AdminKind::Group => {
                admin.create_group(&conn, serde_json::from_value(req.fields).map_err(bad)?)
            }
            AdminKind::Role => {
                admin.create_role(&conn, serde_json::from_value(req.fields).map_err(bad)?)
            }
            AdminKind::Profile => {
                admin.create_profile(&conn, serde_json::from_value(req.fields).map_err(bad)?)
            }
            AdminKind::Key => {
                return Err(ipc(
                    ErrorCode::InvalidInput,
                    "keys are created with adminCreateKey (generated on this machine)",
                    Some("kind"),
                ));
            }
        }
        .map_err(admin_error)?;
        Ok(object(created))
    }

    pub fn admin_update(&self, req: AdminUpdate) -> Result<AdminObject, IpcError> {
        let admin = self.admin()?;
        let conn = self.conn(&admin, req.connection.as_deref())?;
        admin
            .update(&conn, kind(req.kind), &req.id, req.patch)
            .map(object)
            .map_err(admin_error)
    }

    /// Enable/disable a principal or key. When online, the server refuses a disabled key
    /// within a second (the background loop is woken at once).
    pub fn admin_set_enabled(&self, req: AdminSetEnabled) -> Result<AdminObject, IpcError> {
        let admin = self.admin()?;
        let conn = self.conn(&admin, req.connection.as_deref())?;
        admin
            .set_enabled(&conn, kind(req.kind), &req.id, req.enabled)
            .map(object)
            .map_err(admin_error)
    }

    pub fn admin_delete(&self, req: AdminRef) -> Result<ActionRef, IpcError> {
        let admin = self.admin()?;
        let conn = self.conn(&admin, req.connection.as_deref())?;
        let seq = admin
            .delete(&conn, kind(req.kind), &req.id)
            .map_err(admin_error)?;
        Ok(ActionRef { seq })
    }

    pub fn admin_revoke_key(&self, req: AdminRef) -> Result<ActionRef, IpcError> {
        let admin = self.admin()?;
        let conn = self.conn(&admin, req.connection.as_deref())?;
        let seq = admin.revoke_key(&conn, &req.id).map_err(admin_error)?;
        Ok(ActionRef { seq })
    }

    /// Generates a key on this machine and queues it; the key goes where `placement` says.
    pub fn admin_create_key(&self, req: AdminCreateKey) -> Result<AdminCreatedKey, IpcError> {
        let admin = self.admin()?;
        let conn = self.conn(&admin, req.connection.as_deref())?;
        let input: KeyInput = serde_json::from_value(req.fields).map_err(|e| {
            ipc(
                ErrorCode::InvalidInput,
                format!("the key fields are not valid: {e}"),
                Some("fields"),
            )
        })?;
        let placement = match &req.placement {
            KeyPlacement::Vault { secret_name, hosts } => Placement::Vault {
                name: secret_name.clone(),
                hosts: hosts.clone(),
            },
            KeyPlacement::Clipboard | KeyPlacement::ShowOnce => Placement::ShowOnce,
        };
        let created = admin
            .create_key(&conn, &req.principal_id, input, placement)
            .map_err(admin_error)?;
        tracing::info!(key = %created.object.id, "key generated and queued");
        self.deliver(created, &req.placement)
    }

    /// Rotation (with a grace period) or refresh (without).
    pub fn admin_rotate_key(&self, req: AdminRotateKey) -> Result<AdminCreatedKey, IpcError> {
        let admin = self.admin()?;
        let conn = self.conn(&admin, req.connection.as_deref())?;
        let created = match req.grace_seconds {
            Some(g) => admin.rotate_key(&conn, &req.id, g),
            None => admin.refresh_key(&conn, &req.id),
        }
        .map_err(admin_error)?;
        let placement = req.placement.unwrap_or(KeyPlacement::ShowOnce);
        self.deliver(created, &placement)
    }

    fn deliver(
        &self,
        created: CreatedKey,
        placement: &KeyPlacement,
    ) -> Result<AdminCreatedKey, IpcError> {
        let CreatedKey {
            object: o,
            seq,
            key,
            secret_id,
        } = created;
        let mut out = AdminCreatedKey {
            key: object(o),
            action_seq: seq,
            shown_once: None,
            secret_id,
            clipboard_clears_after_seconds: None,
        };
        if let Some(key) = key {
            match placement {
                KeyPlacement::Clipboard => {
                    self.clipboard
                        .copy(key.expose(), CLIPBOARD_CLEAR_AFTER)
                        .map_err(|e| {
                            ipc(
                                ErrorCode::Internal,
                                format!("could not write the clipboard: {e}"),
                                None,
                            )
                        })?;
                    out.clipboard_clears_after_seconds =
                        Some(CLIPBOARD_CLEAR_AFTER.as_secs() as u32);
                }
                _ => out.shown_once = Some(key.expose().to_owned()),
            }
        }
        Ok(out)
    }

    pub fn admin_outbox(&self, req: OutboxQuery) -> Result<Vec<AdminAction>, IpcError> {
        let admin = self.admin()?;
        let states: Vec<&str> = req.states.iter().map(String::as_str).collect();
        Ok(admin
            .outbox(req.connection.as_deref(), &states, req.limit as usize)
            .map_err(admin_error)?
            .into_iter()
            .map(action)
            .collect())
    }

    pub fn admin_retry(&self, req: ActionRef) -> Result<(), IpcError> {
        self.admin()?.retry(req.seq).map_err(admin_error)
    }

    pub fn admin_retry_all(&self, req: ConnectionRef) -> Result<u32, IpcError> {
        let n = self
            .admin()?
            .retry_all(req.connection.as_deref())
            .map_err(admin_error)?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    pub fn admin_discard(&self, req: ActionRef) -> Result<AdminAction, IpcError> {
        self.admin()?
            .discard(req.seq)
            .map(action)
            .map_err(admin_error)
    }

    /// Conflicts: each with your intent and the server's version.
    pub fn admin_conflicts(&self, req: ConnectionRef) -> Result<Vec<AdminAction>, IpcError> {
        self.admin_outbox(OutboxQuery {
            connection: req.connection,
            states: vec!["conflict".into()],
            limit: 1000,
        })
    }

    pub fn admin_resolve(&self, req: ResolveConflict) -> Result<AdminAction, IpcError> {
        self.admin()?
            .resolve(req.seq, req.keep == ConflictChoice::Mine)
            .map(action)
            .map_err(admin_error)
    }

    pub fn admin_audit(&self, req: AdminAuditQuery) -> Result<Vec<AdminAuditEntry>, IpcError> {
        let admin = self.admin()?;
        let conn = self.conn(&admin, req.connection.as_deref())?;
        let entries = admin
            .audit(
                &conn,
                &AuditQuery {
                    since: req.since,
                    limit: req.limit.map(i64::from),
                    actor: req.actor,
                    action: req.action,
                    target: req.target,
                },
            )
            .map_err(admin_error)?;
        Ok(entries
            .into_iter()
            .map(|e| AdminAuditEntry {
                seq: e.seq,
                at: e.at,
                actor: e.actor,
                action: e.action,
                target: e.target,
                detail: e.detail,
            })
            .collect())
    }
}
