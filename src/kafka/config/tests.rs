#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::ffi::OsString;

use super::*;

fn parse(text: &str) -> Result<KafkaConfig, String> {
    toml::from_str::<KafkaConfig>(text).map_err(|e| e.to_string())
}

fn valid(text: &str) -> KafkaConfig {
    let cfg = parse(text).unwrap();
    cfg.validate().unwrap();
    cfg
}

fn rejected(text: &str) -> ConfigError {
    parse(text).unwrap().validate().unwrap_err()
}

fn setting<'a>(s: &'a [Setting], key: &str) -> Option<&'a str> {
    s.iter().find(|x| x.key == key).map(Setting::value)
}

#[test]
fn defaults_are_the_documented_ones() {
    let c = valid("brokers = [\"k1:9092\"]");
    assert_eq!(c.topics.anomalies, "apitap.anomalies");
    assert_eq!(c.topics.inventory, "apitap.inventory");
    assert_eq!(c.topics.health, "apitap.health");
    assert_eq!(c.topics.transactions, "apitap.transactions");
    assert!(!c.publish_transactions);
    assert!(!c.publishes(Topic::Transactions));
    assert!(c.publishes(Topic::Anomalies));
    assert_eq!(c.compression, Compression::Lz4);
    assert_eq!(c.spool.max_bytes, 1 << 30);
    assert_eq!(c.spool.full_policy, FullPolicy::DropOldest);
    assert_eq!(c.message_timeout_ms, 120_000);
    assert_eq!(c.max_message_bytes, 1_000_000);
}

#[test]
fn the_owned_guarantees_are_always_sent() {
    let c = valid("brokers = [\"k1:9092\", \"k2:9092\"]\ncompression = \"zstd\"\nmessage_timeout_ms = 30000\nretries = 7");
    let s = c.settings("dc1-a", &Secrets::default());
    assert_eq!(setting(&s, "bootstrap.servers"), Some("k1:9092,k2:9092"));
    assert_eq!(setting(&s, "acks"), Some("all"));
    assert_eq!(setting(&s, "enable.idempotence"), Some("true"));
    assert_eq!(setting(&s, "compression.type"), Some("zstd"));
    assert_eq!(setting(&s, "message.timeout.ms"), Some("30000"));
    assert_eq!(setting(&s, "retries"), Some("7"));
    assert_eq!(setting(&s, "client.id"), Some("apitap-dc1-a"));
    assert_eq!(setting(&s, "security.protocol"), None);
    // Each key once.
    let mut keys: Vec<_> = s.iter().map(|x| x.key.clone()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), s.len());
}

#[test]
fn tls_and_sasl_select_the_protocol_and_carry_the_files_and_secrets() {
    let c = valid(
        r#"
        brokers = ["k1:9093"]
        [tls]
        ca_file = "/etc/apitap/ca.pem"
        cert_file = "/etc/apitap/client.pem"
        key_file = "/etc/apitap/client.key"
        key_password_file = "/etc/apitap/key.pass"
        [sasl]
        mechanism = "scram-sha-512"
        username = "apitap"
        password_env = "KAFKA_PW"
        "#,
    );
    let secrets = Secrets { sasl_password: Some(Secret::new("s3cr3t-sasl")), key_password: Some(Secret::new("s3cr3t-key")) };
    let s = c.settings("x", &secrets);
    assert_eq!(setting(&s, "security.protocol"), Some("sasl_ssl"));
    assert_eq!(setting(&s, "ssl.ca.location"), Some("/etc/apitap/ca.pem"));
    assert_eq!(setting(&s, "ssl.certificate.location"), Some("/etc/apitap/client.pem"));
    assert_eq!(setting(&s, "ssl.key.location"), Some("/etc/apitap/client.key"));
    assert_eq!(setting(&s, "ssl.key.password"), Some("s3cr3t-key"));
    assert_eq!(setting(&s, "ssl.endpoint.identification.algorithm"), Some("https"));
    assert_eq!(setting(&s, "sasl.mechanism"), Some("SCRAM-SHA-512"));
    assert_eq!(setting(&s, "sasl.username"), Some("apitap"));
    assert_eq!(setting(&s, "sasl.password"), Some("s3cr3t-sasl"));

    let only_sasl = valid("brokers = [\"k:1\"]\n[sasl]\nmechanism = \"plain\"\nusername = \"u\"\npassword_file = \"/p\"");
    assert_eq!(setting(&only_sasl.settings("x", &Secrets::default()), "security.protocol"), Some("sasl_plaintext"));
    let only_tls = valid("brokers = [\"k:1\"]\n[tls]\nverify_hostname = false");
    let s = only_tls.settings("x", &Secrets::default());
    assert_eq!(setting(&s, "security.protocol"), Some("ssl"));
    assert_eq!(setting(&s, "ssl.endpoint.identification.algorithm"), Some("none"));
}

#[test]
fn no_secret_appears_in_debug_display_or_the_redacted_settings() {
    let c = valid(
        r#"
        brokers = ["k1:9093"]
        [tls]
        key_file = "/k"
        cert_file = "/c"
        key_password_file = "/kp"
        [sasl]
        mechanism = "scram-sha-256"
        username = "apitap"
        password_file = "/pw"
        [extra]
        "ssl.cipher.suites" = "ECDHE-RSA-AES256-GCM-SHA384"
        "sasl_like.token.secret" = "s3cr3t-extra"
        "#,
    );
    let secrets = Secrets { sasl_password: Some(Secret::new("s3cr3t-sasl")), key_password: Some(Secret::new("s3cr3t-key")) };
    let texts = [format!("{c:?}"), format!("{c}"), c.redacted_settings("x", &secrets), format!("{secrets:?}"), format!("{:?}", c.settings("x", &secrets))];
    for t in &texts {
        assert!(!t.contains("s3cr3t"), "secret leaked: {t}");
    }
    assert!(texts[2].contains("sasl.password=<redacted>"));
    assert!(texts[2].contains("ssl.key.password=<redacted>"));
    assert!(texts[2].contains("sasl.username=apitap"));
    assert!(texts[2].contains("ssl.cipher.suites=ECDHE-RSA-AES256-GCM-SHA384"));
    // The real client still gets the values.
    let s = c.settings("x", &secrets);
    assert_eq!(setting(&s, "sasl_like.token.secret"), Some("s3cr3t-extra"));
}

#[test]
fn owned_settings_in_extra_are_rejected_naming_the_key_and_the_fix() {
    let cases = [
        ("acks", "\"1\"", "acks=all"),
        ("enable.idempotence", "false", "idempotent"),
        ("bootstrap.servers", "\"x:1\"", "kafka.brokers"),
        ("message.timeout.ms", "5", "kafka.message_timeout_ms"),
        ("delivery.timeout.ms", "5", "kafka.message_timeout_ms"),
        ("linger.ms", "5", "kafka.linger_ms"),
        ("queue.buffering.max.kbytes", "5", "kafka.queue_max_kbytes"),
        ("sasl.password", "\"pw\"", "[kafka.sasl]"),
        ("sasl.mechanisms", "\"PLAIN\"", "[kafka.sasl]"),
        ("ssl.key.password", "\"pw\"", "key_password_file"),
        ("ssl.ca.location", "\"/ca\"", "kafka.tls.ca_file"),
        ("ssl.key.pem", "\"---\"", "kafka.tls.key_file"),
        ("dr_msg_cb", "\"x\"", "delivery reports"),
        ("delivery.report.only.error", "true", "delivery reports"),
        ("transactional.id", "\"t\"", "not supported"),
        ("ACKS", "\"1\"", "acks=all"),
    ];
    for (key, value, fix) in cases {
        let e = rejected(&format!("brokers = [\"k:1\"]\n[extra]\n\"{key}\" = {value}"));
        assert_eq!(e.key, format!("extra.\"{key}\""), "{key}");
        let text = e.to_string();
        assert!(text.contains(fix), "{key}: {text}");
        assert!(text.starts_with(&format!("kafka.extra.\"{key}\": ")), "{text}");
    }
}

#[test]
fn security_protocol_in_extra_conflicts_only_with_the_typed_sections() {
    let e = rejected("brokers = [\"k:1\"]\n[tls]\n[extra]\n\"security.protocol\" = \"ssl\"");
    assert!(e.fix.contains("remove it"), "{e}");
    valid("brokers = [\"k:1\"]\n[extra]\n\"security.protocol\" = \"ssl\"");
    let e = rejected("brokers = [\"k:1\"]\n[extra]\n\"security.protocol\" = \"sasl_ssl\"");
    assert!(e.fix.contains("[kafka.sasl]"), "{e}");
}

#[test]
fn other_librdkafka_settings_pass_through_with_any_scalar_type() {
    let c = valid("brokers = [\"k:1\"]\n[extra]\n\"socket.keepalive.enable\" = true\n\"statistics.interval.ms\" = 0\n\"ssl.cipher.suites\" = \"ECDHE\"");
    let s = c.settings("x", &Secrets::default());
    assert_eq!(setting(&s, "socket.keepalive.enable"), Some("true"));
    assert_eq!(setting(&s, "statistics.interval.ms"), Some("0"));
    assert_eq!(setting(&s, "ssl.cipher.suites"), Some("ECDHE"));
}

#[test]
fn unknown_keys_are_refused_by_the_parser() {
    let e = parse("brokers = [\"k:1\"]\nlinger = 5").unwrap_err();
    assert!(e.contains("unknown field `linger`"), "{e}");
    let e = parse("brokers = [\"k:1\"]\n[spool]\nmax_size = 5").unwrap_err();
    assert!(e.contains("unknown field `max_size`"), "{e}");
    let e = parse("brokers = [\"k:1\"]\n[sasl]\nmechanism = \"gssapi\"\nusername = \"u\"\npassword_file = \"/p\"").unwrap_err();
    assert!(e.contains("gssapi"), "{e}");
}

#[test]
fn broken_values_are_rejected_with_the_key() {
    assert_eq!(rejected("").key, "brokers");
    assert_eq!(rejected("brokers = [\"k1:9092,k2:9092\"]").key, "brokers");
    assert_eq!(rejected("brokers = [\"k1\"]").key, "brokers");
    assert_eq!(rejected("brokers = [\"k:1\"]\nretries = 0").key, "retries");
    assert_eq!(rejected("brokers = [\"k:1\"]\nlinger_ms = 1000\nmessage_timeout_ms = 1000").key, "message_timeout_ms");
    assert_eq!(rejected("brokers = [\"k:1\"]\n[topics]\ninventory = \"apitap.anomalies\"").key, "topics.inventory");
    assert_eq!(rejected("brokers = [\"k:1\"]\n[topics]\nhealth = \"bad topic\"").key, "topics.health");
    assert_eq!(rejected("brokers = [\"k:1\"]\n[tls]\ncert_file = \"/c\"").key, "tls");
    assert_eq!(rejected("brokers = [\"k:1\"]\n[sasl]\nmechanism = \"plain\"\nusername = \"u\"").key, "sasl");
    assert_eq!(
        rejected("brokers = [\"k:1\"]\n[sasl]\nmechanism = \"plain\"\nusername = \"u\"\npassword_file = \"/p\"\npassword_env = \"P\"").key,
        "sasl"
    );
    assert_eq!(rejected("brokers = [\"k:1\"]\n[spool]\nsegment_bytes = 1000").key, "spool.segment_bytes");
    assert_eq!(rejected("brokers = [\"k:1\"]\n[spool]\nmax_bytes = 1000000").key, "spool.max_bytes");
    // The transactions topic may share a name while it is off.
    valid("brokers = [\"k:1\"]\n[topics]\ntransactions = \"apitap.health\"");
}

#[test]
fn secrets_come_from_the_file_or_the_variable_without_the_line_ending() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "from-file\n").unwrap();
    let kp = dir.path().join("kp");
    std::fs::write(&kp, "key-pass\r\n").unwrap();
    let mut c = valid(&format!(
        "brokers = [\"k:1\"]\n[tls]\ncert_file = \"/c\"\nkey_file = \"/k\"\nkey_password_file = \"{}\"\n[sasl]\nmechanism = \"plain\"\nusername = \"u\"\npassword_file = \"{}\"",
        kp.display(),
        pw.display()
    ));
    let s = Secrets::load_with(&c, |_| None).unwrap();
    assert_eq!(s.sasl_password.as_ref().map(Secret::expose), Some("from-file"));
    assert_eq!(s.key_password.as_ref().map(Secret::expose), Some("key-pass"));

    let env: HashMap<&str, OsString> = [("KAFKA_PW", OsString::from("from-env\n"))].into();
    if let Some(sasl) = c.sasl.as_mut() {
        sasl.password_file = None;
        sasl.password_env = Some("KAFKA_PW".into());
    }
    let s = Secrets::load_with(&c, |k| env.get(k).cloned()).unwrap();
    assert_eq!(s.sasl_password.as_ref().map(Secret::expose), Some("from-env"));

    let e = Secrets::load_with(&c, |_| None).unwrap_err();
    assert_eq!(e.key, "sasl.password_env");
    assert!(e.problem.contains("KAFKA_PW is not set"), "{e}");

    if let Some(sasl) = c.sasl.as_mut() {
        sasl.password_env = None;
        sasl.password_file = Some(dir.path().join("missing"));
    }
    let e = Secrets::load_with(&c, |_| None).unwrap_err();
    assert_eq!(e.key, "sasl.password_file");
    assert!(e.problem.contains("missing"), "{e}");
}

#[test]
fn the_client_config_is_accepted_by_librdkafka() {
    let c = valid("brokers = [\"127.0.0.1:1\"]\n[extra]\n\"socket.keepalive.enable\" = true");
    let p: Result<rdkafka::producer::BaseProducer, _> = c.client_config("t", &Secrets::default()).create();
    assert!(p.is_ok(), "{:?}", p.err());
    let bad = valid("brokers = [\"127.0.0.1:1\"]\n[extra]\n\"no.such.setting\" = 1");
    let p: Result<rdkafka::producer::BaseProducer, _> = bad.client_config("t", &Secrets::default()).create();
    let e = p.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("no.such.setting"), "{e}");
}

#[test]
fn with_brokers_splits_the_command_line_list() {
    let c = KafkaConfig::with_brokers("a:1, b:2,,c:3");
    assert_eq!(c.brokers, vec!["a:1", "b:2", "c:3"]);
    c.validate().unwrap();
}
