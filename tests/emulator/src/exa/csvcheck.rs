//! What Exa's import pipeline needs to know about an uploaded file: is it RFC 4180 CSV, how many
//! records follow the header, and which columns it has. A small state machine rather than the `csv`
//! crate, because that crate silently accepts an unterminated quote (swallowing the rest of the file),
//! which is exactly the kind of client bug the emulator must surface.
//!
//! Rules: UTF-8 with an optional BOM; `,` separates fields; records end with CRLF, LF or a lone CR; a
//! field starting with `"` is quoted, may hold separators and line breaks, and `""` is a literal quote;
//! after a closing quote only a separator, a line break or the end may follow. A `"` inside an unquoted
//! field is kept literally (as most parsers do). Empty lines between records are ignored, so a trailing
//! blank line never counts as a record. Every record must have as many fields as the header.

/// The shape of a well-formed file.
#[derive(Debug, PartialEq, Eq)]
pub struct Shape {
    /// Header cells, as written (BOM removed).
    pub headers: Vec<String>,
    /// Records after the header.
    pub records: u64,
}

/// Why a file is not CSV; the message names the line (1-based, physical lines) where it went wrong.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed(pub String);

pub fn analyze(data: &[u8]) -> Result<Shape, Malformed> {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let text = std::str::from_utf8(data).map_err(|e| {
        let line = 1 + data[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        Malformed(format!(
            "The file is not valid UTF-8 text (line {line}); only UTF-8 CSV files can be imported."
        ))
    })?;
    let mut p = Parser {
        bytes: text.as_bytes(),
        at: 0,
        line: 1,
    };
    let mut headers: Option<Vec<String>> = None;
    let mut records = 0u64;
    while p.skip_blank_lines() {
        let start_line = p.line;
        match &headers {
            None => headers = Some(p.record(true)?.1),
            Some(h) => {
                let (fields, _) = p.record(false)?;
                if fields != h.len() {
                    return Err(Malformed(format!(
                        "Line {start_line} has {fields} field(s) but the header has {}.",
                        h.len()
                    )));
                }
                records += 1;
            }
        }
    }
    match headers {
        None => Err(Malformed("The file is empty.".into())),
        Some(headers) => Ok(Shape { headers, records }),
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
    line: u64,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// Consumes a line break at the cursor (CRLF, LF or CR); false if there is none.
    fn line_break(&mut self) -> bool {
        match self.peek() {
            Some(b'\r') => {
                self.at += 1;
                if self.peek() == Some(b'\n') {
                    self.at += 1;
                }
            }
            Some(b'\n') => self.at += 1,
            _ => return false,
        }
        self.line += 1;
        true
    }

    /// Skips empty lines; true if a record follows.
    fn skip_blank_lines(&mut self) -> bool {
        while self.line_break() {}
        self.at < self.bytes.len()
    }

    /// Reads one record (and its line break); returns the field count and, if asked, the fields.
    fn record(&mut self, keep: bool) -> Result<(usize, Vec<String>), Malformed> {
        let mut fields = Vec::new();
        let mut count = 0;
        loop {
            let field = self.field()?;
            count += 1;
            if keep {
                fields.push(field.into_owned());
            }
            match self.peek() {
                Some(b',') => self.at += 1,
                _ => {
                    self.line_break();
                    return Ok((count, fields));
                }
            }
        }
    }

    /// Reads one field, leaving the cursor on the separator, the line break or the end.
    fn field(&mut self) -> Result<std::borrow::Cow<'a, str>, Malformed> {
        let start = self.at;
        if self.peek() != Some(b'"') {
            while !matches!(self.peek(), None | Some(b',' | b'\r' | b'\n')) {
                self.at += 1;
            }
            let bytes: &'a [u8] = self.bytes;
            return Ok(String::from_utf8_lossy(&bytes[start..self.at]));
        }
        let opened_on = self.line;
        self.at += 1;
        let mut value = Vec::new();
        loop {
            match self.peek() {
                None => {
                    return Err(Malformed(format!(
                        "Unterminated quoted field starting on line {opened_on}."
                    )))
                }
                Some(b'"') if self.bytes.get(self.at + 1) == Some(&b'"') => {
                    value.push(b'"');
                    self.at += 2;
                }
                Some(b'"') => {
                    self.at += 1;
                    return match self.peek() {
                        None | Some(b',' | b'\r' | b'\n') => {
                            Ok(String::from_utf8_lossy(&value).into_owned().into())
                        }
                        Some(_) => Err(Malformed(format!(
                            "Unexpected character after a closing quote on line {}.",
                            self.line
                        ))),
                    };
                }
                Some(b) => {
                    if b == b'\n' || (b == b'\r' && self.bytes.get(self.at + 1) != Some(&b'\n')) {
                        self.line += 1;
                    }
                    value.push(b);
                    self.at += 1;
                }
            }
        }
    }
}

/// Column names that hold an identifier for the built-in entity types (trimmed, any case).
pub const IDENTIFIER_HEADERS: [&str; 6] =
    ["url", "website", "domain", "linkedin", "link", "homepage"];

/// What the import declared at creation, which the file is checked against.
#[derive(Debug, Clone)]
pub struct Declared {
    pub size: f64,
    pub count: u64,
    /// `entity.type == "custom"`: any first column can serve as the identifier.
    pub custom: bool,
    pub identifier: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Completed,
    Failed {
        reason: &'static str,
        message: String,
    },
}

pub const INVALID_FORMAT: &str = "invalid_format";
pub const INVALID_FILE_CONTENT: &str = "invalid_file_content";
pub const MISSING_IDENTIFIER: &str = "missing_identifier";

fn failed(reason: &'static str, message: String) -> Verdict {
    Verdict::Failed { reason, message }
}

/// `3` rather than `3.0` for integral numbers, as JavaScript prints them.
fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// Decides the final status. Checks run in this order, the first failure wins: an empty file
/// (`invalid_format`), the byte size (`invalid_file_content`, decided before reading anything), CSV
/// well-formedness (`invalid_format`), the record count (`invalid_file_content`), the identifier
/// column (`missing_identifier`). `read` is only called once the size matched (so at most 50 MB).
pub fn judge(
    actual_size: u64,
    read: impl FnOnce() -> std::io::Result<Vec<u8>>,
    declared: &Declared,
) -> Verdict {
    if actual_size == 0 {
        return failed(INVALID_FORMAT, "The file is empty.".into());
    }
    if actual_size as f64 != declared.size {
        return failed(
            INVALID_FILE_CONTENT,
            format!(
                "The uploaded file is {actual_size} bytes, but the import declared a size of {} bytes.",
                number(declared.size)
            ),
        );
    }
    let data = match read() {
        Ok(d) => d,
        Err(e) => return failed(INVALID_FORMAT, format!("The file could not be read: {e}")),
    };
    let shape = match analyze(&data) {
        Ok(s) => s,
        Err(Malformed(m)) => return failed(INVALID_FORMAT, m),
    };
    if shape.records != declared.count {
        return failed(
            INVALID_FILE_CONTENT,
            format!(
                "The file has {} CSV records (header excluded), but the import declared a count of {}.",
                shape.records, declared.count
            ),
        );
    }
    let columns = shape.headers.len();
    match declared.identifier {
        Some(i) if i >= columns as f64 => failed(
            MISSING_IDENTIFIER,
            format!(
                "csv.identifier is {}, but the file has only {columns} column(s) (indices start at 0).",
                number(i)
            ),
        ),
        Some(_) => Verdict::Completed,
        None if declared.custom => Verdict::Completed,
        None => {
            let found = shape.headers.iter().any(|h| {
                let h = h.trim().to_lowercase();
                IDENTIFIER_HEADERS.contains(&h.as_str())
            });
            if found {
                Verdict::Completed
            } else {
                failed(
                    MISSING_IDENTIFIER,
                    format!(
                        "No identifier column found: name a column {} (any case), or set csv.identifier.",
                        IDENTIFIER_HEADERS.join(", ")
                    ),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(s: &str) -> Shape {
        analyze(s.as_bytes()).unwrap_or_else(|e| panic!("{s:?}: {}", e.0))
    }

    fn malformed(s: &[u8]) -> String {
        analyze(s).expect_err("malformed").0
    }

    #[test]
    fn counts_records_not_lines() {
        let s =
            shape("url,note\nhttps://a.com,\"multi\nline\"\r\nhttps://b.com,\"say \"\"hi\"\"\"\n");
        assert_eq!(s.headers, ["url", "note"]);
        assert_eq!(s.records, 2);
        assert_eq!(shape("url").records, 0);
        assert_eq!(shape("url\n\n\na\n\n").records, 1);
        assert_eq!(shape("a,b\r1,2\r3,4").records, 2);
        assert_eq!(shape("\u{feff}Website,x\n1,2\n").headers, ["Website", "x"]);
        assert_eq!(shape("a,b\n1,\n,\n").records, 2);
        assert_eq!(shape("a\nx\"y\n").records, 1);
        assert_eq!(shape("\"a,b\",c\n1,2\n").headers, ["a,b", "c"]);
    }

    #[test]
    fn rejects_malformed_files() {
        assert_eq!(malformed(b""), "The file is empty.");
        assert_eq!(malformed(b"\xEF\xBB\xBF\n\n"), "The file is empty.");
        assert!(malformed(b"url\n\"abc\n").contains("Unterminated quoted field starting on line 2"));
        assert!(malformed(b"url\n\"a\"b\n").contains("after a closing quote on line 2"));
        assert!(
            malformed(b"a,b\n1,2\n1,2,3\n").contains("Line 3 has 3 field(s) but the header has 2")
        );
        assert!(malformed(b"a,b\n\"x\ny\",2\n1\n").contains("Line 4 has 1"));
        assert!(malformed(b"url\nok\n\xff\n").contains("not valid UTF-8 text (line 3)"));
    }

    fn judged(file: &str, size: f64, count: u64, custom: bool, identifier: Option<f64>) -> Verdict {
        let declared = Declared {
            size,
            count,
            custom,
            identifier,
        };
        judge(
            file.len() as u64,
            || Ok(file.as_bytes().to_vec()),
            &declared,
        )
    }

    fn reason_of(v: Verdict) -> &'static str {
        match v {
            Verdict::Completed => "completed",
            Verdict::Failed { reason, .. } => reason,
        }
    }

    #[test]
    fn verdicts() {
        let f = "name,Website\nAcme,acme.com\n";
        let n = f.len() as f64;
        assert_eq!(judged(f, n, 1, false, None), Verdict::Completed);
        assert_eq!(reason_of(judged("", 1.0, 1, false, None)), INVALID_FORMAT);
        let Verdict::Failed { reason, message } = judged(f, n + 1.0, 1, false, None) else {
            panic!()
        };
        assert_eq!(reason, INVALID_FILE_CONTENT);
        assert!(message.contains(&format!("is {} bytes", f.len())));
        assert!(message.contains(&format!("size of {} bytes", f.len() + 1)));
        let Verdict::Failed { message, .. } = judged(f, n, 2, false, None) else {
            panic!()
        };
        assert!(message.contains("has 1 CSV records") && message.contains("count of 2"));
        let bad = "url\n\"x\n";
        assert_eq!(
            reason_of(judged(bad, bad.len() as f64, 1, false, None)),
            INVALID_FORMAT
        );
        let nourl = "name,email\na,b\n";
        let m = nourl.len() as f64;
        assert_eq!(
            reason_of(judged(nourl, m, 1, false, None)),
            MISSING_IDENTIFIER
        );
        assert_eq!(judged(nourl, m, 1, true, None), Verdict::Completed);
        assert_eq!(judged(nourl, m, 1, false, Some(1.0)), Verdict::Completed);
        assert_eq!(
            reason_of(judged(nourl, m, 1, true, Some(2.0))),
            MISSING_IDENTIFIER
        );
    }
}
