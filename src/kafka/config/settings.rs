//! From the validated section to librdkafka's settings, and the secrets they need.
//!
//! [`KafkaConfig::settings`] is pure: it takes the secrets as an argument, so the exact
//! settings apitap sends are tested without files, variables or a broker. Secret values are
//! marked, so [`KafkaConfig::redacted_settings`] can list everything else for a log.

use std::ffi::OsString;
use std::fmt;
use std::path::Path;

use rdkafka::config::ClientConfig;

use super::{ConfigError, KafkaConfig};

/// A secret value. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    #[allow(dead_code)] // secrets are loaded from files and variables; the tests make them
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for librdkafka only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The secrets the section refers to, read once when the publisher starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Secrets {
    /// The SASL password (from `sasl.password_file` or `sasl.password_env`).
    pub sasl_password: Option<Secret>,
    /// The TLS private key's password (from `tls.key_password_file`).
    pub key_password: Option<Secret>,
}

/// The first line of a secret file or variable, without its line ending: editors and
/// `echo` add a newline that is not part of the password.
fn first_line(text: &str) -> &str {
    text.split(['\n', '\r']).next().unwrap_or("")
}

impl Secrets {
    /// Reads the secrets of `cfg` from their files and from the process environment.
    pub fn load(cfg: &KafkaConfig) -> Result<Secrets, ConfigError> {
        Secrets::load_with(cfg, |name| std::env::var_os(name))
    }

    /// Reads the secrets with `env` standing in for the process environment.
    pub fn load_with(cfg: &KafkaConfig, env: impl Fn(&str) -> Option<OsString>) -> Result<Secrets, ConfigError> {
        let mut secrets = Secrets::default();
        if let Some(sasl) = &cfg.sasl {
            let password = match (&sasl.password_file, &sasl.password_env) {
                (Some(path), _) => read_secret_file(path, "sasl.password_file")?,
                (None, Some(var)) => {
                    let value = env(var).ok_or_else(|| {
                        ConfigError::new("sasl.password_env", format!("the environment variable {var} is not set"), "export it in apitap's environment (e.g. the service unit's EnvironmentFile)")
                    })?;
                    let value = value.into_string().map_err(|_| {
                        ConfigError::new("sasl.password_env", format!("the environment variable {var} is not UTF-8"), "store the password as UTF-8 text")
                    })?;
                    first_line(&value).to_string()
                }
                (None, None) => {
                    return Err(ConfigError::new("sasl", "no password source is given", "set password_file or password_env"));
                }
            };
            if password.is_empty() {
                return Err(ConfigError::new("sasl", "the SASL password is empty", "put the password in the file or variable"));
            }
            secrets.sasl_password = Some(Secret(password));
        }
        if let Some(path) = cfg.tls.as_ref().and_then(|t| t.key_password_file.as_ref()) {
            secrets.key_password = Some(Secret(read_secret_file(path, "tls.key_password_file")?));
        }
        Ok(secrets)
    }
}

fn read_secret_file(path: &Path, key: &str) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(key, format!("cannot read {}: {e}", path.display()), "make the file readable by apitap (and by nobody else)")
    })?;
    Ok(first_line(&text).to_string())
}

/// One librdkafka setting apitap sends.
#[derive(Clone, PartialEq, Eq)]
pub struct Setting {
    /// librdkafka's key.
    pub key: String,
    /// The value; secret values are [`Secret`]s in [`Setting::secret`] instead.
    value: String,
    /// Whether the value is a secret (then `Debug` and the redacted listing hide it).
    pub secret: bool,
}

impl Setting {
    fn plain(key: &str, value: impl Into<String>) -> Setting {
        Setting { key: key.to_string(), value: value.into(), secret: false }
    }

    fn secret(key: &str, value: &Secret) -> Setting {
        Setting { key: key.to_string(), value: value.expose().to_string(), secret: true }
    }

    /// The value as librdkafka gets it (secrets included): for building the client only.
    #[allow(dead_code)] // the tests read settings back
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The value for a log: `<redacted>` for secrets.
    pub fn shown(&self) -> &str {
        if self.secret {
            "<redacted>"
        } else {
            &self.value
        }
    }
}

impl fmt::Debug for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.shown())
    }
}

impl KafkaConfig {
    /// The client id the brokers see.
    pub fn effective_client_id(&self, sensor_id: &str) -> String {
        match &self.client_id {
            Some(id) => id.clone(),
            None => format!("apitap-{sensor_id}"),
        }
    }

    /// Every librdkafka setting apitap sends, in a fixed order: the owned ones first, then
    /// `extra`. Expects a validated section.
    pub fn settings(&self, sensor_id: &str, secrets: &Secrets) -> Vec<Setting> {
        let mut s = vec![
            Setting::plain("bootstrap.servers", self.brokers.join(",")),
            Setting::plain("client.id", self.effective_client_id(sensor_id)),
            Setting::plain("acks", "all"),
            Setting::plain("enable.idempotence", "true"),
            Setting::plain("compression.type", self.compression.as_str()),
            Setting::plain("linger.ms", self.linger_ms.to_string()),
            Setting::plain("batch.size", self.batch_bytes.to_string()),
            Setting::plain("batch.num.messages", self.batch_messages.to_string()),
            Setting::plain("message.timeout.ms", self.message_timeout_ms.to_string()),
            Setting::plain("retries", self.retries.to_string()),
            Setting::plain("retry.backoff.ms", self.retry_backoff_ms.to_string()),
            Setting::plain("retry.backoff.max.ms", self.retry_backoff_max_ms.to_string()),
            Setting::plain("queue.buffering.max.messages", self.queue_max_messages.to_string()),
            Setting::plain("queue.buffering.max.kbytes", self.queue_max_kbytes.to_string()),
            // Room for the protocol framing around the largest message apitap accepts.
            Setting::plain("message.max.bytes", self.max_message_bytes.saturating_add(4096).to_string()),
            // The Java client's partitioner: a key lands in the same partition whichever
            // client wrote it, which keeps compacted topics and co-partitioned joins coherent.
            Setting::plain("partitioner", "murmur2_random"),
        ];
        let protocol = match (&self.tls, &self.sasl) {
            (None, None) => None,
            (Some(_), None) => Some("ssl"),
            (None, Some(_)) => Some("sasl_plaintext"),
            (Some(_), Some(_)) => Some("sasl_ssl"),
        };
        if let Some(p) = protocol {
            s.push(Setting::plain("security.protocol", p));
        }
        if let Some(tls) = &self.tls {
            if let Some(ca) = &tls.ca_file {
                s.push(Setting::plain("ssl.ca.location", ca.display().to_string()));
            }
            if let Some(cert) = &tls.cert_file {
                s.push(Setting::plain("ssl.certificate.location", cert.display().to_string()));
            }
            if let Some(key) = &tls.key_file {
                s.push(Setting::plain("ssl.key.location", key.display().to_string()));
            }
            if let Some(pw) = &secrets.key_password {
                s.push(Setting::secret("ssl.key.password", pw));
            }
            s.push(Setting::plain("ssl.endpoint.identification.algorithm", if tls.verify_hostname { "https" } else { "none" }));
        }
        if let Some(sasl) = &self.sasl {
            s.push(Setting::plain("sasl.mechanism", sasl.mechanism.as_str()));
            s.push(Setting::plain("sasl.username", sasl.username.clone()));
            if let Some(pw) = &secrets.sasl_password {
                s.push(Setting::secret("sasl.password", pw));
            }
        }
        for (k, v) in &self.extra {
            let mut setting = Setting::plain(k.trim(), v.to_string());
            setting.secret = super::looks_secret(k);
            s.push(setting);
        }
        s
    }

    /// The settings as `key=value` lines with secrets shown as `<redacted>`: safe to log.
    #[allow(dead_code)] // for logs and the tests; the publisher logs nothing of its settings yet
    pub fn redacted_settings(&self, sensor_id: &str, secrets: &Secrets) -> String {
        let mut out = String::new();
        for s in self.settings(sensor_id, secrets) {
            out.push_str(&s.key);
            out.push('=');
            out.push_str(s.shown());
            out.push('\n');
        }
        out
    }

    /// The librdkafka client configuration. Never log it: rdkafka's own `Debug` shows secrets;
    /// log [`KafkaConfig::redacted_settings`] instead.
    pub fn client_config(&self, sensor_id: &str, secrets: &Secrets) -> ClientConfig {
        let mut cc = ClientConfig::new();
        for s in self.settings(sensor_id, secrets) {
            cc.set(s.key.clone(), s.value);
        }
        cc
    }
}
