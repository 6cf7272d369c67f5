//! The daemon's state in the store: what a start restores, what each checkpoint writes, and
//! the erasures and retention applied on the way.
//!
//! Encoding: every section and profile is JSON (serde_json), readable with `sqlite3` and
//! SQLite's JSON functions. Each carries its own format number (the discovery crate's
//! `*_FORMAT` constants); a part of another format is left out at restore, logged, and starts
//! empty rather than stopping the sensor.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use apitap_discovery::behaviour::decision::decision_event;
use apitap_discovery::behaviour::{
    Anomaly, BehaviourSnapshot, Profile, Producer, BEHAVIOUR_SNAPSHOT_FORMAT, PROFILE_FORMAT,
};
use apitap_discovery::identity::{ConsumerId, CustomerId, IdentitySnapshot, IDENTITY_SNAPSHOT_FORMAT};
use apitap_discovery::tuning::TriageMark;
use apitap_discovery::inventory::{ChangeTrackerSnapshot, InventorySnapshot, CHANGE_SNAPSHOT_FORMAT, SNAPSHOT_FORMAT};
use tracing::{info, warn};

use crate::analysis::{Analysis, AnalysisState};
use crate::store::db::{
    key_fingerprint, Checkpoint, CheckpointStats, ConsumerRow, CustomerLink, EndpointRow, ErasureKind, FindingRow, KeyCheck,
    Loaded, RetentionConfig, Section, Store,
};

/// Section names in the store's `state` table.
pub const INVENTORY: &str = "inventory";
/// See [`INVENTORY`].
pub const BEHAVIOUR: &str = "behaviour";
/// See [`INVENTORY`].
pub const IDENTITY: &str = "identity";
/// See [`INVENTORY`].
pub const CHANGES: &str = "kafka_changes";

/// Finding events kept between two checkpoints. Findings are rate-limited per consumer and
/// kind, so a checkpoint interval holds far fewer; past it events are counted as not stored
/// (`findings_dropped`; Kafka still carries them).
pub const MAX_PENDING_FINDINGS: usize = 100_000;

/// What a start found in the store.
pub struct Restored {
    /// The analysis parts.
    pub state: AnalysisState,
    /// The Kafka change tracker.
    pub changes: Option<ChangeTrackerSnapshot>,
    /// Packet time of the checkpoint restored (0 for a new store).
    pub packet_time: u64,
}

fn decode<T: serde::de::DeserializeOwned>(name: &str, want: u32, format: u32, data: &[u8]) -> Option<T> {
    if format != want {
        warn!(section = name, format, want, "stored state of another format left out; it starts empty");
        return None;
    }
    match serde_json::from_slice(data) {
        Ok(v) => Some(v),
        Err(e) => {
            warn!(section = name, error = %e, "stored state unreadable; it starts empty");
            None
        }
    }
}

/// Turns a loaded checkpoint into the parts to restore; what cannot be read is logged and
/// left out.
pub fn restored(loaded: Option<Loaded>) -> Restored {
    let Some(mut l) = loaded else {
        return Restored { state: AnalysisState::default(), changes: None, packet_time: 0 };
    };
    let mut take = |name: &str| l.sections.remove(name);
    let inventory = take(INVENTORY).and_then(|s| decode::<InventorySnapshot>(INVENTORY, SNAPSHOT_FORMAT, s.format, &s.data));
    let global = take(BEHAVIOUR).and_then(|s| decode::<BehaviourSnapshot>(BEHAVIOUR, BEHAVIOUR_SNAPSHOT_FORMAT, s.format, &s.data));
    let identity = take(IDENTITY).and_then(|s| decode::<IdentitySnapshot>(IDENTITY, IDENTITY_SNAPSHOT_FORMAT, s.format, &s.data));
    let changes = take(CHANGES).and_then(|s| decode::<ChangeTrackerSnapshot>(CHANGES, CHANGE_SNAPSHOT_FORMAT, s.format, &s.data));
    let mut profiles = Vec::with_capacity(l.consumers.len());
    let mut unreadable = 0u64;
    for row in l.consumers {
        let (Some(blob), Ok(id)) = (row.profile.as_deref(), u64::from_str_radix(&row.id, 16)) else {
            unreadable += 1;
            continue;
        };
        // A row is a file's content: one larger than any real profile is not decoded at all.
        if blob.len() > apitap_discovery::behaviour::persist::MAX_PROFILE_ENCODED_BYTES {
            unreadable += 1;
            continue;
        }
        match (row.format == PROFILE_FORMAT).then(|| serde_json::from_slice::<Profile>(blob)) {
            Some(Ok(p)) => profiles.push((id, p)),
            _ => unreadable += 1,
        }
    }
    if unreadable > 0 {
        warn!(profiles = unreadable, "stored profiles of another format or unreadable left out; those consumers start fresh");
    }
    let behaviour = global.map(|g| (g, profiles));
    Restored { state: AnalysisState { inventory, behaviour, identity }, changes, packet_time: l.packet_time }
}

/// Opens the daemon's store (created if new, migrated if older, locked against a second
/// daemon) and checks that the hashing key is the one its ids were made with.
pub fn open(path: &Path, key: &[u8; 16]) -> Result<(Store, Option<Loaded>)> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create the store's folder {}", dir.display()))?;
    }
    let mut store = Store::open_exclusive(path).with_context(|| format!("store {}", path.display()))?;
    if let Some(v) = store.migrated_from().filter(|v| *v > 0) {
        info!(from = v, "store schema upgraded");
    }
    match store.check_key(&key_fingerprint(key)).context("store key check")? {
        KeyCheck::Recorded | KeyCheck::Same => {}
        KeyCheck::Changed { .. } => {
            warn!(
                "the hashing secret differs from the one the store was written with: stored consumer ids no longer match; \
                 set [daemon] previous_hash_key_file to the old secret to carry baselines over (docs/deployment.md)"
            );
            store.accept_key(&key_fingerprint(key)).context("store key")?;
        }
    }
    let loaded = store.load().context("cannot read the last checkpoint")?;
    Ok((store, loaded))
}

/// Checkpoints the analysis into the store every interval of packet time.
pub struct Checkpointer {
    store: Store,
    interval: u64,
    next_due: u64,
    /// Profiles changed at or after this packet time go into the next checkpoint.
    profiles_since: u64,
    findings: Vec<FindingRow>,
    /// Finding events not stored because [`MAX_PENDING_FINDINGS`] was reached.
    pub findings_dropped: u64,
    retention: RetentionConfig,
    sensor_id: String,
    producer: Producer,
    /// Checkpoints written and failed.
    pub written: u64,
    /// See `written`.
    pub failed: u64,
    /// Packet time of the last checkpoint written.
    pub last_packet_time: u64,
    /// How long the last one took.
    pub last_duration: Duration,
    /// Services of the inventory at the last checkpoint.
    pub last_services: u64,
    /// Its endpoints by class.
    pub last_classes: std::collections::BTreeMap<String, u64>,
    /// Bytes of its snapshot (the metrics' inventory memory figure).
    pub last_inventory_bytes: u64,
}

impl Checkpointer {
    /// A checkpointer writing to `store` every `interval_secs` of packet time.
    pub fn new(store: Store, interval_secs: u64, retention: RetentionConfig, producer: Producer, restored_at: u64) -> Self {
        Checkpointer {
            store,
            interval: interval_secs.saturating_mul(1_000_000_000),
            next_due: 0,
            profiles_since: restored_at,
            findings: Vec::new(),
            findings_dropped: 0,
            retention,
            sensor_id: producer.sensor_id.clone(),
            producer,
            written: 0,
            failed: 0,
            last_packet_time: restored_at,
            last_duration: Duration::ZERO,
            last_services: 0,
            last_classes: std::collections::BTreeMap::new(),
            last_inventory_bytes: 0,
        }
    }

    /// The store (for reports).
    pub fn store(&mut self) -> &mut Store {
        &mut self.store
    }

    /// A retention change from a reload.
    pub fn set_retention(&mut self, retention: RetentionConfig) {
        self.retention = retention;
    }

    /// Whether a checkpoint is due at packet time `now` (the first one is due one interval
    /// after the first look).
    pub fn due(&mut self, now: u64) -> bool {
        if now == 0 {
            return false;
        }
        if self.next_due == 0 {
            self.next_due = now.saturating_add(self.interval);
        }
        now >= self.next_due
    }

    /// Keeps a finding event for the next checkpoint.
    pub fn record(&mut self, a: &Anomaly) {
        if self.findings.len() >= MAX_PENDING_FINDINGS {
            self.findings_dropped += 1;
            return;
        }
        let name = |v: serde_json::Value| v.as_str().unwrap_or_default().to_string();
        self.findings.push(FindingRow {
            finding_id: a.finding_id.clone(),
            kind: a.kind.code().to_string(),
            severity: name(serde_json::to_value(a.severity).unwrap_or_default()),
            consumer_id: a.consumer.as_ref().map(|c| c.id.clone()),
            customer_id: a.customer.clone(),
            first_seen: a.first_seen,
            last_seen: a.last_seen,
            lifecycle: name(serde_json::to_value(a.lifecycle).unwrap_or_default()),
            version: a.version,
            data: serde_json::to_string(&a.to_json(&self.producer)).unwrap_or_default(),
        });
    }

    /// The event for an analyst's decision `mark` on the finding `id` that the alert book no
    /// longer holds, built from its latest event (kept for the next checkpoint, or in the
    /// store) and kept for the next checkpoint in turn; `None` when neither holds the finding
    /// (it was never seen by this sensor, or retention removed it).
    pub fn decision_event(&mut self, id: &str, mark: &TriageMark, now: u64) -> Result<Option<serde_json::Value>> {
        let pending = self.findings.iter().filter(|r| r.finding_id == id).max_by_key(|r| r.version).cloned();
        let last = match pending {
            Some(r) => r,
            None => match self.store.finding(id).context("look up the finding decided on")? {
                Some(r) => r,
                None => return Ok(None),
            },
        };
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&last.data) else {
            warn!(finding = id, "stored finding event unreadable; the decision is not published");
            return Ok(None);
        };
        let Some(event) = decision_event(&value, mark, now) else { return Ok(None) };
        let version = event.pointer("/unmapped/finding_version").and_then(serde_json::Value::as_u64).and_then(|v| u32::try_from(v).ok()).unwrap_or(u32::MAX);
        if self.findings.len() >= MAX_PENDING_FINDINGS {
            self.findings_dropped += 1;
        } else {
            self.findings.push(FindingRow { version, data: serde_json::to_string(&event).unwrap_or_default(), ..last });
        }
        Ok(Some(event))
    }

    /// Applies erasures requested with `apitap purge` since the last checkpoint to the state in
    /// memory; returns their ids, marked applied by the checkpoint that follows.
    fn apply_erasures(&mut self, analysis: &mut Analysis) -> Result<Vec<i64>> {
        let pending = self.store.pending_erasures().context("pending erasures")?;
        let mut applied = Vec::new();
        for e in pending {
            match &e.kind {
                ErasureKind::Consumer(id) => {
                    if let Ok(key) = u64::from_str_radix(id, 16) {
                        let profile = analysis.behaviour_mut().is_some_and(|b| b.forget_consumer(key));
                        let links = analysis.identifier_mut().forget_consumer(key);
                        info!(erasure = e.id, profile, links, "consumer erased from memory");
                    }
                }
                ErasureKind::Customer(id) => {
                    let places = analysis.behaviour_mut().map_or(0, |b| b.forget_customer(id));
                    let links = id.parse::<CustomerId>().map_or(0, |c| analysis.identifier_mut().forget_customer(c));
                    info!(erasure = e.id, places, links, "customer erased from memory");
                }
                ErasureKind::OlderThan { .. } => {}
            }
            applied.push(e.id);
        }
        Ok(applied)
    }

    /// Writes one checkpoint of `analysis` (and the Kafka change tracker) at packet time `now`.
    pub fn checkpoint(&mut self, now: u64, analysis: &mut Analysis, changes: Option<ChangeTrackerSnapshot>) -> Result<CheckpointStats> {
        let started = Instant::now();
        let applied = self.apply_erasures(analysis)?;
        let mut removed: Vec<String> = Vec::new();
        let inventory = serde_json::to_vec(&analysis.inventory.snapshot()).context("inventory snapshot")?;
        let identity = {
            let id = analysis.identifier_mut();
            id.expire(now);
            serde_json::to_vec(&id.snapshot()).context("identity snapshot")?
        };
        let mut consumers = Vec::new();
        let mut links = Vec::new();
        let mut behaviour = None;
        if let Some(b) = analysis.behaviour_mut() {
            let expired = b.expire(now, self.retention.consumer_profiles.as_duration());
            removed.extend(expired.into_iter().chain(b.take_removed()).map(|id| ConsumerId(id).to_string()));
            for (id, p) in b.profiles_changed_since(self.profiles_since) {
                let s = p.summary(id);
                for c in &s.customers {
                    links.push(CustomerLink { consumer_id: s.id.clone(), customer_id: c.clone(), last_seen: s.last_seen });
                }
                consumers.push(ConsumerRow {
                    id: s.id,
                    label: Some(s.label),
                    source: Some(s.source),
                    first_seen: s.first_seen,
                    last_seen: s.last_seen,
                    requests: s.requests,
                    errors: s.errors,
                    endpoints: s.endpoints,
                    format: PROFILE_FORMAT,
                    profile: Some(serde_json::to_vec(p).context("profile")?),
                });
            }
            behaviour = Some((serde_json::to_vec(&b.snapshot_global()).context("behaviour snapshot")?, b.latest()));
        }
        let report = analysis.inventory.report();
        self.last_services = report.services.len() as u64;
        self.last_classes.clear();
        for e in &report.endpoints {
            *self.last_classes.entry(e.classification.name().to_string()).or_default() += 1;
        }
        self.last_inventory_bytes = inventory.len() as u64;
        let endpoints: Vec<EndpointRow> = report
            .endpoints
            .iter()
            .map(|e| EndpointRow {
                service: e.host.clone(),
                method: e.method.clone(),
                template: e.path.clone(),
                class: e.classification.name().to_string(),
                first_seen: e.first_seen.as_deref().and_then(apitap_discovery::inventory::parse_rfc3339),
                last_seen: e.last_seen.as_deref().and_then(apitap_discovery::inventory::parse_rfc3339),
                requests: e.hits,
                data: serde_json::to_string(e).unwrap_or_default(),
            })
            .collect();
        let changes = changes.map(|c| serde_json::to_vec(&c)).transpose().context("change tracker snapshot")?;
        let report_json = serde_json::to_vec(&report).context("inventory report")?;
        let mut sections = vec![
            Section { name: INVENTORY, format: SNAPSHOT_FORMAT, data: &inventory },
            Section { name: super::reports::INVENTORY_REPORT, format: super::reports::INVENTORY_REPORT_FORMAT, data: &report_json },
            Section { name: IDENTITY, format: IDENTITY_SNAPSHOT_FORMAT, data: &identity },
        ];
        if let Some((b, _)) = &behaviour {
            sections.push(Section { name: BEHAVIOUR, format: BEHAVIOUR_SNAPSHOT_FORMAT, data: b });
        }
        if let Some(c) = &changes {
            sections.push(Section { name: CHANGES, format: CHANGE_SNAPSHOT_FORMAT, data: c });
        }
        let findings = std::mem::take(&mut self.findings);
        let meta = [("sensor_id", self.sensor_id.as_str())];
        let cp = Checkpoint {
            packet_time: now,
            sections: &sections,
            consumers: &consumers,
            removed_consumers: &removed,
            customer_links: &links,
            findings: &findings,
            endpoints: Some(&endpoints),
            meta: &meta,
            applied_erasures: &applied,
            retention: Some(&self.retention),
        };
        match self.store.checkpoint(&cp) {
            Ok(stats) => {
                if let Some((_, latest)) = behaviour {
                    self.profiles_since = latest;
                }
                self.written += 1;
                self.last_packet_time = now;
                self.last_duration = started.elapsed();
                self.next_due = now.saturating_add(self.interval);
                Ok(stats)
            }
            Err(e) => {
                // The findings go into the next attempt.
                self.findings = findings;
                self.failed += 1;
                self.next_due = now.saturating_add(self.interval);
                Err(anyhow::Error::new(e).context("checkpoint failed"))
            }
        }
    }
}
