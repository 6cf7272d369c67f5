//! The bytes of the spool: segment files and the cursor file.
//!
//! A segment starts with [`FILE_MAGIC`], then records, each framed as
//!
//! ```text
//! u32 LE  RECORD_MAGIC
//! u32 LE  body length
//! u32 LE  CRC-32 of the length bytes and the body
//! body:   u8 topic code | i64 LE creation time (ms since the Unix epoch) | u32 LE key length | key | payload
//! ```
//!
//! The checksum covers the length too, so a torn or bit-flipped length is caught before it is
//! trusted; the magic lets a scan find the next intact record after damage. Everything here
//! is pure: it takes byte slices and returns values, and never panics on any input.

use std::ops::Range;

use super::super::message::Topic;

/// First bytes of every segment file (format version 1).
pub const FILE_MAGIC: [u8; 8] = *b"APTSPL\x00\x01";
/// Length of [`FILE_MAGIC`].
pub const FILE_HEADER: u64 = FILE_MAGIC.len() as u64;
/// Marks the start of a record.
pub const RECORD_MAGIC: u32 = 0x5250_5341;
/// Bytes before the body.
pub const RECORD_HEADER: usize = 12;
/// Fixed bytes of a body before the key.
pub const BODY_FIXED: usize = 1 + 8 + 4;
/// Framing bytes a record adds to its key and payload.
pub const RECORD_OVERHEAD: usize = RECORD_HEADER + BODY_FIXED;

/// First bytes of the cursor file.
pub const CURSOR_MAGIC: [u8; 8] = *b"APTCUR\x00\x01";
/// Length of the cursor file.
pub const CURSOR_LEN: usize = 8 + 8 + 8 + 4;

/// One spooled message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpoolRecord {
    /// The stream it belongs to.
    pub topic: Topic,
    /// When it was first published (ms since the Unix epoch): becomes the Kafka timestamp, so
    /// a message replayed an hour later still carries the time it was made.
    pub created_ms: i64,
    /// Kafka key.
    pub key: Vec<u8>,
    /// Kafka value.
    pub payload: Vec<u8>,
}

impl SpoolRecord {
    /// Bytes this record takes in a segment.
    #[allow(dead_code)] // the spool tests count bytes with it
    pub fn framed_len(&self) -> usize {
        RECORD_OVERHEAD.saturating_add(self.key.len()).saturating_add(self.payload.len())
    }
}

fn crc(len_bytes: &[u8; 4], body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(len_bytes);
    h.update(body);
    h.finalize()
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(b))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    let b: [u8; 8] = bytes.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(b))
}

/// The framed bytes of a record. `None` when key or payload do not fit the 32-bit lengths
/// (the publisher's `max_message_bytes` keeps records far below that).
pub fn encode(rec: &SpoolRecord) -> Option<Vec<u8>> {
    let key_len = u32::try_from(rec.key.len()).ok()?;
    let body_len = BODY_FIXED.checked_add(rec.key.len())?.checked_add(rec.payload.len())?;
    let len_bytes = u32::try_from(body_len).ok()?.to_le_bytes();
    let mut body = Vec::with_capacity(body_len);
    body.push(rec.topic.code());
    body.extend_from_slice(&rec.created_ms.to_le_bytes());
    body.extend_from_slice(&key_len.to_le_bytes());
    body.extend_from_slice(&rec.key);
    body.extend_from_slice(&rec.payload);
    let mut out = Vec::with_capacity(RECORD_HEADER.checked_add(body_len)?);
    out.extend_from_slice(&RECORD_MAGIC.to_le_bytes());
    out.extend_from_slice(&len_bytes);
    out.extend_from_slice(&crc(&len_bytes, &body).to_le_bytes());
    out.extend_from_slice(&body);
    Some(out)
}

/// The body length announced by a record header, if the header is one (magic matches and the
/// length is within `max_body`).
pub fn header_body_len(header: &[u8], max_body: usize) -> Option<usize> {
    if u32_at(header, 0)? != RECORD_MAGIC {
        return None;
    }
    let len = usize::try_from(u32_at(header, 4)?).ok()?;
    (BODY_FIXED..=max_body).contains(&len).then_some(len)
}

/// Checks a body against its header's checksum and decodes it.
pub fn decode(header: &[u8], body: &[u8]) -> Option<SpoolRecord> {
    let len_bytes: [u8; 4] = header.get(4..8)?.try_into().ok()?;
    if crc(&len_bytes, body) != u32_at(header, 8)? || usize::try_from(u32::from_le_bytes(len_bytes)).ok()? != body.len() {
        return None;
    }
    let topic = Topic::from_code(*body.first()?)?;
    let created_ms = i64::from_le_bytes(body.get(1..9)?.try_into().ok()?);
    let key_len = usize::try_from(u32_at(body, 9)?).ok()?;
    let key_end = BODY_FIXED.checked_add(key_len)?;
    let key = body.get(BODY_FIXED..key_end)?.to_vec();
    let payload = body.get(key_end..)?.to_vec();
    Some(SpoolRecord { topic, created_ms, key, payload })
}

/// The record framed at `at` in `bytes`, and where it ends.
fn record_at(bytes: &[u8], at: usize, max_body: usize) -> Option<(SpoolRecord, usize)> {
    let header = bytes.get(at..at.checked_add(RECORD_HEADER)?)?;
    let len = header_body_len(header, max_body)?;
    let body_start = at.checked_add(RECORD_HEADER)?;
    let end = body_start.checked_add(len)?;
    let rec = decode(header, bytes.get(body_start..end)?)?;
    Some((rec, end))
}

/// What a scan of a whole segment found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// Whether the file starts with [`FILE_MAGIC`]; without it nothing else is trusted.
    pub header_ok: bool,
    /// Byte ranges of intact records, in order.
    pub records: Vec<Range<usize>>,
    /// Damaged stretches skipped (a torn tail counts as one).
    pub corrupt_regions: u64,
    /// Bytes in those stretches.
    pub corrupt_bytes: u64,
}

/// Finds every intact record of a segment. After damage, the scan resumes at the next
/// position where a whole record with a valid checksum starts, so one bad record costs only
/// itself; a torn tail (a record cut short by a crash) is one damaged stretch at the end.
pub fn scan(bytes: &[u8], max_body: usize) -> Scan {
    let mut out = Scan::default();
    if bytes.get(..FILE_MAGIC.len()) != Some(&FILE_MAGIC[..]) {
        out.corrupt_bytes = bytes.len() as u64;
        out.corrupt_regions = u64::from(!bytes.is_empty());
        return out;
    }
    out.header_ok = true;
    let mut at = FILE_MAGIC.len();
    while at < bytes.len() {
        if let Some((_, end)) = record_at(bytes, at, max_body) {
            out.records.push(at..end);
            at = end;
            continue;
        }
        // Damage: look for the next intact record.
        let magic = RECORD_MAGIC.to_le_bytes();
        let mut next = None;
        let mut probe = at.saturating_add(1);
        while let Some(rest) = bytes.get(probe..) {
            let Some(found) = rest.windows(4).position(|w| w == magic) else { break };
            let candidate = probe.saturating_add(found);
            if record_at(bytes, candidate, max_body).is_some() {
                next = Some(candidate);
                break;
            }
            probe = candidate.saturating_add(1);
        }
        let stop = next.unwrap_or(bytes.len());
        out.corrupt_regions = out.corrupt_regions.saturating_add(1);
        out.corrupt_bytes = out.corrupt_bytes.saturating_add((stop - at) as u64);
        at = stop;
    }
    out
}

/// The cursor file's bytes: the first unconfirmed record is at `offset` in segment `segment`.
pub fn encode_cursor(segment: u64, offset: u64) -> [u8; CURSOR_LEN] {
    let mut out = [0u8; CURSOR_LEN];
    let mut v = Vec::with_capacity(CURSOR_LEN);
    v.extend_from_slice(&CURSOR_MAGIC);
    v.extend_from_slice(&segment.to_le_bytes());
    v.extend_from_slice(&offset.to_le_bytes());
    let sum = crc32fast::hash(&v);
    v.extend_from_slice(&sum.to_le_bytes());
    for (o, b) in out.iter_mut().zip(v) {
        *o = b;
    }
    out
}

/// Reads a cursor file; `None` if it is damaged (the spool then replays from its start).
pub fn decode_cursor(bytes: &[u8]) -> Option<(u64, u64)> {
    if bytes.len() != CURSOR_LEN || bytes.get(..8)? != CURSOR_MAGIC {
        return None;
    }
    let sum = u32_at(bytes, 24)?;
    if crc32fast::hash(bytes.get(..24)?) != sum {
        return None;
    }
    Some((u64_at(bytes, 8)?, u64_at(bytes, 16)?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn rec(i: u8) -> SpoolRecord {
        SpoolRecord { topic: Topic::Inventory, created_ms: 1_700_000_000_000 + i64::from(i), key: vec![b'k', i], payload: vec![i; usize::from(i) * 3] }
    }

    fn segment(records: &[SpoolRecord]) -> Vec<u8> {
        let mut out = FILE_MAGIC.to_vec();
        for r in records {
            out.extend(encode(r).unwrap());
        }
        out
    }

    fn decoded(bytes: &[u8], s: &Scan) -> Vec<SpoolRecord> {
        s.records.iter().map(|r| record_at(bytes, r.start, 1 << 20).unwrap().0).collect()
    }

    #[test]
    fn records_round_trip_with_their_framing_length() {
        let rs: Vec<_> = (0..5).map(rec).collect();
        let bytes = segment(&rs);
        let s = scan(&bytes, 1 << 20);
        assert!(s.header_ok);
        assert_eq!(s.corrupt_regions, 0);
        assert_eq!(decoded(&bytes, &s), rs);
        assert_eq!(bytes.len() as u64, FILE_HEADER + rs.iter().map(|r| r.framed_len() as u64).sum::<u64>());
    }

    #[test]
    fn a_torn_tail_is_one_damaged_stretch_and_the_records_before_it_survive() {
        let rs: Vec<_> = (1..6).map(rec).collect();
        let full = segment(&rs);
        // Cut inside the last record at every possible byte.
        let last_start = full.len() - rs[4].framed_len();
        for cut in last_start + 1..full.len() {
            let s = scan(&full[..cut], 1 << 20);
            assert_eq!(decoded(&full, &s), rs[..4].to_vec(), "cut at {cut}");
            assert_eq!(s.corrupt_regions, 1);
            assert_eq!(s.corrupt_bytes, (cut - last_start) as u64);
        }
    }

    #[test]
    fn a_flipped_byte_costs_only_its_record() {
        let rs: Vec<_> = (1..6).map(rec).collect();
        let mut bytes = segment(&rs);
        let second = FILE_MAGIC.len() + rs[0].framed_len();
        bytes[second + RECORD_HEADER + 3] ^= 0x40; // inside the body of record 2
        let s = scan(&bytes, 1 << 20);
        let mut expect = rs.clone();
        expect.remove(1);
        assert_eq!(decoded(&bytes, &s), expect);
        assert_eq!(s.corrupt_regions, 1);
        assert_eq!(s.corrupt_bytes, rs[1].framed_len() as u64);
    }

    #[test]
    fn a_length_past_the_limit_is_damage_not_an_allocation() {
        let mut bytes = segment(&[rec(1)]);
        bytes[FILE_MAGIC.len() + 4..FILE_MAGIC.len() + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        let s = scan(&bytes, 1 << 20);
        assert!(s.records.is_empty());
        assert_eq!(s.corrupt_regions, 1);
    }

    #[test]
    fn a_file_without_the_magic_is_all_damage_and_garbage_never_panics() {
        let s = scan(b"not a spool file at all", 1 << 20);
        assert!(!s.header_ok);
        assert!(s.records.is_empty());
        assert_eq!(s.corrupt_bytes, 23);
        // Pseudo-random garbage after a valid header.
        let mut bytes = FILE_MAGIC.to_vec();
        let mut x: u32 = 0x1234_5678;
        for _ in 0..4096 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            bytes.push(x as u8);
            if x % 97 == 0 {
                bytes.extend_from_slice(&RECORD_MAGIC.to_le_bytes());
            }
        }
        let s = scan(&bytes, 1 << 20);
        assert!(s.records.is_empty());
        assert_eq!(s.corrupt_bytes, (bytes.len() - FILE_MAGIC.len()) as u64);
    }

    #[test]
    fn an_unknown_topic_byte_is_damage() {
        let mut r = encode(&rec(1)).unwrap();
        r[RECORD_HEADER] = 9;
        // Re-checksum so only the topic is wrong.
        let len: [u8; 4] = r[4..8].try_into().unwrap();
        let sum = crc(&len, &r[RECORD_HEADER..]);
        r[8..12].copy_from_slice(&sum.to_le_bytes());
        assert_eq!(decode(&r[..RECORD_HEADER], &r[RECORD_HEADER..]), None);
    }

    #[test]
    fn the_cursor_round_trips_and_damage_is_refused() {
        let c = encode_cursor(1 << 40, 4242);
        assert_eq!(decode_cursor(&c), Some((1 << 40, 4242)));
        let mut bad = c;
        bad[12] ^= 1;
        assert_eq!(decode_cursor(&bad), None);
        assert_eq!(decode_cursor(&c[..20]), None);
    }
}
