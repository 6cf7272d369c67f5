//! How long body analysis, shape absorption and path-segment classification take, in
//! nanoseconds per item, on the traffic simulator's bodies and paths (`data/`: 380 request and
//! response bodies sampled by endpoint from a simulated open-banking capture, and 400 request
//! paths) and on bodies made to be full of sensitive values.
//!
//! Run: `cargo bench -p apitap-discovery --bench content` (release build). Each figure is the
//! best of several rounds of about 0.3 s; they are measurements for comparing builds on one
//! machine, never thresholds.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use apitap_discovery::content::{analyze_body, ContentLimits};
use apitap_discovery::inventory::Shape;
use apitap_discovery::template::classify;

const CORPUS: &str = include_str!("data/bodies.jsonl");
const PATHS: &str = include_str!("data/paths.txt");

/// The best time per item of `rounds` rounds, each running `f` over all items until about
/// `budget` has passed.
fn per_item(items: usize, mut f: impl FnMut()) -> f64 {
    let budget = Duration::from_millis(300);
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let start = Instant::now();
        let mut runs = 0u32;
        while start.elapsed() < budget || runs == 0 {
            f();
            runs += 1;
        }
        let ns = start.elapsed().as_nanos() as f64 / f64::from(runs) / items as f64;
        best = best.min(ns);
    }
    best
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
    let ns = per_item(bodies.len(), || {
        for (ct, body) in bodies {
            black_box(analyze_body(Some(ct), black_box(body), limits));
        }
    });
    let mb_s = bytes as f64 / bodies.len() as f64 / ns * 1000.0;
    println!(
        "analyze_body {name:<24} {:>4} bodies, {:>6} bytes mean: {ns:>9.0} ns/body {mb_s:>7.1} MB/s",
        bodies.len(),
        bytes / bodies.len()
    );
}

fn main() {
    let corpus = corpus();
    let limits = ContentLimits::default();
    let with_ids = ContentLimits {
        max_ids: 64,
        ..limits
    };
    bench_bodies("simulator", &corpus, &limits);
    bench_bodies("simulator, object ids", &corpus, &with_ids);
    bench_bodies("sensitive", &sensitive_bodies(), &limits);

    // Absorption: one endpoint's shape takes every body's fields (almost all already known).
    let facts: Vec<_> = corpus
        .iter()
        .map(|(ct, b)| analyze_body(Some(ct), b, &limits))
        .collect();
    let fields: usize = facts.iter().map(|f| f.shape.len()).sum();
    let mut shape = Shape::default();
    let ns = per_item(facts.len(), || {
        for f in &facts {
            for (path, ty) in &f.shape {
                shape.add(path, *ty, 256);
            }
        }
    });
    black_box(&shape);
    println!(
        "Shape::add    {:>4} bodies, {:.1} fields per body: {ns:>9.0} ns/body",
        facts.len(),
        fields as f64 / facts.len() as f64
    );

    let segments: Vec<&str> = PATHS
        .lines()
        .flat_map(|p| p.split('/'))
        .filter(|s| !s.is_empty())
        .collect();
    let ns = per_item(segments.len(), || {
        for s in &segments {
            black_box(classify(black_box(s)));
        }
    });
    println!(
        "classify      {:>4} segments: {ns:>9.1} ns/segment",
        segments.len()
    );
}
