//! Classic libpcap format: a 24-byte global header, then 16-byte record headers.

use super::{read_u32, CaptureError, Format, PacketRecord, Parsed, MAX_RECORD_LEN};
use crate::packet::{LinkType, Timestamp};


/// Length of the global header.
pub(super) const GLOBAL_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;

const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;

/// True for the four byte orders/resolutions of the pcap magic.
pub(super) fn is_magic(magic: [u8; 4]) -> bool {
    let le = u32::from_le_bytes(magic);
    let be = u32::from_be_bytes(magic);
    matches!(le, MAGIC_MICROS | MAGIC_NANOS) || matches!(be, MAGIC_MICROS | MAGIC_NANOS)
}

/// Reading state after the global header.
#[derive(Debug)]
pub(super) struct PcapState {
    big_endian: bool,
    nanos: bool,
    link: LinkType,
}

impl PcapState {
    /// Parses the global header; `None` when `buf` is shorter than it.
    pub(super) fn parse_header(buf: &[u8], offset: u64) -> Result<Option<PcapState>, CaptureError> {
        if buf.len() < GLOBAL_HEADER_LEN {
            return Ok(None);
        }
        let bad = |reason| CaptureError::BadHeader { format: Format::Pcap, offset, reason };
        let magic_le = read_u32(buf, 0, false).ok_or(bad("short header"))?;
        let (big_endian, nanos) = match magic_le {
            MAGIC_MICROS => (false, false),
            MAGIC_NANOS => (false, true),
            _ => match read_u32(buf, 0, true).ok_or(bad("short header"))? {
                MAGIC_MICROS => (true, false),
                MAGIC_NANOS => (true, true),
                _ => return Err(bad("bad magic number")),
            },
        };
        // The link type field's upper bits carry FCS information in newer files.
        let linktype = read_u32(buf, 20, big_endian).ok_or(bad("short header"))? & 0x0fff_ffff;
        Ok(Some(PcapState { big_endian, nanos, link: LinkType::from_linktype(linktype) }))
    }

    pub(super) fn parse<'a>(
        &mut self,
        buf: &'a [u8],
        offset: u64,
    ) -> Result<(usize, Parsed<'a>), CaptureError> {
        let be = self.big_endian;
        let (Some(secs), Some(frac), Some(incl), Some(orig)) = (
            read_u32(buf, 0, be),
            read_u32(buf, 4, be),
            read_u32(buf, 8, be),
            read_u32(buf, 12, be),
        ) else {
            return Ok((0, Parsed::NeedMore(RECORD_HEADER_LEN)));
        };
        let incl_len = incl as usize;
        if incl_len > MAX_RECORD_LEN {
            return Err(CaptureError::BadLength {
                format: Format::Pcap,
                offset,
                len: u64::from(incl),
                reason: "captured length over the record limit (corrupt or not a capture)",
            });
        }
        let total = RECORD_HEADER_LEN + incl_len;
        let Some(data) = buf.get(RECORD_HEADER_LEN..total) else {
            return Ok((0, Parsed::NeedMore(total)));
        };
        // Some writers round the fraction up to a full second; carry it over as libpcap does.
        let nanos = if self.nanos { u64::from(frac) } else { u64::from(frac) * 1000 };
        let record = PacketRecord {
            ts: Timestamp(u64::from(secs).saturating_mul(1_000_000_000).saturating_add(nanos)),
            link: self.link,
            data,
            wire_len: orig.max(incl),
            interface: 0,
        };
        Ok((total, Parsed::Packet(record)))
    }
}
