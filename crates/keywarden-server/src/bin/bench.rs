//! `keywarden-server-bench`: verification throughput and cost, measured the way
//! BENCHMARKS.md describes.
//!
//! For each store size it seeds a SQLite file with that many keys, starts the key
//! server and a bare axum "hello" server in this process (same runtime, same
//! settings), and drives both with `wrk` on loopback, one after the other:
//!
//! 1. bare `GET /` → "hello";
//! 2. `GET /v1/auth-request` with a valid key (the nginx path);
//! 3. `POST /v1/verify` with a valid key (JSON in and out);
//! 4. `GET /v1/auth-request` with a bad-checksum key (rejected before any lookup).
//!
//! It also times the verifier in-process (no HTTP) for a valid, an unknown and a
//! bad-checksum key, and counts store calls made while verifying (there are none:
//! verification reads only the in-memory index).
//!
//! The four runs are repeated `--rounds` times, interleaved, and each figure is the
//! median over the rounds (the ratio is the median of per-round ratios), so a burst
//! of load from elsewhere on the machine hits both servers alike.
//!
//! Usage: `keywarden-server-bench [--keys 1000,1000000] [--duration 5] [--connections 16] [--threads 1] [--rounds 3]`
//!
//! `keywarden-server-bench login-flood …` measures something else: memory and `/healthz`
//! latency under a flood of wrong logins (see [`login_flood`]).

#[path = "bench/login_flood.rs"]
mod login_flood;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use keywarden_core::Timestamp;
use keywarden_keys::ApiKey;
use keywarden_server::App;
use keywarden_server::config::Config;
use keywarden_server::model::{
    AuditEntry, Change, Group, Key, Object, Principal, PrincipalKind, Role, privilege,
};
use keywarden_server::store::sqlite::SqliteStore;
use keywarden_server::store::{
    AuditQuery, IdemBegin, Mutation, NewAudit, Snapshot, Store, StoreError,
};
use keywarden_server::verify::{Context as VerifyContext, Source};

struct Args {
    keys: Vec<usize>,
    duration: u64,
    connections: u32,
    threads: u32,
    rounds: usize,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        keys: vec![1_000, 1_000_000],
        duration: 5,
        connections: 16,
        threads: 1,
        rounds: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--keys" => {
                args.keys = value
                    .split(',')
                    .map(|n| n.trim().replace('_', "").parse())
                    .collect::<Result<_, _>>()?
            }
            "--duration" => args.duration = value.parse()?,
            "--connections" => args.connections = value.parse()?,
            "--threads" => args.threads = value.parse()?,
            "--rounds" => args.rounds = value.parse()?,
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(args)
}

/// A store that counts the calls made to it, to show that verification makes none.
struct Counting {
    inner: SqliteStore,
    calls: AtomicU64,
}

impl Counting {
    fn hit(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl Store for Counting {
    fn backend(&self) -> &'static str {
        "sqlite"
    }
    async fn load(&self) -> Result<Snapshot, StoreError> {
        self.hit();
        self.inner.load().await
    }
    async fn changes_since(&self, since: i64, limit: i64) -> Result<Vec<Change>, StoreError> {
        // The change-feed poll is background work, not verification: not counted.
        self.inner.changes_since(since, limit).await
    }
    async fn apply(&self, m: Mutation) -> Result<Vec<Change>, StoreError> {
        self.hit();
        self.inner.apply(m).await
    }
    async fn idempotency_begin(
        &self,
        a: &str,
        k: &str,
        h: &str,
        n: Timestamp,
        s: Timestamp,
    ) -> Result<IdemBegin, StoreError> {
        self.hit();
        self.inner.idempotency_begin(a, k, h, n, s).await
    }
    async fn idempotency_abort(&self, a: &str, k: &str) -> Result<(), StoreError> {
        self.hit();
        self.inner.idempotency_abort(a, k).await
    }
    async fn append_audit(&self, e: Vec<NewAudit>, at: Timestamp) -> Result<(), StoreError> {
        // Refusal counts are flushed to the audit log in the background: not counted.
        self.inner.append_audit(e, at).await
    }
    async fn audit(&self, q: AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        self.hit();
        self.inner.audit(q).await
    }
    async fn password_hash(&self, p: &str) -> Result<Option<String>, StoreError> {
        self.hit();
        self.inner.password_hash(p).await
    }
    async fn session_insert(&self, d: &str, p: &str, e: Timestamp) -> Result<(), StoreError> {
        self.hit();
        self.inner.session_insert(d, p, e).await
    }
    async fn session_get(&self, d: &str) -> Result<Option<(String, Timestamp)>, StoreError> {
        self.hit();
        self.inner.session_get(d).await
    }
    async fn session_delete(&self, d: &str) -> Result<(), StoreError> {
        self.hit();
        self.inner.session_delete(d).await
    }
    async fn session_list(
        &self,
        p: &str,
    ) -> Result<Vec<keywarden_server::store::SessionRow>, StoreError> {
        self.hit();
        self.inner.session_list(p).await
    }
    async fn session_end(&self, p: &str, id: Option<&str>) -> Result<u64, StoreError> {
        self.hit();
        self.inner.session_end(p, id).await
    }
    async fn record_usage(&self, u: Vec<(String, Timestamp)>) -> Result<(), StoreError> {
        // Last-used times are flushed in the background every few seconds: not counted.
        self.inner.record_usage(u).await
    }
    async fn prune(&self, before: Timestamp, now: Timestamp) -> Result<(), StoreError> {
        // Background housekeeping: not counted.
        self.inner.prune(before, now).await
    }
    async fn bulk_insert(&self, o: Vec<Object>, a: &str, at: Timestamp) -> Result<(), StoreError> {
        self.hit();
        self.inner.bulk_insert(o, a, at).await
    }
}

fn object_id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

/// Seeds `n` keys for one principal; returns one valid key.
async fn seed(store: &SqliteStore, n: usize) -> Result<String> {
    let at = keywarden_core::now();
    let group = Group {
        id: object_id(0),
        name: "bench".into(),
        description: String::new(),
        created_at: at,
        updated_at: at,
        version: 1,
    };
    let role = Role {
        id: object_id(1),
        name: "bench".into(),
        description: String::new(),
        privileges: vec![privilege::KEY_USE.into(), "rest".into()],
        groups: vec![group.id.clone()],
        created_at: at,
        updated_at: at,
        version: 1,
    };
    let principal = Principal {
        id: object_id(2),
        kind: PrincipalKind::ServiceUser,
        name: "bench".into(),
        description: String::new(),
        logo: None,
        enabled: true,
        groups: vec![group.id.clone()],
        profiles: vec![],
        created_at: at,
        updated_at: at,
        version: 1,
    };
    store
        .bulk_insert(
            vec![
                Object::Group(group),
                Object::Role(role),
                Object::Principal(principal),
            ],
            "bench",
            at,
        )
        .await?;
    let mut valid = String::new();
    let mut batch = Vec::with_capacity(50_000);
    for i in 0..n {
        let key = ApiKey::generate("kw", "live")?;
        if i == n / 2 {
            valid = key.expose().to_owned();
        }
        batch.push(Object::Key(Key {
            id: object_id(10 + i),
            principal_id: object_id(2),
            name: format!("key {i}"),
            description: String::new(),
            environment: "live".into(),
            display_prefix: key.display_prefix(),
            digest: key.digest().to_hex(),
            scopes: vec![],
            read_only: false,
            path_prefixes: vec![],
            operations: vec![],
            ip_allowlist: vec![],
            expires_at: None,
            enabled: true,
            slot: None,
            policy: None,
            profile_id: None,
            allow_query_param: false,
            revoked_at: None,
            replaced_by: None,
            last_used_at: None,
            created_at: at,
            updated_at: at,
            version: 1,
        }));
        if batch.len() == 50_000 {
            store
                .bulk_insert(std::mem::take(&mut batch), "bench", at)
                .await?;
        }
    }
    if !batch.is_empty() {
        store.bulk_insert(batch, "bench", at).await?;
    }
    Ok(valid)
}

struct WrkResult {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    non_2xx: u64,
}

fn parse_latency(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, factor) = if let Some(v) = text.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = text.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = text.strip_suffix('s') {
        (v, 1000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * factor)
}

fn wrk(
    args: &Args,
    url: &str,
    header: Option<&str>,
    script: Option<&std::path::Path>,
) -> Result<WrkResult> {
    let mut cmd = Command::new("wrk");
    cmd.args([
        format!("-t{}", args.threads),
        format!("-c{}", args.connections),
        format!("-d{}s", args.duration),
        "--latency".into(),
    ]);
    if let Some(h) = header {
        cmd.args(["-H", h]);
    }
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    cmd.arg(url);
    let out = cmd.output().context("running wrk (apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    }
    let mut result = WrkResult {
        rps: 0.0,
        p50_ms: 0.0,
        p99_ms: 0.0,
        non_2xx: 0,
    };
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", v] => result.rps = v.parse().unwrap_or(0.0),
            ["50%", v] => result.p50_ms = parse_latency(v).unwrap_or(f64::NAN),
            ["99%", v] => result.p99_ms = parse_latency(v).unwrap_or(f64::NAN),
            ["Non-2xx", "or", "3xx", "responses:", v] => result.non_2xx = v.parse().unwrap_or(0),
            _ => {}
        }
    }
    Ok(result)
}

async fn serve(router: axum::Router) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    Ok(addr)
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn time_verify(app: &App, key: &str, iterations: u32) -> f64 {
    let ctx = VerifyContext {
        method: "GET",
        path: "/api/x",
        ..VerifyContext::default()
    };
    let verifier = &app.service.verifier;
    let now = keywarden_core::now();
    let start = Instant::now();
    for _ in 0..iterations {
        std::hint::black_box(verifier.verify(
            Some(std::hint::black_box(key)),
            Source::Header,
            &ctx,
            None,
            now,
        ));
    }
    start.elapsed().as_nanos() as f64 / f64::from(iterations)
}

fn main() -> Result<()> {
    if std::env::args().nth(1).as_deref() == Some("login-flood") {
        return login_flood::run(login_flood::parse(std::env::args().skip(2))?);
    }
    let args = parse_args()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    let have_wrk = Command::new("wrk").arg("--version").output().is_ok();
    if !have_wrk {
        eprintln!(
            "wrk is not installed (apt-get install wrk): only the in-process figures will be measured"
        );
    }
    let bare =
        serve(axum::Router::new().route("/", axum::routing::get(|| async { "hello" }))).await?;
    let mut http_rows = Vec::new();
    let mut cost_rows = Vec::new();
    for &n in &args.keys {
        let dir = std::env::temp_dir().join(format!("keywarden-bench-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("bench.db");
        let seeded = Instant::now();
        let sqlite = SqliteStore::open(&path)?;
        let valid = seed(&sqlite, n).await?;
        let store = Arc::new(Counting {
            inner: sqlite,
            calls: AtomicU64::new(0),
        });
        let config = Config {
            database: path.to_string_lossy().into_owned(),
            max_failures: 0,
            ..Config::default()
        };
        let loaded = Instant::now();
        let mut app = App::with_store(config, store.clone() as Arc<dyn Store>).await?;
        eprintln!(
            "{n} keys: seeded in {:.1?}, index loaded in {:.1?}",
            loaded.duration_since(seeded),
            loaded.elapsed()
        );
        app.start_followers();
        let addr = serve(app.router()).await?;
        let mut bad = valid.clone().into_bytes();
        let last = bad.len() - 1;
        bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
        let bad = String::from_utf8(bad)?;
        let unknown = ApiKey::generate("kw", "live")?.expose().to_owned();

        let before = store.calls.load(Ordering::Relaxed);
        // In-process cost of one decision (no HTTP), after a warm-up.
        time_verify(&app, &valid, 20_000);
        let iterations = 300_000;
        let valid_ns = time_verify(&app, &valid, iterations);
        let unknown_ns = time_verify(&app, &unknown, iterations);
        let bad_ns = time_verify(&app, &bad, iterations);
        cost_rows.push(format!(
            "| {n} | {valid_ns:.0} ns | {unknown_ns:.0} ns | {bad_ns:.0} ns |"
        ));

        if have_wrk {
            let script = dir.join("verify.lua");
            std::fs::write(
                &script,
                format!(
                    "wrk.method = \"POST\"\nwrk.body = '{{\"key\":\"{valid}\",\"method\":\"GET\",\"path\":\"/api/x\"}}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
                ),
            )?;
            let base = format!("http://{addr}");
            let bearer = format!("Authorization: Bearer {valid}");
            let bad_bearer = format!("Authorization: Bearer {bad}");
            let runs = [
                (
                    "bare axum `GET /` (hello)",
                    format!("http://{bare}/"),
                    None,
                    None,
                    true,
                ),
                (
                    "`GET /v1/auth-request`, valid key",
                    format!("{base}/v1/auth-request"),
                    Some(bearer.as_str()),
                    None,
                    true,
                ),
                (
                    "`POST /v1/verify`, valid key",
                    format!("{base}/v1/verify"),
                    None,
                    Some(script.as_path()),
                    true,
                ),
                (
                    "`GET /v1/auth-request`, bad checksum",
                    format!("{base}/v1/auth-request"),
                    Some(bad_bearer.as_str()),
                    None,
                    false,
                ),
            ];
            let mut results: Vec<Vec<WrkResult>> = runs.iter().map(|_| Vec::new()).collect();
            for _ in 0..args.rounds.max(1) {
                for (i, (label, url, header, script, expect_ok)) in runs.iter().enumerate() {
                    let r = wrk(&args, url, *header, *script)?;
                    if *expect_ok && r.non_2xx > 0 {
                        bail!("{label}: {} responses were not 2xx", r.non_2xx);
                    }
                    if !*expect_ok && r.non_2xx == 0 {
                        bail!("{label}: the bad key was accepted");
                    }
                    results[i].push(r);
                }
            }
            for (i, (label, ..)) in runs.iter().enumerate() {
                let ratios: Vec<f64> = results[i]
                    .iter()
                    .zip(&results[0])
                    .map(|(r, b)| r.rps / b.rps)
                    .collect();
                let rps: Vec<f64> = results[i].iter().map(|r| r.rps).collect();
                let p50: Vec<f64> = results[i].iter().map(|r| r.p50_ms).collect();
                let p99: Vec<f64> = results[i].iter().map(|r| r.p99_ms).collect();
                let all_rps: Vec<String> = rps.iter().map(|r| format!("{r:.0}")).collect();
                http_rows.push(format!(
                    "| {n} | {label} | {:.0} ({}) | {:.0}% | {:.2} ms | {:.2} ms |",
                    median(&rps),
                    all_rps.join(", "),
                    100.0 * median(&ratios),
                    median(&p50),
                    median(&p99)
                ));
            }
        }
        let during = store.calls.load(Ordering::Relaxed) - before;
        eprintln!("{n} keys: store calls made while verifying: {during}");
        if during != 0 {
            bail!("verification touched the store {during} times");
        }
        drop(app);
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!("In-process cost of one verification decision (mean of 300,000; no HTTP):\n");
    println!("| stored keys | valid key | unknown key | bad checksum |\n|---:|---:|---:|---:|");
    for row in &cost_rows {
        println!("{row}");
    }
    if !http_rows.is_empty() {
        println!(
            "\nHTTP on loopback, wrk -t{} -c{} -d{}s, {} interleaved rounds (median; every round's requests/s in brackets), server runtime 2 worker threads:\n",
            args.threads, args.connections, args.duration, args.rounds
        );
        println!(
            "| stored keys | endpoint | requests/s | vs bare | p50 | p99 |\n|---:|---|---:|---:|---:|---:|"
        );
        for row in &http_rows {
            println!("{row}");
        }
    }
    println!("\nStore calls made by verification: 0 (checked; the run fails otherwise).");
    Ok(())
}
