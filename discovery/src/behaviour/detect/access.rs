//! `bola_enumeration` (object ids the consumer was never given) and `bulk_export` (account
//! data pulled past the PSD2 limit).

use serde_json::json;

use super::{evidence, score, share, Step};
use crate::behaviour::alerts::{AlertBook, Detection};
use crate::behaviour::anomaly::{AnomalyKind, Severity};
use crate::behaviour::input::stable_key;
use crate::behaviour::profile::Profile;

/// Checks the request's object ids against the ids the consumer received (the caller adds the
/// ids of successful answers to the received set afterwards).
pub(in crate::behaviour) fn bola(step: &Step<'_, '_>, p: &mut Profile, alerts: &mut AlertBook) {
    let Some(template) = step.tx.observed.template.as_deref() else { return };
    if step.ids.is_empty() {
        return;
    }
    let foreign: Vec<&str> = step.ids.iter().map(|(_, v)| *v).filter(|v| !p.received.contains(v.as_bytes())).collect();
    if foreign.is_empty() {
        return;
    }
    let ts = step.tx.ts;
    let refused = matches!(step.tx.status, Some(403 | 404));
    let cfg = &step.cfg.bola;
    let w = p.windows(step.cfg);
    w.foreign_requests.add(ts, 1);
    w.slow_foreign.add(ts, 1);
    if refused {
        w.foreign_refused.add(ts, 1);
    }
    for v in &foreign {
        let k = stable_key(&[v.as_bytes()]);
        w.foreign_ids.insert(k, ts);
        if refused {
            w.slow_refused_ids.insert(k, ts);
        }
    }
    let distinct = w.foreign_ids.count(ts);
    let requests = w.foreign_requests.count(ts);
    let refused_n = w.foreign_refused.count(ts);
    let refused_share = share(refused_n, requests);
    let fast = distinct >= u64::from(cfg.min_foreign_ids) && refused_share >= cfg.min_refused_share;
    let slow_ids = w.slow_refused_ids.count(ts);
    let slow_requests = w.slow_foreign.count(ts);
    let slow_share = share(slow_ids, slow_requests.max(1));
    let slow = slow_ids >= u64::from(cfg.slow_min_refused_ids) && slow_share >= cfg.min_refused_share;
    if !(fast || slow) {
        // A foreign-id request during an open incident keeps it open.
        alerts.touch(AnomalyKind::BolaEnumeration, step.consumer_key(), 0, ts);
        return;
    }
    let (window, observed, threshold) = if fast {
        (format!("{} minutes", cfg.window_minutes), distinct, cfg.min_foreign_ids)
    } else {
        (format!("{} hours", cfg.slow_window_hours), slow_ids, cfg.slow_min_refused_ids)
    };
    let ev = evidence(&[
        ("rule", json!(if fast { "fast" } else { "low_and_slow" })),
        ("window", json!(window)),
        ("foreign_ids_requested", json!(if fast { distinct } else { slow_ids })),
        ("foreign_id_requests", json!(if fast { requests } else { slow_requests })),
        ("refused_share", json!(if fast { refused_share } else { slow_share })),
        ("received_ids_known", json!(p.received.len())),
        ("baseline_foreign_ids", json!(0)),
        ("threshold_foreign_ids", json!(threshold)),
        ("path_template", json!(template)),
    ]);
    let msg = format!(
        "{} requested {} object ids it was never given ({:.0}% refused) on {}",
        step.consumer_label(),
        observed,
        (if fast { refused_share } else { slow_share }) * 100.0,
        template
    );
    alerts.raise(
        ts,
        &step.ctx,
        Detection {
            kind: AnomalyKind::BolaEnumeration,
            severity: if fast { Severity::High } else { Severity::Medium },
            score: score(observed as f64, f64::from(threshold)),
            subject: 0,
            endpoint: step.endpoint.clone(),
            first_seen: ts.saturating_sub(crate::behaviour::config::minutes(cfg.window_minutes)),
            evidence: ev,
            message: msg,
            close_after: (!fast).then(|| crate::behaviour::config::hours(cfg.slow_window_hours)),
        },
    );
}

/// Counts unattended accesses per account (PSD2: at most four a day per TPP and account).
pub(in crate::behaviour) fn psd2(step: &Step<'_, '_>, p: &mut Profile, alerts: &mut AlertBook) {
    if step.tx.identity.attended || !step.success {
        return;
    }
    let Some(account) = step.account else { return };
    let ts = step.tx.ts;
    let access = p.accesses.record(stable_key(&[account.as_bytes()]), ts);
    let limit = step.cfg.psd2_max_unattended_per_day;
    let key = step.consumer_key();
    if access.accesses_in_window <= limit {
        return;
    }
    if !access.new_access {
        alerts.touch(AnomalyKind::BulkExport, key, 0, ts);
        return;
    }
    let ev = evidence(&[
        ("rule", json!("psd2_unattended_access_limit")),
        ("window", json!("24 hours")),
        ("unattended_accesses_of_account", json!(access.accesses_in_window)),
        ("limit_per_account", json!(limit)),
        ("accounts_tracked", json!(p.accesses.len())),
        ("attended_share_baseline", json!(super::share(p.attended, p.attended + p.unattended))),
    ]);
    let msg = format!(
        "{} made {} unattended accesses to one account in 24 hours (PSD2 allows {})",
        step.consumer_label(),
        access.accesses_in_window,
        limit
    );
    alerts.raise(
        ts,
        &step.ctx,
        Detection {
            kind: AnomalyKind::BulkExport,
            severity: Severity::Medium,
            score: score(f64::from(access.accesses_in_window), f64::from(limit + 1)),
            subject: 0,
            endpoint: step.endpoint.clone(),
            first_seen: ts.saturating_sub(crate::behaviour::config::hours(24)),
            evidence: ev,
            message: msg,
            close_after: Some(crate::behaviour::config::hours(24)),
        },
    );
}
