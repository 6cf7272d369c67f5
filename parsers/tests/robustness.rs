//! Hostile-input properties: no panic on any bytes, bounded memory, and results that do not
//! depend on how TCP segmented the stream.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

use std::sync::Arc;

use apitap_parsers::{detect_request, detect_response, Direction, HttpConfig, HttpEvent, HttpParser, HttpTransaction};

/// xorshift64*: deterministic, dependency-free randomness for reproducible failures.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

fn small_config() -> HttpConfig {
    HttpConfig {
        max_header_bytes: 256,
        max_headers: 8,
        max_pending_requests: 4,
        max_uri_len: 32,
        max_field_len: 16,
        max_decoded_body: 4096,
        max_events_per_transaction: 4,
        max_ready_transactions: 8,
        max_header_names: 4,
        max_body_capture: 16,
        ..HttpConfig::default()
    }
}

/// The most `HttpParser::buffered_bytes` may report: per direction, a line buffer and a head
/// buffer of up to `max_header_bytes` each (twice that in capacity, as vectors grow by
/// doubling), one inflater state (44 KiB) and the capture of the message in progress; and the
/// two captured bodies of every transaction the parser can hold (pending, held, behind the
/// held one, ready).
fn buffered_bound(cfg: &HttpConfig) -> usize {
    let transactions = cfg.max_pending_requests + 3 + 2 * cfg.max_ready_transactions;
    2 * (4 * (cfg.max_header_bytes + 2) + 64 + 44 * 1024 + cfg.max_body_capture)
        + 2 * cfg.max_body_capture * transactions
}

/// Feeds `ops` and checks the invariants that must hold whatever the input.
fn drive(cfg: &Arc<HttpConfig>, ops: &[(u8, Direction, Vec<u8>)]) -> Vec<HttpTransaction> {
    let mut p = HttpParser::new(cfg.clone());
    let mut out = Vec::new();
    for (i, (kind, dir, bytes)) in ops.iter().enumerate() {
        let ts = i as u64;
        match kind {
            0 => {
                let pr = p.handle_data(ts, *dir, bytes);
                assert_eq!(pr.consumed + pr.ignored, bytes.len());
                assert!(pr.buffered <= cfg.max_header_bytes, "line buffer {} over limit", pr.buffered);
                assert!(pr.ready <= cfg.max_ready_transactions);
            }
            1 => p.handle_gap(ts, *dir, bytes.len() as u64 * 7 + 1),
            2 => p.handle_eof(ts, *dir),
            _ => p.handle_close(ts),
        }
        assert!(p.buffered_bytes() <= buffered_bound(cfg), "{} buffered", p.buffered_bytes());
        while let Some(t) = p.poll_transaction() {
            assert!(t.events.len() <= cfg.max_events_per_transaction);
            assert!(t.uri.as_ref().is_none_or(|u| u.len() <= cfg.max_uri_len));
            assert!(t.host.as_ref().is_none_or(|h| h.len() <= cfg.max_field_len));
            assert!(t.request_header_names.len() <= cfg.max_header_names);
            assert!(t.request_body.len() <= cfg.max_body_capture);
            assert!(t.response_body.len() <= cfg.max_body_capture);
            assert!(t.request_body.len() as u64 <= t.request_body_len, "captured more than the body");
            assert!(t.response_body.len() as u64 <= t.response_body_len, "captured more than the body");
            out.push(t);
        }
    }
    p.handle_close(ops.len() as u64);
    while let Some(t) = p.poll_transaction() {
        out.push(t);
    }
    let mut depths: Vec<u32> = out.iter().map(|t| t.trans_depth).collect();
    depths.sort_unstable();
    depths.dedup();
    assert_eq!(depths.len(), out.len(), "trans_depth repeated");
    let s = p.stats();
    assert_eq!(s.transactions, out.len() as u64 + s.transactions_dropped);
    out
}

const FRAGMENTS: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\n",
    b"POST /x?token=1 HTTP/1.0\n",
    b"HEAD * HTTP/1.1\r\n",
    b"CONNECT a:443 HTTP/1.1\r\n",
    b"GET /zeek.html\n",
    b"HTTP/1.1 200 OK\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"HTTP/1.1 101 Switching\r\nUpgrade: ws\r\nConnection: upgrade\r\n\r\n",
    b"HTTP/1.0 204\r\n",
    b"Host: x\r\n",
    b"Content-Length: 5\r\n",
    b"Content-Length: -1\r\n",
    b"Content-Length: 99999999999999999999999\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Content-Encoding: gzip\r\n",
    b"Content-Type: multipart/form-data; boundary=x\r\n",
    b"Content-Range: bytes 0-9/10\r\n",
    b"Connection: close\r\n",
    b"  folded\r\n",
    b"\r\n",
    b"\n",
    b"\r",
    b"5\r\nhello\r\n",
    b"ffffffffffffffffff\r\n",
    b"0\r\n\r\n",
    b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03",
    b"\x00\xff\xfe",
    b"%%u12%",
];

fn random_ops(rng: &mut Rng, structured: bool) -> Vec<(u8, Direction, Vec<u8>)> {
    let n = 1 + rng.below(40);
    (0..n)
        .map(|_| {
            let dir = if rng.below(2) == 0 { Direction::ToServer } else { Direction::ToClient };
            let kind = match rng.below(40) {
                0 => 1,
                1 => 2,
                2 => 3,
                _ => 0,
            };
            let mut bytes = Vec::new();
            let parts = 1 + rng.below(6);
            for _ in 0..parts {
                if structured && rng.below(4) != 0 {
                    let mut frag = rng.pick(FRAGMENTS).to_vec();
                    if rng.below(8) == 0 && !frag.is_empty() {
                        let i = rng.below(frag.len() as u64) as usize;
                        frag[i] = rng.next() as u8;
                    }
                    bytes.extend_from_slice(&frag);
                } else {
                    let len = rng.below(64);
                    bytes.extend((0..len).map(|_| rng.next() as u8));
                }
            }
            (kind, dir, bytes)
        })
        .collect()
}

#[test]
fn random_bytes_never_panic_and_stay_bounded() {
    let cfg = Arc::new(small_config());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let ops = random_ops(&mut rng, false);
        drive(&cfg, &ops);
    }
}

#[test]
fn mutated_http_never_panics_and_stays_bounded() {
    let cfg = Arc::new(small_config());
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    for _ in 0..5000 {
        let ops = random_ops(&mut rng, true);
        drive(&cfg, &ops);
    }
    let cfg = Arc::new(HttpConfig::default());
    for _ in 0..2000 {
        let ops = random_ops(&mut rng, true);
        drive(&cfg, &ops);
    }
}

#[test]
fn detection_never_panics() {
    let mut rng = Rng(42);
    for _ in 0..20000 {
        let len = rng.below(40) as usize;
        let mut data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if rng.below(2) == 0 {
            let mut prefix = rng.pick(FRAGMENTS).to_vec();
            prefix.truncate(rng.below(prefix.len() as u64 + 1) as usize);
            prefix.extend_from_slice(&data);
            data = prefix;
        }
        let _ = detect_request(&data);
        let _ = detect_response(&data);
    }
}

/// A random but well-formed exchange: pipelined requests and their responses.
fn exchange(rng: &mut Rng) -> (Vec<u8>, Vec<u8>) {
    let mut client = Vec::new();
    let mut server = Vec::new();
    for i in 0..1 + rng.below(3) {
        let method = *rng.pick(&["GET", "POST", "HEAD", "PUT", "get"]);
        let eol: &[u8] = if rng.below(3) == 0 { b"\n" } else { b"\r\n" };
        client.extend_from_slice(format!("{method} /p{i}?q=%41&token=t HTTP/1.1").as_bytes());
        client.extend_from_slice(eol);
        client.extend_from_slice(b"Host: h");
        client.extend_from_slice(eol);
        if rng.below(4) == 0 {
            client.extend_from_slice(b"X-Fold: a");
            client.extend_from_slice(eol);
            client.extend_from_slice(b" b");
            client.extend_from_slice(eol);
        }
        if method == "POST" || method == "PUT" {
            if rng.below(2) == 0 {
                client.extend_from_slice(b"Content-Length: 7\r\n\r\nabc\r\nde");
            } else {
                client.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n");
            }
        } else {
            client.extend_from_slice(eol);
        }
        if rng.below(3) == 0 {
            server.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        match rng.below(3) {
            0 => server.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody"),
            1 => server.extend_from_slice(b"HTTP/1.1 404 Nope\nTransfer-Encoding: chunked\n\n4\nbody\n0\n\n"),
            _ => server.extend_from_slice(b"HTTP/1.1 304 Not Modified\r\n\r\n"),
        }
    }
    (client, server)
}

fn run_split(
    cfg: &Arc<HttpConfig>,
    client: &[u8],
    server: &[u8],
    cut_client: &[usize],
    cut_server: &[usize],
) -> Vec<HttpTransaction> {
    let mut ops = Vec::new();
    let pieces = |data: &[u8], cuts: &[usize]| -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut start = 0;
        for &c in cuts.iter().chain(std::iter::once(&data.len())) {
            out.push(data[start..c].to_vec());
            start = c;
        }
        out
    };
    for p in pieces(client, cut_client) {
        ops.push((0, Direction::ToServer, p));
    }
    for p in pieces(server, cut_server) {
        ops.push((0, Direction::ToClient, p));
    }
    ops.push((2, Direction::ToClient, Vec::new()));
    ops.push((2, Direction::ToServer, Vec::new()));
    // Timestamps differ with the number of deliveries; compare what the traffic says.
    drive(cfg, &ops)
        .into_iter()
        .map(|t| HttpTransaction {
            ts: 0,
            request_start: None,
            request_end: None,
            response_start: None,
            response_end: None,
            ..t
        })
        .collect()
}

#[test]
fn every_split_point_gives_the_same_transactions() {
    let mut rng = Rng(7);
    let plain = Arc::new(HttpConfig::default());
    // Request bodies have 5 or 7 bytes and are cut; response bodies fill the capture exactly.
    let capture = Arc::new(HttpConfig { max_body_capture: 4, ..HttpConfig::default() });
    let (mut kept, mut cut) = (0, 0);
    for _ in 0..40 {
        let (client, server) = exchange(&mut rng);
        for cfg in [&plain, &capture] {
            let whole = run_split(cfg, &client, &server, &[], &[]);
            assert!(!whole.is_empty());
            for t in &whole {
                kept += usize::from(!t.request_body.is_empty()) + usize::from(!t.response_body.is_empty());
                cut += usize::from(t.request_body_truncated) + usize::from(t.response_body_truncated);
            }
            for k in 0..=client.len() {
                assert_eq!(run_split(cfg, &client, &server, &[k], &[]), whole, "client split at {k}");
            }
            for k in 0..=server.len() {
                assert_eq!(run_split(cfg, &client, &server, &[], &[k]), whole, "server split at {k}");
            }
            let mut cuts: Vec<usize> = (0..5).map(|_| rng.below(client.len() as u64) as usize).collect();
            cuts.sort_unstable();
            assert_eq!(run_split(cfg, &client, &server, &cuts, &[]), whole);
        }
    }
    assert!(kept > 20 && cut > 10, "the capture was exercised: {kept} kept, {cut} cut");
}

#[test]
fn endless_header_line_holds_at_most_the_limit() {
    let cfg = Arc::new(HttpConfig { max_header_bytes: 1024, ..HttpConfig::default() });
    let mut p = HttpParser::new(cfg);
    let _ = p.handle_data(0, Direction::ToServer, b"GET / HTTP/1.1\r\nX-Big: ");
    let chunk = vec![b'a'; 4096];
    for i in 0..256 {
        let pr = p.handle_data(i, Direction::ToServer, &chunk);
        assert_eq!(pr.consumed, chunk.len());
        assert!(pr.buffered <= 1024);
        assert!(p.buffered_bytes() <= 4 * 1024, "{}", p.buffered_bytes());
    }
    let _ = p.handle_data(999, Direction::ToServer, b"\r\nHost: late\r\n\r\n");
    let _ = p.handle_data(999, Direction::ToClient, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    let t = p.poll_transaction().unwrap();
    assert_eq!(t.status_code, Some(200));
    assert_eq!(t.host, None, "header lines after the limit are skipped");
    assert_eq!(p.stats().header_limit_hits, 1);
}

#[test]
fn endless_pipelining_without_responses_stays_bounded() {
    let cfg = Arc::new(HttpConfig { max_pending_requests: 16, max_ready_transactions: 64, ..HttpConfig::default() });
    let mut p = HttpParser::new(cfg);
    let mut polled = 0;
    for i in 0..10_000 {
        let _ = p.handle_data(i, Direction::ToServer, b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
        while p.poll_transaction().is_some() {
            polled += 1;
        }
    }
    assert!(p.stats().pending_limit_hits > 0);
    // Everything but the last few pending requests has been emitted.
    assert!(polled > 10_000 - 20, "{polled}");
}

/// Fuzzing found (target `http`, fuzz/regressions/http): a head line ended by a CR that was the
/// last byte of its delivery was reported as `BareCr` only when the message went on after the
/// next delivery showed the CR bare, so cutting "T  HTTP/\n\r\r" after its first CR lost the
/// event that the stream in one piece had. A bare CR now reaches the message after its line,
/// wherever TCP cut the stream.
#[test]
fn a_bare_cr_at_the_end_of_a_delivery_gives_the_same_transactions() {
    let cfg = Arc::new(HttpConfig::default());
    let response = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec();
    let requests: [&[u8]; 6] = [
        b"T  HTTP/\n\r\r",
        b"GET /a HTTP/1.1\r\nHost: x\r\r",
        b"GET /b HTTP/1.1\r\nHost: x\rAccept: y\r\n\r\n",
        b"POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\rhi",
        b"POST /d HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\rhi\r\n0\r\r",
        b"GET /e HTTP/1.1\rHost: x\r\n\r\nGET /f HTTP/1.1\r\nHost: y\r\r",
    ];
    for request in requests {
        let whole = run_split(&cfg, request, &response, &[], &[]);
        for k in 0..=request.len() {
            assert_eq!(run_split(&cfg, request, &response, &[k], &[]), whole, "{request:?} cut at {k}");
        }
    }
    // The event is still reported where the message goes on after the bare CR.
    for request in [requests[2], requests[3]] {
        let bare = |t: &HttpTransaction| t.events.iter().any(|e| matches!(e, HttpEvent::BareCr { .. }));
        let cut = request.windows(2).position(|w| w[0] == b'\r' && w[1] != b'\n').map(|i| i + 1).unwrap();
        for cuts in [&[][..], &[cut][..]] {
            let got = run_split(&cfg, request, &response, cuts, &[]);
            assert!(bare(&got[0]), "{request:?} cut at {cuts:?}: no bare_cr");
        }
    }
}

/// Fuzzing found (target `http`, fuzz/regressions/http): while resynchronising after a gap, a
/// skipped line ended by a CR at the end of a delivery was counted as ended by CRLF (two
/// bytes) before the next byte was known, so a bare CR cut off from what follows it made
/// `Resync::skipped` one more than the bytes skipped.
#[test]
fn bytes_skipped_after_a_gap_do_not_depend_on_the_cut() {
    let cfg = Arc::new(HttpConfig::default());
    let skipped = |pieces: &[&[u8]]| {
        let mut p = HttpParser::new(cfg.clone());
        p.handle_gap(1, Direction::ToServer, 5);
        for piece in pieces {
            let _ = p.handle_data(2, Direction::ToServer, piece);
        }
        p.handle_close(3);
        let t = p.poll_transaction().unwrap();
        let resync = t.events.iter().find_map(|e| match e {
            HttpEvent::Resync { skipped, .. } => Some(*skipped),
            _ => None,
        });
        (resync, p.stats().resync_skipped_bytes)
    };
    // One bare CR, then a CRLF, then a line of junk: 1, 2 and 6 bytes before the request.
    for (stream, want) in [(&b"\rT HTTP/1.1\r\n\r\n"[..], 1), (b"\r\nT HTTP/1.1\r\n\r\n", 2), (b"junk\r\nT HTTP/1.1\r\n\r\n", 6)] {
        assert_eq!(skipped(&[stream]), (Some(want), want), "{stream:?} in one delivery");
        for k in 1..stream.len() {
            let (a, b) = stream.split_at(k);
            assert_eq!(skipped(&[a, b]), (Some(want), want), "{stream:?} cut at {k}");
        }
    }
}

/// Fuzzing found (target `http`, fuzz/regressions/http): after a gap, the request line found
/// by resynchronising reported its bare CR before `Resync` when the CR's next byte came in
/// the same delivery, and after it when the next byte came in a later one.
#[test]
fn a_resynchronised_request_line_reports_its_events_in_one_order() {
    let cfg = Arc::new(HttpConfig::default());
    let events = |pieces: &[&[u8]]| {
        let mut p = HttpParser::new(cfg.clone());
        p.handle_gap(1, Direction::ToServer, 1);
        for piece in pieces {
            let _ = p.handle_data(2, Direction::ToServer, piece);
        }
        p.handle_close(3);
        let names: Vec<&str> = p.poll_transaction().unwrap().events.iter().map(HttpEvent::name).collect();
        names.join(" ")
    };
    let stream = b"\nGET / HTTP/1.1\rHost: x\r\n\r\n";
    let whole = events(&[stream]);
    assert_eq!(whole, "gap resync bare_cr");
    for k in 1..stream.len() {
        let (a, b) = stream.split_at(k);
        assert_eq!(events(&[a, b]), whole, "cut at {k}");
    }
}

/// Fuzzing found (target `http`, fuzz/regressions/http): a compressed body whose decoded
/// output filled the capture and then met corrupt data reported `decode_error` before
/// `body_capture_limit` when both happened in one delivery, and after it otherwise.
#[test]
fn a_corrupt_body_past_the_capture_reports_its_events_in_one_order() {
    use std::io::Write;
    let cfg = Arc::new(HttpConfig { max_body_capture: 64, ..HttpConfig::default() });
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(&b"account statement line\n".repeat(20)).unwrap();
    e.flush().unwrap();
    let mut body = e.get_ref().clone();
    // A final block of the reserved type 3 right after the text: corrupt from there on.
    body.push(0x07);
    let mut request = format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    request.extend_from_slice(&body);
    let events = |cuts: &[usize]| {
        let got = run_split(&cfg, &request, b"HTTP/1.1 204 No Content\r\n\r\n", cuts, &[]);
        got[0].events.iter().map(HttpEvent::name).collect::<Vec<_>>().join(" ")
    };
    let whole = events(&[]);
    assert_eq!(whole, "body_capture_limit decode_error");
    for k in 0..=request.len() {
        assert_eq!(events(&[k]), whole, "cut at {k}");
    }
}
