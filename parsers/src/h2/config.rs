//! The HTTP/2 parser's limits ([`H2Config`]) and counters ([`H2Stats`]).
//!
//! What a transaction keeps (URI and field lengths, redaction, the credential key, retained
//! headers, body capture and decoding limits, events per transaction, transactions waiting to
//! be polled) is configured once for both HTTP versions in
//! [`HttpConfig`](crate::http::HttpConfig); this holds what only HTTP/2 has.

use crate::http::HttpStats;

/// Limits of the HTTP/2 parser. Every buffer the network can grow is bounded by one of these;
/// hitting one is an [`H2Event`](super::H2Event) and a counter in [`H2Stats`], never growth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct H2Config {
    /// Streams tracked at once per connection. A new stream past it makes the oldest one a
    /// transaction as it is (marked [`H2Event::StreamLimit`](super::H2Event::StreamLimit)).
    /// Default 128 (RFC 9113 recommends peers allow at least 100 concurrent streams).
    pub max_streams: usize,
    /// Bytes of one header block (HEADERS or PUSH_PROMISE plus its CONTINUATION frames)
    /// collected before it is decoded. A longer block is dropped: its stream is marked, and
    /// the direction's HPACK table is lost until it resynchronises. Default 64 KiB.
    pub max_header_block: usize,
    /// Header list size kept per block, counted as RFC 9113 does (name + value + 32 per
    /// field). Fields past it are counted, not kept (an HPACK bomb stops here). Default
    /// 64 KiB.
    pub max_header_list: usize,
    /// Longest single field (name + value) kept; a longer one is counted, not kept.
    /// Default 16 KiB.
    pub max_field_bytes: usize,
    /// Largest HPACK dynamic table followed per direction, whatever the peer announces in
    /// SETTINGS_HEADER_TABLE_SIZE. Past it the oldest entries are dropped and a reference to
    /// them yields an unknown field. Default 64 KiB.
    pub max_table_bytes: usize,
    /// CONTINUATION frames accepted per header block; past it the block is dropped as a
    /// CONTINUATION flood. Default 32.
    pub max_continuations: usize,
    /// Payload bytes of one control frame (SETTINGS, GOAWAY, PING, ...) buffered; a longer
    /// frame is skipped. DATA is never buffered. Default 16 KiB.
    pub max_control_frame: usize,
    /// Bytes searched for a plausible frame header after a gap or a mid-connection join
    /// before the direction gives up. Default 1 MiB.
    pub max_resync_scan: u64,
    /// Packet-time window (ns) over which the flood counters below are taken. Default 1 s.
    pub flood_window_ns: u64,
    /// SETTINGS frames (not acknowledgements) per window and direction past which the
    /// connection is a SETTINGS flood. Default 50.
    pub max_settings_per_window: u32,
    /// PING frames (not acknowledgements) per window and direction past which the
    /// connection is a PING flood. Default 50.
    pub max_pings_per_window: u32,
    /// Streams reset by the client per window past which the connection is a rapid-reset
    /// attack (CVE-2023-44487). Default 100.
    pub max_resets_per_window: u32,
    /// Bytes of `grpc-message` kept. Default 256.
    pub max_grpc_message: usize,
    /// Connection events held until [`poll_event`](super::H2ConnParser::poll_event) takes
    /// them; later ones are counted in `events_dropped`. Default 64.
    pub max_pending_events: usize,
}

impl Default for H2Config {
    fn default() -> Self {
        H2Config {
            max_streams: 128,
            max_header_block: 64 * 1024,
            max_header_list: 64 * 1024,
            max_field_bytes: 16 * 1024,
            max_table_bytes: 64 * 1024,
            max_continuations: 32,
            max_control_frame: 16 * 1024,
            max_resync_scan: 1 << 20,
            flood_window_ns: 1_000_000_000,
            max_settings_per_window: 50,
            max_pings_per_window: 50,
            max_resets_per_window: 100,
            max_grpc_message: 256,
            max_pending_events: 64,
        }
    }
}

/// Counters of HTTP/2 parsers. `http` holds the counters both versions share (bytes,
/// requests, responses, transactions, gaps, truncations, dropped events and transactions);
/// the rest are HTTP/2's own. The binary sums them over connections; names are stable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct H2Stats {
    /// Counters shared with HTTP/1.x.
    pub http: HttpStats,
    /// Client connection prefaces seen.
    pub prefaces: u64,
    /// Directions whose parsing started without a preface (mid-connection join).
    pub joins: u64,
    /// Frames read, of every type.
    pub frames: u64,
    /// DATA frames.
    pub data_frames: u64,
    /// HEADERS frames.
    pub headers_frames: u64,
    /// CONTINUATION frames.
    pub continuation_frames: u64,
    /// SETTINGS frames (acknowledgements included).
    pub settings_frames: u64,
    /// PING frames (acknowledgements included).
    pub ping_frames: u64,
    /// RST_STREAM frames.
    pub rst_stream_frames: u64,
    /// GOAWAY frames.
    pub goaway_frames: u64,
    /// WINDOW_UPDATE frames.
    pub window_update_frames: u64,
    /// PRIORITY frames.
    pub priority_frames: u64,
    /// PUSH_PROMISE frames.
    pub push_promise_frames: u64,
    /// Frames of a type RFC 9113 does not define (skipped).
    pub unknown_frames: u64,
    /// Frames that broke a rule of RFC 9113 (a bad length or stream for their type, padding
    /// longer than the frame, a frame where a CONTINUATION was due).
    pub malformed_frames: u64,
    /// Frames longer than the receiver's SETTINGS_MAX_FRAME_SIZE.
    pub oversized_frames: u64,
    /// Times framing was found again after a gap or a join.
    pub resyncs: u64,
    /// Bytes skipped while looking for a frame header.
    pub resync_skipped_bytes: u64,
    /// Directions that gave up after `max_resync_scan` bytes without a plausible frame.
    pub resync_failures: u64,
    /// Header blocks dropped at `max_header_block`.
    pub header_block_limit_hits: u64,
    /// Header blocks with fields past `max_header_list` (counted, not kept).
    pub header_list_limit_hits: u64,
    /// Fields not kept because they were over `max_field_bytes`.
    pub field_limit_hits: u64,
    /// Header blocks whose HPACK data could not be decoded (the table is then lost).
    pub hpack_errors: u64,
    /// HPACK bombs: blocks over the list limit by references that expand far beyond any
    /// literal.
    pub hpack_bombs: u64,
    /// Header fields that could not be known (a table entry from before a join or a loss).
    pub hpack_unknown_fields: u64,
    /// Times a direction's HPACK table became known again after a join or a loss.
    pub hpack_resyncs: u64,
    /// CONTINUATION floods (more than `max_continuations` frames in one block).
    pub continuation_floods: u64,
    /// SETTINGS floods.
    pub settings_floods: u64,
    /// PING floods.
    pub ping_floods: u64,
    /// Rapid-reset attacks.
    pub rapid_resets: u64,
    /// Times `max_streams` forced a stream out early.
    pub stream_limit_hits: u64,
    /// Streams ended by RST_STREAM.
    pub streams_reset: u64,
    /// Streams cut by a GOAWAY (above its last stream id).
    pub streams_goaway: u64,
    /// Streams promised by PUSH_PROMISE.
    pub pushed_streams: u64,
    /// Transactions with at least one header field that could not be decoded.
    pub transactions_partial: u64,
    /// Transactions of a connection joined mid-way whose headers were all decoded.
    pub transactions_recovered: u64,
    /// Transactions whose request content type is gRPC.
    pub grpc_calls: u64,
    /// gRPC messages counted (both directions).
    pub grpc_messages: u64,
    /// Connection events dropped at `max_pending_events`.
    pub events_dropped: u64,
}

impl H2Stats {
    /// Every counter with its stable name, in a fixed order: the shared ones under their
    /// HTTP/1.x names, then HTTP/2's own (the binary shows them as a stage of their own, so
    /// the names need no prefix).
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        let mut out: Vec<(&'static str, u64)> = self.http.counters();
        let own = [
            ("prefaces", self.prefaces),
            ("joins", self.joins),
            ("frames", self.frames),
            ("data_frames", self.data_frames),
            ("headers_frames", self.headers_frames),
            ("continuation_frames", self.continuation_frames),
            ("settings_frames", self.settings_frames),
            ("ping_frames", self.ping_frames),
            ("rst_stream_frames", self.rst_stream_frames),
            ("goaway_frames", self.goaway_frames),
            ("window_update_frames", self.window_update_frames),
            ("priority_frames", self.priority_frames),
            ("push_promise_frames", self.push_promise_frames),
            ("unknown_frames", self.unknown_frames),
            ("malformed_frames", self.malformed_frames),
            ("oversized_frames", self.oversized_frames),
            ("frame_resyncs", self.resyncs),
            ("frame_resync_skipped_bytes", self.resync_skipped_bytes),
            ("resync_failures", self.resync_failures),
            ("header_block_limit_hits", self.header_block_limit_hits),
            ("header_list_limit_hits", self.header_list_limit_hits),
            ("field_limit_hits", self.field_limit_hits),
            ("hpack_errors", self.hpack_errors),
            ("hpack_bombs", self.hpack_bombs),
            ("hpack_unknown_fields", self.hpack_unknown_fields),
            ("hpack_resyncs", self.hpack_resyncs),
            ("continuation_floods", self.continuation_floods),
            ("settings_floods", self.settings_floods),
            ("ping_floods", self.ping_floods),
            ("rapid_resets", self.rapid_resets),
            ("stream_limit_hits", self.stream_limit_hits),
            ("streams_reset", self.streams_reset),
            ("streams_goaway", self.streams_goaway),
            ("pushed_streams", self.pushed_streams),
            ("transactions_partial", self.transactions_partial),
            ("transactions_recovered", self.transactions_recovered),
            ("grpc_calls", self.grpc_calls),
            ("grpc_messages", self.grpc_messages),
            ("conn_events_dropped", self.events_dropped),
        ];
        out.extend(own);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_names_are_unique_snake_case() {
        let names: Vec<&str> = H2Stats::default().counters().into_iter().map(|(n, _)| n).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "duplicate counter name");
        assert!(names.iter().all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')));
    }
}
