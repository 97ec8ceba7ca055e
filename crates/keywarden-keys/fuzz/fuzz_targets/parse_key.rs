#![no_main]

use keywarden_keys::{ApiKey, KeyRef};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The borrowed parser and the owning parser must agree, and never panic.
    let borrowed = KeyRef::parse(text);
    let owned = ApiKey::parse(text);
    assert_eq!(borrowed.is_ok(), owned.is_ok());
    if let (Ok(b), Ok(o)) = (borrowed, owned) {
        assert_eq!(b.digest(), o.digest());
        assert_eq!(b.display_prefix(), o.display_prefix());
        // A valid key survives a round trip through its text.
        let again = KeyRef::parse(o.expose()).expect("a parsed key parses again");
        assert_eq!(again.digest(), o.digest());
    }
});
