use crate::render;

#[test]
fn encoding_functions() {
    assert_eq!(render("${base64('user:pass')}"), "dXNlcjpwYXNz");
    assert_eq!(render("${base64url('??>>')}"), "Pz8-Pg");
    assert_eq!(
        render("${urlencode('a b&c=d/é~-._')}"),
        "a%20b%26c%3Dd%2F%C3%A9~-._"
    );
    assert_eq!(
        render("${sha256('abc')}"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        render("${hmac_sha256('key', 'The quick brown fox jumps over the lazy dog')}"),
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    );
    assert_eq!(render("${base64(base64('x'))}"), "ZUE9PQ==");
}

#[test]
fn uuid_and_now() {
    let u = render("${uuid()}");
    assert_eq!(u.len(), 36);
    assert_ne!(u, render("${uuid()}"));
    let now: i64 = render("${now()}").parse().unwrap();
    assert!((now - keywarden_core::now()).abs() < 5);
}

#[test]
fn jwt_hs256_verifies_with_an_independent_check() {
    let token = render("${jwt('HS256', secret.signing, '{\"sub\":\"svc\",\"aud\":\"api\"}', 300)}");
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    // Verify the signature by hand: HMAC-SHA-256 over header.payload.
    use base64::Engine as _;
    use hmac::Mac;
    let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(b"hmac-secret").unwrap();
    mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
    let expected =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    assert_eq!(parts[2], expected);
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], "svc");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300
    );
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[0])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "HS256");
}

#[test]
fn jwt_argument_errors() {
    let e = crate::error("${jwt('none', secret.signing, '{}')}");
    assert!(e.contains("unsupported algorithm"), "{e}");
    let e = crate::error("${jwt('HS256', secret.signing, 'not json')}");
    assert!(e.contains("not valid JSON"), "{e}");
    let e = crate::error("${jwt('RS256', secret.signing, '{}')}");
    assert!(e.contains("not an RSA private key"), "{e}");
    let e = crate::error("${jwt('HS256', secret.signing, '[1]')}");
    assert!(e.contains("JSON object"), "{e}");
    assert!(!e.contains("hmac-secret"));
}
