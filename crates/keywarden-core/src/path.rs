//! Request paths as the upstream will serve them, and key path rules: one implementation
//! for the key server's decision and the desktop's pre-flight check.

/// The path of a request target as the upstream serves it, or `None` when that is ambiguous.
///
/// nginx forwards the request URI as the client sent it and the upstream resolves it, so
/// the path is judged after the normalization they apply: the query is dropped,
/// percent-escapes are decoded, runs of `/` are merged, then `.` and `..` segments are
/// removed as in RFC 3986 §5.2.4 (in that order, as nginx computes `$uri`:
/// `/api/v1//../admin` is `/api/admin`). Refused, because upstreams disagree about them:
/// an encoded `.`, `/`, `\` or `%` (`%2e`, `%2f`, `%5c`, `%25`); a backslash or `#`; a raw
/// space; control or non-ASCII bytes, raw or encoded; an invalid escape; a `..` above the
/// root (nginx answers 400); and a segment that is empty, `.` or `..` before a `;`
/// (`..;/`: servers that strip path parameters read it as `..`).
pub fn normalize_path(target: &str) -> Option<String> {
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    if !path.starts_with('/') {
        return None;
    }
    let decoded = decode_path(path)?;
    let parts: Vec<&str> = decoded.split('/').filter(|s| !s.is_empty()).collect();
    let mut out: Vec<&str> = Vec::with_capacity(parts.len());
    for segment in &parts {
        if let Some((name, _params)) = segment.split_once(';')
            && matches!(name, "" | "." | "..")
        {
            return None;
        }
        match *segment {
            "." => {}
            ".." => {
                out.pop()?;
            }
            s => out.push(s),
        }
    }
    // A `.` or `..` at the end leaves a directory, as a final `/` does: `/a/b/..` is `/a/`.
    let ends_in_directory =
        decoded.ends_with('/') || parts.last().is_some_and(|s| matches!(*s, "." | ".."));
    let mut normalized = String::with_capacity(decoded.len());
    for segment in &out {
        normalized.push('/');
        normalized.push_str(segment);
    }
    if normalized.is_empty() || ends_in_directory {
        normalized.push('/');
    }
    Some(normalized)
}

/// Decodes the percent-escapes of a path; `None` for anything [`normalize_path`] refuses
/// at the byte level.
fn decode_path(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).and_then(|c| (*c as char).to_digit(16));
            let value = u8::try_from(hex(i + 1)? * 16 + hex(i + 2)?).ok()?;
            // Decoded, a space or `#` is just a character of a segment; an encoded dot,
            // slash, backslash or percent changes the path's shape for some readers only.
            let plain = value == b' ' || value.is_ascii_graphic();
            if !plain || matches!(value, b'.' | b'/' | b'\\' | b'%') {
                return None;
            }
            out.push(value);
            i += 3;
        } else {
            if !b.is_ascii_graphic() || matches!(b, b'\\' | b'#') {
                return None;
            }
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Whether a normalized path matches a key's path rule. `=/exact` is exactly that path;
/// a rule ending in `/` covers every path that starts with it; any other rule covers
/// itself and what lies below it, at a segment boundary (`/api/v1` covers `/api/v1` and
/// `/api/v1/x`, never `/api/v1-internal`).
pub fn path_matches(rule: &str, path: &str) -> bool {
    match rule.strip_prefix('=') {
        Some(exact) => path == exact,
        None if rule.ends_with('/') => path.starts_with(rule),
        None => path
            .strip_prefix(rule)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
    }
}
