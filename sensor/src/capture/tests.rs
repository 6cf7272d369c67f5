#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::*;

fn pcap_header(magic: u32, big_endian: bool, linktype: u32) -> Vec<u8> {
    let mut v = Vec::new();
    let w32 = |v: &mut Vec<u8>, x: u32| v.extend(if big_endian { x.to_be_bytes() } else { x.to_le_bytes() });
    w32(&mut v, magic);
    v.extend(if big_endian { 2u16.to_be_bytes() } else { 2u16.to_le_bytes() });
    v.extend(if big_endian { 4u16.to_be_bytes() } else { 4u16.to_le_bytes() });
    w32(&mut v, 0);
    w32(&mut v, 0);
    w32(&mut v, 65535);
    w32(&mut v, linktype);
    v
}

fn pcap_record(v: &mut Vec<u8>, big_endian: bool, secs: u32, frac: u32, data: &[u8], orig: u32) {
    for x in [secs, frac, data.len() as u32, orig] {
        v.extend(if big_endian { x.to_be_bytes() } else { x.to_le_bytes() });
    }
    v.extend(data);
}

/// Feeds the whole buffer and collects (ts, link, data, wire_len, iface).
type Rec = (Timestamp, LinkType, Vec<u8>, u32, u32);

fn read_all(buf: &[u8]) -> Result<Vec<Rec>, CaptureError> {
    let mut p = CaptureParser::new();
    let mut pos = 0;
    let mut out = Vec::new();
    loop {
        let (n, parsed) = p.parse(&buf[pos..])?;
        match parsed {
            Parsed::Packet(r) => out.push((r.ts, r.link, r.data.to_vec(), r.wire_len, r.interface)),
            Parsed::Other => {}
            Parsed::BadRecord(e) => return Err(e),
            Parsed::NeedMore(_) => return Ok(out),
        }
        pos += n;
    }
}

#[test]
fn pcap_microseconds_little_endian() {
    let mut f = pcap_header(0xa1b2c3d4, false, 1);
    pcap_record(&mut f, false, 1_700_000_000, 250_000, b"abc", 60);
    let recs = read_all(&f).unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].0, Timestamp(1_700_000_000_250_000_000));
    assert_eq!(recs[0].1, LinkType::Ethernet);
    assert_eq!(recs[0].2, b"abc");
    assert_eq!(recs[0].3, 60);
}

#[test]
fn pcap_nanoseconds_big_endian() {
    let mut f = pcap_header(0xa1b23c4d, true, 101);
    pcap_record(&mut f, true, 10, 123_456_789, b"xy", 2);
    pcap_record(&mut f, true, 11, 1, b"z", 1);
    let recs = read_all(&f).unwrap();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].0, Timestamp(10_123_456_789));
    assert_eq!(recs[0].1, LinkType::Raw);
    assert_eq!(recs[1].0, Timestamp(11_000_000_001));
}

#[test]
fn pcap_truncated_record_needs_more_and_corrupt_length_is_an_error() {
    let mut f = pcap_header(0xa1b2c3d4, false, 1);
    pcap_record(&mut f, false, 1, 0, &[7u8; 100], 100);
    let cut = &f[..f.len() - 10];
    assert!(read_all(cut).unwrap().is_empty());
    let mut g = pcap_header(0xa1b2c3d4, false, 1);
    pcap_record(&mut g, false, 1, 0, b"", 0);
    let at = g.len() - 8;
    g[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = read_all(&g).unwrap_err();
    assert!(matches!(err, CaptureError::BadLength { offset: 24, .. }), "{err}");
}

#[test]
fn unknown_magic_is_named() {
    let err = read_all(b"GET / HTTP/1.1\r\n").unwrap_err();
    assert_eq!(err, CaptureError::UnknownFormat { magic: *b"GET " });
    assert!(err.to_string().contains("not a pcap"));
}

fn block(t: u32, body: &[u8]) -> Vec<u8> {
    let padded = body.len().div_ceil(4) * 4;
    let len = (12 + padded) as u32;
    let mut v = Vec::new();
    v.extend(t.to_le_bytes());
    v.extend(len.to_le_bytes());
    v.extend(body);
    v.resize(8 + padded, 0);
    v.extend(len.to_le_bytes());
    v
}

fn shb() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(0x1a2b3c4du32.to_le_bytes());
    body.extend(1u16.to_le_bytes());
    body.extend(0u16.to_le_bytes());
    body.extend((-1i64).to_le_bytes());
    block(0x0a0d0d0a, &body)
}

fn idb(linktype: u16, tsresol: Option<u8>) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(linktype.to_le_bytes());
    body.extend(0u16.to_le_bytes());
    body.extend(262144u32.to_le_bytes());
    if let Some(r) = tsresol {
        body.extend(9u16.to_le_bytes());
        body.extend(1u16.to_le_bytes());
        body.extend([r, 0, 0, 0]);
        body.extend([0u8; 4]);
    }
    block(1, &body)
}

fn epb(iface: u32, ts: u64, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(iface.to_le_bytes());
    body.extend(((ts >> 32) as u32).to_le_bytes());
    body.extend((ts as u32).to_le_bytes());
    body.extend((data.len() as u32).to_le_bytes());
    body.extend((data.len() as u32).to_le_bytes());
    body.extend(data);
    block(6, &body)
}

#[test]
fn pcapng_several_interfaces_link_types_and_resolutions() {
    let mut f = shb();
    f.extend(idb(1, None)); // Ethernet, microseconds
    f.extend(idb(113, Some(9))); // Linux SLL, nanoseconds
    f.extend(idb(101, Some(0x80 | 10))); // raw IP, 2^-10 s
    f.extend(epb(0, 5_000_001, b"eth"));
    f.extend(block(5, b"stat")); // interface statistics: skipped
    f.extend(epb(1, 7_000_000_003, b"sll!"));
    f.extend(epb(2, 3 * 1024 + 512, b"raw"));
    let recs = read_all(&f).unwrap();
    assert_eq!(recs.len(), 3);
    assert_eq!((recs[0].0, recs[0].1, recs[0].4), (Timestamp(5_000_001_000), LinkType::Ethernet, 0));
    assert_eq!((recs[1].0, recs[1].1, recs[1].4), (Timestamp(7_000_000_003), LinkType::LinuxSll, 1));
    assert_eq!((recs[2].0, recs[2].1), (Timestamp(3_500_000_000), LinkType::Raw));
    assert_eq!(recs[1].2, b"sll!");
}

#[test]
fn pcapng_new_section_resets_interfaces() {
    let mut f = shb();
    f.extend(idb(1, None));
    f.extend(shb());
    f.extend(epb(0, 1, b"x"));
    let (recs, bad) = read_counting_bad(&f);
    assert!(recs.is_empty());
    assert!(bad[0].to_string().contains("interface that was not described"), "{}", bad[0]);
}

#[test]
fn pcapng_mismatched_trailing_length_is_an_error() {
    let mut f = shb();
    let mut b = idb(1, None);
    let n = b.len();
    b[n - 4] ^= 4;
    f.extend(b);
    assert!(matches!(read_all(&f), Err(CaptureError::BadLength { .. })));
}

#[test]
fn random_bytes_never_panic() {
    let mut seed = 0x9e3779b97f4a7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut valid = shb();
    valid.extend(idb(1, Some(6)));
    valid.extend(epb(0, 99, b"payload"));
    let mut pcap = pcap_header(0xa1b2c3d4, false, 1);
    pcap_record(&mut pcap, false, 1, 2, b"abcdef", 6);
    for base in [valid, pcap] {
        for _ in 0..2000 {
            let mut f = base.clone();
            let flips = (next() % 4 + 1) as usize;
            for _ in 0..flips {
                let i = (next() as usize) % f.len();
                f[i] = next() as u8;
            }
            let cut = (next() as usize) % (f.len() + 1);
            let _ = read_all(&f[..cut]);
        }
    }
}

/// Reads everything, counting bad records instead of stopping at them.
fn read_counting_bad(buf: &[u8]) -> (Vec<Rec>, Vec<CaptureError>) {
    let mut p = CaptureParser::new();
    let (mut pos, mut out, mut bad) = (0, Vec::new(), Vec::new());
    loop {
        let (n, parsed) = p.parse(&buf[pos..]).unwrap();
        match parsed {
            Parsed::Packet(r) => out.push((r.ts, r.link, r.data.to_vec(), r.wire_len, r.interface)),
            Parsed::Other => {}
            Parsed::BadRecord(e) => bad.push(e),
            Parsed::NeedMore(_) => return (out, bad),
        }
        pos += n;
    }
}

#[test]
fn a_packet_naming_an_undescribed_interface_is_a_bad_record_and_reading_goes_on() {
    let mut f = shb();
    f.extend(idb(1, None));
    f.extend(epb(3, 1, b"lost"));
    f.extend(epb(0, 2, b"kept"));
    let (recs, bad) = read_counting_bad(&f);
    assert_eq!(bad.len(), 1);
    assert!(bad[0].to_string().contains("interface that was not described"), "{}", bad[0]);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].2, b"kept");
}

#[test]
fn a_microsecond_fraction_of_a_full_second_carries_over() {
    let mut f = pcap_header(0xa1b2c3d4, false, 1);
    pcap_record(&mut f, false, 7, 1_000_000, b"a", 1);
    pcap_record(&mut f, false, 8, 5, b"b", 1);
    let recs = read_all(&f).unwrap();
    assert_eq!(recs[0].0, Timestamp(8_000_000_000));
    assert_eq!(recs[1].0, Timestamp(8_000_005_000));
}

#[test]
fn simple_packet_blocks_take_the_previous_packets_time() {
    let mut f = shb();
    f.extend(idb(1, Some(9)));
    f.extend(epb(0, 42_000_000_001, b"first"));
    let mut spb = Vec::new();
    spb.extend(4u32.to_le_bytes());
    spb.extend(b"spb!");
    f.extend(block(3, &spb));
    let recs = read_all(&f).unwrap();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[1].2, b"spb!");
    assert_eq!(recs[1].0, Timestamp(42_000_000_001));
}

#[test]
fn an_unusable_interface_description_keeps_the_numbering_of_the_next_ones() {
    let mut f = shb();
    f.extend(block(1, &[1, 0])); // truncated interface description: interface 0
    f.extend(idb(101, None)); // interface 1, raw IP
    f.extend(epb(0, 1, b"on-bad"));
    f.extend(epb(1, 2, b"on-raw"));
    let (recs, bad) = read_counting_bad(&f);
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert_eq!(recs.len(), 1);
    assert_eq!((recs[0].1, recs[0].4, recs[0].2.as_slice()), (LinkType::Raw, 1, b"on-raw".as_slice()));
}

#[test]
fn simple_packets_on_an_interface_with_snaplen_zero_are_not_cut() {
    let mut f = shb();
    let mut body = Vec::new();
    body.extend(1u16.to_le_bytes());
    body.extend(0u16.to_le_bytes());
    body.extend(0u32.to_le_bytes()); // snaplen 0: no limit
    f.extend(block(1, &body));
    let mut spb = Vec::new();
    spb.extend(6u32.to_le_bytes());
    spb.extend(b"abcdef");
    f.extend(block(3, &spb));
    let recs = read_all(&f).unwrap();
    assert_eq!(recs[0].2, b"abcdef");
}
