//! `new_origin` and `new_fingerprint`: a consumer with a narrow baseline (a TPP's servers, a
//! partner's batch client) seen from a network or with client software it never used.
//! Consumers with diverse networks or agents (retail apps) are not alerted one value at a
//! time: their mass changes are the volume and login detectors' business.

use serde_json::json;

use super::{evidence, Step};
use crate::behaviour::alerts::{AlertBook, Detection};
use crate::behaviour::anomaly::{AnomalyKind, Severity};
use crate::behaviour::config::hours;
use crate::behaviour::profile::{self, Profile};
use crate::sketch::BoundedCounts;

/// How long a network or agent counts as new after its first request.
const NEW_FOR_HOURS: u32 = 24;

/// Whether `key` is new for a warm consumer at `ts`: first seen after the warm-up ended and
/// within the last day. `pending` counts this request, which is not yet in `counts`.
pub(in crate::behaviour) fn is_new(p: &Profile, counts: &BoundedCounts, key: u64, ts: u64) -> Option<u64> {
    if !p.is_warm() {
        return None;
    }
    match counts.get(key) {
        None => Some(1),
        Some(e) if e.first_seen >= p.warm_since && ts.saturating_sub(e.first_seen) < hours(NEW_FOR_HOURS) => Some(e.count + 1),
        Some(_) => None,
    }
}

/// Kinds whose open finding already covers a new network.
const EXPLAINS_ORIGIN: [AnomalyKind; 2] = [AnomalyKind::OffHours, AnomalyKind::CredentialStuffing];

/// `new_origin`.
pub(in crate::behaviour) fn origin(step: &Step<'_, '_>, p: &Profile, alerts: &mut AlertBook) {
    let cfg = &step.cfg.novelty;
    if p.networks.len() > cfg.max_networks {
        return;
    }
    let Some(n) = is_new(p, &p.networks, step.network_key, step.tx.ts) else { return };
    let key = step.consumer_key();
    if n < u64::from(cfg.min_requests) || alerts.any_open(&EXPLAINS_ORIGIN, key) {
        return;
    }
    let mut ev = evidence(&[
        ("network", json!(step.ctx.network)),
        ("requests_from_network", json!(n)),
        ("known_networks", json!(p.networks.len())),
        ("baseline_since", json!(crate::inventory::rfc3339(p.first_seen))),
    ]);
    // With a network database: a new network of a known provider (a TPP's cloud moving its
    // servers) matters less than a new provider, and a new country most.
    // An origin is new with the network when the baseline had not seen it before the
    // network's first request (the network's first requests are already in it).
    let geo = &step.ctx.geo;
    let network_since = p.networks.get(step.network_key).map_or(step.tx.ts, |e| e.first_seen);
    let new_with_network = |k: u64| p.origins.get(k).is_none_or(|e| e.first_seen >= network_since);
    let new_asn = geo.asn.map(|a| new_with_network(profile::asn_key(a)));
    let new_country = geo.country.map(|c| new_with_network(profile::country_key(c)));
    if let Some(a) = geo.asn {
        ev.insert("asn".into(), json!(a));
        ev.insert("new_asn".into(), json!(new_asn == Some(true)));
        if let Some(org) = geo.as_org.as_deref() {
            ev.insert("as_org".into(), json!(org));
        }
    }
    if let Some(c) = geo.country {
        ev.insert("country".into(), json!(c.as_str()));
        ev.insert("new_country".into(), json!(new_country == Some(true)));
    }
    let (severity, score) = match (new_asn, new_country) {
        (_, Some(true)) => (Severity::High, 80),
        (Some(false), _) => (Severity::Low, 40),
        _ => (Severity::Medium, 60),
    };
    let place = match (geo.asn, geo.country) {
        (Some(a), Some(c)) => format!(" (AS{a}, {})", c.as_str()),
        (Some(a), None) => format!(" (AS{a})"),
        (None, Some(c)) => format!(" ({})", c.as_str()),
        (None, None) => String::new(),
    };
    let msg = format!(
        "{} used from {}{place} for the first time{}",
        step.consumer_label(),
        step.ctx.network.as_deref().unwrap_or("a new network"),
        if new_country == Some(true) { ", from a country it never used" } else { "" }
    );
    alerts.raise(
        step.tx.ts,
        &step.ctx,
        Detection {
            kind: AnomalyKind::NewOrigin,
            severity,
            score,
            subject: step.network_key,
            endpoint: None,
            first_seen: step.tx.ts,
            evidence: ev,
            message: msg,
            close_after: None,
        },
    );
}

/// `new_fingerprint`: `what` is `user_agent` or `ja4`, `value` its (non-secret) text.
pub(in crate::behaviour) fn fingerprint(step: &Step<'_, '_>, p: &Profile, counts: &BoundedCounts, key: u64, what: &str, value: &str, alerts: &mut AlertBook) {
    let cfg = &step.cfg.novelty;
    if counts.len() > cfg.max_fingerprints {
        return;
    }
    let Some(n) = is_new(p, counts, key, step.tx.ts) else { return };
    if n < u64::from(cfg.min_requests) || alerts.any_open(&EXPLAINS_ORIGIN, step.consumer_key()) {
        return;
    }
    let shown: String = value.chars().take(200).collect();
    let ev = evidence(&[
        ("field", json!(what)),
        ("value", json!(shown)),
        ("requests_with_value", json!(n)),
        ("known_values", json!(counts.len())),
    ]);
    let msg = format!("{} sent {} `{}` for the first time", step.consumer_label(), what, shown);
    alerts.raise(
        step.tx.ts,
        &step.ctx,
        Detection {
            kind: AnomalyKind::NewFingerprint,
            severity: Severity::Low,
            score: 60,
            subject: key,
            endpoint: None,
            first_seen: step.tx.ts,
            evidence: ev,
            message: msg,
            close_after: None,
        },
    );
}
