//! `apitap intel check` on the hand-written feeds of `fixtures/intel/`: every entry that does
//! not load is named with its place (line or bundle object), validity follows `--at`, and a
//! feed that is not its format at all fails alone while the others still load.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/intel").join(name)
}

fn check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_apitap")).args(["intel", "check"]).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn every_bad_line_of_a_plain_list_is_named_and_the_rest_loads() {
    let list = fixture("list.txt");
    let content = std::fs::read_to_string(&list).unwrap();
    let o = check(&[list.to_str().unwrap(), "--at", "2026-11-22"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    // The lines the fixture's text shows are not an address, a network or a domain.
    for bad in ["10.0.0.0/33", "not a domain", "bad..example"] {
        let n = content.lines().position(|l| l.trim() == bad).unwrap() + 1;
        assert!(out.contains(&format!("list.txt: line {n}: ")), "line {n} ({bad}) not named:\n{out}");
    }
    let good = content.lines().map(|l| l.split('#').next().unwrap().trim()).filter(|l| !l.is_empty()).count() - 3;
    assert!(out.contains(&format!("{good} indicators loaded")), "{out}");
}

#[test]
fn validity_is_judged_at_the_time_given() {
    let bundle = fixture("bundle.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&bundle).unwrap()).unwrap();
    // The one indicator of the fixture with a valid_until in the past of 2026-11-22.
    let objects = v["objects"].as_array().unwrap();
    let (i, expired) = objects.iter().enumerate().find(|(_, o)| o["valid_until"].as_str().is_some_and(|u| u < "2026")).unwrap();
    let id = expired["id"].as_str().unwrap();
    let o = check(&[bundle.to_str().unwrap(), "--at", "2026-11-22"]);
    let out = text(&o.stdout);
    assert!(out.contains(&format!("object {} ('{id}'): expired", i + 1)), "{out}");
    // Before its end it is valid, and nothing is expired.
    let before = expired["valid_until"].as_str().unwrap().get(..10).unwrap().to_string();
    let o = check(&[bundle.to_str().unwrap(), "--at", &format!("{}-01", &before[..7])]);
    let out = text(&o.stdout);
    assert!(!out.contains("expired:"), "{out}");
    assert!(out.contains("(0 expired)"), "{out}");
}

#[test]
fn a_feed_that_is_not_its_format_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.json");
    let whole = std::fs::read_to_string(fixture("bundle.json")).unwrap();
    std::fs::write(&cut, &whole[..whole.len() / 2]).unwrap();
    let o = check(&[cut.to_str().unwrap(), fixture("misp.csv").to_str().unwrap(), "--at", "2026-11-22"]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains(&format!("{}: not a STIX 2.1 bundle: ", cut.display())), "{err}");
    let out = text(&o.stdout);
    assert!(out.contains("misp.csv: MISP CSV export: ") && out.contains("set: ") && out.contains("from 1 feeds"), "{out}");
    // A format named on the command line wins over the file's name.
    let o = check(&[fixture("list.txt").to_str().unwrap(), "--format", "stix"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
}
