//! `[limits]`: the packet pipeline's limits, from the configuration file. Every key is
//! optional and defaults to the value the sensor and parser crates ship with (the table in
//! docs/ARCHITECTURE.md, "Limits"); `validate` refuses values that cannot work and names the
//! key and the fix. The same values reach `apitap run`, and `apitap read` / `apitap capture`
//! given `--config`.
//!
//! Sub-tables: `[limits.decode]` (link and tunnel layers), `[limits.defrag]` (IP fragments),
//! `[limits.tcp]` (flow table and reassembly), `[limits.http]` (the HTTP parser). Sizes are
//! bytes, durations whole seconds of packet time (`_secs`).
//!
//! Not here: the HTTP memory budget over all connections (`[capture] http_buffer_mib`, or
//! `--http-buffer-mib`), the bytes of each body kept (`[inventory] body_capture_bytes`), the
//! tunnel ports and the service ports (not limits: the crates' defaults are used).

use apitap_parsers::http::HttpConfig;
use apitap_sensor::decode::DecodeConfig;
use apitap_sensor::defrag::DefragConfig;
use apitap_sensor::flow::FlowConfig;
use serde::Deserialize;

use super::config::Invalid;

/// Nanoseconds in a second: `FlowConfig` counts packet time in nanoseconds.
const SEC_NS: u64 = 1_000_000_000;
/// Longest timeout accepted, in seconds (a day): longer keeps dead connections for no use,
/// and nanosecond arithmetic stays far from overflow.
const MAX_TIMEOUT_SECS: u64 = 86_400;
/// Most layers `max_depth` and `max_link_tags` accept: each costs a header walk per packet.
const MAX_LAYERS: usize = 64;
/// Smallest fragment budget: one full-size IPv4/IPv6 datagram (64 KiB) must fit.
const MIN_DEFRAG_BYTES: usize = 64 << 10;
/// Smallest HTTP head budget: a request line, a Host and a few headers.
const MIN_HEADER_BYTES: usize = 1024;
/// Smallest retained header value: a bearer token or session cookie is rarely shorter.
const MIN_RETAINED_HEADER_BYTES: usize = 256;

/// `[limits]`: every sub-table optional.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSection {
    /// `[limits.decode]`.
    pub decode: DecodeLimits,
    /// `[limits.defrag]`.
    pub defrag: DefragLimits,
    /// `[limits.tcp]`.
    pub tcp: TcpLimits,
    /// `[limits.http]`.
    pub http: HttpLimits,
}

/// `[limits.decode]`: how deep the decoder walks (see `DecodeConfig`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct DecodeLimits {
    /// Encapsulation layers after the first IP header (tunnels, tags inside them). Default 8.
    pub max_depth: usize,
    /// VLAN tags, MPLS labels and PPPoE headers before the first IP header. Default 16.
    pub max_link_tags: usize,
    /// Decoder anomaly events queued between two drains. Default 1024.
    pub max_events: usize,
    /// Verify IPv4 header and TCP checksums and count the bad ones (never dropped: a mirror
    /// port sees checksum-offloaded packets). Default true; false saves about 0.1 ns per
    /// byte.
    pub verify_checksums: bool,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        let d = DecodeConfig::default();
        DecodeLimits { max_depth: d.max_depth, max_link_tags: d.max_link_tags, max_events: d.max_events, verify_checksums: d.verify_checksums }
    }
}

/// `[limits.defrag]`: IP fragment reassembly (see `DefragConfig`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct DefragLimits {
    /// Bytes of fragment data held over all datagrams. Default 64 MiB.
    pub max_bytes_total: usize,
    /// Incomplete datagrams held at once. Default 8192.
    pub max_datagrams: usize,
    /// Fragments accepted for one datagram. Default 128.
    pub max_fragments_per_datagram: usize,
    /// Seconds a datagram waits for its missing fragments. Default 30.
    pub timeout_secs: u64,
    /// Fragment events queued between two drains. Default 1024.
    pub max_events: usize,
}

impl Default for DefragLimits {
    fn default() -> Self {
        let d = DefragConfig::default();
        DefragLimits {
            max_bytes_total: d.max_bytes_total,
            max_datagrams: d.max_datagrams,
            max_fragments_per_datagram: d.max_fragments_per_datagram,
            timeout_secs: d.timeout.as_secs(),
            max_events: d.max_events,
        }
    }
}

/// `[limits.tcp]`: the flow table and TCP reassembly (see `FlowConfig`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct TcpLimits {
    /// Connections tracked at once; past it the least recently active is evicted (`evicted`).
    /// Default 262144.
    pub max_flows: usize,
    /// Out-of-order bytes held per direction. Default 1 MiB.
    pub max_buffered_per_dir: usize,
    /// Out-of-order runs held per direction. Default 2048.
    pub max_segments_per_dir: usize,
    /// Out-of-order bytes held by all connections together. Default 256 MiB.
    pub max_buffered_total: usize,
    /// One-sided captures: bytes waiting behind a hole before it is given up; 0 turns the rule
    /// off. Default 16 KiB.
    pub max_above_hole_without_acks: usize,
    /// Delivered bytes kept per direction to compare retransmissions; 0 turns it off.
    /// Default 64 KiB.
    pub max_retained_per_dir: usize,
    /// The same over all connections; 0 turns it off. Default 64 MiB.
    pub max_retained_total: usize,
    /// Seconds without a packet before an established connection is closed. Default 300.
    pub idle_timeout_secs: u64,
    /// The same for a connection that has only shown SYNs. Default 30.
    pub handshake_timeout_secs: u64,
    /// Seconds a finished connection (FINs or RST) stays to absorb the last packets. Default 2.
    pub closed_linger_secs: u64,
}

impl Default for TcpLimits {
    fn default() -> Self {
        let f = FlowConfig::default();
        TcpLimits {
            max_flows: f.max_flows,
            max_buffered_per_dir: f.max_buffered_per_dir,
            max_segments_per_dir: f.max_segments_per_dir,
            max_buffered_total: f.max_buffered_total,
            max_above_hole_without_acks: f.max_above_hole_without_acks,
            max_retained_per_dir: f.max_retained_per_dir,
            max_retained_total: f.max_retained_total,
            idle_timeout_secs: f.idle_timeout / SEC_NS,
            handshake_timeout_secs: f.handshake_timeout / SEC_NS,
            closed_linger_secs: f.closed_linger / SEC_NS,
        }
    }
}

/// `[limits.http]`: the HTTP parser (see `HttpConfig`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpLimits {
    /// Bytes of one message head; also the longest line waited for. Default 64 KiB.
    pub max_header_bytes: usize,
    /// Header fields kept per head. Default 256.
    pub max_headers: usize,
    /// Requests awaiting a response per connection. Default 64.
    pub max_pending_requests: usize,
    /// Bytes of the request URI kept. Default 8 KiB.
    pub max_uri_len: usize,
    /// Bytes kept of other strings from the wire (host, user agent, content type...).
    /// Default 1 KiB.
    pub max_field_len: usize,
    /// Decompressed bytes per body before decoding stops. Default 16 MiB.
    pub max_decoded_body: u64,
    /// Largest decompressed-to-compressed ratio (checked after 1 MiB). Default 100.
    pub max_decode_ratio: u64,
    /// Events kept per transaction (the rest are counted). Default 32.
    pub max_events_per_transaction: usize,
    /// Finished transactions held until the pipeline takes them. Default 1024.
    pub max_ready_transactions: usize,
    /// Header names kept per message (names only). Default 64.
    pub max_header_names: usize,
    /// Longest identity header value retained (tokens, cookies, certificates). Default 8 KiB.
    pub max_retained_header_bytes: usize,
    /// Identity header bytes retained per request. Default 32 KiB.
    pub max_retained_bytes_total: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        let h = HttpConfig::default();
        HttpLimits {
            max_header_bytes: h.max_header_bytes,
            max_headers: h.max_headers,
            max_pending_requests: h.max_pending_requests,
            max_uri_len: h.max_uri_len,
            max_field_len: h.max_field_len,
            max_decoded_body: h.max_decoded_body,
            max_decode_ratio: h.max_decode_ratio,
            max_events_per_transaction: h.max_events_per_transaction,
            max_ready_transactions: h.max_ready_transactions,
            max_header_names: h.max_header_names,
            max_retained_header_bytes: h.max_retained_header_bytes,
            max_retained_bytes_total: h.max_retained_bytes_total,
        }
    }
}

fn invalid(table: &str, key: &str, problem: impl Into<String>) -> Invalid {
    Invalid { key: format!("[limits.{table}] {key}"), problem: problem.into() }
}

/// `value` must be at least `min`; the message gives the default to fall back on.
fn at_least<T: PartialOrd + std::fmt::Display>(table: &str, key: &str, value: T, min: T, default: T) -> Result<(), Invalid> {
    if value < min {
        return Err(invalid(table, key, format!("is {value}; it must be at least {min} (default {default})")));
    }
    Ok(())
}

fn timeout(table: &str, key: &str, value: u64, default: u64) -> Result<(), Invalid> {
    if !(1..=MAX_TIMEOUT_SECS).contains(&value) {
        return Err(invalid(table, key, format!("is {value}; it must be 1 to {MAX_TIMEOUT_SECS} seconds (default {default})")));
    }
    Ok(())
}

/// A per-part budget larger than the whole could never be reached: the total always binds first.
fn part_within_total(table: &str, part: (&str, usize), total: (&str, usize)) -> Result<(), Invalid> {
    if part.1 > total.1 {
        return Err(invalid(
            table,
            part.0,
            format!(
                "({}) is larger than {} ({}); lower it, or raise {} to at least {}",
                part.1, total.0, total.1, total.0, part.1
            ),
        ));
    }
    Ok(())
}

impl LimitsSection {
    /// Checks values that parse but cannot work: a limit of 0 where 0 would stop the pipeline
    /// (0 flows, a 0 s timeout), a per-connection budget larger than the total, a fragment
    /// budget smaller than one datagram.
    pub fn validate(&self) -> Result<(), Invalid> {
        let (d, dd) = (&self.decode, DecodeLimits::default());
        for (key, v, def) in [("max_depth", d.max_depth, dd.max_depth), ("max_link_tags", d.max_link_tags, dd.max_link_tags)] {
            if v > MAX_LAYERS {
                return Err(invalid("decode", key, format!("is {v}; it must be 0 to {MAX_LAYERS} (default {def})")));
            }
        }
        at_least("decode", "max_events", d.max_events, 1, dd.max_events)?;

        let (f, fd) = (&self.defrag, DefragLimits::default());
        at_least("defrag", "max_bytes_total", f.max_bytes_total, MIN_DEFRAG_BYTES, fd.max_bytes_total)?;
        at_least("defrag", "max_datagrams", f.max_datagrams, 1, fd.max_datagrams)?;
        // A fragmented datagram has at least two fragments.
        at_least("defrag", "max_fragments_per_datagram", f.max_fragments_per_datagram, 2, fd.max_fragments_per_datagram)?;
        timeout("defrag", "timeout_secs", f.timeout_secs, fd.timeout_secs)?;
        at_least("defrag", "max_events", f.max_events, 1, fd.max_events)?;

        let (t, td) = (&self.tcp, TcpLimits::default());
        at_least("tcp", "max_flows", t.max_flows, 1, td.max_flows)?;
        at_least("tcp", "max_buffered_per_dir", t.max_buffered_per_dir, 1, td.max_buffered_per_dir)?;
        at_least("tcp", "max_segments_per_dir", t.max_segments_per_dir, 1, td.max_segments_per_dir)?;
        at_least("tcp", "max_buffered_total", t.max_buffered_total, 1, td.max_buffered_total)?;
        part_within_total("tcp", ("max_buffered_per_dir", t.max_buffered_per_dir), ("max_buffered_total", t.max_buffered_total))?;
        if t.max_retained_total > 0 {
            part_within_total("tcp", ("max_retained_per_dir", t.max_retained_per_dir), ("max_retained_total", t.max_retained_total))?;
        }
        timeout("tcp", "idle_timeout_secs", t.idle_timeout_secs, td.idle_timeout_secs)?;
        timeout("tcp", "handshake_timeout_secs", t.handshake_timeout_secs, td.handshake_timeout_secs)?;
        timeout("tcp", "closed_linger_secs", t.closed_linger_secs, td.closed_linger_secs)?;

        let (h, hd) = (&self.http, HttpLimits::default());
        at_least("http", "max_header_bytes", h.max_header_bytes, MIN_HEADER_BYTES, hd.max_header_bytes)?;
        at_least("http", "max_headers", h.max_headers, 1, hd.max_headers)?;
        at_least("http", "max_pending_requests", h.max_pending_requests, 1, hd.max_pending_requests)?;
        at_least("http", "max_uri_len", h.max_uri_len, 1, hd.max_uri_len)?;
        at_least("http", "max_field_len", h.max_field_len, 1, hd.max_field_len)?;
        at_least("http", "max_decoded_body", h.max_decoded_body, 1, hd.max_decoded_body)?;
        at_least("http", "max_decode_ratio", h.max_decode_ratio, 1, hd.max_decode_ratio)?;
        at_least("http", "max_ready_transactions", h.max_ready_transactions, 1, hd.max_ready_transactions)?;
        at_least(
            "http",
            "max_retained_header_bytes",
            h.max_retained_header_bytes,
            MIN_RETAINED_HEADER_BYTES,
            hd.max_retained_header_bytes,
        )?;
        part_within_total(
            "http",
            ("max_retained_header_bytes", h.max_retained_header_bytes),
            ("max_retained_bytes_total", h.max_retained_bytes_total),
        )?;
        Ok(())
    }

    /// Sets the decoder's and the defragmenter's limits; other fields keep their values.
    pub fn apply_decode(&self, cfg: &mut DecodeConfig) {
        let (d, f) = (&self.decode, &self.defrag);
        cfg.max_depth = d.max_depth;
        cfg.max_link_tags = d.max_link_tags;
        cfg.max_events = d.max_events;
        cfg.verify_checksums = d.verify_checksums;
        cfg.defrag.max_bytes_total = f.max_bytes_total;
        cfg.defrag.max_datagrams = f.max_datagrams;
        cfg.defrag.max_fragments_per_datagram = f.max_fragments_per_datagram;
        cfg.defrag.timeout = std::time::Duration::from_secs(f.timeout_secs);
        cfg.defrag.max_events = f.max_events;
    }

    /// Sets the flow table's limits and timeouts; `split_by_vlan` and the service ports keep
    /// their values.
    pub fn apply_flow(&self, cfg: &mut FlowConfig) {
        let t = &self.tcp;
        cfg.max_flows = t.max_flows;
        cfg.max_buffered_per_dir = t.max_buffered_per_dir;
        cfg.max_segments_per_dir = t.max_segments_per_dir;
        cfg.max_buffered_total = t.max_buffered_total;
        cfg.max_above_hole_without_acks = t.max_above_hole_without_acks;
        cfg.max_retained_per_dir = t.max_retained_per_dir;
        cfg.max_retained_total = t.max_retained_total;
        cfg.idle_timeout = t.idle_timeout_secs.saturating_mul(SEC_NS);
        cfg.handshake_timeout = t.handshake_timeout_secs.saturating_mul(SEC_NS);
        cfg.closed_linger = t.closed_linger_secs.saturating_mul(SEC_NS);
    }

    /// Sets the HTTP parser's limits; redaction, body capture, retained header names and the
    /// credential key keep their values (they come from other sections).
    pub fn apply_http(&self, cfg: &mut HttpConfig) {
        let h = &self.http;
        cfg.max_header_bytes = h.max_header_bytes;
        cfg.max_headers = h.max_headers;
        cfg.max_pending_requests = h.max_pending_requests;
        cfg.max_uri_len = h.max_uri_len;
        cfg.max_field_len = h.max_field_len;
        cfg.max_decoded_body = h.max_decoded_body;
        cfg.max_decode_ratio = h.max_decode_ratio;
        cfg.max_events_per_transaction = h.max_events_per_transaction;
        cfg.max_ready_transactions = h.max_ready_transactions;
        cfg.max_header_names = h.max_header_names;
        cfg.max_retained_header_bytes = h.max_retained_header_bytes;
        cfg.max_retained_bytes_total = h.max_retained_bytes_total;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_crates_defaults_and_valid() {
        let l = LimitsSection::default();
        l.validate().unwrap();
        let (mut d, mut f, mut h) = (DecodeConfig::default(), FlowConfig::default(), HttpConfig::default());
        l.apply_decode(&mut d);
        l.apply_flow(&mut f);
        l.apply_http(&mut h);
        assert_eq!(d, DecodeConfig::default());
        assert_eq!(f, FlowConfig::default());
        assert_eq!(h, HttpConfig::default());
    }

    #[test]
    fn values_reach_the_crates_types_in_their_units() {
        let mut l = LimitsSection::default();
        l.tcp.max_flows = 2;
        l.tcp.idle_timeout_secs = 7;
        l.defrag.timeout_secs = 3;
        l.http.max_uri_len = 100;
        let (mut d, mut f, mut h) = (DecodeConfig::default(), FlowConfig::default(), HttpConfig::default());
        h.max_body_capture = 4096;
        f.split_by_vlan = true;
        l.apply_decode(&mut d);
        l.apply_flow(&mut f);
        l.apply_http(&mut h);
        assert_eq!(f.max_flows, 2);
        assert_eq!(f.idle_timeout, 7_000_000_000);
        assert!(f.split_by_vlan, "other settings are kept");
        assert_eq!(d.defrag.timeout, std::time::Duration::from_secs(3));
        assert_eq!(h.max_uri_len, 100);
        assert_eq!(h.max_body_capture, 4096, "other settings are kept");
    }

    #[test]
    fn values_that_cannot_work_name_the_key_and_the_fix() {
        let mut l = LimitsSection::default();
        l.tcp.max_flows = 0;
        let e = l.validate().unwrap_err();
        assert_eq!(e.key, "[limits.tcp] max_flows");
        assert!(e.problem.contains("at least 1") && e.problem.contains("262144"), "{e:?}");

        let mut l = LimitsSection::default();
        l.tcp.max_buffered_per_dir = 4 << 20;
        l.tcp.max_buffered_total = 1 << 20;
        let e = l.validate().unwrap_err();
        assert_eq!(e.key, "[limits.tcp] max_buffered_per_dir");
        assert!(e.problem.contains("max_buffered_total") && e.problem.contains("4194304"), "{e:?}");

        let mut l = LimitsSection::default();
        l.tcp.handshake_timeout_secs = 0;
        assert_eq!(l.validate().unwrap_err().key, "[limits.tcp] handshake_timeout_secs");

        let mut l = LimitsSection::default();
        l.defrag.max_bytes_total = 1000;
        assert_eq!(l.validate().unwrap_err().key, "[limits.defrag] max_bytes_total");

        let mut l = LimitsSection::default();
        l.http.max_retained_header_bytes = 64 << 10;
        assert_eq!(l.validate().unwrap_err().key, "[limits.http] max_retained_header_bytes");

        // 0 turns retransmission comparison off: a per-direction value is then not a mistake.
        let mut l = LimitsSection::default();
        l.tcp.max_retained_total = 0;
        l.validate().unwrap();
    }
}
