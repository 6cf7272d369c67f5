//! The matcher: the fixtures' feeds against simulated requests, and a brute-force oracle.

use std::net::IpAddr;

use super::*;

/// 2026-06-01T00:00:00Z.
const NOW: i64 = 1_780_272_000 * 1_000_000_000;
const DAY: i64 = 86_400 * 1_000_000_000;

fn fixture_set() -> IntelSet {
    let lim = FeedLimits::default();
    let mut b = IntelSetBuilder::new();
    let bundle = include_bytes!("../../../fixtures/intel/bundle.json");
    b.add_feed("isac", parse_stix(bundle, NOW, &lim).unwrap());
    b.add_feed(
        "blocklist",
        parse_plain(
            include_bytes!("../../../fixtures/intel/list.txt"),
            NOW,
            &lim,
        )
        .unwrap(),
    );
    b.add_feed(
        "misp",
        parse_misp_csv(
            include_bytes!("../../../fixtures/intel/misp.csv"),
            NOW,
            &lim,
        )
        .unwrap(),
    );
    b.build()
}

/// (feed, value) of each match, in order.
fn hits(set: &IntelSet, obs: &Observed<'_>, now: i64) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let sum = set.matches(obs, now, &mut out);
    assert_eq!(sum.matched, out.len());
    out.iter()
        .map(|m| (m.feed.to_string(), m.value.to_string()))
        .collect()
}

fn ip(s: &str) -> Observed<'static> {
    Observed {
        ip: Some(s.parse().unwrap()),
        ..Observed::default()
    }
}

fn pair(f: &str, v: &str) -> (String, String) {
    (f.to_string(), v.to_string())
}

#[test]
fn networks_most_specific_first_within_their_window() {
    let set = fixture_set();
    assert_eq!(
        hits(&set, &ip("198.51.100.77"), NOW),
        vec![
            pair("blocklist", "198.51.100.0/25"),
            pair("isac", "198.51.100.0/24")
        ]
    );
    // The /32 applies from 2026-09-01; the /24 until 2027-01-10T09:00Z.
    assert_eq!(
        hits(&set, &ip("198.51.100.77"), NOW + 100 * DAY),
        vec![
            pair("isac", "198.51.100.77/32"),
            pair("blocklist", "198.51.100.0/25"),
            pair("isac", "198.51.100.0/24")
        ]
    );
    // The /32 has no end.
    assert_eq!(
        hits(&set, &ip("198.51.100.77"), NOW + 400 * DAY),
        vec![
            pair("isac", "198.51.100.77/32"),
            pair("blocklist", "198.51.100.0/25")
        ]
    );
    assert_eq!(
        hits(&set, &ip("198.51.100.200"), NOW),
        vec![
            pair("misp", "198.51.100.200/32"),
            pair("isac", "198.51.100.0/24")
        ]
    );
    assert_eq!(hits(&set, &ip("198.51.101.0"), NOW), vec![]);
    assert_eq!(
        hits(&set, &ip("2001:db8:bad:7::1"), NOW),
        vec![pair("isac", "2001:db8:bad::/48")]
    );
    assert_eq!(hits(&set, &ip("2001:db8:bae::1"), NOW), vec![]);
    // An IPv4-mapped IPv6 client is its IPv4 address.
    assert_eq!(
        hits(&set, &ip("::ffff:203.0.113.7"), NOW),
        vec![
            pair("isac", "203.0.113.7/32"),
            pair("misp", "203.0.113.0/28")
        ]
    );
    // The expired and revoked indicators of the bundle never loaded.
    assert_eq!(hits(&set, &ip("192.0.2.99"), NOW), vec![]);
    assert_eq!(hits(&set, &ip("192.0.2.5"), NOW - 300 * DAY), vec![]);
}

#[test]
fn the_match_carries_the_indicator() {
    let set = fixture_set();
    let mut out = Vec::new();
    let _ = set.matches(&ip("198.51.100.1"), NOW, &mut out);
    let m = out[1];
    assert_eq!(m.id, "indicator--1a1c9f4e-4a3b-4c55-9a2e-0c7e0b3c0001");
    assert_eq!(m.name, "Credential-stuffing network");
    assert_eq!(m.kind, IndicatorKind::Network);
    assert_eq!(m.confidence, Some(85));
    assert_eq!(m.valid_from, Some(1_768_035_600 * 1_000_000_000));
    assert_eq!(m.valid_until, Some(1_799_571_600 * 1_000_000_000));
    assert_eq!(
        (out[0].id, out[0].confidence, out[0].valid_until),
        ("line:2", None, None)
    );
}

#[test]
fn hosts_urls_agents_and_fingerprints() {
    let set = fixture_set();
    let host = |h: &'static str| Observed {
        host: Some(h),
        ..Observed::default()
    };
    assert_eq!(
        hits(&set, &host("API.Stuffing.Example.:8443"), NOW),
        vec![pair("isac", "stuffing.example")]
    );
    assert_eq!(
        hits(&set, &host("stuffing.example"), NOW),
        vec![pair("isac", "stuffing.example")]
    );
    // A label boundary, not a suffix of the text.
    assert_eq!(hits(&set, &host("notstuffing.example"), NOW), vec![]);
    assert_eq!(hits(&set, &host("example"), NOW), vec![]);
    assert_eq!(hits(&set, &host("[2001:db8:bad::1]:443"), NOW), vec![]);

    let url = |u: &'static str| Observed {
        url: Some(u),
        ..Observed::default()
    };
    let login = pair("isac", "https://login.bank-example.test/Sign-In?next=%2F");
    assert_eq!(
        hits(
            &set,
            &url("https://LOGIN.bank-example.test/Sign-In?next=%2F#top"),
            NOW
        ),
        vec![login.clone()]
    );
    assert_eq!(
        hits(
            &set,
            &url("HTTPS://login.bank-example.test:443/Sign-In?next=%2F"),
            NOW
        ),
        vec![login]
    );
    // Path and query are compared as they are.
    assert_eq!(
        hits(
            &set,
            &url("https://login.bank-example.test/sign-in?next=%2F"),
            NOW
        ),
        vec![]
    );
    assert_eq!(
        hits(
            &set,
            &url("https://login.bank-example.test/Sign-In?next=/"),
            NOW
        ),
        vec![]
    );
    assert_eq!(
        hits(
            &set,
            &url("http://login.bank-example.test/Sign-In?next=%2F"),
            NOW
        ),
        vec![]
    );
    assert_eq!(
        hits(
            &set,
            &url("http://enum.example:80/api/v1/accounts?page=1"),
            NOW
        ),
        vec![pair("misp", "http://enum.example/api/v1/accounts?page=1")]
    );

    let ua = |u: &'static str| Observed {
        user_agent: Some(u),
        ..Observed::default()
    };
    assert_eq!(
        hits(&set, &ua(r"OpenBullet/1.4 (it's \ ours)"), NOW).len(),
        1
    );
    assert_eq!(
        hits(&set, &ua(r"openbullet/1.4 (it's \ ours)"), NOW),
        vec![]
    );
    assert_eq!(
        hits(&set, &ua("Mozilla/5.0 (compatible; \"Scan\", v2)"), NOW).len(),
        1
    );

    let ja4 = |j: &'static str| Observed {
        ja4: Some(j),
        ..Observed::default()
    };
    assert_eq!(
        hits(&set, &ja4("T13D1516H2_8DAAF6152771_02713D6AF862"), NOW),
        vec![pair("isac", "t13d1516h2_8daaf6152771_02713d6af862")]
    );
    assert_eq!(
        hits(&set, &ja4("t13d1516h2_8daaf6152771_02713d6af863"), NOW),
        vec![]
    );

    // Every field at once: the order is network, domain, URL, agent, fingerprint.
    let all = Observed {
        ip: Some("203.0.113.1".parse().unwrap()),
        host: Some("enum.example"),
        url: Some("http://enum.example/api/v1/accounts?page=1"),
        user_agent: Some("Mozilla/5.0 (compatible; \"Scan\", v2)"),
        ja4: Some("t13d1516h2_8daaf6152771_e5627efa2ab1"),
    };
    let kinds: Vec<IndicatorKind> = {
        let mut out = Vec::new();
        let _ = set.matches(&all, NOW, &mut out);
        out.iter().map(|m| m.kind).collect()
    };
    use IndicatorKind::*;
    assert_eq!(kinds, vec![Network, Domain, Url, UserAgent, Ja4]);
}

#[test]
fn matches_past_the_limit_are_counted() {
    let mut b = IntelSetBuilder::new();
    for f in 0..100 {
        let feed = parse_plain(b"10.0.0.0/8\n", NOW, &FeedLimits::default()).unwrap();
        b.add_feed(&format!("feed{f}"), feed);
    }
    let set = b.build();
    assert_eq!(set.counts().ipv4_prefixes, 1);
    let mut out = Vec::new();
    let sum = set.matches(&ip("10.1.1.1"), NOW, &mut out);
    assert_eq!(
        (sum.matched, sum.truncated, out.len()),
        (MAX_MATCHES, 100 - MAX_MATCHES, MAX_MATCHES)
    );
}

#[test]
fn ipv4_mapped_indicators_match_ipv4_clients() {
    let mut b = IntelSetBuilder::new();
    let lim = FeedLimits::default();
    b.add_feed(
        "m",
        parse_plain(b"::ffff:192.0.2.0/120\n", NOW, &lim).unwrap(),
    );
    let set = b.build();
    let want = vec![pair("m", "::ffff:192.0.2.0/120")];
    assert_eq!(hits(&set, &ip("192.0.2.200"), NOW), want);
    assert_eq!(hits(&set, &ip("::ffff:192.0.2.200"), NOW), want);
    assert_eq!(hits(&set, &ip("192.0.3.1"), NOW), vec![]);
}

#[test]
fn indicators_past_the_limit_are_counted() {
    let mut b = IntelSetBuilder::with_max_indicators(5);
    let lim = FeedLimits::default();
    b.add_feed(
        "a",
        parse_plain(b"10.0.0.1\n10.0.0.2\n10.0.0.3\n", NOW, &lim).unwrap(),
    );
    b.add_feed(
        "b",
        parse_plain(b"10.0.0.4\n10.0.0.5\n10.0.0.6\nx.example\n", NOW, &lim).unwrap(),
    );
    let set = b.build();
    assert_eq!(
        (set.counts().indicators, set.counts().indicator_limit_hits),
        (5, 2)
    );
    // The first five in feed order are held; the last two are not.
    assert_eq!(
        hits(&set, &ip("10.0.0.5"), NOW),
        vec![pair("b", "10.0.0.5/32")]
    );
    assert_eq!(hits(&set, &ip("10.0.0.6"), NOW), vec![]);
    let host = Observed {
        host: Some("x.example"),
        ..Observed::default()
    };
    assert_eq!(hits(&set, &host, NOW), vec![]);
}

#[test]
fn feeds_past_the_limit_are_counted() {
    let mut b = IntelSetBuilder::new();
    for f in 0..MAX_FEEDS + 3 {
        b.add_feed(&format!("feed{f}"), ParsedFeed::default());
    }
    assert_eq!(b.build().counts().feed_limit_hits, 3);
}

/// Brute force: which indicators apply to `obs`, by the rules of docs/intel.md written
/// again over the parsed indicators, one by one.
fn oracle(
    inds: &[(String, Indicator)],
    obs_ip: IpAddr,
    host: &str,
    now: i64,
) -> Vec<(String, String)> {
    let mut nets: Vec<(u8, (String, String))> = Vec::new();
    let mut doms = Vec::new();
    for (feed, i) in inds {
        if !i.valid_at(now) {
            continue;
        }
        match &i.value {
            IndicatorValue::Network(n) => {
                let inside = match (n.addr, obs_ip) {
                    (IpAddr::V4(a), IpAddr::V4(b)) => {
                        n.len == 0
                            || (u32::from(a) >> (32 - n.len)) == (u32::from(b) >> (32 - n.len))
                    }
                    (IpAddr::V6(a), IpAddr::V6(b)) => {
                        n.len == 0
                            || (u128::from(a) >> (128 - n.len)) == (u128::from(b) >> (128 - n.len))
                    }
                    _ => false,
                };
                if inside {
                    nets.push((n.len, (feed.clone(), n.to_string())));
                }
            }
            IndicatorValue::Domain(d) => {
                let h = host.to_ascii_lowercase();
                if h == *d || h.ends_with(&format!(".{d}")) {
                    doms.push((h.len() - d.len(), (feed.clone(), d.clone())));
                }
            }
            _ => {}
        }
    }
    nets.sort_by_key(|n| std::cmp::Reverse(n.0));
    doms.sort_by_key(|d| d.0);
    let mut all: Vec<(String, String)> = nets.into_iter().map(|n| n.1).collect();
    all.extend(doms.into_iter().map(|d| d.1));
    all
}

#[test]
fn random_feeds_against_brute_force() {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let labels = ["a", "b", "bank", "evil", "example"];
    let mut inds = Vec::new();
    let mut b = IntelSetBuilder::new();
    for f in 0..4 {
        let mut text = String::new();
        for _ in 0..150 {
            match next() % 3 {
                0 => text.push_str(&format!(
                    "10.{}.{}.{}/{}\n",
                    next() % 4,
                    next() % 8,
                    next() % 256,
                    16 + next() % 17
                )),
                1 => text.push_str(&format!(
                    "2001:db8:{:x}::{:x}/{}\n",
                    next() % 4,
                    next() % 16,
                    28 + next() % 101
                )),
                _ => {
                    let n = 1 + next() % 3;
                    let d: Vec<&str> = (0..n).map(|_| labels[(next() % 5) as usize]).collect();
                    text.push_str(&format!("{}\n", d.join(".")));
                }
            }
        }
        let mut feed = parse_plain(text.as_bytes(), NOW, &FeedLimits::default()).unwrap();
        assert!(feed.problems.is_empty(), "{:?}", feed.problems);
        // Some with a window, to check it too.
        for (k, i) in feed.indicators.iter_mut().enumerate() {
            if k % 5 == 0 {
                i.valid_until = Some(NOW + (k as i64 % 3 - 1) * DAY);
            }
        }
        inds.extend(feed.indicators.iter().map(|i| (format!("f{f}"), i.clone())));
        b.add_feed(&format!("f{f}"), feed);
    }
    let set = b.build();
    let mut truncated = 0;
    let mut matched = 0;
    for _ in 0..3000 {
        let obs_ip: IpAddr = if next() % 2 == 0 {
            format!("10.{}.{}.{}", next() % 4, next() % 8, next() % 256)
                .parse()
                .unwrap()
        } else {
            format!("2001:db8:{:x}::{:x}", next() % 4, next() % 16)
                .parse()
                .unwrap()
        };
        let n = 1 + next() % 4;
        let host: Vec<&str> = (0..n).map(|_| labels[(next() % 5) as usize]).collect();
        let host = host.join(".");
        let obs = Observed {
            ip: Some(obs_ip),
            host: Some(&host),
            ..Observed::default()
        };
        let mut got = hits(&set, &obs, NOW);
        let mut want = oracle(&inds, obs_ip, &host, NOW);
        // Indicators on one prefix or one domain come in no promised order.
        let key = |v: &[(String, String)]| v.iter().map(|(_, val)| val.clone()).collect::<Vec<_>>();
        if want.len() > MAX_MATCHES {
            truncated += 1;
            assert_eq!(key(&got), key(&want[..MAX_MATCHES]), "{obs_ip} {host}");
            continue;
        }
        assert_eq!(key(&got), key(&want), "{obs_ip} {host}");
        matched += usize::from(!want.is_empty());
        got.sort();
        want.sort();
        assert_eq!(got, want, "{obs_ip} {host}");
    }
    // The generator gives both kinds of case often enough to mean something.
    assert!(matched > 1000 && truncated > 0, "{matched} {truncated}");
}

#[test]
fn memory_is_reported() {
    let set = fixture_set();
    assert!(set.memory_bytes() > 0);
    assert_eq!(set.counts().indicators, 9 + 4 + 6);
}
