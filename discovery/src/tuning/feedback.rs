//! Analyst feedback: a finding marked a false positive or expected behaviour becomes part of
//! its consumer's baseline, so the same pattern does not alert again.
//!
//! What is absorbed is the finding's pattern: its kind, its consumer and its subject (what the
//! incident is about within the consumer: an endpoint, a network, a user agent, or nothing for
//! kinds about the consumer as a whole), up to the level the analyst saw: a later detection of
//! the same pattern opens no finding while its severity is at most the accepted one and its
//! score at most [`ABSORB_SCORE_MARGIN`] above it. Stronger activity (a higher severity, a
//! much higher score), another subject, another kind or another consumer still alerts.
//! Absorbed detections are counted (`detections_absorbed`).
//!
//! The decisions come from the audit log (the shell folds it); they are not part of the
//! baseline snapshot, so removing a decision from consideration is a matter of the log, and a
//! restored sensor absorbs exactly what its log says.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::behaviour::{AnomalyKind, ConsumerRef, Severity};

/// Most notes a finding's triage keeps (the oldest go first).
pub const MAX_NOTES: usize = 20;

/// Where an analyst left a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriageState {
    /// Being looked at, or reopened.
    Open,
    /// Closed by an analyst.
    Closed,
}

/// A note on a finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Who wrote it.
    pub by: String,
    /// When (RFC 3339, from the audit log).
    pub time: String,
    /// The note.
    pub text: String,
}

/// The analysts' decisions on one finding, as every later event of it carries them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriageMark {
    /// Open or closed.
    pub state: TriageState,
    /// The verdict of the close, when closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// Who made the last state change (or wrote the first note).
    pub by: String,
    /// Why.
    pub reason: String,
    /// When (RFC 3339, from the audit log).
    pub time: String,
    /// Notes, oldest first (at most [`MAX_NOTES`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
}

/// Most absorbed patterns held.
pub const MAX_ABSORPTIONS: usize = 10_000;
/// How far above the accepted score a detection of an absorbed pattern may score and still be
/// absorbed.
pub const ABSORB_SCORE_MARGIN: u8 = 10;

/// What the analyst decided a finding was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A true positive that was dealt with (closing it absorbs nothing).
    Resolved,
    /// The detector was wrong.
    FalsePositive,
    /// Real, and expected of this consumer (a batch job, a migration).
    Expected,
}

impl Verdict {
    /// The code (`resolved`, `false_positive`, `expected`).
    pub fn code(self) -> &'static str {
        match self {
            Verdict::Resolved => "resolved",
            Verdict::FalsePositive => "false_positive",
            Verdict::Expected => "expected",
        }
    }

    /// Whether the consumer's baseline absorbs the finding's pattern.
    pub fn absorbs(self) -> bool {
        !matches!(self, Verdict::Resolved)
    }
}

/// One absorbed pattern.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Absorption {
    /// The finding the analyst judged.
    pub finding_id: String,
    /// Their verdict.
    pub verdict: Verdict,
    /// Its kind.
    pub kind: AnomalyKind,
    /// Its consumer's id (16 hex digits), if it had one.
    pub consumer_id: Option<String>,
    /// Its subject (the finding's `unmapped.subject`; 0 for a consumer as a whole).
    pub subject: u64,
    /// The severity the analyst saw.
    pub severity: Severity,
    /// The score the analyst saw.
    pub score: u8,
}

/// The absorbed patterns, by kind and consumer id.
#[derive(Clone, Debug, Default)]
pub struct Absorptions {
    by_key: HashMap<(AnomalyKind, Option<String>), Vec<Absorption>>,
    len: usize,
    /// Decisions left out because [`MAX_ABSORPTIONS`] were held.
    pub dropped: usize,
}

impl Absorptions {
    /// Holds `list` (a later decision on the same finding replaces an earlier one; past
    /// [`MAX_ABSORPTIONS`] the rest are counted in `dropped`).
    pub fn new(list: impl IntoIterator<Item = Absorption>) -> Absorptions {
        let mut out = Absorptions::default();
        for a in list {
            let key = (a.kind, a.consumer_id.as_ref().map(|c| c.to_ascii_lowercase()));
            let slot = out.by_key.entry(key).or_default();
            if let Some(old) = slot.iter_mut().find(|o| o.finding_id == a.finding_id) {
                *old = a;
                continue;
            }
            if out.len >= MAX_ABSORPTIONS {
                out.dropped += 1;
                continue;
            }
            slot.push(a);
            out.len += 1;
        }
        out
    }

    /// Patterns held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The absorbed pattern a detection falls under, if any.
    pub fn absorbing(&self, kind: AnomalyKind, consumer: Option<&ConsumerRef>, subject: u64, severity: Severity, score: u8) -> Option<&Absorption> {
        if self.len == 0 {
            return None;
        }
        let list = self.by_key.get(&(kind, consumer.map(|c| c.id.to_ascii_lowercase())))?;
        list.iter().find(|a| {
            a.subject == subject && severity <= a.severity && score <= a.score.saturating_add(ABSORB_SCORE_MARGIN)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(score: u8, severity: Severity) -> Absorption {
        Absorption {
            finding_id: "f1".into(),
            verdict: Verdict::Expected,
            kind: AnomalyKind::RateSurge,
            consumer_id: Some("00000000000000aa".into()),
            subject: 0,
            severity,
            score,
        }
    }

    fn consumer(id: &str) -> ConsumerRef {
        ConsumerRef { id: id.into(), label: "batch".into(), source: "api_key", org_id: None }
    }

    #[test]
    fn the_same_pattern_up_to_the_accepted_level_is_absorbed_and_nothing_else() {
        let a = Absorptions::new([batch(60, Severity::Medium)]);
        let c = consumer("00000000000000AA");
        assert!(a.absorbing(AnomalyKind::RateSurge, Some(&c), 0, Severity::Medium, 70).is_some(), "within the margin, id in any case");
        assert!(a.absorbing(AnomalyKind::RateSurge, Some(&c), 0, Severity::Low, 10).is_some());
        assert!(a.absorbing(AnomalyKind::RateSurge, Some(&c), 0, Severity::Medium, 71).is_none(), "scores higher than the margin");
        assert!(a.absorbing(AnomalyKind::RateSurge, Some(&c), 0, Severity::High, 60).is_none(), "more severe");
        assert!(a.absorbing(AnomalyKind::OffHours, Some(&c), 0, Severity::Low, 10).is_none(), "another kind");
        assert!(a.absorbing(AnomalyKind::RateSurge, Some(&consumer("00000000000000ab")), 0, Severity::Low, 10).is_none(), "another consumer");
        assert!(a.absorbing(AnomalyKind::RateSurge, None, 0, Severity::Low, 10).is_none(), "no consumer");
        assert!(a.absorbing(AnomalyKind::RateSurge, Some(&c), 7, Severity::Low, 10).is_none(), "another subject");
    }

    #[test]
    fn a_later_decision_on_the_same_finding_replaces_the_earlier_and_the_bound_holds() {
        let a = Absorptions::new([batch(60, Severity::Medium), batch(90, Severity::High)]);
        assert_eq!(a.len(), 1);
        let c = consumer("00000000000000aa");
        assert!(a.absorbing(AnomalyKind::RateSurge, Some(&c), 0, Severity::High, 95).is_some());
        let many = (0..MAX_ABSORPTIONS + 5).map(|i| Absorption { finding_id: format!("f{i}"), ..batch(50, Severity::Low) });
        let a = Absorptions::new(many);
        assert_eq!((a.len(), a.dropped), (MAX_ABSORPTIONS, 5));
    }
}
