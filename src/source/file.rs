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
const READ_CHUNK: usize = 1 << 20;

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

/// Opens every file and hands out their packets in time order (the earliest current packet
/// next; ties go to the file named first). Files that cannot be opened are reported through
/// `on_error` and left out.
pub struct Merge {
    /// Files with a current packet, with their position on the command line.
    files: Vec<(usize, CaptureFile)>,
    done: Vec<(usize, CaptureFile)>,
}

impl Merge {
    /// Opens the files and positions each on its first packet.
    pub fn open(paths: &[PathBuf], mut on_error: impl FnMut(&Path, anyhow::Error)) -> Self {
        let mut merge = Merge { files: Vec::new(), done: Vec::new() };
        for (order, path) in paths.iter().enumerate() {
            match CaptureFile::open(path) {
                Ok(f) => merge.position(order, f, &mut on_error),
                Err(e) => on_error(path, e),
            }
        }
        merge
    }

    /// Moves `f` to its next packet and files it under live or done.
    fn position(&mut self, order: usize, mut f: CaptureFile, on_error: &mut impl FnMut(&Path, anyhow::Error)) {
        match f.advance() {
            Ok(true) => self.files.push((order, f)),
            Ok(false) => self.done.push((order, f)),
            Err(e) => {
                on_error(f.path(), e);
                self.done.push((order, f));
            }
        }
    }

    fn earliest(&self) -> Option<usize> {
        self.files.iter().enumerate().min_by_key(|(_, (order, f))| (f.current_ts(), *order)).map(|(i, _)| i)
    }

    /// The packet that comes next in time, if any is left.
    pub fn current(&self) -> Option<PacketRecord<'_>> {
        self.files.get(self.earliest()?).and_then(|(_, f)| f.current())
    }

    /// Moves past the packet [`Merge::current`] returned.
    pub fn advance(&mut self, on_error: &mut impl FnMut(&Path, anyhow::Error)) {
        let Some(idx) = self.earliest() else { return };
        let (order, f) = self.files.swap_remove(idx);
        self.position(order, f, on_error);
    }

    /// Bytes read over all files and their total size.
    pub fn progress(&self) -> (u64, u64) {
        self.files.iter().chain(&self.done).fold((0, 0), |(r, s), (_, f)| {
            let (fr, fs) = f.progress();
            (r + fr, s + fs)
        })
    }

    /// Every file that was opened, in command-line order, with what happened to it.
    pub fn into_files(self) -> Vec<CaptureFile> {
        let mut all: Vec<(usize, CaptureFile)> = self.done.into_iter().chain(self.files).collect();
        all.sort_by_key(|(order, _)| *order);
        all.into_iter().map(|(_, f)| f).collect()
    }
}
