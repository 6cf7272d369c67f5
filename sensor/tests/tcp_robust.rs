//! The TCP robustness cases that other passive sensors are tested against (Suricata's stream
//! engine, Zeek): duplicated mirror packets, one-sided captures, split and simultaneous
//! handshakes, SYN with data, RST injection and PAWS. Each test builds the segments by hand and
//! checks the streams, events and counters the flow table reports. docs/robustness.md lists
//! which test proves which case.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod tcp_common;

use apitap_sensor::flow::FlowConfig;
use apitap_sensor::packet::TcpSegment;
use apitap_sensor::stream::{CloseReason, Dir, OrigInference, TcpEvent};
use tcp_common::{bytes, handshake, Pair, Piece, Run, CISN, SISN};

const REQ: &[u8] = b"GET /accounts HTTP/1.1\r\nHost: api\r\n\r\n";
const RESP: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";

fn len(b: &[u8]) -> u32 {
    b.len() as u32
}

fn stamped(mut seg: TcpSegment<'_>, tsval: u32) -> TcpSegment<'_> {
    seg.tsval = Some(tsval);
    seg
}

/// A whole conversation: handshake, request in two segments, response, FIN both ways.
fn conversation(p: &Pair) -> Vec<TcpSegment<'static>> {
    let (a, b) = REQ.split_at(10);
    let c_end = CISN + 1 + len(REQ);
    let s_end = SISN + 1 + len(RESP);
    let mut segs = handshake(p).to_vec();
    segs.extend([
        p.c(CISN + 1, SISN + 1, "PA", a),
        p.c(CISN + 11, SISN + 1, "PA", b),
        p.s(SISN + 1, c_end, "PA", RESP),
        p.c(c_end, s_end, "FA", b""),
        p.s(s_end, c_end + 1, "FA", b""),
        p.c(c_end + 1, s_end + 1, "A", b""),
    ]);
    // Timestamps as Linux sends them: each side's clock only moves forward.
    for (i, s) in segs.iter_mut().enumerate() {
        s.tsval = Some(1000 + i as u32);
    }
    segs
}

#[test]
fn duplicated_mirror_packets_deliver_each_byte_once_without_events() {
    // A SPAN session mirroring both the ingress and the egress port copies every packet, the
    // second copy often with another VLAN tag.
    let p = Pair::new("10.0.0.1:40000", "10.0.0.2:80");
    let mut run = Run::default_cfg();
    let segs = conversation(&p);
    for s in &segs {
        run.feed(s);
        let mut copy = s.clone();
        copy.vlans = [Some(20), None];
        run.feed(&copy);
    }
    run.wait(5);
    run.finish();
    assert_eq!(run.rec.opens(), vec![0], "one connection");
    assert_eq!(run.rec.stream(0, Dir::FromOrig), vec![bytes(REQ)]);
    assert_eq!(run.rec.stream(0, Dir::FromResp), vec![bytes(RESP)]);
    assert_eq!(run.rec.fins(0), vec![Dir::FromOrig, Dir::FromResp]);
    assert!(
        run.rec.tcp_events(0).is_empty(),
        "{:?}",
        run.rec.tcp_events(0)
    );
    assert_eq!(run.rec.closes(), vec![(0, CloseReason::Fin)]);
    let st = run.table.stats();
    assert_eq!(st.bytes_delivered, (REQ.len() + RESP.len()) as u64);
    // Each data segment's copy was compared with the first and dropped.
    assert_eq!(st.retransmissions, 3);
    assert_eq!(
        st.overlap_mismatches + st.paws_rejected + st.gaps + st.port_reuse,
        0
    );
}

#[test]
fn one_sided_capture_of_the_server_direction_only() {
    // Asymmetric routing: only the server's packets cross the mirrored link, no SYN, and one
    // segment was lost. The server side is found by its port, its bytes go out in order, and
    // with no ACK ever seen the hole is given up once enough waits behind it.
    let cfg = FlowConfig {
        max_above_hole_without_acks: 100,
        ..FlowConfig::default()
    };
    let p = Pair::new("10.0.0.1:51000", "10.0.0.2:443");
    let mut run = Run::new(cfg);
    let body = [b'x'; 80];
    run.feed(&p.s(7000, 300, "PA", RESP));
    run.feed(&p.s(7000 + len(RESP) + 20, 300, "PA", &body));
    run.feed(&p.s(7000 + len(RESP) + 100, 300, "PA", &body));
    let info = &run.rec.infos[&0];
    assert_eq!(
        (info.orig(), info.resp(), info.inference),
        (p.client, p.server, OrigInference::PortHeuristic)
    );
    let mut behind = body.to_vec();
    behind.extend_from_slice(&body);
    assert_eq!(
        run.rec.stream(0, Dir::FromResp),
        vec![bytes(RESP), Piece::Gap(20), Piece::Bytes(behind)]
    );
    assert!(run.rec.stream(0, Dir::FromOrig).is_empty());
    run.finish();
    assert_eq!(run.table.stats().gaps, 1);
}

#[test]
fn one_sided_capture_of_the_client_direction_only() {
    // The other half of the same routing: only the client's packets, handshake included.
    let p = Pair::new("10.0.0.1:51000", "10.0.0.2:8080");
    let mut run = Run::default_cfg();
    run.feed(&p.c(CISN, 0, "S", b""));
    run.feed(&p.c(CISN + 1, SISN + 1, "A", b""));
    run.feed(&p.c(CISN + 1, SISN + 1, "PA", REQ));
    run.feed(&p.c(CISN + 1 + len(REQ), SISN + 1, "FA", b""));
    run.finish();
    let info = &run.rec.infos[&0];
    assert_eq!((info.orig(), info.inference), (p.client, OrigInference::Syn));
    assert_eq!(run.rec.stream(0, Dir::FromOrig), vec![bytes(REQ)]);
    assert_eq!(run.rec.fins(0), vec![Dir::FromOrig]);
    assert_eq!(run.table.stats().gaps, 0);
}

/// The exchange after a handshake of any shape: request, response, both checked.
fn exchange_after(p: &Pair, run: &mut Run) {
    run.feed(&p.c(CISN + 1, SISN + 1, "PA", REQ));
    run.feed(&p.s(SISN + 1, CISN + 1 + len(REQ), "PA", RESP));
    run.finish();
    assert_eq!(run.rec.opens(), vec![0], "one connection");
    let info = &run.rec.infos[&0];
    assert_eq!((info.orig(), info.resp()), (p.client, p.server), "orientation");
    assert_eq!(run.rec.stream(0, Dir::FromOrig), vec![bytes(REQ)]);
    assert_eq!(run.rec.stream(0, Dir::FromResp), vec![bytes(RESP)]);
    assert!(
        run.rec.tcp_events(0).is_empty(),
        "{:?}",
        run.rec.tcp_events(0)
    );
    assert_eq!(run.table.stats().gaps, 0);
}

#[test]
fn split_handshake_syn_syn_synack_ack() {
    // The server answers the SYN with a SYN of its own; the client sends the SYN-ACK.
    let p = Pair::new("10.0.0.1:40000", "10.0.0.2:80");
    let mut run = Run::default_cfg();
    run.feed(&p.c(CISN, 0, "S", b""));
    run.feed(&p.s(SISN, 0, "S", b""));
    run.feed(&p.c(CISN, SISN + 1, "SA", b""));
    run.feed(&p.s(SISN + 1, CISN + 1, "A", b""));
    exchange_after(&p, &mut run);
}

#[test]
fn four_way_handshake_with_the_servers_ack_before_its_syn() {
    // SYN, a bare ACK from the server, then the server's SYN, the client's SYN-ACK and ACK. The
    // bare ACK must not fix where the server's stream starts: its first byte follows the SYN.
    let p = Pair::new("10.0.0.1:40000", "10.0.0.2:80");
    let mut run = Run::default_cfg();
    run.feed(&p.c(CISN, 0, "S", b""));
    run.feed(&p.s(SISN, CISN + 1, "A", b""));
    run.feed(&p.s(SISN, 0, "S", b""));
    run.feed(&p.c(CISN, SISN + 1, "SA", b""));
    run.feed(&p.s(SISN + 1, CISN + 1, "A", b""));
    exchange_after(&p, &mut run);
}

#[test]
fn simultaneous_open_keeps_the_first_syn_as_originator() {
    let p = Pair::new("10.0.0.1:40000", "10.0.0.2:80");
    let mut run = Run::default_cfg();
    run.feed(&p.c(CISN, 0, "S", b""));
    run.feed(&p.s(SISN, 0, "S", b""));
    run.feed(&p.c(CISN, SISN + 1, "SA", b""));
    run.feed(&p.s(SISN, CISN + 1, "SA", b""));
    assert_eq!(run.rec.infos[&0].inference, OrigInference::Syn);
    exchange_after(&p, &mut run);
}

#[test]
fn syn_with_data_is_delivered_once() {
    // TCP Fast Open: the request rides on the SYN. The server first acknowledges only the SYN
    // (cookie refused), so the client sends the request again after the handshake: the copy is
    // compared with the first and not delivered twice.
    let p = Pair::new("10.0.0.1:40000", "10.0.0.2:80");
    let mut run = Run::default_cfg();
    run.feed(&p.c(CISN, 0, "S", REQ));
    run.feed(&p.s(SISN, CISN + 1, "SA", b""));
    run.feed(&p.c(CISN + 1, SISN + 1, "PA", REQ));
    run.feed(&p.s(SISN + 1, CISN + 1 + len(REQ), "PA", RESP));
    run.finish();
    assert_eq!(run.rec.stream(0, Dir::FromOrig), vec![bytes(REQ)]);
    assert_eq!(run.rec.stream(0, Dir::FromResp), vec![bytes(RESP)]);
    assert!(run.rec.tcp_events(0).is_empty());
    assert_eq!(run.table.stats().retransmissions, 1);
    assert_eq!(run.table.stats().overlap_mismatches, 0);

    // Accepted at once (the SYN-ACK acknowledges the data): nothing is sent again.
    let mut run = Run::default_cfg();
    run.feed(&p.c(CISN, 0, "S", REQ));
    run.feed(&p.s(SISN, CISN + 1 + len(REQ), "SA", RESP));
    run.finish();
    assert_eq!(run.rec.stream(0, Dir::FromOrig), vec![bytes(REQ)]);
    assert_eq!(run.rec.stream(0, Dir::FromResp), vec![bytes(RESP)]);
}

#[test]
fn injected_rst_inside_the_window_does_not_close_the_connection() {
    // An attacker (or a middlebox) guesses a sequence number inside the window. A receiver
    // following RFC 5961 answers with a challenge ACK and the exchange goes on; so does the
    // sensor.
    let p = Pair::new("10.0.0.1:40000", "10.0.0.2:80");
    let mut run = Run::default_cfg();
    run.feed_all(&handshake(&p));
    run.feed(&p.c(CISN + 1, SISN + 1, "PA", &REQ[..10]));
    run.feed(&p.s(SISN + 1 + 500, CISN + 11, "R", b""));
    run.feed(&p.c(CISN + 5, 0, "R", b""));
    run.feed(&p.c(CISN + 11, SISN + 1, "PA", &REQ[10..]));
    run.feed(&p.s(SISN + 1, CISN + 1 + len(REQ), "PA", RESP));
    assert!(run.rec.fins(0).is_empty(), "not reset");
    assert_eq!(
        run.rec.tcp_events(0),
        vec![
            TcpEvent::ResetIgnored { dir: Dir::FromResp },
            TcpEvent::ResetIgnored { dir: Dir::FromOrig }
        ]
    );
    assert_eq!(run.table.stats().resets_in_window, 2);
    assert_eq!(run.table.stats().data_after_close, 0);
    // The real end: a RST at the client's next byte closes it.
    run.feed(&p.c(CISN + 1 + len(REQ), 0, "R", b""));
    run.wait(5);
    run.finish();
    assert_eq!(run.rec.stream(0, Dir::FromOrig), vec![bytes(REQ)]);
    assert_eq!(run.rec.stream(0, Dir::FromResp), vec![bytes(RESP)]);
    assert_eq!(run.rec.closes(), vec![(0, CloseReason::Reset)]);
}

#[test]
fn genuine_rst_after_bytes_the_capture_missed_still_closes() {
    // The capture lost the client's second segment, but the server acknowledged it: the
    // client's RST sits where the server expects the next byte, so it is believed.
    let p = Pair::new("10.0.0.1:40000", "10.0.0.2:80");
    let mut run = Run::default_cfg();
    run.feed_all(&handshake(&p));
    run.feed(&p.c(CISN + 1, SISN + 1, "PA", &REQ[..10]));
    run.feed(&p.s(SISN + 1, CISN + 1 + len(REQ), "A", b""));
    run.feed(&p.c(CISN + 1 + len(REQ), 0, "R", b""));
    run.wait(5);
    run.finish();
    assert_eq!(run.rec.closes(), vec![(0, CloseReason::Reset)]);
    assert_eq!(run.table.stats().resets_in_window, 0);
    assert_eq!(run.rec.fins(0), vec![Dir::FromOrig, Dir::FromResp]);
    // What the server acknowledged beyond the capture is reported as lost, before the end.
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![bytes(&REQ[..10]), Piece::Gap(u64::from(len(REQ) - 10))]
    );
}

#[test]
fn paws_drops_an_older_stamped_segment_so_the_real_bytes_win() {
    // Insertion: a segment stamped older than the client's last in-order one reaches the
    // sensor first with other bytes. The server drops it (PAWS), so must the sensor, or the
    // first copy would win and the real request would be reported only as a mismatch.
    let p = Pair::new("10.0.0.1:40000", "10.0.0.2:80");
    let mut run = Run::default_cfg();
    for (i, s) in handshake(&p).into_iter().enumerate() {
        run.feed(&stamped(s, 100 + i as u32));
    }
    run.feed(&stamped(p.c(CISN + 1, SISN + 1, "PA", b"GET /"), 110));
    run.feed(&stamped(
        p.c(CISN + 6, SISN + 1, "PA", b"evil HTTP/1.1"),
        50,
    ));
    run.feed(&stamped(
        p.c(CISN + 6, SISN + 1, "PA", b"real HTTP/1.1"),
        111,
    ));
    run.finish();
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![bytes(b"GET /real HTTP/1.1")]
    );
    assert_eq!(
        run.rec.tcp_events(0),
        vec![TcpEvent::PawsRejected { dir: Dir::FromOrig }]
    );
    assert_eq!(run.table.stats().paws_rejected, 1);
    assert_eq!(run.table.stats().overlap_mismatches, 0);
}

#[test]
fn paws_accepts_a_late_segment_filling_a_hole_and_segments_without_stamps() {
    // Network reordering: the second segment (stamped later) overtakes the first. A receiver
    // learns stamps only from in-order segments, so the first one is still accepted.
    let p = Pair::new("10.0.0.1:40000", "10.0.0.2:80");
    let mut run = Run::default_cfg();
    run.feed_all(&handshake(&p));
    run.feed(&stamped(p.c(CISN + 1, SISN + 1, "PA", b"GET "), 200));
    run.feed(&stamped(p.c(CISN + 11, SISN + 1, "PA", b"HTTP/1.1"), 205));
    run.feed(&stamped(p.c(CISN + 5, SISN + 1, "PA", b"/path "), 201));
    run.feed(&p.c(CISN + 19, SISN + 1, "PA", b"\r\n"));
    run.finish();
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![bytes(b"GET /path HTTP/1.1\r\n")]
    );
    assert!(
        run.rec.tcp_events(0).is_empty(),
        "{:?}",
        run.rec.tcp_events(0)
    );
    assert_eq!(run.table.stats().paws_rejected, 0);
}

#[test]
fn a_forged_future_stamp_does_not_blind_the_sensor_for_good() {
    // A forged in-order segment stamped far in the future reaches only the sensor (a short
    // TTL): its bytes are taken, as any in-order bytes are. Real segments then look old and are
    // dropped; once the server acknowledges bytes the sensor dropped, the stamp is learnt again
    // and the stream goes on, with what was dropped reported as a gap.
    let p = Pair::new("10.0.0.1:40000", "10.0.0.2:80");
    let mut run = Run::default_cfg();
    run.feed_all(&handshake(&p));
    run.feed(&stamped(
        p.c(CISN + 1, SISN + 1, "PA", b"GET /a HTTP/1.1\r\n"),
        300,
    ));
    run.feed(&stamped(
        p.c(CISN + 18, SISN + 1, "PA", b"X-Forged: 12\r\n"),
        3_000_000,
    ));
    // The real bytes at the same place, and the next request, stamped on the real clock.
    run.feed(&stamped(
        p.c(CISN + 18, SISN + 1, "PA", b"Host: bank\r\n\r\n"),
        301,
    ));
    run.feed(&stamped(
        p.c(CISN + 32, SISN + 1, "PA", b"GET /b HTTP/1.1\r\n"),
        302,
    ));
    assert_eq!(run.table.stats().paws_rejected, 2);
    assert_eq!(run.table.stats().paws_resyncs, 0);
    // The server acknowledges everything it got, past what the sensor kept.
    run.feed(&p.s(SISN + 1, CISN + 49, "A", b""));
    assert_eq!(run.table.stats().paws_resyncs, 1);
    run.feed(&stamped(
        p.c(CISN + 49, SISN + 1, "PA", b"Host: bank\r\n\r\n"),
        303,
    ));
    run.feed(&stamped(p.c(CISN + 63, SISN + 1, "PA", b"GET /c"), 304));
    run.finish();
    assert_eq!(
        run.rec.stream(0, Dir::FromOrig),
        vec![
            bytes(b"GET /a HTTP/1.1\r\nX-Forged: 12\r\n"),
            Piece::Gap(17),
            bytes(b"Host: bank\r\n\r\nGET /c")
        ]
    );
    assert_eq!(
        run.rec.tcp_events(0),
        vec![
            TcpEvent::PawsRejected { dir: Dir::FromOrig },
            TcpEvent::PawsRejected { dir: Dir::FromOrig }
        ]
    );
    assert_eq!(
        run.table.stats().paws_rejected,
        2,
        "learnt again: nothing more dropped"
    );
}
