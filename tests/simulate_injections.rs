//! The behavioural injections of `apitap simulate`, judged from the capture: week.yaml is
//! simulated, `apitap read` turns the capture into transactions, and each injection's facts in
//! truth.json are recounted from those transactions (ids, addresses, statuses, body sizes,
//! times), not from the generator.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde_json::Value;

const AISP: &str = "/open-banking/v4.0/aisp";

struct Run {
    truth: Value,
    recs: Vec<Value>,
    _dir: tempfile::TempDir,
}

/// week.yaml simulated and read back once for all tests of this file.
fn run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("sim");
        let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios/week.yaml");
        let o = Command::new(env!("CARGO_BIN_EXE_apitap")).args(["simulate", "--scenario"]).arg(&scenario).arg("--out").arg(&out).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let truth: Value = serde_json::from_str(&std::fs::read_to_string(out.join("truth.json")).unwrap()).unwrap();
        let read = dir.path().join("read");
        let o = Command::new(env!("CARGO_BIN_EXE_apitap"))
            .arg("read")
            .arg(out.join("capture.pcap"))
            .args(["--no-progress", "--out"])
            .arg(&read)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let recs: Vec<Value> =
            std::fs::read_to_string(read.join("transactions.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(recs.len() as u64, truth["requests"].as_u64().unwrap(), "apitap read recovers every request");
        Run { truth, recs, _dir: dir }
    })
}

fn injections(kind: &str) -> Vec<&'static Value> {
    let v: Vec<&Value> = run().truth["injections"].as_array().unwrap().iter().filter(|i| i["kind"] == kind).collect();
    assert!(!v.is_empty(), "week.yaml has no {kind} injection");
    v
}

fn secs(v: &Value) -> f64 {
    let t: DateTime<Utc> = v.as_str().unwrap().parse().unwrap();
    t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9
}

/// Requests inside `[start, last_request]` of an injection (a millisecond of slack for the
/// float timestamps of the records).
fn in_span<'a>(inj: &Value, recs: &'a [Value]) -> impl Iterator<Item = &'a Value> {
    let (a, b) = (secs(&inj["start"]), secs(&inj["last_request"]) + 0.001);
    recs.iter().filter(move |r| (a..=b).contains(&r["ts"].as_f64().unwrap()))
}

fn in_net(ip: &Value, cidr: &str) -> bool {
    let (net, len) = cidr.split_once('/').unwrap();
    let (net, len): (Ipv4Addr, u32) = (net.parse().unwrap(), len.parse().unwrap());
    let ip: Ipv4Addr = ip.as_str().unwrap().parse().unwrap();
    let mask = u32::MAX << (32 - len);
    u32::from(ip) & mask == u32::from(net) & mask
}

fn consumer_network(id: &str) -> String {
    let c = run().truth["consumers"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap();
    c["network"].as_str().unwrap().to_string()
}

fn status(r: &Value) -> u64 {
    r["status_code"].as_u64().unwrap()
}

/// The id in `uri` when it is `prefix` + digits + `suffix`.
fn numeric_id(uri: &str, prefix: &str, suffix: &str) -> Option<u64> {
    let id = uri.strip_prefix(prefix)?.strip_suffix(suffix)?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then(|| id.parse().ok()).flatten()
}

#[test]
fn enumerations_walk_the_ids_the_truth_counts_and_are_mostly_refused() {
    let recs = &run().recs;
    let mut paces = BTreeSet::new();
    for inj in injections("object_enumeration") {
        paces.insert(inj["pace"].as_str().unwrap());
        let net = consumer_network(inj["consumer"].as_str().unwrap());
        let suffix = if inj["endpoints"][0].as_str().unwrap().ends_with("/balances") { "/balances" } else { "" };
        let hits: Vec<(u64, u64)> = in_span(inj, recs)
            .filter(|r| in_net(&r["orig_h"], &net))
            .filter_map(|r| numeric_id(r["uri"].as_str()?, &format!("{AISP}/accounts/"), suffix).map(|id| (id, status(r))))
            .collect();
        let ids: BTreeSet<u64> = hits.iter().map(|h| h.0).collect();
        assert_eq!(ids.len() as u64, inj["distinct_ids"].as_u64().unwrap(), "{inj}");
        assert_eq!(hits.len() as u64, inj["requests"].as_u64().unwrap());
        // Sequential: every id from the first to the last was tried.
        assert_eq!(ids.first().copied(), inj["first_id"].as_u64());
        assert_eq!(ids.last().copied(), inj["last_id"].as_u64());
        assert_eq!(ids.len() as u64, inj["last_id"].as_u64().unwrap() - inj["first_id"].as_u64().unwrap() + 1);
        let refused = hits.iter().filter(|h| h.1 == 403 || h.1 == 404).count();
        assert!(refused as f64 >= 0.9 * hits.len() as f64, "{refused} of {} refused", hits.len());
        let hours = (secs(&inj["end"]) - secs(&inj["start"])) / 3600.0;
        let per_minute = hits.len() as f64 / hours / 60.0;
        match inj["pace"].as_str().unwrap() {
            "fast" => assert!(per_minute >= 100.0, "{per_minute} a minute"),
            _ => assert!(per_minute < 1.0 && hours >= 48.0, "{per_minute} a minute over {hours} h"),
        }
    }
    assert_eq!(paces, BTreeSet::from(["fast", "low_and_slow"]));
}

#[test]
fn credential_stuffing_comes_from_thousands_of_addresses_with_few_successes() {
    let recs = &run().recs;
    let inj = injections("credential_stuffing")[0];
    let net = inj["source_network"].as_str().unwrap();
    let hits: Vec<&Value> = recs.iter().filter(|r| r["method"] == "POST" && r["uri"] == "/as/token.oauth2" && in_net(&r["orig_h"], net)).collect();
    assert_eq!(hits.len() as u64, inj["requests"].as_u64().unwrap());
    let ips: BTreeSet<&str> = hits.iter().map(|r| r["orig_h"].as_str().unwrap()).collect();
    assert_eq!(ips.len() as u64, inj["distinct_source_ips"].as_u64().unwrap());
    assert!(ips.len() >= 1000, "{} addresses", ips.len());
    let ok = hits.iter().filter(|r| status(r) == 200).count() as u64;
    let denied = hits.iter().filter(|r| status(r) == 401).count() as u64;
    assert_eq!(ok, inj["successful_logins"].as_u64().unwrap());
    assert!(ok > 0, "a few guesses succeed");
    assert_eq!(ok + denied, hits.len() as u64, "every guess is a 401 or a 200");
    let (a, b) = (secs(&inj["start"]), secs(&inj["end"]) + 60.0);
    assert!(hits.iter().all(|r| (a..b).contains(&r["ts"].as_f64().unwrap())), "all inside the window");
}

#[test]
fn scraping_pulls_accounts_more_than_four_times_a_local_day() {
    let recs = &run().recs;
    let inj = injections("scraping")[0];
    let net = consumer_network(inj["consumer"].as_str().unwrap());
    let accounts: BTreeSet<&str> = inj["account_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let tz: chrono_tz::Tz = run().truth["timezone"].as_str().unwrap().parse().unwrap();
    let mut per_day: BTreeMap<(&str, chrono::NaiveDate), u64> = BTreeMap::new();
    for r in recs.iter().filter(|r| r["method"] == "GET" && in_net(&r["orig_h"], &net)) {
        let Some(id) = r["uri"].as_str().unwrap().strip_prefix(&format!("{AISP}/accounts/")) else { continue };
        if let Some(id) = accounts.get(id) {
            let ts = DateTime::from_timestamp(r["ts"].as_f64().unwrap() as i64, 0).unwrap();
            *per_day.entry((id, ts.with_timezone(&tz).date_naive())).or_default() += 1;
        }
    }
    let max = per_day.values().copied().max().unwrap();
    assert_eq!(max, inj["max_unattended_pulls_per_account_per_day"].as_u64().unwrap());
    assert!(max > 4, "past the PSD2 limit: {max}");
    assert_eq!(per_day.values().sum::<u64>(), inj["pulls"].as_u64().unwrap());
    assert_eq!(per_day.values().filter(|n| **n > 4).count() as u64, inj["account_days_over_psd2_limit"].as_u64().unwrap());
}

#[test]
fn the_off_hours_token_comes_from_a_new_network_at_several_times_the_usual_volume() {
    let recs = &run().recs;
    let inj = injections("off_hours_token")[0];
    let consumer = run().truth["consumers"].as_array().unwrap().iter().find(|c| c["id"] == inj["consumer"]).unwrap();
    let new_net = inj["source_network"].as_str().unwrap();
    let from_new: Vec<&Value> = recs.iter().filter(|r| in_net(&r["orig_h"], new_net)).collect();
    assert_eq!(from_new.len() as u64, inj["requests"].as_u64().unwrap());
    let (a, b) = (secs(&inj["start"]), secs(&inj["end"]) + 60.0);
    assert!(from_new.iter().all(|r| (a..b).contains(&r["ts"].as_f64().unwrap())), "the new network appears only in the window");
    assert!(from_new.iter().all(|r| r["user_agent"] == consumer["user_agent"] && r["auth_scheme"] == "Bearer"), "same identity");
    let ips: BTreeSet<&str> = from_new.iter().map(|r| r["orig_h"].as_str().unwrap()).collect();
    assert_eq!(ips.len() as u64, inj["distinct_source_ips"].as_u64().unwrap());
    // Usual volume: the consumer's API requests from its own network over the same UTC hours
    // on the other nights of the week.
    let hours = (b - 60.0 - a) / 3600.0;
    let (h0, h1) = ((a as i64 % 86_400) as f64, (a as i64 % 86_400) as f64 + hours * 3600.0);
    let own = consumer["network"].as_str().unwrap();
    let usual = recs
        .iter()
        .filter(|r| in_net(&r["orig_h"], own) && r["host"] == "api.bank.example")
        .filter(|r| (h0..h1).contains(&(r["ts"].as_f64().unwrap() % 86_400.0)))
        .count() as f64
        / 6.0
        / hours;
    let rate = from_new.len() as f64 / hours;
    assert!(rate >= 3.0 * usual.max(0.5), "{rate} an hour against a usual {usual}");
    assert!(inj["times_usual"].as_f64().unwrap() >= 3.0);
}

#[test]
fn the_error_spike_makes_one_api_answer_mostly_503() {
    let recs = &run().recs;
    let inj = injections("error_spike")[0];
    // Normal traffic never gets a 503: every one in the capture is the spike's.
    let all_503 = recs.iter().filter(|r| status(r) == 503).count() as u64;
    assert_eq!(all_503, inj["error_responses"].as_u64().unwrap());
    let (a, b) = (secs(&inj["start"]), secs(&inj["end"]));
    let window: Vec<&Value> =
        recs.iter().filter(|r| r["uri"].as_str().unwrap().starts_with(AISP) && (a..b).contains(&r["ts"].as_f64().unwrap())).collect();
    let share = window.iter().filter(|r| status(r) == 503).count() as f64 / window.len() as f64;
    assert!(window.len() >= 50 && share >= 0.7, "{share} of {} requests", window.len());
}

#[test]
fn oversized_responses_are_chunked_megabytes_far_above_the_norm() {
    let recs = &run().recs;
    let inj = injections("oversized_responses")[0];
    let min = inj["min_body_bytes"].as_u64().unwrap();
    let big: Vec<&Value> = recs.iter().filter(|r| r["response_body_len"].as_u64().unwrap() >= min).collect();
    // A connection whose customer was never given an account first lists one (`GET .../accounts`).
    let conns: BTreeSet<&str> = big.iter().map(|r| r["uid"].as_str().unwrap()).collect();
    let listings = recs.iter().filter(|r| conns.contains(r["uid"].as_str().unwrap()) && r["uri"] == format!("{AISP}/accounts").as_str()).count();
    assert_eq!((big.len() + listings) as u64, inj["requests"].as_u64().unwrap());
    assert!(big.len() >= 2);
    assert_eq!(big.iter().map(|r| r["response_body_len"].as_u64().unwrap()).sum::<u64>(), inj["bytes"].as_u64().unwrap());
    assert_eq!(big.iter().map(|r| r["response_body_len"].as_u64().unwrap()).max(), inj["max_body_bytes"].as_u64());
    assert!(big.iter().all(|r| r["uri"].as_str().unwrap().split('?').next().unwrap().ends_with("/transactions") && status(r) == 200));
    let (a, b) = (secs(&inj["start"]), secs(&inj["end"]) + 60.0);
    assert!(big.iter().all(|r| (a..b).contains(&r["ts"].as_f64().unwrap())));
    let mut sizes: Vec<u64> = recs.iter().map(|r| r["response_body_len"].as_u64().unwrap()).collect();
    sizes.sort_unstable();
    let median = sizes[sizes.len() / 2];
    assert!(min >= 100 * median, "min {min} against a median of {median}");
}

#[test]
fn confounders_are_marked_benign_and_look_as_described() {
    let recs = &run().recs;
    let agg = injections("aggregator_accounts")[0];
    assert_eq!(agg["benign"], true);
    let net = consumer_network(agg["consumer"].as_str().unwrap());
    let reads: Vec<&Value> = in_span(agg, recs).filter(|r| in_net(&r["orig_h"], &net)).collect();
    let ids: BTreeSet<&str> = reads
        .iter()
        .filter_map(|r| r["uri"].as_str().unwrap().strip_prefix(&format!("{AISP}/accounts/")))
        .map(|rest| rest.split('/').next().unwrap())
        .collect();
    assert!(ids.len() as u64 >= agg["distinct_ids"].as_u64().unwrap() && ids.len() >= 300, "{} ids", ids.len());
    let ok = reads.iter().filter(|r| status(r) == 200).count() as f64;
    assert!(ok >= 0.97 * reads.len() as f64, "{ok} of {} are 200", reads.len());

    let reset = injections("password_reset")[0];
    assert_eq!(reset["benign"], true);
    let net = consumer_network(reset["consumer"].as_str().unwrap());
    let window: Vec<&Value> = in_span(reset, recs).filter(|r| in_net(&r["orig_h"], &net)).collect();
    let unauthorized = window.iter().filter(|r| status(r) == 401).count() as u64;
    let truth = reset["error_responses"].as_u64().unwrap();
    // Normal traffic adds about 1% of 401s.
    assert!(unauthorized >= truth && unauthorized <= truth + window.len() as u64 / 20, "{unauthorized} against {truth}");
    assert!(unauthorized as f64 >= 0.3 * window.len() as f64);

    let month_end = injections("month_end_peak");
    assert_eq!(month_end.len(), 1);
    let m = month_end[0];
    assert_eq!(m["benign"], true);
    // London is on BST by then: the last two days of March run from 23:00 UTC on the 29th.
    assert_eq!(m["start"], "2026-03-29T23:00:00+00:00");
    assert_eq!(m["end"], "2026-03-31T23:00:00+00:00");
    let (a, b) = (secs(&m["start"]), secs(&m["end"]));
    let inside = recs.iter().filter(|r| (a..b).contains(&r["ts"].as_f64().unwrap())).count() as u64;
    assert_eq!(inside, m["requests"].as_u64().unwrap());

    // Every attack is marked as one.
    for kind in ["object_enumeration", "credential_stuffing", "scraping", "off_hours_token", "error_spike", "oversized_responses"] {
        assert!(injections(kind).iter().all(|i| i["benign"] == false), "{kind}");
    }
}

#[test]
fn injection_keys_are_checked_with_the_file_key_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let week = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios/week.yaml")).unwrap();
    let specs = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/specs");
    let week = week.replace("../specs", specs.to_str().unwrap());
    let cases = [
        // The off-hours window moved to the middle of the day.
        (week.replace("start: \"2026-04-01T00:00:00Z\"\n    end: \"2026-04-01T03:00:00Z\"", "start: \"2026-04-01T10:00:00Z\"\n    end: \"2026-04-01T11:00:00Z\""), "injections[6]: off_hours_token must lie within one bank-local night"),
        (week.replace("source_network: 86.128.0.0/10", "source_network: 100.64.0.0/10"), "overlaps consumer `bank-app`'s network"),
        (week.replace("sources: 3000", "sources: 0"), "injections[4]: `sources: 0` must be 1"),
        (week.replace("status: 503", "status: 200"), "`status: 200` must be a 4xx or 5xx code"),
        (week.replace("operation: \"GET /accounts/{AccountId}\"", "operation: \"GET /nowhere/{Id}\""), "operation `GET /nowhere/{Id}` is not in api `aisp`"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        assert_ne!(text, &week, "case {i} changed nothing");
        let file = dir.path().join(format!("bad{i}.yaml"));
        std::fs::write(&file, text).unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_apitap")).args(["simulate", "--scenario"]).arg(&file).arg("--out").arg(dir.path().join("o")).output().unwrap();
        assert!(!o.status.success(), "case {i} was accepted");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "case {i}: {err}");
        if !want.starts_with("operation") {
            assert!(err.contains(&format!("bad{i}.yaml")), "case {i} names the file: {err}");
        }
    }
}
