//! Reading capture files: pcap or pcapng, optionally gzip-compressed, fed to the sans-IO
//! [`CaptureParser`] through a bounded buffer.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use anyhow::{Context, Result};
use apitap_sensor::capture::{CaptureError, CaptureParser, Parsed, PacketRecord};
use flate2::read::MultiGzDecoder;

/// Bytes read from the file per read call.
const READ_CHUNK: usize = 1 << 20;

/// What reading one file gave.
#[derive(Debug, Default)]
pub struct FileOutcome {
    /// Packets handed on.
    pub packets: u64,
    /// The file ended in the middle of a record (the partial record was dropped).
    pub truncated: bool,
    /// The file could not be read to its end; packets before the fault were processed.
    pub error: Option<CaptureError>,
}

/// Counts bytes read from the underlying file (compressed bytes for gzip), for progress.
struct Counting<R> {
    inner: R,
    count: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Reads every packet of `path` into `on_packet`. `on_progress` gets (bytes read of the file,
/// file size) now and then. I/O errors (cannot open, read failure, corrupt gzip) are returned;
/// a corrupt capture structure ends the file with [`FileOutcome::error`] set.
pub fn read_capture(
    path: &Path,
    mut on_packet: impl FnMut(&PacketRecord<'_>),
    mut on_progress: impl FnMut(u64, u64),
) -> Result<FileOutcome> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let count = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let mut raw = BufReader::new(Counting { inner: file, count: count.clone() });
    let mut magic = [0u8; 2];
    let gz = {
        use std::io::BufRead;
        let head = raw.fill_buf().with_context(|| format!("cannot read {}", path.display()))?;
        if let Some(m) = head.get(..2) {
            magic.copy_from_slice(m);
        }
        magic == [0x1f, 0x8b]
    };
    let mut reader: Box<dyn Read> = if gz { Box::new(MultiGzDecoder::new(raw)) } else { Box::new(raw) };

    let mut parser = CaptureParser::new();
    let mut outcome = FileOutcome::default();
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut start = 0usize;
    let mut eof = false;
    let mut last_progress = 0u64;
    loop {
        let unread = buf.get(start..).unwrap_or_default();
        let need = match parser.parse(unread) {
            Ok((consumed, Parsed::Packet(rec))) => {
                on_packet(&rec);
                outcome.packets += 1;
                start += consumed;
                continue;
            }
            Ok((consumed, Parsed::Other)) => {
                start += consumed;
                continue;
            }
            Ok((_, Parsed::NeedMore(need))) => need,
            Err(err) => {
                outcome.error = Some(err);
                return Ok(outcome);
            }
        };
        if eof {
            outcome.truncated = !unread.is_empty();
            if parser.format().is_none() && !unread.is_empty() {
                anyhow::bail!("{}: file is too short to be a capture", path.display());
            }
            return Ok(outcome);
        }
        // Keep only the unread bytes, then read until `need` bytes are available.
        buf.drain(..start);
        start = 0;
        while buf.len() < need {
            let old = buf.len();
            buf.resize(old + READ_CHUNK.max(need - old), 0);
            let n = reader
                .read(buf.get_mut(old..).unwrap_or_default())
                .with_context(|| format!("cannot read {}", path.display()))?;
            buf.truncate(old + n);
            if n == 0 {
                eof = true;
                break;
            }
        }
        let read = count.get();
        if read >= last_progress + (64 << 20) || (eof && read > last_progress) {
            last_progress = read;
            on_progress(read, size);
        }
    }
}
