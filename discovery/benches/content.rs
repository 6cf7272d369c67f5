//! How long body analysis, shape absorption and path-segment classification take, in
//! nanoseconds per item, on the traffic simulator's bodies and paths (`data/`: 380 request and
//! response bodies sampled by endpoint from a simulated open-banking capture, and 400 request
//! paths) and on bodies made to be full of sensitive values.
//!
//! Each figure is given for the library and for the implementation before its optimisation
//! (the oracle of tests/content_equivalence.rs, compiled here the same way), measured in turns
//! so that a busy machine slows both alike.
//!
//! `skim` compares the skim that lets the inventory leave a body unanalysed (`skim_body`,
//! with object ids) with the full analysis of the same bodies (shown as "before").
//!
//! Run: `cargo bench -p apitap-discovery --bench content [-- simulator|ids|sensitive|skim|absorb|classify]`
//! (release build). Each figure is the best of several rounds of about 0.2 s; they are
//! measurements for comparing builds on one machine, never thresholds. On a busy machine,
//! count instructions instead: `perf stat -e instructions:u BENCH simulator now passes=100`
//! runs 100 passes of only the library's code (`before`: only the old), without timing.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use apitap_discovery::content::{analyze_body, skim_body, ContentLimits, JsonType};
use apitap_discovery::inventory::Shape;
use apitap_discovery::template::classify;

#[path = "../tests/reference/mod.rs"]
mod reference;

const CORPUS: &str = include_str!("data/bodies.jsonl");
const PATHS: &str = include_str!("data/paths.txt");

/// What to run, from the command line.
struct Mode {
    sections: Vec<String>,
    /// Fixed passes of one side only (`now` or `before`), untimed, for counting instructions.
    passes: Option<(u32, bool)>,
}

static MODE: std::sync::OnceLock<Mode> = std::sync::OnceLock::new();

fn mode() -> &'static Mode {
    MODE.get_or_init(|| {
        // `cargo bench` passes `--bench`.
        let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
        let passes = args
            .iter()
            .find_map(|a| a.strip_prefix("passes=")?.parse().ok())
            .map(|n| (n, !args.iter().any(|a| a == "before")));
        let sections = args
            .into_iter()
            .filter(|a| !a.starts_with("passes=") && a != "now" && a != "before")
            .collect();
        Mode { sections, passes }
    })
}

/// The best time per item of `f` (now) and `g` (before) over several rounds, taken in turns,
/// each round running over all items until about 0.2 s has passed.
fn per_item(items: usize, mut f: impl FnMut(), mut g: impl FnMut()) -> (f64, f64) {
    if let Some((n, now)) = mode().passes {
        for _ in 0..n {
            if now {
                f();
            } else {
                g();
            }
        }
        return (f64::NAN, f64::NAN);
    }
    let budget = Duration::from_millis(200);
    let round = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        let mut runs = 0u32;
        while start.elapsed() < budget || runs == 0 {
            f();
            runs += 1;
        }
        start.elapsed().as_nanos() as f64 / f64::from(runs) / items as f64
    };
    let (mut now, mut before) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..6 {
        now = now.min(round(&mut f));
        before = before.min(round(&mut g));
    }
    (now, before)
}

fn show(what: &str, unit: &str, (now, before): (f64, f64)) {
    println!(
        "{what:<58} {now:>9.0} ns/{unit} (before {before:>9.0}: {:.2}x)",
        before / now
    );
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    CORPUS
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["content_type"].as_str().unwrap().to_string(),
                v["body"].as_str().unwrap().as_bytes().to_vec(),
            )
        })
        .collect()
}

/// Open-banking responses and free text in which every detector has work: card numbers,
/// IBANs, e-mail addresses, phone numbers, national ids and JWTs among ordinary fields.
fn sensitive_bodies() -> Vec<(String, Vec<u8>)> {
    let jwt = "eyJhbGciOiJQUzI1NiIsImtpZCI6IjEyMyJ9.eyJzdWIiOiJhY2MtMTIzIiwic2NvcGUiOiJhY2NvdW50cyJ9.c2lnbmF0dXJlLWJ5dGVzLWhlcmU";
    let mut out = Vec::new();
    for i in 0..40u32 {
        let mut accounts = Vec::new();
        for k in 0..(1 + i % 6) {
            accounts.push(format!(
                r#"{{"AccountId":"acc-{i}-{k}","Currency":"GBP","Nickname":"Bills {k}","Account":[{{"SchemeName":"UK.OBIE.IBAN","Identification":"GB82WEST12345698765432","Name":"Mrs Jane Doe"}},{{"SchemeName":"UK.OBIE.PAN","Identification":"4111 1111 1111 1111"}}],"Contact":{{"Email":"jane.doe{k}@example.co.uk","PhoneNumber":"+44 7700 900{k:03}","Mobile":"07700900123"}},"Party":{{"document":{{"identification":"11144477735","rel":"CPF"}},"NI":"AB123456C","SSN":"536-22-1234"}},"Balance":{{"Amount":"1234.56","CreditDebitIndicator":"Credit"}},"Links":{{"Self":"https://api.bank.example/accounts/acc-{i}-{k}"}}}}"#
            ));
        }
        let body = format!(
            r#"{{"Data":{{"Account":[{}]}},"Token":"{jwt}","Links":{{"Self":"https://api.bank.example/accounts"}},"Meta":{{"TotalPages":{i}}}}}"#,
            accounts.join(",")
        );
        out.push(("application/json".to_string(), body.into_bytes()));
    }
    for i in 0..20u32 {
        let text = format!(
            "Payment {i} to GB82 WEST 1234 5698 7654 32 by card 5555-5555-5555-4444 on 2026-01-{:02}; \
             contact support{i}@bank.example or +44 20 7946 0958. CPF 111.444.777-35, CNPJ 11.222.333/0001-81. \
             Bearer {jwt} ref ORD-2026-{i:06} amount 1,234.56 GBP. ",
            1 + i % 28
        )
        .repeat(1 + (i as usize % 4));
        out.push(("text/plain".to_string(), text.into_bytes()));
    }
    out
}

fn bench_bodies(name: &str, bodies: &[(String, Vec<u8>)], limits: &ContentLimits) {
    let bytes: usize = bodies.iter().map(|(_, b)| b.len()).sum();
    let times = per_item(
        bodies.len(),
        || {
            for (ct, body) in bodies {
                black_box(analyze_body(Some(ct), black_box(body), limits));
            }
        },
        || {
            for (ct, body) in bodies {
                black_box(reference::content::analyze_body(Some(ct), black_box(body), limits));
            }
        },
    );
    show(
        &format!(
            "analyze_body {name}, {} bodies of {} bytes",
            bodies.len(),
            bytes / bodies.len()
        ),
        "body",
        times,
    );
}

fn main() {
    let only = &mode().sections;
    let run = |section: &str| only.is_empty() || only.iter().any(|o| section.contains(o.as_str()));
    let corpus = corpus();
    let limits = ContentLimits::default();
    let with_ids = ContentLimits {
        max_ids: 64,
        ..limits
    };
    if run("analyze simulator") {
        bench_bodies("simulator", &corpus, &limits);
    }
    if run("analyze ids") {
        bench_bodies("simulator, object ids", &corpus, &with_ids);
    }
    if run("analyze sensitive") {
        bench_bodies("sensitive", &sensitive_bodies(), &limits);
    }
    if run("skim") {
        let bytes: usize = corpus.iter().map(|(_, b)| b.len()).sum();
        let times = per_item(
            corpus.len(),
            || {
                for (ct, body) in &corpus {
                    black_box(skim_body(Some(ct), black_box(body), &with_ids));
                }
            },
            || {
                for (ct, body) in &corpus {
                    black_box(analyze_body(Some(ct), black_box(body), &with_ids));
                }
            },
        );
        show(&format!("skim_body (before: analyze_body), {} bodies of {} bytes", corpus.len(), bytes / corpus.len()), "body", times);
    }
    if run("absorb") {
        absorb(&corpus, &limits);
    }
    if run("classify") {
        segments();
    }
}

fn absorb(corpus: &[(String, Vec<u8>)], limits: &ContentLimits) {

    // Absorption: one endpoint's shape takes every body's fields (almost all already known).
    let facts: Vec<_> = corpus
        .iter()
        .map(|(ct, b)| analyze_body(Some(ct), b, limits))
        .collect();
    let fields: usize = facts.iter().map(|f| f.shape.len()).sum();
    let mut shape = Shape::default();
    let mut fields_before = BTreeMap::new();
    let times = per_item(
        facts.len(),
        || {
            for f in &facts {
                for (path, ty) in &f.shape {
                    shape.add(path, *ty, 256);
                }
            }
        },
        || {
            for f in &facts {
                for (path, ty) in &f.shape {
                    reference_add(&mut fields_before, path, *ty, 256);
                }
            }
        },
    );
    black_box((&shape, &fields_before));
    show(
        &format!(
            "Shape::add, {} bodies of {:.1} fields",
            facts.len(),
            fields as f64 / facts.len() as f64
        ),
        "body",
        times,
    );
}

/// `inventory::Shape::add` before its optimisation.
fn reference_add(fields: &mut BTreeMap<String, Vec<JsonType>>, path: &str, ty: JsonType, max: usize) {
    if let Some(types) = fields.get_mut(path) {
        if !types.contains(&ty) {
            types.push(ty);
            types.sort();
        }
    } else if fields.len() < max {
        fields.insert(path.to_string(), vec![ty]);
    }
}

fn segments() {

    let segments: Vec<&str> = PATHS
        .lines()
        .flat_map(|p| p.split('/'))
        .filter(|s| !s.is_empty())
        .collect();
    let times = per_item(
        segments.len(),
        || {
            for s in &segments {
                black_box(classify(black_box(s)));
            }
        },
        || {
            for s in &segments {
                black_box(reference::template::classify(black_box(s)));
            }
        },
    );
    show(
        &format!("classify, {} path segments", segments.len()),
        "segment",
        times,
    );
}
