//! One direction of a decrypted TLS connection: record framing over the TCP byte stream, the
//! records waiting for the session's parameters or keys, and the record keys once known.

use std::collections::VecDeque;

use zeroize::Zeroizing;

use super::suite::{tls13_key, tls13_next_secret, RecordKey, Suite};

/// Content types (RFC 8446 section 5.1).
pub(crate) const CHANGE_CIPHER_SPEC: u8 = 20;
pub(crate) const ALERT: u8 = 21;
pub(crate) const HANDSHAKE: u8 = 22;
pub(crate) const APPLICATION_DATA: u8 = 23;

/// Handshake message types read inside decrypted records.
const HS_CERTIFICATE: u8 = 11;
const HS_KEY_UPDATE: u8 = 24;

/// Largest record payload accepted: 2^14 bytes of plaintext plus the 2,048 bytes of expansion
/// TLS 1.2 allows (RFC 5246 section 6.2.3); TLS 1.3 allows less (2^14 + 256).
pub const MAX_RECORD_PAYLOAD: usize = 16_384 + 2_048;

/// A complete record from the stream.
pub(crate) struct Record {
    pub(crate) ts: u64,
    pub(crate) typ: u8,
    pub(crate) version: u16,
    pub(crate) payload: Vec<u8>,
}

/// Where a direction's protection stands.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Records are in the clear (hellos; under TLS 1.2 until the ChangeCipherSpec).
    Clear,
    /// Records are protected.
    Protected,
    /// Nothing more can be read from this direction (a gap, a record that would not open,
    /// broken framing).
    Broken,
}

/// TLS 1.3 key stage of a direction.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Stage {
    Handshake,
    Application,
}

/// What opening one record gave.
pub(crate) enum Opened {
    /// Application data.
    Data(Vec<u8>),
    /// Something else that opened fine (handshake, alert).
    Other,
    /// The record did not open with any key this direction has.
    Failed,
}

pub(crate) struct Way {
    /// Bytes of a record not yet complete.
    partial: Vec<u8>,
    /// Complete records not yet dealt with.
    pub(crate) queue: VecDeque<Record>,
    pub(crate) queued_bytes: usize,
    pub(crate) phase: Phase,
    /// TLS 1.2: the write key. TLS 1.3: the handshake key while in the handshake stage.
    key: Option<RecordKey>,
    seq: u64,
    /// TLS 1.3 only.
    stage: Stage,
    app_key: Option<RecordKey>,
    app_secret: Option<Zeroizing<Vec<u8>>>,
    /// A KeyUpdate was opened: the next record uses the next generation of keys.
    pending_update: bool,
    /// TLS 1.3: the body of this side's encrypted Certificate message (the server's chain,
    /// and the client's under mutual TLS), bounded by the caller's limit.
    pub(crate) certificate: Option<Vec<u8>>,
    pub(crate) certificate_truncated: bool,
}

impl Way {
    pub(crate) fn new() -> Self {
        Way {
            partial: Vec::new(),
            queue: VecDeque::new(),
            queued_bytes: 0,
            phase: Phase::Clear,
            key: None,
            seq: 0,
            stage: Stage::Handshake,
            app_key: None,
            app_secret: None,
            pending_update: false,
            certificate: None,
            certificate_truncated: false,
        }
    }

    /// Bytes held: the partial record and the queued ones.
    pub(crate) fn buffered(&self) -> usize {
        self.partial.len() + self.queued_bytes
    }

    pub(crate) fn has_keys(&self) -> bool {
        self.key.is_some() || self.app_key.is_some()
    }

    /// Cuts `bytes` into records, queueing the complete ones. False when the framing is not
    /// TLS (a record longer than [`MAX_RECORD_PAYLOAD`]): the direction is then broken.
    pub(crate) fn frame(&mut self, ts: u64, mut bytes: &[u8]) -> bool {
        while !bytes.is_empty() {
            if self.partial.len() < 5 {
                let need = 5 - self.partial.len();
                let (head, rest) = bytes.split_at(need.min(bytes.len()));
                self.partial.extend_from_slice(head);
                bytes = rest;
                if self.partial.len() < 5 {
                    return true;
                }
            }
            let len = match self.partial.get(3..5) {
                Some(&[a, b]) => usize::from(u16::from_be_bytes([a, b])),
                _ => return false,
            };
            if len > MAX_RECORD_PAYLOAD {
                return false;
            }
            let have = self.partial.len() - 5;
            let take = (len - have).min(bytes.len());
            let (head, rest) = bytes.split_at(take);
            self.partial.extend_from_slice(head);
            bytes = rest;
            if self.partial.len() == 5 + len {
                let mut rec = std::mem::take(&mut self.partial);
                let (typ, version) = match rec.get(..3) {
                    Some(&[t, a, b]) => (t, u16::from_be_bytes([a, b])),
                    _ => return false,
                };
                rec.drain(..5);
                self.queued_bytes += rec.len();
                self.queue.push_back(Record { ts, typ, version, payload: rec });
            }
        }
        true
    }

    /// Forgets every queued and partial byte (keys that will not come, a broken direction).
    pub(crate) fn drop_buffers(&mut self) -> usize {
        let n = self.buffered();
        self.partial = Vec::new();
        self.queue = VecDeque::new();
        self.queued_bytes = 0;
        n
    }

    pub(crate) fn set_tls12_key(&mut self, key: RecordKey) {
        self.key = Some(key);
    }

    /// TLS 1.3 keys: the handshake traffic secret's (if the log had it) and the first
    /// application traffic secret's.
    pub(crate) fn set_tls13_keys(&mut self, suite: &Suite, handshake: Option<&[u8]>, app: &[u8]) -> bool {
        self.key = handshake.and_then(|s| tls13_key(suite, s));
        self.app_key = tls13_key(suite, app);
        self.app_secret = Some(Zeroizing::new(app.to_vec()));
        self.app_key.is_some()
    }

    /// Opens a protected TLS 1.2 record.
    pub(crate) fn open12(&mut self, rec: &mut Record) -> Opened {
        let Some(key) = &self.key else { return Opened::Failed };
        let seq = self.seq;
        let Some(plain) = key.open12(seq, rec.typ, rec.version, &mut rec.payload) else { return Opened::Failed };
        self.seq = seq.wrapping_add(1);
        if rec.typ == APPLICATION_DATA {
            Opened::Data(plain.to_vec())
        } else {
            Opened::Other
        }
    }

    /// Opens a protected TLS 1.3 record, moving from the handshake keys to the application
    /// keys when a record opens only with the latter, and to the next generation after a
    /// KeyUpdate.
    pub(crate) fn open13(&mut self, suite: &Suite, rec: &mut Record, max_certificate: usize) -> Opened {
        if self.pending_update {
            self.pending_update = false;
            let next = self.app_secret.as_ref().and_then(|s| tls13_next_secret(suite, s));
            self.app_key = next.as_ref().and_then(|s| tls13_key(suite, s));
            self.app_secret = next;
            self.seq = 0;
        }
        let header = header(rec);
        if self.stage == Stage::Handshake {
            if let Some(k) = &self.key {
                let mut copy = rec.payload.clone();
                if let Some(inner) = k.open13(self.seq, &header, &mut copy) {
                    self.seq = self.seq.wrapping_add(1);
                    let inner = inner.to_vec();
                    return self.inner(inner, max_certificate);
                }
            }
            let Some(k) = &self.app_key else { return Opened::Failed };
            let Some(inner) = k.open13(0, &header, &mut rec.payload) else { return Opened::Failed };
            let inner = inner.to_vec();
            self.stage = Stage::Application;
            self.key = None;
            self.seq = 1;
            return self.inner(inner, max_certificate);
        }
        let Some(k) = &self.app_key else { return Opened::Failed };
        let Some(inner) = k.open13(self.seq, &header, &mut rec.payload) else { return Opened::Failed };
        self.seq = self.seq.wrapping_add(1);
        let inner = inner.to_vec();
        self.inner(inner, max_certificate)
    }

    /// The content of a TLS 1.3 inner plaintext: the content type is the last non-zero byte.
    fn inner(&mut self, mut inner: Vec<u8>, max_certificate: usize) -> Opened {
        while inner.last() == Some(&0) {
            inner.pop();
        }
        let Some(typ) = inner.pop() else { return Opened::Other };
        match typ {
            APPLICATION_DATA => Opened::Data(inner),
            HANDSHAKE => {
                self.handshake(&inner, max_certificate);
                Opened::Other
            }
            _ => Opened::Other,
        }
    }

    /// Handshake messages inside a decrypted record: a KeyUpdate switches keys after this
    /// record; the Certificate message of the handshake stage is kept. A message split over
    /// records is not reassembled (Certificate messages fit one record in practice; a longer
    /// one is marked truncated).
    fn handshake(&mut self, mut msgs: &[u8], max_certificate: usize) {
        while let (Some(&t), Some(len)) = (msgs.first(), msgs.get(1..4)) {
            let len = len.iter().fold(0usize, |n, b| n << 8 | usize::from(*b));
            let body = msgs.get(4..4 + len);
            match (t, self.stage) {
                (HS_KEY_UPDATE, Stage::Application) => self.pending_update = true,
                (HS_CERTIFICATE, Stage::Handshake) if self.certificate.is_none() => match body {
                    Some(b) if b.len() <= max_certificate => self.certificate = Some(b.to_vec()),
                    _ => {
                        self.certificate = Some(Vec::new());
                        self.certificate_truncated = true;
                    }
                },
                _ => {}
            }
            match msgs.get(4 + len..) {
                Some(rest) => msgs = rest,
                None => break,
            }
        }
    }
}

/// A TLS 1.3 record's header, its additional data.
fn header(rec: &Record) -> [u8; 5] {
    let [v0, v1] = rec.version.to_be_bytes();
    let [l0, l1] = u16::try_from(rec.payload.len()).unwrap_or(u16::MAX).to_be_bytes();
    [rec.typ, v0, v1, l0, l1]
}
