//! Which `[kafka.extra]` settings are refused. apitap owns the settings its guarantees rest on
//! (acks, idempotence, the timeouts and queue bounds the spool logic reads, delivery reports)
//! and the ones its typed keys already set (brokers, TLS files, SASL); setting them twice would
//! either silently override a guarantee or leave it unclear which value wins.

use super::{ConfigError, KafkaConfig};

/// A refused key and the fix that goes with it.
struct Rule {
    keys: &'static [&'static str],
    fix: &'static str,
}

const OWNED: &[Rule] = &[
    Rule { keys: &["bootstrap.servers", "metadata.broker.list"], fix: "list the brokers in kafka.brokers (or --kafka-brokers)" },
    Rule { keys: &["client.id"], fix: "set kafka.client_id" },
    Rule { keys: &["acks", "request.required.acks"], fix: "remove it: apitap always produces with acks=all" },
    Rule { keys: &["enable.idempotence"], fix: "remove it: apitap always uses the idempotent producer" },
    Rule {
        keys: &["max.in.flight.requests.per.connection", "max.in.flight"],
        fix: "remove it: the idempotent producer sets it (at most 5) to keep order",
    },
    Rule {
        keys: &["enable.gapless.guarantee", "transactional.id", "transaction.timeout.ms"],
        fix: "remove it: apitap does not use gapless or transactional producing (docs/kafka.md, not supported)",
    },
    Rule { keys: &["compression.type", "compression.codec"], fix: "set kafka.compression" },
    Rule { keys: &["linger.ms", "queue.buffering.max.ms"], fix: "set kafka.linger_ms" },
    Rule { keys: &["batch.size"], fix: "set kafka.batch_bytes" },
    Rule { keys: &["batch.num.messages"], fix: "set kafka.batch_messages" },
    Rule { keys: &["message.timeout.ms", "delivery.timeout.ms"], fix: "set kafka.message_timeout_ms" },
    Rule { keys: &["retries", "message.send.max.retries"], fix: "set kafka.retries" },
    Rule { keys: &["retry.backoff.ms"], fix: "set kafka.retry_backoff_ms" },
    Rule { keys: &["retry.backoff.max.ms"], fix: "set kafka.retry_backoff_max_ms" },
    Rule { keys: &["queue.buffering.max.messages"], fix: "set kafka.queue_max_messages" },
    Rule { keys: &["queue.buffering.max.kbytes"], fix: "set kafka.queue_max_kbytes" },
    Rule { keys: &["message.max.bytes"], fix: "set kafka.max_message_bytes" },
    Rule {
        keys: &[
            "dr_cb",
            "dr_msg_cb",
            "delivery.report.only.error",
            "produce.offset.report",
            "opaque",
            "error_cb",
            "log_cb",
            "throttle_cb",
            "stats_cb",
            "background_event_cb",
            "socket_cb",
            "connect_cb",
            "closesocket_cb",
            "open_cb",
            "resolve_cb",
            "oauthbearer_token_refresh_cb",
            "ssl.certificate.verify_cb",
            "interceptors",
            "log.queue",
        ],
        fix: "remove it: apitap installs its own delivery reports and callbacks and counts on every report",
    },
    Rule {
        keys: &["ssl.ca.location", "ssl.ca.pem"],
        fix: "set kafka.tls.ca_file",
    },
    Rule {
        keys: &["ssl.certificate.location", "ssl.certificate.pem", "ssl.keystore.location"],
        fix: "set kafka.tls.cert_file (PEM)",
    },
    Rule {
        keys: &["ssl.key.location", "ssl.key.pem", "ssl_key"],
        fix: "set kafka.tls.key_file (PEM)",
    },
    Rule {
        keys: &["ssl.key.password", "ssl.keystore.password"],
        fix: "put the password in a file and set kafka.tls.key_password_file",
    },
    Rule {
        keys: &["ssl.endpoint.identification.algorithm"],
        fix: "set kafka.tls.verify_hostname",
    },
];

/// Checks every `[kafka.extra]` key. Keys are compared trimmed and in lower case, the way an
/// operator may have typed them.
pub(super) fn check(cfg: &KafkaConfig) -> Result<(), ConfigError> {
    for key in cfg.extra.keys() {
        let k = key.trim().to_ascii_lowercase();
        let named = format!("extra.\"{key}\"");
        if k.is_empty() {
            return Err(ConfigError::new(named, "the key is empty", "remove it"));
        }
        if let Some(rule) = OWNED.iter().find(|r| r.keys.contains(&k.as_str())) {
            return Err(ConfigError::new(named, "apitap sets this librdkafka setting itself", rule.fix));
        }
        if k.starts_with("sasl.") {
            return Err(ConfigError::new(
                named,
                "SASL settings are not passed through",
                "use the [kafka.sasl] section (mechanism plain, scram-sha-256 or scram-sha-512; username; password_file or password_env)",
            ));
        }
        if k == "security.protocol" && (cfg.tls.is_some() || cfg.sasl.is_some()) {
            return Err(ConfigError::new(
                named,
                "the security protocol follows from the [kafka.tls] and [kafka.sasl] sections",
                "remove it; the sections select ssl, sasl_plaintext or sasl_ssl",
            ));
        }
        if k == "security.protocol" {
            let v = cfg.extra.get(key).map(|v| v.to_string().to_ascii_lowercase()).unwrap_or_default();
            if v != "plaintext" && v != "ssl" {
                return Err(ConfigError::new(named, format!("`{v}` needs SASL settings that are not passed through"), "remove it and add a [kafka.sasl] section"));
            }
        }
    }
    Ok(())
}
