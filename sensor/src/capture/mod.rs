//! Capture-file formats, parsed from bytes the caller reads (sans-IO).
//!
//! [`CaptureParser`] understands classic pcap (micro- and nanosecond, either byte order) and
//! pcapng (several sections, several interfaces with their own link types and timestamp
//! resolutions; Enhanced, Simple and obsolete Packet blocks). Compression is the caller's
//! business: the binary unwraps gzip before feeding bytes here.
//!
//! The caller keeps a buffer, calls [`CaptureParser::parse`] on its unread part and drops the
//! consumed bytes; when the parser says [`Parsed::NeedMore`], the caller reads more. Records
//! larger than [`MAX_RECORD_LEN`] are refused: a corrupt length field cannot make the caller
//! allocate without bound.
//!
//! A record whose length fields are sane but whose contents are not usable is returned as
//! [`Parsed::BadRecord`] and reading goes on; only a broken length field (after which no record
//! boundary can be trusted) ends the file with an error.
//!
//! Not supported: pcapng Decryption Secrets blocks (skipped), packets that name an interface
//! described only later in the file (bad records), modified pcap formats (Kuznetzov's
//! "swapped" variants).

mod pcap;
mod pcapng;

use std::fmt;

use crate::packet::{LinkType, Timestamp};

/// The largest record (pcap record or pcapng block) accepted, in bytes. A real frame is at
/// most 256 KiB even with jumbo/TSO captures; anything larger is a corrupt length field.
pub const MAX_RECORD_LEN: usize = 16 * 1024 * 1024;

/// How many interfaces one pcapng section may declare; further descriptions are bad records.
pub const MAX_INTERFACES: usize = 4096;

/// One captured packet, borrowing its bytes from the caller's buffer.
#[derive(Debug, Clone)]
pub struct PacketRecord<'a> {
    /// Capture time.
    pub ts: Timestamp,
    /// Link type of the interface it was captured on.
    pub link: LinkType,
    /// Captured bytes (at most the snaplen).
    pub data: &'a [u8],
    /// Length of the frame on the wire.
    pub wire_len: u32,
    /// Interface index within the file (always 0 for classic pcap).
    pub interface: u32,
}

/// What [`CaptureParser::parse`] found at the start of the buffer.
#[derive(Debug)]
pub enum Parsed<'a> {
    /// A packet; the consumed length is returned beside it.
    Packet(PacketRecord<'a>),
    /// A block that carries no packet (header, interface description, statistics...).
    Other,
    /// A packet record whose framing is intact but whose contents are not usable (it names an
    /// interface that was never described, its captured length overruns its block...). The
    /// record was consumed; the caller counts it and carries on with the next one.
    BadRecord(CaptureError),
    /// The buffer does not yet hold the whole next item: at least this many bytes are needed
    /// from the start of the buffer.
    NeedMore(usize),
}

/// Which format the file is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Format {
    /// Classic libpcap format.
    Pcap,
    /// pcapng.
    Pcapng,
}

/// A capture file that cannot be read any further.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureError {
    /// The first bytes are no known capture magic number.
    UnknownFormat {
        /// The first four bytes, for the message.
        magic: [u8; 4],
    },
    /// A record or block declares a length that cannot be right.
    BadLength {
        /// Format being read.
        format: Format,
        /// Byte offset of the record in the (decompressed) file.
        offset: u64,
        /// The length found.
        len: u64,
        /// Why it is wrong.
        reason: &'static str,
    },
    /// A header field is invalid.
    BadHeader {
        /// Format being read.
        format: Format,
        /// Byte offset of the record in the (decompressed) file.
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::UnknownFormat { magic } => write!(
                f,
                "not a pcap or pcapng capture (first bytes {:02x} {:02x} {:02x} {:02x})",
                magic[0], magic[1], magic[2], magic[3]
            ),
            CaptureError::BadLength { format, offset, len, reason } => {
                write!(f, "{format:?}: record at byte {offset} has length {len}: {reason}")
            }
            CaptureError::BadHeader { format, offset, reason } => {
                write!(f, "{format:?}: record at byte {offset}: {reason}")
            }
        }
    }
}

impl std::error::Error for CaptureError {}

/// Detects the format from the first four bytes.
pub fn detect_format(first: &[u8]) -> Result<Option<Format>, CaptureError> {
    let Some(magic) = first.get(..4).and_then(|m| <[u8; 4]>::try_from(m).ok()) else {
        return Ok(None);
    };
    if pcap::is_magic(magic) {
        Ok(Some(Format::Pcap))
    } else if magic == pcapng::SHB_TYPE.to_le_bytes() {
        Ok(Some(Format::Pcapng))
    } else {
        Err(CaptureError::UnknownFormat { magic })
    }
}

/// A streaming parser for one capture file.
#[derive(Debug)]
pub struct CaptureParser {
    inner: Inner,
    offset: u64,
}

#[derive(Debug)]
enum Inner {
    Detect,
    Pcap(pcap::PcapState),
    Pcapng(pcapng::PcapngState),
}

impl Default for CaptureParser {
    fn default() -> Self {
        Self::new()
    }
}

impl CaptureParser {
    /// A parser positioned at the start of a file of either format.
    pub fn new() -> Self {
        CaptureParser { inner: Inner::Detect, offset: 0 }
    }

    /// Bytes consumed so far (position in the decompressed file).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The format, once the header has been read.
    pub fn format(&self) -> Option<Format> {
        match self.inner {
            Inner::Detect => None,
            Inner::Pcap(_) => Some(Format::Pcap),
            Inner::Pcapng(_) => Some(Format::Pcapng),
        }
    }

    /// Parses the next item at the start of `buf`. Returns how many bytes it consumed (0 with
    /// [`Parsed::NeedMore`]). After an error the file cannot be read further.
    pub fn parse<'a>(&mut self, buf: &'a [u8]) -> Result<(usize, Parsed<'a>), CaptureError> {
        let offset = self.offset;
        let result = match &mut self.inner {
            Inner::Detect => match detect_format(buf)? {
                None => Ok((0, Parsed::NeedMore(4))),
                Some(Format::Pcap) => match pcap::PcapState::parse_header(buf, offset)? {
                    None => Ok((0, Parsed::NeedMore(pcap::GLOBAL_HEADER_LEN))),
                    Some(state) => {
                        self.inner = Inner::Pcap(state);
                        Ok((pcap::GLOBAL_HEADER_LEN, Parsed::Other))
                    }
                },
                Some(Format::Pcapng) => {
                    self.inner = Inner::Pcapng(pcapng::PcapngState::default());
                    return self.parse(buf);
                }
            },
            Inner::Pcap(state) => state.parse(buf, offset),
            Inner::Pcapng(state) => state.parse(buf, offset),
        };
        if let Ok((consumed, _)) = &result {
            self.offset = self.offset.saturating_add(*consumed as u64);
        }
        result
    }
}

/// Reads a u16 at `at` in the given byte order.
fn read_u16(buf: &[u8], at: usize, big_endian: bool) -> Option<u16> {
    let b: [u8; 2] = buf.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(if big_endian { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) })
}

/// Reads a u32 at `at` in the given byte order.
fn read_u32(buf: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let b: [u8; 4] = buf.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
}

#[cfg(test)]
mod tests;
