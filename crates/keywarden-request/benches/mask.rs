//! Throughput of the streaming masker (`kw run`'s output path) on one core.
//!
//! Method: 100 secrets (40-character keys, `kw_live_` + base62) go into one `Masker`, each
//! with all its encodings (raw, JSON, base64 standard and URL-safe with and without padding
//! and at three alignments, percent-encoded three ways, hex lower and upper). A deterministic
//! generator writes 100 MiB of build-log-like text: timestamps, levels, crate names, paths,
//! 40-character hex hashes, base64 artefact digests, test results, some long lines; every
//! ~256 KiB one planted value appears, raw or encoded (400 in all). The log is fed to one
//! `StreamMasker` in 64 KiB chunks (a full pipe read in `kw run`), then in 4 KiB chunks (a
//! line-buffered child), on one thread; the output goes to a reused buffer. Five timed rounds
//! after one warm-up round per chunk size; throughput = input bytes / wall time of a round.
//! Each round must replace exactly the planted values, nothing else.
//! The masker's build time and pattern count are printed too.
//!
//! Run: `cargo bench -p keywarden-request --bench mask`
//! (optionally `taskset -c 1 cargo bench ...` to pin the process to one core).

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use keywarden_request::Masker;

const LOG_BYTES: usize = 100 * 1024 * 1024;
/// A full pipe read in `kw run`, and a small one (a line-buffered child).
const CHUNKS: [usize; 2] = [64 * 1024, 4 * 1024];
const SECRETS: usize = 100;
const PLANT_EVERY: usize = 256 * 1024;
const ROUNDS: usize = 5;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn secrets(rng: &mut Rng) -> Vec<String> {
    (0..SECRETS)
        .map(|_| {
            let mut s = String::from("kw_live_");
            for _ in 0..32 {
                s.push(BASE62[rng.below(62)] as char);
            }
            s
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn log_line(rng: &mut Rng, out: &mut Vec<u8>) {
    let levels = ["INFO ", "DEBUG", "WARN ", "INFO ", "TRACE", "INFO "];
    let crates = [
        "serde",
        "tokio",
        "hyper",
        "rustls",
        "keywarden-core",
        "reqwest",
        "aho-corasick",
        "regex-syntax",
        "proc-macro2",
        "syn",
        "quote",
        "libc",
        "rusqlite",
        "tracing",
    ];
    let verbs = [
        "Compiling",
        "Checking",
        "Downloaded",
        "Fresh",
        "Running",
        "Finished",
        "Linking",
    ];
    let words = [
        "test",
        "result",
        "ok",
        "passed",
        "failed",
        "ignored",
        "build",
        "cache",
        "hit",
        "miss",
        "artifact",
        "upload",
        "step",
        "job",
        "runner",
        "container",
        "layer",
        "digest",
        "pull",
        "sha256",
        "target",
        "release",
        "debug",
        "worker",
        "queue",
        "retry",
        "timeout",
        "ms",
    ];
    let t = rng.next();
    out.extend_from_slice(
        format!(
            "2026-11-{:02}T{:02}:{:02}:{:02}.{:03}Z {} [worker-{}] ",
            1 + t % 28,
            (t >> 8) % 24,
            (t >> 16) % 60,
            (t >> 24) % 60,
            (t >> 32) % 1000,
            rng.pick(&levels),
            rng.below(16)
        )
        .as_bytes(),
    );
    match rng.below(10) {
        0..=3 => out.extend_from_slice(
            format!(
                "{} {} v{}.{}.{} (/home/ci/.cargo/registry/src/index.crates.io-6f17d22bba15001f/{})",
                rng.pick(&verbs),
                rng.pick(&crates),
                rng.below(3),
                rng.below(40),
                rng.below(20),
                rng.pick(&crates)
            )
            .as_bytes(),
        ),
        4 | 5 => {
            let digest: Vec<u8> = (0..20).map(|_| rng.next() as u8).collect();
            out.extend_from_slice(
                format!(
                    "layer sha256:{} pulled in {} ms",
                    hex(&digest),
                    rng.below(5000)
                )
                .as_bytes(),
            );
        }
        6 => {
            let digest: Vec<u8> = (0..32).map(|_| rng.next() as u8).collect();
            out.extend_from_slice(
                format!(
                    "uploaded artifact {} digest={}",
                    rng.pick(&crates),
                    STANDARD.encode(&digest)
                )
                .as_bytes(),
            );
        }
        7 => {
            for _ in 0..(20 + rng.below(60)) {
                out.extend_from_slice(rng.pick(&words).as_bytes());
                out.push(b' ');
            }
        }
        _ => {
            for _ in 0..(3 + rng.below(12)) {
                out.extend_from_slice(rng.pick(&words).as_bytes());
                out.push(if rng.below(4) == 0 { b'=' } else { b' ' });
            }
        }
    }
    out.push(b'\n');
}

/// The log and how many values were planted in it.
fn log(rng: &mut Rng, secrets: &[String]) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(LOG_BYTES + 4096);
    let mut planted = 0;
    let mut next_plant = PLANT_EVERY;
    while out.len() < LOG_BYTES {
        log_line(rng, &mut out);
        if out.len() >= next_plant {
            next_plant += PLANT_EVERY;
            let s = &secrets[rng.below(secrets.len())];
            let form = match rng.below(4) {
                0 => s.clone(),
                1 => STANDARD.encode(s),
                2 => URL_SAFE_NO_PAD.encode(format!("user:{s}")),
                _ => hex(s.as_bytes()),
            };
            out.extend_from_slice(format!("Authorization: Bearer {form} sent\n").as_bytes());
            planted += 1;
        }
    }
    (out, planted)
}

fn main() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let secrets = secrets(&mut rng);
    let (log, planted) = log(&mut rng, &secrets);

    let started = Instant::now();
    let mut builder = Masker::builder();
    for (i, s) in secrets.iter().enumerate() {
        builder.secret(&format!("key_{i:03}"), s.as_bytes());
    }
    let masker = builder.build();
    let build_time = started.elapsed();

    println!(
        "masker: {SECRETS} secrets, {} patterns (longest {} bytes), {:.1} MiB, built in {:.1} ms",
        masker.patterns(),
        masker.longest_pattern(),
        masker.memory_usage() as f64 / (1024.0 * 1024.0),
        build_time.as_secs_f64() * 1000.0
    );
    let mib = log.len() as f64 / (1024.0 * 1024.0);
    println!("log: {mib:.1} MiB, {planted} planted values, {ROUNDS} rounds per chunk size");
    for chunk_size in CHUNKS {
        let mut out = Vec::with_capacity(2 * chunk_size);
        let mut round = || -> Duration {
            let mut stream = masker.stream();
            let started = Instant::now();
            for chunk in log.chunks(chunk_size) {
                out.clear();
                stream.push(chunk, &mut out);
                std::hint::black_box(&out);
            }
            out.clear();
            stream.finish(&mut out);
            let elapsed = started.elapsed();
            assert_eq!(
                stream.report().occurrences,
                planted,
                "every planted value is masked, nothing else"
            );
            elapsed
        };
        round();
        let mut rounds: Vec<Duration> = (0..ROUNDS).map(|_| round()).collect();
        rounds.sort();
        let rate = |d: Duration| mib / d.as_secs_f64();
        println!(
            "{:>2} KiB chunks: best {:.0} MiB/s, median {:.0} MiB/s, worst {:.0} MiB/s",
            chunk_size / 1024,
            rate(rounds[0]),
            rate(rounds[ROUNDS / 2]),
            rate(rounds[ROUNDS - 1])
        );
    }
}
