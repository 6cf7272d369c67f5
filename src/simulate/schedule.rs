//! When things happen: seasonality in the bank's local time and session start times drawn
//! from a Poisson process thinned by it.

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;

use super::rng::Rng;

/// Relative activity by local hour on a weekday (peak 1.0 at lunchtime and early evening).
const WEEKDAY_HOURS: [f64; 24] = [
    0.10, 0.06, 0.04, 0.04, 0.05, 0.10, 0.25, 0.55, 0.80, 0.85, 0.85, 0.90, //
    1.00, 0.95, 0.85, 0.85, 0.85, 0.90, 0.95, 0.90, 0.75, 0.55, 0.35, 0.20,
];

/// Weekends are quieter and later.
const WEEKEND_FACTOR: f64 = 0.55;

/// The last two days of a month see salary and bill runs.
pub const MONTH_END_FACTOR: f64 = 1.6;

/// The highest value [`activity`] can return, for thinning.
pub const MAX_ACTIVITY: f64 = MONTH_END_FACTOR;

/// Relative activity at `t` in the bank's time zone: hour-of-day profile (following the local
/// clock, so a daylight-saving change moves the peaks in UTC), weekend dip, month-end peak.
pub fn activity(t: DateTime<Utc>, tz: Tz) -> f64 {
    let local = tz.from_utc_datetime(&t.naive_utc());
    let hour = WEEKDAY_HOURS.get(local.hour() as usize).copied().unwrap_or(0.5);
    let weekend = matches!(local.weekday(), Weekday::Sat | Weekday::Sun);
    let mut a = if weekend { hour * WEEKEND_FACTOR } else { hour };
    if is_month_end(local.date_naive()) {
        a *= MONTH_END_FACTOR;
    }
    a
}

/// Hours of peak-rate traffic in the busiest day (a weekday at month end): the hour profile's
/// sum times the month-end factor. A consumer's sessions on that day are at most its hourly
/// peak session rate times this.
pub fn busiest_day_hours() -> f64 {
    WEEKDAY_HOURS.iter().sum::<f64>() * MONTH_END_FACTOR
}

/// Mean [`activity`] over `[from, to)`, sampled every 5 minutes (0 for an empty window): a
/// consumer's expected requests per hour there are its `requests_per_hour` times this.
pub fn mean_activity(from: DateTime<Utc>, to: DateTime<Utc>, tz: Tz) -> f64 {
    let (from, to) = (nanos(from), nanos(to));
    let step = 300 * 1_000_000_000;
    let (mut sum, mut n) = (0.0, 0u32);
    let mut t = from;
    while t < to {
        sum += activity(from_nanos(t), tz);
        n += 1;
        t += step;
    }
    if n == 0 {
        0.0
    } else {
        sum / f64::from(n)
    }
}

/// True on the last two days of the month.
pub fn is_month_end(d: chrono::NaiveDate) -> bool {
    let next = d + chrono::Days::new(2);
    next.month() != d.month()
}

/// Start times (Unix nanoseconds) of sessions in `[from, to)`: a Poisson process whose rate is
/// `per_hour` at activity 1.0, shaped by [`activity`] when `seasonal`.
pub fn session_starts(from: DateTime<Utc>, to: DateTime<Utc>, per_hour: f64, seasonal: bool, tz: Tz, rng: &mut Rng) -> Vec<u64> {
    let mut out = Vec::new();
    if per_hour <= 0.0 {
        return out;
    }
    let peak = if seasonal { per_hour * MAX_ACTIVITY } else { per_hour };
    let mean_gap_secs = 3600.0 / peak;
    let end = nanos(to);
    let mut t = nanos(from) as f64;
    loop {
        t += rng.exp(mean_gap_secs) * 1e9;
        if t >= end as f64 {
            return out;
        }
        let at = t as u64;
        let keep = !seasonal || rng.unit() * MAX_ACTIVITY < activity(from_nanos(at), tz);
        if keep {
            out.push(at);
        }
    }
}

/// Start times (Unix nanoseconds) of sessions in `[from, to)` at a steady `per_hour`: the
/// window cut into equal slots, one session at a random point of each, so the count is the
/// expected one (its fraction drawn) rather than a Poisson draw around it. For injections whose
/// volume a test or a detector measures against an expected rate.
pub fn even_starts(from: DateTime<Utc>, to: DateTime<Utc>, per_hour: f64, rng: &mut Rng) -> Vec<u64> {
    let (a, b) = (nanos(from), nanos(to));
    let hours = b.saturating_sub(a) as f64 / 3.6e12;
    let expected = per_hour * hours;
    if !(expected > 0.0 && expected.is_finite()) {
        return Vec::new();
    }
    let whole = expected.floor();
    let n = whole as u64 + u64::from(rng.chance(expected - whole));
    if n == 0 {
        return Vec::new();
    }
    let slot = b.saturating_sub(a) as f64 / n as f64;
    (0..n).map(|k| a + ((k as f64 + rng.unit()) * slot) as u64).filter(|t| *t < b).collect()
}

/// Start times of checks every `interval_minutes` in `[from, to)`, each up to 20 seconds after
/// its slot (a scheduler's start-up delay), day and night alike.
pub fn every(from: DateTime<Utc>, to: DateTime<Utc>, interval_minutes: u64, rng: &mut Rng) -> Vec<u64> {
    let (a, b) = (nanos(from), nanos(to));
    let step = interval_minutes.max(1).saturating_mul(60_000_000_000);
    let mut out = Vec::new();
    let mut slot = a;
    while slot < b {
        let t = slot + rng.below(20_000_000_000);
        if t < b {
            out.push(t);
        }
        slot = slot.saturating_add(step);
    }
    out
}

/// Start times of a daily run at bank-local `at` (hour, minute) lasting `minutes`, for every
/// day whose whole run lies in `[from, to)` (a local time a daylight-saving change skips has
/// no run).
pub fn daily_runs(from: DateTime<Utc>, to: DateTime<Utc>, tz: Tz, at: (u32, u32), minutes: u64) -> Vec<u64> {
    let length = minutes.saturating_mul(60_000_000_000);
    let (a, b) = (nanos(from), nanos(to));
    let mut out = Vec::new();
    let mut day = from.with_timezone(&tz).date_naive();
    let last = to.with_timezone(&tz).date_naive();
    while day <= last {
        let start = day.and_hms_opt(at.0, at.1, 0).and_then(|n| tz.from_local_datetime(&n).earliest());
        if let Some(start) = start.map(|t| nanos(t.with_timezone(&Utc))) {
            if start >= a && start.saturating_add(length) <= b {
                out.push(start);
            }
        }
        day = day + chrono::Days::new(1);
    }
    out
}

/// Whether `t` falls on a bank-local weekday within the local hours `[from, to)`.
pub fn in_working_hours(t: u64, tz: Tz, hours: (u32, u32)) -> bool {
    let local = tz.from_utc_datetime(&from_nanos(t).naive_utc());
    !matches!(local.weekday(), Weekday::Sat | Weekday::Sun) && (hours.0..hours.1).contains(&local.hour())
}

/// Unix nanoseconds of a time (0 before 1970).
pub fn nanos(t: DateTime<Utc>) -> u64 {
    u64::try_from(t.timestamp_nanos_opt().unwrap_or(0)).unwrap_or(0)
}

/// The time of Unix nanoseconds.
pub fn from_nanos(n: u64) -> DateTime<Utc> {
    DateTime::from_timestamp((n / 1_000_000_000) as i64, (n % 1_000_000_000) as u32).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn peaks_follow_the_local_clock_across_daylight_saving() {
        let tz: Tz = "Europe/London".parse().unwrap();
        // Wednesday 2026-03-25 is GMT (UTC+0); Wednesday 2026-04-01 is BST (UTC+1). Neither is
        // in the last two days of a month.
        let before = Utc.with_ymd_and_hms(2026, 3, 25, 12, 0, 0).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 4, 1, 11, 0, 0).unwrap();
        assert_eq!(activity(before, tz), 1.0, "12:00 GMT is the local noon peak");
        assert_eq!(activity(after, tz), 1.0, "11:00 UTC is noon BST after the change");
        let night = Utc.with_ymd_and_hms(2026, 4, 1, 2, 0, 0).unwrap();
        assert!(activity(night, tz) < 0.1);
    }

    #[test]
    fn month_end_and_weekends_shape_activity() {
        let tz: Tz = "UTC".parse().unwrap();
        let month_end = Utc.with_ymd_and_hms(2026, 4, 30, 12, 0, 0).unwrap();
        let mid = Utc.with_ymd_and_hms(2026, 4, 15, 12, 0, 0).unwrap();
        let saturday = Utc.with_ymd_and_hms(2026, 4, 18, 12, 0, 0).unwrap();
        assert!((activity(month_end, tz) - MONTH_END_FACTOR).abs() < 1e-9);
        assert_eq!(activity(mid, tz), 1.0);
        assert!((activity(saturday, tz) - WEEKEND_FACTOR).abs() < 1e-9);
    }

    #[test]
    fn even_starts_give_the_expected_count_inside_the_window() {
        let from = Utc.with_ymd_and_hms(2026, 4, 15, 0, 0, 0).unwrap();
        let to = from + chrono::Duration::minutes(90);
        let mut rng = Rng::new(8);
        for _ in 0..50 {
            let starts = even_starts(from, to, 10.0, &mut rng);
            assert_eq!(starts.len(), 15);
            assert!(starts.windows(2).all(|w| w[0] < w[1]), "in order");
            assert!(starts.iter().all(|t| (nanos(from)..nanos(to)).contains(t)));
        }
        let n: usize = (0..1000).map(|_| even_starts(from, to, 3.0, &mut rng).len()).sum();
        assert!((4400..4600).contains(&n), "4.5 a window on average: {n}");
    }

    #[test]
    fn checks_come_every_interval_and_runs_every_local_night() {
        let tz: Tz = "Europe/London".parse().unwrap();
        let from = Utc.with_ymd_and_hms(2026, 10, 24, 0, 0, 0).unwrap();
        let to = from + chrono::Duration::hours(72);
        let checks = every(from, to, 5, &mut Rng::new(4));
        assert_eq!(checks.len(), 72 * 12);
        assert!(checks.windows(2).all(|w| (280_000_000_000..=320_000_000_000).contains(&(w[1] - w[0]))));
        // 02:00 London: BST (01:00 UTC) on Saturday 24 October, GMT after Sunday's change.
        let runs: Vec<String> = daily_runs(from, to, tz, (2, 0), 30).into_iter().map(|t| from_nanos(t).to_rfc3339()).collect();
        assert_eq!(runs, ["2026-10-24T01:00:00+00:00", "2026-10-25T02:00:00+00:00", "2026-10-26T02:00:00+00:00"]);
        // A run that would pass the window's end is left out.
        assert_eq!(daily_runs(from, from + chrono::Duration::minutes(80), tz, (2, 0), 30).len(), 0);
        let monday_ten = nanos(Utc.with_ymd_and_hms(2026, 10, 26, 10, 0, 0).unwrap());
        let saturday_ten = nanos(Utc.with_ymd_and_hms(2026, 10, 24, 9, 0, 0).unwrap());
        assert!(in_working_hours(monday_ten, tz, (9, 17)));
        assert!(!in_working_hours(monday_ten, tz, (11, 17)));
        assert!(!in_working_hours(saturday_ten, tz, (9, 17)));
    }

    #[test]
    fn a_flat_process_has_the_requested_rate() {
        let tz: Tz = "UTC".parse().unwrap();
        let from = Utc.with_ymd_and_hms(2026, 4, 15, 0, 0, 0).unwrap();
        let to = from + chrono::Duration::hours(100);
        let mut rng = Rng::new(3);
        let n = session_starts(from, to, 60.0, false, tz, &mut rng).len() as f64;
        assert!((n - 6000.0).abs() < 400.0, "{n}");
    }
}
