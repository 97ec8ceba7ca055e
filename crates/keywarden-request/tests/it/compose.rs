//! The `Composer`: the workflow both faces call, through a loopback recorder.

use base64::Engine as _;
use keywarden_request::{
    Composer, KeyValue, RequestSpec, SendOptions, Sender, Style, Verdict, store,
};

use crate::recorder::{Recorder, header};
use crate::{Fixture, block_on, hosts, profile, sender};

const KEY: &str = "kw_live_composer+secret/1";

fn fixture() -> Fixture {
    let fx = Fixture::new();
    fx.secret_with("api_key", KEY, |f| f.allowed_hosts = hosts(&["127.0.0.1"]));
    let p = profile("api_key", Style::Bearer);
    fx.vault.with_db(|c| store::save_profile(c, &p)).unwrap();
    fx
}

fn spec(url: String) -> RequestSpec {
    let mut spec = RequestSpec::get(url);
    spec.profile = Some("test".into());
    spec
}

#[test]
fn a_send_is_recorded_and_its_echo_masked() {
    let fx = fixture();
    let b64 = base64::engine::general_purpose::STANDARD.encode(KEY);
    let echo = format!("{{\"token\":\"{KEY}\",\"b64\":\"{b64}\"}}");
    let rec = Recorder::start("200 OK", &[&format!("X-Echo: Bearer {KEY}")], &echo);
    let composer = Composer::new(&fx.vault);
    let composed = composer.prepare(&spec(rec.url("/bearer"))).unwrap();
    let reads = fx.store.calls();
    let sent = block_on(composer.send(&composed, &sender())).unwrap();
    assert_eq!(fx.store.calls(), reads, "sending reads no secret again");
    assert_eq!(
        header(&rec.last(), "authorization").as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(sent.verdict(), Verdict::Success);
    assert_eq!(
        sent.response.body,
        echo.as_bytes(),
        "the raw response is kept"
    );
    assert_eq!(
        String::from_utf8(sent.shown.body.clone()).unwrap(),
        "{\"token\":\"[secret.api_key]\",\"b64\":\"[secret.api_key]\"}"
    );
    assert!(
        sent.shown
            .headers
            .contains(&("x-echo".into(), "Bearer [secret.api_key]".into())),
        "{:?}",
        sent.shown.headers
    );
    assert_eq!(sent.shown.status_line, "HTTP/1.1 200 OK");
    assert_eq!(sent.shown.mask.occurrences, 3);
    assert_eq!(sent.shown.body_mask.occurrences, 2);
    assert_eq!(sent.shown.mask.secrets, ["api_key"]);
    assert!(
        sent.findings
            .iter()
            .any(|f| f.code == "response-echoes-secret" && f.message.contains("`api_key`"))
    );
    assert!(!format!("{sent:?}").contains("kw_live"));
    let history = fx.vault.with_db(|c| store::history(c, 10)).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(Some(history[0].id), sent.history_id);
    assert_eq!(history[0].status, Some(200));
    assert!(history[0].secrets[0].fingerprint.starts_with("kwfp:"));
}

#[test]
fn history_can_be_off_and_failures_to_prepare_are_recorded() {
    let fx = fixture();
    let rec = Recorder::start("401 Unauthorized", &[], "no");
    let quiet = Composer::new(&fx.vault).record_history(false);
    let composed = quiet.prepare(&spec(rec.url("/"))).unwrap();
    let sent = block_on(quiet.send(&composed, &sender())).unwrap();
    assert_eq!(sent.verdict(), Verdict::Refused);
    assert!(!sent.explanation.is_empty());
    assert_eq!(sent.history_id, None);
    let bad = spec("https://elsewhere.example/".into());
    assert_eq!(quiet.prepare(&bad).unwrap_err().verdict(), Verdict::Failed);
    assert!(
        fx.vault
            .with_db(|c| store::history(c, 10))
            .unwrap()
            .is_empty()
    );

    let composer = Composer::new(&fx.vault);
    let err = composer.prepare(&bad).unwrap_err();
    assert!(
        err.to_string().contains("may only be sent to 127.0.0.1"),
        "{err}"
    );
    let history = fx.vault.with_db(|c| store::history(c, 10)).unwrap();
    assert_eq!(history.len(), 1);
    assert!(history[0].error.is_some());
    assert!(!history[0].error.as_ref().unwrap().contains(KEY));
}

#[test]
fn verdicts_of_bad_input() {
    let fx = fixture();
    let composer = Composer::new(&fx.vault).record_history(false);
    let mut s = spec("http://127.0.0.1:9/".into());
    s.headers = vec![KeyValue::new("X", "${secret.api_key")];
    assert_eq!(composer.prepare(&s).unwrap_err().verdict(), Verdict::Input);
    let mut s = spec("http://127.0.0.1:9/".into());
    s.profile = Some("missing".into());
    assert_eq!(composer.prepare(&s).unwrap_err().verdict(), Verdict::Input);
    let mut s = spec("http://127.0.0.1:9/".into());
    s.profile = Some(String::new());
    assert!(
        composer.prepare(&s).is_ok(),
        "an empty profile name is none"
    );
    fx.vault.set_enabled("api_key", false).unwrap();
    let s = spec("http://127.0.0.1:9/".into());
    assert_eq!(composer.prepare(&s).unwrap_err().verdict(), Verdict::Failed);
}

#[test]
fn a_value_cut_by_the_body_limit_is_masked_too() {
    let fx = fixture();
    let body = format!("ok {KEY} {KEY}");
    let rec = Recorder::start("200 OK", &[], &body);
    let sender = Sender::new(SendOptions {
        max_body_bytes: body.len() - 6,
        ..Default::default()
    })
    .unwrap();
    let composer = Composer::new(&fx.vault);
    let composed = composer.prepare(&spec(rec.url("/"))).unwrap();
    let sent = block_on(composer.send(&composed, &sender)).unwrap();
    assert!(sent.response.truncated);
    assert_eq!(
        String::from_utf8(sent.shown.body.clone()).unwrap(),
        "ok [secret.api_key] ***"
    );
}
