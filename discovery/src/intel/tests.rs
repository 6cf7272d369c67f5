//! Feed parsers: the hand-written fixtures of fixtures/intel/ and hostile inputs.

use super::*;

/// 2026-06-01T00:00:00Z.
const NOW: i64 = 1_780_272_000 * 1_000_000_000;
const SEC: i64 = 1_000_000_000;

const BUNDLE: &str = include_str!("../../../fixtures/intel/bundle.json");
const LIST: &str = include_str!("../../../fixtures/intel/list.txt");
const MISP: &str = include_str!("../../../fixtures/intel/misp.csv");

fn net(s: &str) -> IndicatorValue {
    let (a, l) = s.split_once('/').unwrap();
    IndicatorValue::Network(IpNet {
        addr: a.parse().unwrap(),
        len: l.parse().unwrap(),
    })
}

fn values(f: &ParsedFeed) -> Vec<(String, IndicatorValue)> {
    f.indicators
        .iter()
        .map(|i| (i.id.clone(), i.value.clone()))
        .collect()
}

/// The problems as (location, id suffix, words the message must hold, action).
fn has_problem(f: &ParsedFeed, at: Location, words: &str, action: Action) -> bool {
    f.problems
        .iter()
        .any(|p| p.at == at && p.what.contains(words) && p.action == action)
}

fn ind(n: u32) -> String {
    format!("indicator--1a1c9f4e-4a3b-4c55-9a2e-0c7e0b3c{n:04}")
}

#[test]
fn stix_fixture_loads_the_good_and_reports_the_bad() {
    let f = parse_stix(BUNDLE.as_bytes(), NOW, &FeedLimits::default()).unwrap();
    assert_eq!(
        values(&f),
        vec![
            (ind(1), net("198.51.100.0/24")),
            (ind(2), net("2001:db8:bad::/48")),
            (ind(2), net("203.0.113.7/32")),
            (ind(2), IndicatorValue::Domain("stuffing.example".into())),
            (
                ind(3),
                IndicatorValue::Url("https://login.bank-example.test/Sign-In?next=%2F".into())
            ),
            (
                ind(4),
                IndicatorValue::UserAgent(r"OpenBullet/1.4 (it's \ ours)".into())
            ),
            (
                ind(5),
                IndicatorValue::Ja4("t13d1516h2_8daaf6152771_02713d6af862".into())
            ),
            (ind(12), IndicatorValue::Domain("drop.example".into())),
            (ind(14), net("198.51.100.77/32")),
        ]
    );
    let first = &f.indicators[0];
    assert_eq!(first.name, "Credential-stuffing network");
    assert_eq!(first.confidence, Some(85));
    assert_eq!(first.valid_from, Some(1_768_035_600 * SEC));
    assert_eq!(first.valid_until, Some(1_799_571_600 * SEC));
    assert_eq!(f.indicators[1].confidence, None);
    // Not valid yet is loaded (it will apply later); the matcher checks the window.
    assert_eq!(f.indicators[8].valid_from, Some(1_788_220_800 * SEC));

    assert!(has_problem(
        &f,
        Location::Object(7),
        "expired",
        Action::Skipped
    ));
    assert!(has_problem(
        &f,
        Location::Object(9),
        "AND is not supported",
        Action::Skipped
    ));
    assert!(has_problem(
        &f,
        Location::Object(10),
        "prefix length above 32",
        Action::Skipped
    ));
    assert!(has_problem(
        &f,
        Location::Object(11),
        "MATCHES is not supported",
        Action::Skipped
    ));
    assert!(has_problem(
        &f,
        Location::Object(12),
        "pattern_type 'sigma'",
        Action::Skipped
    ));
    assert!(has_problem(
        &f,
        Location::Object(13),
        "file:hashes.'SHA-256'",
        Action::AlternativeSkipped
    ));
    assert!(has_problem(
        &f,
        Location::Object(14),
        "confidence 150",
        Action::Skipped
    ));
    assert_eq!(f.problems.len(), 7, "{:#?}", f.problems);
    assert_eq!(f.problems[0].id.as_deref(), Some(ind(6).as_str()));

    let c = f.counts;
    assert_eq!((c.entries, c.loaded, c.ignored_objects), (16, 9, 2));
    // expired, revoked, AND, /33, MATCHES, sigma, confidence.
    assert_eq!((c.skipped, c.expired, c.revoked), (7, 1, 1));
}

#[test]
fn stix_whole_feed_errors() {
    let lim = FeedLimits::default();
    let truncated = &BUNDLE.as_bytes()[..BUNDLE.len() / 2];
    let e = parse_stix(truncated, NOW, &lim).unwrap_err();
    assert!(e.what.starts_with("not a JSON document"), "{e}");
    assert!(e.what.contains("line"), "{e}");
    for (text, words) in [
        (&b"[]"[..], "expected a STIX bundle"),
        (br#"{"type":"indicator"}"#, "not \"bundle\""),
        (
            br#"{"type":"bundle","objects":{}}"#,
            "\"objects\" as an array",
        ),
        (br#"{"type":"bundle"} trailing"#, "trailing characters"),
        (b"\xff\xfe", "not a JSON document"),
        (b"", "not a JSON document"),
    ] {
        let e = parse_stix(text, NOW, &lim).unwrap_err();
        assert!(e.what.contains(words), "{e}");
    }
    // An empty bundle is a feed with nothing in it.
    let f = parse_stix(br#"{"type":"bundle","id":"bundle--x"}"#, NOW, &lim).unwrap();
    assert!(f.indicators.is_empty() && f.problems.is_empty());
}

/// An indicator object around `pattern`, with `extra` JSON members.
fn one(pattern: &str, extra: &str) -> String {
    let p = serde_json::to_string(pattern).unwrap();
    format!(
        r#"{{"type":"bundle","objects":[{{"type":"indicator","id":"indicator--t","pattern_type":"stix","pattern":{p}{extra}}}]}}"#
    )
}

fn stix(pattern: &str, extra: &str) -> ParsedFeed {
    parse_stix(one(pattern, extra).as_bytes(), NOW, &FeedLimits::default()).unwrap()
}

#[test]
fn stix_hostile_entries() {
    // Tricky quoting: brackets, OR and escaped quotes inside the literal.
    let f = stix(
        r"[network-traffic:extensions.'http-request-ext'.request_header.'user-agent' = 'x\'] OR [y\\']",
        "",
    );
    assert_eq!(
        values(&f),
        vec![(
            "indicator--t".into(),
            IndicatorValue::UserAgent(r"x'] OR [y\".into())
        )]
    );
    assert!(f.problems.is_empty());
    for (pattern, extra, words) in [
        (
            "[ipv4-addr:value = '10.0.0.0/33']",
            "",
            "prefix length above 32",
        ),
        (
            "[ipv6-addr:value = '2001:db8::/129']",
            "",
            "prefix length above 128",
        ),
        ("[ipv4-addr:value = '10.0.0.0/-1']", "", "not a number"),
        (
            "[ipv4-addr:value = '2001:db8::1']",
            "",
            "where IPv4 is expected",
        ),
        (
            "[ipv4-addr:value = '10.0.0.256']",
            "",
            "not an IPv4 or IPv6 address",
        ),
        ("[domain-name:value = '*.evil.example']", "", "wildcards"),
        ("[domain-name:value = 'bücher.example']", "", "punycode"),
        (
            "[url:value = 'evil.example/path']",
            "",
            "not an absolute URL",
        ),
        (
            "[x-ja4-fingerprint:value = 't13d1516h2'] ",
            "",
            "three parts",
        ),
        (
            "[ipv4-addr:value = '10.0.0.1'] REPEATS 5 TIMES",
            "",
            "REPEATS is not supported",
        ),
        ("[ipv4-addr:value = '10.0.0.1'", "", "ends before"),
        ("[ipv4-addr:value = '10.0.0.1\\x']", "", "invalid escape"),
        (
            "[ipv4-addr:value = '10.0.0.1']",
            r#","confidence":"high""#,
            "confidence \"high\"",
        ),
        (
            "[ipv4-addr:value = '10.0.0.1']",
            r#","valid_until":"yesterday""#,
            "not an RFC 3339",
        ),
        (
            "[ipv4-addr:value = '10.0.0.1']",
            r#","valid_from":"2026-02-01T00:00:00Z","valid_until":"2026-01-01T00:00:00Z""#,
            "not later",
        ),
        (
            "[ipv4-addr:value = '10.0.0.1']",
            r#","valid_until":"2026-06-01T00:00:00Z""#,
            "expired",
        ),
    ] {
        let f = stix(pattern, extra);
        assert!(f.indicators.is_empty(), "{pattern} {extra}");
        assert_eq!(f.problems.len(), 1, "{pattern}");
        assert!(
            f.problems[0].what.contains(words),
            "{pattern}: {}",
            f.problems[0]
        );
        assert_eq!(f.problems[0].at, Location::Object(1));
    }
}

#[test]
fn stix_limits_are_counted() {
    let huge = format!(
        "[url:value = 'http://x.test/{}']",
        "a".repeat(MAX_VALUE_BYTES)
    );
    let f = stix(&huge, "");
    assert!(f.indicators.is_empty());
    assert_eq!(f.counts.value_too_long, 1);
    assert!(
        f.problems[0].what.contains("longer than the limit"),
        "{}",
        f.problems[0]
    );
    // The message quotes no more than a short excerpt of the value.
    assert!(f.problems[0].to_string().len() < 400);

    let mut objects = Vec::new();
    for i in 0..10 {
        objects.push(format!(r#"{{"type":"indicator","id":"indicator--{i}","pattern_type":"stix","pattern":"[ipv4-addr:value = '10.0.0.{i}']"}}"#));
    }
    let bundle = format!(r#"{{"type":"bundle","objects":[{}]}}"#, objects.join(","));
    let lim = FeedLimits {
        max_indicators: 4,
        max_problems: 1,
        ..FeedLimits::default()
    };
    let f = parse_stix(bundle.as_bytes(), NOW, &lim).unwrap();
    assert_eq!(f.indicators.len(), 4);
    assert_eq!(f.counts.indicator_limit_hits, 1);
    assert_eq!(f.problems[0].action, Action::RestSkipped);
    assert_eq!(f.problems[0].at, Location::Object(5));
}

#[test]
fn plain_fixture() {
    let f = parse_plain(LIST.as_bytes(), NOW, &FeedLimits::default()).unwrap();
    assert_eq!(
        values(&f),
        vec![
            ("line:2".into(), net("198.51.100.0/25")),
            ("line:3".into(), net("203.0.113.9/32")),
            ("line:4".into(), net("2001:db8:beef::/64")),
            (
                "line:6".into(),
                IndicatorValue::Domain("scanner.example".into())
            ),
        ]
    );
    assert!(has_problem(
        &f,
        Location::Line(7),
        "prefix length above 32",
        Action::Skipped
    ));
    assert!(has_problem(
        &f,
        Location::Line(8),
        "' ' cannot be in a domain",
        Action::Skipped
    ));
    assert!(has_problem(
        &f,
        Location::Line(9),
        "label is empty",
        Action::Skipped
    ));
    assert_eq!(f.problems.len(), 3);
    assert_eq!(
        (f.counts.entries, f.counts.loaded, f.counts.skipped),
        (7, 4, 3)
    );
}

#[test]
fn plain_hostile() {
    let lim = FeedLimits::default();
    assert!(parse_plain(b"10.0.0.1\n\xff\n", NOW, &lim)
        .unwrap_err()
        .what
        .contains("UTF-8"));
    let long = "a".repeat(MAX_VALUE_BYTES + 1);
    let f = parse_plain(
        format!("{long}\r\n10.1.2.3/8\r\n::ffff:1.2.3.4\n1.2.3\n").as_bytes(),
        NOW,
        &lim,
    )
    .unwrap();
    assert_eq!(f.counts.value_too_long, 1);
    // Host bits are cleared.
    assert_eq!(f.indicators[0].value, net("10.0.0.0/8"));
    assert_eq!(f.indicators[1].value, net("::ffff:1.2.3.4/128"));
    assert!(has_problem(
        &f,
        Location::Line(4),
        "not an IPv4 or IPv6",
        Action::Skipped
    ));
}

#[test]
fn misp_fixture() {
    let f = parse_misp_csv(MISP.as_bytes(), NOW, &FeedLimits::default()).unwrap();
    let id = |n: u32| format!("5f1d0a2e-0001-4a5b-8c7d-{n:012}");
    assert_eq!(
        values(&f),
        vec![
            (id(1), net("203.0.113.0/28")),
            (id(2), net("198.51.100.200/32")),
            (
                id(3),
                IndicatorValue::UserAgent("Mozilla/5.0 (compatible; \"Scan\", v2)".into())
            ),
            (id(4), IndicatorValue::Domain("enum.example".into())),
            (
                id(7),
                IndicatorValue::Ja4("t13d1516h2_8daaf6152771_e5627efa2ab1".into())
            ),
            (
                id(8),
                IndicatorValue::Url("http://enum.example/api/v1/accounts?page=1".into())
            ),
        ]
    );
    assert_eq!(f.indicators[0].name, "Stuffing, round 2");
    assert_eq!(f.indicators[3].name, "a comment\r\nover two lines");
    // The record over two lines moves the numbering: md5 is on line 7.
    assert!(has_problem(
        &f,
        Location::Line(7),
        "MISP type 'md5'",
        Action::Skipped
    ));
    assert!(has_problem(
        &f,
        Location::Line(8),
        "to_ids is 0",
        Action::Skipped
    ));
    assert!(has_problem(
        &f,
        Location::Line(11),
        "not an IPv4 or IPv6",
        Action::Skipped
    ));
    assert_eq!(f.problems.len(), 3, "{:#?}", f.problems);
}

#[test]
fn misp_hostile() {
    let lim = FeedLimits::default();
    for text in [&b""[..], b"a,b,c\n1,2,3\n", b"\"type,value\n"] {
        assert!(parse_misp_csv(text, NOW, &lim).is_err());
    }
    let f = parse_misp_csv(
        b"type,value\nip-src,\"10.0.0.1\"x\nip-src\ndomain,\"a.example\nip-src,10.0.0.2\n",
        NOW,
        &lim,
    )
    .unwrap();
    assert!(f.indicators.is_empty());
    assert!(has_problem(
        &f,
        Location::Line(2),
        "text after a closing quote",
        Action::Skipped
    ));
    assert!(has_problem(
        &f,
        Location::Line(3),
        "fewer than the header",
        Action::Skipped
    ));
    assert!(has_problem(
        &f,
        Location::Line(4),
        "not closed",
        Action::Skipped
    ));
    // Without a uuid column the line names the indicator.
    let f = parse_misp_csv(b"value,type\n10.9.9.9,ip-dst\n", NOW, &lim).unwrap();
    assert_eq!(values(&f), vec![("line:2".into(), net("10.9.9.9/32"))]);
}

/// Every parser on mutations of the fixtures (bytes flipped, cut, repeated): no panic, and
/// the limits hold on what comes back.
#[test]
fn mutated_fixtures_never_panic() {
    let mut x: u64 = 0x5851_f42d_4c95_7f2d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let lim = FeedLimits {
        max_indicators: 5,
        max_value_bytes: 40,
        max_problems: 3,
    };
    let special = b"'\\\"[](),=\n\r#/:|.%\xff\x00 ORANDorand";
    for round in 0..3000 {
        let base = [BUNDLE, LIST, MISP][round % 3].as_bytes();
        let mut b = base.to_vec();
        for _ in 0..1 + next() % 8 {
            let at = (next() as usize) % b.len().max(1);
            match next() % 4 {
                0 => b[at] = special[(next() as usize) % special.len()],
                1 => b.truncate(at),
                2 => {
                    let end = (at + (next() as usize) % 64).min(b.len());
                    let piece = b[at..end].to_vec();
                    b.splice(at..at, piece);
                }
                _ => {
                    b.remove(at.min(b.len().saturating_sub(1)).min(b.len()));
                }
            }
            if b.is_empty() {
                break;
            }
        }
        for parse in [parse_stix, parse_plain, parse_misp_csv] {
            if let Ok(f) = parse(&b, NOW, &lim) {
                assert!(f.indicators.len() <= lim.max_indicators);
                assert!(f.problems.len() <= lim.max_problems);
                for i in &f.indicators {
                    match &i.value {
                        IndicatorValue::Network(n) => assert!(n.len <= 128),
                        IndicatorValue::Domain(s)
                        | IndicatorValue::Url(s)
                        | IndicatorValue::UserAgent(s)
                        | IndicatorValue::Ja4(s) => {
                            assert!(s.len() <= lim.max_value_bytes && !s.is_empty())
                        }
                    }
                }
            }
        }
    }
}
