use keywarden_request::{KeyValue, RequestSpec, Style};

use crate::recorder::{Recorder, header};
use crate::{Fixture, block_on, profile, sender};

#[test]
fn a_redirect_to_another_origin_gets_no_credentials_and_no_templated_header() {
    let fx = Fixture::new();
    fx.secret("api_key", "kw_live_secretvalue");
    let other = Recorder::start("200 OK", &[], "landed");
    let first = Recorder::start(
        "302 Found",
        &[&format!("Location: {}", other.url("/elsewhere"))],
        "",
    );
    let mut spec = RequestSpec::get(first.url("/start"));
    spec.headers = vec![
        KeyValue::new("X-Signature", "${sha256(secret.api_key)}"),
        KeyValue::new("X-Tenant", "acme"),
        KeyValue::new("Cookie", "session=1"),
    ];
    let prepared = fx
        .prepare(&spec, Some(&profile("api_key", Style::Bearer)), None)
        .unwrap();
    let resp = block_on(sender().send(&prepared)).unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, b"landed");
    assert_eq!(resp.redirects.len(), 1);

    let at_first = first.last();
    assert!(header(&at_first, "authorization").is_some());
    assert!(header(&at_first, "x-signature").is_some());
    let at_other = other.last();
    assert!(header(&at_other, "authorization").is_none(), "{at_other}");
    assert!(header(&at_other, "x-signature").is_none(), "{at_other}");
    assert!(header(&at_other, "cookie").is_none(), "{at_other}");
    assert_eq!(header(&at_other, "x-tenant").as_deref(), Some("acme"));
    assert!(!at_other.contains("kw_live_secretvalue"));
    let mut dropped = resp.dropped_headers.clone();
    dropped.sort();
    assert_eq!(dropped, ["Authorization", "Cookie", "X-Signature"]);
}

#[test]
fn a_same_origin_redirect_keeps_the_credentials_and_303_turns_into_get() {
    let fx = Fixture::new();
    fx.secret("api_key", "kw_live_secretvalue");
    let server = Recorder::routes(&[
        ("/start", "303 See Other", &["Location: /done"], ""),
        ("/done", "200 OK", &[], "done"),
    ]);
    let mut spec = RequestSpec::get(server.url("/start"));
    spec.method = "POST".into();
    spec.body = keywarden_request::Body::Json {
        template: "{}".into(),
    };
    let prepared = fx
        .prepare(&spec, Some(&profile("api_key", Style::Bearer)), None)
        .unwrap();
    let resp = block_on(sender().send(&prepared)).unwrap();
    assert_eq!(resp.body, b"done");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[0].starts_with("POST /start "), "{}", requests[0]);
    assert!(requests[1].starts_with("GET /done "), "{}", requests[1]);
    assert_eq!(
        header(&requests[1], "authorization").as_deref(),
        Some("Bearer kw_live_secretvalue")
    );
    assert!(resp.dropped_headers.is_empty());
}

#[test]
fn too_many_redirects_is_an_error() {
    let fx = Fixture::new();
    fx.secret("api_key", "v");
    let looping = Recorder::start("302 Found", &["Location: /again"], "");
    let prepared = fx
        .prepare(&RequestSpec::get(looping.url("/")), None, None)
        .unwrap();
    let err = block_on(sender().send(&prepared)).unwrap_err();
    assert!(err.to_string().contains("more than 10 redirects"), "{err}");
}

#[test]
fn a_server_that_is_down_is_a_clear_error_without_the_url() {
    let fx = Fixture::new();
    fx.secret("api_key", "kw_live_in_the_url");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let spec = RequestSpec::get(format!("http://127.0.0.1:{port}/?k=${{secret.api_key}}"));
    let prepared = fx.prepare(&spec, None, None).unwrap();
    let err = block_on(sender().send(&prepared)).unwrap_err().to_string();
    assert!(err.contains("could not send the request"), "{err}");
    assert!(!err.contains("kw_live_in_the_url"), "{err}");
}
