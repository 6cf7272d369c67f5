//! One consumer's baseline: bounded structures from [`crate::sketch`], about 64 KiB at most
//! (the worst case is measured in the tests and listed in `docs/behaviour.md`).

use serde::{Deserialize, Serialize};

use crate::identity::Identity;
use crate::sketch::{AccessConfig, AccessLog, BloomConfig, BoundedCounts, DistinctWindow, Ewma, Hll, IdFilter, LogHistogram, RateWindow, SeasonConfig, SeasonalRate};

use super::config::{hours, minutes, BehaviourConfig};
use super::detect::errors::ErrorWindow;

/// Endpoints kept in a consumer's endpoint mix.
pub const MAX_ENDPOINTS_PER_CONSUMER: usize = 64;
/// Networks kept per consumer.
pub const MAX_NETWORKS_PER_CONSUMER: usize = 32;
/// Autonomous systems and countries tracked per consumer (together).
pub const MAX_ORIGINS_PER_CONSUMER: usize = 16;
/// User agents and TLS fingerprints kept per consumer (each).
pub const MAX_AGENTS_PER_CONSUMER: usize = 16;
/// Distinct keys held by each short detection window (foreign ids, users, networks).
pub const MAX_WINDOW_KEYS: u32 = 256;
/// Accounts whose unattended accesses are counted per consumer (PSD2).
pub const MAX_ACCOUNTS_PER_CONSUMER: u32 = 512;
/// Bytes of the received-ids filter per consumer.
pub const MAX_ID_FILTER_BYTES: u32 = 16 * 1024;
/// Customers whose requests are counted by id per consumer (the most frequent are kept).
pub const MAX_CUSTOMERS_PER_CONSUMER: usize = 32;

/// Version of the profile encoding ([`Profile::format`]). Raised whenever a field is added,
/// removed or changes meaning; a profile of another format is not restored (its consumer
/// starts a new baseline) unless a conversion for it is added in `persist.rs`.
pub const PROFILE_FORMAT: u32 = 1;

/// Pseudo-count of the weekday/weekend hour-of-day profile against the hour-of-week slot:
/// with one or two weeks of history a slot holds one or two hours, too few to trust alone.
pub const DAY_TYPE_WEIGHT: f64 = 6.0;

/// A synchronisation reads this many times the usual distinct accounts of an hour ...
pub const SYNC_BREADTH_FACTOR: f64 = 4.0;
/// ... plus this many.
pub const SYNC_BREADTH_MIN: f64 = 10.0;

/// Weight of one completed hour in [`Profile::hour_ratio`] (about the last 20 active hours).
pub const HOUR_RATIO_ALPHA: f64 = 0.05;

/// Whether a request counts as volume for `rate_surge` and off-hours surges: not when it was
/// refused as unauthenticated or forbidden (401, 403: a password-reset day is not a surge;
/// logins are judged apart), and not when it is an unattended access to an account's data
/// (`account_access`): those are judged per account by the PSD2 rule, which tells an
/// aggregator synchronising many accounts from one pulling the same accounts again and again.
pub fn counts_as_volume(status: Option<u16>, account_access: bool) -> bool {
    !matches!(status, Some(401 | 403)) && !account_access
}

/// A ratio with exponential decay on packet time (half-life one day), for baseline error
/// shares.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DecayedRatio {
    num: f64,
    den: f64,
    hour: u64,
}

impl DecayedRatio {
    /// Checks a deserialised ratio: finite, non-negative, at most one hit per observation.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.num.is_finite() && self.den.is_finite() && self.num >= 0.0 && self.den >= 0.0 && self.num <= self.den + 1e-9) {
            return Err("decayed ratio out of range".into());
        }
        Ok(())
    }

    const HOURLY: f64 = 0.971_531_941_153_605_1; // 0.5^(1/24)

    /// Adds one observation at packet hour `hour`.
    pub fn add(&mut self, hour: u64, hit: bool) {
        if hour > self.hour {
            let gap = (hour - self.hour).min(24 * 30) as i32;
            let f = Self::HOURLY.powi(gap);
            self.num *= f;
            self.den *= f;
            self.hour = hour;
        }
        self.den += 1.0;
        if hit {
            self.num += 1.0;
        }
    }

    /// The ratio, and the (decayed) number of observations behind it.
    pub fn value(&self) -> (f64, f64) {
        if self.den <= 0.0 {
            (0.0, 0.0)
        } else {
            (self.num / self.den, self.den)
        }
    }
}

/// Short windows of the detectors: allocated only when a consumer does what they count.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Windows {
    /// Distinct foreign ids requested (fast enumeration rule).
    pub foreign_ids: DistinctWindow,
    /// Foreign-id requests and those refused (403/404).
    pub foreign_requests: RateWindow,
    /// See `foreign_requests`.
    pub foreign_refused: RateWindow,
    /// Distinct refused foreign ids in the slow rule's day.
    pub slow_refused_ids: DistinctWindow,
    /// Foreign-id requests in the slow window.
    pub slow_foreign: RateWindow,
    /// Login attempts and failures.
    pub logins: RateWindow,
    /// See `logins`.
    pub login_failures: RateWindow,
    /// Distinct users with a failed login.
    pub login_users: DistinctWindow,
    /// Distinct networks new to the consumer with a failed login.
    pub login_new_networks: DistinctWindow,
    /// Distinct customer accounts read in the rate window.
    pub recent_accounts: DistinctWindow,
}

impl Windows {
    fn new(cfg: &BehaviourConfig) -> Self {
        let fast = minutes(cfg.bola.window_minutes);
        let slow = hours(cfg.bola.slow_window_hours);
        let login = minutes(cfg.stuffing.window_minutes);
        Windows {
            foreign_ids: DistinctWindow::with_limits(fast, 10, MAX_WINDOW_KEYS),
            foreign_requests: RateWindow::with_buckets(fast, 10),
            foreign_refused: RateWindow::with_buckets(fast, 10),
            slow_refused_ids: DistinctWindow::with_limits(slow, 24, MAX_WINDOW_KEYS),
            slow_foreign: RateWindow::with_buckets(slow, 24),
            logins: RateWindow::with_buckets(login, 10),
            login_failures: RateWindow::with_buckets(login, 10),
            login_users: DistinctWindow::with_limits(login, 10, MAX_WINDOW_KEYS),
            login_new_networks: DistinctWindow::with_limits(login, 10, MAX_WINDOW_KEYS),
            recent_accounts: DistinctWindow::with_limits(hours(cfg.rate.window_hours), 12, MAX_WINDOW_KEYS),
        }
    }

    /// Checks deserialised windows against the profile limits.
    fn validate(&self) -> Result<(), String> {
        for w in [&self.foreign_ids, &self.slow_refused_ids, &self.login_users, &self.login_new_networks, &self.recent_accounts] {
            w.validate(MAX_WINDOW_KEYS)?;
        }
        for w in [&self.foreign_requests, &self.foreign_refused, &self.slow_foreign, &self.logins, &self.login_failures] {
            w.validate()?;
        }
        Ok(())
    }

    /// Whether every window has the width and buckets `cfg` gives it.
    fn fits(&self, cfg: &BehaviourConfig) -> bool {
        let n = Windows::new(cfg);
        self.foreign_ids.same_shape(&n.foreign_ids)
            && self.foreign_requests.same_shape(&n.foreign_requests)
            && self.foreign_refused.same_shape(&n.foreign_refused)
            && self.slow_refused_ids.same_shape(&n.slow_refused_ids)
            && self.slow_foreign.same_shape(&n.slow_foreign)
            && self.logins.same_shape(&n.logins)
            && self.login_failures.same_shape(&n.login_failures)
            && self.login_users.same_shape(&n.login_users)
            && self.login_new_networks.same_shape(&n.login_new_networks)
            && self.recent_accounts.same_shape(&n.recent_accounts)
    }

    fn memory_bytes(&self) -> usize {
        self.foreign_ids.memory_bytes()
            + self.foreign_requests.memory_bytes()
            + self.foreign_refused.memory_bytes()
            + self.slow_refused_ids.memory_bytes()
            + self.slow_foreign.memory_bytes()
            + self.logins.memory_bytes()
            + self.login_failures.memory_bytes()
            + self.login_users.memory_bytes()
            + self.login_new_networks.memory_bytes()
            + self.recent_accounts.memory_bytes()
    }
}

/// What the sensor knows about one consumer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Profile {
    /// Encoding version: [`PROFILE_FORMAT`] when made by this build.
    pub format: u32,
    /// Latest packet time (the layer's, [`Behaviour::latest`](super::Behaviour::latest)) at
    /// which anything in the profile changed: what a checkpoint compares with.
    pub changed: u64,
    /// Non-secret label.
    pub label: String,
    /// Identity source code.
    pub source: String,
    /// PSD2 organisation identifier, when known.
    pub org_id: Option<String>,
    /// First and last request (packet time).
    pub first_seen: u64,
    /// See `first_seen`.
    pub last_seen: u64,
    /// Requests.
    pub requests: u64,
    /// Requests answered 4xx or 5xx (absent from profiles encoded before it was counted).
    #[serde(default)]
    pub error_responses: u64,
    /// Packet time the consumer's own baseline became trusted (warm-up over); 0 while warming.
    pub warm_since: u64,
    /// Requests per hour by bank-local hour of week.
    pub season: SeasonalRate,
    /// Requests in the rate window (`rate.window_hours`) that count as volume (see
    /// [`counts_as_volume`]).
    pub recent: RateWindow,
    /// Requests in the rate window refused as unauthenticated or forbidden (401, 403).
    pub recent_refused: RateWindow,
    /// Connections (sessions) with volume in the rate window.
    pub recent_sessions: DistinctWindow,
    /// Sessions per hour by bank-local hour of week: the rate a surge of sessions is judged
    /// against (session lengths vary far more than how often sessions start).
    pub sessions: SeasonalRate,
    /// How far completed hours' session counts stray from their expectation (as
    /// `hour_ratio`).
    pub session_ratio: Ewma,
    /// Sessions started in the hour in progress.
    pub hour_sessions: u32,
    /// How far completed hours strayed from the seasonal expectation: an exponentially
    /// weighted mean and deviation of `ln((count + 1) / (expected + 1))` over warm hours with
    /// traffic. A bursty consumer needs a larger surge to alert than a steady one.
    pub hour_ratio: Ewma,
    /// Distinct accounts read in the rate window, sampled at the end of each active hour
    /// (exponentially weighted): the breadth an aggregator's synchronisation surges in.
    pub account_breadth: Ewma,
    /// UTC hour index and volume count of the hour in progress (for the peer baseline and the
    /// dispersion of hourly counts).
    pub hour: (u64, u32),
    /// All requests of the hour in progress (for the account breadth).
    pub hour_requests: u32,
    /// Endpoint mix (key: endpoint key).
    pub endpoints: BoundedCounts,
    /// Client networks (key: network key).
    pub networks: BoundedCounts,
    /// Autonomous systems and countries of those networks, when a database names them (keys:
    /// [`asn_key`] and [`country_key`]).
    pub origins: BoundedCounts,
    /// User agents (key: hash of the value).
    pub agents: BoundedCounts,
    /// TLS fingerprints (JA4).
    pub fingerprints: BoundedCounts,
    /// Object ids the consumer was given in its own responses.
    pub received: IdFilter,
    /// Unattended accesses per account (PSD2).
    pub accesses: AccessLog,
    /// Attended and unattended requests.
    pub attended: u64,
    /// See `attended`.
    pub unattended: u64,
    /// Error share (server errors) of its requests.
    pub errors: DecayedRatio,
    /// Latency (ms) of its requests.
    pub latency: LogHistogram,
    /// Distinct customers behind it.
    pub customers: Hll,
    /// Requests per customer (keyed customer ids), for the most frequent
    /// [`MAX_CUSTOMERS_PER_CONSUMER`]: the customers the profile names (an erasure removes one).
    pub customer_ids: BoundedCounts,
    /// Short windows, once needed.
    pub windows: Option<Box<Windows>>,
    /// The consumer's own error window, once needed.
    pub(crate) consumer_errors: Option<Box<ErrorWindow>>,
}

impl Profile {
    /// A new profile from the first request's identity.
    pub fn new(id: &Identity, ts: u64, cfg: &BehaviourConfig) -> Self {
        Profile {
            format: PROFILE_FORMAT,
            changed: ts,
            label: id.label.clone(),
            source: id.source.name().to_string(),
            org_id: id.org_id.clone(),
            first_seen: ts,
            last_seen: ts,
            requests: 0,
            error_responses: 0,
            warm_since: 0,
            season: SeasonalRate::new(SeasonConfig { day_type_weight: DAY_TYPE_WEIGHT, ..SeasonConfig::default() }),
            recent: RateWindow::with_buckets(hours(cfg.rate.window_hours), 12),
            recent_refused: RateWindow::with_buckets(hours(cfg.rate.window_hours), 12),
            recent_sessions: DistinctWindow::with_limits(hours(cfg.rate.window_hours), 12, MAX_WINDOW_KEYS),
            sessions: SeasonalRate::new(SeasonConfig { day_type_weight: DAY_TYPE_WEIGHT, ..SeasonConfig::default() }),
            session_ratio: Ewma::new(HOUR_RATIO_ALPHA),
            hour_sessions: 0,
            hour_ratio: Ewma::new(HOUR_RATIO_ALPHA),
            account_breadth: Ewma::new(HOUR_RATIO_ALPHA),
            hour: (0, 0),
            hour_requests: 0,
            endpoints: BoundedCounts::new(MAX_ENDPOINTS_PER_CONSUMER),
            networks: BoundedCounts::new(MAX_NETWORKS_PER_CONSUMER),
            origins: BoundedCounts::new(MAX_ORIGINS_PER_CONSUMER),
            agents: BoundedCounts::new(MAX_AGENTS_PER_CONSUMER),
            fingerprints: BoundedCounts::new(MAX_AGENTS_PER_CONSUMER),
            received: IdFilter::new(BloomConfig { max_bytes: MAX_ID_FILTER_BYTES, ..BloomConfig::default() }),
            accesses: AccessLog::new(AccessConfig { max_keys: MAX_ACCOUNTS_PER_CONSUMER, ..AccessConfig::default() }),
            consumer_errors: None,
            attended: 0,
            unattended: 0,
            errors: DecayedRatio::default(),
            latency: LogHistogram::new(),
            customers: Hll::new(8),
            customer_ids: BoundedCounts::new(MAX_CUSTOMERS_PER_CONSUMER),
            windows: None,
        }
    }

    /// Checks a deserialised profile: its format, every structure within the profile limits
    /// (the constants of this module), finite averages. A profile that fails is not restored.
    pub fn validate(&self) -> Result<(), String> {
        if self.format != PROFILE_FORMAT {
            return Err(format!("profile format {} (this version reads {PROFILE_FORMAT})", self.format));
        }
        let texts = [Some(&self.label), Some(&self.source), self.org_id.as_ref()];
        if texts.iter().flatten().any(|t| t.len() > MAX_PROFILE_TEXT) {
            return Err(format!("profile label, source or organisation id over {MAX_PROFILE_TEXT} bytes"));
        }
        if self.first_seen > self.last_seen {
            return Err("profile first seen after last seen".into());
        }
        self.season.validate()?;
        self.sessions.validate()?;
        for w in [&self.recent, &self.recent_refused] {
            w.validate()?;
        }
        self.recent_sessions.validate(MAX_WINDOW_KEYS)?;
        for e in [&self.session_ratio, &self.hour_ratio, &self.account_breadth] {
            e.validate()?;
        }
        self.endpoints.validate(MAX_ENDPOINTS_PER_CONSUMER)?;
        self.networks.validate(MAX_NETWORKS_PER_CONSUMER)?;
        self.origins.validate(MAX_ORIGINS_PER_CONSUMER)?;
        self.agents.validate(MAX_AGENTS_PER_CONSUMER)?;
        self.fingerprints.validate(MAX_AGENTS_PER_CONSUMER)?;
        self.customer_ids.validate(MAX_CUSTOMERS_PER_CONSUMER)?;
        self.received.validate(MAX_ID_FILTER_BYTES)?;
        self.accesses.validate(MAX_ACCOUNTS_PER_CONSUMER)?;
        self.errors.validate()?;
        self.latency.validate()?;
        self.customers.validate()?;
        if let Some(w) = &self.windows {
            w.validate()?;
        }
        if let Some(w) = &self.consumer_errors {
            w.validate()?;
        }
        Ok(())
    }

    /// Rebuilds, empty, the windows whose width or buckets `cfg` sets differently from the
    /// settings the profile was made under (a reload changed `rate.window_hours`, a detector's
    /// `window_minutes`, ...): their counts cannot be read in the new width. Returns how many
    /// were rebuilt; the long-term baseline (seasons, mixes, ids) is kept.
    pub fn conform(&mut self, cfg: &BehaviourConfig) -> usize {
        let mut n = 0;
        let rate = hours(cfg.rate.window_hours);
        let fresh = RateWindow::with_buckets(rate, 12);
        for w in [&mut self.recent, &mut self.recent_refused] {
            if !w.same_shape(&fresh) {
                *w = fresh.clone();
                n += 1;
            }
        }
        let sessions = DistinctWindow::with_limits(rate, 12, MAX_WINDOW_KEYS);
        if !self.recent_sessions.same_shape(&sessions) {
            self.recent_sessions = sessions;
            n += 1;
        }
        if self.windows.as_ref().is_some_and(|w| !w.fits(cfg)) {
            self.windows = None;
            n += 1;
        }
        if self.consumer_errors.as_ref().is_some_and(|w| !w.fits(cfg)) {
            self.consumer_errors = None;
            n += 1;
        }
        n
    }

    /// Removes a customer (keyed id) from the profile's per-customer counts. Returns whether
    /// it was there. The distinct-customer estimate keeps its count: it names no customer.
    pub fn forget_customer(&mut self, customer: u64) -> bool {
        self.customer_ids.remove(customer)
    }

    /// The readable columns of a store row for this profile (`id` is its consumer key).
    pub fn summary(&self, id: u64) -> ConsumerSummary {
        let mut customers: Vec<(u64, u64)> = self.customer_ids.iter().map(|(k, e)| (k, e.count)).collect();
        customers.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        ConsumerSummary {
            id: crate::identity::ConsumerId(id).to_string(),
            label: self.label.clone(),
            source: self.source.clone(),
            org_id: self.org_id.clone(),
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            requests: self.requests,
            errors: self.error_responses,
            endpoints: self.endpoints.distinct_ever(),
            customers: customers.into_iter().map(|(k, _)| crate::identity::CustomerId(k).to_string()).collect(),
        }
    }

    /// The detection windows, created on first use.
    pub fn windows(&mut self, cfg: &BehaviourConfig) -> &mut Windows {
        self.windows.get_or_insert_with(|| Box::new(Windows::new(cfg)))
    }

    /// Distinct accounts read in the rate window ending at `ts`.
    pub fn accounts_in_window(&self, ts: u64) -> u64 {
        self.windows.as_ref().map_or(0, |w| w.recent_accounts.count(ts))
    }

    /// Whether the rate window read far more distinct accounts than the consumer's windows do: a
    /// synchronisation of many customers (an aggregator), judged per account by the PSD2 rule
    /// rather than as a surge of volume.
    pub fn is_synchronising(&self, ts: u64) -> bool {
        let usual = if self.account_breadth.n() > 0 { self.account_breadth.mean() } else { 0.0 };
        self.accounts_in_window(ts) as f64 >= SYNC_BREADTH_FACTOR * usual.max(1.0) + SYNC_BREADTH_MIN
    }

    /// Whether the consumer's own baseline is trusted at `ts`.
    pub fn is_warm(&self) -> bool {
        self.warm_since > 0
    }

    /// Ends the warm-up when both the time and the request count are reached.
    pub fn check_warm(&mut self, ts: u64, cfg: &BehaviourConfig) {
        if self.warm_since == 0 && self.requests >= cfg.warmup_requests && ts.saturating_sub(self.first_seen) >= hours(cfg.warmup_hours) {
            self.warm_since = ts;
        }
    }

    /// Approximate bytes held (inline and heap).
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.label.capacity()
            + self.source.capacity()
            + self.org_id.as_ref().map_or(0, String::capacity)
            + self.season.memory_bytes()
            + self.recent.memory_bytes()
            + self.recent_refused.memory_bytes()
            + self.recent_sessions.memory_bytes()
            + self.sessions.memory_bytes()
            + self.session_ratio.memory_bytes()
            + self.hour_ratio.memory_bytes()
            + self.account_breadth.memory_bytes()
            + self.endpoints.memory_bytes()
            + self.networks.memory_bytes()
            + self.origins.memory_bytes()
            + self.agents.memory_bytes()
            + self.fingerprints.memory_bytes()
            + self.received.memory_bytes()
            + self.accesses.memory_bytes()
            + self.latency.memory_bytes()
            + self.customers.memory_bytes()
            + self.customer_ids.memory_bytes()
            + self.windows.as_ref().map_or(0, |w| std::mem::size_of::<Windows>() + w.memory_bytes())
            + self.consumer_errors.as_ref().map_or(0, |w| w.memory_bytes())
    }
}

/// Longest label, source or organisation id a restored profile may hold, in bytes.
pub const MAX_PROFILE_TEXT: usize = 1024;

/// What a store row shows of a profile without decoding it: who, since when, how much, and the
/// customers it names (so an erasure of a customer finds its rows).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerSummary {
    /// The consumer id as anomalies write it (16 hex digits, keyed hash).
    pub id: String,
    /// Non-secret label.
    pub label: String,
    /// Identity source (`client_cert`, `jwt`, ...).
    pub source: String,
    /// PSD2 organisation identifier, when known.
    pub org_id: Option<String>,
    /// First request (packet time, ns).
    pub first_seen: u64,
    /// Latest request (packet time, ns).
    pub last_seen: u64,
    /// Requests seen.
    pub requests: u64,
    /// Of those, answered 4xx or 5xx.
    pub errors: u64,
    /// Distinct endpoints called, counted exactly up to the profile's endpoint-mix bound
    /// ([`MAX_ENDPOINTS_PER_CONSUMER`]) and estimated beyond it.
    pub endpoints: u64,
    /// Keyed customer ids (16 hex digits, as anomalies write them) the profile counts, most
    /// frequent first: at most [`MAX_CUSTOMERS_PER_CONSUMER`]. A consumer serving more
    /// customers names only its most frequent ones.
    pub customers: Vec<String>,
}

/// The [`Profile::origins`] key of an autonomous system.
pub fn asn_key(asn: u32) -> u64 {
    crate::behaviour::input::stable_key(&[b"asn", &asn.to_be_bytes()])
}

/// The [`Profile::origins`] key of a country.
pub fn country_key(country: crate::identity::Country) -> u64 {
    crate::behaviour::input::stable_key(&[b"country", &country.bytes()])
}
