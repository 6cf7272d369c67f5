//! Flow-table settings.

/// Bytes each held out-of-order run counts against [`FlowConfig::max_buffered_per_dir`] and
/// [`FlowConfig::max_buffered_total`] on top of its data: the map entry, the allocation behind
/// it and the allocator's rounding. Without it a flood of one-byte out-of-order segments would
/// hold many times the configured bytes in bookkeeping.
pub const HELD_RUN_OVERHEAD: usize = 64;

/// One second of packet time, in nanoseconds.
const SEC: u64 = 1_000_000_000;

/// Settings of a [`FlowTable`](super::FlowTable). Every limit bounds memory the network can grow;
/// hitting one is counted in [`FlowStats`](super::FlowStats) and, where it costs data, reported to
/// the sink as an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowConfig {
    /// Connections tracked at once (default 262 144). When full, a connection that already
    /// finished (FIN or RST, waiting out `closed_linger`) is closed first; otherwise the
    /// least-recently-active connection is closed with `CloseReason::Evicted`, where one that
    /// has shown both directions counts as `handshake_timeout` more recent than it is (so a
    /// SYN flood or a flood of one-packet flows evicts its own flows first). 0 is treated as 1,
    /// and values above 2^32 − 2 as that (connections are numbered in 32 bits).
    ///
    /// Memory: each tracked connection costs the table about 430 bytes while it holds no
    /// data (its entry and its index slot), plus what its buffers hold (the limits below).
    pub max_flows: usize,
    /// Out-of-order bytes held per direction (default 1 MiB). Each held run is charged 64
    /// bytes of bookkeeping on top of its data, so that a flood of tiny out-of-order segments
    /// is bounded in memory, not only in payload. A segment that would go over it makes the
    /// direction give up its first hole: a gap and `TcpEvent::BufferLimit`.
    pub max_buffered_per_dir: usize,
    /// Out-of-order runs held per direction (default 2048); over it, the same as above.
    pub max_segments_per_dir: usize,
    /// Out-of-order bytes held by all connections together, bookkeeping included as above
    /// (default 256 MiB); over it, the direction trying to buffer more gives up its first hole,
    /// as above.
    pub max_buffered_total: usize,
    /// When the other side of a connection was never seen acknowledging (a one-sided capture,
    /// so no ACK can prove a hole lost), a hole is given up as a gap once this many bytes wait
    /// behind it (default 16 KiB, as Zeek's `tcp_max_above_hole_without_any_acks`). 0 turns the
    /// rule off, leaving such holes to the buffer limits and to the close.
    pub max_above_hole_without_acks: usize,
    /// Delivered bytes kept per direction until the other side acknowledges them (default
    /// 64 KiB, a common receive window without scaling), so that a retransmission of them can be
    /// compared with what was delivered: different bytes are `TcpEvent::OverlapMismatch`. Over
    /// it, the oldest bytes are dropped (counted in `retained_limit_hits`) and a later copy of
    /// them goes unchecked (`retransmissions_unchecked`). 0 turns the comparison of delivered
    /// bytes off.
    pub max_retained_per_dir: usize,
    /// The same bytes kept by all connections together (default 64 MiB). Over it, the direction
    /// trying to keep more keeps only what still fits, newest bytes first, and counts
    /// `retained_limit_hits`; other connections keep theirs. 0 turns the comparison off. The
    /// allocation behind a direction's copy can reach twice the bytes it holds.
    pub max_retained_total: usize,
    /// Nanoseconds of packet time without a packet after which an established connection is
    /// closed with `CloseReason::Idle` (default 300 s).
    pub idle_timeout: u64,
    /// The same for a connection that has only shown SYNs so far (default 30 s), so that scans
    /// and floods of unanswered SYNs leave the table quickly.
    pub handshake_timeout: u64,
    /// Nanoseconds of packet time a connection stays in the table after both FINs were delivered
    /// or a RST was seen, before its `on_close` (default 2 s). It absorbs the final ACKs and
    /// retransmitted FINs, and reports data sent after a RST as `TcpEvent::DataAfterClose`.
    pub closed_linger: u64,
    /// Whether VLAN IDs are part of the flow key (default false: a mirror often tags the two
    /// directions of one connection differently, which must still meet in one flow).
    pub split_by_vlan: bool,
    /// Ports taken as the server side of a connection picked up mid-stream, besides every port
    /// below 1024 (default: common HTTP, TLS and proxy ports).
    pub service_ports: Vec<u16>,
}

/// Default for [`FlowConfig::service_ports`].
pub const DEFAULT_SERVICE_PORTS: &[u16] = &[
    1080, 3000, 3128, 5000, 8000, 8008, 8080, 8081, 8088, 8443, 8888, 9000, 9080, 9090, 9443,
];

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 262_144,
            max_buffered_per_dir: 1 << 20,
            max_segments_per_dir: 2048,
            max_buffered_total: 256 << 20,
            max_above_hole_without_acks: 16 << 10,
            max_retained_per_dir: 64 << 10,
            max_retained_total: 64 << 20,
            idle_timeout: 300 * SEC,
            handshake_timeout: 30 * SEC,
            closed_linger: 2 * SEC,
            split_by_vlan: false,
            service_ports: DEFAULT_SERVICE_PORTS.to_vec(),
        }
    }
}
