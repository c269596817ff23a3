//! Number <-> text without Rust's float machinery.
//!
//! `format!("{}", f64)` links the Grisu/Dragon printers and `str::parse::<f64>` the Eisel-Lemire
//! parser with its power-of-five tables: together about a fifth of the wasm before this module
//! existed. Messages only ever show whole milliseconds and headers only carry small decimals, so
//! these few lines do the same job.

use crate::prelude::*;

/// Whether `n` is a finite whole number (`f64::fract` is std-only). Every finite double of
/// magnitude 2^52 or more is whole; below that the round trip through `i64` is exact.
pub fn is_whole(n: f64) -> bool {
    n.is_finite() && (!(-4.5e15..=4.5e15).contains(&n) || (n as i64) as f64 == n)
}

/// `base` to the power `n` by repeated squaring, as `f64::powi` (std-only) does it.
pub fn powi(base: f64, n: u32) -> f64 {
    let (mut acc, mut b, mut n) = (1.0, base, n);
    while n > 0 {
        if n & 1 == 1 {
            acc *= b;
        }
        b *= b;
        n >>= 1;
    }
    acc
}

/// `n` as JavaScript would print it: whole numbers digit by digit, anything else via `Number`.
pub fn num(n: f64) -> String {
    if is_whole(n) && (0.0..=9_007_199_254_740_991.0).contains(&n) {
        return uint(n as u64);
    }
    js_sys::Number::from(n)
        .to_string_with_radix(10)
        .map(String::from)
        .unwrap_or_default()
}

/// Byte offset of the first `needle` in `hay`, always on a char boundary (a UTF-8 needle can only
/// match where a character starts). `str::find(&str)` and its kin link the two-way searcher and,
/// through str slicing's panic message, `char`'s `Debug` with its Unicode tables; a byte scan is
/// plenty for the short texts searched here (S3 error bodies, ids, URLs).
pub fn find(hay: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.as_bytes()
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
}

/// `text` with every `from` replaced by `to` (`str::replace` without the two-way searcher).
pub fn replace(text: &str, from: &str, to: &str) -> String {
    if from.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = find(rest, from) {
        out.push_str(rest.get(..i).unwrap_or_default());
        out.push_str(to);
        rest = rest.get(i + from.len()..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// The decimal digits of `n`.
pub fn uint(mut n: u64) -> String {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits[i..].iter().map(|&d| d as char).collect()
}

/// The length of `s` as JavaScript counts it (UTF-16 code units), which is what providers'
/// validators (class-validator's `MaxLength`, `str.length`) check. A byte loop: `chars().count()`
/// brings in std's optimised (and larger) counter for what are short strings.
pub fn js_length(s: &str) -> usize {
    s.bytes()
        .map(|b| usize::from(b & 0xC0 != 0x80) + usize::from(b >= 0xF0))
        .sum()
}

/// A whole number of at most 9 decimal digits (a date's field, a port).
pub fn small_uint(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 9 {
        return None;
    }
    s.bytes().try_fold(0u32, |n, b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

/// The 8 lower-case hex digits of `n`.
pub fn hex(n: u32) -> String {
    (0..8)
        .rev()
        .map(|i| b"0123456789abcdef"[((n >> (i * 4)) & 15) as usize] as char)
        .collect()
}

/// A decimal number (`250`, `1.5`, `-2`, `3e2`) as `str::parse::<f64>` reads it, except that the
/// words `inf` and `NaN` are refused (every caller range-checks, so they were refused anyway).
/// At most one rounding step (digits are exact below 2^53, then one scale by a power of ten), so
/// a header's `250` or `1.5` comes out exact.
pub fn parse_decimal(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = 0;
    let negative = matches!(b.first(), Some(b'-'));
    if matches!(b.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    let (mut mantissa, mut scale, mut digits) = (0.0f64, 0i32, 0);
    let mut seen_point = false;
    while i < b.len() {
        match b[i] {
            d @ b'0'..=b'9' => {
                mantissa = mantissa * 10.0 + f64::from(d - b'0');
                digits += 1;
                if seen_point {
                    scale -= 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let exp = b.get(i + 1..)?;
        let (sign, exp) = match exp.first() {
            Some(b'-') => (-1, &exp[1..]),
            Some(b'+') => (1, &exp[1..]),
            _ => (1, exp),
        };
        if exp.is_empty() || !exp.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let e = exp.iter().fold(0i32, |e, d| {
            e.saturating_mul(10).saturating_add(i32::from(d - b'0'))
        });
        scale = scale.saturating_add(sign * e);
        i = b.len();
    }
    if i != b.len() {
        return None;
    }
    let v = if scale < 0 {
        mantissa / powi(10.0, scale.unsigned_abs())
    } else {
        mantissa * powi(10.0, scale.unsigned_abs())
    };
    Some(if negative { -v } else { v })
}

/// `s` in double quotes with the escapes `{:?}` uses for quotes, backslashes and control
/// characters. `str`'s `Debug` also escapes unprintable Unicode, which needs its Unicode tables and
/// formatter (a few KB of wasm) for text that is only ever a field key or an option name.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => {
                out.push_str("\\u{");
                let n = c as u32;
                let mut started = false;
                for shift in (0..8).rev() {
                    let d = (n >> (shift * 4)) & 0xf;
                    if d != 0 || started || shift == 0 {
                        started = true;
                        out.push(char::from_digit(d, 16).unwrap_or('0'));
                    }
                }
                out.push('}');
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod small_tests {
    use super::*;

    #[test]
    fn lengths_as_javascript_counts_them() {
        assert_eq!(js_length("abc"), 3);
        assert_eq!(js_length("héllo"), 5);
        assert_eq!(js_length("日本"), 2);
        // An emoji is two UTF-16 code units, as "😀".length is in JS.
        assert_eq!(js_length("a😀"), 3);
        for s in ["", "x", "ünïcödé", "😀😀", "mixed 日本 😀 text"] {
            assert_eq!(js_length(s), s.encode_utf16().count(), "{s}");
        }
    }

    #[test]
    fn small_uints() {
        assert_eq!(small_uint("0"), Some(0));
        assert_eq!(small_uint("1994"), Some(1994));
        assert_eq!(small_uint("999999999"), Some(999_999_999));
        for bad in ["", "-1", "1.5", "1x", "1234567890", " 1"] {
            assert_eq!(small_uint(bad), None, "{bad}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers() {
        assert_eq!(num(0.0), "0");
        assert_eq!(num(60_000.0), "60000");
        assert_eq!(num(1_800_000.0), "1800000");
        assert_eq!(uint(u64::MAX), "18446744073709551615");
    }

    #[test]
    fn find_and_replace_like_str() {
        let cases = [
            ("", ""),
            ("abc", ""),
            ("abc", "abc"),
            ("ab", "abc"),
            ("<Code>x</Code>", "</Code>"),
            ("ééa..é", ".."),
            ("key key-key", "key"),
            ("aaaa", "aa"),
        ];
        for (hay, needle) in cases {
            assert_eq!(find(hay, needle), hay.find(needle), "{hay} / {needle}");
            if !needle.is_empty() {
                assert_eq!(replace(hay, needle, "***"), hay.replace(needle, "***"));
            }
        }
    }

    #[test]
    fn decimals_like_str_parse() {
        for t in [
            "0", "250", "1.5", "-2", "+7", ".5", "5.", "3e2", "1E-3", "60000", "0.001", "12.25",
            "1e400", "-0",
        ] {
            assert_eq!(parse_decimal(t), t.parse::<f64>().ok(), "{t}");
        }
        for t in [
            "", ".", "-", "1.2.3", "1e", "e3", "12ms", " 1", "inf", "NaN", "0x10",
        ] {
            assert_eq!(parse_decimal(t), None, "{t}");
        }
    }

    #[test]
    fn quotes_like_debug() {
        for t in [
            "email",
            "",
            "a\"b",
            "back\\slash",
            "tab\there\n",
            "nul\0",
            "\u{1}\u{7f}\u{9f}",
            "héllo ✓",
            "it's",
        ] {
            assert_eq!(quote(t), format!("{t:?}"), "{t}");
        }
    }
}
