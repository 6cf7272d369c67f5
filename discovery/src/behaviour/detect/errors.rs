//! `error_spike`: the share of server errors in a short window far above the baseline, per
//! service (all its consumers), per endpoint, and per consumer.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{evidence, round2, score, share, Step};
use crate::behaviour::alerts::{AlertBook, Context, Detection};
use crate::behaviour::anomaly::{AnomalyKind, EndpointRef, Severity};
use crate::behaviour::config::{minutes, BehaviourConfig};
use crate::behaviour::profile::DecayedRatio;
use crate::sketch::{BankClock, RateWindow};

/// Baseline error share used until 100 requests stand behind the learned one.
const PRIOR_ERROR_SHARE: f64 = 0.02;

/// Errors a window needs before any spike (a handful of failures is never an incident).
const MIN_ERRORS: u64 = 4;

/// `P(X >= k)` for `X ~ Binomial(n, p)`: how unlikely `k` errors in `n` requests are at the
/// baseline share `p`. Summed term by term from `k` (n is a window's request count, small).
pub(in crate::behaviour) fn binomial_tail(n: u64, k: u64, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n || !(0.0..1.0).contains(&p) {
        return 0.0;
    }
    let q = 1.0 - p;
    // ln C(n, k) + k ln p + (n - k) ln q, then each next term by the ratio.
    let ln_choose: f64 = (0..k).map(|i| ((n - i) as f64).ln() - ((i + 1) as f64).ln()).sum();
    let mut term = (ln_choose + k as f64 * p.ln() + (n - k) as f64 * q.ln()).exp();
    let mut sum = 0.0;
    for j in k..=n {
        sum += term;
        if j < n {
            term *= ((n - j) as f64 / (j + 1) as f64) * (p / q);
        }
        if term < sum * 1e-16 {
            break;
        }
    }
    sum.min(1.0)
}

/// Whether a status counts as an error.
pub(in crate::behaviour) fn is_error(cfg: &BehaviourConfig, status: Option<u16>) -> bool {
    status.is_some_and(|s| s >= 500 || cfg.errors.extra_statuses.contains(&s))
}

/// Error counting for one service, endpoint or consumer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorWindow {
    requests: RateWindow,
    errors: RateWindow,
    baseline: DecayedRatio,
}

impl ErrorWindow {
    /// An empty window of `window_minutes`.
    pub fn new(cfg: &BehaviourConfig) -> Self {
        let w = minutes(cfg.errors.window_minutes);
        ErrorWindow { requests: RateWindow::with_buckets(w, 8), errors: RateWindow::with_buckets(w, 8), baseline: DecayedRatio::default() }
    }

    /// Checks a deserialised window.
    pub fn validate(&self) -> Result<(), String> {
        self.requests.validate()?;
        self.errors.validate()?;
        self.baseline.validate()
    }

    /// Whether the window has the width `cfg` gives it.
    pub fn fits(&self, cfg: &BehaviourConfig) -> bool {
        let n = ErrorWindow::new(cfg);
        self.requests.same_shape(&n.requests) && self.errors.same_shape(&n.errors)
    }

    /// The error share of the window at `ts`.
    pub fn error_share(&self, ts: u64) -> f64 {
        share(self.errors.count(ts), self.requests.count(ts))
    }

    /// Counts a transaction without judging it (the spike is explained elsewhere).
    pub(in crate::behaviour) fn count_only(&mut self, step: &Step<'_, '_>) {
        self.add(step.tx.ts, is_error(step.cfg, step.tx.status));
    }

    fn add(&mut self, ts: u64, err: bool) {
        self.requests.add(ts, 1);
        if err {
            self.errors.add(ts, 1);
        }
    }

    /// Approximate bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.requests.memory_bytes() + self.errors.memory_bytes() + std::mem::size_of::<DecayedRatio>()
    }
}

/// What a spike is about.
pub(in crate::behaviour) enum Level<'a> {
    /// A whole service.
    Service(&'a str),
    /// One API (spec) of a service: its name and key.
    Api(&'a str, u64),
    /// One endpoint.
    Endpoint,
    /// One consumer.
    Consumer,
}

/// Adds the transaction to `w` and raises when the window spikes. Returns whether a spike
/// finding is open or was raised for this level.
pub(in crate::behaviour) fn spike(step: &Step<'_, '_>, w: &mut ErrorWindow, level: Level<'_>, alerts: &mut AlertBook) -> bool {
    let ts = step.tx.ts;
    let err = is_error(step.cfg, step.tx.status);
    let (base, weight) = w.baseline.value();
    let base = if weight >= 100.0 { base } else { PRIOR_ERROR_SHARE };
    w.add(ts, err);
    let cfg = &step.cfg.errors;
    let requests = w.requests.count(ts);
    let errors = w.errors.count(ts);
    let err_share = share(errors, requests);
    let thr = cfg.min_error_share.max(cfg.factor * base);
    // A finding about a service, an API or an endpoint names no consumer; it keeps the
    // detecting request's agent and fingerprint (never published) for the suppression rules.
    let anonymous = || Context {
        visibility: step.ctx.visibility,
        user_agent: step.ctx.user_agent.clone(),
        fingerprint: step.ctx.fingerprint.clone(),
        ..Context::default()
    };
    let (ctx, subject, endpoint) = match level {
        Level::Service(name) => (
            anonymous(),
            step.service_key,
            Some(EndpointRef { service: name.to_string(), method: "*".into(), path_template: "*".into(), classification: None }),
        ),
        Level::Api(_, key) => (
            anonymous(),
            key,
            Some(EndpointRef { service: step.tx.observed.service.clone(), method: "*".into(), path_template: "*".into(), classification: None }),
        ),
        Level::Endpoint => (anonymous(), step.endpoint_key, step.endpoint.clone()),
        Level::Consumer => (step.ctx.clone(), 0, None),
    };
    // The significance shortcut serves the service, API and endpoint windows, which many
    // consumers fill; a consumer's own spike needs the full request count (its first errors
    // in an outage that hits everyone come before the shared windows show it).
    let shortcut = !matches!(level, Level::Consumer);
    let significant = shortcut && binomial_tail(requests, errors, base.max(PRIOR_ERROR_SHARE)) <= cfg.max_p_value;
    let spiking = err && errors >= MIN_ERRORS && err_share >= thr && (requests >= cfg.min_requests || significant);
    // Only a quiet window feeds the baseline, so a long outage does not become normal.
    if !spiking {
        w.baseline.add(BankClock::hour_index(ts), err);
    }
    if !spiking {
        return err && alerts.touch(AnomalyKind::ErrorSpike, ctx.consumer_key, subject, ts);
    }
    let mut ev = evidence(&[
        ("window", json!(format!("{} minutes", cfg.window_minutes))),
        ("requests", json!(requests)),
        ("errors", json!(errors)),
        ("error_share", json!(err_share)),
        ("baseline_error_share", json!(round2(base * 100.0) / 100.0)),
        ("status", json!(step.tx.status)),
    ]);
    if let Level::Api(name, _) = &level {
        ev.insert("api".into(), json!(name));
    }
    let what = match &level {
        Level::Service(name) => format!("service {name}"),
        Level::Api(name, _) => format!("API {name} on {}", step.tx.observed.service),
        Level::Endpoint => step.endpoint.as_ref().map_or("an endpoint".into(), |e| format!("{} {}{}", e.method, e.service, e.path_template)),
        Level::Consumer => step.ctx.consumer.as_ref().map_or("a consumer".into(), |c| format!("consumer {}", c.label)),
    };
    let msg = format!("{:.0}% errors in {} minutes on {} (baseline {:.1}%)", err_share * 100.0, cfg.window_minutes, what, base * 100.0);
    alerts.raise(
        ts,
        &ctx,
        Detection {
            kind: AnomalyKind::ErrorSpike,
            severity: Severity::Medium,
            score: score(err_share, thr),
            subject,
            endpoint,
            first_seen: ts.saturating_sub(minutes(cfg.window_minutes)),
            evidence: ev,
            message: msg,
            close_after: None,
        },
    );
    true
}

#[cfg(test)]
mod tests {
    use super::binomial_tail;

    #[test]
    fn binomial_tails_match_hand_computed_values() {
        // P(X >= 4 | n = 4, p = 0.02) = 0.02^4.
        assert!((binomial_tail(4, 4, 0.02) - 1.6e-7).abs() < 1e-12);
        // P(X >= 4 | n = 8, p = 0.02) = sum_{j=4..8} C(8,j) 0.02^j 0.98^(8-j), about 1.07e-5.
        let want: f64 = (4..=8u32)
            .map(|j| {
                let c = [1.0, 8.0, 28.0, 56.0, 70.0, 56.0, 28.0, 8.0, 1.0][j as usize];
                c * 0.02f64.powi(j as i32) * 0.98f64.powi(8 - j as i32)
            })
            .sum();
        assert!((binomial_tail(8, 4, 0.02) - want).abs() < 1e-12, "{} {want}", binomial_tail(8, 4, 0.02));
        assert_eq!(binomial_tail(5, 0, 0.3), 1.0);
        assert_eq!(binomial_tail(3, 4, 0.3), 0.0);
        assert!((binomial_tail(10, 1, 0.5) - (1.0 - 0.5f64.powi(10))).abs() < 1e-12);
    }
}
