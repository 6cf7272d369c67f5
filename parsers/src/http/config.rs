//! Limits and counters of the HTTP parser.

use std::fmt;

/// Every limit the HTTP parser enforces on what the network can make it hold, with the
/// credential-parameter list used for URI redaction, how much of each body is kept, and the
/// key of the credential digest.
///
/// Hitting a limit never panics and never grows memory: the parser bumps a counter in
/// [`HttpStats`](super::HttpStats), attaches an [`HttpEvent`](super::HttpEvent) to the affected
/// transaction and carries on with a degraded view (truncated value, skipped header, counted but
/// undecoded body, body prefix).
///
/// The `Debug` output does not show [`credential_key`](Self::credential_key).
#[derive(Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Bytes of one message head (start line plus header lines, CRLF-normalised) kept for
    /// parsing; also the longest line held while waiting for its end. Header lines past the limit
    /// are skipped until the blank line that ends the head. Default 64 KiB.
    pub max_header_bytes: usize,
    /// Header fields kept per head (trailers included); later fields are skipped. Default 256.
    pub max_headers: usize,
    /// Requests awaiting a response per connection. When a new request would exceed it, every
    /// pending transaction is emitted as is (as Zeek does with `max_pending_requests`).
    /// Default 64.
    pub max_pending_requests: usize,
    /// Bytes of the (unescaped, redacted) request URI stored in a transaction; longer URIs are
    /// cut on a character boundary. Default 8 KiB.
    pub max_uri_len: usize,
    /// Bytes stored of any other string taken from the wire (host, user agent, referrer,
    /// content types, status text, method). Default 1 KiB.
    pub max_field_len: usize,
    /// Decompressed bytes produced per body before decoding stops (gzip/deflate bomb guard).
    /// Default 16 MiB.
    pub max_decoded_body: u64,
    /// Largest accepted ratio of decompressed to compressed bytes. Checked once a body has
    /// produced more than [`DECODE_RATIO_FLOOR`] bytes, so small, highly compressible bodies are
    /// not flagged. Default 100.
    pub max_decode_ratio: u64,
    /// Events kept per transaction; later ones are counted in `events_dropped` only.
    /// Default 32.
    pub max_events_per_transaction: usize,
    /// Finished transactions held until [`poll_transaction`](super::HttpParser::poll_transaction)
    /// takes them; past it the oldest is dropped and counted. Poll after every `handle_*`
    /// call and this is never reached. Also bounds a transaction that waits for the end of its
    /// request after an early response together with those that finish behind it: at the
    /// bound, the waiting one is emitted without that end (`held_limit_hits`). Default 1024.
    pub max_ready_transactions: usize,
    /// Header names kept per message in the transaction (names only, never values); past it
    /// names are dropped, `header_name_limit_hits` counts the message and it gets
    /// [`HttpEvent::HeaderNameLimit`](super::HttpEvent::HeaderNameLimit). Default 64.
    pub max_header_names: usize,
    /// Extra parameter names whose values are replaced by `REDACTED`, on top of
    /// [`DEFAULT_REDACTED_PARAMS`] and compared the same way.
    pub redact_query_params: Vec<String>,
    /// Bytes of each request and response entity kept in the transaction
    /// ([`HttpTransaction::request_body`](super::HttpTransaction::request_body),
    /// [`response_body`](super::HttpTransaction::response_body)), after de-chunking and
    /// gzip/deflate decoding. A longer body is cut there and marked truncated, with
    /// [`HttpEvent::BodyCaptureLimit`](super::HttpEvent::BodyCaptureLimit) and
    /// `body_capture_limit_hits`. Default 0: nothing is kept.
    ///
    /// Memory: up to this much per direction for a message in progress, and per body of every
    /// transaction not yet polled (pipelined requests waiting for responses count each), all
    /// included in [`HttpParser::buffered_bytes`](super::HttpParser::buffered_bytes). The kept
    /// bytes are personal data; see [`HttpTransaction`](super::HttpTransaction).
    pub max_body_capture: usize,
    /// Key of the SipHash-1-3 credential digest
    /// ([`HttpTransaction::credential_digest`](super::HttpTransaction::credential_digest)).
    /// Default all zero, which anyone can reproduce: a deployment sets a secret key of its
    /// own, or the digest of a guessable credential (a short API key, a Basic password) can be
    /// found by trying candidates. Digests made with different keys cannot be compared.
    pub credential_key: [u8; 16],
    /// Request header names whose raw values are kept in
    /// [`HttpTransaction::retained`](super::HttpTransaction::retained) for consumer
    /// identification (e.g. `authorization`, `cookie`, `client-cert`, `x-forwarded-for`),
    /// compared case-insensitively. Default empty: nothing is kept. The values are secrets;
    /// see [`RetainedHeaders`](super::RetainedHeaders).
    pub retain_headers: Vec<String>,
    /// Longest header value retained; a longer one is dropped whole (a cut token is useless),
    /// with [`HttpEvent::RetainLimit`](super::HttpEvent::RetainLimit) and
    /// `retain_limit_hits`. Default 8 KiB.
    pub max_retained_header_bytes: usize,
    /// Bytes of retained values per request; a value that would go past it is dropped whole,
    /// as for `max_retained_header_bytes`. Default 32 KiB. Memory: up to this much per
    /// transaction not yet polled, included in
    /// [`HttpParser::buffered_bytes`](super::HttpParser::buffered_bytes).
    pub max_retained_bytes_total: usize,
}

/// Prints every field but the credential key: `Debug` output reaches logs.
impl fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No `..`: a new field does not compile until it is decided here whether it may be
        // printed.
        let HttpConfig {
            max_header_bytes,
            max_headers,
            max_pending_requests,
            max_uri_len,
            max_field_len,
            max_decoded_body,
            max_decode_ratio,
            max_events_per_transaction,
            max_ready_transactions,
            max_header_names,
            redact_query_params,
            max_body_capture,
            credential_key: _,
            retain_headers,
            max_retained_header_bytes,
            max_retained_bytes_total,
        } = self;
        f.debug_struct("HttpConfig")
            .field("max_header_bytes", max_header_bytes)
            .field("max_headers", max_headers)
            .field("max_pending_requests", max_pending_requests)
            .field("max_uri_len", max_uri_len)
            .field("max_field_len", max_field_len)
            .field("max_decoded_body", max_decoded_body)
            .field("max_decode_ratio", max_decode_ratio)
            .field("max_events_per_transaction", max_events_per_transaction)
            .field("max_ready_transactions", max_ready_transactions)
            .field("max_header_names", max_header_names)
            .field("redact_query_params", redact_query_params)
            .field("max_body_capture", max_body_capture)
            .field("retain_headers", retain_headers)
            .field("max_retained_header_bytes", max_retained_header_bytes)
            .field("max_retained_bytes_total", max_retained_bytes_total)
            .finish_non_exhaustive()
    }
}

/// Bytes a body must have produced before [`HttpConfig::max_decode_ratio`] applies.
pub const DECODE_RATIO_FLOOR: u64 = 1 << 20;

/// Parameter names whose values are always redacted, wherever the parameter is: query,
/// fragment, path (`;name=value`), after a raw blank or `+` inside another parameter
/// (`?q=a+password=...`), or a nested URL inside another value. Names are compared
/// after percent-decoding, case-insensitively, ignoring control bytes, blanks, `+`, `-`, `_`,
/// `.` and brackets (so `api_key` also covers `API-Key`, `apikey` and `api_key[]`); a
/// bracketed name also matches on its innermost key (`user[password]`).
///
/// Signed-URL parts are listed (`signature`, `sig` of Azure SAS, the AWS and Google Cloud
/// forms): while the URL is valid they grant its access. Expiry and scope parameters (`se`,
/// `X-Amz-Expires`) are not secrets and are kept.
pub const DEFAULT_REDACTED_PARAMS: &[&str] = &[
    "access_token",
    "code",
    "api_key",
    "password",
    "passwd",
    "token",
    "id_token",
    "refresh_token",
    "client_secret",
    "jsessionid",
    "phpsessid",
    "sid",
    "session",
    "sessionid",
    "auth",
    "authorization",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "client_assertion",
    "assertion",
    "code_verifier",
    "otp",
    "pin",
    "passcode",
    "secret",
    "private_key",
    "key",
    "auth_token",
    "pwd",
    "private_token",
    "access_key",
    "secret_key",
    "session_token",
    "bearer",
    "jwt",
    "saml",
    "samlresponse",
    "ticket",
    "signature",
    "sig",
    "x-goog-signature",
    "x-goog-credential",
];

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_header_bytes: 64 * 1024,
            max_headers: 256,
            max_pending_requests: 64,
            max_uri_len: 8 * 1024,
            max_field_len: 1024,
            max_decoded_body: 16 * 1024 * 1024,
            max_decode_ratio: 100,
            max_events_per_transaction: 32,
            max_ready_transactions: 1024,
            max_header_names: 64,
            redact_query_params: Vec::new(),
            max_body_capture: 0,
            credential_key: [0; 16],
            retain_headers: Vec::new(),
            max_retained_header_bytes: 8 * 1024,
            max_retained_bytes_total: 32 * 1024,
        }
    }
}

/// Per-parser counters. The binary sums them over connections; names are stable snake_case.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpStats {
    /// Bytes handed in from the client.
    pub bytes_to_server: u64,
    /// Bytes handed in from the server.
    pub bytes_to_client: u64,
    /// Request lines parsed.
    pub requests: u64,
    /// Status lines parsed (1xx included) plus HTTP/0.9 responses.
    pub responses: u64,
    /// Transactions emitted.
    pub transactions: u64,
    /// Request lines that could not be parsed (request side stops, as in Zeek).
    pub bad_request_lines: u64,
    /// Lines where a status line was expected and none was found (response side stops).
    pub bad_status_lines: u64,
    /// Requests without an HTTP version (HTTP/0.9).
    pub http09_requests: u64,
    /// Heads that exceeded `max_header_bytes`.
    pub header_limit_hits: u64,
    /// Heads that exceeded `max_headers`.
    pub header_count_limit_hits: u64,
    /// Messages with more header names than `max_header_names` (the rest were not kept).
    pub header_name_limit_hits: u64,
    /// `Authorization` values whose scheme is not a known one, reported as `other`.
    pub auth_scheme_other: u64,
    /// URIs cut to `max_uri_len`.
    pub uri_truncations: u64,
    /// Other strings cut to `max_field_len`.
    pub field_truncations: u64,
    /// Times `max_pending_requests` forced pending transactions out.
    pub pending_limit_hits: u64,
    /// Bodies whose decoding stopped at `max_decoded_body` or `max_decode_ratio`.
    pub decode_limit_hits: u64,
    /// Bodies longer than `max_body_capture` (only their prefix was kept).
    pub body_capture_limit_hits: u64,
    /// Bodies whose compressed data was corrupt.
    pub decode_errors: u64,
    /// Gaps reported by the stream layer.
    pub gaps: u64,
    /// Bytes missing in those gaps.
    pub gap_bytes: u64,
    /// Gaps that fell inside a body and were accounted for without losing framing.
    pub gaps_in_body: u64,
    /// Times parsing found a message start again after a gap.
    pub resyncs: u64,
    /// Bytes discarded while looking for a message start after a gap.
    pub resync_skipped_bytes: u64,
    /// Connections that became a tunnel (CONNECT, Upgrade).
    pub tunnels: u64,
    /// Bytes not parsed because the direction is a tunnel or parsing stopped.
    pub ignored_bytes: u64,
    /// Events attached to transactions.
    pub events: u64,
    /// Events dropped because a transaction already held `max_events_per_transaction`.
    pub events_dropped: u64,
    /// Transactions dropped because `max_ready_transactions` were waiting to be polled.
    pub transactions_dropped: u64,
    /// Final responses that ended before their request did; each transaction was held until
    /// the request ended (see [`HttpEvent::EarlyResponse`](super::HttpEvent::EarlyResponse)).
    pub early_responses: u64,
    /// Held transactions emitted before their request ended because `max_ready_transactions`
    /// transactions had finished behind them.
    pub held_limit_hits: u64,
    /// Request-smuggling indicators seen (CL+TE, conflicting, listed or invalid
    /// Content-Length, odd or repeated Transfer-Encoding, whitespace before a colon, bad chunk
    /// size; see [`HttpEvent::is_smuggling_indicator`](super::HttpEvent::is_smuggling_indicator)).
    pub smuggling_indicators: u64,
    /// Request header values not retained because they were over
    /// `max_retained_header_bytes` or `max_retained_bytes_total`.
    pub retain_limit_hits: u64,
}

impl HttpStats {
    /// Every counter with its stable name, in a fixed order.
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("bytes_to_server", self.bytes_to_server),
            ("bytes_to_client", self.bytes_to_client),
            ("requests", self.requests),
            ("responses", self.responses),
            ("transactions", self.transactions),
            ("bad_request_lines", self.bad_request_lines),
            ("bad_status_lines", self.bad_status_lines),
            ("http09_requests", self.http09_requests),
            ("header_limit_hits", self.header_limit_hits),
            ("header_count_limit_hits", self.header_count_limit_hits),
            ("header_name_limit_hits", self.header_name_limit_hits),
            ("auth_scheme_other", self.auth_scheme_other),
            ("uri_truncations", self.uri_truncations),
            ("field_truncations", self.field_truncations),
            ("pending_limit_hits", self.pending_limit_hits),
            ("decode_limit_hits", self.decode_limit_hits),
            ("body_capture_limit_hits", self.body_capture_limit_hits),
            ("decode_errors", self.decode_errors),
            ("gaps", self.gaps),
            ("gap_bytes", self.gap_bytes),
            ("gaps_in_body", self.gaps_in_body),
            ("resyncs", self.resyncs),
            ("resync_skipped_bytes", self.resync_skipped_bytes),
            ("tunnels", self.tunnels),
            ("ignored_bytes", self.ignored_bytes),
            ("events", self.events),
            ("events_dropped", self.events_dropped),
            ("transactions_dropped", self.transactions_dropped),
            ("early_responses", self.early_responses),
            ("held_limit_hits", self.held_limit_hits),
            ("smuggling_indicators", self.smuggling_indicators),
            ("retain_limit_hits", self.retain_limit_hits),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_names_are_unique_snake_case() {
        let stats = HttpStats::default();
        let names: Vec<&str> = stats.counters().iter().map(|(n, _)| *n).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "duplicate counter name");
        for n in names {
            assert!(n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'), "{n}");
        }
    }

    #[test]
    fn debug_hides_the_credential_key() {
        let cfg = HttpConfig { credential_key: *b"K3yS3cr3tK3yS3cr", max_body_capture: 65536, ..HttpConfig::default() };
        let s = format!("{cfg:?}");
        assert!(s.contains("max_body_capture: 65536"), "{s}");
        assert!(!s.contains("credential_key") && !s.contains("75, 51"), "{s}");
    }

    #[test]
    fn counters_report_values() {
        let stats = HttpStats { gaps: 3, tunnels: 1, ..HttpStats::default() };
        let c = stats.counters();
        assert!(c.contains(&("gaps", 3)));
        assert!(c.contains(&("tunnels", 1)));
        assert!(c.contains(&("requests", 0)));
    }
}
