use crate::error;

#[test]
fn errors_name_position_and_reason() {
    insta::assert_snapshot!(error("Bearer ${secret.billing_api"), @"template error at line 1, column 8: unterminated expression: `${` has no closing `}`");
    insta::assert_snapshot!(error("x ${secret.nope}"), @"template error at line 1, column 5: unknown secret `nope`");
    insta::assert_snapshot!(error("${env.missing}"), @"template error at line 1, column 3: the active environment has no variable `missing`");
    insta::assert_snapshot!(error("${base46(secret.billing_api)}"), @"template error at line 1, column 3: unknown function `base46` (did you mean `base64`?)");
    insta::assert_snapshot!(error("${frobnicate()}"), @"template error at line 1, column 3: unknown function `frobnicate`; available: base64, base64url, basic, urlencode, jwt, uuid, now, sha256, hmac_sha256");
    insta::assert_snapshot!(error("${basic('a')}"), @"template error at line 1, column 3: `basic` takes 2 arguments, but 1 given");
    insta::assert_snapshot!(error("${uuid(1)}"), @"template error at line 1, column 3: `uuid` takes no arguments, but 1 given");
    insta::assert_snapshot!(error("${billing_api}"), @"template error at line 1, column 3: `billing_api` is not an expression: write `secret.billing_api`, `env.billing_api`, a call such as `billing_api(...)`, or a quoted string");
    insta::assert_snapshot!(error("${vault.x}"), @"template error at line 1, column 3: unknown reference `vault.…`: use `secret.NAME` or `env.NAME`");
    insta::assert_snapshot!(error("line one\n  ${'open}"), @"template error at line 2, column 5: unterminated string: the quote is never closed");
    insta::assert_snapshot!(error("${secret.}"), @"template error at line 1, column 10: expected a name after `secret.`");
    insta::assert_snapshot!(error("${base64(secret.a secret.b)}"), @"template error at line 1, column 19: expected `,` or `)` after an argument");
    insta::assert_snapshot!(error("${}"), @"template error at line 1, column 3: expected `secret.NAME`, `env.NAME`, a function call, a quoted string or a number");
    insta::assert_snapshot!(error("${basic('a:b', secret.billing_api)}"), @"template error at line 1, column 3: `basic`: the user name may not contain `:` (RFC 7617)");
}

#[test]
fn disabled_and_unavailable_secrets() {
    struct R;
    impl keywarden_template::Resolver for R {
        fn secret(
            &mut self,
            name: &str,
        ) -> Result<keywarden_core::SecretValue, keywarden_template::ResolveError> {
            Err(if name == "off" {
                keywarden_template::ResolveError::DisabledSecret
            } else {
                keywarden_template::ResolveError::Unavailable("the keychain is locked".into())
            })
        }
        fn env(&mut self, _: &str) -> Result<String, keywarden_template::ResolveError> {
            Err(keywarden_template::ResolveError::UnknownVariable)
        }
    }
    let t = keywarden_template::Template::parse("a ${secret.off}").unwrap();
    insta::assert_snapshot!(t.render(&mut R).unwrap_err(), @"template error at line 1, column 5: the secret `off` is disabled");
    let t = keywarden_template::Template::parse("${secret.k}").unwrap();
    insta::assert_snapshot!(t.render(&mut R).unwrap_err(), @"template error at line 1, column 3: cannot read the secret `k`: the keychain is locked");
}

#[test]
fn caps() {
    let deep = format!("${{{}'x'{}}}", "base64(".repeat(17), ")".repeat(17));
    assert!(
        error(&deep).contains("nested more than 16 deep"),
        "{}",
        error(&deep)
    );
    let ok = format!("${{{}'x'{}}}", "base64(".repeat(16), ")".repeat(16));
    assert!(keywarden_template::Template::parse(&ok).is_ok());
    let big = "x".repeat(keywarden_template::MAX_TEMPLATE_BYTES + 1);
    assert!(error(&big).contains("larger than"));
}
