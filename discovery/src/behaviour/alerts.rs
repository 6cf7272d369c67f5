//! Findings: detections become one finding per incident, with a stable id and a lifecycle
//! (new, updated, closed), de-duplicated and rate-limited per consumer and kind, all on packet
//! time.

use std::collections::HashMap;
use std::hash::Hasher;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use siphasher::sip128::{Hasher128, SipHasher13};

use super::anomaly::{Anomaly, AnomalyKind, ConsumerRef, EndpointRef, Lifecycle, Severity};
use super::config::{hours, minutes, AlertSettings};
use crate::identity::Geo;
use crate::tuning::{Absorptions, Subject, SuppressionMark, Suppressions};

/// What a detector reports when its rule fires.
#[derive(Clone, Debug)]
pub struct Detection {
    /// The kind.
    pub kind: AnomalyKind,
    /// Severity.
    pub severity: Severity,
    /// 0 to 100.
    pub score: u8,
    /// What the finding is about within the consumer: an endpoint key for per-endpoint kinds,
    /// 0 otherwise. Detections with the same kind, consumer and subject are one incident.
    pub subject: u64,
    /// The endpoint, for per-endpoint kinds.
    pub endpoint: Option<EndpointRef>,
    /// Packet time the evidence starts at (the window's first request).
    pub first_seen: u64,
    /// Observed versus baseline values.
    pub evidence: Map<String, Value>,
    /// One line for the analyst.
    pub message: String,
    /// Quiet time after which the finding closes, when longer than the configured one (a
    /// detector whose evidence spans a day keeps its incident open for that day).
    pub close_after: Option<u64>,
}

/// Who and from where, for the finding.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Context {
    /// Consumer key (0 for findings about an endpoint alone).
    pub consumer_key: u64,
    /// The consumer.
    pub consumer: Option<ConsumerRef>,
    /// Customer hash.
    pub customer: Option<String>,
    /// Client network.
    pub network: Option<String>,
    /// Client address.
    pub client_ip: Option<String>,
    /// Autonomous system and country of the client address (empty without a database).
    pub geo: Geo,
    /// How the detecting request was read (clear in findings persisted before decryption).
    #[serde(default)]
    pub visibility: crate::inventory::Visibility,
    /// The detecting request's user agent (at most [`MAX_CONTEXT_AGENT_BYTES`]), for the
    /// suppression rules, filled only when rules are in force; never persisted.
    #[serde(skip)]
    pub user_agent: Option<String>,
    /// Its TLS client fingerprint (JA4), for the suppression rules; never persisted.
    #[serde(skip)]
    pub fingerprint: Option<String>,
}

/// Longest user agent a finding's context keeps for the suppression rules, in bytes (the
/// rules match substrings of at most [`crate::tuning::suppress::MAX_TEXT_BYTES`]).
pub const MAX_CONTEXT_AGENT_BYTES: usize = 512;

/// `s` cut to at most `max` bytes, at a character boundary.
pub(crate) fn clip(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

/// Counters of the finding book.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertStats {
    /// Findings opened.
    pub opened: u64,
    /// `updated` events emitted.
    pub updates: u64,
    /// Findings closed when quiet.
    pub closed: u64,
    /// Detections folded into an open finding without an event (within the update interval).
    pub folded: u64,
    /// Detections folded because the consumer reached `max_new_per_hour` for the kind.
    pub rate_limited: u64,
    /// Findings closed early because `max_open` was reached.
    pub evicted: u64,
    /// Open findings removed by an erasure of their consumer (no event).
    pub forgotten: u64,
    /// Findings opened under a suppression rule (kept, not published as alerts).
    pub suppressed: u64,
    /// Detections that opened no finding because an analyst's verdict absorbed their pattern.
    pub absorbed: u64,
    /// The same, per rule id (at most [`crate::tuning::MAX_SUPPRESSIONS`] entries: one per
    /// rule ever matched since the book started).
    pub suppressed_by_rule: std::collections::BTreeMap<String, u64>,
}

/// One open finding, as persisted (see [`AlertsSnapshot`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Finding {
    id: String,
    kind: AnomalyKind,
    /// What the finding is about within the consumer (see [`Detection::subject`]).
    subject: u64,
    severity: Severity,
    score: u8,
    first_seen: u64,
    detected: u64,
    last_seen: u64,
    last_emit: u64,
    count: u64,
    count_at_emit: u64,
    ctx: Context,
    endpoint: Option<EndpointRef>,
    evidence: Map<String, Value>,
    message: String,
    quiet: u64,
    /// Events emitted for this finding so far (the last one's version).
    version: u32,
    /// The suppression rule it opened under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    suppressed: Option<SuppressionMark>,
}

impl Finding {
    /// The next event of this finding (its version one more than the last).
    fn emit(&mut self, lifecycle: Lifecycle, time: u64) -> Anomaly {
        self.version = self.version.saturating_add(1);
        self.anomaly(lifecycle, time)
    }

    fn anomaly(&self, lifecycle: Lifecycle, time: u64) -> Anomaly {
        Anomaly {
            finding_id: self.id.clone(),
            version: self.version,
            lifecycle,
            kind: self.kind,
            severity: self.severity,
            score: self.score,
            time,
            first_seen: self.first_seen,
            detected: self.detected,
            last_seen: self.last_seen,
            count: self.count,
            consumer: self.ctx.consumer.clone(),
            customer: self.ctx.customer.clone(),
            network: self.ctx.network.clone(),
            client_ip: self.ctx.client_ip.clone(),
            geo: self.ctx.geo.clone(),
            visibility: self.ctx.visibility,
            endpoint: self.endpoint.clone(),
            evidence: self.evidence.clone(),
            message: self.message.clone(),
            suppressed: self.suppressed.clone(),
            triage: None,
            subject: self.subject,
        }
    }
}

type Key = (AnomalyKind, u64, u64);

/// The opening times of one consumer's recent findings of one kind (the `max_new_per_hour`
/// limit), as persisted.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Recent {
    /// The kind.
    pub kind: AnomalyKind,
    /// The consumer key.
    pub consumer: u64,
    /// Packet times the findings opened at, within the last hour.
    pub opened: Vec<u64>,
}

/// The finding book as persisted: its open findings (ordered by id, so equal books give equal
/// snapshots), the rate-limit history and the counters. Events not yet drained are not part
/// of it: drain before taking it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AlertsSnapshot {
    /// Open findings.
    pub open: Vec<Finding>,
    /// Rate-limit history.
    pub recent: Vec<Recent>,
    /// Counters.
    pub stats: AlertStats,
}

/// Longest finding message and label kept from a snapshot, in bytes.
const MAX_SNAPSHOT_TEXT: usize = 4096;
/// Most evidence keys of a finding kept from a snapshot.
const MAX_SNAPSHOT_EVIDENCE_KEYS: usize = 64;
/// Most evidence bytes (as JSON) of a finding kept from a snapshot.
const MAX_SNAPSHOT_EVIDENCE_BYTES: usize = 16 * 1024;

impl Finding {
    /// Why a deserialised finding cannot be held: an id that is not 32 hex digits, times out
    /// of order, over-long texts or evidence.
    fn check(&self) -> Result<(), String> {
        if self.id.len() != 32 || !self.id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("finding id is not 32 hex digits".into());
        }
        if self.detected > self.last_seen || self.version == 0 {
            return Err(format!("finding {}: detected after last seen, or no event emitted", self.id));
        }
        let texts = [Some(&self.message), self.ctx.consumer.as_ref().map(|c| &c.label), self.ctx.customer.as_ref(), self.ctx.network.as_ref()];
        if texts.iter().flatten().any(|t| t.len() > MAX_SNAPSHOT_TEXT) {
            return Err(format!("finding {}: a text longer than {MAX_SNAPSHOT_TEXT} bytes", self.id));
        }
        let evidence_bytes = serde_json::to_vec(&self.evidence).map_or(usize::MAX, |v| v.len());
        if self.evidence.len() > MAX_SNAPSHOT_EVIDENCE_KEYS || evidence_bytes > MAX_SNAPSHOT_EVIDENCE_BYTES {
            return Err(format!("finding {}: evidence over {MAX_SNAPSHOT_EVIDENCE_KEYS} keys or {MAX_SNAPSHOT_EVIDENCE_BYTES} bytes", self.id));
        }
        Ok(())
    }

    /// The finding's kind and consumer key.
    pub fn kind_and_consumer(&self) -> (AnomalyKind, u64) {
        (self.kind, self.ctx.consumer_key)
    }
}

/// What restoring a book kept and dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertsRestored {
    /// Open findings restored.
    pub findings: usize,
    /// Findings dropped as invalid or duplicate (the first reason in `first_error`).
    pub invalid: usize,
    /// Findings dropped because `max_open` is smaller than the snapshot held (the quietest
    /// go first, without an event).
    pub over_limit: usize,
    /// Rate-limit entries dropped as over-long or beyond the bound.
    pub recent_dropped: usize,
    /// Why the first invalid finding was dropped.
    pub first_error: Option<String>,
}

/// The open findings.
pub struct AlertBook {
    cfg: AlertSettings,
    key: [u8; 16],
    open: HashMap<Key, Finding>,
    /// Per (kind, consumer): opening times of findings within the last hour.
    recent: HashMap<(AnomalyKind, u64), Vec<u64>>,
    out: Vec<Anomaly>,
    stats: AlertStats,
    suppressions: Suppressions,
    absorptions: Absorptions,
}

impl AlertBook {
    /// An empty book; `key` keys the finding ids.
    pub fn new(cfg: AlertSettings, key: [u8; 16]) -> Self {
        AlertBook { cfg, key, open: HashMap::new(), recent: HashMap::new(), out: Vec::new(), stats: AlertStats::default(), suppressions: Suppressions::default(), absorptions: Absorptions::default() }
    }

    /// Whether any suppression rule is in force (the request's agent and fingerprint are
    /// kept for them only then).
    pub fn has_suppressions(&self) -> bool {
        !self.suppressions.is_empty()
    }

    /// The suppression rules judged when a finding opens (open findings keep their mark).
    pub fn set_suppressions(&mut self, rules: Suppressions) {
        self.suppressions = rules;
    }

    /// The suppression rules and absorbed patterns in force.
    pub fn tuning(&self) -> (Suppressions, Absorptions) {
        (self.suppressions.clone(), self.absorptions.clone())
    }

    /// The patterns analysts' verdicts absorbed (judged before a finding opens).
    pub fn set_absorptions(&mut self, absorbed: Absorptions) {
        self.absorptions = absorbed;
    }

    /// The rule a finding opening now would fall under.
    fn suppression(&mut self, now: u64, ctx: &Context, det: &Detection) -> Option<SuppressionMark> {
        if self.suppressions.is_empty() {
            return None;
        }
        let subject = Subject {
            kind: det.kind,
            time: now,
            consumer: ctx.consumer.as_ref(),
            client_ip: ctx.client_ip.as_deref().and_then(|ip| ip.parse().ok()),
            user_agent: ctx.user_agent.as_deref(),
            fingerprint: ctx.fingerprint.as_deref(),
            endpoint: det.endpoint.as_ref(),
        };
        let mark = self.suppressions.matching(&subject)?.mark();
        self.stats.suppressed += 1;
        if self.stats.suppressed_by_rule.len() < crate::tuning::MAX_SUPPRESSIONS || self.stats.suppressed_by_rule.contains_key(&mark.rule) {
            *self.stats.suppressed_by_rule.entry(mark.rule.clone()).or_default() += 1;
        }
        Some(mark)
    }

    /// Counters.
    pub fn stats(&self) -> &AlertStats {
        &self.stats
    }

    /// Open findings.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// Whether a finding of `kind` is open for the consumer (any subject).
    pub fn is_open(&self, kind: AnomalyKind, consumer_key: u64) -> bool {
        self.open.keys().any(|k| k.0 == kind && k.1 == consumer_key)
    }

    /// Whether any finding of the given kinds is open for the consumer.
    pub fn any_open(&self, kinds: &[AnomalyKind], consumer_key: u64) -> bool {
        self.open.keys().any(|k| k.1 == consumer_key && kinds.contains(&k.0))
    }

    fn finding_id(&self, kind: AnomalyKind, consumer: u64, subject: u64, detected: u64) -> String {
        let mut h = SipHasher13::new_with_key(&self.key);
        h.write(b"apitap-finding\0");
        h.write(kind.code().as_bytes());
        h.write_u64(consumer);
        h.write_u64(subject);
        h.write_u64(detected);
        format!("{:032x}", h.finish128().as_u128())
    }

    /// A request that belongs to an open incident (the detector's rule holds or the same
    /// activity goes on) without a new detection: extends it so it does not close.
    pub fn touch(&mut self, kind: AnomalyKind, consumer_key: u64, subject: u64, now: u64) -> bool {
        match self.open.get_mut(&(kind, consumer_key, subject)) {
            Some(f) => {
                f.last_seen = f.last_seen.max(now);
                f.count += 1;
                true
            }
            None => false,
        }
    }

    /// Records a detection at packet time `now`: opens a finding (event `new`), or updates
    /// the open one (event `updated` when the update interval has passed and the score,
    /// severity or request count grew; otherwise folded).
    pub fn raise(&mut self, now: u64, ctx: &Context, det: Detection) {
        let key = (det.kind, ctx.consumer_key, det.subject);
        let update_gap = minutes(self.cfg.update_minutes);
        if let Some(f) = self.open.get_mut(&key) {
            f.last_seen = f.last_seen.max(now);
            f.count += 1;
            let grew = det.score > f.score || det.severity > f.severity || f.count >= f.count_at_emit.saturating_mul(2);
            f.score = f.score.max(det.score);
            f.severity = f.severity.max(det.severity);
            f.evidence = det.evidence;
            f.message = det.message;
            f.quiet = f.quiet.max(det.close_after.unwrap_or(0));
            if now.saturating_sub(f.last_emit) >= update_gap && grew {
                f.last_emit = now;
                f.count_at_emit = f.count;
                let a = f.emit(Lifecycle::Updated, now);
                self.out.push(a);
                self.stats.updates += 1;
            } else {
                self.stats.folded += 1;
            }
            return;
        }
        if self.absorptions.absorbing(det.kind, ctx.consumer.as_ref(), det.subject, det.severity, det.score).is_some() {
            self.stats.absorbed += 1;
            return;
        }
        let hour = hours(1);
        let recent = self.recent.entry((det.kind, ctx.consumer_key)).or_default();
        recent.retain(|t| now.saturating_sub(*t) < hour);
        if recent.len() >= self.cfg.max_new_per_hour as usize {
            // Fold into the latest open finding of this consumer and kind, if any.
            self.stats.rate_limited += 1;
            if let Some(f) = self.open.iter_mut().filter(|(k, _)| k.0 == det.kind && k.1 == ctx.consumer_key).map(|(_, f)| f).max_by_key(|f| f.detected) {
                f.last_seen = f.last_seen.max(now);
                f.count += 1;
            }
            return;
        }
        recent.push(now);
        if self.open.len() >= self.cfg.max_open {
            self.evict_one(now);
        }
        let id = self.finding_id(det.kind, ctx.consumer_key, det.subject, now);
        let suppressed = self.suppression(now, ctx, &det);
        let f = Finding {
            id,
            kind: det.kind,
            subject: det.subject,
            severity: det.severity,
            score: det.score,
            first_seen: det.first_seen.min(now),
            detected: now,
            last_seen: now,
            last_emit: now,
            count: 1,
            count_at_emit: 1,
            ctx: ctx.clone(),
            endpoint: det.endpoint,
            evidence: det.evidence,
            message: det.message,
            quiet: det.close_after.unwrap_or(0).max(minutes(self.cfg.close_minutes)),
            version: 0,
            suppressed,
        };
        let mut f = f;
        self.out.push(f.emit(Lifecycle::New, now));
        self.stats.opened += 1;
        self.open.insert(key, f);
    }

    fn evict_one(&mut self, now: u64) {
        let Some(key) = self.open.iter().min_by_key(|(_, f)| (f.last_seen, f.detected)).map(|(k, _)| *k) else { return };
        if let Some(mut f) = self.open.remove(&key) {
            self.out.push(f.emit(Lifecycle::Closed, now));
            self.stats.evicted += 1;
        }
    }

    /// Closes the findings quiet for the close time at packet time `now`, in the order they
    /// went quiet (ties by id, so replays give the same order).
    pub fn advance(&mut self, now: u64) {
        let mut done: Vec<Key> = self.open.iter().filter(|(_, f)| now.saturating_sub(f.last_seen) >= f.quiet).map(|(k, _)| *k).collect();
        if done.is_empty() {
            return;
        }
        done.sort_by(|a, b| {
            let fa = self.open.get(a).map(|f| (f.last_seen, f.id.clone()));
            let fb = self.open.get(b).map(|f| (f.last_seen, f.id.clone()));
            fa.cmp(&fb)
        });
        for k in done {
            if let Some(mut f) = self.open.remove(&k) {
                let at = f.last_seen.saturating_add(f.quiet);
                self.out.push(f.emit(Lifecycle::Closed, at));
                self.stats.closed += 1;
            }
        }
        self.recent.retain(|_, v| v.iter().any(|t| now.saturating_sub(*t) < hours(1)));
    }

    /// An analyst decided on the open finding `id` at packet time `now`: closing removes it
    /// with a `closed` event (a later detection opens a new finding), anything else emits an
    /// `updated` event so that the decision reaches the SIEM. False when it is not open.
    pub fn triage_event(&mut self, id: &str, close: bool, now: u64) -> bool {
        let Some(key) = self.open.iter().find(|(_, f)| f.id == id).map(|(k, _)| *k) else { return false };
        if close {
            if let Some(mut f) = self.open.remove(&key) {
                let at = now.max(f.last_seen);
                self.out.push(f.emit(Lifecycle::Closed, at));
                self.stats.closed += 1;
            }
        } else if let Some(f) = self.open.get_mut(&key) {
            let at = now.max(f.last_seen);
            f.last_emit = at;
            let a = f.emit(Lifecycle::Updated, at);
            self.out.push(a);
            self.stats.updates += 1;
        }
        true
    }

    /// Takes the events emitted so far, in order.
    pub fn drain(&mut self) -> Vec<Anomaly> {
        std::mem::take(&mut self.out)
    }

    /// The book as persisted (see [`AlertsSnapshot`]).
    pub fn snapshot(&self) -> AlertsSnapshot {
        let mut open: Vec<Finding> = self.open.values().cloned().collect();
        open.sort_by(|a, b| a.id.cmp(&b.id));
        let mut recent: Vec<Recent> = self.recent.iter().map(|((kind, consumer), v)| Recent { kind: *kind, consumer: *consumer, opened: v.clone() }).collect();
        recent.sort_by_key(|r| (r.kind, r.consumer));
        AlertsSnapshot { open, recent, stats: self.stats.clone() }
    }

    /// A book from a snapshot, within this configuration's `max_open` (the most recently seen
    /// findings are kept) and with at most `max_new_per_hour` opening times per consumer and
    /// kind. `max_recent` bounds the rate-limit entries kept.
    pub fn restore(cfg: AlertSettings, key: [u8; 16], snap: AlertsSnapshot, max_recent: usize) -> (AlertBook, AlertsRestored) {
        let mut book = AlertBook::new(cfg, key);
        let mut r = AlertsRestored::default();
        let mut open = snap.open;
        // Most recently seen first: those are kept when the bound is smaller.
        open.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then_with(|| a.id.cmp(&b.id)));
        for f in open {
            if let Err(e) = f.check() {
                r.invalid += 1;
                r.first_error.get_or_insert(e);
                continue;
            }
            if book.open.len() >= book.cfg.max_open.max(1) {
                r.over_limit += 1;
                continue;
            }
            let key = (f.kind, f.ctx.consumer_key, f.subject);
            if book.open.contains_key(&key) {
                r.invalid += 1;
                r.first_error.get_or_insert_with(|| format!("finding {}: a second open finding of the same kind, consumer and subject", f.id));
                continue;
            }
            book.open.insert(key, f);
            r.findings += 1;
        }
        let per = book.cfg.max_new_per_hour as usize;
        for mut e in snap.recent {
            if book.recent.len() >= max_recent {
                r.recent_dropped += 1;
                continue;
            }
            if e.opened.len() > per {
                let cut = e.opened.len() - per;
                e.opened.drain(..cut);
                r.recent_dropped += 1;
            }
            book.recent.insert((e.kind, e.consumer), e.opened);
        }
        book.stats = snap.stats;
        (book, r)
    }

    /// Removes every open finding, queued event and rate-limit entry of a consumer, without
    /// an event (an erasure). Returns how many findings and queued events went.
    pub fn forget_consumer(&mut self, consumer_key: u64) -> usize {
        let before = self.open.len();
        self.open.retain(|k, _| k.1 != consumer_key);
        let findings = before - self.open.len();
        self.stats.forgotten += findings as u64;
        self.recent.retain(|k, _| k.1 != consumer_key);
        let queued = self.out.len();
        let id = format!("{consumer_key:016x}");
        self.out.retain(|a| a.consumer.as_ref().is_none_or(|c| c.id != id));
        findings + (queued - self.out.len())
    }

    /// Removes a customer id (as the anomalies write it) from every open finding and queued
    /// event: the `customer` field, and any evidence value equal to it. Returns how many
    /// places were cleaned.
    pub fn forget_customer(&mut self, customer: &str) -> usize {
        let mut n = 0;
        let clean = |c: &mut Option<String>, ev: &mut Map<String, Value>| {
            let mut k = 0;
            if c.as_deref() == Some(customer) {
                *c = None;
                k += 1;
            }
            let before = ev.len();
            ev.retain(|_, v| v.as_str() != Some(customer));
            k + (before - ev.len())
        };
        for f in self.open.values_mut() {
            n += clean(&mut f.ctx.customer, &mut f.evidence);
        }
        for a in &mut self.out {
            n += clean(&mut a.customer, &mut a.evidence);
        }
        n
    }

    /// Moves a consumer's open findings and rate-limit history to a new key (the consumer was
    /// re-keyed): the findings keep their ids; later events name `consumer`.
    pub fn rekey(&mut self, old: u64, new: u64, consumer: Option<&ConsumerRef>) {
        let keys: Vec<Key> = self.open.keys().filter(|k| k.1 == old).copied().collect();
        for k in keys {
            if let Some(mut f) = self.open.remove(&k) {
                f.ctx.consumer_key = new;
                if let Some(c) = consumer {
                    f.ctx.consumer = Some(c.clone());
                }
                self.open.insert((k.0, new, k.2), f);
            }
        }
        let recent: Vec<(AnomalyKind, u64)> = self.recent.keys().filter(|k| k.1 == old).copied().collect();
        for k in recent {
            if let Some(v) = self.recent.remove(&k) {
                self.recent.insert((k.0, new), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000_000_000;

    fn det(kind: AnomalyKind, score: u8) -> Detection {
        Detection {
            kind,
            severity: Severity::High,
            score,
            subject: 0,
            endpoint: None,
            first_seen: 0,
            evidence: Map::new(),
            message: "m".into(),
            close_after: None,
        }
    }

    fn ctx(consumer: u64) -> Context {
        Context { consumer_key: consumer, ..Context::default() }
    }

    #[test]
    fn one_incident_is_one_finding_with_updates_and_a_close() {
        let mut b = AlertBook::new(AlertSettings::default(), [7; 16]);
        b.raise(MIN, &ctx(1), det(AnomalyKind::RateSurge, 50));
        for i in 2..10 {
            b.raise(i * MIN, &ctx(1), det(AnomalyKind::RateSurge, 50));
        }
        // Within the 15-minute update interval: folded.
        let ev = b.drain();
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].lifecycle, Lifecycle::New);
        b.raise(20 * MIN, &ctx(1), det(AnomalyKind::RateSurge, 80));
        let up = b.drain();
        assert_eq!(up.len(), 1);
        assert_eq!(up[0].lifecycle, Lifecycle::Updated);
        assert_eq!(up[0].finding_id, ev[0].finding_id);
        assert_eq!(up[0].count, 10);
        b.advance(79 * MIN);
        assert!(b.drain().is_empty(), "not quiet for an hour yet");
        b.advance(81 * MIN);
        let closed = b.drain();
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].lifecycle, Lifecycle::Closed);
        assert_eq!(closed[0].finding_id, ev[0].finding_id);
        assert_eq!(closed[0].time, 80 * MIN);
        assert_eq!(b.open_count(), 0);
    }

    #[test]
    fn ids_are_stable_for_the_same_key_and_input_and_differ_otherwise() {
        let run = |key: [u8; 16], consumer: u64| {
            let mut b = AlertBook::new(AlertSettings::default(), key);
            b.raise(5 * MIN, &ctx(consumer), det(AnomalyKind::BolaEnumeration, 90));
            b.drain()[0].finding_id.clone()
        };
        assert_eq!(run([1; 16], 9), run([1; 16], 9));
        assert_ne!(run([1; 16], 9), run([2; 16], 9));
        assert_ne!(run([1; 16], 9), run([1; 16], 8));
        assert_eq!(run([1; 16], 9).len(), 32);
    }

    #[test]
    fn new_findings_are_rate_limited_per_consumer_and_kind() {
        let mut b = AlertBook::new(AlertSettings { max_new_per_hour: 2, ..AlertSettings::default() }, [0; 16]);
        for subject in 0..5u64 {
            let mut d = det(AnomalyKind::ShadowEndpointUse, 60);
            d.subject = subject;
            b.raise(MIN + subject, &ctx(3), d);
        }
        assert_eq!(b.drain().len(), 2);
        assert_eq!(b.stats().rate_limited, 3);
        // Another consumer is not limited by the first.
        b.raise(2 * MIN, &ctx(4), det(AnomalyKind::ShadowEndpointUse, 60));
        assert_eq!(b.drain().len(), 1);
    }

    #[test]
    fn the_open_bound_closes_the_quietest_first() {
        let mut b = AlertBook::new(AlertSettings { max_open: 2, ..AlertSettings::default() }, [0; 16]);
        b.raise(MIN, &ctx(1), det(AnomalyKind::NewOrigin, 60));
        b.raise(2 * MIN, &ctx(2), det(AnomalyKind::NewOrigin, 60));
        b.raise(3 * MIN, &ctx(3), det(AnomalyKind::NewOrigin, 60));
        let ev = b.drain();
        assert_eq!(ev.len(), 4);
        assert_eq!(ev[2].lifecycle, Lifecycle::Closed);
        assert_eq!(ev[2].consumer, None);
        assert_eq!(b.stats().evicted, 1);
        assert_eq!(b.open_count(), 2);
    }
}
