//! The TLS hello parser on one direction of a connection: ClientHello or ServerHello across
//! records, the clear handshake after a TLS 1.2 hello (Certificate messages, CertificateRequest,
//! ServerHelloDone), the JA4/JA4S fingerprints of any hello found, content detection, and the
//! posture assessment, which parses the certificates found (x509-parser, in discovery).
//!
//! Input: `[control: u8][bytes of one direction]`. Bit 0 of the control byte picks the side
//! (client, server); bit 1 tells the client side that TLS 1.2 was chosen (so it reads its
//! Certificate message); bits 2..7 seed the piece sizes of the second run. `fuzz/seed.py`
//! writes the first bytes of each direction of the TLS connections in the repository's
//! captures in this form.
//!
//! Checked besides "no panic": the parser's promise that bytes may come in any split: the
//! same bytes in pieces of 1 to 9 bytes give the same outcome, certificates, handshake end
//! and events as in one piece; the buffer stays within the hello limit.
#![no_main]

use apitap_discovery::posture::{assess, PostureConfig};
use apitap_parsers::tls::{
    detect_tls, detect_tls_side, ja4, ja4_r, ja4s, ja4s_r, HelloParser, HelloStatus, Side, TlsConfig, Transport,
};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, PartialEq)]
struct Outcome {
    statuses: Vec<HelloStatus>,
    certificates: Option<Vec<Vec<u8>>>,
    truncated: bool,
    request: bool,
    end: Option<String>,
    events: Vec<String>,
}

fn run(side: Side, tls12: bool, bytes: &[u8], piece: Option<usize>) -> Outcome {
    let cfg = TlsConfig::default();
    let mut p = HelloParser::with_config(side, &cfg);
    if tls12 {
        p.set_negotiated_version(0x0303);
    }
    let mut statuses = Vec::new();
    let mut events = Vec::new();
    let mut size = piece.unwrap_or(0);
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = match piece {
            Some(_) => {
                size = size % 9 + 1;
                size.min(rest.len())
            }
            None => rest.len(),
        };
        let (chunk, next) = rest.split_at(n);
        rest = next;
        let status = p.feed(chunk);
        assert!(p.buffered_bytes() <= cfg.max_hello_bytes + 2 * cfg.max_certificate_bytes, "{} bytes held", p.buffered_bytes());
        // `Done` repeats for every call after the end; when the end came is in `end`.
        if status.is_final() && status != HelloStatus::Done {
            statuses.push(status);
        }
        while let Some(e) = p.poll_event() {
            events.push(format!("{e:?}"));
        }
    }
    Outcome {
        statuses,
        certificates: p.certificates().map(|c| c.certs.clone()),
        truncated: p.certificates().is_some_and(|c| c.truncated),
        request: p.certificate_request_seen(),
        end: p.handshake_end().map(|e| format!("{e:?}")),
        events,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, bytes)) = data.split_first() else { return };
    let side = if ctl & 1 == 0 { Side::Client } else { Side::Server };
    let tls12 = ctl & 2 != 0;
    let _ = detect_tls(bytes);
    let _ = detect_tls_side(side, bytes);
    let whole = run(side, tls12, bytes, None);
    for s in &whole.statuses {
        match s {
            HelloStatus::ClientHello(ch) => {
                let _ = (ja4(ch, Transport::Tcp), ja4_r(ch, Transport::Quic));
            }
            HelloStatus::ServerHello(sh) => {
                let _ = (ja4s(sh, Transport::Tcp), ja4s_r(sh, Transport::Quic));
            }
            _ => {}
        }
    }
    if let Some(certs) = &whole.certificates {
        let chosen = whole.statuses.iter().find_map(|s| match s {
            HelloStatus::ServerHello(sh) => Some((sh.version(), sh.cipher_suite)),
            _ => None,
        });
        let _ = assess(&PostureConfig::default(), chosen, certs, 1_700_000_000);
    }
    let pieces = run(side, tls12, bytes, Some(usize::from(ctl >> 2)));
    assert_eq!(whole, pieces, "cutting the bytes into pieces changed the outcome");
});
