//! Suppression rules end to end: the week scenario is read untuned, a rule is added with
//! `apitap suppress add` for the network and kind of one finding the first run raised, and the
//! second run must mark exactly the findings of that kind from that network (status 3
//! "Suppressed", the rule's id, owner and reason), leave every other finding as it was, count
//! them in the summary, and still validate against the published anomaly schema. Then
//! `apitap suppress remove` gives back a configuration that reads as the first run did.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const KEY: &str = "tuning-test-key-0123456789abcdef";

fn apitap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_apitap")).args(args).env("APITAP_HASH_KEY", KEY).output().unwrap()
}

fn ok(args: &[&str]) -> Output {
    let o = apitap(args);
    assert!(o.status.success(), "apitap {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    o
}

/// Reads the capture with the configuration; returns the anomaly events and the summary.
fn read(pcap: &Path, config: &Path, out: &Path) -> (Vec<Value>, Value) {
    ok(&["read", pcap.to_str().unwrap(), "--no-progress", "--config", config.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let text = std::fs::read_to_string(out.join("anomalies.jsonl")).unwrap();
    let events = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let summary = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    (events, summary)
}

fn in_network(ip: &str, network: &str) -> bool {
    let (net, len) = network.split_once('/').unwrap();
    let (ip, net): (std::net::Ipv4Addr, std::net::Ipv4Addr) = (ip.parse().unwrap(), net.parse().unwrap());
    let len: u32 = len.parse().unwrap();
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    u32::from(ip) & mask == u32::from(net) & mask
}

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(Path::new(ROOT).join("docs/schemas/anomaly.schema.json")).unwrap()).unwrap();
    jsonschema::draft202012::options().should_validate_formats(true).build(&schema).unwrap()
}

/// Per (finding id, version): the event without its suppression fields, to compare runs.
fn by_event(events: &[Value]) -> BTreeMap<(String, u64), Value> {
    events
        .iter()
        .map(|e| {
            let mut e = e.clone();
            let key = (e["unmapped"]["finding_id"].as_str().unwrap().to_string(), e["unmapped"]["finding_version"].as_u64().unwrap());
            e["unmapped"].as_object_mut().unwrap().remove("suppressed");
            e.as_object_mut().unwrap().remove("status_id");
            e.as_object_mut().unwrap().remove("status");
            (key, e)
        })
        .collect()
}

/// The week scenario simulated into a new directory, with the operator's configuration
/// beside it (no tuning yet): the directory, the capture and the configuration file.
fn week() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("sim");
    ok(&["simulate", "--scenario", &format!("{ROOT}/fixtures/scenarios/week.yaml"), "--out", sim.to_str().unwrap()]);
    let config = dir.path().join("apitap.toml");
    std::fs::write(&config, common::uk_scenario_config()).unwrap();
    (dir, sim.join("capture.pcap"), config)
}

#[test]
fn a_rule_marks_exactly_the_findings_it_names_and_removing_it_restores_the_run() {
    let (dir, pcap, config) = week();
    let (untuned, summary) = read(&pcap, &config, &dir.path().join("untuned"));
    assert_eq!(summary["anomalies_suppressed"], 0);

    // The target: the kind and client network of the first new finding that names a network.
    let target = untuned.iter().find(|e| e["unmapped"]["lifecycle"] == "new" && e["unmapped"]["network"].is_string()).expect("the week raises findings");
    let kind = target["unmapped"]["kind"].as_str().unwrap().to_string();
    let network = target["unmapped"]["network"].as_str().unwrap().to_string();
    let expected: Vec<&Value> = untuned
        .iter()
        .filter(|e| e["unmapped"]["kind"] == kind.as_str() && e["src_endpoint"]["ip"].as_str().is_some_and(|ip| in_network(ip, &network)))
        .collect();
    let expected_new = expected.iter().filter(|e| e["unmapped"]["lifecycle"] == "new").count();
    assert!(expected_new >= 1);
    assert!(untuned.len() > expected.len(), "other findings must stay to be compared");

    let before = std::fs::read_to_string(&config).unwrap();
    ok(&[
        "suppress", "add", "--config", config.to_str().unwrap(), "--id", "known-net", "--owner", "soc@bank.example",
        "--reason", "test network, CHG-42", "--expires", "2099-12-31", "--network", &network, "--kind", &kind,
    ]);
    // A second rule with the same id is refused and leaves the file alone.
    let dup = apitap(&["suppress", "add", "--config", config.to_str().unwrap(), "--id", "known-net", "--owner", "x", "--reason", "y", "--expires", "2099-12-31", "--kind", "off_hours"]);
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("exists"), "{}", String::from_utf8_lossy(&dup.stderr));
    // A rule that would not load is refused, naming the field, and leaves the file alone.
    let bad = apitap(&["suppress", "add", "--config", config.to_str().unwrap(), "--id", "bad", "--owner", "x", "--reason", "y", "--expires", "2099-12-31", "--window", "nightly"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("windows"), "{}", String::from_utf8_lossy(&bad.stderr));
    let listed = String::from_utf8(ok(&["suppress", "list", "--config", config.to_str().unwrap(), "--json"]).stdout).unwrap();
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["id"], "known-net");
    assert_eq!(listed[0]["in_force"], true);

    let (tuned, summary) = read(&pcap, &config, &dir.path().join("tuned"));
    let suppressed: Vec<&Value> = tuned.iter().filter(|e| e["unmapped"].get("suppressed").is_some()).collect();
    assert_eq!(suppressed.len(), expected.len(), "every event of the named findings, and nothing else");
    for e in &suppressed {
        assert_eq!(e["status_id"], 3);
        assert_eq!(e["status"], "Suppressed");
        assert_eq!(e["unmapped"]["kind"], kind.as_str());
        assert_eq!(e["unmapped"]["suppressed"], serde_json::json!({"rule": "known-net", "owner": "soc@bank.example", "reason": "test network, CHG-42"}));
    }
    assert_eq!(by_event(&untuned), by_event(&tuned), "the same findings, events and evidence either way");
    assert_eq!(summary["anomalies_suppressed"], expected.len());
    assert_eq!(summary["suppressed_by_rule"]["known-net"], expected_new);
    assert_eq!(summary["stages"]["behaviour"]["findings_suppressed"], expected_new);
    let v = validator();
    for e in &tuned {
        let errs: Vec<String> = v.iter_errors(e).map(|x| format!("{} at {}", x, x.instance_path())).collect();
        assert!(errs.is_empty(), "{errs:?}\n{e}");
    }

    // Removing the rule says who and why, and gives the original file back.
    let missing = apitap(&["suppress", "remove", "--config", config.to_str().unwrap(), "--id", "nope", "--by", "soc", "--reason", "r"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("known-net"), "lists the ids that exist");
    ok(&["suppress", "remove", "--config", config.to_str().unwrap(), "--id", "known-net", "--by", "soc@bank.example", "--reason", "test over"]);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
}

#[test]
fn an_expired_rule_suppresses_nothing_and_list_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("apitap.toml");
    ok(&["suppress", "add", "--config", config.to_str().unwrap(), "--id", "old", "--owner", "soc", "--reason", "r", "--expires", "2000-01-01", "--kind", "off_hours"]);
    let text = String::from_utf8(ok(&["suppress", "list", "--config", config.to_str().unwrap()]).stdout).unwrap();
    assert!(text.contains("old") && text.contains("EXPIRED"), "{text}");
    // check-config accepts the file the command wrote.
    ok(&["check-config", config.to_str().unwrap()]);
}

/// `apitap alerts` on a read's output: every decision goes to the audit log; a read with that
/// log marks the decided findings' events, and an `expected` verdict absorbs the pattern so the
/// finding does not open again, while every other finding stays as it was.
#[test]
fn triage_decisions_reach_the_next_run_and_an_expected_verdict_is_absorbed() {
    let (dir, pcap, config) = week();
    let (untuned, _) = read(&pcap, &config, &dir.path().join("untuned"));
    let anomalies = dir.path().join("untuned/anomalies.jsonl");
    let src = ["--config", config.to_str().unwrap(), "--anomalies", anomalies.to_str().unwrap()];
    let alerts = |args: &[&str]| -> Output { apitap(&[&["alerts"], args, &src[..]].concat()) };

    let listed: Value = serde_json::from_slice(&alerts(&["list", "--json"]).stdout).unwrap();
    let listed = listed.as_array().unwrap();
    let news = untuned.iter().filter(|e| e["unmapped"]["lifecycle"] == "new").count();
    assert_eq!(listed.len(), news, "every finding awaits triage at first");
    // Sorted by severity, highest first.
    let sev: Vec<u64> = listed.iter().map(|e| e["severity_id"].as_u64().unwrap()).collect();
    assert!(sev.windows(2).all(|w| w[0] >= w[1]), "{sev:?}");

    // Two findings of different consumers: one judged expected, one resolved.
    let with_consumer: Vec<&Value> = listed.iter().filter(|e| e["unmapped"]["consumer"]["id"].is_string()).collect();
    let expected = with_consumer[0];
    let resolved = with_consumer.iter().find(|e| e["unmapped"]["consumer"]["id"] != expected["unmapped"]["consumer"]["id"] || e["unmapped"]["kind"] != expected["unmapped"]["kind"]).unwrap();
    let id_of = |e: &Value| e["unmapped"]["finding_id"].as_str().unwrap().to_string();
    let (exp_id, res_id) = (id_of(expected), id_of(resolved));
    let pattern = |e: &Value| (e["unmapped"]["kind"].clone(), e["unmapped"]["consumer"]["id"].clone(), e["unmapped"]["endpoint"].clone());

    let o = alerts(&["close", &exp_id[..10], "--verdict", "expected", "--by", "analyst@bank.example", "--reason", "nightly reconciliation"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let again = alerts(&["close", &exp_id, "--by", "analyst@bank.example", "--reason", "twice"]);
    assert!(!again.status.success(), "closing a closed finding is refused");
    ok(&[&["alerts", "close", &res_id, "--by", "analyst@bank.example", "--reason", "blocked the client"], &src[..]].concat());
    ok(&[&["alerts", "annotate", &res_id, "--by", "lead@bank.example", "--note", "ticket SOC-7"], &src[..]].concat());

    let closed: Value = serde_json::from_slice(&alerts(&["list", "--state", "closed", "--json"]).stdout).unwrap();
    let closed_ids: Vec<String> = closed.as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(closed_ids.len(), 2, "{closed_ids:?}");
    assert!(closed_ids.contains(&exp_id) && closed_ids.contains(&res_id));

    let (after, summary) = read(&pcap, &config, &dir.path().join("after"));
    // The expected pattern opened no finding; it was counted as absorbed.
    assert!(after.iter().all(|e| id_of(e) != exp_id), "the expected finding opened again");
    assert!(summary["stages"]["behaviour"]["detections_absorbed"].as_u64().unwrap() >= 1, "{}", summary["stages"]["behaviour"]);
    // Every other finding is unchanged, except that the decided one carries its decision.
    let others = |evs: &[Value]| -> BTreeMap<(String, u64), Value> {
        by_event(&evs.iter().filter(|e| pattern(e) != pattern(expected)).cloned().map(|mut e| {
            e["unmapped"].as_object_mut().unwrap().remove("triage");
            e
        }).collect::<Vec<_>>())
    };
    let (a, b) = (others(&untuned), others(&after));
    let only_a: Vec<_> = a.keys().filter(|k| !b.contains_key(*k)).collect();
    let only_b: Vec<_> = b.keys().filter(|k| !a.contains_key(*k)).collect();
    let changed: Vec<_> = a.keys().filter(|k| b.get(*k).is_some_and(|v| v != &a[*k])).collect();
    assert!(only_a.is_empty() && changed.is_empty(), "only before {only_a:?}, changed {changed:?}; expected pattern {:?}", pattern(expected));
    // Detectors that hold back while a finding of the consumer is open (another kind on the
    // same activity) may now speak: only for the same consumer, never for anyone else.
    for k in &only_b {
        assert_eq!(b[*k]["unmapped"]["consumer"]["id"], expected["unmapped"]["consumer"]["id"], "{k:?}: {}", b[*k]["unmapped"]["kind"]);
    }
    let res_events: Vec<&Value> = after.iter().filter(|e| id_of(e) == res_id).collect();
    assert!(!res_events.is_empty());
    for e in res_events {
        let t = &e["unmapped"]["triage"];
        assert_eq!((t["state"].as_str(), t["verdict"].as_str(), t["by"].as_str()), (Some("closed"), Some("resolved"), Some("analyst@bank.example")), "{t}");
        assert_eq!(t["notes"][0]["text"], "ticket SOC-7");
    }
    let v = validator();
    for e in &after {
        let errs: Vec<String> = v.iter_errors(e).map(|x| format!("{} at {}", x, x.instance_path())).collect();
        assert!(errs.is_empty(), "{errs:?}\n{e}");
    }

    // Reopening the expected finding takes the absorption back.
    ok(&[&["alerts", "reopen", &exp_id, "--by", "lead@bank.example", "--reason", "not a batch job after all"], &src[..]].concat());
    let (reopened, _) = read(&pcap, &config, &dir.path().join("reopened"));
    assert!(reopened.iter().any(|e| id_of(e) == exp_id), "the pattern alerts again once reopened");

    // The report of the first run, with the log: the resolved finding leaves the open count,
    // the reopened one is listed as open by its analyst.
    let report = dir.path().join("report");
    ok(&[
        "report", "--inventory", dir.path().join("untuned/inventory.json").to_str().unwrap(), "--anomalies", anomalies.to_str().unwrap(),
        "--audit-log", dir.path().join("audit.jsonl").to_str().unwrap(), "--out", report.to_str().unwrap(), "--formats", "json,html",
    ]);
    let r: Value = serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap()).unwrap();
    let a = &r["anomalies"];
    let open_untuned = untuned.iter().filter(|e| e["unmapped"]["lifecycle"] == "new").count() as u64;
    let closed_untuned = untuned.iter().filter(|e| e["unmapped"]["lifecycle"] == "closed").count() as u64;
    assert_eq!(a["closed_by_analysts"], 1, "{a}");
    assert_eq!(a["findings"].as_u64().unwrap(), open_untuned);
    let res_closed_by_quiet = untuned.iter().any(|e| id_of(e) == res_id && e["unmapped"]["lifecycle"] == "closed");
    assert_eq!(a["open"].as_u64().unwrap(), open_untuned - closed_untuned - u64::from(!res_closed_by_quiet), "{a}");
    let listed = a["open_findings"].as_array().unwrap();
    if let Some(f) = listed.iter().find(|f| f["id"] == exp_id.as_str()) {
        assert_eq!(f["triage"], "open by lead@bank.example");
    }
    assert!(listed.iter().all(|f| f["id"] != res_id.as_str()), "a finding closed by an analyst is not listed as open");
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(html.contains("analyst-closed-findings"), "the page says how many analysts closed");

    // The audit log holds the four decisions, in order, with who and why.
    let log = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    let actions: Vec<String> = log.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["action"].as_str().unwrap().to_string()).collect();
    assert_eq!(actions, ["finding.feedback", "finding.close", "finding.annotate", "finding.reopen"]);
}

/// A detector override for a consumer group: the group's findings of the kind it makes less
/// sensitive go, everyone else's stay; mistakes in overrides name the line and the fix.
#[test]
fn a_detector_override_for_a_group_changes_only_that_group() {
    let (dir, pcap, config) = week();
    let (untuned, _) = read(&pcap, &config, &dir.path().join("untuned"));
    // Settings that no realistic traffic reaches, per kind.
    let silence: [(&str, &[&str]); 4] = [
        ("bola_enumeration", &["bola.min_foreign_ids=1000000", "bola.slow_min_refused_ids=1000000"]),
        ("credential_stuffing", &["stuffing.min_failures=1000000", "stuffing.min_users=1000000", "stuffing.min_new_networks=1000000"]),
        ("rate_surge", &["rate.factor=1000000.0", "rate.min_requests=1000000", "rate.min_sessions=1000000"]),
        ("bulk_export", &["psd2_max_unattended_per_day=1000000"]),
    ];
    let news: Vec<&Value> = untuned.iter().filter(|e| e["unmapped"]["lifecycle"] == "new" && e["unmapped"]["consumer"]["label"].is_string()).collect();
    let (target, sets) = news
        .iter()
        .find_map(|e| silence.iter().find(|(k, _)| e["unmapped"]["kind"] == *k).map(|(_, s)| (*e, *s)))
        .expect("the week raises one of the kinds");
    let (kind, label) = (target["unmapped"]["kind"].as_str().unwrap(), target["unmapped"]["consumer"]["label"].as_str().unwrap());
    let base = std::fs::read_to_string(&config).unwrap();
    let cfg = config.to_str().unwrap();
    ok(&["group", "add", "--config", cfg, "--name", "quiet", "--consumer", label, "--by", "soc@bank.example", "--reason", "known client"]);
    let mut args = vec!["override", "add", "--config", cfg, "--id", "quiet-detectors", "--group", "quiet", "--by", "soc@bank.example", "--reason", "test"];
    for s in sets {
        args.extend(["--set", s]);
    }
    ok(&args);
    let (after, _) = read(&pcap, &config, &dir.path().join("after"));
    let of = |evs: &[Value], mine: bool| -> Vec<String> {
        evs.iter()
            .filter(|e| e["unmapped"]["kind"] == kind && (e["unmapped"]["consumer"]["label"] == label) == mine)
            .map(|e| format!("{}/{}", e["unmapped"]["finding_id"], e["unmapped"]["finding_version"]))
            .collect()
    };
    assert!(!of(&untuned, true).is_empty());
    assert_eq!(of(&after, true), Vec::<String>::new(), "{label}'s {kind} findings are gone");
    assert_eq!(of(&after, false), of(&untuned, false), "the others' {kind} findings stay");
    // An override naming an unknown group is refused and leaves the file alone; removing the
    // two gives the file back; all four changes are in the audit log.
    let refused = apitap(&["override", "add", "--config", cfg, "--id", "x", "--group", "nobody", "--set", "rate.factor=9.0", "--by", "soc", "--reason", "r"]);
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("no [[consumer_group]] defines"));
    let busy = apitap(&["group", "remove", "--config", cfg, "--id", "quiet", "--by", "soc", "--reason", "r"]);
    assert!(!busy.status.success(), "a group an override names cannot go first");
    ok(&["override", "remove", "--config", cfg, "--id", "quiet-detectors", "--by", "soc@bank.example", "--reason", "done"]);
    ok(&["group", "remove", "--config", cfg, "--id", "quiet", "--by", "soc@bank.example", "--reason", "done"]);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), base);
    let log = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    let records: Vec<Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let targets: Vec<(&str, &str)> = records.iter().map(|r| (r["action"].as_str().unwrap(), r["target"].as_str().unwrap())).collect();
    assert_eq!(targets, [("detector.set", "group:quiet"), ("detector.set", "override:quiet-detectors"), ("detector.set", "override:quiet-detectors"), ("detector.set", "group:quiet")]);
    assert_eq!(records[1]["details"]["override"]["groups"][0], "quiet");

    // Mistakes: a window length, an unknown group, no target; each names the key's line.
    for (extra, needle, key) in [
        ("[[detector_override]]\nservices = [\"api.bank.example\"]\nsettings = { rate = { window_hours = 9 } }\n", "rate.window_hours", "settings"),
        ("[[detector_override]]\ngroups = [\"nobody\"]\nsettings = { rate = { factor = 9.0 } }\n", "no [[consumer_group]] defines", "groups"),
        ("[[detector_override]]\nsettings = { rate = { factor = 9.0 } }\n", "give services, groups or both", "settings"),
        ("[[detector_override]]\nservices = [\"a\"]\nsettings = { rate = { factor = \"x\" } }\n", "settings", "settings"),
    ] {
        let text = format!("{base}\n{extra}");
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, &text).unwrap();
        let o = apitap(&["check-config", bad.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        let line = text.lines().collect::<Vec<_>>().iter().rposition(|l| l.starts_with(&format!("{key} ="))).unwrap() + 1;
        assert!(!o.status.success() && err.contains(needle) && err.contains(&format!("bad.toml:{line}:")), "{extra}: {err}");
    }
}
