//! Checksums and the TCP timestamps option: read, never acted on here.
//!
//! A mirror port sees what crossed the wire, so a bad checksum there is corruption or a
//! crafted packet (an endpoint would drop it); a capture taken on an end host sees its own
//! outgoing packets before the NIC fills their checksums in (offload). Neither case is a reason
//! to drop the packet from a passive sensor's view, so the decoder only counts what does not
//! verify ([`DecodeStats::ipv4_checksum_bad`](super::DecodeStats::ipv4_checksum_bad),
//! [`DecodeStats::tcp_checksum_bad`](super::DecodeStats::tcp_checksum_bad)).

use std::net::IpAddr;

/// TCP option kinds read here.
const OPT_END: u8 = 0;
const OPT_NOP: u8 = 1;
const OPT_TIMESTAMPS: u8 = 8;

/// Bytes summed per step into 16 lanes of 32 bits.
const STEP: usize = 32;

/// Steps per block: each lane takes one 16-bit word per step, and 32,768 words of at most
/// 0xffff stay below 2^31, so lanes cannot overflow within a block.
const STEPS_PER_BLOCK: usize = 1 << 15;

/// Sum of `bytes` taken as little-endian 16-bit words (a last odd byte padded with zero), for
/// a ones' complement checksum. That sum does not depend on byte order (RFC 1071 §2) as long
/// as every part of the checksummed data is summed the same way, so no byte is swapped; and
/// fixed-size steps into independent 32-bit lanes, without carry handling, let the compiler
/// vectorise the loop, which matters: every TCP byte goes through it.
fn word_sum(bytes: &[u8]) -> u64 {
    let mut sum = 0u64;
    let mut steps = bytes.chunks_exact(STEP);
    let mut lanes = [0u32; STEP / 2];
    let mut in_block = 0;
    for step in steps.by_ref() {
        for (lane, w) in lanes.iter_mut().zip(step.chunks_exact(2)) {
            *lane += <[u8; 2]>::try_from(w).map_or(0, |w| u32::from(u16::from_le_bytes(w)));
        }
        in_block += 1;
        if in_block == STEPS_PER_BLOCK {
            sum += lanes.iter().map(|l| u64::from(*l)).sum::<u64>();
            lanes = [0; STEP / 2];
            in_block = 0;
        }
    }
    sum += lanes.iter().map(|l| u64::from(*l)).sum::<u64>();
    let mut words = steps.remainder().chunks_exact(2);
    for w in words.by_ref() {
        sum += <[u8; 2]>::try_from(w).map_or(0, |w| u64::from(u16::from_le_bytes(w)));
    }
    sum + words.remainder().first().map_or(0, |b| u64::from(*b))
}

/// Whether a ones' complement sum over data that includes its checksum field verifies.
fn verifies(mut sum: u64) -> bool {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

/// Whether the IPv4 header at the start of `bytes` has a checksum that verifies. `true` when
/// the header is not all there (the decoder reports that as truncation).
pub(crate) fn ipv4_header_ok(bytes: &[u8]) -> bool {
    let ihl = bytes.first().map_or(0, |b| usize::from(b & 0x0f) * 4);
    match bytes.get(..ihl) {
        Some(header) if ihl >= 20 => verifies(word_sum(header)),
        _ => true,
    }
}

/// Whether the TCP segment `segment` (header and payload, complete) between `src` and `dst`
/// has a checksum that verifies. `None` when it cannot be told: a segment too long for the
/// IPv4 pseudo-header's 16-bit length, or addresses of two families.
pub(crate) fn tcp_ok(src: IpAddr, dst: IpAddr, segment: &[u8]) -> Option<bool> {
    // The pseudo-header's bytes in wire order, summed like the segment's.
    let pseudo = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let [hi, lo] = u16::try_from(segment.len()).ok()?.to_be_bytes();
            word_sum(&s.octets()) + word_sum(&d.octets()) + word_sum(&[0, 6, hi, lo])
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let [a, b, c, e] = u32::try_from(segment.len()).ok()?.to_be_bytes();
            word_sum(&s.octets()) + word_sum(&d.octets()) + word_sum(&[a, b, c, e, 0, 0, 0, 6])
        }
        _ => return None,
    };
    // Summing over the checksum field as well gives 0xffff (in either byte order) when it is
    // right.
    Some(verifies(pseudo + word_sum(segment)))
}

/// The TSval of a timestamps option among TCP `options`, if there is a well-formed one. A
/// malformed options area (a length running past its end, or below 2) ends the search.
pub(crate) fn tsval(options: &[u8]) -> Option<u32> {
    let mut rest = options;
    while let Some((&kind, after)) = rest.split_first() {
        match kind {
            OPT_END => return None,
            OPT_NOP => rest = after,
            _ => {
                let len = usize::from(*after.first()?);
                if len < 2 {
                    return None;
                }
                let option = rest.get(..len)?;
                if kind == OPT_TIMESTAMPS {
                    let value: [u8; 4] = option.get(2..6)?.try_into().ok()?;
                    return (len == 10).then_some(u32::from_be_bytes(value));
                }
                rest = rest.get(len..)?;
            }
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    #[test]
    fn a_built_packet_verifies_and_one_flipped_bit_does_not() {
        let b = PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).tcp(1234, 80, 7, 1000);
        let mut pkt = Vec::new();
        b.write(&mut pkt, b"hello, odd length").unwrap();
        let src: IpAddr = "10.0.0.1".parse().unwrap();
        let dst: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(ipv4_header_ok(&pkt));
        assert_eq!(tcp_ok(src, dst, &pkt[20..]), Some(true));
        let mut bad = pkt.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(tcp_ok(src, dst, &bad[20..]), Some(false));
        bad[8] ^= 0x10; // TTL: only the IP header checksum covers it
        assert!(!ipv4_header_ok(&bad));
        // The same bytes between other addresses do not verify: the pseudo-header counts.
        assert_eq!(
            tcp_ok(src, "10.0.0.3".parse().unwrap(), &pkt[20..]),
            Some(false)
        );
        assert_eq!(tcp_ok(src, "::1".parse().unwrap(), &pkt[20..]), None);
    }

    #[test]
    fn ipv6_segments_verify_too() {
        let b = PacketBuilder::ipv6([1; 16], [2; 16], 64).tcp(1234, 80, 7, 1000);
        let mut pkt = Vec::new();
        b.write(&mut pkt, b"abc").unwrap();
        let src = IpAddr::from([1u8; 16]);
        let dst = IpAddr::from([2u8; 16]);
        assert_eq!(tcp_ok(src, dst, &pkt[40..]), Some(true));
        pkt[45] ^= 0xff;
        assert_eq!(tcp_ok(src, dst, &pkt[40..]), Some(false));
    }

    #[test]
    fn the_lane_sum_folds_to_the_plain_16_bit_sum_at_every_length() {
        let fold = |mut s: u64| {
            while s > 0xffff {
                s = (s & 0xffff) + (s >> 16);
            }
            s
        };
        // All 0xff bytes are the worst case for the lanes; the longest input crosses the
        // point where the lanes are emptied into the total (1 MiB).
        let mut x = 0x1234_5678_u32;
        let random: Vec<u8> = (0..5000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let ones = vec![0xffu8; (1 << 20) + 67];
        for bytes in [
            &random[..],
            &random[..1],
            &random[..33],
            &random[..4999],
            &ones[..],
        ] {
            let plain: u64 = bytes
                .chunks(2)
                .map(|w| u64::from(w[0]) | u64::from(*w.get(1).unwrap_or(&0)) << 8)
                .sum();
            assert_eq!(fold(word_sum(bytes)), fold(plain), "length {}", bytes.len());
        }
    }

    #[test]
    fn timestamps_option_among_others() {
        // MSS, NOP, NOP, timestamps (TSval 0x01020304), window scale.
        let opts = [
            2, 4, 5, 0xb4, 1, 1, 8, 10, 1, 2, 3, 4, 0, 0, 0, 9, 3, 3, 7, 0,
        ];
        assert_eq!(tsval(&opts), Some(0x0102_0304));
        assert_eq!(
            tsval(&[1, 1, 0, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0]),
            None,
            "after the end"
        );
        assert_eq!(tsval(&[8, 10, 1, 2, 3]), None, "cut short");
        assert_eq!(
            tsval(&[2, 0, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0]),
            None,
            "length 0"
        );
        assert_eq!(tsval(&[8, 6, 1, 2, 3, 4]), None, "wrong length");
        assert_eq!(tsval(&[]), None);
    }
}
