//! Bank-local time: hour of week, day and weekend in the bank's configured time zone.
//!
//! Baselines bucket by what the bank's customers live by (local office hours, local days), so
//! every bucket comes from the IANA time-zone rules (chrono-tz), never from a fixed offset: a
//! daylight-saving change moves the UTC hours that map to "Monday 09:00" and the rules follow it.
//! On a fall-back day one local hour happens twice; on a spring-forward day one never happens.
//! Structures that need a bucket id that never repeats use [`BankClock::hour_index`] (UTC hours
//! since the epoch) and fold into local slots only afterwards (see [`super::season`]).

use chrono::{DateTime, Datelike, NaiveDateTime, Timelike};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{NS_PER_HOUR, NS_PER_SEC};

/// Days from 0001-01-01 (chrono's day 1 of the common era) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i64 = 719_163;

/// Converts packet timestamps to the bank's local calendar. Cheap to copy; holds only the zone.
///
/// Serialises as the IANA zone name (`"Europe/London"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BankClock {
    tz: Tz,
}

/// One instant in the bank's local calendar. Every field is derived from the same local
/// date-time, so they always agree with each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalTime {
    /// 0 = Monday 00:00-00:59 local, 167 = Sunday 23:00-23:59.
    pub hour_of_week: u8,
    /// Local hour of day, 0-23.
    pub hour: u8,
    /// 0 = Monday ... 6 = Sunday.
    pub weekday: u8,
    /// Saturday or Sunday.
    pub weekend: bool,
    /// Local calendar day number: days since 1970-01-01 counted in local dates (negative
    /// before it, e.g. the evening of 1969-12-31 in a zone west of UTC is -1).
    pub day: i64,
    /// Minutes since local midnight, 0-1439.
    pub minute_of_day: u16,
}

impl BankClock {
    /// A clock for the bank's time zone.
    pub fn new(tz: Tz) -> Self {
        BankClock { tz }
    }

    /// A clock on UTC (the default when no zone is configured).
    pub fn utc() -> Self {
        BankClock { tz: Tz::UTC }
    }

    /// The configured zone.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The local calendar position of a packet timestamp (nanoseconds since the Unix epoch).
    /// Total: every `u64` gives an answer, including 0 (which in zones west of UTC is
    /// 1969-12-31) and `u64::MAX` (the year 2554).
    pub fn local(&self, ts_ns: u64) -> LocalTime {
        let secs = i64::try_from(ts_ns / NS_PER_SEC).unwrap_or(i64::MAX);
        let naive = match DateTime::from_timestamp(secs, 0) {
            Some(utc) => utc.with_timezone(&self.tz).naive_local(),
            // Unreachable for u64 inputs (chrono spans ±262,000 years); UTC arithmetic keeps
            // the function total anyway.
            None => return utc_fallback(ts_ns),
        };
        from_naive(naive)
    }

    /// UTC hours since the Unix epoch: a bucket id that increases by one every hour and never
    /// repeats, even when the local hour does (fall-back) or is skipped (spring-forward).
    pub fn hour_index(ts_ns: u64) -> u64 {
        hour_index(ts_ns)
    }
}

impl Default for BankClock {
    fn default() -> Self {
        BankClock::utc()
    }
}

/// UTC hours since the Unix epoch (see [`BankClock::hour_index`]).
pub fn hour_index(ts_ns: u64) -> u64 {
    ts_ns / NS_PER_HOUR
}

fn from_naive(naive: NaiveDateTime) -> LocalTime {
    let weekday = naive.weekday().num_days_from_monday() as u8;
    let hour = naive.hour() as u8;
    let day = i64::from(naive.date().num_days_from_ce()) - UNIX_EPOCH_DAYS_FROM_CE;
    LocalTime {
        hour_of_week: weekday.saturating_mul(24).saturating_add(hour),
        hour,
        weekday,
        weekend: weekday >= 5,
        day,
        minute_of_day: (naive.hour() * 60 + naive.minute()) as u16,
    }
}

fn utc_fallback(ts_ns: u64) -> LocalTime {
    let secs = ts_ns / NS_PER_SEC;
    let day = secs / 86_400;
    let sod = secs % 86_400;
    // 1970-01-01 was a Thursday (3 when Monday is 0).
    let weekday = ((day + 3) % 7) as u8;
    let hour = (sod / 3_600) as u8;
    LocalTime {
        hour_of_week: weekday.saturating_mul(24).saturating_add(hour),
        hour,
        weekday,
        weekend: weekday >= 5,
        day: i64::try_from(day).unwrap_or(i64::MAX),
        minute_of_day: (sod / 60) as u16,
    }
}

impl Serialize for BankClock {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.tz.name())
    }
}

impl<'de> Deserialize<'de> for BankClock {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse::<Tz>()
            .map(BankClock::new)
            .map_err(|e| serde::de::Error::custom(format!("bank time zone {name:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packet time of a UTC civil instant, computed from the proleptic Gregorian calendar by
    /// hand (days-from-civil), independently of chrono.
    fn utc(y: i64, m: i64, d: i64, hh: u64, mm: u64) -> u64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        (days as u64 * 86_400 + hh * 3_600 + mm * 60) * NS_PER_SEC
    }

    fn london() -> BankClock {
        BankClock::new(chrono_tz::Europe::London)
    }

    #[test]
    fn utc_epoch_is_thursday_day_zero() {
        let t = BankClock::utc().local(0);
        assert_eq!((t.weekday, t.hour, t.day, t.minute_of_day), (3, 0, 0, 0));
        assert_eq!(t.hour_of_week, 72);
        assert!(!t.weekend);
        let t = BankClock::utc().local(utc(2026, 3, 1, 23, 59)); // a Sunday
        assert_eq!((t.weekday, t.hour, t.hour_of_week, t.minute_of_day), (6, 23, 167, 1439));
        assert!(t.weekend);
        assert_eq!(t.day, utc(2026, 3, 1, 0, 0) as i64 / (86_400 * NS_PER_SEC as i64));
    }

    #[test]
    fn london_spring_forward_2026_03_29() {
        let c = london();
        // 00:59 UTC = 00:59 GMT; 01:00 UTC = 02:00 BST: local 01:xx never happens.
        let before = c.local(utc(2026, 3, 29, 0, 59));
        let after = c.local(utc(2026, 3, 29, 1, 0));
        assert_eq!((before.hour, before.minute_of_day), (0, 59));
        assert_eq!((after.hour, after.minute_of_day), (2, 120));
        assert_eq!(after.weekday, 6);
        assert_eq!(after.hour_of_week, 6 * 24 + 2);
        assert_eq!(before.day, after.day);
        // Monday 09:00 local is 08:00 UTC after the change.
        let monday = c.local(utc(2026, 3, 30, 8, 0));
        assert_eq!((monday.weekday, monday.hour, monday.hour_of_week), (0, 9, 9));
        let hours: Vec<u8> = (0..4).map(|h| c.local(utc(2026, 3, 29, h, 30)).hour).collect();
        assert_eq!(hours, vec![0, 2, 3, 4]);
    }

    #[test]
    fn london_fall_back_2026_10_25() {
        let c = london();
        // 00:30 UTC = 01:30 BST and 01:30 UTC = 01:30 GMT: the same local hour twice.
        let hours: Vec<u8> = (0..4).map(|h| c.local(utc(2026, 10, 25, h, 30)).hour).collect();
        assert_eq!(hours, vec![1, 1, 2, 3]);
        let a = c.local(utc(2026, 10, 25, 0, 30));
        let b = c.local(utc(2026, 10, 25, 1, 30));
        assert_eq!(a, b);
        assert_eq!(a.hour_of_week, 6 * 24 + 1);
        // The two UTC hours still have distinct bucket ids.
        assert_eq!(
            BankClock::hour_index(utc(2026, 10, 25, 1, 30)),
            BankClock::hour_index(utc(2026, 10, 25, 0, 30)) + 1
        );
        // Saturday 23:30 BST is 22:30 UTC; the local day changes at 23:00 UTC.
        let sat = c.local(utc(2026, 10, 24, 22, 30));
        let sun = c.local(utc(2026, 10, 24, 23, 0));
        assert_eq!((sat.weekday, sat.hour), (5, 23));
        assert_eq!((sun.weekday, sun.hour), (6, 0));
        assert_eq!(sun.day, sat.day + 1);
    }

    #[test]
    fn sao_paulo_is_three_hours_behind_without_dst() {
        let c = BankClock::new(chrono_tz::America::Sao_Paulo);
        // Brazil abolished daylight saving in 2019: -03:00 in January and in July.
        for (m, d) in [(1, 15), (7, 15)] {
            let t = c.local(utc(2026, m, d, 2, 15));
            assert_eq!((t.hour, t.minute_of_day), (23, 23 * 60 + 15));
            let same_day_utc = utc(2026, m, d, 0, 0) as i64 / (86_400 * NS_PER_SEC as i64);
            assert_eq!(t.day, same_day_utc - 1);
        }
        // The epoch is Wednesday 1969-12-31 21:00 local: day -1.
        let t = c.local(0);
        assert_eq!((t.day, t.weekday, t.hour, t.hour_of_week), (-1, 2, 21, 2 * 24 + 21));
    }

    #[test]
    fn extremes_do_not_panic() {
        for tz in [Tz::UTC, chrono_tz::Europe::London, chrono_tz::America::Sao_Paulo, chrono_tz::Pacific::Kiritimati] {
            let c = BankClock::new(tz);
            for ts in [0, 1, u64::MAX / 2, u64::MAX - 1, u64::MAX] {
                let t = c.local(ts);
                assert!(t.hour < 24 && t.weekday < 7 && t.hour_of_week < 168 && t.minute_of_day < 1440);
                assert_eq!(t.hour_of_week, t.weekday * 24 + t.hour);
            }
        }
        assert_eq!(BankClock::hour_index(u64::MAX), u64::MAX / NS_PER_HOUR);
        let fb = utc_fallback(utc(2026, 3, 1, 23, 59));
        assert_eq!(fb, BankClock::utc().local(utc(2026, 3, 1, 23, 59)));
    }

    #[test]
    fn serialises_as_zone_name() {
        let json = serde_json::to_string(&london()).unwrap();
        assert_eq!(json, "\"Europe/London\"");
        let back: BankClock = serde_json::from_str(&json).unwrap();
        assert_eq!(back, london());
        let err = serde_json::from_str::<BankClock>("\"Mars/Olympus\"").unwrap_err();
        assert!(err.to_string().contains("Mars/Olympus"), "{err}");
    }
}
