//! TLS decryption's record framing and key handling, fed records it mostly cannot open: the
//! hellos' parameters (any suite and version, or none), a key log whose lines are built from
//! the input (any label, secrets of any length, the right or a wrong client random, or no key
//! log at all), then bytes of both directions in any split, gaps, retries and packet-time
//! steps. Without keys the records are framed, held and given up; with made-up keys they are
//! framed and fail to open. Records that open (real keys with real traffic) are left to the
//! decryption tests: the fuzzer cannot forge an AEAD tag.
//!
//! Checked besides "no panic": records are held within `max_pending_bytes` (plus one record
//! being framed per direction); a connection given up holds nothing; nothing comes out as
//! plaintext without a key log.
#![no_main]

use apitap_parsers::tls::decrypt::{DecryptConfig, KeyLog, NoKeys, Output, TlsDecryptor, MAX_RECORD_PAYLOAD};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

const SUITES: [u16; 8] = [0x1301, 0x1302, 0x1303, 0xc02f, 0xc030, 0xcca8, 0xc013, 0x0000];
const LABELS: [&str; 7] = [
    "CLIENT_RANDOM",
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
    "EXPORTER_SECRET",
    "BOGUS",
];

#[derive(Arbitrary, Debug)]
struct Input {
    client_random: [u8; 32],
    server_hello: Option<(u8, u16, bool)>,
    /// `None`: decryption without keys.
    keys: Option<Vec<(u8, bool, Vec<u8>)>>,
    max_pending: u16,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Feed { from_client: bool, bytes: Vec<u8> },
    Gap { from_client: bool, len: u16 },
    Retry,
    Wait { ms: u16 },
    Hello,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fuzz_target!(|input: Input| {
    let cfg = DecryptConfig {
        max_pending_bytes: usize::from(input.max_pending) * 4,
        key_wait_ns: 2_000_000_000,
        ..DecryptConfig::default()
    };
    let mut log = KeyLog::with_capacity(16);
    if let Some(keys) = &input.keys {
        let mut text = String::new();
        for (label, right, secret) in keys.iter().take(8) {
            let random = if *right { input.client_random } else { [0x5a; 32] };
            let label = LABELS[usize::from(*label) % LABELS.len()];
            text.push_str(&format!("{label} {} {}\n", hex(&random), hex(secret)));
        }
        let _ = log.add_text(&text, 16);
    }
    let mut d = TlsDecryptor::new(cfg.clone());
    d.set_client_random(input.client_random);
    let hello = |d: &mut TlsDecryptor| {
        if let Some((suite, version, tls13)) = input.server_hello {
            let version = if tls13 { 0x0304 } else { version };
            d.set_server_hello([7; 32], SUITES[usize::from(suite) % SUITES.len()], version);
        }
    };
    let mut ts = 1_000_000_000u64;
    for op in input.ops.iter().take(256) {
        let keys: &dyn apitap_parsers::tls::decrypt::KeySource = if input.keys.is_some() { &log } else { &NoKeys };
        match op {
            Op::Feed { from_client, bytes } => d.feed(*from_client, ts, bytes, keys),
            Op::Gap { from_client, len } => d.gap(*from_client, ts, u64::from(*len)),
            Op::Retry => d.retry(ts, keys),
            Op::Wait { ms } => ts += u64::from(*ms) * 1_000_000,
            Op::Hello => hello(&mut d),
        }
        if d.status().given_up() {
            assert_eq!(d.buffered(), 0, "a connection given up ({:?}) still holds records", d.status());
        }
        assert!(
            d.buffered() <= cfg.max_pending_bytes + 2 * (MAX_RECORD_PAYLOAD + 5),
            "{} bytes held, limit {}",
            d.buffered(),
            cfg.max_pending_bytes
        );
        while let Some(out) = d.poll_output() {
            if let Output::Data { .. } = out {
                assert!(input.keys.is_some(), "plaintext without keys");
            }
        }
    }
});
