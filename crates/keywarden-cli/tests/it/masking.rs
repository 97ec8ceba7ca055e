//! Secrets stay masked on every face of `kw`: `kw send` against an echo server that repeats
//! the key raw and encoded, `kw run` with the key inside a template, split across writes, on
//! standard error, and multi-line; then no file under KEYWARDEN_HOME and nothing kw printed
//! holds the value in any encoding. A vault file keeps the values (no keychain needed).

use std::io::{Read, Write};
use std::net::TcpListener;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

use crate::harness::{Kw, contains, files_under};

/// Has `+`, `/`, `=`, `?` and `~`, so its percent and base64 forms differ from it; 29 bytes,
/// so base64 has padding.
const KEY: &str = "KWCANARY_mask+9f3e/ab=cd?x~z1";
/// A multi-line value (a PEM-like key).
const PEM: &str = "-----BEGIN TEST KEY-----\nKWCANARYpemLineOne0123456789\nKWCANARYpemLineTwo9876543210\n-----END TEST KEY-----\n";

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn percent(b: &[u8], upper: bool) -> String {
    b.iter()
        .map(|&x| match x {
            x if x.is_ascii_alphanumeric() || b"-._~".contains(&x) => (x as char).to_string(),
            x if upper => format!("%{x:02X}"),
            x => format!("%{x:02x}"),
        })
        .collect()
}

/// The value and every encoding the masker promises to catch.
fn forms(value: &str) -> Vec<(&'static str, String)> {
    let b = value.as_bytes();
    vec![
        ("raw", value.to_owned()),
        ("base64", STANDARD.encode(b)),
        ("base64 unpadded", STANDARD_NO_PAD.encode(b)),
        ("base64url", URL_SAFE.encode(b)),
        ("base64url unpadded", URL_SAFE_NO_PAD.encode(b)),
        ("percent", percent(b, true)),
        ("percent lower", percent(b, false)),
        ("hex", hex(b)),
        ("HEX", hex(b).to_uppercase()),
    ]
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// An echo endpoint in the manner of httpbin's `/bearer` and `/anything`: it repeats the
/// Authorization header, the token and the body, raw and in every encoding, in its body
/// and in two response headers. Returns the port.
fn echo_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head, body) = loop {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break (String::new(), Vec::new()),
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
                if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                    let len = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        break (head, buf[end + 4..end + 4 + len].to_vec());
                    }
                }
            };
            let auth = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("authorization")
                        .then(|| v.trim().to_owned())
                })
                .unwrap_or_default();
            let token = auth.strip_prefix("Bearer ").unwrap_or(&auth).to_owned();
            let mut fields = vec![
                ("authorization".to_owned(), auth.clone()),
                ("token".to_owned(), token.clone()),
                (
                    "body".to_owned(),
                    String::from_utf8_lossy(&body).into_owned(),
                ),
                ("authorization_base64".to_owned(), STANDARD.encode(&auth)),
            ];
            for (name, form) in forms(&token).into_iter().skip(1) {
                fields.push((format!("token_{}", name.replace(' ', "_")), form));
            }
            let json = format!(
                "{{{}}}\n",
                fields
                    .iter()
                    .map(|(k, v)| format!("{}:{}", json_string(k), json_string(v)))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Echo-Authorization: {auth}\r\n\
                 X-Echo-Token-Hex: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
                hex(token.as_bytes()),
                json.len()
            );
        }
    });
    port
}

fn vault() -> (Kw, tempfile::NamedTempFile) {
    let pass = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(pass.path(), "masking tests passphrase").unwrap();
    let kw = Kw::new().env("KEYWARDEN_PASSPHRASE_FILE", pass.path().to_str().unwrap());
    kw.ok(&["store", "use-file"], b"");
    (kw, pass)
}

fn assert_no_form(what: &str, text: &[u8], values: &[&str]) {
    for v in values {
        for (name, form) in forms(v) {
            assert!(
                !contains(text, form.as_bytes()),
                "{what} holds the {name} form of a secret:\n{}",
                String::from_utf8_lossy(text)
            );
        }
        for line in v.lines().filter(|l| l.len() >= 8) {
            assert!(
                !contains(text, line.as_bytes()),
                "{what} holds a line of a secret:\n{}",
                String::from_utf8_lossy(text)
            );
        }
    }
}

#[test]
fn secrets_stay_masked_on_every_face_of_kw() {
    let (kw, _pass) = vault();
    let port = echo_server();
    let mut printed: Vec<u8> = Vec::new();
    let mut keep = |r: &crate::harness::Run| {
        printed.extend_from_slice(r.stdout.as_bytes());
        printed.extend_from_slice(r.stderr.as_bytes());
    };

    kw.ok(
        &["secret", "set", "api", "--host", "127.0.0.1"],
        KEY.as_bytes(),
    );
    kw.ok(&["secret", "set", "pem"], PEM.as_bytes());
    kw.ok(
        &[
            "profile", "add", "echo", "--secret", "api", "--style", "bearer",
        ],
        b"",
    );
    let url = format!("http://127.0.0.1:{port}/anything");

    // kw send: the body echoes the header, the token and the request body, each encoded.
    let r = kw.run(&[
        "send",
        &url,
        "-p",
        "echo",
        "--json",
        "{\"key\":\"${secret.api}\"}",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    keep(&r);
    let body: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(body["authorization"], "Bearer [secret.api]");
    assert_eq!(body["token"], "[secret.api]");
    assert_eq!(body["body"], "{\"key\":\"[secret.api]\"}");
    for field in [
        "authorization_base64",
        "token_base64",
        "token_base64_unpadded",
        "token_base64url",
        "token_base64url_unpadded",
        "token_percent",
        "token_percent_lower",
        "token_hex",
        "token_HEX",
    ] {
        assert!(
            body[field].as_str().unwrap().contains("[secret.api]"),
            "{field}: {}",
            body[field]
        );
    }
    assert!(
        r.stderr
            .contains("kw: masked 12 occurrence(s) of secret values; --reveal prints them"),
        "{}",
        r.stderr
    );

    // With -i the status line and the response headers are masked too.
    let r = kw.run(&["send", &url, "-p", "echo", "-i", "--no-history"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    keep(&r);
    assert!(r.stdout.starts_with("HTTP/1.1 200 OK\n"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("x-echo-authorization: Bearer [secret.api]\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("x-echo-token-hex: [secret.api]\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.contains("kw: masked 13 occurrence(s)"),
        "{}",
        r.stderr
    );

    // --fail still decides the exit code on the status, masking or not.
    let r = kw.run(&["send", &url, "-p", "echo", "--fail", "--no-history"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    keep(&r);

    // Only an explicit --reveal prints what the server sent.
    let revealed = kw.run(&["send", &url, "-p", "echo", "--reveal", "--no-history"]);
    assert_eq!(revealed.code, 0, "{}", revealed.stderr);
    assert!(revealed.stdout.contains(KEY), "{}", revealed.stdout);
    assert!(!revealed.stderr.contains("masked"), "{}", revealed.stderr);
    assert!(!revealed.stderr.contains(KEY), "{}", revealed.stderr);

    // kw run: the key inside a rendered value is masked on its own.
    let r = kw.run(&[
        "run",
        "--env",
        "AUTH=Bearer ${secret.api}",
        "--",
        "sh",
        "-c",
        "echo \"${AUTH#Bearer }\"; echo \"$AUTH\"",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    keep(&r);
    assert_eq!(r.stdout, "[secret.api]\nBearer [secret.api]\n");

    // Split across writes with a pause between (two reads of the pipe), on both streams.
    let r = kw.run(&[
        "run",
        "--env",
        "X=${secret.api}",
        "--",
        "sh",
        "-c",
        "head=${X%????????}; printf 'a %s' \"$head\"; sleep 0.2; printf '%s b\\n' \"${X#\"$head\"}\"; \
         printf 'e %s' \"$head\" >&2; sleep 0.2; printf '%s f\\n' \"${X#\"$head\"}\" >&2; exit 3",
    ]);
    assert_eq!(r.code, 3, "the command's exit code is kw's: {}", r.stderr);
    keep(&r);
    assert_eq!(r.stdout, "a [secret.api] b\n");
    assert_eq!(r.stderr, "e [secret.api] f\n");

    // Encoded by the command: base64 (with the newline echo adds: the value inside a longer
    // text) and hex.
    let r = kw.run(&[
        "run",
        "--env",
        "X=${secret.api}",
        "--",
        "sh",
        "-c",
        "echo \"$X\" | base64; printf %s \"$X\" | base64; printf %s \"$X\" | od -An -v -tx1 | tr -d ' \\n'; echo",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    keep(&r);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", r.stdout);
    assert!(lines[0].contains("[secret.api]"), "{}", r.stdout);
    assert_eq!(lines[1], "[secret.api]");
    assert_eq!(lines[2], "[secret.api]");

    // A multi-line value, printed as it is, line by line on stderr, and in base64.
    let r = kw.run(&[
        "run",
        "--env",
        "M=${secret.pem}",
        "--",
        "sh",
        "-c",
        "printf '%s' \"$M\"; printf '%s' \"$M\" | while read -r l; do echo \"$l\" >&2; done; \
         printf '%s' \"$M\" | base64 -w0; echo",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    keep(&r);
    assert_eq!(
        r.stdout,
        "[secret.pem]\n[secret.pem]\n[secret.pem]\n[secret.pem]\n[secret.pem]\n"
    );
    assert_eq!(
        r.stderr,
        "[secret.pem]\n[secret.pem]\n[secret.pem]\n[secret.pem]\n"
    );

    // History and the rest of the profile, then the canaries.
    let r = kw.ok(&["history", "--json"], b"");
    keep(&r);
    let history: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(history.len(), 1, "only the first send was recorded");
    assert_eq!(history[0]["status"], 200);
    assert_eq!(history[0]["secrets"][0]["name"], "api");

    assert_no_form("what kw printed", &printed, &[KEY, PEM]);
    assert_no_form("kw's standard error", &kw.log.borrow(), &[KEY, PEM]);
    let files = files_under(kw.home());
    assert!(
        files.iter().any(|f| f.ends_with("keywarden.db")),
        "the database exists: {files:?}"
    );
    for f in files {
        assert_no_form(
            &f.display().to_string(),
            &std::fs::read(&f).unwrap(),
            &[KEY, PEM],
        );
    }
}

#[test]
fn no_masking_and_short_values_are_said() {
    let (kw, _pass) = vault();
    kw.ok(&["secret", "set", "pin"], b"123");
    let r = kw.run(&[
        "run",
        "--env",
        "P=${secret.pin}",
        "--",
        "sh",
        "-c",
        "echo \"$P\"",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "123\n");
    assert!(
        r.stderr
            .contains("the value of `pin` is shorter than 4 bytes and is not masked"),
        "{}",
        r.stderr
    );
    kw.ok(&["secret", "set", "tok"], b"tok-123456");
    let r = kw.run(&[
        "run",
        "--no-masking",
        "--env",
        "T=${secret.tok}",
        "--",
        "sh",
        "-c",
        "echo \"$T\"",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "tok-123456\n");
}
