//! Number <-> text without Rust's float machinery.
//!
//! `format!("{}", f64)` links the Grisu/Dragon printers and `str::parse::<f64>` the Eisel-Lemire
//! parser with its power-of-five tables: together about a fifth of the wasm before this module
//! existed. Messages only ever show whole milliseconds and headers only carry small decimals, so
//! these few lines do the same job.

/// `n` as JavaScript would print it: whole numbers digit by digit, anything else via `Number`.
pub fn num(n: f64) -> String {
    if n.fract() == 0.0 && (0.0..=9_007_199_254_740_991.0).contains(&n) {
        return uint(n as u64);
    }
    js_sys::Number::from(n)
        .to_string_with_radix(10)
        .map(String::from)
        .unwrap_or_default()
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
}
