//! HTTP/2 frame headers (RFC 9113 section 4.1), what makes one plausible, and detection.

/// The client connection preface.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Length of a frame header.
pub(crate) const HEADER_LEN: usize = 9;

/// SETTINGS_MAX_FRAME_SIZE's initial value, the largest frame a peer must accept.
pub(crate) const DEFAULT_MAX_FRAME: u32 = 16_384;

/// The largest frame size a peer may announce (2^24 - 1).
pub(crate) const LARGEST_FRAME: u32 = (1 << 24) - 1;

pub(crate) const DATA: u8 = 0x0;
pub(crate) const HEADERS: u8 = 0x1;
pub(crate) const PRIORITY: u8 = 0x2;
pub(crate) const RST_STREAM: u8 = 0x3;
pub(crate) const SETTINGS: u8 = 0x4;
pub(crate) const PUSH_PROMISE: u8 = 0x5;
pub(crate) const PING: u8 = 0x6;
pub(crate) const GOAWAY: u8 = 0x7;
pub(crate) const WINDOW_UPDATE: u8 = 0x8;
pub(crate) const CONTINUATION: u8 = 0x9;

pub(crate) const END_STREAM: u8 = 0x1;
pub(crate) const ACK: u8 = 0x1;
pub(crate) const END_HEADERS: u8 = 0x4;
pub(crate) const PADDED: u8 = 0x8;
pub(crate) const PRIORITY_FLAG: u8 = 0x20;

/// A frame header.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    pub len: u32,
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
}

impl FrameHeader {
    /// Reads a header from the first nine bytes, if there are nine.
    pub fn parse(b: &[u8]) -> Option<FrameHeader> {
        let h: &[u8; HEADER_LEN] = b.get(..HEADER_LEN)?.try_into().ok()?;
        let [l0, l1, l2, kind, flags, s0, s1, s2, s3] = *h;
        Some(FrameHeader {
            len: u32::from_be_bytes([0, l0, l1, l2]),
            kind,
            flags,
            // The reserved bit is ignored on receipt (RFC 9113 section 4.1).
            stream: u32::from_be_bytes([s0 & 0x7f, s1, s2, s3]),
        })
    }

    /// Whether the reserved bit is set (a plausible header never has it).
    fn reserved_bit(b: &[u8]) -> bool {
        b.get(5).is_some_and(|&s0| s0 & 0x80 != 0)
    }

    /// Whether length and stream fit the frame type's rules (section 6). Frames of an unknown
    /// type are never plausible when looking for framing: they are too weak a signal.
    pub fn valid_for_type(&self) -> bool {
        let on_stream = self.stream != 0;
        match self.kind {
            DATA | HEADERS | CONTINUATION | PUSH_PROMISE => on_stream,
            PRIORITY => on_stream && self.len == 5,
            RST_STREAM => on_stream && self.len == 4,
            SETTINGS => !on_stream && self.len % 6 == 0 && (self.flags & ACK == 0 || self.len == 0),
            PING => !on_stream && self.len == 8,
            GOAWAY => !on_stream && self.len >= 8,
            WINDOW_UPDATE => self.len == 4,
            _ => false,
        }
    }

    /// Whether only flags defined for the type are set.
    fn flags_defined(&self) -> bool {
        let defined = match self.kind {
            DATA => END_STREAM | PADDED,
            HEADERS => END_STREAM | END_HEADERS | PADDED | PRIORITY_FLAG,
            SETTINGS | PING => ACK,
            PUSH_PROMISE => END_HEADERS | PADDED,
            CONTINUATION => END_HEADERS,
            _ => 0,
        };
        self.flags & !defined == 0
    }
}

/// Whether `b` starts with a frame header that a search for framing may trust: a defined
/// type with a length and stream its type allows, only defined flags, the reserved bit clear,
/// a length within `max_len`, and a stream id below 2^24 (ids grow by two per stream, so
/// larger ones are rare and random bytes often look like them).
pub(crate) fn plausible_header(b: &[u8], max_len: u32) -> Option<FrameHeader> {
    let h = FrameHeader::parse(b)?;
    let ok = !FrameHeader::reserved_bit(b)
        && h.len <= max_len
        && h.stream < 1 << 24
        && h.valid_for_type()
        && h.flags_defined();
    ok.then_some(h)
}

/// Whether the bytes at the start of a TCP stream look like HTTP/2: the client connection
/// preface (or as much of it as there is, from 4 bytes), or two consecutive plausible frame
/// headers (the first frame complete in `bytes`), or one plausible frame that ends exactly
/// where `bytes` end. This is how a connection joined mid-way is recognised; the app layer
/// calls it on the first bytes of either direction.
///
/// Not recognised: a first delivery that starts inside a frame (the parser's own search
/// handles that once it runs), and HTTP/2 inside TLS.
pub fn looks_like_h2(bytes: &[u8]) -> bool {
    if bytes.len() >= 4 && PREFACE.starts_with(bytes.get(..bytes.len().min(PREFACE.len())).unwrap_or_default()) {
        return true;
    }
    let Some(first) = plausible_header(bytes, DEFAULT_MAX_FRAME) else { return false };
    let next = HEADER_LEN + first.len as usize;
    if bytes.len() == next {
        return true;
    }
    bytes.get(next..).is_some_and(|rest| plausible_header(rest, DEFAULT_MAX_FRAME).is_some())
}

/// Who sent the HTTP/2 frames at the start of `bytes`, from the first field of the first
/// HEADERS frame that shows it: a request pseudo-header (`:method`, `:path`, `:scheme`,
/// `:authority`) from the client, `:status` from the server. Pseudo-headers come first in a
/// header block (RFC 9113 section 8.3), and encoders send them as static-table references or
/// literals with a static name, which need no HPACK state. `None` when no HEADERS frame in
/// `bytes` says it (a first field that refers to the dynamic table, no HEADERS frame yet, or
/// bytes that do not start at a frame). This orients a connection joined mid-way, whose TCP
/// handshake was not seen.
pub fn headers_sender(bytes: &[u8]) -> Option<crate::http::Direction> {
    use crate::http::Direction;
    let mut at = 0usize;
    while let Some(h) = bytes.get(at..).and_then(|b| plausible_header(b, LARGEST_FRAME)) {
        let payload = bytes.get(at + HEADER_LEN..).unwrap_or_default();
        if h.kind == HEADERS {
            let mut skip = 0usize;
            if h.flags & PADDED != 0 {
                skip += 1;
            }
            if h.flags & PRIORITY_FLAG != 0 {
                skip += 5;
            }
            let block = payload.get(skip..).unwrap_or_default();
            // Static indices 1 to 7 name request pseudo-headers, 8 to 14 `:status`.
            let side = |index: u8| match index {
                1..=7 => Some(Direction::ToServer),
                8..=14 => Some(Direction::ToClient),
                _ => None,
            };
            let mut i = 0usize;
            while let Some(&b) = block.get(i) {
                // A dynamic table size update (001xxxxx, with continuation bytes) may precede
                // the fields.
                if b & 0xe0 == 0x20 {
                    i += 1;
                    if b & 0x1f == 0x1f {
                        while block.get(i).is_some_and(|c| c & 0x80 != 0) {
                            i += 1;
                        }
                        i += 1;
                    }
                    continue;
                }
                let found = if b & 0x80 != 0 {
                    side(b & 0x7f)
                } else if b & 0xc0 == 0x40 {
                    side(b & 0x3f)
                } else {
                    side(b & 0x0f)
                };
                if found.is_some() {
                    return found;
                }
                break;
            }
        }
        at += HEADER_LEN + h.len as usize;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_pseudo_header_says_who_sent_a_headers_frame() {
        use crate::http::Direction;
        // A SETTINGS frame, then HEADERS with `:method: GET` (static 2), with PRIORITY.
        let mut c = header(0, SETTINGS, 0, 0);
        c.extend(header(6, HEADERS, END_HEADERS | PRIORITY_FLAG, 3));
        c.extend([0, 0, 0, 0, 16, 0x82]);
        assert_eq!(headers_sender(&c), Some(Direction::ToServer));
        // `:status: 200` (static 8) after a table size update to 0.
        let mut s = header(2, HEADERS, END_HEADERS, 3);
        s.extend([0x20, 0x88]);
        assert_eq!(headers_sender(&s), Some(Direction::ToClient));
        // `:path` as a literal with incremental indexing, static name 4.
        let mut p = header(4, HEADERS, END_HEADERS, 1);
        p.extend([0x44, 0x02, b'/', b'a']);
        assert_eq!(headers_sender(&p), Some(Direction::ToServer));
        // A reference to the dynamic table says nothing, nor do DATA frames.
        let mut d = header(1, HEADERS, END_HEADERS, 1);
        d.push(0xbe);
        assert_eq!(headers_sender(&d), None);
        let mut data = header(3, DATA, 0, 1);
        data.extend(b"abc");
        assert_eq!(headers_sender(&data), None);
        assert_eq!(headers_sender(b"GET / HTTP/1.1\r\n\r\n"), None);
    }

    fn header(len: u32, kind: u8, flags: u8, stream: u32) -> Vec<u8> {
        let mut v = len.to_be_bytes()[1..].to_vec();
        v.push(kind);
        v.push(flags);
        v.extend_from_slice(&stream.to_be_bytes());
        v
    }

    #[test]
    fn parses_a_header() {
        let h = FrameHeader::parse(&header(300, HEADERS, END_HEADERS, 5)).unwrap();
        assert_eq!(h, FrameHeader { len: 300, kind: HEADERS, flags: END_HEADERS, stream: 5 });
        assert_eq!(FrameHeader::parse(&[0; 8]), None);
    }

    #[test]
    fn detection() {
        assert!(looks_like_h2(PREFACE));
        assert!(looks_like_h2(b"PRI * HT"));
        assert!(!looks_like_h2(b"PRI"));
        assert!(!looks_like_h2(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(!looks_like_h2(b"HTTP/1.1 200 OK\r\n"));
        // A server's first SETTINGS (18 bytes of payload), alone or followed by another frame.
        let mut s = header(18, SETTINGS, 0, 0);
        s.extend_from_slice(&[0; 18]);
        assert!(looks_like_h2(&s));
        let mut two = s.clone();
        two.extend_from_slice(&header(4, WINDOW_UPDATE, 0, 0));
        assert!(looks_like_h2(&two));
        // Followed by garbage.
        let mut bad = s.clone();
        bad.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        assert!(!looks_like_h2(&bad));
        // A TLS record is not a frame.
        assert!(!looks_like_h2(&[0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]));
    }

    #[test]
    fn plausibility_rules() {
        assert!(plausible_header(&header(8, PING, 0, 0), DEFAULT_MAX_FRAME).is_some());
        assert!(plausible_header(&header(8, PING, 0, 1), DEFAULT_MAX_FRAME).is_none());
        assert!(plausible_header(&header(7, PING, 0, 0), DEFAULT_MAX_FRAME).is_none());
        assert!(plausible_header(&header(10, DATA, 0x2, 1), DEFAULT_MAX_FRAME).is_none(), "undefined flag");
        assert!(plausible_header(&header(20_000, DATA, 0, 1), DEFAULT_MAX_FRAME).is_none());
        assert!(plausible_header(&header(10, 0x42, 0, 1), DEFAULT_MAX_FRAME).is_none());
        let mut reserved = header(10, DATA, 0, 1);
        reserved[5] |= 0x80;
        assert!(plausible_header(&reserved, DEFAULT_MAX_FRAME).is_none());
    }
}
