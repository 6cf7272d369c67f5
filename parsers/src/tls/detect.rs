//! Recognising a TLS hello by content, whatever the port.

use super::parser::{
    record_len_ok, record_version_ok, CONTENT_HANDSHAKE, HANDSHAKE_CLIENT_HELLO, HANDSHAKE_SERVER_HELLO, MIN_HELLO_BODY,
};
use super::Side;

/// Verdict on the first bytes of a direction.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Detection {
    /// Starts like a TLS hello; attach a [`HelloParser`](super::HelloParser).
    Yes,
    /// Does not start like a TLS hello.
    No,
    /// Too few bytes to tell; ask again with more.
    NeedMore,
}

/// Judges the first bytes of either direction: a TLS record header (content type 22,
/// handshake; version 0x0300..=0x0304; length 1..=2^14) followed by a ClientHello or a
/// ServerHello whose declared length is at least that of the shortest hello and whose
/// `legacy_version` is 0x0300..=0x0304. Looks at 11 bytes at most (fewer when the first
/// record is shorter than that). Never panics, whatever the input.
///
/// A server's alert instead of a hello, and SSL 2.0-compatible ClientHellos, are `No`.
pub fn detect_tls(first_bytes: &[u8]) -> Detection {
    detect(first_bytes, None)
}

/// As [`detect_tls`], but only the hello `side` sends (ClientHello for the client,
/// ServerHello for the server) counts.
pub fn detect_tls_side(side: Side, first_bytes: &[u8]) -> Detection {
    detect(first_bytes, Some(side))
}

fn detect(b: &[u8], side: Option<Side>) -> Detection {
    use Detection::{NeedMore, No, Yes};
    let Some(&content) = b.first() else { return NeedMore };
    if content != CONTENT_HANDSHAKE {
        return No;
    }
    let (Some(&major), Some(&minor)) = (b.get(1), b.get(2)) else { return NeedMore };
    if !record_version_ok(u16::from_be_bytes([major, minor])) {
        return No;
    }
    let (Some(&hi), Some(&lo)) = (b.get(3), b.get(4)) else { return NeedMore };
    let record_len = u16::from_be_bytes([hi, lo]);
    if !record_len_ok(record_len) {
        return No;
    }
    // Only bytes inside the first record belong to the hello; a hello split into tiny
    // records is judged on what its first record shows.
    let record = b.get(5..).unwrap_or_default();
    let record = record.get(..usize::from(record_len)).unwrap_or(record);
    let in_record = usize::from(record_len);

    let Some(&kind) = record.first() else { return NeedMore };
    let kind_ok = match side {
        None => kind == HANDSHAKE_CLIENT_HELLO || kind == HANDSHAKE_SERVER_HELLO,
        Some(Side::Client) => kind == HANDSHAKE_CLIENT_HELLO,
        Some(Side::Server) => kind == HANDSHAKE_SERVER_HELLO,
    };
    if !kind_ok {
        return No;
    }
    if in_record < 4 {
        return Yes;
    }
    let [_, l0, l1, l2, ..] = *record else { return NeedMore };
    let declared = usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2);
    if declared < MIN_HELLO_BODY {
        return No;
    }
    if in_record < 5 {
        return Yes;
    }
    let Some(&hello_major) = record.get(4) else { return NeedMore };
    if hello_major != 3 {
        return No;
    }
    if in_record < 6 {
        return Yes;
    }
    let Some(&hello_minor) = record.get(5) else { return NeedMore };
    if hello_minor > 4 {
        return No;
    }
    Yes
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: [u8; 11] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03];

    #[test]
    fn every_prefix_of_a_hello_start_needs_more_then_yes() {
        for n in 0..START.len() {
            assert_eq!(detect_tls(&START[..n]), Detection::NeedMore, "prefix {n}");
        }
        assert_eq!(detect_tls(&START), Detection::Yes);
        assert_eq!(detect_tls_side(Side::Client, &START), Detection::Yes);
        assert_eq!(detect_tls_side(Side::Server, &START), Detection::No);
    }

    #[test]
    fn each_field_can_say_no() {
        let cases: [(usize, u8); 8] =
            [(0, 0x17), (1, 0x02), (2, 0x05), (3, 0x41), (5, 0x0b), (7, 0x00), (9, 0x02), (10, 0x05)];
        for (at, value) in cases {
            let mut b = START;
            b[at] = value;
            if at == 7 {
                b[8] = 0x10; // declared length 16
            }
            assert_eq!(detect_tls(&b), Detection::No, "byte {at} = {value:#x}");
        }
        assert_eq!(detect_tls(b"GET / HTTP/1.1\r\n"), Detection::No);
        assert_eq!(detect_tls(&[0x80, 0x2e, 0x01, 0x03, 0x01]), Detection::No, "SSL 2.0 header");
        assert_eq!(detect_tls(&[0x16, 0x03, 0x03, 0x00, 0x00]), Detection::No, "empty record");
    }

    #[test]
    fn a_tiny_first_record_is_judged_on_what_it_holds() {
        assert_eq!(detect_tls(&[0x16, 0x03, 0x01, 0x00, 0x01, 0x01]), Detection::Yes);
        assert_eq!(detect_tls(&[0x16, 0x03, 0x01, 0x00, 0x01, 0x05]), Detection::No);
        assert_eq!(detect_tls(&[0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0x00, 0x00, 0x26, 0x99]), Detection::Yes);
    }
}
