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
    let cases: [(&str, &[&str]); 6] = [
        ("[behaviour]\ntimezone = \"Europe/Lodnon\"\n", &["bad0.toml:1:", "not an IANA time zone", "Europe/London"]),
        ("[kafka]\nbrokers = [\"a:9092\"]\nacks = \"1\"\n", &["bad1.toml:3:", "unknown field `acks`", "docs/kafka.md"]),
        ("[kafka]\nbrokers = [\"a:9092\"]\n[kafka.extra]\n\"enable.idempotence\" = \"false\"\n", &["bad2.toml:1:", "enable.idempotence", "remove it"]),
        (
            "[kafka]\nbrokers = [\"a:9092\"]\n[kafka.sasl]\nmechanism = \"scram-sha-512\"\nusername = \"u\"\npassword_file = \"/nonexistent/apitap-pw\"\n",
            &["bad3.toml", "password_file", "/nonexistent/apitap-pw"],
        ),
        ("[[spec]]\nfile = \"missing-spec.yaml\"\n", &["missing-spec.yaml", "cannot read the spec"]),
        ("[identity]\ngeoip = [\"missing.mmdb\"]\n", &["bad5.toml", "missing.mmdb"]),
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
    // An optional key is commented as `# key = value` or `# [kafka.table]`.
    let is_key = |rest: &str| rest.split_once(" = ").is_some_and(|(k, _)| !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
    let uncommented: Vec<String> = text
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if rest.starts_with("[kafka.") || is_key(rest) => rest.to_string(),
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
