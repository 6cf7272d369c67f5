//! `anomalies.jsonl` folded to the latest event of each finding (the file holds every
//! `new`, `updated` and `closed` event; docs/anomalies.md). Fed one line at a time, so the
//! caller reads the file and the digest stays bounded by [`MAX_FINDINGS`].

use std::collections::HashMap;

use serde::Deserialize;

/// Distinct findings kept. Past it, events of further findings are counted in
/// [`AnomalyDigest::dropped`] and left out (the sensor itself keeps at most 100,000 open).
pub const MAX_FINDINGS: usize = 200_000;

/// Longest line read, in bytes; a longer one is an error (messages are a few KiB).
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// The consumer a finding names (an id and a non-secret label; never a credential).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ConsumerRef {
    /// Consumer id (keyed hash).
    pub id: String,
    /// Non-secret label.
    #[serde(default)]
    pub label: String,
    /// Identity source.
    #[serde(default)]
    pub source: String,
}

/// The endpoint a finding names.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct EndpointRef {
    /// Service.
    pub service: String,
    /// Method (`*` for a whole service).
    pub method: String,
    /// Path template (`*` for a whole service).
    pub path_template: String,
}

/// The latest state of one finding.
#[derive(Clone, Debug, PartialEq)]
pub struct FindingState {
    /// Finding id.
    pub id: String,
    /// Event number of the state kept.
    pub version: u64,
    /// `new`, `updated` or `closed`.
    pub lifecycle: String,
    /// Detector kind.
    pub kind: String,
    /// OCSF severity id (1 to 5).
    pub severity_id: u8,
    /// Score 0-100.
    pub score: u64,
    /// Requests in the incident.
    pub count: u64,
    /// Who.
    pub consumer: Option<ConsumerRef>,
    /// Where.
    pub endpoint: Option<EndpointRef>,
    /// Start of the evidence (RFC 3339).
    pub first_seen: String,
    /// Latest request (RFC 3339).
    pub last_seen: String,
    /// One line for the analyst.
    pub message: String,
    /// The suppression rule it opened under (docs/tuning.md).
    pub suppressed: Option<String>,
    /// The analysts' decision: its state, verdict and who.
    pub triage: Option<TriageView>,
}

/// An analyst's decision on a finding, as a report shows it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct TriageView {
    /// `open` or `closed`.
    pub state: String,
    /// The verdict of a close.
    #[serde(default)]
    pub verdict: Option<String>,
    /// Who.
    #[serde(default)]
    pub by: String,
}

impl FindingState {
    /// Open unless its latest event closed it.
    pub fn is_open(&self) -> bool {
        self.lifecycle != "closed"
    }

    /// Closed by an analyst.
    pub fn closed_by_analyst(&self) -> bool {
        self.triage.as_ref().is_some_and(|t| t.state == "closed")
    }

    /// An alert that awaits the SOC: open, not suppressed, not closed by an analyst.
    pub fn awaits_triage(&self) -> bool {
        self.is_open() && self.suppressed.is_none() && !self.closed_by_analyst()
    }

    /// The triage column: `new`, `open (by X)`, `closed as V (by X)`.
    pub fn triage_text(&self) -> String {
        match &self.triage {
            None => "new".into(),
            Some(t) => match &t.verdict {
                Some(v) if t.state == "closed" => format!("closed as {} by {}", v.replace('_', " "), t.by),
                _ => format!("{} by {}", t.state, t.by),
            },
        }
    }
}

#[derive(Deserialize)]
struct Line {
    #[serde(default)]
    severity_id: u8,
    #[serde(default)]
    count: u64,
    #[serde(default)]
    message: String,
    unmapped: Unmapped,
}

#[derive(Deserialize)]
struct Unmapped {
    finding_id: String,
    finding_version: u64,
    lifecycle: String,
    kind: String,
    #[serde(default)]
    score: u64,
    #[serde(default)]
    first_seen: String,
    #[serde(default)]
    last_seen: String,
    #[serde(default)]
    consumer: Option<ConsumerRef>,
    #[serde(default)]
    endpoint: Option<EndpointRef>,
    #[serde(default)]
    suppressed: Option<SuppressedIn>,
    #[serde(default)]
    triage: Option<TriageView>,
}

#[derive(Deserialize)]
struct SuppressedIn {
    rule: String,
}

/// Every finding of an anomalies file, at its latest event.
#[derive(Debug, Default)]
pub struct AnomalyDigest {
    findings: HashMap<String, FindingState>,
    /// Events read.
    pub events: u64,
    /// Events of findings past [`MAX_FINDINGS`], not kept.
    pub dropped: u64,
    count: u64,
}

impl AnomalyDigest {
    /// An empty digest.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one line of `anomalies.jsonl`; a blank line is skipped. The error says what is
    /// wrong with the line (the caller adds the file and line number).
    pub fn add_line(&mut self, line: &str) -> Result<(), String> {
        self.count += 1;
        if line.len() > MAX_LINE_BYTES {
            return Err(format!("line longer than {MAX_LINE_BYTES} bytes"));
        }
        if line.trim().is_empty() {
            return Ok(());
        }
        let l: Line = serde_json::from_str(line).map_err(|e| format!("not an anomaly message: {e}"))?;
        self.events += 1;
        let u = l.unmapped;
        let state = FindingState {
            id: u.finding_id.clone(),
            version: u.finding_version,
            lifecycle: u.lifecycle,
            kind: u.kind,
            severity_id: l.severity_id.min(5),
            score: u.score.min(100),
            count: l.count,
            consumer: u.consumer,
            endpoint: u.endpoint,
            first_seen: u.first_seen,
            last_seen: u.last_seen,
            message: l.message,
            suppressed: u.suppressed.map(|s| s.rule),
            triage: u.triage,
        };
        let full = self.findings.len() >= MAX_FINDINGS;
        match self.findings.get_mut(&u.finding_id) {
            // Events may be re-sent or come out of order (a close is written late): the
            // highest version is the finding's latest state.
            Some(old) if old.version >= state.version => {}
            Some(old) => *old = state,
            None if full => self.dropped += 1,
            None => {
                self.findings.insert(u.finding_id, state);
            }
        }
        Ok(())
    }

    /// Overlays the analysts' decisions of an audit log (they may be newer than the latest
    /// event of a finding, e.g. a close decided after the finding went quiet).
    pub fn apply_triage(&mut self, marks: &HashMap<String, apitap_discovery::tuning::TriageMark>) {
        for (id, m) in marks {
            if let Some(f) = self.findings.get_mut(id) {
                let state = match m.state {
                    apitap_discovery::tuning::TriageState::Open => "open",
                    apitap_discovery::tuning::TriageState::Closed => "closed",
                };
                f.triage = Some(TriageView { state: state.into(), verdict: m.verdict.map(|v| v.code().to_string()), by: m.by.clone() });
            }
        }
    }

    /// Lines given so far (blank ones included), for error messages.
    pub fn lines(&self) -> u64 {
        self.count
    }

    /// Every finding at its latest event, in no particular order.
    pub fn findings(&self) -> impl Iterator<Item = &FindingState> {
        self.findings.values()
    }
}

/// The OCSF caption of a severity id.
pub fn severity_name(id: u8) -> &'static str {
    match id {
        5 => "critical",
        4 => "high",
        3 => "medium",
        2 => "low",
        _ => "informational",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    fn event(id: &str, version: u64, lifecycle: &str, severity: u8, count: u64) -> String {
        serde_json::json!({
            "severity_id": severity,
            "count": count,
            "message": "m",
            "unmapped": {
                "finding_id": id, "finding_version": version, "lifecycle": lifecycle, "kind": "rate_surge",
                "score": 60, "first_seen": "2026-03-28T10:00:00.000Z", "last_seen": "2026-03-28T11:00:00.000Z",
                "consumer": {"id": "00ff00ff00ff00ff", "label": "alpha", "source": "jwt"}
            }
        })
        .to_string()
    }

    #[test]
    fn the_latest_version_of_each_finding_wins_whatever_the_order() {
        let mut d = AnomalyDigest::new();
        d.add_line(&event("a", 1, "new", 3, 5)).unwrap();
        d.add_line(&event("a", 3, "closed", 3, 40)).unwrap();
        // A late copy of version 2 must not reopen it.
        d.add_line(&event("a", 2, "updated", 4, 20)).unwrap();
        d.add_line(&event("b", 1, "new", 2, 7)).unwrap();
        d.add_line("").unwrap();
        let mut f: Vec<_> = d.findings().cloned().collect();
        f.sort_by(|x, y| x.id.cmp(&y.id));
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].version, f[0].is_open(), f[0].count), (3, false, 40));
        assert_eq!((f[1].version, f[1].is_open(), f[1].severity_id), (1, true, 2));
        assert_eq!(d.events, 4);
        assert_eq!(d.lines(), 5);
    }

    #[test]
    fn a_line_that_is_not_an_anomaly_is_an_error() {
        let mut d = AnomalyDigest::new();
        let err = d.add_line(r#"{"hello": 1}"#).unwrap_err();
        assert!(err.contains("unmapped"), "{err}");
    }
}
