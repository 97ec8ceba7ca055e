use keywarden_template::Template;

use crate::{render, resolver};

#[test]
fn the_seed_headers_render_exactly() {
    assert_eq!(
        render("Bearer ${secret.billing_api}"),
        "Bearer sk_live_abc123"
    );
    assert_eq!(render("Key=${secret.billing_api}"), "Key=sk_live_abc123");
    assert_eq!(render("${secret.billing_api}"), "sk_live_abc123");
    assert_eq!(render("${ secret.billing_api }"), "sk_live_abc123");
    assert_eq!(
        render("${basic('haplo', secret.haplo_key)}"),
        "Basic aGFwbG86MDEyMzQ1Njc4OUFCQ0RFRg=="
    );
    assert_eq!(
        render("/v1/${env.tenant}?_profile=${env.profile}"),
        "/v1/acme?_profile=Test"
    );
}

#[test]
fn literals_and_escapes() {
    assert_eq!(render("$${secret.billing_api}"), "${secret.billing_api}");
    assert_eq!(render("cost: $5 and $$"), "cost: $5 and $$");
    assert_eq!(render("${'it\\'s'} ${\"a\\n\"}"), "it's a\n");
    assert_eq!(render(""), "");
    assert_eq!(render("${42}"), "42");
}

#[test]
fn previews_show_where_secrets_go_without_showing_them() {
    let t =
        Template::parse("Bearer ${secret.billing_api} for ${env.tenant} ${base64(secret.signing)}")
            .unwrap();
    let r = t.render(&mut resolver()).unwrap();
    insta::assert_snapshot!(r.preview(), @"Bearer [secret.billing_api] for acme [base64(secret.signing)]");
    assert_eq!(format!("{r}"), r.preview());
    let debug = format!("{r:?}");
    assert!(
        !debug.contains("sk_live") && !debug.contains("aG1hYy1zZWNyZXQ"),
        "{debug}"
    );
    assert!(r.contains_secret());
    assert_eq!(r.secrets_used(), ["billing_api", "signing"]);
    // The preview alone resolves no secret at all.
    let mut empty = keywarden_template::MapResolver::default().var("tenant", "acme");
    insta::assert_snapshot!(t.preview(&mut empty), @"Bearer [secret.billing_api] for acme [base64(secret.signing)]");
}

#[test]
fn each_secret_is_resolved_once_per_render() {
    struct Counting(usize);
    impl keywarden_template::Resolver for Counting {
        fn secret(
            &mut self,
            _: &str,
        ) -> Result<keywarden_core::SecretValue, keywarden_template::ResolveError> {
            self.0 += 1;
            Ok(keywarden_core::SecretValue::new("v").unwrap())
        }
        fn env(&mut self, _: &str) -> Result<String, keywarden_template::ResolveError> {
            Ok(String::new())
        }
    }
    let t = Template::parse("${secret.a}${secret.a}${base64(secret.a)}${secret.b}").unwrap();
    let mut c = Counting(0);
    t.render(&mut c).unwrap();
    assert_eq!(c.0, 2);
    assert_eq!(t.secret_names(), ["a", "b"]);
}

#[test]
fn no_secret_means_plain_text() {
    let r = Template::parse("plain ${env.tenant}")
        .unwrap()
        .render(&mut resolver())
        .unwrap();
    assert!(!r.contains_secret());
    assert_eq!(r.preview(), "plain acme");
}
