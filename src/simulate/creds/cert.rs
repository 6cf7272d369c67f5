//! TPP client certificates as a TLS-terminating proxy forwards them (RFC 9440 `Client-Cert`).
//!
//! The certificates are real X.509 v3 DER that any parser reads, shaped like the eIDAS QWACs
//! open-banking TPPs present: subject with the PSD2 `organizationIdentifier` (ETSI TS 119 495),
//! client-auth key usage and the PSD2 QCStatement naming roles and authority. They are not
//! signed: the signature is random bytes, and the public key is one fixed P-256 point shared
//! by every TPP, because a passive sensor never verifies either.

use super::der;
use crate::simulate::rng::Rng;

/// The issuing CA every simulated TPP certificate names, in RFC 4514 order (most specific
/// first); the encoding lists the attributes the other way round, C first.
pub const CERT_ISSUER: &str = "CN=Example QTSP Issuing CA, O=Example QTSP, C=GB";

const ISSUER_CN: &str = "Example QTSP Issuing CA";
const ISSUER_O: &str = "Example QTSP";
const ISSUER_C: &str = "GB";

/// The issuing CA's key identifier (authorityKeyIdentifier); fixed, as one CA issues all.
const ISSUER_KEY_ID: [u8; 20] = [
    0x3a, 0x51, 0x9c, 0x0e, 0x7d, 0x24, 0xb8, 0x61, 0xf0, 0x13, 0x8a, 0x4e, 0xc2, 0x95, 0x07, 0x6b, 0xd9, 0x2f, 0x48, 0xe6,
];

/// Uncompressed P-256 point (`04 || X || Y`) of a key generated once for the simulator; a valid
/// curve point, so parsers that check the key accept it.
const PUBLIC_KEY: [u8; 65] = [
    0x04, 0x6c, 0x9f, 0x79, 0xcf, 0x6a, 0x9f, 0x08, 0xe7, 0x22, 0x2c, 0xf4, 0x6a, 0x6e, 0x56, 0x8d, 0x0a, 0x1f, 0x9c, 0xf0,
    0x95, 0x17, 0x40, 0x0b, 0xe2, 0x91, 0x72, 0xda, 0xc9, 0xeb, 0xf1, 0xc4, 0x81, 0x39, 0x56, 0x87, 0x77, 0x6a, 0xf5, 0x75,
    0x56, 0x9b, 0xcf, 0x92, 0xf9, 0x93, 0x82, 0x54, 0x19, 0x9e, 0xb3, 0x67, 0x87, 0xe2, 0x2f, 0xe0, 0x52, 0x8f, 0x51, 0xbb,
    0xfa, 0xce, 0x37, 0xae, 0x5a,
];

// Object identifiers, by the document that assigns them.
/// X.520 attribute types.
const AT_COUNTRY: &[u64] = &[2, 5, 4, 6];
const AT_ORGANIZATION: &[u64] = &[2, 5, 4, 10];
const AT_ORGANIZATION_IDENTIFIER: &[u64] = &[2, 5, 4, 97];
const AT_COMMON_NAME: &[u64] = &[2, 5, 4, 3];
/// RFC 5480 / RFC 5758.
const EC_PUBLIC_KEY: &[u64] = &[1, 2, 840, 10_045, 2, 1];
const PRIME256V1: &[u64] = &[1, 2, 840, 10_045, 3, 1, 7];
const ECDSA_WITH_SHA256: &[u64] = &[1, 2, 840, 10_045, 4, 3, 2];
/// RFC 5280 extensions.
const EXT_KEY_USAGE: &[u64] = &[2, 5, 29, 15];
const EXT_BASIC_CONSTRAINTS: &[u64] = &[2, 5, 29, 19];
const EXT_EXTENDED_KEY_USAGE: &[u64] = &[2, 5, 29, 37];
const EXT_AUTHORITY_KEY_ID: &[u64] = &[2, 5, 29, 35];
const KP_CLIENT_AUTH: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 2];
/// RFC 3739 qcStatements and the ETSI EN 319 412-5 / TS 119 495 statements inside it.
const EXT_QC_STATEMENTS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 3];
const QCS_COMPLIANCE: &[u64] = &[0, 4, 0, 1862, 1, 1];
const QCS_TYPE: &[u64] = &[0, 4, 0, 1862, 1, 6];
const QCT_WEB: &[u64] = &[0, 4, 0, 1862, 1, 6, 3];
const QCS_PSD2: &[u64] = &[0, 4, 0, 19_495, 2];
const ROLE_PSP_PI: &[u64] = &[0, 4, 0, 19_495, 1, 2];
const ROLE_PSP_AI: &[u64] = &[0, 4, 0, 19_495, 1, 3];

/// Bytes of the serial number: 16 random octets (RFC 5280 allows up to 20; CA/B Forum asks for
/// at least 64 random bits).
const SERIAL_BYTES: usize = 16;
/// Bytes of each of the ECDSA P-256 signature integers r and s.
const SIGNATURE_INT_BYTES: usize = 32;

/// A TPP's certificate as DER: X.509 v3 with
/// - a positive 128-bit serial number from `rng`;
/// - issuer [`CERT_ISSUER`];
/// - subject `C=country, O=org_name, organizationIdentifier=org_id, CN=common_name`, each a
///   PrintableString when its characters allow it, else a UTF8String (values are written as
///   given: `country` should be an ISO 3166 alpha-2 code, `org_id` the ETSI form
///   `PSD<CC>-<NCA>-<id>`);
/// - validity from `not_before` to `not_after` (Unix seconds; UTCTime for 1950-2049,
///   GeneralizedTime otherwise; clamped to the years 0000-9999);
/// - a fixed P-256 public key and an ecdsa-with-SHA256 signature of random `r`, `s` that
///   verifies against nothing;
/// - extensions: basicConstraints CA:FALSE and keyUsage digitalSignature (both critical),
///   extendedKeyUsage clientAuth, authorityKeyIdentifier, and qcStatements (QcCompliance,
///   QcType web, and the PSD2 statement with roles PSP_AI and PSP_PI and the authority taken
///   from `org_id`; the PSD2 statement is left out when `org_id` is not in the ETSI form).
///
/// Deterministic: the same arguments and rng state give the same bytes.
pub fn client_cert_der(org_name: &str, org_id: &str, common_name: &str, country: &str, not_before: i64, not_after: i64, rng: &mut Rng) -> Vec<u8> {
    let mut serial = rng.bytes(SERIAL_BYTES);
    if let Some(first) = serial.first_mut() {
        // Positive and exactly 16 octets long once encoded, like CA-issued serials.
        *first = (*first & 0x7f) | 0x40;
    }
    let signature_algorithm = der::sequence(&[der::oid(ECDSA_WITH_SHA256)]);
    let tbs = der::sequence(&[
        der::explicit(0, &der::small_uint(2)), // v3
        der::uint(&serial),
        signature_algorithm.clone(),
        name(&[(AT_COUNTRY, ISSUER_C), (AT_ORGANIZATION, ISSUER_O), (AT_COMMON_NAME, ISSUER_CN)]),
        der::sequence(&[der::time(not_before), der::time(not_after)]),
        name(&[(AT_COUNTRY, country), (AT_ORGANIZATION, org_name), (AT_ORGANIZATION_IDENTIFIER, org_id), (AT_COMMON_NAME, common_name)]),
        der::sequence(&[der::sequence(&[der::oid(EC_PUBLIC_KEY), der::oid(PRIME256V1)]), der::bit_string(&PUBLIC_KEY)]),
        der::explicit(3, &extensions(org_id)),
    ]);
    // ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 5480 section 2.2 via RFC 3279).
    let signature = der::sequence(&[der::uint(&rng.bytes(SIGNATURE_INT_BYTES)), der::uint(&rng.bytes(SIGNATURE_INT_BYTES))]);
    der::sequence(&[tbs, signature_algorithm, der::bit_string(&signature)])
}

/// The RFC 9440 `Client-Cert` header value for a DER certificate: an RFC 8941 byte sequence,
/// `:` + standard base64 with padding + `:`.
pub fn client_cert_header(der: &[u8]) -> String {
    format!(":{}:", super::base64_standard(der))
}

/// A distinguished name with one attribute per RDN, in encoding order.
fn name(attributes: &[(&[u64], &str)]) -> Vec<u8> {
    let rdns: Vec<Vec<u8>> = attributes
        .iter()
        .map(|(kind, value)| der::set_of(&[der::sequence(&[der::oid(kind), der::directory_string(value)])]))
        .collect();
    der::sequence(&rdns)
}

fn extension(id: &[u64], critical: bool, value: &[u8]) -> Vec<u8> {
    let mut parts = vec![der::oid(id)];
    if critical {
        // DER leaves out a BOOLEAN equal to its DEFAULT (FALSE), so only true is written.
        parts.push(der::boolean(true));
    }
    parts.push(der::octet_string(value));
    der::sequence(&parts)
}

fn extensions(org_id: &str) -> Vec<u8> {
    const DIGITAL_SIGNATURE: u16 = 0;
    der::sequence(&[
        extension(EXT_BASIC_CONSTRAINTS, true, &der::sequence(&[])),
        extension(EXT_KEY_USAGE, true, &der::named_bits(&[DIGITAL_SIGNATURE])),
        extension(EXT_EXTENDED_KEY_USAGE, false, &der::sequence(&[der::oid(KP_CLIENT_AUTH)])),
        extension(EXT_AUTHORITY_KEY_ID, false, &der::sequence(&[der::implicit_primitive(0, &ISSUER_KEY_ID)])),
        extension(EXT_QC_STATEMENTS, false, &qc_statements(org_id)),
    ])
}

/// QCStatements (RFC 3739): the two ETSI EN 319 412-5 statements of a QWAC, then the PSD2
/// statement of ETSI TS 119 495 section 5.1 when the authority can be read from `org_id`.
fn qc_statements(org_id: &str) -> Vec<u8> {
    let mut statements = vec![
        der::sequence(&[der::oid(QCS_COMPLIANCE)]),
        der::sequence(&[der::oid(QCS_TYPE), der::sequence(&[der::oid(QCT_WEB)])]),
    ];
    if let Some(nca_id) = nca_id(org_id) {
        // PSD2QcType ::= SEQUENCE { rolesOfPSP, nCAName UTF8String, nCAId UTF8String }.
        let roles = der::sequence(&[
            der::sequence(&[der::oid(ROLE_PSP_AI), der::utf8_string("PSP_AI")]),
            der::sequence(&[der::oid(ROLE_PSP_PI), der::utf8_string("PSP_PI")]),
        ]);
        let psd2 = der::sequence(&[roles, der::utf8_string(nca_name(&nca_id)), der::utf8_string(&nca_id)]);
        statements.push(der::sequence(&[der::oid(QCS_PSD2), psd2]));
    }
    der::sequence(&statements)
}

/// The authority identifier (`GB-FCA`) of an ETSI TS 119 495 organisation identifier
/// (`PSDGB-FCA-123456`): "PSD", a two-letter country, "-", the authority, "-", the number.
fn nca_id(org_id: &str) -> Option<String> {
    let rest = org_id.strip_prefix("PSD")?;
    let (country, rest) = rest.split_at_checked(2)?;
    let (authority, number) = rest.strip_prefix('-')?.split_once('-')?;
    let valid = country.bytes().all(|b| b.is_ascii_uppercase())
        && !authority.is_empty()
        && authority.bytes().all(|b| b.is_ascii_alphanumeric())
        && !number.is_empty();
    valid.then(|| format!("{country}-{authority}"))
}

/// The authority's name for the few identifiers the scenarios use; others repeat the id.
fn nca_name(nca_id: &str) -> &str {
    match nca_id {
        "GB-FCA" => "Financial Conduct Authority",
        "DE-BAFIN" => "Federal Financial Supervisory Authority",
        "NL-DNB" => "De Nederlandsche Bank",
        "FR-ACPR" => "Autorite de Controle Prudentiel et de Resolution",
        "IE-CBI" => "Central Bank of Ireland",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    /// 2024-01-01T00:00:00Z and 2050-01-01T00:00:00Z (the first year that needs GeneralizedTime).
    const JAN_2024: i64 = 1_704_067_200;
    const JAN_2050: i64 = 2_524_608_000;

    /// Runs `openssl args...` with `input` on stdin; returns stdout as text, or panics with
    /// stderr.
    fn openssl(args: &[&str], input: &[u8]) -> String {
        String::from_utf8(openssl_bytes(args, input)).unwrap()
    }

    fn openssl_bytes(args: &[&str], input: &[u8]) -> Vec<u8> {
        let mut child = match Command::new("openssl").args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn() {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                panic!("the openssl binary is needed to check the certificates: install it (apt-get install openssl)")
            }
            Err(e) => panic!("cannot run openssl: {e}"),
        };
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "openssl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    fn sample(seed: u64) -> Vec<u8> {
        let mut rng = Rng::new(seed);
        client_cert_der("Acme Payments Ltd", "PSDGB-FCA-123456", "0015800001041RHAAY", "GB", JAN_2024, JAN_2050, &mut rng)
    }

    #[test]
    fn openssl_reads_subject_issuer_dates_and_client_auth() {
        let der = sample(1);
        let out = openssl(&["x509", "-inform", "DER", "-noout", "-nameopt", "RFC2253", "-subject", "-issuer", "-dates", "-ext", "extendedKeyUsage"], &der);
        let lines: Vec<&str> = out.lines().map(str::trim).collect();
        assert!(lines.contains(&"subject=CN=0015800001041RHAAY,organizationIdentifier=PSDGB-FCA-123456,O=Acme Payments Ltd,C=GB"), "{out}");
        assert!(lines.contains(&"issuer=CN=Example QTSP Issuing CA,O=Example QTSP,C=GB"), "{out}");
        assert!(lines.contains(&"notBefore=Jan  1 00:00:00 2024 GMT"), "{out}");
        assert!(lines.contains(&"notAfter=Jan  1 00:00:00 2050 GMT"), "{out}");
        assert!(lines.contains(&"X509v3 Extended Key Usage:"), "{out}");
        assert!(lines.contains(&"TLS Web Client Authentication"), "{out}");
        // The issuer string of the public constant is what openssl prints in RFC 4514 form,
        // give or take the spaces after commas.
        assert_eq!(CERT_ISSUER.replace(", ", ","), "CN=Example QTSP Issuing CA,O=Example QTSP,C=GB");
    }

    #[test]
    fn openssl_reads_the_version_key_usage_and_a_valid_p256_key() {
        let der = sample(2);
        let text = openssl(&["x509", "-inform", "DER", "-noout", "-text"], &der);
        for expected in [
            "Version: 3 (0x2)",
            "Signature Algorithm: ecdsa-with-SHA256",
            "Public Key Algorithm: id-ecPublicKey",
            "NIST CURVE: P-256",
            "X509v3 Key Usage: critical",
            "Digital Signature",
            "X509v3 Basic Constraints: critical",
            "CA:FALSE",
            "3A:51:9C:0E:7D:24:B8:61:F0:13:8A:4E:C2:95:07:6B:D9:2F:48:E6",
        ] {
            assert!(text.lines().any(|l| l.trim() == expected), "missing {expected:?} in\n{text}");
        }
        // Loading the key checks that the point lies on the curve.
        let pem = openssl(&["x509", "-inform", "DER", "-noout", "-pubkey"], &der);
        let key = openssl(&["pkey", "-pubin", "-noout", "-text"], pem.as_bytes());
        assert!(key.contains("ASN1 OID: prime256v1"), "{key}");
    }

    #[test]
    fn asn1parse_accepts_it_and_finds_the_psd2_statement() {
        let der = sample(3);
        let dump = openssl(&["asn1parse", "-inform", "DER"], &der);
        assert!(dump.contains(":organizationIdentifier"), "{dump}");
        assert!(dump.contains("PRINTABLESTRING   :PSDGB-FCA-123456"), "{dump}");
        assert!(dump.contains("UTCTIME           :240101000000Z"), "{dump}");
        assert!(dump.contains("GENERALIZEDTIME   :20500101000000Z"), "{dump}");
        // The qcStatements value is the OCTET STRING on the line after its OID; parse inside it.
        let lines: Vec<&str> = dump.lines().collect();
        let at = lines.iter().position(|l| l.contains(":qcStatements")).expect("qcStatements extension");
        let offset = lines[at + 1].split(':').next().unwrap().trim().to_string();
        assert!(lines[at + 1].contains("OCTET STRING"), "{}", lines[at + 1]);
        let inner = openssl(&["asn1parse", "-inform", "DER", "-strparse", &offset], &der);
        for expected in [":0.4.0.1862.1.1", ":0.4.0.1862.1.6.3", ":0.4.0.19495.2", ":0.4.0.19495.1.3", ":PSP_AI", ":PSP_PI", ":Financial Conduct Authority", ":GB-FCA"] {
            assert!(inner.lines().any(|l| l.trim_end().ends_with(expected)), "missing {expected:?} in\n{inner}");
        }
    }

    #[test]
    fn non_ascii_names_are_utf8_and_org_ids_outside_the_etsi_form_drop_the_psd2_statement() {
        let mut rng = Rng::new(4);
        let der = client_cert_der("Zürich Pay AG", "NTRCH-CHE123", "zp-client", "CH", JAN_2024, JAN_2024 + 86_400 * 365, &mut rng);
        let out = openssl(&["x509", "-inform", "DER", "-noout", "-nameopt", "RFC2253,-esc_msb,utf8", "-subject", "-enddate"], &der);
        assert!(out.contains("subject=CN=zp-client,organizationIdentifier=NTRCH-CHE123,O=Zürich Pay AG,C=CH"), "{out}");
        assert!(out.contains("notAfter=Dec 31 00:00:00 2024 GMT"), "{out}");
        let dump = openssl(&["asn1parse", "-inform", "DER"], &der);
        assert!(dump.contains("UTF8STRING        :"), "{dump}");
        let lines: Vec<&str> = dump.lines().collect();
        let at = lines.iter().position(|l| l.contains(":qcStatements")).unwrap();
        let offset = lines[at + 1].split(':').next().unwrap().trim().to_string();
        let inner = openssl(&["asn1parse", "-inform", "DER", "-strparse", &offset], &der);
        assert!(inner.contains(":0.4.0.1862.1.1") && !inner.contains("19495"), "{inner}");
    }

    #[test]
    fn header_is_a_colon_wrapped_base64_of_the_der() {
        let der = sample(5);
        let header = client_cert_header(&der);
        let inner = header.strip_prefix(':').and_then(|h| h.strip_suffix(':')).expect("colons at both ends");
        assert!(inner.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)), "{header}");
        assert_eq!(inner.len() % 4, 0, "padded base64");
        let decoded = openssl_bytes(&["base64", "-d", "-A"], inner.as_bytes());
        assert_eq!(decoded, der);
        assert_eq!(client_cert_header(b"foob"), ":Zm9vYg==:");
    }

    #[test]
    fn same_seed_same_certificate_other_seed_other_serial() {
        assert_eq!(sample(6), sample(6));
        // The INTEGERs in order: version (2), serial, then the signature's r and s.
        let integers = |der: &[u8]| -> Vec<String> {
            let dump = openssl(&["asn1parse", "-inform", "DER"], der);
            dump.lines().filter(|l| l.contains("INTEGER")).map(|l| l.rsplit(':').next().unwrap().trim().to_string()).collect()
        };
        let (a, b) = (integers(&sample(6)), integers(&sample(7)));
        assert_eq!(a[0], "02", "v3 is version 2: {a:?}");
        assert_eq!(a[1].len(), 32, "a 16-octet serial: {a:?}");
        assert!(a[1].as_bytes()[0] <= b'7', "positive without a leading zero: {a:?}");
        assert_ne!(a[1], b[1], "serials from different seeds");
        assert_ne!(sample(6), sample(7));
    }

    #[test]
    fn nca_ids_come_from_the_etsi_form_only() {
        assert_eq!(nca_id("PSDGB-FCA-123456").as_deref(), Some("GB-FCA"));
        assert_eq!(nca_id("PSDDE-BAFIN-ABC1").as_deref(), Some("DE-BAFIN"));
        for bad in ["", "PSD", "PSDGB", "PSDGB-FCA", "PSDGB-FCA-", "PSDgb-FCA-1", "NTRGB-12345", "PSDG\u{e9}-X-1"] {
            assert_eq!(nca_id(bad), None, "{bad:?}");
        }
    }
}
