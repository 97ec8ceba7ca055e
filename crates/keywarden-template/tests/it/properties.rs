use keywarden_template::Template;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Arbitrary input never panics, in parsing or rendering.
    #[test]
    fn arbitrary_input_never_panics(src in ".{0,200}") {
        if let Ok(t) = Template::parse(&src) {
            let _ = t.render(&mut crate::resolver());
            let _ = t.preview(&mut crate::resolver());
        }
    }

    /// Input made of template-ish pieces, to reach deeper into the grammar.
    #[test]
    fn templateish_input_never_panics(pieces in proptest::collection::vec(
        prop_oneof![
            Just("${"), Just("}"), Just("$${"), Just("secret."), Just("env."), Just("billing_api"),
            Just("tenant"), Just("("), Just(")"), Just(","), Just("'"), Just("\""), Just("\\"),
            Just("base64"), Just("basic"), Just("jwt"), Just(" "), Just("\n"), Just("x"), Just("-1"), Just("é"),
        ], 0..40)) {
        let src: String = pieces.concat();
        if let Ok(t) = Template::parse(&src) {
            let _ = t.render(&mut crate::resolver());
        }
    }

    /// Text without `$` renders to itself.
    #[test]
    fn dollar_free_text_is_literal(src in "[^$]{0,100}") {
        let t = Template::parse(&src).unwrap();
        prop_assert!(t.is_literal());
        let r = t.render(&mut crate::resolver()).unwrap();
        prop_assert_eq!(r.expose(), src.as_str());
    }

    /// Error positions always point inside the input.
    #[test]
    fn error_positions_are_in_bounds(src in ".{0,100}") {
        if let Err(e) = Template::parse(&src) {
            prop_assert!(e.position.offset <= src.len());
            prop_assert!(e.position.line >= 1 && e.position.column >= 1);
        }
    }
}
