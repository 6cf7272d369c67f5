//! Per-consumer behavioural baselines and anomaly detection, on packet time.
//!
//! [`Behaviour::observe`] takes one [`Transaction`] (a request with its consumer
//! [`Identity`](crate::identity::Identity) and its place in the inventory) and:
//! 1. runs the detectors against the consumer's baseline as it was before the request
//!    ([`detect`]): `http_smuggling`, `credential_stuffing`, `bola_enumeration`,
//!    `bulk_export`, `response_size`, `off_hours`, `new_origin`, `new_fingerprint`,
//!    `rate_surge`, `error_spike`, `shadow_endpoint_use`, `zombie_endpoint_use`,
//!    `unauthenticated_sensitive`;
//! 2. adds the request to the baseline ([`profile::Profile`]: seasonal rate by bank-local hour
//!    of week, endpoint mix, networks, agents, fingerprints, object ids received, PSD2
//!    accesses, error share, latency, customers);
//! 3. turns detections into findings ([`alerts::AlertBook`]): one per incident with a stable
//!    id, `new`, `updated` at most every 15 minutes, `closed` after an hour of quiet.
//!
//! Everything runs on the packets' timestamps: a recorded week replayed in seconds raises the
//! same findings, with the same ids, as the live week (given the same hashing key).
//!
//! Bounds: `max_consumers` profiles of at most about 64 KiB each (the least recently seen is
//! forgotten first), `max_endpoints` endpoint and service baselines, `alerts.max_open`
//! findings.
//!
//! Persistence ([`persist`]): [`Behaviour::snapshot_global`] and the per-consumer
//! [`Behaviour::profiles_changed_since`] give everything the layer holds, serde-serialisable
//! and versioned; [`Behaviour::restore`] rebuilds a layer from them under the current
//! configuration's limits. Erasure and retention ([`Behaviour::forget_consumer`],
//! [`Behaviour::forget_customer`], [`Behaviour::expire`]) and key rotation
//! ([`Identity::previous_id`](crate::identity::Identity::previous_id): a profile follows its
//! consumer to the new id) are in `erase.rs`.
//!
//! Not supported: per-customer baselines (customers are counted per consumer, the most
//! frequent by id, and named in findings, but not profiled on their own).

pub mod alerts;
#[cfg(test)]
mod alerts_suppress_tests;
pub mod anomaly;
pub mod config;
pub mod decision;
mod detect;
mod erase;
pub mod input;
pub mod persist;
pub mod profile;

use std::collections::HashMap;

use alerts::{AlertBook, AlertStats, Context};
use serde::{Deserialize, Serialize};
pub use anomaly::{Anomaly, AnomalyKind, ConsumerRef, EndpointRef, Lifecycle, Producer, Severity, ANOMALY_SCHEMA_VERSION};
pub use config::BehaviourConfig;
pub use detect::errors::ErrorWindow;
use detect::errors::Level;
pub use persist::{BehaviourSnapshot, RestoreStats, BEHAVIOUR_SNAPSHOT_FORMAT};
pub use profile::{ConsumerSummary, PROFILE_FORMAT};
use detect::Step;
pub use input::Transaction;
use input::stable_key;
pub use profile::Profile;

use crate::sketch::{BankClock, LogHistogram, NS_PER_HOUR, NS_PER_MINUTE};

/// Counters of the behavioural layer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BehaviourStats {
    /// Transactions observed.
    pub transactions: u64,
    /// Profiles created.
    pub consumers_created: u64,
    /// Profiles forgotten because `max_consumers` was reached.
    pub consumers_evicted: u64,
    /// Endpoint and service baselines not created because `max_endpoints` was reached.
    pub endpoints_overflow: u64,
    /// Transactions older than the latest seen by more than a minute (counted in their
    /// windows as far as those allow).
    pub late: u64,
    /// Profiles moved to a consumer's new id after a key rotation
    /// ([`Identity::previous_id`](crate::identity::Identity::previous_id)).
    pub consumers_rekeyed: u64,
    /// Profiles removed on request ([`Behaviour::forget_consumer`]).
    pub consumers_forgotten: u64,
    /// Profiles dropped for inactivity ([`Behaviour::expire`]).
    pub consumers_expired: u64,
    /// Places a customer id was removed from ([`Behaviour::forget_customer`]).
    pub customer_erasures: u64,
    /// Removed consumer ids that [`Behaviour::take_removed`] could not hold (more than
    /// `max_consumers` between two calls): the store must compare its rows with
    /// [`Behaviour::consumer_ids`].
    pub removed_unreported: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct EndpointState {
    sizes: LogHistogram,
    errors: ErrorWindow,
}

/// Responses an endpoint's size histogram holds before it is halved (old sizes fade).
const SIZE_DECAY_AT: u64 = 100_000;

/// Whether a template's last segment names the collection of a customer's accounts
/// (`account_collections`).
fn is_account_collection(cfg: &BehaviourConfig, template: &str) -> bool {
    let last = template.rsplit('/').find(|s| !s.is_empty()).unwrap_or("");
    cfg.account_collections.iter().any(|c| c == last)
}

/// The behavioural layer of one sensor.
pub struct Behaviour {
    cfg: BehaviourConfig,
    clock: BankClock,
    specs_loaded: bool,
    profiles: HashMap<u64, Profile>,
    endpoints: HashMap<u64, EndpointState>,
    services: HashMap<u64, ErrorWindow>,
    /// Error windows per API (the spec a request matched) of a service.
    apis: HashMap<u64, ErrorWindow>,
    /// Completed hourly request counts of warm consumers, per identity source: the peer
    /// baseline of consumers still warming up.
    peers: HashMap<String, LogHistogram>,
    alerts: AlertBook,
    stats: BehaviourStats,
    latest: u64,
    last_advance: u64,
    /// Consumer ids whose profile went (evicted, re-keyed) since the last `take_removed`.
    removed: Vec<u64>,
    /// The key finding ids are made with (kept to rebuild the layer on a reload).
    key: [u8; 16],
    /// Detector settings per service or consumer group (the first that applies wins).
    overrides: Vec<crate::tuning::DetectorOverride>,
}

impl Behaviour {
    /// A behavioural layer; `key` keys the finding ids (the deployment's secret).
    /// `specs_loaded`: whether any spec is loaded (without specs, undocumented says nothing).
    pub fn new(cfg: BehaviourConfig, key: [u8; 16], specs_loaded: bool) -> Result<Self, String> {
        let tz = cfg.validate()?;
        Ok(Behaviour {
            alerts: AlertBook::new(cfg.alerts.clone(), key),
            cfg,
            clock: BankClock::new(tz),
            specs_loaded,
            profiles: HashMap::new(),
            endpoints: HashMap::new(),
            services: HashMap::new(),
            apis: HashMap::new(),
            peers: HashMap::new(),
            stats: BehaviourStats::default(),
            latest: 0,
            last_advance: 0,
            removed: Vec::new(),
            key,
            overrides: Vec::new(),
        })
    }

    /// Counters.
    pub fn stats(&self) -> &BehaviourStats {
        &self.stats
    }

    /// The latest packet time seen (by `observe` or `advance`): what a checkpoint records as
    /// its time, and passes to [`Behaviour::profiles_changed_since`] at the next one.
    pub fn latest(&self) -> u64 {
        self.latest
    }

    /// The configuration in force.
    pub fn config(&self) -> &BehaviourConfig {
        &self.cfg
    }

    /// Findings open now.
    pub fn open_findings(&self) -> usize {
        self.alerts.open_count()
    }

    /// Counters of the findings.
    pub fn alert_stats(&self) -> &AlertStats {
        self.alerts.stats()
    }

    /// Profiles held.
    pub fn consumers(&self) -> usize {
        self.profiles.len()
    }

    /// The profile of a consumer, by its id.
    pub fn profile(&self, id: u64) -> Option<&Profile> {
        self.profiles.get(&id)
    }

    /// Bytes held by the largest profile, and by all of them.
    pub fn profile_memory(&self) -> (usize, usize) {
        self.profiles.values().fold((0, 0), |(max, sum), p| {
            let m = p.memory_bytes();
            (max.max(m), sum + m)
        })
    }

    /// Closes quiet findings at packet time `now` (also done by `observe` as time passes).
    pub fn advance(&mut self, now: u64) {
        self.latest = self.latest.max(now);
        self.last_advance = now;
        self.alerts.advance(now);
    }

    /// The suppression rules findings are judged by when they open.
    pub fn set_suppressions(&mut self, rules: crate::tuning::Suppressions) {
        self.alerts.set_suppressions(rules);
    }

    /// The suppression rules and absorbed patterns in force (to carry over to a rebuilt layer).
    pub fn tuning(&self) -> (crate::tuning::Suppressions, crate::tuning::Absorptions) {
        self.alerts.tuning()
    }

    /// An analyst's decision on the open finding `id` (see [`alerts::AlertBook::triage_event`]).
    pub fn triage_event(&mut self, id: &str, close: bool, now: u64) -> bool {
        self.alerts.triage_event(id, close, now)
    }

    /// Detector settings per service or consumer group, judged per request in order.
    pub fn set_overrides(&mut self, overrides: Vec<crate::tuning::DetectorOverride>) {
        self.overrides = overrides;
    }

    /// The overrides in force (to carry over to a rebuilt layer).
    pub fn overrides(&self) -> &[crate::tuning::DetectorOverride] {
        &self.overrides
    }

    /// The patterns analysts' verdicts absorbed into the baselines.
    pub fn set_absorptions(&mut self, absorbed: crate::tuning::Absorptions) {
        self.alerts.set_absorptions(absorbed);
    }

    /// Takes the finding events emitted so far, in order.
    pub fn drain(&mut self) -> Vec<Anomaly> {
        self.alerts.drain()
    }

    fn evict_profiles(&mut self) {
        // Forget the least recently seen hundredth at once, so that a flood of new consumers
        // costs one scan per hundred, not one per request.
        let n = (self.cfg.max_consumers / 100).max(1);
        let mut seen: Vec<(u64, u64)> = self.profiles.iter().map(|(k, p)| (p.last_seen, *k)).collect();
        seen.sort_unstable();
        for (_, k) in seen.into_iter().take(n) {
            self.profiles.remove(&k);
            self.note_removed(k);
            self.stats.consumers_evicted += 1;
        }
    }

    /// Observes one transaction: detectors first, then the baseline.
    pub fn observe(&mut self, tx: &Transaction<'_>) {
        self.stats.transactions += 1;
        let ts = tx.ts;
        if ts.saturating_add(NS_PER_MINUTE) < self.latest {
            self.stats.late += 1;
        }
        self.latest = self.latest.max(ts);
        if ts >= self.last_advance.saturating_add(NS_PER_MINUTE) {
            self.advance(ts);
        }
        let id = tx.identity;
        let consumer_key = id.id.0;
        if !self.profiles.contains_key(&consumer_key) {
            if let Some(old) = id.previous_id.map(|p| p.0).filter(|p| *p != consumer_key) {
                self.rekey(old, id);
            }
        }
        if !self.profiles.contains_key(&consumer_key) {
            if self.profiles.len() >= self.cfg.max_consumers {
                self.evict_profiles();
            }
            self.profiles.insert(consumer_key, Profile::new(id, ts, &self.cfg));
            self.stats.consumers_created += 1;
        }
        let obs = tx.observed;
        let endpoint = obs.template.as_ref().map(|t| EndpointRef {
            service: obs.service.clone(),
            method: obs.method.clone(),
            path_template: t.clone(),
            classification: obs.class().map(crate::inventory::Classification::name),
        });
        let endpoint_key = endpoint.as_ref().map_or(0, |e| stable_key(&[e.service.as_bytes(), e.method.as_bytes(), e.path_template.as_bytes()]));
        let network = id.network.to_string();
        let ctx = Context {
            consumer_key,
            consumer: Some(ConsumerRef { id: id.id.to_string(), label: id.label.clone(), source: id.source.name(), org_id: id.org_id.clone() }),
            customer: id.customer.map(|c| c.to_string()),
            network: Some(network.clone()),
            client_ip: Some(id.client_ip.to_string()),
            geo: id.geo.clone(),
            visibility: tx.visibility,
            // Copied only for the suppression rules, when there are any.
            user_agent: tx.user_agent.filter(|_| self.alerts.has_suppressions()).map(|ua| alerts::clip(ua, alerts::MAX_CONTEXT_AGENT_BYTES).to_string()),
            fingerprint: tx.fingerprint.filter(|_| self.alerts.has_suppressions()).map(str::to_string),
        };
        let ids = obs.template.as_deref().map(|t| input::requested_ids(t, tx.path)).unwrap_or_default();
        let account = ids.iter().find(|(name, _)| self.cfg.account_params.iter().any(|a| a == name)).map(|(_, v)| *v);
        let account_information = account.is_some() || obs.template.as_deref().is_some_and(|t| is_account_collection(&self.cfg, t));
        let cfg = match (&self.overrides[..], ctx.consumer.as_ref()) {
            ([], _) | (_, None) => &self.cfg,
            (list, Some(c)) => crate::tuning::overrides::select(list, &self.cfg, &obs.service, &c.id, &c.label, id.client_ip),
        };
        let step = Step {
            cfg,
            clock: &self.clock,
            tx,
            local: self.clock.local(ts),
            ctx,
            endpoint,
            endpoint_key,
            service_key: stable_key(&[obs.service.as_bytes()]),
            network_key: stable_key(&[network.as_bytes()]),
            success: tx.status.is_some_and(|s| (200..300).contains(&s)),
            ids,
            account,
            account_information,
        };
        let latest = self.latest;
        let Some(p) = self.profiles.get_mut(&consumer_key) else { return };
        p.changed = latest;
        let alerts = &mut self.alerts;
        let network_new = p.networks.get(step.network_key).is_none();
        let network_new_since_warm = detect::novelty::is_new(p, &p.networks, step.network_key, ts).is_some();
        let diverse = p.networks.len() > self.cfg.novelty.max_networks;

        detect::surface::smuggling(&step, alerts);
        detect::login::stuffing(&step, p, alerts, network_new && p.requests > 0);
        detect::access::bola(&step, p, alerts);
        detect::access::psd2(&step, p, alerts);
        let mut oversized = false;
        if endpoint_key != 0 && step.success {
            if !self.endpoints.contains_key(&endpoint_key) && self.endpoints.len() + self.services.len() >= self.cfg.max_endpoints {
                self.stats.endpoints_overflow += 1;
            } else {
                let st = self.endpoints.entry(endpoint_key).or_insert_with(|| EndpointState { sizes: LogHistogram::new(), errors: ErrorWindow::new(&self.cfg) });
                oversized = detect::volume::response_size(&step, &st.sizes, alerts);
                if !oversized {
                    st.sizes.record(tx.response_bytes);
                    if st.sizes.count() >= SIZE_DECAY_AT {
                        st.sizes.decay();
                    }
                }
            }
        }
        detect::volume::off_hours(&step, p, alerts, network_new_since_warm && !diverse);

        // The baseline takes the request now (the rate detectors compare the last hour,
        // this request included, with the expectation).
        p.last_seen = p.last_seen.max(ts);
        p.requests += 1;
        if tx.status.is_some_and(|s| s >= 400) {
            p.error_responses += 1;
        }
        let account_access = !id.attended && step.account_information;
        if let Some(acc) = step.account {
            p.windows(&self.cfg).recent_accounts.insert(stable_key(&[acc.as_bytes()]), ts);
        }
        let volume = profile::counts_as_volume(tx.status, account_access);
        let hour = BankClock::hour_index(ts);
        if p.hour.0 != hour {
            // The hour just finished, against what the baseline expected of it (before the
            // season takes it in).
            if p.is_warm() && p.hour_requests > 0 {
                let end = p.hour.0.saturating_add(1).saturating_mul(NS_PER_HOUR).saturating_sub(1);
                // A synchronising hour does not become the usual breadth.
                if !p.is_synchronising(end) {
                    let breadth = p.accounts_in_window(end) as f64;
                    p.account_breadth.update(breadth);
                }
            }
            if p.is_warm() && p.hour.1 > 0 {
                let start = p.hour.0.saturating_mul(NS_PER_HOUR);
                let expected = p.season.expected(&self.clock, start).rate;
                p.hour_ratio.update(((f64::from(p.hour.1) + 1.0) / (expected + 1.0)).ln());
                let expected = p.sessions.expected(&self.clock, start).rate;
                p.session_ratio.update(((f64::from(p.hour_sessions) + 1.0) / (expected + 1.0)).ln());
                self.peers.entry(p.source.clone()).or_default().record(u64::from(p.hour.1));
            }
            p.hour = (hour, 0);
            p.hour_requests = 0;
            p.hour_sessions = 0;
        }
        p.hour_requests = p.hour_requests.saturating_add(1);
        p.season.record(&self.clock, ts, 1);
        if matches!(tx.status, Some(401 | 403)) {
            p.recent_refused.add(ts, 1);
        }
        if volume {
            p.recent.add(ts, 1);
            p.hour.1 = p.hour.1.saturating_add(1);
            if p.recent_sessions.insert(tx.connection, ts) {
                p.sessions.record(&self.clock, ts, 1);
                p.hour_sessions = p.hour_sessions.saturating_add(1);
            } else {
                p.sessions.record(&self.clock, ts, 0);
            }
        } else {
            p.sessions.record(&self.clock, ts, 0);
        }

        detect::novelty::origin(&step, p, alerts);
        if let Some(ua) = tx.user_agent {
            let k = stable_key(&[b"ua", ua.as_bytes()]);
            detect::novelty::fingerprint(&step, p, &p.agents, k, "user_agent", ua, alerts);
        }
        if let Some(fp) = tx.fingerprint {
            let k = stable_key(&[b"ja4", fp.as_bytes()]);
            detect::novelty::fingerprint(&step, p, &p.fingerprints, k, "ja4", fp, alerts);
        }
        detect::volume::surge(&step, p, self.peers.get(&p.source), alerts);

        // Error spikes: service-wide, per endpoint, then per consumer unless the service or
        // endpoint already explains it.
        let mut explained = false;
        if !obs.service.is_empty() {
            if self.services.contains_key(&step.service_key) || self.endpoints.len() + self.services.len() < self.cfg.max_endpoints {
                let w = self.services.entry(step.service_key).or_insert_with(|| ErrorWindow::new(&self.cfg));
                explained |= detect::errors::spike(&step, w, Level::Service(&obs.service), alerts);
            } else {
                self.stats.endpoints_overflow += 1;
            }
        }
        let api_key = obs.api.as_deref().map(|a| stable_key(&[obs.service.as_bytes(), a.as_bytes()]));
        if let (Some(api), Some(k)) = (obs.api.as_deref(), api_key) {
            if self.apis.contains_key(&k) || self.endpoints.len() + self.services.len() + self.apis.len() < self.cfg.max_endpoints {
                let w = self.apis.entry(k).or_insert_with(|| ErrorWindow::new(&self.cfg));
                explained |= detect::errors::spike(&step, w, Level::Api(api, k), alerts);
            } else {
                self.stats.endpoints_overflow += 1;
            }
        }
        if let Some(st) = self.endpoints.get_mut(&endpoint_key) {
            explained |= detect::errors::spike(&step, &mut st.errors, Level::Endpoint, alerts);
        }
        // A consumer's own spike only when its errors are its own: not while the service's
        // window is erroring for everyone.
        let half = self.cfg.errors.min_error_share / 2.0;
        let service_erroring = self.services.get(&step.service_key).is_some_and(|w| w.error_share(ts) >= half)
            || api_key.and_then(|k| self.apis.get(&k)).is_some_and(|w| w.error_share(ts) >= half);
        let w = p.consumer_errors.get_or_insert_with(|| Box::new(ErrorWindow::new(&self.cfg)));
        if explained || service_erroring {
            w.count_only(&step);
        } else {
            detect::errors::spike(&step, w, Level::Consumer, alerts);
        }

        detect::surface::endpoint_use(&step, self.specs_loaded, alerts);
        detect::surface::unauthenticated(&step, alerts);

        // The rest of the baseline.
        if endpoint_key != 0 {
            p.endpoints.observe(endpoint_key, ts);
        }
        p.networks.observe(step.network_key, ts);
        if let Some(asn) = id.geo.asn {
            p.origins.observe(profile::asn_key(asn), ts);
        }
        if let Some(c) = id.geo.country {
            p.origins.observe(profile::country_key(c), ts);
        }
        if let Some(ua) = tx.user_agent {
            p.agents.observe(stable_key(&[b"ua", ua.as_bytes()]), ts);
        }
        if let Some(fp) = tx.fingerprint {
            p.fingerprints.observe(stable_key(&[b"ja4", fp.as_bytes()]), ts);
        }
        if step.success {
            for v in &obs.response_ids {
                p.received.insert(v.as_bytes());
            }
            for (_, v) in &step.ids {
                p.received.insert(v.as_bytes());
            }
        }
        if id.attended {
            p.attended += 1;
        } else {
            p.unattended += 1;
        }
        p.errors.add(hour, detect::errors::is_error(&self.cfg, tx.status));
        if let Some(ms) = tx.latency_ms {
            p.latency.record(ms.max(0.0) as u64);
        }
        if let Some(c) = id.customer {
            p.customers.insert(c.0);
            p.customer_ids.observe(c.0, ts);
        }
        let _ = oversized;
        p.check_warm(ts, cfg);
    }
}
