//! Client certificates: the DER a TLS 1.2 handshake shows, or the header a TLS-terminating
//! proxy forwards it in, read for the subject and the PSD2 `organizationIdentifier`.
//!
//! The certificate is parsed, never verified (no chain, no signature, no validity period): a
//! passive sensor behind the bank's proxy takes what the proxy accepted.

use x509_parser::asn1_rs::{Any, Class, Tag};
use x509_parser::x509::X509Name;

use super::text::{base64_decode, percent_decode, trim};

/// What identity keeps of a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CertFacts {
    /// The subject as an RFC 4514 string (most specific RDN first).
    pub subject: String,
    /// The first common name.
    pub common_name: Option<String>,
    /// The first `organizationIdentifier` (2.5.4.97), e.g. `PSDGB-FCA-123456`.
    pub org_id: Option<String>,
}

/// Why a forwarded or handshake certificate was not read.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum CertError {
    /// Over `max_cert_bytes` of DER (or of text that would decode to more).
    TooLong,
    /// Not one of the header forms, or not an X.509 certificate.
    Unparsable,
}

/// Bytes of header text that can hold `max_der` bytes of DER in the wordiest form read here
/// (URL-encoded PEM: base64's 4/3, three bytes for each line break, the armour lines).
fn max_text(max_der: usize) -> usize {
    max_der.saturating_mul(2).saturating_add(512)
}

/// The DER in a forwarded-certificate header value: RFC 9440 `:base64:`, PEM (with newlines,
/// or with spaces or tabs for them), URL-encoded PEM, bare base64 DER, or an Envoy
/// `x-forwarded-client-cert` element's `Cert="..."`.
pub(crate) fn der_from_header(value: &[u8], max_der: usize) -> Result<Vec<u8>, CertError> {
    let mut text = trim(value);
    if text.len() > max_text(max_der) {
        return Err(CertError::TooLong);
    }
    if let Some(inner) = text.strip_prefix(b":").and_then(|t| t.strip_suffix(b":")) {
        return decode_base64(inner, max_der);
    }
    if let Some(cert) = xfcc_cert(text) {
        text = cert;
    }
    let unescaped;
    if text.contains(&b'%') {
        // Not `+` as a space: `+` is a base64 symbol, and nginx escapes spaces as `%20`.
        unescaped = percent_decode(text, false, max_text(max_der)).ok_or(CertError::TooLong)?;
        text = &unescaped;
    }
    let body = match find(text, b"-----BEGIN") {
        Some(begin) => pem_body(text.get(begin..).unwrap_or_default()).ok_or(CertError::Unparsable)?,
        None => text,
    };
    decode_base64(body, max_der)
}

fn decode_base64(text: &[u8], max_der: usize) -> Result<Vec<u8>, CertError> {
    // One byte more than the limit tells "too long" apart from "not base64".
    match base64_decode(text, true, max_der.saturating_add(1)) {
        Some(der) if der.is_empty() => Err(CertError::Unparsable),
        Some(der) if der.len() > max_der => Err(CertError::TooLong),
        Some(der) => Ok(der),
        // The text is bounded by `max_text`, so decoding it all to classify is bounded too.
        None if base64_decode(text, true, usize::MAX).is_some() => Err(CertError::TooLong),
        None => Err(CertError::Unparsable),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The base64 between `-----BEGIN CERTIFICATE-----` and the next `-----END`.
fn pem_body(text: &[u8]) -> Option<&[u8]> {
    let after_begin = text.get(b"-----BEGIN".len()..)?;
    let label_end = find(after_begin, b"-----")?;
    let label = after_begin.get(..label_end)?;
    if !trim(label).ends_with(b"CERTIFICATE") {
        return None;
    }
    let body = after_begin.get(label_end + 5..)?;
    let end = find(body, b"-----END")?;
    body.get(..end)
}

/// The value of the first `Cert=` key of an Envoy `x-forwarded-client-cert` header (elements
/// separated by `,`, pairs by `;`; the first element is the one the client presented).
fn xfcc_cert(text: &[u8]) -> Option<&[u8]> {
    let element = text.split(|b| *b == b',').next()?;
    element.split(|b| *b == b';').find_map(|pair| {
        let pair = trim(pair);
        let value = pair.get(5..).filter(|_| pair.get(..5).is_some_and(|k| k.eq_ignore_ascii_case(b"cert=")))?;
        Some(value.strip_prefix(b"\"").and_then(|v| v.strip_suffix(b"\"")).unwrap_or(value))
    })
}

/// Parses DER (at most `max_der` bytes) into the facts identity keeps.
pub(crate) fn parse(der: &[u8], max_der: usize) -> Result<CertFacts, CertError> {
    if der.len() > max_der {
        return Err(CertError::TooLong);
    }
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|_| CertError::Unparsable)?;
    let subject = cert.subject();
    let attr_text = |oid: &[u8]| {
        subject.iter_attributes().find(|a| a.attr_type().as_bytes() == oid).and_then(|a| value_text(a.attr_value()))
    };
    Ok(CertFacts { subject: rfc4514(subject), common_name: attr_text(OID_CN), org_id: attr_text(OID_ORG_ID) })
}

// Attribute types by the DER content of their OID.
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const OID_ORG_ID: &[u8] = &[0x55, 0x04, 0x61];

/// RFC 4514 section 3 names, plus the descriptors OpenSSL and the ETSI profiles use for the
/// attributes a PSD2 certificate carries (`serialNumber`, `organizationIdentifier`,
/// `emailAddress`).
const NAMES: &[(&[u8], &str)] = &[
    (OID_CN, "CN"),
    (&[0x55, 0x04, 0x07], "L"),
    (&[0x55, 0x04, 0x08], "ST"),
    (&[0x55, 0x04, 0x0a], "O"),
    (&[0x55, 0x04, 0x0b], "OU"),
    (&[0x55, 0x04, 0x06], "C"),
    (&[0x55, 0x04, 0x09], "STREET"),
    (&[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19], "DC"),
    (&[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01], "UID"),
    (&[0x55, 0x04, 0x05], "serialNumber"),
    (OID_ORG_ID, "organizationIdentifier"),
    (&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01], "emailAddress"),
];

/// The text of a directory string (Printable, UTF8, IA5, Numeric, Visible, Teletex as Latin-1,
/// BMP as UTF-16, Universal as UTF-32); `None` for other types.
fn value_text(v: &Any<'_>) -> Option<String> {
    if v.header.class() != Class::Universal || v.header.is_constructed() {
        return None;
    }
    let data = v.data;
    match v.tag() {
        Tag::PrintableString | Tag::Utf8String | Tag::Ia5String | Tag::NumericString | Tag::VisibleString => {
            std::str::from_utf8(data).ok().map(str::to_owned)
        }
        Tag::TeletexString => Some(data.iter().map(|b| char::from(*b)).collect()),
        Tag::BmpString => {
            if data.len() % 2 != 0 {
                return None;
            }
            let units: Vec<u16> = data
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c.first().copied().unwrap_or(0), c.get(1).copied().unwrap_or(0)]))
                .collect();
            String::from_utf16(&units).ok()
        }
        Tag::UniversalString => {
            let mut s = String::new();
            for c in data.chunks(4) {
                let b: [u8; 4] = c.try_into().ok()?;
                s.push(char::from_u32(u32::from_be_bytes(b))?);
            }
            Some(s)
        }
        _ => None,
    }
}

/// RFC 4514 section 2: RDNs from the last to the first, `+` between the attributes of a
/// multi-valued RDN, special characters escaped; an attribute without a known name is its
/// dotted OID with `#` and the hex of its DER.
pub(crate) fn rfc4514(name: &X509Name<'_>) -> String {
    let mut out = String::new();
    let rdns: Vec<_> = name.iter_rdn().collect();
    for (i, rdn) in rdns.iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, attr) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            let oid = attr.attr_type().as_bytes();
            let known = NAMES.iter().find(|(o, _)| *o == oid).map(|(_, n)| *n);
            match (known, value_text(attr.attr_value())) {
                (Some(n), Some(text)) => {
                    out.push_str(n);
                    out.push('=');
                    escape_into(&text, &mut out);
                }
                (n, _) => {
                    out.push_str(&n.map_or_else(|| attr.attr_type().to_id_string(), str::to_owned));
                    out.push_str("=#");
                    der_hex_into(attr.attr_value(), &mut out);
                }
            }
        }
    }
    out
}

/// RFC 4514 section 2.4 escaping.
fn escape_into(value: &str, out: &mut String) {
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
}

/// Hex of the value's DER (identifier, length, contents) for a low tag number; the contents
/// alone otherwise.
fn der_hex_into(v: &Any<'_>, out: &mut String) {
    use std::fmt::Write;
    let tag = v.tag().0;
    if tag < 31 {
        let class = (v.header.class() as u8) << 6;
        let constructed = if v.header.is_constructed() { 0x20 } else { 0 };
        let _ = write!(out, "{:02x}", class | constructed | tag as u8);
        let len = v.data.len();
        if len < 0x80 {
            let _ = write!(out, "{len:02x}");
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            let significant = bytes.get(skip..).unwrap_or_default();
            let _ = write!(out, "{:02x}", 0x80 | significant.len());
            for b in significant {
                let _ = write!(out, "{b:02x}");
            }
        }
    }
    for b in v.data {
        let _ = write!(out, "{b:02x}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_forms_reach_the_same_base64() {
        // "hello" is not a certificate, but every form must get to its bytes.
        let want = b"hello".to_vec();
        assert_eq!(der_from_header(b":aGVsbG8=:", 100).unwrap(), want);
        assert_eq!(der_from_header(b"aGVsbG8=", 100).unwrap(), want);
        assert_eq!(
            der_from_header(b"-----BEGIN CERTIFICATE----- aGVs\tbG8= -----END CERTIFICATE-----", 100).unwrap(),
            want
        );
        assert_eq!(
            der_from_header(b"-----BEGIN%20CERTIFICATE-----%0AaGVs%0AbG8%3D%0A-----END%20CERTIFICATE-----%0A", 100)
                .unwrap(),
            want
        );
        assert_eq!(
            der_from_header(b"By=spiffe://x;Hash=ab12;Cert=\"-----BEGIN%20CERTIFICATE-----%0AaGVsbG8%3D%0A-----END%20CERTIFICATE-----%0A\";Subject=\"CN=a\",By=y", 100)
                .unwrap(),
            want
        );
        assert_eq!(
            der_from_header(b"-----BEGIN PRIVATE KEY----- aGVsbG8= -----END PRIVATE KEY-----", 100),
            Err(CertError::Unparsable)
        );
        assert_eq!(der_from_header(b"not base64!", 100), Err(CertError::Unparsable));
        assert_eq!(der_from_header(b"::", 100), Err(CertError::Unparsable));
        assert_eq!(der_from_header(b":aGVsbG8=:", 4), Err(CertError::TooLong));
        assert_eq!(der_from_header(&vec![b'A'; 5000], 1000), Err(CertError::TooLong));
    }

    #[test]
    fn escaping_follows_rfc_4514() {
        let mut s = String::new();
        escape_into("#a, b+c;\"d\" ", &mut s);
        assert_eq!(s, "\\#a\\, b\\+c\\;\\\"d\\\"\\ ");
        let mut s = String::new();
        escape_into(" x\0", &mut s);
        assert_eq!(s, "\\ x\\00");
    }

    #[test]
    fn garbage_der_is_unparsable() {
        assert_eq!(parse(b"hello", 100), Err(CertError::Unparsable));
        assert_eq!(parse(&[0x30, 0x82, 0xff, 0xff], 100), Err(CertError::Unparsable));
        assert_eq!(parse(&[0x30; 200], 100), Err(CertError::TooLong));
    }
}
