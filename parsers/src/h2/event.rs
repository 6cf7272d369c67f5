//! HTTP/2 anomalies and attacks, as typed events.

use crate::http::Direction;

use super::hpack::HpackError;

/// Something unusual an HTTP/2 parser saw. Events about one stream are kept on its
/// transaction ([`H2Facts::events`](super::H2Facts::events)); events about the connection
/// (floods, framing, HPACK state) come from
/// [`H2ConnParser::poll_event`](super::H2ConnParser::poll_event). Parsing carries on after
/// every one of them. [`H2Event::name`] gives a stable snake_case name for output.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum H2Event {
    /// Parsing of a direction started without the connection preface: the sensor joined a
    /// connection already running.
    Joined {
        /// The direction.
        dir: Direction,
    },
    /// Bytes were missing from a direction.
    Gap {
        /// The direction.
        dir: Direction,
        /// Bytes missing.
        len: u64,
        /// Whether framing survived it (the gap fell inside DATA of known length).
        in_data: bool,
    },
    /// Framing was found again after a gap or a join.
    Resync {
        /// The direction.
        dir: Direction,
        /// Bytes skipped before the frame header.
        skipped: u64,
    },
    /// No plausible frame header within `max_resync_scan` bytes: the direction is no longer
    /// parsed.
    ResyncFailed {
        /// The direction.
        dir: Direction,
    },
    /// A frame longer than the receiver's SETTINGS_MAX_FRAME_SIZE.
    OversizedFrame {
        /// The direction.
        dir: Direction,
        /// Its length.
        len: u32,
        /// The maximum in force.
        max: u32,
    },
    /// A frame that breaks a rule of RFC 9113 for its type (length, stream, padding, a frame
    /// where CONTINUATION was due).
    MalformedFrame {
        /// The direction.
        dir: Direction,
        /// The frame type.
        frame_type: u8,
    },
    /// A header block over `max_header_block` bytes was dropped.
    HeaderBlockLimit {
        /// The direction.
        dir: Direction,
        /// The limit.
        limit: usize,
    },
    /// More than `max_continuations` CONTINUATION frames in one header block (the
    /// CONTINUATION flood, CVE-2024-27316 and relatives): the block was dropped.
    ContinuationFlood {
        /// The direction.
        dir: Direction,
        /// The limit.
        limit: usize,
    },
    /// A header block's fields went past `max_header_list`; the rest were counted only.
    HeaderListLimit {
        /// The direction.
        dir: Direction,
        /// Header list size of the whole block.
        size: usize,
    },
    /// An HPACK bomb: a small block that references table entries into a header list far
    /// larger (a decompression bomb); counted, not kept.
    HpackBomb {
        /// The direction.
        dir: Direction,
        /// Encoded bytes of the block.
        encoded: usize,
        /// Header list size it decodes to.
        decoded: usize,
    },
    /// HPACK data could not be decoded; the direction's table is lost until it is rebuilt.
    HpackError {
        /// The direction.
        dir: Direction,
        /// What was wrong.
        error: HpackError,
    },
    /// A direction's HPACK table is fully known again after a join or a loss.
    HpackResynced {
        /// The direction.
        dir: Direction,
    },
    /// A reference to a table entry that is not known: the table was believed in sync and is
    /// not (the peer's table is larger than presumed).
    HpackOutOfSync {
        /// The direction.
        dir: Direction,
    },
    /// More SETTINGS frames than `max_settings_per_window` in one window.
    SettingsFlood {
        /// The direction.
        dir: Direction,
        /// Frames in the window so far.
        count: u32,
    },
    /// More PING frames than `max_pings_per_window` in one window.
    PingFlood {
        /// The direction.
        dir: Direction,
        /// Frames in the window so far.
        count: u32,
    },
    /// More client resets than `max_resets_per_window` in one window (rapid reset,
    /// CVE-2023-44487).
    RapidReset {
        /// Resets in the window so far.
        count: u32,
    },
    /// `max_streams` streams were open: the oldest was emitted as it was.
    StreamLimit {
        /// The limit.
        limit: usize,
    },
    /// The stream was reset by RST_STREAM.
    StreamReset {
        /// Who sent the reset.
        dir: Direction,
        /// The error code.
        error_code: u32,
    },
    /// The stream was above a GOAWAY's last stream id: the peer will not process it.
    GoAway {
        /// Who sent the GOAWAY.
        dir: Direction,
        /// Its error code.
        error_code: u32,
    },
    /// A response (or DATA) on a stream whose request was not seen.
    ResponseWithoutRequest,
    /// The stream was cut short: by the end of the connection, a gap or a limit.
    Interrupted {
        /// Which side was incomplete.
        dir: Direction,
    },
    /// A gRPC message was cut by the end of its stream.
    GrpcTruncatedMessage {
        /// The direction.
        dir: Direction,
    },
}

impl H2Event {
    /// Stable snake_case name of the event kind.
    pub fn name(&self) -> &'static str {
        match self {
            H2Event::Joined { .. } => "h2_joined",
            H2Event::Gap { .. } => "h2_gap",
            H2Event::Resync { .. } => "h2_resync",
            H2Event::ResyncFailed { .. } => "h2_resync_failed",
            H2Event::OversizedFrame { .. } => "h2_oversized_frame",
            H2Event::MalformedFrame { .. } => "h2_malformed_frame",
            H2Event::HeaderBlockLimit { .. } => "h2_header_block_limit",
            H2Event::ContinuationFlood { .. } => "h2_continuation_flood",
            H2Event::HeaderListLimit { .. } => "h2_header_list_limit",
            H2Event::HpackBomb { .. } => "h2_hpack_bomb",
            H2Event::HpackError { .. } => "h2_hpack_error",
            H2Event::HpackResynced { .. } => "h2_hpack_resynced",
            H2Event::HpackOutOfSync { .. } => "h2_hpack_out_of_sync",
            H2Event::SettingsFlood { .. } => "h2_settings_flood",
            H2Event::PingFlood { .. } => "h2_ping_flood",
            H2Event::RapidReset { .. } => "h2_rapid_reset",
            H2Event::StreamLimit { .. } => "h2_stream_limit",
            H2Event::StreamReset { .. } => "h2_stream_reset",
            H2Event::GoAway { .. } => "h2_goaway",
            H2Event::ResponseWithoutRequest => "h2_response_without_request",
            H2Event::Interrupted { .. } => "h2_interrupted",
            H2Event::GrpcTruncatedMessage { .. } => "h2_grpc_truncated_message",
        }
    }

    /// Whether the event is one of the known HTTP/2 denial-of-service patterns.
    pub fn is_attack(&self) -> bool {
        matches!(
            self,
            H2Event::ContinuationFlood { .. }
                | H2Event::HpackBomb { .. }
                | H2Event::SettingsFlood { .. }
                | H2Event::PingFlood { .. }
                | H2Event::RapidReset { .. }
                | H2Event::OversizedFrame { .. }
        )
    }
}
