//! Recognising HTTP by content, whatever the port.

/// Verdict on the first bytes of a direction.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Detection {
    /// Looks like HTTP/1.x (or 0.9).
    Http,
    /// Does not look like HTTP; do not attach the parser.
    NotHttp,
    /// Too few bytes to tell; ask again with more.
    NeedMore,
}

/// Bytes of a first line examined at most; a longer line is judged on this prefix.
const MAX_DETECT_LINE: usize = 8192;
/// Longest method accepted.
const MAX_METHOD: usize = 32;

const COMMON_METHODS: &[&[u8]] =
    &[b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"TRACE", b"CONNECT", b"QUERY"];

fn is_method_byte(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'-' || c == b'_'
}

/// Whether `line` ends in ` HTTP/d.d` (any case).
fn ends_with_version(line: &[u8]) -> bool {
    let Some(tail) = line.len().checked_sub(9).and_then(|i| line.get(i..)) else { return false };
    match tail {
        [b' ' | b'\t', h, t1, t2, p, b'/', maj, b'.', min] => {
            [*h, *t1, *t2, *p].eq_ignore_ascii_case(b"HTTP") && maj.is_ascii_digit() && min.is_ascii_digit()
        }
        _ => false,
    }
}

/// Judges the first client bytes of a connection: a request line (`METHOD SP target`, where
/// the method is common, or the target is `/...`, `*` or an absolute `http(s)://` URI, or the
/// line ends in an `HTTP/x.y` version), or any line ending in an HTTP version. Leading blank
/// lines are skipped. Never panics, whatever the input.
pub fn detect_request(data: &[u8]) -> Detection {
    let start = data.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(data.len());
    let rest = data.get(start..).unwrap_or_default();
    if rest.is_empty() {
        return Detection::NeedMore;
    }
    let line_end = rest.iter().position(|&c| c == b'\r' || c == b'\n');
    let complete = line_end.is_some() || rest.len() >= MAX_DETECT_LINE;
    let line = rest.get(..line_end.unwrap_or(rest.len()).min(MAX_DETECT_LINE)).unwrap_or_default();

    let method_len = line.iter().position(|&c| !is_method_byte(c)).unwrap_or(line.len());
    let method = line.get(..method_len).unwrap_or_default();
    let after = line.get(method_len).copied();
    let method_ok = (1..=MAX_METHOD).contains(&method_len) && matches!(after, Some(b' ' | b'\t'));
    if method_ok {
        let target = line.get(method_len + 1..).unwrap_or_default();
        let has_target = target.iter().any(|c| !c.is_ascii_whitespace());
        if !has_target {
            return if complete { Detection::NotHttp } else { Detection::NeedMore };
        }
        if method == b"PRI" && target.starts_with(b"* HTTP/2") {
            // The HTTP/2 connection preface: not HTTP/1.x.
            return Detection::NotHttp;
        }
        // An unknown method still makes a request line when the target has the shape of an
        // HTTP request target (origin form, `*`, absolute URI) or a version follows.
        let target = target.trim_ascii_start();
        let http_target = target.starts_with(b"/")
            || target.starts_with(b"*")
            || target.get(..7).is_some_and(|t| t.eq_ignore_ascii_case(b"http://"))
            || target.get(..8).is_some_and(|t| t.eq_ignore_ascii_case(b"https://"));
        if COMMON_METHODS.contains(&method) || http_target || ends_with_version(line) {
            return Detection::Http;
        }
        return if complete { Detection::NotHttp } else { Detection::NeedMore };
    }
    if complete {
        return if ends_with_version(line) { Detection::Http } else { Detection::NotHttp };
    }
    // An unfinished first line: still a possible method, or garbage that might end in a version.
    if after.is_none() && method_len <= MAX_METHOD {
        return Detection::NeedMore;
    }
    if line.iter().all(|c| c.is_ascii_graphic() || *c == b' ' || *c == b'\t') {
        Detection::NeedMore
    } else {
        Detection::NotHttp
    }
}

/// Judges the first server bytes of a connection: a status line starting `HTTP/<digit>`.
/// Never panics, whatever the input.
pub fn detect_response(data: &[u8]) -> Detection {
    let want = b"HTTP/";
    let n = data.len().min(want.len());
    let (Some(head), Some(prefix)) = (data.get(..n), want.get(..n)) else { return Detection::NotHttp };
    if !head.eq_ignore_ascii_case(prefix) {
        return Detection::NotHttp;
    }
    match data.get(5) {
        None => Detection::NeedMore,
        Some(d) if d.is_ascii_digit() => Detection::Http,
        Some(_) => Detection::NotHttp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        assert_eq!(detect_request(b"GET / HTTP/1.1\r\n"), Detection::Http);
        assert_eq!(detect_request(b"QUERY /users HTTP/1.1\r\n"), Detection::Http);
        assert_eq!(detect_request(b"get /x HTTP/1.0\n"), Detection::Http);
        assert_eq!(detect_request(b"\r\nPOST /x HTTP/1.1\r\n"), Detection::Http);
        assert_eq!(detect_request(b"GET /zeek.html\n"), Detection::Http);
        // Unknown methods with an HTTP-shaped target (Zeek's http-methods trace).
        assert_eq!(detect_request(b"CCM_POST / HTTP/1.\n"), Detection::Http);
        assert_eq!(detect_request(b"CCM_POST /HTTP/1.1\n"), Detection::Http);
        assert_eq!(detect_request(b"FOO /zeek.html\n"), Detection::Http);
        assert_eq!(detect_request(b"FOO bar\n"), Detection::NotHttp);
        assert_eq!(detect_request(b"EHLO mail.example.com\r\n"), Detection::NotHttp);
        assert_eq!(detect_request(b"\x01\x02 GET /txt HTTP/1.1\r\n"), Detection::Http);
    }

    #[test]
    fn partial_requests_need_more() {
        assert_eq!(detect_request(b""), Detection::NeedMore);
        assert_eq!(detect_request(b"GE"), Detection::NeedMore);
        assert_eq!(detect_request(b"GET "), Detection::NeedMore);
        assert_eq!(detect_request(b"GET /abc"), Detection::Http);
        assert_eq!(detect_request(b"CUSTOM /abc HTT"), Detection::Http);
        assert_eq!(detect_request(b"CUSTOM abc HTT"), Detection::NeedMore);
    }

    #[test]
    fn non_http_client_bytes() {
        assert_eq!(detect_request(b"SSH-2.0-OpenSSH_8.9\r\n"), Detection::NotHttp);
        assert_eq!(detect_request(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]), Detection::NotHttp);
        assert_eq!(detect_request(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Detection::NotHttp);
    }

    #[test]
    fn responses() {
        assert_eq!(detect_response(b"HTTP/1.1 200 OK\r\n"), Detection::Http);
        assert_eq!(detect_response(b"HTT"), Detection::NeedMore);
        assert_eq!(detect_response(b"HTTP/"), Detection::NeedMore);
        assert_eq!(detect_response(b"SSH-2.0"), Detection::NotHttp);
        assert_eq!(detect_response(b"<html>"), Detection::NotHttp);
    }
}
