//! AS and country enrichment on MaxMind's own test databases (fixtures/geo, see its README).
//! The expected answers come from MaxMind's source data for those files (the JSON they are
//! built from), not from this reader.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

mod identity_common;

use std::net::IpAddr;
use std::path::PathBuf;

use apitap_discovery::identity::{
    Country, GeoDb, GeoErrorReason, GeoKind, GeoStats, Identifier, IdentityConfig, Prefix,
};
use identity_common::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/geo").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn db(files: &[&str], max_cache: usize) -> GeoDb {
    let mut db = GeoDb::new(max_cache);
    for f in files {
        db.add(f, fixture(f)).unwrap();
    }
    db
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn look(db: &mut GeoDb, addr: &str) -> apitap_discovery::identity::Geo {
    let a = ip(addr);
    db.lookup(Prefix::of(a, 24, 48), a)
}

fn country(c: &str) -> Option<Country> {
    Some(Country::new(c).unwrap())
}

const ASN: &str = "GeoLite2-ASN-Test.mmdb";
const COUNTRY: &str = "GeoIP2-Country-Test.mmdb";
const CITY: &str = "GeoLite2-City-Test.mmdb";
const ENTERPRISE: &str = "GeoIP2-Enterprise-Test.mmdb";
const ISP: &str = "GeoIP2-ISP-Test.mmdb";

#[test]
fn kinds_are_read_from_the_metadata() {
    let mut g = GeoDb::new(10);
    assert_eq!(g.add("asn", fixture(ASN)).unwrap(), GeoKind::Asn);
    assert_eq!(g.add("isp", fixture(ISP)).unwrap(), GeoKind::Asn);
    assert_eq!(g.add("country", fixture(COUNTRY)).unwrap(), GeoKind::Country);
    assert_eq!(g.add("city", fixture(CITY)).unwrap(), GeoKind::Country);
    assert_eq!(g.add("enterprise", fixture(ENTERPRISE)).unwrap(), GeoKind::CountryAndAsn);
    let list = g.databases();
    let types: Vec<&str> = list.iter().map(|d| d.database_type.as_str()).collect();
    assert_eq!(types, ["GeoLite2-ASN", "GeoIP2-ISP", "GeoIP2-Country", "GeoLite2-City", "GeoIP2-Enterprise"]);
    assert_eq!(list[0].name, "asn");
    assert_eq!(list[0].bytes, fixture(ASN).len());
    assert!(list.iter().all(|d| d.build_epoch > 1_300_000_000), "build times are real dates");
}

#[test]
fn asn_and_country_for_known_addresses() {
    let mut g = db(&[ASN, COUNTRY], 100);
    // 89.160.20.0/17 is AS29518 Bredband2 AB; 89.160.20.128/25 is located in Sweden.
    let geo = look(&mut g, "89.160.20.128");
    assert_eq!(geo.asn, Some(29518));
    assert_eq!(geo.as_org.as_deref(), Some("Bredband2 AB"));
    assert_eq!(geo.country, country("SE"));
    // 1.0.0.0/24 is AS15169 Google Inc.; the country database has nothing there.
    let geo = look(&mut g, "1.0.0.1");
    assert_eq!((geo.asn, geo.as_org.as_deref(), geo.country), (Some(15169), Some("Google Inc."), None));
    // IPv6: 2001:218::/32 is in Japan; the ASN database has nothing there.
    let geo = look(&mut g, "2001:218::1");
    assert_eq!((geo.asn, geo.country), (None, country("JP")));
    // An IPv4-mapped IPv6 address is the IPv4 address it carries.
    let geo = look(&mut g, "::ffff:89.160.20.130");
    assert_eq!((geo.asn, geo.country), (Some(29518), country("SE")));
    // A public address none of the files knows.
    assert!(look(&mut g, "8.8.4.4").is_empty());
    assert_eq!(g.stats().not_found, 1);
}

#[test]
fn city_isp_and_enterprise_databases() {
    let mut g = db(&[CITY, ISP], 100);
    let geo = look(&mut g, "81.2.69.142");
    assert_eq!(geo.country, country("GB"));
    let geo = look(&mut g, "89.160.20.5");
    assert_eq!((geo.asn, geo.as_org.as_deref(), geo.country), (Some(29518), Some("Bredband2 AB"), None));
    assert_eq!(look(&mut g, "12.81.92.5").asn, Some(7018), "AT&T Services");

    let mut g = db(&[ENTERPRISE], 100);
    // Enterprise keeps the AS under traits.
    let geo = look(&mut g, "214.78.120.1");
    assert_eq!((geo.asn, geo.country), (Some(14593), country("US")));
    // 5.83.124.0/22 has no location, only the registered country (Romania).
    assert_eq!(look(&mut g, "5.83.124.1").country, country("RO"));
}

#[test]
fn the_first_file_that_knows_a_field_wins() {
    // 214.78.120.1: the ASN file says AS721 (its /8), the Enterprise file AS14593 (its /22).
    let mut asn_first = db(&[ASN, ENTERPRISE], 10);
    let geo = look(&mut asn_first, "214.78.120.1");
    assert_eq!((geo.asn, geo.as_org.as_deref(), geo.country), (Some(721), Some("DoD Network Information Center"), country("US")));
    let mut enterprise_first = db(&[ENTERPRISE, ASN], 10);
    assert_eq!(look(&mut enterprise_first, "214.78.120.1").asn, Some(14593));
}

#[test]
fn private_and_reserved_addresses_are_not_looked_up() {
    let mut g = db(&[ASN, COUNTRY], 100);
    for a in ["10.1.2.3", "192.168.0.10", "172.20.1.1", "100.64.3.4", "127.0.0.1", "169.254.1.1", "fd00::1", "fe80::1", "::1", "198.51.100.7"] {
        assert!(look(&mut g, a).is_empty(), "{a}");
    }
    let s = g.stats();
    assert_eq!(s.reserved, 10);
    assert_eq!((s.cache_hits, s.cache_misses), (0, 0), "nothing walked the tree");
    assert_eq!(g.cached(), 0);
}

#[test]
fn a_known_network_is_answered_from_the_cache() {
    let mut g = db(&[ASN, COUNTRY], 100);
    let first = look(&mut g, "89.160.20.130");
    assert_eq!(g.stats().cache_misses, 1);
    for host in 131..140 {
        assert_eq!(look(&mut g, &format!("89.160.20.{host}")), first);
    }
    let s = g.stats();
    assert_eq!((s.cache_misses, s.cache_hits), (1, 9));
    assert_eq!(g.cached(), 1);
    // The cached organisation name is shared, not copied per request.
    let a = look(&mut g, "89.160.20.131").as_org.unwrap();
    let b = look(&mut g, "89.160.20.132").as_org.unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b));
}

#[test]
fn a_database_network_narrower_than_the_client_network_is_honoured() {
    // In the country file 81.2.69.142/31 is GB while 81.2.69.100 (same /24) has no data.
    let mut g = db(&[COUNTRY], 100);
    assert_eq!(look(&mut g, "81.2.69.142").country, country("GB"));
    assert_eq!(look(&mut g, "81.2.69.143").country, country("GB"), "same /31: a hit");
    assert_eq!(look(&mut g, "81.2.69.100").country, None, "outside the /31: looked up");
    assert_eq!(look(&mut g, "81.2.69.142").country, country("GB"), "and back");
    let s = g.stats();
    assert_eq!((s.cache_hits, s.cache_misses), (1, 3));
    assert_eq!(g.cached(), 1, "one entry for the /24, replaced, not added");
    // Without the cache in the way, the same answers in the other order.
    let mut g = db(&[COUNTRY], 100);
    assert_eq!(look(&mut g, "81.2.69.100").country, None);
    assert_eq!(look(&mut g, "81.2.69.143").country, country("GB"));
}

#[test]
fn the_cache_is_bounded_and_counted() {
    let mut g = db(&[ASN, COUNTRY], 3);
    // Five different /24s: the cache keeps three.
    for a in ["89.160.20.128", "1.0.0.1", "12.81.92.5", "1.128.0.1", "214.78.120.1"] {
        assert!(!look(&mut g, a).is_empty(), "{a}");
    }
    let s = g.stats();
    assert_eq!((s.cache_misses, s.cache_evictions), (5, 2));
    assert_eq!(g.cached(), 3);
    // An evicted network is looked up again and still answered right.
    assert_eq!(look(&mut g, "89.160.20.128").asn, Some(29518));
    assert_eq!(g.stats().cache_misses, 6);
    assert_eq!(g.cached(), 3);
}

#[test]
fn cache_memory_stays_within_the_documented_bound() {
    let max = 4096;
    let mut g = db(&[ASN, COUNTRY], max);
    let empty = g.memory_bytes();
    // Every /24 of 1.128.0.0/11 (AS1221 Telstra), more than the cache holds.
    for i in 0..(2 * max as u32) {
        let a = IpAddr::from(std::net::Ipv4Addr::from(0x0180_0000u32 + (i << 8) + 1));
        assert_eq!(g.lookup(Prefix::of(a, 24, 48), a).asn, Some(1221));
    }
    assert_eq!(g.cached(), max);
    assert_eq!(g.stats().cache_evictions, u64::try_from(max).unwrap());
    let per_network = (g.memory_bytes() - empty) / max;
    // The documented "about 200 bytes a network", the organisation's name ("Telstra Pty
    // Ltd") included.
    assert!((120..=240).contains(&per_network), "{per_network} bytes a network");
}

#[test]
fn bad_files_are_refused_with_their_name_and_reason() {
    let mut g = GeoDb::new(10);
    let e = g.add("/etc/hosts", b"127.0.0.1 localhost\n".to_vec()).unwrap_err();
    assert_eq!(e.name, "/etc/hosts");
    assert!(matches!(e.reason, GeoErrorReason::NotMmdb(_)));
    let text = e.to_string();
    assert!(text.starts_with("geoip: /etc/hosts: not a MaxMind DB file ("), "{text}");
    assert!(text.ends_with("give a .mmdb file such as GeoLite2-ASN.mmdb or GeoLite2-Country.mmdb"), "{text}");

    assert!(matches!(g.add("empty.mmdb", Vec::new()).unwrap_err().reason, GeoErrorReason::NotMmdb(_)));

    let e = g.add("conn.mmdb", fixture("GeoIP2-Connection-Type-Test.mmdb")).unwrap_err();
    assert_eq!(e.reason, GeoErrorReason::Unsupported { database_type: "GeoIP2-Connection-Type".into() });
    assert!(e.to_string().starts_with("geoip: conn.mmdb: database type \"GeoIP2-Connection-Type\" has neither"), "{e}");

    // The metadata (at the end) survives, the tree and data do not: cut the first half out.
    let whole = fixture(ASN);
    let mut damaged = whole.clone();
    for b in damaged.iter_mut().take(whole.len() / 2) {
        *b = 0xff;
    }
    let e = g.add("damaged.mmdb", damaged).unwrap_err();
    assert!(matches!(e.reason, GeoErrorReason::Damaged(_) | GeoErrorReason::NotMmdb(_)), "{e}");
    assert!(e.to_string().starts_with("geoip: damaged.mmdb: "), "{e}");
    // A file cut short loses its metadata.
    let e = g.add("short.mmdb", whole[..whole.len() / 2].to_vec()).unwrap_err();
    assert!(matches!(e.reason, GeoErrorReason::NotMmdb(_)), "{e}");
    assert!(g.is_empty(), "nothing refused was kept");
}

#[test]
fn every_cut_and_flip_of_a_file_is_refused_or_read_without_panic() {
    let whole = fixture(ASN);
    for cut in (0..whole.len()).step_by(97) {
        let _ = GeoDb::new(4).add("cut", whole[..cut].to_vec());
    }
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..300 {
        let mut bytes = whole.clone();
        for _ in 0..8 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = usize::try_from(seed % whole.len() as u64).unwrap();
            bytes[at] ^= (seed >> 40) as u8 | 1;
        }
        let mut g = GeoDb::new(4);
        if g.add("flipped", bytes).is_ok() {
            for a in ["89.160.20.128", "1.0.0.1", "2001:218::1", "12.81.92.5"] {
                let _ = look(&mut g, a);
            }
        }
    }
}

#[test]
fn identity_carries_the_enrichment() {
    let mut idr = Identifier::new(IdentityConfig::default(), KEY).with_geo(db(&[ASN, COUNTRY], 100));
    let id = Req::get().peer("89.160.20.128").identify(&mut idr);
    assert_eq!(id.geo.asn, Some(29518));
    assert_eq!(id.geo.as_org.as_deref(), Some("Bredband2 AB"));
    assert_eq!(id.geo.country, country("SE"));
    let id = Req::get().peer("10.9.8.7").identify(&mut idr);
    assert!(id.geo.is_empty(), "private address");
    let s = idr.stats();
    assert_eq!(s.geo, GeoStats { reserved: 1, cache_misses: 1, ..GeoStats::default() });
    let counters = s.counters();
    assert!(counters.contains(&("geo_reserved".to_owned(), 1)));
    assert!(counters.contains(&("geo_cache_misses".to_owned(), 1)));
    assert!(idr.geo().is_some());
    assert!(idr.memory_bytes() > fixture(ASN).len() + fixture(COUNTRY).len());

    // The geo object serialises with the identity, and only when known.
    let id = Req::get().peer("81.2.69.142").identify(&mut idr);
    let json = serde_json::to_value(&id).unwrap();
    assert_eq!(json["geo"], serde_json::json!({"country": "GB"}));
    let id = Req::get().peer("10.0.0.1").identify(&mut idr);
    assert!(serde_json::to_value(&id).unwrap().get("geo").is_none());
}

#[test]
fn the_forwarded_client_is_enriched_not_the_proxy() {
    let cfg = IdentityConfig { trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()], ..IdentityConfig::default() };
    let mut idr = identifier_with(cfg).with_geo(db(&[COUNTRY], 100));
    let id = Req::get().peer("10.0.0.5").header("x-forwarded-for", "81.2.69.142").identify(&mut idr);
    assert_eq!(id.client_ip, ip("81.2.69.142"));
    assert_eq!(id.geo.country, country("GB"));
}

#[test]
fn without_databases_nothing_is_enriched() {
    let mut idr = identifier();
    let id = Req::get().peer("89.160.20.128").identify(&mut idr);
    assert!(id.geo.is_empty());
    assert_eq!(idr.stats().geo, GeoStats::default());
    let mut idr = identifier().with_geo(GeoDb::new(10));
    assert!(idr.geo().is_none(), "an empty GeoDb is no enrichment");
    assert!(Req::get().peer("89.160.20.128").identify(&mut idr).geo.is_empty());
}
