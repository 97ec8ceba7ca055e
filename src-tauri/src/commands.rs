//! One adapter per IPC command: each runs the matching [`App`] method off the async
//! runtime (the keychain can block for seconds) and returns its result unchanged.
//! No logic lives here; it belongs in `keywarden-app`.

use std::sync::Arc;

use keywarden_app::App;
use keywarden_app::ipc::{
    ChooseBackend, CopyReceipt, CopyText, CreateSecret, ErrorCode, IpcError, ListSecrets,
    Passphrase, ReplaceValue, RevealedSecret, SecretRef, SecretSummary, SetEnabled, UpdateSecret,
    ValueVersion, VaultStatus,
};
use tauri::State;

/// The app as Tauri manages it.
pub type Shared = Arc<App>;

/// Runs `f` on the blocking pool. A panic inside becomes an `internal` error, never a crash of the window.
pub(crate) async fn blocking<T, F>(app: &Shared, f: F) -> Result<T, IpcError>
where
    T: Send + 'static,
    F: FnOnce(&App) -> Result<T, IpcError> + Send + 'static,
{
    let app = Arc::clone(app);
    tauri::async_runtime::spawn_blocking(move || f(&app))
        .await
        .unwrap_or_else(|err| {
            tracing::error!(error = %err, "a command failed unexpectedly");
            Err(IpcError {
                code: ErrorCode::Internal,
                message: "Keywarden hit an internal error. Details are in the log file.".into(),
                field: None,
            })
        })
}

#[tauri::command]
pub async fn vault_status(app: State<'_, Shared>) -> Result<VaultStatus, IpcError> {
    blocking(&app, |a| Ok(a.status())).await
}

#[tauri::command]
pub async fn self_test(app: State<'_, Shared>) -> Result<VaultStatus, IpcError> {
    blocking(&app, |a| Ok(a.self_test())).await
}

#[tauri::command]
pub async fn list_secrets(
    app: State<'_, Shared>,
    req: ListSecrets,
) -> Result<Vec<SecretSummary>, IpcError> {
    blocking(&app, |a| a.list_secrets(req)).await
}

#[tauri::command]
pub async fn create_secret(
    app: State<'_, Shared>,
    req: CreateSecret,
) -> Result<SecretSummary, IpcError> {
    blocking(&app, |a| a.create_secret(req)).await
}

#[tauri::command]
pub async fn update_secret(
    app: State<'_, Shared>,
    req: UpdateSecret,
) -> Result<SecretSummary, IpcError> {
    blocking(&app, |a| a.update_secret(req)).await
}

#[tauri::command]
pub async fn replace_value(
    app: State<'_, Shared>,
    req: ReplaceValue,
) -> Result<SecretSummary, IpcError> {
    blocking(&app, |a| a.replace_value(req)).await
}

#[tauri::command]
pub async fn set_enabled(
    app: State<'_, Shared>,
    req: SetEnabled,
) -> Result<SecretSummary, IpcError> {
    blocking(&app, |a| a.set_enabled(req)).await
}

#[tauri::command]
pub async fn delete_secret(app: State<'_, Shared>, req: SecretRef) -> Result<(), IpcError> {
    blocking(&app, |a| a.delete_secret(req)).await
}

#[tauri::command]
pub async fn reveal_secret(
    app: State<'_, Shared>,
    req: SecretRef,
) -> Result<RevealedSecret, IpcError> {
    blocking(&app, |a| a.reveal_secret(req)).await
}

#[tauri::command]
pub async fn copy_secret(app: State<'_, Shared>, req: SecretRef) -> Result<CopyReceipt, IpcError> {
    blocking(&app, |a| a.copy_secret(req)).await
}

#[tauri::command]
pub async fn copy_text(app: State<'_, Shared>, req: CopyText) -> Result<CopyReceipt, IpcError> {
    blocking(&app, |a| a.copy_text(req)).await
}

#[tauri::command]
pub async fn secret_versions(
    app: State<'_, Shared>,
    req: SecretRef,
) -> Result<Vec<ValueVersion>, IpcError> {
    blocking(&app, |a| a.secret_versions(req)).await
}

#[tauri::command]
pub async fn unlock_vault(
    app: State<'_, Shared>,
    req: Passphrase,
) -> Result<VaultStatus, IpcError> {
    blocking(&app, |a| a.unlock_vault(req)).await
}

#[tauri::command]
pub async fn choose_backend(
    app: State<'_, Shared>,
    req: ChooseBackend,
) -> Result<VaultStatus, IpcError> {
    blocking(&app, |a| a.choose_backend(req)).await
}
