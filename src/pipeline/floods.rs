//! Memory under attack: each flood the issue names (spoofed SYNs, one-packet flows, tiny
//! out-of-order segments, slowloris-style requests that never end) is fed through the whole
//! pipeline in process, with a real HTTP conversation interleaved. Every test checks, after
//! every packet, that the flow table, the reassembly buffers and the HTTP layer stay under
//! their configured caps; that the counters show what was shed; and that the conversation is
//! still parsed into its transactions.
//!
//! The floods hit their caps many times over and run in a few seconds. `APITAP_FLOOD_SCALE=N`
//! multiplies their size for a longer run (N = 10 sends about 8 million packets).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::Ipv4Addr;
use std::sync::Arc;

use apitap_parsers::http::HttpConfig;
use apitap_sensor::capture::PacketRecord;
use apitap_sensor::decode::DecodeConfig;
use apitap_sensor::flow::FlowConfig;
use apitap_sensor::{LinkType, Timestamp};
use etherparse::PacketBuilder;

use super::Pipeline;
use crate::config::Settings;
use crate::record::TransactionRecord;

const SERVER: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 2, 0, 9), 443);
const CLIENT: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 1, 0, 7), 50123);
const RESP: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";

/// How many times bigger the floods are than the default (`APITAP_FLOOD_SCALE`, default 1).
fn scale() -> usize {
    std::env::var("APITAP_FLOOD_SCALE").ok().and_then(|s| s.parse().ok()).filter(|n| *n > 0).unwrap_or(1)
}

/// A raw IPv4 TCP packet. `flags`: S, A, F, R, P.
fn packet(src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16), seq: u32, ack: u32, flags: &str, payload: &[u8]) -> Vec<u8> {
    let mut b = PacketBuilder::ipv4(src.0.octets(), dst.0.octets(), 64).tcp(src.1, dst.1, seq, 65000);
    for f in flags.chars() {
        b = match f {
            'S' => b.syn(),
            'F' => b.fin(),
            'R' => b.rst(),
            'P' => b.psh(),
            'A' => b.ack(ack),
            _ => b,
        };
    }
    let mut out = Vec::with_capacity(60 + payload.len());
    b.write(&mut out, payload).unwrap();
    out
}

/// Deterministic pseudo-random numbers (xorshift64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A spoofed source outside the legitimate client's network.
    fn source(&mut self) -> (Ipv4Addr, u16) {
        let n = self.next();
        (Ipv4Addr::from(0x2000_0000 | (n as u32 & 0x0fff_ffff)), 1024 + (n >> 40) as u16 % 60000)
    }
}

/// The pipeline under test, fed one packet at a time 1 µs apart, with the peaks of what it
/// holds recorded after every packet.
struct Harness {
    p: Pipeline,
    settings: Settings,
    now: u64,
    records: Vec<TransactionRecord>,
    peak_flows: usize,
    peak_app_conns: usize,
    peak_buffered: usize,
    peak_retained: usize,
    peak_http: usize,
}

impl Harness {
    fn new(flow: FlowConfig, max_http_buffered_total: usize) -> Harness {
        let settings = Settings {
            decode: DecodeConfig::default(),
            flow,
            http: Arc::new(HttpConfig::default()),
            max_http_buffered_total,
            inventory: false,
            stop_after: None,
            workers: 1,
            queue_wait: None,
            tls_keys: None,
            keylog_files: Vec::new(),
            keylog_dir: None,
            decrypt: Default::default(),
            h2: Default::default(),
        };
        Harness {
            p: Pipeline::new(&settings),
            settings,
            now: 1_700_000_000_000_000_000,
            records: Vec::new(),
            peak_flows: 0,
            peak_app_conns: 0,
            peak_buffered: 0,
            peak_retained: 0,
            peak_http: 0,
        }
    }

    fn feed(&mut self, ip: &[u8]) {
        self.now += 1_000;
        let rec = PacketRecord { ts: Timestamp(self.now), link: LinkType::Raw, data: ip, wire_len: ip.len() as u32, interface: 0 };
        self.p.handle_packet(&rec);
        self.records.extend(self.p.drain_records());
        let chain = self.p.inline().expect("inline chain");
        self.peak_flows = self.peak_flows.max(chain.flows.len());
        self.peak_app_conns = self.peak_app_conns.max(chain.app.connections());
        self.peak_buffered = self.peak_buffered.max(chain.flows.buffered_bytes());
        self.peak_retained = self.peak_retained.max(chain.flows.retained_bytes());
        self.peak_http = self.peak_http.max(chain.app.buffered_total());
    }

    /// The end of input a slice at a time, as `apitap read` runs it.
    fn finish(&mut self) {
        while !self.p.finish_some() {
            self.records.extend(self.p.drain_records());
        }
        self.records.extend(self.p.drain_records());
    }

    fn counter(&self, stage: &str, name: &str) -> u64 {
        self.p.counters()[stage][name]
    }

    /// The caps every flood must stay under.
    fn assert_within_caps(&self) {
        let flow = &self.settings.flow;
        assert!(self.peak_flows <= flow.max_flows, "flows {} over {}", self.peak_flows, flow.max_flows);
        assert!(self.peak_app_conns <= flow.max_flows, "HTTP connection states {}", self.peak_app_conns);
        assert!(self.peak_buffered <= flow.max_buffered_total, "out-of-order bytes {}", self.peak_buffered);
        assert!(self.peak_retained <= flow.max_retained_total, "retained bytes {}", self.peak_retained);
        // The budget may be overshot by the one connection that crossed it, at most a header.
        let http = self.settings.max_http_buffered_total + self.settings.http.max_header_bytes + 4096;
        assert!(self.peak_http <= http, "HTTP bytes {} over {}", self.peak_http, http);
    }
}

/// A real client holding one keep-alive connection to the server.
struct Legit {
    cseq: u32,
    sseq: u32,
    sent: usize,
}

impl Legit {
    fn handshake(h: &mut Harness) -> Legit {
        let (cseq, sseq) = (7_000u32, 900_000u32);
        h.feed(&packet(CLIENT, SERVER, cseq, 0, "S", b""));
        h.feed(&packet(SERVER, CLIENT, sseq, cseq + 1, "SA", b""));
        h.feed(&packet(CLIENT, SERVER, cseq + 1, sseq + 1, "A", b""));
        Legit { cseq: cseq + 1, sseq: sseq + 1, sent: 0 }
    }

    /// One request and its response, each acknowledged.
    fn exchange(&mut self, h: &mut Harness) {
        let req = format!("GET /accounts/{} HTTP/1.1\r\nHost: api.bank.example\r\n\r\n", self.sent);
        let req = req.as_bytes();
        h.feed(&packet(CLIENT, SERVER, self.cseq, self.sseq, "PA", req));
        self.cseq += req.len() as u32;
        h.feed(&packet(SERVER, CLIENT, self.sseq, self.cseq, "A", b""));
        h.feed(&packet(SERVER, CLIENT, self.sseq, self.cseq, "PA", RESP));
        self.sseq += RESP.len() as u32;
        h.feed(&packet(CLIENT, SERVER, self.cseq, self.sseq, "A", b""));
        self.sent += 1;
    }

    /// Every exchange came out as a transaction of this one connection, in order.
    fn assert_parsed(&self, h: &Harness) {
        let mine: Vec<&TransactionRecord> = h.records.iter().filter(|r| r.orig_h == CLIENT.0.to_string()).collect();
        assert_eq!(mine.len(), self.sent, "transactions of the real client");
        for (i, r) in mine.iter().enumerate() {
            assert_eq!(r.uri.as_deref(), Some(format!("/accounts/{i}").as_str()));
            assert_eq!(r.status_code, Some(200));
            assert_eq!(r.uid, mine[0].uid, "one connection, never evicted");
        }
    }
}

/// Runs `flood_step` `total` times with the real client's exchange every `every` steps.
fn interleave(h: &mut Harness, legit: &mut Legit, total: usize, every: usize, mut flood_step: impl FnMut(&mut Harness, usize)) {
    for i in 0..total {
        flood_step(h, i);
        if i % every == every - 1 {
            legit.exchange(h);
        }
    }
}

#[test]
fn syn_flood_from_spoofed_sources_stays_under_max_flows_and_the_real_client_is_parsed() {
    let n = 200_000 * scale();
    let flow = FlowConfig { max_flows: 4096, ..FlowConfig::default() };
    let mut h = Harness::new(flow, 16 << 20);
    let mut legit = Legit::handshake(&mut h);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    interleave(&mut h, &mut legit, n, 10_000, |h, _| {
        let src = rng.source();
        h.feed(&packet(src, SERVER, rng.next() as u32, 0, "S", b""));
    });
    h.assert_within_caps();
    assert_eq!(h.peak_flows, 4096, "the cap was reached");
    // Every spoofed SYN past the cap pushed an older one out.
    assert!(h.counter("tcp", "evicted") >= (n - 4096) as u64, "{}", h.counter("tcp", "evicted"));
    h.finish();
    legit.assert_parsed(&h);
    assert_eq!(legit.sent, n / 10_000);
}

#[test]
fn millions_of_one_packet_flows_stay_under_the_caps_and_the_real_client_is_parsed() {
    // Each flow is one packet with a few bytes, as a scan or a spoofed-source flood of data
    // segments gives: no handshake, one direction, nothing after it.
    let n = 200_000 * scale();
    let flow = FlowConfig { max_flows: 4096, ..FlowConfig::default() };
    let mut h = Harness::new(flow, 1 << 20);
    let mut legit = Legit::handshake(&mut h);
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let junk = [0x42u8; 200];
    interleave(&mut h, &mut legit, n, 10_000, |h, _| {
        let src = rng.source();
        h.feed(&packet(src, SERVER, rng.next() as u32, rng.next() as u32, "PA", &junk));
    });
    h.assert_within_caps();
    assert!(h.counter("tcp", "evicted") >= (n - 4096) as u64);
    // The undecided flows' detection buffers are what the HTTP layer held for them.
    assert!(h.peak_http > 0);
    h.finish();
    legit.assert_parsed(&h);
}

#[test]
fn flood_of_tiny_out_of_order_segments_stays_under_the_reassembly_cap() {
    // Attacker connections each send one-byte segments with a hole before every one of them,
    // so nothing can ever be delivered: each run costs its bookkeeping, not one byte.
    let conns = 256 * scale();
    let per_conn = 1_500;
    let flow = FlowConfig { max_buffered_total: 4 << 20, max_flows: 8192, ..FlowConfig::default() };
    let mut h = Harness::new(flow, 16 << 20);
    let mut legit = Legit::handshake(&mut h);
    let attackers: Vec<(Ipv4Addr, u16)> = (0..conns).map(|i| (Ipv4Addr::from(0x3000_0000 + i as u32), 40_000)).collect();
    for a in &attackers {
        h.feed(&packet(*a, SERVER, 1_000, 0, "S", b""));
        h.feed(&packet(SERVER, *a, 5_000, 1_001, "SA", b""));
    }
    interleave(&mut h, &mut legit, conns * per_conn, 20_000, |h, i| {
        let a = attackers[i % conns];
        let k = (i / conns) as u32;
        // Offsets 2, 4, 6, ... after the first byte: a hole before each.
        h.feed(&packet(a, SERVER, 1_001 + 2 + 2 * k, 5_001, "PA", b"x"));
    });
    h.assert_within_caps();
    // 256 connections x 1,500 runs of 65 charged bytes is 25 MB: the 4 MiB cap was hit over
    // and over, each time a direction gave up its first hole.
    assert!(h.peak_buffered > (4 << 20) - 1_000, "the cap was reached: {}", h.peak_buffered);
    assert!(h.counter("tcp", "buffer_limit_hits") > 1_000, "{}", h.counter("tcp", "buffer_limit_hits"));
    assert!(h.counter("app", "tcp_events") > 0);
    h.finish();
    legit.assert_parsed(&h);
}

#[test]
fn slowloris_requests_that_never_end_stay_under_the_http_budget() {
    // Many connections each open a request and keep adding header lines, slowly, never the
    // blank line that ends it.
    let conns = 3_000 * scale();
    let rounds = 12;
    let budget = 2 << 20;
    let flow = FlowConfig { max_flows: 2 * conns + 16, ..FlowConfig::default() };
    let mut h = Harness::new(flow, budget);
    let mut legit = Legit::handshake(&mut h);
    let attackers: Vec<(Ipv4Addr, u16)> = (0..conns).map(|i| (Ipv4Addr::from(0x4000_0000 + i as u32), 41_000)).collect();
    let line = format!("X-Keep-{}: {}\r\n", "a", "b".repeat(120));
    let mut seqs = vec![1_001u32; conns];
    for (a, seq) in attackers.iter().zip(&mut seqs) {
        h.feed(&packet(*a, SERVER, 1_000, 0, "S", b""));
        h.feed(&packet(SERVER, *a, 5_000, 1_001, "SA", b""));
        let start = b"GET /login HTTP/1.1\r\nHost: api.bank.example\r\n";
        h.feed(&packet(*a, SERVER, *seq, 5_001, "PA", start));
        *seq += start.len() as u32;
    }
    interleave(&mut h, &mut legit, conns * rounds, 2_000, |h, i| {
        let c = i % conns;
        h.feed(&packet(attackers[c], SERVER, seqs[c], 5_001, "PA", line.as_bytes()));
        seqs[c] += line.len() as u32;
    });
    h.assert_within_caps();
    // 3,000 heads of about 1.7 KiB each would hold 5 MiB: connections were shed to stay in budget.
    assert!(h.counter("app", "budget_shed_connections") > 0);
    assert!(h.peak_http > budget / 2, "the budget was used: {}", h.peak_http);
    h.finish();
    legit.assert_parsed(&h);
}
