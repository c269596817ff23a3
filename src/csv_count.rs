//! Counting CSV records (RFC 4180) over a stream of chunks, without holding the file.
//!
//! The count matches the `csv` crate read with `has_headers(false)` and `flexible(true)` (the
//! emulator parses uploads with that crate, so the two agree on what a row is):
//! - a record ends at an unquoted LF, CR LF or lone CR;
//! - empty lines are skipped, so a trailing newline (or several, or `\r\r\n`) adds no record, while a
//!   line holding only spaces, a comma or `""` is a record;
//! - a quote opens a quoted field only as the first byte of a field; elsewhere it is an ordinary
//!   byte (`a"b` is one field). Inside quotes, `""` is a literal quote and commas and line breaks are
//!   data. After a closing quote, anything but a delimiter, a line break or `"` continues the field
//!   unquoted (`"a"b` reads as `ab`);
//! - a final record without a line break counts, and so does one cut off inside quotes, which also
//!   sets [`Counted::malformed`] (`csv` itself reports no error there: it prefers a parse);
//! - a UTF-8 BOM (`EF BB BF`) as the very first bytes is skipped; anywhere else it is data.
//!
//! One deliberate difference: `csv` strips the BOM only when its first read returns at least three
//! bytes, whereas the BOM is recognised here however the chunks split it.
//!
//! Speed: only `"`, LF and CR can change the state (a comma matters only before a quote, and is
//! checked by looking back one byte; a byte right after a closing quote, by its position). Each
//! 8-byte word yields a bitmask of those bytes with word arithmetic (SWAR), and only the set bits
//! are visited, so the cost is per quote or line break, not per byte. Measured (release, 64 KiB
//! chunks): about 1.8 GB/s natively and 1.3 GB/s in wasm on Node 20 on typical CSV with quoted
//! newlines; 0.4-0.6 GB/s (both) when every field is quoted and one or two bytes long.

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];
/// `bom` value once the start of input is behind us (stripped or not).
const BOM_DONE: u8 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Outside quotes.
    Plain,
    /// Inside a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field: the next byte decides whether it closed the
    /// field or was the first half of `""`.
    QuoteEnd,
}

/// Record counter fed one chunk at a time; any chunk boundaries give the same result.
#[derive(Clone, Copy, Debug)]
pub struct RecordCounter {
    records: u64,
    bytes: u64,
    /// The last byte fed (BOM aside): LF before any, so that a leading quote opens a field and
    /// leading line breaks count as empty lines.
    prev: u8,
    mode: Mode,
    /// How many bytes of a leading BOM have been seen so far, or `BOM_DONE`.
    bom: u8,
}

/// What [`RecordCounter::finish`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counted {
    /// Records, header row included (see [`data_records`]).
    pub records: u64,
    /// The input ended inside a quoted field (the cut-off record is still counted).
    pub malformed: bool,
    /// Bytes fed, BOM included.
    pub bytes: u64,
}

/// Records excluding the header row when `header` is true (never negative).
pub fn data_records(c: &Counted, header: bool) -> u64 {
    c.records.saturating_sub(header as u64)
}

impl Default for RecordCounter {
    fn default() -> Self {
        Self::new()
    }
}

impl RecordCounter {
    pub fn new() -> Self {
        RecordCounter {
            records: 0,
            bytes: 0,
            prev: b'\n',
            mode: Mode::Plain,
            bom: 0,
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        self.bytes += chunk.len() as u64;
        let mut start = 0;
        if self.bom < BOM_DONE {
            start = self.skip_bom(chunk);
            if self.bom < BOM_DONE {
                return;
            }
        }
        let mut s = Scan {
            chunk,
            start,
            prev: self.prev,
            records: self.records,
            mode: self.mode,
            // A quote left pending by the previous chunk was its last byte.
            qend: 0,
        };
        let mut i = start;
        while let Some(w) = chunk.get(i..).and_then(|t| t.first_chunk::<8>()) {
            let mut hits = specials(u64::from_le_bytes(*w));
            while hits != 0 {
                let p = i + (hits.trailing_zeros() / 8) as usize;
                hits &= hits - 1;
                s.step(p);
            }
            i += 8;
        }
        while let Some(&b) = chunk.get(i) {
            if b == b'"' || is_break(b) {
                s.step(i);
            }
            i += 1;
        }
        if s.mode == Mode::QuoteEnd && s.qend < chunk.len() {
            // Ordinary bytes followed the closing quote.
            s.mode = Mode::Plain;
        }
        if let Some(&last) = chunk.get(start..).and_then(<[u8]>::last) {
            self.prev = last;
        }
        self.records = s.records;
        self.mode = s.mode;
    }

    /// Consumes the leading bytes of `chunk` that continue a BOM at the start of input; returns
    /// where ordinary parsing resumes.
    fn skip_bom(&mut self, chunk: &[u8]) -> usize {
        let mut i = 0;
        while let Some(&want) = BOM.get(self.bom as usize) {
            let Some(&b) = chunk.get(i) else {
                return i;
            };
            if b != want {
                if self.bom > 0 {
                    // The bytes taken for a BOM start an ordinary field (and are not `,` or `"`).
                    self.prev = BOM[0];
                }
                self.bom = BOM_DONE;
                return i;
            }
            self.bom += 1;
            i += 1;
        }
        i
    }

    pub fn finish(self) -> Counted {
        let partial_bom = self.bom > 0 && self.bom < BOM_DONE;
        let open = match self.mode {
            Mode::Plain => !is_break(self.prev) || partial_bom,
            Mode::Quoted | Mode::QuoteEnd => true,
        };
        Counted {
            records: self.records + open as u64,
            malformed: self.mode == Mode::Quoted,
            bytes: self.bytes,
        }
    }
}

#[inline(always)]
fn is_break(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

/// The parser state `feed` keeps in locals while it walks one chunk.
struct Scan<'a> {
    chunk: &'a [u8],
    /// Where parsing began in this chunk (after a BOM); before it, the byte is `prev`.
    start: usize,
    prev: u8,
    records: u64,
    mode: Mode,
    /// In `Mode::QuoteEnd`, the position right after the quote.
    qend: usize,
}

impl Scan<'_> {
    /// Handles the `"`, LF or CR at `p`; other bytes never change the state, except that one right
    /// after a closing quote ends `QuoteEnd`, which `p != qend` detects.
    #[inline(always)]
    fn step(&mut self, p: usize) {
        let b = self.chunk.get(p).copied().unwrap_or(0);
        match self.mode {
            Mode::Quoted => {
                if b == b'"' {
                    self.mode = Mode::QuoteEnd;
                    self.qend = p + 1;
                }
            }
            Mode::QuoteEnd if p == self.qend && b == b'"' => self.mode = Mode::Quoted,
            _ => {
                let before = if p > self.start {
                    self.chunk.get(p - 1).copied().unwrap_or(0)
                } else {
                    self.prev
                };
                if b != b'"' {
                    // A line break ends a record unless the line was empty.
                    self.records += !is_break(before) as u64;
                    self.mode = Mode::Plain;
                } else if before == b',' || is_break(before) {
                    self.mode = Mode::Quoted;
                } else {
                    self.mode = Mode::Plain;
                }
            }
        }
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;

/// Per byte of `v`: high bit set if the byte is not zero (exact, no borrow between bytes).
#[inline(always)]
fn nonzero(v: u64) -> u64 {
    ((v & LOW7) + LOW7) | v
}

/// High bit set in each byte of `x` that is `"`, LF or CR.
#[inline(always)]
fn specials(x: u64) -> u64 {
    let all = nonzero(x ^ (LO * b'"' as u64))
        & nonzero(x ^ (LO * b'\n' as u64))
        & nonzero(x ^ (LO * b'\r' as u64));
    !all & !LOW7
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// (input, records, malformed), checked against the `csv` crate in tests/csv_count_props.rs.
    pub(crate) const CASES: &[(&str, u64, bool)] = &[
        ("", 0, false),
        ("a", 1, false),
        ("a\n", 1, false),
        ("a\nb", 2, false),
        ("a,b\r\nc,d\r\n", 2, false),
        ("a\rb\rc", 3, false),
        ("a\r\n\r\nb", 2, false),
        ("\n\n\r\n\r", 0, false),
        ("\na\n\nb\n\n", 2, false),
        ("a\n\n\n", 1, false),
        (" \n", 1, false),
        (",\n,", 2, false),
        ("\"\"\n", 1, false),
        ("\"\"", 1, false),
        ("\"a,b\nc\",d\ne", 2, false),
        ("\"a\r\nb\"\r\nc", 2, false),
        ("\"a\"\"\nb\"\"\"\nc", 2, false),
        ("\"\"\"\"\n\"\"\"\"", 2, false),
        ("a\"b\nc", 2, false),
        ("a\"\nb\"\nc", 3, false),
        ("a,\"b\nc\"\nd", 2, false),
        ("a, \"b\nc\"", 2, false),
        ("\"a\"b\"c\nd", 2, false),
        ("\"a\"b\nc", 2, false),
        ("\"a\",\"b\nc\"", 1, false),
        ("\"a\n", 1, true),
        ("a\n\"b\nc", 2, true),
        ("\"a\"\"", 1, true),
        ("\"", 1, true),
        ("\"a\"", 1, false),
        ("\u{feff}a\nb", 2, false),
        ("\u{feff}", 0, false),
        ("\u{feff}\n", 0, false),
        ("\u{feff}\"a\nb\"", 1, false),
        ("\u{feff}\u{feff}", 1, false),
        ("\u{feff}\u{feff}\"a\nb\"", 2, false),
        ("\u{ef}", 1, false),
        ("a\u{feff}\n\u{feff}\"x\ny\"", 3, false),
        ("é,ü\n\"ö\nß\"\n", 2, false),
    ];

    /// Raw bytes for the partial-BOM cases (not valid UTF-8, so not in `CASES`).
    pub(crate) const BYTE_CASES: &[(&[u8], u64, bool)] = &[
        (b"\xef", 1, false),
        (b"\xef\xbb", 1, false),
        (b"\xef\xbb\n", 1, false),
        (b"\xef\xbb\"a\nb", 2, false),
        (b"\xef\"a\nb\"", 2, false),
        (b"\xbb\xbf", 1, false),
        (b"\xef\xbb\xbf\xef\xbb", 1, false),
    ];

    fn count(chunks: &[&[u8]]) -> Counted {
        let mut c = RecordCounter::new();
        for ch in chunks {
            c.feed(ch);
        }
        c.finish()
    }

    fn check(input: &[u8], records: u64, malformed: bool) {
        let want = Counted {
            records,
            malformed,
            bytes: input.len() as u64,
        };
        assert_eq!(count(&[input]), want, "whole: {input:?}");
        for k in 0..=input.len() {
            let (a, b) = input.split_at(k);
            assert_eq!(count(&[a, b]), want, "split at {k}: {input:?}");
            for m in k..=input.len() {
                let got = count(&[&input[..k], &input[k..m], &input[m..]]);
                assert_eq!(got, want, "split at {k}, {m}: {input:?}");
            }
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(count(&bytes), want, "byte by byte: {input:?}");
    }

    #[test]
    fn tricky_cases_any_split() {
        for &(input, records, malformed) in CASES {
            check(input.as_bytes(), records, malformed);
        }
        for &(input, records, malformed) in BYTE_CASES {
            check(input, records, malformed);
        }
    }

    #[test]
    fn long_fields_cross_word_boundaries() {
        // Stops at every offset modulo 8, in and out of quotes.
        for pad in 1..20 {
            let a = "x".repeat(pad);
            let input = format!("{a},\"{a}\n{a}\"\"{a}\"\r\n{a}\"{a}\r{a}");
            check(input.as_bytes(), 3, false);
        }
    }

    #[test]
    fn empty_chunks_change_nothing() {
        let mut c = RecordCounter::new();
        for ch in [
            &b""[..],
            b"\xef",
            b"",
            b"\xbb\xbf",
            b"",
            b"\"a\"",
            b"",
            b"\"\n",
            b"",
        ] {
            c.feed(ch);
        }
        let got = c.finish();
        assert_eq!((got.records, got.malformed, got.bytes), (1, true, 8));
    }

    #[test]
    fn header_row_is_not_data() {
        let c = count(&[b"h1,h2\n1,2\n3,4\n"]);
        assert_eq!(data_records(&c, true), 2);
        assert_eq!(data_records(&c, false), 3);
        let empty = count(&[b""]);
        assert_eq!(data_records(&empty, true), 0);
    }
}
