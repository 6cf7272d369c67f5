//! The decryptor on real connections (OpenSSL s_server and s_client on loopback, see
//! `parsers/tests/tls_fixtures/decrypt/make.sh`), judged by what tshark decrypted from the same
//! captures with the same key logs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::*;
use crate::tls::{HelloParser, HelloStatus, Side};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tls_fixtures/decrypt");

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// `c <hex>` / `s <hex>` lines of a fixture file.
fn lines(path: &str) -> Vec<(bool, Vec<u8>)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (who, hex) = l.split_once(' ').unwrap();
            (who == "c", unhex(hex.trim()))
        })
        .collect()
}

fn keylog(case: &str) -> KeyLog {
    let mut log = KeyLog::default();
    let errors = log.add_text(&std::fs::read_to_string(format!("{DIR}/{case}.keys")).unwrap(), 10);
    assert!(errors.is_empty(), "{errors:?}");
    log
}

/// tshark's plaintext, concatenated per side: (client, server).
fn expected(case: &str) -> (Vec<u8>, Vec<u8>) {
    let mut out = (Vec::new(), Vec::new());
    for (c, bytes) in lines(&format!("{DIR}/{case}.plain")) {
        if c { &mut out.0 } else { &mut out.1 }.extend(bytes);
    }
    out
}

/// Replays a case through the hello parsers and a decryptor, in chunks of at most `chunk`
/// bytes; returns the decryptor and the outputs.
fn replay(case: &str, keys: &dyn KeySource, cfg: DecryptConfig, chunk: usize) -> (TlsDecryptor, Vec<Output>) {
    let mut d = TlsDecryptor::new(cfg);
    let mut hello = [HelloParser::new(Side::Client), HelloParser::new(Side::Server)];
    let mut out = Vec::new();
    for (i, (from_client, seg)) in lines(&format!("{DIR}/{case}.txt")).into_iter().enumerate() {
        for piece in seg.chunks(chunk) {
            let p = &mut hello[usize::from(!from_client)];
            if !p.is_done() {
                match p.feed(piece) {
                    HelloStatus::ClientHello(h) => d.set_client_random(h.random),
                    HelloStatus::ServerHello(h) => d.set_server_hello(h.random, h.cipher_suite, h.version()),
                    _ => {}
                }
            }
            d.feed(from_client, i as u64, piece, keys);
            out.extend(std::iter::from_fn(|| d.poll_output()));
        }
    }
    (d, out)
}

fn data(out: &[Output]) -> (Vec<u8>, Vec<u8>) {
    let mut sides = (Vec::new(), Vec::new());
    for o in out {
        if let Output::Data { from_client, bytes, .. } = o {
            if *from_client { &mut sides.0 } else { &mut sides.1 }.extend(bytes);
        }
    }
    sides
}

const DECRYPTABLE: [&str; 8] = [
    "tls12-aes128gcm",
    "tls12-mtls",
    "tls12-aes256gcm",
    "tls12-chacha",
    "tls13-aes128gcm",
    "tls13-aes256gcm",
    "tls13-chacha",
    "tls13-mtls",
];

#[test]
fn every_aead_suite_decrypts_to_what_tshark_decrypts() {
    for case in DECRYPTABLE {
        for chunk in [usize::MAX, 7, 1] {
            let log = keylog(case);
            let (d, out) = replay(case, &log, DecryptConfig::default(), chunk);
            let (want_c, want_s) = expected(case);
            assert!(!want_c.is_empty() && !want_s.is_empty(), "{case}: tshark decrypted nothing");
            let (got_c, got_s) = data(&out);
            assert_eq!(String::from_utf8_lossy(&got_c), String::from_utf8_lossy(&want_c), "{case} client, chunk {chunk}");
            assert_eq!(got_s, want_s, "{case} server, chunk {chunk}");
            assert_eq!(d.status(), DecryptStatus::Decrypting, "{case}");
            assert_eq!(d.stats().failed_records, 0, "{case}");
            assert_eq!(d.buffered(), 0, "{case}: nothing held once all is read");
            assert!(out.iter().all(|o| matches!(o, Output::Data { .. })), "{case}: no gaps");
        }
    }
}

#[test]
fn the_client_certificate_of_tls13_mutual_tls_is_read_once_decrypted() {
    let (d, _) = replay("tls13-mtls", &keylog("tls13-mtls"), DecryptConfig::default(), usize::MAX);
    let chain = d.client_certificates().expect("client Certificate message");
    assert_eq!(chain.leaf(), Some(&std::fs::read(format!("{DIR}/tpp.der")).unwrap()[..]));
    assert_eq!(chain.certs.len(), 2, "leaf and the TPP CA sent with -cert_chain");
    assert!(!chain.truncated);
    let (d, _) = replay("tls13-aes128gcm", &keylog("tls13-aes128gcm"), DecryptConfig::default(), usize::MAX);
    assert!(d.client_certificates().is_none());
}

#[test]
fn the_server_chain_of_a_decrypted_tls13_handshake_is_the_one_tls12_sends_in_the_clear() {
    // Every case was made by the same s_server with the same certificate and chain.
    let mut clear = HelloParser::new(Side::Server);
    for (from_client, seg) in lines(&format!("{DIR}/tls12-aes128gcm.txt")) {
        if !from_client {
            let _ = clear.feed(&seg);
        }
    }
    let clear = clear.certificates().expect("TLS 1.2 server chain").clone();
    assert_eq!(clear.certs.len(), 2);
    for case in ["tls13-aes128gcm", "tls13-chacha", "tls13-mtls"] {
        let (d, _) = replay(case, &keylog(case), DecryptConfig::default(), usize::MAX);
        assert_eq!(d.server_certificates().as_ref(), Some(&clear), "{case}");
    }
    let (d, _) = replay("tls13-chacha", &NoKeys, DecryptConfig::default(), usize::MAX);
    assert!(d.server_certificates().is_none(), "encrypted without keys");
}

#[test]
fn a_cbc_suite_is_reported_unsupported_and_holds_nothing() {
    let (d, out) = replay("tls12-cbc", &keylog("tls12-cbc"), DecryptConfig::default(), usize::MAX);
    assert_eq!(d.status(), DecryptStatus::Unsupported(0xc023));
    assert!(out.is_empty());
    assert_eq!(d.buffered(), 0);
    assert!(d.stats().undecrypted_bytes > 0);
}

#[test]
fn keys_that_arrive_later_still_decrypt_the_held_records() {
    for case in ["tls12-aes128gcm", "tls13-chacha"] {
        let (mut d, out) = replay(case, &NoKeys, DecryptConfig::default(), usize::MAX);
        assert!(out.is_empty());
        assert_eq!(d.status(), DecryptStatus::WaitingForKeys);
        assert!(d.buffered() > 0);
        d.retry(100, &keylog(case));
        let out: Vec<Output> = std::iter::from_fn(|| d.poll_output()).collect();
        assert_eq!(data(&out), expected(case), "{case}");
        assert_eq!(d.buffered(), 0);
    }
}

#[test]
fn keys_that_do_not_come_free_the_records_by_size_and_by_time() {
    let small = DecryptConfig { max_pending_bytes: 64, ..DecryptConfig::default() };
    let (d, out) = replay("tls12-aes256gcm", &NoKeys, small, usize::MAX);
    assert_eq!(d.status(), DecryptStatus::NoKeys);
    assert_eq!((d.buffered(), out.len()), (0, 0));
    assert_eq!(d.stats().pending_limit_hits, 1);

    // Segment i is at packet time i ns: a wait of 2 ns runs out before the end.
    let short = DecryptConfig { key_wait_ns: 2, ..DecryptConfig::default() };
    let (mut d, _) = replay("tls13-aes256gcm", &NoKeys, short, usize::MAX);
    assert_eq!(d.status(), DecryptStatus::NoKeys);
    assert_eq!(d.buffered(), 0);
    d.retry(1_000, &keylog("tls13-aes256gcm"));
    assert!(d.poll_output().is_none(), "given up for good");
}

#[test]
fn wrong_keys_fail_with_a_gap_and_never_emit_garbage() {
    for case in ["tls12-chacha", "tls13-aes128gcm"] {
        let text = std::fs::read_to_string(format!("{DIR}/{case}.keys")).unwrap();
        // Flip the last hex digit of every secret.
        let bad: String = text
            .lines()
            .map(|l| {
                let mut l = l.to_string();
                let last = l.pop().unwrap();
                l.push(if last == '0' { '1' } else { '0' });
                l + "\n"
            })
            .collect();
        let mut log = KeyLog::default();
        assert!(log.add_text(&bad, 1).is_empty());
        let (d, out) = replay(case, &log, DecryptConfig::default(), usize::MAX);
        assert_eq!(d.status(), DecryptStatus::Failed, "{case}");
        assert!(d.stats().failed_records >= 1);
        assert_eq!(data(&out), (vec![], vec![]), "{case}");
        assert!(out.iter().any(|o| matches!(o, Output::Gap { .. })));
    }
}

#[test]
fn a_tcp_gap_stops_that_direction_only() {
    let case = "tls13-aes128gcm";
    let log = keylog(case);
    let mut d = TlsDecryptor::new(DecryptConfig::default());
    let mut hello = [HelloParser::new(Side::Client), HelloParser::new(Side::Server)];
    let segs = lines(&format!("{DIR}/{case}.txt"));
    // The server's response: its last segment longer than an alert.
    let last_server = segs.iter().rposition(|(c, s)| !c && s.len() > 100).unwrap();
    let mut out = Vec::new();
    for (i, (from_client, seg)) in segs.into_iter().enumerate() {
        let p = &mut hello[usize::from(!from_client)];
        if !p.is_done() {
            match p.feed(&seg) {
                HelloStatus::ClientHello(h) => d.set_client_random(h.random),
                HelloStatus::ServerHello(h) => d.set_server_hello(h.random, h.cipher_suite, h.version()),
                _ => {}
            }
        }
        if i == last_server {
            d.gap(false, i as u64, seg.len() as u64);
        } else {
            d.feed(from_client, i as u64, &seg, &log);
        }
        out.extend(std::iter::from_fn(|| d.poll_output()));
    }
    let (c, s) = data(&out);
    assert_eq!(c, expected(case).0, "the client's request still decrypts");
    assert!(s.len() < expected(case).1.len());
    assert!(out.iter().any(|o| matches!(o, Output::Gap { from_client: false, .. })));
    assert_eq!(d.stats().gaps, 1);
}

#[test]
fn records_without_a_server_hello_are_bounded() {
    let cfg = DecryptConfig { max_pending_bytes: 100, ..DecryptConfig::default() };
    let mut d = TlsDecryptor::new(cfg);
    let record = [[23u8, 3, 3, 0, 40].as_slice(), &[0u8; 40]].concat();
    for i in 0..4 {
        d.feed(true, i, &record, &NoKeys);
    }
    assert_eq!(d.status(), DecryptStatus::NoHandshake);
    assert_eq!(d.buffered(), 0);
    // Not TLS framing at all: a record length over the limit breaks the direction.
    let mut d = TlsDecryptor::new(DecryptConfig::default());
    d.feed(true, 0, &[23, 3, 3, 0xff, 0xff], &NoKeys);
    assert_eq!(d.buffered(), 0);
}

/// Fuzzing found (target `tls_decrypt`, fuzz/regressions/tls_decrypt): when a record of one
/// direction failed to open, only that direction's buffers were freed; the other direction's
/// partial record stayed held for the connection's lifetime although the connection was given
/// up (`Failed`) and nothing more would be read.
#[test]
fn a_record_that_fails_to_open_frees_both_directions() {
    let cr = [1u8; 32];
    let mut log = KeyLog::default();
    let line = format!("CLIENT_RANDOM {} {}", "01".repeat(32), "ab".repeat(48));
    assert!(log.add_text(&line, 1).is_empty());
    let mut d = TlsDecryptor::new(DecryptConfig::default());
    d.set_client_random(cr);
    d.set_server_hello([2; 32], 0xc02f, 0x0303);
    // The server's first 10 bytes of a 100-byte protected record: framed, not complete.
    let mut partial = vec![APPLICATION_DATA, 3, 3, 0, 100];
    partial.extend([0x55; 5]);
    d.feed(false, 1, &partial, &log);
    assert_eq!(d.buffered(), 10);
    // The client's ChangeCipherSpec and a record the made-up master secret cannot open.
    let mut client = vec![CHANGE_CIPHER_SPEC, 3, 3, 0, 1, 1, APPLICATION_DATA, 3, 3, 0, 40];
    client.extend([0x77; 40]);
    d.feed(true, 2, &client, &log);
    assert_eq!(d.status(), DecryptStatus::Failed);
    assert_eq!(d.buffered(), 0, "a connection given up holds nothing");
    assert_eq!(d.stats().undecrypted_bytes, 40 + 10, "the failed record's payload and the server's partial record");
}
