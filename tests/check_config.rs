//! `apitap check-config FILE`: a good file is described, and each kind of mistake a run would
//! refuse is named with the file, the line where it can be located, and the fix.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn check(dir: &Path, name: &str, text: &str) -> Output {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    Command::new(env!("CARGO_BIN_EXE_apitap")).arg("check-config").arg(&path).output().unwrap()
}

#[test]
fn a_good_file_is_described_part_by_part() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "secret-value\n").unwrap();
    let text = common::uk_scenario_config()
        + &format!(
            "[kafka]\nbrokers = [\"k1:9093\", \"k2:9093\"]\n[kafka.sasl]\nmechanism = \"scram-sha-256\"\nusername = \"apitap\"\npassword_file = \"{}\"\n",
            pw.display()
        );
    let out = check(dir.path(), "good.toml", &text);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("good.toml: valid"), "{stdout}");
    assert!(stdout.contains("specs: 5 (1 superseded)"), "{stdout}");
    assert!(stdout.contains("time zone Europe/London"), "{stdout}");
    assert!(stdout.contains("brokers k1:9093,k2:9093") && stdout.contains("sasl SCRAM-SHA-256"), "{stdout}");
    assert!(!stdout.contains("secret-value"), "no secret in the description");
}

#[test]
fn each_mistake_names_the_file_the_line_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    // (file text, what stderr must say)
    let cases: [(&str, &[&str]); 8] = [
        ("[behaviour]\ntimezone = \"Europe/Lodnon\"\n", &["bad0.toml:1:", "not an IANA time zone", "Europe/London"]),
        ("[kafka]\nbrokers = [\"a:9092\"]\nacks = \"1\"\n", &["bad1.toml:3:", "unknown field `acks`", "docs/kafka.md"]),
        ("[kafka]\nbrokers = [\"a:9092\"]\n[kafka.extra]\n\"enable.idempotence\" = \"false\"\n", &["bad2.toml:1:", "enable.idempotence", "remove it"]),
        (
            "[kafka]\nbrokers = [\"a:9092\"]\n[kafka.sasl]\nmechanism = \"scram-sha-512\"\nusername = \"u\"\npassword_file = \"/nonexistent/apitap-pw\"\n",
            &["bad3.toml", "password_file", "/nonexistent/apitap-pw"],
        ),
        ("[[spec]]\nfile = \"missing-spec.yaml\"\n", &["missing-spec.yaml", "cannot read the spec"]),
        ("[identity]\ngeoip = [\"missing.mmdb\"]\n", &["bad5.toml", "missing.mmdb"]),
        ("[http2]\nmax_streams = 128\nmax_table_kib = 1\n", &["bad6.toml:3:", "[http2] max_table_kib", "4 to 65536"]),
        (
            "[inventory]\nmax_services = 10\ninternal_networks = [\"10.0.0.0/8\", \"10.0.0.300/8\"]\n",
            &["bad7.toml:3:", "[inventory] internal_networks", "10.0.0.300/8", "address/length"],
        ),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let out = check(dir.path(), &format!("bad{i}.toml"), text);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "case {i} passed: {text}");
        for w in *want {
            assert!(stderr.contains(w), "case {i}: {w:?} not in {stderr}");
        }
    }
}

/// deploy/apitap.example.toml is valid as shipped, and its commented-out keys are real keys:
/// uncommented, the file fails only on the files they name, never on a key.
#[test]
fn the_annotated_example_is_valid_and_its_commented_keys_are_real() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/apitap.example.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_apitap")).arg("check-config").arg(&example).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&example).unwrap();
    // An optional key is commented as `# key = value`, an optional table as `# [table]`.
    let is_key = |rest: &str| rest.split_once(" = ").is_some_and(|(k, _)| !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
    let uncommented: Vec<String> = text
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if (rest.starts_with('[') && rest.ends_with(']')) || is_key(rest) => rest.to_string(),
            _ => l.to_string(),
        })
        .collect();
    let changed = uncommented.iter().zip(text.lines()).filter(|(a, b)| a.as_str() != *b).count();
    assert!(changed >= 8, "the example's optional keys were uncommented: {changed}");
    // The copy sits beside the original, for its relative paths.
    let copy = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy").join(format!(".check-{}.toml", std::process::id()));
    std::fs::write(&copy, uncommented.join("\n")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_apitap")).arg("check-config").arg(&copy).output().unwrap();
    std::fs::remove_file(&copy).ok();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(!stderr.contains("unknown field"), "{stderr}");
    assert!(stderr.contains("/var/lib/GeoIP/GeoLite2-ASN.mmdb") || stderr.contains("/etc/apitap/"), "{stderr}");
}

/// One step of a path into the configuration: a key, and whether it holds an array of tables.
type Step = (String, bool);

/// A TOML document that sets `__probe` inside the table at `path` (nested inline tables).
fn probe_text(path: &[Step]) -> String {
    let mut value = "{ __probe = 1 }".to_string();
    for (i, (name, array)) in path.iter().enumerate().rev() {
        if *array {
            value = format!("[{value}]");
        }
        value = if i == 0 { format!("{name} = {value}") } else { format!("{{ {name} = {value} }}") };
    }
    if path.is_empty() {
        "__probe = 1\n".to_string()
    } else {
        format!("{value}\n")
    }
}

/// What check-config answers to `__probe` at `path`: the keys the table accepts (from serde's
/// "unknown field, expected one of" message), or `None` when `path` is not a table of keys.
fn probe(dir: &Path, path: &[Step]) -> Option<Vec<String>> {
    let out = check(dir, "probe.toml", &probe_text(path));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    if !stderr.contains("unknown field `__probe`") {
        return None;
    }
    let expected = stderr.split_once("expected").map_or("", |(_, rest)| rest);
    let fields: Vec<String> = expected.split('`').skip(1).step_by(2).map(String::from).collect();
    assert!(!fields.is_empty(), "no field list in {stderr}");
    Some(fields)
}

/// Every table the file accepts, by dotted name, with its keys: found by asking the real
/// binary, table by table, what it expects instead of an unknown key.
fn accepted_tables(dir: &Path) -> Vec<(String, Vec<String>)> {
    let mut tables = Vec::new();
    let mut todo: Vec<Vec<Step>> = vec![Vec::new()];
    while let Some(path) = todo.pop() {
        let Some(fields) = probe(dir, &path) else { continue };
        for f in &fields {
            let mut child = path.clone();
            child.push((f.clone(), false));
            let mut as_array = child.clone();
            if let Some(last) = as_array.last_mut() {
                last.1 = true;
            }
            // A sub-table or an array of tables is probed in turn; anything else is a value.
            if probe(dir, &child).is_some() {
                todo.push(child);
            } else if probe(dir, &as_array).is_some() {
                todo.push(as_array);
            }
        }
        let name = path.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(".");
        tables.push((name, fields));
    }
    tables
}

/// The tables (`[a.b]`, `[[a]]`) and `table key` pairs the example names, commented or not.
fn example_keys(text: &str) -> (std::collections::BTreeSet<String>, std::collections::BTreeSet<(String, String)>) {
    let mut tables = std::collections::BTreeSet::new();
    let mut keys = std::collections::BTreeSet::new();
    let mut table = String::new();
    for line in text.lines() {
        let l = line.strip_prefix("# ").unwrap_or(line).trim();
        if l.starts_with('[') && l.ends_with(']') {
            table = l.trim_matches(|c| c == '[' || c == ']').to_string();
            tables.insert(table.clone());
        } else if let Some((k, _)) = l.split_once(" = ") {
            if !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
                keys.insert((table.clone(), k.to_string()));
            }
        }
    }
    (tables, keys)
}

/// deploy/apitap.example.toml is complete: every key of every table the configuration accepts
/// appears in it, set or commented out.
#[test]
fn the_annotated_example_names_every_key_the_configuration_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let accepted = accepted_tables(dir.path());
    let names: Vec<&str> = accepted.iter().map(|(n, _)| n.as_str()).collect();
    // The probing must have found the nested tables, or it proves nothing.
    for t in ["", "store.retention", "metrics.tls", "kafka.sasl", "behaviour.bola", "limits.tcp", "limits.http", "spec"] {
        assert!(names.contains(&t), "table {t:?} not found by probing: {names:?}");
    }
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/apitap.example.toml")).unwrap();
    let (tables, keys) = example_keys(&text);
    let mut missing = Vec::new();
    for (table, fields) in &accepted {
        for f in fields {
            let sub = if table.is_empty() { f.clone() } else { format!("{table}.{f}") };
            if !keys.contains(&(table.clone(), f.clone())) && !tables.iter().any(|t| *t == sub || t.starts_with(&format!("{sub}."))) {
                missing.push(sub);
            }
        }
    }
    assert!(missing.is_empty(), "keys missing from deploy/apitap.example.toml: {missing:?}");
    let total: usize = accepted.iter().map(|(_, f)| f.len()).sum();
    assert!(total > 150, "only {total} keys found by probing");
}

#[test]
fn limit_mistakes_name_the_file_the_line_the_key_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[&str]); 7] = [
        ("[limits.tcp]\nmax_flows = 0\n", &["lim0.toml:2:", "[limits.tcp] max_flows", "at least 1", "262144"]),
        (
            "[capture]\ninterface = \"eth0\"\n\n[limits.tcp]\nmax_buffered_total = 1048576\nmax_buffered_per_dir = 4194304\n",
            &["lim1.toml:6:", "[limits.tcp] max_buffered_per_dir", "raise max_buffered_total to at least 4194304"],
        ),
        ("[limits.tcp]\nclosed_linger_secs = 1\nidle_timeout_secs = 0\n", &["lim2.toml:3:", "idle_timeout_secs", "1 to 86400", "default 300"]),
        ("[limits.http]\nmax_header_bytez = 4096\n", &["lim3.toml:2:", "unknown field `max_header_bytez`", "max_header_bytes", "docs/daemon.md"]),
        ("[limits.defrag]\ntimeout_secs = -1\n", &["lim4.toml:2:", "timeout_secs: invalid value", "not negative"]),
        ("[limits.defrag]\nmax_bytes_total = 1500\n", &["lim5.toml:2:", "[limits.defrag] max_bytes_total", "at least 65536"]),
        (
            "[inventory]\nmax_endpoints_total = 10\n",
            &["lim6.toml:1:", "[inventory] max_endpoints_per_service", "(2000) is larger than max_endpoints_total (10)", "raise"],
        ),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let out = check(dir.path(), &format!("lim{i}.toml"), text);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "case {i} passed: {text}");
        for w in *want {
            assert!(stderr.contains(w), "case {i}: {w:?} not in {stderr}");
        }
    }
    // The limits a good file sets are shown.
    let out = check(dir.path(), "ok.toml", "[limits.tcp]\nmax_flows = 5000\nmax_buffered_total = 33554432\n");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("limits: max flows 5000; TCP out-of-order buffer 32 MiB total"), "{stdout}");
}

/// Three connections open at once, their packets interleaved: each handshake, request and
/// response, then each close.
fn three_concurrent_connections(path: &Path) {
    use common::Conversation;
    let server = ("10.0.0.9".parse().unwrap(), 80);
    let convs: Vec<Conversation> = (0..3u16)
        .map(|i| {
            let req = format!("GET /accounts/{i} HTTP/1.1\r\nHost: api.bank.example\r\n\r\n");
            let resp = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
            Conversation::http(("10.0.0.1".parse().unwrap(), 40_001 + i), server, &[(req.as_bytes(), resp.as_slice())])
        })
        .collect();
    // Same timestamps in each conversation: ordering by (time, connection) interleaves them.
    let mut frames: Vec<(u64, usize, Vec<u8>)> =
        convs.iter().enumerate().flat_map(|(c, conv)| conv.packets.iter().map(move |(ts, _, ip)| (*ts, c, common::ethernet(ip, &[])))).collect();
    frames.sort_by_key(|(ts, c, _)| (*ts, *c));
    let frames: Vec<(u64, Vec<u8>)> = frames.into_iter().map(|(ts, _, f)| (ts, f)).collect();
    common::write_pcap(path, 1, false, &frames);
}

/// `[limits.tcp] max_flows` reaches the flow table of `apitap read --config`: with room for
/// three connections, three at once open three flows and none is evicted; with room for two,
/// connections are evicted.
#[test]
fn a_limit_in_the_file_reaches_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("three.pcap");
    three_concurrent_connections(&pcap);
    let run = |max_flows: usize| {
        let cfg = dir.path().join(format!("flows{max_flows}.toml"));
        std::fs::write(&cfg, format!("[limits.tcp]\nmax_flows = {max_flows}\n")).unwrap();
        let out_dir = dir.path().join(format!("out{max_flows}"));
        let out = common::apitap(&[
            "read".as_ref(),
            pcap.as_os_str(),
            "--config".as_ref(),
            cfg.as_os_str(),
            "--out".as_ref(),
            out_dir.as_os_str(),
            "--no-progress".as_ref(),
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap()).unwrap();
        let tcp = summary["stages"]["tcp"].clone();
        (tcp["evicted"].as_u64().unwrap(), tcp["flows_opened"].as_u64().unwrap(), summary["transactions"].as_u64().unwrap())
    };
    let (evicted, opened, transactions) = run(3);
    assert_eq!((evicted, opened, transactions), (0, 3, 3), "room for all three");
    let (evicted, opened, _) = run(2);
    assert!(evicted >= 1 && opened > 3, "two flows for three connections: {evicted} evicted, {opened} opened");
}
