//! TLS decryption with the keys a bank exports (NSS key log files), sans-IO: bytes of both
//! directions in, plaintext application data out, for the HTTP parsers.
//!
//! The caller feeds each direction's TCP stream from its first byte, tells the decryptor the
//! hellos' randoms and the chosen suite (from [`HelloParser`](super::HelloParser)), and
//! supplies the keys through a [`KeySource`] (a [`KeyLog`], or the caller's shared store that
//! a key log watcher fills). Records that arrive before their keys are held, bounded by
//! [`DecryptConfig::max_pending_bytes`] and [`DecryptConfig::key_wait_ns`] of packet time, so
//! keys written a little after the traffic still decrypt it.
//!
//! Covered: TLS 1.2 with AES-GCM or ChaCha20-Poly1305 suites (`CLIENT_RANDOM` master
//! secrets); TLS 1.3 with every suite (handshake and application traffic secrets), KeyUpdate,
//! the client certificate of a TLS 1.3 mutual-TLS handshake. The cryptography is ring's.
//!
//! NOT covered: CBC, RC4 and other non-AEAD suites (the session is reported as
//! [`DecryptStatus::Unsupported`]); TLS 1.3 0-RTT early data; SSL 3.0, TLS 1.0 and 1.1; `RSA`
//! key log lines (pre-master secrets); renegotiation (records after it fail to open and the
//! direction stops); anything after a TCP gap in a protected direction (the record sequence
//! number and framing are lost, so the direction stops with a gap).

mod keylog;
mod suite;
mod way;

use std::collections::VecDeque;

pub use keylog::{
    parse_line, Entry, KeyLog, KeyLogError, KeyLogStats, KeySource, Label, NoKeys, Secret, SessionSecrets,
    MAX_KEYLOG_SESSIONS, MAX_SECRET_BYTES,
};
pub use way::MAX_RECORD_PAYLOAD;

use suite::{suite, tls12_keys, Suite};
use way::{Opened, Phase, Way, ALERT, APPLICATION_DATA, CHANGE_CIPHER_SPEC, HANDSHAKE};

use super::cert::CertificateChain;
use super::reader::Reader;

/// Default for [`DecryptConfig::max_pending_bytes`]: 256 KiB of records held per connection
/// while its keys are awaited.
pub const MAX_PENDING_BYTES: usize = 256 * 1024;

/// Default for [`DecryptConfig::key_wait_ns`]: 10 seconds of packet time.
pub const KEY_WAIT_NS: u64 = 10_000_000_000;

/// Limits of a [`TlsDecryptor`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecryptConfig {
    /// Most bytes of protected records held while the session's keys are not known; above
    /// it the connection is given up ([`DecryptStatus::NoKeys`]) and its buffers freed.
    pub max_pending_bytes: usize,
    /// How long (packet time) protected records wait for their keys before the connection is
    /// given up.
    pub key_wait_ns: u64,
    /// Most bytes of a TLS 1.3 client Certificate message kept.
    pub max_certificate_bytes: usize,
}

impl Default for DecryptConfig {
    fn default() -> Self {
        DecryptConfig {
            max_pending_bytes: MAX_PENDING_BYTES,
            key_wait_ns: KEY_WAIT_NS,
            max_certificate_bytes: super::MAX_CERTIFICATE_BYTES,
        }
    }
}

/// Where decryption of a connection stands.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DecryptStatus {
    /// The hellos are not both known yet, or nothing protected has arrived.
    Pending,
    /// Protected records are held until the keys arrive.
    WaitingForKeys,
    /// Records open.
    Decrypting,
    /// The keys did not arrive in time, or the records waiting for them exceeded the limit.
    NoKeys,
    /// The chosen suite (or version) cannot be decrypted.
    Unsupported(u16),
    /// A record did not open with the logged keys (wrong keys), or a direction broke.
    Failed,
    /// Protected records came without a ServerHello before them (the capture started after
    /// the handshake): nothing says which keys or suite to use.
    NoHandshake,
}

impl DecryptStatus {
    /// Short name for records and counters.
    pub fn name(self) -> &'static str {
        match self {
            DecryptStatus::Pending => "pending",
            DecryptStatus::WaitingForKeys => "waiting_for_keys",
            DecryptStatus::Decrypting => "decrypting",
            DecryptStatus::NoKeys => "no_keys",
            DecryptStatus::Unsupported(_) => "unsupported",
            DecryptStatus::Failed => "failed",
            DecryptStatus::NoHandshake => "no_handshake",
        }
    }

    /// Whether decryption was given up for good (no keys in time, an unsupported suite, a
    /// record that did not open, no handshake): nothing more will be decrypted.
    pub fn given_up(self) -> bool {
        matches!(self, DecryptStatus::NoKeys | DecryptStatus::Unsupported(_) | DecryptStatus::Failed | DecryptStatus::NoHandshake)
    }
}

/// What the decryptor hands out, in stream order per direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Decrypted application data; `ts` is the packet time of the segment that completed
    /// its record.
    Data {
        /// Sent by the client (else the server).
        from_client: bool,
        /// Packet time, nanoseconds.
        ts: u64,
        /// The plaintext.
        bytes: Vec<u8>,
    },
    /// Application data that cannot be decrypted any more (a TCP gap, a record that did not
    /// open): `len` protected bytes or more are lost and the direction says nothing further.
    Gap {
        /// In the client's direction (else the server's).
        from_client: bool,
        /// Packet time, nanoseconds.
        ts: u64,
        /// Protected bytes lost (at least).
        len: u64,
    },
}

/// Counters of one connection's decryption; add them up with [`DecryptStats::merge`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecryptStats {
    /// Protected records opened.
    pub records: u64,
    /// Plaintext application bytes handed out.
    pub plaintext_bytes: u64,
    /// Records that did not open.
    pub failed_records: u64,
    /// Bytes dropped undecrypted: held for keys that did not come, or fed after decryption
    /// was given up (no keys, a suite that is not supported, a record that did not open, a
    /// broken direction).
    pub undecrypted_bytes: u64,
    /// Connections given up because the records held for their keys exceeded the limit.
    pub pending_limit_hits: u64,
    /// TCP gaps inside a protected direction.
    pub gaps: u64,
}

impl DecryptStats {
    /// Adds `other` to these.
    pub fn merge(&mut self, other: &DecryptStats) {
        self.records += other.records;
        self.plaintext_bytes += other.plaintext_bytes;
        self.failed_records += other.failed_records;
        self.undecrypted_bytes += other.undecrypted_bytes;
        self.pending_limit_hits += other.pending_limit_hits;
        self.gaps += other.gaps;
    }
}

/// What is known of the session.
#[derive(Default)]
struct Params {
    client_random: Option<[u8; 32]>,
    server_random: Option<[u8; 32]>,
    /// Chosen suite and negotiated version, from the ServerHello.
    chosen: Option<(u16, u16)>,
}

/// The decryption of one TLS connection.
pub struct TlsDecryptor {
    cfg: DecryptConfig,
    params: Params,
    suite: Option<Suite>,
    status: DecryptStatus,
    /// Packet time the first protected record started waiting for keys.
    waiting_since: Option<u64>,
    client: Way,
    server: Way,
    out: VecDeque<Output>,
    stats: DecryptStats,
}

impl TlsDecryptor {
    /// A decryptor with the given limits.
    pub fn new(cfg: DecryptConfig) -> Self {
        TlsDecryptor {
            cfg,
            params: Params::default(),
            suite: None,
            status: DecryptStatus::Pending,
            waiting_since: None,
            client: Way::new(),
            server: Way::new(),
            out: VecDeque::new(),
            stats: DecryptStats::default(),
        }
    }

    /// The ClientHello's random (the key log's index).
    pub fn set_client_random(&mut self, random: [u8; 32]) {
        self.params.client_random.get_or_insert(random);
    }

    /// The ServerHello's random, the chosen suite and the negotiated version.
    pub fn set_server_hello(&mut self, random: [u8; 32], suite_id: u16, version: u16) {
        if self.params.chosen.is_some() {
            return;
        }
        self.params.server_random = Some(random);
        self.params.chosen = Some((suite_id, version));
        let tls13 = version == 0x0304;
        match suite(suite_id) {
            Some(s) if s.tls13 == tls13 && (tls13 || version == 0x0303) => self.suite = Some(s),
            _ => self.give_up(DecryptStatus::Unsupported(suite_id)),
        }
    }

    /// Where decryption stands.
    pub fn status(&self) -> DecryptStatus {
        self.status
    }

    /// Counters so far.
    pub fn stats(&self) -> &DecryptStats {
        &self.stats
    }

    /// Bytes held: partial and queued records of both directions.
    pub fn buffered(&self) -> usize {
        self.client.buffered() + self.server.buffered()
    }

    /// The client's certificate chain from a decrypted TLS 1.3 handshake (mutual TLS):
    /// `None` when none was seen.
    pub fn client_certificates(&self) -> Option<CertificateChain> {
        certificates(&self.client)
    }

    /// The server's certificate chain from a decrypted TLS 1.3 handshake: `None` when none
    /// was seen (TLS 1.2 sends it in the clear: see [`HelloParser`](super::HelloParser)).
    pub fn server_certificates(&self) -> Option<CertificateChain> {
        certificates(&self.server)
    }

    /// The next output, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Feeds bytes that travelled from the client (`from_client`) or the server, at packet
    /// time `ts`, looking keys up in `keys` when they are needed.
    pub fn feed(&mut self, from_client: bool, ts: u64, bytes: &[u8], keys: &dyn KeySource) {
        let given_up = self.status.given_up();
        let way = if from_client { &mut self.client } else { &mut self.server };
        if way.phase == Phase::Broken || given_up {
            self.stats.undecrypted_bytes += bytes.len() as u64;
            return;
        }
        if !way.frame(ts, bytes) {
            way.phase = Phase::Broken;
            let n = way.drop_buffers();
            self.stats.undecrypted_bytes += n as u64;
        }
        self.pump(ts, keys);
    }

    /// A TCP gap of `len` bytes in a direction: what follows cannot be framed or opened.
    pub fn gap(&mut self, from_client: bool, ts: u64, len: u64) {
        let way = if from_client { &mut self.client } else { &mut self.server };
        if way.phase == Phase::Broken {
            return;
        }
        let protected = way.phase == Phase::Protected || way.has_keys();
        way.phase = Phase::Broken;
        let held = way.drop_buffers() as u64;
        if protected {
            self.stats.gaps += 1;
        }
        self.out.push_back(Output::Gap { from_client, ts, len: len.saturating_add(held) });
    }

    /// Tries again with the keys known now (a key log may have been appended to since the
    /// records arrived), at packet time `ts`: the connection is quiet or closing.
    pub fn retry(&mut self, ts: u64, keys: &dyn KeySource) {
        self.pump(ts, keys);
    }

    /// Stops decrypting: frees every buffer.
    fn give_up(&mut self, status: DecryptStatus) {
        self.status = status;
        let n = self.client.drop_buffers() + self.server.drop_buffers();
        self.stats.undecrypted_bytes += n as u64;
    }

    /// Deals with queued records as far as the session's parameters and keys allow.
    fn pump(&mut self, ts: u64, keys: &dyn KeySource) {
        if self.status.given_up() {
            return;
        }
        let tls13 = self.params.chosen.map(|(_, v)| v == 0x0304);
        for from_client in [true, false] {
            self.clear_records(from_client, tls13);
        }
        if tls13.is_none() && self.buffered() > self.cfg.max_pending_bytes {
            // Records keep coming and no ServerHello was seen (the capture started after it,
            // or it was lost): the session cannot be matched to its keys.
            self.stats.pending_limit_hits += 1;
            self.give_up(DecryptStatus::NoHandshake);
            return;
        }
        let protected_waiting = self.client.phase == Phase::Protected && !self.client.queue.is_empty()
            || self.server.phase == Phase::Protected && !self.server.queue.is_empty();
        if !protected_waiting {
            return;
        }
        if !self.client.has_keys() && !self.server.has_keys() && !self.load_keys(keys) {
            self.await_keys(ts);
            return;
        }
        self.status = DecryptStatus::Decrypting;
        for from_client in [true, false] {
            self.open_queued(from_client);
        }
    }

    /// Consumes a direction's records in the clear, up to its first protected one.
    fn clear_records(&mut self, from_client: bool, tls13: Option<bool>) {
        let way = if from_client { &mut self.client } else { &mut self.server };
        while way.phase == Phase::Clear {
            let Some(rec) = way.queue.front() else { return };
            match (rec.typ, tls13) {
                (HANDSHAKE | ALERT, _) => {}
                (CHANGE_CIPHER_SPEC, Some(false)) => way.phase = Phase::Protected,
                (CHANGE_CIPHER_SPEC, Some(true)) => {}
                (APPLICATION_DATA, Some(true)) => {
                    way.phase = Phase::Protected;
                    return;
                }
                // The version is not known yet: wait for the ServerHello.
                (CHANGE_CIPHER_SPEC | APPLICATION_DATA, None) => return,
                _ => {
                    way.phase = Phase::Broken;
                    let n = way.drop_buffers();
                    self.stats.undecrypted_bytes += n as u64;
                    return;
                }
            }
            if let Some(r) = way.queue.pop_front() {
                way.queued_bytes -= r.payload.len();
            }
        }
    }

    /// Looks the session's secrets up and derives both directions' keys.
    fn load_keys(&mut self, keys: &dyn KeySource) -> bool {
        let (Some(suite), Some(cr), Some(sr)) = (self.suite, self.params.client_random, self.params.server_random) else {
            return false;
        };
        let Some(secrets) = keys.secrets(&cr) else { return false };
        if !secrets.complete(suite.tls13) {
            return false;
        }
        if suite.tls13 {
            let (Some(c), Some(s)) = (&secrets.client_traffic, &secrets.server_traffic) else { return false };
            let ch = secrets.client_handshake.as_ref().map(Secret::bytes);
            let sh = secrets.server_handshake.as_ref().map(Secret::bytes);
            self.client.set_tls13_keys(&suite, ch, c.bytes()) && self.server.set_tls13_keys(&suite, sh, s.bytes())
        } else {
            let Some(master) = &secrets.master_secret else { return false };
            let Some((ck, sk)) = tls12_keys(&suite, master.bytes(), &cr, &sr) else { return false };
            self.client.set_tls12_key(ck);
            self.server.set_tls12_key(sk);
            true
        }
    }

    /// No keys yet: hold the records, within the limits.
    fn await_keys(&mut self, ts: u64) {
        self.status = DecryptStatus::WaitingForKeys;
        let since = *self.waiting_since.get_or_insert(ts);
        if self.buffered() > self.cfg.max_pending_bytes {
            self.stats.pending_limit_hits += 1;
            self.give_up(DecryptStatus::NoKeys);
        } else if ts.saturating_sub(since) > self.cfg.key_wait_ns {
            self.give_up(DecryptStatus::NoKeys);
        }
    }

    /// Opens a direction's queued protected records.
    fn open_queued(&mut self, from_client: bool) {
        let Some(suite) = self.suite else { return };
        let max_cert = self.cfg.max_certificate_bytes;
        let way = if from_client { &mut self.client } else { &mut self.server };
        while way.phase == Phase::Protected {
            let Some(mut rec) = way.queue.pop_front() else { return };
            way.queued_bytes -= rec.payload.len();
            let len = rec.payload.len() as u64;
            let opened = if suite.tls13 {
                if rec.typ == CHANGE_CIPHER_SPEC {
                    continue;
                }
                way.open13(&suite, &mut rec, max_cert)
            } else {
                way.open12(&mut rec)
            };
            match opened {
                Opened::Data(bytes) => {
                    self.stats.records += 1;
                    self.stats.plaintext_bytes += bytes.len() as u64;
                    if !bytes.is_empty() {
                        self.out.push_back(Output::Data { from_client, ts: rec.ts, bytes });
                    }
                }
                Opened::Other => self.stats.records += 1,
                Opened::Failed => {
                    self.stats.failed_records += 1;
                    way.phase = Phase::Broken;
                    let held = way.drop_buffers() as u64;
                    self.stats.undecrypted_bytes += len + held;
                    self.out.push_back(Output::Gap { from_client, ts: rec.ts, len: len + held });
                    // The connection is given up: the other direction's records and partial
                    // record will never be read either, so they are freed now.
                    self.give_up(DecryptStatus::Failed);
                    return;
                }
            }
        }
    }
}

/// The certificates a direction's decrypted Certificate message held, if it sent one.
fn certificates(way: &Way) -> Option<CertificateChain> {
    let body = way.certificate.as_deref()?;
    Some(parse_tls13_certificate(body, way.certificate_truncated))
}

/// The certificates of a TLS 1.3 Certificate message body: a request context, then a list of
/// entries, each a certificate and its extensions (RFC 8446 section 4.4.2).
fn parse_tls13_certificate(body: &[u8], truncated: bool) -> CertificateChain {
    let mut chain = CertificateChain { certs: Vec::new(), truncated };
    let mut r = Reader::new(body);
    let list = r.u8().and_then(|n| r.take(usize::from(n))).and_then(|_| r.u24()).and_then(|n| r.take(n));
    let Some(list) = list else {
        chain.truncated = true;
        return chain;
    };
    let mut r = Reader::new(list);
    while !r.is_empty() {
        let cert = r.u24().and_then(|n| r.take(n));
        let ext = r.u16().and_then(|n| r.take(usize::from(n)));
        match (cert, ext) {
            (Some(c), Some(_)) if chain.certs.len() < super::MAX_CHAIN_LEN => chain.certs.push(c.to_vec()),
            (Some(_), Some(_)) => chain.truncated = true,
            _ => {
                chain.truncated = true;
                break;
            }
        }
    }
    chain
}

#[cfg(test)]
mod tests;
