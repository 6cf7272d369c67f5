//! The threat-intelligence feed parsers (discovery's `intel`): the first byte picks the format
//! (0 a STIX 2.1 bundle, 1 a plain list, 2 a MISP CSV export), the rest is the feed. What
//! loads is built into a set and matched against a request made of the feed's own first
//! values. Seeds: `fixtures/intel/` (`fuzz/seed.py`).
//!
//! Checked besides "no panic": the per-feed limits hold (indicators, problems), the set holds
//! no more than was loaded, and a match never lists more than `MAX_MATCHES`.
#![no_main]

use apitap_discovery::intel::{parse_misp_csv, parse_plain, parse_stix, FeedLimits, IntelSetBuilder, Observed, MAX_MATCHES};
use libfuzzer_sys::fuzz_target;

/// 2026-11-22T00:00:00Z: indicators valid then are kept.
const NOW: i64 = 1_795_305_600_000_000_000;

fuzz_target!(|data: &[u8]| {
    let Some((&form, feed)) = data.split_first() else { return };
    let limits = FeedLimits { max_indicators: 256, max_value_bytes: 512, max_problems: 32 };
    let parsed = match form % 3 {
        0 => parse_stix(feed, NOW, &limits),
        1 => parse_plain(feed, NOW, &limits),
        _ => parse_misp_csv(feed, NOW, &limits),
    };
    let Ok(parsed) = parsed else { return };
    assert!(parsed.indicators.len() <= limits.max_indicators, "{} indicators", parsed.indicators.len());
    assert!(parsed.problems.len() <= limits.max_problems, "{} problems", parsed.problems.len());
    let loaded = parsed.indicators.len();
    let mut builder = IntelSetBuilder::new();
    builder.add_feed("fuzz", parsed);
    let set = builder.build();
    let counts = set.counts();
    assert!(counts.indicators <= loaded as u64, "{counts:?} from {loaded}");
    let text = String::from_utf8_lossy(feed);
    let word = text.split(|c: char| c.is_whitespace() || c == ',' || c == '"' || c == '\'').find(|w| !w.is_empty()).unwrap_or("example.com");
    let obs = Observed {
        ip: word.split('/').next().and_then(|a| a.parse().ok()),
        host: Some(word),
        url: Some(word),
        user_agent: Some(word),
        ja4: Some(word),
    };
    let mut out = Vec::new();
    let summary = set.matches(&obs, NOW, &mut out);
    assert!(out.len() <= MAX_MATCHES && out.len() == summary.matched, "{summary:?}");
});
