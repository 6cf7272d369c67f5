//! The bounded on-disk spool: messages the brokers could not take yet, kept in order until
//! they are confirmed.
//!
//! Records are appended to segment files (`<20-digit id>.seg`, see [`format`]) in a directory
//! locked by one spool at a time. A read cursor hands records out in order; a record stays on
//! disk until [`Spool::commit`] says the broker has it, and a segment file is deleted once all
//! its records are committed. [`Spool::rewind`] returns the read cursor to the first
//! unconfirmed record after a failure. The first unconfirmed position is saved in the
//! `cursor` file by [`Spool::checkpoint`], so a new spool on the same directory replays what
//! is left (records confirmed after the last checkpoint are replayed again: at least once,
//! never lost).
//!
//! Bounds: at most `max_bytes` on disk (segment files, committed prefixes included); when a
//! record does not fit, the [`FullPolicy`] drops the oldest segment or the new record, counted
//! in [`SpoolStats::dropped_full`]. Damage (a torn tail after `kill -9`, a flipped bit) is
//! found by the record checksums when the spool opens: damaged stretches are skipped and
//! counted, the segment is rewritten without them, and nothing panics.

pub mod format;

use std::collections::VecDeque;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use format::{SpoolRecord, RECORD_OVERHEAD};

use super::config::{FullPolicy, SpoolConfig};
use format::{FILE_HEADER, FILE_MAGIC, RECORD_HEADER};

/// Id of the first segment of an empty spool. Ids below it are left free for the segments
/// [`Spool::prepend`] puts in front of the head.
const FIRST_ID: u64 = 1 << 32;

/// Largest segment file read back, and so the largest record body trusted: far above any
/// segment this configuration writes, so segments of an earlier run with larger settings are
/// still read whole.
pub const MAX_SEGMENT_FILE: u64 = 1 << 30;

/// Name of the cursor file.
const CURSOR_FILE: &str = "cursor";
/// Name of the lock file.
const LOCK_FILE: &str = "lock";
/// Spooled messages are findings about the bank's clients: readable by apitap's user only.
const FILE_MODE: u32 = 0o600;
/// The spool directory's mode.
const DIR_MODE: u32 = 0o700;

/// An I/O failure of the spool: what it was doing, on which path, and the OS's reason.
#[derive(Debug)]
pub struct SpoolError {
    /// What the spool was doing ("create the spool directory", "append to", ...).
    pub op: &'static str,
    /// The file or directory.
    pub path: PathBuf,
    /// The OS's reason.
    pub source: io::Error,
}

impl fmt::Display for SpoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "kafka spool: cannot {} {}: {}", self.op, self.path.display(), self.source)
    }
}

impl std::error::Error for SpoolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

fn err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SpoolError + 'a {
    move |source| SpoolError { op, path: path.to_path_buf(), source }
}

/// Counters and sizes of a spool, for the health messages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SpoolStats {
    /// Records waiting (not yet confirmed by the broker).
    pub records: u64,
    /// Bytes of segment files on disk.
    pub bytes: u64,
    /// Segment files on disk.
    pub segments: u64,
    /// Records written since the spool opened (appended or put back in front).
    pub spooled: u64,
    /// Records dropped by the full policy before they were ever handed to the broker.
    pub dropped_full: u64,
    /// Damaged stretches skipped (each torn tail or damaged record counts once).
    pub corrupt_records: u64,
    /// Bytes in those stretches.
    pub corrupt_bytes: u64,
}

/// Where a record ends: committing it names this position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// Segment id.
    pub segment: u64,
    /// Byte offset just past the record.
    pub offset: u64,
}

/// The read cursor: the next record to hand out, and how many records of its segment come
/// before it. Saved with [`Spool::mark`] and restored with [`Spool::reset`] when a record was
/// read but could not be handed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadMark {
    segment: u64,
    offset: u64,
    index: u64,
}

/// What [`Spool::append`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Appended {
    /// Stored; `dropped_oldest` older records were dropped to make room.
    Stored {
        /// Records dropped by the drop-oldest policy for this one.
        dropped_oldest: u64,
    },
    /// Not stored: the spool is full and the policy is drop-newest.
    DroppedNewest,
}

#[derive(Debug)]
struct Segment {
    id: u64,
    /// Length of the valid part of the file (header included).
    bytes: u64,
    /// Records in it.
    records: u64,
    /// Records confirmed (a prefix).
    committed: u64,
    /// Offset of the first unconfirmed record.
    commit_offset: u64,
}

impl Segment {
    fn done(&self) -> bool {
        self.committed >= self.records
    }
}

/// The spool. Not shared between threads by itself: the publisher keeps it behind its lock.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    policy: FullPolicy,
    _lock: File,
    segments: VecDeque<Segment>,
    next_id: u64,
    /// Appends to the last segment; `None` until the first append (or after the tail was
    /// sealed by an error).
    writer: Option<File>,
    /// The last segment takes no more records (a write to it failed).
    tail_sealed: bool,
    reader: Option<(u64, File)>,
    read: ReadMark,
    /// What the cursor file holds (`None` before the first checkpoint).
    saved_cursor: Option<Option<(u64, u64)>>,
    stats: SpoolStats,
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.seg"))
}

fn segment_id(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a crash leaves the old
/// file or the new one, never half of either. `sync` forces the data to disk first (segments
/// rewritten at open). Writes made under the publisher's lock are not synced, so `publish`
/// never waits for the disk: a cursor lost to a power cut only replays confirmed messages
/// again, and segments put back in front are checked by their checksums like any other.
fn write_atomically(path: &Path, bytes: &[u8], sync: bool) -> Result<(), SpoolError> {
    let tmp = path.with_extension("tmp");
    let mut f = OpenOptions::new().create(true).truncate(true).write(true).mode(FILE_MODE).open(&tmp).map_err(err("create", &tmp))?;
    f.write_all(bytes).map_err(err("write", &tmp))?;
    if sync {
        f.sync_data().map_err(err("sync", &tmp))?;
    }
    fs::rename(&tmp, path).map_err(err("rename into place", path))
}

impl Spool {
    /// Opens (or creates) the spool in `cfg.dir`, recovering what a previous run left. Fails
    /// if the directory cannot be created or read, or another spool holds it.
    pub fn open(cfg: &SpoolConfig) -> Result<Spool, SpoolError> {
        let dir = cfg.dir.clone();
        fs::DirBuilder::new().recursive(true).mode(DIR_MODE).create(&dir).map_err(err("create the spool directory", &dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new().create(true).truncate(false).write(true).mode(FILE_MODE).open(&lock_path).map_err(err("open the lock file", &lock_path))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(|e| SpoolError {
            op: "lock (another apitap process uses this spool directory; give each its own kafka.spool.dir)",
            path: lock_path.clone(),
            source: e.into(),
        })?;
        let mut spool = Spool {
            dir,
            max_bytes: cfg.max_bytes,
            segment_bytes: cfg.segment_bytes,
            policy: cfg.full_policy,
            _lock: lock,
            segments: VecDeque::new(),
            next_id: FIRST_ID,
            writer: None,
            tail_sealed: false,
            reader: None,
            read: ReadMark { segment: FIRST_ID, offset: FILE_HEADER, index: 0 },
            saved_cursor: None,
            stats: SpoolStats::default(),
        };
        spool.recover()?;
        Ok(spool)
    }

    fn recover(&mut self) -> Result<(), SpoolError> {
        let mut ids = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(err("list", &self.dir))? {
            let entry = entry.map_err(err("list", &self.dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.ends_with(".tmp") {
                // A rewrite or checkpoint that did not finish: the original is still there.
                let _ = fs::remove_file(entry.path());
            } else if let Some(id) = segment_id(name) {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        let cursor_path = self.dir.join(CURSOR_FILE);
        let cursor = match fs::read(&cursor_path) {
            Ok(bytes) => format::decode_cursor(&bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(err("read", &cursor_path)(e)),
        };
        let max_file = MAX_SEGMENT_FILE;
        for id in ids {
            let path = segment_path(&self.dir, id);
            let mut bytes = Vec::new();
            File::open(&path).map_err(err("open", &path))?.take(max_file).read_to_end(&mut bytes).map_err(err("read", &path))?;
            let len_on_disk = fs::metadata(&path).map_err(err("read", &path))?.len();
            let scan = format::scan(&bytes, MAX_SEGMENT_FILE as usize);
            let beyond = len_on_disk.saturating_sub(bytes.len() as u64);
            self.stats.corrupt_records = self.stats.corrupt_records.saturating_add(scan.corrupt_regions).saturating_add(u64::from(beyond > 0));
            self.stats.corrupt_bytes = self.stats.corrupt_bytes.saturating_add(scan.corrupt_bytes).saturating_add(beyond);
            if scan.records.is_empty() {
                fs::remove_file(&path).map_err(err("remove the empty or unreadable segment", &path))?;
                continue;
            }
            let damaged = scan.corrupt_regions > 0 || beyond > 0;
            if damaged {
                let mut clean = FILE_MAGIC.to_vec();
                for r in &scan.records {
                    clean.extend_from_slice(bytes.get(r.clone()).unwrap_or_default());
                }
                write_atomically(&path, &clean, true)?;
            }
            let total = FILE_HEADER.saturating_add(scan.records.iter().map(|r| r.len() as u64).sum::<u64>());
            let mut seg = Segment { id, bytes: total, records: scan.records.len() as u64, committed: 0, commit_offset: FILE_HEADER };
            // The cursor is trusted only on an undamaged segment and at a record boundary.
            if let Some((cseg, coff)) = cursor {
                if cseg == id && !damaged {
                    if let Some(before) = scan.records.iter().position(|r| r.end as u64 == coff) {
                        seg.committed = before as u64 + 1;
                        seg.commit_offset = coff;
                    }
                }
            }
            self.next_id = self.next_id.max(id.saturating_add(1));
            self.segments.push_back(seg);
        }
        if let Some((cseg, _)) = cursor {
            // A later segment id must never equal one an old cursor names.
            self.next_id = self.next_id.max(cseg.saturating_add(1));
        }
        let dir = self.dir.clone();
        self.segments.retain(|s| {
            if s.done() {
                let _ = fs::remove_file(segment_path(&dir, s.id));
            }
            !s.done()
        });
        self.rewind();
        self.checkpoint()
    }

    /// The full policy.
    pub fn policy(&self) -> FullPolicy {
        self.policy
    }

    /// Bytes on disk.
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    /// Records not yet confirmed.
    pub fn pending_records(&self) -> u64 {
        self.segments.iter().map(|s| s.records.saturating_sub(s.committed)).sum()
    }

    /// Whether every record is confirmed (nothing to replay).
    pub fn is_empty(&self) -> bool {
        self.segments.iter().all(Segment::done)
    }

    /// Whether a segment still exists (a drop-oldest may have removed it while its records
    /// were in flight).
    pub fn has_segment(&self, id: u64) -> bool {
        self.segments.iter().any(|s| s.id == id)
    }

    /// Counters and sizes.
    pub fn stats(&self) -> SpoolStats {
        SpoolStats {
            records: self.pending_records(),
            bytes: self.bytes(),
            segments: self.segments.len() as u64,
            ..self.stats.clone()
        }
    }

    /// Appends a record at the end, applying the full policy if it does not fit. A record
    /// larger than a segment is refused with an `InvalidInput` error (the publisher's
    /// `max_message_bytes` check comes first).
    pub fn append(&mut self, rec: &SpoolRecord) -> Result<Appended, SpoolError> {
        let framed = format::encode(rec)
            .filter(|f| (f.len() as u64).saturating_add(FILE_HEADER) <= self.segment_bytes)
            .ok_or_else(|| SpoolError {
                op: "append a record larger than a segment to",
                path: self.dir.clone(),
                source: io::Error::from(io::ErrorKind::InvalidInput),
            })?;
        let n = framed.len() as u64;
        let mut dropped = 0;
        while self.bytes().saturating_add(self.room_needed(n)) > self.max_bytes {
            if self.policy == FullPolicy::DropNewest || self.segments.is_empty() {
                self.stats.dropped_full = self.stats.dropped_full.saturating_add(1);
                return Ok(Appended::DroppedNewest);
            }
            dropped += self.drop_head();
        }
        if self.room_needed(n) > n {
            self.start_segment(n)?;
        }
        let (Some(tail), Some(writer)) = (self.segments.back_mut(), self.writer.as_mut()) else {
            return Err(SpoolError { op: "append to", path: self.dir.clone(), source: io::Error::other("no open segment") });
        };
        if let Err(e) = writer.write_all(&framed) {
            // Cut a partial record off; if even that fails, the tail takes no more records
            // (its valid length is known, so the bytes past it are never read).
            if writer.set_len(tail.bytes).is_err() {
                self.tail_sealed = true;
            }
            return Err(err("append to", &segment_path(&self.dir, tail.id))(e));
        }
        tail.bytes = tail.bytes.saturating_add(n);
        tail.records = tail.records.saturating_add(1);
        self.stats.spooled = self.stats.spooled.saturating_add(1);
        Ok(Appended::Stored { dropped_oldest: dropped })
    }

    /// Bytes an append of `n` framed bytes adds: `n`, plus a file header if it needs a new
    /// segment.
    fn room_needed(&self, n: u64) -> u64 {
        let fits = self.writer.is_some() && !self.tail_sealed && self.segments.back().is_some_and(|t| t.bytes.saturating_add(n) <= self.segment_bytes);
        if fits {
            n
        } else {
            n.saturating_add(FILE_HEADER)
        }
    }

    fn start_segment(&mut self, n: u64) -> Result<(), SpoolError> {
        // The existing last segment is reused after a restart if it has room.
        let reuse = self.writer.is_none() && !self.tail_sealed && self.segments.back().is_some_and(|t| t.bytes.saturating_add(n) <= self.segment_bytes);
        if let (true, Some(tail)) = (reuse, self.segments.back()) {
            let path = segment_path(&self.dir, tail.id);
            let f = OpenOptions::new().append(true).open(&path).map_err(err("open for appending", &path))?;
            let len = f.metadata().map_err(err("read", &path))?.len();
            if len == tail.bytes {
                self.writer = Some(f);
                return Ok(());
            }
        }
        let id = self.next_id;
        let path = segment_path(&self.dir, id);
        let mut f = OpenOptions::new().create_new(true).append(true).mode(FILE_MODE).open(&path).map_err(err("create segment", &path))?;
        f.write_all(&FILE_MAGIC).map_err(err("write", &path))?;
        self.next_id = id.saturating_add(1);
        self.segments.push_back(Segment { id, bytes: FILE_HEADER, records: 0, committed: 0, commit_offset: FILE_HEADER });
        self.writer = Some(f);
        self.tail_sealed = false;
        if self.segments.len() == 1 {
            self.read = ReadMark { segment: id, offset: FILE_HEADER, index: 0 };
        }
        Ok(())
    }

    /// Removes the oldest segment; returns how many of its records had not been read (those
    /// are counted as dropped; records already handed out are accounted by whoever holds
    /// them).
    fn drop_head(&mut self) -> u64 {
        let Some(seg) = self.segments.pop_front() else { return 0 };
        let unread = if self.read.segment == seg.id {
            seg.records.saturating_sub(self.read.index)
        } else if self.read.segment < seg.id {
            seg.records.saturating_sub(seg.committed)
        } else {
            0
        };
        self.stats.dropped_full = self.stats.dropped_full.saturating_add(unread);
        self.forget(seg.id);
        if self.read.segment <= seg.id {
            self.move_read_to_front();
        }
        unread
    }

    /// Deletes a segment's file and any handle on it.
    fn forget(&mut self, id: u64) {
        let _ = fs::remove_file(segment_path(&self.dir, id));
        if self.reader.as_ref().is_some_and(|(rid, _)| *rid == id) {
            self.reader = None;
        }
        if self.segments.is_empty() || self.segments.back().is_some_and(|t| t.id < id) {
            self.writer = None;
            self.tail_sealed = false;
        }
    }

    fn move_read_to_front(&mut self) {
        self.read = match self.segments.front() {
            Some(s) => ReadMark { segment: s.id, offset: s.commit_offset, index: s.committed },
            None => ReadMark { segment: self.next_id, offset: FILE_HEADER, index: 0 },
        };
    }

    /// Puts records back in front of everything else, in the order given: messages that
    /// librdkafka handed back failed are older than anything spooled after them. The read
    /// cursor returns to the new front, so call this only when no record read from the spool
    /// is unconfirmed. When they do not fit, the oldest records go, whatever the policy.
    pub fn prepend(&mut self, recs: &[SpoolRecord]) -> Result<(), SpoolError> {
        let Some(head_id) = self.segments.front().map(|s| s.id) else {
            for r in recs {
                self.append(r)?;
            }
            return Ok(());
        };
        let mut chunks: Vec<(Vec<u8>, u64)> = Vec::new();
        for r in recs {
            let Some(framed) = format::encode(r).filter(|f| (f.len() as u64).saturating_add(FILE_HEADER) <= self.segment_bytes) else {
                continue;
            };
            let start_new = chunks.last().is_none_or(|(c, _)| (c.len() as u64).saturating_add(framed.len() as u64) > self.segment_bytes);
            if start_new {
                chunks.push((FILE_MAGIC.to_vec(), 0));
            }
            if let Some((c, n)) = chunks.last_mut() {
                c.extend_from_slice(&framed);
                *n += 1;
            }
        }
        if chunks.is_empty() {
            return Ok(());
        }
        // Save the cursor first: it then names the current head, never one of the ids below
        // it that the new segments take.
        self.saved_cursor = None;
        self.checkpoint()?;
        let first = head_id.saturating_sub(chunks.len() as u64);
        for (i, (bytes, records)) in chunks.into_iter().enumerate().rev() {
            let id = first.saturating_add(i as u64);
            write_atomically(&segment_path(&self.dir, id), &bytes, false)?;
            self.stats.spooled = self.stats.spooled.saturating_add(records);
            self.segments.push_front(Segment { id, bytes: bytes.len() as u64, records, committed: 0, commit_offset: FILE_HEADER });
        }
        self.rewind();
        while self.bytes() > self.max_bytes && self.segments.len() > 1 {
            self.drop_head();
        }
        Ok(())
    }

    /// The read cursor, to [`Spool::reset`] to.
    pub fn mark(&self) -> ReadMark {
        self.read
    }

    /// Puts the read cursor back to a mark taken before reading.
    pub fn reset(&mut self, mark: ReadMark) {
        if self.has_segment(mark.segment) {
            self.read = mark;
        }
    }

    /// Returns the read cursor to the first unconfirmed record.
    pub fn rewind(&mut self) {
        let front = self.segments.iter().find(|s| !s.done());
        self.read = match front {
            Some(s) => ReadMark { segment: s.id, offset: s.commit_offset, index: s.committed },
            None => match self.segments.back() {
                Some(t) => ReadMark { segment: t.id, offset: t.bytes, index: t.records },
                None => ReadMark { segment: self.next_id, offset: FILE_HEADER, index: 0 },
            },
        };
    }

    /// The next record and where it ends, or `None` when everything has been read.
    pub fn read_next(&mut self) -> Result<Option<(SpoolRecord, Position)>, SpoolError> {
        loop {
            let Some(pos) = self.segments.iter().position(|s| s.id >= self.read.segment) else {
                return Ok(None);
            };
            let Some(seg) = self.segments.get(pos) else { return Ok(None) };
            if seg.id != self.read.segment {
                self.read = ReadMark { segment: seg.id, offset: seg.commit_offset, index: seg.committed };
            }
            if self.read.offset >= seg.bytes {
                match self.segments.get(pos.saturating_add(1)) {
                    Some(next) => {
                        self.read = ReadMark { segment: next.id, offset: next.commit_offset, index: next.committed };
                        continue;
                    }
                    None => return Ok(None),
                }
            }
            let (id, end) = (seg.id, seg.bytes);
            match self.read_at(id, self.read.offset, end)? {
                Some((rec, next)) => {
                    self.read.offset = next;
                    self.read.index = self.read.index.saturating_add(1);
                    return Ok(Some((rec, Position { segment: id, offset: next })));
                }
                None => {
                    // Damaged after it was written (the open-time scan found it intact): the
                    // rest of this segment is given up, and its tail takes no more records.
                    let at = self.read.offset;
                    let index = self.read.index;
                    if let Some(seg) = self.segments.get_mut(pos) {
                        self.stats.corrupt_records = self.stats.corrupt_records.saturating_add(1);
                        self.stats.corrupt_bytes = self.stats.corrupt_bytes.saturating_add(seg.bytes.saturating_sub(at));
                        seg.bytes = at;
                        seg.records = index;
                    }
                    if pos.saturating_add(1) == self.segments.len() {
                        self.tail_sealed = true;
                        self.writer = None;
                    }
                }
            }
        }
    }

    /// Reads the record at `offset` of segment `id`, not past `end`; `None` if it is damaged.
    fn read_at(&mut self, id: u64, offset: u64, end: u64) -> Result<Option<(SpoolRecord, u64)>, SpoolError> {
        let path = segment_path(&self.dir, id);
        if self.reader.as_ref().is_none_or(|(rid, _)| *rid != id) {
            self.reader = Some((id, File::open(&path).map_err(err("open", &path))?));
        }
        let Some((_, file)) = self.reader.as_ref() else { return Ok(None) };
        let mut header = [0u8; RECORD_HEADER];
        if offset.saturating_add(RECORD_HEADER as u64) > end {
            return Ok(None);
        }
        file.read_exact_at(&mut header, offset).map_err(err("read", &path))?;
        let Some(len) = format::header_body_len(&header, MAX_SEGMENT_FILE as usize) else { return Ok(None) };
        let body_at = offset.saturating_add(RECORD_HEADER as u64);
        let next = body_at.saturating_add(len as u64);
        if next > end {
            return Ok(None);
        }
        let mut body = vec![0u8; len];
        file.read_exact_at(&mut body, body_at).map_err(err("read", &path))?;
        Ok(format::decode(&header, &body).map(|r| (r, next)))
    }

    /// Confirms the record ending at `pos` and, records being confirmed in the order they were
    /// read, every one before it. Fully confirmed segments are deleted. Returns false when the
    /// segment is gone (dropped by the full policy while the record was in flight).
    pub fn commit(&mut self, pos: Position) -> bool {
        let Some(seg) = self.segments.iter_mut().find(|s| s.id == pos.segment) else { return false };
        if pos.offset > seg.commit_offset {
            seg.committed = seg.committed.saturating_add(1).min(seg.records);
            seg.commit_offset = pos.offset;
        }
        while let Some(front) = self.segments.front() {
            let done = front.done() && (front.id < pos.segment || front.commit_offset >= front.bytes);
            if !done {
                break;
            }
            let id = front.id;
            self.segments.pop_front();
            self.forget(id);
        }
        true
    }

    /// Saves the first unconfirmed position (a no-op if unchanged); with nothing pending the
    /// cursor file is removed. Called about once a second and at shutdown: a crash replays
    /// what was confirmed since.
    pub fn checkpoint(&mut self) -> Result<(), SpoolError> {
        let path = self.dir.join(CURSOR_FILE);
        let now = self.segments.iter().find(|s| !s.done()).map(|s| (s.id, s.commit_offset));
        if self.saved_cursor == Some(now) {
            return Ok(());
        }
        match now {
            Some((id, off)) => write_atomically(&path, &format::encode_cursor(id, off), false)?,
            None => match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(err("remove", &path)(e)),
            },
        }
        self.saved_cursor = Some(now);
        Ok(())
    }

    /// Forces appended records to disk (against power loss; a killed process loses nothing
    /// that `append` returned for).
    pub fn sync(&mut self) -> Result<(), SpoolError> {
        if let (Some(w), Some(t)) = (self.writer.as_ref(), self.segments.back()) {
            w.sync_data().map_err(err("sync", &segment_path(&self.dir, t.id)))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
