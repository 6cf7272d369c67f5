//! Counters of the flow table.

/// What the flow table has seen and done since it was created. Counters only grow (saturating).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// TCP segments handed to the table.
    pub segments: u64,
    /// Connections opened (`on_open` calls).
    pub flows_opened: u64,
    /// Connections closed (`on_close` calls), for any reason.
    pub flows_closed: u64,
    /// Closed after both FINs (`CloseReason::Fin`).
    pub closed_fin: u64,
    /// Closed after a RST (`CloseReason::Reset`).
    pub closed_reset: u64,
    /// Closed by the idle or handshake timeout (`CloseReason::Idle`).
    pub idle_expired: u64,
    /// Live connections evicted to stay under `max_flows` (`CloseReason::Evicted`).
    pub evicted: u64,
    /// Closed by the end of input (`CloseReason::EndOfInput`).
    pub closed_end_of_input: u64,
    /// Finished connections closed before their linger ran out, to make room.
    pub linger_cut_short: u64,
    /// A SYN with a new ISN reused the address pair of a finished connection.
    pub port_reuse: u64,
    /// RSTs for no tracked connection (ignored: no connection is opened for them).
    pub stray_resets: u64,
    /// RSTs whose sequence number was far outside the direction's data (ignored).
    pub resets_ignored: u64,
    /// RSTs inside the window but not at the next expected byte, the sender's next new byte or
    /// the receiver's last acknowledgement (ignored, as an RFC 5961 receiver ignores them: an
    /// injected RST guessed into the window).
    pub resets_in_window: u64,
    /// Data segments dropped by PAWS: stamped (TCP timestamps option) older than the newest
    /// stamp of their sender's in-order segments (`TcpEvent::PawsRejected`).
    pub paws_rejected: u64,
    /// Times the receiver acknowledged bytes that PAWS had dropped, so the stamp learnt was
    /// forgotten and learnt again.
    pub paws_resyncs: u64,
    /// FINs ignored: before data already delivered, or far beyond anything seen.
    pub fins_ignored: u64,
    /// Segments whose payload was cut by the snaplen.
    pub truncated_segments: u64,
    /// Stream bytes delivered through `on_data`.
    pub bytes_delivered: u64,
    /// Gaps reported through `on_gap`.
    pub gaps: u64,
    /// Bytes covered by those gaps.
    pub gap_bytes: u64,
    /// Segments that overlapped bytes already delivered or buffered (overlapping bytes of the
    /// first copy were kept).
    pub overlaps: u64,
    /// Overlaps whose bytes differed from the first copy (`TcpEvent::OverlapMismatch`).
    pub overlap_mismatches: u64,
    /// Keep-alive (and zero-window) probes: segments of at most one byte, without SYN, FIN or
    /// RST, exactly one before the sender's next new byte, and not a byte the other side is seen
    /// still waiting for. Their byte is filler, so they are neither delivered nor compared, and
    /// not counted as retransmissions.
    pub keepalives: u64,
    /// Segments carrying only bytes already delivered (dropped after comparing them with the
    /// retained copy, where there is one).
    pub retransmissions: u64,
    /// Segments repeating delivered bytes (retransmissions, or overlaps reaching back before the
    /// next expected byte) of which some could not be compared because they were no longer
    /// retained: acknowledged, pushed out by a retention limit, or delivered before a gap.
    pub retransmissions_unchecked: u64,
    /// Deliveries whose copy did not fit under `max_retained_per_dir` or `max_retained_total`,
    /// so that the oldest unacknowledged bytes were dropped from the retained copy.
    pub retained_limit_hits: u64,
    /// Segments buffered because they arrived ahead of a hole.
    pub out_of_order: u64,
    /// Holes given up because a buffer limit was reached (`TcpEvent::BufferLimit`).
    pub buffer_limit_hits: u64,
    /// Data after a RST or beyond a FIN, ignored (`TcpEvent::DataAfterClose`).
    pub data_after_close: u64,
}

impl FlowStats {
    /// Every counter with a stable snake_case name, for the run summary and metrics.
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("segments", self.segments),
            ("flows_opened", self.flows_opened),
            ("flows_closed", self.flows_closed),
            ("closed_fin", self.closed_fin),
            ("closed_reset", self.closed_reset),
            ("idle_expired", self.idle_expired),
            ("evicted", self.evicted),
            ("closed_end_of_input", self.closed_end_of_input),
            ("linger_cut_short", self.linger_cut_short),
            ("port_reuse", self.port_reuse),
            ("stray_resets", self.stray_resets),
            ("resets_ignored", self.resets_ignored),
            ("resets_in_window", self.resets_in_window),
            ("paws_rejected", self.paws_rejected),
            ("paws_resyncs", self.paws_resyncs),
            ("fins_ignored", self.fins_ignored),
            ("truncated_segments", self.truncated_segments),
            ("bytes_delivered", self.bytes_delivered),
            ("gaps", self.gaps),
            ("gap_bytes", self.gap_bytes),
            ("overlaps", self.overlaps),
            ("overlap_mismatches", self.overlap_mismatches),
            ("keepalives", self.keepalives),
            ("retransmissions", self.retransmissions),
            ("retransmissions_unchecked", self.retransmissions_unchecked),
            ("retained_limit_hits", self.retained_limit_hits),
            ("out_of_order", self.out_of_order),
            ("buffer_limit_hits", self.buffer_limit_hits),
            ("data_after_close", self.data_after_close),
        ]
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn counter_names_are_unique_snake_case_and_follow_the_fields() {
        let stats = FlowStats {
            gaps: 3,
            evicted: 7,
            ..FlowStats::default()
        };
        let counters = stats.counters();
        let mut names: Vec<_> = counters.iter().map(|(n, _)| *n).collect();
        assert!(names
            .iter()
            .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), counters.len());
        assert!(counters.contains(&("gaps", 3)));
        assert!(counters.contains(&("evicted", 7)));
        assert_eq!(counters.iter().map(|(_, v)| v).sum::<u64>(), 10);
    }
}
