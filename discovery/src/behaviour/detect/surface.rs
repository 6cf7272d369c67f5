//! Findings about the attack surface a request touches: `shadow_endpoint_use`,
//! `zombie_endpoint_use`, `unauthenticated_sensitive` and `http_smuggling`.

use serde_json::json;

use super::{evidence, Step};
use crate::behaviour::alerts::{AlertBook, Detection};
use crate::behaviour::anomaly::{AnomalyKind, Severity};
use crate::inventory::{Classification, Landing};

/// HTTP parser framing events that make a request's length ambiguous between a front end and
/// a back end (request smuggling, desync).
pub const SMUGGLING_EVENTS: &[&str] = &[
    "content_length_and_chunked",
    "duplicate_content_length",
    "content_length_list",
    "unusual_transfer_encoding",
    "whitespace_before_colon",
];

/// Shadow and zombie endpoint use: one finding per consumer and endpoint. `specs_loaded`:
/// without any spec every endpoint is undocumented, which says nothing.
pub(in crate::behaviour) fn endpoint_use(step: &Step<'_, '_>, specs_loaded: bool, alerts: &mut AlertBook) {
    let Landing::Endpoint { class, accepted } = step.tx.observed.landing else { return };
    let kind = match class {
        Classification::Shadow if specs_loaded && !accepted => AnomalyKind::ShadowEndpointUse,
        Classification::Zombie => AnomalyKind::ZombieEndpointUse,
        _ => return,
    };
    let Some(ep) = step.endpoint.as_ref() else { return };
    let ev = evidence(&[
        ("classification", json!(class.name())),
        ("status", json!(step.tx.status)),
        ("service", json!(ep.service)),
        ("path_template", json!(ep.path_template)),
    ]);
    let msg = format!(
        "{} called {} endpoint {} {}{}",
        step.consumer_label(),
        if kind == AnomalyKind::ShadowEndpointUse { "undocumented" } else { "deprecated" },
        ep.method,
        ep.service,
        ep.path_template
    );
    alerts.raise(
        step.tx.ts,
        &step.ctx,
        Detection {
            kind,
            severity: if kind == AnomalyKind::ShadowEndpointUse { Severity::Medium } else { Severity::Low },
            score: 70,
            subject: step.endpoint_key,
            endpoint: step.endpoint.clone(),
            first_seen: step.tx.ts,
            evidence: ev,
            message: msg,
            close_after: None,
        },
    );
}

/// Sensitive data (card numbers, IBANs, national ids, ...) or a customer's account information
/// (an `account_params` or `account_collections` endpoint) in a successful answer to a request
/// that carried no credential at all.
pub(in crate::behaviour) fn unauthenticated(step: &Step<'_, '_>, alerts: &mut AlertBook) {
    let account_information = step.account_information;
    let sensitive = step.tx.observed.response_sensitive;
    if step.tx.authenticated || !step.success || (sensitive == 0 && !account_information) || !matches!(step.tx.observed.landing, Landing::Endpoint { .. }) {
        return;
    }
    let ev = evidence(&[
        ("sensitive_values_in_response", json!(sensitive)),
        ("account_information", json!(account_information)),
        ("status", json!(step.tx.status)),
    ]);
    let msg = format!(
        "{} served without any credential to {}",
        if sensitive > 0 { format!("{sensitive} sensitive values") } else { "account information".to_string() },
        step.ctx.network.as_deref().unwrap_or("an unknown network")
    );
    alerts.raise(
        step.tx.ts,
        &step.ctx,
        Detection {
            kind: AnomalyKind::UnauthenticatedSensitive,
            severity: Severity::High,
            score: 80,
            subject: step.endpoint_key,
            endpoint: step.endpoint.clone(),
            first_seen: step.tx.ts,
            evidence: ev,
            message: msg,
            close_after: None,
        },
    );
}

/// A request whose framing is ambiguous.
pub(in crate::behaviour) fn smuggling(step: &Step<'_, '_>, alerts: &mut AlertBook) {
    let found: Vec<&str> = step.tx.framing_events.iter().copied().filter(|e| SMUGGLING_EVENTS.contains(e)).collect();
    if found.is_empty() {
        return;
    }
    let ev = evidence(&[("framing_events", json!(found)), ("status", json!(step.tx.status))]);
    let msg = format!("{} sent a request with ambiguous framing ({})", step.consumer_label(), found.join(", "));
    alerts.raise(
        step.tx.ts,
        &step.ctx,
        Detection {
            kind: AnomalyKind::HttpSmuggling,
            severity: Severity::High,
            score: 90,
            subject: 0,
            endpoint: step.endpoint.clone(),
            first_seen: step.tx.ts,
            evidence: ev,
            message: msg,
            close_after: None,
        },
    );
}
