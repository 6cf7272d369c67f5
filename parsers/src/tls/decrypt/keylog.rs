//! NSS key log files (the `SSLKEYLOGFILE` format written by OpenSSL, NSS, curl, Envoy, NGINX
//! builds and load balancers): one secret per line, `LABEL <client random hex> <secret hex>`.
//!
//! Read: `CLIENT_RANDOM` (a TLS 1.2 or earlier master secret), and the TLS 1.3 traffic secrets
//! `CLIENT_HANDSHAKE_TRAFFIC_SECRET`, `SERVER_HANDSHAKE_TRAFFIC_SECRET`,
//! `CLIENT_TRAFFIC_SECRET_0`, `SERVER_TRAFFIC_SECRET_0`. Recognised and skipped (counted):
//! `EXPORTER_SECRET`, `EARLY_EXPORTER_SECRET`, `CLIENT_EARLY_TRAFFIC_SECRET` (0-RTT data is not
//! decrypted) and `RSA` (a pre-master secret keyed by the encrypted pre-master, not by the
//! client random). Comments (`#`) and blank lines are ignored.
//!
//! Secrets are kept in [`KeyLog`], bounded by [`KeyLog::max_sessions`] (oldest session
//! forgotten first), and zeroed when dropped. They are never logged: [`KeyLogError`] names
//! the line and what is wrong with it, never its secret.

use std::collections::{HashMap, VecDeque};
use std::fmt;

use zeroize::Zeroizing;

/// Default for [`KeyLog::with_capacity`]: 100,000 sessions (about 40 MiB). Keys are needed
/// only until a connection's handshake is matched (the connection then holds its own record
/// keys), so the log keeps the newest sessions and forgets the oldest.
pub const MAX_KEYLOG_SESSIONS: usize = 100_000;

/// Longest secret accepted: 48 bytes (a TLS 1.2 master secret, a SHA-384 traffic secret).
pub const MAX_SECRET_BYTES: usize = 48;

/// A secret from the key log, zeroed on drop.
#[derive(Clone)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

/// The secrets of one session, by client random.
#[derive(Clone, Debug, Default)]
pub struct SessionSecrets {
    /// TLS 1.2 and earlier: `CLIENT_RANDOM`.
    pub master_secret: Option<Secret>,
    /// TLS 1.3: `CLIENT_HANDSHAKE_TRAFFIC_SECRET`.
    pub client_handshake: Option<Secret>,
    /// TLS 1.3: `SERVER_HANDSHAKE_TRAFFIC_SECRET`.
    pub server_handshake: Option<Secret>,
    /// TLS 1.3: `CLIENT_TRAFFIC_SECRET_0`.
    pub client_traffic: Option<Secret>,
    /// TLS 1.3: `SERVER_TRAFFIC_SECRET_0`.
    pub server_traffic: Option<Secret>,
}

impl SessionSecrets {
    /// Whether the application data of a session can be decrypted with these: the master
    /// secret (TLS 1.2), or both application traffic secrets (TLS 1.3).
    pub fn complete(&self, tls13: bool) -> bool {
        if tls13 {
            self.client_traffic.is_some() && self.server_traffic.is_some()
        } else {
            self.master_secret.is_some()
        }
    }
}

/// What a key log line is.
#[derive(Clone, Debug, PartialEq, Eq, Copy)]
pub enum Label {
    /// `CLIENT_RANDOM`.
    ClientRandom,
    /// `CLIENT_HANDSHAKE_TRAFFIC_SECRET`.
    ClientHandshake,
    /// `SERVER_HANDSHAKE_TRAFFIC_SECRET`.
    ServerHandshake,
    /// `CLIENT_TRAFFIC_SECRET_0`.
    ClientTraffic,
    /// `SERVER_TRAFFIC_SECRET_0`.
    ServerTraffic,
    /// A label that is understood and not needed (exporter and early secrets, `RSA`).
    Skipped,
}

fn label(word: &str) -> Option<Label> {
    Some(match word {
        "CLIENT_RANDOM" => Label::ClientRandom,
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => Label::ClientHandshake,
        "SERVER_HANDSHAKE_TRAFFIC_SECRET" => Label::ServerHandshake,
        "CLIENT_TRAFFIC_SECRET_0" => Label::ClientTraffic,
        "SERVER_TRAFFIC_SECRET_0" => Label::ServerTraffic,
        "EXPORTER_SECRET" | "EARLY_EXPORTER_SECRET" | "CLIENT_EARLY_TRAFFIC_SECRET" | "RSA" => Label::Skipped,
        _ => return None,
    })
}

/// Why a key log line was not taken. Never carries the secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyLogError {
    /// The first word is not a key log label.
    UnknownLabel(String),
    /// Not three space-separated words.
    Fields(usize),
    /// The client random is not 64 hexadecimal digits.
    ClientRandom,
    /// The secret is not an even number of hexadecimal digits, at most
    /// [`MAX_SECRET_BYTES`] bytes.
    Secret,
}

impl fmt::Display for KeyLogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyLogError::UnknownLabel(l) => write!(
                f,
                "unknown label {:?}: expected CLIENT_RANDOM or a TLS 1.3 traffic secret label (is this an NSS key log file, as written by SSLKEYLOGFILE?)",
                l.chars().take(40).collect::<String>()
            ),
            KeyLogError::Fields(n) => {
                write!(f, "{n} fields: a key log line is LABEL, the client random and the secret, separated by spaces")
            }
            KeyLogError::ClientRandom => write!(f, "the client random is not 64 hexadecimal digits"),
            KeyLogError::Secret => {
                write!(f, "the secret is not hexadecimal, or longer than {MAX_SECRET_BYTES} bytes")
            }
        }
    }
}

impl std::error::Error for KeyLogError {}

/// One parsed line.
pub struct Entry {
    /// What the secret is.
    pub label: Label,
    /// The session's client random.
    pub client_random: [u8; 32],
    /// The secret (empty for [`Label::Skipped`]).
    pub secret: Secret,
}

fn unhex(s: &str, out: &mut Vec<u8>) -> Option<()> {
    let b = s.as_bytes();
    if b.len() % 2 != 0 {
        return None;
    }
    for pair in b.chunks_exact(2) {
        let hi = char::from(*pair.first()?).to_digit(16)?;
        let lo = char::from(*pair.get(1)?).to_digit(16)?;
        out.push(u8::try_from(hi * 16 + lo).ok()?);
    }
    Some(())
}

/// Parses one line: `Ok(None)` for a comment or a blank line.
pub fn parse_line(line: &str) -> Result<Option<Entry>, KeyLogError> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let words: Vec<&str> = line.split_ascii_whitespace().collect();
    let (Some(&first), Some(&random), Some(&secret)) = (words.first(), words.get(1), words.get(2)) else {
        return match words.first().and_then(|w| label(w)) {
            None => Err(KeyLogError::UnknownLabel(words.first().map_or(String::new(), |w| (*w).to_string()))),
            Some(_) => Err(KeyLogError::Fields(words.len())),
        };
    };
    let label = label(first).ok_or_else(|| KeyLogError::UnknownLabel(first.to_string()))?;
    if words.len() != 3 {
        return Err(KeyLogError::Fields(words.len()));
    }
    let mut cr = Vec::with_capacity(32);
    let client_random: [u8; 32] = unhex(random, &mut cr)
        .and_then(|()| cr.as_slice().try_into().ok())
        .ok_or(KeyLogError::ClientRandom)?;
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_SECRET_BYTES));
    if label == Label::Skipped {
        return Ok(Some(Entry { label, client_random, secret: Secret(bytes) }));
    }
    if secret.len() > 2 * MAX_SECRET_BYTES || unhex(secret, &mut bytes).is_none() || bytes.is_empty() {
        return Err(KeyLogError::Secret);
    }
    Ok(Some(Entry { label, client_random, secret: Secret(bytes) }))
}

/// Counters of a [`KeyLog`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyLogStats {
    /// Secrets taken.
    pub secrets: u64,
    /// Lines with a label that is understood and not needed.
    pub skipped: u64,
    /// Lines refused ([`KeyLogError`]).
    pub malformed: u64,
    /// Sessions forgotten because the log held [`KeyLog::max_sessions`].
    pub evicted: u64,
}

/// The secrets of the most recent sessions, by client random.
pub struct KeyLog {
    sessions: HashMap<[u8; 32], SessionSecrets>,
    /// Client randoms in the order their first secret arrived, for eviction.
    order: VecDeque<[u8; 32]>,
    max_sessions: usize,
    stats: KeyLogStats,
}

impl Default for KeyLog {
    fn default() -> Self {
        KeyLog::with_capacity(MAX_KEYLOG_SESSIONS)
    }
}

impl KeyLog {
    /// An empty log that keeps at most `max_sessions` sessions (at least one).
    pub fn with_capacity(max_sessions: usize) -> Self {
        KeyLog { sessions: HashMap::new(), order: VecDeque::new(), max_sessions: max_sessions.max(1), stats: KeyLogStats::default() }
    }

    /// Most sessions kept.
    pub fn max_sessions(&self) -> usize {
        self.max_sessions
    }

    /// Sessions held.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Counters so far.
    pub fn stats(&self) -> &KeyLogStats {
        &self.stats
    }

    /// Adds one parsed entry.
    pub fn insert(&mut self, entry: Entry) {
        if entry.label == Label::Skipped {
            self.stats.skipped += 1;
            return;
        }
        if !self.sessions.contains_key(&entry.client_random) {
            while self.sessions.len() >= self.max_sessions {
                let Some(old) = self.order.pop_front() else { break };
                if self.sessions.remove(&old).is_some() {
                    self.stats.evicted += 1;
                }
            }
            self.order.push_back(entry.client_random);
        }
        let s = self.sessions.entry(entry.client_random).or_default();
        let slot = match entry.label {
            Label::ClientRandom => &mut s.master_secret,
            Label::ClientHandshake => &mut s.client_handshake,
            Label::ServerHandshake => &mut s.server_handshake,
            Label::ClientTraffic => &mut s.client_traffic,
            Label::ServerTraffic => &mut s.server_traffic,
            Label::Skipped => return,
        };
        *slot = Some(entry.secret);
        self.stats.secrets += 1;
    }

    /// Parses `text` line by line, keeping what parses; returns the refused lines (1-based
    /// line number and why), at most `max_errors` of them (the count is in the stats).
    pub fn add_text(&mut self, text: &str, max_errors: usize) -> Vec<(usize, KeyLogError)> {
        let mut errors = Vec::new();
        for (i, line) in text.lines().enumerate() {
            match parse_line(line) {
                Ok(Some(e)) => self.insert(e),
                Ok(None) => {}
                Err(e) => {
                    self.stats.malformed += 1;
                    if errors.len() < max_errors {
                        errors.push((i + 1, e));
                    }
                }
            }
        }
        errors
    }

    /// The secrets known for a client random.
    pub fn get(&self, client_random: &[u8; 32]) -> Option<&SessionSecrets> {
        self.sessions.get(client_random)
    }
}

/// Where a decryptor looks up a session's secrets: a [`KeyLog`], or the caller's shared store.
pub trait KeySource {
    /// The secrets known now for `client_random`, if any.
    fn secrets(&self, client_random: &[u8; 32]) -> Option<SessionSecrets>;
}

impl KeySource for KeyLog {
    fn secrets(&self, client_random: &[u8; 32]) -> Option<SessionSecrets> {
        self.get(client_random).cloned()
    }
}

/// No keys at all (decryption off).
pub struct NoKeys;

impl KeySource for NoKeys {
    fn secrets(&self, _: &[u8; 32]) -> Option<SessionSecrets> {
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const CR: &str = "4d98940fb40a244b48e42eac287144b1b7393057caa131f961a78e38b0e77c1e";

    #[test]
    fn lines_of_each_kind() {
        let e = parse_line(&format!("CLIENT_RANDOM {CR} {}", "ab".repeat(48))).unwrap().unwrap();
        assert_eq!(e.label, Label::ClientRandom);
        assert_eq!(e.client_random[..2], [0x4d, 0x98]);
        assert_eq!(e.secret.bytes(), [0xab; 48]);
        let e = parse_line(&format!("  SERVER_TRAFFIC_SECRET_0 {CR} {}\r", "0F".repeat(32))).unwrap().unwrap();
        assert_eq!((e.label, e.secret.bytes().len()), (Label::ServerTraffic, 32));
        assert!(parse_line("# comment").unwrap().is_none());
        assert!(parse_line("   ").unwrap().is_none());
        let e = parse_line(&format!("EXPORTER_SECRET {CR} {}", "00".repeat(32))).unwrap().unwrap();
        assert_eq!(e.label, Label::Skipped);
    }

    #[test]
    fn bad_lines_say_why_and_never_echo_the_secret() {
        let secret = "cd".repeat(48);
        let cases = [
            (format!("CLIENT_RANDOMX {CR} {secret}"), "unknown label"),
            (format!("CLIENT_RANDOM {CR}"), "2 fields"),
            (format!("CLIENT_RANDOM {CR} {secret} extra"), "4 fields"),
            (format!("CLIENT_RANDOM {} {secret}", &CR[1..]), "client random"),
            (format!("CLIENT_RANDOM {CR} {}zz", &secret[2..]), "secret"),
            (format!("CLIENT_RANDOM {CR} {}", "ab".repeat(49)), "longer than 48"),
        ];
        for (line, want) in cases {
            let err = parse_line(&line).err().unwrap_or_else(|| panic!("{line} accepted")).to_string();
            assert!(err.contains(want), "{line}: {err}");
            assert!(!err.contains(&secret[..20]), "secret echoed: {err}");
        }
    }

    #[test]
    fn the_log_merges_sessions_and_forgets_the_oldest() {
        let mut log = KeyLog::with_capacity(2);
        let cr = |i: u8| format!("{:02x}{}", i, &CR[2..]);
        let text = format!(
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET {a} {s}\nCLIENT_TRAFFIC_SECRET_0 {a} {s}\nbogus line\nSERVER_TRAFFIC_SECRET_0 {a} {s}\nCLIENT_RANDOM {b} {m}\nCLIENT_RANDOM {c} {m}\n",
            a = cr(1),
            b = cr(2),
            c = cr(3),
            s = "11".repeat(32),
            m = "22".repeat(48)
        );
        let errors = log.add_text(&text, 10);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, 3);
        assert_eq!(log.len(), 2, "the first session was forgotten");
        assert_eq!(log.stats().evicted, 1);
        assert_eq!(log.stats().secrets, 5);
        let mut r = [0u8; 32];
        r.copy_from_slice(&{
            let mut v = Vec::new();
            unhex(&cr(2), &mut v).unwrap();
            v
        });
        assert!(log.get(&r).unwrap().complete(false));
        assert!(!log.get(&r).unwrap().complete(true));
        assert!(format!("{:?}", log.get(&r).unwrap()).contains("48 bytes"));
        assert!(!format!("{:?}", log.get(&r).unwrap()).contains("22"));
    }
}
