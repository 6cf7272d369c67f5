//! The TCP/IP robustness cases other passive sensors are tested against, end to end: crafted
//! captures through the real `apitap read` (decode, flow table, HTTP), checked on the records
//! and the run summary's counters. docs/robustness.md maps each case to its test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::net::Ipv4Addr;

use common::{ethernet, read, write_pcap, Conversation, Side};
use etherparse::{PacketBuilder, TcpOptionElement};

const CLIENT: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 1, 0, 7), 50123);
const SERVER: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 2, 0, 9), 8443);

const REQ: &[u8] = b"GET /open-banking/v4.0/aisp/accounts HTTP/1.1\r\nHost: api.bank.example\r\n\r\n";
const RESP: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"Data\":{}}";

/// One TCP segment from `side` of `c`'s endpoints, with an optional timestamps option.
fn seg(c: &Conversation, side: Side, seq: u32, ack: Option<u32>, flags: &str, payload: &[u8], tsval: Option<u32>) -> Vec<u8> {
    let (src, dst) = match side {
        Side::Client => (c.client, c.server),
        Side::Server => (c.server, c.client),
    };
    let mut b = PacketBuilder::ipv4(src.0.octets(), dst.0.octets(), 64).tcp(src.1, dst.1, seq, 65000);
    if let Some(ts) = tsval {
        b = b.options(&[TcpOptionElement::Noop, TcpOptionElement::Noop, TcpOptionElement::Timestamp(ts, 0)]).unwrap();
    }
    for f in flags.chars() {
        b = match f {
            'S' => b.syn(),
            'F' => b.fin(),
            'R' => b.rst(),
            'P' => b.psh(),
            _ => b,
        };
    }
    if let Some(a) = ack {
        b = b.ack(a);
    }
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

/// Appends a packet 1 ms after the previous one.
fn add(c: &mut Conversation, side: Side, pkt: Vec<u8>) {
    c.ts += 1_000_000;
    c.packets.push((c.ts, side, pkt));
}

/// Writes the conversation as an Ethernet pcap and reads it with `apitap read`.
fn run(c: &Conversation, name: &str) -> (Vec<serde_json::Value>, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let frames: Vec<(u64, Vec<u8>)> = c.packets.iter().map(|(ts, _, ip)| (*ts, ethernet(ip, &[]))).collect();
    let pcap = dir.path().join(format!("{name}.pcap"));
    write_pcap(&pcap, 1, false, &frames);
    let (recs, summary, out) = read(&[&pcap], &dir.path().join("out"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (recs, summary)
}

fn counter(summary: &serde_json::Value, stage: &str, name: &str) -> u64 {
    summary["stages"][stage][name].as_u64().unwrap_or_else(|| panic!("no {stage}.{name} in {summary}"))
}

fn events(r: &serde_json::Value) -> Vec<String> {
    r["events"].as_array().map(|a| a.iter().map(|e| e.as_str().unwrap().to_string()).collect()).unwrap_or_default()
}

/// The one exchange of these tests, oriented and complete.
fn assert_exchange(r: &serde_json::Value) {
    assert_eq!(r["orig_h"], "10.1.0.7", "{r}");
    assert_eq!(r["orig_p"], 50123);
    assert_eq!(r["resp_p"], 8443);
    assert_eq!(r["method"], "GET");
    assert_eq!(r["uri"], "/open-banking/v4.0/aisp/accounts");
    assert_eq!(r["status_code"], 200);
    assert_eq!(r["response_body_len"], 11);
}

#[test]
fn duplicated_mirror_packets_give_the_same_transaction_once() {
    let c = Conversation::http(CLIENT, SERVER, &[(REQ, RESP), (REQ, RESP)]);
    let (clean, clean_summary) = run(&c, "clean");
    let mut dup = Conversation::new(CLIENT, SERVER);
    for (ts, side, pkt) in &c.packets {
        dup.packets.push((*ts, *side, pkt.clone()));
        dup.packets.push((ts + 1_000, *side, pkt.clone()));
    }
    let (recs, summary) = run(&dup, "dup");
    assert_eq!(recs.len(), 2, "{recs:?}");
    for (r, want) in recs.iter().zip(&clean) {
        assert_exchange(r);
        assert!(r.get("events").is_none(), "{r}");
        assert_eq!(r["uid"], want["uid"]);
    }
    assert_eq!(counter(&summary, "tcp", "bytes_delivered"), counter(&clean_summary, "tcp", "bytes_delivered"));
    assert_eq!(counter(&summary, "tcp", "flows_opened"), 1);
    assert_eq!(counter(&summary, "tcp", "overlap_mismatches"), 0);
    // Every data segment came twice: the copies were compared and dropped.
    let data_segments = c.packets.iter().filter(|p| p.2.len() > 40).count() as u64;
    assert_eq!(counter(&summary, "tcp", "retransmissions"), data_segments);
}

#[test]
fn one_sided_capture_of_either_direction_still_yields_the_half_it_saw() {
    let c = Conversation::http(CLIENT, SERVER, &[(REQ, RESP)]);
    for (keep, name) in [(Side::Client, "requests-only"), (Side::Server, "responses-only")] {
        let mut half = Conversation::new(CLIENT, SERVER);
        half.packets = c.packets.iter().filter(|p| p.1 == keep).cloned().collect();
        let (recs, summary) = run(&half, name);
        assert_eq!(recs.len(), 1, "{name}: {recs:?}");
        let r = &recs[0];
        assert_eq!((r["orig_h"].as_str(), r["resp_p"].as_u64()), (Some("10.1.0.7"), Some(8443)), "{name}: {r}");
        if keep == Side::Client {
            assert_eq!(r["uri"], "/open-banking/v4.0/aisp/accounts", "{r}");
            assert!(r["status_code"].is_null(), "{r}");
        } else {
            assert_eq!(r["status_code"], 200, "{r}");
            assert_eq!(r["response_body_len"], 11, "{r}");
            assert!(r["method"].is_null(), "{r}");
        }
        assert_eq!(counter(&summary, "tcp", "gaps"), 0, "{name}");
    }
}

#[test]
fn split_handshake_keeps_the_client_as_originator() {
    // SYN, SYN (the server's, without ACK), SYN-ACK from the client, ACK from the server.
    let mut c = Conversation::new(CLIENT, SERVER);
    let (cs, ss) = (c.client_seq, c.server_seq);
    for (side, pkt) in [
        (Side::Client, seg(&c, Side::Client, cs, None, "S", b"", None)),
        (Side::Server, seg(&c, Side::Server, ss, None, "S", b"", None)),
        (Side::Client, seg(&c, Side::Client, cs, Some(ss + 1), "S", b"", None)),
        (Side::Server, seg(&c, Side::Server, ss + 1, Some(cs + 1), "", b"", None)),
    ] {
        add(&mut c, side, pkt);
    }
    c.client_seq += 1;
    c.server_seq += 1;
    c.send(Side::Client, REQ);
    c.send(Side::Server, RESP);
    c.close();
    let (recs, summary) = run(&c, "split");
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_exchange(&recs[0]);
    assert!(recs[0].get("events").is_none(), "{}", recs[0]);
    assert_eq!(counter(&summary, "app", "http_connections_reversed"), 0);
}

#[test]
fn request_carried_on_the_syn_is_parsed() {
    // TCP Fast Open: the request rides on the SYN and the SYN-ACK acknowledges it.
    let mut c = Conversation::new(CLIENT, SERVER);
    let (cs, ss) = (c.client_seq, c.server_seq);
    let after = cs + 1 + REQ.len() as u32;
    let pkt = seg(&c, Side::Client, cs, None, "S", REQ, None);
    add(&mut c, Side::Client, pkt);
    let pkt = seg(&c, Side::Server, ss, Some(after), "S", b"", None);
    add(&mut c, Side::Server, pkt);
    let pkt = seg(&c, Side::Client, after, Some(ss + 1), "", b"", None);
    add(&mut c, Side::Client, pkt);
    c.client_seq = after;
    c.server_seq = ss + 1;
    c.send(Side::Server, RESP);
    c.close();
    let (recs, _) = run(&c, "tfo");
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_exchange(&recs[0]);
}

#[test]
fn retransmission_with_different_bytes_keeps_the_first_copy_and_says_so() {
    let mut c = Conversation::new(CLIENT, SERVER);
    c.handshake();
    let (cs, ss) = (c.client_seq, c.server_seq);
    let forged = b"GET /open-banking/v4.0/aisp/transfer HTTP/1.1\r\nHost: api.bank.example\r\n\r\n";
    assert_eq!(forged.len(), REQ.len());
    let pkt = seg(&c, Side::Client, cs, Some(ss), "P", REQ, None);
    add(&mut c, Side::Client, pkt);
    let pkt = seg(&c, Side::Client, cs, Some(ss), "P", forged, None);
    add(&mut c, Side::Client, pkt);
    c.client_seq = cs + REQ.len() as u32;
    c.send(Side::Server, RESP);
    c.close();
    let (recs, summary) = run(&c, "rexmit");
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_exchange(&recs[0]);
    assert_eq!(events(&recs[0]), vec!["tcp_overlap_mismatch"]);
    assert_eq!(counter(&summary, "tcp", "overlap_mismatches"), 1);
}

#[test]
fn an_injected_rst_inside_the_window_does_not_end_the_exchange() {
    let mut c = Conversation::new(CLIENT, SERVER);
    c.handshake();
    let (cs, ss) = (c.client_seq, c.server_seq);
    let (head, rest) = REQ.split_at(20);
    let pkt = seg(&c, Side::Client, cs, Some(ss), "P", head, None);
    add(&mut c, Side::Client, pkt);
    // In the server's window, 700 bytes ahead of its next byte: not where the client expects it.
    let pkt = seg(&c, Side::Server, ss + 700, None, "R", b"", None);
    add(&mut c, Side::Server, pkt);
    let pkt = seg(&c, Side::Client, cs + 20, Some(ss), "P", rest, None);
    add(&mut c, Side::Client, pkt);
    c.client_seq = cs + REQ.len() as u32;
    c.send(Side::Server, RESP);
    c.close();
    let (recs, summary) = run(&c, "rst");
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_exchange(&recs[0]);
    assert_eq!(events(&recs[0]), vec!["tcp_reset_ignored"]);
    assert_eq!(counter(&summary, "tcp", "resets_in_window"), 1);
    assert_eq!(counter(&summary, "tcp", "closed_reset"), 0);
    assert_eq!(counter(&summary, "tcp", "data_after_close"), 0);
}

#[test]
fn paws_keeps_an_old_stamped_insertion_out_of_the_request() {
    // The attacker's segment carries an older timestamp than the client's last one: the server
    // drops it, and so does the sensor, so the real request is the one reported.
    let mut c = Conversation::new(CLIENT, SERVER);
    let (cs, ss) = (c.client_seq, c.server_seq);
    let forged = b"GET /open-banking/v4.0/aisp/transfer HTTP/1.1\r\nHost: api.bank.example\r\n\r\n";
    let pkts = [
        (Side::Client, seg(&c, Side::Client, cs, None, "S", b"", Some(500))),
        (Side::Server, seg(&c, Side::Server, ss, Some(cs + 1), "S", b"", Some(9000))),
        (Side::Client, seg(&c, Side::Client, cs + 1, Some(ss + 1), "", b"", Some(501))),
        (Side::Client, seg(&c, Side::Client, cs + 1, Some(ss + 1), "P", &forged[..], Some(400))),
        (Side::Client, seg(&c, Side::Client, cs + 1, Some(ss + 1), "P", REQ, Some(502))),
    ];
    for (side, pkt) in pkts {
        add(&mut c, side, pkt);
    }
    c.client_seq = cs + 1 + REQ.len() as u32;
    c.server_seq = ss + 1;
    c.send(Side::Server, RESP);
    c.close();
    let (recs, summary) = run(&c, "paws");
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_exchange(&recs[0]);
    assert_eq!(events(&recs[0]), vec!["tcp_paws_rejected"]);
    assert_eq!(counter(&summary, "tcp", "paws_rejected"), 1);
    assert_eq!(counter(&summary, "tcp", "overlap_mismatches"), 0);
}

/// Recomputes the IPv4 header checksum of `ip` after its header was edited.
fn fix_ipv4_checksum(ip: &mut [u8]) {
    ip[10] = 0;
    ip[11] = 0;
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let mut sum: u32 = ip[..ihl].chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}

#[test]
fn offload_super_frame_and_bad_checksums_are_parsed_and_counted() {
    // The request is one 20 KiB TSO super-frame recorded with an IP total length of zero; one
    // response segment has a TCP checksum that does not verify. Neither is dropped.
    let mut req = format!("POST /payments HTTP/1.1\r\nHost: api.bank.example\r\nContent-Length: {}\r\n\r\n", 20_000).into_bytes();
    req.extend(std::iter::repeat_n(b'7', 20_000));
    let resp: &[u8] = b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}";
    let mut c = Conversation::new(CLIENT, SERVER);
    c.mss = 60_000;
    c.handshake();
    c.send(Side::Client, &req);
    c.send(Side::Server, resp);
    c.close();
    let big = c.packets.iter().position(|p| p.2.len() > 20_000).unwrap();
    let ip = &mut c.packets[big].2;
    ip[2] = 0;
    ip[3] = 0;
    fix_ipv4_checksum(ip);
    let small = c.packets.iter().position(|p| p.1 == Side::Server && p.2.len() > 40).unwrap();
    let ip = &mut c.packets[small].2;
    ip[36] ^= 0xff; // the TCP checksum field
    let (recs, summary) = run(&c, "offload");
    assert_eq!(recs.len(), 1, "{recs:?}");
    let r = &recs[0];
    assert_eq!(r["method"], "POST");
    assert_eq!(r["request_body_len"], 20_000);
    assert_eq!(r["status_code"], 201);
    assert!(r.get("request_gap").is_none() && r.get("response_gap").is_none(), "{r}");
    assert_eq!(counter(&summary, "decode", "ip_length_zero"), 1);
    assert_eq!(counter(&summary, "decode", "tcp_checksum_bad"), 1);
    assert_eq!(counter(&summary, "decode", "ipv4_checksum_bad"), 0);
}

#[test]
fn bad_checksum_counts_agree_with_tshark_on_real_traces() {
    // Zeek's test traces hold captures taken on end hosts (checksums left to the NIC), with
    // Ethernet padding, tunnels and fragments: tshark's own verification is the judge.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/pcaps/zeek-oracle");
    let mut traces: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).into_iter().flatten())
        .map(|f| f.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "trace"))
        .collect();
    traces.sort();
    assert!(traces.len() >= 40, "{}", traces.len());
    let dir = tempfile::tempdir().unwrap();
    let (mut bad_total, mut traces_with_bad) = (0, 0);
    for (i, trace) in traces.iter().enumerate() {
        let (_, summary, out) = read(&[trace], &dir.path().join(i.to_string()));
        assert!(out.status.code().is_some(), "{}", trace.display());
        let ours = counter(&summary, "decode", "tcp_checksum_bad");
        let tshark = std::process::Command::new("tshark")
            .args(["-r".as_ref(), trace.as_os_str(), "-o".as_ref(), "tcp.check_checksum:TRUE".as_ref()])
            .args(["-Y", "tcp.checksum.status == 0", "-T", "fields", "-e", "frame.number"])
            .output()
            .expect("tshark is not installed: run scripts/install-deps.sh");
        assert!(tshark.status.success(), "{}", String::from_utf8_lossy(&tshark.stderr));
        let theirs = String::from_utf8_lossy(&tshark.stdout).lines().count() as u64;
        assert_eq!(ours, theirs, "{}", trace.display());
        bad_total += ours;
        traces_with_bad += u64::from(ours > 0);
    }
    // The comparison means something only if some traces do have bad checksums.
    assert!(traces_with_bad >= 5 && bad_total >= 100, "{traces_with_bad} traces, {bad_total} bad");
}
