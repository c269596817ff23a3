//! Turns an uploaded CSV, TSV, XLSX or XLS file (or `initial_data` rows) into Dromo's cleaned result
//! rows, for real: header mapping, type coercion and validators decide between SUCCESSFUL,
//! NEEDS_REVIEW and FAILED, so client suites can reach every outcome with ordinary input instead of
//! canned switches.
//!
//! Runs on a background thread and streams in both directions: benchmarks push files far larger than
//! anyone wants held as `serde_json::Value`s.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

use calamine::{Data, Reader, Sheet, SheetType, SheetVisible, Xls, Xlsx};
use serde_json::{json, Map, Value};

use super::cells::{check_cell, Field, Out};

/// Dromo's error list is for people; a hundred entries is plenty and keeps responses small.
pub const MAX_REPORTED_ERRORS: usize = 100;

/// `settings.invalidDataBehavior`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    BlockSubmit,
    IncludeInvalidRows,
    RemoveInvalidRows,
    IncludeInvalidRowsAndValues,
}

impl Behavior {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "BLOCK_SUBMIT" => Behavior::BlockSubmit,
            "INCLUDE_INVALID_ROWS" => Behavior::IncludeInvalidRows,
            "REMOVE_INVALID_ROWS" => Behavior::RemoveInvalidRows,
            "INCLUDE_INVALID_ROWS_AND_VALUES" => Behavior::IncludeInvalidRowsAndValues,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Behavior::BlockSubmit => "BLOCK_SUBMIT",
            Behavior::IncludeInvalidRows => "INCLUDE_INVALID_ROWS",
            Behavior::RemoveInvalidRows => "REMOVE_INVALID_ROWS",
            Behavior::IncludeInvalidRowsAndValues => "INCLUDE_INVALID_ROWS_AND_VALUES",
        }
    }
}

/// Everything processing needs from the (merged) schema.
#[derive(Debug, Clone)]
pub struct Plan {
    pub fields: Vec<Field>,
    pub behavior: Behavior,
    pub max_records: Option<u64>,
}

pub enum Input {
    Csv(PathBuf),
    /// Tab-separated, as a `.tsv` file name says.
    Tsv(PathBuf),
    /// An `.xlsx` or `.xls` file: its first worksheet.
    Sheet(PathBuf),
    /// A file the emulator will not read, and why (the import becomes FAILED with it).
    Unreadable(String),
    Rows(Vec<Map<String, Value>>),
}

impl Input {
    /// The uploaded file at `path`, read as its `original_filename` says: Dromo takes CSV, TSV,
    /// XLS and XLSX.
    pub fn file(path: PathBuf, original_filename: Option<&str>) -> Input {
        let name = original_filename.unwrap_or_default().to_ascii_lowercase();
        let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
        match ext {
            "tsv" | "tab" => Input::Tsv(path),
            // .xlsm and .ods stay unsupported: Dromo reads them only on request (its FAQ), and the
            // library refuses those names before any request.
            "xls" | "xlsx" => Input::Sheet(path),
            "" | "csv" | "txt" => Input::Csv(path),
            other => Input::Unreadable(format!(
                "Unsupported file type .{other}: Dromo imports CSV, TSV, XLS and XLSX files."
            )),
        }
    }

    /// The uploaded file, if the import has one.
    pub fn path(&self) -> Option<&PathBuf> {
        match self {
            Input::Csv(p) | Input::Tsv(p) | Input::Sheet(p) => Some(p),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Successful,
    NeedsReview,
    Failed,
}

impl Verdict {
    pub fn status(self) -> &'static str {
        match self {
            Verdict::Successful => "SUCCESSFUL",
            Verdict::NeedsReview => "NEEDS_REVIEW",
            Verdict::Failed => "FAILED",
        }
    }
}

#[derive(Debug)]
pub struct Outcome {
    pub verdict: Verdict,
    /// `import_errors`: `None` when there is nothing to report.
    pub errors: Option<Vec<Value>>,
    pub metadata: Option<Value>,
    /// The result rows as a JSON array file. For NEEDS_REVIEW it holds what a reviewer who accepted
    /// everything as-is would submit, so the control endpoint can "complete the review".
    pub result: Option<PathBuf>,
}

/// Processes `input` and writes the result array to `out`.
pub fn run(plan: &Plan, input: Input, out: &Path) -> Outcome {
    let summary = match input {
        Input::Csv(path) => run_csv(plan, &path, out, b','),
        Input::Tsv(path) => run_csv(plan, &path, out, b'\t'),
        Input::Sheet(path) => run_sheet(plan, &path, out),
        Input::Unreadable(why) => Err(Fatal(why)),
        Input::Rows(rows) => run_rows(plan, &rows, out),
    };
    match summary {
        Ok(s) => s.into_outcome(plan, out),
        Err(Fatal(message)) => {
            let _ = std::fs::remove_file(out);
            Outcome {
                verdict: Verdict::Failed,
                errors: Some(vec![json!({ "message": message })]),
                metadata: None,
                result: None,
            }
        }
    }
}

/// An unrecoverable problem: the import becomes FAILED with this message.
struct Fatal(String);

impl From<io::Error> for Fatal {
    fn from(e: io::Error) -> Self {
        Fatal(format!("The file could not be processed: {e}"))
    }
}

#[derive(Default)]
struct Problems {
    list: Vec<Value>,
    total: usize,
    unmapped_required: bool,
}

impl Problems {
    /// Builds the entry only while under the cap: a bad gigabyte has millions of problems.
    fn push(&mut self, problem: impl FnOnce() -> Value) {
        self.total += 1;
        if self.list.len() < MAX_REPORTED_ERRORS {
            self.list.push(problem());
        }
    }
}

struct Summary {
    input_rows: u64,
    written_rows: u64,
    invalid_rows: u64,
    mapped_columns: Map<String, Value>,
    problems: Problems,
}

impl Summary {
    fn into_outcome(self, plan: &Plan, out: &Path) -> Outcome {
        let needs_review = self.problems.unmapped_required
            || (self.invalid_rows > 0 && plan.behavior == Behavior::BlockSubmit);
        let verdict = if needs_review {
            Verdict::NeedsReview
        } else {
            Verdict::Successful
        };
        let metadata = json!({
            "num_data_rows": self.written_rows,
            "num_input_rows": self.input_rows,
            "num_invalid_rows": self.invalid_rows,
            "num_errors": self.problems.total,
            "invalid_data_behavior": plan.behavior.name(),
            "mapped_columns": self.mapped_columns,
        });
        Outcome {
            verdict,
            errors: (needs_review && !self.problems.list.is_empty()).then_some(self.problems.list),
            metadata: Some(metadata),
            result: Some(out.to_path_buf()),
        }
    }
}

fn normalize(s: &str) -> String {
    s.trim().to_lowercase()
}

/// Maps header columns to fields: key or label first, then `alternateMatches`, each column used once,
/// so an alternate name never steals a column that names another field exactly.
fn map_headers(fields: &[Field], headers: &[String]) -> (Vec<Option<usize>>, Map<String, Value>) {
    let mut column_of = vec![None; fields.len()];
    let mut used = vec![false; headers.len()];
    for pass in 0..2 {
        for (col, header) in headers.iter().enumerate() {
            let name = normalize(header);
            if used[col] || name.is_empty() {
                continue;
            }
            let hit = fields.iter().enumerate().position(|(i, f)| {
                column_of[i].is_none()
                    && if pass == 0 {
                        normalize(&f.key) == name || normalize(&f.label) == name
                    } else {
                        f.alternate_matches.iter().any(|a| normalize(a) == name)
                    }
            });
            if let Some(i) = hit {
                column_of[i] = Some(col);
                used[col] = true;
            }
        }
    }
    let mut mapped = Map::new();
    for (col, header) in headers.iter().enumerate() {
        if let Some(i) = column_of.iter().position(|c| *c == Some(col)) {
            mapped.insert(header.clone(), Value::String(fields[i].key.clone()));
        }
    }
    (column_of, mapped)
}

/// Streams `[row,row,...]` to the result file.
struct ResultWriter {
    out: BufWriter<File>,
    /// `"key":` per field, serialized once.
    keys: Vec<Vec<u8>>,
    rows: u64,
}

impl ResultWriter {
    fn create(path: &Path, fields: &[Field]) -> io::Result<Self> {
        let mut out = BufWriter::with_capacity(1 << 16, File::create(path)?);
        out.write_all(b"[")?;
        let keys = fields
            .iter()
            .map(|f| {
                let mut k = serde_json::to_vec(&f.key).expect("string serializes");
                k.push(b':');
                k
            })
            .collect();
        Ok(ResultWriter { out, keys, rows: 0 })
    }

    fn row(&mut self, values: &[Out]) -> io::Result<()> {
        self.out
            .write_all(if self.rows > 0 { b",{" } else { b"{" })?;
        for (i, (key, value)) in self.keys.iter().zip(values).enumerate() {
            if i > 0 {
                self.out.write_all(b",")?;
            }
            self.out.write_all(key)?;
            match value {
                Out::Null => self.out.write_all(b"null")?,
                Out::Str(s) => serde_json::to_writer(&mut self.out, s)?,
                Out::Json(v) => serde_json::to_writer(&mut self.out, v)?,
            }
        }
        self.out.write_all(b"}")?;
        self.rows += 1;
        Ok(())
    }

    fn finish(mut self) -> io::Result<u64> {
        self.out.write_all(b"]")?;
        self.out.flush()?;
        Ok(self.rows)
    }
}

/// Validates rows one at a time; `unique` remembers the first row of each value, so later duplicates
/// are the invalid ones (one pass, bounded memory per distinct value).
struct Checker<'a> {
    plan: &'a Plan,
    seen: Vec<HashMap<String, u64>>,
    invalid_rows: u64,
    writer: ResultWriter,
}

impl<'a> Checker<'a> {
    fn new(plan: &'a Plan, out: &Path) -> io::Result<Self> {
        Ok(Checker {
            plan,
            seen: vec![HashMap::new(); plan.fields.len()],
            invalid_rows: 0,
            writer: ResultWriter::create(out, &plan.fields)?,
        })
    }

    /// `cells[i]` is the raw value for field `i`, `None` when the field has no column / key.
    fn row(&mut self, row: u64, cells: &[Option<&str>], problems: &mut Problems) -> io::Result<()> {
        let mut values = Vec::with_capacity(cells.len());
        let mut invalid = false;
        for (i, field) in self.plan.fields.iter().enumerate() {
            let raw = cells[i];
            match check_cell(field, raw, &mut self.seen[i], row) {
                Ok(v) => values.push(v),
                Err(why) => {
                    invalid = true;
                    problems.push(
                        || json!({ "row": row, "field": field.key, "message": why.message(field) }),
                    );
                    values.push(match (self.plan.behavior, raw) {
                        (Behavior::IncludeInvalidRows, _) | (_, None) => Out::Null,
                        (_, Some(raw)) => Out::Str(raw),
                    });
                }
            }
        }
        if invalid {
            self.invalid_rows += 1;
            if self.plan.behavior == Behavior::RemoveInvalidRows {
                return Ok(());
            }
        }
        self.writer.row(&values)
    }
}

/// What every file type shares once its header row is read: header mapping, then each record through
/// the checks into the result file. The readers differ only in how they find a record's cells.
struct Feed<'a> {
    plan: &'a Plan,
    column_of: Vec<Option<usize>>,
    mapped_columns: Map<String, Value>,
    problems: Problems,
    checker: Checker<'a>,
    rows: u64,
}

impl<'a> Feed<'a> {
    fn new(plan: &'a Plan, headers: &[String], out: &Path) -> Result<Self, Fatal> {
        let (column_of, mapped_columns) = map_headers(&plan.fields, headers);
        let mut problems = Problems::default();
        for (field, column) in plan.fields.iter().zip(&column_of) {
            if column.is_none() && field.must_be_mapped() {
                problems.unmapped_required = true;
                problems.push(|| {
                    json!({
                        "field": field.key,
                        "message": format!("No column could be matched to the required field \"{}\".", field.label),
                    })
                });
            }
        }
        Ok(Feed {
            plan,
            column_of,
            mapped_columns,
            problems,
            checker: Checker::new(plan, out)?,
            rows: 0,
        })
    }

    /// One data record; `cell(c)` is the text of column `c` (counted as in the header row).
    fn record<'r>(&mut self, cell: impl Fn(usize) -> Option<&'r str>) -> Result<(), Fatal> {
        self.rows += 1;
        if let Some(max) = self.plan.max_records.filter(|max| self.rows > *max) {
            return Err(too_many(max));
        }
        let cells: Vec<Option<&str>> = self.column_of.iter().map(|c| c.and_then(&cell)).collect();
        Ok(self.checker.row(self.rows, &cells, &mut self.problems)?)
    }

    fn finish(self) -> Result<Summary, Fatal> {
        if self.rows == 0 {
            return Err(Fatal("The file has a header row but no data rows.".into()));
        }
        let invalid_rows = self.checker.invalid_rows;
        let written_rows = self.checker.writer.finish()?;
        Ok(Summary {
            input_rows: self.rows,
            written_rows,
            invalid_rows,
            mapped_columns: self.mapped_columns,
            problems: self.problems,
        })
    }
}

fn too_many(max: u64) -> Fatal {
    Fatal(format!(
        "The import has more than {max} rows, the maximum allowed by maxRecords."
    ))
}

/// A delimited file: CSV (`,`) or TSV (`\t`), RFC 4180 quoting either way.
fn run_csv(plan: &Plan, path: &Path, out: &Path, delimiter: u8) -> Result<Summary, Fatal> {
    let file = File::open(path)?;
    if file.metadata()?.len() == 0 {
        return Err(Fatal("The file is empty.".into()));
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(false)
        .from_reader(BufReader::with_capacity(1 << 16, file));
    let mut record = csv::ByteRecord::new();
    if !reader.read_byte_record(&mut record).map_err(csv_fatal)? {
        return Err(Fatal("The file is empty.".into()));
    }
    let mut headers = Vec::with_capacity(record.len());
    for (i, cell) in record.iter().enumerate() {
        let cell = match (i, cell) {
            (0, [0xEF, 0xBB, 0xBF, rest @ ..]) => rest,
            (_, cell) => cell,
        };
        let header = std::str::from_utf8(cell).map_err(|_| not_utf8(1))?;
        headers.push(header.to_string());
    }
    let mut feed = Feed::new(plan, &headers, out)?;
    // StringRecord validates UTF-8 once per record (csv_fatal reports where it failed).
    let mut record = csv::StringRecord::from_byte_record(record).unwrap_or_default();
    while reader.read_record(&mut record).map_err(csv_fatal)? {
        feed.record(|c| record.get(c))?;
    }
    feed.finish()
}

fn not_utf8(line: u64) -> Fatal {
    Fatal(format!(
        "The file is not valid UTF-8 text (line {line}); only UTF-8 CSV files can be imported."
    ))
}

fn csv_fatal(e: csv::Error) -> Fatal {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => Fatal(format!(
            "The file could not be parsed as CSV: line {} has {len} columns but the header has {expected_len}.",
            pos.as_ref().map_or(0, |p| p.line())
        )),
        csv::ErrorKind::Utf8 { pos, .. } => not_utf8(pos.as_ref().map_or(0, |p| p.line())),
        _ => Fatal(format!("The file could not be parsed as CSV: {e}")),
    }
}

/// Excel's own limit (XFD); a cell reference past it is a broken file, not a reason to allocate.
const MAX_SHEET_COLUMNS: usize = 16_384;

/// The first worksheet of an XLSX or XLS file. The bytes pick the reader, not the name: a legacy
/// `.xls` saved as `.xlsx` (or the reverse) is common and opens in Excel. An XLSX sheet is streamed
/// cell by cell, so memory holds one row plus the shared strings; an XLS sheet is loaded whole, which
/// the format bounds (65,536 rows of 256 columns).
fn run_sheet(plan: &Plan, path: &Path, out: &Path) -> Result<Summary, Fatal> {
    let mut file = File::open(path)?;
    let mut magic = Vec::with_capacity(4);
    Read::by_ref(&mut file).take(4).read_to_end(&mut magic)?;
    if magic.is_empty() {
        return Err(Fatal("The file is empty.".into()));
    }
    file.rewind()?;
    let reader = BufReader::with_capacity(1 << 16, file);
    let mut rows = SheetRows {
        plan,
        out,
        feed: None,
    };
    match magic[..] {
        [b'P', b'K', 3, 4] => read_xlsx(reader, &mut rows)?,
        [0xD0, 0xCF, 0x11, 0xE0] => read_xls(reader, &mut rows)?,
        _ => {
            return Err(Fatal(
                "The file is not an XLSX or XLS spreadsheet, though its name says so (it does not start like one).".into(),
            ))
        }
    }
    match rows.feed {
        Some(feed) => feed.finish(),
        None => Err(Fatal("The spreadsheet's first worksheet is empty.".into())),
    }
}

/// Rows of a worksheet into the shared [`Feed`]: the first row with any value is the header; rows
/// with no value at all are skipped, as blank lines are in CSV.
struct SheetRows<'a> {
    plan: &'a Plan,
    out: &'a Path,
    feed: Option<Feed<'a>>,
}

impl SheetRows<'_> {
    fn row(&mut self, cells: &[String]) -> Result<(), Fatal> {
        if cells.iter().all(String::is_empty) {
            return Ok(());
        }
        match &mut self.feed {
            // A cell the row does not reach is an empty cell, as the spreadsheet shows it.
            Some(feed) => feed.record(|c| Some(cells.get(c).map_or("", String::as_str))),
            None => {
                self.feed = Some(Feed::new(self.plan, cells, self.out)?);
                Ok(())
            }
        }
    }
}

fn not_a_sheet(kind: &str, e: impl std::fmt::Display) -> Fatal {
    Fatal(format!(
        "The file could not be read as an {kind} spreadsheet: {e}"
    ))
}

/// The first visible worksheet (chart and macro sheets have no rows), else the first worksheet.
fn first_worksheet(sheets: &[Sheet]) -> Option<String> {
    let worksheets = || sheets.iter().filter(|s| s.typ == SheetType::WorkSheet);
    worksheets()
        .find(|s| s.visible == SheetVisible::Visible)
        .or_else(|| worksheets().next())
        .map(|s| s.name.clone())
}

fn read_xlsx<RS: Read + Seek>(reader: RS, rows: &mut SheetRows) -> Result<(), Fatal> {
    let kind = "XLSX";
    let mut book: Xlsx<RS> = Xlsx::new(reader).map_err(|e| not_a_sheet(kind, e))?;
    let name = first_worksheet(book.sheets_metadata())
        .ok_or_else(|| Fatal("The spreadsheet has no worksheet.".into()))?;
    let mut cells = book
        .worksheet_cells_reader(&name)
        .map_err(|e| not_a_sheet(kind, e))?;
    let mut line: Vec<String> = Vec::new();
    let mut current = None;
    while let Some(cell) = cells.next_cell().map_err(|e| not_a_sheet(kind, e))? {
        let (row, col) = cell.get_position();
        if current != Some(row) {
            if current.is_some() {
                rows.row(&line)?;
            }
            line.clear();
            current = Some(row);
        }
        let col = col as usize;
        if col >= MAX_SHEET_COLUMNS {
            return Err(not_a_sheet(
                kind,
                format!("a cell lies past column {MAX_SHEET_COLUMNS}"),
            ));
        }
        if line.len() <= col {
            line.resize(col + 1, String::new());
        }
        line[col] = cell_text(&Data::from(cell.get_value().clone()));
    }
    if current.is_some() {
        rows.row(&line)?;
    }
    Ok(())
}

fn read_xls<RS: Read + Seek>(reader: RS, rows: &mut SheetRows) -> Result<(), Fatal> {
    let kind = "XLS";
    let mut book: Xls<RS> = Xls::new(reader).map_err(|e| not_a_sheet(kind, e))?;
    let name = first_worksheet(book.sheets_metadata())
        .ok_or_else(|| Fatal("The spreadsheet has no worksheet.".into()))?;
    let range = book
        .worksheet_range(&name)
        .map_err(|e| not_a_sheet(kind, e))?;
    for row in range.rows() {
        let line: Vec<String> = row.iter().map(cell_text).collect();
        rows.row(&line)?;
    }
    Ok(())
}

/// A cell as the text a spreadsheet user would type for it: integers without ".0", other numbers
/// in their shortest decimal form at Excel's 15 significant digits (0.1 + 0.2 reads "0.3", as
/// Excel shows it), booleans `true`/`false`, dates and times ISO 8601. An error cell (`#N/A`,
/// `#DIV/0!`) reads as empty: it holds no value, so a required field reports it like any blank.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty | Data::Error(_) => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => number_text(*f),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) if dt.is_duration() => duration_text(dt.as_f64()),
        Data::DateTime(dt) => {
            let (y, mo, d, h, mi, s, ms) = dt.to_ymd_hms_milli();
            let time = match ms {
                0 => format!("{h:02}:{mi:02}:{s:02}"),
                ms => format!("{h:02}:{mi:02}:{s:02}.{ms:03}"),
            };
            if dt.as_f64().abs() < 1.0 {
                time // a time of day: Excel's day 0 is no real date
            } else if (h, mi, s, ms) == (0, 0, 0, 0) {
                format!("{y:04}-{mo:02}-{d:02}")
            } else {
                format!("{y:04}-{mo:02}-{d:02}T{time}")
            }
        }
    }
}

fn number_text(f: f64) -> String {
    if !f.is_finite() {
        return f.to_string();
    }
    // Round to 15 significant digits, then print the shortest decimal that reads back as that.
    let rounded: f64 = format!("{f:.14e}").parse().unwrap_or(f);
    if rounded == 0.0 {
        "0".into() // not "-0"
    } else {
        rounded.to_string()
    }
}

/// A duration cell (`[h]:mm:ss`) as Excel shows it, hours unbounded.
fn duration_text(days: f64) -> String {
    let ms = (days.abs() * 86_400_000.0).round() as u64;
    let sign = if days < 0.0 && ms > 0 { "-" } else { "" };
    let (h, m, s, ms) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    match ms {
        0 => format!("{sign}{h}:{m:02}:{s:02}"),
        ms => format!("{sign}{h}:{m:02}:{s:02}.{ms:03}"),
    }
}

fn run_rows(plan: &Plan, rows: &[Map<String, Value>], out: &Path) -> Result<Summary, Fatal> {
    if rows.is_empty() {
        return Err(Fatal("initial_data contains no rows.".into()));
    }
    if let Some(max) = plan.max_records.filter(|m| rows.len() as u64 > *m) {
        return Err(too_many(max));
    }
    // Rows are keyed by field key; a label (any case) is accepted too, as the Dromo SDKs allow.
    let mut by_key: HashMap<&str, usize> = HashMap::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for (i, f) in plan.fields.iter().enumerate() {
        by_key.entry(f.key.as_str()).or_insert(i);
        by_name.entry(normalize(&f.key)).or_insert(i);
        by_name.entry(normalize(&f.label)).or_insert(i);
    }
    let mut mapped_columns = Map::new();
    let mut problems = Problems::default();
    let mut checker = Checker::new(plan, out)?;
    let mut texts: Vec<Option<String>> = vec![None; plan.fields.len()];
    for (n, row) in rows.iter().enumerate() {
        texts.iter_mut().for_each(|t| *t = None);
        for (name, value) in row {
            let Some(&i) = by_key
                .get(name.as_str())
                .or_else(|| by_name.get(&normalize(name)))
            else {
                continue;
            };
            if texts[i].is_some() && name != &plan.fields[i].key {
                continue;
            }
            if !mapped_columns.contains_key(name) {
                mapped_columns.insert(name.clone(), Value::String(plan.fields[i].key.clone()));
            }
            texts[i] = match value {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Number(num) => Some(num.to_string()),
                other => Some(other.to_string()),
            };
        }
        let cells: Vec<Option<&str>> = texts.iter().map(|t| t.as_deref()).collect();
        checker.row(n as u64 + 1, &cells, &mut problems)?;
    }
    let invalid_rows = checker.invalid_rows;
    let written_rows = checker.writer.finish()?;
    Ok(Summary {
        input_rows: rows.len() as u64,
        written_rows,
        invalid_rows,
        mapped_columns,
        problems,
    })
}

#[cfg(test)]
#[path = "process_tests.rs"]
mod tests;
