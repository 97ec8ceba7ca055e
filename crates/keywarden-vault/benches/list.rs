//! Listing and searching 10,000 secrets in the core.
//!
//! Method: a vault in a temporary on-disk SQLite database (WAL, as in the product)
//! over an in-memory store, filled with 10,000 secrets (names, descriptions, tags,
//! environments). Each case runs 5 warm-up iterations, then 50 timed iterations;
//! the minimum, median and 95th percentile are printed. The store's call counter
//! is checked before and after: listing must make zero keychain calls.
//!
//! Run: `cargo bench -p keywarden-vault --bench list`

use std::sync::Arc;
use std::time::{Duration, Instant};

use keywarden_core::{EnvironmentName, SecretName, SecretValue, Tag};
use keywarden_vault::{MemoryStore, SecretFields, Vault};

fn measure(label: &str, mut f: impl FnMut() -> usize) {
    for _ in 0..5 {
        f();
    }
    let mut times: Vec<Duration> = (0..50)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed()
        })
        .collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label:<44} rows={:<6} min={:>7.2} ms  median={:>7.2} ms  p95={:>7.2} ms",
        f(),
        ms(times[0]),
        ms(times[25]),
        ms(times[47])
    );
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let conn = keywarden_vault::db::open(&dir.path().join("keywarden.db")).expect("database");
    let store = Arc::new(MemoryStore::new());
    let vault = Vault::with_store(conn, store.clone(), dir.path().to_path_buf());
    let envs = ["production", "staging", "test"];
    for i in 0..10_000 {
        let mut f =
            SecretFields::named(SecretName::new(format!("service_{i:05}_api_key")).expect("name"));
        f.description = format!("API key number {i} for the billing integration");
        f.tags = vec![Tag::new(format!("team{}", i % 20)).expect("tag")];
        f.environment = Some(EnvironmentName::new(envs[i % 3]).expect("env"));
        vault
            .create(
                f,
                true,
                &SecretValue::new(format!("value-{i}")).expect("value"),
            )
            .expect("create");
    }
    let calls = store.calls();
    measure("list all 10,000", || vault.list(None).expect("list").len());
    measure("search \"service_042\" (100 hits)", || {
        vault.list(Some("service_042")).expect("search").len()
    });
    measure("search \"team7\" (500 hits)", || {
        vault.list(Some("team7")).expect("search").len()
    });
    measure("search \"no-such-thing\" (0 hits)", || {
        vault.list(Some("no-such-thing")).expect("search").len()
    });
    let made = store.calls() - calls;
    println!("keychain calls made while listing and searching: {made}");
    assert_eq!(made, 0, "listing must never call the store");
}
