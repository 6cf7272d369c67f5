//! Reading capture files: pcap or pcapng, optionally gzip-compressed, fed to the sans-IO
//! [`CaptureParser`] through a bounded buffer. Several files are merged by packet time, as
//! `mergecap` does, so that a TAP pair recorded as one file per direction reads as one trace.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{bail, Context, Result};
use apitap_sensor::capture::{CaptureError, CaptureParser, PacketRecord, Parsed};
use apitap_sensor::{LinkType, Timestamp};
use flate2::read::MultiGzDecoder;

/// Bytes read from a file per read call.
const READ_CHUNK: usize = 256 << 10;

/// What reading one file gave.
#[derive(Debug, Default)]
pub struct FileOutcome {
    /// Packets handed on.
    pub packets: u64,
    /// Records skipped because their contents were unusable (their framing was intact).
    pub bad_records: u64,
    /// The first bad record, for the message.
    pub first_bad: Option<CaptureError>,
    /// The file ended in the middle of a record (the partial record was dropped).
    pub truncated: bool,
    /// The file could not be read to its end; packets before the fault were processed.
    pub error: Option<CaptureError>,
}

/// Counts bytes read from the underlying file (compressed bytes for gzip), for progress.
struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Where the current packet sits in the file's buffer.
struct Current {
    ts: Timestamp,
    link: LinkType,
    wire_len: u32,
    interface: u32,
    data: Range<usize>,
    consumed: usize,
}

/// One open capture file, positioned on a packet.
pub struct CaptureFile {
    path: PathBuf,
    reader: Box<dyn Read>,
    parser: CaptureParser,
    buf: Vec<u8>,
    start: usize,
    eof: bool,
    current: Option<Current>,
    read_bytes: Rc<Cell<u64>>,
    gzip: bool,
    size: u64,
    /// What has happened so far.
    pub outcome: FileOutcome,
}

impl CaptureFile {
    /// Opens a capture (gzip is recognised by its magic number).
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let meta = file.metadata().with_context(|| format!("cannot read {}", path.display()))?;
        if meta.is_dir() {
            bail!("{} is a directory, not a capture file", path.display());
        }
        let read_bytes = Rc::new(Cell::new(0u64));
        let mut raw = BufReader::new(Counting { inner: file, count: read_bytes.clone() });
        let head = raw.fill_buf().with_context(|| format!("cannot read {}", path.display()))?;
        if head.is_empty() {
            bail!("{} is empty", path.display());
        }
        let gzip = head.starts_with(&[0x1f, 0x8b]);
        let reader: Box<dyn Read> = if gzip { Box::new(MultiGzDecoder::new(raw)) } else { Box::new(raw) };
        Ok(CaptureFile {
            path: path.to_path_buf(),
            reader,
            parser: CaptureParser::new(),
            buf: Vec::with_capacity(READ_CHUNK),
            start: 0,
            eof: false,
            current: None,
            read_bytes,
            gzip,
            size: meta.len(),
            outcome: FileOutcome::default(),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes read from disk so far and the file's size.
    pub fn progress(&self) -> (u64, u64) {
        (self.read_bytes.get(), self.size)
    }

    /// The packet the file is positioned on.
    pub fn current(&self) -> Option<PacketRecord<'_>> {
        let c = self.current.as_ref()?;
        Some(PacketRecord {
            ts: c.ts,
            link: c.link,
            data: self.buf.get(c.data.clone())?,
            wire_len: c.wire_len,
            interface: c.interface,
        })
    }

    /// The current packet's time.
    pub fn current_ts(&self) -> Option<Timestamp> {
        self.current.as_ref().map(|c| c.ts)
    }

    /// Moves to the next packet. `Ok(false)` at the end of the file, also when its structure
    /// is broken (then [`FileOutcome::error`] says why). I/O failures are errors.
    pub fn advance(&mut self) -> Result<bool> {
        if let Some(c) = self.current.take() {
            self.start += c.consumed;
        }
        loop {
            let unread = self.buf.get(self.start..).unwrap_or_default();
            let need = match self.parser.parse(unread) {
                Ok((consumed, Parsed::Packet(rec))) => {
                    let base = self.buf.as_ptr() as usize;
                    let from = (rec.data.as_ptr() as usize).saturating_sub(base);
                    self.current = Some(Current {
                        ts: rec.ts,
                        link: rec.link,
                        wire_len: rec.wire_len,
                        interface: rec.interface,
                        data: from..from + rec.data.len(),
                        consumed,
                    });
                    self.outcome.packets += 1;
                    return Ok(true);
                }
                Ok((consumed, Parsed::Other)) => {
                    self.start += consumed;
                    continue;
                }
                Ok((consumed, Parsed::BadRecord(err))) => {
                    self.start += consumed;
                    self.outcome.bad_records += 1;
                    self.outcome.first_bad.get_or_insert(err);
                    continue;
                }
                Ok((_, Parsed::NeedMore(need))) => need,
                Err(err) => {
                    self.outcome.error = Some(err);
                    return Ok(false);
                }
            };
            if self.eof {
                if self.parser.format().is_none() {
                    bail!("{}: too short to be a capture file", self.path.display());
                }
                self.outcome.truncated = !unread.is_empty();
                return Ok(false);
            }
            self.fill(need)?;
        }
    }

    /// Drops consumed bytes and reads until `need` unread bytes are buffered or the file ends.
    fn fill(&mut self, need: usize) -> Result<()> {
        self.buf.drain(..self.start.min(self.buf.len()));
        self.start = 0;
        while self.buf.len() < need {
            let old = self.buf.len();
            self.buf.resize(old + READ_CHUNK.max(need - old), 0);
            let read = self.reader.read(self.buf.get_mut(old..).unwrap_or_default());
            let n = match read {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
                Err(e) => {
                    self.buf.truncate(old);
                    let what = if self.gzip {
                        "cannot decompress (the gzip data is corrupt, cut short or followed by other bytes)"
                    } else {
                        "cannot read"
                    };
                    return Err(e).with_context(|| format!("{}: {what}", self.path.display()));
                }
            };
            self.buf.truncate(old + n);
            if n == 0 {
                self.eof = true;
                break;
            }
        }
        Ok(())
    }
}

/// Hands out the packets of several files in time order (the earliest current packet next;
/// ties go to the file named first).
///
/// A rotated capture set can be thousands of files, more than the open-file limit, so files
/// are not all held open: each is opened once to learn its first packet time and closed again,
/// then reopened only when the merge reaches that time, and closed as soon as it is read to its
/// end. Files whose time ranges overlap (a TAP pair) are open together.
pub struct Merge {
    /// Files with a current packet, with their position on the command line.
    open: Vec<(usize, CaptureFile)>,
    /// Files not opened yet: (first packet time, position, path), latest first.
    waiting: Vec<(Timestamp, usize, PathBuf)>,
    /// What happened to each finished file, by position.
    done: Vec<(usize, PathBuf, FileOutcome)>,
}

impl Merge {
    /// Looks at the first packet of every file. Files that cannot be opened or hold no packet
    /// are reported (through `on_error`) or finished at once.
    pub fn open(paths: &[PathBuf], mut on_error: impl FnMut(&Path, anyhow::Error)) -> Self {
        let mut merge = Merge { open: Vec::new(), waiting: Vec::new(), done: Vec::new() };
        for (order, path) in paths.iter().enumerate() {
            match CaptureFile::open(path) {
                Ok(mut f) => match f.advance() {
                    Ok(true) => match f.current_ts() {
                        Some(ts) => merge.waiting.push((ts, order, path.clone())),
                        None => merge.finish(order, f),
                    },
                    Ok(false) => merge.finish(order, f),
                    Err(e) => {
                        on_error(path, e);
                        merge.finish(order, f);
                    }
                },
                Err(e) => on_error(path, e),
            }
        }
        merge.waiting.sort_by_key(|w| std::cmp::Reverse((w.0, w.1)));
        merge
    }

    fn finish(&mut self, order: usize, f: CaptureFile) {
        let path = f.path.clone();
        self.done.push((order, path, f.outcome));
    }

    /// Moves `f` to its next packet; a file at its end is closed.
    fn position(&mut self, order: usize, mut f: CaptureFile, on_error: &mut impl FnMut(&Path, anyhow::Error)) {
        match f.advance() {
            Ok(true) => self.open.push((order, f)),
            Ok(false) => self.finish(order, f),
            Err(e) => {
                on_error(f.path(), e);
                self.finish(order, f);
            }
        }
    }

    /// Opens the waiting files whose first packet comes before every open file's next one.
    fn admit(&mut self, on_error: &mut impl FnMut(&Path, anyhow::Error)) {
        loop {
            let next_open = self.open.iter().map(|(order, f)| (f.current_ts(), *order)).min();
            let Some(&(ts, order, _)) = self.waiting.last() else { return };
            if next_open.is_some_and(|n| n <= (Some(ts), order)) {
                return;
            }
            let Some((_, order, path)) = self.waiting.pop() else { return };
            // Reopened from the start: advancing once lands on the first packet again.
            match CaptureFile::open(&path) {
                Ok(f) => self.position(order, f, on_error),
                Err(e) => on_error(&path, e),
            }
        }
    }

    fn earliest(&self) -> Option<usize> {
        self.open.iter().enumerate().min_by_key(|(_, (order, f))| (f.current_ts(), *order)).map(|(i, _)| i)
    }

    /// The packet that comes next in time, if any is left.
    pub fn current(&mut self, on_error: &mut impl FnMut(&Path, anyhow::Error)) -> Option<PacketRecord<'_>> {
        self.admit(on_error);
        let idx = self.earliest()?;
        self.open.get(idx).and_then(|(_, f)| f.current())
    }

    /// Moves past the packet [`Merge::current`] returned.
    pub fn advance(&mut self, on_error: &mut impl FnMut(&Path, anyhow::Error)) {
        let Some(idx) = self.earliest() else { return };
        let (order, f) = self.open.swap_remove(idx);
        self.position(order, f, on_error);
    }

    /// Bytes read of the files open now, and their total size.
    pub fn progress(&self) -> (u64, u64) {
        self.open.iter().fold((0, 0), |(r, s), (_, f)| {
            let (fr, fs) = f.progress();
            (r + fr, s + fs)
        })
    }

    /// Files finished so far and files in all.
    pub fn files_done(&self) -> (usize, usize) {
        (self.done.len(), self.done.len() + self.open.len() + self.waiting.len())
    }

    /// What happened to every file that was opened, in command-line order.
    pub fn into_outcomes(self) -> Vec<(PathBuf, FileOutcome)> {
        let mut all = self.done;
        all.extend(self.open.into_iter().map(|(order, f)| (order, f.path, f.outcome)));
        all.sort_by_key(|(order, _, _)| *order);
        all.into_iter().map(|(_, p, o)| (p, o)).collect()
    }
}
