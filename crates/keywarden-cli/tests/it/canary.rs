//! Plant a recognisable secret, exercise every operation, then search every file
//! the product wrote (database, WAL, shared memory, logs) and everything it
//! printed to standard error for the canary's bytes.

use base64::Engine as _;

use crate::harness::{Kw, contains, files_under, secret_service};

const CANARY: &str = "KWCANARY-7d1e0c2b-secret-value";

fn assert_no_canary(kw: &Kw) {
    // The value (and so every value that starts with it), a piece of it, and the encodings
    // a flow might give it. CANARY's length is a multiple of 3, so its base64 forms are
    // prefixes of those of every longer value.
    let b64 = base64::engine::general_purpose::STANDARD;
    let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let hex: String = CANARY.bytes().map(|b| format!("{b:02x}")).collect();
    let percent: String = CANARY
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    assert_eq!(CANARY.len() % 3, 0);
    let variants: Vec<Vec<u8>> = vec![
        CANARY.as_bytes().to_vec(),
        b"7d1e0c2b-secret".to_vec(),
        b64.encode(CANARY).into_bytes(),
        b64url.encode(CANARY).into_bytes(),
        hex.clone().into_bytes(),
        hex.to_uppercase().into_bytes(),
        percent.into_bytes(),
    ];
    let files = files_under(kw.home());
    assert!(
        files.iter().any(|f| f.ends_with("keywarden.db")),
        "the database exists: {files:?}"
    );
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for v in &variants {
            assert!(!contains(&bytes, v), "canary found in {}", f.display());
        }
    }
    let log = kw.log.borrow();
    assert!(!log.is_empty(), "kw -v wrote its log to standard error");
    for v in &variants {
        assert!(!contains(&log, v), "canary found in kw's standard error");
    }
}

#[test]
fn canary_never_reaches_disk_or_logs_keychain() {
    if !secret_service() {
        return;
    }
    let kw = Kw::new();
    kw.ok(
        &[
            "-v",
            "secret",
            "set",
            "canary",
            "--env",
            "prod",
            "--tag",
            "t1",
            "--host",
            "*.example.com",
        ],
        CANARY.as_bytes(),
    );
    assert_eq!(
        kw.ok(&["-v", "secret", "get", "canary"], b"").stdout,
        CANARY
    );
    kw.ok(&["-v", "secret", "list"], b"");
    kw.ok(&["-v", "secret", "list", "--json", "--search", "can"], b"");
    kw.ok(
        &["-v", "secret", "set", "canary"],
        format!("{CANARY}-2").as_bytes(),
    );
    kw.ok(&["-v", "secret", "rename", "canary", "canary2"], b"");
    kw.ok(&["-v", "secret", "disable", "canary2"], b"");
    let disabled = kw.run(&["-v", "secret", "get", "canary2"]);
    assert_eq!(
        disabled.code, 1,
        "a disabled secret is not read: {}",
        disabled.stderr
    );
    kw.ok(&["-v", "secret", "enable", "canary2"], b"");
    kw.ok(&["-v", "secret", "history", "canary2"], b"");
    kw.ok(&["-v", "secret", "status", "--check"], b"");
    // Same value again: refused, and the error must not echo it.
    let r = kw.run_with(
        &["-v", "secret", "set", "canary2"],
        format!("{CANARY}-2").as_bytes(),
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    kw.ok(&["-v", "secret", "set", "other"], CANARY.as_bytes());
    kw.ok(&["-v", "secret", "rm", "other"], b"");
    assert_no_canary(&kw);
}

#[test]
fn canary_never_reaches_disk_file_vault() {
    let kw = Kw::new();
    let pass = kw
        .home()
        .join("..")
        .join(format!("pass-{}", std::process::id()));
    std::fs::write(&pass, "a long enough passphrase\n").unwrap();
    let kw = kw.env("KEYWARDEN_PASSPHRASE_FILE", pass.to_str().unwrap());
    kw.ok(&["-v", "store", "use-file"], b"");
    kw.ok(&["-v", "secret", "set", "canary"], CANARY.as_bytes());
    assert_eq!(
        kw.ok(&["-v", "secret", "get", "canary"], b"").stdout,
        CANARY
    );
    kw.ok(
        &["-v", "secret", "set", "canary"],
        format!("{CANARY}-rotated").as_bytes(),
    );
    kw.ok(&["-v", "secret", "status", "--check"], b"");
    assert_no_canary(&kw);
    let _ = std::fs::remove_file(pass);
}
