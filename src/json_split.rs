//! Finding the elements of a top-level JSON array in a stream of byte chunks, without parsing
//! them: for each element, its byte range. A result file of any size can then be read row by row
//! in constant memory, with JavaScript's `JSON.parse` (fast, and exact about numbers and strings)
//! run on each element's bytes alone.
//!
//! Only the bytes that shape the structure matter here: brackets and braces, commas, quotes and
//! backslashes inside strings, and whitespace between values. All of them are ASCII, and every
//! byte of a multi-byte UTF-8 character is >= 0x80, so a character split across two chunks can
//! never be mistaken for one of them: chunk boundaries fall anywhere.
//!
//! It checks the array's frame (`[`, values separated by `,`, `]`, nothing after it but
//! whitespace) and balanced nesting; what lies inside an element (a bad number, a bad escape) is
//! left to `JSON.parse`, which reports it on that element.
//!
//! Pure Rust with no JS types: `tests/json_split_props.rs` checks it natively against
//! `serde_json` on generated arrays and random chunkings.

/// Where the splitter is in the array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before the opening `[` (whitespace and a leading UTF-8 BOM allowed).
    Start,
    /// After `[` or `,`: a value must come (or `]`, right after `[`).
    BeforeValue { first: bool },
    /// Inside an object or array element, `depth` levels deep.
    Nested { depth: u32 },
    /// Inside a string (`depth` 0: the element is the string itself).
    InString { depth: u32, escaped: bool },
    /// Inside a number, `true`, `false` or `null`.
    Scalar,
    /// After an element: `,` or `]` must come.
    AfterValue,
    /// After the closing `]`: only whitespace may follow.
    Done,
}

/// Why the bytes are not a JSON array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitError {
    /// `what` was expected at byte `at`.
    Unexpected { at: u64, what: &'static str },
    /// The input ended before the array was closed.
    Unfinished,
}

impl SplitError {
    /// What was wrong, for an error message, and at which byte (when it is a byte).
    pub fn describe(&self) -> (&'static str, Option<u64>) {
        match self {
            SplitError::Unexpected { at, what } => (what, Some(*at)),
            SplitError::Unfinished => ("it ends before the array is closed", None),
        }
    }
}

/// The splitter; feed it chunks in order.
#[derive(Clone, Copy, Debug)]
pub struct ArraySplitter {
    state: State,
    /// Absolute offset of the next byte to be fed.
    offset: u64,
    /// Where the element being read started.
    start: u64,
    /// Where the last complete element ended (exclusive): a resumed read starts here.
    last_end: u64,
    /// Bytes of a leading BOM seen so far.
    bom: u8,
}

impl Default for ArraySplitter {
    fn default() -> Self {
        Self::new()
    }
}

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

const fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl ArraySplitter {
    /// A splitter at the start of the input.
    pub const fn new() -> Self {
        ArraySplitter {
            state: State::Start,
            offset: 0,
            start: 0,
            last_end: 0,
            bom: 0,
        }
    }

    /// A splitter that continues a read cut off after a complete element: the bytes fed next are
    /// those from `offset` on (a `Range` request from [`ArraySplitter::resume_offset`]).
    pub const fn resumed_at(offset: u64) -> Self {
        ArraySplitter {
            state: State::AfterValue,
            offset,
            start: offset,
            last_end: offset,
            bom: 3,
        }
    }

    /// Where a read cut off now could resume without losing or repeating an element: just after
    /// the last complete one (or at 0 before any).
    pub fn resume_offset(&self) -> u64 {
        self.last_end
    }

    /// Whether the array is closed (and only whitespace may still come).
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Feeds the next chunk; pushes each element completed in it as `(start, end)` absolute byte
    /// offsets, `end` exclusive. An element may have started in an earlier chunk.
    #[inline(never)] // one copy, not one per state machine that reads
    pub fn feed(
        &mut self,
        chunk: &[u8],
        out: &mut alloc::vec::Vec<(u64, u64)>,
    ) -> Result<(), SplitError> {
        let base = self.offset;
        let mut i = 0;
        while i < chunk.len() {
            let b = chunk[i];
            let at = base + i as u64;
            match self.state {
                State::Start => {
                    if self.bom < 3 && at == u64::from(self.bom) && b == BOM[self.bom as usize] {
                        self.bom += 1;
                    } else if !matches!(self.bom, 0 | 3) || !(b == b'[' || is_space(b)) {
                        // Not an array (or a BOM cut short).
                        return Err(SplitError::Unexpected {
                            at,
                            what: "a JSON array was expected",
                        });
                    } else if b == b'[' {
                        self.state = State::BeforeValue { first: true };
                    }
                }
                State::BeforeValue { first } => {
                    if is_space(b) {
                    } else if b == b']' && first {
                        self.state = State::Done;
                    } else if b == b']' || b == b',' {
                        return Err(SplitError::Unexpected {
                            at,
                            what: "a value was expected",
                        });
                    } else {
                        self.start = at;
                        self.state = match b {
                            b'{' | b'[' => State::Nested { depth: 1 },
                            b'"' => State::InString {
                                depth: 0,
                                escaped: false,
                            },
                            _ => State::Scalar,
                        };
                    }
                }
                State::Nested { depth } => {
                    // The hot loop: skip everything that cannot change the state.
                    let rest = &chunk[i..];
                    let skip = rest
                        .iter()
                        .position(|&c| matches!(c, b'"' | b'{' | b'[' | b'}' | b']'))
                        .unwrap_or(rest.len());
                    i += skip;
                    if i == chunk.len() {
                        break;
                    }
                    let at = base + i as u64;
                    match chunk[i] {
                        b'"' => {
                            self.state = State::InString {
                                depth,
                                escaped: false,
                            }
                        }
                        b'{' | b'[' => self.state = State::Nested { depth: depth + 1 },
                        _ if depth == 1 => self.end_element(at + 1, out),
                        _ => self.state = State::Nested { depth: depth - 1 },
                    }
                }
                State::InString { depth, escaped } => {
                    if escaped {
                        self.state = State::InString {
                            depth,
                            escaped: false,
                        };
                    } else {
                        let rest = &chunk[i..];
                        let skip = rest
                            .iter()
                            .position(|&c| c == b'"' || c == b'\\')
                            .unwrap_or(rest.len());
                        i += skip;
                        if i == chunk.len() {
                            break;
                        }
                        if chunk[i] == b'\\' {
                            self.state = State::InString {
                                depth,
                                escaped: true,
                            };
                        } else if depth == 0 {
                            self.end_element(base + i as u64 + 1, out);
                        } else {
                            self.state = State::Nested { depth };
                        }
                    }
                }
                State::Scalar => {
                    if is_space(b) || b == b',' || b == b']' {
                        self.end_element(at, out);
                        // The byte that ended the scalar belongs to what comes after it.
                        continue;
                    }
                    if matches!(b, b'"' | b'{' | b'[' | b'}') {
                        return Err(SplitError::Unexpected {
                            at,
                            what: "a ',' or ']' was expected after a value",
                        });
                    }
                }
                State::AfterValue => {
                    if b == b',' {
                        self.state = State::BeforeValue { first: false };
                    } else if b == b']' {
                        self.state = State::Done;
                    } else if !is_space(b) {
                        return Err(SplitError::Unexpected {
                            at,
                            what: "a ',' or ']' was expected after a value",
                        });
                    }
                }
                State::Done => {
                    if !is_space(b) {
                        return Err(SplitError::Unexpected {
                            at,
                            what: "nothing may follow the array",
                        });
                    }
                }
            }
            i += 1;
        }
        self.offset = base + chunk.len() as u64;
        Ok(())
    }

    fn end_element(&mut self, end: u64, out: &mut alloc::vec::Vec<(u64, u64)>) {
        out.push((self.start, end));
        self.last_end = end;
        self.state = State::AfterValue;
    }

    /// After the last chunk: the array must have been closed.
    pub fn finish(&self) -> Result<(), SplitError> {
        if self.is_done() {
            Ok(())
        } else {
            Err(SplitError::Unfinished)
        }
    }
}
