//! The Admin screen's commands: one adapter per [`App`](keywarden_app::App) method, run off the
//! async runtime like the others (a sync waits on the network, a key creation on the keychain).
//! No logic lives here; it belongs in `keywarden-app` and `keywarden-admin`.

use keywarden_app::ipc::{
    ActionRef, AdminAction, AdminAuditEntry, AdminAuditQuery, AdminCreate, AdminCreateKey,
    AdminCreatedKey, AdminListQuery, AdminObject, AdminRef, AdminRotateKey, AdminSetEnabled,
    AdminSyncReport, AdminSyncStatus, AdminUpdate, ConnectServer, Connected, ConnectionRef,
    IpcError, OutboxQuery, ResolveConflict,
};
use tauri::State;

use crate::commands::{Shared, blocking};

#[tauri::command]
pub async fn admin_connect(
    app: State<'_, Shared>,
    req: ConnectServer,
) -> Result<Connected, IpcError> {
    blocking(&app, |a| a.admin_connect(req)).await
}

#[tauri::command]
pub async fn admin_connect_embedded(app: State<'_, Shared>) -> Result<Connected, IpcError> {
    blocking(&app, |a| a.admin_connect_embedded()).await
}

#[tauri::command]
pub async fn admin_disconnect(app: State<'_, Shared>, req: ConnectionRef) -> Result<(), IpcError> {
    blocking(&app, |a| a.admin_disconnect(req)).await
}

#[tauri::command]
pub async fn admin_status(app: State<'_, Shared>) -> Result<AdminSyncStatus, IpcError> {
    blocking(&app, |a| a.admin_status()).await
}

#[tauri::command]
pub async fn admin_start_sync(app: State<'_, Shared>) -> Result<AdminSyncStatus, IpcError> {
    blocking(&app, |a| a.admin_start_sync()).await
}

#[tauri::command]
pub async fn admin_sync_now(
    app: State<'_, Shared>,
    req: ConnectionRef,
) -> Result<Vec<AdminSyncReport>, IpcError> {
    blocking(&app, |a| a.admin_sync_now(req)).await
}

#[tauri::command]
pub async fn admin_list(
    app: State<'_, Shared>,
    req: AdminListQuery,
) -> Result<Vec<AdminObject>, IpcError> {
    blocking(&app, |a| a.admin_list(req)).await
}

#[tauri::command]
pub async fn admin_get(app: State<'_, Shared>, req: AdminRef) -> Result<AdminObject, IpcError> {
    blocking(&app, |a| a.admin_get(req)).await
}

#[tauri::command]
pub async fn admin_refresh(app: State<'_, Shared>, req: AdminRef) -> Result<AdminObject, IpcError> {
    blocking(&app, |a| a.admin_refresh(req)).await
}

#[tauri::command]
pub async fn admin_create(
    app: State<'_, Shared>,
    req: AdminCreate,
) -> Result<AdminObject, IpcError> {
    blocking(&app, |a| a.admin_create(req)).await
}

#[tauri::command]
pub async fn admin_update(
    app: State<'_, Shared>,
    req: AdminUpdate,
) -> Result<AdminObject, IpcError> {
    blocking(&app, |a| a.admin_update(req)).await
}

#[tauri::command]
pub async fn admin_set_enabled(
    app: State<'_, Shared>,
    req: AdminSetEnabled,
) -> Result<AdminObject, IpcError> {
    blocking(&app, |a| a.admin_set_enabled(req)).await
}

#[tauri::command]
pub async fn admin_delete(app: State<'_, Shared>, req: AdminRef) -> Result<ActionRef, IpcError> {
    blocking(&app, |a| a.admin_delete(req)).await
}

#[tauri::command]
pub async fn admin_revoke_key(
    app: State<'_, Shared>,
    req: AdminRef,
) -> Result<ActionRef, IpcError> {
    blocking(&app, |a| a.admin_revoke_key(req)).await
}

#[tauri::command]
pub async fn admin_create_key(
    app: State<'_, Shared>,
    req: AdminCreateKey,
) -> Result<AdminCreatedKey, IpcError> {
    blocking(&app, |a| a.admin_create_key(req)).await
}

#[tauri::command]
pub async fn admin_rotate_key(
    app: State<'_, Shared>,
    req: AdminRotateKey,
) -> Result<AdminCreatedKey, IpcError> {
    blocking(&app, |a| a.admin_rotate_key(req)).await
}

#[tauri::command]
pub async fn admin_outbox(
    app: State<'_, Shared>,
    req: OutboxQuery,
) -> Result<Vec<AdminAction>, IpcError> {
    blocking(&app, |a| a.admin_outbox(req)).await
}

#[tauri::command]
pub async fn admin_retry(app: State<'_, Shared>, req: ActionRef) -> Result<(), IpcError> {
    blocking(&app, |a| a.admin_retry(req)).await
}

#[tauri::command]
pub async fn admin_retry_all(app: State<'_, Shared>, req: ConnectionRef) -> Result<u32, IpcError> {
    blocking(&app, |a| a.admin_retry_all(req)).await
}

#[tauri::command]
pub async fn admin_discard(
    app: State<'_, Shared>,
    req: ActionRef,
) -> Result<AdminAction, IpcError> {
    blocking(&app, |a| a.admin_discard(req)).await
}

#[tauri::command]
pub async fn admin_conflicts(
    app: State<'_, Shared>,
    req: ConnectionRef,
) -> Result<Vec<AdminAction>, IpcError> {
    blocking(&app, |a| a.admin_conflicts(req)).await
}

#[tauri::command]
pub async fn admin_resolve(
    app: State<'_, Shared>,
    req: ResolveConflict,
) -> Result<AdminAction, IpcError> {
    blocking(&app, |a| a.admin_resolve(req)).await
}

#[tauri::command]
pub async fn admin_audit(
    app: State<'_, Shared>,
    req: AdminAuditQuery,
) -> Result<Vec<AdminAuditEntry>, IpcError> {
    blocking(&app, |a| a.admin_audit(req)).await
}
