//! pcapng: blocks of (type, length, body, length), sections with their own byte order,
//! interfaces with their own link type and timestamp resolution.

use super::{read_u16, read_u32, CaptureError, Format, PacketRecord, Parsed, MAX_INTERFACES, MAX_RECORD_LEN};
use crate::packet::{LinkType, Timestamp};

/// Section Header Block type (a palindrome, so it reads the same in both byte orders).
pub(super) const SHB_TYPE: u32 = 0x0a0d_0d0a;
const IDB_TYPE: u32 = 0x0000_0001;
const OPB_TYPE: u32 = 0x0000_0002;
const SPB_TYPE: u32 = 0x0000_0003;
const EPB_TYPE: u32 = 0x0000_0006;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
const OPT_END: u16 = 0;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;
const MIN_BLOCK_LEN: usize = 12;

#[derive(Debug, Clone)]
struct Interface {
    link: LinkType,
    snaplen: u32,
    /// Timestamp units per second.
    units_per_sec: u64,
    /// Seconds added to every timestamp.
    offset_secs: i64,
}

/// Reading state: the current section's byte order and interfaces.
#[derive(Debug, Default)]
pub(super) struct PcapngState {
    big_endian: bool,
    in_section: bool,
    /// Interfaces of the current section by index; `None` for a description that was unusable.
    interfaces: Vec<Option<Interface>>,
    /// Time of the last timestamped packet: Simple Packet Blocks carry none and get this one.
    last_ts: Timestamp,
}

impl PcapngState {
    pub(super) fn parse<'a>(
        &mut self,
        buf: &'a [u8],
        offset: u64,
    ) -> Result<(usize, Parsed<'a>), CaptureError> {
        let bad_len = |len: u64, reason| CaptureError::BadLength { format: Format::Pcapng, offset, len, reason };
        let bad = |reason| CaptureError::BadHeader { format: Format::Pcapng, offset, reason };
        let Some(block_type) = read_u32(buf, 0, self.big_endian) else {
            return Ok((0, Parsed::NeedMore(8)));
        };
        if block_type == SHB_TYPE {
            // The byte order of the new section is in its body, not known yet.
            let Some(magic) = read_u32(buf, 8, false) else { return Ok((0, Parsed::NeedMore(12))) };
            self.big_endian = match magic {
                BYTE_ORDER_MAGIC => false,
                m if m.swap_bytes() == BYTE_ORDER_MAGIC => true,
                _ => return Err(bad("section header byte-order magic is wrong")),
            };
            self.in_section = true;
            self.interfaces.clear();
        } else if !self.in_section {
            return Err(bad("file does not start with a section header block"));
        }
        let Some(len32) = read_u32(buf, 4, self.big_endian) else {
            return Ok((0, Parsed::NeedMore(8)));
        };
        let len = len32 as usize;
        if len < MIN_BLOCK_LEN || len % 4 != 0 {
            return Err(bad_len(u64::from(len32), "block length must be a multiple of 4 and at least 12"));
        }
        if len > MAX_RECORD_LEN {
            return Err(bad_len(u64::from(len32), "block length over the record limit (corrupt file)"));
        }
        let Some(block) = buf.get(..len) else { return Ok((0, Parsed::NeedMore(len))) };
        if read_u32(block, len - 4, self.big_endian) != Some(len32) {
            return Err(bad_len(u64::from(len32), "trailing block length does not match the leading one"));
        }
        let body = block.get(8..len - 4).unwrap_or_default();
        let parsed = match block_type {
            IDB_TYPE => match self.add_interface(body) {
                Ok(()) => Parsed::Other,
                Err(reason) => {
                    // Keep the numbering of the interfaces after it: packets naming this one
                    // become bad records, the others keep their own link types.
                    if self.interfaces.len() < MAX_INTERFACES {
                        self.interfaces.push(None);
                    }
                    Parsed::BadRecord(bad(reason))
                }
            },
            EPB_TYPE | OPB_TYPE => {
                self.packet(body, block_type == OPB_TYPE, offset).unwrap_or_else(Parsed::BadRecord)
            }
            SPB_TYPE => self.simple_packet(body, offset).unwrap_or_else(Parsed::BadRecord),
            _ => Parsed::Other,
        };
        Ok((len, parsed))
    }

    fn add_interface(&mut self, body: &[u8]) -> Result<(), &'static str> {
        if self.interfaces.len() >= MAX_INTERFACES {
            return Err("too many interfaces in one section (limit MAX_INTERFACES); packets on it are dropped");
        }
        let be = self.big_endian;
        let truncated = "interface description block is truncated";
        let linktype = read_u16(body, 0, be).ok_or(truncated)?;
        let snaplen = read_u32(body, 4, be).ok_or(truncated)?;
        let mut iface = Interface {
            link: LinkType::from_linktype(u32::from(linktype)),
            snaplen,
            units_per_sec: 1_000_000,
            offset_secs: 0,
        };
        for (code, value) in Options::new(body.get(8..).unwrap_or_default(), be) {
            match code {
                OPT_IF_TSRESOL => {
                    let Some(&r) = value.first() else { continue };
                    let exp = u32::from(r & 0x7f);
                    let units = if r & 0x80 != 0 { 2u64.checked_pow(exp) } else { 10u64.checked_pow(exp) };
                    // Resolutions finer than 1 ns or that overflow are clamped to what we keep.
                    iface.units_per_sec = units.unwrap_or(1_000_000_000).max(1);
                }
                OPT_IF_TSOFFSET => {
                    if let Some(b) = value.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                        iface.offset_secs = if be { i64::from_be_bytes(b) } else { i64::from_le_bytes(b) };
                    }
                }
                _ => {}
            }
        }
        self.interfaces.push(Some(iface));
        Ok(())
    }

    fn packet<'a>(&mut self, body: &'a [u8], obsolete: bool, offset: u64) -> Result<Parsed<'a>, CaptureError> {
        let be = self.big_endian;
        let bad = |reason| CaptureError::BadHeader { format: Format::Pcapng, offset, reason };
        let short = || bad("packet block is truncated");
        let iface_id = if obsolete {
            u32::from(read_u16(body, 0, be).ok_or_else(short)?)
        } else {
            read_u32(body, 0, be).ok_or_else(short)?
        };
        let ts_high = read_u32(body, 4, be).ok_or_else(short)?;
        let ts_low = read_u32(body, 8, be).ok_or_else(short)?;
        let caplen = read_u32(body, 12, be).ok_or_else(short)?;
        let wire_len = read_u32(body, 16, be).ok_or_else(short)?;
        let data_end = 20usize.checked_add(caplen as usize).ok_or_else(short)?;
        let data = body.get(20..data_end).ok_or(bad("captured length runs past the end of the block"))?;
        let iface = self
            .interfaces
            .get(iface_id as usize)
            .ok_or(bad("packet refers to an interface that was not described"))?
            .as_ref()
            .ok_or(bad("packet refers to an interface whose description was unusable"))?;
        let raw = (u64::from(ts_high) << 32) | u64::from(ts_low);
        let ts = iface.timestamp(raw);
        self.last_ts = ts;
        Ok(Parsed::Packet(PacketRecord {
            ts,
            link: iface.link,
            data,
            wire_len: wire_len.max(caplen),
            interface: iface_id,
        }))
    }

    fn simple_packet<'a>(&self, body: &'a [u8], offset: u64) -> Result<Parsed<'a>, CaptureError> {
        let bad = |reason| CaptureError::BadHeader { format: Format::Pcapng, offset, reason };
        let wire_len = read_u32(body, 0, self.big_endian).ok_or(bad("simple packet block is truncated"))?;
        let iface = self
            .interfaces
            .first()
            .ok_or(bad("simple packet block before any interface"))?
            .as_ref()
            .ok_or(bad("simple packet block on an interface whose description was unusable"))?;
        // A snaplen of 0 means "no limit" in pcapng.
        let snaplen = if iface.snaplen == 0 { usize::MAX } else { iface.snaplen as usize };
        let caplen = (wire_len as usize).min(snaplen).min(body.len().saturating_sub(4));
        let data = body.get(4..4 + caplen).unwrap_or_default();
        Ok(Parsed::Packet(PacketRecord {
            ts: self.last_ts,
            link: iface.link,
            data,
            wire_len,
            interface: 0,
        }))
    }
}

impl Interface {
    fn timestamp(&self, raw: u64) -> Timestamp {
        let units = self.units_per_sec;
        let secs = raw / units;
        let frac = raw % units;
        // frac < units, so frac * 1e9 / units < 1e9; u128 keeps the product exact.
        let nanos = (u128::from(frac) * 1_000_000_000 / u128::from(units)) as u32;
        let secs = if self.offset_secs >= 0 {
            secs.saturating_add(self.offset_secs.unsigned_abs())
        } else {
            secs.saturating_sub(self.offset_secs.unsigned_abs())
        };
        Timestamp::from_parts(secs, nanos)
    }
}

/// Iterator over pcapng options (code, value), stopping at opt_endofopt or malformed data.
struct Options<'a> {
    buf: &'a [u8],
    big_endian: bool,
}

impl<'a> Options<'a> {
    fn new(buf: &'a [u8], big_endian: bool) -> Self {
        Options { buf, big_endian }
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let code = read_u16(self.buf, 0, self.big_endian)?;
        let len = read_u16(self.buf, 2, self.big_endian)? as usize;
        if code == OPT_END {
            return None;
        }
        let value = self.buf.get(4..4 + len)?;
        let padded = 4 + len.div_ceil(4) * 4;
        self.buf = self.buf.get(padded..).unwrap_or_default();
        Some((code, value))
    }
}
