//! Requests per hour by bank-local hour of week, learned over weeks.
//!
//! Counting happens per UTC hour ([`BankClock::hour_index`]), which never repeats or skips;
//! only a finished hour is folded into its local slot. So a fall-back day gives its doubled
//! local hour two hourly samples (not one sample of two hours' traffic), a spring-forward day
//! gives its missing local hour none, and neither distorts the per-hour rate of any slot.
//! An hour's slot is the local time at the start of that UTC hour (in zones with a
//! half-hour offset, a UTC hour straddles two local hours and goes to the first).

use serde::{Deserialize, Serialize};

use super::clock::{hour_index, BankClock};
use super::packed::Packable;
use super::NS_PER_HOUR;

/// Slots of the hour-of-week profile.
pub const WEEK_SLOTS: usize = 168;
/// Slots of the day-type profile: 24 weekday hours, then 24 weekend hours.
pub const DAY_SLOTS: usize = 48;

/// Learning settings of a [`SeasonalRate`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeasonConfig {
    /// Weight of the newest hourly sample in each slot's moving average (default 0.25: a slot
    /// forgets half its history in about two and a half samples, i.e. weeks for the
    /// hour-of-week profile). Clamped to (0, 1].
    pub alpha: f64,
    /// Floor of [`Expected::rate`] in requests per hour (default 0.1), so one request in an
    /// hour that is always quiet is surprising but not infinitely so.
    pub min_rate: f64,
    /// Most empty hours folded when the consumer comes back after a silence (default 24 × 14:
    /// two weeks of zeros already drive every slot's average close to zero, and the bound keeps
    /// one call after a year's gap cheap). Hours beyond it are skipped and counted.
    pub max_catch_up_hours: u32,
    /// Pseudo-count `c` of the day-type profile in the blend (default 2): see
    /// [`SeasonalRate::expected`].
    pub day_type_weight: f64,
}

impl Default for SeasonConfig {
    fn default() -> Self {
        SeasonConfig { alpha: 0.25, min_rate: 0.1, max_catch_up_hours: 24 * 14, day_type_weight: 2.0 }
    }
}

/// The baseline for one hour: requests per hour and how many hourly samples stand behind it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Expected {
    /// Expected requests in a (UTC) hour at this local time, never below
    /// [`SeasonConfig::min_rate`].
    pub rate: f64,
    /// Hourly samples of this local hour of day on this day type (weekday or weekend), which
    /// include those of this hour of week. 0 means no baseline for this hour yet: `rate` is then
    /// the consumer's overall hourly mean (or the floor if nothing was folded yet).
    pub samples: u32,
}

/// One moving average: 8 bytes, f32 is ample for request counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Slot {
    mean: f32,
    samples: u32,
}

impl Packable for Slot {
    const SIZE: usize = 8;
    fn put(self, out: &mut Vec<u8>) {
        self.mean.put(out);
        self.samples.put(out);
    }
    fn get(bytes: &[u8]) -> Self {
        Slot { mean: bytes.get(..4).map_or(0.0, f32::get), samples: bytes.get(4..8).map_or(0, u32::get) }
    }
}

impl Slot {
    fn update(&mut self, x: f64, alpha: f64) {
        let mean = if self.samples == 0 { x } else { f64::from(self.mean) + alpha * (x - f64::from(self.mean)) };
        self.mean = mean as f32;
        self.samples = self.samples.saturating_add(1);
    }
}

/// Hourly request rate by bank-local hour of week, with a weekday/weekend hour-of-day profile
/// and an overall mean to fall back on while the week profile is young.
///
/// Bound: fixed size, 216 slots of 8 bytes: [`SeasonalRate::memory_bytes`] is about 1.9 KiB
/// whatever the traffic. Error: each slot is an exponentially weighted mean of the hourly
/// counts it saw (`alpha` 0.25 by default), so it follows a changed habit within a few weeks
/// and is as noisy as about seven recent samples.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SeasonalRate {
    cfg: SeasonConfig,
    #[serde(with = "super::packed")]
    week: Vec<Slot>,
    #[serde(with = "super::packed")]
    day: Vec<Slot>,
    all: Slot,
    /// UTC hour being counted, and its count; `None` before the first record.
    current: Option<(u64, u32)>,
    hours_observed: u32,
    late: u64,
    skipped_hours: u64,
}

impl SeasonalRate {
    /// An empty profile.
    pub fn new(cfg: SeasonConfig) -> Self {
        let alpha = if cfg.alpha.is_finite() && cfg.alpha > 0.0 { cfg.alpha.min(1.0) } else { 0.25 };
        let min_rate = if cfg.min_rate.is_finite() && cfg.min_rate >= 0.0 { cfg.min_rate } else { 0.1 };
        let day_type_weight =
            if cfg.day_type_weight.is_finite() && cfg.day_type_weight >= 0.0 { cfg.day_type_weight } else { 2.0 };
        SeasonalRate {
            cfg: SeasonConfig { alpha, min_rate, day_type_weight, ..cfg },
            week: vec![Slot::default(); WEEK_SLOTS],
            day: vec![Slot::default(); DAY_SLOTS],
            all: Slot::default(),
            current: None,
            hours_observed: 0,
            late: 0,
            skipped_hours: 0,
        }
    }

    /// Counts `n` requests at packet time `ts_ns`. When `ts_ns` falls in a later UTC hour than
    /// the one being counted, the finished hour and the empty hours since (at most
    /// `max_catch_up_hours` of the latest ones) are folded into their local slots first.
    /// `record(clock, ts, 0)` just advances time. A timestamp in an earlier hour than the
    /// current one (reordered packets) is counted in the current hour and in [`Self::late`].
    pub fn record(&mut self, clock: &BankClock, ts_ns: u64, n: u32) {
        let h = hour_index(ts_ns);
        match self.current {
            None => self.current = Some((h, n)),
            Some((cur, count)) if h == cur => self.current = Some((cur, count.saturating_add(n))),
            Some((cur, count)) if h < cur => {
                self.late = self.late.saturating_add(u64::from(n));
                self.current = Some((cur, count.saturating_add(n)));
            }
            Some((cur, count)) => {
                self.fold(clock, cur, count);
                let empty = h - cur - 1;
                let cap = u64::from(self.cfg.max_catch_up_hours);
                let skip = empty.saturating_sub(cap);
                self.skipped_hours = self.skipped_hours.saturating_add(skip);
                let first = cur.saturating_add(1).saturating_add(skip);
                for e in first..h {
                    self.fold(clock, e, 0);
                }
                self.current = Some((h, n));
            }
        }
    }

    fn fold(&mut self, clock: &BankClock, hour: u64, count: u32) {
        let local = clock.local(hour.saturating_mul(NS_PER_HOUR));
        let x = f64::from(count);
        let alpha = self.cfg.alpha;
        if let Some(s) = self.week.get_mut(usize::from(local.hour_of_week)) {
            s.update(x, alpha);
        }
        if let Some(s) = self.day.get_mut(day_slot(local.weekend, local.hour)) {
            s.update(x, alpha);
        }
        self.all.update(x, alpha);
        self.hours_observed = self.hours_observed.saturating_add(1);
    }

    /// The baseline for the UTC hour containing `ts_ns`, from its local slot `w` (mean `m_w`,
    /// `n_w` samples) and the same local hour of day on the same day type `d` (`m_d`, `n_d`):
    ///
    /// `rate = max(min_rate, (n_w · m_w + c · m_d) / (n_w + c))` with `c = day_type_weight`.
    ///
    /// After one week a slot has one sample of its own and leans on the 5 (or 2) samples of its
    /// day type (weight 1/3 with `c` = 2); after ten weeks its own history dominates (10/12).
    /// With no sample of this hour of day on this day type (`n_d` = 0, the first week) the
    /// rate is the overall hourly mean and `samples` is 0. The hour being counted is not part
    /// of the baseline.
    pub fn expected(&self, clock: &BankClock, ts_ns: u64) -> Expected {
        let local = clock.local(hour_index(ts_ns).saturating_mul(NS_PER_HOUR));
        let w = self.week.get(usize::from(local.hour_of_week)).copied().unwrap_or_default();
        let d = self.day.get(day_slot(local.weekend, local.hour)).copied().unwrap_or_default();
        let floor = self.cfg.min_rate;
        if d.samples == 0 {
            let rate = if self.all.samples == 0 { floor } else { f64::from(self.all.mean).max(floor) };
            return Expected { rate, samples: 0 };
        }
        let nw = f64::from(w.samples);
        let c = self.cfg.day_type_weight;
        let denom = nw + c;
        let rate = if denom > 0.0 {
            (nw * f64::from(w.mean) + c * f64::from(d.mean)) / denom
        } else {
            f64::from(d.mean)
        };
        Expected { rate: rate.max(floor), samples: d.samples }
    }

    /// The UTC hour being counted ([`BankClock::hour_index`]) and its count so far; `(0, 0)`
    /// before the first record.
    pub fn current_hour(&self) -> (u64, u32) {
        self.current.unwrap_or((0, 0))
    }

    /// Hours folded into the profile, empty ones included (saturates at `u32::MAX`).
    pub fn hours_observed(&self) -> u32 {
        self.hours_observed
    }

    /// The mean of the day-type profile's learned hours (weekday and weekend hours of day with
    /// at least one sample): the consumer's typical hourly rate. It moves by at most `alpha` of
    /// a change per slot and day, so one unusual day barely shifts it, unlike
    /// [`Self::overall`], which follows every hour.
    pub fn typical_rate(&self) -> f64 {
        let (sum, n) = self.day.iter().filter(|s| s.samples > 0).fold((0.0, 0u32), |(sum, n), s| (sum + f64::from(s.mean), n + 1));
        if n == 0 {
            0.0
        } else {
            sum / f64::from(n)
        }
    }

    /// The overall hourly mean and its sample count (all hours, all days).
    pub fn overall(&self) -> (f64, u32) {
        (f64::from(self.all.mean), self.all.samples)
    }

    /// Requests that arrived with a timestamp in an hour already finished.
    pub fn late(&self) -> u64 {
        self.late
    }

    /// Empty hours not folded because a silence was longer than `max_catch_up_hours`.
    pub fn skipped_hours(&self) -> u64 {
        self.skipped_hours
    }

    /// The settings in force (after clamping invalid values to their defaults).
    pub fn config(&self) -> &SeasonConfig {
        &self.cfg
    }

    /// Checks a deserialised rate: 168 week and 48 day slots with finite non-negative means,
    /// and settings in their ranges.
    pub fn validate(&self) -> Result<(), String> {
        let c = &self.cfg;
        let alpha = c.alpha.is_finite() && c.alpha > 0.0 && c.alpha <= 1.0;
        let floor = c.min_rate.is_finite() && c.min_rate >= 0.0;
        let weight = c.day_type_weight.is_finite() && c.day_type_weight >= 0.0;
        if !(alpha && floor && weight) {
            return Err("seasonal rate settings out of range".into());
        }
        if self.week.len() != WEEK_SLOTS || self.day.len() != DAY_SLOTS {
            return Err(format!("seasonal rate of {} week and {} day slots", self.week.len(), self.day.len()));
        }
        let finite = |s: &Slot| s.mean.is_finite() && s.mean >= 0.0;
        if !(self.week.iter().all(finite) && self.day.iter().all(finite) && finite(&self.all)) {
            return Err("seasonal rate slot mean not a finite non-negative number".into());
        }
        Ok(())
    }

    /// Heap and inline bytes: about 1.9 KiB, independent of traffic.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.week.capacity() * std::mem::size_of::<Slot>()
            + self.day.capacity() * std::mem::size_of::<Slot>()
    }
}

fn day_slot(weekend: bool, hour: u8) -> usize {
    usize::from(weekend) * 24 + usize::from(hour)
}

#[cfg(test)]
#[path = "season_tests.rs"]
mod tests;
