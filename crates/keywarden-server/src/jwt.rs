//! JSON Web Tokens for API clients whose access profile uses the JWT access method.
//!
//! The client signs `{"sub": <client id>, "exp": …, "nbf"?: …}` with the profile's HMAC
//! secret (HS256/384/512) or with the private key whose PEM public key the profile holds
//! (RS256/384/512, ES256/384, EdDSA). Signatures and keys are the `jsonwebtoken` crate's
//! work; this module pins the algorithm to the profile's signing method (so `alg: none`,
//! or HS256 signed with an RSA profile's public key, is refused), requires `exp`, honours
//! `nbf`, and refuses tokens longer than [`MAX_TOKEN`] before parsing anything.
//!
//! A profile's [`JwtKey`] is built once, when the profile enters the index
//! ([`JwtKey::for_method`]); the same function checks a method at create and patch time.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use keywarden_core::Timestamp;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::traits::PublicKeyParts;
use serde::Deserialize;

use crate::model::AccessMethod;

/// Longest token looked at (bytes).
pub const MAX_TOKEN: usize = 8192;
/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY: i64 = 5;
/// Longest PEM public key accepted (an RSA-4096 key is about 800 bytes).
pub const MAX_PEM: usize = 8192;
/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// Three base64url segments separated by dots, at most [`MAX_TOKEN`] bytes.
/// Cheap: no allocation, no decoding.
pub fn looks_like_jwt(text: &str) -> bool {
    text.len() <= MAX_TOKEN
        && text.bytes().filter(|b| *b == b'.').count() == 2
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// What is read from a token before its signature is checked: only enough to find the
/// client and the profile whose key must verify it. Nothing here is trusted.
#[derive(Debug)]
pub struct Unverified<'b> {
    pub alg: Algorithm,
    /// Borrowed from the caller's buffer unless it contains escapes.
    pub sub: Cow<'b, str>,
}

#[derive(Deserialize)]
struct Subject<'a> {
    #[serde(borrow)]
    sub: Cow<'a, str>,
}

/// Reads the header's algorithm and the payload's `sub` without verifying anything;
/// `buf` receives the decoded payload. `None` for anything that is not a JWS in compact
/// form of at most [`MAX_TOKEN`] bytes with a known algorithm (`alg: none` is not one)
/// and a string `sub`, or that names a critical extension (none is understood here,
/// RFC 7515 §4.1.11).
pub fn peek<'b>(token: &str, buf: &'b mut Vec<u8>) -> Option<Unverified<'b>> {
    if !looks_like_jwt(token) {
        return None;
    }
    let header = jsonwebtoken::decode_header(token).ok()?;
    if header.crit.is_some() {
        return None;
    }
    let payload = token.split('.').nth(1)?;
    buf.clear();
    URL_SAFE_NO_PAD.decode_vec(payload, buf).ok()?;
    let buf: &'b Vec<u8> = buf;
    let subject: Subject<'b> = serde_json::from_slice(buf).ok()?;
    Some(Unverified {
        alg: header.alg,
        sub: subject.sub,
    })
}

/// Why a token was not accepted by a profile's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The signature does not verify with this key, or the header names another algorithm.
    Signature,
    /// Signed with this key, but the claims are unusable (no numeric `exp`, an `aud`…).
    Claims,
    /// Signed with this key, but expired or not yet valid.
    Time,
}

/// The claims of a verified token.
#[derive(Debug, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: Timestamp,
    #[serde(default)]
    pub nbf: Option<Timestamp>,
}

impl Claims {
    /// Valid at `now`, give or take [`LEEWAY`]: `exp` is the first second the token is no
    /// longer accepted (RFC 7519 §4.1.4), `nbf` the first second it is.
    pub fn time_valid(&self, now: Timestamp) -> bool {
        now < self.exp.saturating_add(LEEWAY)
            && self.nbf.is_none_or(|nbf| nbf.saturating_sub(LEEWAY) <= now)
    }
}

/// Where a JWT access method's key material is wrong, as `(field, message)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyError {
    pub field: &'static str,
    pub message: &'static str,
}

/// A JWT profile's verification key with its pinned algorithm.
#[derive(Debug)]
pub struct JwtKey {
    pub algorithm: Algorithm,
    key: DecodingKey,
    validation: Validation,
}

impl JwtKey {
    /// The key of a JWT access method: `None` for other methods, an error when the
    /// method cannot verify anything (unknown signing method, short secret, a public key
    /// that is not a PEM public key of the method's family).
    pub fn for_method(method: &AccessMethod) -> Option<Result<JwtKey, KeyError>> {
        match method {
            AccessMethod::Jwt {
                signing_method,
                secret,
                public_key,
            } => Some(Self::new(
                signing_method,
                secret.as_deref(),
                public_key.as_deref(),
            )),
            AccessMethod::Token => None,
        }
    }

    fn new(
        signing_method: &str,
        secret: Option<&str>,
        public_key: Option<&str>,
    ) -> Result<JwtKey, KeyError> {
        let algorithm = match signing_method {
            "HS256" => Algorithm::HS256,
            "HS384" => Algorithm::HS384,
            "HS512" => Algorithm::HS512,
            "RS256" => Algorithm::RS256,
            "RS384" => Algorithm::RS384,
            "RS512" => Algorithm::RS512,
            "ES256" => Algorithm::ES256,
            "ES384" => Algorithm::ES384,
            "EdDSA" => Algorithm::EdDSA,
            _ => {
                return Err(KeyError {
                    field: "access_method.signing_method",
                    message: "one of HS256/384/512, RS256/384/512, ES256/384, EdDSA",
                });
            }
        };
        let key = match algorithm {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => match secret {
                Some(s) if s.len() >= 32 => DecodingKey::from_secret(s.as_bytes()),
                _ => {
                    return Err(KeyError {
                        field: "access_method.secret",
                        message: "an HMAC signing method needs a secret of at least 32 characters",
                    });
                }
            },
            _ => public_key_for(algorithm, public_key.unwrap_or_default())?,
        };
        let mut validation = Validation::new(algorithm);
        // `exp` must be present (and a number); it and `nbf` are then checked against the
        // verifier's clock by `Claims::time_valid`, not by the crate's own clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        // `validate_aud` stays on with no audience configured: a token minted for some
        // audience (another service the client signs for) is refused here.
        Ok(JwtKey {
            algorithm,
            key,
            validation,
        })
    }

    /// Verifies a token with this key: the header's `alg` must be the pinned algorithm,
    /// the signature must verify, `exp` must be present and the token valid at `now`.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<Claims, Refusal> {
        if token.len() > MAX_TOKEN {
            return Err(Refusal::Signature);
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(
            |e| match e.kind() {
                ErrorKind::MissingRequiredClaim(_)
                | ErrorKind::InvalidClaimFormat(_)
                | ErrorKind::InvalidAudience
                | ErrorKind::Json(_)
                | ErrorKind::Utf8(_) => Refusal::Claims,
                _ => Refusal::Signature,
            },
        )?;
        if !data.claims.time_valid(now) {
            return Err(Refusal::Time);
        }
        Ok(data.claims)
    }
}

const PEM_MESSAGE: &str = "an asymmetric signing method needs the PEM public key (`-----BEGIN PUBLIC KEY-----`) \
     of its family: RSA of at least 2048 bits for RS*, P-256 for ES256, P-384 for ES384, Ed25519 for EdDSA";

/// Parses a PEM public key for an asymmetric algorithm, checking that it really is a
/// usable public key of that family (not a private key, a certificate or another curve).
fn public_key_for(algorithm: Algorithm, pem: &str) -> Result<DecodingKey, KeyError> {
    let bad = KeyError {
        field: "access_method.public_key",
        message: PEM_MESSAGE,
    };
    let text = pem.trim();
    let rsa = matches!(
        algorithm,
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512
    );
    let framed = |label: &str| {
        text.starts_with(&format!("-----BEGIN {label}-----"))
            && text.ends_with(&format!("-----END {label}-----"))
    };
    if text.len() > MAX_PEM
        || text.matches("-----BEGIN ").count() != 1
        || !(framed("PUBLIC KEY") || (rsa && framed("RSA PUBLIC KEY")))
    {
        return Err(bad);
    }
    let bytes = text.as_bytes();
    let key = match algorithm {
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => {
            let key = DecodingKey::from_rsa_pem(bytes).map_err(|_| bad)?;
            // The crate reads the DER only when verifying: check it now.
            let public = rsa::RsaPublicKey::from_pkcs1_der(key.as_bytes()).map_err(|_| bad)?;
            if public.size() * 8 < MIN_RSA_BITS {
                return Err(bad);
            }
            key
        }
        Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(bytes).map_err(|_| bad)?,
        Algorithm::EdDSA => DecodingKey::from_ed_pem(bytes).map_err(|_| bad)?,
        _ => return Err(bad),
    };
    // For EC and Ed keys the crate parses the point when it builds a verifier: an
    // error here (rather than `Ok(false)`) means the key is not a point of this curve.
    if !rsa && jsonwebtoken::crypto::verify("", b"", &key, algorithm).is_err() {
        return Err(bad);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn hs(alg: Algorithm, claims: serde_json::Value, secret: &str) -> String {
        encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn method(alg: &str, secret: Option<&str>, public_key: Option<&str>) -> AccessMethod {
        AccessMethod::Jwt {
            signing_method: alg.into(),
            secret: secret.map(Into::into),
            public_key: public_key.map(Into::into),
        }
    }

    #[test]
    fn hmac_tokens_verify_with_the_pinned_algorithm_only() {
        let key = JwtKey::for_method(&method("HS256", Some(SECRET), None))
            .unwrap()
            .unwrap();
        let now = 1_900_000_000;
        let good = hs(
            Algorithm::HS256,
            json!({ "sub": "c1", "exp": now + 60 }),
            SECRET,
        );
        let mut buf = Vec::new();
        let peeked = peek(&good, &mut buf).unwrap();
        assert_eq!((peeked.alg, peeked.sub.as_ref()), (Algorithm::HS256, "c1"));
        assert_eq!(key.verify(&good, now).unwrap().sub, "c1");
        // Same secret, another HMAC algorithm: refused.
        let hs512 = hs(
            Algorithm::HS512,
            json!({ "sub": "c1", "exp": now + 60 }),
            SECRET,
        );
        assert_eq!(key.verify(&hs512, now).unwrap_err(), Refusal::Signature);
        // Wrong secret, tampered signature.
        let other = hs(
            Algorithm::HS256,
            json!({ "sub": "c1", "exp": now + 60 }),
            "another secret of enough length!!",
        );
        assert_eq!(key.verify(&other, now).unwrap_err(), Refusal::Signature);
        let mut tampered = good.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(key.verify(&tampered, now).is_err());
        // exp required; aud refused; time window with leeway.
        let no_exp = hs(Algorithm::HS256, json!({ "sub": "c1" }), SECRET);
        assert_eq!(key.verify(&no_exp, now).unwrap_err(), Refusal::Claims);
        let aud = hs(
            Algorithm::HS256,
            json!({ "sub": "c1", "exp": now + 60, "aud": "elsewhere" }),
            SECRET,
        );
        assert_eq!(key.verify(&aud, now).unwrap_err(), Refusal::Claims);
        assert!(key.verify(&good, now + 60 + LEEWAY - 1).is_ok());
        assert_eq!(
            key.verify(&good, now + 60 + LEEWAY).unwrap_err(),
            Refusal::Time
        );
        let nbf = hs(
            Algorithm::HS256,
            json!({ "sub": "c1", "exp": now + 600, "nbf": now + 100 }),
            SECRET,
        );
        assert_eq!(key.verify(&nbf, now).unwrap_err(), Refusal::Time);
        assert!(key.verify(&nbf, now + 100 - LEEWAY).is_ok());
    }

    #[test]
    fn malformed_tokens_are_not_peeked() {
        let mut buf = Vec::new();
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"sub":"c1","exp":2000000000}"#)
        );
        assert!(peek(&none, &mut buf).is_none());
        let crit = format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","crit":["exp"]}"#),
            URL_SAFE_NO_PAD.encode(r#"{"sub":"c1","exp":2000000000}"#)
        );
        assert!(peek(&crit, &mut buf).is_none());
        let numeric_sub = format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"sub":1,"exp":2000000000}"#)
        );
        assert!(peek(&numeric_sub, &mut buf).is_none());
        let twice = format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"sub":"a","sub":"b","exp":2000000000}"#)
        );
        assert!(peek(&twice, &mut buf).is_none());
        assert!(peek("a.b", &mut buf).is_none());
        assert!(peek("a.b.c", &mut buf).is_none());
        assert!(peek("a.b.c.d", &mut buf).is_none());
        let long = format!("{}.{}.sig", "a".repeat(MAX_TOKEN), "b");
        assert!(!looks_like_jwt(&long));
    }

    #[test]
    fn methods_are_checked() {
        let err = |m: AccessMethod| JwtKey::for_method(&m).unwrap().unwrap_err().field;
        assert!(JwtKey::for_method(&AccessMethod::Token).is_none());
        assert_eq!(
            err(method("HS999", Some(SECRET), None)),
            "access_method.signing_method"
        );
        assert_eq!(
            err(method("none", Some(SECRET), None)),
            "access_method.signing_method"
        );
        assert_eq!(
            err(method("HS256", Some("short"), None)),
            "access_method.secret"
        );
        assert_eq!(err(method("HS256", None, None)), "access_method.secret");
        for alg in ["RS256", "ES256", "ES384", "EdDSA"] {
            assert_eq!(err(method(alg, None, None)), "access_method.public_key");
            assert_eq!(
                err(method(
                    alg,
                    None,
                    Some("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")
                )),
                "access_method.public_key"
            );
        }
        // An Ed25519 public key (RFC 8410 example) is not an ES256 or RSA key.
        let ed = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----";
        assert!(
            JwtKey::for_method(&method("EdDSA", None, Some(ed)))
                .unwrap()
                .is_ok()
        );
        assert_eq!(
            err(method("ES256", None, Some(ed))),
            "access_method.public_key"
        );
        assert_eq!(
            err(method("RS256", None, Some(ed))),
            "access_method.public_key"
        );
        let private = ed.replace("PUBLIC KEY", "PRIVATE KEY");
        assert_eq!(
            err(method("EdDSA", None, Some(&private))),
            "access_method.public_key"
        );
    }
}
