//! JA4 (client) and JA4S (server) fingerprints, written from the FoxIO specification
//! (technical_details/JA4.md and JA4S.md of github.com/FoxIO-LLC/ja4; JA4 is BSD-3-Clause).
//!
//! Where the reference implementations and the written specification differ, the
//! specification is followed: a one-character first ALPN value counts as both its first and
//! last character (`"x"` gives `xx`), and a first ALPN value starting or ending with a byte
//! that is not an ASCII letter or digit is shown by the first and last characters of its hex
//! form.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::{ext_type, is_grease, unescape, ClientHello, ServerHello};

/// The transport a hello travelled over: the first character of a fingerprint.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// TLS over TCP: `t`.
    Tcp,
    /// QUIC: `q`. This module does not parse QUIC; the caller extracts the hello.
    Quic,
}

impl Transport {
    fn flag(self) -> char {
        match self {
            Transport::Tcp => 't',
            Transport::Quic => 'q',
        }
    }
}

/// What a hash part shows when its list is empty, so that "no values" stands out.
const EMPTY_HASH: &str = "000000000000";

/// The two-character version code of JA4: `13`, `12`, `11`, `10`, `s3`, `s2`, DTLS `d1` `d2`
/// `d3`, else `00`.
fn version_code(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// First and last character of the first ALPN value, per the specification's rules.
fn alpn_code(first: Option<&str>) -> String {
    let bytes = first.map(unescape).unwrap_or_default();
    let (Some(&a), Some(&z)) = (bytes.first(), bytes.last()) else { return "00".to_string() };
    if a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric() {
        return [char::from(a), char::from(z)].iter().collect();
    }
    let hex = hex(&bytes);
    let mut chars = hex.chars();
    match (chars.next(), chars.next_back()) {
        (Some(a), Some(z)) => [a, z].iter().collect(),
        _ => "00".to_string(),
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Two digits, capped at 99.
fn count(n: usize) -> String {
    format!("{:02}", n.min(99))
}

/// Comma-joined four-digit lower-case hex.
fn hex_list(values: &[u16]) -> String {
    let mut out = String::with_capacity(values.len() * 5);
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{v:04x}");
    }
    out
}

/// First 12 hex characters of the SHA-256 of `text`.
fn hash12(text: &str) -> String {
    let mut digest = hex(&Sha256::digest(text.as_bytes()));
    digest.truncate(12);
    digest
}

fn without_grease(values: &[u16]) -> Vec<u16> {
    values.iter().copied().filter(|&v| !is_grease(v)).collect()
}

/// The parts of a JA4 before hashing.
struct Ja4Parts {
    a: String,
    ciphers: String,
    /// Sorted extensions without SNI and ALPN; empty when there are none.
    exts: String,
    /// Signature algorithms in wire order; empty when there are none.
    sigs: String,
}

fn ja4_parts(hello: &ClientHello, transport: Transport) -> Ja4Parts {
    let mut ciphers = without_grease(&hello.cipher_suites);
    let mut exts = without_grease(&hello.extensions);
    let sigs = without_grease(&hello.signature_algorithms);
    let version =
        if hello.has_extension(ext_type::SUPPORTED_VERSIONS) { hello.max_version() } else { hello.legacy_version };
    let sni = if hello.has_extension(ext_type::SERVER_NAME) { 'd' } else { 'i' };
    let a = format!(
        "{}{}{sni}{}{}{}",
        transport.flag(),
        version_code(version),
        count(ciphers.len()),
        count(exts.len()),
        alpn_code(hello.alpn.first().map(String::as_str)),
    );
    ciphers.sort_unstable();
    exts.retain(|&e| e != ext_type::SERVER_NAME && e != ext_type::ALPN);
    exts.sort_unstable();
    Ja4Parts { a, ciphers: hex_list(&ciphers), exts: hex_list(&exts), sigs: hex_list(&sigs) }
}

/// The JA4 fingerprint of a ClientHello, e.g. `t13d1516h2_8daaf6152771_e5627efa2ab1`:
///
/// - `a`: transport (`t`/`q`); version (the highest non-GREASE supported_versions entry when
///   that extension is present, else `legacy_version`; the record version is ignored); `d`
///   when the server_name extension is present, else `i`; counts of cipher suites and of
///   extensions (SNI and ALPN included), two digits each, capped at 99; first and last
///   character of the first ALPN value, `00` without one;
/// - `b`: first 12 hex characters of the SHA-256 of the sorted cipher suites (four-digit
///   lower-case hex, comma-joined), `000000000000` when there are none;
/// - `c`: the same over the sorted extensions without SNI (`0000`) and ALPN (`0010`),
///   followed by `_` and the signature algorithms in wire order when there are any;
///   `000000000000` when no extension is left.
///
/// GREASE values (RFC 8701) are left out everywhere.
pub fn ja4(hello: &ClientHello, transport: Transport) -> String {
    let p = ja4_parts(hello, transport);
    let b = if p.ciphers.is_empty() { EMPTY_HASH.to_string() } else { hash12(&p.ciphers) };
    let c = if p.exts.is_empty() { EMPTY_HASH.to_string() } else { hash12(&ext_and_sigs(&p)) };
    format!("{}_{b}_{c}", p.a)
}

/// JA4_r, the raw form of [`ja4`]: the same `a` part, then the sorted lists themselves
/// instead of their hashes (`a_ciphers_extensions_sigalgs`, the last part only when there
/// are signature algorithms).
pub fn ja4_r(hello: &ClientHello, transport: Transport) -> String {
    let p = ja4_parts(hello, transport);
    format!("{}_{}_{}", p.a, p.ciphers, ext_and_sigs(&p))
}

fn ext_and_sigs(p: &Ja4Parts) -> String {
    if p.sigs.is_empty() {
        p.exts.clone()
    } else {
        format!("{}_{}", p.exts, p.sigs)
    }
}

fn ja4s_parts(hello: &ServerHello, transport: Transport) -> (String, String) {
    let exts = without_grease(&hello.extensions);
    let a = format!(
        "{}{}{}{}_{:04x}",
        transport.flag(),
        version_code(hello.version()),
        count(exts.len()),
        alpn_code(hello.alpn.as_deref()),
        hello.cipher_suite,
    );
    (a, hex_list(&exts))
}

/// The JA4S fingerprint of a ServerHello, e.g. `t120400_c030_4e8089b08790`: transport;
/// version (selected_version when present, else `legacy_version`); extension count (two
/// digits, capped at 99); first and last character of the chosen ALPN (`00` without one);
/// then `_` and the chosen cipher suite in four-digit hex; then `_` and the first 12 hex
/// characters of the SHA-256 of the extensions in wire order (`000000000000` without any).
/// GREASE values are left out.
pub fn ja4s(hello: &ServerHello, transport: Transport) -> String {
    let (a, exts) = ja4s_parts(hello, transport);
    let c = if exts.is_empty() { EMPTY_HASH.to_string() } else { hash12(&exts) };
    format!("{a}_{c}")
}

/// JA4S_r, the raw form of [`ja4s`]: the extension list itself instead of its hash.
pub fn ja4s_r(hello: &ServerHello, transport: Transport) -> String {
    let (a, exts) = ja4s_parts(hello, transport);
    format!("{a}_{exts}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpn_codes_follow_the_specification_examples() {
        assert_eq!(alpn_code(Some("h2")), "h2");
        assert_eq!(alpn_code(Some("http/1.1")), "h1");
        assert_eq!(alpn_code(None), "00");
        assert_eq!(alpn_code(Some("")), "00");
        assert_eq!(alpn_code(Some("x")), "xx");
        // The specification's hex examples, as the escaped strings the parser makes.
        assert_eq!(alpn_code(Some("\\xab")), "ab");
        assert_eq!(alpn_code(Some("\\xab\\xcd")), "ad");
        assert_eq!(alpn_code(Some("0\\xab")), "3b");
        assert_eq!(alpn_code(Some("01\\xab\\xcd")), "3d");
        assert_eq!(alpn_code(Some("0\\xab\\xcd1")), "01");
    }

    #[test]
    fn counts_cap_at_99() {
        assert_eq!(count(7), "07");
        assert_eq!(count(99), "99");
        assert_eq!(count(4000), "99");
    }

    #[test]
    fn version_codes() {
        assert_eq!(version_code(0x0304), "13");
        assert_eq!(version_code(0x0300), "s3");
        assert_eq!(version_code(0x7f1c), "00");
    }
}
