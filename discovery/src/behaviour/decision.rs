//! An analyst's decision on a finding the alert book no longer holds (it closed when quiet,
//! or was closed early by the `alerts.max_open` bound). The book cannot emit an event for it,
//! so the event that tells the SIEM is built from the finding's last event as stored: the
//! same finding, the next version number, the decision's mark.
//!
//! The event is the one a decision on a finding still held makes: closed by an analyst, a
//! `closed` event (activity 3 Close, status 4 Resolved); reopened or annotated while open, an
//! `updated` one (activity 2 Update, status 2 In Progress): the analyst has it in hand. A
//! suppressed finding keeps 3 Suppressed in every event, as [`super::Anomaly::to_json`]
//! writes it. Everything else (evidence, counts, times of the incident) is the last event's.

use serde_json::{Map, Value};

use crate::inventory::rfc3339;
use crate::tuning::{TriageMark, TriageState};

/// The event carrying `mark` for the finding whose last event is `last` (an anomaly message
/// as [`super::Anomaly::to_json`] makes it), at packet time `now` (unix nanoseconds; the last
/// event's time if that is later). `None` when `last` is not an anomaly message (no
/// `unmapped.finding_id` or no numeric `unmapped.finding_version`).
pub fn decision_event(last: &Value, mark: &TriageMark, now: u64) -> Option<Value> {
    let mut v = last.clone();
    let top = v.as_object_mut()?;
    let unmapped = top.get_mut("unmapped").and_then(Value::as_object_mut)?;
    unmapped.get("finding_id").and_then(Value::as_str).filter(|s| !s.is_empty())?;
    let version = unmapped.get("finding_version").and_then(Value::as_u64)?;
    let suppressed = unmapped.contains_key("suppressed");
    let last_ms = top.get("time").and_then(Value::as_u64).unwrap_or(0);
    let at_ms = (now / 1_000_000).max(last_ms);
    let at_ns = at_ms.saturating_mul(1_000_000);
    let unmapped = top.get_mut("unmapped").and_then(Value::as_object_mut)?;
    unmapped.insert("finding_version".into(), Value::from(version.saturating_add(1)));
    unmapped.insert("time".into(), Value::String(rfc3339(at_ns)));
    unmapped.insert("triage".into(), serde_json::to_value(mark).ok()?);
    let finding_id = unmapped.get("finding_id").cloned().unwrap_or(Value::Null);
    let (activity_id, activity_name, lifecycle, status_id, status) = match mark.state {
        TriageState::Closed => (3u8, "Close", "closed", 4, "Resolved"),
        TriageState::Open => (2, "Update", "updated", 2, "In Progress"),
    };
    let (status_id, status) = if suppressed { (3, "Suppressed") } else { (status_id, status) };
    unmapped.insert("lifecycle".into(), Value::from(lifecycle));
    top.insert("activity_id".into(), Value::from(activity_id));
    top.insert("activity_name".into(), Value::from(activity_name));
    top.insert("type_uid".into(), Value::from(200_400 + u32::from(activity_id)));
    top.insert("type_name".into(), Value::String(format!("Detection Finding: {activity_name}")));
    top.insert("status_id".into(), Value::from(status_id));
    top.insert("status".into(), Value::from(status));
    top.insert("time".into(), Value::from(at_ms));
    if let Some(info) = top.get_mut("finding_info").and_then(Value::as_object_mut) {
        info.insert("modified_time".into(), Value::from(at_ms));
    }
    let metadata = top.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if let Some(m) = metadata.as_object_mut() {
        let id = finding_id.as_str().unwrap_or_default();
        m.insert("uid".into(), Value::String(format!("{id}-{at_ms}")));
        m.insert("logged_time".into(), Value::from(at_ms));
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::behaviour::{Anomaly, AnomalyKind, ConsumerRef, Lifecycle, Producer, Severity};
    use crate::tuning::Verdict;

    const HOUR: u64 = 3_600_000_000_000;

    fn closed_event(suppressed: bool) -> Value {
        let mut evidence = serde_json::Map::new();
        evidence.insert("distinct_ids".into(), Value::from(412));
        let a = Anomaly {
            finding_id: "0123456789abcdef0123456789abcdef".into(),
            version: 4,
            lifecycle: Lifecycle::Closed,
            kind: AnomalyKind::BolaEnumeration,
            severity: Severity::High,
            score: 80,
            time: 3 * HOUR,
            first_seen: HOUR,
            detected: HOUR + 1,
            last_seen: 2 * HOUR,
            count: 412,
            consumer: Some(ConsumerRef { id: "00112233aabbccdd".into(), label: "tpp-probe".into(), source: "jwt", org_id: None }),
            customer: None,
            network: Some("198.51.100.0/24".into()),
            client_ip: Some("198.51.100.7".into()),
            geo: crate::identity::Geo::default(),
            endpoint: None,
            visibility: crate::inventory::Visibility::Clear,
            evidence,
            message: "412 account ids in an hour".into(),
            suppressed: suppressed.then(|| crate::tuning::SuppressionMark { rule: "pen-test".into(), owner: "soc".into(), reason: "scan".into() }),
            triage: None,
            subject: 0,
        };
        a.to_json(&Producer { sensor_id: "s1".into(), version: "0".into() })
    }

    fn mark(state: TriageState) -> TriageMark {
        TriageMark {
            state,
            verdict: (state == TriageState::Closed).then_some(Verdict::FalsePositive),
            by: "soc@bank.example".into(),
            reason: "our scanner".into(),
            time: "2026-11-02T10:00:00Z".into(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn an_analyst_close_after_the_detector_closed_is_the_next_version_with_the_decision() {
        let last = closed_event(false);
        let e = decision_event(&last, &mark(TriageState::Closed), 5 * HOUR).unwrap();
        assert_eq!(e["unmapped"]["finding_version"], 5);
        assert_eq!(e["unmapped"]["finding_id"], last["unmapped"]["finding_id"]);
        assert_eq!(e["unmapped"]["lifecycle"], "closed");
        assert_eq!(e["unmapped"]["triage"]["verdict"], "false_positive");
        assert_eq!(e["unmapped"]["triage"]["by"], "soc@bank.example");
        assert_eq!((e["activity_id"].as_u64(), e["activity_name"].as_str(), e["type_uid"].as_u64()), (Some(3), Some("Close"), Some(200_403)));
        assert_eq!(e["type_name"], "Detection Finding: Close");
        assert_eq!((e["status_id"].as_u64(), e["status"].as_str()), (Some(4), Some("Resolved")));
        assert_eq!(e["time"].as_u64(), Some(5 * HOUR / 1_000_000));
        assert_eq!(e["finding_info"]["modified_time"], e["time"]);
        assert_ne!(e["metadata"]["uid"], last["metadata"]["uid"], "a new event has its own uid");
        // Everything the analyst did not decide is as before.
        for key in ["count", "severity_id", "start_time", "end_time", "actor", "src_endpoint"] {
            assert_eq!(e[key], last[key], "{key}");
        }
        assert_eq!(e["unmapped"]["evidence"], last["unmapped"]["evidence"]);
    }

    #[test]
    fn a_reopen_is_an_update_in_progress_and_a_suppressed_finding_stays_suppressed() {
        let e = decision_event(&closed_event(false), &mark(TriageState::Open), 5 * HOUR).unwrap();
        assert_eq!((e["activity_id"].as_u64(), e["type_uid"].as_u64(), e["type_name"].as_str()), (Some(2), Some(200_402), Some("Detection Finding: Update")));
        assert_eq!((e["status_id"].as_u64(), e["status"].as_str()), (Some(2), Some("In Progress")));
        assert_eq!(e["unmapped"]["lifecycle"], "updated", "the analyst has it in hand again");
        let e = decision_event(&closed_event(true), &mark(TriageState::Closed), 5 * HOUR).unwrap();
        assert_eq!(e["status_id"].as_u64(), Some(3));
        assert_eq!(e["unmapped"]["suppressed"]["rule"], "pen-test");
    }

    #[test]
    fn the_event_time_never_goes_back_and_other_values_are_refused() {
        let last = closed_event(false);
        let e = decision_event(&last, &mark(TriageState::Closed), HOUR).unwrap();
        assert_eq!(e["time"], last["time"], "a clock behind the last event does not move it back");
        assert!(decision_event(&Value::Null, &mark(TriageState::Closed), HOUR).is_none());
        assert!(decision_event(&serde_json::json!({"unmapped": {}}), &mark(TriageState::Closed), HOUR).is_none());
        assert!(decision_event(&serde_json::json!({"unmapped": {"finding_id": "ab", "finding_version": "x"}}), &mark(TriageState::Closed), HOUR).is_none());
    }
}
