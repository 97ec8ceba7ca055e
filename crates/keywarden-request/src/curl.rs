use crate::prepare::PreparedRequest;

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The request as a curl command. Redacted by default: every part that depends on a
/// secret shows as `[expression]`. With `reveal`, the real values are written, and the
/// command itself becomes a secret.
pub fn to_curl(req: &PreparedRequest, reveal: bool) -> String {
    let mut out = String::from("curl");
    if req.method != "GET" || req.body.is_some() {
        out.push_str(" -X ");
        out.push_str(&req.method);
    }
    out.push(' ');
    out.push_str(&shell_quote(if reveal {
        req.expose_url()
    } else {
        &req.url_preview
    }));
    for h in &req.headers {
        out.push_str(" \\\n  -H ");
        let value = if reveal { h.expose() } else { &h.preview };
        out.push_str(&shell_quote(&format!("{}: {}", h.name, value)));
    }
    if let Some(b) = &req.body {
        if let Some(ct) = &b.content_type
            && !req
                .headers
                .iter()
                .any(|h| h.name.eq_ignore_ascii_case("content-type"))
        {
            out.push_str(" \\\n  -H ");
            out.push_str(&shell_quote(&format!("Content-Type: {ct}")));
        }
        out.push_str(" \\\n  --data-binary ");
        let text = if reveal {
            String::from_utf8_lossy(b.expose()).into_owned()
        } else {
            b.preview.clone()
        };
        out.push_str(&shell_quote(&text));
    }
    out
}
