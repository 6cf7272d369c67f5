//! The templater's memory bounds under hostile traffic: random-path floods, vocabularies
//! built to defeat merging, over-long paths and segments, and a full event queue. Each limit
//! must hold, count, and report.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeSet;

use apitap_discovery::template::{
    MergeReason, PathTemplater, Template, TemplateConfig, TemplateEvent, TemplateSegment,
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

    fn chars(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| char::from(alphabet[self.below(alphabet.len())]))
            .collect()
    }
}

const WORDS: [&str; 24] = [
    "admin",
    "backup",
    "config",
    "login",
    "wp-admin",
    "api",
    "v1",
    "v2",
    "test",
    "old",
    "static",
    "images",
    ".env",
    ".git",
    "server-status",
    "phpinfo.php",
    "console",
    "debug",
    "actuator",
    "health",
    "metrics",
    "swagger.json",
    "graphql",
    "upload",
];

/// A scanner's segment: dictionary words, random slugs, numbers, junk of any printable byte.
fn scanner_segment(rng: &mut SplitMix) -> String {
    match rng.below(5) {
        0 => WORDS[rng.below(WORDS.len())].to_string(),
        1 => {
            let len = 1 + rng.below(12);
            rng.chars(b"abcdefghijklmnopqrstuvwxyz", len)
        }
        2 => rng.below(100_000).to_string(),
        3 => {
            let len = 1 + rng.below(20);
            rng.chars(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.",
                len,
            )
        }
        _ => {
            let len = 1 + rng.below(30);
            (0..len)
                .map(|_| char::from(32 + rng.below(95) as u8))
                .filter(|c| *c != '/')
                .collect()
        }
    }
}

const LEGIT: [&[&str]; 4] = [
    &["open-banking", "v4.0", "aisp", "accounts"],
    &["open-banking", "v4.0", "aisp", "balances"],
    &["open-banking", "v4.0", "pisp", "domestic-payments"],
    &["health"],
];

/// 100 000 random paths after some ordinary traffic: the root and each deeper position
/// merge quickly, the tree stays small (a few hundred nodes at most, far below the
/// 8192-node limit), nothing is folded, and the busy ordinary paths stay literal.
#[test]
fn a_random_path_flood_leaves_a_small_tree() {
    let mut rng = SplitMix(1);
    let mut t = PathTemplater::new(TemplateConfig::default());
    for i in 0..400 {
        t.observe(LEGIT[i % LEGIT.len()]);
    }
    let before = t.stats().nodes;
    let mut max_nodes = 0;
    for i in 0..100_000 {
        let depth = 1 + rng.below(6);
        let path: Vec<String> = (0..depth).map(|_| scanner_segment(&mut rng)).collect();
        t.observe(&path);
        // Ordinary traffic goes on during the scan.
        if i % 50 == 0 {
            t.observe(LEGIT[rng.below(LEGIT.len())]);
        }
        max_nodes = max_nodes.max(t.stats().nodes);
    }
    let stats = t.stats();
    // The peak comes in the first few hundred paths, before each depth has merged (about
    // 200 nodes); afterwards the tree shrinks to a few dozen.
    assert!(
        max_nodes <= before + 300,
        "the tree peaked at {max_nodes} nodes ({before} before the scan)"
    );
    assert!(
        stats.nodes <= before + 30,
        "{} nodes after the scan ({before} before)",
        stats.nodes
    );
    assert_eq!(stats.paths_folded_at_node_limit, 0);
    assert!(
        stats.positions_merged >= 6,
        "root and one position per depth: {}",
        stats.positions_merged
    );
    for legit in LEGIT {
        let tpl = t.observe(legit);
        assert_eq!(
            tpl.segments,
            legit
                .iter()
                .map(|s| TemplateSegment::Literal(s.to_string()))
                .collect::<Vec<_>>()
        );
    }
    // Every depth of scanner path collapses into parameters below the root.
    // (numbers included: the merged positions hold values of every kind).
    assert_eq!(
        t.template_of(&["zzqx", "backup", "42"]).to_string(),
        "/{param}/{param}/{param}"
    );
}

/// Twenty words per level, five levels: no position has enough values to merge, so the tree
/// grows until `max_nodes` and then folds what it cannot hold. Folded templates are what
/// `template_of` predicts, and the ordinary paths learned before still template.
#[test]
fn a_vocabulary_built_to_defeat_merging_hits_the_node_limit() {
    let cfg = TemplateConfig {
        max_nodes: 1000,
        ..TemplateConfig::default()
    };
    let words: Vec<String> = (0..20)
        .map(|i| format!("w{}", char::from(b'a' + i as u8)).repeat(2))
        .collect();
    let mut rng = SplitMix(2);
    let mut t = PathTemplater::new(cfg);
    t.observe(&["open-banking", "v4.0", "aisp", "accounts"]);
    let mut folded_seen = 0;
    for _ in 0..50_000 {
        let path: Vec<&str> = (0..5)
            .map(|_| words[rng.below(words.len())].as_str())
            .collect();
        let predicted = t.template_of(&path);
        let tpl = t.observe(&path);
        if tpl.param_count() > 0 {
            folded_seen += 1;
            assert_eq!(tpl, predicted, "{path:?}");
            assert!(tpl
                .segments
                .iter()
                .skip_while(|s| matches!(s, TemplateSegment::Literal(_)))
                .all(|s| matches!(s, TemplateSegment::Param(_))));
        }
        assert!(t.stats().nodes <= 1000);
    }
    let stats = t.stats();
    assert_eq!(stats.nodes, 1000);
    assert_eq!(stats.positions_merged, 0);
    assert_eq!(stats.paths_folded_at_node_limit, folded_seen);
    assert!(folded_seen > 10_000, "{folded_seen}");
    let mut limit_events = 0;
    while let Some(e) = t.poll_event() {
        if let TemplateEvent::NodeLimitReached { max_nodes, .. } = e {
            assert_eq!(max_nodes, 1000);
            limit_events += 1;
        }
    }
    assert!(limit_events > 0);
    assert_eq!(
        t.observe(&["open-banking", "v4.0", "aisp", "accounts"])
            .to_string(),
        "/open-banking/v4.0/aisp/accounts"
    );
}

/// With the new-values rules off, the 51st distinct value of a position merges it at once.
#[test]
fn the_literal_limit_per_position_merges() {
    let cfg = TemplateConfig {
        max_literals_per_position: 50,
        merge_min_new_values: 0,
        merge_min_new_id_values: 0,
        ..TemplateConfig::default()
    };
    let mut t = PathTemplater::new(cfg);
    let names: Vec<String> = (0..60).map(|i| format!("name{i}")).collect();
    let mut seen = Vec::new();
    for round in 0..10 {
        for name in names.iter().take(50) {
            seen.push(t.observe(&["w", name.as_str()]));
        }
        if round == 0 {
            assert_eq!(t.stats().positions_merged, 0);
        }
    }
    assert_eq!(t.stats().positions_merged, 0, "50 values fit");
    let tpl = t.observe(&["w", "name50"]);
    assert_eq!(tpl.to_string(), "/w/{param}");
    let stats = t.stats();
    assert_eq!(
        (
            stats.positions_merged,
            stats.merges_at_position_limit,
            stats.literals_absorbed
        ),
        (1, 1, 50)
    );
    let merged: Vec<TemplateEvent> = std::iter::from_fn(|| t.poll_event()).collect();
    assert_eq!(
        merged,
        [TemplateEvent::PositionMerged {
            prefix: Template::parse("/w"),
            reason: MergeReason::PositionLimit,
            absorbed: 50,
            kept: 0
        }]
    );
    let all: BTreeSet<String> = seen.iter().map(|s| t.refine(s).to_string()).collect();
    assert_eq!(all, BTreeSet::from(["/w/{param}".to_string()]));
    // root, w, {param}.
    assert_eq!(stats.nodes, 3);
}

#[test]
fn over_long_paths_end_in_one_rest_parameter() {
    let mut t = PathTemplater::new(TemplateConfig::default());
    let path: Vec<String> = (0..100)
        .map(|i| format!("s{}", char::from(b'a' + (i % 26) as u8)))
        .collect();
    let tpl = t.observe(&path);
    assert_eq!(tpl.segments.len(), 33);
    assert_eq!(tpl.segments[31], TemplateSegment::Literal("sf".into()));
    assert_eq!(tpl.segments[32], TemplateSegment::Param("rest".into()));
    assert_eq!(t.template_of(&path), tpl);
    assert_eq!(t.refine(&tpl), tpl);
    assert_eq!(t.stats().paths_truncated, 1);
    assert_eq!(
        t.poll_event(),
        Some(TemplateEvent::PathTruncated {
            segments: 100,
            max_segments: 32
        })
    );
    // Exactly at the limit is not truncated.
    let at_limit = &path[..32];
    assert_eq!(t.observe(at_limit).segments.len(), 32);
    assert_eq!(t.stats().paths_truncated, 1);
    // A pathological depth costs only the first 32 nodes.
    let deep: Vec<&str> = vec!["x"; 100_000];
    let tpl = t.observe(&deep);
    assert_eq!(tpl.segments.len(), 33);
    assert!(t.stats().nodes <= 1 + 32 + 32);
}

#[test]
fn over_long_unclassified_segments_are_parameters() {
    let mut t = PathTemplater::new(TemplateConfig::default());
    let long = "a".repeat(257);
    let fits = "b".repeat(256);
    assert_eq!(
        t.observe(&["f", long.as_str(), "x"]).to_string(),
        "/f/{param}/x"
    );
    assert_eq!(
        t.observe(&["f", fits.as_str()]).to_string(),
        format!("/f/{fits}")
    );
    assert_eq!(t.stats().segments_too_long, 1);
    assert_eq!(
        t.poll_event(),
        Some(TemplateEvent::SegmentTooLong {
            prefix: Template::parse("/f"),
            len: 257,
            max_segment_len: 256
        })
    );
    // A long classified segment is its kind, not a long-segment event.
    let jwt = format!("eyJhbGciOiJSUzI1NiJ9.{}.sig", "eyJzdWIiOiIxIn0".repeat(30));
    assert_eq!(t.observe(&["t", jwt.as_str()]).to_string(), "/t/{token}");
    assert_eq!(t.stats().segments_too_long, 1);
}

#[test]
fn a_full_event_queue_drops_and_counts() {
    let mut t = PathTemplater::new(TemplateConfig {
        max_pending_events: 3,
        max_segments: 2,
        ..TemplateConfig::default()
    });
    for _ in 0..10 {
        t.observe(&["a", "b", "c"]);
    }
    assert_eq!(t.stats().events_dropped, 7);
    assert_eq!(std::iter::from_fn(|| t.poll_event()).count(), 3);
    t.observe(&["a", "b", "c"]);
    assert_eq!(
        t.poll_event(),
        Some(TemplateEvent::PathTruncated {
            segments: 3,
            max_segments: 2
        })
    );
}

#[test]
fn a_single_node_templater_folds_everything() {
    let mut t = PathTemplater::new(TemplateConfig {
        max_nodes: 0,
        ..TemplateConfig::default()
    });
    assert_eq!(t.config().max_nodes, 1);
    assert_eq!(t.observe(&["a", "42"]).to_string(), "/{param}/{int}");
    assert_eq!(t.template_of(&["b"]).to_string(), "/{param}");
    assert_eq!(t.stats().nodes, 1);
    assert_eq!(t.stats().paths_folded_at_node_limit, 1);
}

/// The shapes a token position records are bounded; the overflow is counted and reported
/// once.
#[test]
fn token_shapes_per_position_are_bounded() {
    let mut rng = SplitMix(8);
    let mut t = PathTemplater::new(TemplateConfig {
        max_shapes_per_param: 4,
        ..TemplateConfig::default()
    });
    for len in 12..40 {
        let token = rng.chars(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            len,
        );
        t.observe(&["k", token.as_str()]);
    }
    let stats = t.stats();
    assert!(
        stats.param_shapes_dropped >= 20,
        "{}",
        stats.param_shapes_dropped
    );
    let full: Vec<TemplateEvent> = std::iter::from_fn(|| t.poll_event())
        .filter(|e| matches!(e, TemplateEvent::ParamShapesFull { .. }))
        .collect();
    assert_eq!(
        full,
        [TemplateEvent::ParamShapesFull {
            prefix: Template::parse("/k"),
            max_shapes: 4
        }]
    );
}

/// A position that merged under one value is combined into its merging parent's parameter,
/// and the combined position is a parameter as well.
#[test]
fn a_merged_subtree_makes_the_combined_position_a_parameter() {
    let mut rng = SplitMix(4);
    let mut t = PathTemplater::new(TemplateConfig::default());
    let mut seen = Vec::new();
    // One user with many documents: their document position merges first.
    for _ in 0..100 {
        let doc = format!("d{}", rng.below(1_000_000));
        seen.push(t.observe(&["u", "zz9", "docs", doc.as_str()]));
    }
    assert_eq!(t.stats().positions_merged, 1);
    // Then many users with one document each, sorting before `zz9`.
    for i in 0..100 {
        let user = format!("a{i}");
        seen.push(t.observe(&["u", user.as_str(), "docs", "readme"]));
    }
    let events: Vec<TemplateEvent> = std::iter::from_fn(|| t.poll_event()).collect();
    assert!(
        events.iter().any(|e| matches!(e, TemplateEvent::PositionMerged { reason: MergeReason::Combined, prefix, .. } if prefix.to_string() == "/u/{param}/docs")),
        "{events:?}"
    );
    let all: BTreeSet<String> = seen.iter().map(|s| t.refine(s).to_string()).collect();
    assert_eq!(all, BTreeSet::from(["/u/{param}/docs/{param}".to_string()]));
    // root, u, {param}, docs, {param}: everything else was freed.
    assert_eq!(t.stats().nodes, 5);
}

/// Arbitrary text in every position, including what percent-decoding can produce: no
/// panic, and the bounds hold.
#[test]
fn hostile_segments_keep_the_bounds() {
    let mut rng = SplitMix(6);
    let cfg = TemplateConfig {
        max_nodes: 300,
        ..TemplateConfig::default()
    };
    let mut t = PathTemplater::new(cfg);
    for _ in 0..20_000 {
        let depth = rng.below(8);
        let path: Vec<String> = (0..depth)
            .map(|_| {
                let len = rng.below(40);
                let bytes: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
                String::from_utf8_lossy(&bytes).into_owned()
            })
            .collect();
        let tpl = t.observe(&path);
        assert_eq!(t.refine(&tpl), t.refine(&t.refine(&tpl)));
        assert!(t.stats().nodes <= 300);
    }
}
