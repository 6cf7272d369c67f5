//! Decode counters.

use crate::defrag::DefragStats;

/// Counters of one [`Decoder`](super::Decoder); they only grow.
///
/// `packets = tcp + held + skipped + errors`. Layer counters count headers that parsed, whatever
/// they led to: a packet with two VLAN tags adds 2 to `vlan`, a packet that failed deep inside
/// still counted the layers before the failure, and the malformed header itself is not counted.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Frames given to `decode`.
    pub packets: u64,
    /// Frames (or reassembled datagrams) that produced a TCP segment.
    pub tcp: u64,
    /// TCP segments whose payload was cut by the snaplen (delivered anyway).
    pub tcp_truncated: u64,
    /// Fragments stored, waiting for the rest of their datagram.
    pub held: u64,
    /// Frames with nothing for the TCP path.
    pub skipped: u64,
    /// Malformed or truncated frames.
    pub errors: u64,
    /// Errors that were [`DecodeError::DepthLimit`](super::DecodeError::DepthLimit).
    pub depth_limit: u64,
    /// IPv4 headers decoded.
    pub ipv4: u64,
    /// IPv6 headers decoded.
    pub ipv6: u64,
    /// VLAN tags decoded.
    pub vlan: u64,
    /// MPLS label stacks decoded.
    pub mpls: u64,
    /// PPPoE session headers decoded.
    pub pppoe: u64,
    /// IP-in-IP (protocol 4 or 41) layers.
    pub ip_in_ip: u64,
    /// GRE headers (over IP or UDP).
    pub gre: u64,
    /// ERSPAN type II and III headers.
    pub erspan: u64,
    /// VXLAN headers.
    pub vxlan: u64,
    /// GENEVE headers.
    pub geneve: u64,
    /// GTP-U headers.
    pub gtpu: u64,
    /// Teredo packets (by port or by detection).
    pub teredo: u64,
    /// AYIYA headers.
    pub ayiya: u64,
    /// IP length fields of zero replaced by the captured length (segmentation offload).
    pub ip_length_zero: u64,
    /// IPv4 headers whose checksum did not verify (decoded anyway; see
    /// [`DecodeConfig::verify_checksums`](super::DecodeConfig::verify_checksums)).
    pub ipv4_checksum_bad: u64,
    /// TCP segments whose checksum did not verify (delivered anyway). On a mirror port: damaged
    /// or crafted packets that the endpoint dropped; on an end host: mostly checksum offload.
    pub tcp_checksum_bad: u64,
    /// Fragments that could not be reassembled because the snaplen cut them.
    pub fragments_cut: u64,
    /// Events dropped because the event queue was full.
    pub events_dropped: u64,
    /// The fragment table's counters.
    pub defrag: DefragStats,
}

impl DecodeStats {
    /// Every counter with a stable snake_case name, for the run summary.
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        let mut v = vec![
            ("packets", self.packets),
            ("tcp", self.tcp),
            ("tcp_truncated", self.tcp_truncated),
            ("held", self.held),
            ("skipped", self.skipped),
            ("errors", self.errors),
            ("depth_limit", self.depth_limit),
            ("ipv4", self.ipv4),
            ("ipv6", self.ipv6),
            ("vlan", self.vlan),
            ("mpls", self.mpls),
            ("pppoe", self.pppoe),
            ("ip_in_ip", self.ip_in_ip),
            ("gre", self.gre),
            ("erspan", self.erspan),
            ("vxlan", self.vxlan),
            ("geneve", self.geneve),
            ("gtpu", self.gtpu),
            ("teredo", self.teredo),
            ("ayiya", self.ayiya),
            ("ip_length_zero", self.ip_length_zero),
            ("ipv4_checksum_bad", self.ipv4_checksum_bad),
            ("tcp_checksum_bad", self.tcp_checksum_bad),
            ("fragments_cut", self.fragments_cut),
            ("events_dropped", self.events_dropped),
        ];
        v.extend(self.defrag.counters());
        v
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn counter_names_are_unique_snake_case() {
        let stats = DecodeStats {
            gtpu: 3,
            ..Default::default()
        };
        let c = stats.counters();
        let mut names: Vec<_> = c.iter().map(|(n, _)| *n).collect();
        assert!(names.iter().all(|n| n
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch == '_' || ch.is_ascii_digit())));
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before);
        assert!(c.contains(&("gtpu", 3)));
        assert!(c.iter().any(|(n, _)| *n == "fragments_reassembled"));
    }
}
