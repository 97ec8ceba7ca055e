//! Rendering a typical Authorization template with the secret already loaded.
//!
//! Method: parse `Bearer ${secret.billing_api}` once; render it N times on one
//! thread with a resolver that holds the secret in memory (the keychain read
//! happens before, once per send). Five rounds of 2,000,000 renders; the best
//! and median rounds are printed in renders per second.
//!
//! Run: `cargo bench -p keywarden-template --bench render`

use std::time::Instant;

use keywarden_template::{MapResolver, Template};

fn rounds(label: &str, src: &str, resolver: &MapResolver) {
    let template = Template::parse(src).expect("template");
    let mut resolver = resolver.clone();
    const N: u32 = 2_000_000;
    let mut rates = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..N {
            let r = template.render(&mut resolver).expect("render");
            std::hint::black_box(r.expose().len());
        }
        rates.push(f64::from(N) / start.elapsed().as_secs_f64());
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{label:<48} best {:>10.0}/s   median {:>10.0}/s",
        rates[4], rates[2]
    );
}

fn main() {
    let resolver = MapResolver::default()
        .secret(
            "billing_api",
            "kw_live_4f7Qm2Zr9XcVb1Nn8Lk3Jh6Gd5Sa0Pq_1a2B3c",
        )
        .secret("haplo_key", "0123456789ABCDEF0123456789ABCDEF0123456789AB")
        .var("tenant", "acme");
    rounds(
        "Bearer ${secret.billing_api}",
        "Bearer ${secret.billing_api}",
        &resolver,
    );
    rounds(
        "Key=${secret.billing_api}",
        "Key=${secret.billing_api}",
        &resolver,
    );
    rounds(
        "${basic('haplo', secret.haplo_key)}",
        "${basic('haplo', secret.haplo_key)}",
        &resolver,
    );
}
