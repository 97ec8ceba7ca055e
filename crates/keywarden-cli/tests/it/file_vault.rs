//! The encrypted vault file, chosen explicitly for machines without a keychain.

use crate::harness::Kw;

fn with_passphrase(kw: Kw, text: &str) -> (Kw, tempfile::NamedTempFile) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    let kw = kw.env("KEYWARDEN_PASSPHRASE_FILE", file.path().to_str().unwrap());
    (kw, file)
}

#[test]
fn vault_file_round_trip_without_any_keychain() {
    let kw = Kw::new()
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .env("DISPLAY", "");
    let (kw, _pass) = with_passphrase(kw, "correct horse battery staple");
    let r = kw.ok(&["store", "use-file"], b"");
    assert!(r.stderr.contains("vault.kwv"), "{}", r.stderr);
    kw.ok(
        &["secret", "set", "offline_key"],
        b"-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n",
    );
    assert_eq!(
        kw.ok(&["secret", "get", "offline_key"], b"").stdout,
        "-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n"
    );
    let status = kw.ok(&["secret", "status"], b"").stdout;
    assert!(status.contains("Encrypted vault file"), "{status}");
    assert!(status.contains("Health:     ok"), "{status}");
}

#[test]
fn wrong_passphrase_and_missing_passphrase_are_clear_errors() {
    let (kw, pass) = with_passphrase(Kw::new(), "the right passphrase");
    kw.ok(&["store", "use-file"], b"");
    kw.ok(&["secret", "set", "k"], b"v");
    std::fs::write(pass.path(), "the wrong passphrase").unwrap();
    let r = kw.run(&["secret", "get", "k"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("wrong passphrase"), "{}", r.stderr);

    let r = kw
        .command(&["secret", "get", "k"])
        .env_remove("KEYWARDEN_PASSPHRASE_FILE")
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("KEYWARDEN_PASSPHRASE_FILE"));
    // Listing needs no passphrase: it never reads values.
    let r = kw
        .command(&["secret", "list"])
        .env_remove("KEYWARDEN_PASSPHRASE_FILE")
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&r.stdout).contains('k'));
}

#[test]
fn switching_store_is_refused_while_secrets_exist() {
    let (kw, _pass) = with_passphrase(Kw::new(), "a long enough passphrase");
    kw.ok(&["store", "use-file"], b"");
    kw.ok(&["secret", "set", "k"], b"v");
    let r = kw.run(&["store", "use-keychain"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("only be switched while it is empty"),
        "{}",
        r.stderr
    );
    let (kw2, _p2) = with_passphrase(Kw::new(), "short");
    let r = kw2.run(&["store", "use-file"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("at least 8"), "{}", r.stderr);
}
