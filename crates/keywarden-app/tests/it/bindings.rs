use std::path::PathBuf;

fn bindings_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/ipc/bindings.ts")
}

/// The committed TypeScript bindings match the Rust IPC types.
/// Regenerate with `UPDATE_BINDINGS=1 cargo test -p keywarden-app bindings`.
#[test]
fn bindings_are_fresh() {
    let expected = keywarden_app::ipc::typescript_bindings();
    let path = bindings_path();
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        std::fs::write(&path, &expected).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "{} is stale: run `UPDATE_BINDINGS=1 cargo test -p keywarden-app bindings` and commit the result",
        path.display()
    );
}
