//! A real key server (the `keywarden-server` crate on a loopback port, SQLite in a
//! temporary directory), a fault-injecting proxy that records every byte it carries,
//! admin clients over a vault with an in-memory secret store, and a clock the tests move.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use keywarden_admin::{Admin, Clock, LocalDb, OutboxEntry, PushOptions, RetryPolicy, SystemClock};
use keywarden_core::Timestamp;
use keywarden_server::model::{AuditEntry, Change, Object};
use keywarden_server::store::{
    AuditQuery, IdemBegin, Mutation, NewAudit, SessionRow, Snapshot, Store, StoreError,
};
use keywarden_server::{App, Config};
use keywarden_vault::{MemoryStore, Vault};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Every log line the product writes during the tests goes to this file (for the canary).
pub fn log_file() -> &'static PathBuf {
    static LOG: OnceLock<PathBuf> = OnceLock::new();
    LOG.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("kw-admin-test-{}.log", std::process::id()));
        let file = std::fs::File::create(&path).expect("log file");
        tracing_subscriber_init(Mutex::new(file)).expect("the test log subscriber");
        path
    })
}

fn tracing_subscriber_init(writer: Mutex<std::fs::File>) -> Result<(), String> {
    struct W(Mutex<std::fs::File>);
    impl std::io::Write for &W {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.0.lock().unwrap().flush()
        }
    }
    let w: &'static W = Box::leak(Box::new(W(writer)));
    tracing_subscriber::fmt()
        .with_writer(move || w)
        .with_ansi(false)
        .with_env_filter("debug,hyper=info,reqwest=info,h2=info,rustls=info")
        .try_init()
        .map_err(|e| e.to_string())
}

pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

// -------------------------------------------------------------------------------------------
// The clock
// -------------------------------------------------------------------------------------------

/// The clock the outbox schedules retries by, moved only by the test: it starts at the
/// system time and stands still while a sync runs, so every `next_attempt_ms` written
/// during a sync is "the moment of that sync + the chosen delay", exactly.
#[derive(Debug)]
pub struct TestClock(AtomicI64);

impl TestClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self(AtomicI64::new(SystemClock.now_ms())))
    }

    pub fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }

    pub fn advance(&self, ms: i64) {
        assert!(ms >= 0, "the clock never goes back");
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// Moves to `at` unless the clock is already past it.
    pub fn advance_to(&self, at: i64) {
        self.0.fetch_max(at, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.now()
    }
}

/// The longest wait the policy may choose after an action's `attempts`-th counted
/// failure: `min(cap, base · 2^attempts)` (the delay is uniform in `[0, that]`).
pub fn backoff_ceiling(policy: &RetryPolicy, attempts: i64) -> i64 {
    let shift = u32::try_from(attempts).unwrap().min(30);
    i64::try_from(policy.base_ms.saturating_mul(1 << shift).min(policy.cap_ms)).unwrap()
}

/// The whole backoff schedule at its longest: the sum of the ceilings of the waits
/// between an action's first and its last allowed attempt. Whatever the jitter, an
/// action that fails every time gives up no later than this after its first attempt.
pub fn schedule_ceiling(policy: &RetryPolicy) -> i64 {
    (1..i64::from(policy.max_attempts))
        .map(|n| backoff_ceiling(policy, n))
        .sum()
}

// -------------------------------------------------------------------------------------------
// The key server
// -------------------------------------------------------------------------------------------

/// A key server whose database outlives its process-like start/stop cycles.
pub struct KeyServer {
    pub dir: tempfile::TempDir,
    pub admin_key: String,
    pub port: u16,
    /// When set, the server's store holds one idempotent commit at a time on request.
    pub gate: Option<Arc<Gate>>,
    running: Mutex<Option<(Arc<App>, tokio::sync::oneshot::Sender<()>)>>,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl KeyServer {
    fn config(dir: &Path) -> Config {
        Config {
            database: dir.join("server.db").display().to_string(),
            max_failures: 100_000,
            ..Config::default()
        }
    }

    /// Initializes a server database (without serving it yet) and returns it stopped.
    pub fn init() -> Self {
        log_file();
        let dir = tempfile::tempdir().unwrap();
        let admin_key = runtime().block_on(async {
            let app = App::open(Self::config(dir.path())).await.unwrap();
            app.service
                .initialize("admin", None)
                .await
                .unwrap()
                .expose()
                .to_owned()
        });
        Self {
            dir,
            admin_key,
            port: free_port(),
            gate: None,
            running: Mutex::new(None),
        }
    }

    pub fn started() -> Self {
        let s = Self::init();
        s.start();
        s
    }

    /// A started server whose store can hold a commit (see [`Gate`]).
    pub fn started_gated() -> Self {
        let mut s = Self::init();
        s.gate = Some(Arc::new(Gate::default()));
        s.start();
        s
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn start(&self) {
        let dir = self.dir.path().to_path_buf();
        let port = self.port;
        let gate = self.gate.clone();
        let (app, stop) = runtime().block_on(async move {
            let config = Self::config(&dir);
            let store = keywarden_server::store::open(&config.database, config.pg_pool_size)
                .await
                .unwrap();
            let store: Arc<dyn Store> = match gate {
                Some(gate) => Arc::new(GatedStore { inner: store, gate }),
                None => store,
            };
            let mut app = App::with_store(config, store).await.unwrap();
            app.start_followers();
            let app = Arc::new(app);
            let listener = loop {
                match TcpListener::bind(("127.0.0.1", port)).await {
                    Ok(l) => break l,
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            };
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let serving = Arc::clone(&app);
            tokio::spawn(async move {
                let _ = serving
                    .serve(listener, async move {
                        let _ = rx.await;
                    })
                    .await;
            });
            (app, tx)
        });
        *self.running.lock().unwrap() = Some((app, stop));
    }

    pub fn stop(&self) {
        if let Some((app, stop)) = self.running.lock().unwrap().take() {
            let _ = stop.send(());
            runtime().block_on(async {
                tokio::time::sleep(Duration::from_millis(100)).await;
            });
            drop(app);
        }
    }

    /// The server's audit log, all of it.
    pub fn audit(&self) -> Vec<Value> {
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

    pub fn get(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.url());
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

    pub fn verify(&self, key: &str) -> Value {
        self.verify_at(key, "GET", "/")
    }

    pub fn verify_at(&self, key: &str, method: &str, path: &str) -> Value {
        let url = format!("{}/v1/verify", self.url());
        let body = serde_json::json!({ "key": key, "method": method, "path": path });
        runtime().block_on(async move {
            reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        })
    }
}

impl Drop for KeyServer {
    fn drop(&mut self) {
        if let Some(gate) = &self.gate {
            // Never leave a request of the server hanging on a gate.
            gate.release();
        }
        self.stop();
    }
}

/// Holds the key server's next idempotent commit (the database write that records an
/// action and its Idempotency-Key result) until the test releases it. Meanwhile the
/// request it belongs to is in flight on the server exactly as a slow commit would be:
/// its Idempotency-Key is recorded as pending, and any other request with that key meets
/// the server's real in-flight check. Nothing is planted: the 409 comes from a request.
pub struct Gate {
    armed: AtomicBool,
    signals: Mutex<Option<(std::sync::mpsc::Sender<()>, std::sync::mpsc::Sender<()>)>>,
    release: tokio::sync::Semaphore,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            armed: AtomicBool::new(false),
            signals: Mutex::new(None),
            release: tokio::sync::Semaphore::new(0),
        }
    }
}

/// What an armed [`Gate`] tells: when it holds a commit, and when that commit is done.
pub struct Held {
    pub held: std::sync::mpsc::Receiver<()>,
    pub done: std::sync::mpsc::Receiver<()>,
}

impl Gate {
    /// Holds the next idempotent commit.
    pub fn arm(&self) -> Held {
        let (held_tx, held) = std::sync::mpsc::channel();
        let (done_tx, done) = std::sync::mpsc::channel();
        *self.signals.lock().unwrap() = Some((held_tx, done_tx));
        self.armed.store(true, Ordering::SeqCst);
        Held { held, done }
    }

    /// Lets the held commit go on.
    pub fn release(&self) {
        self.release.add_permits(1);
    }
}

struct GatedStore {
    inner: Arc<dyn Store>,
    gate: Arc<Gate>,
}

#[async_trait]
impl Store for GatedStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    fn change_signal(&self) -> Option<Arc<tokio::sync::Notify>> {
        self.inner.change_signal()
    }
    async fn load(&self) -> Result<Snapshot, StoreError> {
        self.inner.load().await
    }
    async fn changes_since(&self, since: i64, limit: i64) -> Result<Vec<Change>, StoreError> {
        self.inner.changes_since(since, limit).await
    }
    async fn apply(&self, m: Mutation) -> Result<Vec<Change>, StoreError> {
        if m.idempotency.is_none() || !self.gate.armed.swap(false, Ordering::SeqCst) {
            return self.inner.apply(m).await;
        }
        let signals = self.gate.signals.lock().unwrap().take();
        if let Some((held, _)) = &signals {
            let _ = held.send(());
        }
        self.gate
            .release
            .acquire()
            .await
            .expect("the gate's semaphore is never closed")
            .forget();
        let result = self.inner.apply(m).await;
        if let Some((_, done)) = &signals {
            let _ = done.send(());
        }
        result
    }
    async fn idempotency_begin(
        &self,
        a: &str,
        k: &str,
        h: &str,
        n: Timestamp,
        s: Timestamp,
    ) -> Result<IdemBegin, StoreError> {
        self.inner.idempotency_begin(a, k, h, n, s).await
    }
    async fn idempotency_abort(&self, a: &str, k: &str) -> Result<(), StoreError> {
        self.inner.idempotency_abort(a, k).await
    }
    async fn append_audit(&self, e: Vec<NewAudit>, at: Timestamp) -> Result<(), StoreError> {
        self.inner.append_audit(e, at).await
    }
    async fn audit(&self, q: AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        self.inner.audit(q).await
    }
    async fn password_hash(&self, p: &str) -> Result<Option<String>, StoreError> {
        self.inner.password_hash(p).await
    }
    async fn session_insert(&self, d: &str, p: &str, e: Timestamp) -> Result<(), StoreError> {
        self.inner.session_insert(d, p, e).await
    }
    async fn session_get(&self, d: &str) -> Result<Option<(String, Timestamp)>, StoreError> {
        self.inner.session_get(d).await
    }
    async fn session_delete(&self, d: &str) -> Result<(), StoreError> {
        self.inner.session_delete(d).await
    }
    async fn session_list(&self, p: &str) -> Result<Vec<SessionRow>, StoreError> {
        self.inner.session_list(p).await
    }
    async fn session_end(&self, p: &str, id: Option<&str>) -> Result<u64, StoreError> {
        self.inner.session_end(p, id).await
    }
    async fn record_usage(&self, u: Vec<(String, Timestamp)>) -> Result<(), StoreError> {
        self.inner.record_usage(u).await
    }
    async fn prune(&self, before: Timestamp, now: Timestamp) -> Result<(), StoreError> {
        self.inner.prune(before, now).await
    }
    async fn bulk_insert(&self, o: Vec<Object>, a: &str, at: Timestamp) -> Result<(), StoreError> {
        self.inner.bulk_insert(o, a, at).await
    }
}

// -------------------------------------------------------------------------------------------
// An administrator's machine
// -------------------------------------------------------------------------------------------

/// An administrator's machine: a profile directory with a vault (in-memory store) and
/// `Admin` with the product's own push options and retry policy.
pub struct Desk {
    pub home: tempfile::TempDir,
    pub vault: Arc<Vault>,
    pub admin: Arc<Admin>,
    /// The clock the outbox schedules by; `None` on the system clock.
    clock: Option<Arc<TestClock>>,
}

impl Desk {
    /// The product's defaults (`PushOptions::default()`, `RetryPolicy::default()`) on a
    /// clock the test moves.
    pub fn new() -> Self {
        Self::build(PushOptions::default(), Some(TestClock::new()))
    }

    pub fn with_options(options: PushOptions) -> Self {
        Self::build(options, Some(TestClock::new()))
    }

    /// On the system clock (for the background loop, which sleeps in real time).
    pub fn on_system_clock() -> Self {
        Self::build(PushOptions::default(), None)
    }

    fn build(options: PushOptions, clock: Option<Arc<TestClock>>) -> Self {
        log_file();
        let home = tempfile::tempdir().unwrap();
        let conn = keywarden_vault::db::open(&home.path().join("keywarden.db")).unwrap();
        let vault = Arc::new(Vault::with_store(
            conn,
            Arc::new(MemoryStore::new()),
            home.path().to_path_buf(),
        ));
        let admin = Arc::new(open_admin(home.path(), &vault, clock.as_ref(), options));
        Self {
            home,
            vault,
            admin,
            clock,
        }
    }

    /// Another `Admin` on this profile — what the app and `kw admin` in a terminal are to
    /// each other: its own connection to `keywarden.db`, the same keychain, the same clock.
    pub fn open_admin(&self, options: PushOptions) -> Admin {
        open_admin(self.home.path(), &self.vault, self.clock.as_ref(), options)
    }

    pub fn clock(&self) -> &TestClock {
        self.clock
            .as_deref()
            .expect("this desk runs on a test clock")
    }

    /// How long a request may take before its answer counts as lost, from now on.
    pub fn set_request_timeout(&mut self, timeout: Duration) {
        Arc::get_mut(&mut self.admin)
            .expect("nothing else holds this Admin")
            .options
            .request_timeout = timeout;
    }

    pub fn connect(&self, server: &KeyServer) -> bool {
        self.connect_url(&server.url(), &server.admin_key)
    }

    pub fn connect_url(&self, url: &str, key: &str) -> bool {
        self.admin
            .connect_with_key(
                "main",
                url,
                None,
                keywarden_core::SecretValue::new(key.to_owned()).unwrap(),
            )
            .unwrap()
    }

    /// The queued actions of the connection, oldest first.
    pub fn queued(&self) -> Vec<OutboxEntry> {
        let mut rows = self
            .admin
            .outbox(Some("main"), &["queued"], usize::MAX)
            .unwrap();
        rows.reverse();
        rows
    }

    /// Moves the clock to the moment the last queued action is due, so that the next
    /// sync tries every action that may go. Returns how far it moved.
    pub fn advance_to_due(&self) -> i64 {
        let before = self.clock().now();
        if let Some(last) = self.queued().iter().map(|e| e.next_attempt_ms).max() {
            self.clock().advance_to(last);
        }
        self.clock().now() - before
    }

    /// One sync (which must not fail as a call), then the clock moves to when every queued
    /// action is due.
    pub fn round(&self) -> keywarden_admin::SyncReport {
        let report = self.admin.sync("main").expect("sync");
        self.advance_to_due();
        report
    }

    /// Rounds until nothing is queued. Panics when actions are still queued after
    /// `rounds` rounds. Returns the number of rounds it took.
    pub fn sync_until_idle(&self, rounds: usize) -> usize {
        for round in 1..=rounds {
            self.round();
            if self.admin.status().unwrap().queued == 0 {
                return round;
            }
        }
        panic!("still queued after {rounds} rounds: {:#?}", self.queued());
    }
}

fn open_admin(
    home: &Path,
    vault: &Arc<Vault>,
    clock: Option<&Arc<TestClock>>,
    options: PushOptions,
) -> Admin {
    let mut db = LocalDb::open(home).unwrap();
    if let Some(clock) = clock {
        db = db.with_clock(Arc::clone(clock) as Arc<dyn Clock>);
    }
    let mut admin = Admin::with_db(home.to_path_buf(), db, Some(Arc::clone(vault))).unwrap();
    admin.options = options;
    admin
}

// -------------------------------------------------------------------------------------------
// The proxy
// -------------------------------------------------------------------------------------------

/// How the proxy treats each request. The mode is read when a request has arrived, so a
/// connection kept alive from before a change obeys the new mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Fault {
    Pass = 0,
    /// Reads the request and closes the connection (nothing reaches the server).
    Refuse = 1,
    /// Answers 500 without forwarding.
    Error500 = 2,
    /// Forwards (the server applies it) and holds the answer until the client gives up
    /// waiting and hangs up: slower than the client waits, whatever its timeout.
    Slow = 3,
    /// Forwards (the server applies it) and closes without answering.
    DropAfterApply = 4,
}

impl Fault {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => Fault::Refuse,
            2 => Fault::Error500,
            3 => Fault::Slow,
            4 => Fault::DropAfterApply,
            _ => Fault::Pass,
        }
    }
}

/// One request the proxy received, byte for byte, and what became of it.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// Every byte of the request as the client sent it (head and body).
    pub request: Vec<u8>,
    pub fault: Fault,
    /// The server's answer, byte for byte, when the request was forwarded.
    pub response: Option<Vec<u8>>,
}

fn split_message(bytes: &[u8]) -> (String, &[u8]) {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a recorded message has a head");
    (
        String::from_utf8_lossy(&bytes[..end]).into_owned(),
        &bytes[end + 4..],
    )
}

fn header_of(head: &str, name: &str) -> Option<String> {
    head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

impl Exchange {
    pub fn method(&self) -> String {
        let (head, _) = split_message(&self.request);
        head.split(' ').next().unwrap_or_default().to_owned()
    }

    /// The request target without its query.
    pub fn path(&self) -> String {
        let (head, _) = split_message(&self.request);
        let target = head.split(' ').nth(1).unwrap_or_default();
        target.split('?').next().unwrap_or_default().to_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        header_of(&split_message(&self.request).0, name)
    }

    pub fn body(&self) -> &[u8] {
        split_message(&self.request).1
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(self.body()).unwrap_or(Value::Null)
    }

    pub fn status(&self) -> Option<u16> {
        let response = self.response.as_ref()?;
        let (head, _) = split_message(response);
        head.split(' ').nth(1)?.parse().ok()
    }

    pub fn response_header(&self, name: &str) -> Option<String> {
        header_of(&split_message(self.response.as_ref()?).0, name)
    }

    pub fn response_json(&self) -> Value {
        self.response
            .as_ref()
            .map(|r| serde_json::from_slice(split_message(r).1).unwrap_or(Value::Null))
            .unwrap_or(Value::Null)
    }
}

#[derive(Default)]
struct Shared {
    mode: AtomicU8,
    log: Mutex<Vec<Exchange>>,
}

impl Shared {
    fn fault(&self) -> Fault {
        Fault::from_u8(self.mode.load(Ordering::SeqCst))
    }

    fn record(&self, request: &[u8], fault: Fault) -> usize {
        let mut log = self.log.lock().unwrap();
        log.push(Exchange {
            request: request.to_vec(),
            fault,
            response: None,
        });
        log.len() - 1
    }

    fn answered(&self, i: usize, response: &[u8]) {
        self.log.lock().unwrap()[i].response = Some(response.to_vec());
    }
}

/// A proxy between the admin client and the key server that injects faults and records
/// every request it receives (and every answer the server gives), byte for byte. An
/// exchange is recorded before the client hears anything back, so once a sync returns,
/// the recording holds all of its requests.
pub struct Proxy {
    pub port: u16,
    shared: Arc<Shared>,
}

impl Proxy {
    pub fn start(target: u16) -> Self {
        let listener = runtime()
            .block_on(TcpListener::bind(("127.0.0.1", 0)))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        let s = Arc::clone(&shared);
        runtime().spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let s = Arc::clone(&s);
                tokio::spawn(async move {
                    let _ = handle(stream, target, s).await;
                });
            }
        });
        Self { port, shared }
    }

    pub fn set(&self, fault: Fault) {
        self.shared.mode.store(fault as u8, Ordering::SeqCst);
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Everything recorded so far, in the order the requests arrived.
    pub fn recorded(&self) -> Vec<Exchange> {
        self.shared.log.lock().unwrap().clone()
    }
}

async fn read_message(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
    if head
        .lines()
        .any(|l| l.starts_with("transfer-encoding:") && l.contains("chunked"))
    {
        // Not needed by anything the product sends or the server answers; refusing it
        // loudly keeps the recording complete.
        return Err(std::io::Error::other(
            "chunked bodies are not supported by the test proxy",
        ));
    }
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(buf))
}

async fn handle(mut client: TcpStream, target: u16, shared: Arc<Shared>) -> std::io::Result<()> {
    loop {
        let Some(request) = read_message(&mut client).await? else {
            return Ok(());
        };
        let fault = shared.fault();
        let i = shared.record(&request, fault);
        match fault {
            Fault::Refuse => return Ok(()),
            Fault::Error500 => {
                let body = br#"{"code":"internal","message":"injected failure","field":null}"#;
                let mut answer = format!(
                    "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                answer.extend_from_slice(body);
                client.write_all(&answer).await?;
                continue;
            }
            Fault::Pass | Fault::Slow | Fault::DropAfterApply => {}
        }
        let mut upstream = TcpStream::connect(("127.0.0.1", target)).await?;
        upstream.write_all(&request).await?;
        let Some(response) = read_message(&mut upstream).await? else {
            return Ok(());
        };
        shared.answered(i, &response);
        match fault {
            Fault::DropAfterApply => return Ok(()),
            Fault::Slow => {
                // Until the client hangs up (end of stream or an error): it never hears back.
                let mut byte = [0u8; 1];
                let _ = client.read(&mut byte).await;
                return Ok(());
            }
            _ => client.write_all(&response).await?,
        }
    }
}

// -------------------------------------------------------------------------------------------
// Looking for secrets
// -------------------------------------------------------------------------------------------

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// Base64 text that encodes `value` wherever it sits in a longer encoded blob: for each of
/// the three byte alignments, the characters that depend on `value`'s bytes only.
fn base64_inner(engine: &base64::engine::GeneralPurpose, value: &[u8]) -> Vec<String> {
    (0..3usize)
        .map(|shift| {
            let mut data = vec![0u8; shift];
            data.extend_from_slice(value);
            let text = engine.encode(&data);
            let text = text.trim_end_matches('=');
            let start = (shift * 8).div_ceil(6);
            let end = data.len() * 8 / 6;
            text[start..end].to_owned()
        })
        .collect()
}

/// The forms a secret may take in bytes that were written or sent, each named: raw; hex
/// (lower and upper case); base64, standard and URL-safe, padded and unpadded, and at
/// every alignment inside a longer encoded text; percent-encoded, every byte (upper and
/// lower case) — the key alphabet is unreserved, so usual percent-encoding is the raw text.
pub fn encodings(value: &str) -> Vec<(String, Vec<u8>)> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let bytes = value.as_bytes();
    let mut out: Vec<(String, Vec<u8>)> = vec![
        ("raw".into(), bytes.to_vec()),
        ("hex".into(), hex::encode(bytes).into_bytes()),
        ("HEX".into(), hex::encode_upper(bytes).into_bytes()),
        ("base64".into(), STANDARD.encode(bytes).into_bytes()),
        (
            "base64 unpadded".into(),
            STANDARD_NO_PAD.encode(bytes).into_bytes(),
        ),
        ("base64url".into(), URL_SAFE.encode(bytes).into_bytes()),
        (
            "base64url unpadded".into(),
            URL_SAFE_NO_PAD.encode(bytes).into_bytes(),
        ),
        (
            "percent-encoded".into(),
            bytes
                .iter()
                .flat_map(|b| format!("%{b:02X}").into_bytes())
                .collect(),
        ),
        (
            "percent-encoded (lower case)".into(),
            bytes
                .iter()
                .flat_map(|b| format!("%{b:02x}").into_bytes())
                .collect(),
        ),
    ];
    for (name, engine) in [("base64", &STANDARD), ("base64url", &URL_SAFE)] {
        for (shift, inner) in base64_inner(engine, bytes).into_iter().enumerate() {
            out.push((format!("{name} at offset {shift}"), inner.into_bytes()));
        }
    }
    out
}

/// The name of the first form of `value` found in `haystack`.
pub fn find_secret(haystack: &[u8], value: &str) -> Option<String> {
    encodings(value)
        .into_iter()
        .find(|(_, needle)| contains(haystack, needle))
        .map(|(name, _)| name)
}

/// Asserts that no form of any of `secrets` is in the files (each must be readable).
pub fn assert_no_secret_in_files(files: &[PathBuf], secrets: &[(&str, String)]) {
    for file in files {
        let bytes =
            std::fs::read(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        for (what, value) in secrets {
            if let Some(form) = find_secret(&bytes, value) {
                panic!("the {what} is in {} ({form})", file.display());
            }
        }
    }
}

/// Audit entries counted by (action, name or target).
pub fn audit_counts(server: &KeyServer) -> HashMap<(String, String), usize> {
    let mut counts = HashMap::new();
    for e in server.audit() {
        let action = e["action"].as_str().unwrap_or_default().to_owned();
        let what = e["detail"]["name"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| e["target"].as_str().unwrap_or_default().to_owned());
        *counts.entry((action, what)).or_insert(0) += 1;
    }
    counts
}

/// The scanner finds each form of a secret it claims to look for, wherever it sits.
#[test]
fn every_encoding_is_found_in_surrounding_bytes() {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let value = "kw_live_Zq8mT3vXw9LkP2rB7nYc4HdG6sJfA1eQ_0aZ9Qx";
    let forms = encodings(value);
    assert!(forms.len() >= 15);
    for (name, needle) in &forms {
        let mut hay = b"...{\"x\":\"".to_vec();
        hay.extend_from_slice(needle);
        hay.extend_from_slice(b"\"}...");
        assert!(find_secret(&hay, value).is_some(), "{name} not found");
    }
    // Inside longer encoded texts, at every alignment.
    for lead in ["", "a", "ab", "abc"] {
        let blob = format!("{lead}{value}, and more");
        for text in [STANDARD.encode(&blob), URL_SAFE_NO_PAD.encode(&blob)] {
            assert!(
                find_secret(text.as_bytes(), value).is_some(),
                "{lead:?} {text}"
            );
        }
    }
    let percent: String = value.bytes().map(|b| format!("%{b:02x}")).collect();
    assert!(find_secret(percent.as_bytes(), value).is_some());
    assert!(find_secret(b"nothing of it here", value).is_none());
    // A near miss is not a hit: one character changed.
    let other = value.replace('Z', "Y");
    assert!(find_secret(other.as_bytes(), value).is_none());
}
