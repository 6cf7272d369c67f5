//! `credential_stuffing`: failed logins for many users, or from many networks the consumer
//! never used, in a short window.

use serde_json::json;

use super::{evidence, score, share, Step};
use crate::behaviour::alerts::{AlertBook, Detection};
use crate::behaviour::anomaly::{AnomalyKind, Severity};
use crate::behaviour::config::minutes;
use crate::behaviour::profile::Profile;
use crate::identity::LoginOutcome;

/// Whether the transaction is a login attempt and whether it failed.
pub(in crate::behaviour) fn attempt(step: &Step<'_, '_>) -> Option<bool> {
    match &step.tx.identity.login {
        Some(l) => Some(matches!(l.outcome, LoginOutcome::Failure)),
        None if step.cfg.count_401_as_failed_login && step.tx.status == Some(401) => Some(true),
        None => None,
    }
}

/// Counts the attempt and raises when the window holds many failures across many users or
/// new networks. `network_is_new`: the consumer never used the client network before.
pub(in crate::behaviour) fn stuffing(step: &Step<'_, '_>, p: &mut Profile, alerts: &mut AlertBook, network_is_new: bool) {
    let Some(failed) = attempt(step) else { return };
    let ts = step.tx.ts;
    let cfg = &step.cfg.stuffing;
    let user = step.tx.identity.login.as_ref().and_then(|l| l.user);
    let w = p.windows(step.cfg);
    w.logins.add(ts, 1);
    if failed {
        w.login_failures.add(ts, 1);
        if let Some(u) = user {
            w.login_users.insert(u, ts);
        }
        if network_is_new {
            w.login_new_networks.insert(step.network_key, ts);
        }
    }
    let attempts = w.logins.count(ts);
    let failures = w.login_failures.count(ts);
    let users = w.login_users.count(ts);
    let new_networks = w.login_new_networks.count(ts);
    let failure_share = share(failures, attempts);
    let broad = users >= u64::from(cfg.min_users) || new_networks >= u64::from(cfg.min_new_networks);
    if !(failed && failures >= u64::from(cfg.min_failures) && failure_share >= cfg.min_failure_share && broad) {
        if failed {
            alerts.touch(AnomalyKind::CredentialStuffing, step.consumer_key(), 0, ts);
        }
        return;
    }
    let ev = evidence(&[
        ("window", json!(format!("{} minutes", cfg.window_minutes))),
        ("failed_logins", json!(failures)),
        ("login_attempts", json!(attempts)),
        ("failure_share", json!(failure_share)),
        ("distinct_users", json!(users)),
        ("new_networks", json!(new_networks)),
        ("known_networks", json!(p.networks.len())),
        ("threshold_failed_logins", json!(cfg.min_failures)),
    ]);
    let msg = format!(
        "{} failed logins in {} minutes for {} users from {} new networks ({})",
        failures,
        cfg.window_minutes,
        users,
        new_networks,
        step.ctx.consumer.as_ref().map_or("unknown client", |c| c.label.as_str())
    );
    alerts.raise(
        ts,
        &step.ctx,
        Detection {
            kind: AnomalyKind::CredentialStuffing,
            severity: Severity::High,
            score: score(failures as f64, f64::from(cfg.min_failures)),
            subject: 0,
            endpoint: step.endpoint.clone(),
            first_seen: ts.saturating_sub(minutes(cfg.window_minutes)),
            evidence: ev,
            message: msg,
            close_after: None,
        },
    );
}
