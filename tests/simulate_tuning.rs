//! The tuning scenario (`fixtures/scenarios/tuning.yaml`): the simulator writes three kinds
//! of legitimate traffic that an untuned sensor reports (an authorised penetration test, a
//! synthetic monitor, a nightly batch job), marked `tuning: true` in truth.json, beside real
//! attacks. The truth is recounted from the capture with tshark; `apitap read` with the
//! operator's configuration and no tuning (`common::tuning::read_config`) must raise
//! anomalies about each tuning injection and still find every real attack with its kind.
//!
//! What the untuned read raised with the scenario's seed (1102), `new` findings:
//!
//! | Injection | Anomalies (who) |
//! |---|---|
//! | `pen_test` (`pentest-redteam`, 198.18.200.0/29, two weekdays 09:00-17:00) | 2 `bola_enumeration`, 27 `shadow_endpoint_use` (three probed paths under the base path, answered 403), 8 `http_smuggling` (consumer `pentest-redteam`); 19 `unauthenticated_sensitive` (consumer = the network 198.18.200.0/24) |
//! | `synthetic_monitor` (API key, 198.18.210.0/27, every 5 minutes from Monday 9 November 12:00) | 1 `bulk_export` (consumer `api-key x-api-key ...`, its test account read unattended all day and night, PSD2); about 60 `error_spike` with no consumer (per service and per API, `api.bank.example`), each within two minutes of a failing check (the check and its two retries answered 503), day and night |
//! | `batch_job` (`backoffice-svc`, its own network 10.50.0.0/24, 02:00-02:30 nightly from Monday 9 November) | 1 `bulk_export` (five passes a night read each of the 60 accounts five times, unattended; the finding stays open through the nights). No `rate_surge` or `off_hours`: unattended account-information reads are not volume to those detectors (PSD2 judges them per account) |
//!
//! The real attacks (object enumeration, credential stuffing, off-hours token, request
//! smuggling, unauthenticated access) come from consumers and /24 networks none of the
//! tuning traffic uses, so a rule that silences the tuning traffic by consumer or network
//! leaves them: a tuning test can check they are still found.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use chrono::{Datelike, TimeZone, Timelike};
use common::accuracy::{consumers_by_id, expected_kind, in_net, secs};
use serde_json::Value;


/// Every HTTP request tshark finds: (client address, time, target).
fn tshark_requests(pcap: &std::path::Path) -> Vec<(String, f64, String)> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-Y", "http.request", "-T", "fields", "-e", "ip.src", "-e", "frame.time_epoch", "-e", "http.request.uri"])
        .output()
        .expect("tshark is not installed: run scripts/install-deps.sh");
    assert!(out.status.success(), "tshark: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let mut f = l.split('\t');
            let ip = f.next().unwrap_or("").to_string();
            let t = f.next().unwrap_or("0").parse::<f64>().unwrap();
            (ip, t, f.next().unwrap_or("").to_string())
        })
        .collect()
}


#[test]
fn tuning_traffic_alerts_untuned_and_real_attacks_are_still_found() {
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("sim");
    let truth = common::tuning::simulate(&sim);
    let london: chrono_tz::Tz = "Europe/London".parse().unwrap();
    let start = secs(&truth["start"]);
    let second_week = start + 7.0 * 86_400.0;

    // The truth: the three tuning kinds, marked, in the second week; nothing else marked.
    let injections = truth["injections"].as_array().unwrap();
    let tuning: BTreeSet<&str> = injections.iter().filter(|i| i["tuning"] == true).map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(tuning, BTreeSet::from(["pen_test", "synthetic_monitor", "batch_job"]));
    assert!(injections.iter().all(|i| i["tuning"].is_boolean()), "every injection says whether it is tuning traffic");
    for i in injections.iter().filter(|i| i["tuning"] == true || expected_kind(i["kind"].as_str().unwrap()).is_some()) {
        assert!(secs(&i["start"]) >= second_week, "{} starts in the second week", i["kind"]);
        assert!(secs(&i["first_request"]) >= secs(&i["start"]) && secs(&i["last_request"]) <= secs(&i["end"]), "{}", i["kind"]);
    }
    let real: Vec<&Value> = injections.iter().filter(|i| expected_kind(i["kind"].as_str().unwrap()).is_some()).collect();
    let real_kinds: BTreeSet<&str> = real.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert!(real_kinds.len() >= 3, "real attacks of three kinds at least: {real_kinds:?}");

    // The capture, recounted by tshark, which finds nothing malformed in it.
    let expert = Command::new("tshark").arg("-r").arg(sim.join("capture.pcap")).args(["-q", "-z", "expert,error"]).output().unwrap();
    let expert = String::from_utf8_lossy(&expert.stdout);
    assert!(!expert.contains("Malformed"), "{expert}");
    let requests = tshark_requests(&sim.join("capture.pcap"));
    assert_eq!(requests.len() as u64, truth["requests"].as_u64().unwrap(), "tshark reads every request");
    let from = |net: &str| requests.iter().filter(move |(ip, _, _)| in_net(ip, net)).collect::<Vec<_>>();

    // Penetration test: every request from the testers' network, on weekdays 09:00-17:00.
    let pen = common::tuning::injection(&truth, "pen_test");
    let pen_net = pen["source_network"].as_str().unwrap();
    let seen = from(pen_net);
    assert_eq!(seen.len() as u64, pen["requests"].as_u64().unwrap(), "pen-test requests from {pen_net}");
    for (_, t, uri) in &seen {
        let local = london.timestamp_opt(*t as i64, 0).unwrap();
        assert!(local.weekday().num_days_from_monday() < 5 && (9..17).contains(&local.hour()), "{uri} at {local}");
    }
    let parts = ["enumeration_requests", "probe_requests", "unauthenticated_requests"];
    let (sum, smuggling) = (parts.iter().map(|p| pen[p].as_u64().unwrap()).sum::<u64>(), pen["smuggling_requests"].as_u64().unwrap());
    assert!(parts.iter().all(|p| pen[p].as_u64().unwrap() > 0) && smuggling > 0, "{pen}");
    assert_eq!(sum + 2 * smuggling, seen.len() as u64, "each ambiguous request follows one usual call");
    assert_eq!(pen["distinct_source_ips"], 3);

    // Synthetic monitor: a check every five minutes from its start to the scenario's end.
    let mon = common::tuning::injection(&truth, "synthetic_monitor");
    let mon_net = mon["source_network"].as_str().unwrap();
    let slots = ((secs(&mon["end"]) - secs(&mon["start"])) / 300.0).round() as u64;
    assert_eq!(mon["checks"].as_u64().unwrap(), slots);
    let failed = mon["failed_checks"].as_u64().unwrap();
    assert!(failed > 0 && failed * 20 < slots, "about 2% of checks fail: {failed} of {slots}");
    // Two operations a check; a failing one runs twice more.
    assert_eq!(mon["requests"].as_u64().unwrap(), 2 * slots + 4 * failed);
    assert_eq!(from(mon_net).len() as u64, mon["requests"].as_u64().unwrap(), "monitor requests from {mon_net}");
    let night = from(mon_net).iter().filter(|(_, t, _)| london.timestamp_opt(*t as i64, 0).unwrap().hour() == 3).count();
    assert!(night >= 6 * 24, "the monitor runs at 3 a.m. too: {night}");

    // Batch job: every night of its window at 02:00, five passes over every account.
    let batch = common::tuning::injection(&truth, "batch_job");
    let office = consumers_by_id(&truth)[batch["consumer"].as_str().unwrap()]["network"].as_str().unwrap().to_string();
    let accounts: Vec<&str> = batch["account_ids"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(accounts.len(), 60);
    assert_eq!(batch["nights"], 7);
    let reads: Vec<_> = from(&office).into_iter().filter(|(_, _, uri)| accounts.iter().any(|a| uri.contains(a))).collect();
    assert_eq!(reads.len(), 60 * 5 * 7, "each account read by each of five passes each night");
    for (_, t, uri) in &reads {
        let local = london.timestamp_opt(*t as i64, 0).unwrap();
        assert!(local.hour() == 2 && local.minute() < 30, "{uri} at {local}");
    }
    assert_eq!(batch["requests"].as_u64().unwrap(), reads.len() as u64 + 5 * 7, "and one listing a pass");

    // The untuned read.
    let config = common::tuning::read_config(dir.path());
    let events = common::tuning::read(&sim.join("capture.pcap"), &config, &dir.path().join("out"));
    let alerts = common::tuning::alerts(&events);
    let seen_kinds = common::tuning::about_tuning(&truth, &alerts);
    println!("untuned anomalies per tuning injection: {seen_kinds:#?}");
    let has = |inj: &str, kind: &str| seen_kinds.get(inj).is_some_and(|k| k.contains_key(kind));
    for kind in ["bola_enumeration", "shadow_endpoint_use", "unauthenticated_sensitive", "http_smuggling"] {
        assert!(has("pen_test", kind), "the penetration test raises {kind}: {seen_kinds:?}");
    }
    assert!(has("synthetic_monitor", "bulk_export"), "{seen_kinds:?}");
    assert!(has("synthetic_monitor", "error_spike (no consumer)"), "{seen_kinds:?}");
    assert!(has("batch_job", "bulk_export"), "{seen_kinds:?}");

    let missed = common::tuning::missed_attacks(&truth, &alerts);
    assert!(missed.is_empty(), "not detected: {missed:?}");
    for inj in &real {
        for t in [pen, mon, batch] {
            assert_ne!(inj["consumer"], t["consumer"], "{} shares a consumer with {}", inj["kind"], t["kind"]);
        }
    }
}
