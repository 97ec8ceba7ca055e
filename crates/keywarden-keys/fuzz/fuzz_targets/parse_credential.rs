#![no_main]

use keywarden_keys::{KeyRef, credential};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Every way a key can be presented; none may panic, and whatever comes out
    // goes through the key parser, which may not panic either.
    for found in [
        credential::from_authorization(text, "kw"),
        credential::from_header_value(text),
        credential::from_query(text, "auth-key"),
    ]
    .into_iter()
    .flatten()
    {
        let _ = KeyRef::parse(&found);
    }
});
