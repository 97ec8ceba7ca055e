use base64::Engine as _;
use zeroize::Zeroizing;

use crate::error::ErrorKind;

/// The functions a template can call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Base64,
    Base64Url,
    Basic,
    UrlEncode,
    Jwt,
    Uuid,
    Now,
    Sha256,
    HmacSha256,
}

impl Func {
    pub const ALL: [Func; 9] = [
        Func::Base64,
        Func::Base64Url,
        Func::Basic,
        Func::UrlEncode,
        Func::Jwt,
        Func::Uuid,
        Func::Now,
        Func::Sha256,
        Func::HmacSha256,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Func::Base64 => "base64",
            Func::Base64Url => "base64url",
            Func::Basic => "basic",
            Func::UrlEncode => "urlencode",
            Func::Jwt => "jwt",
            Func::Uuid => "uuid",
            Func::Now => "now",
            Func::Sha256 => "sha256",
            Func::HmacSha256 => "hmac_sha256",
        }
    }

    /// One line of documentation, for completion lists and help.
    pub fn signature(self) -> &'static str {
        match self {
            Func::Base64 => "base64(text) — standard Base64 with padding",
            Func::Base64Url => "base64url(text) — URL-safe Base64 without padding",
            Func::Basic => {
                "basic(user, password) — an HTTP Basic credential: `Basic base64(user:password)`"
            }
            Func::UrlEncode => {
                "urlencode(text) — percent-encodes everything but A-Z a-z 0-9 - . _ ~"
            }
            Func::Jwt => {
                "jwt(algorithm, key, claims_json[, lifetime_seconds]) — a signed JWT (HS256/384/512 with a secret, RS256/ES256 with a PEM private key); iat and exp are added when a lifetime is given"
            }
            Func::Uuid => "uuid() — a random UUID v4",
            Func::Now => "now() — the current Unix time in seconds",
            Func::Sha256 => "sha256(text) — lowercase hex SHA-256 digest",
            Func::HmacSha256 => "hmac_sha256(key, message) — lowercase hex HMAC-SHA-256",
        }
    }

    pub fn lookup(name: &str) -> Option<Func> {
        Func::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The closest known name, for "did you mean".
    pub fn suggest(name: &str) -> Option<&'static str> {
        let lower = name.to_ascii_lowercase();
        Func::ALL
            .into_iter()
            .map(|f| (distance(&lower, f.name()), f.name()))
            .filter(|(d, _)| *d <= 2)
            .min()
            .map(|(_, n)| n)
    }

    /// (min, max) number of arguments.
    pub fn arity(self) -> (usize, usize) {
        match self {
            Func::Uuid | Func::Now => (0, 0),
            Func::Base64 | Func::Base64Url | Func::UrlEncode | Func::Sha256 => (1, 1),
            Func::Basic | Func::HmacSha256 => (2, 2),
            Func::Jwt => (3, 4),
        }
    }

    pub fn arity_text(self) -> String {
        match self.arity() {
            (0, 0) => "no arguments".into(),
            (1, 1) => "1 argument".into(),
            (a, b) if a == b => format!("{a} arguments"),
            (a, b) => format!("{a} to {b} arguments"),
        }
    }

    /// Applies the function. Arguments and results may be secret: they are zeroized on drop.
    pub(crate) fn apply(self, args: &[Zeroizing<String>]) -> Result<Zeroizing<String>, ErrorKind> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let bad = |reason: &str| ErrorKind::BadArgument {
            function: self.name(),
            reason: reason.to_owned(),
        };
        Ok(Zeroizing::new(match self {
            Func::Base64 => b64.encode(args[0].as_bytes()),
            Func::Base64Url => {
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(args[0].as_bytes())
            }
            Func::Basic => {
                let (user, password) = (&args[0], &args[1]);
                if user.contains(':') {
                    return Err(bad("the user name may not contain `:` (RFC 7617)"));
                }
                if user.chars().chain(password.chars()).any(char::is_control) {
                    return Err(bad(
                        "the user name and password may not contain control characters",
                    ));
                }
                let pair = Zeroizing::new(format!("{}:{}", user.as_str(), password.as_str()));
                format!("Basic {}", b64.encode(pair.as_bytes()))
            }
            Func::UrlEncode => {
                const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
                    .remove(b'-')
                    .remove(b'.')
                    .remove(b'_')
                    .remove(b'~');
                percent_encoding::utf8_percent_encode(&args[0], SET).to_string()
            }
            Func::Uuid => uuid::Uuid::new_v4().to_string(),
            Func::Now => keywarden_core::now().to_string(),
            Func::Sha256 => {
                use sha2::Digest;
                hex::encode(sha2::Sha256::digest(args[0].as_bytes()))
            }
            Func::HmacSha256 => {
                use hmac::Mac;
                let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(args[0].as_bytes())
                    .map_err(|_| bad("invalid key"))?;
                mac.update(args[1].as_bytes());
                hex::encode(mac.finalize().into_bytes())
            }
            Func::Jwt => return jwt(args).map_err(|reason| bad(&reason)),
        }))
    }
}

fn jwt(args: &[Zeroizing<String>]) -> Result<Zeroizing<String>, String> {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let alg = match args[0].to_ascii_uppercase().as_str() {
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        "RS256" => Algorithm::RS256,
        "ES256" => Algorithm::ES256,
        other => {
            return Err(format!(
                "unsupported algorithm {other:?}; use HS256, HS384, HS512, RS256 or ES256"
            ));
        }
    };
    let key = match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            if args[1].is_empty() {
                return Err("the HMAC secret is empty".into());
            }
            EncodingKey::from_secret(args[1].as_bytes())
        }
        Algorithm::RS256 => EncodingKey::from_rsa_pem(args[1].as_bytes())
            .map_err(|_| "the key is not an RSA private key in PEM format".to_owned())?,
        _ => EncodingKey::from_ec_pem(args[1].as_bytes()).map_err(|_| {
            "the key is not an EC P-256 private key in PEM (PKCS#8) format".to_owned()
        })?,
    };
    let mut claims: serde_json::Value = serde_json::from_str(&args[2])
        .map_err(|e| format!("the claims are not valid JSON: {e}"))?;
    let obj = claims
        .as_object_mut()
        .ok_or("the claims must be a JSON object")?;
    if let Some(lifetime) = args.get(3) {
        let secs: i64 = lifetime
            .trim()
            .parse()
            .ok()
            .filter(|s| (1..=366 * 86_400).contains(s))
            .ok_or("the lifetime must be a number of seconds between 1 and 31,622,400")?;
        let now = keywarden_core::now();
        obj.entry("iat").or_insert(now.into());
        obj.insert("exp".into(), (now + secs).into());
    }
    jsonwebtoken::encode(&Header::new(alg), &claims, &key)
        .map(Zeroizing::new)
        .map_err(|e| format!("signing failed: {e}"))
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
