//! `kw render`, `kw send`, `kw run`, profiles, environments and history, on a vault file
//! (a real store that needs no keychain) against a loopback HTTP server.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use crate::harness::{Kw, contains, files_under};

const CANARY: &str = "KWCANARY-compose-61c0de";

fn vault() -> (Kw, tempfile::NamedTempFile) {
    let pass = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(pass.path(), "compose tests passphrase").unwrap();
    let kw = Kw::new().env("KEYWARDEN_PASSPHRASE_FILE", pass.path().to_str().unwrap());
    kw.ok(&["store", "use-file"], b"");
    (kw, pass)
}

/// Answers `status` to every request and keeps the raw requests.
fn server(status: &'static str) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = vec![0u8; 65536];
            let mut n = 0;
            while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf[n..]) {
                    Ok(0) | Err(_) => break,
                    Ok(m) => n += m,
                }
            }
            log.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            let body = "{\"hello\":\"world\"}";
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, seen)
}

#[test]
fn render_is_redacted_unless_revealed() {
    let (kw, _p) = vault();
    kw.ok(&["secret", "set", "billing_api"], b"sk_live_render");
    let r = kw.ok(&["render", "Bearer ${secret.billing_api}"], b"");
    assert_eq!(r.stdout, "Bearer [secret.billing_api]");
    let r = kw.ok(&["render", "--reveal", "Bearer ${secret.billing_api}"], b"");
    assert_eq!(r.stdout, "Bearer sk_live_render");
    let r = kw.run(&["render", "Bearer ${secret.billing"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("line 1, column 8: unterminated expression"),
        "{}",
        r.stderr
    );
    let r = kw.run(&["render", "x ${secret.nope}"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("column 5: unknown secret `nope`"),
        "{}",
        r.stderr
    );
    kw.ok(&["secret", "disable", "billing_api"], b"");
    let r = kw.run(&["render", "--reveal", "${secret.billing_api}"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("disabled"), "{}", r.stderr);
}

#[test]
fn send_with_a_profile_and_environment() {
    let (kw, _p) = vault();
    let (port, seen) = server("200 OK");
    kw.ok(
        &["secret", "set", "billing_api", "--host", "127.0.0.1"],
        b"sk_live_send",
    );
    kw.ok(
        &[
            "profile",
            "add",
            "billing",
            "--secret",
            "billing_api",
            "--style",
            "key",
        ],
        b"",
    );
    kw.ok(
        &[
            "env",
            "set",
            "Test",
            "--var",
            "tenant=acme",
            "--query-param",
            "_profile=Test",
        ],
        b"",
    );
    let url = format!("http://127.0.0.1:{port}/t/${{env.tenant}}");
    let r = kw.ok(
        &[
            "send",
            &url,
            "-p",
            "billing",
            "-e",
            "Test",
            "-H",
            "X-Trace: ${uuid()}",
        ],
        b"",
    );
    assert_eq!(r.stdout, "{\"hello\":\"world\"}");
    assert!(r.stderr.contains("200 OK"), "{}", r.stderr);
    let raw = seen.lock().unwrap().pop().unwrap();
    assert!(
        raw.starts_with("GET /t/acme?_profile=Test HTTP/1.1\r\n"),
        "{raw}"
    );
    assert!(
        raw.to_ascii_lowercase()
            .contains("authorization: key=sk_live_send\r\n"),
        "{raw}"
    );

    // A body makes POST the default method; -X still wins.
    let plain = format!("http://127.0.0.1:{port}/items");
    kw.ok(&["send", &plain, "--json", "{}"], b"");
    assert!(
        seen.lock()
            .unwrap()
            .pop()
            .unwrap()
            .starts_with("POST /items ")
    );
    kw.ok(&["send", &plain, "-X", "PUT", "--json", "{}"], b"");
    assert!(
        seen.lock()
            .unwrap()
            .pop()
            .unwrap()
            .starts_with("PUT /items ")
    );
    let history: Vec<serde_json::Value> =
        serde_json::from_str(&kw.ok(&["history", "--json"], b"").stdout).unwrap();
    assert_eq!(history[2]["status"], 200);
    assert_eq!(history[2]["spec"]["url"], url);
    assert_eq!(history[2]["secrets"][0]["name"], "billing_api");
    assert_eq!(history[0]["spec"]["method"], "PUT");
}

#[test]
fn refusals_and_fail_exit_codes() {
    let (kw, _p) = vault();
    let (port, _) = server("401 Unauthorized");
    kw.ok(&["secret", "set", "k", "--host", "127.0.0.1"], b"v");
    kw.ok(
        &["profile", "add", "p", "--secret", "k", "--style", "bearer"],
        b"",
    );
    let url = format!("http://127.0.0.1:{port}/");
    let r = kw.run(&["send", &url, "-p", "p", "--fail"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("why 401?"), "{}", r.stderr);
    assert_eq!(kw.run(&["send", &url, "-p", "p"]).code, 0);
    let r = kw.run(&["send", "https://elsewhere.example/", "-p", "p"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("may only be sent to 127.0.0.1"),
        "{}",
        r.stderr
    );
    let r = kw.run(&["send", &url, "-p", "missing"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no key profile named"), "{}", r.stderr);
    let r = kw.run(&["send", &url, "-H", "Bad Header ${secret.k}"]);
    assert_eq!(r.code, 2);
    let r = kw.run(&["profile", "add", "x", "--secret", "k", "--style", "basic"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--user"), "{}", r.stderr);
}

#[test]
fn run_masks_secrets_in_the_commands_output() {
    let (kw, _p) = vault();
    kw.ok(&["secret", "set", "token"], b"tok-123456");
    let r = kw.run(&[
        "run",
        "--env",
        "TOKEN=${secret.token}",
        "--env",
        "AUTH=Bearer ${secret.token}",
        "--",
        "sh",
        "-c",
        "echo \"$TOKEN|$AUTH\"; echo \"err $TOKEN\" >&2; test \"$TOKEN\" = tok-123456 && exit 7",
    ]);
    assert_eq!(r.code, 7, "{}", r.stderr);
    assert_eq!(r.stdout, "[secret.token]|Bearer [secret.token]\n");
    assert_eq!(r.stderr, "err [secret.token]\n");
}

/// The canary goes through render, send (header, query, body), curl, history, errors and
/// `kw run`; then no file under KEYWARDEN_HOME and nothing kw printed to stderr holds it.
#[test]
fn canary_never_leaks_through_the_composer() {
    let (kw, _p) = vault();
    let (port, _) = server("403 Forbidden");
    kw.ok(
        &["-v", "secret", "set", "canary_key", "--host", "127.0.0.1"],
        CANARY.as_bytes(),
    );
    kw.ok(
        &[
            "-v",
            "profile",
            "add",
            "c",
            "--secret",
            "canary_key",
            "--style",
            "basic",
            "--user",
            "u",
        ],
        b"",
    );
    let url = format!("http://127.0.0.1:{port}/x");
    kw.ok(&["-v", "render", "Bearer ${secret.canary_key}"], b"");
    kw.ok(
        &[
            "-v",
            "send",
            &url,
            "-p",
            "c",
            "-q",
            "k=${secret.canary_key}",
            "--json",
            "{\"s\":\"${secret.canary_key}\"}",
        ],
        b"",
    );
    kw.ok(&["-v", "send", &url, "-p", "c", "--curl"], b"");
    kw.ok(&["-v", "send", &url, "-p", "c", "--dry-run"], b"");
    // Refused before anything is sent: the key is bound to its host.
    let refused = kw.run(&["-v", "send", "https://not-allowed.example/", "-p", "c"]);
    assert_ne!(refused.code, 0, "{}", refused.stderr);
    // An unknown secret in a template is an input error.
    let bad = kw.run(&[
        "-v",
        "send",
        &url,
        "-H",
        "X: ${base64(secret.canary_key)}${secret.nope}",
    ]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    kw.ok(&["-v", "history"], b"");
    let run = kw.run(&[
        "-v",
        "run",
        "--env",
        "C=${secret.canary_key}",
        "--",
        "sh",
        "-c",
        "echo $C; echo $C >&2",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stdout.contains(CANARY) && !run.stderr.contains(CANARY));
    let stdout_of_history = kw.ok(&["history", "--json"], b"").stdout;
    assert!(!stdout_of_history.contains(CANARY));
    for f in files_under(kw.home()) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !contains(&bytes, CANARY.as_bytes()),
            "canary in {}",
            f.display()
        );
    }
    assert!(
        !contains(&kw.log.borrow(), CANARY.as_bytes()),
        "canary in kw's standard error"
    );
}
