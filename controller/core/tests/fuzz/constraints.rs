//! Marathon constraints (`constraints`): `[field, OPERATOR, value?]` lists and the whole-value
//! regexes of LIKE and UNLIKE (`compile_whole`, also used by Metronome job constraints).
//!
//! Properties: nothing panics; a parsed constraint parses again from its own parts to the same
//! constraint (there is no textual form to parse back: `display` is for messages); a regex
//! `compile_whole` accepts is a regex on its own (the wrapper cannot be escaped, so LIKE always
//! matches the whole value); a literal matches itself and nothing longer; when
//! `literal_alternatives` reads a regex as a list of values, the regex matches exactly those;
//! the native form renders for every list that parses. The regex size is bounded by the
//! `regex` crate's default limits (compiled size 10 MiB, nesting 250) and by the CRD
//! (`maxLength: 1024` per part): a regex over the size limit is an error, not a hang.

use crate::{STRINGS, config, text_of};
use dromos_core::constraints::{
    Constraint, OPERATOR_NAMES, compile_whole, literal_alternatives, parse_constraint, parse_constraints, render_native,
};
use proptest::prelude::*;
use std::collections::BTreeMap;

const FIELDS: &[&str] = &[
    "hostname",
    "@hostname",
    "@zone",
    "@region",
    "rack",
    "a/b",
    "example.com/rack",
    " rack ",
    "",
    "bad key!",
    "-x",
    "x-",
];
const VALUES: &[&str] = &[
    "1",
    "3",
    "0",
    "-1",
    " 2 ",
    "4294967296",
    "a",
    "r1",
    "zone-[ab]",
    "rack-[0-9",
    "(?=a)b",
    "a|b",
    "(a|b)",
    "(?:x|y)",
    "a)|(b",
    "a)|(?:.*",
    ".*",
    "",
    "\\",
    "\\.",
    "(?i)A",
    "(?x)a #",
    "a{1000}{1000}",
    "[[:alpha:]]",
    "\\p{Greek}",
    "\\bx\\b",
    "^a$",
    "$",
    "(",
    ")",
];

/// Pieces of regexes: literals, classes, groups, alternation, repetition, escapes, flags.
const REGEX_PIECES: &[&str] = &[
    "a", "b", "-", ".", "*", "+", "?", "|", "(", ")", "(?:", "(?i)", "(?x)", "(?=", "[", "]", "[^", "a-z", "{", "}",
    "{2}", "{1,3}", "{1000}", "\\", "\\d", "\\.", "\\|", "\\)", "^", "$", "#", " ", "\n", "é", "\\p{L}", "\\b", "\\Q",
];

fn part() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(VALUES).prop_map(str::to_string),
        2 => text_of(REGEX_PIECES, 12),
        1 => prop::sample::select(STRINGS).prop_map(str::to_string),
        1 => "\\PC{0,10}",
    ]
}

/// A constraint-shaped list: a field, an operator (or a near miss), maybe a value, or
/// anything from 0 to 4 parts.
fn parts() -> impl Strategy<Value = Vec<String>> {
    let op = prop_oneof![
        4 => prop::sample::select(OPERATOR_NAMES.to_vec()).prop_map(str::to_string),
        1 => prop::sample::select(vec!["unique", "GROUPBY", "like", "EQ", "MAX-PER", "", "Is"]).prop_map(str::to_string),
    ];
    prop_oneof![
        6 => (prop::sample::select(FIELDS).prop_map(str::to_string), op, prop::option::of(part()))
            .prop_map(|(f, o, v)| std::iter::once(f).chain(std::iter::once(o)).chain(v).collect()),
        1 => prop::collection::vec(part(), 0..5),
    ]
}

fn same(a: &Constraint, b: &Constraint) -> bool {
    a.field == b.field
        && a.label == b.label
        && a.op == b.op
        && a.value == b.value
        && a.count == b.count
        && a.regex.as_ref().map(|r| r.as_str().to_string()) == b.regex.as_ref().map(|r| r.as_str().to_string())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn constraint_lists_parse_and_round_trip(list in prop::collection::vec(parts(), 0..5)) {
        let parsed = parse_constraints(&list);
        prop_assert_eq!(parsed.ok.len() + parsed.problems.len(), list.len());
        for p in &parsed.problems {
            prop_assert!(p.field.starts_with(&format!("spec.constraints[{}]", p.index)), "{:?}", p);
            let _ = p.to_string();
        }
        for (_, c) in &parsed.ok {
            let again: Vec<String> = [c.field.clone(), c.op.name().to_string()].into_iter().chain(c.value.clone()).collect();
            let c2 = parse_constraint(&again).map_err(|e| TestCaseError::fail(format!("{again:?}: {e:?}")))?;
            prop_assert!(same(c, &c2), "{:?} parses back as {:?}", c, c2);
            let _ = c.display();
        }
        let ok: Vec<Constraint> = parsed.ok.into_iter().map(|(_, c)| c).collect();
        let sel = BTreeMap::from([("dromos.io/app".to_string(), "web".to_string())]);
        let native = render_native(&ok, &sel);
        let _ = native.affinity();
        prop_assert!(native.warnings.iter().all(|(i, _)| *i < ok.len()));
    }

    #[test]
    fn like_regexes_match_the_whole_value(re in text_of(REGEX_PIECES, 16), probe in text_of(&["a", "b", "-", ".", "é", "\n", "x"], 6)) {
        if let Ok(whole) = compile_whole(&re) {
            // The wrapper `^(?:…)$` holds only when the regex is one on its own.
            prop_assert!(regex::Regex::new(&re).is_ok(), "`{}` compiles only inside the wrapper", re);
            if whole.is_match(&probe) {
                let alone = regex::Regex::new(&re).expect("checked above");
                prop_assert!(alone.is_match(&probe), "`{}` matches {:?} whole but not at all", re, probe);
            }
        }
    }

    #[test]
    fn literals_match_themselves_and_nothing_longer(s in "\\PC{0,16}", extra in "\\PC{1,3}") {
        let re = compile_whole(&regex::escape(&s)).map_err(TestCaseError::fail)?;
        prop_assert!(re.is_match(&s));
        let (longer, earlier) = (format!("{s}{extra}"), format!("{extra}{s}"));
        prop_assert!(!re.is_match(&longer));
        prop_assert!(!re.is_match(&earlier));
    }

    #[test]
    fn literal_alternatives_are_exactly_what_the_regex_matches(
        re in prop_oneof![text_of(&["a", "b", "|", "(", ")", "(?:", "\\.", "\\", "-", "1", ".", "é"], 10), prop::sample::select(VALUES).prop_map(str::to_string)],
        probes in prop::collection::vec(text_of(&["a", "b", "-", "1", ".", "é", "|"], 4), 0..6),
    ) {
        let Some(values) = literal_alternatives(&re) else { return Ok(()) };
        let whole = compile_whole(&re).map_err(|e| TestCaseError::fail(format!("{re} reads as {values:?} but {e}")))?;
        for v in &values {
            prop_assert!(whole.is_match(v), "`{}` reads as {:?} but does not match {:?}", re, values, v);
        }
        for p in probes {
            prop_assert_eq!(whole.is_match(&p), values.contains(&p), "`{}` as {:?} on {:?}", re, values, p);
        }
    }
}

use proptest::test_runner::TestCaseError;

/// The regex crate's size limit bounds what a LIKE value may compile to.
#[test]
fn regexes_over_the_size_limit_are_errors() {
    let e = compile_whole("a{1000}{1000}").expect_err("over the size limit");
    assert!(e.contains("does not compile"), "{e}");
    assert!(compile_whole(&"(".repeat(300)).is_err());
}
