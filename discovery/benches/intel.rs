//! How long a million threat-intelligence indicators take to load, how much memory they
//! hold, and what matching costs per transaction.
//!
//! The indicators are generated (a fixed seed): 500,000 lines of a plain list (IPv4
//! addresses, /24s and networks of /20 to /31, IPv6 networks of /48 to /128, domains), a STIX 2.1
//! bundle of 250,000 indicators (URLs, user agents, JA4 fingerprints, addresses) and a MISP
//! CSV export of 250,000 attributes (addresses, domains, URLs). Loading is timed per format
//! (parse) and for the set (build). Matching runs 1,000,000 generated transactions carrying
//! every field (client address, host, URL, user agent, JA4), 2% of them built to hit an
//! indicator, the rest misses, and reports nanoseconds per transaction.
//!
//! Run: `cargo bench -p apitap-discovery --bench intel` (release build). Figures are
//! measurements for one machine, never thresholds; docs/performance.md has the last ones.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]

use std::fmt::Write;
use std::hint::black_box;
use std::net::IpAddr;
use std::time::Instant;

use apitap_discovery::intel::{
    parse_misp_csv, parse_plain, parse_stix, FeedLimits, IntelSetBuilder, Observed,
};

/// 2026-06-01T00:00:00Z.
const NOW: i64 = 1_780_272_000 * 1_000_000_000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn v4(r: &mut Rng) -> String {
    let a = r.next() as u32;
    // Mostly addresses and /24s, some wider networks down to /20.
    let len = match r.below(10) {
        0..=4 => 32,
        5 | 6 => 24,
        _ => 20 + r.below(12) as u32,
    };
    let masked = a & u32::MAX.checked_shl(32 - len).unwrap_or(0);
    format!("{}/{len}", std::net::Ipv4Addr::from(masked))
}

fn domain(r: &mut Rng, n: u64) -> String {
    format!("h{n:x}-{}.bad{}.example", r.below(1000), r.below(50))
}

fn ja4(r: &mut Rng) -> String {
    format!(
        "t13d{:02}{:02}h2_{:012x}_{:012x}",
        r.below(99),
        r.below(99),
        r.next() & 0xffff_ffff_ffff,
        r.next() & 0xffff_ffff_ffff
    )
}

fn ua(n: u64) -> String {
    format!(
        "Mozilla/5.0 (X11; Linux x86_64) BadBot/{}.{} (+https://bot{n}.example/)",
        n % 97,
        n % 13
    )
}

/// Resident memory of this process now and at its peak, from /proc (0 where there is none).
fn rss_bytes() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (kib("VmRSS:") * 1024, kib("VmHWM:") * 1024)
}

struct Feeds {
    plain: String,
    stix: String,
    misp: String,
    /// Values of the feeds to build hits from, by kind: addresses, domains, URLs, user
    /// agents, JA4.
    hits: [Vec<String>; 5],
}

fn generate() -> Feeds {
    let mut r = Rng(0x853c_49e6_748f_ea9b);
    let mut plain = String::with_capacity(16 << 20);
    let mut hits: [Vec<String>; 5] = Default::default();
    let mut keep = |kind: usize, n: u64, v: &str| {
        if n % 97 == 0 {
            hits[kind].push(v.to_string());
        }
    };
    for n in 0..500_000u64 {
        match n % 10 {
            0..=5 => {
                let net = v4(&mut r);
                plain.push_str(&net);
            }
            6 => {
                let len = 48 + r.below(81);
                write!(
                    plain,
                    "2001:db8:{:x}:{:x}::/{len}",
                    r.below(0xffff),
                    r.below(0xffff)
                )
                .unwrap();
            }
            _ => {
                let d = domain(&mut r, n);
                keep(1, n, &d);
                plain.push_str(&d);
            }
        }
        plain.push('\n');
    }
    let mut stix = String::with_capacity(128 << 20);
    stix.push_str(r#"{"type":"bundle","id":"bundle--bench","objects":["#);
    for n in 0..250_000u64 {
        let (path, value) = match n % 5 {
            0 | 1 => (
                "url:value",
                format!(
                    "https://d{n}.bad.example/login/{}?x={}",
                    r.below(100),
                    r.below(1000)
                ),
            ),
            2 => (
                "network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'",
                ua(n),
            ),
            3 => ("x-ja4-fingerprint:value", ja4(&mut r)),
            _ => (
                "ipv4-addr:value",
                std::net::Ipv4Addr::from(r.next() as u32).to_string(),
            ),
        };
        let kind = [2, 2, 3, 4, 0][(n % 5) as usize];
        keep(kind, n, &value);
        if n > 0 {
            stix.push(',');
        }
        write!(
            stix,
            r#"{{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-{n:012}","created":"2026-01-10T09:00:00.000Z","modified":"2026-01-10T09:00:00.000Z","name":"bench {n}","pattern":"[{path} = '{value}']","pattern_type":"stix","valid_from":"2026-01-10T09:00:00Z","confidence":{}}}"#,
            r.below(101)
        )
        .unwrap();
    }
    stix.push_str("]}");
    let mut misp = String::with_capacity(32 << 20);
    misp.push_str("uuid,event_id,category,type,value,comment,to_ids,date\n");
    for n in 0..250_000u64 {
        let (ty, value) = match n % 5 {
            0 | 1 => (
                "ip-src",
                std::net::Ipv4Addr::from(r.next() as u32).to_string(),
            ),
            2 | 3 => ("domain", domain(&mut r, n + 1_000_000)),
            _ => (
                "url",
                format!("http://m{n}.bad.example/a/{}", r.below(1000)),
            ),
        };
        writeln!(misp, "5f1d0a2e-0000-4000-8000-{n:012},7,Network activity,{ty},{value},\"bench, {n}\",1,20260110").unwrap();
    }
    Feeds {
        plain,
        stix,
        misp,
        hits,
    }
}

fn main() {
    let t = Instant::now();
    let feeds = generate();
    println!(
        "generated in {:.1} s: plain {:.1} MB, STIX {:.1} MB, MISP {:.1} MB",
        t.elapsed().as_secs_f64(),
        feeds.plain.len() as f64 / 1e6,
        feeds.stix.len() as f64 / 1e6,
        feeds.misp.len() as f64 / 1e6
    );
    let rss_before = rss_bytes();
    let lim = FeedLimits::default();
    let t0 = Instant::now();
    let plain = parse_plain(feeds.plain.as_bytes(), NOW, &lim).unwrap();
    let t1 = Instant::now();
    let stix = parse_stix(feeds.stix.as_bytes(), NOW, &lim).unwrap();
    let t2 = Instant::now();
    let misp = parse_misp_csv(feeds.misp.as_bytes(), NOW, &lim).unwrap();
    let t3 = Instant::now();
    let loaded = plain.indicators.len() + stix.indicators.len() + misp.indicators.len();
    let problems = plain.problems.len() + stix.problems.len() + misp.problems.len();
    let mut b = IntelSetBuilder::new();
    b.add_feed("plain", plain);
    b.add_feed("stix", stix);
    b.add_feed("misp", misp);
    let set = b.build();
    let t4 = Instant::now();
    println!("indicators loaded: {loaded} ({problems} problems)");
    println!(
        "parse: plain {:.2} s, STIX {:.2} s, MISP {:.2} s; build {:.2} s; total {:.2} s",
        (t1 - t0).as_secs_f64(),
        (t2 - t1).as_secs_f64(),
        (t3 - t2).as_secs_f64(),
        (t4 - t3).as_secs_f64(),
        (t4 - t0).as_secs_f64()
    );
    let c = set.counts();
    println!(
        "set: {} indicators, {} IPv4 prefixes, {} IPv6 prefixes; memory_bytes {:.1} MiB; process RSS {:.1} MiB with the feed texts, {:.1} MiB after the load, peak {:.1} MiB",
        c.indicators,
        c.ipv4_prefixes,
        c.ipv6_prefixes,
        set.memory_bytes() as f64 / 1048576.0,
        rss_before.0 as f64 / 1048576.0,
        rss_bytes().0 as f64 / 1048576.0,
        rss_bytes().1 as f64 / 1048576.0
    );
    drop(feeds.plain);
    drop(feeds.stix);
    drop(feeds.misp);

    // The transactions: 2% hits, built from the feeds' values.
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let uas = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
        "okhttp/4.12.0",
        "BankApp/7.3 (iPhone; iOS 17.5)",
        "curl/8.5.0",
    ];
    struct Tx {
        ip: IpAddr,
        host: String,
        url: String,
        ua: String,
        ja4: String,
    }
    let mut txs = Vec::with_capacity(1_000_000);
    for n in 0..1_000_000u64 {
        let tx = if n % 50 == 0 {
            // One field from the feeds, the others ordinary.
            let i = (n / 50) as usize;
            let pick = |k: usize| feeds.hits[k][i % feeds.hits[k].len()].clone();
            let mut tx = Tx {
                ip: IpAddr::from([192, 168, 1, (n % 200) as u8]),
                host: "api.bank.example".to_string(),
                url: "https://api.bank.example/open-banking/v3.1/aisp/accounts".to_string(),
                ua: uas[0].to_string(),
                ja4: "t13d1516h2_8daaf6152771_02713d6af862".to_string(),
            };
            match i % 5 {
                0 => tx.ip = pick(0).parse().unwrap(),
                1 => tx.host = format!("www.{}", pick(1)),
                2 => tx.url = pick(2),
                3 => tx.ua = pick(3),
                _ => tx.ja4 = pick(4),
            }
            tx
        } else {
            let ip = if n % 10 == 1 {
                IpAddr::from([
                    0x2001,
                    0xdb8,
                    r.below(0xffff) as u16,
                    0,
                    0,
                    0,
                    0,
                    r.below(0xffff) as u16,
                ])
            } else {
                IpAddr::from(std::net::Ipv4Addr::from(r.next() as u32))
            };
            let account = r.below(100_000);
            Tx {
                ip,
                host: format!("api{}.bank.example", r.below(20)),
                url: format!("https://api.bank.example/open-banking/v3.1/aisp/accounts/{account}/transactions"),
                ua: uas[(n % 4) as usize].to_string(),
                ja4: format!("t13d1516h2_8daaf6152771_{:012x}", r.below(16)),
            }
        };
        txs.push(tx);
    }
    let mut out = Vec::new();
    let mut best_all = f64::MAX;
    let mut best_ip = f64::MAX;
    let mut hits = 0;
    for _ in 0..3 {
        hits = 0;
        let t = Instant::now();
        for tx in &txs {
            let obs = Observed {
                ip: Some(tx.ip),
                host: Some(&tx.host),
                url: Some(&tx.url),
                user_agent: Some(&tx.ua),
                ja4: Some(&tx.ja4),
            };
            let sum = set.matches(black_box(&obs), NOW, &mut out);
            hits += usize::from(sum.matched > 0);
        }
        best_all = best_all.min(t.elapsed().as_nanos() as f64 / txs.len() as f64);
        let t = Instant::now();
        for tx in &txs {
            let obs = Observed {
                ip: Some(tx.ip),
                ..Observed::default()
            };
            let _ = set.matches(black_box(&obs), NOW, &mut out);
        }
        best_ip = best_ip.min(t.elapsed().as_nanos() as f64 / txs.len() as f64);
    }
    println!(
        "matching {} transactions ({hits} with a match): {best_all:.0} ns per transaction with every field, {best_ip:.0} ns with the client address only (best of 3)",
        txs.len()
    );
}
