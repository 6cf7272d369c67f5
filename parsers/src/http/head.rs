//! Message heads: request line, status line and header fields.
//!
//! The request line is tried with httparse first; whatever httparse rejects (no version,
//! spaces in the URI, odd versions, lower-case `http/`) goes through a lenient parser that
//! follows Zeek's request-line rules, since Zeek's http.log is the reference for what a
//! sloppy request means. Header blocks likewise: httparse first, then a lenient line parser
//! that accepts what real servers accept (space before the colon, odd name bytes, control
//! bytes in values).

/// An HTTP version number; `None` where the version text was not `<digit>.<digit>`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Version {
    pub major: u8,
    pub minor: u8,
}

impl Version {
    pub const V09: Version = Version { major: 0, minor: 9 };
    #[cfg(test)]
    pub const V10: Version = Version { major: 1, minor: 0 };
    pub const V11: Version = Version { major: 1, minor: 1 };

    /// `"1.1"`-style text.
    pub fn text(self) -> String {
        format!("{}.{}", self.major, self.minor)
    }

    /// Above HTTP/1.0: connections are persistent by default.
    pub fn is_persistent(self) -> bool {
        self.major > 1 || (self.major == 1 && self.minor > 0)
    }
}

/// Anomalies noticed while parsing a start line.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct LineNotes {
    pub bad_version: bool,
    pub lowercase_keyword: bool,
    pub crud_after_version: bool,
    pub missing_uri: bool,
    pub missing_code: bool,
}

/// A parsed request line, borrowing from the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RequestLine<'a> {
    pub method: &'a [u8],
    /// The URI exactly as sent (still percent-encoded).
    pub uri: &'a [u8],
    /// `Some(0.9)` when the line had no version, `None` when the version was malformed.
    pub version: Option<Version>,
    pub notes: LineNotes,
}

/// Why a request line was rejected.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum RequestLineError {
    /// Not a request line.
    Bad,
    /// No method token, but the line ends in an `HTTP/x.y` version.
    BadWithVersion,
}

fn is_token_byte(c: u8) -> bool {
    (33..127).contains(&c) && !b"()<>@,;:\\\"/[]?={}".contains(&c)
}

fn is_uri_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b":/?#[]@!$&'()*+,;=-_.~*%".contains(&c)
}

fn is_ws(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

fn skip_ws(line: &[u8], mut i: usize) -> usize {
    while line.get(i).is_some_and(|&c| is_ws(c)) {
        i += 1;
    }
    i
}

/// `Some(case_sensitive_match)` when `HTTP/` (any case) starts at `i`.
fn http_keyword_at(line: &[u8], i: usize) -> Option<bool> {
    let word = line.get(i..i + 5)?;
    if word == b"HTTP/" {
        Some(true)
    } else if word.eq_ignore_ascii_case(b"HTTP/") {
        Some(false)
    } else {
        None
    }
}

fn parse_version_digits(text: &[u8]) -> Option<Version> {
    match text {
        [maj, b'.', min, ..] if maj.is_ascii_digit() && min.is_ascii_digit() => {
            Some(Version { major: maj - b'0', minor: min - b'0' })
        }
        _ => None,
    }
}

/// Parses a request line (without its terminator).
pub(crate) fn parse_request_line(line: &[u8]) -> Result<RequestLine<'_>, RequestLineError> {
    if let Some(fast) = request_line_httparse(line) {
        return Ok(fast);
    }
    request_line_lenient(line)
}

/// The strict path: a well-formed `METHOD SP URI SP HTTP/1.x` line.
fn request_line_httparse(line: &[u8]) -> Option<RequestLine<'_>> {
    let mut headers = [httparse::EMPTY_HEADER; 0];
    let mut req = httparse::Request::new(&mut headers);
    // Without a terminator httparse stops right after the version with `Partial`; any other
    // outcome (error, missing field) leaves the line to the lenient parser.
    match req.parse(line) {
        Ok(httparse::Status::Partial) => {}
        _ => return None,
    }
    let (method, path, minor) = (req.method?, req.path?, req.version?);
    // httparse skips leading empty lines; the lenient parser does not, so only take lines
    // whose bytes line up exactly: "METHOD SP PATH SP HTTP/1.x".
    let expected = method.len() + 1 + path.len() + 1 + 8;
    if expected != line.len() || !line.starts_with(method.as_bytes()) {
        return None;
    }
    let uri = line.get(method.len() + 1..method.len() + 1 + path.len())?;
    // Zeek ends the URI at the first `HTTP/` that follows a byte outside the URI character
    // set, so a target that contains the keyword is left to the lenient rules.
    if uri.windows(5).any(|w| w.eq_ignore_ascii_case(b"HTTP/")) {
        return None;
    }
    let method = line.get(..method.len())?;
    Some(RequestLine {
        method,
        uri,
        version: Some(Version { major: 1, minor }),
        notes: LineNotes::default(),
    })
}

/// The lenient path, following Zeek's `HTTP_RequestLine` and `ParseRequest`.
fn request_line_lenient(line: &[u8]) -> Result<RequestLine<'_>, RequestLineError> {
    let end_of_method = line.iter().position(|&c| !is_token_byte(c)).unwrap_or(line.len());
    if end_of_method == 0 {
        let tail = line.len().checked_sub(9).and_then(|i| line.get(i..i + 6));
        if tail.is_some_and(|t| t.eq_ignore_ascii_case(b" HTTP/")) {
            return Err(RequestLineError::BadWithVersion);
        }
        return Err(RequestLineError::Bad);
    }
    let rest = skip_ws(line, end_of_method);
    if rest == end_of_method {
        return Err(RequestLineError::Bad);
    }
    let mut notes = LineNotes::default();
    let end = line.len();
    let mut end_of_uri = rest;
    while line.get(end_of_uri).is_some_and(|&c| is_uri_byte(c)) {
        end_of_uri += 1;
    }
    if end_of_uri >= end && http_keyword_at(line, rest).is_some() {
        notes.missing_uri = true;
        end_of_uri = rest;
    }
    // The URI runs up to the whitespace before the first `HTTP/`; without one, the request
    // is HTTP/0.9 (Zeek's loop, including its treatment of trailing bytes).
    let mut version_start = end_of_uri;
    let mut found = None;
    while version_start < end {
        end_of_uri = version_start;
        version_start = skip_ws(line, version_start);
        if let Some(exact) = http_keyword_at(line, version_start) {
            found = Some(exact);
            break;
        }
        version_start += 1;
    }
    let version = match found {
        None => Some(Version::V09),
        Some(exact) => {
            notes.lowercase_keyword = !exact;
            if version_start + 8 <= end {
                let digits = line.get(version_start + 5..).unwrap_or_default();
                let v = parse_version_digits(digits);
                notes.bad_version = v.is_none();
                let after = skip_ws(line, version_start + 8);
                notes.crud_after_version = after != end;
                v
            } else {
                notes.bad_version = true;
                None
            }
        }
    };
    let uri = line.get(rest..end_of_uri.max(rest)).unwrap_or_default();
    let method = line.get(..end_of_method).unwrap_or_default();
    if version == Some(Version::V09) && (method.len() < 3 || uri.is_empty()) {
        return Err(RequestLineError::Bad);
    }
    Ok(RequestLine { method, uri, version, notes })
}

/// A parsed status line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StatusLine<'a> {
    pub version: Option<Version>,
    /// 0 when the three characters are not digits (as Zeek).
    pub code: u16,
    pub reason: Option<&'a [u8]>,
    pub notes: LineNotes,
}

/// Parses a status line (Zeek's `HTTP_ReplyLine`): `None` when the line does not start with
/// `HTTP/` or has no status code.
pub(crate) fn parse_status_line(line: &[u8]) -> Option<StatusLine<'_>> {
    let mut notes = LineNotes { lowercase_keyword: !http_keyword_at(line, 0)?, ..LineNotes::default() };
    let version = parse_version_digits(line.get(5..).unwrap_or_default());
    notes.bad_version = version.is_none();
    let end = line.len();
    let mut rest = 5;
    while rest < end && !line.get(rest).is_some_and(|&c| is_ws(c)) {
        rest += 1;
    }
    if rest >= end {
        return None;
    }
    rest = skip_ws(line, rest);
    let digits = line.get(rest..rest + 3)?;
    let code = if digits.iter().all(u8::is_ascii_digit) {
        digits.iter().fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'))
    } else {
        notes.missing_code = true;
        0
    };
    rest += 3;
    while rest < end && !line.get(rest).is_some_and(|&c| is_ws(c)) {
        rest += 1;
    }
    if rest >= end {
        return Some(StatusLine { version, code, reason: None, notes });
    }
    rest = skip_ws(line, rest);
    Some(StatusLine { version, code, reason: line.get(rest..), notes })
}

/// One header field, borrowing from the head buffer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Field<'a> {
    pub name: &'a [u8],
    pub value: &'a [u8],
}

/// Header fields of one head.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Fields<'a> {
    pub list: Vec<Field<'a>>,
    /// Lines without a usable `name:` were skipped.
    pub malformed: bool,
    /// More than the allowed number of fields; the rest were skipped.
    pub too_many: bool,
    /// A kept field had whitespace between its name and the colon.
    pub whitespace_before_colon: bool,
}

/// Fields httparse is asked to parse at most; larger heads use the lenient parser.
const FAST_PATH_FIELDS: usize = 64;

/// Parses a header block: CRLF-terminated `name: value` lines (folded lines already joined),
/// ending with an empty line.
pub(crate) fn parse_fields(block: &[u8], max: usize) -> Fields<'_> {
    let mut headers = [httparse::EMPTY_HEADER; FAST_PATH_FIELDS];
    if let Ok(httparse::Status::Complete((used, parsed))) = httparse::parse_headers(block, &mut headers) {
        if used == block.len() && parsed.len() <= max {
            let list = parsed.iter().map(|h| Field { name: h.name.as_bytes(), value: h.value }).collect();
            return Fields { list, ..Fields::default() };
        }
    }
    fields_lenient(block, max)
}

fn trim_ws(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if is_ws(*first) {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if is_ws(*last) || *last == b'\r' || *last == b'\n' {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Zeek's MIME header rules: a name is any run of visible bytes but ':', optionally followed
/// by blanks, then the colon; the value is the rest with blanks trimmed.
fn fields_lenient(block: &[u8], max: usize) -> Fields<'_> {
    let mut out = Fields::default();
    for raw in block.split(|&b| b == b'\n') {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.is_empty() {
            continue;
        }
        let name_end = line.iter().position(|&c| !(33..127).contains(&c) || c == b':').unwrap_or(line.len());
        let colon = skip_ws(line, name_end);
        if name_end == 0 || line.get(colon) != Some(&b':') {
            out.malformed = true;
            continue;
        }
        if out.list.len() >= max {
            out.too_many = true;
            break;
        }
        out.whitespace_before_colon |= colon != name_end;
        let name = line.get(..name_end).unwrap_or_default();
        let value = trim_ws(line.get(colon + 1..).unwrap_or_default());
        out.list.push(Field { name, value });
    }
    out
}

/// The first token of a header value (Zeek's `get_value_token`): leading blanks skipped, then
/// visible bytes up to a separator.
pub(crate) fn value_token(value: &[u8]) -> &[u8] {
    let start = skip_ws(value, 0);
    let rest = value.get(start..).unwrap_or_default();
    let len = rest
        .iter()
        .position(|&c| !(33..127).contains(&c) || b"()<>@,;:\\\"/[]?=".contains(&c))
        .unwrap_or(rest.len());
    rest.get(..len).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(line: &str) -> Result<(String, String, Option<Version>), RequestLineError> {
        parse_request_line(line.as_bytes()).map(|r| {
            (
                String::from_utf8_lossy(r.method).into_owned(),
                String::from_utf8_lossy(r.uri).into_owned(),
                r.version,
            )
        })
    }

    #[test]
    fn well_formed_request_line() {
        assert_eq!(req("GET /a?b=c HTTP/1.1"), Ok(("GET".into(), "/a?b=c".into(), Some(Version::V11))));
        assert_eq!(req("OPTIONS * HTTP/1.0"), Ok(("OPTIONS".into(), "*".into(), Some(Version::V10))));
    }

    // The cases below are the request lines of Zeek's http-methods trace, with what Zeek's
    // http.log shows for them.
    #[test]
    fn zeek_http_methods_trace_lines() {
        assert_eq!(req("OPTIONS HTTP/1.1"), Ok(("OPTIONS".into(), "".into(), Some(Version::V11))));
        assert_eq!(req("OPTIONSHTTP/1.1"), Err(RequestLineError::Bad));
        assert_eq!(req("OPTIONS"), Err(RequestLineError::Bad));
        assert_eq!(req("GET / HTTP/1."), Ok(("GET".into(), "/".into(), None)));
        assert_eq!(req("GET /HTTP/1.1"), Ok(("GET".into(), "/HTTP/1.1".into(), Some(Version::V09))));
        assert_eq!(req("GET/ HTTP/1.1"), Err(RequestLineError::Bad));
        assert_eq!(req("GET/HTTP/1.1"), Err(RequestLineError::Bad));
        assert_eq!(req("\u{c3}\u{82}\u{c3} / HTTP/1."), Err(RequestLineError::Bad));
        assert_eq!(req("CCM_POST / HTTP/1.1"), Ok(("CCM_POST".into(), "/".into(), Some(Version::V11))));
        assert_eq!(req("CONNECT /HTTP/1.1"), Ok(("CONNECT".into(), "/HTTP/1.1".into(), Some(Version::V09))));
    }

    #[test]
    fn http09_needs_three_letter_method_and_uri() {
        assert_eq!(req("GET /zeek.html"), Ok(("GET".into(), "/zeek.html".into(), Some(Version::V09))));
        assert_eq!(req("T /zeek.html"), Err(RequestLineError::Bad));
        assert_eq!(req("GET "), Err(RequestLineError::Bad));
    }

    #[test]
    fn garbage_before_method_with_version_is_flagged() {
        assert_eq!(req("\x01\x02\x03\x04 GET /txt HTTP/1.1"), Err(RequestLineError::BadWithVersion));
    }

    #[test]
    fn uri_with_spaces_runs_to_the_version() {
        let r = parse_request_line(b"GET /a b/c d HTTP/1.1").unwrap();
        assert_eq!(r.uri, b"/a b/c d");
        assert_eq!(r.version, Some(Version::V11));
    }

    #[test]
    fn keyword_inside_the_target_follows_zeek() {
        let r = parse_request_line(b"GET /a\"HTTP/1.1 HTTP/1.1").unwrap();
        assert_eq!(r.uri, b"/a\"");
        assert!(r.notes.crud_after_version);
        let r = parse_request_line(b"GET /xHTTP/1.1 HTTP/1.1").unwrap();
        assert_eq!(r.uri, b"/xHTTP/1.1");
    }

    #[test]
    fn lowercase_keyword_and_crud_are_noted() {
        let r = parse_request_line(b"GET / http/1.1").unwrap();
        assert!(r.notes.lowercase_keyword);
        assert_eq!(r.version, Some(Version::V11));
        let r = parse_request_line(b"GET / HTTP/1.1 x").unwrap();
        assert!(r.notes.crud_after_version);
    }

    #[test]
    fn status_lines() {
        let s = parse_status_line(b"HTTP/1.1 200 OK").unwrap();
        assert_eq!((s.version, s.code, s.reason), (Some(Version::V11), 200, Some(&b"OK"[..])));
        let s = parse_status_line(b"HTTP/1.0 204").unwrap();
        assert_eq!((s.code, s.reason), (204, None));
        let s = parse_status_line(b"HTTP/1.1 101 Web Socket Protocol Handshake").unwrap();
        assert_eq!(s.reason, Some(&b"Web Socket Protocol Handshake"[..]));
        assert!(parse_status_line(b"<html>").is_none());
        assert!(parse_status_line(b"HTTP/1.1").is_none());
        assert!(parse_status_line(b"HTTP/1.1 2").is_none());
        assert_eq!(parse_status_line(b"HTTP/1.1 abc x").unwrap().code, 0);
    }

    #[test]
    fn fields_fast_and_lenient_agree_on_well_formed_input() {
        let block = b"Host: a.example\r\nContent-Length: 5\r\nX-Empty:\r\n\r\n";
        let fast = parse_fields(block, 10);
        let slow = fields_lenient(block, 10);
        assert_eq!(fast.list, slow.list);
        assert_eq!(fast.list.len(), 3);
        assert_eq!(fast.list[0], Field { name: b"Host", value: b"a.example" });
        assert_eq!(fast.list[2].value, b"");
    }

    #[test]
    fn lenient_fields_accept_space_before_colon_and_skip_junk() {
        let f = parse_fields(b"Host : x\r\njunk line\r\nA: b  \r\n\r\n", 10);
        assert_eq!(f.list, vec![Field { name: b"Host", value: b"x" }, Field { name: b"A", value: b"b" }]);
        assert!(f.malformed);
        assert!(f.whitespace_before_colon);
        assert!(!parse_fields(b"Host: x\r\njunk\r\n\r\n", 10).whitespace_before_colon);
        assert!(parse_fields(b"Transfer-Encoding\t: chunked\r\n\r\n", 10).whitespace_before_colon);
    }

    #[test]
    fn field_count_is_bounded() {
        let f = parse_fields(b"A: 1\r\nB: 2\r\nC: 3\r\n\r\n", 2);
        assert_eq!(f.list.len(), 2);
        assert!(f.too_many);
    }

    // The httparse fast path must never change a result: on every line and block it accepts,
    // the lenient (Zeek) rules give the same answer.
    #[test]
    fn httparse_and_lenient_paths_agree_on_well_formed_heads() {
        let mut state: u64 = 0x1234_5678_9abc_def1;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let tchar = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let vchar: Vec<u8> = (b'!'..=b'~').collect();
        let mut fast_hits = 0;
        for _ in 0..5000 {
            let method: Vec<u8> = (0..1 + next(8)).map(|_| tchar[next(tchar.len())]).collect();
            let uri: Vec<u8> = (0..1 + next(20)).map(|_| vchar[next(vchar.len())]).collect();
            let mut line = method.clone();
            line.push(b' ');
            line.extend_from_slice(&uri);
            line.extend_from_slice(if next(2) == 0 { b" HTTP/1.1" } else { b" HTTP/1.0" });
            if let Some(fast) = request_line_httparse(&line) {
                fast_hits += 1;
                assert_eq!(Ok(fast), request_line_lenient(&line), "{}", String::from_utf8_lossy(&line));
            }
        }
        assert!(fast_hits > 4000, "httparse took only {fast_hits} lines");

        let mut block_hits = 0;
        for _ in 0..2000 {
            let mut block = Vec::new();
            for _ in 0..next(6) {
                let name: Vec<u8> = (0..1 + next(10)).map(|_| tchar[next(tchar.len())]).collect();
                block.extend_from_slice(&name);
                block.extend_from_slice(if next(2) == 0 { b": " } else { b":" });
                let value: Vec<u8> = (0..next(16)).map(|_| if next(5) == 0 { b' ' } else { vchar[next(vchar.len())] }).collect();
                block.extend_from_slice(&value);
                block.extend_from_slice(b"\r\n");
            }
            block.extend_from_slice(b"\r\n");
            let mut headers = [httparse::EMPTY_HEADER; FAST_PATH_FIELDS];
            if matches!(httparse::parse_headers(&block, &mut headers), Ok(httparse::Status::Complete(_))) {
                block_hits += 1;
            }
            assert_eq!(parse_fields(&block, 64).list, fields_lenient(&block, 64).list, "{}", String::from_utf8_lossy(&block));
        }
        assert!(block_hits > 1900, "httparse took only {block_hits} blocks");
    }

    #[test]
    fn value_token_stops_at_separators() {
        assert_eq!(value_token(b" chunked, gzip"), b"chunked");
        assert_eq!(value_token(b"-1"), b"-1");
        assert_eq!(value_token(b"multipart/form-data; boundary=x"), b"multipart");
    }
}
