//! Keywarden's desktop shell: Tauri wiring over `keywarden-app`.
//!
//! - `commands`: one adapter per IPC command, each calling one [`App`] method off the async runtime.
//! - `requests`: the same for the Requests screen (profiles, environments, preview, send, history).
//! - `admin`: the same for the Admin screen (key servers, principals, keys, sync, audit).
//! - `clipboard`: the system clipboard behind the core's `Clipboard` trait.
//! - `logging`: the process's log file (the core-dump policy is `keywarden_app::hardening`).
//!
//! [`with_vault`] is generic over the runtime so the tests drive the same handlers through
//! Tauri's mock runtime.

pub mod admin;
pub mod clipboard;
pub mod commands;
pub mod logging;
pub mod requests;

use std::sync::Arc;

use keywarden_app::App;

/// Registers the vault state and every command on a Tauri builder
/// (`tauri::Builder::default()` in the app, `tauri::test::mock_builder()` in tests).
pub fn with_vault<R: tauri::Runtime>(
    builder: tauri::Builder<R>,
    app: Arc<App>,
) -> tauri::Builder<R> {
    builder.manage(app).invoke_handler(tauri::generate_handler![
        commands::vault_status,
        commands::self_test,
        commands::list_secrets,
        commands::create_secret,
        commands::update_secret,
        commands::replace_value,
        commands::set_enabled,
        commands::delete_secret,
        commands::reveal_secret,
        commands::copy_secret,
        commands::copy_text,
        commands::secret_versions,
        commands::unlock_vault,
        commands::choose_backend,
        requests::list_profiles,
        requests::save_profile,
        requests::delete_profile,
        requests::list_environments,
        requests::save_environment,
        requests::delete_environment,
        requests::preview_request,
        requests::send_request,
        requests::copy_as_curl,
        requests::list_history,
        requests::clear_history,
        requests::list_saved_requests,
        requests::save_request,
        requests::delete_saved_request,
        admin::admin_connect,
        admin::admin_connect_embedded,
        admin::admin_disconnect,
        admin::admin_status,
        admin::admin_start_sync,
        admin::admin_sync_now,
        admin::admin_list,
        admin::admin_get,
        admin::admin_refresh,
        admin::admin_create,
        admin::admin_update,
        admin::admin_set_enabled,
        admin::admin_delete,
        admin::admin_revoke_key,
        admin::admin_create_key,
        admin::admin_rotate_key,
        admin::admin_outbox,
        admin::admin_retry,
        admin::admin_retry_all,
        admin::admin_discard,
        admin::admin_conflicts,
        admin::admin_resolve,
        admin::admin_audit,
    ])
}

/// `--home DIR` opens the profile in DIR (like `KEYWARDEN_HOME`, which it overrides), so
/// several profiles can run side by side and tests can start the window on a fresh one.
pub fn home_from_args(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Option<std::path::PathBuf> {
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--home" {
            return args.next().map(std::path::PathBuf::from);
        }
        if let Some(dir) = arg.to_str().and_then(|a| a.strip_prefix("--home=")) {
            return Some(dir.into());
        }
    }
    None
}

/// Opens the profile, builds the window and runs until it closes.
pub fn run() {
    let home =
        home_from_args(std::env::args_os().skip(1)).unwrap_or_else(keywarden_app::default_home);
    let log = logging::init(&home);
    // Before the profile is opened, i.e. before any secret can be in memory.
    keywarden_app::hardening::disable_core_dumps();
    tracing::info!(version = env!("CARGO_PKG_VERSION"), home = %home.display(), log = ?log, "starting Keywarden");

    let started = std::time::Instant::now();
    let app = Arc::new(App::open(
        home,
        Arc::new(clipboard::SystemClipboard::default()),
    ));
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "profile opened"
    );
    let on_exit = Arc::clone(&app);
    let result = with_vault(tauri::Builder::default(), app)
        .build(tauri::generate_context!("../tauri.conf.json"))
        .map(|tauri_app| {
            tauri_app.run(move |_handle, event| {
                if let tauri::RunEvent::Exit = event {
                    // Clear the clipboard if it still holds a value we copied.
                    on_exit.shutdown();
                    tracing::info!("Keywarden closed");
                }
            })
        });
    if let Err(err) = result {
        tracing::error!(error = %err, "the window could not start");
        eprintln!("keywarden: the window could not start: {err}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::home_from_args;
    use std::path::PathBuf;

    fn args(a: &[&str]) -> Vec<std::ffi::OsString> {
        a.iter().map(Into::into).collect()
    }

    #[test]
    fn home_comes_from_either_form_of_the_flag() {
        assert_eq!(
            home_from_args(args(&["--home", "/tmp/a"])),
            Some(PathBuf::from("/tmp/a"))
        );
        assert_eq!(
            home_from_args(args(&["-x", "--home=/tmp/b"])),
            Some(PathBuf::from("/tmp/b"))
        );
        assert_eq!(home_from_args(args(&[])), None);
        assert_eq!(home_from_args(args(&["--home"])), None);
    }
}
