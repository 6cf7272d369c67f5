use super::*;
use crate::sketch::NS_PER_MINUTE;

const H: u64 = NS_PER_HOUR;

/// 2026-03-02 00:00 UTC (a Monday), from the Unix day number 20514 computed by hand:
/// 56 years × 365 + 14 leap days (1972..=2024) + 59 (Jan, Feb 2026) + 1.
const MON_2026_03_02: u64 = 20_514 * 24 * H;
/// 2026-03-29 01:00 UTC: London moves to BST (UTC+1).
const BST_STARTS: u64 = MON_2026_03_02 + (27 * 24 + 1) * H;
/// 2026-10-25 01:00 UTC: London returns to GMT. 2026-03-29 to 2026-10-25 is 210 days.
const BST_ENDS: u64 = BST_STARTS + 210 * 24 * H;

/// London local hour of day and weekday (0 = Monday) by hand: the offsets and instants of the
/// 2026 changes, not the clock under test.
fn london_local(ts: u64) -> (u64, u64) {
    let offset = if (BST_STARTS..BST_ENDS).contains(&ts) { H } else { 0 };
    let local = ts + offset;
    let days = local / (24 * H);
    ((local / H) % 24, (days + 3) % 7)
}

fn london() -> BankClock {
    BankClock::new(chrono_tz::Europe::London)
}

/// Feeds `per_hour(utc_hour_start)` requests in every UTC hour of `[from, to)`, spread over the
/// hour in six calls, then one request at `to` so the last hour is folded.
fn feed(s: &mut SeasonalRate, clock: &BankClock, from: u64, to: u64, per_hour: impl Fn(u64) -> u32) {
    let mut t = from;
    while t < to {
        let n = per_hour(t);
        for k in 0..6u32 {
            let share = n / 6 + u32::from(k < n % 6);
            s.record(clock, t + u64::from(k) * 10 * NS_PER_MINUTE, share);
        }
        t += H;
    }
    s.record(clock, to, 0);
}

#[test]
fn the_hand_calendar_agrees_with_known_dates() {
    // 2026-03-02 is a Monday; 2026-10-25 01:30 UTC is 01:30 GMT on a Sunday.
    assert_eq!(london_local(MON_2026_03_02), (0, 0));
    assert_eq!(london_local(BST_ENDS + 30 * NS_PER_MINUTE), (1, 6));
    assert_eq!(london_local(BST_ENDS - 30 * NS_PER_MINUTE), (1, 6));
    assert_eq!(london_local(BST_STARTS), (2, 6));
}

#[test]
fn steady_rate_across_both_2026_changes_is_ten_in_every_slot() {
    let clock = london();
    for start in [BST_STARTS - 10 * 24 * H, BST_ENDS - 10 * 24 * H] {
        let mut s = SeasonalRate::new(SeasonConfig::default());
        feed(&mut s, &clock, start, start + 21 * 24 * H, |_| 10);
        assert_eq!(s.hours_observed(), 21 * 24);
        for h in 0..168u64 {
            let e = s.expected(&clock, start + 21 * 24 * H + h * H + 1);
            assert!((e.rate - 10.0).abs() < 1e-4, "hour {h}: {e:?}");
            assert!(e.samples >= 5, "hour {h}: {e:?}");
        }
    }
}

#[test]
fn a_local_hour_pattern_survives_the_spring_and_autumn_changes() {
    let clock = london();
    // Requests per hour = local hour + 1 on weekdays, 0 at weekends: a profile keyed on UTC
    // hours would be one hour off after each change and blend neighbouring values.
    let pattern = |t: u64| {
        let (hour, weekday) = london_local(t);
        if weekday >= 5 {
            0
        } else {
            (hour + 1) as u32
        }
    };
    for start in [MON_2026_03_02, BST_ENDS - 24 * 24 * H - H] {
        let mut s = SeasonalRate::new(SeasonConfig::default());
        let end = start + 8 * 7 * 24 * H;
        feed(&mut s, &clock, start, end, pattern);
        for h in 0..168u64 {
            let t = end + h * H;
            let e = s.expected(&clock, t);
            let want = f64::from(pattern(t)).max(0.1);
            assert!((e.rate - want).abs() < 1e-3, "{h}h after the end: {e:?}, want {want}");
        }
    }
}

#[test]
fn the_doubled_autumn_hour_is_two_samples_and_the_skipped_spring_hour_none() {
    let clock = london();
    // One week around each change, starting Monday 00:00 local (GMT, then BST).
    let mut autumn = SeasonalRate::new(SeasonConfig::default());
    let monday_before_bst_ends = BST_ENDS - (6 * 24 + 1) * H - H;
    assert_eq!(london_local(monday_before_bst_ends), (0, 0));
    feed(&mut autumn, &clock, monday_before_bst_ends, monday_before_bst_ends + 7 * 24 * H + H, |_| 4);
    let sunday = |s: &SeasonalRate, hour: u64, next_monday: u64| {
        s.expected(&clock, next_monday + (6 * 24 + hour) * H).samples
    };
    // The week ended in GMT: next Monday 00:00 local is one UTC hour later than a week on.
    let next_monday = monday_before_bst_ends + 7 * 24 * H + H;
    assert_eq!(london_local(next_monday), (0, 0));
    // Sunday samples: the weekend day-type slot saw Saturday once and Sunday's 01:xx twice.
    assert_eq!(sunday(&autumn, 1, next_monday), 3);
    assert_eq!(sunday(&autumn, 3, next_monday), 2);

    let mut spring = SeasonalRate::new(SeasonConfig::default());
    let monday_before_bst = MON_2026_03_02 + 3 * 7 * 24 * H;
    assert_eq!(london_local(monday_before_bst), (0, 0));
    feed(&mut spring, &clock, monday_before_bst, monday_before_bst + 7 * 24 * H - H, |_| 4);
    let next_monday = monday_before_bst + 7 * 24 * H - H;
    assert_eq!(london_local(next_monday), (0, 0));
    assert_eq!(sunday(&spring, 1, next_monday), 1);
    assert_eq!(sunday(&spring, 3, next_monday), 2);
    assert!((spring.expected(&clock, next_monday + 6 * 24 * H).rate - 4.0).abs() < 1e-6);
}

#[test]
fn blend_follows_the_documented_formula() {
    let clock = BankClock::utc();
    // 1970-01-05 was a Monday: one week where Monday 09:00 sees 50 and other weekday 09:00s 10.
    let monday = 4 * 24 * H;
    let mut s = SeasonalRate::new(SeasonConfig::default());
    feed(&mut s, &clock, monday, monday + 7 * 24 * H, |t| {
        let day = (t / (24 * H) + 3) % 7;
        match ((t / H) % 24, day) {
            (9, 0) => 50,
            (9, 1..=4) => 10,
            _ => 0,
        }
    });
    // Day-type slot: 50, then four 10s with alpha 0.25.
    let mut md = 50.0f64;
    for _ in 0..4 {
        md += 0.25 * (10.0 - md);
    }
    let want = (1.0 * 50.0 + 2.0 * md) / 3.0;
    let e = s.expected(&clock, monday + 7 * 24 * H + 9 * H + 5);
    assert!((e.rate - want).abs() < 1e-4, "{e:?} want {want}");
    assert_eq!(e.samples, 5);
    let tuesday = s.expected(&clock, monday + 8 * 24 * H + 9 * H);
    assert!((tuesday.rate - (10.0 + 2.0 * md) / 3.0).abs() < 1e-4, "{tuesday:?}");
    // Sunday 03:00 was always empty: the floor.
    assert_eq!(s.expected(&clock, monday + 13 * 24 * H + 3 * H).rate, 0.1);
}

#[test]
fn first_week_falls_back_to_the_overall_mean() {
    let clock = BankClock::utc();
    let mut s = SeasonalRate::new(SeasonConfig::default());
    assert_eq!(s.expected(&clock, 0), Expected { rate: 0.1, samples: 0 });
    s.record(&clock, 5 * H, 8);
    s.record(&clock, 6 * H, 0); // folds hour 5 (Thursday 05:00)
    let e = s.expected(&clock, 24 * H + 7 * H); // Friday 07:00 never seen
    assert_eq!(e, Expected { rate: 8.0, samples: 0 });
    assert_eq!(s.expected(&clock, 7 * 24 * H + 5 * H), Expected { rate: 8.0, samples: 1 });
    assert_eq!(s.overall(), (8.0, 1));
}

#[test]
fn silence_is_folded_as_zeros_up_to_the_catch_up_bound() {
    let clock = BankClock::utc();
    let mut s = SeasonalRate::new(SeasonConfig::default());
    s.record(&clock, 0, 100);
    s.record(&clock, 3 * H + 1, 2);
    assert_eq!(s.hours_observed(), 3);
    assert_eq!(s.current_hour(), (3, 2));
    s.record(&clock, 1000 * 24 * H, 1);
    assert_eq!(s.hours_observed(), 3 + 1 + 336);
    assert_eq!(s.skipped_hours(), 24_000 - 4 - 336);
    assert_eq!(s.current_hour(), (24_000, 1));
    // The folded silence is the last 14 days, so Thursday 00:00 (the first hour, 100 requests)
    // has two zeros after it as a slot, and ten weekday zeros as a weekday hour 0.
    let mw = 100.0 * 0.75f64.powi(2);
    let md = 100.0 * 0.75f64.powi(10);
    let want = (3.0 * mw + 2.0 * md) / 5.0;
    let e = s.expected(&clock, 1008 * 24 * H);
    assert!((e.rate - want).abs() < 1e-3, "{e:?} want {want}");
    assert_eq!(e.samples, 11);
    s.record(&clock, u64::MAX, 1);
    assert_eq!(s.hours_observed(), 3 + 1 + 336 + 1 + 336);
}

#[test]
fn late_requests_count_in_the_current_hour() {
    let clock = BankClock::utc();
    let mut s = SeasonalRate::new(SeasonConfig::default());
    s.record(&clock, 10 * H, 1);
    s.record(&clock, 11 * H, 1);
    s.record(&clock, 10 * H + 5, 3);
    assert_eq!(s.current_hour(), (11, 4));
    assert_eq!(s.late(), 3);
    assert_eq!(s.hours_observed(), 1);
}

#[test]
fn invalid_settings_fall_back_to_defaults() {
    let s = SeasonalRate::new(SeasonConfig { alpha: f64::NAN, min_rate: -1.0, day_type_weight: f64::INFINITY, ..SeasonConfig::default() });
    assert_eq!(*s.config(), SeasonConfig::default());
}

#[test]
fn memory_is_fixed_and_round_trips() {
    let clock = london();
    let mut s = SeasonalRate::new(SeasonConfig::default());
    let empty = s.memory_bytes();
    feed(&mut s, &clock, MON_2026_03_02, MON_2026_03_02 + 30 * 24 * H, |t| (t / H % 7) as u32);
    assert_eq!(s.memory_bytes(), empty);
    assert!(((WEEK_SLOTS + DAY_SLOTS) * 8..2 * 1024).contains(&empty), "{empty}");
    let json = serde_json::to_string(&s).unwrap();
    let back: SeasonalRate = serde_json::from_str(&json).unwrap();
    let t = MON_2026_03_02 + 31 * 24 * H;
    for h in 0..168 {
        assert_eq!(back.expected(&clock, t + h * H), s.expected(&clock, t + h * H));
    }
}

#[test]
fn the_typical_rate_barely_moves_on_one_unusual_day() {
    let clock = BankClock::utc();
    let mut s = SeasonalRate::new(SeasonConfig::default());
    let hour = 3_600_000_000_000u64;
    let start = 1_772_409_600_000_000_000u64; // a Monday, 00:00 UTC
    for h in 0..24 * 14u64 {
        s.record(&clock, start + h * hour, 10);
    }
    assert!((s.typical_rate() - 10.0).abs() < 1e-6);
    for h in 24 * 14..24 * 15u64 {
        s.record(&clock, start + h * hour, 80);
    }
    s.record(&clock, start + 24 * 15 * hour, 0);
    // The day was a Monday: the 24 weekday slots took one sample of 80 with alpha 0.25
    // (10 + 0.25 * 70 = 27.5), the 24 weekend slots kept 10: (27.5 + 10) / 2.
    assert!((s.typical_rate() - 18.75).abs() < 1e-3, "{}", s.typical_rate());
    assert!(s.overall().0 > 60.0, "the overall mean follows every hour: {}", s.overall().0);
    assert_eq!(SeasonalRate::new(SeasonConfig::default()).typical_rate(), 0.0);
}
