//! Limits and counters of the TLS handshake parser.

/// Default for [`TlsConfig::max_hello_bytes`]: 16 KiB. Browsers' hellos, post-quantum key
/// shares included, stay under 2 KiB; a hello over 16 KiB is hostile or broken.
pub const MAX_HELLO_BYTES: usize = 16 * 1024;

/// Default for [`TlsConfig::max_certificate_bytes`]: 64 KiB. A leaf and two CAs with RSA-4096
/// keys take about 5 KiB; public web chains stay under 16 KiB.
pub const MAX_CERTIFICATE_BYTES: usize = 64 * 1024;

/// Default for [`TlsConfig::max_chain_len`]: 8 certificates. Real chains hold a leaf and one
/// to three CAs.
pub const MAX_CHAIN_LEN: usize = 8;

/// Limits of the [`HelloParser`](super::HelloParser).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    /// Longest hello body (the handshake message without its 4-byte header) that is
    /// buffered; a hello declaring more ends parsing with
    /// [`HelloStatus::TooLarge`](super::HelloStatus::TooLarge) and bumps
    /// [`TlsStats::hello_limit_hits`], without buffering it. Default [`MAX_HELLO_BYTES`].
    pub max_hello_bytes: usize,
    /// Whether to go on reading a TLS 1.2 (or earlier) handshake after the hello, where it is
    /// still in the clear, for the certificates and the server's certificate request. When
    /// `false` the parser ends at the hello and holds nothing after it. Default `true`.
    pub read_certificates: bool,
    /// Most bytes of one Certificate message body that are buffered (and then kept as
    /// certificates). The certificates that fit whole are kept and the chain is marked
    /// [`truncated`](super::CertificateChain::truncated); the rest of the message is skipped
    /// without buffering, [`HandshakeEvent::CertificateTooLarge`](super::HandshakeEvent) is
    /// emitted and [`TlsStats::certificate_limit_hits`] bumped. Default
    /// [`MAX_CERTIFICATE_BYTES`].
    pub max_certificate_bytes: usize,
    /// Most certificates kept of one Certificate message; further ones are dropped, the chain
    /// is marked truncated, [`HandshakeEvent::ChainTooLong`](super::HandshakeEvent) is emitted
    /// and [`TlsStats::chain_limit_hits`] bumped. Default [`MAX_CHAIN_LEN`].
    pub max_chain_len: usize,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            max_hello_bytes: MAX_HELLO_BYTES,
            read_certificates: true,
            max_certificate_bytes: MAX_CERTIFICATE_BYTES,
            max_chain_len: MAX_CHAIN_LEN,
        }
    }
}

/// Counters of one [`HelloParser`](super::HelloParser); add them up across connections with
/// [`TlsStats::merge`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsStats {
    /// Bytes handed to [`HelloParser::feed`](super::HelloParser::feed).
    pub bytes: u64,
    /// Of those, bytes not looked at because parsing had already ended.
    pub ignored_bytes: u64,
    /// TLS record headers read.
    pub records: u64,
    /// ClientHellos reported.
    pub client_hellos: u64,
    /// ServerHellos reported, HelloRetryRequests included.
    pub server_hellos: u64,
    /// Of the ServerHellos, HelloRetryRequests.
    pub hello_retry_requests: u64,
    /// Alerts a server sent instead of a hello.
    pub alerts: u64,
    /// Directions found not to be TLS.
    pub not_tls: u64,
    /// Hellos whose framing was broken.
    pub malformed: u64,
    /// Hellos longer than [`TlsConfig::max_hello_bytes`].
    pub hello_limit_hits: u64,
    /// Anomalies kept on hellos.
    pub anomalies: u64,
    /// Anomalies not kept because a hello already held
    /// [`MAX_HELLO_ANOMALIES`](super::MAX_HELLO_ANOMALIES).
    pub anomalies_dropped: u64,
    /// Handshake messages read after the hello (their headers; bodies are skipped unless they
    /// are the first Certificate message).
    pub handshake_messages: u64,
    /// Certificate messages whose certificates were kept (an empty one included).
    pub certificate_messages: u64,
    /// Certificates kept.
    pub certificates: u64,
    /// Certificate messages after the first of a direction, not read.
    pub repeated_certificate_messages: u64,
    /// CertificateRequest messages (the server asks for a client certificate).
    pub certificate_requests: u64,
    /// Certificate messages whose inside did not follow its structure.
    pub certificate_malformed: u64,
    /// Certificate messages longer than [`TlsConfig::max_certificate_bytes`].
    pub certificate_limit_hits: u64,
    /// Certificate messages holding more than [`TlsConfig::max_chain_len`] certificates.
    pub chain_limit_hits: u64,
    /// Reading after the hello ended at a ChangeCipherSpec record.
    pub stopped_change_cipher_spec: u64,
    /// Reading after the hello ended at the server's ServerHelloDone.
    pub stopped_server_hello_done: u64,
    /// Reading ended at the hello because the version chosen encrypts the rest (TLS 1.3).
    pub stopped_encrypted: u64,
    /// Reading after the hello ended at an application data record.
    pub stopped_application_data: u64,
    /// Reading after the hello ended at an alert.
    pub stopped_alert: u64,
    /// Reading after the hello ended at broken record framing.
    pub stopped_malformed: u64,
    /// Handshake events not kept because [`MAX_HANDSHAKE_EVENTS`](super::MAX_HANDSHAKE_EVENTS)
    /// were waiting to be polled.
    pub events_dropped: u64,
}

impl TlsStats {
    /// Adds `other`'s counters to these.
    pub fn merge(&mut self, other: &TlsStats) {
        let TlsStats {
            bytes,
            ignored_bytes,
            records,
            client_hellos,
            server_hellos,
            hello_retry_requests,
            alerts,
            not_tls,
            malformed,
            hello_limit_hits,
            anomalies,
            anomalies_dropped,
            handshake_messages,
            certificate_messages,
            certificates,
            repeated_certificate_messages,
            certificate_requests,
            certificate_malformed,
            certificate_limit_hits,
            chain_limit_hits,
            stopped_change_cipher_spec,
            stopped_server_hello_done,
            stopped_encrypted,
            stopped_application_data,
            stopped_alert,
            stopped_malformed,
            events_dropped,
        } = other;
        let pairs = [
            (&mut self.bytes, bytes),
            (&mut self.ignored_bytes, ignored_bytes),
            (&mut self.records, records),
            (&mut self.client_hellos, client_hellos),
            (&mut self.server_hellos, server_hellos),
            (&mut self.hello_retry_requests, hello_retry_requests),
            (&mut self.alerts, alerts),
            (&mut self.not_tls, not_tls),
            (&mut self.malformed, malformed),
            (&mut self.hello_limit_hits, hello_limit_hits),
            (&mut self.anomalies, anomalies),
            (&mut self.anomalies_dropped, anomalies_dropped),
            (&mut self.handshake_messages, handshake_messages),
            (&mut self.certificate_messages, certificate_messages),
            (&mut self.certificates, certificates),
            (&mut self.repeated_certificate_messages, repeated_certificate_messages),
            (&mut self.certificate_requests, certificate_requests),
            (&mut self.certificate_malformed, certificate_malformed),
            (&mut self.certificate_limit_hits, certificate_limit_hits),
            (&mut self.chain_limit_hits, chain_limit_hits),
            (&mut self.stopped_change_cipher_spec, stopped_change_cipher_spec),
            (&mut self.stopped_server_hello_done, stopped_server_hello_done),
            (&mut self.stopped_encrypted, stopped_encrypted),
            (&mut self.stopped_application_data, stopped_application_data),
            (&mut self.stopped_alert, stopped_alert),
            (&mut self.stopped_malformed, stopped_malformed),
            (&mut self.events_dropped, events_dropped),
        ];
        for (mine, theirs) in pairs {
            *mine = mine.saturating_add(*theirs);
        }
    }
}

/// Adds one to a counter.
pub(crate) fn bump(counter: &mut u64) {
    *counter = counter.saturating_add(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_every_counter() {
        // Distinct values per field, so a field merged into the wrong place shows.
        let mut a = TlsStats { bytes: 1, certificates: 2, stopped_alert: 3, events_dropped: 4, ..TlsStats::default() };
        let b = TlsStats {
            bytes: 10,
            ignored_bytes: 11,
            certificates: 20,
            stopped_alert: 30,
            stopped_encrypted: 5,
            events_dropped: 40,
            ..TlsStats::default()
        };
        a.merge(&b);
        assert_eq!((a.bytes, a.ignored_bytes, a.certificates), (11, 11, 22));
        assert_eq!((a.stopped_alert, a.stopped_encrypted, a.events_dropped), (33, 5, 44));
        assert_eq!(a.records, 0);
        let mut max = TlsStats { records: u64::MAX, ..TlsStats::default() };
        max.merge(&TlsStats { records: 5, ..TlsStats::default() });
        assert_eq!(max.records, u64::MAX, "saturates");
    }
}
