//! The optimised body analysis, segment classification and shape absorption give exactly what
//! the implementation before the optimisation gave (kept in `reference/` as the oracle), on
//! thousands of generated and mutated inputs: the simulator's bodies cut at random places and
//! mutated byte by byte, random JSON with sensitive values in keys and values, deep nesting,
//! huge strings, escapes, forms, text, and every limit set small. On every one of those inputs
//! the skim (`skim_body`, the scanner without detectors that decides whether a body may be
//! left unanalysed) gives the kind, JSON flag, truncation, shape hashes and object ids of the
//! full analysis of the same body.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]

mod reference;

use std::collections::BTreeMap;

use apitap_discovery::content::{analyze_body, body_kind, skim_body, BodyFacts, BodySkim, ContentLimits, JsonType};
use apitap_discovery::inventory::Shape;
use apitap_discovery::template::classify;

/// The simulator's bodies (the benchmark's corpus): content type and body per line.
const CORPUS: &str = include_str!("../benches/data/bodies.jsonl");
/// Request paths of the same traffic.
const PATHS: &str = include_str!("../benches/data/paths.txt");

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

/// xorshift64*: a fixed-seed generator so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Values the detectors fire on (or nearly do), as they appear in traffic.
const SENSITIVE: &[&str] = &[
    "4111111111111111",
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "5555555555554444",
    "378282246310005",
    "30569309025904",
    "3056 930902 5904",
    "4222222222222",
    "6011111111111117",
    "4111111111111112",
    "41111111111111111234",
    "4111 1111 1111 1111 2222",
    "GB82WEST12345698765432",
    "GB82 WEST 1234 5698 7654 32",
    "DE89370400440532013000",
    "FR1420041010050500013M02606",
    "GB83WEST12345698765432",
    "jane.doe@example.com",
    "j+tag@mail.example.co.uk",
    "logo@2x.png",
    "a@b.io",
    "+44 7700 900123",
    "+447700900123",
    "+55 (11) 98765-4321",
    "(11) 98765-4321",
    "07700900123",
    "+12345678.90",
    "AB123456C",
    "AB 12 34 56 C",
    "GB123456C",
    "111.444.777-35",
    "111444777-35",
    "11144477735",
    "11.222.333/0001-81",
    "12.ABC.345/01DE-35",
    "11222333000181",
    "12ABC34501DE35",
    "536-22-1234",
    "123-45-6789",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "2026-08-10T21:01:50+00:00",
    "1700000000000",
    "1234.56",
    "-42",
    "0",
];

/// Field names that steer the detectors, and ordinary ones.
const NAMES: &[&str] = &[
    "Data",
    "Account",
    "AccountId",
    "accountId",
    "consent_id",
    "id",
    "ID",
    "Identification",
    "SchemeName",
    "cardNumber",
    "pan",
    "PrimaryAccountNumber",
    "maskedPAN",
    "phone",
    "phones",
    "MobileNumber",
    "tel",
    "hotel",
    "number",
    "cpf",
    "cnpj",
    "partieCnpjCpf",
    "document",
    "documents",
    "identification",
    "taxId",
    "orderNumber",
    "serialNo",
    "TransactionId",
    "Amount",
    "amountMinor",
    "email",
    "Links",
    "Meta",
    "TotalPages",
    "paymentMethod",
    "value",
    "",
    "a.b",
    "x[]",
    "123",
    "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "jane@example.com",
    "v2",
    "na\\u006De",
    "tab\\tkey",
    "\\u00e9t\\u00e9",
    "k\\\"q",
    "\u{e9}l\u{e8}ve",
];

/// A JSON string literal with `text` inside, sometimes with escapes.
fn string_lit(rng: &mut Rng, text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if rng.chance(3) && c.is_ascii() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if rng.chance(1) => out.push_str(&format!("\\u{:04x}", c as u32 & 0xFFFF)),
            c => out.push(c),
        }
    }
    if rng.chance(2) {
        out.push_str(rng.pick(&["\\ud83d\\ude00", "\\ud800", "\\n", "\\/", "\\b\\f\\r\\t"]));
    }
    out.push('"');
    out
}

fn text_value(rng: &mut Rng) -> String {
    match rng.below(10) {
        0..=3 => rng.pick(SENSITIVE).to_string(),
        4 => format!(
            "{} {} {}",
            rng.pick(&["see", "ref", "card", "qty 12", "mail:"]),
            rng.pick(SENSITIVE),
            rng.pick(&["now", "", ".", "x", "2 items"])
        ),
        5 => "x".repeat(rng.below(3000)),
        6 => {
            let mut s = String::new();
            for _ in 0..rng.below(2000) {
                s.push(rng.pick(&['a', '1', ' ', '-', '.', '@', '+', 'G', 'B', '/', ':', '9', 'é']));
            }
            s
        }
        7 => format!("{}{}", rng.pick(SENSITIVE), rng.pick(SENSITIVE)),
        _ => rng.pick(NAMES).to_string(),
    }
}

fn value(rng: &mut Rng, depth: usize, out: &mut String) {
    let container = depth < 40 && rng.chance(if depth < 3 { 60 } else { 25 });
    if container {
        if rng.chance(55) {
            out.push('{');
            for i in 0..rng.below(7) {
                if i > 0 {
                    out.push(',');
                }
                if rng.chance(10) {
                    out.push_str(" \n\t");
                }
                let name = if rng.chance(85) {
                    let n = rng.pick(NAMES);
                    if n.contains('\\') {
                        format!("\"{n}\"")
                    } else {
                        string_lit(rng, n)
                    }
                } else {
                    let t = text_value(rng);
                    string_lit(rng, &t)
                };
                out.push_str(&name);
                out.push(':');
                value(rng, depth + 1, out);
            }
            out.push('}');
        } else {
            out.push('[');
            for i in 0..rng.below(5) {
                if i > 0 {
                    out.push_str(", ");
                }
                value(rng, depth + 1, out);
            }
            out.push(']');
        }
        return;
    }
    match rng.below(12) {
        0 => out.push_str("null"),
        1 => out.push_str(rng.pick(&["true", "false"])),
        2 => out.push_str(rng.pick(&["4111111111111111", "11144477735", "5511987654321", "1700000000000", "1234567890"])),
        3 => out.push_str(rng.pick(&["-12.5e+3", "1.0E-2", "0", "-0", "42", "3.14"])),
        _ => {
            let t = text_value(rng);
            let lit = string_lit(rng, &t);
            out.push_str(&lit);
        }
    }
}

fn random_json(rng: &mut Rng) -> Vec<u8> {
    let mut s = String::new();
    if rng.chance(3) {
        s.push('\u{FEFF}');
    }
    if rng.chance(5) {
        s.push_str(" \r\n");
    }
    value(rng, 0, &mut s);
    s.into_bytes()
}

/// A cut, a flipped or inserted byte, a deleted run, or a sensitive value spliced in.
fn mutate(rng: &mut Rng, body: &mut Vec<u8>) {
    if body.is_empty() {
        return;
    }
    match rng.below(6) {
        0 => body.truncate(rng.below(body.len() + 1)),
        1 => {
            let i = rng.below(body.len());
            body[i] = rng.pick(b"{}[]\":,\\ 0a9-.@+\x00\x1f\xff\xc3");
        }
        2 => {
            let i = rng.below(body.len());
            body.insert(i, rng.pick(b"{}[]\":,\\ 0a9-.@+"));
        }
        3 => {
            let i = rng.below(body.len());
            let n = rng.below(20).min(body.len() - i);
            body.drain(i..i + n);
        }
        _ => {
            let i = rng.below(body.len());
            let v = rng.pick(SENSITIVE).as_bytes().to_vec();
            body.splice(i..i, v);
        }
    }
}

fn limits(rng: &mut Rng) -> ContentLimits {
    let d = ContentLimits::default();
    if rng.chance(50) {
        return ContentLimits { max_ids: rng.pick(&[0, 0, 4, 64]), ..d };
    }
    ContentLimits {
        max_bytes: rng.pick(&[d.max_bytes, 0, 1, 17, 300, 4096]),
        max_depth: rng.pick(&[d.max_depth, 0, 1, 2, 5]),
        max_fields: rng.pick(&[d.max_fields, 0, 1, 3, 10]),
        max_path_bytes: rng.pick(&[d.max_path_bytes, 0, 1, 2, 5, 12, 30]),
        max_string_bytes: rng.pick(&[d.max_string_bytes, 0, 1, 8, 15, 16, 17, 40]),
        max_ids: rng.pick(&[0, 1, 4, 64]),
    }
}

const CONTENT_TYPES: &[Option<&str>] = &[
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("application/problem+json"),
    Some("application/x-www-form-urlencoded"),
    Some("text/plain"),
    Some("text/html"),
    Some("application/octet-stream"),
    None,
];

/// Checks one input; returns the facts so a test can say its inputs reached the cases it means.
fn check(ct: Option<&str>, body: &[u8], limits: &ContentLimits) -> BodyFacts {
    let want: BodyFacts = reference::content::analyze_body(ct, body, limits);
    let got = analyze_body(ct, body, limits);
    assert_eq!(
        got,
        want,
        "content type {ct:?}, limits {limits:?}, body {:?}",
        String::from_utf8_lossy(body)
    );
    assert_eq!(got.object_ids, want.object_ids);
    // The skim's shape hashes come from its own scan of the bytes; those of the full facts
    // from hashing the path strings the full analysis recorded.
    let prefix = body.get(..limits.max_bytes).unwrap_or(body);
    let skim = skim_body(ct, body, limits);
    assert_eq!(
        skim,
        BodySkim::of_facts(body_kind(ct, prefix), &got),
        "skim: content type {ct:?}, limits {limits:?}, body {:?}",
        String::from_utf8_lossy(body)
    );
    assert_eq!(skim.keys.len(), if got.json { got.shape.len() } else { 0 });
    got
}

/// How many of the checked inputs showed each kind of fact.
#[derive(Default, Debug)]
struct Reach {
    inputs: usize,
    json: usize,
    sensitive: usize,
    truncated: usize,
    ids: usize,
    shaped: usize,
}

impl Reach {
    fn add(&mut self, f: &BodyFacts) {
        self.inputs += 1;
        self.json += usize::from(f.json);
        self.sensitive += usize::from(!f.sensitive.is_empty());
        self.truncated += usize::from(f.truncated);
        self.ids += usize::from(!f.object_ids.is_empty());
        self.shaped += usize::from(!f.shape.is_empty());
    }

    /// Every kind of fact was seen in at least `percent` of the inputs.
    fn assert_each(&self, percent: usize) {
        let least = self.inputs * percent / 100;
        for n in [self.json, self.sensitive, self.truncated, self.ids, self.shaped] {
            assert!(n >= least, "{self:?}");
        }
    }
}

#[test]
fn simulator_bodies_whole_cut_and_mutated() {
    let corpus = corpus();
    let mut rng = Rng(0x5EED_0001);
    let mut reach = Reach::default();
    for (ct, body) in &corpus {
        check(Some(ct), body, &ContentLimits::default());
        check(Some(ct), body, &ContentLimits { max_ids: 64, ..ContentLimits::default() });
        for _ in 0..6 {
            let mut b = body.clone();
            for _ in 0..1 + rng.below(3) {
                mutate(&mut rng, &mut b);
            }
            let lim = limits(&mut rng);
            let ct = if rng.chance(80) { Some(ct.as_str()) } else { rng.pick(CONTENT_TYPES) };
            reach.add(&check(ct, &b, &lim));
        }
    }
    assert!(reach.inputs >= 2000, "{reach:?}");
    reach.assert_each(5);
}

#[test]
fn random_json_with_sensitive_keys_and_values() {
    let mut rng = Rng(0x5EED_0002);
    let mut reach = Reach::default();
    for _ in 0..3000 {
        let mut body = random_json(&mut rng);
        if rng.chance(30) {
            mutate(&mut rng, &mut body);
        }
        let lim = limits(&mut rng);
        let ct = rng.pick(CONTENT_TYPES);
        check(ct, &body, &lim);
        reach.add(&check(Some("application/json"), &body, &lim));
    }
    reach.assert_each(5);
}

#[test]
fn text_and_forms() {
    let mut rng = Rng(0x5EED_0003);
    for _ in 0..2000 {
        let mut s = String::new();
        let form = rng.chance(50);
        for i in 0..rng.below(12) {
            if form {
                if i > 0 {
                    s.push('&');
                }
                s.push_str(rng.pick(NAMES));
                if rng.chance(90) {
                    s.push('=');
                }
                let v = text_value(&mut rng);
                for c in v.chars() {
                    match c {
                        ' ' if rng.chance(50) => s.push('+'),
                        '@' | '+' | '/' if rng.chance(50) => s.push_str(&format!("%{:02X}", c as u32)),
                        c => s.push(c),
                    }
                }
                if rng.chance(5) {
                    s.push_str(rng.pick(&["%", "%4", "%zz", "=="]));
                }
            } else {
                s.push_str(&text_value(&mut rng));
                s.push_str(rng.pick(&[" ", "\n", ", ", "", ";", "\t"]));
            }
        }
        let mut body = s.into_bytes();
        if rng.chance(20) {
            mutate(&mut rng, &mut body);
        }
        let lim = limits(&mut rng);
        let ct = if form { Some("application/x-www-form-urlencoded") } else { rng.pick(CONTENT_TYPES) };
        check(ct, &body, &lim);
    }
}

#[test]
fn deep_nesting_huge_strings_and_random_bytes() {
    let mut rng = Rng(0x5EED_0004);
    let json = Some("application/json");
    for depth in [1usize, 2, 31, 32, 33, 100, 5000] {
        let mut s = "[{\"a\":".repeat(depth);
        s.push_str("\"4111111111111111\"");
        s.push_str(&"}]".repeat(depth));
        check(json, s.as_bytes(), &ContentLimits::default());
        check(json, s.get(..s.len() / 2).unwrap().as_bytes(), &ContentLimits::default());
        let brackets = "[".repeat(depth) + &"]".repeat(depth);
        check(json, brackets.as_bytes(), &ContentLimits::default());
    }
    for len in [1023usize, 1024, 1025, 70_000] {
        let long = format!("{{\"note\":\"{} jane@example.com {}\",\"k\":1}}", "x".repeat(len), "9".repeat(len));
        check(json, long.as_bytes(), &ContentLimits::default());
        let escaped = format!("{{\"note\":\"{}\"}}", "\\u0041\\n".repeat(len / 4));
        check(json, escaped.as_bytes(), &ContentLimits::default());
    }
    let long_key = format!("{{\"{}\":1,\"{}\":[{{\"b\":2}}]}}", "k".repeat(300), "j".repeat(250));
    check(json, long_key.as_bytes(), &ContentLimits::default());
    for _ in 0..1500 {
        let n = rng.below(400);
        let body: Vec<u8> = (0..n)
            .map(|_| {
                if rng.chance(60) {
                    rng.pick(b"{}[]\":,\\ \t\n0123456789-.eE+@aAZtrufalsn")
                } else {
                    rng.next() as u8
                }
            })
            .collect();
        let lim = limits(&mut rng);
        check(rng.pick(CONTENT_TYPES), &body, &lim);
    }
}

#[test]
fn every_prefix_of_some_simulator_bodies() {
    let corpus = corpus();
    let json = ContentLimits { max_ids: 16, ..ContentLimits::default() };
    for (ct, body) in corpus.iter().take(12) {
        for k in 0..=body.len().min(3000) {
            check(Some(ct), &body[..k], &json);
        }
    }
}

fn random_segment(rng: &mut Rng) -> String {
    let alphabet: &[u8] = rng.pick(&[
        b"0123456789".as_slice(),
        b"0123456789abcdef",
        b"0123456789ABCDEF",
        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~+=",
        b"abcdefghijklmnopqrstuvwxyz",
        b"0123456789- ",
        b"0123456789-:TZ+",
        b"abc@.-xyz0",
    ]);
    let n = rng.below(70);
    (0..n).map(|_| char::from(rng.pick(alphabet))).collect()
}

#[test]
fn segment_classification() {
    let mut rng = Rng(0x5EED_0005);
    let mut segments: Vec<String> = PATHS
        .lines()
        .flat_map(|p| p.split('/'))
        .map(str::to_string)
        .collect();
    segments.extend(SENSITIVE.iter().map(|s| s.to_string()));
    segments.extend(NAMES.iter().map(|s| s.to_string()));
    segments.extend(
        [
            "REDACTED",
            "2024-02-29",
            "2023-02-29",
            "2024-01-31T10:30",
            "20240131T103000Z",
            "2024-01-31 10:30:00.123+01:00",
            "{3fa85f64-5717-4562-b3fc-2c963f66afa6}",
            "12-34-56-12345678",
            "0001-1234567-8",
            "1234-5-123456-7",
            "1234567-X",
            "XMLHttpRequest",
            "getAccountsV2",
            "pain.001-sepa-credit-transfers",
            "cnpjCpfNumber",
            "facilypay_10x",
            "d41d8cd98f00b204e9800998ecf8427e",
            "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709",
            "gb82west12345698765432",
            "eyJ.eyJ.",
            "\u{e9}t\u{e9}",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    for _ in 0..5000 {
        segments.push(random_segment(&mut rng));
    }
    for s in &segments {
        assert_eq!(classify(s), reference::template::classify(s), "{s:?}");
    }
}

/// The inventory's per-endpoint shape as it was absorbed before: a map of path to sorted types.
fn reference_add(fields: &mut BTreeMap<String, Vec<JsonType>>, dropped: &mut u64, path: &str, ty: JsonType, max: usize) {
    if let Some(types) = fields.get_mut(path) {
        if !types.contains(&ty) {
            types.push(ty);
            types.sort();
        }
    } else if fields.len() < max {
        fields.insert(path.to_string(), vec![ty]);
    } else {
        *dropped += 1;
    }
}

#[test]
fn shape_absorption() {
    let corpus = corpus();
    let mut rng = Rng(0x5EED_0006);
    let types = [
        JsonType::Null,
        JsonType::Bool,
        JsonType::Integer,
        JsonType::Number,
        JsonType::String,
        JsonType::Object,
        JsonType::Array,
    ];
    for max in [0usize, 1, 5, 40, 256] {
        let mut shape = Shape::default();
        let mut fields = BTreeMap::new();
        let mut dropped = 0u64;
        for (ct, body) in corpus.iter().take(150) {
            let facts = analyze_body(Some(ct), body, &ContentLimits::default());
            for (path, ty) in &facts.shape {
                let ty = if rng.chance(5) { rng.pick(&types) } else { *ty };
                shape.add(path, ty, max);
                reference_add(&mut fields, &mut dropped, path, ty, max);
            }
        }
        assert_eq!(shape.fields, fields, "max {max}");
        assert_eq!(shape.dropped, dropped, "max {max}");
    }
}
