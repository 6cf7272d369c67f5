//! Generated consumers and the customers behind them, judged from what `apitap simulate`
//! writes: `population:` groups are drawn from the seed (same seed, same consumers and bytes),
//! inside their pools and within their configured ranges; a group or an injection written
//! wrong is refused with the file, the key and the fix. From tshark's reading of the packets:
//! JWTs name one customer a session and, on account information, its consent; normal traffic
//! only asks for object ids a customer was given in an earlier answer; no customer gets more
//! than four unattended sessions in 24 hours.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios").join(name)
}

fn apitap(args: &[&str], scenario: &Path, out: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_apitap"))
        .args(["simulate", "--scenario"])
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .args(args)
        .output()
        .unwrap()
}

fn simulate(scenario: &Path, out: &Path, args: &[&str]) -> Value {
    let o = apitap(args, scenario, out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_str(&std::fs::read_to_string(out.join("truth.json")).unwrap()).unwrap()
}

fn net(cidr: &str) -> (u32, u32) {
    let (ip, len) = cidr.split_once('/').unwrap();
    (u32::from(ip.parse::<Ipv4Addr>().unwrap()), len.parse().unwrap())
}

fn inside(inner: &str, outer: &str) -> bool {
    let ((a, la), (b, lb)) = (net(inner), net(outer));
    la >= lb && a & (u32::MAX << (32 - lb)) == b
}

#[test]
fn a_population_is_drawn_from_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario("population.yaml");
    let a = simulate(&file, &dir.path().join("a"), &["--hours", "4"]);
    simulate(&file, &dir.path().join("b"), &["--hours", "4"]);
    let c = simulate(&file, &dir.path().join("c"), &["--hours", "4", "--seed", "77"]);
    let read = |d: &str, f: &str| std::fs::read(dir.path().join(d).join(f)).unwrap();
    assert_eq!(read("a", "capture.pcap"), read("b", "capture.pcap"));
    assert_eq!(read("a", "truth.json"), read("b", "truth.json"));
    let labels = |t: &Value| -> Vec<String> {
        t["consumers"].as_array().unwrap().iter().map(|c| c["label"].as_str().unwrap().to_string()).collect()
    };
    let ids = |t: &Value| -> Vec<String> {
        t["consumers"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(ids(&a), ids(&c), "ids do not depend on the seed");
    assert!(labels(&a).iter().zip(labels(&c)).all(|(x, y)| *x != y), "everything else does");
    // --hours cuts the scenario, with the injections that end later.
    assert_eq!(a["end"], "2026-03-09T04:00:00+00:00");
    assert!(a["injections"].as_array().unwrap().iter().all(|i| i["kind"] == "month_end_peak"));
}

#[test]
fn generated_consumers_keep_to_their_groups() {
    let dir = tempfile::tempdir().unwrap();
    let truth = simulate(&scenario("population.yaml"), &dir.path().join("p"), &["--hours", "2"]);
    let consumers = truth["consumers"].as_array().unwrap();
    assert_eq!(consumers.len(), 500);
    // (group, count, pool, prefix, allowed auth kinds, attended range, rate cap)
    let groups = [
        ("ais", 300, "198.19.0.0/16", 28, &["jwt", "opaque"][..], (0.05, 0.5), 40.0),
        ("pis", 150, "172.20.0.0/16", 28, &["jwt", "opaque"][..], (0.9, 1.0), 30.0),
        ("app", 50, "10.128.0.0/12", 20, &["api_key"][..], (1.0, 1.0), 60.0),
    ];
    let mut networks: Vec<&str> = Vec::new();
    for (group, count, pool, prefix, auths, (lo, hi), cap) in groups {
        let members: Vec<&Value> = consumers.iter().filter(|c| c["group"] == group).collect();
        assert_eq!(members.len(), count, "{group}");
        let want: BTreeSet<String> = (1..=count).map(|n| format!("{group}-{n}")).collect();
        let got: BTreeSet<String> = members.iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
        assert_eq!(got, want);
        for c in &members {
            let network = c["network"].as_str().unwrap();
            assert!(inside(network, pool) && net(network).1 == prefix, "{group}: {network}");
            assert!(auths.contains(&c["auth"].as_str().unwrap()), "{c}");
            let att = c["attended_share"].as_f64().unwrap();
            assert!((lo..=hi).contains(&att), "{c}");
            let rate = c["requests_per_hour"].as_f64().unwrap();
            assert!(rate > 0.0 && rate <= cap, "{c}");
            assert!(c["customers"].as_u64().unwrap() >= 20);
            // A generated user agent is `name/major.minor`.
            let ua = c["user_agent"].as_str().unwrap();
            let (name, version) = ua.split_once('/').unwrap();
            let (major, minor) = version.split_once('.').unwrap();
            assert!(!name.is_empty() && major.parse::<u32>().is_ok() && minor.parse::<u32>().is_ok(), "{ua}");
            networks.push(network);
        }
        if group == "app" {
            assert!(members.iter().all(|c| c.get("org_id").is_none()), "apps have no certificate");
        } else {
            let certs = members.iter().filter(|c| c.get("org_id").is_some()).count();
            assert!(certs * 10 >= count * 6 && certs < count, "{group}: {certs} of {count} with a certificate");
        }
    }
    // Every consumer has a network of its own.
    for (i, a) in networks.iter().enumerate() {
        for b in &networks[i + 1..] {
            assert!(!inside(a, b) && !inside(b, a), "{a} and {b} overlap");
        }
    }
    // The authentication mix follows the shares (65% JWT among 300).
    let jwt = consumers.iter().filter(|c| c["group"] == "ais" && c["auth"] == "jwt").count();
    assert!((165..=225).contains(&jwt), "{jwt} of 300");
    let labels: BTreeSet<&str> = consumers.iter().map(|c| c["label"].as_str().unwrap()).collect();
    assert_eq!(labels.len(), 500, "client ids are distinct");
}

/// Writes `text` (a scenario whose spec paths were made absolute) to a file of its own and
/// runs it; returns stderr.
fn refused(dir: &Path, name: &str, text: &str, args: &[&str]) -> String {
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    let o = apitap(args, &file, &dir.join("out"));
    assert_eq!(o.status.code(), Some(2), "{name} was accepted");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn with_absolute_specs(name: &str) -> String {
    let specs = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/specs");
    std::fs::read_to_string(scenario(name)).unwrap().replace("../specs", specs.to_str().unwrap())
}

#[test]
fn population_mistakes_are_named_with_the_file_key_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let pop = with_absolute_specs("population.yaml");
    let cases = [
        (pop.replace("network_prefix: 20", "network_prefix: 10"), "population[2]: `network_prefix: 10` must be 12"),
        (
            pop.replace("    count: 50\n", "    count: 5000\n"),
            "holds 256 networks of /20, fewer than `count: 5000`; widen `network_pool`",
        ),
        (pop.replace("network_pool: 172.20.0.0/16", "network_pool: 198.19.128.0/17"), "overlaps group `ais`'s pool"),
        (pop.replace("auth: {api_key: 1}", "auth: {apikey: 1}"), "population[2]: `auth: {apikey: ...}` is unknown"),
        (
            pop.replace("attended_share: [0.9, 1.0]", "attended_share: [1.0, 0.9]"),
            "population[1]: `attended_share` must be 0 to 1, a range low first",
        ),
        (pop.replace("{median: 4, sigma: 0.7, max: 60}", "{median: 4, sigma: 0.7, max: 2}"), "`max` at least the median"),
        (
            pop.replace("    operations_per_consumer: 3\n", "    operations_per_consumer: 0\n"),
            "`operations_per_consumer: 0` needs a non-empty `operations`",
        ),
        (
            pop.replace("\"GET /accounts/{AccountId}/standing-orders\"]", "\"GET /accounts/{AccountId}/standing-order\"]"),
            "population group `app`: operation `GET /accounts/{AccountId}/standing-order` is in none of its APIs",
        ),
        (
            pop.replace("consumer: app-3", "consumer: app-51"),
            "uses consumer `app-51`, which is not under `consumers` nor drawn by a `population` group",
        ),
        (pop.replace("  - group: pis\n", "  - group: ais\n"), "`group: ais` is used twice"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        assert_ne!(text, &pop, "case {i} changed nothing");
        let err = refused(dir.path(), &format!("pop{i}.yaml"), text, &["--hours", "1"]);
        assert!(err.contains(want), "case {i}: {err}");
        assert!(err.contains(&format!("pop{i}.yaml")), "case {i} names the file: {err}");
    }
}

#[test]
fn new_injection_keys_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let beh = with_absolute_specs("behaviour.yaml");
    let cases = [
        (
            beh.replace("    times_usual: 8\n", "    times_usual: 8\n    requests_per_hour: 50\n"),
            "a rate_surge takes its rate from `times_usual`",
        ),
        (beh.replace("    times_usual: 8\n", "    times_usual: 1\n"), "`times_usual: 1` must be more than 1"),
        (
            beh.replace("    user_agent: python-requests/2.31.0\n", "    user_agent: delta-aggregator/7.0\n"),
            "must be new to consumer `tpp-delta`",
        ),
        (beh.replace("source_network: 185.220.101.0/24", "source_network: 198.19.0.0/20"), "overlaps consumer `tpp-"),
        (
            beh.replace("technique: cl_te", "technique: te_cl"),
            "`technique: te_cl` is unknown; use cl_te, duplicate_cl or te_obfuscated",
        ),
        (
            beh.replace("    consumer: platform-1\n    api: transfers\n", "    api: transfers\n"),
            "(deprecated_operations) needs `consumer`",
        ),
        (
            beh.replace(
                "operation: \"GET /accounts/{AccountId}\"\n    source_network",
                "operation: \"POST /account-access-consents\"\n    source_network",
            ),
            "(unauthenticated_access): operation `POST /account-access-consents` is not a GET",
        ),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        assert_ne!(text, &beh, "case {i} changed nothing");
        let err = refused(dir.path(), &format!("beh{i}.yaml"), text, &[]);
        assert!(err.contains(want), "case {i}: {err}");
    }
}

/// One HTTP exchange as tshark reads it.
#[derive(Debug, Default, Clone)]
struct Exchange {
    stream: u64,
    src: String,
    time: f64,
    uri: String,
    authorization: String,
    headers: Vec<String>,
    status: Option<u16>,
    body: String,
}

/// The exchanges of a capture in order, requests paired with the answers on their connection.
fn exchanges(pcap: &Path) -> Vec<Exchange> {
    let o = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-Y", "http", "-T", "fields", "-E", "separator=/t", "-E", "aggregator=\u{1f}", "-E", "occurrence=a"])
        .args([
            "-e",
            "tcp.stream",
            "-e",
            "ip.src",
            "-e",
            "frame.time_epoch",
            "-e",
            "http.request.uri",
            "-e",
            "http.authorization",
        ])
        .args(["-e", "http.request.line", "-e", "http.response.code", "-e", "http.file_data"])
        .output()
        .expect("tshark is not installed: run scripts/install-deps.sh");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut open: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    let mut out: Vec<Exchange> = Vec::new();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let stream: u64 = f[0].parse().unwrap();
        if !f[3].is_empty() {
            out.push(Exchange {
                stream,
                src: f[1].to_string(),
                time: f[2].parse().unwrap(),
                uri: f[3].to_string(),
                authorization: f[4].to_string(),
                headers: f[5].split('\u{1f}').map(|h| h.trim_end_matches("\\r\\n").to_ascii_lowercase()).collect(),
                ..Exchange::default()
            });
            open.entry(stream).or_default().push(out.len() - 1);
        } else if let Some(i) = open.get_mut(&stream).and_then(|q| (!q.is_empty()).then(|| q.remove(0))) {
            out[i].status = f[6].parse().ok();
            out[i].body = f.get(7).unwrap_or(&"").to_string();
        }
    }
    out
}

/// The claims of a bearer JWT, if the header carries one.
fn claims(authorization: &str) -> Option<Value> {
    let token = authorization.strip_prefix("Bearer ")?;
    let payload = token.split('.').nth(1)?;
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    };
    let (mut bits, mut n, mut bytes) = (0u32, 0, Vec::new());
    for c in payload.bytes() {
        bits = (bits << 6) | u32::from(val(c)?);
        n += 6;
        if n >= 8 {
            n -= 8;
            bytes.push((bits >> n) as u8);
        }
    }
    serde_json::from_slice(&bytes).ok()
}

/// Every string value of a property whose name ends in `Id`/`ID` or is `id`.
fn ids_in(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if let (true, Value::String(s)) = (k.ends_with("Id") || k.ends_with("ID") || k == "id", x) {
                    out.insert(s.clone());
                }
                ids_in(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| ids_in(x, out)),
        _ => {}
    }
}

#[test]
fn customers_get_their_own_tokens_ids_and_psd2_budget() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    // The first two (clean) days of behaviour.yaml.
    let truth = simulate(&scenario("behaviour.yaml"), &out, &["--hours", "48"]);
    let all = exchanges(&out.join("capture.pcap"));
    assert_eq!(all.len() as u64, truth["requests"].as_u64().unwrap());
    let consumers = truth["consumers"].as_array().unwrap();
    let owner = |ip: &str| consumers.iter().find(|c| inside(&format!("{ip}/32"), c["network"].as_str().unwrap()));
    // The endpoints' templates: a request's id segments.
    let templates: Vec<(Vec<String>, String)> = truth["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["path_template"].as_str().unwrap().split('/').map(str::to_string).collect(),
                e["host"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let id_segments = |uri: &str| -> Vec<String> {
        let segs: Vec<&str> = uri.split('?').next().unwrap().split('/').collect();
        // The matching template with the fewest parameters (a literal beats a parameter).
        let best = templates
            .iter()
            .filter(|(t, _)| t.len() == segs.len() && t.iter().zip(&segs).all(|(t, s)| t.starts_with('{') || t == s))
            .min_by_key(|(t, _)| t.iter().filter(|s| s.starts_with('{')).count());
        best.map(|(t, _)| {
            t.iter()
                .zip(&segs)
                .filter(|(t, _)| {
                    let name = t.trim_matches(|c| c == '{' || c == '}');
                    t.starts_with('{') && (name.ends_with("Id") || name.ends_with("ID") || name == "id")
                })
                .map(|(_, s)| s.to_string())
                .collect()
        })
        .unwrap_or_default()
    };
    let mut given: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut subs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut intents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut homes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut unattended: BTreeMap<(String, String), BTreeSet<(u64, u64)>> = BTreeMap::new();
    let (mut asked, mut foreign) = (0, Vec::new());
    for x in &all {
        let Some(c) = owner(&x.src) else { continue };
        let id = c["id"].as_str().unwrap().to_string();
        let jwt = claims(&x.authorization);
        let sub = jwt.as_ref().and_then(|j| j["sub"].as_str().map(str::to_string)).unwrap_or_default();
        if let Some(j) = &jwt {
            assert_eq!(j["client_id"], c["label"]);
            let n: u64 = sub.strip_prefix(&format!("psu-{id}-")).unwrap().parse().unwrap();
            assert!((1..=c["customers"].as_u64().unwrap()).contains(&n), "{sub}");
            subs.entry(id.clone()).or_default().insert(sub.clone());
            match j.get("openbanking_intent_id") {
                Some(intent) => {
                    assert!(x.uri.starts_with("/open-banking/v4.0/aisp/"), "a consent claim on account information only");
                    intents.entry(sub.clone()).or_default().insert(intent.as_str().unwrap().to_string());
                }
                None => assert!(!x.uri.starts_with("/open-banking/v4.0/aisp/"), "{}", x.uri),
            }
        }
        let home = x.headers.iter().find_map(|h| h.strip_prefix("x-fapi-customer-ip-address: ")).map(str::to_string);
        match &home {
            Some(ip) if !sub.is_empty() => {
                homes.entry(sub.clone()).or_default().insert(ip.clone());
            }
            None if !sub.is_empty() && x.uri.contains("/aisp/accounts") => {
                unattended.entry((id.clone(), sub.clone())).or_default().insert((x.stream, x.time as u64));
            }
            _ => {}
        }
        // Ids: every one asked for was in an earlier answer to the same customer.
        let key = (id.clone(), sub.clone());
        for seg in id_segments(&x.uri) {
            asked += 1;
            if !given.get(&key).is_some_and(|g| g.contains(&seg)) {
                foreign.push(format!("{id} {sub} {}", x.uri));
            }
        }
        if x.status.is_some_and(|s| (200..300).contains(&s)) {
            if let Ok(v) = serde_json::from_str::<Value>(&x.body) {
                ids_in(&v, given.entry(key).or_default());
            }
        }
    }
    assert!(asked > 1000, "{asked} ids asked for");
    assert!(foreign.is_empty(), "{} of {asked} ids were never given, e.g. {:?}", foreign.len(), &foreign[..foreign.len().min(5)]);
    // Every JWT consumer's sessions name its customers; each customer keeps its consent and
    // its home address.
    for c in consumers.iter().filter(|c| c["auth"] == "jwt") {
        let seen = subs.get(c["id"].as_str().unwrap()).map_or(0, BTreeSet::len) as u64;
        assert_eq!(seen, c["customers_seen"].as_u64().unwrap(), "{}", c["id"]);
    }
    assert!(subs.values().map(BTreeSet::len).sum::<usize>() > 200);
    assert!(intents.len() > 50 && intents.values().all(|i| i.len() == 1), "one consent a customer");
    let consents: BTreeSet<&String> = intents.values().flatten().collect();
    assert_eq!(consents.len(), intents.len(), "customers do not share a consent");
    assert!(homes.len() > 50 && homes.values().all(|h| h.len() == 1), "one home address a customer");
    // PSD2: at most four unattended account sessions of a customer in any 24 hours.
    let mut checked = 0;
    for ((id, sub), sessions) in &unattended {
        // A session's time is its connection's first request.
        let mut first_of: BTreeMap<u64, u64> = BTreeMap::new();
        for (stream, t) in sessions {
            let e = first_of.entry(*stream).or_insert(*t);
            *e = (*e).min(*t);
        }
        let mut starts: Vec<u64> = first_of.into_values().collect();
        starts.sort_unstable();
        for w in starts.windows(5) {
            assert!(w[4] - w[0] >= 86_400 - 60, "{id} {sub}: five unattended sessions within a day: {w:?}");
        }
        checked += 1;
    }
    assert!(checked > 50, "{checked} customers with unattended sessions");
}
