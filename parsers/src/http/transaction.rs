//! The transaction record the parser emits, and its `Debug` form (which leaves bodies out).

use std::fmt;

use super::{HttpEvent, RetainedHeaders};
use crate::h2::{GrpcFacts, H2Facts};

/// One request/response pair (or half of one), as [`HttpParser`](super::HttpParser) emits it.
///
/// Every string comes from the wire, bounded by [`HttpConfig::max_uri_len`] or
/// [`HttpConfig::max_field_len`]. Bytes that are not valid UTF-8 are written as `\xHH` (the
/// form Zeek's log uses); valid UTF-8, control characters included, is kept as is, so the
/// output layer escapes what its format needs. Credentials never reach this struct unless a
/// deployment asks for them (`retained`, below): `Authorization`, `Proxy-Authorization` and
/// `Cookie` values are dropped (only a known auth scheme name is kept), in `uri` and
/// `referrer` the values of credential parameters (query, fragment, path parameters, after a
/// raw blank or `+`, nested encoded URLs) and userinfo (absolute, scheme-relative and
/// authority-form targets) read `REDACTED` (see
/// [`DEFAULT_REDACTED_PARAMS`](super::DEFAULT_REDACTED_PARAMS)), and userinfo in `Host` is
/// dropped. What stands for a credential is its keyed digest (`credential_digest`) and the name
/// of an API-key header (`api_key_header`), never a part of its value; the one exception is
/// `retained`, which holds the raw values of the headers a deployment lists in
/// [`HttpConfig::retain_headers`](super::HttpConfig::retain_headers) (none by default) and is
/// never serialised or printed.
///
/// **Bodies are personal data.** With [`HttpConfig::max_body_capture`] above 0,
/// `request_body` and `response_body` hold the first decoded bytes of each entity: account
/// numbers, names, addresses, and secrets a client put in a body (a password, a client secret
/// in a token request). They exist so that field names, value types and sensitive-data tags
/// can be derived from them in memory; they must never be written out as they are (logs,
/// records, exports). The `Debug` output of a transaction shows their length only.
///
/// [`HttpConfig::max_uri_len`]: super::HttpConfig::max_uri_len
/// [`HttpConfig::max_field_len`]: super::HttpConfig::max_field_len
/// [`HttpConfig::max_body_capture`]: super::HttpConfig::max_body_capture
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HttpTransaction {
    /// Position of the pair in its connection, from 1.
    pub trans_depth: u32,
    /// Packet time (ns) of the request start, or of the response start when no request came.
    pub ts: u64,
    /// Request method, as sent (case kept). `None` when no request line was parsed.
    pub method: Option<String>,
    /// Request URI, percent-decoded (as Zeek logs it), redacted, bounded. Redaction works on
    /// the raw target, so an encoded separator cannot hide a credential; a target with nothing
    /// to redact reads exactly as Zeek logs it. `Some("")` for a request line without URI.
    pub uri: Option<String>,
    /// Request version, e.g. `"1.1"`; `"0.9"` for a request line without version; `None` when
    /// the version was malformed or there was no request.
    pub version: Option<String>,
    /// `Host` header (port included, as sent), without userinfo: `user:pw@h` is stored as
    /// `h`, with [`HttpEvent::HostUserinfo`].
    pub host: Option<String>,
    /// `User-Agent` header.
    pub user_agent: Option<String>,
    /// `Referer` header, as sent (not percent-decoded, as Zeek), redacted like `uri`; a value
    /// whose credential hid in a nested encoded URL is written decoded there.
    pub referrer: Option<String>,
    /// `Origin` header.
    pub origin: Option<String>,
    /// Request entity bytes: after de-chunking, after gzip/deflate decoding (as Zeek counts).
    pub request_body_len: u64,
    /// The first [`HttpConfig::max_body_capture`] bytes of the request entity, after
    /// de-chunking and gzip/deflate decoding: the bytes `request_body_len` counts, from the
    /// start. Empty when capture is off, for a request without a body, and for a body whose
    /// content coding is not decoded (`br`, `zstd`, several codings, a multipart body with a
    /// coding), which is then `request_body_truncated`. Kept as counted: an unframed body read
    /// line by line (a response without length) has each line ended by CRLF, and a `chunked`
    /// body in an HTTP/1.0 message keeps its chunk framing
    /// ([`HttpEvent::ChunkedInHttp10`]). Personal data: see the type's documentation.
    ///
    /// [`HttpConfig::max_body_capture`]: super::HttpConfig::max_body_capture
    pub request_body: Vec<u8>,
    /// Bytes of the request entity are missing from `request_body`: it was longer than the
    /// limit, decoding stopped (decode limit, corrupt data), a gap fell in it, or the message
    /// was cut short. Always `false` when capture is off.
    pub request_body_truncated: bool,
    /// Response entity bytes, counted like `request_body_len`.
    pub response_body_len: u64,
    /// The first bytes of the final response's entity, kept like `request_body`. Always empty
    /// for 1xx, 204 and 304 responses and responses to HEAD, which have no body. Personal
    /// data: see the type's documentation.
    pub response_body: Vec<u8>,
    /// Bytes of the response entity are missing from `response_body`, as for
    /// `request_body_truncated`.
    pub response_body_truncated: bool,
    /// Request entity bytes before content decoding.
    pub request_body_wire_len: u64,
    /// Response entity bytes before content decoding.
    pub response_body_wire_len: u64,
    /// Final status code (a 1xx when no final response came). `Some(0)` for an HTTP/0.9
    /// response, which has no status line.
    pub status_code: Option<u16>,
    /// Reason phrase; `None` when the status line had none (Zeek prints `<empty>`).
    pub status_msg: Option<String>,
    /// Version of the (last) response, e.g. `"1.1"`, `"0.9"`.
    pub response_version: Option<String>,
    /// Last 1xx status code seen before the final one.
    pub info_code: Option<u16>,
    /// Reason phrase of that 1xx response.
    pub info_msg: Option<String>,
    /// Request `Content-Type`.
    pub request_content_type: Option<String>,
    /// Response `Content-Type`.
    pub response_content_type: Option<String>,
    /// Response `Content-Encoding`.
    pub response_content_encoding: Option<String>,
    /// Packet time the request line was seen.
    pub request_start: Option<u64>,
    /// Packet time the request ended.
    pub request_end: Option<u64>,
    /// Packet time the first status line for this pair was seen.
    pub response_start: Option<u64>,
    /// Packet time the response ended.
    pub response_end: Option<u64>,
    /// Scheme of `Authorization` (or `Proxy-Authorization`) when it is a known one, in its
    /// canonical spelling (`Basic`, `Bearer`, `AWS4-HMAC-SHA256`, ...); `"other"` for any other
    /// value, so no part of a credential is ever stored here.
    pub auth_scheme: Option<String>,
    /// Keyed digest of the request's credential, to count and tell apart consumers: see
    /// [`credential_digest`](super::credential_digest) for the canonical form. Taken from
    /// `Authorization`, else the first [`API_KEY_HEADERS`](super::API_KEY_HEADERS) header with
    /// a value, else `Proxy-Authorization`; `None` when the request had none of them (or only
    /// blank ones). Keyed with [`HttpConfig::credential_key`], so digests from two deployments
    /// (or two keys) cannot be compared.
    ///
    /// [`HttpConfig::credential_key`]: super::HttpConfig::credential_key
    pub credential_digest: Option<u64>,
    /// Lower-case name of the first API-key header present in the request (from
    /// [`API_KEY_HEADERS`](super::API_KEY_HEADERS)), whether or not its value was the one
    /// digested. Never its value.
    pub api_key_header: Option<String>,
    /// Raw values of the request headers named in [`HttpConfig::retain_headers`], in header
    /// order (empty by default). **Secrets**: bearer tokens, keys, passwords and cookies, kept
    /// only so that the consumer can be identified in memory; `Debug` shows names and lengths.
    ///
    /// [`HttpConfig::retain_headers`]: super::HttpConfig::retain_headers
    pub retained: RetainedHeaders,
    /// Client bytes of this pair were missing.
    pub request_gap: bool,
    /// Server bytes of this pair were missing.
    pub response_gap: bool,
    /// Set when parsing stopped because the connection became a tunnel: `"CONNECT"`, or the
    /// `Upgrade` protocol (e.g. `"websocket"`).
    pub tunnel: Option<String>,
    /// Whether anything was redacted in `uri`.
    pub uri_redacted: bool,
    /// Request header names in order (values are not kept), at most
    /// [`HttpConfig::max_header_names`].
    ///
    /// [`HttpConfig::max_header_names`]: super::HttpConfig::max_header_names
    pub request_header_names: Vec<String>,
    /// Response header names, likewise.
    pub response_header_names: Vec<String>,
    /// Anomalies, at most [`HttpConfig::max_events_per_transaction`].
    ///
    /// [`HttpConfig::max_events_per_transaction`]: super::HttpConfig::max_events_per_transaction
    pub events: Vec<HttpEvent>,
    /// HTTP/2 facts (stream id, scheme, reset, push, undecodable fields, trailer names,
    /// HTTP/2 events); `None` for HTTP/1.x. Boxed: most transactions do not carry them.
    pub h2: Option<Box<H2Facts>>,
    /// gRPC facts (service, method, message counts, status) for a gRPC call; `None`
    /// otherwise.
    pub grpc: Option<Box<GrpcFacts>>,
}

/// Prints every field but the body bytes, which are replaced by their length: `Debug` output
/// reaches logs, and bodies are personal data.
impl fmt::Debug for HttpTransaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No `..`: a new field does not compile until it is decided here whether it may be
        // printed.
        let HttpTransaction {
            trans_depth,
            ts,
            method,
            uri,
            version,
            host,
            user_agent,
            referrer,
            origin,
            request_body_len,
            request_body,
            request_body_truncated,
            response_body_len,
            response_body,
            response_body_truncated,
            request_body_wire_len,
            response_body_wire_len,
            status_code,
            status_msg,
            response_version,
            info_code,
            info_msg,
            request_content_type,
            response_content_type,
            response_content_encoding,
            request_start,
            request_end,
            response_start,
            response_end,
            auth_scheme,
            credential_digest,
            api_key_header,
            retained,
            request_gap,
            response_gap,
            tunnel,
            uri_redacted,
            request_header_names,
            response_header_names,
            events,
            h2,
            grpc,
        } = self;
        f.debug_struct("HttpTransaction")
            .field("trans_depth", trans_depth)
            .field("ts", ts)
            .field("method", method)
            .field("uri", uri)
            .field("version", version)
            .field("host", host)
            .field("user_agent", user_agent)
            .field("referrer", referrer)
            .field("origin", origin)
            .field("request_body_len", request_body_len)
            .field("request_body", &BodyLen(request_body.len()))
            .field("request_body_truncated", request_body_truncated)
            .field("response_body_len", response_body_len)
            .field("response_body", &BodyLen(response_body.len()))
            .field("response_body_truncated", response_body_truncated)
            .field("request_body_wire_len", request_body_wire_len)
            .field("response_body_wire_len", response_body_wire_len)
            .field("status_code", status_code)
            .field("status_msg", status_msg)
            .field("response_version", response_version)
            .field("info_code", info_code)
            .field("info_msg", info_msg)
            .field("request_content_type", request_content_type)
            .field("response_content_type", response_content_type)
            .field("response_content_encoding", response_content_encoding)
            .field("request_start", request_start)
            .field("request_end", request_end)
            .field("response_start", response_start)
            .field("response_end", response_end)
            .field("auth_scheme", auth_scheme)
            .field("credential_digest", credential_digest)
            .field("api_key_header", api_key_header)
            .field("retained", retained)
            .field("request_gap", request_gap)
            .field("response_gap", response_gap)
            .field("tunnel", tunnel)
            .field("uri_redacted", uri_redacted)
            .field("request_header_names", request_header_names)
            .field("response_header_names", response_header_names)
            .field("events", events)
            .field("h2", h2)
            .field("grpc", grpc)
            .finish()
    }
}

/// A body in `Debug` output: its length only.
struct BodyLen(usize);

impl fmt::Debug for BodyLen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0)
    }
}

impl HttpTransaction {
    /// The outcome the API answered, as an HTTP status: the status line's code, except for a
    /// gRPC call that failed (its HTTP status is 200 whatever happened), which gets the code
    /// gRPC gateways translate its `grpc-status` to ([`crate::h2::http_status_of_grpc`]). The
    /// inventory's status counts and the detectors read this; records keep both as sent.
    pub fn outcome_status(&self) -> Option<u16> {
        match self.grpc.as_deref().and_then(|g| g.status) {
            Some(code) if code != 0 && self.status_code.is_none_or(|s| (200..300).contains(&s)) => {
                Some(crate::h2::http_status_of_grpc(code))
            }
            _ => self.status_code,
        }
    }

    /// Heap bytes of the captured bodies and retained header values.
    pub(crate) fn body_bytes(&self) -> usize {
        self.request_body.capacity() + self.response_body.capacity() + self.retained.heap_bytes()
    }
}
