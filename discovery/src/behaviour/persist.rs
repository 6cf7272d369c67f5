//! What the behavioural layer holds, as data a store keeps across restarts and reloads, and
//! the way back.
//!
//! Two parts, so a checkpoint writes only what changed:
//! - the global part, [`BehaviourSnapshot`] ([`Behaviour::snapshot_global`]): endpoint, service
//!   and API baselines, the peer baselines, the open findings with their rate-limit history,
//!   the counters, and the layer's packet times;
//! - one [`Profile`] per consumer ([`Behaviour::profiles_changed_since`]), with the readable
//!   columns of its row in [`ConsumerSummary`] ([`Profile::summary`]).
//!
//! Everything is serde: any self-describing format serves (JSON, CBOR). Vectors of large
//! values (Bloom filter words, key hashes, times) are packed as bytes, base64 in JSON
//! ([`crate::sketch::packed`]); measured sizes are in `docs/behaviour.md`.
//!
//! # Versions
//!
//! [`BehaviourSnapshot::format`] and [`Profile::format`] say which encoding wrote them. The
//! rule: a change that adds, removes or redefines a field raises the format; this version reads
//! only its own. A global snapshot of another format is an error (the caller starts without
//! it, or uses the version that wrote it); a profile of another format is not restored
//! (counted, its consumer starts a new baseline). When a change is worth keeping baselines
//! across, the conversion from the previous format is added here.
//!
//! # Hostile input
//!
//! A snapshot from disk is input like any other: [`Behaviour::restore`] checks every structure
//! against the limits of the configuration in force (`max_consumers`, `max_endpoints`,
//! `alerts.max_open`, the per-profile limits), drops what does not fit with counts in
//! [`RestoreStats`], and never panics. The caller bounds the encoded size of what it decodes
//! ([`MAX_PROFILE_ENCODED_BYTES`] per profile row).
//!
//! # Reloads
//!
//! Restoring under a configuration whose window widths differ (a reload changed
//! `rate.window_hours` or a detector's `window_minutes`) rebuilds those windows empty
//! (`windows_reset`); the long-term baselines are kept. A changed `timezone` is reported
//! (`timezone_changed`): the seasonal slots learnt under the old zone are kept as they are,
//! shifted by the difference, until they re-learn.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use serde::{Deserialize, Serialize};

use super::alerts::{AlertBook, AlertsSnapshot};
use super::detect::errors::ErrorWindow;
use super::profile::Profile;
use super::{Behaviour, BehaviourConfig, BehaviourStats, EndpointState};
use crate::identity::IdSource;
use crate::sketch::LogHistogram;

/// Version of the [`BehaviourSnapshot`] encoding (see the module documentation for the rule).
pub const BEHAVIOUR_SNAPSHOT_FORMAT: u32 = 1;

/// Largest encoded profile the store should decode, in bytes (256 KiB): a profile at every
/// bound encodes to well under it (measured in `docs/behaviour.md`), so a larger row is damage.
pub const MAX_PROFILE_ENCODED_BYTES: usize = 256 * 1024;

/// The global part of the layer (everything but the per-consumer profiles).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BehaviourSnapshot {
    /// [`BEHAVIOUR_SNAPSHOT_FORMAT`] when written by this version.
    pub format: u32,
    /// The time zone the seasonal slots were learnt in.
    pub timezone: String,
    /// Response sizes and errors per endpoint, by endpoint key.
    pub endpoints: Vec<EndpointBaseline>,
    /// Errors per service, by service key.
    pub services: Vec<ErrorBaseline>,
    /// Errors per API (the spec a request matched) of a service, by key.
    pub apis: Vec<ErrorBaseline>,
    /// Hourly request counts of warm consumers per identity source (the peer baseline).
    pub peers: Vec<PeerBaseline>,
    /// The open findings and the rate-limit history.
    pub alerts: AlertsSnapshot,
    /// Counters.
    pub stats: BehaviourStats,
    /// Latest packet time seen.
    pub latest: u64,
    /// Packet time of the latest advance (findings closed up to it).
    pub last_advance: u64,
}

/// One endpoint's baseline.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EndpointBaseline {
    /// Endpoint key (stable hash of service, method, template).
    pub key: u64,
    /// Successful response sizes.
    pub sizes: LogHistogram,
    /// Errors in the short window and their baseline share.
    pub errors: ErrorWindow,
}

/// One service's or API's error baseline.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorBaseline {
    /// Service or API key.
    pub key: u64,
    /// Errors in the short window and their baseline share.
    pub errors: ErrorWindow,
}

/// The peer baseline of one identity source.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PeerBaseline {
    /// Identity source name (`jwt`, `client_cert`, ...).
    pub source: String,
    /// Completed hourly request counts of its warm consumers.
    pub hourly: LogHistogram,
}

/// What [`Behaviour::restore`] kept, rebuilt and dropped. Every dropped item is counted; the
/// first reason an item was invalid is in `first_error` for the log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RestoreStats {
    /// Profiles restored.
    pub profiles_restored: usize,
    /// Profiles not restored: another format, or a structure outside the profile limits.
    pub profiles_invalid: usize,
    /// Profiles given twice for one consumer (the first is kept).
    pub profiles_duplicate: usize,
    /// Profiles beyond `max_consumers` (the least recently seen are dropped).
    pub profiles_over_limit: usize,
    /// Windows rebuilt empty because the configuration gives them another width.
    pub windows_reset: usize,
    /// Endpoint, service and API baselines restored.
    pub endpoints_restored: usize,
    /// Endpoint, service and API baselines dropped as invalid or duplicate.
    pub endpoints_invalid: usize,
    /// Endpoint, service and API baselines beyond `max_endpoints` (those with fewer responses
    /// go first).
    pub endpoints_over_limit: usize,
    /// Peer baselines dropped (unknown source, invalid, duplicate).
    pub peers_dropped: usize,
    /// Open findings restored.
    pub findings_restored: usize,
    /// Findings dropped as invalid or duplicate.
    pub findings_invalid: usize,
    /// Findings beyond `alerts.max_open` (the quietest go first, without an event).
    pub findings_over_limit: usize,
    /// Rate-limit history entries dropped or cut.
    pub recent_dropped: usize,
    /// The snapshot's time zone is not the configured one.
    pub timezone_changed: bool,
    /// Why the first invalid item was dropped.
    pub first_error: Option<String>,
}

impl RestoreStats {
    fn invalid(&mut self, what: &str, key: u64, e: String) {
        self.first_error.get_or_insert_with(|| format!("{what} {key:016x}: {e}"));
    }
}

impl Behaviour {
    /// The global part of the layer, for a checkpoint. Drain events first: events not yet
    /// drained are not part of it. Vectors are ordered by key, so equal layers give equal
    /// snapshots.
    pub fn snapshot_global(&self) -> BehaviourSnapshot {
        let mut endpoints: Vec<EndpointBaseline> =
            self.endpoints.iter().map(|(k, e)| EndpointBaseline { key: *k, sizes: e.sizes.clone(), errors: e.errors.clone() }).collect();
        endpoints.sort_by_key(|e| e.key);
        let errors = |m: &HashMap<u64, ErrorWindow>| {
            let mut v: Vec<ErrorBaseline> = m.iter().map(|(k, w)| ErrorBaseline { key: *k, errors: w.clone() }).collect();
            v.sort_by_key(|e| e.key);
            v
        };
        let mut peers: Vec<PeerBaseline> = self.peers.iter().map(|(s, h)| PeerBaseline { source: s.clone(), hourly: h.clone() }).collect();
        peers.sort_by(|a, b| a.source.cmp(&b.source));
        BehaviourSnapshot {
            format: BEHAVIOUR_SNAPSHOT_FORMAT,
            timezone: self.cfg.timezone.clone(),
            endpoints,
            services: errors(&self.services),
            apis: errors(&self.apis),
            peers,
            alerts: self.alerts.snapshot(),
            stats: self.stats.clone(),
            latest: self.latest,
            last_advance: self.last_advance,
        }
    }

    /// The profiles changed at or after packet time `since_ns` (pass the
    /// [`Behaviour::latest`] recorded at the previous checkpoint; 0 gives every profile). A
    /// profile changes when a transaction of its consumer is observed (late ones included),
    /// when it is re-keyed, when a customer is erased from it, and when a restore rebuilt some
    /// of its windows. Nothing else changes a profile: windows and seasons are read at the
    /// time of a query, not rolled by [`Behaviour::advance`], so a row written at the last
    /// change restores to the same state. A profile changed at the very instant of a
    /// checkpoint is returned by both that one and the next.
    pub fn profiles_changed_since(&self, since_ns: u64) -> impl Iterator<Item = (u64, &Profile)> + '_ {
        self.profiles.iter().filter(move |(_, p)| p.changed >= since_ns).map(|(k, p)| (*k, p))
    }

    /// What [`Behaviour::restore`] needs to rebuild a layer like this one: its configuration,
    /// key and whether specs are loaded.
    pub fn restore_inputs(&self) -> (BehaviourConfig, [u8; 16], bool) {
        (self.cfg.clone(), self.key, self.specs_loaded)
    }

    /// The global snapshot and every profile, moved out (a reload restores them into a layer
    /// built from the new configuration without copying the profiles).
    pub fn into_state(self) -> (BehaviourSnapshot, Vec<(u64, Profile)>) {
        let global = self.snapshot_global();
        (global, self.profiles.into_iter().collect())
    }

    /// A layer rebuilt from a global snapshot and profiles, under `cfg` and its limits (see
    /// the module documentation). `key` and `specs_loaded` as for [`Behaviour::new`].
    ///
    /// Errors: an invalid configuration, or a global snapshot of another format. Everything
    /// else that does not fit is dropped and counted in [`RestoreStats`].
    pub fn restore(
        cfg: BehaviourConfig,
        key: [u8; 16],
        specs_loaded: bool,
        global: BehaviourSnapshot,
        profiles: impl IntoIterator<Item = (u64, Profile)>,
    ) -> Result<(Behaviour, RestoreStats), String> {
        if global.format != BEHAVIOUR_SNAPSHOT_FORMAT {
            return Err(format!(
                "behaviour snapshot format {} is not {BEHAVIOUR_SNAPSHOT_FORMAT}, the one this version reads: start without the stored \
                 behaviour state (baselines restart) or run the version that wrote it",
                global.format
            ));
        }
        let mut b = Behaviour::new(cfg, key, specs_loaded)?;
        let mut st = RestoreStats { timezone_changed: global.timezone != b.cfg.timezone, ..RestoreStats::default() };
        b.restore_baselines(&global, &mut st);
        let max_recent = b.cfg.max_consumers.saturating_mul(super::AnomalyKind::ALL.len());
        let (alerts, r) = AlertBook::restore(b.cfg.alerts.clone(), key, global.alerts, max_recent);
        b.alerts = alerts;
        st.findings_restored = r.findings;
        st.findings_invalid = r.invalid;
        st.findings_over_limit = r.over_limit;
        st.recent_dropped = r.recent_dropped;
        if let Some(e) = r.first_error {
            st.first_error.get_or_insert(e);
        }
        b.stats = global.stats;
        b.latest = global.latest;
        b.last_advance = global.last_advance;
        b.restore_profiles(profiles, &mut st);
        Ok((b, st))
    }

    fn restore_baselines(&mut self, g: &BehaviourSnapshot, st: &mut RestoreStats) {
        let max = self.cfg.max_endpoints;
        let mut endpoints: Vec<&EndpointBaseline> = g.endpoints.iter().collect();
        // Those with the most responses are kept when the bound is smaller.
        endpoints.sort_by(|a, b| b.sizes.count().cmp(&a.sizes.count()).then(a.key.cmp(&b.key)));
        for e in endpoints {
            if let Err(err) = e.sizes.validate().and_then(|()| e.errors.validate()) {
                st.endpoints_invalid += 1;
                st.invalid("endpoint baseline", e.key, err);
                continue;
            }
            if self.endpoints.contains_key(&e.key) {
                st.endpoints_invalid += 1;
                continue;
            }
            if self.endpoints.len() >= max {
                st.endpoints_over_limit += 1;
                continue;
            }
            let errors = self.conform_errors(&e.errors, st);
            self.endpoints.insert(e.key, EndpointState { sizes: e.sizes.clone(), errors });
            st.endpoints_restored += 1;
        }
        for (list, apis) in [(&g.services, false), (&g.apis, true)] {
            for e in list {
                if let Err(err) = e.errors.validate() {
                    st.endpoints_invalid += 1;
                    st.invalid("error baseline", e.key, err);
                    continue;
                }
                let map = if apis { &self.apis } else { &self.services };
                if map.contains_key(&e.key) {
                    st.endpoints_invalid += 1;
                    continue;
                }
                // The same bound as `observe` applies when it creates them.
                let held = self.endpoints.len() + self.services.len() + if apis { self.apis.len() } else { 0 };
                if held >= max {
                    st.endpoints_over_limit += 1;
                    continue;
                }
                let w = self.conform_errors(&e.errors, st);
                (if apis { &mut self.apis } else { &mut self.services }).insert(e.key, w);
                st.endpoints_restored += 1;
            }
        }
        for p in &g.peers {
            let known = p.source.parse::<IdSource>().is_ok();
            if !known || p.hourly.validate().is_err() || self.peers.contains_key(&p.source) {
                st.peers_dropped += 1;
                continue;
            }
            self.peers.insert(p.source.clone(), p.hourly.clone());
        }
    }

    /// The window, or an empty one when the configuration gives it another width.
    fn conform_errors(&self, w: &ErrorWindow, st: &mut RestoreStats) -> ErrorWindow {
        if w.fits(&self.cfg) {
            w.clone()
        } else {
            st.windows_reset += 1;
            ErrorWindow::new(&self.cfg)
        }
    }

    fn restore_profiles(&mut self, profiles: impl IntoIterator<Item = (u64, Profile)>, st: &mut RestoreStats) {
        let max = self.cfg.max_consumers;
        // The least recently seen on top, to be dropped first when more than `max` come.
        let mut oldest: BinaryHeap<Reverse<(u64, u64)>> = BinaryHeap::new();
        for (id, mut p) in profiles {
            if let Err(e) = p.validate() {
                st.profiles_invalid += 1;
                st.invalid("consumer", id, e);
                continue;
            }
            if self.profiles.contains_key(&id) {
                st.profiles_duplicate += 1;
                continue;
            }
            if self.profiles.len() >= max {
                let newer = oldest.peek().is_some_and(|Reverse((seen, _))| p.last_seen > *seen);
                if !newer {
                    st.profiles_over_limit += 1;
                    continue;
                }
                if let Some(Reverse((_, gone))) = oldest.pop() {
                    self.profiles.remove(&gone);
                    st.profiles_over_limit += 1;
                }
            }
            let reset = p.conform(&self.cfg);
            if reset > 0 {
                st.windows_reset += reset;
                p.changed = self.latest;
            }
            oldest.push(Reverse((p.last_seen, id)));
            self.profiles.insert(id, p);
        }
        st.profiles_restored = self.profiles.len();
    }
}
