//! Flow steering: which worker a captured frame belongs to, decided without state.
//!
//! A capture thread that hands packets to N workers, each with its own [`Decoder`] (and so its
//! own fragment table) and flow table, must send every packet of a connection to one worker:
//! both directions, and every IP fragment of it. [`steer_hash`] gives a value that is equal for
//! all of those (its documentation says what is hashed and what is not supported);
//! [`worker_of`] turns it into a worker index. The walk is the decoder's own ([`Walker::peek`]),
//! so the two cannot disagree on where the innermost IP header is.

use std::net::IpAddr;

use super::walk::{Next, Stop, Walker};
#[cfg(doc)]
use super::Decoder;
use super::{DecodeConfig, DecodeStats};
use crate::packet::LinkType;

/// The steering hash of a frame with no IP pair to steer by: no IP header, or a walk that
/// failed (see [`steer_hash`]). [`worker_of`] maps it to worker 0.
pub const NO_PAIR: u64 = 0;

/// A steering hash for `frame`: equal for both directions of a connection and for every IP
/// fragment of it.
///
/// Give it the [`DecodeConfig`] the workers decode with (its tunnel ports and depth limits), or
/// the walk may stop at a different header than theirs. Never panics, never allocates, reads
/// only the layer headers, verifies no checksum and leaves no trace in any counter.
///
/// What is hashed: the source and destination addresses of the innermost IP header, reached by
/// walking the frame exactly as [`Decoder::decode`] does (the same walker, the same
/// [`DecodeConfig`]: link types, VLAN/QinQ, MPLS, PPPoE, every tunnel and its configured UDP
/// ports, the depth limits). The walk stops at the first IP header that is a fragment (the
/// headers inside a fragment are not visible in the later fragments, so the fragment's own
/// header is the innermost one every fragment shows) or whose payload is TCP or anything that
/// is not a tunnel. The pair is ordered before hashing, so both directions hash alike.
///
/// Ports are not hashed: the second and later fragments of a datagram carry none, and the
/// worker must see every fragment to reassemble it. So all connections between the same two
/// hosts share a worker. A pair of hosts carrying much of the traffic (a load balancer and one
/// back end, say) therefore loads one worker more than the others. The kernel's
/// `PACKET_FANOUT_HASH` hashes ports too, but only because `PACKET_FANOUT_FLAG_DEFRAG`
/// reassembles fragments before hashing, which is state kept in the capture path; a stateless
/// hash cannot know the ports of a later fragment.
///
/// Not supported, by design of a stateless hash:
/// - A tunnel packet whose *outer* IP header is fragmented is steered by the outer pair (its
///   inner headers are only visible after reassembly), while the unfragmented packets of the
///   same inner connection are steered by the inner pair. If a tunnel fragments some packets of
///   a connection (large segments over an MTU-limited GRE or VXLAN path), those packets reach a
///   worker that does not see the rest of the connection. Inner fragments (a fragmented packet
///   inside an unfragmented tunnel) are fine: they are steered by the inner pair.
/// - Frames whose walk fails (malformed, truncated, over the depth limit) and frames with no IP
///   header (ARP, LLDP, STP, ...) get [`NO_PAIR`]: they carry no TCP for any worker, and their
///   worker only counts them.
///
/// Frames that do carry IP but no TCP (UDP outside the tunnel ports, ICMP, ESP) are steered by
/// their innermost pair like any other, which spreads them across workers.
///
/// The frame's on-wire length is not needed for the walk to agree with the decoder in all but
/// two cases, because every IP, UDP and tunnel length field below the link layer bounds what
/// follows it: a frame cut by the snaplen is steered like the whole one (as
/// [`Decoder::decode`] delivers its cut TCP segment). The two cases: a frame whose outermost
/// length field claims more bytes than were on the wire (malformed for the decoder) is steered
/// by its pair here rather than getting [`NO_PAIR`]; and the byte order of an NFLOG header,
/// which the decoder guesses from which reading of the first attribute length fits the frame,
/// may be guessed wrong for captures from big-endian hosts, which then all get [`NO_PAIR`].
/// Both keep every packet of a connection on one worker. [`steer_hash_with_wire_len`] takes
/// the length and removes both.
pub fn steer_hash(cfg: &DecodeConfig, link: LinkType, frame: &[u8]) -> u64 {
    peek(cfg, link, frame, usize::MAX)
}

/// [`steer_hash`] with the frame's on-wire length (the capture record's original length, at
/// least `frame.len()`), so that every decision the walk takes is the one
/// [`Decoder::decode`] takes on the same frame and length.
///
/// A frame whose length fields claim more than `wire_len` is malformed for the decoder and
/// gets [`NO_PAIR`] here.
pub fn steer_hash_with_wire_len(
    cfg: &DecodeConfig,
    link: LinkType,
    frame: &[u8],
    wire_len: u32,
) -> u64 {
    peek(
        cfg,
        link,
        frame,
        usize::try_from(wire_len).unwrap_or(usize::MAX),
    )
}

/// The worker, in `0..workers`, that a steering hash belongs to; 0 when `workers` is 0 or 1.
///
/// Multiply-shift on the whole 64-bit hash (Lemire's fast range reduction): the high bits of
/// `hash * workers` pick the worker, so every worker count, not only powers of two, gets an
/// even share of uniformly spread hashes.
pub fn worker_of(hash: u64, workers: usize) -> usize {
    if workers <= 1 {
        return 0;
    }
    let n = u128::try_from(workers).unwrap_or(u128::from(u64::MAX));
    let w = (u128::from(hash) * n) >> 64;
    usize::try_from(w).unwrap_or(0)
}

/// Where a frame belongs, by connection: what [`steer`] returns.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Steer {
    /// No IP header to steer by (the frames [`steer_hash`] gives [`NO_PAIR`]).
    Unpaired,
    /// A whole packet: for TCP the connection's hash (address pair and ports, equal in both
    /// directions), for anything else its address pair's hash.
    Packet(u64),
    /// An IP fragment. Only a first fragment shows the ports, so a steering thread routes a
    /// datagram by its first fragment ([`Steer::Fragment::connection`]) and sends the other
    /// fragments of the same `datagram` the same way.
    Fragment {
        /// The datagram's key: address pair, identification and protocol.
        datagram: u64,
        /// The address pair's hash ([`steer_hash`]), for fragments whose first one never shows.
        pair: u64,
        /// For a first fragment whose data starts with a TCP header's ports: the connection's
        /// hash, equal to [`Steer::Packet`] of the connection's unfragmented packets.
        connection: Option<u64>,
        /// This is the datagram's first fragment (offset 0).
        first: bool,
    },
}

/// Steers `frame` by connection rather than by address pair: like
/// [`steer_hash_with_wire_len`], with the TCP ports in the hash when the packet shows them,
/// and fragments reported as such so that the caller can route every fragment of a datagram
/// where its first fragment goes (the stateful part, which this function leaves to the
/// caller). A first fragment is looked into: its data holds the headers the later fragments
/// lack, so a tunnel packet whose outer header was fragmented is steered by the connection
/// inside it, like that connection's whole packets. Hashing ports spreads the connections between two busy hosts (a gateway and a back
/// end) over every worker, where the pair hash puts them all on one.
pub fn steer(cfg: &DecodeConfig, link: LinkType, frame: &[u8], wire_len: u32) -> Steer {
    let wire = usize::try_from(wire_len).unwrap_or(usize::MAX);
    let mut stats = DecodeStats::default();
    let mut walker = Walker::peek(cfg, &mut stats, true);
    let stop = walker.run(frame, wire, Next::Link(link));
    let connection = |w: &Walker<'_>| match (w.ip_pair, w.ports) {
        (Some((src, dst)), Some((sp, dp))) => Some(connection_hash(pair_hash(src, dst), (src, sp), (dst, dp))),
        _ => None,
    };
    // A fragment is a fragment whatever the walk inside its data found (or failed on): its
    // datagram and its own pair are what every fragment of it shows.
    if let Some(f) = walker.fragment {
        let pair = pair_hash(f.src, f.dst);
        return Steer::Fragment {
            datagram: fmix64(pair ^ (u64::from(f.id) << 8 | u64::from(f.proto)).wrapping_mul(MUL)),
            pair,
            connection: if f.first { connection(&walker) } else { None },
            first: f.first,
        };
    }
    if let Stop::Error(_) = stop {
        return Steer::Unpaired;
    }
    let Some((src, dst)) = walker.ip_pair else { return Steer::Unpaired };
    Steer::Packet(connection(&walker).unwrap_or_else(|| pair_hash(src, dst)))
}

/// A connection's hash from its pair's hash and its two endpoints, equal in both directions.
fn connection_hash(pair: u64, a: (IpAddr, u16), b: (IpAddr, u16)) -> u64 {
    let (lo, hi) = if a <= b { (a.1, b.1) } else { (b.1, a.1) };
    let ports = (u64::from(lo) << 16) | u64::from(hi);
    fmix64(pair ^ ports.wrapping_mul(MUL))
}

fn peek(cfg: &DecodeConfig, link: LinkType, frame: &[u8], wire: usize) -> u64 {
    // The walker bumps layer counters as it goes; these are dropped with the call. A few
    // hundred bytes of stack, zeroed per call: cheaper than a branch on every counter.
    let mut stats = DecodeStats::default();
    let mut walker = Walker::peek(cfg, &mut stats, false);
    match walker.run(frame, wire, Next::Link(link)) {
        Stop::Error(_) => NO_PAIR,
        // A fragment or TCP (`Peeked`), or a payload that is not for the TCP path: the last IP
        // header read is the innermost. `Held` and `Reassembled` do not happen in a peek.
        Stop::Peeked | Stop::Skipped(_) | Stop::Tcp(_) | Stop::Held | Stop::Reassembled { .. } => {
            walker.ip_pair.map_or(NO_PAIR, |(a, b)| pair_hash(a, b))
        }
    }
}

/// 2^64 divided by the golden ratio: an odd multiplier whose products spread every input bit
/// over the high bits.
const MUL: u64 = 0x9e37_79b9_7f4a_7c15;
/// Starting values, one per address family, so that an IPv4 pair and the IPv6 pair with the
/// same numeric value (IPv4-compatible addresses) do not always meet.
const SEED_V4: u64 = 0x243f_6a88_85a3_08d3;
const SEED_V6: u64 = 0x1319_8a2e_0370_7344;

/// A symmetric hash of an address pair: the pair is ordered first.
///
/// Not a keyed hash, and not meant to be one: anyone who knows this function can choose
/// addresses that land on one worker. That buys an attacker little. Steering is per host pair,
/// so any one pair's traffic, however chosen, already lands on a single worker, under this hash
/// or the kernel's fanout hash alike; choosing many pairs for one worker only gathers on it the
/// traffic the attacker can send anyway, and that worker's queue is bounded and its drops
/// counted. What a spoofed flood can grow (flows, fragments, buffers) is bounded per worker by
/// the flow table's and fragment table's own limits, whatever the spread.
fn pair_hash(a: IpAddr, b: IpAddr) -> u64 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    match (lo, hi) {
        (IpAddr::V4(l), IpAddr::V4(h)) => {
            // Both addresses in one word: a bijection, so distinct IPv4 pairs never collide
            // before the finaliser, which is itself a bijection.
            let x = (u64::from(u32::from(l)) << 32) | u64::from(u32::from(h));
            fmix64(x ^ SEED_V4)
        }
        _ => {
            let (l, h) = (wide(lo), wide(hi));
            let mut x = SEED_V6;
            for w in [l >> 64, l, h >> 64, h] {
                // Truncation keeps the low 64 bits of each half, as meant.
                x = (x ^ (w as u64)).wrapping_mul(MUL).rotate_left(31);
            }
            fmix64(x)
        }
    }
}

fn wide(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// MurmurHash3's 64-bit finaliser: every input bit affects every output bit, so the high bits
/// that [`worker_of`] uses are as good as the low ones.
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn pair_hash_is_symmetric_and_separates_families() {
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(pair_hash(a, b), pair_hash(b, a));
        assert_ne!(pair_hash(a, b), pair_hash(a, a));
        let a6 = IpAddr::V6(Ipv6Addr::from(u128::from(u32::from(Ipv4Addr::new(
            10, 0, 0, 1,
        )))));
        let b6 = IpAddr::V6(Ipv6Addr::from(u128::from(u32::from(Ipv4Addr::new(
            10, 0, 0, 2,
        )))));
        assert_eq!(pair_hash(a6, b6), pair_hash(b6, a6));
        assert_ne!(pair_hash(a, b), pair_hash(a6, b6));
    }

    #[test]
    fn worker_of_stays_in_range() {
        for workers in [0usize, 1, 2, 3, 7, 8, 64] {
            for h in [0u64, 1, u64::MAX / 2, u64::MAX - 1, u64::MAX] {
                let w = worker_of(h, workers);
                assert!(w < workers.max(1), "{h} over {workers} gave {w}");
            }
        }
        assert_eq!(worker_of(u64::MAX, 8), 7);
        assert_eq!(worker_of(1u64 << 63, 2), 1);
        assert_eq!(worker_of((1u64 << 63) - 1, 2), 0);
    }
}
