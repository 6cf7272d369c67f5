//! Helpers of the store tests: the real `sqlite3` CLI and `apitap` binary, and row builders.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use crate::db::*;

/// 2024-05-01T12:00:00Z in unix nanoseconds.
pub const T0: u64 = 1_714_564_800 * 1_000_000_000;
pub const DAY: u64 = 86_400 * 1_000_000_000;
pub const CONSUMER_A: &str = "a1b2c3d4e5f60718";
pub const CONSUMER_B: &str = "0f1e2d3c4b5a6978";
pub const CUSTOMER_X: &str = "c0ffee00deadbeef";
pub const CUSTOMER_Y: &str = "feedface01234567";

pub fn sqlite3(db: &Path, sql: &str) -> String {
    let out = Command::new("sqlite3").arg("-batch").arg(db).arg(sql).output().expect("sqlite3 (apt-get install sqlite3)");
    assert!(out.status.success(), "sqlite3 {sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim_end().to_string()
}

pub fn apitap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_apitap")).args(args).output().unwrap()
}

pub fn ok(out: &Output) -> String {
    assert!(out.status.success(), "apitap failed: {}\n{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    String::from_utf8(out.stdout.clone()).unwrap()
}

pub fn fails(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(2), "expected failure, got: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8(out.stderr.clone()).unwrap()
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

pub fn consumer(id: &str, last_seen: u64, requests: u64, profile: &[u8]) -> ConsumerRow {
    ConsumerRow {
        id: id.into(),
        label: Some(format!("client {}", &id[..4])),
        source: Some("jwt".into()),
        first_seen: T0 - 5 * DAY,
        last_seen,
        requests,
        errors: requests / 10,
        endpoints: 3,
        format: 1,
        profile: Some(profile.to_vec()),
    }
}

pub fn link(consumer: &str, customer: &str, last_seen: u64) -> CustomerLink {
    CustomerLink { consumer_id: consumer.into(), customer_id: customer.into(), last_seen }
}

pub fn finding(id: &str, consumer: Option<&str>, customer: Option<&str>, last_seen: u64, version: u32, data: &str) -> FindingRow {
    FindingRow {
        finding_id: id.into(),
        kind: "volume_spike".into(),
        severity: "high".into(),
        consumer_id: consumer.map(Into::into),
        customer_id: customer.map(Into::into),
        first_seen: T0 - DAY,
        last_seen,
        lifecycle: if version == 1 { "new".into() } else { "updated".into() },
        version,
        data: data.into(),
    }
}

pub fn endpoint(service: &str, method: &str, template: &str, class: &str, requests: u64, data: &str) -> EndpointRow {
    EndpointRow {
        service: service.into(),
        method: method.into(),
        template: template.into(),
        class: class.into(),
        first_seen: Some(T0 - 2 * DAY),
        last_seen: Some(T0),
        requests,
        data: data.into(),
    }
}

/// A store with two consumers and two customers mentioned everywhere they can be.
pub fn erasure_fixture(path: &Path) {
    let mut store = Store::open(path).unwrap();
    let consumers = vec![consumer(CONSUMER_A, T0, 4, b"profile of a"), consumer(CONSUMER_B, T0, 9, b"profile of b")];
    let links = vec![link(CONSUMER_A, CUSTOMER_X, T0), link(CONSUMER_A, CUSTOMER_Y, T0), link(CONSUMER_B, CUSTOMER_Y, T0)];
    let findings = vec![
        finding("f1000000000000000000000000000001", Some(CONSUMER_A), Some(CUSTOMER_X), T0, 1, &format!("{{\"consumer\":\"{CONSUMER_A}\",\"customer\":\"{CUSTOMER_X}\"}}")),
        finding("f1000000000000000000000000000002", Some(CONSUMER_B), Some(CUSTOMER_Y), T0, 1,
            &format!("{{\"consumer\":\"{CONSUMER_B}\",\"related\":[\"{CONSUMER_A}\"],\"customer\":\"{CUSTOMER_Y}\"}}")),
        finding("f1000000000000000000000000000003", Some(CONSUMER_B), None, T0, 1, "{\"note\":\"b only\"}"),
    ];
    let endpoints = vec![
        endpoint("api", "GET", "/accounts", "documented", 5, &format!("{{\"top_consumers\":{{\"{CONSUMER_A}\":3,\"{CONSUMER_B}\":2}},\"customers\":[\"{CUSTOMER_X}\"]}}")),
        endpoint("api", "GET", "/health", "documented", 1, "{\"top_consumers\":{}}"),
    ];
    let identity = format!("links: {CONSUMER_A}->{CUSTOMER_X}; {CONSUMER_B}->{CUSTOMER_Y}");
    store
        .checkpoint(&Checkpoint {
            packet_time: T0,
            sections: &[Section { name: "identity", format: 1, data: identity.as_bytes() }],
            consumers: &consumers,
            customer_links: &links,
            findings: &findings,
            endpoints: Some(&endpoints),
            ..Checkpoint::default()
        })
        .unwrap();
}
