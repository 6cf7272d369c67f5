//! Detector settings: every threshold with its default and why. Frozen defaults are what the
//! accuracy figures in `docs/accuracy.md` were measured with.

use serde::Deserialize;

const MINUTE: u64 = 60_000_000_000;
const HOUR: u64 = 60 * MINUTE;

/// Settings of the behavioural layer. Deserialises from the `[behaviour]` table of the
/// configuration file with every key optional (defaults below); unknown keys are refused.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BehaviourConfig {
    /// The bank's IANA time zone: hour of week, off hours and days are on its local clock.
    /// Default `UTC`.
    pub timezone: String,
    /// Hours of packet time a consumer must have been seen over before its own baseline is
    /// trusted (seasonal rate, networks, fingerprints, sizes). Default 72.
    pub warmup_hours: u32,
    /// Requests a consumer must have made before its own baseline is trusted. Default 50.
    pub warmup_requests: u64,
    /// Consumers tracked at once; past it the one idle longest is forgotten (counted).
    /// Default 50,000 (about 1.5 GiB at the 32 KiB a typical profile holds).
    pub max_consumers: usize,
    /// Endpoints with an error baseline (for `error_spike` per endpoint and service).
    /// Default 20,000.
    pub max_endpoints: usize,
    /// Bank-local hours that count as off hours: from `off_hours_start` (default 22) to
    /// `off_hours_end` (default 6).
    pub off_hours_start: u8,
    /// See `off_hours_start`.
    pub off_hours_end: u8,
    /// Path parameter names that hold a customer account id (PSD2 access counting).
    /// Default `AccountId`, `accountId`, `account_id`, `accountNumber`.
    pub account_params: Vec<String>,
    /// Last path segments that name the collection of a customer's accounts (`GET
    /// .../accounts`): with `account_params`, what counts as account information for PSD2
    /// (unattended account information is judged per account, not as volume). Default
    /// `accounts`.
    pub account_collections: Vec<String>,
    /// Unattended accesses of one account a consumer may make in a rolling 24 hours before
    /// `bulk_export` (PSD2 RTS article 36: four). Default 4.
    pub psd2_max_unattended_per_day: u32,
    /// Count any 401 answer as a failed login (for `credential_stuffing`), besides token
    /// endpoints and login paths. Default true.
    pub count_401_as_failed_login: bool,
    /// `bola_enumeration`.
    pub bola: BolaSettings,
    /// `credential_stuffing`.
    pub stuffing: StuffingSettings,
    /// `rate_surge` and `off_hours`.
    pub rate: RateSettings,
    /// `error_spike`.
    pub errors: ErrorSettings,
    /// `response_size`.
    pub size: SizeSettings,
    /// `new_origin` and `new_fingerprint`.
    pub novelty: NoveltySettings,
    /// De-duplication, updates and closing of findings.
    pub alerts: AlertSettings,
}

impl Default for BehaviourConfig {
    fn default() -> Self {
        BehaviourConfig {
            timezone: "UTC".into(),
            warmup_hours: 72,
            warmup_requests: 50,
            max_consumers: 50_000,
            max_endpoints: 20_000,
            off_hours_start: 22,
            off_hours_end: 6,
            account_params: ["AccountId", "accountId", "account_id", "accountNumber"].map(String::from).to_vec(),
            account_collections: vec!["accounts".into()],
            psd2_max_unattended_per_day: 4,
            count_401_as_failed_login: true,
            bola: BolaSettings::default(),
            stuffing: StuffingSettings::default(),
            rate: RateSettings::default(),
            errors: ErrorSettings::default(),
            size: SizeSettings::default(),
            novelty: NoveltySettings::default(),
            alerts: AlertSettings::default(),
        }
    }
}

/// `bola_enumeration`: a consumer requesting object ids it was never given, most refused.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BolaSettings {
    /// Window of the fast rule, minutes. Default 10.
    pub window_minutes: u32,
    /// Distinct foreign ids in the window that fire the fast rule. Default 10 (the issue asks
    /// for detection within 20 foreign-id requests).
    pub min_foreign_ids: u32,
    /// Share of foreign-id requests refused (403/404) needed. Default 0.5: an aggregator
    /// reading its own accounts by ids it learned elsewhere gets 200s.
    pub min_refused_share: f64,
    /// Distinct refused foreign ids in the slow rule's day that fire it. Default 15.
    pub slow_min_refused_ids: u32,
    /// Window of the slow (low-and-slow) rule, hours. Default 24.
    pub slow_window_hours: u32,
}

impl Default for BolaSettings {
    fn default() -> Self {
        BolaSettings { window_minutes: 10, min_foreign_ids: 10, min_refused_share: 0.5, slow_min_refused_ids: 15, slow_window_hours: 24 }
    }
}

/// `credential_stuffing`: many failed logins for many users or from many new networks.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StuffingSettings {
    /// Window, minutes. Default 5.
    pub window_minutes: u32,
    /// Failed logins in the window. Default 20.
    pub min_failures: u32,
    /// Distinct users tried in the window (any of the two breadth rules fires). Default 10.
    pub min_users: u32,
    /// Distinct client networks the consumer never used before, in the window. Default 5.
    pub min_new_networks: u32,
    /// Share of login attempts that failed. Default 0.5.
    pub min_failure_share: f64,
}

impl Default for StuffingSettings {
    fn default() -> Self {
        StuffingSettings { window_minutes: 5, min_failures: 20, min_users: 10, min_new_networks: 5, min_failure_share: 0.5 }
    }
}

/// `rate_surge` and `off_hours` against the seasonal baseline.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateSettings {
    /// Requests in the last hour must reach `factor` times the expected rate ... Default 4
    /// (a month-end peak is 1.6 times).
    pub factor: f64,
    /// ... and the expected rate plus `sigmas` Poisson standard deviations. Default 6.
    pub sigmas: f64,
    /// ... and at least this many requests. Default 60.
    pub min_requests: u64,
    /// ... or at least this many sessions (connections) in the window, judged the same way
    /// against the seasonal session rate. Default 15.
    pub min_sessions: u64,
    /// The window the requests are counted in, hours. Default 2: a surge is sustained, while
    /// a few long sessions bunched into one hour are not.
    pub window_hours: u32,
    /// Share of the window's requests refused as unauthenticated or forbidden (401, 403) from
    /// which the volume is an authentication event (a password-reset day, stuffing), judged by
    /// the login detector, not a surge. Default 0.15 (a surge of a stolen token's calls is
    /// answered, about 1% refused as usual).
    pub max_refused_share: f64,
}

impl Default for RateSettings {
    fn default() -> Self {
        RateSettings { factor: 4.0, sigmas: 6.0, min_requests: 60, min_sessions: 15, window_hours: 2, max_refused_share: 0.15 }
    }
}

/// `error_spike`: server errors far above the baseline, per service and per consumer.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ErrorSettings {
    /// Window, minutes. Default 2.
    pub window_minutes: u32,
    /// Requests in the window that make a spike without a significance test. Default 8.
    pub min_requests: u64,
    /// With fewer requests, the errors must be this unlikely at the baseline share (binomial
    /// tail), and at least four. Default 1e-6: four errors in four requests at a 2% baseline
    /// fire, four in eight do not.
    pub max_p_value: f64,
    /// Share of errors in the window. Default 0.5.
    pub min_error_share: f64,
    /// ... and this many times the baseline error share. Default 5.
    pub factor: f64,
    /// Statuses that count as errors: every 5xx, plus these. Default 400, 429 (401, 403 and
    /// 404 belong to the login and enumeration detectors).
    pub extra_statuses: Vec<u16>,
}

impl Default for ErrorSettings {
    fn default() -> Self {
        ErrorSettings { window_minutes: 2, min_requests: 8, max_p_value: 1e-6, min_error_share: 0.5, factor: 5.0, extra_statuses: vec![400, 429] }
    }
}

/// `response_size`: a response far larger than the endpoint returns.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SizeSettings {
    /// Times the endpoint's 99th percentile. Default 20.
    pub factor: f64,
    /// Never below this many bytes. Default 1 MiB.
    pub min_bytes: u64,
    /// Responses the endpoint needs before its percentile is trusted; before that only
    /// `absolute_bytes` fires. Default 50.
    pub min_samples: u64,
    /// A response this large always fires. Default 50 MiB.
    pub absolute_bytes: u64,
}

impl Default for SizeSettings {
    fn default() -> Self {
        SizeSettings { factor: 20.0, min_bytes: 1 << 20, min_samples: 50, absolute_bytes: 50 << 20 }
    }
}

/// `new_origin` and `new_fingerprint`: only for consumers whose baseline is narrow.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NoveltySettings {
    /// A consumer seen from more networks than this during its baseline is diverse (a
    /// retail app); new networks are then not alerted one by one. Default 8.
    pub max_networks: usize,
    /// Same for user agents and fingerprints. Default 4.
    pub max_fingerprints: usize,
    /// Requests from the new network or with the new fingerprint before it is alerted
    /// (one stray request is not an incident). Default 3.
    pub min_requests: u32,
}

impl Default for NoveltySettings {
    fn default() -> Self {
        NoveltySettings { max_networks: 8, max_fingerprints: 4, min_requests: 3 }
    }
}

/// Findings: one per incident, updated, then closed when quiet.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertSettings {
    /// Least packet time between two `updated` events of one finding, minutes. Default 15.
    pub update_minutes: u32,
    /// Quiet time after which a finding closes, minutes. Default 60.
    pub close_minutes: u32,
    /// New findings per consumer and kind in an hour; more detections are folded into the
    /// latest one (counted). Default 3.
    pub max_new_per_hour: u32,
    /// Open findings held; past it the one quiet longest closes early (counted). Default
    /// 100,000.
    pub max_open: usize,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings { update_minutes: 15, close_minutes: 60, max_new_per_hour: 3, max_open: 100_000 }
    }
}

impl BehaviourConfig {
    /// Checks the values; the error names the key and the fix.
    pub fn validate(&self) -> Result<chrono_tz::Tz, String> {
        let tz: chrono_tz::Tz = self
            .timezone
            .parse()
            .map_err(|_| format!("behaviour.timezone `{}` is not an IANA time zone; use a name such as Europe/London", self.timezone))?;
        if self.off_hours_start > 23 || self.off_hours_end > 23 {
            return Err("behaviour.off_hours_start and off_hours_end are hours 0 to 23".into());
        }
        let shares = [
            ("behaviour.bola.min_refused_share", self.bola.min_refused_share),
            ("behaviour.stuffing.min_failure_share", self.stuffing.min_failure_share),
            ("behaviour.errors.min_error_share", self.errors.min_error_share),
            ("behaviour.rate.max_refused_share", self.rate.max_refused_share),
        ];
        for (key, v) in shares {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{key} = {v} must be between 0 and 1"));
            }
        }
        if self.max_consumers == 0 || self.alerts.max_open == 0 {
            return Err("behaviour.max_consumers and behaviour.alerts.max_open must be at least 1".into());
        }
        if self.rate.window_hours == 0 || self.rate.window_hours > 24 {
            return Err(format!("behaviour.rate.window_hours = {} must be 1 to 24", self.rate.window_hours));
        }
        if self.bola.window_minutes == 0 || self.stuffing.window_minutes == 0 || self.errors.window_minutes == 0 {
            return Err("detector windows (window_minutes) must be at least 1 minute".into());
        }
        Ok(tz)
    }

    /// Whether a bank-local hour is inside the off-hours window (which may wrap midnight).
    pub fn is_off_hour(&self, hour: u8) -> bool {
        let (s, e) = (self.off_hours_start, self.off_hours_end);
        if s <= e {
            hour >= s && hour < e
        } else {
            hour >= s || hour < e
        }
    }
}

/// Nanoseconds in `m` minutes.
pub(crate) fn minutes(m: u32) -> u64 {
    u64::from(m) * MINUTE
}

/// Nanoseconds in `h` hours.
pub(crate) fn hours(h: u32) -> u64 {
    u64::from(h) * HOUR
}
