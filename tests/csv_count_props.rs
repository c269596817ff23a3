//! `RecordCounter` against the `csv` crate (`has_headers(false)`, `flexible(true)`) on generated
//! inputs built from the bytes that trip CSV parsers, fed in random chunk sizes.
//! Native only: `csv` is not a wasm32 dev-dependency.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::disallowed_macros)] // tests never ship: formatting is fine here (see clippy.toml)

#[path = "../src/csv_count.rs"]
mod csv_count;

use csv_count::{data_records, Counted, RecordCounter};

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

const BOM: &[u8] = b"\xef\xbb\xbf";
/// Everything a field may hold: separators, quotes, line breaks, the BOM and its pieces, multi-byte
/// UTF-8 and bytes that are not UTF-8 (which make `csv`'s `StringRecord` reader report errors).
const TRICKY: &[&[u8]] = &[
    b"a",
    b"a",
    b"bc",
    b" ",
    b",",
    b"\"",
    b"\"\"",
    b"\n",
    b"\r",
    b"\r\n",
    BOM,
    b"\xef",
    b"\xef\xbb",
    b"\xbb\xbf",
    "é".as_bytes(),
    "€".as_bytes(),
    "😀".as_bytes(),
    b"\xff",
    b"\xe2\x82",
];
/// What an unquoted field holds when the generator plays by the rules.
const PLAIN: &[&[u8]] = &[b"a", b"bc", b" ", "é".as_bytes(), "😀".as_bytes(), b"x\"y"];
const BREAKS: &[&[u8]] = &[b"\n", b"\r\n", b"\r", b"\n\n", b"\r\r\n", b"\r\n\r\n"];

fn field(rng: &mut Rng, out: &mut Vec<u8>) {
    let len = rng.below(5);
    match rng.below(4) {
        // Quoted, with quotes inside doubled (mostly) and anything else allowed.
        0 | 1 => {
            out.push(b'"');
            for _ in 0..len {
                let t = rng.pick(TRICKY);
                if t == b"\"" && rng.chance(80) {
                    out.extend_from_slice(b"\"\"");
                } else {
                    out.extend_from_slice(t);
                }
            }
            if rng.chance(95) {
                out.push(b'"');
                // Bytes after the closing quote continue the field unquoted.
                if rng.chance(10) {
                    out.extend_from_slice(rng.pick(PLAIN));
                }
            }
        }
        2 => {
            for _ in 0..len {
                out.extend_from_slice(rng.pick(PLAIN));
            }
        }
        // Anything goes.
        _ => {
            for _ in 0..len {
                out.extend_from_slice(rng.pick(TRICKY));
            }
        }
    }
}

fn input(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    match rng.below(10) {
        0 => out.extend_from_slice(BOM),
        1 => out.extend_from_slice(&BOM[..1 + rng.below(2)]),
        _ => {}
    }
    if rng.chance(10) {
        // Byte soup.
        for _ in 0..rng.below(30) {
            out.extend_from_slice(rng.pick(TRICKY));
        }
        return out;
    }
    let records = rng.below(6);
    for r in 0..records {
        for f in 0..1 + rng.below(4) {
            if f > 0 {
                out.push(b',');
            }
            field(rng, &mut out);
        }
        if r + 1 < records || rng.chance(50) {
            out.extend_from_slice(rng.pick(BREAKS));
        }
    }
    out
}

fn reader(input: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input)
}

/// Records as `csv` reads them, and how many of them its `StringRecord` reader rejects as UTF-8.
fn csv_records(input: &[u8]) -> (u64, u64) {
    let mut bytes = 0;
    for r in reader(input).byte_records() {
        r.expect("byte records never fail on a slice");
        bytes += 1;
    }
    let (mut strings, mut utf8_errors) = (0, 0);
    for r in reader(input).records() {
        strings += 1;
        if let Err(e) = r {
            assert!(matches!(e.kind(), csv::ErrorKind::Utf8 { .. }), "{e}");
            utf8_errors += 1;
        }
    }
    assert_eq!(
        bytes, strings,
        "byte and string readers disagree on {input:?}"
    );
    (bytes, utf8_errors)
}

/// Whether `csv` ends `input` inside a quoted field. It reports no error for that, so ask it
/// indirectly: after `\n\x01` the last field ends with both bytes only if the `\n` was field data,
/// which outside quotes it never is.
fn csv_unterminated(input: &[u8]) -> bool {
    let mut probe = input.to_vec();
    probe.extend_from_slice(b"\n\x01");
    let last = reader(&probe).byte_records().last();
    let last = last.expect("the probe adds a record").expect("slice");
    last.iter()
        .next_back()
        .is_some_and(|f| f.ends_with(b"\n\x01"))
}

fn count_in(input: &[u8], chunks: &[usize]) -> Counted {
    let mut c = RecordCounter::new();
    let mut rest = input;
    for &n in chunks.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (a, b) = rest.split_at(n.min(rest.len()));
        c.feed(a);
        rest = b;
    }
    c.finish()
}

#[test]
fn matches_csv_crate_on_generated_inputs() {
    const CASES: u64 = 5000;
    let (mut malformed, mut utf8_errors, mut records) = (0, 0, 0);
    for seed in 0..CASES {
        let mut rng = Rng(seed);
        let input = input(&mut rng);
        let (want, bad_utf8) = csv_records(&input);
        let unterminated = csv_unterminated(&input);
        let expected = Counted {
            records: want,
            malformed: unterminated,
            bytes: input.len() as u64,
        };
        let splits: [Vec<usize>; 4] = [
            vec![input.len().max(1)],
            vec![1],
            vec![1 + rng.below(9)],
            (0..8).map(|_| rng.below(12)).chain([1]).collect(),
        ];
        for chunks in &splits {
            let got = count_in(&input, chunks);
            assert_eq!(
                got, expected,
                "seed {seed}, chunks {chunks:?}, input {input:?}"
            );
        }
        assert_eq!(data_records(&expected, true), want.saturating_sub(1));
        malformed += unterminated as u64;
        utf8_errors += bad_utf8;
        records += want;
    }
    // The generator must reach the cases it exists for.
    assert!(
        malformed > CASES / 20,
        "only {malformed} unterminated inputs"
    );
    assert!(utf8_errors > CASES / 10, "only {utf8_errors} UTF-8 errors");
    assert!(records > CASES, "only {records} records");
}

#[test]
fn unit_cases_agree_with_csv_crate() {
    let cases = csv_count::tests::CASES
        .iter()
        .map(|&(s, n, m)| (s.as_bytes(), n, m));
    for (input, records, malformed) in cases.chain(csv_count::tests::BYTE_CASES.iter().copied()) {
        assert_eq!(csv_records(input).0, records, "records in {input:?}");
        assert_eq!(csv_unterminated(input), malformed, "malformed {input:?}");
    }
}

/// Best of five runs over `data` in 64 KiB chunks (what a Blob stream hands out), in MB/s.
fn mb_per_s(data: &[u8], records: u64) -> f64 {
    let best = (0..5)
        .map(|_| {
            let t = std::time::Instant::now();
            let mut c = RecordCounter::new();
            for chunk in data.chunks(64 << 10) {
                c.feed(std::hint::black_box(chunk));
            }
            let got = c.finish();
            assert_eq!((got.records, got.malformed), (records, false));
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    data.len() as f64 / 1e6 / best
}

/// About 200 MB made of `rows` in turn, and how many records that is.
fn repeat_rows(rows: &[&[u8]]) -> (Vec<u8>, u64) {
    let mut data = Vec::with_capacity(201 << 20);
    let mut n = 0;
    while data.len() < 200 << 20 {
        data.extend_from_slice(rows[n % rows.len()]);
        n += 1;
    }
    (data, n as u64)
}

/// Native throughput on 200 MB with quoted commas, quotes and line breaks, and on a worst case
/// (every field quoted and one or two bytes long, so the scan stops every other byte). Run with
/// `cargo test --release --test csv_count_props -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput_200mb() {
    let (data, n) = repeat_rows(&[
        b"1042,\"Smith, Jane\",jane.smith@example.com,\"12 Long Road\nFlat 3\nSpringfield\",\"She said \"\"hi\"\"\",2024-01-31,19.99\n",
        b"1043,Bob,bob@example.org,\"1 Main St\",plain note with no quotes at all,2024-02-01,5\r\n",
        b"1044,\"\",\"\",\"\",\"\",,\n",
        "1045,Zoë Ådne,zoe@example.net,\"Gata 5\r\n0150 Oslo\",\"multi-byte: €😀\",2024-02-02,0.5\n".as_bytes(),
    ]);
    let mb = data.len() as f64 / 1e6;
    println!(
        "typical: {mb:.0} MB, {n} records, {:.0} MB/s",
        mb_per_s(&data, n)
    );

    let t = std::time::Instant::now();
    let mut rdr = reader(&data);
    let mut record = csv::ByteRecord::new();
    let mut m = 0;
    while rdr.read_byte_record(&mut record).unwrap() {
        m += 1;
    }
    assert_eq!(m, n);
    println!(
        "typical, csv crate: {:.0} MB/s",
        mb / t.elapsed().as_secs_f64()
    );

    let (data, n) = repeat_rows(&[b"\"1\",\"ab\",\"c\",\"\",\"de\"\n"]);
    println!("worst case: {n} records, {:.0} MB/s", mb_per_s(&data, n));
}
