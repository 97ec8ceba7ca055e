//! `kw admin` against a real key server started by the test, and the crash test:
//! `kw admin sync` killed with SIGKILL at random points, many times.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{Value, json};

use crate::harness::*;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// A key server on a loopback port (SQLite in a temporary directory).
struct Server {
    _dir: tempfile::TempDir,
    url: String,
    admin_key: String,
    key_file: std::path::PathBuf,
    _app: Arc<keywarden_server::App>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Server {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = keywarden_server::Config {
            database: dir.path().join("server.db").display().to_string(),
            max_failures: 100_000,
            ..keywarden_server::Config::default()
        };
        let (app, admin_key, url, stop) = runtime().block_on(async move {
            let mut app = keywarden_server::App::open(config).await.unwrap();
            let key = app.service.initialize("admin", None).await.unwrap();
            app.start_followers();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let app = Arc::new(app);
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let serving = Arc::clone(&app);
            tokio::spawn(async move {
                let _ = serving
                    .serve(listener, async move {
                        let _ = rx.await;
                    })
                    .await;
            });
            (app, key.expose().to_owned(), url, tx)
        });
        let key_file = dir.path().join("admin.key");
        std::fs::write(&key_file, &admin_key).unwrap();
        Self {
            _dir: dir,
            url,
            admin_key,
            key_file,
            _app: app,
            _stop: stop,
        }
    }

    fn get(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.url);
        let key = self.admin_key.clone();
        runtime().block_on(async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        })
    }

    fn audit(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut since = 0;
        loop {
            let page = self.get(&format!("/v1/audit?since={since}&limit=1000"));
            let entries = page["entries"].as_array().cloned().unwrap_or_default();
            if entries.is_empty() {
                return out;
            }
            since = page["next"].as_i64().unwrap();
            out.extend(entries);
        }
    }

    fn verify(&self, key: &str) -> Value {
        let url = format!("{}/v1/verify", self.url);
        runtime().block_on(async move {
            reqwest::Client::new()
                .post(url)
                .json(&json!({ "key": key }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        })
    }

    fn kw(&self) -> Kw {
        let kw = Kw::new().env("KEYWARDEN_ADMIN_KEY_FILE", self.key_file.to_str().unwrap());
        kw.ok(&["admin", "connect", &self.url], b"");
        kw
    }
}

#[test]
fn admin_cli_end_to_end() {
    let server = Server::start();
    let kw = server.kw();
    let group = kw
        .ok(&["admin", "groups", "create", "deployers"], b"")
        .stdout;
    assert!(group.trim().starts_with("local-"));
    kw.ok(
        &[
            "admin",
            "roles",
            "create",
            "use-keys",
            "--privilege",
            "key:use",
            "--group",
            "deployers",
        ],
        b"",
    );
    kw.ok(
        &[
            "admin",
            "principals",
            "create",
            "ci-bot",
            "--kind",
            "service-user",
            "--group",
            "deployers",
        ],
        b"",
    );
    let key = kw
        .ok(
            &[
                "admin",
                "keys",
                "create",
                "ci",
                "--principal",
                "ci-bot",
                "--env",
                "test",
                "--read-only",
                "--path",
                "/api/",
            ],
            b"",
        )
        .stdout
        .trim()
        .to_owned();
    assert!(key.starts_with("kw_test_"), "{key}");
    let verdict = server.verify(&key);
    assert_eq!(
        verdict["valid"],
        json!(false),
        "GET / is outside the path prefix"
    );
    assert_eq!(verdict["reason"], json!("path_not_allowed"));

    let keys: Vec<Value> = serde_json::from_str(
        &kw.ok(
            &["admin", "keys", "list", "--principal", "ci-bot", "--json"],
            b"",
        )
        .stdout,
    )
    .unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["pending"], json!(0));
    assert_eq!(keys[0]["body"]["read_only"], json!(true));

    let started = Instant::now();
    kw.ok(&["admin", "keys", "disable", "ci"], b"");
    let v = server.verify(&key);
    assert_eq!(v["reason"], json!("key_disabled"));
    eprintln!(
        "kw admin keys disable: refused at the server {:?} after the command started",
        started.elapsed()
    );

    let status: Value =
        serde_json::from_str(&kw.ok(&["admin", "status", "--json"], b"").stdout).unwrap();
    assert_eq!(status["queued"], json!(0));
    assert_eq!(status["connections"][0]["online"], json!(true));
    let audit: Vec<Value> = serde_json::from_str(
        &kw.ok(
            &["admin", "audit", "--json", "--action", "key.disable"],
            b"",
        )
        .stdout,
    )
    .unwrap();
    assert_eq!(audit.len(), 1);

    // Usage errors exit 2; failures exit 1; help is 0.
    assert_eq!(
        kw.run(&["admin", "--connection", "nope", "status"]).code,
        0,
        "status lists all"
    );
    assert_eq!(
        kw.run(&["admin", "--connection", "nope", "keys", "list"])
            .code,
        2
    );
    assert_eq!(kw.run(&["admin", "keys", "disable", "no-such-key"]).code, 1);
    assert_eq!(kw.run(&["admin", "outbox", "discard", "99999"]).code, 2);
    for args in [
        &["admin", "--help"][..],
        &["admin", "keys", "--help"],
        &["admin", "keys", "create", "--help"],
        &["admin", "outbox", "--help"],
        &["admin", "conflicts", "resolve", "--help"],
    ] {
        assert_eq!(kw.run(args).code, 0, "{args:?}");
    }

    // Canary: neither the admin key nor the generated key is in any file of the profile.
    for file in files_under(kw.home()) {
        let bytes = std::fs::read(&file).unwrap();
        for secret in [&server.admin_key, &key] {
            let random = secret.split('_').nth(2).unwrap();
            assert!(
                !contains(&bytes, random.as_bytes()),
                "a secret is in {}",
                file.display()
            );
        }
    }
    let log = kw.log.borrow();
    assert!(!contains(&log, server.admin_key.as_bytes()));
}

#[test]
fn offline_queue_then_sync() {
    let server = Server::start();
    let kw = Kw::new().env(
        "KEYWARDEN_ADMIN_KEY_FILE",
        server.key_file.to_str().unwrap(),
    );
    // A server that is not there: the connection is kept, actions queue.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    kw.ok(
        &["admin", "connect", &format!("http://127.0.0.1:{port}")],
        b"",
    );
    kw.ok(&["admin", "principals", "create", "offline-user"], b"");
    let out = kw.ok(&["admin", "outbox", "list"], b"").stdout;
    assert!(
        out.contains("queued  create principal offline-user"),
        "{out}"
    );
    assert_eq!(
        kw.run(&["admin", "sync", "--once"]).code,
        1,
        "unreachable is a failure of the sync"
    );
    // Point the connection at the real server (same admin key) and sync.
    kw.ok(&["admin", "connect", &server.url], b"");
    kw.ok(&["admin", "sync", "--once"], b"");
    let names: Vec<String> = server
        .get("/v1/principals")
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.contains(&"offline-user".to_owned()));
}

/// Crash test: `kw admin` enqueues and `kw admin sync --once` run many times and are
/// killed with SIGKILL at random points. Afterwards every action whose command
/// reported success is applied exactly once, none more than once, and the local
/// database passes `PRAGMA integrity_check`.
#[test]
fn sigkill_during_enqueue_and_sync() {
    let runs: usize = std::env::var("KW_CRASH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let server = Server::start();
    let kw = server.kw();
    let mut rng = rand::thread_rng();
    // Principals whose create command returned 0 (must exist exactly once) or was killed (at most once).
    let mut confirmed: Vec<String> = Vec::new();
    let mut maybe: Vec<String> = Vec::new();
    let mut disabled: Vec<String> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    let mut kills = 0;
    // The kill point is drawn from 0..window; the window adapts to how long a sync takes on
    // this machine, so that most kills land inside a running sync however fast or loaded it is.
    let mut window_ms: u64 = 250;
    for run in 0..runs {
        for j in 0..4 {
            let name = format!("crash-{run}-{j}");
            let mut child = kw
                .command(&[
                    "admin",
                    "--no-sync",
                    "principals",
                    "create",
                    &name,
                    "--kind",
                    "service-user",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            if j == 3 && run % 3 == 0 {
                // Kill an enqueue at a random point too.
                std::thread::sleep(Duration::from_millis(rng.gen_range(0..60)));
                let _ = child.kill();
                let status = child.wait().unwrap();
                if status.success() {
                    confirmed.push(name)
                } else {
                    maybe.push(name)
                }
                continue;
            }
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success());
            let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if j == 1 {
                let k = format!("crash-key-{run}");
                kw.ok(
                    &[
                        "admin",
                        "--no-sync",
                        "keys",
                        "create",
                        &k,
                        "--principal",
                        &id,
                    ],
                    b"",
                );
                keys.push(k);
            }
            if j == 2 {
                kw.ok(&["admin", "--no-sync", "principals", "disable", &id], b"");
                disabled.push(name.clone());
            }
            confirmed.push(name);
        }
        let mut child = kw
            .command(&["admin", "sync", "--once"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..window_ms)));
        if child.try_wait().unwrap().is_none() {
            kills += 1;
            window_ms = (window_ms * 11 / 10).min(1000);
        } else {
            window_ms = (window_ms * 4 / 5).max(5);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    eprintln!("{runs} runs, {kills} sync processes killed while running");
    assert!(
        kills >= runs / 3,
        "the kills must land during syncs ({kills})"
    );
    // A killed client can leave the server holding an Idempotency-Key for an attempt it
    // abandoned; the server releases it after a minute, so the last sync may wait that long.
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_secs(120) {
        kw.run(&["admin", "sync", "--once"]);
        let s: Value =
            serde_json::from_str(&kw.ok(&["admin", "status", "--json"], b"").stdout).unwrap();
        if s["queued"] == json!(0) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1000));
    }
    eprintln!("settled {:?} after the last kill", settle.elapsed());
    let s: Value =
        serde_json::from_str(&kw.ok(&["admin", "status", "--json"], b"").stdout).unwrap();
    if s["failed"] != json!(0) || s["queued"] != json!(0) {
        eprintln!(
            "{}",
            kw.ok(&["admin", "outbox", "list", "--all"], b"").stdout
        );
        if let Ok(dir) = std::env::var("KEYWARDEN_KEEP_FAILED_HOME") {
            let _ = std::process::Command::new("cp")
                .args(["-r", &kw.home().display().to_string(), &dir])
                .status();
        }
    }
    assert_eq!(
        (
            s["queued"].clone(),
            s["failed"].clone(),
            s["conflicts"].clone()
        ),
        (json!(0), json!(0), json!(0)),
        "{s}"
    );

    let mut counts: HashMap<(String, String), usize> = HashMap::new();
    let mut key_creates: HashMap<String, usize> = HashMap::new();
    let principals = server.get("/v1/principals");
    let name_of: HashMap<String, String> = principals
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                format!("principal:{}", p["id"].as_str().unwrap()),
                p["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let key_names: HashMap<String, String> = server
        .get("/v1/keys")
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                format!("key:{}", k["id"].as_str().unwrap()),
                k["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for e in server.audit() {
        let action = e["action"].as_str().unwrap().to_owned();
        let target = e["target"].as_str().unwrap().to_owned();
        if action == "key.create" {
            if let Some(n) = key_names.get(&target) {
                *key_creates.entry(n.clone()).or_default() += 1;
            }
            continue;
        }
        let name = e["detail"]["name"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| name_of.get(&target).cloned())
            .unwrap_or(target);
        *counts.entry((action, name)).or_default() += 1;
    }
    for name in &confirmed {
        assert_eq!(
            counts.get(&("principal.create".into(), name.clone())),
            Some(&1),
            "{name}"
        );
    }
    for name in &maybe {
        assert!(
            counts
                .get(&("principal.create".into(), name.clone()))
                .copied()
                .unwrap_or(0)
                <= 1,
            "{name}"
        );
    }
    for name in &disabled {
        assert_eq!(
            counts.get(&("principal.disable".into(), name.clone())),
            Some(&1),
            "{name}"
        );
    }
    for k in &keys {
        assert_eq!(key_creates.get(k), Some(&1), "{k}");
    }
    let conn = keywarden_vault::db::open(&kw.home().join("keywarden.db")).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    eprintln!(
        "exactly once: {} principals, {} disables, {} keys; {} killed enqueues",
        confirmed.len(),
        disabled.len(),
        keys.len(),
        maybe.len()
    );
}

/// Secret Service: `kw admin connect --embedded` on a fresh profile keeps the embedded
/// server's admin key in the real keychain and works across separate `kw` runs.
#[test]
fn embedded_server_with_the_real_keychain() {
    if !secret_service() {
        return;
    }
    let kw = Kw::new();
    kw.ok(&["admin", "connect", "--embedded"], b"");
    kw.ok(&["admin", "principals", "create", "first-user"], b"");
    let key = kw
        .ok(
            &[
                "admin",
                "keys",
                "create",
                "first-key",
                "--principal",
                "first-user",
            ],
            b"",
        )
        .stdout
        .trim()
        .to_owned();
    // A later run starts the embedded server again with the key from the keychain.
    let status: Value =
        serde_json::from_str(&kw.ok(&["admin", "status", "--json"], b"").stdout).unwrap();
    assert_eq!(status["queued"], json!(0), "{status}");
    let keys: Vec<Value> = serde_json::from_str(
        &kw.ok(
            &[
                "admin",
                "keys",
                "list",
                "--principal",
                "first-user",
                "--json",
            ],
            b"",
        )
        .stdout,
    )
    .unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["pending"], json!(0));
    let service = kw.service();
    let found = secret_tool_search(&service);
    assert!(found.contains("_admin_credential:embedded"), "{found}");
    // The embedded server's admin key, read back with an independent client.
    let lookup = std::process::Command::new("secret-tool")
        .args([
            "lookup",
            "service",
            &service,
            "username",
            "_admin_credential:embedded",
        ])
        .output()
        .unwrap();
    let wrapped = String::from_utf8(lookup.stdout).unwrap();
    use base64::Engine as _;
    let admin_key = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(wrapped.trim().trim_start_matches("kw1:"))
            .unwrap(),
    )
    .unwrap();
    assert!(admin_key.starts_with("kw_admin_"), "an admin key is kept");
    for file in files_under(kw.home()) {
        let bytes = std::fs::read(&file).unwrap();
        for secret in [&key, &admin_key] {
            let random = secret.split('_').nth(2).unwrap();
            assert!(
                !contains(&bytes, random.as_bytes()),
                "a secret is in {}",
                file.display()
            );
        }
    }
}
