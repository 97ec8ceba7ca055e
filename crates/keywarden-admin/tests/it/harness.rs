//! A real key server (the `keywarden-server` crate on a loopback port, SQLite in a
//! temporary directory), a fault-injecting proxy, and admin clients over a vault with
//! an in-memory secret store.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use keywarden_admin::{Admin, PushOptions, RetryPolicy};
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
        let writer = Mutex::new(file);
        let _ = tracing_subscriber_init(writer);
        path
    })
}

fn tracing_subscriber_init(writer: Mutex<std::fs::File>) -> Result<(), ()> {
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
        .with_env_filter("debug,hyper=info,reqwest=info,h2=info,rustls=info")
        .try_init()
        .map_err(|_| ())
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

/// A key server whose database outlives its process-like start/stop cycles.
pub struct KeyServer {
    pub dir: tempfile::TempDir,
    pub admin_key: String,
    pub port: u16,
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
            running: Mutex::new(None),
        }
    }

    pub fn started() -> Self {
        let s = Self::init();
        s.start();
        s
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn start(&self) {
        let dir = self.dir.path().to_path_buf();
        let port = self.port;
        let (app, stop) = runtime().block_on(async move {
            let mut app = App::open(Self::config(&dir)).await.unwrap();
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
        self.stop();
    }
}

/// An administrator's machine: a profile directory with a vault (in-memory store) and `Admin`.
pub struct Desk {
    pub home: tempfile::TempDir,
    pub vault: Arc<Vault>,
    pub admin: Arc<Admin>,
}

pub fn fast_options() -> PushOptions {
    PushOptions {
        concurrency: 8,
        batch: 64,
        policy: RetryPolicy {
            max_attempts: 50,
            base_ms: 10,
            cap_ms: 200,
        },
        request_timeout: Duration::from_secs(5),
    }
}

impl Desk {
    pub fn new() -> Self {
        Self::with_options(fast_options())
    }

    pub fn with_options(options: PushOptions) -> Self {
        log_file();
        let home = tempfile::tempdir().unwrap();
        let conn = keywarden_vault::db::open(&home.path().join("keywarden.db")).unwrap();
        let vault = Arc::new(Vault::with_store(
            conn,
            Arc::new(MemoryStore::new()),
            home.path().to_path_buf(),
        ));
        let mut admin = Admin::open(home.path().to_path_buf(), Some(Arc::clone(&vault))).unwrap();
        admin.options = options;
        Self {
            home,
            vault,
            admin: Arc::new(admin),
        }
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

    /// Syncs until nothing is queued (retries included), at most `rounds` times.
    pub fn sync_until_idle(&self, rounds: usize) {
        for _ in 0..rounds {
            let _ = self.admin.sync("main");
            let s = self.admin.status().unwrap();
            if s.queued == 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(30));
        }
    }
}

/// How the proxy treats each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Fault {
    Pass = 0,
    /// Accepts and closes the connection at once (nothing reaches the server).
    Refuse = 1,
    /// Answers 500 without forwarding.
    Error500 = 2,
    /// Forwards after a delay and answers after another: slower than the client waits.
    Slow = 3,
    /// Forwards (the server applies it) and closes without answering.
    DropAfterApply = 4,
}

pub struct Proxy {
    pub port: u16,
    mode: Arc<AtomicU8>,
    pub forwarded: Arc<std::sync::atomic::AtomicU64>,
}

impl Proxy {
    pub fn start(target: u16) -> Self {
        let listener = runtime()
            .block_on(TcpListener::bind(("127.0.0.1", 0)))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(AtomicU8::new(0));
        let forwarded = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let m = Arc::clone(&mode);
        let f = Arc::clone(&forwarded);
        runtime().spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let m = Arc::clone(&m);
                let f = Arc::clone(&f);
                tokio::spawn(async move {
                    let _ = handle(stream, target, m, f).await;
                });
            }
        });
        Self {
            port,
            mode,
            forwarded,
        }
    }

    pub fn set(&self, fault: Fault) {
        self.mode.store(fault as u8, Ordering::SeqCst);
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
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

async fn handle(
    mut client: TcpStream,
    target: u16,
    mode: Arc<AtomicU8>,
    forwarded: Arc<std::sync::atomic::AtomicU64>,
) -> std::io::Result<()> {
    loop {
        let fault = mode.load(Ordering::SeqCst);
        if fault == Fault::Refuse as u8 {
            return Ok(());
        }
        let Some(request) = read_message(&mut client).await? else {
            return Ok(());
        };
        if fault == Fault::Error500 as u8 {
            let body = br#"{"code":"internal","message":"injected failure","field":null}"#;
            let head = format!(
                "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            client.write_all(head.as_bytes()).await?;
            client.write_all(body).await?;
            continue;
        }
        if fault == Fault::Slow as u8 {
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
        let mut upstream = TcpStream::connect(("127.0.0.1", target)).await?;
        upstream.write_all(&request).await?;
        let Some(response) = read_message(&mut upstream).await? else {
            return Ok(());
        };
        forwarded.fetch_add(1, Ordering::SeqCst);
        if fault == Fault::DropAfterApply as u8 {
            return Ok(());
        }
        if fault == Fault::Slow as u8 {
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
        client.write_all(&response).await?;
    }
}

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
    haystack.windows(needle.len()).any(|w| w == needle)
}

pub fn _addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}
