//! The HTML report in a real browser (Debian's chromium, headless): a simulated fortnight
//! (behaviour.yaml) is read by `apitap read`, its inventory gets hourly traffic per service
//! and a consumers list computed here from transactions.jsonl, an attacker's endpoint is
//! planted in it, and `apitap report` writes the page. Chromium then shows that the page logs
//! no console message, loads nothing, displays the counts and endpoint names of
//! inventory.json (recomputed here), keeps the planted markup inert, and renders a screenshot
//! kept under the target directory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{json, Value};

mod common;

use common::browser::{chromium, console_messages, text_of};


/// A path an attacker sends: markup that would run script if the page did not escape it.
const EVIL_PATH: &str = r#"/x/<script>console.error("xss-path")</script>/"onmouseover="console.error('xss-attr')"/<img src=x onerror=console.error('xss-img')>"#;
const EVIL_HOST: &str = r#"evil.example"><svg onload=console.error('xss-host')>"#;
const EVIL_LABEL: &str = r#"<script>console.error("xss-label")</script>"#;

struct Run {
    _dir: tempfile::TempDir,
    read: PathBuf,
    out: PathBuf,
    inventory: Value,
    anomalies: PathBuf,
    consumers: Vec<Value>,
    traffic: BTreeMap<String, u64>,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn apitap(args: &[&str]) -> std::process::Output {
    let o = Command::new(env!("CARGO_BIN_EXE_apitap")).args(args).output().unwrap();
    assert!(o.status.success(), "apitap {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    o
}

fn config() -> String {
    let spec = |file: &str, host: &str, extra: &str| {
        format!("[[spec]]\nfile = \"{}/fixtures/specs/{file}\"\nhosts = [\"{host}\"]\n{extra}\n", root().display())
    };
    [
        spec("ob-uk/account-info-openapi.yaml", "api.bank.example", ""),
        spec("ob-uk/payment-initiation-openapi.yaml", "api.bank.example", ""),
        spec("ob-uk/v3.1.11/account-info-openapi.yaml", "api.bank.example", "superseded = true"),
        spec("adyen/TransferService-v4.json", "platform.bank.example", ""),
        spec("auth/token-endpoint.yaml", "auth.bank.example", ""),
        "[behaviour]\ntimezone = \"Europe/London\"\n".into(),
    ]
    .concat()
}

fn rfc3339_hour(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs - secs.rem_euclid(3600), 0).unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Simulates, reads, adds traffic and consumers, plants the attacker's endpoint, reports.
fn run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let sim = dir.path().join("sim");
        let scenario = root().join("fixtures/scenarios/behaviour.yaml");
        apitap(&["simulate", "--scenario", scenario.to_str().unwrap(), "--out", sim.to_str().unwrap()]);
        let cfg = dir.path().join("apitap.toml");
        std::fs::write(&cfg, config()).unwrap();
        let read = dir.path().join("read");
        let pcap = sim.join("capture.pcap");
        let o = Command::new(env!("CARGO_BIN_EXE_apitap"))
            .args(["read", pcap.to_str().unwrap(), "--no-progress", "--config", cfg.to_str().unwrap(), "--out", read.to_str().unwrap()])
            .env("APITAP_HASH_KEY", "report-browser-test-key")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::remove_file(&pcap).unwrap();

        // Hourly traffic per service and consumers by user agent, from the transactions.
        let mut hours: BTreeMap<String, BTreeMap<i64, (u64, u64, u64)>> = BTreeMap::new();
        let mut by_agent: HashMap<String, (u64, u64, BTreeSet<String>, f64, f64)> = HashMap::new();
        for line in std::fs::read_to_string(read.join("transactions.jsonl")).unwrap().lines() {
            let t: Value = serde_json::from_str(line).unwrap();
            let ts = t["ts"].as_f64().unwrap();
            let host = t["host"].as_str().unwrap_or("").to_string();
            let error = t["status_code"].as_u64().unwrap_or(0) >= 400;
            let bytes = t["request_body_len"].as_u64().unwrap_or(0) + t["response_body_len"].as_u64().unwrap_or(0);
            let h = hours.entry(host.clone()).or_default().entry((ts as i64).div_euclid(3600) * 3600).or_default();
            h.0 += 1;
            h.1 += u64::from(error);
            h.2 += bytes;
            let a = by_agent.entry(t["user_agent"].as_str().unwrap_or("").to_string()).or_insert((0, 0, BTreeSet::new(), ts, ts));
            a.0 += 1;
            a.1 += u64::from(error);
            a.2.insert(format!("{host} {} {}", t["method"], t["uri"].as_str().unwrap_or("").split('?').next().unwrap()));
            a.3 = a.3.min(ts);
            a.4 = a.4.max(ts);
        }
        let mut inventory: Value = serde_json::from_str(&std::fs::read_to_string(read.join("inventory.json")).unwrap()).unwrap();
        let mut traffic = BTreeMap::new();
        for s in inventory["services"].as_array_mut().unwrap() {
            let host = s["host"].as_str().unwrap().to_string();
            let points: Vec<Value> = hours
                .get(&host)
                .map(|h| h.iter().map(|(t, (r, e, b))| json!({"hour": rfc3339_hour(*t), "requests": r, "errors": e, "bytes": b})).collect())
                .unwrap_or_default();
            traffic.insert(host, points.iter().map(|p| p["requests"].as_u64().unwrap()).sum());
            s["traffic"] = Value::Array(points);
        }
        let time = |s: f64| chrono::DateTime::from_timestamp(s as i64, 0).unwrap().to_rfc3339();
        let mut consumers: Vec<Value> = by_agent
            .iter()
            .enumerate()
            .map(|(i, (agent, (r, e, eps, first, last)))| {
                json!({"id": format!("{:016x}", i + 1), "label": agent, "source": "network", "requests": r, "errors": e,
                       "endpoints": eps.len(), "first_seen": time(*first), "last_seen": time(*last)})
            })
            .collect();
        // An attacker-chosen label, busiest of all so it is on the page.
        consumers.push(json!({"id": "00000000deadbeef", "label": EVIL_LABEL, "source": "network", "requests": 10_000_000u64,
                              "errors": 0, "endpoints": 1, "first_seen": "2026-10-20T00:00:00Z", "last_seen": "2026-10-21T00:00:00Z"}));
        // The attacker's endpoint, as the inventory would list it, with sensitive data answered
        // to unauthenticated requests.
        inventory["endpoints"].as_array_mut().unwrap().push(json!({
            "host": EVIL_HOST, "method": "GET", "path": EVIL_PATH, "classification": "shadow", "hits": 3, "consumers": 1,
            "clients": 1, "status": {"200": 3}, "auth": {"none": 3}, "request_content_types": {}, "response_content_types": {},
            "query_params": [], "request_sensitive": {}, "response_sensitive": {"card_number": 3},
            "request_body": {"json_bodies": 0, "truncated_bodies": 0, "fields": {}, "fields_dropped": 0},
            "response_body": {"json_bodies": 0, "truncated_bodies": 0, "fields": {}, "fields_dropped": 0},
            "first_seen": "2026-10-20T10:00:00.000Z", "last_seen": "2026-10-20T11:00:00.000Z"
        }));
        inventory["findings"].as_array_mut().unwrap().push(json!({
            "kind": "sensitive_data_without_authentication", "host": EVIL_HOST, "method": "GET", "path": EVIL_PATH,
            "count": 3, "detail": "planted"
        }));
        inventory["services"].as_array_mut().unwrap().push(json!({
            "host": EVIL_HOST, "servers": [], "inspectable": true, "requests": 3, "first_seen": "2026-10-20T10:00:00.000Z",
            "last_seen": "2026-10-20T11:00:00.000Z", "endpoints": 1
        }));
        let inv_path = dir.path().join("inventory.json");
        std::fs::write(&inv_path, serde_json::to_string_pretty(&inventory).unwrap()).unwrap();
        let cons_path = dir.path().join("consumers.json");
        std::fs::write(&cons_path, serde_json::to_string(&consumers).unwrap()).unwrap();
        let out = dir.path().join("report");
        let anomalies = read.join("anomalies.jsonl");
        apitap(&[
            "report",
            "--inventory",
            inv_path.to_str().unwrap(),
            "--anomalies",
            anomalies.to_str().unwrap(),
            "--consumers",
            cons_path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--title",
            "Weekly shadow-API report",
        ]);
        Run { read, out, inventory, anomalies, consumers, traffic, _dir: dir }
    })
}

/// Requests the page made, from chromium's net log: those with an initiator. The browser's
/// own background requests have the initiator "not an origin"; a file page's have "null".
fn page_requests(page: &Path) -> Vec<String> {
    let log_dir = tempfile::tempdir().unwrap();
    let log = log_dir.path().join("net.json");
    chromium(page, &[format!("--log-net-log={}", log.display()), "--dump-dom".into()]);
    let text = std::fs::read_to_string(&log).unwrap();
    // The log is closed on a clean exit; tolerate a missing tail all the same.
    let v: Value = serde_json::from_str(&text).or_else(|_| serde_json::from_str(&format!("{}]}}", text.trim_end().trim_end_matches(',')))).unwrap();
    let start = v["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].as_u64().unwrap();
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"].as_u64() == Some(start))
        .filter(|e| e["params"]["initiator"].as_str().is_some_and(|i| i != "not an origin"))
        .map(|e| e["params"]["url"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The number shown in the element carrying `data-count="name"`.
fn shown_count(dom: &str, name: &str) -> u64 {
    let marker = format!("data-count=\"{name}\">");
    let at = dom.find(&marker).unwrap_or_else(|| panic!("no data-count={name} on the page")) + marker.len();
    let text: String = dom[at..].chars().take_while(|c| *c != '<').collect();
    text.replace(',', "").trim().parse().unwrap_or_else(|_| panic!("data-count={name} shows {text:?}"))
}

/// Rows (cell texts) of the table with this id.
fn table_rows(dom: &str, id: &str) -> Vec<Vec<String>> {
    let start = dom.find(&format!("<table id=\"{id}\"")).unwrap_or_else(|| panic!("no table {id}"));
    let body = &dom[start..];
    let body = &body[body.find("<tbody>").unwrap()..body.find("</tbody>").unwrap()];
    body.split("<tr").skip(1).map(|row| row.split("<td").skip(1).map(|c| text_of(&c[c.find('>').unwrap() + 1..])).collect()).collect()
}

fn dom() -> &'static str {
    static DOM: OnceLock<String> = OnceLock::new();
    DOM.get_or_init(|| chromium(&run().out.join("report.html"), &["--dump-dom".into()]).0)
}

#[test]
fn the_console_check_catches_a_broken_page() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("broken.html");
    std::fs::write(&page, "<!DOCTYPE html><title>t</title><p>x</p><script>console.warn('w'); console.error('e'); nosuchfunction();</script>").unwrap();
    let msgs = console_messages(&page);
    assert_eq!(msgs.len(), 3, "{msgs:#?}");
    assert!(msgs.iter().any(|m| m.contains("nosuchfunction is not defined")), "{msgs:#?}");
}

#[test]
fn the_report_logs_nothing_to_the_console() {
    let msgs = console_messages(&run().out.join("report.html"));
    assert!(msgs.is_empty(), "console messages from the report: {msgs:#?}");
}

#[test]
fn the_network_check_catches_an_external_resource() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("external.html");
    std::fs::write(
        &page,
        r#"<!DOCTYPE html><title>t</title><link rel="stylesheet" href="http://fonts.invalid/a.css"><img src="https://img.invalid/b.png">"#,
    )
    .unwrap();
    let mut got = page_requests(&page);
    got.sort();
    assert_eq!(got, ["http://fonts.invalid/a.css", "https://img.invalid/b.png"]);
}

#[test]
fn the_report_loads_nothing() {
    let page = run().out.join("report.html");
    let requests = page_requests(&page);
    assert!(requests.is_empty(), "the report made requests: {requests:?}");
    // And nothing in the file could: no script, frame or link element, no attribute that
    // loads (src, an http(s) href), no CSS import or url(). Text from traffic is escaped, so
    // every `<` in the file opens one of the page's own tags.
    let html = std::fs::read_to_string(&page).unwrap();
    let tags: Vec<String> = html.split('<').skip(1).map(|t| t.split('>').next().unwrap().to_ascii_lowercase()).collect();
    for tag in &tags {
        let name = tag.split([' ', '/']).next().unwrap();
        assert!(!["script", "link", "iframe", "object", "embed", "img", "image", "use", "base", "meta http-equiv"].contains(&name), "<{tag}>");
        assert!(!tag.contains(" src=") && !tag.contains("xlink:href") && !tag.contains("http-equiv"), "<{tag}>");
        if let Some(h) = tag.split(" href=\"").nth(1) {
            assert!(h.starts_with('#'), "a link that is not an anchor: <{tag}>");
        }
    }
    let style = &html[html.find("<style>").unwrap()..html.find("</style>").unwrap()];
    assert!(!style.contains("url(") && !style.contains("@import") && !style.contains("@font-face"), "the stylesheet loads something");
}

#[test]
fn the_page_shows_the_counts_of_inventory_json() {
    let r = run();
    let dom = dom();
    let eps = r.inventory["endpoints"].as_array().unwrap();
    let class = |c: &str| eps.iter().filter(|e| e["classification"] == c).count() as u64;
    let sensitive: BTreeSet<(String, String, String)> = r.inventory["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "sensitive_data_without_authentication")
        .map(|f| (f["host"].to_string(), f["method"].to_string(), f["path"].to_string()))
        .collect();
    let services = r.inventory["services"].as_array().unwrap();
    let requests: u64 = services.iter().map(|s| s["requests"].as_u64().unwrap()).sum();
    assert!(class("shadow") >= 2 && class("zombie") > 0 && class("orphan") > 0 && sensitive.len() >= 2, "a dull scenario");
    for (name, want) in [
        ("endpoints", eps.len() as u64),
        ("shadow", class("shadow")),
        ("zombie", class("zombie")),
        ("orphan", class("orphan")),
        ("documented-total", class("documented")),
        ("shadow-total", class("shadow")),
        ("zombie-total", class("zombie")),
        ("orphan-total", class("orphan")),
        // No previous report: everything is new since the sensor started.
        ("new_shadow", class("shadow")),
        ("new_zombie", class("zombie")),
        ("sensitive_without_auth", sensitive.len() as u64),
        ("services", services.len() as u64),
        ("requests", requests),
    ] {
        assert_eq!(shown_count(dom, name), want, "data-count={name}");
    }
    // Open anomalies: the latest event of each finding, not closed.
    let mut latest: HashMap<String, (u64, String)> = HashMap::new();
    for line in std::fs::read_to_string(&r.anomalies).unwrap().lines() {
        let a: Value = serde_json::from_str(line).unwrap();
        let u = &a["unmapped"];
        let v = u["finding_version"].as_u64().unwrap();
        let e = latest.entry(u["finding_id"].as_str().unwrap().into()).or_insert((0, String::new()));
        if v > e.0 {
            *e = (v, u["lifecycle"].as_str().unwrap().into());
        }
    }
    let open = latest.values().filter(|(_, l)| l != "closed").count() as u64;
    assert_eq!(shown_count(dom, "open_anomalies"), open);
    assert_eq!(shown_count(dom, "open-anomalies-total"), open);
}

#[test]
fn the_page_lists_every_endpoint_of_inventory_json() {
    let r = run();
    let want: BTreeSet<(String, String, String, String)> = r.inventory["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap().to_string();
            (s("host"), s("method"), s("path"), s("classification"))
        })
        .collect();
    let rows = table_rows(dom(), "inventory");
    assert_eq!(rows.len(), want.len(), "one row per endpoint");
    let shown: BTreeSet<(String, String, String, String)> =
        rows.iter().map(|c| (c[0].clone(), c[1].clone(), c[2].clone(), c[3].split_whitespace().next().unwrap().to_string())).collect();
    assert_eq!(shown, want);
    // The lists by class hold the same endpoints.
    for class in ["shadow", "zombie", "orphan"] {
        let n = want.iter().filter(|e| e.3 == class).count();
        assert_eq!(table_rows(dom(), &format!("list-{class}")).len(), n, "{class} list");
    }
}

#[test]
fn planted_markup_is_shown_as_text_and_never_runs() {
    let r = run();
    let dom = dom();
    assert!(!dom.contains("<script"), "a script element in the rendered page");
    assert!(!dom.contains("<svg onload") && !dom.contains("<img"), "planted element rendered");
    // No element carries an event handler attribute.
    for tag in dom.split('<').skip(1).map(|t| t.split('>').next().unwrap()) {
        let lower = tag.to_ascii_lowercase();
        assert!(!lower.contains(" onmouseover") && !lower.contains(" onerror") && !lower.contains(" onload"), "handler in <{tag}>");
    }
    // The path and host are shown as the text they are.
    let rows = table_rows(dom, "sensitive");
    assert!(rows.iter().any(|c| c[0] == EVIL_HOST && c[2] == EVIL_PATH), "planted endpoint not shown as text: {rows:?}");
    assert!(table_rows(dom, "consumers").iter().any(|c| c[0].starts_with(EVIL_LABEL)));
    // The busiest consumer of the list is first.
    let top = r.consumers.iter().max_by_key(|c| c["requests"].as_u64().unwrap()).unwrap();
    assert!(table_rows(dom, "consumers")[0][0].starts_with(top["label"].as_str().unwrap()));
}

#[test]
fn the_traffic_chart_draws_every_service_with_its_total() {
    let r = run();
    let dom = dom();
    let with_traffic = r.traffic.values().filter(|n| **n > 0).count();
    assert!(with_traffic >= 3);
    assert_eq!(dom.matches("<polyline class=\"series\"").count(), with_traffic);
    for (host, total) in r.traffic.iter().filter(|(_, n)| **n > 0) {
        let legend = format!("{host} <b>{}</b>", fmt_count(*total));
        assert!(dom.contains(&legend), "legend {legend:?} missing");
    }
}

fn fmt_count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[test]
fn openapi_yaml_is_the_one_apitap_read_writes() {
    let r = run();
    let out = r.out.parent().unwrap().join("openapi-only");
    let inv = r.read.join("inventory.json");
    apitap(&["report", "--inventory", inv.to_str().unwrap(), "--out", out.to_str().unwrap(), "--formats", "openapi"]);
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1, "only the asked format");
    assert_eq!(std::fs::read(out.join("openapi.yaml")).unwrap(), std::fs::read(r.read.join("openapi.yaml")).unwrap());
}

#[test]
fn a_screenshot_is_kept() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-browser");
    std::fs::create_dir_all(&dir).unwrap();
    let shot = dir.join("report.png");
    let _ = std::fs::remove_file(&shot);
    chromium(&run().out.join("report.html"), &[format!("--screenshot={}", shot.display()), "--window-size=1400,2400".into()]);
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1400, 2400));
    // A blank page compresses to a few kilobytes; this one has charts and tables.
    assert!(png.len() > 100_000, "{} bytes: is the page blank?", png.len());
    std::fs::copy(run().out.join("report.html"), dir.join("report.html")).unwrap();
    println!("screenshot: {}", shot.display());
}
