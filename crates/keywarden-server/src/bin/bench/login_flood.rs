//! `keywarden-server-bench login-flood`: hundreds of concurrent wrong logins from many
//! addresses against a real key server in this process, while `/healthz` is timed every
//! 50 ms and the process's memory is sampled.
//!
//! The server runs on its own runtime (2 worker threads, as in production on this machine),
//! the flood on another (2 threads), the `/healthz` prober on a thread of its own (a fresh
//! connection per probe, so the accept path is measured too) and the memory sampler on a
//! plain thread reading `/proc/self/status` (VmRSS every 50 ms, VmHWM at the end). The
//! flood speaks HTTP/1.1 itself over keep-alive connections (one per worker) and names its
//! address in `X-Real-IP`, which the server believes from 127.0.0.1.
//!
//! Usage: `keywarden-server-bench login-flood [--concurrency 300] [--addresses 300]
//! [--duration 10] [--throttles on|off] [--login-concurrency N]`

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use keywarden_server::App;
use keywarden_server::config::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct FloodArgs {
    concurrency: usize,
    addresses: usize,
    duration: u64,
    throttles: bool,
    login_concurrency: Option<usize>,
}

pub fn parse(mut it: impl Iterator<Item = String>) -> Result<FloodArgs> {
    let mut args = FloodArgs {
        concurrency: 300,
        addresses: 300,
        duration: 10,
        throttles: true,
        login_concurrency: None,
    };
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--concurrency" => args.concurrency = value.parse()?,
            "--addresses" => args.addresses = value.parse::<usize>()?.max(1),
            "--duration" => args.duration = value.parse()?,
            "--throttles" => {
                args.throttles = match value.as_str() {
                    "on" => true,
                    "off" => false,
                    other => bail!("--throttles on|off, not {other}"),
                }
            }
            "--login-concurrency" => args.login_concurrency = Some(value.parse()?),
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(args)
}

/// Current and peak resident memory of this process, in KiB.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// `ListenOverflows` of the network namespace (every listener on the machine, not only ours).
fn listen_overflows() -> u64 {
    let text = std::fs::read_to_string("/proc/net/netstat").unwrap_or_default();
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "ListenOverflows")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// Sends one request on a keep-alive connection and reads the response; returns its status
/// and whether the server closes the connection after it.
async fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> Result<(u16, bool)> {
    stream.write_all(request).await?;
    buf.clear();
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("connection closed");
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = std::str::from_utf8(&buf[..end])
            .context("response head")?
            .to_ascii_lowercase();
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("status line")?;
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.strip_prefix("content-length:")
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0);
        while buf.len() < end + 4 + length {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                bail!("connection closed mid-body");
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        return Ok((status, head.contains("connection: close")));
    }
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    unauthorized: AtomicU64,
    too_many: AtomicU64,
    other: AtomicU64,
    errors: AtomicU64,
}

async fn flood_worker(
    server: SocketAddr,
    worker: usize,
    args: Arc<FloodArgs>,
    deadline: Instant,
    tally: Arc<Tally>,
) {
    let mut stream: Option<TcpStream> = None;
    let mut buf = Vec::with_capacity(4096);
    let mut attempt = worker;
    while Instant::now() < deadline {
        let address = attempt % args.addresses;
        let ip = format!(
            "10.{}.{}.{}",
            address >> 16 & 255,
            address >> 8 & 255,
            address & 255
        );
        let user = if attempt.is_multiple_of(10) {
            "admin".to_owned()
        } else {
            format!("user{}", attempt % 1000)
        };
        let body = format!(r#"{{"username":"{user}","password":"not the password 1234"}}"#);
        let request = format!(
            "POST /v1/auth/login HTTP/1.1\r\nHost: kw\r\nContent-Type: application/json\r\nX-Real-IP: {ip}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        attempt += args.concurrency;
        if stream.is_none() {
            match TcpStream::connect(server).await {
                Ok(s) => stream = Some(s),
                Err(_) => {
                    tally.errors.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let Some(s) = stream.as_mut() else { continue };
        match exchange(s, request.as_bytes(), &mut buf).await {
            Ok((status, closing)) => {
                if closing {
                    stream = None;
                }
                let counter = match status {
                    200 => &tally.ok,
                    401 => &tally.unauthorized,
                    429 => &tally.too_many,
                    _ => &tally.other,
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                tally.errors.fetch_add(1, Ordering::Relaxed);
                stream = None;
            }
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

pub fn run(args: FloodArgs) -> Result<()> {
    let args = Arc::new(args);
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let dir = std::env::temp_dir().join(format!("keywarden-flood-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let mut config = Config {
        database: dir.join("flood.db").to_string_lossy().into_owned(),
        trusted_proxies: vec!["127.0.0.1/32".parse()?],
        ..Config::default()
    };
    if let Some(n) = args.login_concurrency {
        config.login_concurrency = n;
    }
    if !args.throttles {
        config.max_failures = 0;
        config.login_user_max_failures = 0;
    }
    let login_concurrency = config.login_concurrency;
    let (app, server) = server_rt.block_on(async {
        let mut app = App::open(config).await?;
        app.service
            .initialize(
                "admin",
                Some(zeroize::Zeroizing::new("the admin's long password".into())),
            )
            .await?;
        app.start_followers();
        let listener = keywarden_server::app::bind("127.0.0.1:0".parse()?)?;
        let server = listener.local_addr()?;
        tokio::spawn(app.serve(listener, std::future::pending()));
        anyhow::Ok((app, server))
    })?;
    let (rss_before, _) = memory_kib();

    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut peak = 0;
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(memory_kib().0);
                std::thread::sleep(Duration::from_millis(50));
            }
            peak
        })
    };
    let prober = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || -> Result<(Vec<(Duration, Instant)>, u64)> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let mut latencies = Vec::new();
                let mut failures = 0;
                let mut buf = Vec::new();
                let mut tick = tokio::time::interval(Duration::from_millis(50));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                while !stop.load(Ordering::Relaxed) {
                    tick.tick().await;
                    let started = Instant::now();
                    let probe = async {
                        let mut s = TcpStream::connect(server).await?;
                        exchange(
                            &mut s,
                            b"GET /healthz HTTP/1.1\r\nHost: kw\r\n\r\n",
                            &mut buf,
                        )
                        .await
                    };
                    match tokio::time::timeout(Duration::from_secs(10), probe).await {
                        Ok(Ok((200, _))) => latencies.push((started.elapsed(), started)),
                        _ => failures += 1,
                    }
                }
                Ok((latencies, failures))
            })
        })
    };

    let overflows_before = listen_overflows();
    let tally = Arc::new(Tally::default());
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration);
    client_rt.block_on(async {
        let workers: Vec<_> = (0..args.concurrency)
            .map(|w| {
                tokio::spawn(flood_worker(
                    server,
                    w,
                    Arc::clone(&args),
                    deadline,
                    Arc::clone(&tally),
                ))
            })
            .collect();
        for w in workers {
            let _ = w.await;
        }
    });
    let elapsed = started.elapsed();
    // The flood's last answers are in; sample a little longer, then stop.
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let peak_sampled = sampler.join().unwrap_or(0);
    let (probes, probe_failures) = prober
        .join()
        .map_err(|_| anyhow::anyhow!("the prober panicked"))??;
    let overflows = listen_overflows().saturating_sub(overflows_before);
    let (_, hwm) = memory_kib();
    // When the slowest probe was sent, in seconds after the flood began (negative: before).
    let slowest = probes.iter().max_by_key(|(d, _)| *d).map(|&(d, at)| {
        let offset = match at.checked_duration_since(started) {
            Some(after) => after.as_secs_f64(),
            None => -started.duration_since(at).as_secs_f64(),
        };
        (d, offset)
    });
    let mut latencies: Vec<Duration> = probes.iter().map(|(d, _)| *d).collect();
    latencies.sort();
    let gate = &app.service.login_limits.gate;
    let mib = |kib: u64| kib as f64 / 1024.0;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let answered = count(&tally.ok)
        + count(&tally.unauthorized)
        + count(&tally.too_many)
        + count(&tally.other);
    println!(
        "login flood: {} workers, {} addresses, {:.1} s, throttles {}, login_concurrency {}",
        args.concurrency,
        args.addresses,
        elapsed.as_secs_f64(),
        if args.throttles { "on" } else { "off" },
        login_concurrency
    );
    println!(
        "logins answered: {answered} ({:.0}/s): 200 {}, 401 {}, 429 {}, other {}; requests lost to a closed connection (then reconnected) {}",
        answered as f64 / elapsed.as_secs_f64(),
        count(&tally.ok),
        count(&tally.unauthorized),
        count(&tally.too_many),
        count(&tally.other),
        count(&tally.errors)
    );
    println!(
        "password hashes: {} ({:.0}/s), at most {} at once",
        gate.hashes_started(),
        gate.hashes_started() as f64 / elapsed.as_secs_f64(),
        gate.hashes_in_flight_max()
    );
    println!(
        "memory (whole process: server, flood, prober): before {:.0} MiB, peak sampled VmRSS {:.0} MiB, VmHWM {:.0} MiB",
        mib(rss_before),
        mib(peak_sampled),
        mib(hwm)
    );
    println!(
        "/healthz: {} probes, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, failed {}",
        latencies.len(),
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 99.0)),
        ms(latencies.last().copied().unwrap_or_default()),
        probe_failures
    );
    if let Some((d, at)) = slowest {
        println!(
            "slowest /healthz probe: {:.1} ms, sent {at:.2} s after the flood began",
            ms(d)
        );
    }
    println!(
        "open connections at peak: {}; listen-queue overflows on the machine during the run: {overflows}",
        app.connections().peak()
    );
    drop(app);
    drop(server_rt);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
