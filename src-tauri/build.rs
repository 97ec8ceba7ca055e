//! The configuration sits at the repository top level. The app manifest lists every command,
//! so the window may call only those its capability grants (`capabilities/main.json`).

fn main() {
    let attrs = tauri_build::Attributes::new()
        .config_path("../tauri.conf.json")
        .app_manifest(tauri_build::AppManifest::new().commands(keywarden_commands()));
    tauri_build::try_build(attrs).expect("tauri-build failed");
}

// Kept in step with `src/commands.rs`, `src/requests.rs` and `src/admin.rs` (`generate_handler!` fails the build when a name is missing there,
// and the window's capability fails the build when it names a command not listed here).
fn keywarden_commands() -> &'static [&'static str] {
    &[
        "vault_status",
        "self_test",
        "list_secrets",
        "create_secret",
        "update_secret",
        "replace_value",
        "set_enabled",
        "delete_secret",
        "reveal_secret",
        "copy_secret",
        "copy_text",
        "secret_versions",
        "unlock_vault",
        "choose_backend",
        "list_profiles",
        "save_profile",
        "delete_profile",
        "list_environments",
        "save_environment",
        "delete_environment",
        "preview_request",
        "send_request",
        "copy_as_curl",
        "list_history",
        "clear_history",
        "list_saved_requests",
        "save_request",
        "delete_saved_request",
        "admin_connect",
        "admin_connect_embedded",
        "admin_disconnect",
        "admin_status",
        "admin_start_sync",
        "admin_sync_now",
        "admin_list",
        "admin_get",
        "admin_refresh",
        "admin_create",
        "admin_update",
        "admin_set_enabled",
        "admin_delete",
        "admin_revoke_key",
        "admin_create_key",
        "admin_rotate_key",
        "admin_outbox",
        "admin_retry",
        "admin_retry_all",
        "admin_discard",
        "admin_conflicts",
        "admin_resolve",
        "admin_audit",
    ]
}
