//! The admin sync figures of BENCHMARKS.md.
//!
//! ```text
//! keywarden-admin-bench [--actions N] [--workload keys|principals] [--server-dir DIR]
//!                       [--client-dir DIR] [--concurrency C]
//! ```
//!
//! Method: a real `keywarden-server` (the crate as a library, SQLite) serves on a loopback
//! port; a fresh profile connects to it with the admin key. N actions are queued through
//! `Admin` (each one its own durable transaction, as in the app): key creations spread
//! over 100 principals synced beforehand (`keys`, the default; each key generated here),
//! or principal creations (`principals`). Then the clock starts and `Admin::sync` runs until the outbox is empty; the
//! figure is N divided by that time. The server's audit log is then checked: exactly N
//! creation entries. Second figure: with the background loop running, a key is
//! disabled through `Admin::set_enabled` and `POST /v1/verify` is polled until the server
//! refuses it; 20 rounds, median and worst.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keywarden_admin::{
    Admin, GroupInput, KeyInput, Kind, Placement, PrincipalInput, PrincipalKind, PushOptions,
    RoleInput,
};
use keywarden_core::SecretValue;
use keywarden_server::{App, Config};
use keywarden_vault::{MemoryStore, Vault};
use serde_json::{Value, json};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let actions: usize = arg(&args, "--actions").map_or(Ok(10_000), |v| v.parse())?;
    let concurrency: usize = arg(&args, "--concurrency").map_or(Ok(32), |v| v.parse())?;
    let server_dir = match arg(&args, "--server-dir") {
        Some(d) => tempfile::tempdir_in(d)?,
        None => tempfile::tempdir()?,
    };
    let client_dir = match arg(&args, "--client-dir") {
        Some(d) => tempfile::tempdir_in(d)?,
        None => tempfile::tempdir()?,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let config = Config {
        database: server_dir.path().join("server.db").display().to_string(),
        max_failures: 1_000_000,
        ..Config::default()
    };
    let (app, admin_key, url, _stop) = rt.block_on(async move {
        let mut app = App::open(config).await?;
        let key = app
            .service
            .initialize("admin", None)
            .await
            .map_err(|e| e.to_string())?;
        app.start_followers();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
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
        Ok::<_, Box<dyn std::error::Error>>((app, key.into_secret(), url, tx))
    })?;

    let conn = keywarden_vault::db::open(&client_dir.path().join("keywarden.db"))?;
    let vault = Arc::new(Vault::with_store(
        conn,
        Arc::new(MemoryStore::new()),
        client_dir.path().to_path_buf(),
    ));
    let mut admin = Admin::open(client_dir.path().to_path_buf(), Some(vault))?;
    admin.options = PushOptions {
        concurrency,
        batch: 512,
        ..PushOptions::default()
    };
    let admin = Arc::new(admin);
    admin.connect_with_key("bench", &url, None, admin_key)?;

    println!(
        "server database: {} · client database: {}",
        server_dir.path().display(),
        client_dir.path().display()
    );
    let workload = arg(&args, "--workload").unwrap_or_else(|| "keys".into());
    let mut owners = Vec::new();
    if workload == "keys" {
        // 100 principals, synced before the clock starts; the actions are key creations.
        for i in 0..100 {
            owners.push(
                admin
                    .create_principal(
                        "bench",
                        PrincipalInput {
                            kind: PrincipalKind::ServiceUser,
                            name: format!("owner-{i}"),
                            description: String::new(),
                            logo: None,
                            enabled: true,
                            groups: vec![],
                            profiles: vec![],
                        },
                    )?
                    .id,
            );
        }
        admin.sync("bench")?;
        owners = owners
            .iter()
            .map(|id| admin.db().resolve_id("bench", id))
            .collect::<Result<_, _>>()?;
    }
    let queued_at = Instant::now();
    for i in 0..actions {
        if workload == "keys" {
            admin.create_key(
                "bench",
                &owners[i % owners.len()],
                KeyInput {
                    name: format!("bench-{i}"),
                    enabled: true,
                    ..KeyInput::default()
                },
                Placement::ShowOnce,
            )?;
            continue;
        }
        admin.create_principal(
            "bench",
            PrincipalInput {
                kind: PrincipalKind::ServiceUser,
                name: format!("bench-{i}"),
                description: String::new(),
                logo: None,
                enabled: true,
                groups: vec![],
                profiles: vec![],
            },
        )?;
    }
    let enqueue = queued_at.elapsed();
    println!(
        "queued {actions} actions in {:.2} s ({:.0} µs each, one durable transaction per action)",
        enqueue.as_secs_f64(),
        enqueue.as_micros() as f64 / actions as f64
    );

    let started = Instant::now();
    let mut rounds = 0;
    loop {
        rounds += 1;
        let report = admin.sync("bench")?;
        if let Some(e) = report.error {
            return Err(e.into());
        }
        let s = admin.status()?;
        if s.queued == 0 && s.failed == 0 {
            break;
        }
        if rounds > 1000 {
            return Err(format!("still queued: {s:?}").into());
        }
    }
    let took = started.elapsed();
    let action = if workload == "keys" {
        "key.create"
    } else {
        "principal.create"
    };
    let applied = rt.block_on(count_creates(&app, action))?;
    println!(
        "{actions} queued actions ({action}) reached the server in {:.2} s ({:.0} actions/s, concurrency {concurrency}, {rounds} sync calls); server audit: {applied} {action}",
        took.as_secs_f64(),
        actions as f64 / took.as_secs_f64()
    );
    if applied != actions {
        return Err(format!("expected {actions} creates in the audit log, found {applied}").into());
    }

    // Disable → refused at the server.
    let group = admin.create_group(
        "bench",
        GroupInput {
            name: "users".into(),
            description: String::new(),
        },
    )?;
    admin.create_role(
        "bench",
        RoleInput {
            name: "use".into(),
            description: String::new(),
            privileges: vec!["key:use".into()],
            groups: vec![group.id.clone()],
        },
    )?;
    let p = admin.create_principal(
        "bench",
        PrincipalInput {
            kind: PrincipalKind::ServiceUser,
            name: "latency".into(),
            description: String::new(),
            logo: None,
            enabled: true,
            groups: vec![group.id],
            profiles: vec![],
        },
    )?;
    let created = admin.create_key(
        "bench",
        &p.id,
        KeyInput {
            name: "latency-key".into(),
            enabled: true,
            ..KeyInput::default()
        },
        Placement::ShowOnce,
    )?;
    let key = created.key.ok_or("no key")?;
    admin.sync("bench")?;
    let key_id = admin.find("bench", Kind::Key, "latency-key")?.id;
    let _bg = admin.start_background(Duration::from_secs(5));
    let http = reqwest::Client::new();
    let mut samples = Vec::new();
    for round in 0..20 {
        let enable = round % 2 == 1;
        let clicked = Instant::now();
        admin.set_enabled("bench", Kind::Key, &key_id, enable)?;
        loop {
            let v = rt.block_on(verify(&http, &url, &key))?;
            if v["valid"] == json!(enable) {
                break;
            }
            if clicked.elapsed() > Duration::from_secs(10) {
                return Err("the server never followed the change".into());
            }
        }
        if !enable {
            samples.push(clicked.elapsed());
        }
    }
    samples.sort();
    println!(
        "disable → refused at the server: median {:.1} ms, worst {:.1} ms over {} disables",
        samples[samples.len() / 2].as_secs_f64() * 1000.0,
        samples[samples.len() - 1].as_secs_f64() * 1000.0,
        samples.len()
    );
    Ok(())
}

async fn verify(
    http: &reqwest::Client,
    url: &str,
    key: &SecretValue,
) -> Result<Value, Box<dyn std::error::Error>> {
    let body = json!({ "key": key.expose() }).to_string();
    let r = http
        .post(format!("{url}/v1/verify"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    Ok(serde_json::from_slice(&r.bytes().await?)?)
}

async fn count_creates(app: &App, action: &str) -> Result<usize, Box<dyn std::error::Error>> {
    let mut since = 0;
    let mut n = 0;
    loop {
        let page = app
            .service
            .store
            .audit(keywarden_server::store::AuditQuery {
                since,
                limit: 1000,
                action: Some(action.into()),
                ..Default::default()
            })
            .await?;
        let Some(last) = page.last() else {
            return Ok(n);
        };
        since = last.seq;
        n += page
            .iter()
            .filter(|e| {
                (action == "key.create" && e.actor != "system")
                    || e.detail
                        .get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n.starts_with("bench-"))
            })
            .count();
    }
}
