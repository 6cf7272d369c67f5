//! The end of input a slice at a time: many connections left open at the end each give one
//! record (a request head that never ended), and `Pipeline::finish_some` hands them over a
//! slice at a time, every one exactly once, on one thread and on workers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Arc;

use apitap_parsers::http::HttpConfig;
use apitap_sensor::capture::PacketRecord;
use apitap_sensor::decode::DecodeConfig;
use apitap_sensor::flow::{FlowConfig, FINISH_SLICE};
use apitap_sensor::{LinkType, Timestamp};
use etherparse::PacketBuilder;

use super::Pipeline;
use crate::config::Settings;
use crate::record::TransactionRecord;

const SERVER: ([u8; 4], u16) = ([10, 9, 0, 1], 8080);

/// Connections left open at the end: two full slices and part of a third on one thread.
const CONNS: usize = 2 * FINISH_SLICE + 1234;

fn settings(workers: usize) -> Settings {
    Settings {
        decode: DecodeConfig::default(),
        flow: FlowConfig { max_flows: 4 * CONNS, ..FlowConfig::default() },
        http: Arc::new(HttpConfig::default()),
        max_http_buffered_total: 256 << 20,
        inventory: false,
        stop_after: None,
        workers,
        queue_wait: None,
        tls_keys: None,
        keylog_files: Vec::new(),
        keylog_dir: None,
        decrypt: Default::default(),
        h2: Default::default(),
    }
}

/// Client `i`: its own address and port, so the port names the connection in its record.
fn client(i: usize) -> ([u8; 4], u16) {
    let ip = Ipv4Addr::from(0x6440_0000 + u32::try_from(i).unwrap());
    (ip.octets(), 1024 + u16::try_from(i % 60_000).unwrap())
}

fn packet(src: ([u8; 4], u16), dst: ([u8; 4], u16), seq: u32, ack: Option<u32>, syn: bool, payload: &[u8]) -> Vec<u8> {
    let mut b = PacketBuilder::ipv4(src.0, dst.0, 64).tcp(src.1, dst.1, seq, 65000);
    if syn {
        b = b.syn();
    }
    if let Some(a) = ack {
        b = b.ack(a).psh();
    }
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

/// Feeds `CONNS` connections that each complete the handshake and send the start of a request
/// head, then go quiet, as `scripts/bench-flows.sh` does.
fn feed(p: &mut Pipeline) {
    let mut t = 1_700_000_000_000_000_000u64;
    for i in 0..CONNS {
        let c = client(i);
        let head = format!("GET /accounts/{i} HTTP/1.1\r\nHost: api.bank.example\r\nAuthori");
        for pkt in [
            packet(c, SERVER, 1000, None, true, b""),
            packet(SERVER, c, 5000, Some(1001), true, b""),
            packet(c, SERVER, 1001, Some(5001), false, b""),
            packet(c, SERVER, 1001, Some(5001), false, head.as_bytes()),
        ] {
            t += 1_000;
            p.handle_packet(&PacketRecord { ts: Timestamp(t), link: LinkType::Raw, data: &pkt, wire_len: pkt.len() as u32, interface: 0 });
        }
    }
}

/// Runs the end of input a slice at a time; returns each slice's records.
fn finish_in_slices(p: &mut Pipeline) -> Vec<Vec<TransactionRecord>> {
    let mut slices = Vec::new();
    loop {
        let done = p.finish_some();
        slices.push(p.drain_records().collect::<Vec<_>>());
        if done {
            return slices;
        }
        assert!(slices.len() < 10 * CONNS, "finish_some never ended");
    }
}

/// The record's client index, from its URI.
fn index_of(r: &TransactionRecord) -> usize {
    r.uri.as_deref().and_then(|u| u.strip_prefix("/accounts/")).and_then(|n| n.parse().ok()).expect("a URI of the capture")
}

/// Every connection's record exactly once: the URI each client sent, from its own port.
fn assert_each_once(all: &[TransactionRecord]) {
    assert_eq!(all.len(), CONNS, "one record per connection");
    let indices: BTreeSet<usize> = all.iter().map(index_of).collect();
    assert_eq!(indices.len(), CONNS, "no record twice");
    assert_eq!(indices.iter().next_back(), Some(&(CONNS - 1)));
    for r in all {
        assert_eq!(r.orig_p, client(index_of(r)).1, "the record of its own connection");
        assert_eq!(r.method.as_deref(), Some("GET"));
    }
}

#[test]
fn one_thread_hands_over_a_slice_at_a_time_in_open_order() {
    let mut p = Pipeline::new(&settings(1));
    feed(&mut p);
    assert_eq!(p.drain_records().count(), 0, "nothing finished before the end");
    let slices = finish_in_slices(&mut p);
    let sizes: Vec<usize> = slices.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![FINISH_SLICE, FINISH_SLICE, CONNS - 2 * FINISH_SLICE], "records per call");
    let all: Vec<TransactionRecord> = slices.into_iter().flatten().collect();
    assert_each_once(&all);
    // In the order the connections were opened, as one flush of everything gave them.
    let order: Vec<usize> = all.iter().map(index_of).collect();
    assert_eq!(order, (0..CONNS).collect::<Vec<_>>());

    // The same capture finished at once gives the same records in the same order.
    let mut whole = Pipeline::new(&settings(1));
    feed(&mut whole);
    whole.finish();
    let at_once: Vec<String> = whole.drain_records().map(|r| serde_json::to_string(&r).unwrap()).collect();
    let sliced: Vec<String> = all.iter().map(|r| serde_json::to_string(r).unwrap()).collect();
    assert_eq!(sliced, at_once);
}

#[test]
fn workers_hand_over_a_slice_of_each_worker_at_a_time_in_a_repeatable_order() {
    let run = || {
        let mut p = Pipeline::new(&settings(2));
        assert!(p.inline().is_none(), "runs on workers");
        feed(&mut p);
        finish_in_slices(&mut p)
    };
    let slices = run();
    assert!(slices.len() >= 2, "more than a slice per worker: {} calls", slices.len());
    for (i, s) in slices.iter().enumerate() {
        assert!(s.len() <= 2 * FINISH_SLICE, "call {i} handed over {} records", s.len());
    }
    let all: Vec<TransactionRecord> = slices.into_iter().flatten().collect();
    assert_each_once(&all);
    let again: Vec<TransactionRecord> = run().into_iter().flatten().collect();
    let json = |v: &[TransactionRecord]| v.iter().map(|r| serde_json::to_string(r).unwrap()).collect::<Vec<_>>();
    assert_eq!(json(&all), json(&again), "the same order from one run to the next");
    let counters = {
        let mut p = Pipeline::new(&settings(2));
        feed(&mut p);
        finish_in_slices(&mut p);
        p.counters()
    };
    assert_eq!(counters["tcp"]["flows_closed"], CONNS as u64, "the workers' final counters count every flow");
    assert_eq!(counters["tcp"]["closed_end_of_input"], CONNS as u64);
}
