//! Reading a result file (a JSON array of rows, at a presigned URL) as a stream, in constant
//! memory: `dromo.imports.rows()` hands the rows on in batches as they arrive, and `results()`
//! gathers them into one array. Each chunk's bytes are split into elements here
//! (`json_split`); JavaScript parses a batch of whole elements with one `JSON.parse`.
//!
//! A read cut off mid-body (a reset, a stall) is retried like any GET, and resumes: with a
//! `Range` request from the end of the last complete row when the storage honours it (S3 does),
//! otherwise from the start, skipping the rows already delivered. A row is never delivered twice
//! or lost. A read that made progress starts its retry count afresh, so a long download survives
//! any number of spaced-out resets.

use crate::prelude::*;
use js_sys::{Array, Function, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use web_sys::{AbortSignal, Headers};

use crate::error::{Error, Kind, Result};
use crate::http::{self, Reply};
use crate::js::get;
use crate::json_split::{ArraySplitter, SplitError};
use crate::opts::CallOptions;
use crate::redact::redact_url;
use crate::retry::{Hints, Op};
use crate::task::settled;
use crate::text::uint;
use crate::timer::sleep;

#[wasm_bindgen(module = "/src/js/net.js")]
extern "C" {
    /// Resolves the next chunk (`undefined` at the end); rejects like `exchange`.
    #[wasm_bindgen(js_name = readChunk)]
    fn read_chunk(reader: &JsValue, idle_ms: f64, signal: Option<&AbortSignal>) -> Promise;
    /// Parses whole elements: the rows, or (with `into`) how many were pushed onto it.
    #[wasm_bindgen(js_name = parseRows, catch)]
    fn parse_rows(bytes: &[u8], into: Option<&Array>) -> core::result::Result<JsValue, JsValue>;
    /// Stops an unread body (closing its connection).
    fn cancel(reader: &JsValue);
    /// A signal that fires when either does.
    fn either(a: Option<&AbortSignal>, b: &AbortSignal) -> AbortSignal;
}

/// The sink of a `rows()` call and its options, from what pkg/rows.js passes: `{ sink, stop }`,
/// `stop` being the stream's own signal (the consumer left), which the download heeds as it does
/// the caller's.
pub fn streamed(control: &JsValue, mut opts: CallOptions) -> Result<(Function, CallOptions)> {
    let sink = get(control, "sink").dyn_into::<Function>();
    let stop = get(control, "stop").dyn_into::<AbortSignal>();
    let (Ok(sink), Ok(stop)) = (sink, stop) else {
        return Err(crate::unknown_op(crate::op::ROWS));
    };
    let signal = either(opts.signal.as_ref(), &stop);
    // pkg/rows.js stops handing out a batch's rows the moment it fires.
    crate::js::set(control.unchecked_ref(), "signal", &signal);
    opts.signal = Some(signal);
    Ok((sink, opts))
}

/// Where the rows go.
pub enum Sink<'a> {
    /// Onto one array (`results()`).
    Collect(&'a Array),
    /// To `(rows) => Promise<boolean>` (pkg/rows.js): it resolves once the consumer wants more,
    /// `false` when it stopped (a `for await` loop left early).
    Stream(&'a Function),
}

/// The most a single row may take (its JSON): a body whose row never ends (or a result that is
/// not rows) is refused before it exhausts memory.
pub const MAX_ROW_BYTES: usize = 64 << 20;

/// Downloads the result at `url` into `sink`, continuing what `r` already read (from an earlier
/// URL of the same result, which expired); resolves how many rows were delivered in all.
pub async fn read(
    r: &mut Reader<'_>,
    url: &str,
    signal: Option<&AbortSignal>,
    fetch: Option<&Function>,
    timeout_ms: f64,
    max_retries: u32,
    sink: &Sink<'_>,
) -> Result<u64> {
    let shown = redact_url(url);
    let mut attempt = 0;
    loop {
        let from = r.splitter.resume_offset();
        let headers = r.range_from(from)?;
        let req = http::Request {
            method: "GET",
            url,
            headers: &headers,
            body: None,
            timeout_ms,
            signal,
            fetch,
            follow: true,
            secret: None,
            stream: true,
        };
        let (error, reply) = match http::send(req).await {
            Ok(reply) if (200..300).contains(&reply.status) => {
                match r.restart(&reply, from) {
                    Ok(true) => {}
                    // Another part (or another version) of the file: read it all again.
                    Ok(false) => {
                        cancel(&reply.reader);
                        continue;
                    }
                    Err(e) => {
                        cancel(&reply.reader);
                        return Err(about(e, &shown));
                    }
                }
                r.answered = true;
                let before = r.delivered;
                let result = pump(&req, &reply.reader, r, sink).await;
                cancel(&reply.reader);
                match result {
                    Ok(()) => return Ok(r.delivered),
                    // The retry policy below gives up on what is final (an abort, a file that
                    // changed under the read). A read that made progress starts its retries afresh.
                    Err(e) => {
                        if r.delivered > before {
                            attempt = 0;
                        }
                        (about(e, &shown), None)
                    }
                }
            }
            Ok(reply) => (storage_error(&reply, &shown), Some(reply)),
            Err(e) => (e, None),
        };
        let hints = Hints::from(|h| reply.as_ref().and_then(|r| r.header(h)));
        let Some(wait) = error.retry_in(Op::Read, attempt, max_retries, &hints) else {
            return Err(error);
        };
        sleep(wait, signal).await?;
        attempt += 1;
    }
}

/// Reads one answer's body to its end, handing each chunk's complete rows to the sink. A
/// `Stream` sink that says stop ends the read early, as a success.
async fn pump(
    req: &http::Request<'_>,
    reader: &JsValue,
    r: &mut Reader<'_>,
    sink: &Sink<'_>,
) -> Result<()> {
    loop {
        let chunk = if reader.is_undefined() {
            // No body at all (a 204): the end, which `take` judges.
            JsValue::UNDEFINED
        } else {
            settled(read_chunk(reader, req.timeout_ms, req.signal))
                .await
                .map_err(|f| http::failed(req, f, "Download stalled: no data for "))?
        };
        let Some(rows) = r.take(&chunk)? else {
            return Ok(());
        };
        if let (Sink::Stream(f), false) = (sink, rows.is_undefined()) {
            let more = f
                .call1(&JsValue::UNDEFINED, &rows)
                .map_or(JsValue::FALSE, |p| p);
            if !settled(more.unchecked_into())
                .await
                .is_ok_and(|m| m.is_truthy())
            {
                return Ok(());
            }
        }
    }
}

/// The state of a download across its answers (and across result URLs, when one expires):
/// where the splitter is, the bytes not yet made into rows, and how many rows went out.
pub struct Reader<'a> {
    splitter: ArraySplitter,
    /// The bytes from `pending_at` on not yet delivered: at most a cut-off row and a chunk.
    pending: Vec<u8>,
    pending_at: u64,
    ranges: Vec<(u64, u64)>,
    /// Rows the current answer repeats (a read from the start after rows went out).
    skip: u64,
    delivered: u64,
    /// `results()`'s array; rows for a stream are returned instead.
    collect: Option<&'a Array>,
    /// Whether the storage answered a `Range` request with the part asked for.
    ranges_work: bool,
    /// The file's `ETag` as first read: a later answer with another is another file.
    etag: Option<String>,
    /// Whether a URL of this result has answered 2xx: a 403 afterwards means it expired.
    pub answered: bool,
}

impl<'a> Reader<'a> {
    /// A reader for `sink` (`results()` collects onto its array; a stream gets batches).
    pub fn new(sink: &Sink<'a>) -> Self {
        let collect = match sink {
            Sink::Collect(all) => Some(*all),
            Sink::Stream(_) => None,
        };
        Reader {
            splitter: ArraySplitter::new(),
            pending: Vec::new(),
            pending_at: 0,
            ranges: Vec::new(),
            skip: 0,
            delivered: 0,
            collect,
            ranges_work: true,
            etag: None,
            answered: false,
        }
    }

    /// The headers of the next request: a `Range` from `from` when resuming there may work.
    fn range_from(&self, from: u64) -> Result<JsValue> {
        if from == 0 || !self.ranges_work {
            return Ok(JsValue::UNDEFINED);
        }
        let h =
            Headers::new().map_err(|_| Error::new(Kind::Connection, "Headers is not available"))?;
        let _ = h.set("Range", &["bytes=", &uint(from), "-"].concat());
        Ok(h.into())
    }

    /// Gets ready to read a 2xx answer to a request that asked for the file from `from`: a 206
    /// that continues it, or the whole file (whose first rows, delivered already, are skipped).
    /// `Ok(false)` for a 206 that is some other part or version: ask again without `Range`. An
    /// error when the whole file came back changed after rows went out: they cannot be unsaid.
    fn restart(&mut self, reply: &Reply, from: u64) -> Result<bool> {
        self.pending.clear();
        let etag = reply.header("etag");
        if reply.status == 206 && from > 0 {
            if !resumes_at(reply, from, self.etag.as_deref()) {
                self.ranges_work = false;
                self.splitter = ArraySplitter::new();
                return Ok(false);
            }
            self.splitter = ArraySplitter::resumed_at(from);
            self.skip = 0;
        } else {
            if self.delivered > 0 && self.etag.is_some() && etag.is_some() && etag != self.etag {
                return Err(changed());
            }
            self.splitter = ArraySplitter::new();
            self.skip = self.delivered;
            if self.etag.is_none() {
                self.etag = etag;
            }
        }
        self.pending_at = self.splitter.resume_offset();
        Ok(true)
    }

    /// Takes the next chunk (`undefined` at the end of the body): `None` at the end, else the
    /// rows it completed for a stream (`undefined` when there are none to hand on, or when they
    /// went onto `results()`'s array).
    fn take(&mut self, chunk: &JsValue) -> Result<Option<JsValue>> {
        if chunk.is_undefined() {
            self.splitter.finish().map_err(not_an_array)?;
            if self.skip > 0 {
                // Read again from the start, the file holds fewer rows than went out already.
                return Err(changed());
            }
            return Ok(None);
        }
        let chunk: &Uint8Array = chunk.unchecked_ref();
        let old = self.pending.len();
        self.pending.resize(old + chunk.length() as usize, 0);
        chunk.copy_to(&mut self.pending[old..]);
        self.ranges.clear();
        self.splitter
            .feed(&self.pending[old..], &mut self.ranges)
            .map_err(not_an_array)?;
        let Some(&(_, last_end)) = self.ranges.last() else {
            if self.pending.len() > MAX_ROW_BYTES {
                return Err(too_big());
            }
            return Ok(Some(JsValue::UNDEFINED));
        };
        let n = self.ranges.len() as u64;
        let mut rows = JsValue::UNDEFINED;
        if self.skip < n {
            let first = self.ranges[self.skip as usize].0;
            let bytes = &self.pending
                [(first - self.pending_at) as usize..(last_end - self.pending_at) as usize];
            rows = parse_rows(bytes, self.collect).map_err(bad_rows)?;
            self.delivered += n - self.skip;
            if self.collect.is_some() {
                rows = JsValue::UNDEFINED;
            }
        }
        self.skip = self.skip.saturating_sub(n);
        // Keep only what follows the last complete row (`drain` costs far more code).
        let used = (last_end - self.pending_at) as usize;
        self.pending.copy_within(used.., 0);
        self.pending.truncate(self.pending.len() - used);
        self.pending_at = last_end;
        if self.pending.len() > MAX_ROW_BYTES {
            return Err(too_big());
        }
        Ok(Some(rows))
    }
}

/// Whether a 206 answer is the rest of the same file from `from` (when it says: a browser only
/// shows these headers if the storage exposes them).
fn resumes_at(reply: &Reply, from: u64, etag: Option<&str>) -> bool {
    let start_fits = reply.header("content-range").is_none_or(|range| {
        range
            .strip_prefix("bytes ")
            .and_then(|r| r.split('-').next())
            .is_some_and(|start| start == uint(from))
    });
    let same_file = match (etag, reply.header("etag")) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    start_fits && same_file
}

/// Names the download in what the body's reading found wrong (read failures name it already).
fn about(mut e: Error, shown: &str) -> Error {
    if e.code == Some("invalid_response") {
        e.message = [e.message.trim_end_matches('.'), " (GET ", shown, ")."].concat();
    }
    e
}

#[inline(never)]
fn not_an_array(e: SplitError) -> Error {
    let (what, at) = e.describe();
    let at = at
        .map(|b| [" at byte ", &uint(b)].concat())
        .unwrap_or_default();
    let mut e = Error::new(
        Kind::Api,
        ["Result file is not a JSON array of rows: ", what, &at, "."].concat(),
    );
    // Retried like any answer cut off mid-body (`retry::Failure::BadBody`).
    e.code = Some("invalid_response");
    e
}

/// The file changed between two reads of it, after rows went out: nothing can make the rows
/// already delivered agree with it, so the read stops (`Final`: not retried).
#[inline(never)]
fn changed() -> Error {
    Error::new(
        Kind::Api,
        "The result file changed while it was read (another ETag, or fewer rows than were already delivered): read it again from the start.",
    )
}

/// A row that never ends (or a body that is not rows), refused before it exhausts memory.
#[inline(never)]
fn too_big() -> Error {
    let mut e = Error::new(
        Kind::Api,
        "Result file holds a row larger than 64 MiB (or is not rows at all).",
    );
    e.code = Some("invalid_response");
    e
}

#[inline(never)]
fn bad_rows(cause: JsValue) -> Error {
    let mut e = Error::new(
        Kind::Api,
        "Result file holds rows that are not valid JSON (or not UTF-8).",
    );
    e.code = Some("invalid_response");
    e.cause = Some(crate::error::safe_cause(cause, None));
    e
}

/// A storage answer that is not 2xx: its S3 error code when it has one.
#[inline(never)]
fn storage_error(reply: &Reply, shown: &str) -> Error {
    let text = redact_url(&String::from(reply.text.clone()));
    let detail =
        crate::upload::xml_tag(&text, "Code").unwrap_or_else(|| crate::redact::snippet(&text, 200));
    let mut e = Error::new(
        Kind::Api,
        [
            &uint(reply.status.into()),
            " ",
            &detail,
            " downloading results (GET ",
            shown,
            ").",
        ]
        .concat(),
    );
    e.status = Some(reply.status);
    e
}
