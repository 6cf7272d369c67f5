//! The matcher: many feeds' indicators in flat tables (one text arena, prefix tables for
//! networks, hash tables of 64-bit value hashes for the rest), matched without allocating.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;

use siphasher::sip::SipHasher13;

use super::prefix::{PrefixTable, NONE};
use super::value::{split_port, url_parts, write_url, Buf};
use super::{
    valid_at, Indicator, IndicatorKind, IndicatorValue, ParsedFeed, MAX_FEEDS, MAX_INDICATORS,
};

/// Matches one [`IntelSet::matches`] call returns at most; the rest are counted in
/// [`MatchSummary::truncated`].
pub const MAX_MATCHES: usize = 64;
/// Bytes of text (ids, names, values) a set holds; indicators past it are left out and
/// counted (`SetCounts::text_limit_hits`).
pub const MAX_TEXT_BYTES: usize = 512 * 1024 * 1024;

/// What one request shows, as far as the caller knows it. `host` is a `Host` header or
/// `:authority` (a port and one trailing dot are ignored); `url` is the absolute URL the
/// caller rebuilt (`https://host/path?query`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Observed<'a> {
    /// The client's address.
    pub ip: Option<IpAddr>,
    /// The host the request named.
    pub host: Option<&'a str>,
    /// The absolute URL.
    pub url: Option<&'a str>,
    /// The `User-Agent` header.
    pub user_agent: Option<&'a str>,
    /// The TLS client's JA4 fingerprint.
    pub ja4: Option<&'a str>,
}

/// One indicator that matched, borrowed from the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntelMatch<'a> {
    /// The indicator's id in its feed.
    pub id: &'a str,
    /// Its name (empty when the feed gave none).
    pub name: &'a str,
    /// The feed's name.
    pub feed: &'a str,
    /// Its kind, and so which field of [`Observed`] matched.
    pub kind: IndicatorKind,
    /// Its value, normalised (a network as `address/length`).
    pub value: &'a str,
    /// 0-100 when the feed said.
    pub confidence: Option<u8>,
    /// Unix nanoseconds from which it applies.
    pub valid_from: Option<i64>,
    /// Unix nanoseconds from which it no longer applies.
    pub valid_until: Option<i64>,
}

/// What a [`IntelSet::matches`] call found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[must_use]
pub struct MatchSummary {
    /// Matches written.
    pub matched: usize,
    /// Matches past [`MAX_MATCHES`], not written.
    pub truncated: usize,
}

/// Counts of what a set holds and what it left out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetCounts {
    /// Feeds added.
    pub feeds: u64,
    /// Indicators held.
    pub indicators: u64,
    /// Distinct IPv4 prefixes.
    pub ipv4_prefixes: u64,
    /// Distinct IPv6 prefixes.
    pub ipv6_prefixes: u64,
    /// Indicators left out past [`MAX_INDICATORS`] (or the builder's lower maximum).
    pub indicator_limit_hits: u64,
    /// Feeds left out past [`MAX_FEEDS`].
    pub feed_limit_hits: u64,
    /// Indicators left out past [`MAX_TEXT_BYTES`].
    pub text_limit_hits: u64,
}

#[derive(Debug, Clone, Copy)]
struct Text {
    off: u32,
    len: u32,
}

/// One indicator in the set: 48 bytes, its text in the arena.
#[derive(Debug, Clone, Copy)]
struct Entry {
    id: Text,
    name: Text,
    value: Text,
    valid_from: i64,
    valid_until: i64,
    /// The next indicator on the same prefix or hash ([`NONE`] at the end).
    next: u32,
    feed: u16,
    kind: IndicatorKind,
    /// [`NO_CONFIDENCE`] when the feed said nothing.
    confidence: u8,
}

const NO_CONFIDENCE: u8 = u8::MAX;

/// The key is a SipHash already; hashing it again would only cost time.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type HashIndex = HashMap<u64, u32, BuildHasherDefault<Prehashed>>;

fn hash(kind: IndicatorKind, s: &str) -> u64 {
    // Fixed keys: the values come from the feeds the bank chose, not from the traffic.
    let mut h = SipHasher13::new_with_keys(0x6170_6974_6170_2d69, 0x6e74_656c_2d76_3101);
    h.write_u8(kind as u8);
    h.write(s.as_bytes());
    h.finish()
}

/// Builds an [`IntelSet`] a feed at a time.
pub struct IntelSetBuilder {
    /// Indicators held at most (`MAX_INDICATORS` unless lowered).
    max_indicators: usize,
    feeds: Vec<String>,
    entries: Vec<Entry>,
    text: String,
    exact: HashIndex,
    v4: Vec<(u32, u8, u32)>,
    v6: Vec<(u128, u8, u32)>,
    counts: SetCounts,
}

impl Default for IntelSetBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl IntelSetBuilder {
    /// An empty builder holding at most [`MAX_INDICATORS`] indicators.
    pub fn new() -> Self {
        Self::with_max_indicators(MAX_INDICATORS)
    }

    /// An empty builder holding at most `max` indicators (never more than
    /// [`MAX_INDICATORS`]), for a deployment that wants a smaller set.
    pub fn with_max_indicators(max: usize) -> Self {
        IntelSetBuilder {
            max_indicators: max.min(MAX_INDICATORS),
            feeds: Vec::new(),
            entries: Vec::new(),
            text: String::new(),
            exact: HashIndex::default(),
            v4: Vec::new(),
            v6: Vec::new(),
            counts: SetCounts::default(),
        }
    }

    /// Adds a feed's indicators under `name`. Past [`MAX_FEEDS`] feeds, the builder's maximum
    /// of indicators or [`MAX_TEXT_BYTES`] of text, the rest is left out and counted.
    pub fn add_feed(&mut self, name: &str, feed: ParsedFeed) {
        let Ok(fi) = u16::try_from(self.feeds.len()) else {
            return;
        };
        if self.feeds.len() >= MAX_FEEDS {
            self.counts.feed_limit_hits += 1;
            return;
        }
        self.feeds.push(name.to_string());
        self.counts.feeds += 1;
        let room = self.max_indicators.saturating_sub(self.entries.len());
        if feed.indicators.len() > room {
            self.counts.indicator_limit_hits += (feed.indicators.len() - room) as u64;
        }
        self.entries.reserve(feed.indicators.len().min(room));
        for ind in feed.indicators.into_iter().take(room) {
            self.add(fi, ind);
        }
    }

    fn add(&mut self, feed: u16, ind: Indicator) {
        let Ok(ix) = u32::try_from(self.entries.len()) else {
            return;
        };
        let net_text;
        let value: &str = match &ind.value {
            IndicatorValue::Network(n) => {
                net_text = n.to_string();
                &net_text
            }
            IndicatorValue::Domain(s)
            | IndicatorValue::Url(s)
            | IndicatorValue::UserAgent(s)
            | IndicatorValue::Ja4(s) => s,
        };
        if self.text.len() + ind.id.len() + ind.name.len() + value.len() > MAX_TEXT_BYTES {
            self.counts.text_limit_hits += 1;
            return;
        }
        let id = self.put(&ind.id);
        let name = self.put(&ind.name);
        let value_text = self.put(value);
        let kind = ind.value.kind();
        let mut entry = Entry {
            id,
            name,
            value: value_text,
            valid_from: ind.valid_from.unwrap_or(i64::MIN),
            valid_until: ind.valid_until.unwrap_or(i64::MAX),
            next: NONE,
            feed,
            kind,
            confidence: ind.confidence.unwrap_or(NO_CONFIDENCE),
        };
        match ind.value {
            IndicatorValue::Network(n) => match n.addr {
                IpAddr::V4(a) => self.v4.push((u32::from(a), n.len, ix)),
                // An IPv4-mapped network is an IPv4 network, as the client address is.
                IpAddr::V6(a) => match a.to_ipv4_mapped() {
                    Some(v4) if n.len >= 96 => self.v4.push((u32::from(v4), n.len - 96, ix)),
                    _ => self.v6.push((u128::from(a), n.len, ix)),
                },
            },
            _ => {
                if let Some(prev) = self.exact.insert(hash(kind, value), ix) {
                    entry.next = prev;
                }
            }
        }
        self.entries.push(entry);
        self.counts.indicators += 1;
    }

    fn put(&mut self, s: &str) -> Text {
        let off = u32::try_from(self.text.len()).unwrap_or(u32::MAX);
        self.text.push_str(s);
        Text {
            off,
            len: u32::try_from(s.len()).unwrap_or(0),
        }
    }

    /// The set.
    pub fn build(mut self) -> IntelSet {
        let entries = &mut self.entries;
        let mut chain = |new: u32, old: u32| {
            if let Some(e) = entries.get_mut(new as usize) {
                e.next = old;
            }
        };
        let v4 = PrefixTable::build(std::mem::take(&mut self.v4), &mut chain);
        let v6 = PrefixTable::build(std::mem::take(&mut self.v6), &mut chain);
        self.counts.ipv4_prefixes = v4.len() as u64;
        self.counts.ipv6_prefixes = v6.len() as u64;
        self.text.shrink_to_fit();
        self.entries.shrink_to_fit();
        self.exact.shrink_to_fit();
        IntelSet {
            feeds: self.feeds,
            entries: self.entries,
            text: self.text,
            exact: self.exact,
            v4,
            v6,
            counts: self.counts,
        }
    }
}

/// Indicators from many feeds, matched against requests. Built by [`IntelSetBuilder`];
/// immutable after. A lookup allocates nothing; a hit writes into the caller's vector.
#[derive(Debug, Default)]
pub struct IntelSet {
    feeds: Vec<String>,
    entries: Vec<Entry>,
    text: String,
    exact: HashIndex,
    v4: PrefixTable<u32>,
    v6: PrefixTable<u128>,
    counts: SetCounts,
}

impl IntelSet {
    /// What it holds and what it left out.
    pub fn counts(&self) -> SetCounts {
        self.counts
    }

    /// Bytes held by its tables (an estimate of the heap it uses: capacities times sizes).
    pub fn memory_bytes(&self) -> usize {
        let exact = self.exact.capacity() * (std::mem::size_of::<(u64, u32)>() + 1);
        self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.text.capacity()
            + exact
            + self.v4.memory_bytes()
            + self.v6.memory_bytes()
            + self.feeds.iter().map(|f| f.capacity() + 24).sum::<usize>()
    }

    /// The indicators that apply at `now` (unix nanoseconds) to `obs`, written into `out`
    /// (cleared first), at most [`MAX_MATCHES`]: the client address's networks, most specific
    /// first, then the host's domains (the host itself first, then its parents), the URL,
    /// the user agent and the JA4 fingerprint.
    pub fn matches<'s>(
        &'s self,
        obs: &Observed<'_>,
        now: i64,
        out: &mut Vec<IntelMatch<'s>>,
    ) -> MatchSummary {
        out.clear();
        let mut sum = MatchSummary::default();
        let mut put = |e: &Entry, sum: &mut MatchSummary| {
            if !valid_at(Some(e.valid_from), Some(e.valid_until), now) {
                return;
            }
            if sum.matched >= MAX_MATCHES {
                sum.truncated += 1;
                return;
            }
            sum.matched += 1;
            out.push(self.view(e));
        };
        match obs.ip {
            Some(IpAddr::V4(a)) => self.walk_prefixes(&self.v4, u32::from(a), |e| put(e, &mut sum)),
            Some(IpAddr::V6(a)) => {
                // An IPv4-mapped address is the IPv4 client it names.
                match a.to_ipv4_mapped() {
                    Some(v4) => self.walk_prefixes(&self.v4, u32::from(v4), |e| put(e, &mut sum)),
                    None => self.walk_prefixes(&self.v6, u128::from(a), |e| put(e, &mut sum)),
                }
            }
            None => {}
        }
        let mut buf = Buf::new();
        if let Some(host) = obs.host.and_then(host_of) {
            buf.push(host, true);
            if let Some(h) = buf.as_str() {
                let mut rest = h;
                loop {
                    self.exact_hits(IndicatorKind::Domain, rest, |e| put(e, &mut sum));
                    match rest.split_once('.') {
                        Some((_, parent)) if !parent.is_empty() => rest = parent,
                        _ => break,
                    }
                }
            }
        }
        if let Some(p) = obs.url.and_then(url_parts) {
            buf.clear();
            write_url(&p, |piece, lower| buf.push(piece, lower));
            if let Some(u) = buf.as_str() {
                self.exact_hits(IndicatorKind::Url, u, |e| put(e, &mut sum));
            }
        }
        if let Some(ua) = obs.user_agent {
            self.exact_hits(IndicatorKind::UserAgent, ua, |e| put(e, &mut sum));
        }
        if let Some(ja4) = obs.ja4 {
            buf.clear();
            buf.push(ja4.trim(), true);
            if let Some(j) = buf.as_str() {
                self.exact_hits(IndicatorKind::Ja4, j, |e| put(e, &mut sum));
            }
        }
        sum
    }

    fn walk_prefixes<A: super::prefix::Addr>(
        &self,
        t: &PrefixTable<A>,
        a: A,
        mut f: impl FnMut(&Entry),
    ) {
        let mut p = t.lookup(a);
        while let Some(prefix) = t.get(p) {
            self.walk_chain(prefix.first, |e| f(e));
            p = prefix.parent;
        }
    }

    fn walk_chain(&self, mut ix: u32, mut f: impl FnMut(&Entry)) {
        while let Some(e) = self.entries.get(ix as usize) {
            f(e);
            ix = e.next;
        }
    }

    fn exact_hits(&self, kind: IndicatorKind, value: &str, mut f: impl FnMut(&Entry)) {
        let Some(&head) = self.exact.get(&hash(kind, value)) else {
            return;
        };
        self.walk_chain(head, |e| {
            if e.kind == kind && self.str(e.value) == value {
                f(e);
            }
        });
    }

    fn str(&self, t: Text) -> &str {
        let start = t.off as usize;
        self.text.get(start..start + t.len as usize).unwrap_or("")
    }

    fn view(&self, e: &Entry) -> IntelMatch<'_> {
        IntelMatch {
            id: self.str(e.id),
            name: self.str(e.name),
            feed: self
                .feeds
                .get(usize::from(e.feed))
                .map_or("", String::as_str),
            kind: e.kind,
            value: self.str(e.value),
            confidence: (e.confidence != NO_CONFIDENCE).then_some(e.confidence),
            valid_from: (e.valid_from != i64::MIN).then_some(e.valid_from),
            valid_until: (e.valid_until != i64::MAX).then_some(e.valid_until),
        }
    }
}

/// The host of a `Host` header, without its port and one trailing dot; `None` for an
/// address literal (the client address is matched on its own).
fn host_of(h: &str) -> Option<&str> {
    let (host, _) = split_port(h.trim())?;
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() || host.parse::<IpAddr>().is_ok() {
        return None;
    }
    Some(host)
}
