//! A bounds-checked cursor over a borrowed handshake message: every read either returns the
//! bytes it promised or `None`, so a lying length field can only end the parse.

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes read so far (the offset of the next read in the original slice).
    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.take(1).and_then(|b| b.first().copied())
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        match self.take(2)? {
            &[a, b] => Some(u16::from_be_bytes([a, b])),
            _ => None,
        }
    }

    /// A 24-bit big-endian length (handshake message and certificate lengths).
    pub(crate) fn u24(&mut self) -> Option<usize> {
        match self.take(3)? {
            &[a, b, c] => Some(usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c)),
            _ => None,
        }
    }

    /// A `<0..2^8-1>` vector: a one-byte length, then that many bytes.
    pub(crate) fn vec8(&mut self) -> Option<&'a [u8]> {
        let start = self.pos;
        let out = self.u8().and_then(|n| self.take(usize::from(n)));
        if out.is_none() {
            self.pos = start;
        }
        out
    }

    /// A `<0..2^16-1>` vector: a two-byte length, then that many bytes.
    pub(crate) fn vec16(&mut self) -> Option<&'a [u8]> {
        let start = self.pos;
        let out = self.u16().and_then(|n| self.take(usize::from(n)));
        if out.is_none() {
            self.pos = start;
        }
        out
    }
}

/// Big-endian `u16`s; `None` when the length is odd.
pub(crate) fn u16_list(bytes: &[u8]) -> Option<Vec<u16>> {
    let chunks = bytes.chunks_exact(2);
    if !chunks.remainder().is_empty() {
        return None;
    }
    Some(chunks.map(|c| c.iter().fold(0u16, |acc, &b| (acc << 8) | u16::from(b))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_at_the_end_without_moving() {
        let mut r = Reader::new(&[0x00, 0x03, 0xaa, 0xbb]);
        assert_eq!(r.vec16(), None, "length 3 with 2 bytes left");
        assert_eq!(r.offset(), 0);
        let mut r = Reader::new(&[0x00, 0x02, 0xaa, 0xbb, 0x01]);
        assert_eq!(r.vec16(), Some(&[0xaa, 0xbb][..]));
        assert_eq!(r.offset(), 4);
        assert_eq!(r.u16(), None);
        assert_eq!(r.u8(), Some(1));
        assert!(r.is_empty());
        assert_eq!(r.take(usize::MAX), None);
        let mut r = Reader::new(&[0x01, 0x02, 0x03, 0x04, 0x05]);
        assert_eq!(r.u24(), Some(0x01_0203));
        assert_eq!(r.u24(), None, "two bytes left");
        assert_eq!(r.offset(), 3);
    }

    #[test]
    fn u16_lists() {
        assert_eq!(u16_list(&[0x13, 0x01, 0xc0, 0x2b]), Some(vec![0x1301, 0xc02b]));
        assert_eq!(u16_list(&[]), Some(vec![]));
        assert_eq!(u16_list(&[1, 2, 3]), None);
    }
}
