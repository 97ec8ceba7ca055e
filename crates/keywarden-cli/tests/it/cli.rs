use crate::harness::Kw;

#[test]
fn help_everywhere_and_usage_errors_exit_2() {
    let kw = Kw::new();
    for args in [
        vec!["--help"],
        vec!["secret", "--help"],
        vec!["secret", "set", "--help"],
        vec!["secret", "get", "--help"],
        vec!["secret", "list", "--help"],
        vec!["secret", "rm", "--help"],
        vec!["secret", "enable", "--help"],
        vec!["secret", "disable", "--help"],
        vec!["secret", "rename", "--help"],
        vec!["secret", "history", "--help"],
        vec!["secret", "status", "--help"],
        vec!["store", "--help"],
        vec!["store", "use-file", "--help"],
    ] {
        let r = kw.run(&args);
        assert_eq!(r.code, 0, "{args:?}");
        assert!(r.stdout.contains("Usage:"), "{args:?}: {}", r.stdout);
    }
    assert_eq!(kw.run(&[]).code, 2);
    assert_eq!(kw.run(&["secret", "frobnicate"]).code, 2);
    assert_eq!(kw.run(&["secret", "get"]).code, 2);
    // A value on the command line is not accepted.
    assert_eq!(kw.run(&["secret", "set", "name", "the-value"]).code, 2);
}

#[test]
fn bad_input_is_a_usage_error_and_writes_nothing() {
    let kw = Kw::new();
    let r = kw.run_with(&["secret", "set", "bad name"], b"value");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("position 4"), "{}", r.stderr);
    let r = kw.run_with(&["secret", "set", "ok", "--expires", "someday"], b"value");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--expires"), "{}", r.stderr);
    let r = kw.run_with(&["secret", "set", "ok", "--host", "http://a/b"], b"value");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("host pattern"), "{}", r.stderr);
    assert!(kw.list_json().is_empty());
}

#[test]
fn unknown_secrets_fail_with_exit_1() {
    let kw = Kw::new();
    for args in [
        ["secret", "get", "nope"],
        ["secret", "rm", "nope"],
        ["secret", "enable", "nope"],
    ] {
        let r = kw.run(&args);
        assert_eq!(r.code, 1, "{args:?}");
        assert!(
            r.stderr.contains("no secret named \"nope\""),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn empty_list_says_how_to_start() {
    let kw = Kw::new();
    let r = kw.ok(&["secret", "list"], b"");
    assert!(r.stderr.contains("kw secret set NAME"), "{}", r.stderr);
    assert_eq!(kw.list_json(), Vec::<serde_json::Value>::new());
}

#[test]
fn no_secret_service_is_a_clear_error_and_nothing_is_written() {
    let kw = Kw::new()
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/keywarden-test-bus",
        )
        .env("DISPLAY", "");
    let r = kw.run_with(
        &["secret", "set", "orphan_test"],
        b"canary-no-keychain-1f2e",
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("no keychain is available"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("kw store use-file"), "{}", r.stderr);
    assert!(
        kw.list_json().is_empty(),
        "a secret row was written although the keychain failed"
    );
    let r = kw.run(&["secret", "status"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("Health:     unavailable"), "{}", r.stdout);
    for f in crate::harness::files_under(kw.home()) {
        assert!(
            !crate::harness::contains(&std::fs::read(&f).unwrap(), b"canary-no-keychain"),
            "{}",
            f.display()
        );
    }
}

#[test]
fn a_damaged_database_is_refused_and_kept() {
    let kw = Kw::new();
    let db = kw.home().join("keywarden.db");
    std::fs::write(&db, b"definitely not sqlite").unwrap();
    let r = kw.run(&["secret", "list"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("damaged"), "{}", r.stderr);
    assert_eq!(std::fs::read(&db).unwrap(), b"definitely not sqlite");
}
