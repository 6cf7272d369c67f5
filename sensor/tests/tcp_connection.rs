//! Connection life: handshake, originator inference, FIN, RST, port reuse, VLAN keys.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod tcp_common;

use apitap_sensor::flow::FlowConfig;
use apitap_sensor::stream::{CloseReason, Dir, OrigInference, TcpEvent};
use tcp_common::{handshake, Ev, Pair, Piece, Run, CISN, SISN};

const REQ: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
const RESP: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";

fn len(b: &[u8]) -> u32 {
    b.len() as u32
}

#[test]
fn full_handshake_exchange_and_fin_both_ways() {
    let p = Pair::new("10.0.0.1:40000", "10.0.0.2:80");
    let mut run = Run::default_cfg();
    run.feed_all(&handshake(&p));
    let c_end = CISN + 1 + len(REQ);
    let s_end = SISN + 1 + len(RESP);
    run.feed(&p.c(CISN + 1, SISN + 1, "PA", REQ));
    run.feed(&p.s(SISN + 1, c_end, "PA", RESP));
    run.feed(&p.c(c_end, s_end, "FA", b""));
    run.feed(&p.s(s_end, c_end + 1, "FA", b""));
    run.feed(&p.c(c_end + 1, s_end + 1, "A", b""));

    let info = &run.rec.infos[&0];
    assert_eq!(info.orig(), p.client);
    assert_eq!(info.resp(), p.server);
    assert_eq!(info.inference, OrigInference::Syn);
    assert_eq!(
        run.rec.events,
        vec![
            Ev::Open(0),
            Ev::Data(0, Dir::FromOrig, REQ.to_vec()),
            Ev::Data(0, Dir::FromResp, RESP.to_vec()),
            Ev::Fin(0, Dir::FromOrig),
            Ev::Fin(0, Dir::FromResp),
        ]
    );
    // Both FINs delivered: the connection lingers for the final ACKs, then closes.
    assert_eq!(run.table.len(), 1);
    run.wait(1);
    assert_eq!(run.table.len(), 1);
    run.wait(2);
    assert_eq!(run.rec.closes(), vec![(0, CloseReason::Fin)]);
    assert!(run.table.is_empty());
    assert_eq!(run.table.stats().closed_fin, 1);
    assert_eq!(
        run.table.stats().bytes_delivered,
        (REQ.len() + RESP.len()) as u64
    );
    run.finish();
}

#[test]
fn syn_ack_seen_first_makes_its_receiver_the_originator() {
    let p = Pair::new("10.0.0.1:40000", "10.0.0.2:8080");
    let mut run = Run::default_cfg();
    run.feed(&p.s(SISN, CISN + 1, "SA", b""));
    run.feed(&p.c(CISN + 1, SISN + 1, "PA", REQ));
    run.feed(&p.s(SISN + 1, CISN + 1 + len(REQ), "PA", RESP));
    run.finish();
    let info = &run.rec.infos[&0];
    assert_eq!(
        (info.orig(), info.resp(), info.inference),
        (p.client, p.server, OrigInference::SynAck)
    );
    assert_eq!(run.rec.bytes(0, Dir::FromOrig), REQ);
    assert_eq!(run.rec.bytes(0, Dir::FromResp), RESP);
    assert_eq!(run.rec.closes(), vec![(0, CloseReason::EndOfInput)]);
}

#[test]
fn mid_stream_pickup_low_port_is_the_responder() {
    // First packet seen is the server's (port 443) answer.
    let p = Pair::new("10.0.0.1:51000", "10.0.0.2:443");
    let mut run = Run::default_cfg();
    run.feed(&p.s(900_000, 70_000, "PA", b"tail of a response"));
    run.feed(&p.c(70_000, 900_018, "PA", b"next request"));
    run.finish();
    let info = &run.rec.infos[&0];
    assert_eq!(
        (info.orig(), info.resp(), info.inference),
        (p.client, p.server, OrigInference::PortHeuristic)
    );
    assert_eq!(
        run.rec.stream(0, Dir::FromResp),
        vec![Piece::Bytes(b"tail of a response".to_vec())]
    );
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![Piece::Bytes(b"next request".to_vec())]
    );
}

#[test]
fn mid_stream_pickup_well_known_and_configured_service_ports() {
    let mut run = Run::default_cfg();
    // 8443 is in the default list; the client uses a high port.
    let p = Pair::new("10.0.0.1:50000", "10.0.0.2:8443");
    run.feed(&p.s(1, 1, "A", b""));
    run.finish();
    assert_eq!(run.rec.infos[&0].orig(), p.client);
    assert_eq!(run.rec.infos[&0].inference, OrigInference::PortHeuristic);

    let cfg = FlowConfig {
        service_ports: vec![7001],
        ..FlowConfig::default()
    };
    let mut run = Run::new(cfg);
    let p = Pair::new("10.0.0.1:50000", "10.0.0.2:7001");
    run.feed(&p.s(1, 1, "PA", b"x"));
    run.finish();
    assert_eq!(run.rec.infos[&0].orig(), p.client);
    assert_eq!(run.rec.infos[&0].inference, OrigInference::PortHeuristic);
}

#[test]
fn mid_stream_pickup_without_port_hint_takes_first_sender() {
    let mut run = Run::default_cfg();
    let p = Pair::new("10.0.0.1:50000", "10.0.0.2:40000");
    // The "server" (40000) speaks first: with no hint it becomes the originator.
    run.feed(&p.s(10, 20, "PA", b"hello"));
    run.feed(&p.c(20, 15, "PA", b"world"));
    run.finish();
    let info = &run.rec.infos[&0];
    assert_eq!(
        (info.orig(), info.resp(), info.inference),
        (p.server, p.client, OrigInference::FirstPacket)
    );
    assert_eq!(run.rec.bytes(0, Dir::FromOrig), b"hello");
    assert_eq!(run.rec.bytes(0, Dir::FromResp), b"world");
}

#[test]
fn mid_stream_direction_starts_at_its_first_segment_even_without_data() {
    let mut run = Run::default_cfg();
    let p = Pair::new("10.0.0.1:50000", "10.0.0.2:80");
    // A pure ACK fixes where the client's stream starts; the request that follows at that
    // sequence number is delivered whole, and a lost first request would show as a gap.
    run.feed(&p.c(3000, 9000, "A", b""));
    run.feed(&p.c(3000, 9000, "PA", b"GET /a"));
    run.feed(&p.c(3010, 9000, "PA", b"GET /b"));
    run.feed(&p.s(9000, 3016, "A", b""));
    run.finish();
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![
            Piece::Bytes(b"GET /a".to_vec()),
            Piece::Gap(4),
            Piece::Bytes(b"GET /b".to_vec())
        ]
    );
}

#[test]
fn rst_ends_both_directions_then_closes_after_linger_and_flags_later_data() {
    let p = Pair::new("10.0.0.1:40000", "10.0.0.2:80");
    let mut run = Run::default_cfg();
    run.feed_all(&handshake(&p));
    run.feed(&p.c(CISN + 1, SISN + 1, "PA", REQ));
    run.feed(&p.s(SISN + 1, CISN + 1 + len(REQ), "RA", b""));
    assert_eq!(run.rec.fins(0), vec![Dir::FromOrig, Dir::FromResp]);
    assert!(run.rec.closes().is_empty(), "close waits for the linger");
    run.feed(&p.c(CISN + 1 + len(REQ), SISN + 1, "PA", b"more"));
    assert_eq!(
        run.rec.tcp_events(0),
        vec![TcpEvent::DataAfterClose { dir: Dir::FromOrig }]
    );
    assert_eq!(
        run.rec.bytes(0, Dir::FromOrig),
        REQ,
        "data after the RST is not delivered"
    );
    run.wait(5);
    assert_eq!(run.rec.closes(), vec![(0, CloseReason::Reset)]);
    assert_eq!(run.table.stats().closed_reset, 1);
    assert_eq!(run.table.stats().data_after_close, 1);
    run.finish();
}

#[test]
fn rst_flushes_buffered_data_before_ending() {
    let p = Pair::new("10.0.0.1:40000", "10.0.0.2:80");
    let mut run = Run::default_cfg();
    run.feed_all(&handshake(&p));
    run.feed(&p.c(CISN + 1, SISN + 1, "PA", b"abc"));
    run.feed(&p.c(CISN + 7, SISN + 1, "PA", b"ghi"));
    run.feed(&p.c(CISN + 10, SISN + 1, "RA", b""));
    run.finish();
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![
            Piece::Bytes(b"abc".to_vec()),
            Piece::Gap(3),
            Piece::Bytes(b"ghi".to_vec())
        ]
    );
    assert_eq!(run.rec.closes(), vec![(0, CloseReason::Reset)]);
}

#[test]
fn rst_far_outside_the_window_is_ignored() {
    let p = Pair::new("10.0.0.1:40000", "10.0.0.2:80");
    let mut run = Run::default_cfg();
    run.feed_all(&handshake(&p));
    run.feed(&p.s(SISN.wrapping_add(0x4000_0000), CISN + 1, "R", b""));
    run.feed(&p.c(CISN + 1, SISN + 1, "PA", REQ));
    run.finish();
    assert_eq!(
        run.rec.tcp_events(0),
        vec![TcpEvent::ResetIgnored { dir: Dir::FromResp }]
    );
    assert_eq!(run.rec.bytes(0, Dir::FromOrig), REQ);
    assert!(run.rec.fins(0).is_empty());
    assert_eq!(run.rec.closes(), vec![(0, CloseReason::EndOfInput)]);
    assert_eq!(run.table.stats().resets_ignored, 1);
}

#[test]
fn lone_rst_opens_no_connection() {
    let p = Pair::new("10.0.0.1:40000", "10.0.0.2:80");
    let mut run = Run::default_cfg();
    run.feed(&p.s(0, CISN + 1, "RA", b""));
    run.finish();
    assert!(run.rec.events.is_empty());
    assert_eq!(run.table.stats().stray_resets, 1);
}

#[test]
fn port_reuse_after_fin_starts_a_new_connection() {
    let p = Pair::new("10.0.0.1:40000", "10.0.0.2:80");
    let mut run = Run::default_cfg();
    run.feed_all(&handshake(&p));
    run.feed(&p.c(CISN + 1, SISN + 1, "FA", b"one"));
    run.feed(&p.s(SISN + 1, CISN + 5, "FA", b""));
    // A retransmitted SYN of the old connection is not a new one.
    run.feed(&p.c(CISN, 0, "S", b""));
    assert_eq!(run.rec.opens(), vec![0]);
    // Within the linger, the client reuses its port with a new ISN.
    let isn2 = 777_000;
    run.feed(&p.c(isn2, 0, "S", b""));
    assert_eq!(run.rec.closes(), vec![(0, CloseReason::Fin)]);
    assert_eq!(run.rec.opens(), vec![0, 1]);
    run.feed(&p.s(42, isn2 + 1, "SA", b""));
    run.feed(&p.c(isn2 + 1, 43, "PA", b"two"));
    run.finish();
    assert_eq!(run.rec.bytes(0, Dir::FromOrig), b"one");
    assert_eq!(run.rec.bytes(1, Dir::FromOrig), b"two");
    assert_eq!(run.rec.infos[&1].inference, OrigInference::Syn);
    assert_eq!(run.table.stats().port_reuse, 1);
    // The close of the old connection comes before the new one opens.
    let close0 = run
        .rec
        .events
        .iter()
        .position(|e| *e == Ev::Close(0, CloseReason::Fin))
        .unwrap();
    let open1 = run
        .rec
        .events
        .iter()
        .position(|e| *e == Ev::Open(1))
        .unwrap();
    assert!(close0 < open1);
}

#[test]
fn port_reuse_after_rst() {
    let p = Pair::new("10.0.0.1:40000", "10.0.0.2:80");
    let mut run = Run::default_cfg();
    run.feed_all(&handshake(&p));
    run.feed(&p.c(CISN + 1, SISN + 1, "RA", b""));
    run.feed(&p.c(CISN + 100_000, 0, "S", b""));
    run.finish();
    assert_eq!(
        run.rec.closes(),
        vec![(0, CloseReason::Reset), (1, CloseReason::EndOfInput)]
    );
}

#[test]
fn vlan_tags_differing_per_direction_stay_one_flow_by_default() {
    let p = Pair::new("10.0.0.1:40000", "10.0.0.2:80");
    let tagged = |run: &mut Run| {
        let mut segs = handshake(&p).to_vec();
        segs.push(p.c(CISN + 1, SISN + 1, "PA", REQ));
        segs.push(p.s(SISN + 1, CISN + 1 + len(REQ), "PA", RESP));
        for s in &mut segs {
            let from_client = s.src == p.client.ip();
            s.vlans = [Some(if from_client { 100 } else { 200 }), None];
            run.feed(s);
        }
        run.finish();
    };
    let mut run = Run::default_cfg();
    tagged(&mut run);
    assert_eq!(run.rec.opens(), vec![0]);
    assert_eq!(run.rec.bytes(0, Dir::FromOrig), REQ);
    assert_eq!(run.rec.bytes(0, Dir::FromResp), RESP);
    assert_eq!(run.rec.infos[&0].vlans, [Some(100), None]);

    let mut run = Run::new(FlowConfig {
        split_by_vlan: true,
        ..FlowConfig::default()
    });
    tagged(&mut run);
    assert_eq!(run.rec.opens(), vec![0, 1]);
    // Each flow sees one direction only.
    assert_eq!(run.rec.bytes(0, Dir::FromOrig), REQ);
    assert!(run.rec.bytes(0, Dir::FromResp).is_empty());
    assert_eq!(run.rec.infos[&1].vlans, [Some(200), None]);
    assert_eq!(run.rec.infos[&1].inference, OrigInference::SynAck);
    assert_eq!(run.rec.bytes(1, Dir::FromResp), RESP);
}
