use base64::Engine as _;
use keywarden_request::{Body, KeyValue, RequestSpec, Style};

use crate::recorder::{Recorder, header};
use crate::{Fixture, block_on, profile, sender};

const KEY: &str = "kw_live_Q3v9XbT1mZ8kLp2Rw7Ns4Hd6Fy0Gc5Ja_2f9Kx1";

fn send_with(style: Style) -> String {
    let fx = Fixture::new();
    fx.secret("api_key", KEY);
    let rec = Recorder::start("200 OK", &[], "{}");
    let p = profile("api_key", style);
    let prepared = fx
        .prepare(&RequestSpec::get(rec.url("/v1/items")), Some(&p), None)
        .unwrap();
    let resp = block_on(sender().send(&prepared)).unwrap();
    assert_eq!(resp.status, 200);
    rec.last()
}

#[test]
fn bearer_header_bytes() {
    let raw = send_with(Style::Bearer);
    assert!(raw.starts_with("GET /v1/items HTTP/1.1\r\n"), "{raw}");
    assert!(
        raw.contains(&format!("\r\nauthorization: Bearer {KEY}\r\n")),
        "{raw}"
    );
}

#[test]
fn key_equals_header_bytes() {
    let raw = send_with(Style::KeyEquals);
    assert!(
        raw.contains(&format!("\r\nauthorization: Key={KEY}\r\n")),
        "{raw}"
    );
}

#[test]
fn basic_decodes_to_user_and_key() {
    let raw = send_with(Style::Basic {
        user: "haplo".into(),
    });
    let value = header(&raw, "authorization").unwrap();
    let encoded = value.strip_prefix("Basic ").unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert_eq!(String::from_utf8(decoded).unwrap(), format!("haplo:{KEY}"));
}

#[test]
fn custom_and_api_token_headers() {
    let raw = send_with(Style::Header {
        name: "X-Api-Key".into(),
        template: "${secret.api_key}".into(),
    });
    assert_eq!(header(&raw, "x-api-key").unwrap(), KEY);
    let raw = send_with(Style::ApiToken {
        header: "X-API-Token".into(),
    });
    assert_eq!(header(&raw, "x-api-token").unwrap(), KEY);
}

#[test]
fn query_parameter_is_url_encoded() {
    let fx = Fixture::new();
    fx.secret("awkward", "a+b/c=d&e f");
    let rec = Recorder::start("200 OK", &[], "");
    let p = profile(
        "awkward",
        Style::Query {
            param: "auth-key".into(),
        },
    );
    let prepared = fx
        .prepare(&RequestSpec::get(rec.url("/x?page=2")), Some(&p), None)
        .unwrap();
    assert!(
        prepared
            .url_preview
            .ends_with("?page=2&auth-key=[secret.awkward]"),
        "{}",
        prepared.url_preview
    );
    block_on(sender().send(&prepared)).unwrap();
    let raw = rec.last();
    assert!(
        raw.starts_with("GET /x?page=2&auth-key=a%2Bb%2Fc%3Dd%26e+f HTTP/1.1\r\n"),
        "{raw}"
    );
    assert!(prepared.findings.iter().any(|f| f.code == "query-secret"));
}

#[test]
fn environment_query_parameter_and_variables() {
    let fx = Fixture::new();
    fx.secret("api_key", KEY);
    let rec = Recorder::start("200 OK", &[], "");
    let env = keywarden_request::Environment {
        name: "Test".into(),
        variables: [("tenant".to_owned(), "acme".to_owned())].into(),
        query_param: Some(keywarden_request::EnvQueryParam {
            name: "_profile".into(),
            value: "Test".into(),
        }),
        production: false,
    };
    let spec = RequestSpec::get(rec.url("/t/${env.tenant}/run"));
    let prepared = fx
        .prepare(&spec, Some(&profile("api_key", Style::Bearer)), Some(&env))
        .unwrap();
    block_on(sender().send(&prepared)).unwrap();
    assert!(
        rec.last()
            .starts_with("GET /t/acme/run?_profile=Test HTTP/1.1\r\n"),
        "{}",
        rec.last()
    );
}

/// Verifies an ES256 JWT with openssl, independent of the library that signed it.
#[test]
fn es256_jwt_verifies_with_openssl() {
    let fx = Fixture::new();
    fx.secret("signing_key", include_str!("es256-private.pem"));
    let rec = Recorder::start("200 OK", &[], "");
    let p = profile(
        "signing_key",
        Style::Jwt {
            algorithm: "ES256".into(),
            claims: r#"{"sub":"client-42","aud":"workato"}"#.into(),
            lifetime_seconds: Some(120),
            header: None,
            scheme: None,
        },
    );
    let prepared = fx
        .prepare(&RequestSpec::get(rec.url("/")), Some(&p), None)
        .unwrap();
    block_on(sender().send(&prepared)).unwrap();
    let token = header(&rec.last(), "authorization")
        .unwrap()
        .strip_prefix("Bearer ")
        .unwrap()
        .to_owned();
    let parts: Vec<&str> = token.split('.').collect();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let claims: serde_json::Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["sub"], "client-42");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        120
    );

    // Raw r||s signature to DER for openssl.
    let sig = b64.decode(parts[2]).unwrap();
    assert_eq!(sig.len(), 64);
    fn der_int(bytes: &[u8]) -> Vec<u8> {
        let mut b: Vec<u8> = bytes.iter().copied().skip_while(|&x| x == 0).collect();
        if b.first().is_some_and(|&x| x & 0x80 != 0) {
            b.insert(0, 0);
        }
        let mut out = vec![0x02, b.len() as u8];
        out.extend(b);
        out
    }
    let mut body = der_int(&sig[..32]);
    body.extend(der_int(&sig[32..]));
    let mut der = vec![0x30, body.len() as u8];
    der.extend(body);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sig.der"), der).unwrap();
    std::fs::write(dir.path().join("msg"), format!("{}.{}", parts[0], parts[1])).unwrap();
    std::fs::write(dir.path().join("pub.pem"), include_str!("es256-public.pem")).unwrap();
    let out = std::process::Command::new("openssl")
        .args([
            "dgst",
            "-sha256",
            "-verify",
            "pub.pem",
            "-signature",
            "sig.der",
            "msg",
        ])
        .current_dir(dir.path())
        .output()
        .expect("openssl is installed");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Verified OK"),
        "{:?}",
        out
    );
}

#[test]
fn json_and_form_bodies() {
    let fx = Fixture::new();
    fx.secret("api_key", KEY);
    let rec = Recorder::start("201 Created", &[], "{\"ok\":true}");
    let mut spec = RequestSpec::get(rec.url("/items"));
    spec.method = "post".into();
    spec.body = Body::Json {
        template: "{\"key\": \"${secret.api_key}\"}".into(),
    };
    let prepared = fx.prepare(&spec, None, None).unwrap();
    assert_eq!(
        prepared.body.as_ref().unwrap().preview,
        "{\"key\": \"[secret.api_key]\"}"
    );
    let resp = block_on(sender().send(&prepared)).unwrap();
    assert_eq!(resp.status, 201);
    assert_eq!(resp.body, b"{\"ok\":true}");
    let raw = rec.last();
    assert!(raw.starts_with("POST /items HTTP/1.1\r\n"), "{raw}");
    assert_eq!(header(&raw, "content-type").unwrap(), "application/json");
    assert!(
        raw.ends_with(&format!("\r\n\r\n{{\"key\": \"{KEY}\"}}")),
        "{raw}"
    );

    spec.body = Body::Form {
        fields: vec![
            KeyValue::new("client_secret", "${secret.api_key}"),
            KeyValue::new("x", "a b"),
        ],
    };
    let prepared = fx.prepare(&spec, None, None).unwrap();
    block_on(sender().send(&prepared)).unwrap();
    let raw = rec.last();
    assert_eq!(
        header(&raw, "content-type").unwrap(),
        "application/x-www-form-urlencoded"
    );
    assert!(
        raw.ends_with(&format!("\r\n\r\nclient_secret={KEY}&x=a+b")),
        "{raw}"
    );
}

#[test]
fn control_characters_never_reach_the_wire() {
    let fx = Fixture::new();
    fx.secret("evil", "abc\r\nX-Injected: yes");
    let rec = Recorder::start("200 OK", &[], "");
    let err = fx
        .prepare(
            &RequestSpec::get(rec.url("/")),
            Some(&profile("evil", Style::Bearer)),
            None,
        )
        .unwrap_err();
    assert!(err.to_string().contains("carriage return"), "{err}");
    assert!(!err.to_string().contains("X-Injected"));
    let err = fx
        .prepare(
            &RequestSpec::get(rec.url("/")),
            Some(&profile("evil", Style::Basic { user: "a".into() })),
            None,
        )
        .unwrap_err();
    assert!(err.to_string().contains("control characters"), "{err}");
    assert!(rec.requests().is_empty());
}

#[test]
fn one_store_read_per_secret_per_send() {
    let fx = Fixture::new();
    fx.secret("api_key", KEY);
    let rec = Recorder::start("200 OK", &[], "");
    let mut spec = RequestSpec::get(rec.url("/"));
    spec.headers = vec![
        KeyValue::new("X-Copy", "${secret.api_key}"),
        KeyValue::new("X-Hash", "${sha256(secret.api_key)}"),
    ];
    spec.query = vec![KeyValue::new("k", "${secret.api_key}")];
    let before = fx.store.calls();
    let mut resolver = keywarden_request::VaultResolver::new(&fx.vault, None);
    keywarden_request::prepare(
        &spec,
        Some(&profile("api_key", Style::Bearer)),
        None,
        &mut resolver,
    )
    .unwrap();
    assert_eq!(resolver.reads(), 1);
    assert_eq!(fx.store.calls() - before, 1);
}

#[test]
fn curl_is_redacted_unless_revealed() {
    let fx = Fixture::new();
    fx.secret("api_key", KEY);
    let mut spec = RequestSpec::get("https://api.example.com/v1/items");
    spec.method = "POST".into();
    spec.body = Body::Raw {
        content_type: "text/plain".into(),
        template: "it's ${secret.api_key}".into(),
    };
    let prepared = fx
        .prepare(&spec, Some(&profile("api_key", Style::Bearer)), None)
        .unwrap();
    let redacted = keywarden_request::to_curl(&prepared, false);
    insta::assert_snapshot!(redacted, @r"
    curl -X POST 'https://api.example.com/v1/items' \
      -H 'Authorization: Bearer [secret.api_key]' \
      -H 'Content-Type: text/plain' \
      --data-binary 'it'\''s [secret.api_key]'
    ");
    let revealed = keywarden_request::to_curl(&prepared, true);
    assert!(revealed.contains(&format!("Bearer {KEY}")));
    assert!(!format!("{prepared:?}").contains(KEY));
}
