//! Paths are judged as the upstream will serve them (docs/server.md, "Path rules"),
//! tested differentially against a real nginx.
//!
//! What "the path the upstream sees" means: with `proxy_pass http://upstream;` nginx
//! forwards the request URI exactly as the client sent it, and the upstream resolves it
//! itself. The upstream here is a second nginx server that answers with both: the raw
//! `$request_uri` it received and `$uri`, its own normalization (decoded, slashes merged,
//! dot segments removed). Every generated path is sent three ways: straight to that
//! normalizer, through the documented gateway block, and to `POST /v1/verify`.

use std::cell::RefCell;
use std::collections::BTreeMap;

use keywarden_server::verify::normalize_path;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::json;

use crate::harness::{Backend, TestServer};
use crate::nginx::{Nginx, address, documented, raw_request};

/// The key's rules: a prefix without a final slash, one with, and an exact path.
const RULES: [&str; 3] = ["/api/v1", "/api/public/", "=/api/status"];

/// The rules' meaning, written out independently of the server's code.
fn rules_allow(path: &str) -> bool {
    RULES.iter().any(|rule| match rule.strip_prefix('=') {
        Some(exact) => path == exact,
        None if rule.ends_with('/') => path.starts_with(rule),
        None => path == *rule || path.starts_with(&format!("{rule}/")),
    })
}

/// A segment that servers stripping path parameters (`;…`) read as empty, `.` or `..`:
/// the one kind of escape-free path Keywarden refuses although nginx serves it.
fn dot_segment_with_parameters(target: &str) -> bool {
    let path = target.split('?').next().unwrap_or("");
    path.split('/').any(|segment| {
        segment
            .split_once(';')
            .is_some_and(|(name, _)| matches!(name, "" | "." | ".."))
    })
}

struct Rig {
    s: TestServer,
    key: String,
    nginx: Nginx,
}

impl Rig {
    fn gateway(&self) -> u16 {
        self.nginx.ports[0]
    }

    fn normalizer(&self) -> u16 {
        self.nginx.ports[1]
    }
}

async fn rig() -> Rig {
    let s = TestServer::start(Backend::Sqlite).await;
    let svc = s
        .principal("service_user", "paths", &["key:use", "rest"])
        .await;
    let (key, _) = s
        .key(&svc, json!({ "name": "paths", "path_prefixes": RULES }))
        .await;
    let keywarden = address(&s.base).to_owned();
    let nginx = Nginx::start(2, |ports| {
        vec![
            documented(&keywarden, &format!("127.0.0.1:{}", ports[1])),
            "        location / { return 200 \"$request_uri\\n$uri\\n\"; }".to_owned(),
        ]
    });
    Rig { s, key, nginx }
}

/// How one path fared, for the coverage count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Allowed,
    RefusedByRule,
    RefusedAsAmbiguous,
    NginxRefused,
    OutsideTheLocation,
}

async fn check(rig: &Rig, target: &str) -> Result<Outcome, TestCaseError> {
    // nginx's normalization of the raw target (None: nginx answers 400).
    let direct = raw_request(rig.normalizer(), "GET", target, &[]).await;
    let nginx_uri = match direct.status {
        200 => {
            let mut lines = direct.body.lines();
            prop_assert_eq!(lines.next(), Some(target));
            Some(lines.next().unwrap_or("").to_owned())
        }
        400 => None,
        other => return Err(TestCaseError::fail(format!("normalizer answered {other}"))),
    };
    // Keywarden's own normalization and decision.
    let ours = normalize_path(target);
    let verdict = rig
        .s
        .verify(json!({ "key": rig.key, "method": "GET", "path": target }))
        .await
        .expect(200);
    let allowed = verdict.body["valid"] == true;
    if !allowed {
        prop_assert_eq!(&verdict.body["reason"], "path_not_allowed");
    }

    // Wherever Keywarden accepts a path, it resolves it exactly as nginx does.
    if let Some(ours) = &ours {
        prop_assert_eq!(
            Some(ours),
            nginx_uri.as_ref(),
            "Keywarden and nginx resolve the path differently"
        );
    } else {
        prop_assert!(!allowed, "an ambiguous path was allowed");
    }
    // Safety: whatever Keywarden allows, the rules allow as the upstream serves it.
    if allowed {
        let served = nginx_uri.as_deref().unwrap_or("<400>");
        prop_assert!(
            rules_allow(served),
            "allowed, but the upstream serves {} outside the rules",
            served
        );
    }
    // Without escapes the decisions are equal, but for the documented refusal.
    if !target.contains('%')
        && let Some(served) = &nginx_uri
        && allowed != rules_allow(served)
    {
        prop_assert!(
            !allowed && ours.is_none() && dot_segment_with_parameters(target),
            "Keywarden says {}, the rules on {} say {}",
            allowed,
            served,
            !allowed
        );
    }

    // Through the documented gateway, Keywarden decides the same, and the upstream
    // receives the raw target.
    let auth = format!("Bearer {}", rig.key);
    let through = raw_request(rig.gateway(), "GET", target, &[("Authorization", &auth)]).await;
    let outcome = match &nginx_uri {
        None => {
            prop_assert_eq!(through.status, 400);
            Outcome::NginxRefused
        }
        Some(served) if !served.starts_with("/api/") => {
            // nginx routes by its own normalization: not the protected location (404,
            // or 301 to `/api/` or `/v1/` for a location's name without its slash).
            prop_assert!(
                matches!(through.status, 301 | 404),
                "{} outside the protected location answered {}",
                served,
                through.status
            );
            prop_assert_eq!(through.header("x-keywarden-reason"), None);
            Outcome::OutsideTheLocation
        }
        Some(served) if allowed => {
            prop_assert_eq!(through.status, 200);
            prop_assert_eq!(
                through.body.clone(),
                format!("{target}\n{served}\n"),
                "the upstream's raw URI and $uri"
            );
            Outcome::Allowed
        }
        Some(_) => {
            prop_assert_eq!(through.status, 403);
            prop_assert_eq!(
                through.header("x-keywarden-reason"),
                Some("path_not_allowed")
            );
            if ours.is_none() {
                Outcome::RefusedAsAmbiguous
            } else {
                Outcome::RefusedByRule
            }
        }
    };
    Ok(outcome)
}

fn target() -> impl Strategy<Value = String> {
    let start = prop::sample::select(vec![
        "/api/",
        "/api/v1/",
        "/api//v1/",
        "/api/public/",
        "//api/",
        "/",
    ]);
    // Names near the rules, dot segments, path parameters and escapes; plain names are
    // listed twice so that about half the targets carry no escape.
    let piece = prop::sample::select(vec![
        "v1",
        "v1",
        "v1",
        "public",
        "status",
        "admin",
        "x",
        "..",
        ".",
        "v1-internal",
        "v10",
        "admin",
        "public",
        "status",
        "api",
        "x",
        ".",
        "..",
        "..",
        "...",
        "-",
        "",
        ";",
        "..;",
        ".;x",
        "a;b",
        "v1;x",
        "%2e",
        "%2e%2e",
        ".%2E",
        "%2f",
        "%2F..",
        "%41",
        "v%31",
        "%3B",
        "..%3b",
        "%25",
        "%5c",
    ]);
    let sep = prop::sample::select(vec!["/", "/", "/", "//"]);
    let end = prop::sample::select(vec!["", "", "/", "?q=/../admin", "/?x=1"]);
    (start, prop::collection::vec((sep, piece), 0..7), end).prop_map(|(start, pieces, end)| {
        let mut t = start.to_owned();
        for (i, (sep, piece)) in pieces.iter().enumerate() {
            if i > 0 {
                t.push_str(sep);
            }
            t.push_str(piece);
        }
        t.push_str(end);
        t
    })
}

#[test]
fn keywarden_judges_paths_as_nginx_and_the_upstream_serve_them() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let rig = rt.block_on(rig());
    let seen = RefCell::new(BTreeMap::<Outcome, usize>::new());
    let run = |target: &str| -> Result<(), TestCaseError> {
        let outcome = rt.block_on(check(&rig, target))?;
        *seen.borrow_mut().entry(outcome).or_default() += 1;
        Ok(())
    };
    // The cases that motivated the rules, then generated ones.
    for target in [
        "/api/v1",
        "/api/v1/",
        "/api/v1/users?page=2",
        "/api/v1-internal",
        "/api/v1-internal/users",
        "/api/v1//../admin",
        "/api/v1/../v1-internal",
        "/api/public",
        "/api/public/",
        "/api/public/../v1/x",
        "/api/status",
        "/api/status/",
        "/api/./status",
        "/api/v1/..;/admin",
        "/api/v1/;x/../../admin",
        "/api/v1/%2e%2e/admin",
        "/api/v1%2f..%2fadmin",
        "/api/v%31/users",
        "/api/../..",
        "/api/%zz",
    ] {
        if let Err(e) = run(target) {
            panic!("{target}: {e}\n{}", rig.nginx.error_log());
        }
    }
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    if let Err(e) = runner.run(&target(), |t| run(&t)) {
        panic!("{e}\n--- nginx error log ---\n{}", rig.nginx.error_log());
    }
    // The generator reaches every kind of outcome, so the properties were exercised.
    let seen = seen.into_inner();
    for outcome in [
        Outcome::Allowed,
        Outcome::RefusedByRule,
        Outcome::RefusedAsAmbiguous,
        Outcome::NginxRefused,
        Outcome::OutsideTheLocation,
    ] {
        assert!(
            seen.get(&outcome).copied().unwrap_or(0) >= 5,
            "too few {outcome:?} cases: {seen:?}"
        );
    }
}

/// Rules are stored normalized: anything else is refused, with the normalized form as a
/// hint, so a rule and a request path are always compared in the same form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_rules_are_stored_normalized() {
    let s = TestServer::start(Backend::Sqlite).await;
    let svc = s.principal("service_user", "svc", &["key:use"]).await;
    let keys = format!("/v1/principals/{svc}/keys");
    for (rule, hint) in [
        ("/api//v1", Some("/api/v1")),
        ("/api/./v1", Some("/api/v1")),
        ("/api/x/../v1", Some("/api/v1")),
        ("/api/v1/.", Some("/api/v1/")),
        ("/api/%76%31", Some("/api/v1")),
        ("=/api//status", Some("=/api/status")),
        ("/api/v1?x=1", Some("/api/v1")),
        ("/api/v1;x", None),
        ("/api/..;/v1", None),
        ("/api/%2e%2e/v1", None),
        ("/..", None),
        ("/api\\v1", None),
        ("/api/v1#x", None),
        ("api/v1", None),
        ("=api", None),
        ("", None),
    ] {
        let r = s
            .post(&keys, json!({ "name": "k", "path_prefixes": [rule] }))
            .await
            .expect(400);
        assert_eq!(r.body["field"], "path_prefixes", "{rule}");
        let message = r.body["message"].as_str().unwrap();
        match hint {
            Some(h) => assert!(
                message.contains(&format!("did you mean `{h}`")),
                "{rule}: {message}"
            ),
            None => assert!(!message.contains("did you mean"), "{rule}: {message}"),
        }
    }
    for (i, rule) in [
        "/",
        "/api",
        "/api/",
        "/api/v1",
        "/api/v1/",
        "=/api/status",
        "/a-b_c.d~e:f@g",
    ]
    .into_iter()
    .enumerate()
    {
        s.post(
            &keys,
            json!({ "name": format!("ok-{i}"), "path_prefixes": [rule] }),
        )
        .await
        .expect(201);
    }
    // The same check when a key's rules change.
    let (_, id) = s
        .key(&svc, json!({ "name": "k2", "path_prefixes": ["/api/"] }))
        .await;
    let r = s
        .patch(
            &format!("/v1/keys/{id}"),
            json!({ "path_prefixes": ["/api//v1"] }),
        )
        .await
        .expect(400);
    assert_eq!(r.body["field"], "path_prefixes");
}
