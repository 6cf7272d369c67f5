//! Message framing (how long a body is), body accounting and the body capture.
//!
//! The framing rules are Zeek's (`HTTP_Entity::SubmitAllHeaders`), so that body lengths match
//! its http.log: chunked only for HTTP/1.1, Content-Length otherwise, then read-until-close
//! for compressed bodies or after `Connection: close`, and finally Zeek's line-by-line body
//! mode for responses with no framing at all.

use super::capture::Capture;
use super::decode::{Coding, Decoder, Outcome};
use super::head::{value_token, Field, Version};
use super::{Direction, HttpConfig, HttpEvent, DECODE_RATIO_FLOOR};

/// Whether a message may carry a body (RFC 9112 section 6.3 and Zeek's rules).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum ExpectBody {
    /// A response that has a body unless framing says zero length.
    Expected,
    /// A request: a body only with Content-Length or Transfer-Encoding.
    Maybe,
    /// A response to HEAD, a 1xx, 204 or 304.
    NotExpected,
}

/// Where the body of a message ends.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// A fixed number of bytes. `multipart` bodies are counted the way Zeek's line-based MIME
    /// parsing counts them (see [`Body::finish`]).
    Length { remaining: u64, multipart: bool },
    /// Chunked transfer coding.
    Chunked(Chunk),
    /// Raw bytes until the sender closes.
    UntilClose,
    /// Lines until the sender closes, each counted with a two-byte terminator (Zeek's
    /// accounting for unframed response bodies).
    LinesUntilClose,
}

/// Position inside a chunked body.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// Expecting a chunk-size line.
    Size,
    /// Inside chunk data.
    Data(u64),
    /// Expecting the empty line after chunk data.
    DataEnd,
    /// Trailer fields until an empty line.
    Trailer,
}

/// Zeek's `atoi_n`: an optional `-`, then digits of `base` up to the first other byte. `None`
/// when the first byte is not a digit or the value overflows. An empty input is 0.
pub(crate) fn zeek_atoi(s: &[u8], base: u32) -> Option<i64> {
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for (i, &c) in digits.iter().enumerate() {
        let Some(d) = char::from(c).to_digit(base) else {
            if i > 0 {
                break;
            }
            return None;
        };
        n = n.checked_mul(i64::from(base))?.checked_add(i64::from(d))?;
    }
    Some(if neg { -n } else { n })
}

/// What the head of a message says about its body.
#[derive(Debug, Default)]
pub(crate) struct Decision {
    /// `None`: no body.
    pub framing: Option<Framing>,
    pub coding: Option<Coding>,
    /// A content coding the parser does not decode (`br`, `zstd`, a list of several): the
    /// body is counted as sent, and not captured.
    pub undecodable: bool,
    pub events: Vec<HttpEvent>,
}

/// Inputs to [`decide`] besides the header fields.
#[derive(Copy, Clone, Debug)]
pub(crate) struct MessageInfo {
    pub dir: Direction,
    pub version: Option<Version>,
    pub expect: ExpectBody,
    pub status: u16,
    /// A response on this connection said `Connection: close` (sticky, as in Zeek).
    pub connection_close: bool,
}

fn eq_ci(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

/// Content-Range `bytes first-last/len`: the range length, or `None` when unusable.
fn content_range_len(value: &[u8]) -> Option<i64> {
    let unit = value_token(value);
    if unit != b"bytes" {
        return None;
    }
    let start = value.windows(unit.len()).position(|w| w == unit).map_or(0, |p| p + unit.len());
    let spec: Vec<u8> = value.get(start..).unwrap_or_default().iter().copied().filter(|&c| c != b' ').collect();
    let slash = spec.iter().position(|&c| c == b'/')?;
    let range = spec.get(..slash)?;
    let dash = range.iter().position(|&c| c == b'-')?;
    let first = zeek_atoi(range.get(..dash)?, 10)?;
    let last = zeek_atoi(range.get(dash + 1..)?, 10)?;
    if first < 0 || last < first {
        return None;
    }
    last.checked_sub(first)?.checked_add(1)
}

/// Whether an element of a Content-Encoding list names a coding (`identity` names none).
fn is_coding(element: &[u8]) -> bool {
    let c = element.trim_ascii();
    !c.is_empty() && !eq_ci(c, "identity")
}

fn is_digits(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

/// For a Content-Length value written as a comma-separated list, whether its elements
/// conflict (differ, or are not all numbers); `None` for a single value.
fn content_length_list(value: &[u8]) -> Option<bool> {
    if !value.contains(&b',') {
        return None;
    }
    let mut elements = value.split(|&c| c == b',').map(<[u8]>::trim_ascii);
    let first = elements.next().unwrap_or_default();
    let conflicting = !is_digits(first) || elements.any(|e| e != first);
    Some(conflicting)
}

/// Decides the framing of a message from its head.
pub(crate) fn decide(info: MessageInfo, fields: &[Field<'_>]) -> Decision {
    let dir = info.dir;
    let mut d = Decision::default();
    let mut content_length: i64 = -1;
    let mut range_length: Option<i64> = None;
    let mut cl_seen: Option<i64> = None;
    let mut chunked = false;
    let mut te_chunked = false;
    let mut te_lines = 0usize;
    let mut te_unusual = false;
    let mut multipart = false;
    let mut expect_100 = false;
    let mut codings = 0usize;
    let mut unknown_coding = false;
    for f in fields {
        let name = f.name;
        if eq_ci(name, "content-length") {
            let list = content_length_list(f.value);
            if let Some(conflicting) = list {
                d.events.push(HttpEvent::ContentLengthList { dir, conflicting });
            }
            let tok = value_token(f.value);
            if tok.is_empty() {
                continue;
            }
            let n = match zeek_atoi(tok, 10) {
                Some(n) if n >= 0 => {
                    if n > 0 && tok.first() == Some(&b'0') {
                        d.events.push(HttpEvent::ContentLengthLeadingZeros { dir });
                    }
                    // Zeek frames with the leading digits of `2abc` or `2 3`; a strict server
                    // rejects the message, so the two may disagree on where it ends.
                    if list.is_none() && !is_digits(f.value.trim_ascii()) {
                        d.events.push(HttpEvent::InvalidContentLength { dir });
                    }
                    n
                }
                _ => {
                    d.events.push(HttpEvent::InvalidContentLength { dir });
                    0
                }
            };
            if let Some(prev) = cl_seen {
                d.events.push(HttpEvent::DuplicateContentLength { dir, conflicting: prev != n });
            }
            cl_seen = Some(n);
            content_length = n;
            if let Some(r) = range_length {
                if r != n {
                    d.events.push(HttpEvent::BadContentRange);
                    content_length = content_length.max(r);
                }
            }
        } else if eq_ci(name, "content-range") && dir == Direction::ToClient && info.status == 206 {
            match content_range_len(f.value) {
                Some(len) if len > 0 => {
                    range_length = Some(len);
                    if content_length > 0 {
                        if content_length != len {
                            d.events.push(HttpEvent::BadContentRange);
                            content_length = content_length.max(len);
                        }
                    } else {
                        content_length = len;
                    }
                }
                _ => d.events.push(HttpEvent::BadContentRange),
            }
        } else if eq_ci(name, "transfer-encoding") {
            let tok = value_token(f.value);
            let whole = f.value.trim_ascii();
            // Several field lines make one list (RFC 9110 section 5.3): `chunked` twice.
            te_lines += 1;
            if eq_ci(tok, "chunked") {
                te_chunked = true;
                te_unusual |= whole.len() != tok.len();
                if info.version == Some(Version::V11) {
                    chunked = true;
                } else {
                    d.events.push(HttpEvent::ChunkedInHttp10 { dir });
                }
            } else {
                te_unusual = true;
            }
        } else if eq_ci(name, "content-encoding") {
            let tok = value_token(f.value);
            if eq_ci(tok, "gzip") || eq_ci(tok, "x-gzip") {
                d.coding = Some(Coding::Gzip);
            } else if eq_ci(tok, "deflate") {
                d.coding = Some(Coding::Deflate);
            }
            codings = codings.saturating_add(f.value.split(|&c| c == b',').filter(|c| is_coding(c)).count());
            unknown_coding |= f.value.split(|&c| c == b',').any(|c| {
                let c = c.trim_ascii();
                is_coding(c) && !["gzip", "x-gzip", "deflate"].iter().any(|k| eq_ci(c, k))
            });
        } else if eq_ci(name, "content-type") {
            let tok = value_token(f.value);
            multipart = eq_ci(tok, "multipart") || eq_ci(tok, "message");
        } else if eq_ci(name, "expect") && dir == Direction::ToServer {
            expect_100 = true;
        }
    }
    if te_unusual || te_lines > 1 {
        d.events.push(HttpEvent::UnusualTransferEncoding { dir });
    }
    if te_chunked && cl_seen.is_some() {
        d.events.push(HttpEvent::ContentLengthAndChunked { dir });
    }
    if expect_100 && cl_seen == Some(0) {
        d.events.push(HttpEvent::ExpectWithEmptyBody);
    }
    // Only the first coding is decoded: a body coded twice would reach the capture still
    // coded once.
    d.undecodable = unknown_coding || codings > 1;
    if info.expect == ExpectBody::NotExpected {
        return d;
    }
    let length = u64::try_from(content_length).ok();
    d.framing = if chunked {
        Some(Framing::Chunked(Chunk::Size))
    } else if let Some(n) = length {
        (n > 0).then_some(Framing::Length { remaining: n, multipart })
    } else if info.connection_close || d.coding.is_some() {
        Some(Framing::UntilClose)
    } else if info.expect == ExpectBody::Expected {
        Some(Framing::LinesUntilClose)
    } else {
        None
    };
    d
}

/// What decoding reported while a body was fed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum DecodeNote {
    LimitHit,
    Corrupt,
}

/// Counts the body of one message and keeps the bounded prefix of it.
#[derive(Debug)]
pub(crate) struct Body {
    pub framing: Framing,
    /// Entity bytes as Zeek counts them (decoded when a coding applies).
    pub len: u64,
    /// Entity bytes before decoding.
    pub wire_len: u64,
    /// The first decoded bytes, up to `max_body_capture`.
    pub capture: Capture,
    decoder: Option<Decoder>,
    /// Decoding gave up (limit, corruption, gap): later bytes add nothing, as in Zeek.
    decode_stopped: bool,
    last_byte: Option<u8>,
}

impl Body {
    /// A body framed by `framing`, decoded with `coding`; `undecodable` says it has a coding
    /// that is not decoded, so it is counted but not captured.
    pub fn new(framing: Framing, coding: Option<Coding>, undecodable: bool, cfg: &HttpConfig) -> Self {
        // Zeek only decodes bodies it delivers as raw bytes.
        let decoder = match framing {
            Framing::LinesUntilClose | Framing::Length { multipart: true, .. } => None,
            _ => coding.map(|c| Decoder::new(c, cfg.max_decoded_body, cfg.max_decode_ratio, DECODE_RATIO_FLOOR)),
        };
        let mut capture = Capture::new(cfg.max_body_capture);
        // The capture promises decoded bytes: a coded body that is not decoded is not kept.
        if undecodable || (coding.is_some() && decoder.is_none()) {
            capture.refuse();
        }
        Body { framing, len: 0, wire_len: 0, capture, decoder, decode_stopped: false, last_byte: None }
    }

    /// Entity bytes (after de-chunking).
    pub fn add(&mut self, data: &[u8]) -> Option<DecodeNote> {
        self.wire_len = self.wire_len.saturating_add(data.len() as u64);
        if let Some(&b) = data.last() {
            self.last_byte = Some(b);
        }
        if self.decode_stopped {
            return None;
        }
        let Some(dec) = self.decoder.as_mut() else {
            self.len = self.len.saturating_add(data.len() as u64);
            self.capture.push(data);
            return None;
        };
        let before = dec.produced;
        let capture = &mut self.capture;
        let outcome = dec.feed(data, &mut |out: &[u8]| capture.push(out));
        self.len = self.len.saturating_add(dec.produced - before);
        let note = match outcome {
            Outcome::Running | Outcome::Finished => return None,
            Outcome::LimitHit => DecodeNote::LimitHit,
            Outcome::Corrupt => DecodeNote::Corrupt,
        };
        self.decode_stopped = true;
        self.capture.cut();
        Some(note)
    }

    /// One line of a line-counted body: its bytes plus two for the terminator. `kept` is the
    /// part of the line the splitter held (at most [`Self::line_capture_room`]); the line is
    /// captured with a CRLF, the terminator its length is counted with.
    pub fn add_line(&mut self, kept: &[u8], line_len: u64) {
        self.wire_len = self.wire_len.saturating_add(line_len);
        self.len = self.len.saturating_add(line_len).saturating_add(2);
        self.capture.push(kept);
        if (kept.len() as u64) < line_len {
            self.capture.overflow();
        }
        self.capture.push(b"\r\n");
    }

    /// How many bytes of the next line of a line-counted body the splitter should hold for the
    /// capture (never more than `max_line`, the head-line limit).
    pub fn line_capture_room(&self, max_line: usize) -> usize {
        self.capture.room().min(max_line)
    }

    /// Bytes lost in a gap inside the body: counted, and decoding cannot go on (its state is
    /// released); the capture ends there.
    pub fn add_gap(&mut self, len: u64) {
        self.wire_len = self.wire_len.saturating_add(len);
        self.len = self.len.saturating_add(len);
        if self.decoder.take().is_some() {
            self.decode_stopped = true;
        }
        self.capture.cut();
    }

    /// Heap bytes held for this body: the decoder's state and the captured prefix.
    pub fn held_bytes(&self) -> usize {
        self.decoder.as_ref().map_or(0, Decoder::held_bytes) + self.capture.held_bytes()
    }

    /// Final accounting. Zeek counts a multipart body line by line and closes its last line
    /// with a CRLF when the Content-Length runs out mid-line, so such a body counts two bytes
    /// more than it has.
    pub fn finish(&mut self) {
        if let Framing::Length { remaining: 0, multipart: true } = self.framing {
            if self.wire_len > 0 && !matches!(self.last_byte, Some(b'\n' | b'\r')) {
                self.len = self.len.saturating_add(2);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(dir: Direction, version: Version, expect: ExpectBody) -> MessageInfo {
        MessageInfo { dir, version: Some(version), expect, status: 200, connection_close: false }
    }

    fn fields<'a>(list: &[(&'a str, &'a str)]) -> Vec<Field<'a>> {
        list.iter().map(|(n, v)| Field { name: n.as_bytes(), value: v.as_bytes() }).collect()
    }

    #[test]
    fn atoi_matches_zeek() {
        assert_eq!(zeek_atoi(b"123abc", 10), Some(123));
        assert_eq!(zeek_atoi(b"-1", 10), Some(-1));
        assert_eq!(zeek_atoi(b"abc", 10), None);
        assert_eq!(zeek_atoi(b"", 16), Some(0));
        assert_eq!(zeek_atoi(b"1f;ext=1", 16), Some(31));
        assert_eq!(zeek_atoi(b"10000000000000000", 16), None);
        assert_eq!(zeek_atoi(b"00000000000000000000000000000050", 10), Some(50));
    }

    #[test]
    fn request_without_length_has_no_body() {
        let d = decide(info(Direction::ToServer, Version::V11, ExpectBody::Maybe), &fields(&[("Host", "x")]));
        assert_eq!(d.framing, None);
    }

    #[test]
    fn response_without_length_is_line_counted_until_close() {
        let d = decide(info(Direction::ToClient, Version::V10, ExpectBody::Expected), &[]);
        assert_eq!(d.framing, Some(Framing::LinesUntilClose));
        let mut i = info(Direction::ToClient, Version::V10, ExpectBody::Expected);
        i.connection_close = true;
        assert_eq!(decide(i, &[]).framing, Some(Framing::UntilClose));
    }

    #[test]
    fn chunked_wins_over_length_and_is_flagged() {
        let d = decide(
            info(Direction::ToServer, Version::V11, ExpectBody::Maybe),
            &fields(&[("Content-Length", "5"), ("Transfer-Encoding", "chunked")]),
        );
        assert_eq!(d.framing, Some(Framing::Chunked(Chunk::Size)));
        assert!(d.events.contains(&HttpEvent::ContentLengthAndChunked { dir: Direction::ToServer }));
    }

    #[test]
    fn chunked_is_ignored_in_http10() {
        let d = decide(
            info(Direction::ToClient, Version::V10, ExpectBody::Expected),
            &fields(&[("Transfer-Encoding", "chunked"), ("Content-Length", "7")]),
        );
        assert_eq!(d.framing, Some(Framing::Length { remaining: 7, multipart: false }));
        assert!(d.events.contains(&HttpEvent::ChunkedInHttp10 { dir: Direction::ToClient }));
    }

    #[test]
    fn invalid_and_duplicate_lengths() {
        let d = decide(info(Direction::ToServer, Version::V11, ExpectBody::Maybe), &fields(&[("Content-Length", "-1")]));
        assert_eq!(d.framing, None);
        assert_eq!(d.events, vec![HttpEvent::InvalidContentLength { dir: Direction::ToServer }]);
        let d = decide(
            info(Direction::ToServer, Version::V11, ExpectBody::Maybe),
            &fields(&[("Content-Length", "3"), ("content-length", "4")]),
        );
        assert_eq!(d.framing, Some(Framing::Length { remaining: 4, multipart: false }));
        assert!(d.events.contains(&HttpEvent::DuplicateContentLength { dir: Direction::ToServer, conflicting: true }));
        let d = decide(info(Direction::ToServer, Version::V11, ExpectBody::Maybe), &fields(&[("Content-Length", "0050")]));
        assert_eq!(d.framing, Some(Framing::Length { remaining: 50, multipart: false }));
        assert!(d.events.contains(&HttpEvent::ContentLengthLeadingZeros { dir: Direction::ToServer }));
    }

    #[test]
    fn odd_transfer_encodings_are_flagged() {
        let d = decide(
            info(Direction::ToServer, Version::V11, ExpectBody::Maybe),
            &fields(&[("Transfer-Encoding", "chunked, chunked")]),
        );
        assert_eq!(d.framing, Some(Framing::Chunked(Chunk::Size)));
        assert!(d.events.contains(&HttpEvent::UnusualTransferEncoding { dir: Direction::ToServer }));
        let d = decide(info(Direction::ToServer, Version::V11, ExpectBody::Maybe), &fields(&[("Transfer-Encoding", "gzip")]));
        assert_eq!(d.framing, None);
        assert_eq!(d.events, vec![HttpEvent::UnusualTransferEncoding { dir: Direction::ToServer }]);
    }

    // Review finding: `chunked` on two field lines was not flagged, unlike `chunked, chunked`.
    #[test]
    fn repeated_transfer_encoding_lines_are_flagged_once() {
        let req = info(Direction::ToServer, Version::V11, ExpectBody::Maybe);
        let d = decide(req, &fields(&[("Transfer-Encoding", "chunked"), ("transfer-encoding", "chunked")]));
        assert_eq!(d.framing, Some(Framing::Chunked(Chunk::Size)));
        assert_eq!(d.events, vec![HttpEvent::UnusualTransferEncoding { dir: Direction::ToServer }]);
        let d = decide(req, &fields(&[("Transfer-Encoding", "gzip"), ("Transfer-Encoding", "chunked, x")]));
        assert_eq!(d.events, vec![HttpEvent::UnusualTransferEncoding { dir: Direction::ToServer }]);
        let d = decide(req, &fields(&[("Transfer-Encoding", "chunked")]));
        assert!(d.events.is_empty());
    }

    // Review finding: `Content-Length: 2, 2` framed silently.
    #[test]
    fn content_length_lists_and_trailing_bytes_are_flagged() {
        let req = info(Direction::ToServer, Version::V11, ExpectBody::Maybe);
        let dir = Direction::ToServer;
        let d = decide(req, &fields(&[("Content-Length", "2, 2")]));
        assert_eq!(d.framing, Some(Framing::Length { remaining: 2, multipart: false }));
        assert_eq!(d.events, vec![HttpEvent::ContentLengthList { dir, conflicting: false }]);
        let d = decide(req, &fields(&[("Content-Length", "2,3")]));
        assert_eq!(d.framing, Some(Framing::Length { remaining: 2, multipart: false }));
        assert_eq!(d.events, vec![HttpEvent::ContentLengthList { dir, conflicting: true }]);
        let d = decide(req, &fields(&[("Content-Length", ", 2")]));
        assert_eq!(d.framing, None);
        assert_eq!(d.events, vec![HttpEvent::ContentLengthList { dir, conflicting: true }]);
        let d = decide(req, &fields(&[("Content-Length", "2abc")]));
        assert_eq!(d.framing, Some(Framing::Length { remaining: 2, multipart: false }));
        assert_eq!(d.events, vec![HttpEvent::InvalidContentLength { dir }]);
        let d = decide(req, &fields(&[("Content-Length", " 12 ")]));
        assert!(d.events.is_empty());
    }

    #[test]
    fn content_range_extends_a_shorter_length() {
        let mut i = info(Direction::ToClient, Version::V11, ExpectBody::Expected);
        i.status = 206;
        let d = decide(i, &fields(&[("Content-Length", "10"), ("Content-Range", "bytes 0-19/100")]));
        assert_eq!(d.framing, Some(Framing::Length { remaining: 20, multipart: false }));
        let d = decide(i, &fields(&[("Content-Range", "bytes 5-4/100")]));
        assert_eq!(d.framing, Some(Framing::LinesUntilClose));
        assert_eq!(d.events, vec![HttpEvent::BadContentRange]);
    }

    #[test]
    fn no_body_responses() {
        let d = decide(info(Direction::ToClient, Version::V11, ExpectBody::NotExpected), &fields(&[("Content-Length", "10")]));
        assert_eq!(d.framing, None);
    }

    #[test]
    fn multipart_body_counts_a_missing_final_crlf() {
        let cfg = HttpConfig::default();
        let mut b = Body::new(Framing::Length { remaining: 0, multipart: true }, None, false, &cfg);
        b.add(b"--x\r\ndata");
        b.finish();
        assert_eq!(b.len, 11);
        let mut b = Body::new(Framing::Length { remaining: 0, multipart: true }, None, false, &cfg);
        b.add(b"--x--\r\n");
        b.finish();
        assert_eq!(b.len, 7);
    }
}
