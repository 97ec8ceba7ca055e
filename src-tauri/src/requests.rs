//! The Requests screen's commands: one adapter per [`App`](keywarden_app::App) method, run
//! off the async runtime like the vault's (a send waits on the network, a render on the keychain).
//! No logic lives here; it belongs in `keywarden-app`.

use keywarden_app::ipc::{
    CopyCurl, CurlCopied, Environment, HistoryEntry, HistoryQuery, IpcError, KeyProfile, NameRef,
    RequestPreview, RequestSpec, SaveRequest, SavedRequest, SecretRef, SendResult,
};
use tauri::State;

use crate::commands::{Shared, blocking};

#[tauri::command]
pub async fn list_profiles(app: State<'_, Shared>) -> Result<Vec<KeyProfile>, IpcError> {
    blocking(&app, |a| a.list_profiles()).await
}

#[tauri::command]
pub async fn save_profile(
    app: State<'_, Shared>,
    req: KeyProfile,
) -> Result<Vec<KeyProfile>, IpcError> {
    blocking(&app, |a| a.save_profile(req)).await
}

#[tauri::command]
pub async fn delete_profile(
    app: State<'_, Shared>,
    req: NameRef,
) -> Result<Vec<KeyProfile>, IpcError> {
    blocking(&app, |a| a.delete_profile(req)).await
}

#[tauri::command]
pub async fn list_environments(app: State<'_, Shared>) -> Result<Vec<Environment>, IpcError> {
    blocking(&app, |a| a.list_environments()).await
}

#[tauri::command]
pub async fn save_environment(
    app: State<'_, Shared>,
    req: Environment,
) -> Result<Vec<Environment>, IpcError> {
    blocking(&app, |a| a.save_environment(req)).await
}

#[tauri::command]
pub async fn delete_environment(
    app: State<'_, Shared>,
    req: NameRef,
) -> Result<Vec<Environment>, IpcError> {
    blocking(&app, |a| a.delete_environment(req)).await
}

#[tauri::command]
pub async fn preview_request(
    app: State<'_, Shared>,
    req: RequestSpec,
) -> Result<RequestPreview, IpcError> {
    blocking(&app, |a| a.preview_request(req)).await
}

#[tauri::command]
pub async fn send_request(
    app: State<'_, Shared>,
    req: RequestSpec,
) -> Result<SendResult, IpcError> {
    blocking(&app, |a| a.send_request(req)).await
}

#[tauri::command]
pub async fn copy_as_curl(app: State<'_, Shared>, req: CopyCurl) -> Result<CurlCopied, IpcError> {
    blocking(&app, |a| a.copy_as_curl(req)).await
}

#[tauri::command]
pub async fn list_history(
    app: State<'_, Shared>,
    req: HistoryQuery,
) -> Result<Vec<HistoryEntry>, IpcError> {
    blocking(&app, |a| a.list_history(req)).await
}

#[tauri::command]
pub async fn clear_history(app: State<'_, Shared>) -> Result<(), IpcError> {
    blocking(&app, |a| a.clear_history()).await
}

#[tauri::command]
pub async fn list_saved_requests(app: State<'_, Shared>) -> Result<Vec<SavedRequest>, IpcError> {
    blocking(&app, |a| a.list_saved_requests()).await
}

#[tauri::command]
pub async fn save_request(
    app: State<'_, Shared>,
    req: SaveRequest,
) -> Result<SavedRequest, IpcError> {
    blocking(&app, |a| a.save_request(req)).await
}

#[tauri::command]
pub async fn delete_saved_request(app: State<'_, Shared>, req: SecretRef) -> Result<(), IpcError> {
    blocking(&app, |a| a.delete_saved_request(req)).await
}
