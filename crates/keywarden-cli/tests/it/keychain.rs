//! Against the real Secret Service (gnome-keyring in a private D-Bus session).

use base64::Engine as _;

use crate::harness::{Kw, secret_service, secret_tool_search};

#[test]
fn a_secret_set_through_kw_is_in_the_keychain_and_gone_after_rm() {
    if !secret_service() {
        return;
    }
    let kw = Kw::new();
    let value = "sk_live_ss_roundtrip_5c1d\nsecond line\n";
    kw.ok(
        &[
            "secret",
            "set",
            "ss_roundtrip",
            "--env",
            "test",
            "--host",
            "api.example.com",
        ],
        value.as_bytes(),
    );
    let service = kw.service();

    // An independent client (libsecret's secret-tool) finds the entry and its value.
    let id = kw.list_json()[0]["id"].as_str().unwrap().to_owned();
    let found = secret_tool_search(&service);
    assert!(found.contains(&format!("service = {service}")), "{found}");
    assert!(
        found.contains(&format!("attribute.username = {id}")),
        "{found}"
    );
    let lookup = std::process::Command::new("secret-tool")
        .args(["lookup", "service", &service, "username", &id])
        .output()
        .unwrap();
    let stored = String::from_utf8(lookup.stdout).unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(stored.trim_start_matches("kw1:"))
        .unwrap();
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        value,
        "multi-line values come back byte for byte"
    );

    assert_eq!(kw.ok(&["secret", "get", "ss_roundtrip"], b"").stdout, value);

    kw.ok(&["secret", "disable", "ss_roundtrip"], b"");
    let r = kw.run(&["secret", "get", "ss_roundtrip"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("disabled"), "{}", r.stderr);
    kw.ok(&["secret", "enable", "ss_roundtrip"], b"");

    kw.ok(&["secret", "rm", "ss_roundtrip"], b"");
    let after = secret_tool_search(&service);
    assert!(
        !after.contains(&id),
        "the keychain entry is gone after rm: {after}"
    );
    assert!(kw.list_json().is_empty());
}

#[test]
fn rotation_keeps_history_and_status_finds_orphans() {
    if !secret_service() {
        return;
    }
    let kw = Kw::new();
    kw.ok(&["secret", "set", "rotating"], b"value-one");
    kw.ok(&["secret", "set", "rotating"], b"value-two");
    let list = kw.list_json();
    assert_eq!(list[0]["versions"], 2);
    let history: Vec<serde_json::Value> = serde_json::from_str(
        &kw.ok(&["secret", "history", "rotating", "--json"], b"")
            .stdout,
    )
    .unwrap();
    assert_eq!(history.len(), 2);
    assert!(history[1]["retiredAt"].is_number());
    assert_eq!(
        kw.ok(&["secret", "get", "rotating"], b"").stdout,
        "value-two"
    );

    // Remove the value behind Keywarden's back: status --check reports the orphan.
    let service = kw.service();
    let id = list[0]["id"].as_str().unwrap();
    let cleared = std::process::Command::new("secret-tool")
        .args(["clear", "service", &service, "username", id])
        .status()
        .unwrap();
    assert!(cleared.success());
    let r = kw.run(&["secret", "status", "--check"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("1 secret(s) without a value in the store: rotating"),
        "{}",
        r.stdout
    );
    let r = kw.run(&["secret", "get", "rotating"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("has no value"), "{}", r.stderr);
}

/// A keyring that was never unlocked: a clear error, within the timeout, nothing written.
#[test]
fn a_locked_keychain_is_a_clear_error_and_nothing_is_written() {
    if !secret_service() {
        return;
    }
    let kw = Kw::new().env("KEYWARDEN_KEYCHAIN_TIMEOUT_MS", "5000");
    let fake_home = tempfile::tempdir().unwrap();
    let script = r#"
        export HOME="$FAKE_HOME" XDG_DATA_HOME="$FAKE_HOME/data" XDG_RUNTIME_DIR="$FAKE_HOME/run"
        mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
        eval "$(gnome-keyring-daemon --daemonize --components=secrets </dev/null)"
        for i in $(seq 1 50); do
          dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
            org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets | grep -q 'boolean true' && break
          sleep 0.1
        done
        printf 'canary-locked-9a8b' | "$KW" secret set locked_test
        echo "exit=$?"
        kill "$GNOME_KEYRING_PID" 2>/dev/null
    "#;
    let output = std::process::Command::new("dbus-run-session")
        .args(["--", "bash", "-c", script])
        .env("FAKE_HOME", fake_home.path())
        .env("KW", env!("CARGO_BIN_EXE_kw"))
        .env("KEYWARDEN_HOME", kw.home())
        .env("KEYWARDEN_KEYCHAIN_TIMEOUT_MS", "5000")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("exit=1"), "{text}");
    assert!(
        text.contains("keychain is locked") || text.contains("did not answer within"),
        "expected a locked/timeout message: {text}"
    );
    assert!(!text.contains("canary-locked"), "{text}");
    assert!(
        kw.list_json().is_empty(),
        "nothing may be written when the keychain is locked"
    );
}
