//! Bulk imports that survive a crash (`importFiles` with a `journal`, the CLI's `--journal`): what
//! to do next for one file, given what the journal recorded about it and what the API answered.
//! Pure: `pkg/bulk.js` reads and appends the journal, sends the requests and asks here after each
//! answer, so every rule of resuming is in [`next_for`] and tested natively below. Server-side (the
//! `server` build, Node's): a page has no files to journal, and no browser build carries this.
//!
//! A file's journal is a sequence of records, each appended (and fsynced) before the step it
//! announces or right after the step it confirms:
//! `intent` (right before the create request is sent, once its rate-limit slot is granted: its
//! marker and time) -> `created` (the id, as soon as the API gave it)
//! -> `uploaded` -> `done` (a final status); `abandoned` gives up a created import (its upload URL
//! expired, it is gone, or it is an orphan found and deleted), after which the next create starts
//! over with a new `intent`.

use crate::prelude::*;
use crate::status::Stage;

/// How far the client's clock may be ahead of the API's when nothing better is known: an orphan
/// is looked for among imports created up to this long before the intent was written. S3
/// tolerates 15 minutes of skew too.
pub const SKEW_MS: f64 = 15.0 * 60_000.0;

/// Slack on a measured clock offset (see [`Record::Intent`]'s `api_ahead_ms`): the API's
/// timestamps may be rounded, and a clock may be slewed a little between the measure and the
/// intent.
pub const STAMP_SLACK_MS: f64 = 2_000.0;

/// An upload URL with less validity than this left is treated as expired: the PUT must start
/// before the deadline, and the two clocks may differ a little.
pub const UPLOAD_MARGIN_MS: f64 = 60_000.0;

/// One journal record of a file (the driver passes only that file's, in journal order).
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// About to create: `marker` is sent with the create where the API keeps it (Exa's metadata),
    /// `at_ms` is the client's clock, `name` the file name sent (Dromo's `original_filename`).
    /// `api_ahead_ms`, when the run had measured it: how far the API's clock is at least ahead of
    /// the client's (negative: behind), the largest `created time (API) - journaled time (client)`
    /// of the creates it saw answered. An import this intent's create made was stamped after the
    /// intent, so no earlier than `at_ms + api_ahead_ms` on the API's clock.
    Intent {
        marker: String,
        at_ms: f64,
        name: Option<String>,
        api_ahead_ms: Option<f64>,
    },
    /// The API created import `id`. Exa shows its upload URL only in the create's answer, so the
    /// journal keeps it (and its deadline); Dromo's `GET` shows it again.
    Created {
        id: String,
        upload_url: Option<String>,
        valid_until_ms: Option<f64>,
    },
    /// The file's bytes were stored (the storage answered 200).
    Uploaded { id: String },
    /// The import reached `status` (final, or Dromo's NEEDS_REVIEW).
    Done { id: String, status: String },
    /// Import `id` was given up; the next create starts afresh.
    Abandoned { id: String },
}

/// An import from the API's list, as far as finding an orphan needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: String,
    pub status: String,
    /// Exa: the import's `metadata.headlessImportsJournal`.
    pub marker: Option<String>,
    /// Dromo: the import's `original_filename`.
    pub name: Option<String>,
    /// Dromo: the import's `schema_id`.
    pub schema_id: Option<String>,
    /// When the API says it was created (its clock), in ms since the epoch.
    pub created_ms: Option<f64>,
    /// The journal names this import (any file's): it is nobody's orphan.
    pub journaled: bool,
}

/// What the driver learnt since it last asked: nothing yet, or the answer to the request [`next_for`]
/// asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    Nothing,
    /// `GET` of import `id` answered; `upload_url` is what it showed (Dromo's `upload`).
    Import {
        id: String,
        status: String,
        upload_url: Option<String>,
    },
    /// `GET` of import `id` answered 404: it was deleted.
    Gone {
        id: String,
    },
    /// The storage refused the PUT for import `id` as expired (whatever the URL's dates said).
    UploadExpired {
        id: String,
    },
    /// The newest imports, down to the time [`Next::Find`] named, or as many as the driver would
    /// read (`complete: false`).
    Listed {
        candidates: Vec<Candidate>,
        complete: bool,
    },
}

/// Why a created import is given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// It still waits for its file, and its upload URL is expired (or about to be).
    UploadUrlExpired,
    /// The API no longer has it (404): deleted by someone, or by the flow after a failed upload.
    Gone,
    /// It waits for its file, and no upload URL for it is known.
    NoUploadUrl,
}

impl Why {
    /// The journal's and the CLI's name for it.
    pub fn code(self) -> &'static str {
        match self {
            Why::UploadUrlExpired => "upload_url_expired",
            Why::Gone => "gone",
            Why::NoUploadUrl => "no_upload_url",
        }
    }
}

/// What the driver does next for the file.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Create an import (journal an `intent` first). `ambiguous`: imports that might be the orphan
    /// of an earlier intent but cannot be proven its (Dromo keeps no marker: by default even a
    /// single match, or several alike), left alone and reported as left behind; `lookalikes`:
    /// Dromo imports alike but past waiting for a file (uploaded, or final), which may be this
    /// file imported already by a run whose journal lost it (restored from an older copy), or
    /// another client's, reported so that a duplicate is never silent; `incomplete`: the search
    /// for an orphan stopped before reaching the intent's time.
    Create {
        ambiguous: Vec<String>,
        lookalikes: Vec<String>,
        incomplete: bool,
    },
    /// An intent has no `created` after it: the process may have died between the API creating
    /// the import and the journal line. List the imports created since `since_ms` (the API's
    /// clock; then ask again with [`Seen::Listed`]).
    Find { since_ms: f64 },
    /// The intent's orphan is import `id`: journal it as created (then it is looked at: uploaded
    /// to while it waits for its file, else waited on or reported with its final status).
    Adopt { id: String },
    /// The intent's orphan is import `id` (its marker says so), still waiting for its file, but
    /// nothing can upload to it (Exa shows an upload URL only once): delete it and journal it
    /// abandoned.
    DeleteOrphan { id: String },
    /// Ask the API where import `id` stands.
    Retrieve { id: String },
    /// PUT the file to `url`, import `id`'s upload URL.
    Upload { id: String, url: String },
    /// Wait for import `id` to finish (it may be final already: the wait then answers at once).
    Wait { id: String },
    /// The journal already holds import `id`'s final `status`: report it, nothing to send.
    Report {
        id: String,
        status: String,
        failed: bool,
    },
    /// Give import `id` up (journal `abandoned`, say why), then ask again: a new create follows.
    Abandon { id: String, why: Why },
}

/// The provider's rules that resuming depends on.
pub struct Rules {
    /// What a status means.
    pub stage: fn(&str) -> Stage,
    /// The status of an import that waits for its file.
    pub awaiting_upload: &'static str,
    /// Whether the API keeps the create's marker (Exa's `metadata`); else (Dromo) an orphan is
    /// recognised by its file name, status and time.
    pub keeps_marker: bool,
}

/// Dromo: a created import shows its upload URL on every `GET`; nothing sent with a create comes
/// back in a list except `original_filename`.
#[cfg(feature = "dromo")]
pub static DROMO: Rules = Rules {
    stage: crate::status::dromo_stage,
    awaiting_upload: "AWAITING_UPLOAD",
    keeps_marker: false,
};

/// Exa: `metadata` comes back in lists, the upload URL only in the create's answer.
#[cfg(feature = "exa")]
pub static EXA: Rules = Rules {
    stage: crate::status::exa_stage,
    awaiting_upload: "pending",
    keeps_marker: true,
};

/// The file's import as its records leave it.
struct Current<'a> {
    id: &'a str,
    upload_url: Option<&'a str>,
    valid_until_ms: Option<f64>,
    uploaded: bool,
    done: Option<&'a str>,
}

/// An intent with no `created` after it.
struct Pending<'a> {
    marker: &'a str,
    at_ms: f64,
    name: Option<&'a str>,
    api_ahead_ms: Option<f64>,
}

impl Pending<'_> {
    /// The earliest API time the intent's create can have been stamped at: the intent's time on
    /// the API's clock when the run had measured the offset, else 15 minutes of skew either way.
    fn since_ms(&self) -> f64 {
        match self.api_ahead_ms {
            Some(ahead) => self.at_ms + ahead - STAMP_SLACK_MS,
            None => self.at_ms - SKEW_MS,
        }
    }
}

/// Replays a file's records: the import it has now (if any) and the intent still open (if any).
fn replay(records: &[Record]) -> (Option<Current<'_>>, Option<Pending<'_>>) {
    let mut current: Option<Current> = None;
    let mut pending = None;
    for r in records {
        match r {
            // The writer journals an intent only when the file has no import: one after an import
            // means that import was left for this create.
            Record::Intent {
                marker,
                at_ms,
                name,
                api_ahead_ms,
            } => {
                current = None;
                pending = Some(Pending {
                    marker,
                    at_ms: *at_ms,
                    name: name.as_deref(),
                    api_ahead_ms: *api_ahead_ms,
                });
            }
            Record::Created {
                id,
                upload_url,
                valid_until_ms,
            } => {
                pending = None;
                current = Some(Current {
                    id,
                    upload_url: upload_url.as_deref(),
                    valid_until_ms: *valid_until_ms,
                    uploaded: false,
                    done: None,
                });
            }
            Record::Uploaded { id } => {
                if let Some(c) = current.as_mut().filter(|c| c.id == id) {
                    c.uploaded = true;
                }
            }
            Record::Done { id, status } => {
                if let Some(c) = current.as_mut().filter(|c| c.id == id) {
                    c.done = Some(status);
                }
            }
            Record::Abandoned { id } => {
                if current.as_ref().is_some_and(|c| c.id == id) {
                    current = None;
                }
            }
        }
    }
    (current, pending)
}

/// What to do next for one file, fail-safe: an orphan without a marker (Dromo's) is never
/// adopted. See [`next_for`].
#[cfg(test)]
pub fn next(
    rules: &Rules,
    records: &[Record],
    seen: &Seen,
    now_ms: f64,
    schema_id: Option<&str>,
) -> Next {
    next_for(rules, records, seen, now_ms, schema_id, false)
}

/// What to do next for one file. `records`: that file's journal records, in order; `seen`: the
/// answer to what the previous call asked for; `now_ms`: the client's clock; `schema_id`: the
/// saved schema the run creates with, if it names one (an orphan of Dromo's must carry it);
/// `adopt_unmarked`: the user's word that no other client creates imports of these names on the
/// account, so that an orphan matched by name, schema, status and time alone (Dromo's: nothing
/// of ours comes back in its list) may be adopted. Without it such a match is never proven ours
/// and is left alone (reported), and a new import is created.
/// Its work is linear in the file's own records (and the candidates listed): a resume of n files
/// costs O(n) decisions of O(1) each.
pub fn next_for(
    rules: &Rules,
    records: &[Record],
    seen: &Seen,
    now_ms: f64,
    schema_id: Option<&str>,
    adopt_unmarked: bool,
) -> Next {
    let (current, pending) = replay(records);
    if let Some(cur) = current {
        let id = || cur.id.to_string();
        match seen {
            Seen::Gone { id: gone } if gone == cur.id => {
                return Next::Abandon {
                    id: id(),
                    why: Why::Gone,
                }
            }
            Seen::UploadExpired { id: upload } if upload == cur.id => {
                return Next::Abandon {
                    id: id(),
                    why: Why::UploadUrlExpired,
                }
            }
            Seen::Import {
                id: seen_id,
                status,
                upload_url,
            } if seen_id == cur.id => return judge(rules, &cur, status, upload_url, now_ms),
            _ => {}
        }
        return match cur.done.map(|s| (s, (rules.stage)(s))) {
            Some((status, Stage::Succeeded | Stage::Failed)) => Next::Report {
                id: id(),
                status: status.to_string(),
                failed: (rules.stage)(status) == Stage::Failed,
            },
            // NEEDS_REVIEW (a person may have finished it since), or nothing final yet: look.
            _ => Next::Retrieve { id: id() },
        };
    }
    match (pending, seen) {
        (
            Some(intent),
            Seen::Listed {
                candidates,
                complete,
            },
        ) => find_orphan(
            rules,
            &intent,
            schema_id,
            candidates,
            *complete,
            adopt_unmarked,
        ),
        (Some(intent), _) => Next::Find {
            since_ms: intent.since_ms(),
        },
        (None, _) => Next::Create {
            ambiguous: Vec::new(),
            lookalikes: Vec::new(),
            incomplete: false,
        },
    }
}

/// The journaled import as the API shows it now.
fn judge(
    rules: &Rules,
    cur: &Current,
    status: &str,
    shown_url: &Option<String>,
    now_ms: f64,
) -> Next {
    let id = cur.id.to_string();
    // A journaled upload means the storage took the file: the status follows, whatever it says
    // this instant (a second PUT would be refused anyway).
    if status != rules.awaiting_upload || cur.uploaded {
        return Next::Wait { id };
    }
    // The URL the API shows now (Dromo may sign a fresh one) is judged by its own dates; the one
    // the journal kept (Exa) by the deadline the create gave with it.
    let (url, deadline) = match (shown_url.as_deref(), cur.upload_url) {
        (Some(u), _) if !u.is_empty() => (u, url_deadline_ms(u)),
        (_, Some(u)) if !u.is_empty() => (u, cur.valid_until_ms.or_else(|| url_deadline_ms(u))),
        _ => {
            return Next::Abandon {
                id,
                why: Why::NoUploadUrl,
            }
        }
    };
    // An unknown deadline (a URL without X-Amz dates) is tried: the storage says if it expired.
    if deadline.is_some_and(|d| d - now_ms < UPLOAD_MARGIN_MS) {
        return Next::Abandon {
            id,
            why: Why::UploadUrlExpired,
        };
    }
    Next::Upload {
        id,
        url: url.to_string(),
    }
}

/// Among the newest imports, the one an open intent's create made, if the API did make one.
fn find_orphan(
    rules: &Rules,
    intent: &Pending,
    schema_id: Option<&str>,
    candidates: &[Candidate],
    complete: bool,
    adopt_unmarked: bool,
) -> Next {
    let free = candidates.iter().filter(|c| !c.journaled);
    let none = |ambiguous: Vec<String>| Next::Create {
        ambiguous,
        lookalikes: Vec::new(),
        incomplete: !complete,
    };
    if rules.keeps_marker {
        // The marker is this intent's alone: whatever carries it is the orphan. Still waiting for
        // its file, it can never get it (nobody knows its upload URL): deleted. Uploaded (its
        // create was answered and the file sent, and only the journal lost it: a journal cut
        // short, restored from a copy) or final: it is the file's import, adopted and waited on
        // or reported, never deleted.
        return match free
            .into_iter()
            .find(|c| c.marker.as_deref() == Some(intent.marker))
        {
            Some(c) if c.status == rules.awaiting_upload => Next::DeleteOrphan { id: c.id.clone() },
            Some(c) => Next::Adopt { id: c.id.clone() },
            None => none(Vec::new()),
        };
    }
    // Without a marker: an import with the same file name (and saved schema, when the run names
    // one), still waiting for its file (nobody else could upload to ours), created no earlier
    // than the intent: on the API's clock when the run had measured it, else less 15 minutes.
    let Some(name) = intent.name else {
        return none(Vec::new());
    };
    let since = intent.since_ms();
    let (waiting, past): (Vec<&Candidate>, Vec<&Candidate>) = free
        .filter(|c| {
            c.name.as_deref() == Some(name)
                && schema_id.is_none_or(|s| c.schema_id.as_deref() == Some(s))
                && c.created_ms.is_some_and(|t| t >= since)
        })
        .partition(|c| c.status == rules.awaiting_upload);
    let ids = |list: Vec<&Candidate>| list.into_iter().map(|c| c.id.clone()).collect::<Vec<_>>();
    let mut matches = ids(waiting);
    // One alike but past its upload was not this run's to finish (its journal would say so) and
    // is never adopted; it is named, as a possible duplicate of the import about to be created.
    let create = |ambiguous: Vec<String>| Next::Create {
        ambiguous,
        lookalikes: ids(past.clone()),
        incomplete: !complete,
    };
    match matches.len() {
        // Nothing proves a match ours: another client may have created it. Only the user's word
        // (`adopt_unmarked`) lets one be used; else it is left alone and reported.
        1 if !adopt_unmarked => create(matches),
        1 => Next::Adopt {
            id: matches.remove(0),
        },
        0 => create(Vec::new()),
        // Another run's (or another file's) import of the same name: none is adopted, none is
        // touched; they are named so a person can delete them.
        _ => create(matches),
    }
}

/// When a presigned S3 URL stops working, from its `X-Amz-Date` (signed at, the API's clock) and
/// `X-Amz-Expires` (seconds): ms since the epoch, or `None` when the URL does not say.
pub fn url_deadline_ms(url: &str) -> Option<f64> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or("");
    let (mut date, mut expires) = (None, None);
    for pair in query.split('&') {
        let Some((k, v)) = pair.split_once('=') else {
            continue;
        };
        if k.eq_ignore_ascii_case("X-Amz-Date") {
            date = amz_date_ms(v);
        } else if k.eq_ignore_ascii_case("X-Amz-Expires") {
            expires = v.parse::<u32>().ok();
        }
    }
    Some(date? + f64::from(expires?) * 1000.0)
}

/// `YYYYMMDDTHHMMSSZ` (SigV4's basic ISO 8601, always UTC) in ms since the epoch.
fn amz_date_ms(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let part = s.get(from..to)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (y, m, d) = (num(0, 4)?, num(4, 6)?, num(6, 8)?);
    let (hh, mm, ss) = (num(9, 11)?, num(11, 13)?, num(13, 15)?);
    if !(1..=12).contains(&m) || !(1..=days_in_month(y, m)).contains(&d) {
        return None;
    }
    if hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let seconds = days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss;
    Some(seconds as f64 * 1000.0)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// ---------------------------------------------------------------------------------------------
// The wasm side: `imports` ops of the `server` build (see `op::JOURNAL_*`), reading the driver's
// plain objects into the types above and the decision back out.
// ---------------------------------------------------------------------------------------------

use js_sys::{Array, Object};
use wasm_bindgen::JsValue;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::js::{get, get_str, is_array, set};

/// A finite number at `key`, else `None`.
fn number(obj: &JsValue, key: &str) -> Option<f64> {
    get(obj, key).as_f64().filter(|n| n.is_finite())
}

/// A record from a parsed journal line; `None` for a line of another kind (the header) or one
/// that lacks what its kind needs (the driver refuses those when it loads the journal).
fn record_of(v: &JsValue) -> Option<Record> {
    let id = || get_str(v, "id").filter(|s| !s.is_empty());
    Some(match get_str(v, "type")?.as_str() {
        "intent" => Record::Intent {
            marker: get_str(v, "marker")?,
            at_ms: number(v, "t")?,
            name: get_str(v, "name"),
            api_ahead_ms: number(v, "apiAheadMs"),
        },
        "created" => Record::Created {
            id: id()?,
            upload_url: get_str(v, "uploadUrl"),
            valid_until_ms: number(v, "validUntil"),
        },
        "uploaded" => Record::Uploaded { id: id()? },
        "done" => Record::Done {
            id: id()?,
            status: get_str(v, "status")?,
        },
        "abandoned" => Record::Abandoned { id: id()? },
        _ => return None,
    })
}

/// `seen` from the driver: `{ import }`, `{ gone: id }`, `{ uploadExpired: id }`,
/// `{ listed: [...], complete }` or nothing. A listed import's `createdMs` is parsed in JS
/// (`Date.parse` of the provider's timestamp), and `journaled` is the driver's lookup of its id.
fn seen_of(v: &JsValue) -> Seen {
    let imp = get(v, "import");
    if let Some(id) = get_str(&imp, "id") {
        return Seen::Import {
            id,
            status: get_str(&imp, "status").unwrap_or_default(),
            upload_url: get_str(&imp, "upload"),
        };
    }
    if let Some(id) = get_str(v, "gone") {
        return Seen::Gone { id };
    }
    if let Some(id) = get_str(v, "uploadExpired") {
        return Seen::UploadExpired { id };
    }
    let listed = get(v, "listed");
    if is_array(&listed) {
        let candidates = Array::from(&listed)
            .iter()
            .filter_map(|c| {
                Some(Candidate {
                    id: get_str(&c, "id")?,
                    status: get_str(&c, "status").unwrap_or_default(),
                    marker: get_str(&c, "marker"),
                    name: get_str(&c, "name"),
                    schema_id: get_str(&c, "schemaId"),
                    created_ms: number(&c, "createdMs"),
                    journaled: get(&c, "journaled").as_bool() == Some(true),
                })
            })
            .collect();
        return Seen::Listed {
            candidates,
            complete: get(v, "complete").as_bool() == Some(true),
        };
    }
    Seen::Nothing
}

/// The decision as the driver reads it: `{ action, id?, url?, status?, failed?, why?, since?,
/// ambiguous?, lookalikes?, incomplete? }`.
fn next_to_js(next: Next) -> JsValue {
    let out = Object::new();
    let put = |k: &str, v: JsValue| set(&out, k, &v);
    let s = |t: &str| JsValue::from_str(t);
    let (action, id) = match next {
        Next::Create {
            ambiguous,
            lookalikes,
            incomplete,
        } => {
            for (key, ids) in [("ambiguous", ambiguous), ("lookalikes", lookalikes)] {
                if !ids.is_empty() {
                    put(key, ids.iter().map(|a| s(a)).collect::<Array>().into());
                }
            }
            if incomplete {
                put("incomplete", JsValue::TRUE);
            }
            ("create", None)
        }
        Next::Find { since_ms } => {
            put("since", JsValue::from_f64(since_ms));
            ("find", None)
        }
        Next::Adopt { id } => ("adopt", Some(id)),
        Next::DeleteOrphan { id } => ("delete", Some(id)),
        Next::Retrieve { id } => ("retrieve", Some(id)),
        Next::Upload { id, url } => {
            put("url", s(&url));
            ("upload", Some(id))
        }
        Next::Wait { id } => ("wait", Some(id)),
        Next::Report { id, status, failed } => {
            put("status", s(&status));
            put("failed", JsValue::from_bool(failed));
            ("report", Some(id))
        }
        Next::Abandon { id, why } => {
            put("why", s(why.code()));
            ("abandon", Some(id))
        }
    };
    put("action", s(action));
    if let Some(id) = id {
        put("id", s(&id));
    }
    out.into()
}

/// `OP.journalNext(records, seen, { now, schemaId?, adoptUnmarked? })`: [`next_for`] for one file. Everything it
/// reads is that file's (the records, the answer): nothing grows with the journal's other files.
pub fn decide(rules: &Rules, records: &JsValue, seen: &JsValue, context: &JsValue) -> JsValue {
    let records: Vec<Record> = if is_array(records) {
        Array::from(records)
            .iter()
            .filter_map(|r| record_of(&r))
            .collect()
    } else {
        Vec::new()
    };
    let now = number(context, "now").unwrap_or_else(js_sys::Date::now);
    let schema_id = get_str(context, "schemaId");
    let adopt_unmarked = get(context, "adoptUnmarked").as_bool() == Some(true);
    next_to_js(next_for(
        rules,
        &records,
        &seen_of(seen),
        now,
        schema_id.as_deref(),
        adopt_unmarked,
    ))
}

/// `OP.filesCheck`'s answer: what a journal is written for, `{ provider, baseUrl, params }`
/// (`params`: the create params the options hold, checked).
fn info(provider: &str, client: &Client, params: &JsValue) -> JsValue {
    let out = Object::new();
    set(&out, "provider", &JsValue::from_str(provider));
    set(&out, "baseUrl", &JsValue::from_str(client.base_url()));
    set(&out, "params", params);
    out.into()
}

/// The `[{ name, size }]` the driver measured, with each one's path for messages (`files[2]`).
fn files_of(files: &JsValue) -> Vec<(String, String, f64)> {
    if !is_array(files) {
        return Vec::new();
    }
    Array::from(files)
        .iter()
        .enumerate()
        .map(|(i, f)| {
            (
                crate::validate::index("files", i),
                get_str(&f, "name").unwrap_or_default(),
                number(&f, "size").unwrap_or(0.0),
            )
        })
        .collect()
}

/// The keys of `importFile`'s options that belong to each file: `importFiles` sets them itself.
fn refuse_per_file(options: &JsValue, keys: &[&str]) -> Result<()> {
    match keys.iter().find(|k| !crate::js::is_absent(&get(options, k))) {
        Some(k) => Err(Error::invalid(
            ["options.", k].concat(),
            "is per file: importFiles sets it for each file (and reports each step through onEvent)",
        )),
        None => Ok(()),
    }
}

/// `OP.filesCheck` for Dromo: the options as `importFile` checks them (schema, settings, hooks,
/// wait options), and each file's name as Dromo would take it, before any request.
#[cfg(feature = "dromo")]
pub fn dromo_check(d: &crate::dromo::Dromo, options: &JsValue, files: &JsValue) -> Result<JsValue> {
    use crate::dromo::{check_file_name, create_body, flow_options, FLOW_OPTIONS};
    let options = flow_options(options, d.client.has_key())?;
    refuse_per_file(&options, &PER_FILE)?;
    if !crate::js::is_absent(&get(&options, "initial_data")) {
        return Err(Error::invalid(
            "options.initial_data",
            "importFiles uploads files; use importRows for rows",
        ));
    }
    crate::poll::Flow::from_js(&options, crate::dromo::DEFAULT_INTERVAL_MS)?;
    let params = crate::js::copy_without(&options, FLOW_OPTIONS);
    let probe = crate::js::copy_without(&params, &[]);
    set(&probe, "original_filename", &JsValue::from_str("probe.csv"));
    create_body(&probe, d.client.has_key())?;
    for (path, name, _) in files_of(files) {
        check_file_name(&name, &path)?;
    }
    Ok(info("dromo", &d.client, &params.into()))
}

/// `OP.filesCheck` for Exa: the options as `importFile` checks them, and each file's size.
#[cfg(feature = "exa")]
pub fn exa_check(e: &crate::exa::Exa, options: &JsValue, files: &JsValue) -> Result<JsValue> {
    use crate::exa::{check_flow_options, create_body, file_params, FLOW_OPTIONS, MAX_SIZE};
    if crate::js::is_absent(options) {
        return Err(Error::invalid(
            "options",
            "is required: at least { entity: { type: 'company' } }",
        ));
    }
    check_flow_options(options)?;
    refuse_per_file(options, &PER_FILE)?;
    crate::poll::Flow::from_js(options, crate::exa::DEFAULT_INTERVAL_MS)?;
    create_body(&file_params(options, 1.0, 1.0)?)?;
    if let Some(key) = crate::js::keys(&get(options, "metadata"))
        .into_iter()
        .find(|k| k == MARKER_KEY)
    {
        return Err(Error::invalid(
            ["options.metadata.", &key].concat(),
            "is set by importFiles (it marks each create, to find it again after a crash)",
        ));
    }
    for (path, _, size) in files_of(files) {
        if size > MAX_SIZE {
            return Err(crate::exa::too_big(&path, size));
        }
    }
    let params = crate::js::copy_without(options, FLOW_OPTIONS);
    Ok(info("exa", &e.client, &params.into()))
}

/// Options of `importFile` that `importFiles` sets for each file.
const PER_FILE: [&str; 7] = [
    "onCreating",
    "onCreated",
    "onUploaded",
    "onStatus",
    "onProgress",
    "onQueued",
    "original_filename",
];

/// The Exa metadata key each create of `importFiles` carries its intent's marker in.
#[cfg(feature = "exa")]
pub const MARKER_KEY: &str = "headlessImportsJournal";

#[cfg(all(test, feature = "dromo", feature = "exa"))]
mod tests {
    use super::*;

    const NOW: f64 = 1_800_000_000_000.0;

    fn s(v: &str) -> String {
        v.to_string()
    }
    fn intent(marker: &str, at_ms: f64, name: &str) -> Record {
        Record::Intent {
            marker: s(marker),
            at_ms,
            name: Some(s(name)),
            api_ahead_ms: None,
        }
    }
    fn created(id: &str) -> Record {
        Record::Created {
            id: s(id),
            upload_url: None,
            valid_until_ms: None,
        }
    }
    fn exa_created(id: &str, url: &str, valid_until_ms: f64) -> Record {
        Record::Created {
            id: s(id),
            upload_url: Some(s(url)),
            valid_until_ms: Some(valid_until_ms),
        }
    }
    fn import(id: &str, status: &str, url: Option<&str>) -> Seen {
        Seen::Import {
            id: s(id),
            status: s(status),
            upload_url: url.map(s),
        }
    }
    fn create() -> Next {
        Next::Create {
            ambiguous: Vec::new(),
            lookalikes: Vec::new(),
            incomplete: false,
        }
    }
    /// A presigned URL signed at `at_ms` for `secs`.
    fn presigned(at_ms: f64, secs: u32) -> String {
        // The test's own conversion, independent of `amz_date_ms`: days via a loop.
        let mut rest = (at_ms / 1000.0) as i64;
        let (sec, min, hour) = (rest % 60, rest / 60 % 60, rest / 3600 % 24);
        rest /= 86_400;
        let mut year = 1970;
        loop {
            let len = if days_in_month(year, 2) == 29 {
                366
            } else {
                365
            };
            if rest < len {
                break;
            }
            rest -= len;
            year += 1;
        }
        let mut month = 1;
        while rest >= days_in_month(year, month) {
            rest -= days_in_month(year, month);
            month += 1;
        }
        format!(
            "https://bucket.s3.amazonaws.com/k.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={year:04}{month:02}{:02}T{hour:02}{min:02}{sec:02}Z&X-Amz-Expires={secs}&X-Amz-SignedHeaders=host&X-Amz-Signature=ab",
            rest + 1
        )
    }

    #[test]
    fn a_file_the_journal_never_saw_is_created() {
        assert_eq!(next(&DROMO, &[], &Seen::Nothing, NOW, None), create());
        assert_eq!(next(&EXA, &[], &Seen::Nothing, NOW, None), create());
    }

    #[test]
    fn a_journaled_create_is_never_created_again_but_looked_at() {
        for records in [
            vec![intent("m", NOW, "a.csv"), created("i1")],
            vec![created("i1")],
            vec![
                intent("m", NOW, "a.csv"),
                created("i1"),
                Record::Uploaded { id: s("i1") },
            ],
        ] {
            assert_eq!(
                next(&DROMO, &records, &Seen::Nothing, NOW, None),
                Next::Retrieve { id: s("i1") }
            );
        }
    }

    #[test]
    fn final_statuses_come_from_the_journal_without_a_request() {
        let done = |status: &str| {
            vec![
                created("i1"),
                Record::Done {
                    id: s("i1"),
                    status: s(status),
                },
            ]
        };
        assert_eq!(
            next(&DROMO, &done("SUCCESSFUL"), &Seen::Nothing, NOW, None),
            Next::Report {
                id: s("i1"),
                status: s("SUCCESSFUL"),
                failed: false
            }
        );
        assert_eq!(
            next(&EXA, &done("failed"), &Seen::Nothing, NOW, None),
            Next::Report {
                id: s("i1"),
                status: s("failed"),
                failed: true
            }
        );
        // A person may have finished the review since: look again.
        assert_eq!(
            next(&DROMO, &done("NEEDS_REVIEW"), &Seen::Nothing, NOW, None),
            Next::Retrieve { id: s("i1") }
        );
    }

    #[test]
    fn an_import_awaiting_its_file_is_uploaded_while_its_url_holds() {
        let url = presigned(NOW - 60_000.0, 1800);
        let records = [intent("m", NOW - 60_000.0, "a.csv"), created("i1")];
        assert_eq!(
            next(
                &DROMO,
                &records,
                &import("i1", "AWAITING_UPLOAD", Some(&url)),
                NOW,
                None
            ),
            Next::Upload {
                id: s("i1"),
                url: url.clone()
            }
        );
        // 29 minutes later only 30 s are left: less than the margin.
        assert_eq!(
            next(
                &DROMO,
                &records,
                &import("i1", "AWAITING_UPLOAD", Some(&url)),
                NOW + 29.0 * 60_000.0 + 30_000.0,
                None
            ),
            Next::Abandon {
                id: s("i1"),
                why: Why::UploadUrlExpired
            }
        );
        // Exa: the journal's URL and deadline, since a GET shows none.
        let exa = [exa_created("x1", "https://s3/x?sig", NOW + 3_600_000.0)];
        assert_eq!(
            next(&EXA, &exa, &import("x1", "pending", None), NOW, None),
            Next::Upload {
                id: s("x1"),
                url: s("https://s3/x?sig")
            }
        );
        assert_eq!(
            next(
                &EXA,
                &exa,
                &import("x1", "pending", None),
                NOW + 3_600_000.0,
                None
            ),
            Next::Abandon {
                id: s("x1"),
                why: Why::UploadUrlExpired
            }
        );
        // No URL anywhere: nothing can upload to it.
        assert_eq!(
            next(
                &EXA,
                &[created("x1")],
                &import("x1", "pending", None),
                NOW,
                None
            ),
            Next::Abandon {
                id: s("x1"),
                why: Why::NoUploadUrl
            }
        );
        // A URL whose validity it does not state is tried.
        assert_eq!(
            next(
                &DROMO,
                &[created("i1")],
                &import(
                    "i1",
                    "AWAITING_UPLOAD",
                    Some("https://gcs/x?X-Goog-Signature=1")
                ),
                NOW,
                None
            ),
            Next::Upload {
                id: s("i1"),
                url: s("https://gcs/x?X-Goog-Signature=1")
            }
        );
    }

    #[test]
    fn uploaded_or_processing_imports_are_waited_on() {
        let records = [created("i1"), Record::Uploaded { id: s("i1") }];
        for status in [
            "AWAITING_UPLOAD",
            "PENDING",
            "RUNNING",
            "SOMETHING_NEW",
            "SUCCESSFUL",
            "FAILED",
        ] {
            assert_eq!(
                next(&DROMO, &records, &import("i1", status, None), NOW, None),
                Next::Wait { id: s("i1") },
                "{status}"
            );
        }
        // Not journaled as uploaded, but the API says the file is there (the process died between
        // the storage's 200 and the journal line).
        for status in ["PENDING", "RUNNING", "NEEDS_REVIEW"] {
            assert_eq!(
                next(
                    &DROMO,
                    &[created("i1")],
                    &import("i1", status, None),
                    NOW,
                    None
                ),
                Next::Wait { id: s("i1") }
            );
        }
        assert_eq!(
            next(
                &EXA,
                &[created("x1")],
                &import("x1", "processing", None),
                NOW,
                None
            ),
            Next::Wait { id: s("x1") }
        );
    }

    #[test]
    fn an_expired_upload_or_a_deleted_import_is_abandoned_then_created_anew() {
        let records = vec![intent("m1", NOW, "a.csv"), created("i1")];
        assert_eq!(
            next(
                &DROMO,
                &records,
                &Seen::UploadExpired { id: s("i1") },
                NOW,
                None
            ),
            Next::Abandon {
                id: s("i1"),
                why: Why::UploadUrlExpired
            }
        );
        assert_eq!(
            next(&DROMO, &records, &Seen::Gone { id: s("i1") }, NOW, None),
            Next::Abandon {
                id: s("i1"),
                why: Why::Gone
            }
        );
        let mut abandoned = records.clone();
        abandoned.push(Record::Abandoned { id: s("i1") });
        assert_eq!(
            next(&DROMO, &abandoned, &Seen::Nothing, NOW, None),
            create()
        );
        // The new create's intent is open again until its `created`.
        abandoned.push(intent("m2", NOW, "a.csv"));
        assert_eq!(
            next(&DROMO, &abandoned, &Seen::Nothing, NOW, None),
            Next::Find {
                since_ms: NOW - SKEW_MS
            }
        );
        abandoned.push(created("i2"));
        assert_eq!(
            next(&DROMO, &abandoned, &Seen::Nothing, NOW, None),
            Next::Retrieve { id: s("i2") }
        );
        // An answer about another import than the file's says nothing about it.
        assert_eq!(
            next(&DROMO, &abandoned, &Seen::Gone { id: s("i1") }, NOW, None),
            Next::Retrieve { id: s("i2") }
        );
    }

    fn candidate(
        id: &str,
        status: &str,
        marker: Option<&str>,
        name: &str,
        created_ms: f64,
    ) -> Candidate {
        Candidate {
            id: s(id),
            status: s(status),
            marker: marker.map(s),
            name: Some(s(name)),
            schema_id: None,
            created_ms: Some(created_ms),
            journaled: false,
        }
    }
    fn journaled(c: &Candidate) -> Candidate {
        Candidate {
            journaled: true,
            ..c.clone()
        }
    }
    fn listed(candidates: Vec<Candidate>) -> Seen {
        Seen::Listed {
            candidates,
            complete: true,
        }
    }

    #[test]
    fn exa_orphans_are_found_by_their_marker_and_deleted() {
        let records = [intent("j1-7", NOW, "a.csv")];
        assert_eq!(
            next(&EXA, &records, &Seen::Nothing, NOW, None),
            Next::Find {
                since_ms: NOW - SKEW_MS
            }
        );
        let seen = listed(vec![
            candidate("x9", "pending", Some("j1-8"), "a.csv", NOW),
            candidate("x8", "pending", Some("j1-7"), "a.csv", NOW),
        ]);
        assert_eq!(
            next(&EXA, &records, &seen, NOW, None),
            Next::DeleteOrphan { id: s("x8") }
        );
        // Once deleted (and journaled, so the driver marks it), a fresh create.
        let mut after = records.to_vec();
        after.push(Record::Abandoned { id: s("x8") });
        let seen_after = listed(vec![
            candidate("x9", "pending", Some("j1-8"), "a.csv", NOW),
            journaled(&candidate("x8", "pending", Some("j1-7"), "a.csv", NOW)),
        ]);
        assert_eq!(next(&EXA, &after, &seen_after, NOW, None), create());
        // No import carries it: the create never reached the API.
        assert_eq!(next(&EXA, &records, &listed(vec![]), NOW, None), create());
    }

    /// [`next_for`] with the user's opt-in to adopt orphans without a marker (Dromo's).
    fn adopting(
        rules: &Rules,
        records: &[Record],
        seen: &Seen,
        now_ms: f64,
        schema_id: Option<&str>,
    ) -> Next {
        next_for(rules, records, seen, now_ms, schema_id, true)
    }

    /// By default a Dromo import matched by name, schema, status and time is never adopted: it
    /// may be another client's (nothing of ours comes back in Dromo's list). It is left alone and
    /// named, and a new import is created.
    #[test]
    fn dromo_orphans_are_never_adopted_by_default() {
        let records = [intent("m", NOW, "a.csv")];
        let one = candidate("d1", "AWAITING_UPLOAD", None, "a.csv", NOW + 500.0);
        let two = candidate("d5", "AWAITING_UPLOAD", None, "a.csv", NOW - 60_000.0);
        assert_eq!(
            next(&DROMO, &records, &listed(vec![one.clone()]), NOW, None),
            Next::Create {
                ambiguous: vec![s("d1")],
                lookalikes: Vec::new(),
                incomplete: false
            }
        );
        assert_eq!(
            next(&DROMO, &records, &listed(vec![one, two]), NOW, None),
            Next::Create {
                ambiguous: vec![s("d1"), s("d5")],
                lookalikes: Vec::new(),
                incomplete: false
            }
        );
        // Not a match at all: nothing to report.
        let other = candidate("d2", "AWAITING_UPLOAD", None, "b.csv", NOW);
        assert_eq!(
            next(&DROMO, &records, &listed(vec![other]), NOW, None),
            create()
        );
    }

    /// A Dromo journal cut back to an intent (restored from an older copy) after its import was
    /// uploaded or finished: the import alike but past waiting is never adopted (nothing proves
    /// it this file's) but named beside the new create, so that a duplicate is never silent.
    #[test]
    fn dromo_lookalikes_past_their_upload_are_named_not_adopted() {
        let records = [intent("m", NOW, "a.csv")];
        let done = candidate("d1", "SUCCESSFUL", None, "a.csv", NOW + 500.0);
        let sent = candidate("d2", "PENDING", None, "a.csv", NOW + 700.0);
        let waiting = candidate("d3", "AWAITING_UPLOAD", None, "a.csv", NOW + 900.0);
        let older = candidate("d4", "SUCCESSFUL", None, "a.csv", NOW - SKEW_MS - 1.0);
        let other = candidate("d5", "SUCCESSFUL", None, "b.csv", NOW + 500.0);
        let known = journaled(&candidate("d6", "SUCCESSFUL", None, "a.csv", NOW + 600.0));
        let all = vec![done.clone(), sent, waiting.clone(), older, other, known];
        assert_eq!(
            next(&DROMO, &records, &listed(all), NOW, None),
            Next::Create {
                ambiguous: vec![s("d3")],
                lookalikes: vec![s("d1"), s("d2")],
                incomplete: false
            }
        );
        // Adopted on the user's word, the waiting one is the file's: nothing else to tell.
        assert_eq!(
            adopting(&DROMO, &records, &listed(vec![waiting, done]), NOW, None),
            Next::Adopt { id: s("d3") }
        );
    }

    /// A journal cut short (restored from an older copy) can lose a `created`, `uploaded` and
    /// `done` after an intent: the import its marker finds is then uploaded or final, and is the
    /// file's own, adopted and looked at, never deleted. Only one still waiting for its file
    /// (whose upload URL nobody has) is deleted.
    #[test]
    fn an_exa_orphan_past_its_upload_is_adopted_not_deleted() {
        let records = [intent("j1-7", NOW, "a.csv")];
        for status in ["processing", "completed", "failed", "canceled"] {
            let seen = listed(vec![candidate("x8", status, Some("j1-7"), "a.csv", NOW)]);
            assert_eq!(
                next(&EXA, &records, &seen, NOW, None),
                Next::Adopt { id: s("x8") },
                "{status}"
            );
        }
        let seen = listed(vec![candidate("x8", "pending", Some("j1-7"), "a.csv", NOW)]);
        assert_eq!(
            next(&EXA, &records, &seen, NOW, None),
            Next::DeleteOrphan { id: s("x8") }
        );
        // Adopted, it is looked at: a completed one is waited on (the wait answers at once).
        let mut after = records.to_vec();
        after.push(created("x8"));
        assert_eq!(
            next(&EXA, &after, &Seen::Nothing, NOW, None),
            Next::Retrieve { id: s("x8") }
        );
        assert_eq!(
            next(&EXA, &after, &import("x8", "completed", None), NOW, None),
            Next::Wait { id: s("x8") }
        );
    }

    #[test]
    fn dromo_orphans_are_adopted_on_request_only_when_unmistakable() {
        let records = [intent("m", NOW, "a.csv")];
        let orphan = candidate("d1", "AWAITING_UPLOAD", None, "a.csv", NOW + 500.0);
        assert_eq!(
            adopting(&DROMO, &records, &listed(vec![orphan.clone()]), NOW, None),
            Next::Adopt { id: s("d1") }
        );
        // Not the orphan: another name, made well before the intent, or another file's import.
        for other in [
            candidate("d2", "AWAITING_UPLOAD", None, "b.csv", NOW),
            candidate("d4", "AWAITING_UPLOAD", None, "a.csv", NOW - SKEW_MS - 1.0),
        ] {
            assert_eq!(
                adopting(&DROMO, &records, &listed(vec![other]), NOW, None),
                create()
            );
        }
        // Nor one already uploaded: that one is named as a possible duplicate.
        let uploaded = candidate("d3", "RUNNING", None, "a.csv", NOW);
        assert_eq!(
            adopting(&DROMO, &records, &listed(vec![uploaded]), NOW, None),
            Next::Create {
                ambiguous: Vec::new(),
                lookalikes: vec![s("d3")],
                incomplete: false
            }
        );
        assert_eq!(
            adopting(
                &DROMO,
                &records,
                &listed(vec![journaled(&orphan)]),
                NOW,
                None
            ),
            create()
        );
        // The API's clock a little behind ours still matches.
        let behind = candidate("d5", "AWAITING_UPLOAD", None, "a.csv", NOW - 60_000.0);
        assert_eq!(
            adopting(&DROMO, &records, &listed(vec![behind.clone()]), NOW, None),
            Next::Adopt { id: s("d5") }
        );
        // Two look alike: neither is adopted nor touched; both are named.
        assert_eq!(
            adopting(&DROMO, &records, &listed(vec![orphan, behind]), NOW, None),
            Next::Create {
                ambiguous: vec![s("d1"), s("d5")],
                lookalikes: Vec::new(),
                incomplete: false
            }
        );
        let partial = Seen::Listed {
            candidates: vec![],
            complete: false,
        };
        assert_eq!(
            adopting(&DROMO, &records, &partial, NOW, None),
            Next::Create {
                ambiguous: vec![],
                lookalikes: Vec::new(),
                incomplete: true
            }
        );
    }

    /// An intent written once the run had seen creates answered knows the API's clock: only an
    /// import stamped after the intent can be its orphan, not one of the same name made minutes
    /// before (by someone else), which the 15-minute fallback would take.
    #[test]
    fn a_measured_clock_narrows_the_search_to_after_the_intent() {
        for ahead in [0.0, 600_000.0, -420_000.0] {
            let records = [Record::Intent {
                marker: s("m"),
                at_ms: NOW,
                name: Some(s("a.csv")),
                api_ahead_ms: Some(ahead),
            }];
            assert_eq!(
                adopting(&DROMO, &records, &Seen::Nothing, NOW, None),
                Next::Find {
                    since_ms: NOW + ahead - STAMP_SLACK_MS
                },
                "{ahead}"
            );
            let ours = candidate("d1", "AWAITING_UPLOAD", None, "a.csv", NOW + ahead + 80.0);
            let foreign = candidate(
                "d0",
                "AWAITING_UPLOAD",
                None,
                "a.csv",
                NOW + ahead - 5.0 * 60_000.0,
            );
            assert_eq!(
                adopting(
                    &DROMO,
                    &records,
                    &listed(vec![ours, foreign.clone()]),
                    NOW,
                    None
                ),
                Next::Adopt { id: s("d1") },
                "{ahead}"
            );
            // Alone, the one made before the intent is nobody's orphan of ours.
            assert_eq!(
                adopting(&DROMO, &records, &listed(vec![foreign]), NOW, None),
                create(),
                "{ahead}"
            );
        }
        // Without a measure, the fallback takes 15 minutes either way.
        let unmeasured = [intent("m", NOW, "a.csv")];
        let before = candidate("d0", "AWAITING_UPLOAD", None, "a.csv", NOW - 5.0 * 60_000.0);
        assert_eq!(
            adopting(&DROMO, &unmeasured, &listed(vec![before]), NOW, None),
            Next::Adopt { id: s("d0") }
        );
    }

    #[test]
    fn a_dromo_orphan_carries_the_runs_saved_schema() {
        let records = [intent("m", NOW, "a.csv")];
        let with = |schema: &str| Candidate {
            schema_id: Some(s(schema)),
            ..candidate("d1", "AWAITING_UPLOAD", None, "a.csv", NOW)
        };
        assert_eq!(
            adopting(&DROMO, &records, &listed(vec![with("S")]), NOW, Some("S")),
            Next::Adopt { id: s("d1") }
        );
        assert_eq!(
            adopting(&DROMO, &records, &listed(vec![with("T")]), NOW, Some("S")),
            create()
        );
        // Inline fields (no saved schema named): the schema says nothing.
        assert_eq!(
            adopting(&DROMO, &records, &listed(vec![with("T")]), NOW, None),
            Next::Adopt { id: s("d1") }
        );
    }

    #[test]
    fn amz_dates_and_deadlines() {
        assert_eq!(amz_date_ms("19700101T000000Z"), Some(0.0));
        // date -u -d 2023-02-27T16:03:15Z +%s
        assert_eq!(amz_date_ms("20230227T160315Z"), Some(1_677_513_795_000.0));
        assert_eq!(amz_date_ms("20240229T235959Z"), Some(1_709_251_199_000.0));
        for bad in [
            "20230229T000000Z",
            "20231301T000000Z",
            "20230227 160315Z",
            "2023022T160315Z",
            "20230227T246000Z",
            "2023-2-27T16031Z",
        ] {
            assert_eq!(amz_date_ms(bad), None, "{bad}");
        }
        let url = "https://b.s3.amazonaws.com/k?X-Amz-Date=20230227T160315Z&X-Amz-Expires=1800&X-Amz-Signature=x#frag";
        assert_eq!(
            url_deadline_ms(url),
            Some(1_677_513_795_000.0 + 1_800_000.0)
        );
        assert_eq!(url_deadline_ms("https://b/k?X-Amz-Expires=1800"), None);
        assert_eq!(
            url_deadline_ms("https://b/k?x-amz-date=20230227T160315Z&x-amz-expires=60&a"),
            Some(1_677_513_855_000.0)
        );
        assert_eq!(url_deadline_ms("https://b/k"), None);
        // The test's own presigned URLs agree with the parser, across years and leap days.
        let mut t = 0.0;
        while t < 4_102_444_800_000.0 {
            assert_eq!(
                url_deadline_ms(&presigned(t, 10)),
                Some(t + 10_000.0),
                "{t}"
            );
            t += 86_400_000.0 * 37.0 + 3_723_000.0;
        }
    }

    /// A tiny deterministic generator: the same cases on every run.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) % n
        }
    }

    /// Random journals and answers, against the promises the driver relies on: a journaled
    /// create is never created again while its import is current; a create only follows nothing,
    /// an abandon or a finished search; an upload only to the current import, never after its
    /// journaled upload, never past the deadline.
    #[test]
    fn random_journals_keep_the_promises() {
        let mut rng = Rng(7);
        let statuses = [
            "AWAITING_UPLOAD",
            "PENDING",
            "RUNNING",
            "SUCCESSFUL",
            "FAILED",
            "NEEDS_REVIEW",
            "pending",
            "processing",
            "completed",
            "failed",
            "NEW",
        ];
        for case in 0..20_000 {
            let rules = if case % 2 == 0 { &DROMO } else { &EXA };
            let mut records = Vec::new();
            let ids = ["a", "b", "c"];
            for _ in 0..rng.below(7) {
                let id = s(ids[rng.below(3) as usize]);
                records.push(match rng.below(6) {
                    0 => intent("m", NOW - rng.below(3_600_000) as f64, "f.csv"),
                    1 => created(&id),
                    2 => exa_created(
                        &id,
                        "https://s3/u?sig",
                        NOW + rng.below(7_200_000) as f64 - 3_600_000.0,
                    ),
                    3 => Record::Uploaded { id },
                    4 => Record::Done {
                        id,
                        status: s(statuses[rng.below(statuses.len() as u64) as usize]),
                    },
                    _ => Record::Abandoned { id },
                });
            }
            let any = s(ids[rng.below(3) as usize]);
            let url = presigned(NOW - rng.below(3_600_000) as f64, 1800);
            let seen = match rng.below(5) {
                0 => Seen::Nothing,
                1 => import(
                    &any,
                    statuses[rng.below(statuses.len() as u64) as usize],
                    Some(&url),
                ),
                2 => Seen::Gone { id: any },
                3 => Seen::UploadExpired { id: any },
                _ => listed(vec![candidate(
                    "z",
                    rules.awaiting_upload,
                    Some("m"),
                    "f.csv",
                    NOW,
                )]),
            };
            let (current, pending) = replay(&records);
            let current_id = current.as_ref().map(|c| c.id.to_string());
            let uploaded = current.as_ref().is_some_and(|c| c.uploaded);
            let decision = next(rules, &records, &seen, NOW, None);
            match &decision {
                Next::Create { .. } => {
                    assert!(
                        current_id.is_none(),
                        "{case}: create beside a current import: {records:?}"
                    );
                    assert!(
                        pending.is_none() || matches!(seen, Seen::Listed { .. }),
                        "{case}: create over an open intent without a search"
                    );
                }
                Next::Find { .. } => assert!(current_id.is_none() && pending.is_some(), "{case}"),
                Next::Adopt { id } | Next::DeleteOrphan { id } => {
                    assert!(
                        current_id.is_none() && pending.is_some() && id == "z",
                        "{case}"
                    )
                }
                Next::Upload { id, url } => {
                    assert_eq!(Some(id), current_id.as_ref(), "{case}");
                    assert!(!uploaded, "{case}: a second upload");
                    // The URL a GET showed is judged by its own dates, the journal's by its deadline.
                    let deadline = if url.ends_with("?sig") {
                        current.as_ref().and_then(|c| c.valid_until_ms)
                    } else {
                        url_deadline_ms(url)
                    };
                    assert!(
                        deadline.is_none_or(|d| d - NOW >= UPLOAD_MARGIN_MS),
                        "{case}: {url} {deadline:?}"
                    );
                }
                Next::Retrieve { id }
                | Next::Wait { id }
                | Next::Report { id, .. }
                | Next::Abandon { id, .. } => {
                    assert_eq!(Some(id), current_id.as_ref(), "{case}")
                }
            }
        }
    }
}
