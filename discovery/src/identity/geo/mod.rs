//! Optional enrichment of a client network with its autonomous system (number and
//! organisation) and country, from MaxMind DB (`.mmdb`) files.
//!
//! Sans-IO: [`GeoDb::add`] takes the bytes of a file the caller has read and a name for
//! messages; lookups take the client address. Nothing here reads a file or the clock.
//!
//! # Databases
//!
//! A file's kind comes from its metadata's `database_type` ([`GeoKind`]):
//!
//! | `database_type` contains | kind | fields read |
//! |---|---|---|
//! | `ASN` (GeoLite2-ASN, DB-IP ASN Lite) or `ISP` (GeoIP2-ISP) | [`GeoKind::Asn`] | `autonomous_system_number`, `autonomous_system_organization` |
//! | `Country` or `City` (GeoLite2/GeoIP2 Country and City, DB-IP Country/City Lite) | [`GeoKind::Country`] | `country.iso_code`, else `registered_country.iso_code` |
//! | `Enterprise` (GeoIP2-Enterprise) | [`GeoKind::CountryAndAsn`] | both, the AS under `traits` |
//!
//! Any other type (Connection-Type, Anonymous-IP, Domain, ...) is refused when added, as is a
//! file that is not a MaxMind DB or whose search tree or data do not check out (the whole
//! file is verified once, when added). Several files may be given in any mix; for each field
//! the first file (in the order added) that has a value wins.
//!
//! # Cost and memory
//!
//! A database is held whole in memory, as given: its size on disk (GeoLite2-ASN and
//! GeoLite2-Country are about 10 MB each, GeoLite2-City several times that); adding one
//! verifies it in one pass over the file. What was found for a
//! client network ([`Prefix`], the identity's `/24` or `/48`) is cached, at most
//! `max_cache` networks (second-chance eviction), about 200 bytes each with the AS
//! organisation's name; so a request from a known network costs one hash lookup and does not
//! walk the search tree. A database network narrower than the client network (a `/28` inside
//! a `/24`) is honoured: the entry remembers the narrowest network its answer holds for, and
//! an address outside it is looked up again (a miss) and replaces the entry.
//!
//! Private, shared (carrier-grade NAT), loopback, link-local, documentation, multicast and
//! other special-purpose addresses are never looked up.
//!
//! # Not supported
//!
//! - City, region, location, ISP and connection-type fields; anonymiser flags.
//! - Databases of other schemas (IP2Location, IPinfo's own): refused unless their
//!   `database_type` claims one of the kinds above, and then read only as far as their
//!   fields match MaxMind's names.
//! - Reloading while running: build a new [`GeoDb`].
//! - NAT64 (`64:ff9b::/96`) and 6to4 addresses are looked up as the IPv6 addresses they are,
//!   not as the IPv4 address inside.

mod cache;
mod reserved;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use maxminddb::Reader;
use serde::{Deserialize, Serialize};

use super::network::Prefix;
use super::text;
use cache::{Cache, Inserted};

pub(crate) use reserved::is_reserved;

/// An ISO 3166-1 alpha-2 country code: two upper-case ASCII letters, such as `GB`.
/// Serialised as its text.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 2]);

impl Country {
    /// The code of two ASCII letters (either case, stored upper case); `None` for anything
    /// else.
    pub fn new(code: &str) -> Option<Country> {
        match code.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Some(Country([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => None,
        }
    }

    /// The two letters.
    pub fn bytes(self) -> [u8; 2] {
        self.0
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Two ASCII letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Country({})", self.as_str())
    }
}

/// Text that is not a country code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountryError(pub String);

impl fmt::Display for CountryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a two-letter ISO 3166-1 country code", self.0)
    }
}

impl std::error::Error for CountryError {}

impl FromStr for Country {
    type Err = CountryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Country::new(s).ok_or_else(|| CountryError(s.to_owned()))
    }
}

impl Serialize for Country {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Country {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What the databases say about a client address. Empty (the default) when no database is
/// loaded, the address is private or reserved, or no database knows it. Cheap to clone: the
/// organisation name is shared with the cache, not copied.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Geo {
    /// The autonomous system announcing the address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    /// The autonomous system's organisation, as the database names it (at most 128
    /// characters, control characters replaced).
    #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "arc_str", deserialize_with = "arc_str_in")]
    pub as_org: Option<Arc<str>>,
    /// The country the address is located in; where a database does not locate it, the
    /// country it is registered to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<Country>,
}

fn arc_str_in<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Arc<str>>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(Arc::from))
}

fn arc_str<S: serde::Serializer>(v: &Option<Arc<str>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) => s.serialize_str(x),
        None => s.serialize_none(),
    }
}

impl Geo {
    /// Nothing is known.
    pub fn is_empty(&self) -> bool {
        self.asn.is_none() && self.as_org.is_none() && self.country.is_none()
    }
}

/// What a database provides, from its `database_type` (see the module documentation).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum GeoKind {
    /// AS number and organisation (GeoLite2-ASN, GeoIP2-ISP).
    Asn,
    /// Country (GeoLite2/GeoIP2 Country and City).
    Country,
    /// Both (GeoIP2-Enterprise).
    CountryAndAsn,
}

impl GeoKind {
    /// The kind a `database_type` names, `None` when it has neither AS nor country data.
    pub fn of(database_type: &str) -> Option<GeoKind> {
        let t = database_type.to_ascii_lowercase();
        if t.contains("enterprise") {
            Some(GeoKind::CountryAndAsn)
        } else if t.contains("asn") || t.contains("isp") {
            Some(GeoKind::Asn)
        } else if t.contains("country") || t.contains("city") {
            Some(GeoKind::Country)
        } else {
            None
        }
    }

    fn asn(self) -> bool {
        matches!(self, GeoKind::Asn | GeoKind::CountryAndAsn)
    }

    fn country(self) -> bool {
        matches!(self, GeoKind::Country | GeoKind::CountryAndAsn)
    }
}

/// Why a file was refused: its name and the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeoError {
    /// The name the file was added under (its path, for the binary).
    pub name: String,
    /// What is wrong.
    pub reason: GeoErrorReason,
}

/// What is wrong with a database file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GeoErrorReason {
    /// Not a MaxMind DB: no metadata section, or one that does not read (the reader's words).
    NotMmdb(String),
    /// A MaxMind DB whose search tree or data section does not check out: truncated or
    /// damaged (the reader's words).
    Damaged(String),
    /// A MaxMind DB of a type with neither AS nor country data.
    Unsupported {
        /// Its metadata's `database_type`.
        database_type: String,
    },
}

impl fmt::Display for GeoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "geoip: {}: ", self.name)?;
        match &self.reason {
            GeoErrorReason::NotMmdb(why) => write!(
                f,
                "not a MaxMind DB file ({why}); give a .mmdb file such as GeoLite2-ASN.mmdb or GeoLite2-Country.mmdb"
            ),
            GeoErrorReason::Damaged(why) => {
                write!(f, "damaged MaxMind DB file ({why}); download or copy it again")
            }
            GeoErrorReason::Unsupported { database_type } => write!(
                f,
                "database type {database_type:?} has neither AS numbers nor countries; use a GeoLite2 or GeoIP2 ASN, ISP, Country, City or Enterprise database"
            ),
        }
    }
}

impl std::error::Error for GeoError {}

/// What the lookups did, for the binary's metrics.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct GeoStats {
    /// Addresses not looked up: private, shared, loopback, documentation or otherwise
    /// reserved.
    pub reserved: u64,
    /// Answered from the cache.
    pub cache_hits: u64,
    /// Looked up in the databases (new network, or an address outside the cached answer's
    /// narrower database network).
    pub cache_misses: u64,
    /// Networks dropped from the full cache to make room.
    pub cache_evictions: u64,
    /// Lookups no database had any data for.
    pub not_found: u64,
    /// Records that did not read, or held a malformed country code (that database's answer
    /// is left out).
    pub errors: u64,
}

impl GeoStats {
    /// Every counter with its stable snake_case name, in a fixed order.
    pub fn counters(&self) -> [(&'static str, u64); 6] {
        [
            ("reserved", self.reserved),
            ("cache_hits", self.cache_hits),
            ("cache_misses", self.cache_misses),
            ("cache_evictions", self.cache_evictions),
            ("not_found", self.not_found),
            ("errors", self.errors),
        ]
    }
}

/// One loaded database, as [`GeoDb::databases`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeoDbInfo {
    /// The name it was added under.
    pub name: String,
    /// What it provides.
    pub kind: GeoKind,
    /// Its metadata's `database_type`.
    pub database_type: String,
    /// When it was built (Unix seconds), from its metadata: the age of the data.
    pub build_epoch: u64,
    /// Its size in bytes (all held in memory).
    pub bytes: usize,
}

struct Database {
    info: GeoDbInfo,
    reader: Reader<Vec<u8>>,
}

/// A cached answer and the network it holds for.
#[derive(Clone)]
struct Entry {
    geo: Geo,
    /// The narrowest of the client network and the database networks the answer came from:
    /// the answer holds for every address inside.
    holds_for: Prefix,
}

/// The fields of a record we read, of any of the supported kinds; anything else is skipped
/// without being decoded.
#[derive(Deserialize)]
struct Record<'a> {
    autonomous_system_number: Option<u32>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
    #[serde(borrow)]
    country: Option<Place<'a>>,
    #[serde(borrow)]
    registered_country: Option<Place<'a>>,
    #[serde(borrow)]
    traits: Option<Traits<'a>>,
}

#[derive(Deserialize)]
struct Place<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct Traits<'a> {
    autonomous_system_number: Option<u32>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
}

/// AS and country enrichment from one or more MaxMind DB files, with a bounded per-network
/// cache. Memory: the files' bytes, plus at most `max_cache` cached networks (see the module
/// documentation).
pub struct GeoDb {
    dbs: Vec<Database>,
    cache: Cache<Entry>,
    stats: GeoStats,
}

impl fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeoDb")
            .field("databases", &self.dbs.iter().map(|d| &d.info).collect::<Vec<_>>())
            .field("cached", &self.cache.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl GeoDb {
    /// No database yet (every lookup is empty); caches at most `max_cache` client networks
    /// (at least one).
    pub fn new(max_cache: usize) -> GeoDb {
        GeoDb { dbs: Vec::new(), cache: Cache::new(max_cache), stats: GeoStats::default() }
    }

    /// Adds the bytes of one `.mmdb` file, named `name` in errors. Checks that it is a MaxMind
    /// DB, verifies its whole search tree and data section (a pass over the file), and
    /// reads its kind from its metadata. The cache is emptied, since answers may change.
    pub fn add(&mut self, name: &str, bytes: Vec<u8>) -> Result<GeoKind, GeoError> {
        let err = |reason| GeoError { name: name.to_owned(), reason };
        let size = bytes.len();
        let reader = Reader::from_source(bytes).map_err(|e| err(GeoErrorReason::NotMmdb(e.to_string())))?;
        let database_type = reader.metadata().database_type.clone();
        let kind = GeoKind::of(&database_type)
            .ok_or_else(|| err(GeoErrorReason::Unsupported { database_type: database_type.clone() }))?;
        reader.verify().map_err(|e| err(GeoErrorReason::Damaged(e.to_string())))?;
        let info =
            GeoDbInfo { name: name.to_owned(), kind, database_type, build_epoch: reader.metadata().build_epoch, bytes: size };
        self.dbs.push(Database { info, reader });
        self.cache.clear();
        Ok(kind)
    }

    /// The databases loaded, in the order they are consulted.
    pub fn databases(&self) -> Vec<GeoDbInfo> {
        self.dbs.iter().map(|d| d.info.clone()).collect()
    }

    /// Whether no database is loaded.
    pub fn is_empty(&self) -> bool {
        self.dbs.is_empty()
    }

    /// What the databases say about `ip`, whose client network is `network` (the cache key:
    /// [`Identity::network`](super::Identity::network)). Reserved addresses get an empty
    /// answer without a lookup. A `network` that does not contain `ip` is not cached.
    pub fn lookup(&mut self, network: Prefix, ip: IpAddr) -> Geo {
        let ip = ip.to_canonical();
        if self.dbs.is_empty() {
            return Geo::default();
        }
        if is_reserved(ip) {
            self.stats.reserved += 1;
            return Geo::default();
        }
        let cacheable = network.contains(ip);
        if cacheable {
            if let Some(e) = self.cache.get(&network) {
                if e.holds_for.contains(ip) {
                    self.stats.cache_hits += 1;
                    return e.geo.clone();
                }
            }
        }
        self.stats.cache_misses += 1;
        let entry = self.resolve(network, ip);
        if entry.geo.is_empty() {
            self.stats.not_found += 1;
        }
        let geo = entry.geo.clone();
        if cacheable && self.cache.insert(network, entry) == Inserted::Evicted {
            self.stats.cache_evictions += 1;
        }
        geo
    }

    /// Walks every database for `ip`.
    fn resolve(&mut self, network: Prefix, ip: IpAddr) -> Entry {
        let mut geo = Geo::default();
        let mut holds_for = network;
        for db in &self.dbs {
            if ip.is_ipv6() && db.reader.metadata().ip_version == 4 {
                continue;
            }
            let Ok(found) = db.reader.lookup(ip) else {
                self.stats.errors += 1;
                continue;
            };
            // The answer (data or none) holds across the database network the address fell
            // in; when that is narrower than the client network, so is the cache entry.
            if let Ok(net) = found.network() {
                if let Some(p) = Prefix::new(net.network(), net.prefix()) {
                    if p.addr.is_ipv4() == ip.is_ipv4() && p.len > holds_for.len && p.contains(ip) {
                        holds_for = p;
                    }
                }
            }
            let record = match found.decode::<Record<'_>>() {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(_) => {
                    self.stats.errors += 1;
                    continue;
                }
            };
            if db.info.kind.asn() && geo.asn.is_none() {
                let (asn, org) = match &record.traits {
                    Some(t) if db.info.kind == GeoKind::CountryAndAsn => {
                        (t.autonomous_system_number, t.autonomous_system_organization)
                    }
                    _ => (record.autonomous_system_number, record.autonomous_system_organization),
                };
                if let Some(asn) = asn {
                    geo.asn = Some(asn);
                    geo.as_org = org.map(|o| Arc::from(text::clean(o.as_bytes())));
                }
            }
            if db.info.kind.country() && geo.country.is_none() {
                let code = record
                    .country
                    .as_ref()
                    .and_then(|c| c.iso_code)
                    .or_else(|| record.registered_country.as_ref().and_then(|c| c.iso_code));
                if let Some(code) = code {
                    match Country::new(code) {
                        Some(c) => geo.country = Some(c),
                        None => self.stats.errors += 1,
                    }
                }
            }
        }
        Entry { geo, holds_for }
    }

    /// Counters.
    pub fn stats(&self) -> GeoStats {
        self.stats
    }

    /// Client networks cached now.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    /// Approximate bytes held: the databases, the cache and the organisation names in it.
    pub fn memory_bytes(&self) -> usize {
        let dbs: usize = self.dbs.iter().map(|d| d.info.bytes + std::mem::size_of::<Database>()).sum();
        // An `Arc<str>` allocation is two counters and the bytes.
        let names: usize =
            self.cache.values().filter_map(|e| e.geo.as_org.as_ref()).map(|s| s.len() + 2 * std::mem::size_of::<usize>()).sum();
        std::mem::size_of::<Self>() + dbs + self.cache.memory_bytes() + names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_codes() {
        assert_eq!(Country::new("gb").unwrap().as_str(), "GB");
        assert_eq!(Country::new("SE").unwrap().bytes(), *b"SE");
        assert_eq!(Country::new("G"), None);
        assert_eq!(Country::new("GBR"), None);
        assert_eq!(Country::new("G1"), None);
        assert_eq!(Country::new("é"), None, "two bytes, not two letters");
        assert_eq!("de".parse::<Country>().unwrap().to_string(), "DE");
        assert_eq!(serde_json::to_string(&Country::new("jp").unwrap()).unwrap(), "\"JP\"");
        assert_eq!(serde_json::from_str::<Country>("\"kr\"").unwrap(), Country::new("KR").unwrap());
        let e = serde_json::from_str::<Country>("\"XYZ\"").unwrap_err();
        assert!(e.to_string().contains("\"XYZ\" is not a two-letter"), "{e}");
    }

    #[test]
    fn kinds_from_database_type() {
        assert_eq!(GeoKind::of("GeoLite2-ASN"), Some(GeoKind::Asn));
        assert_eq!(GeoKind::of("GeoIP2-ISP"), Some(GeoKind::Asn));
        assert_eq!(GeoKind::of("DBIP-ASN-Lite (compat=GeoLite2-ASN)"), Some(GeoKind::Asn));
        assert_eq!(GeoKind::of("GeoIP2-Country"), Some(GeoKind::Country));
        assert_eq!(GeoKind::of("GeoLite2-City"), Some(GeoKind::Country));
        assert_eq!(GeoKind::of("DBIP-Country-Lite"), Some(GeoKind::Country));
        assert_eq!(GeoKind::of("GeoIP2-Precision-Enterprise"), Some(GeoKind::CountryAndAsn));
        assert_eq!(GeoKind::of("GeoIP2-Connection-Type"), None);
        assert_eq!(GeoKind::of("GeoIP2-Anonymous-IP"), None);
        assert_eq!(GeoKind::of("GeoIP2-Domain"), None);
        assert_eq!(GeoKind::of(""), None);
    }

    #[test]
    fn empty_db_answers_nothing_and_counts_nothing() {
        let mut db = GeoDb::new(10);
        let ip: IpAddr = "81.2.69.142".parse().unwrap();
        assert!(db.lookup(Prefix::of(ip, 24, 48), ip).is_empty());
        assert_eq!(db.stats(), GeoStats::default());
        assert!(db.is_empty());
    }

    #[test]
    fn geo_serialises_only_what_is_known() {
        let g = Geo { asn: Some(64_500), as_org: Some(Arc::from("Example AS")), country: Country::new("GB") };
        assert_eq!(serde_json::to_string(&g).unwrap(), r#"{"asn":64500,"as_org":"Example AS","country":"GB"}"#);
        assert_eq!(serde_json::to_string(&Geo::default()).unwrap(), "{}");
        assert!(Geo::default().is_empty());
        assert!(!g.is_empty());
    }
}
