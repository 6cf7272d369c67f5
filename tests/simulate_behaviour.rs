//! The behavioural scenarios of `apitap simulate`, judged from their captures: behaviour.yaml
//! is simulated, `apitap read` turns the capture into transactions, and the truth's facts of
//! the injection kinds added for the behavioural detectors (rate surge, new user agent,
//! unauthenticated access, request smuggling, the first request times of every injection) are
//! recounted from those transactions and, where a header matters, from tshark's reading of the
//! packets. The scenarios' shape (a clean first week, every kind in the second, a held-out
//! twin with a seed of its own) is checked from their truths.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde_json::Value;

const AISP: &str = "/open-banking/v4.0/aisp";

/// Every injection kind a behaviour scenario must hold, confounders included.
const KINDS: &[&str] = &[
    "shadow_endpoint",
    "zombie_version",
    "deprecated_operations",
    "object_enumeration",
    "credential_stuffing",
    "scraping",
    "off_hours_token",
    "error_spike",
    "oversized_responses",
    "rate_surge",
    "new_user_agent",
    "unauthenticated_access",
    "request_smuggling",
    "aggregator_accounts",
    "password_reset",
    "month_end_peak",
];

struct Run {
    truth: Value,
    recs: Vec<Value>,
    pcap: PathBuf,
    dir: tempfile::TempDir,
}

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios").join(name)
}

fn simulate(scenario: &Path, out: &Path, extra: &[&str]) -> Value {
    let o = Command::new(env!("CARGO_BIN_EXE_apitap"))
        .args(["simulate", "--scenario"])
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_str(&std::fs::read_to_string(out.join("truth.json")).unwrap()).unwrap()
}

/// behaviour.yaml simulated and read back once for all tests of this file.
fn run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("sim");
        let truth = simulate(&scenario("behaviour.yaml"), &out, &[]);
        let read = dir.path().join("read");
        let o = Command::new(env!("CARGO_BIN_EXE_apitap"))
            .arg("read")
            .arg(out.join("capture.pcap"))
            .args(["--no-progress", "--out"])
            .arg(&read)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let recs: Vec<Value> = std::fs::read_to_string(read.join("transactions.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(recs.len() as u64, truth["requests"].as_u64().unwrap(), "apitap read recovers every request");
        Run { truth, recs, pcap: out.join("capture.pcap"), dir }
    })
}

fn injections<'a>(truth: &'a Value, kind: &str) -> Vec<&'a Value> {
    let v: Vec<&Value> = truth["injections"].as_array().unwrap().iter().filter(|i| i["kind"] == kind).collect();
    assert!(!v.is_empty(), "no {kind} injection");
    v
}

fn consumer<'a>(truth: &'a Value, id: &str) -> &'a Value {
    truth["consumers"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap()
}

fn secs(v: &Value) -> f64 {
    let t: DateTime<Utc> = v.as_str().unwrap().parse().unwrap();
    t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9
}

fn in_net(ip: &Value, cidr: &str) -> bool {
    let (net, len) = cidr.split_once('/').unwrap();
    let (net, len): (Ipv4Addr, u32) = (net.parse().unwrap(), len.parse().unwrap());
    let ip: Ipv4Addr = ip.as_str().unwrap().parse().unwrap();
    let mask = u32::MAX << (32 - len);
    u32::from(ip) & mask == u32::from(net) & mask
}

fn ts(r: &Value) -> f64 {
    r["ts"].as_f64().unwrap()
}

fn status(r: &Value) -> u64 {
    r["status_code"].as_u64().unwrap()
}

/// Records from `net` whose time is in `[start, end)` of `inj` (a millisecond of slack for the
/// records' float times).
fn in_window<'a>(inj: &Value, net: &str, recs: &'a [Value]) -> Vec<&'a Value> {
    let (a, b) = (secs(&inj["start"]) - 0.001, secs(&inj["end"]) + 0.001);
    recs.iter().filter(|r| in_net(&r["orig_h"], net) && (a..b).contains(&ts(r))).collect()
}

/// Runs tshark over the packets of `net` only (cut out with tcpdump first, which is fast) and
/// returns its output.
fn tshark_on(net: &str, args: &[&str]) -> String {
    let r = run();
    let cut = r.dir.path().join(format!("cut-{}.pcap", net.replace(['/', '.'], "_")));
    if !cut.exists() {
        let o = Command::new("tcpdump")
            .arg("-r")
            .arg(&r.pcap)
            .arg("-w")
            .arg(&cut)
            .args(["net", net])
            .output()
            .expect("tcpdump is not installed");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = Command::new("tshark")
        .arg("-r")
        .arg(&cut)
        .args(args)
        .output()
        .expect("tshark is not installed: run scripts/install-deps.sh");
    assert!(o.status.success(), "tshark {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The kinds of a truth's injections, and a check that each (the month end aside, which the
/// generator places) lies in the second week of a 14-day scenario.
fn second_week_kinds(truth: &Value) -> BTreeSet<String> {
    let start = secs(&truth["start"]);
    assert_eq!(secs(&truth["end"]) - start, 14.0 * 86_400.0, "two weeks");
    let mut kinds = BTreeSet::new();
    for inj in truth["injections"].as_array().unwrap() {
        kinds.insert(inj["kind"].as_str().unwrap().to_string());
        assert!(secs(&inj["start"]) >= start + 7.0 * 86_400.0, "the first week is clean: {}", inj["kind"]);
        assert!(inj["requests"].as_u64().unwrap() > 0, "{inj}");
    }
    kinds
}

#[test]
fn every_kind_is_injected_in_the_second_week_of_a_clean_fortnight() {
    let truth = &run().truth;
    let kinds = second_week_kinds(truth);
    for kind in KINDS {
        assert!(kinds.contains(*kind), "behaviour.yaml has no {kind}");
    }
    assert!(injections(truth, "shadow_endpoint").len() >= 2);
    let techniques: BTreeSet<&str> =
        injections(truth, "request_smuggling").iter().map(|i| i["technique"].as_str().unwrap()).collect();
    assert_eq!(techniques, BTreeSet::from(["cl_te", "duplicate_cl", "te_obfuscated"]));
    let paces: BTreeSet<&str> = injections(truth, "object_enumeration").iter().map(|i| i["pace"].as_str().unwrap()).collect();
    assert_eq!(paces, BTreeSet::from(["fast", "low_and_slow"]));
    // The October month end in London (GMT by then): Friday 30 and Saturday 31.
    let m = injections(truth, "month_end_peak");
    assert_eq!(
        (m.len(), m[0]["start"].as_str(), m[0]["end"].as_str()),
        (1, Some("2026-10-30T00:00:00+00:00"), Some("2026-11-01T00:00:00+00:00"))
    );
    // A population of about 40 beside week.yaml's five consumers, with every kind of credential.
    let consumers = truth["consumers"].as_array().unwrap();
    let generated = consumers.iter().filter(|c| c.get("group").is_some()).count();
    assert!((35..=50).contains(&generated), "{generated} generated consumers");
    let auths: BTreeSet<&str> = consumers.iter().map(|c| c["auth"].as_str().unwrap()).collect();
    assert_eq!(auths, BTreeSet::from(["api_key", "basic", "jwt", "opaque"]));
    assert!(
        consumers.iter().filter(|c| c.get("group").is_some() && c.get("org_id").is_some()).count() >= 10,
        "generated TPPs with certificates"
    );
    // Small enough to simulate and read in about a minute.
    assert!(truth["requests"].as_u64().unwrap() <= 300_000);
    assert!(std::fs::metadata(&run().pcap).unwrap().len() <= 1 << 30);
}

#[test]
fn every_injection_lists_its_first_request_times() {
    let truth = &run().truth;
    for inj in truth["injections"].as_array().unwrap().iter().filter(|i| i["kind"] != "month_end_peak") {
        let times: Vec<f64> = inj["first_request_times"].as_array().unwrap().iter().map(secs).collect();
        let requests = inj["requests"].as_u64().unwrap() as usize;
        assert_eq!(times.len(), requests.min(100), "{}", inj["kind"]);
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{}: in time order", inj["kind"]);
        assert!((times[0] - secs(&inj["first_request"])).abs() < 1e-6, "{}", inj["kind"]);
        assert!(inj["first_request_times"][0].as_str().unwrap().contains('.'), "with the fraction of the second");
    }
    // The fast enumeration's list is its first hundred requests as the capture has them:
    // sequential ids requested from its consumer's network.
    let recs = &run().recs;
    let fast = injections(truth, "object_enumeration").into_iter().find(|i| i["pace"] == "fast").unwrap();
    let net = consumer(truth, fast["consumer"].as_str().unwrap())["network"].as_str().unwrap();
    let (lo, hi) = (fast["first_id"].as_u64().unwrap(), fast["last_id"].as_u64().unwrap());
    let mut seen: Vec<f64> = in_window(fast, net, recs)
        .into_iter()
        .filter(|r| {
            r["uri"]
                .as_str()
                .unwrap()
                .strip_prefix(&format!("{AISP}/accounts/"))
                .and_then(|id| id.parse::<u64>().ok())
                .is_some_and(|id| (lo..=hi).contains(&id))
        })
        .map(ts)
        .collect();
    seen.sort_by(f64::total_cmp);
    assert_eq!(seen.len() as u64, fast["requests"].as_u64().unwrap());
    for (truth_time, capture_time) in fast["first_request_times"].as_array().unwrap().iter().map(secs).zip(&seen) {
        assert!((truth_time - capture_time).abs() < 1e-5, "{truth_time} against {capture_time}");
    }
}

#[test]
fn a_rate_surge_multiplies_the_consumers_usual_rate() {
    let (truth, recs) = (&run().truth, &run().recs);
    for inj in injections(truth, "rate_surge") {
        let c = consumer(truth, inj["consumer"].as_str().unwrap());
        let net = c["network"].as_str().unwrap();
        let window = in_window(inj, net, recs);
        assert_eq!(
            window.len() as u64,
            inj["consumer_requests"].as_u64().unwrap(),
            "every request of the consumer in the window"
        );
        assert!(inj["requests"].as_u64().unwrap() < window.len() as u64, "normal traffic goes on beside the surge");
        assert!(window.iter().all(|r| r["user_agent"] == c["user_agent"]), "its own client");
        let hours = (secs(&inj["end"]) - secs(&inj["start"])) / 3600.0;
        let usual = inj["usual_requests_per_hour"].as_f64().unwrap();
        let times = inj["times_usual"].as_f64().unwrap();
        assert!((window.len() as f64 / hours / usual - times).abs() < 0.01, "{times}");
        assert!(times >= 5.0, "{times} times the usual rate");
        // The usual rate is what the consumer really does at those hours: the same hours of the
        // first week's working days.
        let (a, b) = (secs(&inj["start"]), secs(&inj["end"]));
        let days: Vec<f64> = (2..=8)
            .map(|d| d as f64 * 86_400.0)
            .filter(|d| {
                let t = DateTime::from_timestamp((a - d) as i64, 0).unwrap();
                !matches!(chrono::Datelike::weekday(&t), chrono::Weekday::Sat | chrono::Weekday::Sun)
            })
            .collect();
        let before: usize = days
            .iter()
            .map(|d| recs.iter().filter(|r| in_net(&r["orig_h"], net) && (a - d..b - d).contains(&ts(r))).count())
            .sum();
        let measured = before as f64 / days.len() as f64 / hours;
        assert!(measured > 0.4 * usual && measured < 2.0 * usual, "usual {usual} an hour, measured {measured}");
    }
}

#[test]
fn a_new_user_agent_appears_only_in_its_window() {
    let (truth, recs) = (&run().truth, &run().recs);
    for inj in injections(truth, "new_user_agent") {
        let c = consumer(truth, inj["consumer"].as_str().unwrap());
        let ua = inj["user_agent"].as_str().unwrap();
        let with_ua: Vec<&Value> = recs.iter().filter(|r| r["user_agent"] == ua).collect();
        assert_eq!(with_ua.len() as u64, inj["requests"].as_u64().unwrap());
        assert!(!with_ua.is_empty());
        let (a, b) = (secs(&inj["start"]), secs(&inj["end"]));
        assert!(with_ua.iter().all(|r| (a..b).contains(&ts(r))), "only inside the window");
        let net = c["network"].as_str().unwrap();
        assert!(with_ua.iter().all(|r| in_net(&r["orig_h"], net)), "from the consumer's own network");
        // Its usual credentials (the scheme, at least, is what a record shows).
        let usual_scheme: BTreeSet<Option<&str>> = recs
            .iter()
            .filter(|r| in_net(&r["orig_h"], net) && r["user_agent"] == c["user_agent"] && r["host"] == "api.bank.example")
            .map(|r| r["auth_scheme"].as_str())
            .collect();
        let scheme: BTreeSet<Option<&str>> = with_ua.iter().map(|r| r["auth_scheme"].as_str()).collect();
        assert!(scheme.is_subset(&usual_scheme), "{scheme:?} against {usual_scheme:?}");
        assert_ne!(ua, c["user_agent"].as_str().unwrap());
    }
}

#[test]
fn unauthenticated_requests_read_customer_data_without_any_credential() {
    let (truth, recs) = (&run().truth, &run().recs);
    for inj in injections(truth, "unauthenticated_access") {
        let net = inj["source_network"].as_str().unwrap();
        let from: Vec<&Value> = recs.iter().filter(|r| in_net(&r["orig_h"], net)).collect();
        assert_eq!(from.len() as u64, inj["requests"].as_u64().unwrap());
        let (a, b) = (secs(&inj["start"]), secs(&inj["end"]));
        assert!(from.iter().all(|r| (a..b).contains(&ts(r))));
        assert!(
            from.iter().all(|r| status(r) == 200 && r["response_body_len"].as_u64().unwrap() > 100),
            "every answer carries data"
        );
        assert!(from.iter().all(|r| r.get("auth_scheme").is_none() && r["user_agent"] == inj["user_agent"]));
        let ips: BTreeSet<&str> = from.iter().map(|r| r["orig_h"].as_str().unwrap()).collect();
        assert_eq!(ips.len() as u64, inj["distinct_source_ips"].as_u64().unwrap());
        // Reads of single accounts, each of an id a listing gave the same connection first.
        let reads: Vec<&&Value> =
            from.iter().filter(|r| r["uri"].as_str().unwrap().starts_with(&format!("{AISP}/accounts/"))).collect();
        assert!(reads.len() * 2 > from.len(), "{} reads of {}", reads.len(), from.len());
        // No credential of any kind in the requests, and an IBAN in every answer.
        let headers = tshark_on(net, &["-Y", "http.request", "-T", "fields", "-e", "http.request.line"]);
        assert_eq!(headers.lines().count(), from.len());
        for name in ["authorization:", "x-api-key:", "client-cert:", "cookie:"] {
            assert!(!headers.to_ascii_lowercase().contains(name), "{name} in {headers}");
        }
        let with_iban = tshark_on(
            net,
            &["-Y", "http.response and http.file_data contains \"UK.OBIE.IBAN\"", "-T", "fields", "-e", "frame.number"],
        );
        assert_eq!(with_iban.lines().count(), from.len(), "every answer names an account by IBAN");
    }
}

#[test]
fn smuggling_heads_are_what_apitap_read_flags() {
    let (truth, recs) = (&run().truth, &run().recs);
    let event_of = |t: &str| match t {
        "cl_te" => "content_length_and_chunked",
        "duplicate_cl" => "duplicate_content_length",
        _ => "unusual_transfer_encoding",
    };
    let mut flagged_total = 0;
    for inj in injections(truth, "request_smuggling") {
        let net = consumer(truth, inj["consumer"].as_str().unwrap())["network"].as_str().unwrap();
        let event = event_of(inj["technique"].as_str().unwrap());
        let window = in_window(inj, net, recs);
        let flagged: Vec<&&Value> =
            window.iter().filter(|r| r["events"].as_array().is_some_and(|e| e.iter().any(|e| e == event))).collect();
        assert_eq!(flagged.len() as u64, inj["smuggling_requests"].as_u64().unwrap(), "{inj}");
        assert!(!flagged.is_empty());
        // Each ambiguous request ends its connection, after the connection's usual calls.
        let uids: BTreeSet<&str> = flagged.iter().map(|r| r["uid"].as_str().unwrap()).collect();
        assert_eq!(uids.len(), flagged.len(), "one a connection");
        for r in &flagged {
            let depth = r["trans_depth"].as_u64().unwrap();
            let last = recs.iter().filter(|x| x["uid"] == r["uid"]).map(|x| x["trans_depth"].as_u64().unwrap()).max().unwrap();
            assert_eq!(depth, last);
            assert!(r["request_body_len"].as_u64().unwrap() > 0);
        }
        let rejected = flagged.iter().filter(|r| status(r) == 400).count() as u64;
        assert_eq!(rejected, inj["rejected_requests"].as_u64().unwrap());
        assert!(flagged.iter().all(|r| status(r) == 400 || status(r) < 300));
        flagged_total += flagged.len();
        // tshark reads the ambiguous messages without calling a packet malformed.
        let expert = tshark_on(net, &["-q", "-z", "expert,error"]);
        assert!(!expert.contains("Malformed"), "{expert}");
    }
    // Normal traffic never has an ambiguous head.
    let smuggling = ["content_length_and_chunked", "duplicate_content_length", "unusual_transfer_encoding"];
    let everywhere = recs
        .iter()
        .filter(|r| r["events"].as_array().is_some_and(|e| e.iter().any(|e| smuggling.contains(&e.as_str().unwrap()))))
        .count();
    assert_eq!(everywhere, flagged_total);
}

#[test]
fn confounders_stay_benign_and_the_attacks_do_not() {
    let truth = &run().truth;
    for inj in truth["injections"].as_array().unwrap() {
        let benign = ["aggregator_accounts", "password_reset", "month_end_peak"].contains(&inj["kind"].as_str().unwrap());
        assert_eq!(inj["benign"], benign, "{}", inj["kind"]);
    }
    // The aggregator reads only accounts a listing in the same connection gave it.
    let recs = &run().recs;
    let agg = injections(truth, "aggregator_accounts")[0];
    let net = consumer(truth, agg["consumer"].as_str().unwrap())["network"].as_str().unwrap();
    let window = in_window(agg, net, recs);
    let mut by_conn: BTreeMap<&str, Vec<&&Value>> = BTreeMap::new();
    for r in &window {
        by_conn.entry(r["uid"].as_str().unwrap()).or_default().push(r);
    }
    // Its connections are those reading nine accounts or more (ten here; a customer of the
    // consumer's normal traffic has at most eight).
    let accounts = |rs: &Vec<&&Value>| -> usize {
        let prefix = format!("{AISP}/accounts/");
        rs.iter()
            .filter_map(|r| r["uri"].as_str().unwrap().strip_prefix(&prefix).map(|rest| rest.split('/').next().unwrap()))
            .collect::<BTreeSet<_>>()
            .len()
    };
    let aggregating: Vec<&Vec<&&Value>> = by_conn.values().filter(|rs| accounts(rs) >= 9).collect();
    assert!(aggregating.len() >= 50, "{} connections", aggregating.len());
    for rs in aggregating {
        let first = rs.iter().min_by_key(|r| r["trans_depth"].as_u64()).unwrap();
        assert_eq!(first["uri"], format!("{AISP}/accounts").as_str(), "the connection starts with the listing");
    }
}

#[test]
fn the_held_out_scenario_has_the_same_shape_and_a_seed_of_its_own() {
    let file = scenario("behaviour-holdout.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("HELD OUT"), "the file says it is held out");
    let dir = tempfile::tempdir().unwrap();
    let truth = simulate(&file, &dir.path().join("h"), &[]);
    assert_eq!(truth["seed"], 4242);
    assert_eq!(truth["timezone"], "America/Sao_Paulo");
    let kinds = second_week_kinds(&truth);
    for kind in KINDS {
        assert!(kinds.contains(*kind), "the held-out scenario has no {kind}");
    }
    // Other consumers than the tuning scenario's, on the Open Finance Brasil specs.
    let ids = |t: &Value| -> BTreeSet<String> {
        t["consumers"].as_array().unwrap().iter().map(|c| c["label"].as_str().unwrap().to_string()).collect()
    };
    assert!(ids(&truth).is_disjoint(&ids(&run().truth)));
    assert!(truth["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["path_template"].as_str().unwrap().starts_with("/open-banking/accounts/v2/")));
    // Nothing else is run with its seed.
    for entry in std::fs::read_dir(scenario("")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") && path != file {
            let other = std::fs::read_to_string(&path).unwrap();
            assert!(!other.lines().any(|l| l.trim() == "seed: 4242"), "{} uses the held-out seed", path.display());
        }
    }
}
