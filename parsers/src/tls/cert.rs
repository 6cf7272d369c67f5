//! The TLS 1.2 (and 1.0, 1.1) Certificate message: a list of DER certificates, each with a
//! 24-bit length (RFC 5246 section 7.4.2). Only the framing is read; the certificates are
//! handed on as bytes, unparsed and unverified.

use super::reader::Reader;

/// The certificates one side sent in its Certificate message, as bytes.
///
/// Owned, and bounded: at most [`TlsConfig::max_chain_len`](super::TlsConfig::max_chain_len)
/// certificates of together at most
/// [`TlsConfig::max_certificate_bytes`](super::TlsConfig::max_certificate_bytes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertificateChain {
    /// DER certificates in wire order: the sender's own (the leaf) first, then the CAs it
    /// chose to send. Empty when the message was empty (a client asked for a certificate that
    /// has none). Not parsed and not checked: a certificate here is whatever bytes the
    /// message framed, possibly not DER at all.
    pub certs: Vec<Vec<u8>>,
    /// Some certificates of the message are missing: it was longer than
    /// `max_certificate_bytes` or held more than `max_chain_len` certificates. The ones kept
    /// are whole and in order.
    pub truncated: bool,
}

impl CertificateChain {
    /// The sender's own certificate: the first of the message.
    pub fn leaf(&self) -> Option<&[u8]> {
        self.certs.first().map(Vec::as_slice)
    }

    /// Whether the message held no certificate at all (and none was dropped).
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty() && !self.truncated
    }

    /// Bytes of DER held.
    pub fn der_bytes(&self) -> usize {
        self.certs.iter().map(Vec::len).sum()
    }
}

/// Why a Certificate message was not taken apart (handshake layer). Offsets and lengths
/// count bytes of the message body, after its 4-byte handshake header.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CertificateMalformed {
    /// The body is shorter than the 3-byte length of its certificate list; its length.
    Short(usize),
    /// The certificate list's length does not fill the body exactly.
    ListLength {
        /// What the list's length field says.
        declared: usize,
        /// What the body holds after that field.
        available: usize,
    },
    /// A certificate is empty (RFC 5246 requires at least one byte) or runs past the list;
    /// the certificate's index (0 for the leaf) and its declared length.
    CertificateLength {
        /// Which certificate, from 0.
        index: usize,
        /// Its declared length.
        declared: usize,
    },
    /// The list ends inside a certificate's 3-byte length field; that certificate's index.
    CutLength(usize),
}

/// What [`parse_certificate`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub(crate) chain: CertificateChain,
    /// More than `max_chain` certificates were listed (as far as the buffered bytes show).
    pub(crate) chain_limit_hit: bool,
}

/// Takes apart a Certificate message body of which `body` is the buffered prefix and
/// `declared` the length the handshake header gave (`body.len() < declared` when the limit
/// cut it). Certificates that end inside `body` are kept, up to `max_chain` of them; framing
/// is checked against `declared`, so a cut body is not mistaken for a broken one.
pub(crate) fn parse_certificate(
    body: &[u8],
    declared: usize,
    max_chain: usize,
) -> Result<Parsed, CertificateMalformed> {
    let cut = body.len() < declared;
    let mut r = Reader::new(body);
    let Some(list_len) = r.u24() else {
        return if cut {
            Ok(Parsed { chain: CertificateChain { certs: Vec::new(), truncated: true }, chain_limit_hit: false })
        } else {
            Err(CertificateMalformed::Short(declared))
        };
    };
    let available = declared.saturating_sub(3);
    if list_len != available {
        return Err(CertificateMalformed::ListLength { declared: list_len, available });
    }
    let mut certs = Vec::new();
    let mut chain_limit_hit = false;
    let mut truncated = cut;
    while !r.is_empty() {
        // Position in the list, checked against what the header declared, not against what
        // was buffered.
        let in_list = r.offset().saturating_sub(3);
        let index = certs.len();
        if in_list.saturating_add(3) > list_len {
            return Err(CertificateMalformed::CutLength(index));
        }
        if index >= max_chain {
            chain_limit_hit = true;
            truncated = true;
            break;
        }
        let Some(len) = r.u24() else {
            // Only a cut body can end inside a length that the list still covers.
            truncated = true;
            break;
        };
        let end = in_list.saturating_add(3).saturating_add(len);
        if len == 0 || end > list_len {
            return Err(CertificateMalformed::CertificateLength { index, declared: len });
        }
        let Some(der) = r.take(len) else {
            truncated = true;
            break;
        };
        certs.push(der.to_vec());
    }
    Ok(Parsed { chain: CertificateChain { certs, truncated }, chain_limit_hit })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Certificate body from certificate bytes, lengths written out by hand.
    fn body(certs: &[&[u8]]) -> Vec<u8> {
        let list: Vec<u8> = certs
            .iter()
            .flat_map(|c| {
                let n = c.len();
                let mut e = vec![(n >> 16) as u8, (n >> 8) as u8, n as u8];
                e.extend_from_slice(c);
                e
            })
            .collect();
        let n = list.len();
        let mut out = vec![(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend(list);
        out
    }

    fn whole(b: &[u8], max_chain: usize) -> Result<Parsed, CertificateMalformed> {
        parse_certificate(b, b.len(), max_chain)
    }

    #[test]
    fn chains_empty_and_full() {
        let p = whole(&[0, 0, 0], 8).unwrap();
        assert_eq!(p.chain, CertificateChain { certs: vec![], truncated: false });
        assert!(p.chain.is_empty() && p.chain.leaf().is_none());

        let b = body(&[b"leaf", b"ca"]);
        assert_eq!(b, [0, 0, 12, 0, 0, 4, b'l', b'e', b'a', b'f', 0, 0, 2, b'c', b'a']);
        let p = whole(&b, 8).unwrap();
        assert_eq!(p.chain.certs, [b"leaf".to_vec(), b"ca".to_vec()]);
        assert_eq!((p.chain.leaf(), p.chain.truncated, p.chain_limit_hit), (Some(&b"leaf"[..]), false, false));
        assert_eq!(p.chain.der_bytes(), 6);
    }

    #[test]
    fn framing_errors() {
        assert_eq!(whole(&[], 8), Err(CertificateMalformed::Short(0)));
        assert_eq!(whole(&[0, 0], 8), Err(CertificateMalformed::Short(2)));
        assert_eq!(whole(&[0, 0, 4, 0, 0, 1, 9], 8).unwrap().chain.certs, [vec![9]]);
        // List length 5 but 4 bytes follow.
        assert_eq!(
            whole(&[0, 0, 5, 0, 0, 1, 9], 8),
            Err(CertificateMalformed::ListLength { declared: 5, available: 4 })
        );
        // A zero-length certificate.
        assert_eq!(
            whole(&[0, 0, 3, 0, 0, 0], 8),
            Err(CertificateMalformed::CertificateLength { index: 0, declared: 0 })
        );
        // The second certificate says 9 bytes, 1 is left.
        assert_eq!(
            whole(&[0, 0, 8, 0, 0, 1, 7, 0, 0, 9, 1], 8),
            Err(CertificateMalformed::CertificateLength { index: 1, declared: 9 })
        );
        // Two bytes after the first certificate: a length field cut by the list's end.
        assert_eq!(whole(&[0, 0, 6, 0, 0, 1, 7, 0, 0], 8), Err(CertificateMalformed::CutLength(1)));
    }

    #[test]
    fn a_body_cut_by_the_limit_keeps_whole_certificates() {
        let b = body(&[&[1; 10], &[2; 10], &[3; 10]]);
        // Cut inside the second certificate.
        let p = parse_certificate(&b[..20], b.len(), 8).unwrap();
        assert_eq!((p.chain.certs, p.chain.truncated, p.chain_limit_hit), (vec![vec![1; 10]], true, false));
        // Cut inside the second length field.
        let p = parse_certificate(&b[..18], b.len(), 8).unwrap();
        assert_eq!((p.chain.certs.len(), p.chain.truncated), (1, true));
        // Cut before the list length: nothing, truncated.
        let p = parse_certificate(&b[..2], b.len(), 8).unwrap();
        assert_eq!((p.chain.certs.len(), p.chain.truncated), (0, true));
        // A lying length is still caught in a cut body when the header shows it.
        let mut bad = b.clone();
        bad[2] = bad[2].wrapping_add(1);
        assert!(matches!(parse_certificate(&bad[..20], bad.len(), 8), Err(CertificateMalformed::ListLength { .. })));
    }

    #[test]
    fn the_chain_limit_keeps_the_first_ones() {
        let b = body(&[b"a", b"b", b"c"]);
        let p = whole(&b, 2).unwrap();
        assert_eq!(
            (p.chain.certs, p.chain.truncated, p.chain_limit_hit),
            (vec![b"a".to_vec(), b"b".to_vec()], true, true)
        );
        let p = whole(&b, 3).unwrap();
        assert_eq!((p.chain.certs.len(), p.chain.truncated, p.chain_limit_hit), (3, false, false));
        let p = whole(&b, 0).unwrap();
        assert_eq!((p.chain.certs.len(), p.chain.truncated, p.chain_limit_hit), (0, true, true));
        assert!(!p.chain.is_empty(), "a chain with dropped certificates is not empty");
    }
}
