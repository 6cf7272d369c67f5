//! TLS posture of a service, from what its handshakes show without keys: the version and
//! cipher suite the server chose, and (TLS 1.2 and earlier) the certificate chain it sent.
//! Findings for the inventory and the compliance officer: old protocol versions, weak suites,
//! certificates expired or close to expiry, self-signed certificates.
//!
//! Pure: the caller passes the handshake's facts and the packet time; certificates are parsed
//! (x509-parser), never verified: no trust store, no signature check, no revocation. A
//! self-signed certificate is one whose issuer and subject are the same name; a certificate is
//! judged against the packet time of the handshake, so a replayed capture gives the findings
//! it gave live.

use std::fmt;

use serde::Serialize;

/// Default for [`PostureConfig::expiry_warning_days`]: 30 days.
pub const EXPIRY_WARNING_DAYS: u64 = 30;

/// Limits and thresholds of the assessment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostureConfig {
    /// A leaf certificate whose `notAfter` is within this many days of the handshake is
    /// [`Finding::CertificateExpiring`].
    pub expiry_warning_days: u64,
    /// Most bytes of one certificate parsed; longer ones are skipped.
    pub max_cert_bytes: usize,
}

impl Default for PostureConfig {
    fn default() -> Self {
        PostureConfig { expiry_warning_days: EXPIRY_WARNING_DAYS, max_cert_bytes: 16 * 1024 }
    }
}

/// One posture finding, by kind.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// The server chose SSL 3.0, TLS 1.0 or TLS 1.1 (deprecated by RFC 8996).
    LegacyVersion,
    /// The server chose a weak suite: NULL, export, anonymous, RC4, DES or 3DES, or a suite
    /// without forward secrecy (static RSA or static DH key exchange).
    WeakCipherSuite,
    /// The leaf certificate's validity ended before the handshake.
    CertificateExpired,
    /// The leaf certificate was not yet valid at the handshake.
    CertificateNotYetValid,
    /// The leaf certificate expires within [`PostureConfig::expiry_warning_days`].
    CertificateExpiring,
    /// The leaf certificate is self-signed (issuer and subject are the same name).
    SelfSigned,
}

impl Finding {
    /// The snake_case name used in reports and counters.
    pub fn name(self) -> &'static str {
        match self {
            Finding::LegacyVersion => "legacy_version",
            Finding::WeakCipherSuite => "weak_cipher_suite",
            Finding::CertificateExpired => "certificate_expired",
            Finding::CertificateNotYetValid => "certificate_not_yet_valid",
            Finding::CertificateExpiring => "certificate_expiring",
            Finding::SelfSigned => "self_signed",
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the assessment kept of the leaf certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LeafFacts {
    /// Subject, RFC 4514.
    pub subject: String,
    /// Issuer, RFC 4514.
    pub issuer: String,
    /// `notBefore`, seconds since the epoch.
    pub not_before: i64,
    /// `notAfter`, seconds since the epoch.
    pub not_after: i64,
}

/// The assessment of one handshake.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Assessment {
    /// Findings, each at most once, in [`Finding`] order.
    pub findings: Vec<Finding>,
    /// The leaf certificate, when one was sent and parsed.
    pub leaf: Option<LeafFacts>,
}

/// Whether the server's chosen version is deprecated (SSL 3.0, TLS 1.0, TLS 1.1).
pub fn legacy_version(version: u16) -> bool {
    matches!(version, 0x0300..=0x0302)
}

/// Whether a cipher suite is weak: by its IANA name's parts (NULL, EXPORT, anon, RC4, DES,
/// 3DES, static RSA or DH key exchange). TLS 1.3 suites are never weak. Unknown suites are not
/// judged.
pub fn weak_suite(suite: u16) -> bool {
    match suite {
        // TLS 1.3.
        0x1301..=0x1305 => false,
        // NULL, EXPORT, RC4, DES, 3DES, anonymous, static RSA and DH: everything up to 0x002f
        // (TLS_RSA_WITH_AES_128_CBC_SHA), then the static and anonymous ones after it (the
        // DHE_DSS and DHE_RSA AES suites 0x0032, 0x0033, 0x0038, 0x0039 have forward secrecy).
        0x0000..=0x002f | 0x0030 | 0x0031 | 0x0034..=0x0037 | 0x003a => true,
        // Static RSA key exchange (no forward secrecy): AES, Camellia, SEED, ARIA, AES-GCM,
        // AES-CCM.
        0x003c | 0x003d | 0x0041 | 0x0084 | 0x0096 | 0x009c | 0x009d | 0xc09c..=0xc0a3 => true,
        // Static DH (DH_DSS, DH_RSA) and anonymous DH suites.
        0x003e | 0x003f | 0x0042 | 0x0043 | 0x0046 | 0x0068 | 0x0069 | 0x006c | 0x006d | 0x0085 | 0x0086
        | 0x0089 | 0x0097 | 0x0098 | 0x009b | 0x00a0 | 0x00a1 | 0x00a4 | 0x00a5 | 0x00a6 | 0x00a7 => true,
        // ECDH (static) and anonymous ECDH, RC4 and 3DES with ECDHE, NULL with ECDHE.
        0xc001..=0xc005 | 0xc00b..=0xc00f | 0xc015..=0xc019 | 0xc006 | 0xc007 | 0xc008 | 0xc010 | 0xc011 | 0xc012 => true,
        _ => false,
    }
}

/// Assesses one handshake: the version and suite the server chose (`None` when its hello
/// was not seen) and the certificate chain it sent (leaf first; empty under TLS 1.3), at
/// packet time `ts_secs`.
pub fn assess(cfg: &PostureConfig, chosen: Option<(u16, u16)>, chain: &[Vec<u8>], ts_secs: i64) -> Assessment {
    let mut out = Assessment::default();
    if let Some((version, suite)) = chosen {
        if legacy_version(version) {
            out.findings.push(Finding::LegacyVersion);
        }
        if weak_suite(suite) {
            out.findings.push(Finding::WeakCipherSuite);
        }
    }
    let leaf = chain.first().filter(|d| d.len() <= cfg.max_cert_bytes).and_then(|d| x509_parser::parse_x509_certificate(d).ok());
    if let Some((_, cert)) = leaf {
        let not_before = cert.validity().not_before.timestamp();
        let not_after = cert.validity().not_after.timestamp();
        let warn = i64::try_from(cfg.expiry_warning_days.saturating_mul(86_400)).unwrap_or(i64::MAX);
        if ts_secs > not_after {
            out.findings.push(Finding::CertificateExpired);
        } else if ts_secs < not_before {
            out.findings.push(Finding::CertificateNotYetValid);
        } else if not_after.saturating_sub(ts_secs) <= warn {
            out.findings.push(Finding::CertificateExpiring);
        }
        let (subject, issuer) = (cert.subject().to_string(), cert.issuer().to_string());
        if cert.subject().as_raw() == cert.issuer().as_raw() {
            out.findings.push(Finding::SelfSigned);
        }
        out.leaf = Some(LeafFacts { subject, issuer, not_before, not_after });
    }
    out.findings.sort();
    out.findings.dedup();
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const PKI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../parsers/tests/tls_fixtures/pki");
    const POSTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/posture");

    fn der(path: &str) -> Vec<u8> {
        std::fs::read(path).unwrap()
    }

    /// `openssl x509 -noout -dates` of a certificate, as epoch seconds (an independent reading
    /// of the validity).
    fn dates(path: &str) -> (i64, i64) {
        let out = std::process::Command::new("openssl").args(["x509", "-inform", "der", "-noout", "-dates", "-in", path]).output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let get = |k: &str| {
            let v = text.lines().find_map(|l| l.strip_prefix(k)).unwrap();
            let out = std::process::Command::new("date").args(["-u", "-d", v, "+%s"]).output().unwrap();
            String::from_utf8(out.stdout).unwrap().trim().parse::<i64>().unwrap()
        };
        (get("notBefore="), get("notAfter="))
    }

    #[test]
    fn a_ca_issued_leaf_inside_its_validity_has_no_certificate_finding() {
        let path = format!("{PKI}/server.der");
        let (nb, na) = dates(&path);
        let chain = vec![der(&path), der(&format!("{PKI}/issuing.der"))];
        let a = assess(&PostureConfig::default(), Some((0x0303, 0xc02b)), &chain, nb + 86_400);
        assert_eq!(a.findings, vec![]);
        let leaf = a.leaf.unwrap();
        assert_eq!((leaf.not_before, leaf.not_after), (nb, na));
        assert_eq!(leaf.subject, "CN=api.bank.test");
        assert!(leaf.issuer.contains("apitap test issuing CA"), "{}", leaf.issuer);
        // Around its end: expiring within 30 days, then expired; before its start.
        let cfg = PostureConfig::default();
        assert_eq!(assess(&cfg, None, &chain, na - 10 * 86_400).findings, vec![Finding::CertificateExpiring]);
        assert_eq!(assess(&cfg, None, &chain, na - 31 * 86_400).findings, vec![]);
        assert_eq!(assess(&cfg, None, &chain, na + 1).findings, vec![Finding::CertificateExpired]);
        assert_eq!(assess(&cfg, None, &chain, nb - 1).findings, vec![Finding::CertificateNotYetValid]);
    }

    #[test]
    fn a_self_signed_leaf_is_found() {
        let path = format!("{POSTURE}/self-signed.der");
        let (nb, _) = dates(&path);
        let a = assess(&PostureConfig::default(), Some((0x0304, 0x1301)), &[der(&path)], nb + 60);
        assert_eq!(a.findings, vec![Finding::SelfSigned]);
        let leaf = a.leaf.unwrap();
        assert_eq!(leaf.subject, leaf.issuer);
    }

    #[test]
    fn old_versions_and_weak_suites() {
        let cfg = PostureConfig::default();
        assert_eq!(assess(&cfg, Some((0x0301, 0xc013)), &[], 0).findings, vec![Finding::LegacyVersion]);
        assert_eq!(assess(&cfg, Some((0x0302, 0x000a)), &[], 0).findings, vec![Finding::LegacyVersion, Finding::WeakCipherSuite]);
        // TLS_RSA_WITH_AES_128_GCM_SHA256: no forward secrecy.
        assert_eq!(assess(&cfg, Some((0x0303, 0x009c)), &[], 0).findings, vec![Finding::WeakCipherSuite]);
        for strong in [0xc02f, 0xc030, 0xcca8, 0x009e, 0x1301, 0x1303, 0x0033, 0x0039, 0xc013] {
            assert!(!weak_suite(strong), "{strong:04x}");
        }
        for weak in [0x0004, 0x0005, 0x000a, 0x002f, 0x0035, 0xc011, 0xc012, 0x0018] {
            assert!(weak_suite(weak), "{weak:04x}");
        }
        // Not a certificate at all: no leaf, no certificate finding.
        let a = assess(&cfg, None, &[b"not der".to_vec()], 0);
        assert_eq!((a.findings.len(), a.leaf.is_none()), (0, true));
    }
}
