//! A position in a buffer that knows both what was captured and what was on the wire.

use std::ops::Range;

use super::types::{DecodeError, Layer};

/// The bytes of the current layer: `buf[start..end]` were captured, `wire` bytes were on the
/// wire from `start` on (per the enclosing length fields). `wire >= end - start`; the difference
/// is what the snaplen cut.
///
/// Positions are kept as offsets so that the decoder can hand back a payload range and borrow
/// the right buffer only at the end.
#[derive(Clone, Debug)]
pub(crate) struct Cur<'b> {
    buf: &'b [u8],
    start: usize,
    end: usize,
    wire: usize,
}

impl<'b> Cur<'b> {
    /// The whole of `buf`, of which `wire` bytes were on the wire (at least `buf.len()`).
    pub(crate) fn new(buf: &'b [u8], wire: usize) -> Self {
        Cur {
            buf,
            start: 0,
            end: buf.len(),
            wire: wire.max(buf.len()),
        }
    }

    /// The captured bytes from the current position.
    pub(crate) fn bytes(&self) -> &'b [u8] {
        self.buf.get(self.start..self.end).unwrap_or(&[])
    }

    /// Captured bytes left.
    pub(crate) fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// On-wire bytes left.
    pub(crate) fn wire(&self) -> usize {
        self.wire
    }

    /// Whether bytes of this layer are missing from the capture.
    pub(crate) fn is_cut(&self) -> bool {
        self.len() < self.wire
    }

    /// The captured bytes left, as a range of the buffer.
    pub(crate) fn range(&self) -> Range<usize> {
        self.start..self.end.max(self.start)
    }

    /// `n` captured bytes from the current position, or `Truncated` in `layer`.
    pub(crate) fn peek(&self, n: usize, layer: Layer) -> Result<&'b [u8], DecodeError> {
        self.bytes()
            .get(..n)
            .ok_or(DecodeError::Truncated { layer })
    }

    /// Fixed-size header bytes from the current position.
    pub(crate) fn array<const N: usize>(&self, layer: Layer) -> Result<[u8; N], DecodeError> {
        let s = self.peek(N, layer)?;
        <[u8; N]>::try_from(s).map_err(|_| DecodeError::Truncated { layer })
    }

    /// Moves past `n` captured bytes; `Truncated` in `layer` if fewer were captured.
    pub(crate) fn advance(&mut self, n: usize, layer: Layer) -> Result<(), DecodeError> {
        if n > self.len() {
            return Err(DecodeError::Truncated { layer });
        }
        self.start += n;
        self.wire = self.wire.saturating_sub(n);
        Ok(())
    }

    /// Lifts the on-wire bound: what follows is the start of a datagram whose other bytes
    /// are elsewhere (the data of a first fragment), so its length fields may claim more.
    pub(crate) fn unbound(&mut self) {
        self.wire = usize::MAX;
    }

    /// Bounds the rest of the packet to `len` on-wire bytes (a length field of `layer`).
    /// Bytes past it (Ethernet padding, trailers) are dropped. `Truncated` if `len` is more
    /// than the enclosing layer had on the wire.
    pub(crate) fn limit(&mut self, len: usize, layer: Layer) -> Result<(), DecodeError> {
        if len > self.wire {
            return Err(DecodeError::Truncated { layer });
        }
        self.wire = len;
        self.end = self.end.min(self.start.saturating_add(len));
        Ok(())
    }
}

/// Maps etherparse's "slice shorter than the header" to ours. The slices it is used on are the
/// captured bytes of the current layer, so running short means the capture (or the enclosing
/// length field) ended inside `layer`.
pub(crate) fn cut(layer: Layer) -> impl Fn(etherparse::err::LenError) -> DecodeError {
    move |_| DecodeError::Truncated { layer }
}

/// Big-endian u16 from the first two bytes (0 if shorter: callers check lengths first).
pub(crate) fn be16(b: &[u8]) -> u16 {
    match b {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    }
}

/// Big-endian u32 from the first four bytes (0 if shorter).
pub(crate) fn be32(b: &[u8]) -> u32 {
    match b {
        [a, b, c, d, ..] => u32::from_be_bytes([*a, *b, *c, *d]),
        _ => 0,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn limit_drops_padding_and_keeps_wire_length() {
        let buf = [1u8, 2, 3, 4, 5, 6];
        let mut c = Cur::new(&buf, 6);
        c.advance(2, Layer::Ethernet).unwrap();
        c.limit(3, Layer::Ipv4).unwrap();
        assert_eq!(c.bytes(), &[3, 4, 5]);
        assert!(!c.is_cut());
        assert_eq!(c.range(), 2..5);
    }

    #[test]
    fn cut_capture_keeps_wire_length() {
        let buf = [1u8, 2, 3, 4];
        let mut c = Cur::new(&buf, 100);
        c.advance(2, Layer::Ethernet).unwrap();
        c.limit(50, Layer::Ipv4).unwrap();
        assert_eq!(c.bytes(), &[3, 4]);
        assert_eq!(c.wire(), 50);
        assert!(c.is_cut());
        assert_eq!(
            c.limit(51, Layer::Ipv4),
            Err(DecodeError::Truncated { layer: Layer::Ipv4 })
        );
        assert_eq!(
            c.advance(3, Layer::Tcp),
            Err(DecodeError::Truncated { layer: Layer::Tcp })
        );
    }

    #[test]
    fn big_endian_helpers() {
        assert_eq!(be16(&[0x12, 0x34, 0x56]), 0x1234);
        assert_eq!(be16(&[0x12]), 0);
        assert_eq!(be32(&[1, 2, 3, 4]), 0x0102_0304);
    }
}
