//! HTTP/1.1 messages rendered to the bytes a client or a server puts on the wire.
//!
//! The renderer owns the framing: it writes `Host`, `Content-Length` and `Transfer-Encoding`
//! itself and drops caller headers of those names, so a message always frames exactly its body.
//! `Date` is never written: the simulator's times are scenario times, and a wall-clock date
//! would make two runs with the same seed differ.

/// A request to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Method, e.g. `GET` (written as given).
    pub method: String,
    /// Request target (origin form, e.g. `/open-banking/v4.0/aisp/accounts?x=1`), already
    /// percent-encoded.
    pub target: String,
    /// Headers after `Host`, in order. `Host`, `Content-Length` and `Transfer-Encoding` are
    /// ignored (the renderer writes the framing).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// A response to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Reason phrase (use [`reason_phrase`] for the standard one).
    pub reason: String,
    /// Headers, in order. `Content-Length`, `Transfer-Encoding` and `Date` are ignored.
    pub headers: Vec<(String, String)>,
    /// Body bytes; ignored for statuses that have no body (1xx, 204, 304).
    pub body: Vec<u8>,
    /// Send the body with `Transfer-Encoding: chunked` instead of `Content-Length`.
    pub chunked: bool,
}

/// Header names the renderer writes itself (compared case-insensitively).
const FRAMING: &[&str] = &["host", "content-length", "transfer-encoding", "date"];

/// Chunk sizes used in turn for chunked bodies: varied like a server flushing its buffers, so
/// the parser sees chunk boundaries fall anywhere relative to TCP segments.
pub const CHUNK_SIZES: &[usize] = &[8192, 1377, 4096, 517, 16384, 2900, 64];

/// Methods that carry a body by convention: they get `Content-Length: 0` when the body is
/// empty, as real clients send.
const BODY_METHODS: &[&str] = &["POST", "PUT", "PATCH"];

impl Request {
    /// The request bytes: request line, `Host: host` first, the caller's headers, then
    /// `Content-Length` when there is a body (or the method is POST, PUT or PATCH), the blank
    /// line and the body.
    pub fn to_bytes(&self, host: &str) -> Vec<u8> {
        let mut head = format!("{} {} HTTP/1.1\r\nHost: {}\r\n", clean(&self.method), clean(&self.target), clean(host));
        push_headers(&mut head, &self.headers);
        if !self.body.is_empty() || BODY_METHODS.iter().any(|m| m.eq_ignore_ascii_case(&self.method)) {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

impl Response {
    /// Whether this status may carry a body at all (RFC 9112 section 6.3).
    pub fn status_has_body(&self) -> bool {
        !(self.status < 200 || self.status == 204 || self.status == 304)
    }

    /// The response bytes: status line, the caller's headers, `Content-Length` or
    /// `Transfer-Encoding: chunked` (chunks sized from [`CHUNK_SIZES`] in turn, then the final
    /// `0` chunk), the blank line and the body. Statuses without a body get neither header and
    /// no body. Not for responses to HEAD (they would need the length without the body).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut head = format!("HTTP/1.1 {:03} {}\r\n", self.status, clean(&self.reason));
        push_headers(&mut head, &self.headers);
        let has_body = self.status_has_body();
        if has_body {
            if self.chunked {
                head.push_str("Transfer-Encoding: chunked\r\n");
            } else {
                head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
            }
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        if !has_body {
            return out;
        }
        if !self.chunked {
            out.extend_from_slice(&self.body);
            return out;
        }
        let mut rest = self.body.as_slice();
        for size in CHUNK_SIZES.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at((*size).min(rest.len()));
            out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
            rest = tail;
        }
        out.extend_from_slice(b"0\r\n\r\n");
        out
    }
}

fn push_headers(head: &mut String, headers: &[(String, String)]) {
    for (name, value) in headers {
        if FRAMING.iter().any(|f| f.eq_ignore_ascii_case(name.trim())) {
            continue;
        }
        head.push_str(&clean(name));
        head.push_str(": ");
        head.push_str(&clean(value));
        head.push_str("\r\n");
    }
}

/// Drops CR and LF so no value can end a line early and change the framing.
fn clean(s: &str) -> String {
    s.chars().filter(|c| *c != '\r' && *c != '\n').collect()
}

/// The standard reason phrase (RFC 9110) of a status code; `""` for codes it does not know.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    fn hdrs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn request_puts_host_first_and_frames_the_body() {
        let req = Request {
            method: "POST".into(),
            target: "/open-banking/v3.1/pisp/domestic-payments".into(),
            headers: hdrs(&[("Content-Type", "application/json"), ("host", "evil"), ("Content-Length", "999")]),
            body: b"{\"a\":1}".to_vec(),
        };
        let text = String::from_utf8(req.to_bytes("api.bank.example")).unwrap();
        assert_eq!(
            text,
            "POST /open-banking/v3.1/pisp/domestic-payments HTTP/1.1\r\nHost: api.bank.example\r\n\
             Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}"
        );
    }

    #[test]
    fn get_without_body_has_no_content_length_but_empty_post_has_zero() {
        let mut req = Request { method: "GET".into(), target: "/a".into(), headers: vec![], body: vec![] };
        assert_eq!(req.to_bytes("h"), b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
        req.method = "POST".into();
        assert_eq!(req.to_bytes("h"), b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
    }

    #[test]
    fn header_values_cannot_inject_lines() {
        let req = Request { method: "GET".into(), target: "/".into(), headers: hdrs(&[("X-A", "1\r\nX-B: 2")]), body: vec![] };
        assert_eq!(req.to_bytes("h"), b"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1X-B: 2\r\n\r\n");
    }

    #[test]
    fn content_length_response() {
        let resp = Response {
            status: 201,
            reason: reason_phrase(201).into(),
            headers: hdrs(&[("Date", "x"), ("x-fapi-interaction-id", "abc")]),
            body: b"{}".to_vec(),
            chunked: false,
        };
        assert_eq!(resp.to_bytes(), b"HTTP/1.1 201 Created\r\nx-fapi-interaction-id: abc\r\nContent-Length: 2\r\n\r\n{}");
    }

    /// Decodes a chunked body independently of the renderer: returns the body and the sizes.
    fn dechunk(mut s: &[u8]) -> (Vec<u8>, Vec<usize>) {
        let mut body = Vec::new();
        let mut sizes = Vec::new();
        loop {
            let line_end = s.windows(2).position(|w| w == b"\r\n").unwrap();
            let size = usize::from_str_radix(std::str::from_utf8(&s[..line_end]).unwrap(), 16).unwrap();
            s = &s[line_end + 2..];
            sizes.push(size);
            if size == 0 {
                assert_eq!(s, b"\r\n", "nothing after the last chunk but the final CRLF");
                return (body, sizes);
            }
            body.extend_from_slice(&s[..size]);
            assert_eq!(&s[size..size + 2], b"\r\n");
            s = &s[size + 2..];
        }
    }

    #[test]
    fn chunked_response_round_trips_with_varied_chunk_sizes() {
        let body: Vec<u8> = (0..40_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let resp = Response { status: 200, reason: "OK".into(), headers: vec![], body: body.clone(), chunked: true };
        let bytes = resp.to_bytes();
        let head_end = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!(&bytes[..head_end], b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        let (decoded, sizes) = dechunk(&bytes[head_end..]);
        assert_eq!(decoded, body);
        assert!(sizes.len() > 3, "{sizes:?}");
        let distinct: std::collections::BTreeSet<_> = sizes.iter().collect();
        assert!(distinct.len() >= 4, "sizes vary: {sizes:?}");
    }

    #[test]
    fn empty_chunked_body_is_only_the_last_chunk() {
        let resp = Response { status: 200, reason: "OK".into(), headers: vec![], body: vec![], chunked: true };
        assert_eq!(resp.to_bytes(), b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    }

    #[test]
    fn bodiless_statuses_have_no_body_or_length() {
        for status in [100, 204, 304] {
            let resp = Response { status, reason: reason_phrase(status).into(), headers: vec![], body: b"zz".to_vec(), chunked: false };
            let text = String::from_utf8(resp.to_bytes()).unwrap();
            assert_eq!(text, format!("HTTP/1.1 {status} {}\r\n\r\n", reason_phrase(status)));
        }
    }

    #[test]
    fn reason_phrases() {
        assert_eq!(reason_phrase(200), "OK");
        assert_eq!(reason_phrase(429), "Too Many Requests");
        assert_eq!(reason_phrase(404), "Not Found");
        assert_eq!(reason_phrase(799), "");
    }
}
