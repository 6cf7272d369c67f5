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

    /// Approximate bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.requests.memory_bytes() + self.errors.memory_bytes() + std::mem::size_of::<DecayedRatio>()
    }
}

/// What a spike is about.
pub(in crate::behaviour) enum Level<'a> {
    /// A whole service.
    Service(&'a str),
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
    w.requests.add(ts, 1);
    if err {
        w.errors.add(ts, 1);
    }
    let cfg = &step.cfg.errors;
    let requests = w.requests.count(ts);
    let errors = w.errors.count(ts);
    let err_share = share(errors, requests);
    let thr = cfg.min_error_share.max(cfg.factor * base);
    let (ctx, subject, endpoint) = match level {
        Level::Service(name) => (
            Context::default(),
            step.service_key,
            Some(EndpointRef { service: name.to_string(), method: "*".into(), path_template: "*".into(), classification: None }),
        ),
        Level::Endpoint => (Context::default(), step.endpoint_key, step.endpoint.clone()),
        Level::Consumer => (step.ctx.clone(), 0, None),
    };
    let spiking = err && requests >= cfg.min_requests && err_share >= thr;
    // Only a quiet window feeds the baseline, so a long outage does not become normal.
    if !spiking {
        w.baseline.add(BankClock::hour_index(ts), err);
    }
    if !spiking {
        return err && alerts.touch(AnomalyKind::ErrorSpike, ctx.consumer_key, subject, ts);
    }
    let ev = evidence(&[
        ("window", json!(format!("{} minutes", cfg.window_minutes))),
        ("requests", json!(requests)),
        ("errors", json!(errors)),
        ("error_share", json!(err_share)),
        ("baseline_error_share", json!(round2(base * 100.0) / 100.0)),
        ("status", json!(step.tx.status)),
    ]);
    let what = match &level {
        Level::Service(name) => format!("service {name}"),
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
