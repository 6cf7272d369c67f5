//! `[kafka]`: where and how apitap publishes. Every key has a default (docs/kafka.md lists them
//! with their meaning); unknown keys are refused so a typo cannot fall back to a default.
//!
//! Two steps, as for the rest of the configuration: serde reads the raw section,
//! [`KafkaConfig::validate`] rejects what cannot work, naming the key and the fix. The
//! librdkafka settings are then built by [`KafkaConfig::client_config`] from the validated
//! section and the secrets ([`Secrets`]), which are read from files or the environment only
//! when the publisher starts and never printed.

mod extra;
mod settings;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

#[allow(unused_imports)] // Secret and Setting: the tests name them
pub use settings::{Secret, Secrets, Setting};

use super::message::Topic;
use super::spool::format;

/// The whole `[kafka]` section.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Bootstrap brokers, `host:port` each. Default: none; publishing needs at least one.
    pub brokers: Vec<String>,
    /// The client id the brokers see (quotas, logs). Default: `apitap-<sensor id>`.
    pub client_id: Option<String>,
    /// Topic names per stream.
    pub topics: TopicsConfig,
    /// Whether transaction records are published at all. Default: false (they are the bulk
    /// of the volume and most SIEMs only want findings).
    pub publish_transactions: bool,
    /// Compression codec. Default: lz4 (see [`Compression`]).
    pub compression: Compression,
    /// How long librdkafka waits to fill a batch (`linger.ms`). Default: 20 ms: findings are
    /// not latency-critical, fuller batches compress better and cost the broker less.
    pub linger_ms: u32,
    /// Largest batch in bytes (`batch.size`). Default: 1 000 000, under the broker's default
    /// `message.max.bytes` of 1 048 588.
    pub batch_bytes: u32,
    /// Most messages in one batch (`batch.num.messages`). Default: 10 000.
    pub batch_messages: u32,
    /// How long a message may wait in librdkafka (queued, retried, in flight) before it is
    /// handed back as failed and moved to the spool (`message.timeout.ms`). Default: 120 000.
    /// Shorter moves messages from memory to disk sooner in an outage; longer rides out a
    /// leader election without touching the disk.
    pub message_timeout_ms: u32,
    /// librdkafka's own retries of a failed produce request within the message timeout
    /// (`retries`). Default: 2 147 483 647 (retry until the timeout). Must be at least 1 for
    /// the idempotent producer.
    pub retries: u32,
    /// First backoff between librdkafka's retries (`retry.backoff.ms`). Default: 100.
    pub retry_backoff_ms: u32,
    /// Largest backoff between librdkafka's retries (`retry.backoff.max.ms`). Default: 1 000.
    pub retry_backoff_max_ms: u32,
    /// Most messages librdkafka holds in memory (`queue.buffering.max.messages`); when full,
    /// messages go to the spool instead. Default: 100 000.
    pub queue_max_messages: u32,
    /// Most kilobytes librdkafka holds in memory (`queue.buffering.max.kbytes`); when full,
    /// messages go to the spool. Default: 65 536 (64 MiB).
    pub queue_max_kbytes: u32,
    /// Largest key plus payload apitap accepts for publishing; a larger message is dropped,
    /// counted and reported before it reaches librdkafka or the spool. Default: 1 000 000
    /// (what a broker with default settings accepts).
    pub max_message_bytes: u32,
    /// Most spooled messages handed to librdkafka at once while the spool is replayed.
    /// Default: 10 000.
    pub replay_max_in_flight: u32,
    /// Backoff before the spool is replayed again after a failed replay; doubles on each
    /// failure up to 30 s. Default: 1 000.
    pub replay_backoff_ms: u32,
    /// TLS to the brokers. Default: none (plaintext). An empty `[kafka.tls]` section turns
    /// TLS on with the system's CA certificates.
    pub tls: Option<TlsConfig>,
    /// SASL authentication. Default: none.
    pub sasl: Option<SaslConfig>,
    /// The on-disk spool.
    pub spool: SpoolConfig,
    /// Any other librdkafka producer setting, passed through as is. Settings apitap owns are
    /// refused with the key and the fix (see docs/kafka.md).
    pub extra: BTreeMap<String, ExtraValue>,
}

impl Default for KafkaConfig {
    fn default() -> KafkaConfig {
        KafkaConfig {
            brokers: Vec::new(),
            client_id: None,
            topics: TopicsConfig::default(),
            publish_transactions: false,
            compression: Compression::default(),
            linger_ms: 20,
            batch_bytes: 1_000_000,
            batch_messages: 10_000,
            message_timeout_ms: 120_000,
            retries: 2_147_483_647,
            retry_backoff_ms: 100,
            retry_backoff_max_ms: 1_000,
            queue_max_messages: 100_000,
            queue_max_kbytes: 65_536,
            max_message_bytes: 1_000_000,
            replay_max_in_flight: 10_000,
            replay_backoff_ms: 1_000,
            tls: None,
            sasl: None,
            spool: SpoolConfig::default(),
            extra: BTreeMap::new(),
        }
    }
}

/// `[kafka.topics]`: the Kafka topic of each stream.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopicsConfig {
    /// Default: `apitap.anomalies`.
    pub anomalies: String,
    /// Default: `apitap.inventory` (meant to be a compacted topic).
    pub inventory: String,
    /// Default: `apitap.health`.
    pub health: String,
    /// Default: `apitap.transactions` (used only with `publish_transactions`).
    pub transactions: String,
}

impl Default for TopicsConfig {
    fn default() -> TopicsConfig {
        TopicsConfig {
            anomalies: "apitap.anomalies".into(),
            inventory: "apitap.inventory".into(),
            health: "apitap.health".into(),
            transactions: "apitap.transactions".into(),
        }
    }
}

impl TopicsConfig {
    /// The Kafka topic name of a stream.
    pub fn name(&self, topic: Topic) -> &str {
        match topic {
            Topic::Anomalies => &self.anomalies,
            Topic::Inventory => &self.inventory,
            Topic::Health => &self.health,
            Topic::Transactions => &self.transactions,
        }
    }
}

/// Compression codec (`compression.type`).
///
/// The default is lz4: the sensor's CPU belongs to capture, and lz4 costs the least CPU per
/// byte while still shrinking repetitive JSON several times over; every broker and consumer
/// since Kafka 0.10 reads it. zstd compresses better at a higher CPU cost and needs brokers
/// and consumers of Kafka 2.1 or later.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// No compression.
    None,
    /// gzip.
    Gzip,
    /// snappy.
    Snappy,
    /// lz4 (default).
    #[default]
    Lz4,
    /// zstd.
    Zstd,
}

impl Compression {
    /// librdkafka's name for the codec.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// `[kafka.tls]`: TLS to the brokers. Files are PEM.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// CA certificates that sign the brokers' certificates. Default: the system's.
    pub ca_file: Option<PathBuf>,
    /// Client certificate for mutual TLS. Default: none. Needs `key_file`.
    pub cert_file: Option<PathBuf>,
    /// Client private key. Default: none. Needs `cert_file`.
    pub key_file: Option<PathBuf>,
    /// File holding the private key's password (first line; a trailing newline is ignored).
    /// Default: none (unencrypted key).
    pub key_password_file: Option<PathBuf>,
    /// Check that the broker's certificate names the host connected to. Default: true.
    pub verify_hostname: bool,
}

impl Default for TlsConfig {
    fn default() -> TlsConfig {
        TlsConfig { ca_file: None, cert_file: None, key_file: None, key_password_file: None, verify_hostname: true }
    }
}

/// `[kafka.sasl]`: SASL authentication. The password comes from a file or an environment
/// variable, never from the configuration itself.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaslConfig {
    /// `plain`, `scram-sha-256` or `scram-sha-512`. Required.
    pub mechanism: SaslMechanism,
    /// The SASL user. Required.
    pub username: String,
    /// File holding the password (first line; a trailing newline is ignored).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Name of the environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
}

/// SASL mechanisms apitap configures. GSSAPI (Kerberos) and OAUTHBEARER are not supported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum SaslMechanism {
    /// PLAIN: the password crosses the wire as is, so use it only inside TLS.
    #[serde(rename = "plain")]
    Plain,
    /// SCRAM-SHA-256.
    #[serde(rename = "scram-sha-256")]
    ScramSha256,
    /// SCRAM-SHA-512.
    #[serde(rename = "scram-sha-512")]
    ScramSha512,
}

impl SaslMechanism {
    /// librdkafka's name.
    pub fn as_str(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// `[kafka.spool]`: the on-disk spool that holds messages while the brokers are unreachable
/// or slower than the sensor.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpoolConfig {
    /// Directory of the spool; created if missing, locked by one publisher at a time.
    /// Default: `/var/lib/apitap/kafka-spool`.
    pub dir: PathBuf,
    /// Most bytes on disk. Default: 1 GiB (an hour of 250 messages/s of 1 KiB; see
    /// docs/kafka.md for sizing).
    pub max_bytes: u64,
    /// Size of one segment file; the full policy drops whole segments. Default: 16 MiB.
    pub segment_bytes: u64,
    /// What happens when the spool is full. Default: drop the oldest.
    pub full_policy: FullPolicy,
}

impl Default for SpoolConfig {
    fn default() -> SpoolConfig {
        SpoolConfig {
            dir: PathBuf::from("/var/lib/apitap/kafka-spool"),
            max_bytes: 1 << 30,
            segment_bytes: 16 << 20,
            full_policy: FullPolicy::default(),
        }
    }
}

/// What a full spool gives up.
///
/// The default drops the oldest: when an outage outlasts the spool, the SOC needs what is
/// happening now; the oldest part of a long outage is what is most likely superseded already
/// (inventory state and health counters are restated by newer messages). `drop_newest` keeps
/// the start of an incident instead. Either way every dropped message is counted and the
/// first drop is reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FullPolicy {
    /// Remove the oldest segment (default).
    #[default]
    DropOldest,
    /// Refuse the new message.
    DropNewest,
}

/// A value in `[kafka.extra]`: TOML strings, integers, floats and booleans are all accepted
/// and passed to librdkafka as text.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ExtraValue {
    /// A string.
    Text(String),
    /// An integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

impl fmt::Display for ExtraValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtraValue::Text(s) => f.write_str(s),
            ExtraValue::Integer(i) => write!(f, "{i}"),
            ExtraValue::Float(x) => write!(f, "{x}"),
            ExtraValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A configuration mistake: the key, what is wrong, and what to write instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The key, as written under `[kafka]` (e.g. `extra."acks"`, `sasl.password_file`).
    pub key: String,
    /// What is wrong.
    pub problem: String,
    /// What to do instead.
    pub fix: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, problem: impl Into<String>, fix: impl Into<String>) -> ConfigError {
        ConfigError { key: key.into(), problem: problem.into(), fix: fix.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "kafka.{}: {}; {}", self.key, self.problem, self.fix)
    }
}

impl std::error::Error for ConfigError {}

/// The shortest segment accepted: smaller segments only multiply files.
pub const MIN_SEGMENT_BYTES: u64 = 64 << 10;

impl KafkaConfig {
    /// A default section with the brokers of a comma-separated list (`--kafka-brokers`).
    pub fn with_brokers(list: &str) -> KafkaConfig {
        KafkaConfig {
            brokers: list.split(',').map(str::trim).filter(|b| !b.is_empty()).map(String::from).collect(),
            ..KafkaConfig::default()
        }
    }

    /// Whether messages of a stream are published at all.
    pub fn publishes(&self, topic: Topic) -> bool {
        topic != Topic::Transactions || self.publish_transactions
    }

    /// Rejects a section that cannot work, with the first mistake found. Reads nothing: the
    /// secret files and variables are checked when [`Secrets::load`] reads them.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.brokers.is_empty() {
            return Err(ConfigError::new("brokers", "no broker is given", "list at least one `host:port` (or pass --kafka-brokers)"));
        }
        for b in &self.brokers {
            let bad = b.is_empty() || b.contains(',') || b.chars().any(char::is_whitespace);
            let port_ok = b.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
            if bad || !port_ok {
                return Err(ConfigError::new("brokers", format!("`{b}` is not a `host:port`"), "write each broker as its own `host:port` item, e.g. [\"kafka1:9093\", \"kafka2:9093\"]"));
            }
        }
        if let Some(id) = &self.client_id {
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
                return Err(ConfigError::new("client_id", format!("`{id}` is empty or has characters other than letters, digits, '.', '_' and '-'"), "use a plain name such as `apitap-dc1`"));
            }
        }
        self.validate_topics()?;
        self.validate_numbers()?;
        self.validate_security()?;
        self.validate_spool()?;
        extra::check(self)
    }

    fn validate_topics(&self) -> Result<(), ConfigError> {
        let mut seen: Vec<(&str, Topic)> = Vec::new();
        for t in Topic::ALL {
            let name = self.topics.name(t);
            let legal = !name.is_empty()
                && name.len() <= 249
                && name != "."
                && name != ".."
                && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            if !legal {
                return Err(ConfigError::new(format!("topics.{}", t.name()), format!("`{name}` is not a legal Kafka topic name"), "use 1 to 249 letters, digits, '.', '_' or '-'"));
            }
            if let Some((_, other)) = seen.iter().find(|(n, _)| *n == name) {
                if t != Topic::Transactions || self.publish_transactions {
                    return Err(ConfigError::new(format!("topics.{}", t.name()), format!("`{name}` is also the {other} topic"), "give each stream its own topic (inventory is compacted by key; mixing streams breaks that)"));
                }
            }
            seen.push((name, t));
        }
        Ok(())
    }

    fn validate_numbers(&self) -> Result<(), ConfigError> {
        let range = |key: &str, v: u64, lo: u64, hi: u64| -> Result<(), ConfigError> {
            if v < lo || v > hi {
                return Err(ConfigError::new(key, format!("{v} is outside {lo}..={hi}"), "pick a value in that range (docs/kafka.md gives the default and why)"));
            }
            Ok(())
        };
        range("linger_ms", self.linger_ms.into(), 0, 900_000)?;
        range("batch_bytes", self.batch_bytes.into(), 1, 2_147_483_647)?;
        range("batch_messages", self.batch_messages.into(), 1, 1_000_000)?;
        range("message_timeout_ms", self.message_timeout_ms.into(), 1_000, 2_147_483_647)?;
        range("retries", self.retries.into(), 1, 2_147_483_647)?;
        range("retry_backoff_ms", self.retry_backoff_ms.into(), 1, 300_000)?;
        range("retry_backoff_max_ms", self.retry_backoff_max_ms.into(), 1, 300_000)?;
        range("queue_max_messages", self.queue_max_messages.into(), 1, 2_147_483_647)?;
        range("queue_max_kbytes", self.queue_max_kbytes.into(), 1, 2_147_483_647)?;
        range("max_message_bytes", self.max_message_bytes.into(), 1_000, 1_000_000_000)?;
        range("replay_max_in_flight", self.replay_max_in_flight.into(), 1, 1_000_000)?;
        range("replay_backoff_ms", self.replay_backoff_ms.into(), 1, 30_000)?;
        if self.message_timeout_ms <= self.linger_ms {
            return Err(ConfigError::new("message_timeout_ms", format!("{} is not longer than linger_ms ({})", self.message_timeout_ms, self.linger_ms), "make the message timeout longer than the linger time"));
        }
        if self.retry_backoff_max_ms < self.retry_backoff_ms {
            return Err(ConfigError::new("retry_backoff_max_ms", format!("{} is below retry_backoff_ms ({})", self.retry_backoff_max_ms, self.retry_backoff_ms), "make the largest backoff at least the first one"));
        }
        Ok(())
    }

    fn validate_security(&self) -> Result<(), ConfigError> {
        if let Some(tls) = &self.tls {
            if tls.cert_file.is_some() != tls.key_file.is_some() {
                return Err(ConfigError::new("tls", "only one of cert_file and key_file is given", "give both the client certificate and its key, or neither"));
            }
            if tls.key_password_file.is_some() && tls.key_file.is_none() {
                return Err(ConfigError::new("tls.key_password_file", "a key password is given without a key_file", "add key_file (and cert_file) or remove key_password_file"));
            }
        }
        if let Some(sasl) = &self.sasl {
            if sasl.username.is_empty() {
                return Err(ConfigError::new("sasl.username", "the user name is empty", "set the SASL user apitap logs in as"));
            }
            match (&sasl.password_file, &sasl.password_env) {
                (Some(_), Some(_)) => {
                    return Err(ConfigError::new("sasl", "both password_file and password_env are given", "keep one source for the password"));
                }
                (None, None) => {
                    return Err(ConfigError::new("sasl", "no password source is given", "set password_file (a file readable only by apitap) or password_env (the name of an environment variable)"));
                }
                (None, Some(var)) if var.is_empty() || var.contains('=') || var.contains('\0') => {
                    return Err(ConfigError::new("sasl.password_env", format!("`{var}` is not an environment variable name"), "give the variable's name, not its value"));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn validate_spool(&self) -> Result<(), ConfigError> {
        let s = &self.spool;
        if s.dir.as_os_str().is_empty() {
            return Err(ConfigError::new("spool.dir", "the spool directory is empty", "give a directory on a disk with room for spool.max_bytes"));
        }
        let largest_record = u64::from(self.max_message_bytes).saturating_add(super::spool::RECORD_OVERHEAD as u64);
        if s.segment_bytes < MIN_SEGMENT_BYTES {
            return Err(ConfigError::new("spool.segment_bytes", format!("{} is below {MIN_SEGMENT_BYTES}", s.segment_bytes), "use at least 64 KiB (default 16 MiB)"));
        }
        if s.segment_bytes < largest_record.saturating_add(format::FILE_HEADER) {
            return Err(ConfigError::new("spool.segment_bytes", format!("{} cannot hold the largest message (max_message_bytes {} plus {} bytes of framing)", s.segment_bytes, self.max_message_bytes, super::spool::RECORD_OVERHEAD as u64 + format::FILE_HEADER), "raise segment_bytes or lower max_message_bytes"));
        }
        if s.segment_bytes > super::spool::MAX_SEGMENT_FILE {
            return Err(ConfigError::new("spool.segment_bytes", format!("{} is above {}", s.segment_bytes, super::spool::MAX_SEGMENT_FILE), "use a smaller segment (default 16 MiB)"));
        }
        if s.max_bytes < s.segment_bytes.saturating_mul(4) {
            return Err(ConfigError::new("spool.max_bytes", format!("{} is under four segments of {}", s.max_bytes, s.segment_bytes), "raise max_bytes or lower segment_bytes: the full policy drops whole segments, so the spool needs several"));
        }
        Ok(())
    }
}

/// Extra keys whose name suggests a secret: their values are shown as `<redacted>`.
fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["password", "secret", "token", "pem", "jaas", "credential", "key"].iter().any(|w| k.contains(w))
}

impl fmt::Debug for KafkaConfig {
    /// Every field, with the values of secret-looking `extra` keys redacted. The section holds
    /// no secret of its own (passwords come from files or variables named here), so this is
    /// safe to log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Extra<'a>(&'a BTreeMap<String, ExtraValue>);
        impl fmt::Debug for Extra<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut m = f.debug_map();
                for (k, v) in self.0 {
                    if looks_secret(k) {
                        m.entry(k, &"<redacted>");
                    } else {
                        m.entry(k, &v.to_string());
                    }
                }
                m.finish()
            }
        }
        f.debug_struct("KafkaConfig")
            .field("brokers", &self.brokers)
            .field("client_id", &self.client_id)
            .field("topics", &self.topics)
            .field("publish_transactions", &self.publish_transactions)
            .field("compression", &self.compression)
            .field("linger_ms", &self.linger_ms)
            .field("batch_bytes", &self.batch_bytes)
            .field("batch_messages", &self.batch_messages)
            .field("message_timeout_ms", &self.message_timeout_ms)
            .field("retries", &self.retries)
            .field("retry_backoff_ms", &self.retry_backoff_ms)
            .field("retry_backoff_max_ms", &self.retry_backoff_max_ms)
            .field("queue_max_messages", &self.queue_max_messages)
            .field("queue_max_kbytes", &self.queue_max_kbytes)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("replay_max_in_flight", &self.replay_max_in_flight)
            .field("replay_backoff_ms", &self.replay_backoff_ms)
            .field("tls", &self.tls)
            .field("sasl", &self.sasl)
            .field("spool", &self.spool)
            .field("extra", &Extra(&self.extra))
            .finish()
    }
}

impl fmt::Display for KafkaConfig {
    /// One line for a start-up log: brokers, security, topics and spool; no secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let security = match (&self.tls, &self.sasl) {
            (None, None) => "plaintext".to_string(),
            (Some(_), None) => "tls".to_string(),
            (None, Some(s)) => format!("sasl {} as {} (no tls)", s.mechanism.as_str(), s.username),
            (Some(_), Some(s)) => format!("tls + sasl {} as {}", s.mechanism.as_str(), s.username),
        };
        write!(
            f,
            "kafka brokers {} ({security}), topics {}/{}/{}{}, {} compression, spool {} (max {} bytes, {})",
            self.brokers.join(","),
            self.topics.anomalies,
            self.topics.inventory,
            self.topics.health,
            if self.publish_transactions { format!("/{}", self.topics.transactions) } else { String::new() },
            self.compression.as_str(),
            self.spool.dir.display(),
            self.spool.max_bytes,
            match self.spool.full_policy {
                FullPolicy::DropOldest => "drop oldest when full",
                FullPolicy::DropNewest => "drop newest when full",
            }
        )
    }
}

#[cfg(test)]
mod tests;
