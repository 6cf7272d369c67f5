//! Threat-intelligence indicators, sans-IO: feed texts in, a matcher out.
//!
//! - [`parse_stix`], [`parse_plain`], [`parse_misp_csv`]: one feed's bytes (and the time `now`,
//!   unix nanoseconds, for validity) into [`Indicator`]s and a list of per-entry [`Problem`]s.
//!   A bad entry is reported and skipped; only a feed that is not its format at all (not JSON,
//!   not a bundle, no CSV header) is one [`FeedError`].
//! - [`IntelSet`]: many feeds' indicators, each feed with its name, matched against what a
//!   request shows ([`Observed`]): addresses in prefix tables (most specific first), domains
//!   (with their subdomains), URLs, user agents and JA4 fingerprints in hash tables.
//!
//! The caller reads the files; nothing here touches files, sockets or the clock. Formats,
//! supported patterns and what is NOT supported: docs/intel.md.

mod csv;
mod misp;
mod pattern;
mod plain;
mod prefix;
mod set;
mod stix;
mod value;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_set;

pub use misp::parse_misp_csv;
pub use plain::parse_plain;
pub use set::{
    IntelMatch, IntelSet, IntelSetBuilder, MatchSummary, Observed, SetCounts, MAX_MATCHES,
    MAX_TEXT_BYTES,
};
pub use stix::parse_stix;
pub use value::{IndicatorValue, IpNet};

use std::fmt;

/// Indicators one feed may bring; the rest of the feed is left out and counted
/// (`FeedCounts::indicator_limit_hits`).
pub const MAX_FEED_INDICATORS: usize = 2_000_000;
/// Bytes of one indicator value (a URL, a user agent...) after normalisation; a longer value
/// is reported and skipped (`FeedCounts::value_too_long`).
pub const MAX_VALUE_BYTES: usize = 2048;
/// Indicators an [`IntelSet`] holds over all its feeds; further ones are left out and counted
/// (`SetCounts::indicator_limit_hits`).
pub const MAX_INDICATORS: usize = 2_000_000;
/// Problems kept per feed; further ones are only counted (`FeedCounts::problems_dropped`).
pub const MAX_PROBLEMS: usize = 1000;
/// Feeds an [`IntelSet`] holds; further feeds are left out and counted.
pub const MAX_FEEDS: usize = 1024;
/// Bytes of a feed value quoted in a problem message.
const QUOTE_BYTES: usize = 80;

/// Per-feed limits; [`FeedLimits::default`] gives the constants above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedLimits {
    /// Indicators kept from one feed.
    pub max_indicators: usize,
    /// Bytes of one normalised value.
    pub max_value_bytes: usize,
    /// Problems kept (the rest counted).
    pub max_problems: usize,
}

impl Default for FeedLimits {
    fn default() -> Self {
        FeedLimits {
            max_indicators: MAX_FEED_INDICATORS,
            max_value_bytes: MAX_VALUE_BYTES,
            max_problems: MAX_PROBLEMS,
        }
    }
}

/// What kind of thing an indicator names, and so which field of a request it is matched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IndicatorKind {
    /// An IPv4 or IPv6 address or network, matched on the client address.
    Network,
    /// A domain, matched on the request's host and its parent domains.
    Domain,
    /// A URL, matched on the request's normalised absolute URL.
    Url,
    /// A `User-Agent` header value, matched exactly.
    UserAgent,
    /// A JA4 TLS client fingerprint, matched exactly (ASCII case ignored).
    Ja4,
}

impl IndicatorKind {
    /// The kind's name in reports and anomalies.
    pub fn as_str(self) -> &'static str {
        match self {
            IndicatorKind::Network => "network",
            IndicatorKind::Domain => "domain",
            IndicatorKind::Url => "url",
            IndicatorKind::UserAgent => "user_agent",
            IndicatorKind::Ja4 => "ja4",
        }
    }
}

/// One indicator as a feed gave it, its value normalised (see docs/intel.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    /// The feed's identifier for it: the STIX `id`, the MISP `uuid`, or `line:N` for a plain
    /// list.
    pub id: String,
    /// The STIX `name`, the MISP `comment`; empty when there is none.
    pub name: String,
    /// What is matched.
    pub value: IndicatorValue,
    /// 0-100, when the feed says.
    pub confidence: Option<u8>,
    /// Unix nanoseconds from which it applies, when the feed says.
    pub valid_from: Option<i64>,
    /// Unix nanoseconds from which it no longer applies, when the feed says.
    pub valid_until: Option<i64>,
}

impl Indicator {
    /// Whether it applies at `now` (unix nanoseconds): `valid_from <= now < valid_until`.
    pub fn valid_at(&self, now: i64) -> bool {
        valid_at(self.valid_from, self.valid_until, now)
    }
}

pub(crate) fn valid_at(from: Option<i64>, until: Option<i64>, now: i64) -> bool {
    from.is_none_or(|f| f <= now) && until.is_none_or(|u| now < u)
}

/// Where in a feed a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// The whole feed.
    Feed,
    /// A STIX bundle's object, numbered from 1 in `objects`.
    Object(usize),
    /// A line of a plain list or CSV file, numbered from 1 (a CSV record spanning lines is
    /// named by its first line).
    Line(usize),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Feed => f.write_str("feed"),
            Location::Object(n) => write!(f, "object {n}"),
            Location::Line(n) => write!(f, "line {n}"),
        }
    }
}

/// What was done about a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The entry was left out; the rest of the feed loaded.
    Skipped,
    /// One alternative of a pattern was left out; the entry's other alternatives loaded.
    AlternativeSkipped,
    /// The rest of the feed was left out (a limit was reached).
    RestSkipped,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Skipped => "skipped",
            Action::AlternativeSkipped => "alternative skipped",
            Action::RestSkipped => "rest of the feed skipped",
        }
    }
}

/// One entry of a feed that did not load, or did not load whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where.
    pub at: Location,
    /// The entry's identifier, when it had one.
    pub id: Option<String>,
    /// What is wrong, in words (values quoted at most 80 bytes).
    pub what: String,
    /// What was done.
    pub action: Action,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.at)?;
        if let Some(id) = &self.id {
            write!(f, " ({})", quote_cut(id))?;
        }
        write!(f, ": {}; {}", self.what, self.action.as_str())
    }
}

/// A feed that is not its format at all; nothing of it loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedError {
    /// Why, with the line and column when the format says.
    pub what: String,
}

impl fmt::Display for FeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for FeedError {}

/// Counts of one feed's parse.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedCounts {
    /// Entries read (objects of a bundle, non-blank non-comment lines, CSV records).
    pub entries: u64,
    /// Indicators produced (an STIX pattern with `OR` gives several).
    pub loaded: u64,
    /// Entries left out for a problem.
    pub skipped: u64,
    /// Bundle objects that are not indicators (identities, relationships...), ignored.
    pub ignored_objects: u64,
    /// Indicators expired at `now` (reported and skipped).
    pub expired: u64,
    /// Indicators revoked (skipped, not reported one by one).
    pub revoked: u64,
    /// Values longer than `max_value_bytes`.
    pub value_too_long: u64,
    /// Times `max_indicators` was reached (0 or 1).
    pub indicator_limit_hits: u64,
    /// Problems past `max_problems`, counted only.
    pub problems_dropped: u64,
}

/// One feed parsed: what loaded and what did not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedFeed {
    /// The indicators, in the feed's order.
    pub indicators: Vec<Indicator>,
    /// The entries that did not load (at most `max_problems`).
    pub problems: Vec<Problem>,
    /// Counts.
    pub counts: FeedCounts,
}

/// The parse in progress: indicators, problems and the limits.
pub(crate) struct Collector {
    pub feed: ParsedFeed,
    pub limits: FeedLimits,
    pub now: i64,
}

impl Collector {
    pub fn new(limits: FeedLimits, now: i64) -> Self {
        Collector {
            feed: ParsedFeed::default(),
            limits,
            now,
        }
    }

    pub fn problem(&mut self, at: Location, id: Option<&str>, what: String, action: Action) {
        if self.feed.problems.len() >= self.limits.max_problems {
            self.feed.counts.problems_dropped += 1;
            return;
        }
        self.feed.problems.push(Problem {
            at,
            id: id.map(str::to_string),
            what,
            action,
        });
    }

    /// Whether the feed is full; reports it once.
    pub fn full(&mut self, at: Location) -> bool {
        if self.feed.indicators.len() < self.limits.max_indicators {
            return false;
        }
        if self.feed.counts.indicator_limit_hits == 0 {
            self.feed.counts.indicator_limit_hits = 1;
            let what = format!(
                "the feed holds more than {} indicators",
                self.limits.max_indicators
            );
            self.problem(at, None, what, Action::RestSkipped);
        }
        true
    }

    pub fn push(&mut self, ind: Indicator) {
        self.feed.counts.loaded += 1;
        self.feed.indicators.push(ind);
    }
}

/// `s` quoted for a message, cut at [`QUOTE_BYTES`] on a character boundary, control
/// characters escaped.
pub(crate) fn quote_cut(s: &str) -> String {
    let mut end = s.len().min(QUOTE_BYTES);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let cut = s.get(..end).unwrap_or("");
    let mut out: String = cut.escape_debug().collect();
    if end < s.len() {
        out.push_str("...");
    }
    format!("'{out}'")
}
