//! `rate_surge`, `off_hours` and `response_size`: volume against the consumer's seasonal
//! baseline and the endpoint's sizes.

use serde_json::json;

use super::{evidence, round2, score, Step};
use crate::behaviour::alerts::{AlertBook, Detection};
use crate::behaviour::anomaly::{AnomalyKind, Severity};
use crate::behaviour::config::hours;
use crate::behaviour::profile::Profile;
use crate::sketch::LogHistogram;

/// Kinds whose open finding explains a surge of requests (the surge is not a second alert).
const EXPLAINS_VOLUME: [AnomalyKind; 5] = [
    AnomalyKind::BolaEnumeration,
    AnomalyKind::CredentialStuffing,
    AnomalyKind::BulkExport,
    AnomalyKind::OffHours,
    AnomalyKind::ResponseSize,
];

/// An hour whose expected rate is below this share of the consumer's typical hourly rate is
/// one of its quiet hours.
const QUIET_SHARE: f64 = 0.25;

/// Requests expected in the rate window ending at `ts`: the seasonal rate of each of its hours.
fn expected_in_window(step: &Step<'_, '_>, p: &Profile, ts: u64) -> f64 {
    (0..step.cfg.rate.window_hours.max(1))
        .map(|h| p.season.expected(step.clock, ts.saturating_sub(hours(h))).rate)
        .sum()
}

/// Whether the window's volume is an authentication event: many requests refused (401, 403).
fn mostly_refused(step: &Step<'_, '_>, p: &Profile, count: u64) -> bool {
    let refused = p.recent_refused.count(step.tx.ts);
    refused as f64 >= step.cfg.rate.max_refused_share * (refused + count) as f64 && refused > 0
}

/// The request threshold of the window for an expected count.
fn threshold(step: &Step<'_, '_>, expected: f64) -> f64 {
    poisson_bar(step, expected, step.cfg.rate.min_requests)
}

/// `rate.factor` times the expectation, `rate.sigmas` Poisson deviations above it, and at
/// least `min`: the bar of a surge of requests or of sessions.
fn poisson_bar(step: &Step<'_, '_>, expected: f64, min: u64) -> f64 {
    let r = &step.cfg.rate;
    (r.factor * expected).max(expected + r.sigmas * expected.sqrt()).max(min as f64)
}

/// Completed hours a consumer needs before its own dispersion raises the threshold.
const MIN_DISPERSION_HOURS: u32 = 24;
/// Deviations of the hourly log-ratio above its mean a surge must reach.
const DISPERSION_SIGMAS: f64 = 4.0;
/// However bursty the consumer, this many times the expected rate is a surge.
const MAX_DISPERSION_FACTOR: f64 = 6.0;

/// The request count at which the last hour strays `DISPERSION_SIGMAS` deviations further
/// from the expectation than the consumer's hours usually do (0 while too few hours are
/// known).
fn dispersion_threshold(p: &Profile, expected: f64) -> f64 {
    if p.hour_ratio.n() < MIN_DISPERSION_HOURS {
        return 0.0;
    }
    let r = p.hour_ratio.mean() + DISPERSION_SIGMAS * p.hour_ratio.std();
    (r.exp() * (expected + 1.0) - 1.0).min(MAX_DISPERSION_FACTOR * expected)
}

/// Sessions expected in the rate window ending at `ts`.
fn expected_sessions_in_window(step: &Step<'_, '_>, p: &Profile, ts: u64) -> f64 {
    (0..step.cfg.rate.window_hours.max(1))
        .map(|h| p.sessions.expected(step.clock, ts.saturating_sub(hours(h))).rate)
        .sum()
}

/// The session count that makes a surge: `rate.factor` times the expectation, `rate.sigmas`
/// Poisson deviations above it, and `rate.min_sessions`. Session starts are close to a Poisson
/// process (unlike requests, which come in sessions of any length), so no dispersion term.
fn session_threshold(step: &Step<'_, '_>, expected: f64) -> f64 {
    if !expected.is_finite() {
        return f64::INFINITY;
    }
    poisson_bar(step, expected, step.cfg.rate.min_sessions)
}

/// `rate_surge`: requests, or sessions (connections), in the rate window far above the
/// seasonal expectation (own baseline when warm, else the peer group's hourly 99th percentile
/// of requests). Call after the request is added to the windows.
pub(in crate::behaviour) fn surge(step: &Step<'_, '_>, p: &Profile, peer: Option<&LogHistogram>, alerts: &mut AlertBook) {
    let ts = step.tx.ts;
    let key = step.consumer_key();
    let count = p.recent.count(ts);
    let (expected, basis) = if p.is_warm() {
        (expected_in_window(step, p, ts), "own seasonal baseline")
    } else {
        match peer.filter(|h| h.count() >= 100) {
            Some(h) => (h.quantile(0.99) as f64 * f64::from(step.cfg.rate.window_hours), "peer group hourly p99"),
            None => return,
        }
    };
    let thr = threshold(step, expected).max(dispersion_threshold(p, expected));
    // Sessions: how often the consumer connects varies far less than how long it stays, so a
    // surge of sessions stands out of a bursty baseline that a count of requests hides in.
    let sessions = p.recent_sessions.count(ts);
    let expected_sessions = if p.is_warm() { expected_sessions_in_window(step, p, ts) } else { f64::INFINITY };
    let session_thr = session_threshold(step, expected_sessions);
    // A surge of sessions is a surge when the requests rose with it (at least half the
    // request bars): many short sessions alone are a client's reconnection habit.
    let half_bar = (step.cfg.rate.min_requests as f64 / 2.0).max(step.cfg.rate.factor / 2.0 * expected);
    let session_surge = sessions as f64 >= session_thr && count as f64 >= half_bar;
    if (count as f64) < thr && !session_surge {
        alerts.touch(AnomalyKind::RateSurge, key, 0, ts);
        return;
    }
    if alerts.any_open(&EXPLAINS_VOLUME, key) || p.is_synchronising(ts) || mostly_refused(step, p, count) {
        return;
    }
    let ev = evidence(&[
        ("window", json!(format!("{} hours", step.cfg.rate.window_hours))),
        ("requests_in_window", json!(count)),
        ("usual_hour_ratio", json!(round2(p.hour_ratio.mean().exp()))),
        ("accounts_in_window", json!(p.accounts_in_window(ts))),
        ("usual_accounts_per_hour", json!(round2(p.account_breadth.mean()))),
        ("expected_in_window", json!(round2(expected))),
        ("baseline", json!(basis)),
        ("local_hour_of_week", json!(step.local.hour_of_week)),
        ("threshold", json!(round2(thr))),
        ("sessions_in_window", json!(sessions)),
        ("expected_sessions_in_window", json!(if expected_sessions.is_finite() { round2(expected_sessions) } else { 0.0 })),
        ("session_threshold", json!(if session_thr.is_finite() { round2(session_thr) } else { 0.0 })),
    ]);
    let msg = format!(
        "{} made {} requests in {} hours; {:.1} expected at this time of the week",
        step.consumer_label(),
        count,
        step.cfg.rate.window_hours,
        expected
    );
    alerts.raise(
        ts,
        &step.ctx,
        Detection {
            kind: AnomalyKind::RateSurge,
            severity: Severity::Medium,
            score: score(count as f64, thr),
            subject: 0,
            endpoint: None,
            first_seen: ts.saturating_sub(hours(step.cfg.rate.window_hours)),
            evidence: ev,
            message: msg,
            close_after: None,
        },
    );
}

/// `off_hours`: a warm consumer active in the bank's off-hours window from a network it never
/// used (`new_network`), or far above its rate for the hour.
pub(in crate::behaviour) fn off_hours(step: &Step<'_, '_>, p: &Profile, alerts: &mut AlertBook, new_network: bool) {
    if !p.is_warm() || !step.cfg.is_off_hour(step.local.hour) {
        return;
    }
    let ts = step.tx.ts;
    let key = step.consumer_key();
    let hourly = p.season.expected(step.clock, ts).rate;
    let expected = expected_in_window(step, p, ts);
    let count = p.recent.count(ts);
    let busy_thr = threshold(step, expected).max(dispersion_threshold(p, expected));
    // A surge counts as off-hours activity only in an hour the consumer is normally quiet in
    // (below a quarter of its overall hourly mean); otherwise it is a plain rate surge.
    let quiet_hour = hourly < QUIET_SHARE * p.season.typical_rate();
    let busy = quiet_hour && count as f64 >= busy_thr && !p.is_synchronising(ts) && !mostly_refused(step, p, count);
    if !(new_network || busy) {
        alerts.touch(AnomalyKind::OffHours, key, 0, ts);
        return;
    }
    let ev = evidence(&[
        ("local_hour", json!(step.local.hour)),
        ("off_hours", json!(format!("{:02}:00-{:02}:00", step.cfg.off_hours_start, step.cfg.off_hours_end))),
        ("new_network", json!(new_network)),
        ("network", json!(step.ctx.network)),
        ("requests_in_window", json!(count)),
        ("expected_in_window", json!(round2(expected))),
        ("known_networks", json!(p.networks.len())),
    ]);
    let msg = format!(
        "{} active at {:02}:{:02} bank time{}",
        step.consumer_label(),
        step.local.hour,
        step.local.minute_of_day % 60,
        if new_network { " from a network it never used" } else { " far above its usual rate" }
    );
    alerts.raise(
        ts,
        &step.ctx,
        Detection {
            kind: AnomalyKind::OffHours,
            severity: if new_network { Severity::High } else { Severity::Medium },
            score: if new_network { 80 } else { score(count as f64, busy_thr) },
            subject: 0,
            endpoint: None,
            first_seen: ts,
            evidence: ev,
            message: msg,
            close_after: None,
        },
    );
}

/// `response_size`: a response far above the endpoint's 99th percentile. Returns whether it
/// fired (the caller then keeps the size out of the baseline).
pub(in crate::behaviour) fn response_size(step: &Step<'_, '_>, sizes: &LogHistogram, alerts: &mut AlertBook) -> bool {
    let bytes = step.tx.response_bytes;
    let cfg = &step.cfg.size;
    let n = sizes.count();
    let p99 = sizes.quantile(0.99);
    let thr = if n >= cfg.min_samples { (cfg.factor * p99 as f64).max(cfg.min_bytes as f64) } else { cfg.absolute_bytes as f64 };
    if (bytes as f64) < thr {
        return false;
    }
    let ts = step.tx.ts;
    let ev = evidence(&[
        ("response_bytes", json!(bytes)),
        ("endpoint_p99_bytes", json!(p99)),
        ("endpoint_samples", json!(n)),
        ("threshold_bytes", json!(thr as u64)),
    ]);
    let msg = format!(
        "{} received a {} byte response; the endpoint's 99th percentile is {} bytes",
        step.consumer_label(),
        bytes,
        p99
    );
    alerts.raise(
        ts,
        &step.ctx,
        Detection {
            kind: AnomalyKind::ResponseSize,
            severity: Severity::High,
            score: score(bytes as f64, thr),
            subject: step.endpoint_key,
            endpoint: step.endpoint.clone(),
            first_seen: ts,
            evidence: ev,
            message: msg,
            close_after: None,
        },
    );
    true
}
