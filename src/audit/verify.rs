//! Reading and checking the chain: every line a canonical record, numbered in order, linked to
//! the one before, its hash matching its content.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::record::{canonical, AuditRecord, FIRST_PREV};
use super::{MAX_LINE_BYTES, MAX_LOG_BYTES};

/// A log that verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// How many records it holds.
    pub records: u64,
    /// The hash of its last record ([`FIRST_PREV`] when it is empty): the anchor to keep
    /// elsewhere (`apitap audit verify --expect-head`).
    pub head: String,
}

/// Why a log does not verify: the file, the 1-based line (when the problem is in one) and
/// what is wrong. Its `Display` says all three.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyError {
    /// The log.
    pub path: PathBuf,
    /// The 1-based line, when the problem is in one line.
    pub line: Option<u64>,
    /// What is wrong.
    pub problem: Problem,
}

/// What is wrong with a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The file cannot be opened or read (the system's message).
    Unreadable(String),
    /// The file is larger than [`MAX_LOG_BYTES`].
    TooLarge {
        /// Its size in bytes.
        bytes: u64,
    },
    /// A line is longer than [`MAX_LINE_BYTES`].
    LineTooLong,
    /// A line is empty.
    EmptyLine,
    /// A line is not UTF-8.
    NotUtf8,
    /// A line is not JSON (the parser's message).
    NotJson(String),
    /// A line is JSON but not a record: a field missing, unknown or of the wrong type (the
    /// parser's message).
    BadField(String),
    /// `seq` is not the previous record's plus one: a record was deleted, inserted or moved.
    SeqNotConsecutive {
        /// The number this line's record should have.
        expected: u64,
        /// The number it has.
        found: u64,
    },
    /// `prev` is not the previous record's `hash`: a record before it was removed, replaced or
    /// moved.
    PrevMismatch,
    /// `hash` does not match the record's content: the record was altered.
    Altered,
    /// The hash matches but the line is not written the way the sensor writes it (spacing, key
    /// order, escapes): edited by hand.
    NotCanonical,
    /// The last line has no line end: an interrupted append or a cut file.
    Truncated,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Unreadable(e) => write!(f, "cannot read the audit log: {e}"),
            Problem::TooLarge { bytes } => write!(
                f,
                "the audit log is {bytes} bytes, more than the {MAX_LOG_BYTES} bytes verification reads (MAX_LOG_BYTES): archive it and start a new log (docs/audit.md)"
            ),
            Problem::LineTooLong => write!(f, "line longer than {MAX_LINE_BYTES} bytes (MAX_LINE_BYTES): not a record the sensor writes"),
            Problem::EmptyLine => write!(f, "empty line: records are never empty"),
            Problem::NotUtf8 => write!(f, "not UTF-8 text"),
            Problem::NotJson(e) => write!(f, "not a JSON record ({e})"),
            Problem::BadField(e) => write!(f, "not an audit record ({e})"),
            Problem::SeqNotConsecutive { expected, found } => write!(
                f,
                "seq is {found}, expected {expected}: a record was deleted, inserted or moved here"
            ),
            Problem::PrevMismatch => write!(
                f,
                "prev does not match the previous record's hash: a record before it was removed, replaced or moved"
            ),
            Problem::Altered => write!(f, "record altered: its hash does not match its content"),
            Problem::NotCanonical => write!(
                f,
                "record edited: its content hashes right but the line is not written as the sensor writes it (spacing, key order or escapes changed)"
            ),
            Problem::Truncated => write!(
                f,
                "the last line has no line end: truncated (an interrupted append or a cut file)"
            ),
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}: line {line}: {}", self.path.display(), self.problem),
            None => write!(f, "{}: {}", self.path.display(), self.problem),
        }
    }
}

impl std::error::Error for VerifyError {}

/// Opens the log for reading with a shared lock, so that an append in progress is not read
/// half-written.
pub(crate) fn open_locked(path: &Path) -> std::io::Result<File> {
    let file = File::open(path)?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockShared)?;
    Ok(file)
}

/// The error for a log that cannot be opened or read.
pub(crate) fn unreadable(path: &Path, e: &std::io::Error) -> VerifyError {
    VerifyError {
        path: path.to_path_buf(),
        line: None,
        problem: Problem::Unreadable(e.to_string()),
    }
}

/// Reads and checks the whole log from `file` (at its start), handing each record, checked,
/// to `on_record`. Stops at the first problem.
pub(crate) fn scan(
    path: &Path,
    file: &File,
    mut on_record: impl FnMut(AuditRecord),
) -> Result<Verified, VerifyError> {
    let err = |line: Option<u64>, problem: Problem| VerifyError {
        path: path.to_path_buf(),
        line,
        problem,
    };
    let size = file
        .metadata()
        .map_err(|e| err(None, Problem::Unreadable(e.to_string())))?
        .len();
    if size > MAX_LOG_BYTES {
        return Err(err(None, Problem::TooLarge { bytes: size }));
    }
    let mut reader = BufReader::new(file.take(MAX_LOG_BYTES));
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    let mut head = FIRST_PREV.to_string();
    let line_limit = u64::try_from(MAX_LINE_BYTES)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(line_limit)
            .read_until(b'\n', &mut buf)
            .map_err(|e| err(Some(line_no + 1), Problem::Unreadable(e.to_string())))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let at = Some(line_no);
        let ended = buf.last() == Some(&b'\n');
        if ended {
            buf.pop();
        }
        if buf.len() > MAX_LINE_BYTES {
            return Err(err(at, Problem::LineTooLong));
        }
        if !ended {
            return Err(err(at, Problem::Truncated));
        }
        if buf.is_empty() {
            return Err(err(at, Problem::EmptyLine));
        }
        let text = std::str::from_utf8(&buf).map_err(|_| err(at, Problem::NotUtf8))?;
        let mut rec: AuditRecord = serde_json::from_str(text).map_err(|e| {
            let msg = e.to_string();
            match e.classify() {
                serde_json::error::Category::Data => err(at, Problem::BadField(msg)),
                _ => err(at, Problem::NotJson(msg)),
            }
        })?;
        if rec.seq != line_no {
            return Err(err(
                at,
                Problem::SeqNotConsecutive {
                    expected: line_no,
                    found: rec.seq,
                },
            ));
        }
        if rec.prev != head {
            return Err(err(at, Problem::PrevMismatch));
        }
        rec.details = canonical(std::mem::take(&mut rec.details));
        match rec.content_hash() {
            Ok(h) if h == rec.hash => {}
            _ => return Err(err(at, Problem::Altered)),
        }
        match rec.line() {
            Ok(l) if l == text => {}
            _ => return Err(err(at, Problem::NotCanonical)),
        }
        head.clone_from(&rec.hash);
        on_record(rec);
    }
    Ok(Verified {
        records: line_no,
        head,
    })
}
