//! A small DER encoder (ITU-T X.690), just enough for the certificates the simulator forwards
//! in `Client-Cert`: tag-length-value with definite lengths, INTEGER, BIT STRING, OCTET STRING,
//! OBJECT IDENTIFIER, BOOLEAN, strings, times, SEQUENCE/SET and tagged values.
//!
//! Every function returns a complete encoding (tag, length, contents), so values compose by
//! concatenation. Nothing here can fail: all inputs come from the simulator itself.

/// Universal tag numbers (X.680 section 8.6) with the constructed bit where DER requires it.
pub mod tag {
    /// BOOLEAN.
    pub const BOOLEAN: u8 = 0x01;
    /// INTEGER.
    pub const INTEGER: u8 = 0x02;
    /// BIT STRING (primitive, as DER requires).
    pub const BIT_STRING: u8 = 0x03;
    /// OCTET STRING (primitive, as DER requires).
    pub const OCTET_STRING: u8 = 0x04;
    /// OBJECT IDENTIFIER.
    pub const OID: u8 = 0x06;
    /// UTF8String.
    pub const UTF8_STRING: u8 = 0x0c;
    /// PrintableString.
    pub const PRINTABLE_STRING: u8 = 0x13;
    /// UTCTime.
    pub const UTC_TIME: u8 = 0x17;
    /// GeneralizedTime.
    pub const GENERALIZED_TIME: u8 = 0x18;
    /// SEQUENCE / SEQUENCE OF (constructed).
    pub const SEQUENCE: u8 = 0x30;
    /// SET / SET OF (constructed).
    pub const SET: u8 = 0x31;
}

/// `tag || length || contents` with the DER length: short form below 128, else the long
/// form with the fewest length octets.
pub fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(contents.len() + 10);
    out.push(tag);
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let significant: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        out.push(0x80 | significant.len() as u8);
        out.extend(significant);
    }
    out.extend_from_slice(contents);
    out
}

/// A SEQUENCE of already encoded elements, in the given order.
pub fn sequence(elements: &[Vec<u8>]) -> Vec<u8> {
    tlv(tag::SEQUENCE, &elements.concat())
}

/// A SET OF already encoded elements. DER orders SET OF by the encodings, compared as
/// octet strings; sorting here means callers cannot get it wrong.
pub fn set_of(elements: &[Vec<u8>]) -> Vec<u8> {
    let mut sorted = elements.to_vec();
    sorted.sort();
    tlv(tag::SET, &sorted.concat())
}

/// A context-specific constructed tag `[n]` around an encoded value: EXPLICIT tagging.
/// `n` must be below 31 (single-octet tag); larger numbers are truncated to 5 bits.
pub fn explicit(n: u8, inner: &[u8]) -> Vec<u8> {
    tlv(0xa0 | (n & 0x1f), inner)
}

/// A context-specific primitive tag `[n]` over raw contents: IMPLICIT tagging of a
/// primitive type (e.g. `keyIdentifier [0] KeyIdentifier`). `n` as in [`explicit`].
pub fn implicit_primitive(n: u8, contents: &[u8]) -> Vec<u8> {
    tlv(0x80 | (n & 0x1f), contents)
}

/// An INTEGER from an unsigned big-endian magnitude. DER wants the shortest two's-complement
/// form: redundant leading zeros are dropped, and one zero is put back when the first
/// remaining octet has its top bit set (it would otherwise read as negative). An empty or
/// all-zero magnitude encodes 0.
pub fn uint(magnitude: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = magnitude.iter().copied().skip_while(|b| *b == 0).collect();
    let mut contents = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        contents.push(0);
    }
    contents.extend(trimmed);
    tlv(tag::INTEGER, &contents)
}

/// An INTEGER from a small non-negative number.
pub fn small_uint(value: u64) -> Vec<u8> {
    uint(&value.to_be_bytes())
}

/// A BOOLEAN; DER spells true as `0xff`.
pub fn boolean(value: bool) -> Vec<u8> {
    tlv(tag::BOOLEAN, &[if value { 0xff } else { 0x00 }])
}

/// A BIT STRING holding whole octets (no unused bits), as keys and signatures are.
pub fn bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut contents = Vec::with_capacity(bytes.len() + 1);
    contents.push(0);
    contents.extend_from_slice(bytes);
    tlv(tag::BIT_STRING, &contents)
}

/// A named-bit BIT STRING (X.680 22.7) from the numbers of the bits that are set, bit 0 being
/// the most significant bit of the first octet. DER drops trailing zero bits, so the unused-bit
/// count is that of the last set bit. No bits set gives the empty string. Bit numbers above
/// 255 are ignored.
pub fn named_bits(bits: &[u16]) -> Vec<u8> {
    let Some(&highest) = bits.iter().filter(|b| **b < 256).max() else {
        return tlv(tag::BIT_STRING, &[0]);
    };
    let octets = usize::from(highest / 8) + 1;
    let mut value = vec![0u8; octets];
    for bit in bits.iter().filter(|b| **b < 256) {
        if let Some(octet) = value.get_mut(usize::from(bit / 8)) {
            *octet |= 0x80 >> (bit % 8);
        }
    }
    let unused = 7 - (highest % 8) as u8;
    let mut contents = Vec::with_capacity(octets + 1);
    contents.push(unused);
    contents.extend(value);
    tlv(tag::BIT_STRING, &contents)
}

/// An OCTET STRING.
pub fn octet_string(bytes: &[u8]) -> Vec<u8> {
    tlv(tag::OCTET_STRING, bytes)
}

/// An OBJECT IDENTIFIER from its arcs (X.690 8.19): the first two arcs share one subidentifier
/// `40 * a + b`, each subidentifier in base 128, high bit set on all but its last octet.
/// Fewer than two arcs are padded with zeros (no real OID is that short).
pub fn oid(arcs: &[u64]) -> Vec<u8> {
    let first = arcs.first().copied().unwrap_or(0);
    let second = arcs.get(1).copied().unwrap_or(0);
    let mut contents = Vec::new();
    let head = first.saturating_mul(40).saturating_add(second);
    for sub in std::iter::once(head).chain(arcs.iter().skip(2).copied()) {
        base128(sub, &mut contents);
    }
    tlv(tag::OID, &contents)
}

fn base128(mut value: u64, out: &mut Vec<u8>) {
    let mut groups = [0u8; 10];
    let mut n = 0;
    loop {
        if let Some(slot) = groups.get_mut(n) {
            *slot = (value & 0x7f) as u8;
        }
        n += 1;
        value >>= 7;
        if value == 0 {
            break;
        }
    }
    for (i, group) in groups.iter().take(n).enumerate().rev() {
        out.push(if i == 0 { *group } else { group | 0x80 });
    }
}

/// The characters X.680 allows in a PrintableString.
pub fn is_printable(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b))
}

/// A directory string: PrintableString when every character allows it (what CAs emit for
/// plain names), UTF8String otherwise.
pub fn directory_string(s: &str) -> Vec<u8> {
    if is_printable(s) {
        tlv(tag::PRINTABLE_STRING, s.as_bytes())
    } else {
        utf8_string(s)
    }
}

/// A UTF8String.
pub fn utf8_string(s: &str) -> Vec<u8> {
    tlv(tag::UTF8_STRING, s.as_bytes())
}

/// Earliest time a GeneralizedTime can carry: 0000-01-01T00:00:00Z.
const MIN_TIME: i64 = -62_167_219_200;
/// Latest: 9999-12-31T23:59:59Z.
const MAX_TIME: i64 = 253_402_300_799;

/// A certificate time as RFC 5280 4.1.2.5 requires: UTCTime `YYMMDDHHMMSSZ` for the years 1950
/// to 2049, GeneralizedTime `YYYYMMDDHHMMSSZ` outside them. Unix seconds beyond the four-digit
/// years are clamped to 0000-01-01 and 9999-12-31T23:59:59.
pub fn time(unix_seconds: i64) -> Vec<u8> {
    let secs = unix_seconds.clamp(MIN_TIME, MAX_TIME);
    let (days, of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let clock = format!("{month:02}{day:02}{:02}{:02}{:02}Z", of_day / 3600, of_day / 60 % 60, of_day % 60);
    if (1950..2050).contains(&year) {
        tlv(tag::UTC_TIME, format!("{:02}{clock}", year % 100).as_bytes())
    } else {
        tlv(tag::GENERALIZED_TIME, format!("{year:04}{clock}").as_bytes())
    }
}

/// Proleptic Gregorian (year, month, day) of a day count from 1970-01-01 (H. Hinnant's
/// `civil_from_days`: eras of 400 years, then the day of the era, March-based years so the
/// leap day comes last).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn lengths_use_the_shortest_form() {
        assert_eq!(tlv(0x04, &[]), [0x04, 0x00]);
        assert_eq!(&tlv(0x04, &[7; 127])[..2], [0x04, 0x7f]);
        assert_eq!(&tlv(0x04, &[7; 128])[..3], [0x04, 0x81, 0x80]);
        assert_eq!(&tlv(0x04, &[7; 255])[..3], [0x04, 0x81, 0xff]);
        assert_eq!(&tlv(0x04, &[7; 256])[..4], [0x04, 0x82, 0x01, 0x00]);
        assert_eq!(tlv(0x04, &[7; 70_000]).len(), 70_000 + 5);
    }

    #[test]
    fn integers_follow_the_leading_zero_rules() {
        assert_eq!(uint(&[]), [0x02, 0x01, 0x00]);
        assert_eq!(uint(&[0, 0, 0]), [0x02, 0x01, 0x00]);
        assert_eq!(uint(&[0x7f]), [0x02, 0x01, 0x7f]);
        assert_eq!(uint(&[0x80]), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(uint(&[0x00, 0x00, 0x01, 0x00]), [0x02, 0x02, 0x01, 0x00]);
        assert_eq!(uint(&[0x00, 0xff, 0x01]), [0x02, 0x03, 0x00, 0xff, 0x01]);
        assert_eq!(small_uint(2), [0x02, 0x01, 0x02]);
        assert_eq!(small_uint(65_537), [0x02, 0x03, 0x01, 0x00, 0x01]);
    }

    #[test]
    fn oids_match_published_encodings() {
        // sha256WithRSAEncryption, as printed in RFC 4055 and every certificate dump.
        assert_eq!(oid(&[1, 2, 840, 113_549, 1, 1, 11]), [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b]);
        // ecdsa-with-SHA256 (RFC 5758).
        assert_eq!(oid(&[1, 2, 840, 10_045, 4, 3, 2]), [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);
        // id-at-commonName.
        assert_eq!(oid(&[2, 5, 4, 3]), [0x06, 0x03, 0x55, 0x04, 0x03]);
        // The X.690 8.19.5 example: {2 999 3} is 0x88 0x37 0x03.
        assert_eq!(oid(&[2, 999, 3]), [0x06, 0x03, 0x88, 0x37, 0x03]);
    }

    #[test]
    fn bit_strings_count_their_unused_bits() {
        assert_eq!(bit_string(&[0xab]), [0x03, 0x02, 0x00, 0xab]);
        // keyUsage digitalSignature alone: RFC 5280 examples show 03 02 07 80.
        assert_eq!(named_bits(&[0]), [0x03, 0x02, 0x07, 0x80]);
        // digitalSignature + keyEncipherment (bits 0 and 2): 03 02 05 a0.
        assert_eq!(named_bits(&[0, 2]), [0x03, 0x02, 0x05, 0xa0]);
        // decipherOnly (bit 8) spills into a second octet.
        assert_eq!(named_bits(&[8]), [0x03, 0x03, 0x07, 0x00, 0x80]);
        assert_eq!(named_bits(&[]), [0x03, 0x01, 0x00]);
    }

    #[test]
    fn set_of_is_sorted_and_strings_pick_their_type() {
        assert_eq!(set_of(&[vec![0x02, 0x01, 0x05], vec![0x02, 0x01, 0x01]]), [0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x05]);
        assert_eq!(directory_string("PSDGB-FCA-123456")[0], tag::PRINTABLE_STRING);
        assert_eq!(directory_string("Acme & Co")[0], tag::UTF8_STRING);
        assert_eq!(directory_string("Zürich Pay")[0], tag::UTF8_STRING);
        assert_eq!(boolean(true), [0x01, 0x01, 0xff]);
        assert_eq!(explicit(0, &small_uint(2)), [0xa0, 0x03, 0x02, 0x01, 0x02]);
    }

    #[test]
    fn times_switch_to_generalized_outside_1950_to_2049() {
        // 1704067200 is 2024-01-01T00:00:00Z; 951782400 is the leap day 2000-02-29.
        assert_eq!(time(1_704_067_200), tlv(tag::UTC_TIME, b"240101000000Z"));
        assert_eq!(time(951_782_400 + 3_723), tlv(tag::UTC_TIME, b"000229010203Z"));
        assert_eq!(time(2_524_607_999), tlv(tag::UTC_TIME, b"491231235959Z"));
        assert_eq!(time(2_524_608_000), tlv(tag::GENERALIZED_TIME, b"20500101000000Z"));
        // 1949-12-31T23:59:59Z, one second before 1950.
        assert_eq!(time(-631_152_001), tlv(tag::GENERALIZED_TIME, b"19491231235959Z"));
        assert_eq!(time(-631_152_000), tlv(tag::UTC_TIME, b"500101000000Z"));
        assert_eq!(time(i64::MAX), tlv(tag::GENERALIZED_TIME, b"99991231235959Z"));
        assert_eq!(time(i64::MIN), tlv(tag::GENERALIZED_TIME, b"00000101000000Z"));
    }
}
