//! Matching anomalies with the simulator's truth (truth.json's injections and consumers).
//!
//! Shared by tests/behaviour_accuracy.rs (precision and recall per kind) and the tuning
//! tests (tests/simulate_tuning.rs, tests/tuning_acceptance.rs).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::Value;

/// The anomaly kind an injection is meant to raise (`None` for the benign confounders and the
/// tuning kinds, which raise several).
pub fn expected_kind(injection: &str) -> Option<&'static str> {
    Some(match injection {
        "shadow_endpoint" => "shadow_endpoint_use",
        "zombie_version" | "deprecated_operations" => "zombie_endpoint_use",
        "object_enumeration" => "bola_enumeration",
        "credential_stuffing" => "credential_stuffing",
        "scraping" => "bulk_export",
        "off_hours_token" => "off_hours",
        "error_spike" => "error_spike",
        "oversized_responses" => "response_size",
        "rate_surge" => "rate_surge",
        "new_user_agent" => "new_fingerprint",
        "unauthenticated_access" => "unauthenticated_sensitive",
        "request_smuggling" => "http_smuggling",
        _ => return None,
    })
}

/// Seconds since the epoch of an RFC 3339 time.
pub fn secs(t: &Value) -> f64 {
    let s = t.as_str().unwrap();
    chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_nanos_opt().unwrap() as f64 / 1e9
}

/// Whether `ip` is inside the IPv4 network `net` (`198.51.100.0/24`).
pub fn in_net(ip: &str, net: &str) -> bool {
    let (Ok(ip), Some((base, len))) = (ip.parse::<IpAddr>(), net.split_once('/')) else { return false };
    let (Ok(IpAddr::V4(base)), Ok(len), IpAddr::V4(ip)) = (base.parse::<IpAddr>(), len.parse::<u32>(), ip) else { return false };
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    u32::from(ip) & mask == u32::from(base) & mask
}

/// Whether an alert is about the injection's consumer: its label or PSD2 organisation id, or
/// a client address in the consumer's or the injection's network (an alert with no consumer,
/// about a whole service or endpoint, matches any).
pub fn names_consumer(alert: &Value, inj: &Value, consumers: &BTreeMap<String, Value>) -> bool {
    let consumer = &alert["unmapped"]["consumer"];
    if consumer.is_null() {
        return true;
    }
    let Some(c) = inj["consumer"].as_str().and_then(|id| consumers.get(id)) else { return true };
    let label = consumer["label"].as_str().unwrap_or("");
    if label == c["label"].as_str().unwrap_or("-") || Some(label) == c["org_id"].as_str() {
        return true;
    }
    let ip = alert["src_endpoint"]["ip"].as_str().unwrap_or("");
    in_net(ip, c["network"].as_str().unwrap_or("")) || inj["source_network"].as_str().is_some_and(|n| in_net(ip, n))
}

/// truth.json's consumers by id.
pub fn consumers_by_id(truth: &Value) -> BTreeMap<String, Value> {
    truth["consumers"].as_array().unwrap().iter().map(|c| (c["id"].as_str().unwrap().to_string(), c.clone())).collect()
}
