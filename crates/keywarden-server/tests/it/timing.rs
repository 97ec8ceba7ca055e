//! Refusals cost about the same whatever their cause, so timing does not tell an
//! attacker whether a key exists, was revoked or is malformed.

use std::time::Instant;

use keywarden_server::verify::{Context, Source};
use serde_json::json;

use crate::harness::{Backend, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusal_timing_does_not_depend_on_the_cause() {
    let s = TestServer::start(Backend::Sqlite).await;
    let svc = s.principal("service_user", "svc", &["key:use"]).await;
    let (revoked, id) = s.key(&svc, json!({ "name": "revoked" })).await;
    s.post(&format!("/v1/keys/{id}/revoke"), json!({}))
        .await
        .expect(200);
    let (expired, _) = s
        .key(&svc, json!({ "name": "expired", "expires_at": 1 }))
        .await;
    let unknown = keywarden_keys::ApiKey::generate("kw", "live")
        .unwrap()
        .expose()
        .to_owned();
    let mut wrong_last = revoked.clone().into_bytes();
    let last = wrong_last.len() - 1;
    wrong_last[last] = if wrong_last[last] == b'A' { b'B' } else { b'A' };
    let wrong_last = String::from_utf8(wrong_last).unwrap();
    let malformed = "kw_live_this-is-not-a-key-at-all_000000".to_owned();

    let verifier = &s.app.service.verifier;
    let ctx = Context {
        method: "GET",
        path: "/",
        ..Context::default()
    };
    let now = keywarden_core::now();
    let cases = [
        ("unknown", &unknown),
        ("revoked", &revoked),
        ("expired", &expired),
        ("wrong last byte", &wrong_last),
        ("malformed", &malformed),
    ];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for _ in 0..15 {
        // Interleaved batches, so background noise hits every case alike.
        for (i, (_, key)) in cases.iter().enumerate() {
            let start = Instant::now();
            for _ in 0..2000 {
                let d = verifier.verify(
                    Some(std::hint::black_box(key.as_str())),
                    Source::Header,
                    &ctx,
                    None,
                    now,
                );
                assert_eq!(d.status(), 401);
            }
            samples[i].push(start.elapsed().as_nanos() as f64 / 2000.0);
        }
    }
    let medians: Vec<f64> = samples
        .iter_mut()
        .map(|v| {
            v.sort_by(|a, b| a.total_cmp(b));
            v[v.len() / 2]
        })
        .collect();
    let report: Vec<String> = cases
        .iter()
        .zip(&medians)
        .map(|((name, _), m)| format!("{name}: {m:.0} ns"))
        .collect();
    eprintln!("median cost of a refusal: {}", report.join(", "));
    let (min, max) = medians
        .iter()
        .fold((f64::MAX, 0.0f64), |(lo, hi), &m| (lo.min(m), hi.max(m)));
    assert!(
        max / min < 3.0,
        "refusal costs differ too much: {}",
        report.join(", ")
    );
}
