//! JWT access profiles ("Authorization": a shared secret identifies whoever holds it).
//!
//! An API client signs `{"sub": <its id>, "exp": …}` with its profile's HMAC secret or
//! with the private key whose public key the profile holds. These tests attack the
//! verifier the way a client holding some key, or none, would: other algorithms (`none`,
//! HS256 keyed with an RSA profile's public key), other keys, other subjects, a profile
//! shared by two clients, broken stored keys, stale and oversized tokens. Key pairs are
//! real ones from the `openssl` CLI; tokens are signed with `jsonwebtoken::encode`.
//! Every refusal of a token must be the answer an unknown API key gets, byte for byte.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, LazyLock, RwLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use keywarden_server::index::Index;
use keywarden_server::limits::FailureThrottle;
use keywarden_server::model::{AccessMethod, AccessProfile, Object};
use keywarden_server::store::{Mutation, Write};
use keywarden_server::verify::{Cause, Context, Reason, Source, Verifier};
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{Backend, TestServer};

both_backends!(
    every_algorithm_verifies_with_its_own_key_only,
    algorithm_confusion_and_none_are_refused,
    claims_bound_the_token,
    the_subject_must_be_the_enabled_api_client_itself,
    a_profile_shared_by_two_clients_identifies_neither,
    unusable_public_keys_are_refused_when_written_and_when_stored,
    oversized_tokens_are_refused_before_parsing,
    the_secret_never_leaves_the_server,
);

/// The client address every request claims (through the trusted test gateway).
const ADDR: &str = "203.0.113.7";

// ---------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------

/// A PKCS#8 private key and its SPKI public key, both PEM, as `openssl` writes them.
struct Pair {
    private: String,
    public: String,
}

struct Keys {
    rsa: Pair,
    rsa_other: Pair,
    rsa_1024: Pair,
    p256: Pair,
    p256_other: Pair,
    p384: Pair,
    p384_other: Pair,
    ed25519: Pair,
    ed25519_other: Pair,
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("the JWT suite needs the openssl CLI to make key pairs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pair(dir: &Path, name: &str, genpkey: &[&str]) -> Pair {
    let private = dir.join(format!("{name}.key"));
    let public = dir.join(format!("{name}.pub"));
    let (private_s, public_s) = (
        private.to_str().unwrap().to_owned(),
        public.to_str().unwrap().to_owned(),
    );
    let mut args = vec!["genpkey"];
    args.extend_from_slice(genpkey);
    args.extend_from_slice(&["-out", &private_s]);
    openssl(&args);
    openssl(&["pkey", "-in", &private_s, "-pubout", "-out", &public_s]);
    Pair {
        private: std::fs::read_to_string(private).unwrap(),
        public: std::fs::read_to_string(public).unwrap(),
    }
}

/// Made once per test run (RSA key generation takes a moment).
static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let rsa = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"];
    let p256 = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
    let p384 = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"];
    let ed = ["-algorithm", "ED25519"];
    Keys {
        rsa: pair(d, "rsa", &rsa),
        rsa_other: pair(d, "rsa-other", &rsa),
        rsa_1024: pair(
            d,
            "rsa-1024",
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
        ),
        p256: pair(d, "p256", &p256),
        p256_other: pair(d, "p256-other", &p256),
        p384: pair(d, "p384", &p384),
        p384_other: pair(d, "p384-other", &p384),
        ed25519: pair(d, "ed25519", &ed),
        ed25519_other: pair(d, "ed25519-other", &ed),
    }
});

fn rsa_key(pem: &str) -> EncodingKey {
    EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()
}
fn ec_key(pem: &str) -> EncodingKey {
    EncodingKey::from_ec_pem(pem.as_bytes()).unwrap()
}
fn ed_key(pem: &str) -> EncodingKey {
    EncodingKey::from_ed_pem(pem.as_bytes()).unwrap()
}
fn hmac_key(secret: &[u8]) -> EncodingKey {
    EncodingKey::from_secret(secret)
}

fn sign(alg: Algorithm, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, key).expect("sign")
}

fn claims(sub: &str) -> Value {
    json!({ "sub": sub, "exp": keywarden_core::now() + 300 })
}

/// A token with a hand-made header and signature (for what `encode` refuses to make).
fn forge(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn hmac_method(alg: &str, secret: &str) -> Value {
    json!({ "type": "jwt", "signing_method": alg, "secret": secret })
}

fn pem_method(alg: &str, public_key: &str) -> Value {
    json!({ "type": "jwt", "signing_method": alg, "public_key": public_key })
}

// ---------------------------------------------------------------------------------------
// Server helpers
// ---------------------------------------------------------------------------------------

async fn profile(s: &TestServer, name: &str, method: Value) -> String {
    let r = s
        .post(
            "/v1/profiles",
            json!({ "name": name, "collections": ["billing"], "access_method": method }),
        )
        .await
        .expect(201);
    r.body["id"].as_str().unwrap().to_owned()
}

/// An API client with `key:use` and two scopes, its profiles attached.
async fn client(s: &TestServer, name: &str, profiles: &[&str]) -> String {
    let id = s
        .principal("api_client", name, &["key:use", "billing", "reports"])
        .await;
    if !profiles.is_empty() {
        s.patch(
            &format!("/v1/principals/{id}"),
            json!({ "profiles": profiles }),
        )
        .await
        .expect(200);
    }
    id
}

/// What the server answers a credential: the `/v1/verify` body, and the gateway's
/// `/v1/auth-request` status, reason header and body.
#[derive(Debug, PartialEq)]
struct Answer {
    verify: String,
    gateway: (u16, Option<String>, String),
}

async fn answer(s: &TestServer, credential: &str) -> Answer {
    let v = s
        .verify(json!({ "key": credential, "client_address": ADDR, "method": "GET", "path": "/" }))
        .await
        .expect(200);
    let g = s
        .call(
            Method::GET,
            "/v1/auth-request",
            Some(credential),
            None,
            &[
                ("x-real-ip", ADDR),
                ("x-original-method", "GET"),
                ("x-original-uri", "/"),
            ],
        )
        .await;
    Answer {
        verify: v.text,
        gateway: (
            g.status.as_u16(),
            g.header("x-keywarden-reason").map(str::to_owned),
            g.text,
        ),
    }
}

/// The answer to an API key that is nobody's: what every refused token must get.
async fn nobodys(s: &TestServer) -> Answer {
    let unknown = keywarden_keys::ApiKey::generate("kw", "live").unwrap();
    let a = answer(s, unknown.expose()).await;
    let body: Value = serde_json::from_str(&a.verify).unwrap();
    assert_eq!(body["reason"], "invalid_key", "{}", a.verify);
    assert_eq!(body["status"], 401);
    assert_eq!(a.gateway.0, 401);
    a
}

async fn assert_refused(s: &TestServer, reference: &Answer, token: &str, what: &str) {
    let got = answer(s, token).await;
    assert_eq!(
        &got, reference,
        "{what}: must be refused like an unknown key\ntoken: {token}"
    );
}

/// Asserts the token is accepted for `principal`, on both endpoints.
async fn assert_accepted(s: &TestServer, token: &str, principal: &str, what: &str) -> Value {
    let r = s
        .verify(json!({ "key": token, "client_address": ADDR, "method": "GET", "path": "/" }))
        .await
        .expect(200);
    assert_eq!(r.body["valid"], true, "{what}: {}", r.text);
    assert_eq!(r.body["principal"]["id"], principal, "{what}");
    assert_eq!(r.body["key_id"], Value::Null, "{what}: a JWT is not a key");
    let g = s
        .call(
            Method::GET,
            "/v1/auth-request",
            Some(token),
            None,
            &[
                ("x-real-ip", ADDR),
                ("x-original-method", "GET"),
                ("x-original-uri", "/"),
            ],
        )
        .await
        .expect(204);
    assert_eq!(
        g.header("x-keywarden-principal-id"),
        Some(principal),
        "{what}"
    );
    r.body
}

/// Refusals counted for `cause` since start.
async fn refused(s: &TestServer, cause: &str) -> u64 {
    let stats = s.get("/v1/verify/stats").await.expect(200);
    stats.body["refused"][cause].as_u64().unwrap_or(0)
}

/// Writes an object straight to the store and applies it to the index, the way the
/// change feed would: data the admin API refuses to write (any more).
async fn plant(s: &TestServer, object: Object, expected_version: Option<i64>) {
    let changes = s
        .store()
        .apply(Mutation {
            actor: "test:plant".into(),
            at: keywarden_core::now(),
            writes: vec![Write::Put {
                object,
                expected_version,
            }],
            ..Mutation::default()
        })
        .await
        .expect("store write");
    s.app.service.apply_local(&changes);
}

/// Attaches `profile` to `principal` through the admin API, or, if the admin API
/// refuses, straight in the store. Returns how it was done.
async fn attach_anyway(s: &TestServer, principal: &str, profiles: &[&str]) -> &'static str {
    let path = format!("/v1/principals/{principal}");
    let r = s.patch(&path, json!({ "profiles": profiles })).await;
    if r.status.is_success() {
        return "admin API";
    }
    assert!(
        r.status.is_client_error(),
        "attach: {} {}",
        r.status,
        r.text
    );
    let mut p = {
        let index = s.app.service.index.read().unwrap();
        index.principals.get(principal).unwrap().as_ref().clone()
    };
    let version = p.version;
    p.profiles = profiles.iter().map(|p| (*p).to_owned()).collect();
    p.version += 1;
    plant(s, Object::Principal(p), Some(version)).await;
    let now = s.get(&path).await.expect(200);
    assert_eq!(now.body["profiles"], json!(profiles));
    "store"
}

// ---------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------

async fn every_algorithm_verifies_with_its_own_key_only(backend: Backend) {
    let s = TestServer::start(backend).await;
    let reference = nobodys(&s).await;
    let k = &*KEYS;
    struct Case {
        alg: Algorithm,
        method: Value,
        good: EncodingKey,
        /// Tokens this profile must refuse although nothing else is wrong with them.
        others: Vec<(&'static str, Algorithm, EncodingKey)>,
    }
    let hs = |n: &str| format!("{n}-secret-of-at-least-32-characters!");
    let cases = vec![
        Case {
            alg: Algorithm::HS256,
            method: hmac_method("HS256", &hs("hs256")),
            good: hmac_key(hs("hs256").as_bytes()),
            others: vec![
                (
                    "another secret",
                    Algorithm::HS256,
                    hmac_key(hs("other").as_bytes()),
                ),
                (
                    "same secret, HS384",
                    Algorithm::HS384,
                    hmac_key(hs("hs256").as_bytes()),
                ),
            ],
        },
        Case {
            alg: Algorithm::HS384,
            method: hmac_method("HS384", &hs("hs384")),
            good: hmac_key(hs("hs384").as_bytes()),
            others: vec![
                (
                    "another secret",
                    Algorithm::HS384,
                    hmac_key(hs("other").as_bytes()),
                ),
                (
                    "same secret, HS512",
                    Algorithm::HS512,
                    hmac_key(hs("hs384").as_bytes()),
                ),
            ],
        },
        Case {
            alg: Algorithm::HS512,
            method: hmac_method("HS512", &hs("hs512")),
            good: hmac_key(hs("hs512").as_bytes()),
            others: vec![
                (
                    "another secret",
                    Algorithm::HS512,
                    hmac_key(hs("other").as_bytes()),
                ),
                (
                    "same secret, HS256",
                    Algorithm::HS256,
                    hmac_key(hs("hs512").as_bytes()),
                ),
            ],
        },
        Case {
            alg: Algorithm::RS256,
            method: pem_method("RS256", &k.rsa.public),
            good: rsa_key(&k.rsa.private),
            others: vec![
                (
                    "another RSA key",
                    Algorithm::RS256,
                    rsa_key(&k.rsa_other.private),
                ),
                ("same key, RS512", Algorithm::RS512, rsa_key(&k.rsa.private)),
                ("same key, PS256", Algorithm::PS256, rsa_key(&k.rsa.private)),
            ],
        },
        Case {
            alg: Algorithm::RS384,
            method: pem_method("RS384", &k.rsa.public),
            good: rsa_key(&k.rsa.private),
            others: vec![
                (
                    "another RSA key",
                    Algorithm::RS384,
                    rsa_key(&k.rsa_other.private),
                ),
                ("same key, RS256", Algorithm::RS256, rsa_key(&k.rsa.private)),
            ],
        },
        Case {
            alg: Algorithm::RS512,
            method: pem_method("RS512", &k.rsa.public),
            good: rsa_key(&k.rsa.private),
            others: vec![
                (
                    "another RSA key",
                    Algorithm::RS512,
                    rsa_key(&k.rsa_other.private),
                ),
                ("same key, PS512", Algorithm::PS512, rsa_key(&k.rsa.private)),
            ],
        },
        Case {
            alg: Algorithm::ES256,
            method: pem_method("ES256", &k.p256.public),
            good: ec_key(&k.p256.private),
            others: vec![
                (
                    "another P-256 key",
                    Algorithm::ES256,
                    ec_key(&k.p256_other.private),
                ),
                (
                    "a P-384 key, ES384",
                    Algorithm::ES384,
                    ec_key(&k.p384.private),
                ),
            ],
        },
        Case {
            alg: Algorithm::ES384,
            method: pem_method("ES384", &k.p384.public),
            good: ec_key(&k.p384.private),
            others: vec![
                (
                    "another P-384 key",
                    Algorithm::ES384,
                    ec_key(&k.p384_other.private),
                ),
                (
                    "a P-256 key, ES256",
                    Algorithm::ES256,
                    ec_key(&k.p256.private),
                ),
            ],
        },
        Case {
            alg: Algorithm::EdDSA,
            method: pem_method("EdDSA", &k.ed25519.public),
            good: ed_key(&k.ed25519.private),
            others: vec![(
                "another Ed25519 key",
                Algorithm::EdDSA,
                ed_key(&k.ed25519_other.private),
            )],
        },
    ];
    for case in cases {
        let name = format!("{:?}", case.alg).to_lowercase();
        let p = profile(&s, &name, case.method).await;
        let c = client(&s, &format!("client-{name}"), &[&p]).await;
        let good = sign(case.alg, &claims(&c), &case.good);
        let body = assert_accepted(&s, &good, &c, &name).await;
        assert_eq!(
            body["scopes"],
            json!(["billing"]),
            "{name}: the profile's collections narrow the scopes"
        );
        for (what, alg, key) in &case.others {
            let token = sign(*alg, &claims(&c), key);
            assert_refused(&s, &reference, &token, &format!("{name} profile, {what}")).await;
        }
        // Tampering with any part breaks the signature.
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        let claims_of_another = URL_SAFE_NO_PAD
            .encode(json!({ "sub": c, "exp": keywarden_core::now() + 86_400 * 365 }).to_string());
        parts[1] = claims_of_another;
        assert_refused(
            &s,
            &reference,
            &parts.join("."),
            &format!("{name}: new claims"),
        )
        .await;
    }
}

async fn algorithm_confusion_and_none_are_refused(backend: Backend) {
    let s = TestServer::start(backend).await;
    let reference = nobodys(&s).await;
    let k = &*KEYS;
    let rs = profile(&s, "rs256", pem_method("RS256", &k.rsa.public)).await;
    let es = profile(&s, "es256", pem_method("ES256", &k.p256.public)).await;
    let ed = profile(&s, "eddsa", pem_method("EdDSA", &k.ed25519.public)).await;
    let rs_client = client(&s, "rs-client", &[&rs]).await;
    let es_client = client(&s, "es-client", &[&es]).await;
    let ed_client = client(&s, "ed-client", &[&ed]).await;
    let good = sign(
        Algorithm::RS256,
        &claims(&rs_client),
        &rsa_key(&k.rsa.private),
    );
    assert_accepted(&s, &good, &rs_client, "RS256 baseline").await;

    // Key confusion: an HMAC token keyed with the public key, which anyone may know.
    let der = |pem: &str| {
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        STANDARD.decode(body).unwrap()
    };
    for (c, pem) in [
        (&rs_client, &k.rsa.public),
        (&es_client, &k.p256.public),
        (&ed_client, &k.ed25519.public),
    ] {
        let variants: [Vec<u8>; 4] = [
            pem.as_bytes().to_vec(),
            pem.trim().as_bytes().to_vec(),
            format!("{pem}\n").into_bytes(),
            der(pem),
        ];
        for secret in &variants {
            for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
                let token = sign(alg, &claims(c), &hmac_key(secret));
                assert_refused(
                    &s,
                    &reference,
                    &token,
                    &format!("{alg:?} keyed with a public key"),
                )
                .await;
            }
        }
    }
    // The RS256 signature under a header that claims HS256.
    let parts: Vec<&str> = good.split('.').collect();
    let relabelled = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
        parts[1],
        parts[2]
    );
    assert_refused(
        &s,
        &reference,
        &relabelled,
        "RS256 signature relabelled HS256",
    )
    .await;

    // `alg: none`, however spelled, with no signature or with a real one.
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        let header = json!({ "alg": alg, "typ": "JWT" });
        for signature in ["", parts[2]] {
            let token = forge(&header, &claims(&rs_client), signature);
            assert_refused(&s, &reference, &token, &format!("alg {alg:?}")).await;
        }
    }
    let no_alg = forge(&json!({ "typ": "JWT" }), &claims(&rs_client), parts[2]);
    assert_refused(&s, &reference, &no_alg, "no alg").await;
    // A critical header extension nobody here understands (RFC 7515 §4.1.11).
    let crit = {
        let header = json!({ "alg": "RS256", "crit": ["b64"], "b64": "false" });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims(&rs_client).to_string())
        );
        let signature = jsonwebtoken::crypto::sign(
            input.as_bytes(),
            &rsa_key(&k.rsa.private),
            Algorithm::RS256,
        )
        .unwrap();
        format!("{input}.{signature}")
    };
    assert_refused(&s, &reference, &crit, "crit header").await;
    // Still fine after all that.
    assert_accepted(&s, &good, &rs_client, "RS256 afterwards").await;
}

async fn claims_bound_the_token(backend: Backend) {
    let s = TestServer::start(backend).await;
    let reference = nobodys(&s).await;
    let k = &*KEYS;
    let secret = "claims-secret-of-at-least-32-characters";
    let hs = profile(&s, "hs", hmac_method("HS256", secret)).await;
    let ed = profile(&s, "ed", pem_method("EdDSA", &k.ed25519.public)).await;
    let hs_client = client(&s, "hs-client", &[&hs]).await;
    let ed_client = client(&s, "ed-client", &[&ed]).await;
    let expired_before = refused(&s, "expired").await;
    let malformed_before = refused(&s, "malformed").await;
    for (c, alg, key) in [
        (&hs_client, Algorithm::HS256, hmac_key(secret.as_bytes())),
        (&ed_client, Algorithm::EdDSA, ed_key(&k.ed25519.private)),
    ] {
        let now = keywarden_core::now();
        let what = |w: &str| format!("{alg:?}: {w}");
        let token = |claims: Value| sign(alg, &claims, &key);
        assert_accepted(
            &s,
            &token(json!({ "sub": c, "exp": now + 60 })),
            c,
            &what("baseline"),
        )
        .await;
        // Leeway: just expired, or valid in a moment, is still accepted.
        assert_accepted(
            &s,
            &token(json!({ "sub": c, "exp": now })),
            c,
            &what("exp now"),
        )
        .await;
        assert_accepted(
            &s,
            &token(json!({ "sub": c, "exp": now + 60, "nbf": now + 2 })),
            c,
            &what("nbf within leeway"),
        )
        .await;
        for (w, claims) in [
            ("no exp", json!({ "sub": c })),
            ("exp null", json!({ "sub": c, "exp": null })),
            (
                "exp a string",
                json!({ "sub": c, "exp": (now + 60).to_string() }),
            ),
            ("exp negative", json!({ "sub": c, "exp": -1 })),
            (
                "expired an hour ago",
                json!({ "sub": c, "exp": now - 3600 }),
            ),
            (
                "expired beyond the leeway",
                json!({ "sub": c, "exp": now - 6 }),
            ),
            (
                "not valid for a minute",
                json!({ "sub": c, "exp": now + 600, "nbf": now + 60 }),
            ),
            (
                "nbf a string",
                json!({ "sub": c, "exp": now + 600, "nbf": "soon" }),
            ),
            (
                "an audience",
                json!({ "sub": c, "exp": now + 60, "aud": "elsewhere" }),
            ),
            ("no sub", json!({ "exp": now + 60 })),
            ("sub a number", json!({ "sub": 1, "exp": now + 60 })),
            ("sub a list", json!({ "sub": [c], "exp": now + 60 })),
        ] {
            assert_refused(&s, &reference, &token(claims), &what(w)).await;
        }
    }
    // The true causes are counted, never shown.
    assert!(refused(&s, "expired").await >= expired_before + 6);
    assert!(refused(&s, "malformed").await > malformed_before);
}

async fn the_subject_must_be_the_enabled_api_client_itself(backend: Backend) {
    let s = TestServer::start(backend).await;
    let reference = nobodys(&s).await;
    let secret_a = "client-a-secret-of-at-least-32-characters";
    let secret_b = "client-b-secret-of-at-least-32-characters";
    let secret_u = "user-profile-secret-of-at-least-32-chars";
    let pa = profile(&s, "pa", hmac_method("HS256", secret_a)).await;
    let pb = profile(&s, "pb", hmac_method("HS256", secret_b)).await;
    let pu = profile(&s, "pu", hmac_method("HS256", secret_u)).await;
    let a = client(&s, "client-a", &[&pa]).await;
    let b = client(&s, "client-b", &[&pb]).await;
    let key_a = hmac_key(secret_a.as_bytes());
    let key_b = hmac_key(secret_b.as_bytes());
    let token_a = sign(Algorithm::HS256, &claims(&a), &key_a);
    let token_b = sign(Algorithm::HS256, &claims(&b), &key_b);
    assert_accepted(&s, &token_a, &a, "client A").await;
    assert_accepted(&s, &token_b, &b, "client B").await;

    // A signs as B, as B's name, as nobody, as the admin user.
    let admin = {
        let list = s.get("/v1/principals").await.expect(200);
        list.body
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["kind"] == "user")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for (what, sub) in [
        ("sub = client B", b.as_str()),
        ("sub = client B's name", "client-b"),
        (
            "sub = an unknown id",
            "00000000-0000-4000-8000-000000000000",
        ),
        ("sub = the admin user", admin.as_str()),
        ("sub = empty", ""),
    ] {
        let token = sign(Algorithm::HS256, &claims(sub), &key_a);
        assert_refused(&s, &reference, &token, what).await;
    }

    // A user that somehow has a JWT profile of its own (the admin API refuses this):
    // its tokens are still refused, only API clients use JWTs.
    let user = s.principal("user", "a-user", &["key:use", "billing"]).await;
    let mut u = {
        let index = s.app.service.index.read().unwrap();
        index.principals.get(&user).unwrap().as_ref().clone()
    };
    let version = u.version;
    u.profiles = vec![pu.clone()];
    u.version += 1;
    plant(&s, Object::Principal(u), Some(version)).await;
    let token_u = sign(
        Algorithm::HS256,
        &claims(&user),
        &hmac_key(secret_u.as_bytes()),
    );
    assert_refused(&s, &reference, &token_u, "sub = a user with a JWT profile").await;

    // A disabled client: refused (403, as for a disabled principal's keys), then back.
    s.patch(&format!("/v1/principals/{a}"), json!({ "enabled": false }))
        .await
        .expect(200);
    let r = s
        .verify(json!({ "key": token_a, "client_address": ADDR }))
        .await
        .expect(200);
    assert_eq!(r.body["valid"], false, "{}", r.text);
    assert_eq!(r.body["reason"], "principal_disabled");
    assert_eq!(r.body["principal"], Value::Null);
    s.patch(&format!("/v1/principals/{a}"), json!({ "enabled": true }))
        .await
        .expect(200);
    assert_accepted(&s, &token_a, &a, "client A re-enabled").await;

    // Without `key:use`: refused.
    let pc = profile(
        &s,
        "pc",
        hmac_method("HS256", "client-c-secret-of-at-least-32-characters"),
    )
    .await;
    let c = s.principal("api_client", "client-c", &["billing"]).await;
    s.patch(&format!("/v1/principals/{c}"), json!({ "profiles": [pc] }))
        .await
        .expect(200);
    let token_c = sign(
        Algorithm::HS256,
        &claims(&c),
        &hmac_key(b"client-c-secret-of-at-least-32-characters"),
    );
    let r = s
        .verify(json!({ "key": token_c, "client_address": ADDR }))
        .await
        .expect(200);
    assert_eq!(r.body["reason"], "principal_not_permitted", "{}", r.text);

    // A profile detached, or a client deleted: its tokens stop at once.
    s.patch(&format!("/v1/principals/{b}"), json!({ "profiles": [] }))
        .await
        .expect(200);
    assert_refused(&s, &reference, &token_b, "profile detached").await;
    s.patch(&format!("/v1/principals/{b}"), json!({ "profiles": [pb] }))
        .await
        .expect(200);
    assert_accepted(&s, &token_b, &b, "profile attached again").await;
    s.delete(&format!("/v1/principals/{b}")).await.expect(200);
    assert_refused(&s, &reference, &token_b, "client deleted").await;
}

async fn a_profile_shared_by_two_clients_identifies_neither(backend: Backend) {
    let s = TestServer::start(backend).await;
    let reference = nobodys(&s).await;
    let secret = "shared-secret-of-at-least-32-characters";
    let shared = profile(&s, "shared", hmac_method("HS256", secret)).await;
    let own_secret = "own-secret-of-at-least-32-characters!!";
    let own = profile(&s, "own", hmac_method("HS256", own_secret)).await;
    let a = client(&s, "client-a", &[&shared]).await;
    let b = client(&s, "client-b", &[]).await;
    let key = hmac_key(secret.as_bytes());
    let token_a = sign(Algorithm::HS256, &claims(&a), &key);
    let token_b = sign(Algorithm::HS256, &claims(&b), &key);
    assert_accepted(&s, &token_a, &a, "A alone on the profile").await;

    // B gets the same profile: through the admin API if it still allows it, else in the store.
    let how = attach_anyway(&s, &b, &[&shared, &own]).await;
    let before = refused(&s, "jwt_profile_shared").await;
    // Either holder of the secret could have signed either token: both are refused.
    assert_refused(&s, &reference, &token_a, &format!("A, shared ({how})")).await;
    assert_refused(&s, &reference, &token_b, &format!("B, shared ({how})")).await;
    assert!(
        refused(&s, "jwt_profile_shared").await >= before + 4,
        "the cause is counted"
    );
    // B's own, unshared profile still identifies B.
    let own_token = sign(
        Algorithm::HS256,
        &claims(&b),
        &hmac_key(own_secret.as_bytes()),
    );
    assert_accepted(&s, &own_token, &b, "B's own profile").await;

    // The same data loaded at start (an index built from the store) fails closed too.
    let snapshot = s.store().load().await.unwrap();
    let index = Index::from_objects(snapshot.objects, snapshot.seq, &snapshot.usage);
    let verifier = Verifier::new(
        Arc::new(RwLock::new(index)),
        FailureThrottle::new(1000, Duration::from_secs(60), Duration::from_secs(60)),
    );
    let ctx = Context {
        method: "GET",
        path: "/",
        ..Context::default()
    };
    for token in [&token_a, &token_b] {
        let d = verifier.verify(
            Some(token),
            Source::Header,
            &ctx,
            None,
            keywarden_core::now(),
        );
        assert_eq!(d.reason, Reason::InvalidKey);
        assert_eq!(d.cause, Some(Cause::JwtProfileShared));
    }
    let d = verifier.verify(
        Some(&own_token),
        Source::Header,
        &ctx,
        None,
        keywarden_core::now(),
    );
    assert_eq!(d.reason, Reason::Ok, "{d:?}");

    // Detach it from B: A's tokens work again, B's do not.
    s.patch(&format!("/v1/principals/{b}"), json!({ "profiles": [own] }))
        .await
        .expect(200);
    assert_accepted(&s, &token_a, &a, "A alone again").await;
    assert_refused(&s, &reference, &token_b, "B detached").await;
}

async fn unusable_public_keys_are_refused_when_written_and_when_stored(backend: Backend) {
    let s = TestServer::start(backend).await;
    let reference = nobodys(&s).await;
    let k = &*KEYS;
    let two_blocks = format!("{}{}", k.rsa.public, k.rsa_other.public);
    for (what, alg, pem) in [
        ("no key", "RS256", None),
        ("garbage", "RS256", Some("not a key")),
        (
            "a PEM frame around nothing",
            "RS256",
            Some("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
        ),
        ("the private key", "RS256", Some(k.rsa.private.as_str())),
        ("an EC private key", "ES256", Some(k.p256.private.as_str())),
        (
            "an Ed25519 private key",
            "EdDSA",
            Some(k.ed25519.private.as_str()),
        ),
        (
            "a 1024-bit RSA key",
            "RS256",
            Some(k.rsa_1024.public.as_str()),
        ),
        ("two keys", "RS256", Some(two_blocks.as_str())),
        ("an EC key for RS256", "RS256", Some(k.p256.public.as_str())),
        ("an RSA key for ES256", "ES256", Some(k.rsa.public.as_str())),
        (
            "a P-384 key for ES256",
            "ES256",
            Some(k.p384.public.as_str()),
        ),
        (
            "a P-256 key for ES384",
            "ES384",
            Some(k.p256.public.as_str()),
        ),
        (
            "an Ed25519 key for ES256",
            "ES256",
            Some(k.ed25519.public.as_str()),
        ),
        ("an RSA key for EdDSA", "EdDSA", Some(k.rsa.public.as_str())),
    ] {
        let mut method = json!({ "type": "jwt", "signing_method": alg });
        if let Some(pem) = pem {
            method["public_key"] = json!(pem);
        }
        let r = s
            .post(
                "/v1/profiles",
                json!({ "name": "bad", "access_method": method }),
            )
            .await
            .expect(400);
        assert_eq!(r.body["code"], "invalid_field", "{what}: {}", r.text);
        assert_eq!(r.body["field"], "access_method.public_key", "{what}");
    }
    for alg in ["PS256", "none", "HS1", "RS1"] {
        let r = s
            .post(
                "/v1/profiles",
                json!({ "name": "bad", "access_method": pem_method(alg, &k.rsa.public) }),
            )
            .await
            .expect(400);
        assert_eq!(r.body["field"], "access_method.signing_method", "{alg}");
    }

    // Changing a good profile to a bad key is refused, and the good key keeps working.
    let p = profile(&s, "rs", pem_method("RS256", &k.rsa.public)).await;
    let c = client(&s, "rs-client", &[&p]).await;
    let token = sign(Algorithm::RS256, &claims(&c), &rsa_key(&k.rsa.private));
    assert_accepted(&s, &token, &c, "RS256").await;
    let r = s
        .patch(
            &format!("/v1/profiles/{p}"),
            json!({ "access_method": pem_method("RS256", &k.rsa.private) }),
        )
        .await
        .expect(400);
    assert_eq!(r.body["field"], "access_method.public_key");
    assert_accepted(&s, &token, &c, "RS256 after a refused change").await;

    // A bad key already in the store (written before these checks): its tokens are refused.
    let at = keywarden_core::now();
    let stored = AccessProfile {
        id: uuid::Uuid::new_v4().to_string(),
        name: "stored-bad".into(),
        description: String::new(),
        collections: vec![],
        policy: None,
        access_method: AccessMethod::Jwt {
            signing_method: "RS256".into(),
            secret: None,
            public_key: Some("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".into()),
        },
        ip_allowlist: vec![],
        created_at: at,
        updated_at: at,
        version: 1,
    };
    let bad = stored.id.clone();
    plant(&s, Object::Profile(stored), None).await;
    let d = client(&s, "stored-bad-client", &[&bad]).await;
    let token = sign(Algorithm::RS256, &claims(&d), &rsa_key(&k.rsa.private));
    let before = refused(&s, "jwt_key_unusable").await;
    assert_refused(&s, &reference, &token, "a stored key that does not parse").await;
    assert!(refused(&s, "jwt_key_unusable").await >= before + 2);
    // Fixed through the admin API: the index parses the new key.
    s.patch(
        &format!("/v1/profiles/{bad}"),
        json!({ "access_method": pem_method("RS256", &k.rsa.public) }),
    )
    .await
    .expect(200);
    assert_accepted(&s, &token, &d, "after the key was fixed").await;
}

async fn oversized_tokens_are_refused_before_parsing(backend: Backend) {
    let s = TestServer::start(backend).await;
    let reference = nobodys(&s).await;
    let secret = "size-secret-of-at-least-32-characters!!";
    let p = profile(&s, "size", hmac_method("HS256", secret)).await;
    let c = client(&s, "size-client", &[&p]).await;
    let key = hmac_key(secret.as_bytes());
    let exp = keywarden_core::now() + 300;
    let padded = |n: usize| {
        sign(
            Algorithm::HS256,
            &json!({ "sub": c, "exp": exp, "pad": "x".repeat(n) }),
            &key,
        )
    };
    // The length of padding whose token is the longest within `limit` bytes.
    let longest = |limit: usize| {
        let mut n = (limit * 3 / 4).saturating_sub(400);
        assert!(padded(n).len() <= limit);
        while padded(n + 1).len() <= limit {
            n += 1;
        }
        n
    };
    // The verifier's bound: the longest token within 8 KiB passes; one more byte of
    // claims does not.
    let n = longest(8192);
    let (fits, too_long) = (padded(n), padded(n + 1));
    assert!(fits.len() <= 8192 && too_long.len() > 8192);
    let r = s
        .verify(json!({ "key": fits, "client_address": ADDR }))
        .await
        .expect(200);
    assert_eq!(r.body["valid"], true, "a token of 8 KiB: {}", r.text);
    let before = refused(&s, "malformed").await;
    assert_refused(&s, &reference, &too_long, "a token over 8 KiB").await;
    assert_refused(&s, &reference, &padded(30_000), "a token of 40 KiB").await;
    // Counted as malformed by `/v1/verify` (the gateway's credential parser drops them
    // first, so there they count as missing).
    assert!(refused(&s, "malformed").await >= before + 2);
    // Through the gateway a credential header is bounded more tightly (4 KiB, by the
    // credential parser); a token within that bound passes both ways.
    let header_room = keywarden_keys::credential::MAX_CREDENTIAL_LEN - "Bearer ".len();
    let small = padded(longest(header_room));
    assert_accepted(&s, &small, &c, "a token that fits in the header bound").await;
}

async fn the_secret_never_leaves_the_server(backend: Backend) {
    let s = TestServer::start(backend).await;
    let canary = |n: u8| format!("jwt-canary-{n}-{}", uuid::Uuid::new_v4().simple());
    let (first, second, refused_secret) = (canary(1), canary(2), canary(3));
    let created = s
        .post(
            "/v1/profiles",
            json!({ "name": "secretive", "access_method": hmac_method("HS256", &first) }),
        )
        .await
        .expect(201);
    let p = created.body["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/profiles/{p}");
    // Sending the marker back keeps the secret; a new secret replaces it.
    let kept = s
        .patch(
            &path,
            json!({ "description": "kept", "access_method": hmac_method("HS384", "***") }),
        )
        .await
        .expect(200);
    let c = client(&s, "secretive-client", &[&p]).await;
    assert_accepted(
        &s,
        &sign(Algorithm::HS384, &claims(&c), &hmac_key(first.as_bytes())),
        &c,
        "the kept secret",
    )
    .await;
    let replaced = s
        .patch(
            &path,
            json!({ "access_method": hmac_method("HS256", &second) }),
        )
        .await
        .expect(200);
    assert_accepted(
        &s,
        &sign(Algorithm::HS256, &claims(&c), &hmac_key(second.as_bytes())),
        &c,
        "the new secret",
    )
    .await;
    let refused_write = s
        .post(
            "/v1/profiles",
            json!({ "name": "refused", "access_method": { "type": "jwt", "signing_method": "RS256",
                    "secret": refused_secret, "public_key": "nope" } }),
        )
        .await
        .expect(400);
    s.app.service.flush_refusal_counts().await.unwrap();

    let profiles = s.get("/v1/profiles").await.expect(200);
    let one = s.get(&path).await.expect(200);
    assert_eq!(one.body["access_method"]["secret"], "***");
    let changes = s.get("/v1/changes?since=0&limit=1000").await.expect(200);
    assert!(
        changes.text.contains(&p),
        "the feed holds the profile's changes"
    );
    let audit = s.get("/v1/audit?limit=1000").await.expect(200);
    for action in ["profile.create", "profile.update"] {
        assert!(audit.text.contains(action), "{action} is audited");
    }
    let principals = s.get("/v1/principals").await.expect(200);
    let faces = [
        ("POST /v1/profiles", &created.text),
        ("PATCH (kept)", &kept.text),
        ("PATCH (replaced)", &replaced.text),
        ("refused POST", &refused_write.text),
        ("GET /v1/profiles", &profiles.text),
        ("GET /v1/profiles/{id}", &one.text),
        ("GET /v1/changes", &changes.text),
        ("GET /v1/audit", &audit.text),
        ("GET /v1/principals", &principals.text),
    ];
    for secret in [&first, &second, &refused_secret] {
        let b = secret.as_bytes();
        let encodings = [
            secret.clone(),
            secret[..24].to_owned(),
            STANDARD.encode(b),
            STANDARD_NO_PAD.encode(b),
            URL_SAFE.encode(b),
            URL_SAFE_NO_PAD.encode(b),
            hex::encode(b),
            hex::encode_upper(b),
        ];
        for (face, text) in &faces {
            for e in &encodings {
                assert!(
                    !text.contains(e.as_str()),
                    "{face} shows the secret (as {e}): {text}"
                );
            }
        }
    }
}
