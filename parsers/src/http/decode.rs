//! Bounded gzip/deflate decoding of bodies. Output goes through a fixed scratch buffer to a
//! caller's sink, which counts it and keeps at most the bounded capture prefix; the decoder
//! itself stores nothing of the body.

use miniz_oxide::inflate::core::inflate_flags::{
    TINFL_FLAG_COMPUTE_ADLER32, TINFL_FLAG_HAS_MORE_INPUT, TINFL_FLAG_IGNORE_ADLER32, TINFL_FLAG_PARSE_ZLIB_HEADER,
};
use miniz_oxide::inflate::core::{decompress, DecompressorOxide, TINFL_LZ_DICT_SIZE};
use miniz_oxide::inflate::TINFLStatus;

/// A content coding the parser decodes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Coding {
    /// `gzip` / `x-gzip` (a zlib stream is accepted too, as Zeek does).
    Gzip,
    /// `deflate`: zlib-wrapped per the RFC, raw deflate as many servers send it.
    Deflate,
}

/// What happened to a chunk of input.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Decoding continues.
    Running,
    /// The compressed stream ended; later input is ignored.
    Finished,
    /// The output or ratio limit was reached; decoding stopped.
    LimitHit,
    /// The stream is corrupt; decoding stopped.
    Corrupt,
}

#[derive(Debug)]
enum Stage {
    /// Collecting the first two bytes to recognise the wrapper.
    Sniff { seen: [u8; 2], n: usize },
    /// Skipping a gzip member header.
    GzipHeader(GzipHeader),
    /// Inflating.
    Inflate(Box<Inflater>),
    /// No more decoding.
    Done,
}

/// miniz_oxide's inflater driven through its core function, with the window as the output
/// buffer: each call reports every byte it decoded, also when it then meets a corrupt block.
/// (The streaming wrapper flate2 offers keeps decoded bytes that do not fit the caller's
/// buffer and drops them at an error, so how much of a corrupt body was counted depended on
/// where the deliveries were cut.)
pub(crate) struct Inflater {
    core: DecompressorOxide,
    /// The last 32 KiB of output, which back-references read; written in a circle.
    window: Vec<u8>,
    /// Where the next output byte goes in `window`.
    pos: usize,
    flags: u32,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater").field("pos", &self.pos).field("flags", &self.flags).finish_non_exhaustive()
    }
}

impl Inflater {
    fn new(zlib: bool) -> Box<Self> {
        let flags = TINFL_FLAG_HAS_MORE_INPUT
            | if zlib { TINFL_FLAG_PARSE_ZLIB_HEADER | TINFL_FLAG_COMPUTE_ADLER32 } else { TINFL_FLAG_IGNORE_ADLER32 };
        Box::new(Inflater { core: DecompressorOxide::new(), window: vec![0; TINFL_LZ_DICT_SIZE], pos: 0, flags })
    }
}

/// State of a gzip header being skipped (RFC 1952 section 2.3).
#[derive(Debug, Default)]
struct GzipHeader {
    /// Bytes of the fixed 10-byte part seen.
    fixed: usize,
    flags: u8,
    /// Remaining bytes of FEXTRA (once its length is known).
    extra_left: Option<usize>,
    extra_len_bytes: Vec<u8>,
    name_done: bool,
    comment_done: bool,
    crc_left: usize,
}

const FEXTRA: u8 = 4;
const FNAME: u8 = 8;
const FCOMMENT: u8 = 16;
const FHCRC: u8 = 2;

impl GzipHeader {
    /// Consumes header bytes; returns how many were used and whether the header is complete,
    /// or `None` when it is not a gzip header.
    fn feed(&mut self, data: &[u8]) -> Option<(usize, bool)> {
        let mut i = 0;
        while self.fixed < 10 {
            let Some(&b) = data.get(i) else { return Some((i, false)) };
            match self.fixed {
                0 if b != 0x1f => return None,
                1 if b != 0x8b => return None,
                2 if b != 8 => return None,
                3 => {
                    self.flags = b;
                    self.crc_left = if b & FHCRC != 0 { 2 } else { 0 };
                    self.name_done = b & FNAME == 0;
                    self.comment_done = b & FCOMMENT == 0;
                    if b & FEXTRA == 0 {
                        self.extra_left = Some(0);
                    }
                }
                _ => {}
            }
            self.fixed += 1;
            i += 1;
        }
        while self.extra_left.is_none() {
            let Some(&b) = data.get(i) else { return Some((i, false)) };
            self.extra_len_bytes.push(b);
            i += 1;
            if let [lo, hi] = self.extra_len_bytes[..] {
                self.extra_left = Some(usize::from(lo) | usize::from(hi) << 8);
            }
        }
        if let Some(left) = self.extra_left {
            let take = left.min(data.len().saturating_sub(i));
            i += take;
            self.extra_left = Some(left - take);
            if left - take > 0 {
                return Some((i, false));
            }
        }
        while !self.name_done {
            let Some(&b) = data.get(i) else { return Some((i, false)) };
            i += 1;
            self.name_done = b == 0;
        }
        while !self.comment_done {
            let Some(&b) = data.get(i) else { return Some((i, false)) };
            i += 1;
            self.comment_done = b == 0;
        }
        let take = self.crc_left.min(data.len().saturating_sub(i));
        i += take;
        self.crc_left -= take;
        Some((i, self.crc_left == 0))
    }
}

/// Heap held by a running inflater: miniz_oxide's `InflateState` (43,296 bytes in 0.9: the
/// 32 KiB window and the Huffman tables), rounded up.
pub(crate) const INFLATE_STATE_BYTES: usize = 44 * 1024;

/// A streaming decoder that counts output bytes and stops at the configured limits.
#[derive(Debug)]
pub(crate) struct Decoder {
    coding: Coding,
    stage: Stage,
    /// Decoded bytes produced so far.
    pub produced: u64,
    /// Compressed bytes fed so far.
    pub consumed: u64,
    /// Compressed bytes the inflater has taken (for the ratio check).
    inflated_in: u64,
    max_output: u64,
    max_ratio: u64,
    ratio_floor: u64,
}

fn is_zlib_header(b0: u8, b1: u8) -> bool {
    b0 & 0x0f == 8 && b0 >> 4 <= 7 && (u16::from(b0) << 8 | u16::from(b1)) % 31 == 0
}

impl Decoder {
    pub fn new(coding: Coding, max_output: u64, max_ratio: u64, ratio_floor: u64) -> Self {
        Decoder {
            coding,
            stage: Stage::Sniff { seen: [0; 2], n: 0 },
            produced: 0,
            consumed: 0,
            inflated_in: 0,
            max_output,
            max_ratio,
            ratio_floor,
        }
    }

    /// Heap bytes the decoder holds now (the inflater state while inflating).
    pub fn held_bytes(&self) -> usize {
        match &self.stage {
            Stage::Inflate(_) => INFLATE_STATE_BYTES,
            Stage::GzipHeader(h) => h.extra_len_bytes.capacity(),
            Stage::Sniff { .. } | Stage::Done => 0,
        }
    }

    /// Feeds compressed bytes; every piece of decoded output is passed to `sink` in order.
    pub fn feed(&mut self, mut data: &[u8], sink: &mut impl FnMut(&[u8])) -> Outcome {
        self.consumed = self.consumed.saturating_add(data.len() as u64);
        loop {
            match &mut self.stage {
                Stage::Done => return Outcome::Finished,
                Stage::Sniff { seen, n } => {
                    while *n < 2 {
                        let Some((&b, rest)) = data.split_first() else { return Outcome::Running };
                        if let Some(slot) = seen.get_mut(*n) {
                            *slot = b;
                        }
                        *n += 1;
                        data = rest;
                    }
                    let [b0, b1] = *seen;
                    let prefix = [b0, b1];
                    let next = if b0 == 0x1f && b1 == 0x8b {
                        let mut h = GzipHeader::default();
                        match h.feed(&prefix) {
                            Some(_) => Stage::GzipHeader(h),
                            None => Stage::Done,
                        }
                    } else if is_zlib_header(b0, b1) {
                        Stage::Inflate(Inflater::new(true))
                    } else if self.coding == Coding::Deflate {
                        Stage::Inflate(Inflater::new(false))
                    } else {
                        self.stage = Stage::Done;
                        return Outcome::Corrupt;
                    };
                    self.stage = next;
                    if let Stage::Inflate(_) = self.stage {
                        // The two sniffed bytes belong to the compressed stream.
                        match self.inflate(&prefix, sink) {
                            Outcome::Running => {}
                            other => return other,
                        }
                    }
                }
                Stage::GzipHeader(h) => match h.feed(data) {
                    None => {
                        self.stage = Stage::Done;
                        return Outcome::Corrupt;
                    }
                    Some((used, complete)) => {
                        data = data.get(used..).unwrap_or_default();
                        if !complete {
                            return Outcome::Running;
                        }
                        self.stage = Stage::Inflate(Inflater::new(false));
                    }
                },
                Stage::Inflate(_) => return self.inflate(data, sink),
            }
        }
    }

    fn inflate(&mut self, mut data: &[u8], sink: &mut impl FnMut(&[u8])) -> Outcome {
        loop {
            if self.produced >= self.max_output {
                self.stage = Stage::Done;
                return Outcome::LimitHit;
            }
            let limits = (self.ratio_floor, self.max_output, self.max_ratio);
            let Stage::Inflate(z) = &mut self.stage else { return Outcome::Finished };
            let Inflater { core, window, pos, flags } = &mut **z;
            let (status, used, made) = decompress(core, data, window, *pos, *flags);
            data = data.get(used..).unwrap_or_default();
            self.inflated_in = self.inflated_in.saturating_add(used as u64);
            let start = *pos;
            *pos = (*pos + made) & (TINFL_LZ_DICT_SIZE - 1);
            // The output goes on up to each limit check exactly.
            let mut out = window.get(start..start + made).unwrap_or_default();
            let mut limit_hit = false;
            while !out.is_empty() {
                let check = next_check(self.produced, limits.0, limits.1);
                let room = usize::try_from(check.saturating_sub(self.produced)).unwrap_or(usize::MAX);
                let (now, rest) = out.split_at(room.min(out.len()));
                sink(now);
                self.produced = self.produced.saturating_add(now.len() as u64);
                out = rest;
                if self.produced >= check {
                    let over_ratio = self.produced >= limits.0 && self.produced / self.inflated_in.max(1) > limits.2;
                    if self.produced >= limits.1 || over_ratio {
                        limit_hit = true;
                        break;
                    }
                }
            }
            if limit_hit {
                self.stage = Stage::Done;
                return Outcome::LimitHit;
            }
            match status {
                TINFLStatus::Done => {
                    self.stage = Stage::Done;
                    return Outcome::Finished;
                }
                // The window's end was reached: go on writing at its start.
                TINFLStatus::HasMoreOutput => {}
                TINFLStatus::NeedsMoreInput => return Outcome::Running,
                // A failure (corrupt data, a wrong checksum), or a status this version does not
                // list: decoding stops either way.
                _ => {
                    self.stage = Stage::Done;
                    return Outcome::Corrupt;
                }
            }
            if used == 0 && made == 0 {
                return Outcome::Running;
            }
        }
    }
}

/// Where the next limit check happens: at the output limit, and at every multiple of the
/// ratio floor. Output is produced up to these points exactly, so where decoding stops does
/// not depend on how the input was split into deliveries.
fn next_check(produced: u64, ratio_floor: u64, max_output: u64) -> u64 {
    let floor = ratio_floor.max(1);
    let next_floor = (produced / floor).saturating_add(1).saturating_mul(floor);
    next_floor.min(max_output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use flate2::Compression;
    use std::io::Write;

    fn skip(_: &[u8]) {}

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_counts_decoded_bytes_fed_byte_by_byte() {
        let plain = b"this is a test of the decoder\n".repeat(50);
        let z = gzip(&plain);
        let mut d = Decoder::new(Coding::Gzip, 1 << 20, 100, 1 << 20);
        let mut last = Outcome::Running;
        for b in &z {
            last = d.feed(std::slice::from_ref(b), &mut skip);
        }
        assert_eq!(last, Outcome::Finished);
        assert_eq!(d.produced, plain.len() as u64);
        // The inflater state is released when the stream ends.
        assert_eq!(d.held_bytes(), 0);
    }

    #[test]
    fn output_reaches_the_sink_in_order_however_the_input_is_split() {
        let plain: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        let z = gzip(&plain);
        for step in [1, 7, 4096, z.len()] {
            let mut d = Decoder::new(Coding::Gzip, 1 << 20, 100, 1 << 20);
            let mut out = Vec::new();
            for piece in z.chunks(step) {
                let _ = d.feed(piece, &mut |b: &[u8]| out.extend_from_slice(b));
            }
            assert_eq!(out, plain, "split every {step} bytes");
        }
    }

    #[test]
    fn held_bytes_follow_the_stage() {
        let z = gzip(&b"abc".repeat(1000));
        let mut d = Decoder::new(Coding::Gzip, 1 << 20, 100, 1 << 20);
        assert_eq!(d.held_bytes(), 0);
        assert_eq!(d.feed(&z[..20], &mut skip), Outcome::Running);
        assert_eq!(d.held_bytes(), INFLATE_STATE_BYTES);
        let mut bad = Decoder::new(Coding::Gzip, 1 << 20, 100, 1 << 20);
        assert_eq!(bad.feed(b"not gzip", &mut skip), Outcome::Corrupt);
        assert_eq!(bad.held_bytes(), 0);
    }

    #[test]
    fn gzip_header_with_name_and_extra_is_skipped() {
        let plain = b"hello world";
        let mut z = gzip(plain);
        // Set FEXTRA|FNAME and splice them in after the fixed header.
        z[3] = FEXTRA | FNAME;
        let mut with = z[..10].to_vec();
        with.extend_from_slice(&[3, 0, b'a', b'b', b'c']);
        with.extend_from_slice(b"file.txt\0");
        with.extend_from_slice(&z[10..]);
        let mut d = Decoder::new(Coding::Gzip, 1 << 20, 100, 1 << 20);
        assert_eq!(d.feed(&with, &mut skip), Outcome::Finished);
        assert_eq!(d.produced, plain.len() as u64);
    }

    #[test]
    fn deflate_accepts_zlib_and_raw() {
        let plain = b"abcabcabcabc".repeat(10);
        let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
        e.write_all(&plain).unwrap();
        let mut d = Decoder::new(Coding::Deflate, 1 << 20, 100, 1 << 20);
        assert_eq!(d.feed(&e.finish().unwrap(), &mut skip), Outcome::Finished);
        assert_eq!(d.produced, plain.len() as u64);

        let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
        e.write_all(&plain).unwrap();
        let mut d = Decoder::new(Coding::Deflate, 1 << 20, 100, 1 << 20);
        assert_eq!(d.feed(&e.finish().unwrap(), &mut skip), Outcome::Finished);
        assert_eq!(d.produced, plain.len() as u64);
    }

    #[test]
    fn bomb_stops_at_output_limit() {
        let plain = vec![0u8; 4 << 20];
        let z = gzip(&plain);
        let mut d = Decoder::new(Coding::Gzip, 1 << 20, u64::MAX, u64::MAX);
        assert_eq!(d.feed(&z, &mut skip), Outcome::LimitHit);
        assert_eq!(d.produced, 1 << 20);
    }

    #[test]
    fn bomb_stops_at_ratio_limit() {
        let plain = vec![0u8; 8 << 20];
        let z = gzip(&plain);
        let mut d = Decoder::new(Coding::Gzip, u64::MAX, 100, 1 << 20);
        assert_eq!(d.feed(&z, &mut skip), Outcome::LimitHit);
        // The first check at 1 MiB finds a ratio of about 1000.
        assert_eq!(d.produced, 1 << 20);
        // The same stream fed byte by byte stops at the same place.
        let mut d2 = Decoder::new(Coding::Gzip, u64::MAX, 100, 1 << 20);
        let mut last = Outcome::Running;
        for b in &z {
            last = d2.feed(std::slice::from_ref(b), &mut skip);
            if last != Outcome::Running {
                break;
            }
        }
        assert_eq!((last, d2.produced), (Outcome::LimitHit, 1 << 20));
    }

    #[test]
    fn garbage_is_corrupt_not_a_panic() {
        let mut d = Decoder::new(Coding::Gzip, 1 << 20, 100, 1 << 20);
        assert_eq!(d.feed(b"this is not gzip", &mut skip), Outcome::Corrupt);
        let mut d = Decoder::new(Coding::Gzip, 1 << 20, 100, 1 << 20);
        assert_eq!(d.feed(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff], &mut skip), Outcome::Corrupt);
    }

    /// Fuzzing found (target `http`, fuzz/regressions/http): when the inflater met a corrupt
    /// block, the bytes it had decoded in that call beyond the 8 KiB output buffer were lost,
    /// so a corrupt body counted 8192 bytes in one delivery and all of them byte by byte.
    #[test]
    fn a_corrupt_stream_counts_every_byte_before_the_corruption_however_it_is_split() {
        let plain: Vec<u8> = (0..2000).flat_map(|i| format!("line {i:05}\n").into_bytes()).collect();
        assert_eq!(plain.len(), 22_000);
        let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
        e.write_all(&plain).unwrap();
        e.flush().unwrap();
        let mut z = e.get_ref().clone();
        // A final block of the reserved type 3: the stream is corrupt right after the plain text.
        z.push(0x07);
        for step in [z.len(), 1, 2, 3, 7, 100, 1000, 4096] {
            let mut d = Decoder::new(Coding::Deflate, 1 << 20, 100, 1 << 20);
            let mut out = Vec::new();
            let mut last = Outcome::Running;
            for piece in z.chunks(step) {
                last = d.feed(piece, &mut |b: &[u8]| out.extend_from_slice(b));
                if last != Outcome::Running {
                    break;
                }
            }
            assert_eq!(last, Outcome::Corrupt, "in pieces of {step}");
            assert_eq!(d.produced, plain.len() as u64, "in pieces of {step}");
            assert!(out == plain, "in pieces of {step}: the output is not the text before the corruption");
        }
    }
}
