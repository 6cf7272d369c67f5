//! Time windows of suppression rules: one absolute period, or a weekly recurring one in the
//! bank's time zone (maintenance windows, a nightly batch job).
//!
//! Written as text in the configuration:
//! - `2026-11-20T08:00:00Z/2026-11-20T18:00:00+01:00`: from one RFC 3339 instant to another;
//!   a bare date (`2026-11-20/2026-11-21`) means the whole of those days, bank-local.
//! - `[DAYS] HH:MM-HH:MM`, bank-local: DAYS is `daily` (the default), `weekdays`,
//!   `weekends`, a day (`Mon`), a range (`Mon-Fri`) or a list (`Mon,Wed,Fri`). An end at or
//!   before the start runs past midnight into the next day (`daily 22:00-06:00`); `24:00`
//!   is the end of the day. Local times follow daylight saving: `daily 01:00-04:00` is three
//!   hours of local clock, whatever the UTC offset that night.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone};

use crate::sketch::clock::BankClock;

const NS_PER_SEC: i64 = 1_000_000_000;
const MINUTES_PER_DAY: u16 = 1440;
const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// When a rule applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeWindow {
    /// From `from` (inclusive) to `until` (exclusive), packet time in ns.
    Between {
        /// Start.
        from: u64,
        /// End.
        until: u64,
    },
    /// Every listed bank-local day from `start` to `end` (minutes since local midnight; when
    /// `end <= start` the window runs into the next day).
    Weekly {
        /// Bit 0 = Monday ... bit 6 = Sunday.
        days: u8,
        /// First minute.
        start: u16,
        /// Minute after the last (1440 = midnight at the end of the day).
        end: u16,
    },
}

impl TimeWindow {
    /// Whether packet time `ts` (ns) is inside the window.
    pub fn contains(&self, ts: u64, clock: &BankClock) -> bool {
        match *self {
            TimeWindow::Between { from, until } => from <= ts && ts < until,
            TimeWindow::Weekly { days, start, end } => {
                let local = clock.local(ts);
                let listed = |weekday: u8| days & (1 << weekday) != 0;
                let m = local.minute_of_day;
                if start < end {
                    listed(local.weekday) && start <= m && m < end
                } else {
                    let yesterday = (local.weekday + 6) % 7;
                    (listed(local.weekday) && m >= start) || (listed(yesterday) && m < end)
                }
            }
        }
    }

    /// Parses the text form (see the module documentation).
    pub fn parse(text: &str, clock: &BankClock) -> Result<TimeWindow, String> {
        let t = text.trim();
        if let Some((a, b)) = t.split_once('/') {
            let from = parse_instant(a, clock, false)?;
            let until = parse_instant(b, clock, true)?;
            if until <= from {
                return Err(format!("window {t:?} ends before it starts"));
            }
            return Ok(TimeWindow::Between { from, until });
        }
        let (days_text, times) = match t.rsplit_once(char::is_whitespace) {
            Some((d, r)) => (d.trim(), r),
            None => ("daily", t),
        };
        let days = parse_days(days_text).ok_or_else(|| {
            format!("window {t:?}: days {days_text:?} are not `daily`, `weekdays`, `weekends`, a day such as `Mon`, a range `Mon-Fri` or a list `Mon,Wed,Fri`")
        })?;
        let (s, e) = times.split_once('-').ok_or_else(|| format!("window {t:?}: write the local times as HH:MM-HH:MM, e.g. `daily 01:00-04:00`"))?;
        let start = parse_minute(s).ok_or_else(|| format!("window {t:?}: {s:?} is not a time HH:MM (00:00 to 23:59)"))?;
        let end = parse_minute(e).ok_or_else(|| format!("window {t:?}: {e:?} is not a time HH:MM (00:00 to 24:00)"))?;
        if start >= MINUTES_PER_DAY {
            return Err(format!("window {t:?}: a window cannot start at 24:00; write 00:00"));
        }
        if start == end {
            return Err(format!("window {t:?} is empty; for whole days write 00:00-24:00"));
        }
        Ok(TimeWindow::Weekly { days, start, end })
    }
}

fn parse_minute(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    let total = h.checked_mul(60)?.checked_add(m)?;
    (m < 60 && total <= MINUTES_PER_DAY).then_some(total)
}

fn day_index(s: &str) -> Option<u8> {
    let s = s.trim().to_ascii_lowercase();
    let short = s.get(..3)?;
    let i = DAY_NAMES.iter().position(|d| *d == short)?;
    // Accept `mon` and `monday`, nothing else.
    let full = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    (s.len() == 3 || full.get(i).is_some_and(|f| *f == s)).then(|| u8::try_from(i).unwrap_or(0))
}

fn parse_days(text: &str) -> Option<u8> {
    match text.to_ascii_lowercase().as_str() {
        "daily" | "" => return Some(0x7f),
        "weekdays" => return Some(0x1f),
        "weekends" => return Some(0x60),
        _ => {}
    }
    let mut days = 0u8;
    for part in text.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day_index(a)?, day_index(b)?);
                let mut d = a;
                loop {
                    days |= 1 << d;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days |= 1 << day_index(part)?,
        }
    }
    Some(days)
}

/// An instant as packet time (ns): RFC 3339 with an offset (`2026-12-31T23:00:00Z`), or a
/// bare date, bank-local: its start, or with `end_of_day` the start of the next day (so that
/// `expires = "2026-12-31"` includes the whole of 31 December).
pub fn parse_instant(text: &str, clock: &BankClock, end_of_day: bool) -> Result<u64, String> {
    let t = text.trim();
    let ns = if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        d.timestamp().checked_mul(NS_PER_SEC).and_then(|s| s.checked_add(i64::from(d.timestamp_subsec_nanos())))
    } else if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        let date = if end_of_day { date.succ_opt().unwrap_or(date) } else { date };
        let midnight = NaiveDateTime::new(date, NaiveTime::MIN);
        // A zone whose clocks skip midnight: the first instant of the day that exists.
        let local = clock.tz().from_local_datetime(&midnight).earliest().or_else(|| clock.tz().from_local_datetime(&(midnight + chrono::Duration::hours(1))).earliest());
        local.and_then(|d| d.timestamp().checked_mul(NS_PER_SEC))
    } else {
        return Err(format!("{t:?} is not a date (2026-12-31) or an RFC 3339 time (2026-12-31T18:00:00Z)"));
    };
    ns.and_then(|n| u64::try_from(n).ok()).ok_or_else(|| format!("{t:?} is before 1970 or too far in the future"))
}
