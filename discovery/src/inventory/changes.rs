//! What changed in the inventory since it was last looked at: the endpoint changes a SIEM
//! wants to hear about, each carrying the endpoint's whole current state.
//!
//! [`ChangeTracker::handle_report`] is given an [`InventoryReport`] and the packet time it was
//! taken at, compares it with what the previous call saw, and returns one [`EndpointChange`]
//! per endpoint that is new, changed class, went quiet long enough to be an orphan, changed
//! in a way a SIEM acts on, or left the inventory. Nothing is returned for endpoints whose
//! counters merely grew; a periodic refresh (`refresh_after`) brings their counters up to
//! date instead, so the message rate stays at most one per endpoint per refresh interval
//! whatever the traffic.
//!
//! The changes are meant for a compacted Kafka topic keyed by [`EndpointChange::key`]: the
//! topic keeps the newest message per endpoint, so every change carries the full state, never
//! a delta, and a consumer reading the compacted topic from the start sees the inventory as
//! the sensor last described it.
//!
//! The first call after the tracker is created reports every endpoint as `new_endpoint`, with
//! [`EndpointChange::initial`] set. The tracker keeps no state across restarts (and the
//! inventory starts empty too), so it cannot know what the topic already holds: announcing
//! everything makes the topic converge on the current state, and for a compacted topic it is
//! harmless either way, since a message for a key already present just replaces it with the
//! same endpoint's newer state. `initial` lets a SIEM rule tell "new to this sensor run" from
//! "appeared while the sensor was watching".
//!
//! Memory: one small record per endpoint of the last report (identity strings, the class,
//! the sets compared for `updated`, three times). The report's endpoints are bounded by the
//! inventory's own limits (`max_services`, `max_endpoints_per_service`,
//! `max_endpoints_total`) plus the operations of the loaded specs (orphans); endpoints that
//! leave the report are forgotten once their `removed` change is returned. The tracker adds
//! no bound of its own.
//!
//! Restarts: [`ChangeTracker::snapshot`] gives the tracker's state as plain data for the
//! daemon's store and [`ChangeTracker::restore`] carries on from it, so a restarted sensor
//! whose inventory was restored too announces only what changed while it was down, not every
//! endpoint as `initial` again. A tracker restored from a snapshot older than the inventory's
//! (the store lost the newer one) reports the difference as ordinary changes.
//!
//! Not supported: shadow and zombie endpoints that go quiet get no message of their own (their
//! `last_seen` stops moving); detecting that an orphan
//! operation listed under its spec's first bound host (or `*`) is the same operation later
//! called under a concrete host: that is a `removed` for the one key and a `new_endpoint` for
//! the other.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::report::{Classification, EndpointReport, GraphqlOperationReport, InventoryReport, FINDING_KINDS, ZOMBIE_REASONS};
use crate::content::SensitiveKind;

/// Settings of the [`ChangeTracker`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeConfig {
    /// How long (packet time) a documented endpoint that had traffic must stay without any
    /// before it is reported `gone_orphan`. Default 7 days: banks run weekly batch jobs
    /// (statement exports, weekend reconciliations) that call some operations once a week, and
    /// a shorter period would flap those endpoints between documented and orphan every week.
    /// Raise it past a month for monthly jobs.
    pub orphan_after: Duration,
    /// How often (packet time) an endpoint with new traffic but no other change gets an
    /// `updated` message refreshing its counters and `last_seen` in the compacted topic.
    /// `None` never refreshes. Default 24 hours: a SIEM's view of hits and last use is at most
    /// a day old, for at most one message per endpoint per day.
    pub refresh_after: Option<Duration>,
}

impl Default for ChangeConfig {
    fn default() -> Self {
        ChangeConfig { orphan_after: Duration::from_secs(7 * 86_400), refresh_after: Some(Duration::from_secs(86_400)) }
    }
}

/// What happened to an endpoint. Stable names: [`ChangeKind::name`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// The endpoint appeared in the inventory (or this is the first report after start).
    NewEndpoint,
    /// Its classification changed, e.g. documented to zombie when its spec is declared
    /// superseded or the server starts sending `Deprecation`, shadow to documented when a
    /// spec's base path shows up, orphan to documented when a quiet endpoint is called again.
    ClassificationChanged {
        /// The classification the previous message carried.
        from: Classification,
    },
    /// A documented endpoint that had traffic has had none for `orphan_after`: its
    /// classification is now `orphan`.
    GoneOrphan {
        /// The classification the previous message carried.
        from: Classification,
    },
    /// Something a SIEM acts on changed without a change of class, or the refresh interval
    /// passed with new traffic.
    Updated {
        /// What changed, from [`UPDATE_REASONS`].
        changed: Vec<&'static str>,
    },
    /// The endpoint is no longer in the inventory: an inferred template merged into a broader
    /// one, or an orphan operation that is now called under another service name.
    Removed,
}

/// The values of `ChangeKind::Updated::changed`, in the order they are listed:
/// `zombie_reasons`, `spec` (the documenting operation), `accepted` (the operator accepted or
/// un-accepted a shadow endpoint), `auth` (a new set of authentication kinds, e.g. `none`
/// appearing), `request_sensitive` and `response_sensitive` (a new set of sensitive-data
/// kinds), `findings` (the endpoint's inventory findings), `activity` (the periodic refresh).
pub const UPDATE_REASONS: [&str; 8] =
    ["zombie_reasons", "spec", "accepted", "auth", "request_sensitive", "response_sensitive", "findings", "activity"];

impl ChangeKind {
    /// `new_endpoint`, `classification_changed`, `gone_orphan`, `updated` or `removed`.
    pub fn name(&self) -> &'static str {
        match self {
            ChangeKind::NewEndpoint => "new_endpoint",
            ChangeKind::ClassificationChanged { .. } => "classification_changed",
            ChangeKind::GoneOrphan { .. } => "gone_orphan",
            ChangeKind::Updated { .. } => "updated",
            ChangeKind::Removed => "removed",
        }
    }

    /// The classification before the change, for `classification_changed` and `gone_orphan`.
    pub fn from(&self) -> Option<Classification> {
        match self {
            ChangeKind::ClassificationChanged { from } | ChangeKind::GoneOrphan { from } => Some(*from),
            _ => None,
        }
    }
}

/// One endpoint change, with the endpoint's whole current state.
#[derive(Clone, Debug)]
pub struct EndpointChange {
    /// The endpoint key ([`endpoint_key`]): the Kafka key.
    pub key: String,
    /// Service, as the inventory names it.
    pub service: String,
    /// Method, upper case.
    pub method: String,
    /// Path template.
    pub path: String,
    /// What happened.
    pub kind: ChangeKind,
    /// Packet time of the report that showed it (ns since the epoch).
    pub time: u64,
    /// Emitted by the first call after the tracker was created.
    pub initial: bool,
    /// The classification now: the report's, except `orphan` for an endpoint gone quiet (the
    /// report keeps calling it documented). For `removed`, the last one reported.
    pub classification: Classification,
    /// Kinds of the inventory's findings about this endpoint (`shadow_endpoint`,
    /// `zombie_in_use`, `sensitive_data_without_authentication`), sorted.
    pub findings: Vec<&'static str>,
    /// The endpoint's entry in the report, its `classification` replaced by the one above.
    /// `None` for `removed` and for GraphQL operations.
    pub endpoint: Option<EndpointReport>,
    /// The GraphQL operation's entry in the report, for a GraphQL operation (method
    /// `GRAPHQL`, path `PATH TYPE NAME`); `None` otherwise and for `removed`.
    pub graphql: Option<GraphqlOperationReport>,
}

/// Counters of the tracker, since it was created (restores included).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeStats {
    /// Reports compared.
    pub reports: u64,
    /// `new_endpoint` changes (the initial ones included).
    pub new_endpoints: u64,
    /// `classification_changed` changes.
    pub classification_changes: u64,
    /// `gone_orphan` changes.
    pub gone_orphans: u64,
    /// `updated` changes (refreshes included).
    pub updates: u64,
    /// Of those, refreshes only.
    pub refreshes: u64,
    /// `removed` changes.
    pub removed: u64,
    /// Report entries skipped because an earlier entry of the same report had the same key.
    pub duplicate_keys: u64,
}

/// The Kafka key of an endpoint: `SERVICE METHOD PATH`, single spaces, e.g.
/// `api.bank.example GET /open-banking/v4.0/aisp/accounts/{AccountId}`.
///
/// SERVICE is the inventory's service name: the `Host` header in lower case without a
/// default port (`:80`, `:443`) or userinfo, else the server's `address:port`; for an orphan
/// operation never called, the first host its spec is bound to, or `*`. METHOD is the method
/// in upper case (`OTHER` for odd ones). PATH is the template: the documented one with the
/// base path traffic uses, an operator route, or the inferred template. Neither SERVICE nor
/// METHOD contains a space, so the key splits unambiguously at its first two spaces.
///
/// The key depends only on the traffic's names and the loaded specs and templates, never on
/// the sensor or the run, so two sensors seeing the same service, and every run of one
/// sensor, key an endpoint the same. Inferred templates are the exception while the templater
/// is still learning: a literal path may later merge into a template (the literal key is
/// then `removed`).
pub fn endpoint_key(service: &str, method: &str, path: &str) -> String {
    format!("{service} {method} {path}")
}

/// What the tracker remembers of one endpoint.
#[derive(Clone, Debug)]
struct Tracked {
    service: String,
    method: String,
    path: String,
    /// The classification the last change carried.
    class: Classification,
    salient: Salient,
    /// Packet time of the last message about it.
    emitted_at: u64,
    /// Its `last_seen` (ns) in that message.
    emitted_last_seen: Option<u64>,
}

/// The parts of an endpoint whose change is worth a message.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Salient {
    zombie_reasons: BTreeSet<&'static str>,
    spec: Option<String>,
    accepted: bool,
    auth: BTreeSet<String>,
    request_sensitive: BTreeSet<SensitiveKind>,
    response_sensitive: BTreeSet<SensitiveKind>,
    findings: BTreeSet<&'static str>,
}

impl Salient {
    fn of(e: &EndpointReport, findings: &BTreeSet<&'static str>) -> Self {
        Salient {
            zombie_reasons: e.zombie_reasons.iter().copied().collect(),
            spec: e
                .spec
                .as_ref()
                .map(|s| format!("{}\n{}\n{}\n{}", s.file, s.version, s.operation_path, s.operation_id.as_deref().unwrap_or(""))),
            accepted: e.accepted.is_some(),
            auth: e.auth.keys().cloned().collect(),
            request_sensitive: e.request_sensitive.keys().copied().collect(),
            response_sensitive: e.response_sensitive.keys().copied().collect(),
            findings: findings.clone(),
        }
    }

    /// Nothing salient but what is set afterwards (GraphQL operations have only findings).
    fn empty() -> Self {
        Salient {
            zombie_reasons: BTreeSet::new(),
            spec: None,
            accepted: false,
            auth: BTreeSet::new(),
            request_sensitive: BTreeSet::new(),
            response_sensitive: BTreeSet::new(),
            findings: BTreeSet::new(),
        }
    }

    /// Names of what differs from `old`, in [`UPDATE_REASONS`] order.
    fn changed_since(&self, old: &Salient) -> Vec<&'static str> {
        let mut out = Vec::new();
        let diffs = [
            self.zombie_reasons != old.zombie_reasons,
            self.spec != old.spec,
            self.accepted != old.accepted,
            self.auth != old.auth,
            self.request_sensitive != old.request_sensitive,
            self.response_sensitive != old.response_sensitive,
            self.findings != old.findings,
        ];
        for (differs, name) in diffs.into_iter().zip(UPDATE_REASONS) {
            if differs {
                out.push(name);
            }
        }
        out
    }
}

/// Packet time (ns) of an RFC 3339 timestamp as the report writes them; `None` if it does not
/// parse or is before the epoch.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let t = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    u64::try_from(t.timestamp_nanos_opt()?).ok()
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Compares successive inventory reports and returns the endpoint changes. Sans-IO: the
/// packet time comes with each report. See the module documentation for what is reported
/// and what the tracker holds.
#[derive(Clone, Debug)]
pub struct ChangeTracker {
    cfg: ChangeConfig,
    tracked: HashMap<String, Tracked>,
    /// Whether a report was handled already.
    started: bool,
    /// The latest packet time given, so a time going backwards does not undo quiet periods.
    now: u64,
    stats: ChangeStats,
}

impl ChangeTracker {
    /// A tracker that has seen nothing: its first report announces every endpoint.
    pub fn new(cfg: ChangeConfig) -> Self {
        ChangeTracker { cfg, tracked: HashMap::new(), started: false, now: 0, stats: ChangeStats::default() }
    }

    /// The settings in use.
    pub fn config(&self) -> &ChangeConfig {
        &self.cfg
    }

    /// Counters.
    pub fn stats(&self) -> &ChangeStats {
        &self.stats
    }

    /// Endpoints remembered (those of the last report).
    pub fn tracked(&self) -> usize {
        self.tracked.len()
    }

    /// The classification an endpoint has now: `orphan` for a documented operation that had
    /// traffic and none for `orphan_after`. A zombie whose spec is superseded is retired when
    /// it goes quiet, not orphaned (the report treats its never-called operations the same).
    fn effective(&self, e: &EndpointReport, last_seen: Option<u64>, now: u64) -> Classification {
        let quiet = last_seen.is_some_and(|t| now.saturating_sub(t) >= nanos(self.cfg.orphan_after));
        let orphanable = e.spec.is_some()
            && match e.classification {
                Classification::Documented => true,
                Classification::Zombie => !e.zombie_reasons.contains(&"superseded_spec"),
                _ => false,
            };
        if quiet && orphanable {
            Classification::Orphan
        } else {
            e.classification
        }
    }

    /// Compares `report`, taken at packet time `now` (ns since the epoch), with the previous
    /// one and returns the changes: first those of the report's endpoints in the report's
    /// order (host, path, method), then the `removed` ones by key. A `now` earlier than a
    /// previous one counts as that previous one.
    #[must_use = "the changes are only returned once"]
    pub fn handle_report(&mut self, now: u64, report: &InventoryReport) -> Vec<EndpointChange> {
        let now = now.max(self.now);
        self.now = now;
        let initial = !self.started;
        self.started = true;
        self.stats.reports += 1;
        let mut findings: HashMap<String, BTreeSet<&'static str>> = HashMap::new();
        for f in &report.findings {
            if let (Some(method), Some(path)) = (&f.method, &f.path) {
                findings.entry(endpoint_key(&f.host, method, path)).or_default().insert(f.kind);
            }
        }
        let refresh = self.cfg.refresh_after.map(nanos);
        let no_findings = BTreeSet::new();
        let mut seen: HashSet<String> = HashSet::with_capacity(report.endpoints.len());
        let mut out = Vec::new();
        for e in &report.endpoints {
            let key = endpoint_key(&e.host, &e.method, &e.path);
            if !seen.insert(key.clone()) {
                self.stats.duplicate_keys += 1;
                continue;
            }
            let last_seen = e.last_seen.as_deref().and_then(parse_rfc3339);
            let class = self.effective(e, last_seen, now);
            let f = findings.get(&key).unwrap_or(&no_findings);
            let salient = Salient::of(e, f);
            let ident = (e.host.clone(), e.method.clone(), e.path.clone());
            let Some(kind) = self.track(&key, ident, class, salient, last_seen, now, refresh) else { continue };
            let mut endpoint = e.clone();
            endpoint.classification = class;
            out.push(EndpointChange {
                key,
                service: e.host.clone(),
                method: e.method.clone(),
                path: e.path.clone(),
                kind,
                time: now,
                initial,
                classification: class,
                findings: f.iter().copied().collect(),
                endpoint: Some(endpoint),
                graphql: None,
            });
        }
        for g in &report.graphql_operations {
            let path = super::operation_path(&g.path, g.operation_type, &g.operation_name);
            let key = endpoint_key(&g.host, super::GRAPHQL_METHOD, &path);
            if !seen.insert(key.clone()) {
                self.stats.duplicate_keys += 1;
                continue;
            }
            // An operation is documented as far as the HTTP endpoint that carries it is.
            let class = report
                .endpoints
                .iter()
                .filter(|e| e.host == g.host && e.path == g.path && e.hits > 0)
                .map(|e| e.classification)
                .min()
                .unwrap_or(Classification::Shadow);
            let last_seen = parse_rfc3339(&g.last_seen);
            let f = findings.get(&key).unwrap_or(&no_findings);
            let salient = Salient { findings: f.clone(), ..Salient::empty() };
            let ident = (g.host.clone(), super::GRAPHQL_METHOD.to_string(), path.clone());
            let Some(kind) = self.track(&key, ident, class, salient, last_seen, now, refresh) else { continue };
            out.push(EndpointChange {
                key,
                service: g.host.clone(),
                method: super::GRAPHQL_METHOD.to_string(),
                path,
                kind,
                time: now,
                initial,
                classification: class,
                findings: f.iter().copied().collect(),
                endpoint: None,
                graphql: Some(g.clone()),
            });
        }
        let mut gone: Vec<String> = self.tracked.keys().filter(|k| !seen.contains(*k)).cloned().collect();
        gone.sort();
        for key in gone {
            let Some(t) = self.tracked.remove(&key) else { continue };
            self.stats.removed += 1;
            out.push(EndpointChange {
                key,
                service: t.service,
                method: t.method,
                path: t.path,
                kind: ChangeKind::Removed,
                time: now,
                initial: false,
                classification: t.class,
                findings: Vec::new(),
                endpoint: None,
                graphql: None,
            });
        }
        out
    }
}

impl ChangeTracker {
    /// Compares one entry with what was last said about `key`; remembers it and returns the
    /// change when there is one to announce.
    #[allow(clippy::too_many_arguments)]
    fn track(
        &mut self,
        key: &str,
        (service, method, path): (String, String, String),
        class: Classification,
        salient: Salient,
        last_seen: Option<u64>,
        now: u64,
        refresh: Option<u64>,
    ) -> Option<ChangeKind> {
        let kind = match self.tracked.get(key) {
            None => ChangeKind::NewEndpoint,
            Some(t) if t.class != class => {
                if class == Classification::Orphan && last_seen.is_some() {
                    ChangeKind::GoneOrphan { from: t.class }
                } else {
                    ChangeKind::ClassificationChanged { from: t.class }
                }
            }
            Some(t) => {
                let mut changed = salient.changed_since(&t.salient);
                let active = last_seen.is_some_and(|ls| t.emitted_last_seen.is_none_or(|old| ls > old));
                let due = refresh.is_some_and(|r| now.saturating_sub(t.emitted_at) >= r);
                if changed.is_empty() && active && due {
                    changed.push("activity");
                    self.stats.refreshes += 1;
                }
                if changed.is_empty() {
                    return None;
                }
                ChangeKind::Updated { changed }
            }
        };
        match kind {
            ChangeKind::NewEndpoint => self.stats.new_endpoints += 1,
            ChangeKind::ClassificationChanged { .. } => self.stats.classification_changes += 1,
            ChangeKind::GoneOrphan { .. } => self.stats.gone_orphans += 1,
            ChangeKind::Updated { .. } => self.stats.updates += 1,
            ChangeKind::Removed => {}
        }
        self.tracked.insert(key.to_string(), Tracked { service, method, path, class, salient, emitted_at: now, emitted_last_seen: last_seen });
        Some(kind)
    }
}

/// The layout of [`ChangeTrackerSnapshot`] this release writes and reads; bumped (with a
/// reader kept for the previous one) on an incompatible change.
pub const CHANGE_SNAPSHOT_FORMAT: u32 = 1;

/// A [`ChangeTracker`]'s state as plain data (serde: JSON, CBOR, ...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeTrackerSnapshot {
    /// [`CHANGE_SNAPSHOT_FORMAT`] when written by this release.
    pub format: u32,
    /// Whether a report was handled already (a restored tracker that had not is still at its
    /// initial report).
    pub started: bool,
    /// The latest packet time given (ns).
    pub now: u64,
    /// The counters.
    pub stats: ChangeStats,
    /// What was last said about each endpoint, by key order.
    pub endpoints: Vec<TrackedSnapshot>,
}

/// What the tracker last said about one endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackedSnapshot {
    /// Service.
    pub service: String,
    /// Method.
    pub method: String,
    /// Path template.
    pub path: String,
    /// The classification the last change carried.
    pub classification: Classification,
    /// Zombie reasons then.
    pub zombie_reasons: Vec<String>,
    /// The documenting operation then (file, version, path, operationId).
    pub spec: Option<String>,
    /// Accepted then.
    pub accepted: bool,
    /// Authentication kinds then.
    pub auth: Vec<String>,
    /// Sensitive kinds in requests then.
    pub request_sensitive: Vec<SensitiveKind>,
    /// Sensitive kinds in responses then.
    pub response_sensitive: Vec<SensitiveKind>,
    /// Finding kinds then.
    pub findings: Vec<String>,
    /// Packet time (ns) of the last message about it.
    pub emitted_at: u64,
    /// Its `last_seen` (ns) in that message.
    pub emitted_last_seen: Option<u64>,
}

fn known_name(list: &[&'static str], name: &str, what: &str) -> Result<&'static str, String> {
    list.iter().copied().find(|n| *n == name).ok_or_else(|| {
        format!("change tracker snapshot: unknown {what} `{}` (known: {})", name.chars().take(64).collect::<String>(), list.join(", "))
    })
}

impl ChangeTracker {
    /// The state as plain data, endpoints in key order.
    pub fn snapshot(&self) -> ChangeTrackerSnapshot {
        let mut keys: Vec<&String> = self.tracked.keys().collect();
        keys.sort();
        let endpoints = keys
            .into_iter()
            .filter_map(|k| self.tracked.get(k))
            .map(|t| TrackedSnapshot {
                service: t.service.clone(),
                method: t.method.clone(),
                path: t.path.clone(),
                classification: t.class,
                zombie_reasons: t.salient.zombie_reasons.iter().map(|s| s.to_string()).collect(),
                spec: t.salient.spec.clone(),
                accepted: t.salient.accepted,
                auth: t.salient.auth.iter().cloned().collect(),
                request_sensitive: t.salient.request_sensitive.iter().copied().collect(),
                response_sensitive: t.salient.response_sensitive.iter().copied().collect(),
                findings: t.salient.findings.iter().map(|s| s.to_string()).collect(),
                emitted_at: t.emitted_at,
                emitted_last_seen: t.emitted_last_seen,
            })
            .collect();
        ChangeTrackerSnapshot { format: CHANGE_SNAPSHOT_FORMAT, started: self.started, now: self.now, stats: self.stats.clone(), endpoints }
    }

    /// A tracker carrying on from `snap` under `cfg`. The snapshot is hostile input: refused
    /// with the reason when its format is not [`CHANGE_SNAPSHOT_FORMAT`], it tracks more than
    /// `max_tracked` endpoints (pass the inventory's `max_endpoints_total` plus the loaded
    /// specs' operations: the most a report can list), an endpoint appears twice, or a
    /// zombie reason or finding kind is unknown. Never panics.
    pub fn restore(cfg: ChangeConfig, snap: ChangeTrackerSnapshot, max_tracked: usize) -> Result<ChangeTracker, String> {
        if snap.format != CHANGE_SNAPSHOT_FORMAT {
            return Err(format!(
                "change tracker snapshot: format {} is not the format {CHANGE_SNAPSHOT_FORMAT} this release reads (start a new tracker: its first report announces every endpoint as initial)",
                snap.format
            ));
        }
        if snap.endpoints.len() > max_tracked {
            return Err(format!(
                "change tracker snapshot: {} endpoints, more than {max_tracked} (the inventory's endpoint bound plus the specs' operations)",
                snap.endpoints.len()
            ));
        }
        let s = &snap.stats;
        let counters = [s.reports, s.new_endpoints, s.classification_changes, s.gone_orphans, s.updates, s.refreshes, s.removed, s.duplicate_keys];
        if let Some(v) = counters.iter().find(|v| **v > super::MAX_SNAPSHOT_COUNT) {
            return Err(format!("change tracker snapshot: a counter of {v}, above the largest plausible count {}", super::MAX_SNAPSHOT_COUNT));
        }
        let mut tracked = HashMap::with_capacity(snap.endpoints.len());
        for e in snap.endpoints {
            let key = endpoint_key(&e.service, &e.method, &e.path);
            let zombie_reasons =
                e.zombie_reasons.iter().map(|r| known_name(&ZOMBIE_REASONS, r, "zombie reason")).collect::<Result<_, _>>()?;
            let findings = e.findings.iter().map(|f| known_name(&FINDING_KINDS, f, "finding kind")).collect::<Result<_, _>>()?;
            let salient = Salient {
                zombie_reasons,
                spec: e.spec,
                accepted: e.accepted,
                auth: e.auth.into_iter().collect(),
                request_sensitive: e.request_sensitive.into_iter().collect(),
                response_sensitive: e.response_sensitive.into_iter().collect(),
                findings,
            };
            let t = Tracked {
                service: e.service,
                method: e.method,
                path: e.path,
                class: e.classification,
                salient,
                emitted_at: e.emitted_at,
                emitted_last_seen: e.emitted_last_seen,
            };
            if tracked.insert(key.clone(), t).is_some() {
                return Err(format!("change tracker snapshot: endpoint `{}` listed twice", key.chars().take(256).collect::<String>()));
            }
        }
        Ok(ChangeTracker { cfg, tracked, started: snap.started, now: snap.now, stats: snap.stats })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_at_the_first_two_spaces() {
        let k = endpoint_key("api.bank.example:8443", "GET", "/a b/{id}");
        assert_eq!(k, "api.bank.example:8443 GET /a b/{id}");
        let mut parts = k.splitn(3, ' ');
        assert_eq!(parts.next(), Some("api.bank.example:8443"));
        assert_eq!(parts.next(), Some("GET"));
        assert_eq!(parts.next(), Some("/a b/{id}"));
    }

    #[test]
    fn report_times_parse_back_to_packet_time_at_millisecond_precision() {
        for ns in [0u64, 951_782_400_123_000_000, 1_774_746_000_999_999_999] {
            let text = crate::inventory::rfc3339(ns);
            assert_eq!(parse_rfc3339(&text), Some(ns / 1_000_000 * 1_000_000), "{text}");
        }
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.000Z"), None);
    }

    #[test]
    fn every_kind_has_its_name() {
        let c = Classification::Documented;
        let names: Vec<&str> = [
            ChangeKind::NewEndpoint,
            ChangeKind::ClassificationChanged { from: c },
            ChangeKind::GoneOrphan { from: c },
            ChangeKind::Updated { changed: vec![] },
            ChangeKind::Removed,
        ]
        .iter()
        .map(ChangeKind::name)
        .collect();
        assert_eq!(names, ["new_endpoint", "classification_changed", "gone_orphan", "updated", "removed"]);
    }
}
