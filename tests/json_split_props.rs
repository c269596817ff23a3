//! `ArraySplitter` against `serde_json` (each element's exact bytes, through `RawValue`) on
//! generated arrays full of what trips a splitter (brackets, commas and quotes inside strings,
//! escapes, multi-byte UTF-8, scalars, nesting), fed in random chunkings; and resumed reads.
//! Native only: `serde_json` is not a wasm32 dev-dependency.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::disallowed_macros)] // tests never ship: formatting is fine here (see clippy.toml)

extern crate alloc;

#[path = "../src/json_split.rs"]
#[allow(dead_code)] // `describe` serves the library's error messages, not this test
mod json_split;

use json_split::{ArraySplitter, SplitError};
use serde_json::value::RawValue;

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

/// String contents (already escaped for JSON) that look like structure to a naive splitter.
const STRING_BITS: &[&str] = &[
    "a",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "\\\"",
    "\\\\",
    "\\\\\\\"",
    "\\n",
    "\\u00e9",
    "\\ud83d\\ude00",
    "é",
    "😀",
    "日本",
    " ",
    "\\/",
    "\\\\\\\\",
];
const SCALARS: &[&str] = &[
    "0",
    "-1",
    "3.25",
    "-0.5e-7",
    "12345678901234567890",
    "true",
    "false",
    "null",
];
const SPACE: &[&str] = &["", "", "", " ", "\n", "\r\n", "\t", "  \n  "];

fn string(rng: &mut Rng) -> String {
    let mut s = String::from("\"");
    for _ in 0..rng.below(6) {
        s.push_str(rng.pick(STRING_BITS));
    }
    s.push('"');
    s
}

fn value(rng: &mut Rng, depth: usize) -> String {
    let kind = if depth > 3 {
        rng.below(2)
    } else {
        rng.below(5)
    };
    match kind {
        0 => rng.pick(SCALARS).to_string(),
        1 => string(rng),
        2 | 3 => {
            let items: Vec<String> = (0..rng.below(4))
                .map(|_| {
                    format!(
                        "{}{}{}:{}{}",
                        rng.pick(SPACE),
                        string(rng),
                        rng.pick(SPACE),
                        rng.pick(SPACE),
                        value(rng, depth + 1)
                    )
                })
                .collect();
            format!("{{{}}}", items.join(","))
        }
        _ => {
            let items: Vec<String> = (0..rng.below(4))
                .map(|_| {
                    format!(
                        "{}{}{}",
                        rng.pick(SPACE),
                        value(rng, depth + 1),
                        rng.pick(SPACE)
                    )
                })
                .collect();
            format!("[{}]", items.join(","))
        }
    }
}

/// A top-level array whose elements are mostly objects (rows), sometimes anything.
fn array(rng: &mut Rng) -> String {
    let n = rng.below(12);
    let items: Vec<String> = (0..n)
        .map(|_| {
            let v = if rng.below(4) == 0 {
                value(rng, 1)
            } else {
                value(rng, 4)
            };
            let v = if v.starts_with('{') || rng.below(3) == 0 {
                v
            } else {
                format!("{{\"v\":{v}}}")
            };
            format!("{}{}{}", rng.pick(SPACE), v, rng.pick(SPACE))
        })
        .collect();
    let bom = if rng.below(8) == 0 { "\u{feff}" } else { "" };
    format!(
        "{bom}{}[{}]{}",
        rng.pick(SPACE),
        items.join(","),
        rng.pick(SPACE)
    )
}

/// Splits `input` in random chunk sizes (1 byte up to the whole).
fn split(
    rng: &mut Rng,
    input: &[u8],
    mut splitter: ArraySplitter,
) -> Result<(Vec<(u64, u64)>, ArraySplitter), SplitError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < input.len() {
        let size = match rng.below(4) {
            0 => 1,
            1 => 1 + rng.below(7),
            2 => 1 + rng.below(64),
            _ => input.len(),
        };
        let end = (at + size).min(input.len());
        splitter.feed(&input[at..end], &mut out)?;
        at = end;
    }
    Ok((out, splitter))
}

fn expected(text: &str) -> Vec<String> {
    let body = text.trim_start_matches('\u{feff}');
    let raw: Vec<&RawValue> = serde_json::from_str(body).expect("the generator makes valid JSON");
    raw.iter().map(|r| r.get().to_string()).collect()
}

#[test]
fn elements_match_serde_json_whatever_the_chunking() {
    for seed in 0..4000 {
        let mut rng = Rng(seed);
        let text = array(&mut rng);
        let want = expected(&text);
        for _ in 0..4 {
            let (ranges, splitter) = split(&mut rng, text.as_bytes(), ArraySplitter::new())
                .unwrap_or_else(|e| panic!("seed {seed}: {e:?} in {text:?}"));
            splitter
                .finish()
                .unwrap_or_else(|e| panic!("seed {seed}: {e:?} in {text:?}"));
            let got: Vec<&str> = ranges
                .iter()
                .map(|&(s, e)| &text[s as usize..e as usize])
                .collect();
            assert_eq!(got, want, "seed {seed}: {text:?}");
        }
    }
}

#[test]
fn a_read_resumed_after_the_last_complete_element_loses_and_repeats_nothing() {
    for seed in 0..2000 {
        let mut rng = Rng(seed);
        let text = array(&mut rng);
        let bytes = text.as_bytes();
        let want = expected(&text);
        // Cut anywhere: what the first read completed, then a read from its resume offset.
        let cut = rng.below(bytes.len() + 1);
        let (first, splitter) = split(&mut rng, &bytes[..cut], ArraySplitter::new()).unwrap();
        let from = splitter.resume_offset();
        let resumed = if first.is_empty() {
            ArraySplitter::new()
        } else {
            ArraySplitter::resumed_at(from)
        };
        let from = if first.is_empty() { 0 } else { from };
        let mut rest = Vec::new();
        let mut s = resumed;
        s.feed(&bytes[from as usize..], &mut rest).unwrap();
        s.finish().unwrap();
        let got: Vec<&str> = first
            .iter()
            .chain(rest.iter())
            .map(|&(a, b)| &text[a as usize..b as usize])
            .collect();
        assert_eq!(got, want, "seed {seed}, cut at {cut}: {text:?}");
    }
}

#[test]
fn what_is_not_an_array_is_refused_with_the_offset() {
    let cases: &[(&str, Option<u64>)] = &[
        ("{\"a\":1}", Some(0)),
        ("", None),
        ("   ", None),
        ("[", None),
        ("[{\"a\":1}", None),
        ("[{\"a\":\"]\"}", None),
        ("[1,]", Some(3)),
        ("[,1]", Some(1)),
        ("[1 2]", Some(3)),
        ("[{} {}]", Some(4)),
        ("[1]x", Some(3)),
        ("[1] [2]", Some(4)),
        ("\u{feff}x", Some(3)),
        ("\u{ef}[]", Some(0)),
        ("null", Some(0)),
    ];
    for &(text, at) in cases {
        let mut out = Vec::new();
        let mut s = ArraySplitter::new();
        let result = s.feed(text.as_bytes(), &mut out).and_then(|()| s.finish());
        match (result, at) {
            (Err(SplitError::Unexpected { at: got, .. }), Some(want)) => {
                assert_eq!(got, want, "{text:?}")
            }
            (Err(SplitError::Unfinished), None) => {}
            (other, _) => panic!("{text:?}: {other:?}"),
        }
    }
}

#[test]
fn empty_arrays_and_scalars_split() {
    for (text, want) in [
        ("[]", vec![]),
        (" [ ] \n", vec![]),
        (
            "[1,\"a,b\",null,{},[]]",
            vec!["1", "\"a,b\"", "null", "{}", "[]"],
        ),
        ("[ -1.5e3 ,true]", vec!["-1.5e3", "true"]),
    ] {
        let mut out = Vec::new();
        let mut s = ArraySplitter::new();
        s.feed(text.as_bytes(), &mut out).unwrap();
        s.finish().unwrap();
        let got: Vec<&str> = out
            .iter()
            .map(|&(a, b)| &text[a as usize..b as usize])
            .collect();
        assert_eq!(got, want, "{text:?}");
    }
}
