//! HTTP/2 (RFC 9113) and gRPC rendered to the bytes each side of a prior-knowledge connection
//! puts on the wire: the preface and SETTINGS exchange, one stream per exchange (HEADERS and
//! DATA frames, trailers), and GOAWAY.
//!
//! Header blocks are HPACK (RFC 7541) as browsers and gRPC libraries write them: fields in the
//! static table are indexed, other fields are added to the dynamic table and indexed when they
//! repeat, and `authorization` and `cookie` values are never indexed. Strings are written
//! without Huffman coding (legal, and what some encoders do for short values). Each direction
//! has its own encoder, as in a real connection.

use std::collections::VecDeque;

use super::http::{Request, Response};

/// The client connection preface (RFC 9113 section 3.4).
pub const PREFACE: &[u8] = apitap_parsers::h2::PREFACE;
/// Largest frame payload written: the protocol's default `SETTINGS_MAX_FRAME_SIZE`.
pub const MAX_FRAME: usize = 16_384;
/// Dynamic table size both encoders use: the protocol default, so no size update is needed.
const TABLE_SIZE: usize = 4_096;
/// Per-entry overhead of the dynamic table (RFC 7541 section 4.1).
const ENTRY_OVERHEAD: usize = 32;

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const ACK: u8 = 0x1;

/// Header names that are never indexed (their values are credentials).
const SENSITIVE: &[&str] = &["authorization", "proxy-authorization", "cookie", "set-cookie"];
/// HTTP/1.1 connection-specific headers that HTTP/2 forbids, and names the renderer writes.
const DROPPED: &[&str] = &["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host", "te", "content-length", "date"];

/// The static table (RFC 7541 Appendix A), index 1 first.
const STATIC: &[(&str, &str)] = &apitap_parsers::h2::HPACK_STATIC_TABLE;

/// One direction's HPACK encoder.
#[derive(Debug, Default)]
struct Encoder {
    /// Newest entry first, as HPACK numbers them.
    table: VecDeque<(String, String)>,
    size: usize,
}

impl Encoder {
    fn block(&mut self, fields: &[(String, String)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, value) in fields {
            self.field(name, value, &mut out);
        }
        out
    }

    fn field(&mut self, name: &str, value: &str, out: &mut Vec<u8>) {
        let in_static = STATIC.iter().position(|(n, v)| *n == name && *v == value);
        let in_dynamic = self.table.iter().position(|(n, v)| n == name && v == value);
        if let Some(i) = in_static {
            integer(0x80, 7, i + 1, out);
            return;
        }
        if let Some(i) = in_dynamic {
            integer(0x80, 7, STATIC.len() + 1 + i, out);
            return;
        }
        let name_index = STATIC.iter().position(|(n, _)| *n == name).map(|i| i + 1);
        if SENSITIVE.contains(&name) {
            // Literal never indexed (section 6.2.3).
            integer(0x10, 4, name_index.unwrap_or(0), out);
        } else {
            // Literal with incremental indexing (section 6.2.1).
            integer(0x40, 6, name_index.unwrap_or(0), out);
            self.insert(name, value);
        }
        if name_index.is_none() {
            string(name, out);
        }
        string(value, out);
    }

    fn insert(&mut self, name: &str, value: &str) {
        let size = name.len() + value.len() + ENTRY_OVERHEAD;
        while self.size + size > TABLE_SIZE {
            match self.table.pop_back() {
                Some((n, v)) => self.size -= n.len() + v.len() + ENTRY_OVERHEAD,
                None => break,
            }
        }
        if size <= TABLE_SIZE {
            self.table.push_front((name.to_string(), value.to_string()));
            self.size += size;
        }
    }
}

/// An HPACK integer with an `n`-bit prefix, the first byte's other bits from `flags`.
fn integer(flags: u8, n: u32, value: usize, out: &mut Vec<u8>) {
    let max = (1usize << n) - 1;
    if value < max {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max as u8);
    let mut rest = value - max;
    while rest >= 128 {
        out.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.push(rest as u8);
}

/// An HPACK string literal, not Huffman-coded.
fn string(s: &str, out: &mut Vec<u8>) {
    integer(0, 7, s.len(), out);
    out.extend_from_slice(s.as_bytes());
}

/// One frame.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8], out: &mut Vec<u8>) {
    let len = payload.len();
    out.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
}

/// A header block as HEADERS and, when it is longer than a frame, CONTINUATION frames.
fn header_frames(block: &[u8], stream: u32, end_stream: bool, out: &mut Vec<u8>) {
    let mut pieces = block.chunks(MAX_FRAME).peekable();
    let first = pieces.next().unwrap_or_default();
    let flags = |last: bool| if last { END_HEADERS } else { 0 };
    frame(HEADERS, flags(pieces.peek().is_none()) | if end_stream { END_STREAM } else { 0 }, stream, first, out);
    while let Some(piece) = pieces.next() {
        frame(0x9, flags(pieces.peek().is_none()), stream, piece, out);
    }
}

/// A body as DATA frames, the last one ending the stream when `end_stream`.
fn data_frames(body: &[u8], stream: u32, end_stream: bool, out: &mut Vec<u8>) {
    let mut pieces = body.chunks(MAX_FRAME).peekable();
    if pieces.peek().is_none() {
        frame(DATA, if end_stream { END_STREAM } else { 0 }, stream, &[], out);
    }
    while let Some(piece) = pieces.next() {
        let last = pieces.peek().is_none();
        frame(DATA, if last && end_stream { END_STREAM } else { 0 }, stream, piece, out);
    }
}

/// The caller's headers as HTTP/2 fields: names lowercased, forbidden and framing names dropped.
fn fields(headers: &[(String, String)], out: &mut Vec<(String, String)>) {
    for (name, value) in headers {
        let name = name.trim().to_ascii_lowercase();
        if DROPPED.contains(&name.as_str()) || name.is_empty() {
            continue;
        }
        let value: String = value.chars().filter(|c| !matches!(c, '\r' | '\n' | '\0')).collect();
        out.push((name, value));
    }
}

/// A gRPC message: the compressed flag (0) and the length, then the bytes.
pub fn grpc_message(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 5);
    out.push(0);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// The gRPC status a gRPC server answers for what an HTTP API would answer `status` (the
/// inverse of the mapping gRPC gateways document).
pub fn grpc_status_for(status: u16) -> u32 {
    match status {
        200..=299 => 0,
        400 => 3,
        401 => 16,
        403 => 7,
        404 => 5,
        409 => 6,
        429 => 8,
        501 => 12,
        503 => 14,
        504 => 4,
        _ => 13,
    }
}

/// A gRPC content type carrying JSON messages, as gRPC's JSON codec labels them.
pub const GRPC_CONTENT_TYPE: &str = "application/grpc+json";

/// Both directions of one HTTP/2 connection.
#[derive(Debug)]
pub struct H2Conn {
    client: Encoder,
    server: Encoder,
    next_stream: u32,
    last_stream: u32,
}

impl Default for H2Conn {
    fn default() -> Self {
        H2Conn { client: Encoder::default(), server: Encoder::default(), next_stream: 1, last_stream: 0 }
    }
}

impl H2Conn {
    /// The client's first bytes: the preface, its SETTINGS and a connection window update, as
    /// curl and gRPC clients send them.
    pub fn client_start(&self) -> Vec<u8> {
        let mut out = PREFACE.to_vec();
        let mut settings = Vec::new();
        for (id, value) in [(0x3u16, 100u32), (0x4, 1 << 24), (0x2, 0)] {
            settings.extend_from_slice(&id.to_be_bytes());
            settings.extend_from_slice(&value.to_be_bytes());
        }
        frame(SETTINGS, 0, 0, &settings, &mut out);
        frame(WINDOW_UPDATE, 0, 0, &((1u32 << 30) - 65_535).to_be_bytes(), &mut out);
        out
    }

    /// The server's answer to the preface: its SETTINGS and the acknowledgement of the
    /// client's.
    pub fn server_start(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut settings = Vec::new();
        for (id, value) in [(0x3u16, 128u32), (0x4, 65_536), (0x5, MAX_FRAME as u32)] {
            settings.extend_from_slice(&id.to_be_bytes());
            settings.extend_from_slice(&value.to_be_bytes());
        }
        frame(SETTINGS, 0, 0, &settings, &mut out);
        frame(SETTINGS, ACK, 0, &[], &mut out);
        out
    }

    /// The client's acknowledgement of the server's SETTINGS.
    pub fn client_ack(&self) -> Vec<u8> {
        let mut out = Vec::new();
        frame(SETTINGS, ACK, 0, &[], &mut out);
        out
    }

    /// `req` on the next client stream, with `host` as `:authority`; a gRPC call when `grpc`
    /// (the body becomes one message). Returns the stream id and the bytes.
    pub fn request(&mut self, req: &Request, host: &str, grpc: bool) -> (u32, Vec<u8>) {
        let stream = self.next_stream;
        self.next_stream = self.next_stream.saturating_add(2);
        self.last_stream = stream;
        let mut list = vec![
            (":method".to_string(), req.method.clone()),
            (":scheme".to_string(), "http".to_string()),
            (":authority".to_string(), host.to_string()),
            (":path".to_string(), req.target.clone()),
        ];
        let body = if grpc { grpc_message(&req.body) } else { req.body.clone() };
        if grpc {
            list.push(("content-type".into(), GRPC_CONTENT_TYPE.into()));
            list.push(("te".into(), "trailers".into()));
            let own: Vec<(String, String)> = req.headers.iter().filter(|(n, _)| !n.eq_ignore_ascii_case("content-type") && !n.eq_ignore_ascii_case("accept")).cloned().collect();
            fields(&own, &mut list);
        } else {
            fields(&req.headers, &mut list);
            if !body.is_empty() {
                list.push(("content-length".into(), body.len().to_string()));
            }
        }
        let block = self.client.block(&list);
        let mut out = Vec::new();
        header_frames(&block, stream, body.is_empty(), &mut out);
        if !body.is_empty() {
            data_frames(&body, stream, true, &mut out);
        }
        (stream, out)
    }

    /// `resp` on `stream`. A gRPC answer carries the body as one message and `grpc-status`
    /// in trailers (alone in one HEADERS frame when the call failed, as servers answer errors).
    pub fn response(&mut self, stream: u32, resp: &Response, grpc: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut list = Vec::new();
        if grpc {
            let code = grpc_status_for(resp.status);
            list.push((":status".to_string(), "200".to_string()));
            list.push(("content-type".into(), GRPC_CONTENT_TYPE.into()));
            let own: Vec<(String, String)> = resp.headers.iter().filter(|(n, _)| !n.eq_ignore_ascii_case("content-type")).cloned().collect();
            fields(&own, &mut list);
            if code != 0 {
                list.push(("grpc-status".into(), code.to_string()));
                let block = self.server.block(&list);
                header_frames(&block, stream, true, &mut out);
                return out;
            }
            let block = self.server.block(&list);
            header_frames(&block, stream, false, &mut out);
            data_frames(&grpc_message(&resp.body), stream, false, &mut out);
            let trailers = self.server.block(&[("grpc-status".into(), "0".into())]);
            header_frames(&trailers, stream, true, &mut out);
            return out;
        }
        list.push((":status".to_string(), resp.status.to_string()));
        fields(&resp.headers, &mut list);
        let has_body = resp.status_has_body() && !resp.body.is_empty();
        if has_body {
            list.push(("content-length".into(), resp.body.len().to_string()));
        }
        let block = self.server.block(&list);
        header_frames(&block, stream, !has_body, &mut out);
        if has_body {
            data_frames(&resp.body, stream, true, &mut out);
        }
        out
    }

    /// The client's GOAWAY before it closes: no error, the last stream it knows of.
    pub fn goaway(&self) -> Vec<u8> {
        let mut payload = self.last_stream.to_be_bytes().to_vec();
        payload.extend_from_slice(&0u32.to_be_bytes());
        let mut out = Vec::new();
        frame(GOAWAY, 0, 0, &payload, &mut out);
        out
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn integers_follow_the_rfc_examples() {
        // RFC 7541 C.1.1 to C.1.3.
        let mut out = Vec::new();
        integer(0, 5, 10, &mut out);
        assert_eq!(out, [10]);
        out.clear();
        integer(0, 5, 1337, &mut out);
        assert_eq!(out, [31, 154, 10]);
        out.clear();
        integer(0, 8, 42, &mut out);
        assert_eq!(out, [42]);
    }

    #[test]
    fn first_request_matches_rfc_example_c3_1_and_repeats_are_indexed() {
        // RFC 7541 C.3.1 encodes the same fields with the same choices (GET, http, / are
        // static; the authority is added to the dynamic table).
        let mut enc = Encoder::default();
        let list = [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")]
            .map(|(n, v)| (n.to_string(), v.to_string()));
        let block = enc.block(&list);
        let mut want = vec![0x82, 0x86, 0x84, 0x41, 0x0f];
        want.extend_from_slice(b"www.example.com");
        assert_eq!(block, want);
        assert_eq!(enc.size, 57);
        // The second time the authority is the first dynamic entry (index 62).
        assert_eq!(enc.block(&list), vec![0x82, 0x86, 0x84, 0xbe]);
    }

    #[test]
    fn credentials_are_never_indexed_and_the_table_stays_within_its_size() {
        let mut enc = Encoder::default();
        let auth = [("authorization".to_string(), "Bearer x".to_string())];
        let first = enc.block(&auth);
        assert_eq!(first.first().map(|b| b & 0xf0), Some(0x10));
        assert_eq!(enc.block(&auth), first, "never added to the table");
        for i in 0..500 {
            enc.block(&[(format!("x-h{i}"), "v".repeat(40))]);
            assert!(enc.size <= TABLE_SIZE);
        }
    }

    #[test]
    fn large_bodies_are_split_at_the_frame_size() {
        let mut conn = H2Conn::default();
        let req = Request { method: "POST".into(), target: "/p".into(), headers: vec![], body: vec![b'a'; 40_000] };
        let (stream, bytes) = conn.request(&req, "h", false);
        assert_eq!(stream, 1);
        let mut lens = Vec::new();
        let mut rest = bytes.as_slice();
        while rest.len() >= 9 {
            let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
            lens.push((rest[3], len, rest[4]));
            rest = &rest[9 + len..];
        }
        assert!(rest.is_empty());
        let data: Vec<_> = lens.iter().filter(|l| l.0 == DATA).collect();
        assert_eq!(data.iter().map(|l| l.1).sum::<usize>(), 40_000);
        assert!(data.iter().all(|l| l.1 <= MAX_FRAME));
        assert_eq!(data.last().map(|l| l.2 & END_STREAM), Some(END_STREAM));
        assert_eq!(conn.request(&req, "h", false).0, 3);
    }
}
