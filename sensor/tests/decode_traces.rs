//! Real tunnel traces from Zeek's test suite (see /work/shared/pcaps/zeek-oracle/README.md).
//!
//! Expected numbers come from tshark on the same files (`tshark -Y tcp -T fields -e tcp.len`,
//! with `-d udp.port==32900,teredo` for the Teredo traces, whose relay uses a non-Teredo port),
//! and the connections from the http.log Zeek wrote for each trace.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use apitap_sensor::decode::{DecodeConfig, Decoded, Decoder, SkipReason};
use apitap_sensor::{LinkType, Timestamp};

fn trace(case: &str, file: &str) -> Vec<u8> {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "..",
        "shared",
        "pcaps",
        "zeek-oracle",
        case,
        file,
    ]
    .iter()
    .collect();
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A classic pcap file: (link type, records of (timestamp, captured bytes, original length)).
fn read_pcap(data: &[u8]) -> (LinkType, Vec<(Timestamp, Vec<u8>, u32)>) {
    let magic = &data[..4];
    let (le, nanos) = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => (true, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => (true, true),
        [0xa1, 0xb2, 0xc3, 0xd4] => (false, false),
        [0xa1, 0xb2, 0x3c, 0x4d] => (false, true),
        _ => panic!("not a classic pcap file: {magic:02x?}"),
    };
    let u32_at = |off: usize| {
        let b: [u8; 4] = data[off..off + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let link = LinkType::from_linktype(u32_at(20) & 0x0fff_ffff);
    let mut records = Vec::new();
    let mut off = 24;
    while off + 16 <= data.len() {
        let secs = u64::from(u32_at(off));
        let frac = u32_at(off + 4);
        let incl = u32_at(off + 8) as usize;
        let orig = u32_at(off + 12);
        let ts = Timestamp::from_parts(secs, if nanos { frac } else { frac * 1000 });
        records.push((ts, data[off + 16..off + 16 + incl].to_vec(), orig));
        off += 16 + incl;
    }
    assert_eq!(off, data.len(), "trailing bytes in the pcap");
    (link, records)
}

#[derive(Debug, Default)]
struct Summary {
    frames: usize,
    tcp: usize,
    tcp_v6: usize,
    payload_bytes: u64,
    wire_payload_bytes: u64,
    held: usize,
    skipped: BTreeMap<String, usize>,
    errors: Vec<String>,
    conns: Vec<(IpAddr, u16, IpAddr, u16)>,
}

fn run(case: &str, file: &str) -> (Summary, Decoder) {
    let (link, records) = read_pcap(&trace(case, file));
    let mut d = Decoder::new(DecodeConfig::default());
    let mut s = Summary::default();
    for (i, (ts, frame, orig)) in records.iter().enumerate() {
        s.frames += 1;
        match d.decode(*ts, link, frame, *orig) {
            Decoded::Tcp(seg) => {
                s.tcp += 1;
                s.tcp_v6 += usize::from(seg.src.is_ipv6());
                s.payload_bytes += seg.payload.len() as u64;
                s.wire_payload_bytes += u64::from(seg.payload_len);
                let c = (seg.src, seg.src_port, seg.dst, seg.dst_port);
                if !s.conns.contains(&c) {
                    s.conns.push(c);
                }
            }
            Decoded::Held => s.held += 1,
            Decoded::Skipped(r) => *s.skipped.entry(format!("{r:?}")).or_default() += 1,
            Decoded::Error(e) => s.errors.push(format!("frame {}: {e}", i + 1)),
        }
    }
    (s, d)
}

fn conn(src: &str, sport: u16, dst: &str, dport: u16) -> (IpAddr, u16, IpAddr, u16) {
    (src.parse().unwrap(), sport, dst.parse().unwrap(), dport)
}

#[test]
fn vxlan_trace() {
    let (s, d) = run(
        "core.tunnels.analyzer-confirmation",
        "vxlan-encapsulated-http.pcap",
    );
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!((s.frames, s.tcp, s.payload_bytes), (12, 12, 9299));
    assert_eq!(s.wire_payload_bytes, 9299);
    assert!(
        s.conns
            .contains(&conn("172.16.11.201", 40354, "54.86.237.188", 80)),
        "{:?}",
        s.conns
    );
    assert_eq!(d.stats().vxlan, 12);
}

#[test]
fn gtp_trace_with_different_uplink_and_downlink_ports() {
    let (s, d) = run(
        "core.tunnels.gtp.different_dl_and_ul",
        "gtp2_different_udp_port.pcap",
    );
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(
        (s.frames, s.tcp, s.held, s.payload_bytes),
        (120, 78, 42, 64562)
    );
    assert!(s.skipped.is_empty(), "{:?}", s.skipped);
    assert!(
        s.conns
            .contains(&conn("10.131.17.170", 51803, "173.199.115.168", 80)),
        "{:?}",
        s.conns
    );
    assert_eq!(d.stats().defrag.reassembled, 42);
    assert_eq!(d.pending_fragment_datagrams(), 0);
}

#[test]
fn gtp_trace_with_fragmented_outer_ip() {
    let (s, d) = run(
        "core.tunnels.gtp.outer_ip_frag",
        "gtp1_gn_normal_incl_fragmentation.pcap",
    );
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(
        (s.frames, s.tcp, s.held, s.payload_bytes),
        (108, 68, 40, 53042)
    );
    assert!(
        s.conns
            .contains(&conn("10.131.47.185", 1923, "79.101.110.141", 80)),
        "{:?}",
        s.conns
    );
    // 36 first fragments have their second fragment in the trace (tshark: 36 frames with
    // offset 185); 4 (frames 80, 90, 92, ...) lost it and stay pending until the timeout.
    assert_eq!(d.stats().defrag.reassembled, 36);
    assert_eq!(d.pending_fragment_datagrams(), 4);
}

#[test]
fn teredo_trace() {
    let (s, d) = run("core.tunnels.teredo", "Teredo.pcap");
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(
        (s.frames, s.tcp, s.tcp_v6, s.payload_bytes),
        (78, 55, 22, 17488)
    );
    // DNS, DHCP, NetBIOS: 16 plain UDP; 3 bubbles; 4 ICMPv6.
    assert_eq!(s.skipped.get(&format!("{:?}", SkipReason::Udp)), Some(&16));
    assert_eq!(
        s.skipped.get(&format!("{:?}", SkipReason::NoNextHeader)),
        Some(&3)
    );
    assert_eq!(
        s.skipped.get(&format!("{:?}", SkipReason::IpProtocol(58))),
        Some(&4)
    );
    for c in [
        conn("192.168.2.16", 1578, "75.126.203.78", 80),
        conn(
            "2001:0:4137:9e50:8000:f12a:b9c8:2815",
            1286,
            "2001:4860:0:2001::68",
            80,
        ),
        conn("192.168.2.16", 1580, "67.228.110.120", 80),
    ] {
        assert!(s.conns.contains(&c), "{c:?} not in {:?}", s.conns);
    }
    assert_eq!(d.stats().teredo, 29);
}

#[test]
fn teredo_bubble_with_payload_trace() {
    let (s, _) = run(
        "core.tunnels.teredo_bubble_with_payload",
        "teredo_bubble_with_payload.pcap",
    );
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(
        (s.frames, s.tcp, s.tcp_v6, s.payload_bytes),
        (29, 22, 22, 12142)
    );
    assert_eq!(
        s.skipped.get(&format!("{:?}", SkipReason::NoNextHeader)),
        Some(&3)
    );
    assert_eq!(
        s.skipped.get(&format!("{:?}", SkipReason::IpProtocol(58))),
        Some(&4)
    );
}
