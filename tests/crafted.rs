//! End-to-end tests on crafted captures (built with etherparse's builder) for what the real
//! traces in ../shared/pcaps do not show: VLAN-split mirrors, TAP pairs on two interfaces,
//! pcapng/gzip/nanosecond files, mid-stream pickup, HTTP on odd ports, loss, hostile files.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::net::Ipv4Addr;
use std::path::Path;

use common::{ethernet, read, write_pcap, write_pcapng, Conversation, Side};

const CLIENT: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 1, 0, 7), 50123);
const SERVER: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 2, 0, 9), 8443);

const REQ: &[u8] = b"GET /open-banking/v4.0/aisp/accounts HTTP/1.1\r\nHost: api.bank.example\r\nUser-Agent: tpp/1.0\r\n\r\n";
const RESP: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"Data\":{}}";

fn eth_frames(c: &Conversation, vlans: impl Fn(Side) -> Vec<u16>) -> Vec<(u64, Vec<u8>)> {
    c.packets.iter().map(|(ts, side, ip)| (*ts, ethernet(ip, &vlans(*side)))).collect()
}

fn assert_one_exchange(recs: &[serde_json::Value]) {
    assert_eq!(recs.len(), 1, "{recs:?}");
    let r = &recs[0];
    assert_eq!(r["orig_h"], "10.1.0.7");
    assert_eq!(r["orig_p"], 50123);
    assert_eq!(r["resp_h"], "10.2.0.9");
    assert_eq!(r["resp_p"], 8443);
    assert_eq!(r["method"], "GET");
    assert_eq!(r["uri"], "/open-banking/v4.0/aisp/accounts");
    assert_eq!(r["host"], "api.bank.example");
    assert_eq!(r["status_code"], 200);
    assert_eq!(r["response_body_len"], 11);
    assert_eq!(r["request_body_len"], 0);
    assert_eq!(r["version"], "1.1");
    assert_eq!(r["response_version"], "1.1");
    assert_eq!(r["user_agent"], "tpp/1.0");
    assert_eq!(r["status_msg"], "OK");
    assert_eq!(r["response_content_type"], "application/json");
    assert_eq!(r["trans_depth"], 1);
    assert_eq!(r["schema_version"], 1);
    assert!(r["uid"].as_str().is_some_and(|u| u.len() == 18 && u.starts_with('C')), "{r}");
    assert!(r["duration_ms"].as_f64().unwrap() > 0.0, "{r}");
    assert!(r.get("events").is_none(), "a clean exchange has no events: {r}");
}

#[test]
fn directions_mirrored_with_different_vlan_tags_stay_one_connection() {
    let dir = tempfile::tempdir().unwrap();
    let c = Conversation::http(CLIENT, SERVER, &[(REQ, RESP)]);
    let pcap = dir.path().join("vlan.pcap");
    write_pcap(&pcap, 1, false, &eth_frames(&c, |s| if s == Side::Client { vec![100, 10] } else { vec![200, 20] }));
    let (recs, summary, out) = read(&[&pcap], &dir.path().join("out"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_one_exchange(&recs);
    assert_eq!(recs[0]["vlans"], serde_json::json!([100, 10]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("summary: 10 packets") && stderr.contains("1 transactions"), "{stderr}");
    assert!(stderr.contains("drops: 0 by the kernel or interface, 0 gaps"), "{stderr}");
    assert_eq!(summary["stages"]["tcp"]["flows_opened"], 1);

    // Asked to split by VLAN, the two directions are two half-connections: the request is
    // logged without its response.
    let out2 = dir.path().join("split");
    let o = common::apitap(&["read".as_ref(), pcap.as_os_str(), "--out".as_ref(), out2.as_os_str(), "--split-vlans".as_ref()]);
    assert!(o.status.success());
    let text = std::fs::read_to_string(out2.join("transactions.jsonl")).unwrap();
    let recs: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(recs.len(), 2, "{text}");
    assert!(recs.iter().all(|r| r["method"].is_null() || r["status_code"].is_null()), "{text}");
    assert_ne!(recs[0]["uid"], recs[1]["uid"]);
}

#[test]
fn tap_pair_on_two_interfaces_with_different_link_types_in_pcapng() {
    // A passive TAP sends each direction out of its own port: client->server captured as
    // Ethernet on interface 0, server->client as raw IP on interface 1.
    let dir = tempfile::tempdir().unwrap();
    let c = Conversation::http(CLIENT, SERVER, &[(REQ, RESP)]);
    let frames: Vec<(u64, u32, Vec<u8>)> = c
        .packets
        .iter()
        .map(|(ts, side, ip)| match side {
            Side::Client => (*ts, 0, ethernet(ip, &[])),
            Side::Server => (*ts, 1, ip.clone()),
        })
        .collect();
    let path = dir.path().join("tap.pcapng");
    write_pcapng(&path, &[1, 101], &frames);
    let (recs, _, out) = read(&[&path], &dir.path().join("out"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_one_exchange(&recs);
    // Nanosecond resolution is kept: the request went out at the 4th packet's time.
    let ts = recs[0]["ts"].as_f64().unwrap();
    let want = c.packets[3].0 as f64 / 1e9;
    assert!((ts - want).abs() < 1e-6, "ts {ts} want {want}");
}

#[test]
fn gzip_compressed_and_nanosecond_pcap_read_like_plain_ones() {
    let dir = tempfile::tempdir().unwrap();
    let c = Conversation::http(CLIENT, SERVER, &[(REQ, RESP)]);
    let pcap = dir.path().join("nanos.pcap");
    write_pcap(&pcap, 1, true, &eth_frames(&c, |_| vec![]));
    let gz = common::gzip(&pcap);
    std::fs::remove_file(&pcap).unwrap();
    let (recs, _, out) = read(&[&gz], &dir.path().join("out"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_one_exchange(&recs);
}

#[test]
fn mid_stream_pickup_infers_the_server_from_content() {
    // No handshake, and the first packet is the server's response to an earlier request:
    // then a new request and response follow. Both ports are high, so only content tells.
    let dir = tempfile::tempdir().unwrap();
    let server = (Ipv4Addr::new(10, 2, 0, 9), 40404);
    let mut c = Conversation::new(CLIENT, server);
    c.send(Side::Server, RESP);
    c.send(Side::Client, REQ);
    c.send(Side::Server, RESP);
    let pcap = dir.path().join("mid.pcap");
    write_pcap(&pcap, 1, false, &eth_frames(&c, |_| vec![]));
    let (recs, _, out) = read(&[&pcap], &dir.path().join("out"));
    assert!(out.status.success());
    let full: Vec<_> = recs.iter().filter(|r| r["method"] == "GET").collect();
    assert_eq!(full.len(), 1, "{recs:?}");
    assert_eq!(full[0]["orig_p"], 50123);
    assert_eq!(full[0]["resp_p"], 40404);
    assert_eq!(full[0]["status_code"], 200);
}

#[test]
fn non_http_on_port_80_is_ignored_and_http_on_a_high_port_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let mut junk = Conversation::new((Ipv4Addr::new(10, 9, 9, 9), 40000), (Ipv4Addr::new(10, 8, 8, 8), 80));
    junk.handshake();
    junk.send(Side::Client, &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
    junk.send(Side::Server, b"\x00\x01\x02 not http at all \xff\xfe");
    junk.close();
    let http = Conversation::http((Ipv4Addr::new(10, 1, 1, 1), 41000), (Ipv4Addr::new(10, 3, 3, 3), 31337), &[(REQ, RESP)]);
    let mut frames = eth_frames(&junk, |_| vec![]);
    frames.extend(eth_frames(&http, |_| vec![]));
    frames.sort_by_key(|f| f.0);
    let pcap = dir.path().join("mixed.pcap");
    write_pcap(&pcap, 1, false, &frames);
    let (recs, summary, out) = read(&[&pcap], &dir.path().join("out"));
    assert!(out.status.success());
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0]["resp_p"], 31337);
    assert_eq!(summary["stages"]["app"]["other_connections"], 1);
}

#[test]
fn out_of_order_and_retransmitted_segments_give_the_same_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Conversation::new(CLIENT, SERVER);
    c.mss = 20; // many small segments
    c.handshake();
    c.send(Side::Client, REQ);
    c.send(Side::Server, RESP);
    c.close();
    let mut frames = eth_frames(&c, |_| vec![]);
    // Frames 3, 5, 7... are the request's data segments, each followed by its ACK. The second
    // segment overtakes the first (before the ACK for the first), the third is sent again
    // later, and capture time keeps increasing.
    let second = frames.remove(5);
    frames.insert(3, second);
    let dup = frames[7].clone();
    frames.insert(10, dup);
    let t0 = frames[0].0;
    for (i, f) in frames.iter_mut().enumerate() {
        f.0 = t0 + i as u64 * 1_000_000;
    }
    let pcap = dir.path().join("ooo.pcap");
    write_pcap(&pcap, 1, false, &frames);
    let (recs, summary, out) = read(&[&pcap], &dir.path().join("out"));
    assert!(out.status.success());
    assert_one_exchange(&recs);
    assert!(summary["stages"]["tcp"]["retransmissions"].as_u64().unwrap() >= 1, "{summary}");
    assert!(summary["stages"]["tcp"]["out_of_order"].as_u64().unwrap() >= 1, "{summary}");
}

#[test]
fn loss_inside_a_response_is_marked_and_the_next_exchange_is_still_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let body = vec![b'x'; 4000];
    let mut resp1 = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    resp1.extend(&body);
    let req2: &[u8] = b"GET /second HTTP/1.1\r\nHost: api.bank.example\r\n\r\n";
    let mut c = Conversation::new(CLIENT, SERVER);
    c.mss = 1000;
    c.handshake();
    c.send(Side::Client, REQ);
    c.send(Side::Server, &resp1);
    c.send(Side::Client, req2);
    c.send(Side::Server, RESP);
    c.close();
    let mut frames = eth_frames(&c, |_| vec![]);
    // Drop the second data segment of the first response (the ACKs after it show the loss).
    let lost = c
        .packets
        .iter()
        .enumerate()
        .filter(|(_, p)| p.1 == Side::Server && p.2.len() > 1000)
        .nth(1)
        .unwrap()
        .0;
    frames.remove(lost);
    let pcap = dir.path().join("loss.pcap");
    write_pcap(&pcap, 1, false, &frames);
    let (recs, _, out) = read(&[&pcap], &dir.path().join("out"));
    assert!(out.status.success());
    assert_eq!(recs.len(), 2, "{recs:?}");
    assert_eq!(recs[0]["response_gap"], true);
    assert_eq!(recs[0]["status_code"], 200);
    assert_eq!(recs[1]["uri"], "/second");
    assert_eq!(recs[1]["status_code"], 200);
    assert_eq!(recs[1]["response_body_len"], 11);
}

#[test]
fn credentials_never_reach_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let req: &[u8] = b"GET /accounts?api_key=AKIA-SECRET-1&page=2&Password=pw-SECRET-2 HTTP/1.1\r\nHost: h\r\nAuthorization: Basic b3BzOmh1bnRlcjI=\r\nCookie: session=COOKIE-SECRET-3\r\n\r\n";
    let c = Conversation::http(CLIENT, SERVER, &[(req, RESP)]);
    let pcap = dir.path().join("secrets.pcap");
    write_pcap(&pcap, 1, false, &eth_frames(&c, |_| vec![]));
    for format in ["jsonl", "zeek"] {
        let out = dir.path().join(format);
        let o = common::apitap(&["read".as_ref(), pcap.as_os_str(), "--out".as_ref(), out.as_os_str(), "--format".as_ref(), format.as_ref()]);
        assert!(o.status.success());
        let mut all = String::from_utf8_lossy(&o.stderr).into_owned();
        for e in std::fs::read_dir(&out).unwrap() {
            all.push_str(&std::fs::read_to_string(e.unwrap().path()).unwrap());
        }
        for secret in ["AKIA-SECRET-1", "pw-SECRET-2", "b3BzOmh1bnRlcjI", "hunter2", "COOKIE-SECRET-3"] {
            assert!(!all.contains(secret), "{secret} leaked in {format} output");
        }
        assert!(all.contains("page=2"), "non-secret parameters are kept");
    }
}

fn assert_no_panic(o: &std::process::Output) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(o.status.code().is_some(), "killed by a signal: {err}");
}

#[test]
fn truncated_corrupt_and_random_files_give_clear_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let c = Conversation::http(CLIENT, SERVER, &[(REQ, RESP)]);
    let good = dir.path().join("good.pcap");
    write_pcap(&good, 1, false, &eth_frames(&c, |_| vec![]));
    let bytes = std::fs::read(&good).unwrap();

    // Cut in the middle of the last record: the exchange before it is still reported.
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 30]).unwrap();
    let (recs, _, o) = read(&[&cut], &dir.path().join("o1"));
    assert_no_panic(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("cut.pcap"), "the message names the file");
    assert_eq!(recs.len(), 1);

    // Not a capture at all.
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello, this is not a capture\n").unwrap();
    let (_, _, o) = read(&[&text], &dir.path().join("o2"));
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a pcap or pcapng"), "{}", String::from_utf8_lossy(&o.stderr));

    // A missing file among good ones: the good ones are still read.
    let missing = dir.path().join("missing.pcap");
    let (recs, _, o) = read(&[&missing, &good], &dir.path().join("o3"));
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(recs.len(), 1);

    // Random corruption of packet bytes (headers intact): bad packets are counted, no panic.
    let mut seed = 0x2545F4914F6CDD1Du64;
    for round in 0..30 {
        let mut f = bytes.clone();
        for _ in 0..(1 + round * 3) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = 24 + 16 + (seed as usize) % (f.len() - 40);
            f[i] = (seed >> 32) as u8;
        }
        let p = dir.path().join(format!("rand{round}.pcap"));
        std::fs::write(&p, &f).unwrap();
        let (_, _, o) = read(&[&p], &dir.path().join(format!("r{round}")));
        assert_no_panic(&o);
    }
}

#[test]
fn zeek_format_writes_an_http_log() {
    let dir = tempfile::tempdir().unwrap();
    let c = Conversation::http(CLIENT, SERVER, &[(REQ, RESP)]);
    let pcap = dir.path().join("z.pcap");
    write_pcap(&pcap, 1, false, &eth_frames(&c, |_| vec![]));
    let out = dir.path().join("out");
    let o = common::apitap(&["read".as_ref(), pcap.as_os_str(), "--out".as_ref(), out.as_os_str(), "--format".as_ref(), "zeek".as_ref()]);
    assert!(o.status.success());
    let log = std::fs::read_to_string(out.join("http.log")).unwrap();
    let fields = log.lines().find(|l| l.starts_with("#fields")).unwrap();
    let row = log.lines().find(|l| !l.starts_with('#')).unwrap();
    let cols: Vec<(&str, &str)> = fields.split('\t').skip(1).zip(row.split('\t')).collect();
    let get = |n: &str| cols.iter().find(|c| c.0 == n).unwrap().1;
    assert_eq!(get("id.orig_h"), "10.1.0.7");
    assert_eq!(get("id.resp_p"), "8443");
    assert_eq!(get("method"), "GET");
    assert_eq!(get("status_code"), "200");
    assert_eq!(get("referrer"), "-");
    assert!(Path::new(&out.join("summary.json")).exists());
}

#[test]
fn a_tap_pair_recorded_as_one_file_per_direction_is_merged_by_time() {
    // Each TAP port recorded to its own file; the files are named server side first.
    let dir = tempfile::tempdir().unwrap();
    let c = Conversation::http(CLIENT, SERVER, &[(REQ, RESP), (REQ, RESP)]);
    let side = |want: Side| -> Vec<(u64, Vec<u8>)> {
        c.packets.iter().filter(|p| p.1 == want).map(|(ts, _, ip)| (*ts, ethernet(ip, &[]))).collect()
    };
    let to_client = dir.path().join("port-b.pcap");
    let to_server = dir.path().join("port-a.pcap");
    write_pcap(&to_client, 1, false, &side(Side::Server));
    write_pcap(&to_server, 1, false, &side(Side::Client));
    let (recs, summary, out) = read(&[&to_client, &to_server], &dir.path().join("out"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(recs.len(), 2, "{recs:?}");
    assert!(recs.iter().all(|r| r["method"] == "GET" && r["status_code"] == 200), "{recs:?}");
    assert_eq!(recs[1]["trans_depth"], 2);
    assert_eq!(summary["stages"]["input"]["time_regressions"], 0);
}

#[test]
fn one_packet_with_a_corrupt_far_future_timestamp_does_not_poison_later_records() {
    let dir = tempfile::tempdir().unwrap();
    let c = Conversation::http(CLIENT, SERVER, &[(REQ, RESP), (REQ, RESP)]);
    let mut frames = eth_frames(&c, |_| vec![]);
    // A stray non-TCP frame stamped in 2096 between the two exchanges.
    let mid = frames.len() / 2;
    frames.insert(mid, (4_000_000_000_000_000_000, vec![0u8; 60]));
    let pcap = dir.path().join("badts.pcap");
    write_pcap(&pcap, 1, true, &frames);
    let (recs, summary, out) = read(&[&pcap], &dir.path().join("out"));
    assert!(out.status.success());
    assert_eq!(recs.len(), 2, "{recs:?}");
    for r in &recs {
        let ts = r["ts"].as_f64().unwrap();
        assert!((1.7e9..1.8e9).contains(&ts), "ts {ts} in {r}");
        assert!(r["duration_ms"].as_f64().unwrap() > 0.0, "{r}");
    }
    assert_eq!(recs[0]["uid"], recs[1]["uid"], "the connection was not split by a false idle timeout");
    assert_eq!(summary["stages"]["input"]["time_jumps_held"], 1);
}

#[test]
fn empty_and_cut_files_are_errors_with_exit_status_1() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    let (_, _, o) = read(&[&empty], &dir.path().join("o1"));
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("empty.pcap is empty"), "{}", String::from_utf8_lossy(&o.stderr));

    let c = Conversation::http(CLIENT, SERVER, &[(REQ, RESP)]);
    let good = dir.path().join("good.pcap");
    write_pcap(&good, 1, false, &eth_frames(&c, |_| vec![]));
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&good, &bytes[..bytes.len() - 3]).unwrap();
    let gz = common::gzip(&good);
    for f in [&good, &gz] {
        let (recs, summary, o) = read(&[f], &dir.path().join("o2"));
        assert_eq!(o.status.code(), Some(1), "{}", f.display());
        assert!(String::from_utf8_lossy(&o.stderr).contains("middle of a record"));
        assert_eq!(summary["files_truncated"], 1);
        assert_eq!(recs.len(), 1, "what came before the cut is still reported");
    }
}

#[test]
fn many_endless_headers_stay_within_the_http_buffer_budget() {
    // 64 connections each send 48 KiB of a header that never ends (a slow-header attack);
    // with a 1 MiB budget, parsing of the connections that would exceed it stops.
    let dir = tempfile::tempdir().unwrap();
    let mut frames = Vec::new();
    for i in 0..64u16 {
        let mut c = Conversation::new((Ipv4Addr::new(10, 7, (i >> 8) as u8, i as u8), 40000 + i), SERVER);
        c.ts += u64::from(i) * 1_000;
        c.handshake();
        let mut head = b"GET / HTTP/1.1\r\nX-Filler: ".to_vec();
        head.extend(std::iter::repeat_n(b'a', 48 * 1024));
        c.send(Side::Client, &head);
        frames.extend(eth_frames(&c, |_| vec![]));
    }
    frames.sort_by_key(|f| f.0);
    let pcap = dir.path().join("slow.pcap");
    write_pcap(&pcap, 1, false, &frames);
    let out = dir.path().join("out");
    let o = common::apitap(&[
        "read".as_ref(),
        pcap.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--http-buffer-mib".as_ref(),
        "1".as_ref(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let app = &summary["stages"]["app"];
    assert!(app["budget_shed_connections"].as_u64().unwrap() > 0, "{app}");
    // The budget may be overshot by at most the one connection that crossed it.
    assert!(app["buffered_peak"].as_u64().unwrap() <= (1 << 20) + 64 * 1024 + 4096, "{app}");
}

#[test]
fn a_first_segment_larger_than_the_detection_window_is_parsed_whole() {
    // Loopback, jumbo frames and GRO/TSO captures deliver segments far above 4 KiB: a 6 KiB
    // header and a 20,000-byte body in the first segment must reach the parser intact.
    let dir = tempfile::tempdir().unwrap();
    let mut req = format!("POST /api/payments HTTP/1.1\r\nX-Pad: {}\r\nHost: api.bank.example\r\nContent-Length: 20000\r\n\r\n", "p".repeat(6000)).into_bytes();
    req.extend(std::iter::repeat_n(b'{', 20000));
    let resp: &[u8] = b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}";
    let mut c = Conversation::new(CLIENT, SERVER);
    c.mss = 60_000;
    c.handshake();
    c.send(Side::Client, &req);
    c.send(Side::Server, resp);
    c.close();
    let pcap = dir.path().join("big.pcap");
    write_pcap(&pcap, 1, false, &eth_frames(&c, |_| vec![]));
    let (recs, summary, out) = read(&[&pcap], &dir.path().join("out"));
    assert!(out.status.success());
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0]["host"], "api.bank.example");
    assert_eq!(recs[0]["request_body_len"], 20000);
    assert_eq!(recs[0]["status_code"], 201);
    assert!(recs[0].get("request_gap").is_none(), "{}", recs[0]);
    assert_eq!(summary["stages"]["app"]["detect_overflow_bytes"], 0);
}

#[test]
fn a_rotated_capture_set_larger_than_the_open_file_limit_is_read_whole() {
    // `tcpdump -C/-G` rotation gives one file per slice: here 300 files of a few packets each,
    // read under an open-file limit of 48.
    let dir = tempfile::tempdir().unwrap();
    let mut frames = Vec::new();
    for i in 0..60u16 {
        let c = Conversation::http((Ipv4Addr::new(10, 5, 0, (i % 250) as u8), 30000 + i), SERVER, &[(REQ, RESP)]);
        let base = u64::from(i) * 1_000_000_000;
        frames.extend(eth_frames(&c, |_| vec![]).into_iter().map(|(ts, f)| (ts + base, f)));
    }
    frames.sort_by_key(|f| f.0);
    let mut paths = Vec::new();
    for (n, chunk) in frames.chunks(frames.len().div_ceil(300)).enumerate() {
        let p = dir.path().join(format!("slice-{n:04}.pcap"));
        write_pcap(&p, 1, false, chunk);
        paths.push(p);
    }
    assert!(paths.len() >= 290);
    let out = dir.path().join("out");
    let mut cmd = format!("ulimit -n 48 && exec {} read --no-progress --out {}", env!("CARGO_BIN_EXE_apitap"), out.display());
    for p in &paths {
        cmd.push(' ');
        cmd.push_str(&p.display().to_string());
    }
    let o = std::process::Command::new("bash").arg("-c").arg(&cmd).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(out.join("transactions.jsonl")).unwrap();
    let recs: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(recs.len(), 60);
    assert!(recs.iter().all(|r| r["status_code"] == 200 && r["method"] == "GET"));
}
