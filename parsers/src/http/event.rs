//! Protocol anomalies, reported as typed events on the transaction they affect.

use super::Direction;

/// Something unusual the parser saw. Events are facts about the traffic, not parser errors:
/// parsing carries on after each of them. Variants that can occur on either side name the
/// direction. [`HttpEvent::name`] gives a stable snake_case name for output.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpEvent {
    /// A request line that could not be parsed; the client side is no longer parsed (the
    /// server side still is).
    BadRequestLine,
    /// A request line with no parsable method but an `HTTP/` version at its end.
    BadRequestLineWithVersion,
    /// Where a status line was expected the server sent something else; the server side is no
    /// longer parsed.
    BadStatusLine,
    /// A request line without a version: parsed as HTTP/0.9, the response is raw data.
    MissingVersion,
    /// A version that is not `HTTP/<digit>.<digit>`.
    BadVersion {
        /// Side of the message.
        dir: Direction,
    },
    /// `http/` written in lower case.
    LowercaseHttpKeyword {
        /// Side of the message.
        dir: Direction,
    },
    /// Bytes after the version on the request line (ignored).
    CrudAfterVersion,
    /// A request line with the version where the URI should be.
    MissingUri,
    /// A status line without a three-digit code.
    MissingStatusCode,
    /// A method outside the registered set (GET, POST, ..., WebDAV methods).
    NonStandardMethod,
    /// Lines ended by a bare LF.
    BareLf {
        /// Side of the message.
        dir: Direction,
    },
    /// Lines ended by a bare CR.
    BareCr {
        /// Side of the message.
        dir: Direction,
    },
    /// A header continued on the next line (obsolete line folding).
    ObsFold {
        /// Side of the message.
        dir: Direction,
    },
    /// A header line without a colon (ignored).
    MalformedHeader {
        /// Side of the message.
        dir: Direction,
    },
    /// Whitespace between a field name and its colon (`Transfer-Encoding : chunked`), which
    /// RFC 9112 section 5.1 says a server must reject: servers disagree on such a field, so it
    /// can smuggle a request. The field is used as Zeek uses it (as if the whitespace were not
    /// there), so body lengths stay comparable; reported once per message.
    WhitespaceBeforeColon {
        /// Side of the message.
        dir: Direction,
    },
    /// Both Content-Length and `Transfer-Encoding: chunked`; chunked framing wins.
    ContentLengthAndChunked {
        /// Side of the message.
        dir: Direction,
    },
    /// More than one Content-Length field line; the last one is used. A smuggling indicator
    /// even when the values are equal, like the same values written as one list
    /// ([`HttpEvent::ContentLengthList`]).
    DuplicateContentLength {
        /// Side of the message.
        dir: Direction,
        /// Whether the values differ.
        conflicting: bool,
    },
    /// A Content-Length that is not a plain decimal number: negative, not a number, too large
    /// (all treated as 0), or with bytes after its digits (framed by the digits, as Zeek does).
    InvalidContentLength {
        /// Side of the message.
        dir: Direction,
    },
    /// A Content-Length written as a list (`2, 2`), as a proxy that folds repeated fields
    /// writes it. Framing uses the first value, which is the value RFC 9110 section 8.6 allows
    /// when all are equal.
    ContentLengthList {
        /// Side of the message.
        dir: Direction,
        /// Whether the values differ (or one is not a number).
        conflicting: bool,
    },
    /// A Content-Length with leading zeros.
    ContentLengthLeadingZeros {
        /// Side of the message.
        dir: Direction,
    },
    /// A Transfer-Encoding with more than chunked, or chunked not last (e.g. `chunked, chunked`
    /// or `gzip`), or more than one Transfer-Encoding field line. Reported once per message.
    UnusualTransferEncoding {
        /// Side of the message.
        dir: Direction,
    },
    /// `Transfer-Encoding: chunked` in an HTTP/1.0 message: not de-chunked (as Zeek).
    ChunkedInHttp10 {
        /// Side of the message.
        dir: Direction,
    },
    /// A chunk-size line that is not a hexadecimal number or overflows; taken as the last chunk.
    BadChunkSize {
        /// Side of the message.
        dir: Direction,
    },
    /// Bytes between chunk data and its CRLF (the chunk size was wrong).
    ChunkSizeMismatch {
        /// Side of the message.
        dir: Direction,
    },
    /// A request that says `Expect: 100-continue` with `Content-Length: 0`.
    ExpectWithEmptyBody,
    /// A Content-Range that cannot be parsed or does not match Content-Length.
    BadContentRange,
    /// The head was larger than `max_header_bytes`; later header lines were skipped.
    HeaderLimit {
        /// Side of the message.
        dir: Direction,
        /// The limit that was hit.
        limit: usize,
    },
    /// The head had more than `max_header_names` field names; later names were not kept in
    /// the transaction (the fields themselves were still parsed).
    HeaderNameLimit {
        /// Side of the message.
        dir: Direction,
        /// The limit that was hit.
        limit: usize,
    },
    /// The head had more than `max_headers` fields; later fields were skipped.
    TooManyHeaders {
        /// Side of the message.
        dir: Direction,
        /// The limit that was hit.
        limit: usize,
    },
    /// The URI was cut to `max_uri_len` bytes.
    UriTruncated {
        /// The limit that was hit.
        limit: usize,
    },
    /// More than `max_pending_requests` requests waited for responses; the pending ones were
    /// emitted unanswered.
    TooManyPendingRequests {
        /// The limit that was hit.
        limit: usize,
    },
    /// Body decoding stopped at `max_decoded_body` or `max_decode_ratio`; the body length
    /// counts the bytes decoded until then.
    DecodeLimit {
        /// Side of the message.
        dir: Direction,
    },
    /// The body was longer than `max_body_capture`: the transaction keeps its first bytes,
    /// marked truncated. Reported once per body.
    BodyCaptureLimit {
        /// Side of the message.
        dir: Direction,
        /// The limit that was hit.
        limit: usize,
    },
    /// A request header listed in `retain_headers` had a value over `max_retained_header_bytes`,
    /// or one that would take the request past `max_retained_bytes_total`: the value was not
    /// retained (it is dropped whole, never cut). Says nothing about the value but its length.
    /// A fact about the sensor's limits rather than the traffic, like `BodyCaptureLimit`.
    RetainLimit {
        /// Position of the header's name in `retain_headers`.
        index: usize,
        /// Length of the value that was dropped.
        len: usize,
    },
    /// The compressed body was corrupt; the body length counts the bytes decoded until then.
    DecodeError {
        /// Side of the message.
        dir: Direction,
    },
    /// Bytes were missing from the stream.
    Gap {
        /// Side of the gap.
        dir: Direction,
        /// Missing bytes.
        len: u64,
        /// Whether the gap fell inside a body whose framing survives it.
        in_body: bool,
    },
    /// Parsing found a message start again after a gap.
    Resync {
        /// Side of the stream.
        dir: Direction,
        /// Bytes discarded before the message start.
        skipped: u64,
    },
    /// A response arrived with no request waiting for it.
    ResponseWithoutRequest,
    /// The final response ended before its request did: the server answered without reading
    /// the whole body (an early error or redirect, `Expect: 100-continue` refused or answered
    /// at once). The transaction waits for the end of the request, so it carries both.
    EarlyResponse,
    /// A transaction held for the end of its request (after [`HttpEvent::EarlyResponse`]) had
    /// `max_ready_transactions` transactions finished behind it, so it was emitted without that
    /// end; the rest of the request then makes a transaction of its own, as in Zeek.
    HeldTransactionLimit {
        /// The limit that was hit.
        limit: usize,
    },
    /// The `Host` header carried userinfo (`user:password@host`), which RFC 9110 forbids; the
    /// transaction's `host` holds the host alone.
    HostUserinfo,
    /// A response started before the previous one on that side was complete.
    OverlappingResponse,
    /// A message was cut short by the end of the connection or a gap.
    Interrupted {
        /// Side of the message.
        dir: Direction,
    },
}

impl HttpEvent {
    /// Stable snake_case name of the event kind.
    pub fn name(&self) -> &'static str {
        match self {
            HttpEvent::BadRequestLine => "bad_request_line",
            HttpEvent::BadRequestLineWithVersion => "bad_request_line_with_version",
            HttpEvent::BadStatusLine => "bad_status_line",
            HttpEvent::MissingVersion => "missing_version",
            HttpEvent::BadVersion { .. } => "bad_version",
            HttpEvent::LowercaseHttpKeyword { .. } => "lowercase_http_keyword",
            HttpEvent::CrudAfterVersion => "crud_after_version",
            HttpEvent::MissingUri => "missing_uri",
            HttpEvent::MissingStatusCode => "missing_status_code",
            HttpEvent::NonStandardMethod => "non_standard_method",
            HttpEvent::BareLf { .. } => "bare_lf",
            HttpEvent::BareCr { .. } => "bare_cr",
            HttpEvent::ObsFold { .. } => "obs_fold",
            HttpEvent::MalformedHeader { .. } => "malformed_header",
            HttpEvent::WhitespaceBeforeColon { .. } => "whitespace_before_colon",
            HttpEvent::ContentLengthAndChunked { .. } => "content_length_and_chunked",
            HttpEvent::DuplicateContentLength { .. } => "duplicate_content_length",
            HttpEvent::InvalidContentLength { .. } => "invalid_content_length",
            HttpEvent::ContentLengthList { .. } => "content_length_list",
            HttpEvent::ContentLengthLeadingZeros { .. } => "content_length_leading_zeros",
            HttpEvent::UnusualTransferEncoding { .. } => "unusual_transfer_encoding",
            HttpEvent::ChunkedInHttp10 { .. } => "chunked_in_http10",
            HttpEvent::BadChunkSize { .. } => "bad_chunk_size",
            HttpEvent::ChunkSizeMismatch { .. } => "chunk_size_mismatch",
            HttpEvent::ExpectWithEmptyBody => "expect_with_empty_body",
            HttpEvent::BadContentRange => "bad_content_range",
            HttpEvent::HeaderLimit { .. } => "header_limit",
            HttpEvent::HeaderNameLimit { .. } => "header_name_limit",
            HttpEvent::TooManyHeaders { .. } => "too_many_headers",
            HttpEvent::UriTruncated { .. } => "uri_truncated",
            HttpEvent::TooManyPendingRequests { .. } => "too_many_pending_requests",
            HttpEvent::DecodeLimit { .. } => "decode_limit",
            HttpEvent::BodyCaptureLimit { .. } => "body_capture_limit",
            HttpEvent::RetainLimit { .. } => "retain_limit",
            HttpEvent::DecodeError { .. } => "decode_error",
            HttpEvent::Gap { .. } => "gap",
            HttpEvent::Resync { .. } => "resync",
            HttpEvent::ResponseWithoutRequest => "response_without_request",
            HttpEvent::EarlyResponse => "early_response",
            HttpEvent::HeldTransactionLimit { .. } => "held_transaction_limit",
            HttpEvent::HostUserinfo => "host_userinfo",
            HttpEvent::OverlappingResponse => "overlapping_response",
            HttpEvent::Interrupted { .. } => "interrupted",
        }
    }

    /// Whether the event is one of the classic request-smuggling indicators.
    pub fn is_smuggling_indicator(&self) -> bool {
        matches!(
            self,
            HttpEvent::ContentLengthAndChunked { .. }
                | HttpEvent::DuplicateContentLength { .. }
                | HttpEvent::InvalidContentLength { .. }
                | HttpEvent::ContentLengthList { .. }
                | HttpEvent::WhitespaceBeforeColon { .. }
                | HttpEvent::ContentLengthLeadingZeros { .. }
                | HttpEvent::UnusualTransferEncoding { .. }
                | HttpEvent::BadChunkSize { .. }
                | HttpEvent::ExpectWithEmptyBody
                | HttpEvent::ObsFold { .. }
        )
    }
}
