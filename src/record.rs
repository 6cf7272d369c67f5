//! The transaction record written by `apitap read` and `apitap capture`.
//!
//! Field names follow Zeek's http.log where they overlap (`ts`, `uid`, `orig_h`, ...), so SOC
//! tooling feels at home; our own fields (timings, content types, events) follow them. Fields
//! without a value are left out of the JSON object (Zeek writes `-`).

use std::fmt::Write as _;
use std::hash::Hasher;

use apitap_discovery::inventory::Visibility;
use apitap_parsers::http::HttpTransaction;
use apitap_sensor::stream::ConnInfo;
use serde::Serialize;
use siphasher::sip::SipHasher13;

/// Version of the record layout, written in every record.
pub const SCHEMA_VERSION: u32 = 1;

/// One HTTP request/response exchange.
#[derive(Debug, Clone, Serialize)]
pub struct TransactionRecord {
    /// Time of the request's first byte (of the response's when no request was seen), seconds
    /// since the epoch, from the packet.
    pub ts: f64,
    /// Connection id, stable for the connection within a run and across runs of one capture.
    pub uid: String,
    /// Client address.
    pub orig_h: String,
    /// Client port.
    pub orig_p: u16,
    /// Server address.
    pub resp_h: String,
    /// Server port.
    pub resp_p: u16,
    /// Position of the exchange within its connection, from 1.
    pub trans_depth: u32,
    /// Request method as sent (any token, case kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Host header of the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Request target, with credential-carrying query values redacted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Referer header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    /// HTTP version of the request ("1.1", "1.0", "0.9").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// User-Agent header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Request body bytes after transfer and content decoding (Zeek's definition).
    pub request_body_len: u64,
    /// Response body bytes after transfer and content decoding.
    pub response_body_len: u64,
    /// Final status code (after any 1xx).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// Reason phrase of the final status line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_msg: Option<String>,
    /// Last 1xx status code before the final one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info_code: Option<u16>,
    /// Reason phrase of that 1xx.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info_msg: Option<String>,
    /// HTTP version of the response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_version: Option<String>,
    /// Content-Type of the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_content_type: Option<String>,
    /// Content-Type of the response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_content_type: Option<String>,
    /// Authorization scheme only (e.g. "Bearer"); credentials are never written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_scheme: Option<String>,
    /// Milliseconds from the end of the request to the first byte of the response (from the
    /// start of the request when the response began before the request ended).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// Milliseconds from the first request byte to the last response byte.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    /// Bytes of the request were lost (capture loss); fields may be incomplete.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub request_gap: bool,
    /// Bytes of the response were lost.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub response_gap: bool,
    /// Parsing stopped because the connection became a tunnel ("CONNECT", "websocket", ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<String>,
    /// VLAN IDs of the connection's first packet, outermost first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vlans: Vec<u16>,
    /// Protocol anomalies seen in this exchange (HTTP) or its connection (TCP).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// How the sensor saw the exchange: `clear` (HTTP on the wire) or `decrypted` (TLS
    /// opened with the keys of a key log).
    pub visibility: &'static str,
    /// HTTP/2 facts of the stream (absent for HTTP/1.x).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http2: Option<Http2Record>,
    /// gRPC facts of the call (absent for anything else).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcRecord>,
    /// GraphQL operation of the request (absent when it was not GraphQL, or its body was not
    /// captured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub graphql: Option<GraphqlRecord>,
    /// Record layout version.
    pub schema_version: u32,
}

/// What an HTTP/2 stream adds to its record.
#[derive(Debug, Clone, Serialize)]
pub struct Http2Record {
    /// The stream id.
    pub stream_id: u32,
    /// Promised by the server (server push).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pushed: bool,
    /// The request that upgraded an HTTP/1.1 connection (`Upgrade: h2c`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub upgraded: bool,
    /// Who reset the stream (`client`, `server`), when it was reset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reset_by: Option<&'static str>,
    /// The RST_STREAM error code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reset_code: Option<u32>,
    /// A GOAWAY put the stream above the last one the peer processes.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub goaway: bool,
    /// Header fields that could not be decoded (their HPACK entry predates the capture):
    /// the record's fields may be incomplete.
    #[serde(skip_serializing_if = "is_zero")]
    pub unknown_fields: u32,
}

/// What a gRPC call adds to its record. `grpc-message` is left out: it is the server's free
/// text, which may hold personal data.
#[derive(Debug, Clone, Serialize)]
pub struct GrpcRecord {
    /// Service (`package.Service`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// `grpc-status`, when the trailers came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u32>,
    /// Messages the client sent.
    pub request_messages: u64,
    /// Messages the server sent.
    pub response_messages: u64,
    /// Bytes of the client's messages (as framed, compressed or not).
    pub request_message_bytes: u64,
    /// Bytes of the server's messages.
    pub response_message_bytes: u64,
}

/// What a GraphQL request adds to its record: names only, never variables or argument values.
#[derive(Debug, Clone, Serialize)]
pub struct GraphqlRecord {
    /// `query`, `mutation`, `subscription`, `unknown` (a persisted query sent by hash).
    pub operation_type: &'static str,
    /// `operationName`, else the document's name, else `sha256:` and the persisted query's
    /// hash, else the sorted top-level fields (`{accounts,balances}`). For a batch, the
    /// first request's.
    pub operation_name: String,
    /// Top-level fields of the (first) operation, sorted.
    pub fields: Vec<String>,
    /// Any operation of the request asks for `__schema` or `__type`.
    pub introspection: bool,
    /// Requests in the batch (1 when not batched).
    pub batch_size: usize,
    /// The document did not read whole (cut, malformed, a limit).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
}

impl GraphqlRecord {
    /// The record of a request's GraphQL content, when it has any.
    pub fn of(tx: &HttpTransaction) -> Option<GraphqlRecord> {
        use apitap_discovery::graphql::{extract, GraphqlLimits};
        tx.method.as_ref()?;
        let (_, query) = apitap_discovery::inventory::split_target(tx.uri.as_deref().unwrap_or("/"));
        let found = extract(query, tx.request_content_type.as_deref(), &tx.request_body, &GraphqlLimits::default())?;
        let first = found.operations.first()?;
        Some(GraphqlRecord {
            operation_type: first.kind.name(),
            operation_name: first.name.clone(),
            fields: first.fields.clone(),
            introspection: found.operations.iter().any(|o| o.introspection),
            batch_size: found.batch_size,
            incomplete: found.operations.iter().any(|o| o.incomplete),
        })
    }
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

fn millis(from: Option<u64>, to: Option<u64>) -> Option<f64> {
    let (from, to) = (from?, to?);
    Some(to.checked_sub(from)? as f64 / 1e6)
}

/// Time from the end of the request to the first response byte; when the server answered
/// before the request was finished (an early 413, an immediate 100-continue answer), from the
/// start of the request instead.
pub fn latency(tx: &HttpTransaction) -> Option<f64> {
    match (tx.request_end, tx.response_start) {
        (Some(end), Some(start)) if end <= start => millis(Some(end), Some(start)),
        _ => millis(tx.request_start, tx.response_start),
    }
}

impl TransactionRecord {
    /// Builds the record of one transaction. `swapped` says the HTTP content showed the TCP
    /// layer's originator to be the server.
    pub fn new(conn: &ConnInfo, swapped: bool, uid: &str, tx: HttpTransaction, tcp_events: Vec<String>) -> Self {
        let (client, server) = conn.client_server(swapped);
        // The body-capture bound is the inventory's sampling limit, not a protocol anomaly.
        let mut events: Vec<String> =
            tx.events.iter().map(|e| e.name()).filter(|n| !matches!(*n, "body_capture_limit" | "retain_limit")).map(str::to_string).collect();
        if let Some(h2) = tx.h2.as_deref() {
            events.extend(h2.events.iter().map(|e| e.name().to_string()));
        }
        events.extend(tcp_events);
        let http2 = tx.h2.as_deref().map(|h| Http2Record {
            stream_id: h.stream_id,
            pushed: h.pushed,
            upgraded: h.upgraded,
            reset_by: h.reset.map(|(dir, _)| if dir == apitap_parsers::http::Direction::ToServer { "client" } else { "server" }),
            reset_code: h.reset.map(|(_, code)| code),
            goaway: h.goaway,
            unknown_fields: h.request_unknown_fields.saturating_add(h.response_unknown_fields),
        });
        let grpc = tx.grpc.as_deref().map(|g| GrpcRecord {
            service: g.service.clone(),
            method: g.method.clone(),
            status: g.status,
            request_messages: g.request_messages,
            response_messages: g.response_messages,
            request_message_bytes: g.request_message_bytes,
            response_message_bytes: g.response_message_bytes,
        });
        let graphql = GraphqlRecord::of(&tx);
        TransactionRecord {
            ts: tx.ts as f64 / 1e9,
            uid: uid.to_string(),
            orig_h: client.ip().to_string(),
            orig_p: client.port(),
            resp_h: server.ip().to_string(),
            resp_p: server.port(),
            trans_depth: tx.trans_depth,
            latency_ms: latency(&tx),
            duration_ms: millis(tx.request_start.or(tx.response_start), tx.response_end.max(tx.request_end)),
            method: tx.method,
            host: tx.host,
            uri: tx.uri,
            referrer: tx.referrer,
            version: tx.version,
            user_agent: tx.user_agent,
            request_body_len: tx.request_body_len,
            response_body_len: tx.response_body_len,
            status_code: tx.status_code,
            status_msg: tx.status_msg,
            info_code: tx.info_code,
            info_msg: tx.info_msg,
            response_version: tx.response_version,
            request_content_type: tx.request_content_type,
            response_content_type: tx.response_content_type,
            auth_scheme: tx.auth_scheme,
            request_gap: tx.request_gap,
            response_gap: tx.response_gap,
            tunnel: tx.tunnel,
            vlans: conn.vlans.iter().flatten().copied().collect(),
            events,
            visibility: Visibility::Clear.name(),
            http2,
            grpc,
            graphql,
            schema_version: SCHEMA_VERSION,
        }
    }

    /// How the transaction was read (clear unless set).
    pub fn visibility(mut self, visibility: Visibility) -> Self {
        self.visibility = visibility.name();
        self
    }
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A Zeek-style connection uid ("C" and 17 base-62 digits) derived from the connection's
/// endpoints, VLAN tags and first packet time, so the same capture gives the same uids on
/// every run and with any number of workers (the flow table's own connection number is not
/// in it: each worker counts its own).
///
/// Computed when a transaction is finished rather than kept per connection: it costs a hash
/// of the addresses' text, written into the hasher without an allocation.
pub fn conn_uid(conn: &ConnInfo) -> String {
    let mut h = SipHasher13::new_with_keys(0x6170_6974_6170, 0x7569_6400);
    // The address text goes straight into the hasher, whose input is a byte stream: the same
    // digest as hashing the whole string at once.
    let _ = write!(HashText(&mut h), "{}", conn.orig());
    let _ = write!(HashText(&mut h), "{}", conn.resp());
    h.write_u64(conn.first_ts.0);
    for v in conn.vlans {
        h.write_u32(v.map_or(u32::MAX, u32::from));
    }
    let mut a = h.finish();
    h.write_u8(1);
    let mut b = h.finish();
    let mut uid = String::with_capacity(18);
    uid.push('C');
    for i in 0..17 {
        let src = if i < 10 { &mut a } else { &mut b };
        uid.push(BASE62.get((*src % 62) as usize).map_or('0', |b| char::from(*b)));
        *src /= 62;
    }
    uid
}

/// Feeds formatted text into a hasher.
struct HashText<'a>(&'a mut SipHasher13);

impl std::fmt::Write for HashText<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.write(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use apitap_sensor::stream::{ConnId, OrigInference};
    use apitap_sensor::Timestamp;

    // The uid hashes the addresses' text as written by `to_string`, whatever way it is fed
    // to the hasher: the same digest, computed here the plain way, for both address families.
    #[test]
    fn conn_uid_hashes_the_address_text() {
        for (orig, resp) in [("10.0.0.1:40000", "10.9.0.1:443"), ("[2001:db8::1]:5555", "[fe80::1%3]:80")] {
            let info = ConnInfo::new(
                ConnId(9),
                orig.parse().unwrap(),
                resp.parse().unwrap(),
                Timestamp(1_700_000_000_123_456_789),
                OrigInference::Syn,
                [Some(10), None],
            );
            let mut h = SipHasher13::new_with_keys(0x6170_6974_6170, 0x7569_6400);
            h.write(info.orig().to_string().as_bytes());
            h.write(info.resp().to_string().as_bytes());
            h.write_u64(info.first_ts.0);
            h.write_u32(10);
            h.write_u32(u32::MAX);
            let a = h.finish();
            let uid = conn_uid(&info);
            assert_eq!(uid.len(), 18);
            let mut first = String::new();
            let mut x = a;
            for _ in 0..10 {
                first.push(char::from(BASE62[(x % 62) as usize]));
                x /= 62;
            }
            assert_eq!(&uid[1..11], first);
        }
    }
}
