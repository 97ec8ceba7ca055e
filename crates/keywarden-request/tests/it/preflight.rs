use keywarden_core::KeyPolicy;
use keywarden_request::{Environment, RequestError, RequestSpec, Style, explain_refusal};

use crate::{Fixture, hosts, profile};

fn codes(p: &keywarden_request::PreparedRequest) -> Vec<&str> {
    p.findings.iter().map(|f| f.code.as_str()).collect()
}

#[test]
fn a_secret_bound_to_its_hosts_refuses_other_destinations() {
    let fx = Fixture::new();
    fx.secret_with("bound", "v", |f| {
        f.allowed_hosts = hosts(&["api.example.com", "*.example.org"])
    });
    let ok = fx.prepare(
        &RequestSpec::get("https://api.example.com/"),
        Some(&profile("bound", Style::Bearer)),
        None,
    );
    assert!(ok.is_ok());
    let ok = fx.prepare(
        &RequestSpec::get("https://eu.example.org/"),
        Some(&profile("bound", Style::Bearer)),
        None,
    );
    assert!(ok.is_ok());
    let err = fx
        .prepare(
            &RequestSpec::get("https://evil.example.net/"),
            Some(&profile("bound", Style::Bearer)),
            None,
        )
        .unwrap_err();
    assert!(matches!(err, RequestError::Destination(_)));
    assert_eq!(
        err.to_string(),
        "refused: the secret `bound` may only be sent to api.example.com, *.example.org; this request goes to evil.example.net"
    );
}

#[test]
fn a_profile_binds_hosts_and_https() {
    let fx = Fixture::new();
    fx.secret("k", "v");
    let mut p = profile("k", Style::Bearer);
    p.allowed_hosts = hosts(&["api.example.com"]);
    p.https_only = true;
    assert!(
        fx.prepare(
            &RequestSpec::get("https://api.example.com/x"),
            Some(&p),
            None
        )
        .is_ok()
    );
    let err = fx
        .prepare(
            &RequestSpec::get("http://api.example.com/x"),
            Some(&p),
            None,
        )
        .unwrap_err();
    assert!(err.to_string().contains("HTTPS only"), "{err}");
    let err = fx
        .prepare(
            &RequestSpec::get("https://other.example.com/x"),
            Some(&p),
            None,
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("may only send its key to api.example.com"),
        "{err}"
    );
}

#[test]
fn admin_policy_checks() {
    let fx = Fixture::new();
    fx.secret("ro", "v");
    let policy = KeyPolicy {
        read_only: true,
        path_prefixes: vec!["/api/v1/".into(), "=/health".into()],
        environment: Some("test".into()),
        production_hosts: vec!["api.example.com".into()],
    };
    fx.vault.set_key_policy("ro", Some(&policy)).unwrap();
    let mut spec = RequestSpec::get("https://api.example.com/admin/users");
    spec.method = "POST".into();
    let p = fx
        .prepare(&spec, Some(&profile("ro", Style::Bearer)), None)
        .unwrap();
    let c = codes(&p);
    assert!(c.contains(&"read-only-key"), "{c:?}");
    assert!(c.contains(&"path-outside-prefixes"), "{c:?}");
    assert!(c.contains(&"test-key-to-production"), "{c:?}");
    let msg = &p
        .findings
        .iter()
        .find(|f| f.code == "read-only-key")
        .unwrap()
        .message;
    assert_eq!(
        msg,
        "`ro` is a read-only key (GET, HEAD, OPTIONS), but the method is POST"
    );

    let fine = fx
        .prepare(
            &RequestSpec::get("https://staging.example.com/api/v1/users"),
            Some(&profile("ro", Style::Bearer)),
            None,
        )
        .unwrap();
    assert!(fine.findings.is_empty(), "{:?}", fine.findings);

    let reasons = explain_refusal(&p, 403);
    assert!(
        reasons.iter().any(|r| r.contains("read-only")),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|r| r.contains("revoked")), "{reasons:?}");
    assert!(explain_refusal(&p, 200).is_empty());
}

#[test]
fn expiry_environment_and_plain_http_findings() {
    let fx = Fixture::new();
    fx.secret_with("soon", "v", |f| {
        f.expires_at = Some(keywarden_core::now() + 2 * 86_400 - 60);
        f.environment = Some(keywarden_core::EnvironmentName::new("production").unwrap());
    });
    let env = Environment {
        name: "Test".into(),
        ..Default::default()
    };
    let p = fx
        .prepare(
            &RequestSpec::get("http://api.example.com/"),
            Some(&profile("soon", Style::Bearer)),
            Some(&env),
        )
        .unwrap();
    let c = codes(&p);
    assert!(c.contains(&"secret-expiring"), "{c:?}");
    assert!(c.contains(&"environment-mismatch"), "{c:?}");
    assert!(c.contains(&"plain-http"), "{c:?}");
    assert_eq!(
        p.findings[0].code, "plain-http",
        "the most serious finding comes first"
    );
    let expiring = p
        .findings
        .iter()
        .find(|f| f.code == "secret-expiring")
        .unwrap();
    assert_eq!(expiring.message, "the secret `soon` expires in 2 days");
    // Loopback over plain HTTP is fine.
    let local = fx
        .prepare(
            &RequestSpec::get("http://127.0.0.1:9/"),
            Some(&profile("soon", Style::Bearer)),
            None,
        )
        .unwrap();
    assert!(!codes(&local).contains(&"plain-http"));
}

#[test]
fn disabled_and_unknown_secrets_are_template_errors_with_positions() {
    let fx = Fixture::new();
    fx.secret("off", "v");
    fx.vault.set_enabled("off", false).unwrap();
    let mut spec = RequestSpec::get("https://x.example/");
    spec.headers = vec![keywarden_request::KeyValue::new(
        "Authorization",
        "Bearer ${secret.off}",
    )];
    let err = fx.prepare(&spec, None, None).unwrap_err().to_string();
    assert_eq!(
        err,
        "header Authorization: template error at line 1, column 10: the secret `off` is disabled"
    );
    spec.headers[0].value = "Bearer ${secret.nope}".into();
    let err = fx.prepare(&spec, None, None).unwrap_err().to_string();
    assert!(err.contains("unknown secret `nope`"), "{err}");
    spec.headers[0].value = "Bearer".into();
    spec.url = "ftp://x.example/".into();
    assert!(
        fx.prepare(&spec, None, None)
            .unwrap_err()
            .to_string()
            .contains("only http://")
    );
    spec.url = "https://x.example/".into();
    spec.method = "GE T".into();
    assert!(
        fx.prepare(&spec, None, None)
            .unwrap_err()
            .to_string()
            .contains("not an HTTP method")
    );
}
