//! JSON Web Tokens for API clients whose access profile uses the JWT access method
//! (HMAC: HS256, HS384, HS512). The client signs `{"sub": <client id>, "exp": …}`
//! with the profile's secret; `alg: none` and asymmetric methods are refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use keywarden_core::Timestamp;
use serde::Deserialize;

/// Longest token looked at.
const MAX_TOKEN: usize = 8192;
/// Clock skew tolerated on `exp` and `nbf`, in seconds.
const LEEWAY: i64 = 5;

#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
}

#[derive(Debug, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: Timestamp,
    #[serde(default)]
    pub nbf: Option<Timestamp>,
}

impl Claims {
    pub fn time_valid(&self, now: Timestamp) -> bool {
        self.exp + LEEWAY > now && self.nbf.is_none_or(|nbf| nbf - LEEWAY <= now)
    }
}

pub struct Parsed<'a> {
    pub alg: String,
    pub claims: Claims,
    signing_input: &'a str,
    signature: Vec<u8>,
}

/// Three base64url segments separated by dots.
pub fn looks_like_jwt(text: &str) -> bool {
    text.len() <= MAX_TOKEN
        && text.split('.').count() == 3
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

pub fn parse(token: &str) -> Option<Parsed<'_>> {
    if !looks_like_jwt(token) {
        return None;
    }
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    let header: Header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    if !matches!(header.alg.as_str(), "HS256" | "HS384" | "HS512") {
        return None;
    }
    let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    let signing_input = &token[..token.len() - parts_len(token)];
    Some(Parsed {
        alg: header.alg,
        claims,
        signing_input,
        signature,
    })
}

/// Length of `.<signature>` at the end of the token.
fn parts_len(token: &str) -> usize {
    token.rfind('.').map_or(0, |i| token.len() - i)
}

/// Checks the HMAC signature in constant time.
pub fn signature_valid(parsed: &Parsed<'_>, secret: &[u8]) -> bool {
    fn check<M: Mac + hmac::digest::KeyInit>(
        secret: &[u8],
        input: &[u8],
        signature: &[u8],
    ) -> bool {
        match <M as Mac>::new_from_slice(secret) {
            Ok(mut mac) => {
                mac.update(input);
                mac.verify_slice(signature).is_ok()
            }
            Err(_) => false,
        }
    }
    let input = parsed.signing_input.as_bytes();
    match parsed.alg.as_str() {
        "HS256" => check::<Hmac<sha2::Sha256>>(secret, input, &parsed.signature),
        "HS384" => check::<Hmac<sha2::Sha384>>(secret, input, &parsed.signature),
        "HS512" => check::<Hmac<sha2::Sha512>>(secret, input, &parsed.signature),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(header: &str, claims: &str, secret: &[u8]) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret).unwrap();
        mac.update(input.as_bytes());
        format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }

    #[test]
    fn verifies_hs256_and_refuses_tampering_and_none() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let token = sign(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            r#"{"sub":"c1","exp":2000000000}"#,
            secret,
        );
        let parsed = parse(&token).unwrap();
        assert_eq!(parsed.claims.sub, "c1");
        assert!(signature_valid(&parsed, secret));
        assert!(!signature_valid(
            &parsed,
            b"another secret of enough length!!"
        ));
        let mut tampered = token.clone();
        tampered.pop();
        tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert!(parse(&tampered).is_none_or(|p| !signature_valid(&p, secret)));
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"sub":"c1","exp":2000000000}"#)
        );
        assert!(parse(&none).is_none());
        assert!(parse("a.b").is_none());
        assert!(parse("a.b.c").is_none());
        assert!(parsed.claims.time_valid(1_900_000_000));
        assert!(!parsed.claims.time_valid(2_000_000_010));
    }
}
