use keywarden_request::{RequestSpec, Style, store};

use crate::recorder::Recorder;
use crate::{Fixture, block_on, profile, sender};

const CANARY: &str = "KWCANARY-request-5e2f9a";

#[test]
fn history_keeps_templates_and_fingerprints_never_values() {
    let fx = Fixture::new();
    fx.secret("canary_key", CANARY);
    let rec = Recorder::start("401 Unauthorized", &[], "no");
    let p = profile("canary_key", Style::Bearer);
    fx.vault.with_db(|c| store::save_profile(c, &p)).unwrap();
    let mut spec = RequestSpec::get(rec.url("/v1?sig=${sha256(secret.canary_key)}"));
    spec.profile = Some("test".into());
    spec.headers = vec![keywarden_request::KeyValue::new(
        "X-Echo",
        "${secret.canary_key}",
    )];
    let profile = fx.vault.with_db(|c| store::profile(c, "test")).unwrap();
    let prepared = fx.prepare(&spec, Some(&profile), None).unwrap();
    let resp = block_on(sender().send(&prepared)).unwrap();
    assert_eq!(resp.status, 401);
    let id = fx
        .vault
        .with_db(|c| {
            store::record_history(
                c,
                &spec,
                Some(&prepared),
                Ok((resp.status, resp.duration, resp.body.len())),
            )
        })
        .unwrap();
    fx.vault
        .with_db(|c| store::save_request(c, "Billing", "list items", &spec))
        .unwrap();
    let curl = keywarden_request::to_curl(&prepared, false);
    assert!(!curl.contains(CANARY));
    let err = fx
        .prepare(
            &RequestSpec::get("https://elsewhere.example/${secret.nope}"),
            None,
            None,
        )
        .unwrap_err();
    fx.vault
        .with_db(|c| store::record_history(c, &spec, None, Err(&err.to_string())))
        .unwrap();

    let entries = fx.vault.with_db(|c| store::history(c, 10)).unwrap();
    assert_eq!(entries.len(), 2);
    let sent = entries.iter().find(|e| e.id == id).unwrap();
    assert_eq!(sent.status, Some(401));
    assert_eq!(sent.spec, spec);
    assert_eq!(sent.secrets.len(), 1);
    assert_eq!(sent.secrets[0].name, "canary_key");
    assert!(sent.secrets[0].fingerprint.starts_with("kwfp:"));

    // Nothing the composer wrote holds the canary or its SHA-256.
    let digest = {
        use sha2_check::digest_hex;
        digest_hex(CANARY)
    };
    drop(
        fx.vault
            .with_db(|c| c.execute_batch("PRAGMA wal_checkpoint(FULL)")),
    );
    for entry in std::fs::read_dir(fx._dir.path()).unwrap().flatten() {
        let bytes = std::fs::read(entry.path()).unwrap();
        for needle in [CANARY.as_bytes(), digest.as_bytes()] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "secret material in {}",
                entry.path().display()
            );
        }
    }
}

mod sha2_check {
    pub fn digest_hex(s: &str) -> String {
        let t = keywarden_template::Template::parse(&format!("${{sha256('{s}')}}")).unwrap();
        t.render(&mut keywarden_template::MapResolver::default())
            .unwrap()
            .expose()
            .to_owned()
    }
}
