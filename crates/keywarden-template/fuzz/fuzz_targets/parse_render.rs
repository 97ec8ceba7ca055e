//! Arbitrary bytes as a template: parsing, rendering and previewing never panic,
//! and every error position lies inside the input.
//!
//! Run: `cd crates/keywarden-template && cargo fuzz run parse_render -- -max_total_time=60`
#![no_main]

use keywarden_template::{MapResolver, Template};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    match Template::parse(src) {
        Ok(t) => {
            let mut r = MapResolver::default().secret("k", "v-secret").var("e", "x");
            let _ = t.render(&mut r);
            let _ = t.preview(&mut r);
        }
        Err(e) => assert!(e.position.offset <= src.len()),
    }
});
