//! The templater on mixed traffic: what the final templates are, that fixed vocabularies
//! stay literal while identifiers merge, and how refine and the generation follow merges.
//!
//! Expected templates are written by hand from how the traffic was generated, never read
//! back from the templater.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use apitap_discovery::openapi::load_spec;
use apitap_discovery::template::{
    split_path, MergeReason, PathTemplater, Template, TemplateConfig, TemplateEvent,
    TemplateSegment,
};

/// A small deterministic generator.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn chars(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| char::from(alphabet[self.below(alphabet.len())]))
            .collect()
    }

    fn uuid(&mut self) -> String {
        let h = format!("{:016x}{:016x}", self.next(), self.next());
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }

    /// A lower-case word-like slug: no digits, so only the general new-values rule applies.
    fn slug(&mut self) -> String {
        let len = 5 + self.below(6);
        self.chars(b"abcdefghijklmnopqrstuvwxyz", len)
    }
}

const CURRENCIES: [&str; 30] = [
    "USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK", "PLN", "CZK",
    "HUF", "BRL", "MXN", "ARS", "CLP", "COP", "PEN", "ZAR", "TRY", "INR", "CNY", "HKD", "SGD",
    "KRW", "THB", "ILS", "AED",
];

const PRODUCTS: [&str; 4] = [
    "sepa-credit-transfers",
    "instant-sepa-credit-transfers",
    "target-2-payments",
    "cross-border-credit-transfers",
];

fn segs(path: &str) -> Vec<String> {
    split_path(path)
        .into_iter()
        .map(|s| s.into_owned())
        .collect()
}

/// Observes `path` and remembers it with the template returned.
fn feed(t: &mut PathTemplater, seen: &mut Vec<(Vec<String>, Template)>, path: &str) {
    let s = segs(path);
    let tpl = t.observe(&s);
    seen.push((s, tpl));
}

/// The distinct current templates of everything observed, via refine, as text.
fn final_templates(t: &PathTemplater, seen: &[(Vec<String>, Template)]) -> BTreeSet<String> {
    seen.iter()
        .map(|(_, tpl)| t.refine(tpl).to_string())
        .collect()
}

/// Refine of what observe returned equals the template of the same path now, and refine is
/// idempotent.
fn assert_consistent(t: &PathTemplater, seen: &[(Vec<String>, Template)]) {
    for (path, tpl) in seen {
        let refined = t.refine(tpl);
        assert_eq!(
            refined,
            t.template_of(path),
            "path {path:?} observed as {tpl}"
        );
        assert_eq!(
            t.refine(&refined),
            refined,
            "refine is idempotent on {refined}"
        );
    }
}

/// The mixed traffic of the task: customers by random slug and `me`, 30 currency codes,
/// four Berlin Group payment products with payment ids.
#[test]
fn mixed_traffic_converges_to_the_expected_templates() {
    let mut rng = SplitMix(2026);
    let mut t = PathTemplater::new(TemplateConfig::default());
    let mut seen = Vec::new();
    for _ in 0..2000 {
        let path = match rng.below(100) {
            0..=24 => format!("/customers/{}/orders", rng.slug()),
            25..=39 => "/customers/me/orders".to_string(),
            40..=74 => format!("/fx/{}", rng.pick(&CURRENCIES)),
            _ => format!("/payments/{}/{}", rng.pick(&PRODUCTS), rng.uuid()),
        };
        feed(&mut t, &mut seen, &path);
    }
    let mut expected: BTreeSet<String> = ["/customers/{param}/orders", "/customers/me/orders"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    expected.extend(CURRENCIES.iter().map(|c| format!("/fx/{c}")));
    expected.extend(PRODUCTS.iter().map(|p| format!("/payments/{p}/{{uuid}}")));
    assert_eq!(final_templates(&t, &seen), expected);
    assert_consistent(&t, &seen);

    // Exactly one position merged (the customer), for new values, keeping `me`.
    let events: Vec<TemplateEvent> = std::iter::from_fn(|| t.poll_event()).collect();
    let merges: Vec<&TemplateEvent> = events
        .iter()
        .filter(|e| matches!(e, TemplateEvent::PositionMerged { .. }))
        .collect();
    assert_eq!(merges.len(), 1, "{events:?}");
    match merges[0] {
        TemplateEvent::PositionMerged {
            prefix,
            reason,
            kept,
            absorbed,
        } => {
            assert_eq!(prefix.to_string(), "/customers");
            assert_eq!(*reason, MergeReason::NewValues);
            assert_eq!(*kept, 1);
            assert!(*absorbed >= 32, "{absorbed}");
        }
        _ => unreachable!(),
    }
    let stats = t.stats();
    assert_eq!(stats.positions_merged, 1);
    assert_eq!(stats.paths_observed, 2000);
    // The root; customers, me and its orders, {param} and its orders; fx and 30 codes;
    // payments, 4 products and their {uuid}.
    assert_eq!(stats.nodes, 1 + (1 + 2 + 2) + (1 + 30) + (1 + 4 + 4));
}

/// `me` with 1000 hits among 500 one-hit user names stays literal; the names merge.
#[test]
fn a_frequent_word_survives_the_merge_of_its_siblings() {
    let mut rng = SplitMix(5);
    let mut t = PathTemplater::new(TemplateConfig::default());
    let mut seen = Vec::new();
    let mut users = 0;
    let mut me = 0;
    while users < 500 || me < 1000 {
        if me < 1000 && (users >= 500 || rng.below(3) < 2) {
            feed(&mut t, &mut seen, "/users/me");
            me += 1;
        } else {
            let name = rng.slug();
            feed(&mut t, &mut seen, &format!("/users/{name}"));
            users += 1;
        }
    }
    let expected: BTreeSet<String> = ["/users/me", "/users/{param}"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(final_templates(&t, &seen), expected);
    assert_consistent(&t, &seen);
    // A name never seen is a parameter value now; `me` is not.
    assert_eq!(
        t.template_of(&["users", "zebediah"]).to_string(),
        "/users/{param}"
    );
    assert_eq!(t.observe(&["users", "me"]).to_string(), "/users/me");
}

/// Integer ids are parameters from the first request and `me` next to them stays literal
/// without any merge.
#[test]
fn classified_ids_are_parameters_at_once() {
    let mut t = PathTemplater::new(TemplateConfig::default());
    assert_eq!(t.observe(&["users", "1042"]).to_string(), "/users/{int}");
    assert_eq!(t.observe(&["users", "me"]).to_string(), "/users/me");
    assert_eq!(
        t.observe(&["users", "7", "cards", "4111111111111111"])
            .to_string(),
        "/users/{int}/cards/{card}"
    );
    assert_eq!(
        t.observe(&["rates", "2024-01-31"]).to_string(),
        "/rates/{date}"
    );
    assert_eq!(
        t.observe(&["customers", "alice@example.com"]).to_string(),
        "/customers/{email}"
    );
    assert_eq!(
        t.observe(&["accounts", "GB82WEST12345698765432", "balance"])
            .to_string(),
        "/accounts/{iban}/balance"
    );
    assert_eq!(t.generation(), 0);
    assert_eq!(t.stats().positions_merged, 0);
    assert_eq!(t.observe::<&str>(&[]).to_string(), "/");
    assert_eq!(t.observe(&[""]).to_string(), "/");
    assert_eq!(t.observe(&["users", ""]).to_string(), "/users/");
}

/// Thirty and sixty currency-like codes hit thousands of times, uniformly or skewed like
/// real traffic, stay literal: a fixed set never shows enough values first seen late in its
/// history.
#[test]
fn fixed_vocabularies_stay_literal_however_often_they_are_hit() {
    for size in [30usize, 60] {
        for seed in 0..20u64 {
            let codes: Vec<String> = (0..size)
                .map(|i| {
                    format!(
                        "C{}{}",
                        char::from(b'A' + (i / 26) as u8),
                        char::from(b'A' + (i % 26) as u8)
                    )
                })
                .collect();
            let mut rng = SplitMix(seed);
            let mut t = PathTemplater::new(TemplateConfig::default());
            let mut seen = Vec::new();
            let skewed = seed % 2 == 1;
            for _ in 0..100 * size {
                // Skewed: low indexes are much more popular, the last ones rare.
                let i = if skewed {
                    rng.below(size).min(rng.below(size))
                } else {
                    rng.below(size)
                };
                feed(&mut t, &mut seen, &format!("/fx/rates/{}", codes[i]));
            }
            let templates = final_templates(&t, &seen);
            // A rare code may never have been drawn.
            let drawn: BTreeSet<String> = seen
                .iter()
                .map(|(path, _)| format!("/{}", path.join("/")))
                .collect();
            assert!(drawn.len() >= size - 2);
            assert_eq!(templates, drawn, "size {size} seed {seed}");
            assert!(
                templates.iter().all(|tpl| !tpl.contains('{')),
                "size {size} seed {seed}: {templates:?}"
            );
            assert_eq!(t.stats().positions_merged, 0);
        }
    }
}

/// Identifier-like values (with digits) merge after a few; plain random words after a few
/// dozen; the merge happens at the right position and deeper literals are kept.
#[test]
fn identifiers_merge_sooner_than_words() {
    let mut rng = SplitMix(9);
    let mut t = PathTemplater::new(TemplateConfig::default());
    let mut requests = 0;
    while t.stats().positions_merged == 0 {
        let id = format!("cust{}", rng.below(1_000_000));
        t.observe(&["v1", "customers", id.as_str(), "profile"]);
        requests += 1;
        assert!(requests < 1000);
    }
    assert!(
        (8..=24).contains(&requests),
        "identifier-like values merged after {requests}"
    );
    assert_eq!(
        t.observe(&["v1", "customers", "cust77", "profile"])
            .to_string(),
        "/v1/customers/{param}/profile"
    );

    let mut t = PathTemplater::new(TemplateConfig::default());
    let mut requests = 0;
    while t.stats().positions_merged == 0 {
        let word = rng.slug();
        t.observe(&["v1", "tags", word.as_str()]);
        requests += 1;
        assert!(requests < 1000);
    }
    assert!(
        (32..=100).contains(&requests),
        "words merged after {requests}"
    );
}

/// Shadow endpoints next to documented-looking paths stay fully literal with a few hits.
#[test]
fn a_rare_shadow_path_under_a_shared_prefix_stays_literal() {
    let mut rng = SplitMix(17);
    let mut t = PathTemplater::new(TemplateConfig::default());
    let resources = [
        "accounts",
        "balances",
        "transactions",
        "beneficiaries",
        "direct-debits",
        "standing-orders",
        "statements",
        "parties",
    ];
    let mut shadow = Vec::new();
    for i in 0..3000 {
        if i % 500 == 0 {
            shadow.push(t.observe(&[
                "open-banking",
                "v4.0",
                "aisp",
                "internal",
                "accounts-export",
            ]));
        }
        let r = rng.pick(&resources);
        let id = rng.chars(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            12,
        );
        if rng.below(2) == 0 {
            t.observe(&["open-banking", "v4.0", "aisp", r]);
        } else {
            t.observe(&["open-banking", "v4.0", "aisp", "accounts", id.as_str(), r]);
        }
    }
    assert_eq!(shadow.len(), 6);
    for s in &shadow {
        assert_eq!(
            t.refine(s).to_string(),
            "/open-banking/v4.0/aisp/internal/accounts-export"
        );
    }
    assert_eq!(
        t.template_of(&[
            "open-banking",
            "v4.0",
            "aisp",
            "accounts",
            "aB3dE5fG7hJ9",
            "balances"
        ])
        .to_string(),
        "/open-banking/v4.0/aisp/accounts/{token}/balances"
    );
}

#[test]
fn refine_follows_merges_and_the_generation_moves() {
    let mut t = PathTemplater::new(TemplateConfig::default());
    let alice = t.observe(&["users", "alice", "profile"]);
    let me = t.observe(&["users", "me", "profile"]);
    assert_eq!(alice.to_string(), "/users/alice/profile");
    let g0 = t.generation();
    for _ in 0..10 {
        t.observe(&["users", "me", "profile"]);
    }
    assert_eq!(t.generation(), g0, "repeating a literal changes nothing");
    assert_eq!(t.refine(&alice), alice);
    let mut rng = SplitMix(3);
    for _ in 0..200 {
        let name = rng.slug();
        t.observe(&["users", name.as_str(), "profile"]);
    }
    assert!(t.generation() > g0);
    let refined = t.refine(&alice);
    assert_eq!(refined.to_string(), "/users/{param}/profile");
    assert_eq!(t.refine(&refined), refined);
    assert_eq!(t.refine(&me), me);
    assert_eq!(t.template_of(&["users", "alice", "profile"]), refined);

    // A template from elsewhere maps as far as the tree knows it.
    assert_eq!(
        t.refine(&Template::parse("/users/bob/settings/x"))
            .to_string(),
        "/users/{param}/settings/x"
    );
    assert_eq!(
        t.refine(&Template::parse("/orders/1/x")).to_string(),
        "/orders/1/x"
    );
}

#[test]
fn parameter_names_widen_to_cover_every_kind_seen() {
    let mut t = PathTemplater::new(TemplateConfig::default());
    let int = t.observe(&["orders", "123", "lines"]);
    assert_eq!(int.to_string(), "/orders/{int}/lines");
    let g0 = t.generation();
    assert_eq!(
        t.observe(&["orders", "5f2b1c9a", "lines"]).to_string(),
        "/orders/{hex}/lines"
    );
    assert!(t.generation() > g0);
    assert_eq!(t.refine(&int).to_string(), "/orders/{hex}/lines");
    let g1 = t.generation();
    assert_eq!(
        t.observe(&["orders", "123e4567-e89b-12d3-a456-426614174000", "lines"])
            .to_string(),
        "/orders/{token}/lines"
    );
    assert!(t.generation() > g1);
    assert_eq!(t.refine(&int).to_string(), "/orders/{token}/lines");
    assert_eq!(
        t.observe(&["orders", "2024-01-31", "lines"]).to_string(),
        "/orders/{param}/lines"
    );
    assert_eq!(t.refine(&int).to_string(), "/orders/{param}/lines");
    assert_eq!(t.stats().params_widened, 3);
    let widened: Vec<(String, String)> = std::iter::from_fn(|| t.poll_event())
        .filter_map(|e| match e {
            TemplateEvent::ParamWidened { from, to, prefix } => {
                assert_eq!(prefix.to_string(), "/orders");
                Some((from, to))
            }
            _ => None,
        })
        .collect();
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        widened,
        [
            pair("int", "hex"),
            pair("hex", "token"),
            pair("token", "param")
        ]
    );
}

/// Merges reach deeper positions: user names merge, then the subtrees of all users combine
/// and the document ids under them (one per user, words) merge as well.
#[test]
fn merged_subtrees_combine_and_merge_deeper_positions() {
    let mut rng = SplitMix(23);
    let mut t = PathTemplater::new(TemplateConfig::default());
    let mut seen = Vec::new();
    for _ in 0..400 {
        let user = rng.slug();
        let doc = rng.slug();
        feed(&mut t, &mut seen, &format!("/u/{user}/docs/{doc}"));
        feed(&mut t, &mut seen, &format!("/u/{user}/settings"));
    }
    let expected: BTreeSet<String> = ["/u/{param}/docs/{param}", "/u/{param}/settings"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(final_templates(&t, &seen), expected);
    assert_consistent(&t, &seen);
    // root, u, {param}, docs, {param}, settings.
    assert_eq!(t.stats().nodes, 6);
}

/// The same traffic gives the same templates, events and counters on every run.
#[test]
fn templating_is_deterministic() {
    let run = || {
        let mut rng = SplitMix(99);
        let mut t = PathTemplater::new(TemplateConfig::default());
        let mut out = Vec::new();
        for _ in 0..3000 {
            let path = match rng.below(4) {
                0 => format!("/a/{}/b/{}", rng.slug(), rng.below(50)),
                1 => format!("/a/{}", rng.pick(&CURRENCIES)),
                2 => format!("/c/{}/{}", rng.slug(), rng.slug()),
                _ => format!("/d/x{}", rng.below(100)),
            };
            out.push(t.observe(&segs(&path)).to_string());
        }
        let events: Vec<TemplateEvent> = std::iter::from_fn(|| t.poll_event()).collect();
        (out, events, t.stats(), t.generation())
    };
    assert_eq!(run(), run());
}

fn spec_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            spec_files(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            out.push(path);
        }
    }
}

/// Traffic generated from real specifications (the shipped ones, and the shared
/// specification set where present), with no knowledge of them in the templater: every
/// documented literal stays literal and every path parameter becomes a parameter, for every
/// operation of every document. Requests to all operations are interleaved, as in real
/// traffic, 60 per operation on average.
#[test]
fn spec_shaped_traffic_recovers_the_spec_templates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    spec_files(&root.join("fixtures/specs"), &mut files);
    spec_files(&root.join("../shared/specs"), &mut files);
    files.sort();
    let mut rng = SplitMix(41);
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let name = file.display().to_string();
        let spec = load_spec(&name, &text).unwrap();
        let base = spec.base_paths.first().cloned().unwrap_or_default();
        let full: Vec<String> = spec
            .operations
            .iter()
            .map(|op| format!("{base}{}", op.path))
            .collect();
        // The shape of each template: literals as written, parameters as `{}`.
        let expected: BTreeSet<String> = full
            .iter()
            .map(|f| {
                f.split('/')
                    .skip(1)
                    .map(|s| if s.starts_with('{') { "{}" } else { s })
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect();
        let mut t = PathTemplater::new(TemplateConfig::default());
        let mut seen = Vec::new();
        for _ in 0..60 * full.len() {
            let template = &full[rng.below(full.len())];
            let mut path = String::new();
            for seg in template.split('/').skip(1) {
                path.push('/');
                match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    // Ids of one parameter share a shape, as in a real API: UUIDs, numbers,
                    // 16 random letters and digits, or short codes no classifier knows.
                    Some(name) => path.push_str(&match name.len() % 4 {
                        0 => rng.uuid(),
                        1 => (1000 + rng.below(1_000_000)).to_string(),
                        2 => rng.chars(
                            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                            16,
                        ),
                        _ => format!("K{}", rng.below(100_000)),
                    }),
                    None => path.push_str(seg),
                }
            }
            feed(&mut t, &mut seen, &path);
        }
        let shapes: BTreeSet<String> = final_templates(&t, &seen)
            .iter()
            .map(|tpl| {
                Template::parse(tpl)
                    .segments
                    .iter()
                    .map(|s| match s {
                        TemplateSegment::Literal(l) => l.clone(),
                        TemplateSegment::Param(_) => "{}".to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect();
        assert_eq!(shapes, expected, "{name}");
        assert_consistent(&t, &seen);
        checked += 1;
    }
    assert!(checked >= 6, "{checked} specifications");
}

/// A random identifier that reads like words to the classifier is a literal while nothing
/// else is known at its position; once a token of its length and character classes arrives
/// there, it becomes a value of that parameter, and later ones are values at once. A popular
/// literal of the same shape is not moved.
#[test]
fn identifiers_of_a_known_token_shape_join_the_parameter() {
    let mut t = PathTemplater::new(TemplateConfig::default());
    // No digit and long letter runs: not a token by itself.
    let early = t.observe(&["payments", "SluAONDogRMsmhet"]);
    assert_eq!(early.to_string(), "/payments/SluAONDogRMsmhet");
    for _ in 0..10 {
        t.observe(&["payments", "RecentTransfersX"]);
    }
    let g0 = t.generation();
    assert_eq!(
        t.observe(&["payments", "c6iu2tGczqwqskpU"]).to_string(),
        "/payments/{token}"
    );
    assert!(t.generation() > g0);
    assert_eq!(t.refine(&early).to_string(), "/payments/{token}");
    assert_eq!(
        t.template_of(&["payments", "SluAONDogRMsmhet"]).to_string(),
        "/payments/{token}"
    );
    assert_eq!(
        t.observe(&["payments", "OdblKnrSaQvuZedS"]).to_string(),
        "/payments/{token}"
    );
    // Popular before the shape was known: stays.
    assert_eq!(
        t.observe(&["payments", "RecentTransfersX"]).to_string(),
        "/payments/RecentTransfersX"
    );
    // Another length, or a single character class, is not that shape.
    assert_eq!(
        t.observe(&["payments", "RecentTransfersXY"]).to_string(),
        "/payments/RecentTransfersXY"
    );
    assert_eq!(
        t.observe(&["payments", "sluaondogrmsmhet"]).to_string(),
        "/payments/sluaondogrmsmhet"
    );
    assert_eq!(t.stats().positions_merged, 0);
}
