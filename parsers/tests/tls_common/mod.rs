//! Shared by the `tls_*` tests: the fixture reader, a hello encoder written from RFC 8446's
//! structures (so tests can build hellos field by field), and a seeded random source.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use apitap_parsers::tls::{HelloParser, HelloStatus, Side};

/// The segments of a fixture, in capture order.
pub fn fixture(name: &str) -> Vec<(Side, Vec<u8>)> {
    let path = format!("{}/tests/tls_fixtures/{name}.txt", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (who, hex) = l.split_once(' ').expect("side and hex");
            let side = match who {
                "c" => Side::Client,
                "s" => Side::Server,
                other => panic!("{path}: side {other}"),
            };
            (side, unhex(hex.trim()))
        })
        .collect()
}

/// The `n`th segment (from 0) that `side` sent in a fixture.
pub fn segment(name: &str, side: Side, n: usize) -> Vec<u8> {
    fixture(name).into_iter().filter(|(s, _)| *s == side).nth(n).map(|(_, b)| b).expect("segment")
}

pub fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

/// Feeds `bytes` in pieces of the given sizes (the rest in one last piece) and returns the
/// first final status.
pub fn feed_pieces(parser: &mut HelloParser, bytes: &[u8], sizes: &[usize]) -> HelloStatus {
    let mut rest = bytes;
    let mut sizes = sizes.iter();
    loop {
        let n = sizes.next().copied().unwrap_or(rest.len()).min(rest.len());
        let (piece, tail) = rest.split_at(n);
        rest = tail;
        let status = parser.feed(piece);
        if status.is_final() || rest.is_empty() {
            return status;
        }
    }
}

pub fn parse_one(side: Side, bytes: &[u8]) -> HelloStatus {
    HelloParser::new(side).feed(bytes)
}

fn u16be(v: u16) -> [u8; 2] {
    v.to_be_bytes()
}

fn vec8(body: &[u8]) -> Vec<u8> {
    let mut out = vec![u8::try_from(body.len()).unwrap()];
    out.extend_from_slice(body);
    out
}

fn vec16(body: &[u8]) -> Vec<u8> {
    let mut out = u16be(u16::try_from(body.len()).unwrap()).to_vec();
    out.extend_from_slice(body);
    out
}

fn u16s(values: &[u16]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_be_bytes()).collect()
}

/// One extension: type and body.
pub type Ext = (u16, Vec<u8>);

pub fn sni_ext(name: &[u8]) -> Ext {
    let mut entry = vec![0u8];
    entry.extend(vec16(name));
    (0x0000, vec16(&entry))
}

pub fn alpn_ext(names: &[&[u8]]) -> Ext {
    let list: Vec<u8> = names.iter().flat_map(|n| vec8(n)).collect();
    (0x0010, vec16(&list))
}

/// An extension whose body is a `<2..2^16-2>` list of u16 (signature_algorithms,
/// supported_groups).
pub fn u16_list_ext(ext: u16, values: &[u16]) -> Ext {
    (ext, vec16(&u16s(values)))
}

/// A ClientHello supported_versions extension.
pub fn versions_ext(values: &[u16]) -> Ext {
    (0x002b, vec8(&u16s(values)))
}

/// A ClientHello key_share with a 32-byte key per group.
pub fn key_share_ext(groups: &[u16]) -> Ext {
    let entries: Vec<u8> = groups
        .iter()
        .flat_map(|g| {
            let mut e = g.to_be_bytes().to_vec();
            e.extend(vec16(&[0x42; 32]));
            e
        })
        .collect();
    (0x0033, vec16(&entries))
}

/// A body that is valid for the extension types the parser reads, empty for the others.
pub fn plain_ext(ext: u16) -> Ext {
    match ext {
        0x0000 => sni_ext(b"example.com"),
        0x0010 => alpn_ext(&[b"h2"]),
        0x000a => u16_list_ext(ext, &[0x001d, 0x0017]),
        0x000b => (ext, vec8(&[0])),
        0x000d => u16_list_ext(ext, &[0x0403]),
        0x002b => versions_ext(&[0x0304]),
        0x002d => (ext, vec8(&[1])),
        0x0033 => key_share_ext(&[0x001d]),
        _ => (ext, Vec::new()),
    }
}

/// What goes into a ClientHello built by [`client_hello`].
#[derive(Clone)]
pub struct ClientSpec {
    pub legacy_version: u16,
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub ciphers: Vec<u16>,
    pub compression: Vec<u8>,
    /// `None`: no extensions block at all.
    pub extensions: Option<Vec<Ext>>,
}

impl Default for ClientSpec {
    fn default() -> Self {
        ClientSpec {
            legacy_version: 0x0303,
            random: [7; 32],
            session_id: vec![9; 32],
            ciphers: vec![0x1301, 0x1302],
            compression: vec![0],
            extensions: Some(vec![sni_ext(b"api.bank.test"), versions_ext(&[0x0304])]),
        }
    }
}

fn handshake(kind: u8, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len()).unwrap();
    let mut out = vec![kind];
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(body);
    out
}

fn extensions_block(exts: &[Ext]) -> Vec<u8> {
    let inner: Vec<u8> = exts
        .iter()
        .flat_map(|(t, body)| {
            let mut e = t.to_be_bytes().to_vec();
            e.extend(vec16(body));
            e
        })
        .collect();
    vec16(&inner)
}

/// A ClientHello handshake message (4-byte header included).
pub fn client_hello(spec: &ClientSpec) -> Vec<u8> {
    let mut body = u16be(spec.legacy_version).to_vec();
    body.extend_from_slice(&spec.random);
    body.extend(vec8(&spec.session_id));
    body.extend(vec16(&u16s(&spec.ciphers)));
    body.extend(vec8(&spec.compression));
    if let Some(exts) = &spec.extensions {
        body.extend(extensions_block(exts));
    }
    handshake(1, &body)
}

/// A ServerHello handshake message (4-byte header included).
pub fn server_hello(legacy_version: u16, random: [u8; 32], cipher: u16, exts: &[Ext]) -> Vec<u8> {
    let mut body = u16be(legacy_version).to_vec();
    body.extend_from_slice(&random);
    body.extend(vec8(&[1; 32]));
    body.extend_from_slice(&u16be(cipher));
    body.push(0);
    if !exts.is_empty() {
        body.extend(extensions_block(exts));
    }
    handshake(2, &body)
}

/// Wraps a handshake message into handshake records of the given fragment sizes (the rest
/// in one last record).
pub fn records(msg: &[u8], sizes: &[usize], version: u16) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = msg;
    let mut sizes = sizes.iter();
    while !rest.is_empty() {
        let n = sizes.next().copied().unwrap_or(rest.len()).min(rest.len());
        let (frag, tail) = rest.split_at(n);
        out.push(22);
        out.extend_from_slice(&version.to_be_bytes());
        out.extend_from_slice(&u16be(u16::try_from(frag.len()).unwrap()));
        out.extend_from_slice(frag);
        rest = tail;
    }
    out
}

/// One record holding the whole message.
pub fn record(msg: &[u8]) -> Vec<u8> {
    records(msg, &[], 0x0301)
}

/// xorshift64*: deterministic randomness, so a failure names its seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % (n.max(1) as u64)) as usize
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// Random piece sizes adding up to at least `total`.
    pub fn pieces(&mut self, total: usize, max: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut sum = 0;
        while sum < total {
            let n = 1 + self.below(max);
            out.push(n);
            sum += n;
        }
        out
    }
}
