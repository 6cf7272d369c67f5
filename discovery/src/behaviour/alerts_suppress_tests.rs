//! The finding book under suppression rules.

use serde_json::Map;

use super::alerts::{AlertBook, Context, Detection};
use super::anomaly::{AnomalyKind, ConsumerRef, Lifecycle, Producer, Severity};
use super::config::AlertSettings;
use crate::sketch::clock::BankClock;
use crate::tuning::{SuppressionSpec, Suppressions};

const MIN: u64 = 60_000_000_000;

fn det(kind: AnomalyKind, score: u8) -> Detection {
    Detection { kind, severity: Severity::High, score, subject: 0, endpoint: None, first_seen: 0, evidence: Map::new(), message: "m".into(), close_after: None }
}

fn ctx(consumer: u64, ip: &str, agent: &str) -> Context {
    Context {
        consumer_key: consumer,
        consumer: Some(ConsumerRef { id: format!("{consumer:016x}"), label: format!("c{consumer}"), source: "jwt", org_id: None }),
        client_ip: Some(ip.into()),
        user_agent: Some(agent.into()),
        ..Context::default()
    }
}

fn book(rules: &[SuppressionSpec]) -> AlertBook {
    let mut b = AlertBook::new(AlertSettings::default(), [3; 16]);
    b.set_suppressions(Suppressions::compile(rules, BankClock::utc()).unwrap());
    b
}

fn pentest() -> SuppressionSpec {
    SuppressionSpec {
        id: "pentest".into(),
        owner: "soc@bank.example".into(),
        reason: "authorised test, CHG-1".into(),
        expires: "2100-01-01".into(),
        networks: vec!["10.66.0.0/16".into()],
        ..SuppressionSpec::default()
    }
}

#[test]
fn a_finding_opened_under_a_rule_keeps_the_mark_in_every_event_and_is_counted() {
    let mut b = book(&[pentest()]);
    b.raise(MIN, &ctx(1, "10.66.1.1", "scanner"), det(AnomalyKind::BolaEnumeration, 50));
    b.raise(20 * MIN, &ctx(1, "10.66.1.1", "scanner"), det(AnomalyKind::BolaEnumeration, 90));
    b.advance(200 * MIN);
    let ev = b.drain();
    assert_eq!(ev.iter().map(|a| a.lifecycle).collect::<Vec<_>>(), [Lifecycle::New, Lifecycle::Updated, Lifecycle::Closed]);
    for a in &ev {
        let mark = a.suppressed.as_ref().expect("every event of the finding is marked");
        assert_eq!((mark.rule.as_str(), mark.owner.as_str(), mark.reason.as_str()), ("pentest", "soc@bank.example", "authorised test, CHG-1"));
        let json = a.to_json(&Producer { sensor_id: "s".into(), version: "v".into() });
        assert_eq!(json["status_id"], 3);
        assert_eq!(json["status"], "Suppressed");
        assert_eq!(json["unmapped"]["suppressed"]["rule"], "pentest");
    }
    assert_eq!(b.stats().suppressed, 1, "one finding, counted once");
    assert_eq!(b.stats().suppressed_by_rule.get("pentest"), Some(&1));
    assert_eq!(b.stats().opened, 1, "still a finding");
}

#[test]
fn findings_outside_every_rule_are_not_marked() {
    let mut b = book(&[pentest()]);
    b.raise(MIN, &ctx(2, "192.0.2.9", "scanner"), det(AnomalyKind::BolaEnumeration, 50));
    let ev = b.drain();
    assert_eq!(ev.len(), 1);
    assert!(ev[0].suppressed.is_none());
    let json = ev[0].to_json(&Producer { sensor_id: "s".into(), version: "v".into() });
    assert_eq!(json["status_id"], 1);
    assert!(json["unmapped"].get("suppressed").is_none());
    assert_eq!(b.stats().suppressed, 0);
}

#[test]
fn a_window_is_judged_when_the_finding_opens_and_the_mark_survives_a_snapshot() {
    let mut nightly = pentest();
    nightly.id = "batch".into();
    nightly.networks.clear();
    nightly.user_agents = vec!["BatchRunner".into()];
    nightly.windows = vec!["daily 01:00-04:00".into()];
    let mut b = book(&[nightly.clone()]);
    // 1970-01-01 03:50 UTC: inside; its close comes after 04:00 and still carries the mark.
    b.raise(230 * MIN, &ctx(5, "10.1.1.1", "batchrunner/2.0"), det(AnomalyKind::RateSurge, 60));
    // 05:00: outside.
    b.raise(300 * MIN, &ctx(6, "10.1.1.2", "batchrunner/2.0"), det(AnomalyKind::RateSurge, 60));
    let ev = b.drain();
    assert!(ev[0].suppressed.is_some());
    assert!(ev[1].suppressed.is_none());
    // The mark is persisted with the open finding and restored.
    let snap = serde_json::to_string(&b.snapshot()).unwrap();
    let (mut restored, r) = AlertBook::restore(AlertSettings::default(), [3; 16], serde_json::from_str(&snap).unwrap(), 100);
    assert_eq!(r.findings, 2);
    restored.advance(1000 * MIN);
    let closed = restored.drain();
    assert_eq!(closed.len(), 2);
    let marked: Vec<bool> = closed.iter().map(|a| a.suppressed.is_some()).collect();
    assert_eq!(marked.iter().filter(|m| **m).count(), 1, "{marked:?}");
}

#[test]
fn an_absorbed_pattern_opens_no_finding_until_it_grows_and_is_counted() {
    use crate::tuning::{Absorption, Absorptions, Verdict};
    let mut b = book(&[]);
    let c = ctx(9, "10.1.1.1", "batch");
    b.set_absorptions(Absorptions::new([Absorption {
        finding_id: "f".into(),
        verdict: Verdict::Expected,
        kind: AnomalyKind::RateSurge,
        consumer_id: c.consumer.as_ref().map(|c| c.id.clone()),
        subject: 0,
        severity: Severity::High,
        score: 60,
    }]));
    b.raise(MIN, &c, det(AnomalyKind::RateSurge, 65));
    assert!(b.drain().is_empty(), "the same pattern at the accepted level");
    assert_eq!(b.stats().absorbed, 1);
    b.raise(2 * MIN, &c, det(AnomalyKind::OffHours, 65));
    assert_eq!(b.drain().len(), 1, "another kind still alerts");
    b.raise(3 * MIN, &c, det(AnomalyKind::RateSurge, 95));
    let ev = b.drain();
    assert_eq!(ev.len(), 1, "a much stronger surge still alerts");
    assert_eq!(ev[0].kind, AnomalyKind::RateSurge);
}
