//! Property tests for the key format: round trips, and every single-character
//! change of a valid key is rejected by the parser.

use keywarden_keys::{ApiKey, KeyDigest, KeyRef};
use proptest::prelude::*;

fn label() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,16}"
}

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-.~ !";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_keys_parse_back(prefix in label(), env in label()) {
        let key = ApiKey::generate(&prefix, &env).unwrap();
        let parsed = KeyRef::parse(key.expose()).unwrap();
        prop_assert_eq!(parsed.prefix(), prefix.as_str());
        prop_assert_eq!(parsed.environment(), env.as_str());
        prop_assert_eq!(parsed.digest(), key.digest());
        prop_assert_eq!(parsed.display_prefix(), key.display_prefix());
        let owned = ApiKey::parse(key.expose()).unwrap();
        prop_assert_eq!(owned.expose(), key.expose());
        prop_assert_eq!(KeyDigest::from_hex(&key.digest().to_hex()), Some(key.digest()));
    }

    #[test]
    fn any_single_character_substitution_is_rejected(
        prefix in label(), env in label(), pos in any::<prop::sample::Index>(), pick in any::<prop::sample::Index>()
    ) {
        let key = ApiKey::generate(&prefix, &env).unwrap();
        let mut bytes = key.expose().as_bytes().to_vec();
        let at = pos.index(bytes.len());
        let mut replacement = ALPHABET[pick.index(ALPHABET.len())];
        if replacement == bytes[at] {
            replacement = if bytes[at] == b'0' { b'1' } else { b'0' };
        }
        bytes[at] = replacement;
        let changed = String::from_utf8(bytes).unwrap();
        prop_assert!(KeyRef::parse(&changed).is_err(), "accepted a changed key at {}", at);
    }

    #[test]
    fn any_single_character_deletion_or_insertion_is_rejected(
        pos in any::<prop::sample::Index>(), pick in any::<prop::sample::Index>()
    ) {
        let key = ApiKey::generate("kw", "live").unwrap();
        let text = key.expose();
        let at = pos.index(text.len());
        let mut deleted = text.to_owned();
        deleted.remove(at);
        prop_assert!(KeyRef::parse(&deleted).is_err());
        let mut inserted = text.to_owned();
        inserted.insert(at, char::from(ALPHABET[pick.index(ALPHABET.len())]));
        prop_assert!(KeyRef::parse(&inserted).is_err());
    }

    #[test]
    fn adjacent_transpositions_are_rejected(pos in any::<prop::sample::Index>()) {
        let key = ApiKey::generate("kw", "live").unwrap();
        let mut bytes = key.expose().as_bytes().to_vec();
        let at = pos.index(bytes.len() - 1);
        prop_assume!(bytes[at] != bytes[at + 1]);
        bytes.swap(at, at + 1);
        let swapped = String::from_utf8(bytes).unwrap();
        prop_assert!(KeyRef::parse(&swapped).is_err());
    }

    #[test]
    fn parser_never_panics_on_any_text(text in ".{0,200}") {
        let _ = KeyRef::parse(&text);
        let _ = ApiKey::parse(&text);
    }

    #[test]
    fn parser_never_panics_on_key_shaped_text(text in "[a-z0-9]{0,18}_[a-z0-9]{0,18}_[A-Za-z0-9]{0,70}_[A-Za-z0-9]{0,8}") {
        if let Ok(key) = KeyRef::parse(&text) {
            prop_assert_eq!(key.expose(), text.as_str());
        }
    }
}
