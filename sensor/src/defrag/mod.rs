//! Bounded IPv4 and IPv6 fragment reassembly.
//!
//! The decoder hands every fragment it meets (at any nesting level) to a [`Defragmenter`], which
//! stores the bytes until the datagram is complete and then gives back the reassembled payload
//! (everything after the IP header, or after the IPv6 fragment header) as an owned buffer.
//!
//! Limits, all on packet time and all in [`DefragConfig`]:
//! - `max_bytes_total` and `max_datagrams` bound the whole table; when a new fragment does not
//!   fit, the oldest incomplete datagrams are evicted to make room (fresh traffic is worth more
//!   than a datagram that has waited longest for a fragment that may never come);
//! - `max_fragments_per_datagram` bounds one datagram (a datagram that exceeds it is dropped);
//! - `timeout` drops datagrams whose first fragment is older than that.
//!
//! Overlapping fragments keep the bytes that arrived first (the same policy for every overlap,
//! so what the sensor reassembles does not depend on a target-specific guess); an overlap whose
//! bytes differ is reported as [`DefragEventKind::OverlapMismatch`]. A datagram that would grow
//! past 65535 bytes is dropped with [`DefragEventKind::Oversize`].
//!
//! Not supported: per-target overlap policies (first/last/BSD/Linux as Suricata offers); IPv6
//! fragments whose unfragmentable parts differ (the first fragment's headers are not kept at all:
//! reassembly continues from the fragment header's next-header value).

mod table;

use std::collections::VecDeque;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use crate::packet::Timestamp;

pub use table::Defragmenter;

/// Limits of the fragment table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefragConfig {
    /// Bytes of fragment data held over all datagrams (default 64 MiB). Counts buffer capacity,
    /// not only bytes received, because holes take memory too.
    pub max_bytes_total: usize,
    /// Incomplete datagrams held at once (default 8192).
    pub max_datagrams: usize,
    /// Fragments accepted for one datagram (default 128); the datagram is dropped beyond it.
    pub max_fragments_per_datagram: usize,
    /// How long a datagram may wait for its missing fragments, from its first fragment, in
    /// packet time (default 30 s).
    pub timeout: Duration,
    /// Events queued before [`Defragmenter::poll_event`] drains them (default 1024); further
    /// events are dropped and counted in [`DefragStats::events_dropped`].
    pub max_events: usize,
}

impl Default for DefragConfig {
    fn default() -> Self {
        DefragConfig {
            max_bytes_total: 64 * 1024 * 1024,
            max_datagrams: 8192,
            max_fragments_per_datagram: 128,
            timeout: Duration::from_secs(30),
            max_events: 1024,
        }
    }
}

/// What identifies one fragmented datagram: RFC 791 and RFC 8200 keys, plus the protocol for
/// IPv6 too (fragments of one datagram all carry the same next header).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FragKey {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IPv4 identification (16 bits) or IPv6 fragment identification (32 bits).
    pub id: u32,
    /// IPv4 protocol, or the next header of the IPv6 fragment header.
    pub protocol: u8,
}

/// One fragment, borrowed from the packet.
#[derive(Copy, Clone, Debug)]
pub struct Fragment<'a> {
    /// Which datagram it belongs to.
    pub key: FragKey,
    /// Byte offset of `data` in the reassembled payload (the header's offset field times 8).
    pub offset: u32,
    /// The more-fragments flag: clear on the last fragment.
    pub more: bool,
    /// The fragment's payload; must be complete (a fragment cut by the snaplen cannot be used).
    pub data: &'a [u8],
    /// Header bytes the reassembled datagram carries in front of the payload: the IPv4 header
    /// length, or the IPv6 extension headers before the fragment header. Counted against the
    /// 65535-byte limit.
    pub header_len: u32,
}

/// A reassembled datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reassembled {
    /// Which datagram it was.
    pub key: FragKey,
    /// The payload: for IPv4 what followed the IP header, for IPv6 what followed the fragment
    /// header (starting with the protocol in `key.protocol`).
    pub payload: Vec<u8>,
    /// How many fragments it took.
    pub fragments: u32,
}

/// What happened to a fragment given to [`Defragmenter::insert`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DefragOutcome {
    /// Stored; the datagram is still incomplete.
    Held,
    /// This fragment completed the datagram.
    Complete(Reassembled),
    /// Refused (an event says more). For limits, the datagram's earlier fragments are gone too.
    Rejected(RejectReason),
}

/// Why a fragment was refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// A fragment that is not the last one is empty or not a multiple of 8 bytes long.
    BadLength,
    /// The datagram would be longer than 65535 bytes.
    Oversize,
    /// Two last fragments disagree on the end, or data lies past the end.
    Inconsistent,
    /// The datagram reached `max_fragments_per_datagram`.
    TooManyFragments,
    /// `max_datagrams` is zero: nothing can be held.
    DatagramLimit,
    /// The fragment does not fit in `max_bytes_total` even with every other datagram evicted.
    MemoryLimit,
}

impl RejectReason {
    /// A short lowercase description.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::BadLength => "fragment length is not a multiple of 8",
            RejectReason::Oversize => "reassembled datagram exceeds 65535 bytes",
            RejectReason::Inconsistent => "fragments disagree on the datagram length",
            RejectReason::TooManyFragments => "too many fragments for one datagram",
            RejectReason::DatagramLimit => "fragment table is full",
            RejectReason::MemoryLimit => "fragment memory limit reached",
        }
    }

    /// Whether the fragment itself is malformed (rather than refused by a resource limit).
    pub fn is_malformed(self) -> bool {
        matches!(
            self,
            RejectReason::BadLength | RejectReason::Oversize | RejectReason::Inconsistent
        )
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An anomaly or limit hit in the fragment table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefragEvent {
    /// Packet time of the fragment (or of the `expire` call) that caused it.
    pub ts: Timestamp,
    /// The datagram concerned.
    pub key: FragKey,
    /// What happened.
    pub kind: DefragEventKind,
}

/// The kinds of [`DefragEvent`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DefragEventKind {
    /// A fragment overlapped bytes already held and disagreed with them; the earlier bytes were
    /// kept. `offset`/`len` locate the first differing overlap of that fragment.
    OverlapMismatch {
        /// Start of the overlap in the payload.
        offset: u32,
        /// Length of the overlap.
        len: u32,
    },
    /// The datagram would exceed 65535 bytes (header included); it was dropped.
    Oversize {
        /// End of the offending fragment, header included.
        end: u32,
    },
    /// The datagram reached `max_fragments_per_datagram`; it was dropped.
    TooManyFragments {
        /// The limit.
        limit: usize,
    },
    /// The table held `max_datagrams`; this (oldest) datagram was evicted to make room.
    DatagramLimit {
        /// The limit.
        limit: usize,
    },
    /// `max_bytes_total` was reached; this datagram was evicted (or refused).
    MemoryLimit {
        /// The limit.
        limit: usize,
    },
    /// The datagram waited longer than the timeout and was dropped.
    Timeout {
        /// Fragments it had received.
        fragments: u32,
        /// Payload bytes it held.
        bytes: usize,
    },
    /// Fragments disagree on where the datagram ends; it was dropped.
    Inconsistent,
    /// A fragment other than the last was empty or not a multiple of 8 bytes; it was ignored.
    BadLength {
        /// Its length.
        len: u32,
    },
}

/// Counters of the fragment table; they only grow.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct DefragStats {
    /// Fragments given to `insert`.
    pub fragments: u64,
    /// Datagrams completed.
    pub reassembled: u64,
    /// Fragments that overlapped bytes already held.
    pub overlaps: u64,
    /// Overlaps whose bytes differed.
    pub overlap_mismatches: u64,
    /// Datagrams dropped by the timeout.
    pub timeouts: u64,
    /// Datagrams evicted because of `max_datagrams`.
    pub evicted_datagram_limit: u64,
    /// Datagrams evicted or refused because of `max_bytes_total`.
    pub evicted_memory_limit: u64,
    /// Datagrams dropped for exceeding `max_fragments_per_datagram`.
    pub too_many_fragments: u64,
    /// Datagrams dropped for exceeding 65535 bytes.
    pub oversize: u64,
    /// Datagrams dropped because their fragments disagree on the length.
    pub inconsistent: u64,
    /// Fragments ignored for a bad length.
    pub bad_length: u64,
    /// Events dropped because the queue was full.
    pub events_dropped: u64,
}

impl DefragStats {
    /// Stable snake_case names and values, prefixed `fragments_` for the run summary.
    pub fn counters(&self) -> [(&'static str, u64); 12] {
        [
            ("fragments_received", self.fragments),
            ("fragments_reassembled", self.reassembled),
            ("fragments_overlaps", self.overlaps),
            ("fragments_overlap_mismatches", self.overlap_mismatches),
            ("fragments_timeouts", self.timeouts),
            (
                "fragments_evicted_datagram_limit",
                self.evicted_datagram_limit,
            ),
            ("fragments_evicted_memory_limit", self.evicted_memory_limit),
            ("fragments_too_many", self.too_many_fragments),
            ("fragments_oversize", self.oversize),
            ("fragments_inconsistent", self.inconsistent),
            ("fragments_bad_length", self.bad_length),
            ("fragments_events_dropped", self.events_dropped),
        ]
    }
}

/// A bounded FIFO of events: pushing into a full queue drops the new event and counts it.
#[derive(Clone, Debug)]
pub(crate) struct EventQueue<T> {
    items: VecDeque<T>,
    limit: usize,
}

impl<T> EventQueue<T> {
    pub(crate) fn new(limit: usize) -> Self {
        EventQueue {
            items: VecDeque::new(),
            limit,
        }
    }

    /// Returns false when the event was dropped.
    pub(crate) fn push(&mut self, item: T) -> bool {
        if self.items.len() >= self.limit {
            return false;
        }
        self.items.push_back(item);
        true
    }

    pub(crate) fn pop(&mut self) -> Option<T> {
        self.items.pop_front()
    }
}
