//! The composer's overhead over a bare reqwest call.
//!
//! Method: a keep-alive HTTP/1.1 server on loopback answers `200 ok` to everything.
//! The same reqwest client settings send 5,000 sequential GET requests two ways,
//! interleaved in 5 rounds: (a) bare — `client.get(url).header(Authorization, ...)`
//! with the key already in memory; (b) composer — `prepare()` of a request with a
//! Bearer key profile, a templated header and an environment variable (the secret
//! read from an in-memory store: keychain time excluded), then `Sender::send`.
//! Overhead per request = (median composer round - median bare round) / 5,000.
//!
//! Run: `cargo bench -p keywarden-request --bench overhead`

use std::sync::Arc;
use std::time::{Duration, Instant};

use keywarden_core::{SecretName, SecretValue};
use keywarden_request::{
    Environment, KeyProfile, KeyValue, RequestSpec, SendOptions, Sender, Style, VaultResolver,
};
use keywarden_vault::{MemoryStore, SecretFields, Vault};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const N: usize = 5_000;

async fn serve(listener: tokio::net::TcpListener) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let mut filled = 0;
            loop {
                let Ok(n) = sock.read(&mut buf[filled..]).await else {
                    return;
                };
                if n == 0 {
                    return;
                }
                filled += n;
                while let Some(end) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
                    if sock
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        .await
                        .is_err()
                    {
                        return;
                    }
                    buf.copy_within(end + 4..filled, 0);
                    filled -= end + 4;
                }
            }
        });
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let url = format!(
        "http://127.0.0.1:{}/v1/items",
        listener.local_addr().expect("addr").port()
    );
    rt.spawn(serve(listener));

    let dir = tempfile::tempdir().expect("dir");
    let conn = keywarden_vault::db::open(&dir.path().join("keywarden.db")).expect("db");
    let store = Arc::new(MemoryStore::new());
    let vault = Vault::with_store(conn, store.clone(), dir.path().to_path_buf());
    let key = "kw_live_Q3v9XbT1mZ8kLp2Rw7Ns4Hd6Fy0Gc5Ja_2f9Kx1";
    vault
        .create(
            SecretFields::named(SecretName::new("api_key").expect("n")),
            true,
            &SecretValue::new(key).expect("v"),
        )
        .expect("create");
    let profile = KeyProfile {
        name: "bench".into(),
        description: String::new(),
        secret: SecretName::new("api_key").expect("n"),
        style: Style::Bearer,
        allowed_hosts: vec![],
        https_only: false,
    };
    let env = Environment {
        name: "bench".into(),
        variables: [("tenant".to_owned(), "acme".to_owned())].into(),
        ..Default::default()
    };
    let mut spec = RequestSpec::get(url.clone());
    spec.headers = vec![KeyValue::new("X-Tenant", "${env.tenant}")];

    let sender = Sender::new(SendOptions::default()).expect("sender");
    let bare = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");

    let mut bare_rounds = Vec::new();
    let mut composer_rounds = Vec::new();
    let calls_before = store.calls();
    for _ in 0..5 {
        let start = Instant::now();
        rt.block_on(async {
            for _ in 0..N {
                let r = bare
                    .get(&url)
                    .header("Authorization", format!("Bearer {key}"))
                    .header("X-Tenant", "acme")
                    .send()
                    .await
                    .expect("bare send");
                std::hint::black_box(r.bytes().await.expect("body"));
            }
        });
        bare_rounds.push(start.elapsed());

        let start = Instant::now();
        rt.block_on(async {
            for _ in 0..N {
                let mut resolver = VaultResolver::new(&vault, Some(&env));
                let prepared =
                    keywarden_request::prepare(&spec, Some(&profile), Some(&env), &mut resolver)
                        .expect("prepare");
                std::hint::black_box(sender.send(&prepared).await.expect("send"));
            }
        });
        composer_rounds.push(start.elapsed());
    }
    bare_rounds.sort();
    composer_rounds.sort();
    let per = |d: Duration| d.as_secs_f64() * 1e6 / N as f64;
    println!(
        "bare reqwest     median {:>8.1} µs/request",
        per(bare_rounds[2])
    );
    println!(
        "composer         median {:>8.1} µs/request",
        per(composer_rounds[2])
    );
    println!(
        "overhead         {:>8.1} µs/request",
        per(composer_rounds[2]) - per(bare_rounds[2])
    );
    println!(
        "secret-store reads per send: {:.2}",
        (store.calls() - calls_before) as f64 / (5 * N) as f64
    );
}
