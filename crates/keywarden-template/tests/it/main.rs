//! Template parsing and rendering (one test binary for the crate).

mod errors;
mod functions;
mod properties;
mod render;

use keywarden_template::{MapResolver, Template};

pub fn resolver() -> MapResolver {
    MapResolver::default()
        .secret("billing_api", "sk_live_abc123")
        .secret("haplo_key", "0123456789ABCDEF")
        .secret("signing", "hmac-secret")
        .var("tenant", "acme")
        .var("profile", "Test")
}

pub fn render(src: &str) -> String {
    Template::parse(src)
        .unwrap()
        .render(&mut resolver())
        .unwrap()
        .expose()
        .to_owned()
}

pub fn error(src: &str) -> String {
    match Template::parse(src) {
        Err(e) => e.to_string(),
        Ok(t) => t
            .render(&mut resolver())
            .map(|r| r.expose().to_owned())
            .unwrap_err()
            .to_string(),
    }
}
