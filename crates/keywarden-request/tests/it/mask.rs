//! The masker: every encoding of every value is replaced, and a stream split anywhere is
//! masked exactly like the whole of it (property tests).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use keywarden_request::mask::MIN_SECRET_LEN;
use keywarden_request::{Masker, StreamMasker};
use proptest::prelude::*;

/// The encodings the masker promises, computed here independently of it.
fn encodings(v: &str) -> Vec<Vec<u8>> {
    let b = v.as_bytes();
    let hex_lower: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let pct = |upper: bool| -> String {
        b.iter()
            .map(|&x| match x {
                x if x.is_ascii_alphanumeric() || b"-._~".contains(&x) => (x as char).to_string(),
                x if upper => format!("%{x:02X}"),
                x => format!("%{x:02x}"),
            })
            .collect()
    };
    vec![
        b.to_vec(),
        STANDARD.encode(b).into_bytes(),
        STANDARD_NO_PAD.encode(b).into_bytes(),
        URL_SAFE.encode(b).into_bytes(),
        URL_SAFE_NO_PAD.encode(b).into_bytes(),
        pct(true).into_bytes(),
        pct(false).into_bytes(),
        url::form_urlencoded::byte_serialize(b)
            .collect::<String>()
            .into_bytes(),
        hex_lower.clone().into_bytes(),
        hex_lower.to_uppercase().into_bytes(),
    ]
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn build(secrets: &[String]) -> Masker {
    let mut b = Masker::builder();
    for (i, s) in secrets.iter().enumerate() {
        b.secret(&format!("s{i}"), s.as_bytes());
    }
    b.build()
}

fn streamed(stream: &mut StreamMasker, input: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut at = 0;
    for c in cuts {
        stream.push(&input[at..c], &mut out);
        at = c;
    }
    stream.push(&input[at..], &mut out);
    stream.finish(&mut out);
    out
}

/// A piece of output: noise, a line end, a value in some encoding, or a value's beginning.
#[derive(Debug, Clone)]
enum Piece {
    Noise(Vec<u8>),
    Newline,
    Value {
        secret: usize,
        encoding: usize,
    },
    Start {
        secret: usize,
        encoding: usize,
        len: usize,
    },
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        3 => proptest::collection::vec(any::<u8>(), 0..12).prop_map(Piece::Noise),
        3 => "[a-zA-Z0-9 :=]{0,12}".prop_map(|s| Piece::Noise(s.into_bytes())),
        1 => Just(Piece::Newline),
        3 => (0..4usize, 0..10usize).prop_map(|(secret, encoding)| Piece::Value { secret, encoding }),
        2 => (0..4usize, 0..10usize, 1..40usize)
            .prop_map(|(secret, encoding, len)| Piece::Start { secret, encoding, len }),
    ]
}

fn assemble(secrets: &[String], pieces: &[Piece]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in pieces {
        match p {
            Piece::Noise(b) => out.extend_from_slice(b),
            Piece::Newline => out.push(b'\n'),
            Piece::Value { secret, encoding } => {
                let e = &encodings(&secrets[secret % secrets.len()])[*encoding];
                out.extend_from_slice(e);
            }
            Piece::Start {
                secret,
                encoding,
                len,
            } => {
                let e = &encodings(&secrets[secret % secrets.len()])[*encoding];
                out.extend_from_slice(&e[..(*len).min(e.len())]);
            }
        }
    }
    out
}

/// Secret values: printable, with the characters that change under each encoding, no `[`.
fn secrets() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec("[A-Za-z0-9_+/=%.~ !-]{4,24}", 1..4)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_split_masks_like_the_whole(
        secrets in secrets(),
        pieces in proptest::collection::vec(piece(), 0..40),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let masker = build(&secrets);
        let input = assemble(&secrets, &pieces);
        let (whole, report) = masker.mask(&input);
        let mut stream = masker.stream();
        let out = streamed(&mut stream, &input, &cuts);
        prop_assert_eq!(&out, &whole);
        prop_assert_eq!(stream.report(), &report);
    }

    #[test]
    fn byte_by_byte_masks_like_the_whole(
        secrets in secrets(),
        pieces in proptest::collection::vec(piece(), 0..20),
    ) {
        let masker = build(&secrets);
        let input = assemble(&secrets, &pieces);
        let (whole, _) = masker.mask(&input);
        let cuts: Vec<usize> = (0..input.len()).collect();
        prop_assert_eq!(streamed(&mut masker.stream(), &input, &cuts), whole);
    }

    #[test]
    fn no_value_survives_in_any_encoding(
        secrets in secrets(),
        pieces in proptest::collection::vec(piece(), 0..40),
    ) {
        let masker = build(&secrets);
        let (out, _) = masker.mask(&assemble(&secrets, &pieces));
        // Look between the placeholders (a short value may be a substring of one).
        let mut text = String::from_utf8_lossy(&out).into_owned();
        for i in 0..secrets.len() {
            text = text.replace(&format!("[secret.s{i}]"), "\u{0}");
        }
        for s in &secrets {
            for e in encodings(s) {
                prop_assert!(
                    !contains(text.as_bytes(), &e),
                    "{:?} survives in {:?}",
                    String::from_utf8_lossy(&e),
                    text
                );
            }
        }
    }

    #[test]
    fn a_stream_never_holds_more_than_the_longest_pattern_minus_one(
        secrets in secrets(),
        pieces in proptest::collection::vec(piece(), 0..40),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let masker = build(&secrets);
        let input = assemble(&secrets, &pieces);
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.push(input.len());
        let mut stream = masker.stream();
        let mut out = Vec::new();
        let mut at = 0;
        for c in cuts {
            stream.push(&input[at..c], &mut out);
            at = c;
            prop_assert!(stream.held() < masker.longest_pattern().max(1));
            // A complete line is never held.
            let released_to = at - stream.held();
            if let Some(nl) = input[..at].iter().rposition(|b| *b == b'\n') {
                prop_assert!(released_to > nl);
            }
        }
    }
}

#[test]
fn the_value_inside_any_base64_text_is_masked() {
    let m = build(&["s3cr3t-value".into()]);
    for prefix in 0..6 {
        for suffix in 0..4 {
            let text = format!("{}s3cr3t-value{}", "u".repeat(prefix), "x".repeat(suffix));
            for encoded in [STANDARD.encode(&text), URL_SAFE_NO_PAD.encode(&text)] {
                let (out, report) = m.mask(encoded.as_bytes());
                assert_eq!(report.occurrences, 1, "{text:?} as {encoded}");
                let out = String::from_utf8(out).unwrap();
                assert!(out.contains("[secret.s0]"), "{out}");
            }
        }
    }
}

#[test]
fn values_shorter_than_the_minimum_are_left_alone() {
    let short = "x".repeat(MIN_SECRET_LEN - 1);
    let m = build(std::slice::from_ref(&short));
    assert!(m.is_empty());
    assert_eq!(m.unmasked(), ["s0"]);
    assert_eq!(m.mask(short.as_bytes()).0, short.as_bytes());
}

#[test]
fn binary_output_passes_through_unchanged_except_the_values() {
    let m = build(&["tok-123456".into()]);
    let mut input: Vec<u8> = (0..=255u8).collect();
    input.extend_from_slice(b"tok-123456");
    input.extend(0..=255u8);
    let (out, report) = m.mask(&input);
    assert_eq!(report.occurrences, 1);
    let mut expected: Vec<u8> = (0..=255u8).collect();
    expected.extend_from_slice(b"[secret.s0]");
    expected.extend(0..=255u8);
    assert_eq!(out, expected);
}
