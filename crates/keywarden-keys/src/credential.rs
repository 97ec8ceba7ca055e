//! Reading a key out of the ways clients present it:
//!
//! * `Authorization: Bearer <key>`
//! * `Authorization: Key=<key>` (also `Key <key>`)
//! * `Authorization: Basic base64(<fixed user>:<key>)`
//! * a custom header whose whole value is the key
//! * the `auth-key` query parameter (callers decide whether the key's policy allows it)
//!
//! The parser only extracts; [`crate::KeyRef::parse`] checks the result.
//! Values are bounded, and nothing here panics on any input.

use std::ops::Deref;

use base64::Engine;
use zeroize::Zeroizing;

/// Longest header value or query string looked at.
pub const MAX_CREDENTIAL_LEN: usize = 4096;

/// A credential taken from a request: borrowed where possible, owned (and wiped on drop) when decoded.
pub enum Credential<'a> {
    Borrowed(&'a str),
    Owned(Zeroizing<String>),
}

impl Deref for Credential<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Credential::Borrowed(s) => s,
            Credential::Owned(s) => s.as_str(),
        }
    }
}

impl std::fmt::Debug for Credential<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credential(***)")
    }
}

fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let head = value.get(..scheme.len())?;
    if !head.eq_ignore_ascii_case(scheme) {
        return None;
    }
    let rest = &value[scheme.len()..];
    let trimmed = rest.trim_start_matches([' ', '\t']);
    (trimmed.len() < rest.len()).then_some(trimmed)
}

/// Extracts the key from an `Authorization` header value. For Basic, the user
/// name must equal `basic_user`.
pub fn from_authorization<'a>(value: &'a str, basic_user: &str) -> Option<Credential<'a>> {
    if value.len() > MAX_CREDENTIAL_LEN {
        return None;
    }
    let value = value.trim_matches([' ', '\t']);
    if let Some(token) = strip_scheme(value, "Bearer") {
        return non_empty(token).map(Credential::Borrowed);
    }
    if let Some(rest) = value.get(..4).filter(|h| h.eq_ignore_ascii_case("Key="))
        && !rest.is_empty()
    {
        return non_empty(value[4..].trim_start_matches([' ', '\t'])).map(Credential::Borrowed);
    }
    if let Some(token) = strip_scheme(value, "Key") {
        return non_empty(token).map(Credential::Borrowed);
    }
    if let Some(encoded) = strip_scheme(value, "Basic") {
        let decoded = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()?,
        );
        let text = std::str::from_utf8(&decoded).ok()?;
        let (user, password) = text.split_once(':')?;
        if user != basic_user || password.is_empty() {
            return None;
        }
        return Some(Credential::Owned(Zeroizing::new(password.to_owned())));
    }
    None
}

/// A custom header whose whole value is the key.
pub fn from_header_value(value: &str) -> Option<Credential<'_>> {
    if value.len() > MAX_CREDENTIAL_LEN {
        return None;
    }
    non_empty(value.trim_matches([' ', '\t'])).map(Credential::Borrowed)
}

/// The value of query parameter `name` in a query string (without `?`), percent-decoded.
pub fn from_query<'a>(query: &'a str, name: &str) -> Option<Credential<'a>> {
    if query.len() > MAX_CREDENTIAL_LEN {
        return None;
    }
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k != name {
            continue;
        }
        if !v.contains(['%', '+']) {
            return non_empty(v).map(Credential::Borrowed);
        }
        let decoded = percent_decode(v)?;
        return if decoded.is_empty() {
            None
        } else {
            Some(Credential::Owned(decoded))
        };
    }
    None
}

fn non_empty(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

fn percent_decode(text: &str) -> Option<Zeroizing<String>> {
    let bytes = text.as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len()));
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    let text = std::str::from_utf8(&out).ok()?;
    Some(Zeroizing::new(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn reads_every_style() {
        assert_eq!(&*from_authorization("Bearer abc", "kw").unwrap(), "abc");
        assert_eq!(&*from_authorization("bearer   abc", "kw").unwrap(), "abc");
        assert_eq!(&*from_authorization("Key=abc", "kw").unwrap(), "abc");
        assert_eq!(&*from_authorization("Key abc", "kw").unwrap(), "abc");
        let basic = base64::engine::general_purpose::STANDARD.encode("haplo:abc");
        assert_eq!(
            &*from_authorization(&format!("Basic {basic}"), "haplo").unwrap(),
            "abc"
        );
        assert!(from_authorization(&format!("Basic {basic}"), "other").is_none());
        assert_eq!(&*from_header_value(" abc ").unwrap(), "abc");
        assert_eq!(
            &*from_query("a=1&auth-key=abc&b=2", "auth-key").unwrap(),
            "abc"
        );
        assert_eq!(&*from_query("auth-key=a%5Fb", "auth-key").unwrap(), "a_b");
    }

    #[test]
    fn refuses_garbage() {
        for value in [
            "",
            "Bearer",
            "Bearer ",
            "Bearerabc",
            "Key=",
            "Basic !!!",
            "Basic YQ==",
            "Digest x",
            "Keyabc",
        ] {
            assert!(from_authorization(value, "kw").is_none(), "{value:?}");
        }
        assert!(from_query("auth-key=%zz", "auth-key").is_none());
        assert!(from_query("auth-key=%4", "auth-key").is_none());
        assert!(from_query("other=1", "auth-key").is_none());
        assert!(from_authorization(&"a".repeat(MAX_CREDENTIAL_LEN + 1), "kw").is_none());
        assert_eq!(
            format!("{:?}", from_header_value("secret").unwrap()),
            "Credential(***)"
        );
    }
}
