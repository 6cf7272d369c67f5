//! Traffic for the persistence tests: hand-made transactions in the shape the detector tests
//! use, a scenario whose incidents start before a cut and are detected after it, and a
//! string-keyed "store" that holds what a daemon would write.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::net::IpAddr;

use apitap_discovery::behaviour::{Anomaly, AnomalyKind, Behaviour, BehaviourConfig, BehaviourSnapshot, Lifecycle, Profile, Transaction};
use apitap_discovery::identity::{ConsumerId, CustomerId, IdSource, Identity, Prefix};
use apitap_discovery::inventory::{Classification, Landing, Observed};

pub const SEC: u64 = 1_000_000_000;
pub const MIN: u64 = 60 * SEC;
pub const HOUR: u64 = 60 * MIN;
pub const DAY: u64 = 24 * HOUR;
/// Monday 2026-03-02 00:00:00 UTC.
pub const MONDAY: u64 = 1_772_409_600 * SEC;
pub const KEY: [u8; 16] = [9; 16];

pub fn identity(id: u64, ip: &str) -> Identity {
    let ip: IpAddr = ip.parse().unwrap();
    Identity {
        id: ConsumerId(id),
        previous_id: None,
        source: IdSource::Jwt,
        label: format!("client-{id}"),
        org_id: None,
        cert_subject: None,
        customer: None,
        client_ip: ip,
        network: Prefix::of(ip, 24, 48),
        geo: Default::default(),
        attended: false,
        login: None,
    }
}

fn observed(template: &str) -> Observed {
    Observed {
        service: "api.bank.example".into(),
        method: "GET".into(),
        template: Some(template.into()),
        api: Some("Account and Transaction API Specification 4.0.0".into()),
        landing: Landing::Endpoint { class: Classification::Documented, accepted: false },
        response_sensitive: 0,
        response_ids: Vec::new(),
    }
}

/// One request with everything owned.
#[derive(Clone, Debug)]
pub struct Req {
    pub ts: u64,
    pub id: Identity,
    pub obs: Observed,
    pub path: String,
    pub status: u16,
    pub bytes: u64,
    pub ua: Option<String>,
}

impl Req {
    pub fn new(ts: u64, id: Identity, template: &str, path: &str, status: u16) -> Self {
        Req { ts, id, obs: observed(template), path: path.into(), status, bytes: 2000, ua: Some("tpp-client/1.0".into()) }
    }

    /// An account-balance read of one of the consumer's own accounts.
    pub fn own(ts: u64, id: Identity, acc: u64) -> Self {
        let mut r = Req::new(ts, id, "/aisp/accounts/{AccountId}/balances", &format!("/aisp/accounts/acc-{acc}/balances"), 200);
        r.id.attended = true;
        r
    }
}

/// Observes one request and drains the events.
pub fn feed(b: &mut Behaviour, r: &Req) -> Vec<Anomaly> {
    let events: Vec<&str> = Vec::new();
    let t = Transaction {
        ts: r.ts,
        identity: &r.id,
        observed: &r.obs,
        path: &r.path,
        status: Some(r.status),
        response_bytes: r.bytes,
        latency_ms: Some(30.0),
        user_agent: r.ua.as_deref(),
        fingerprint: None,
        connection: r.id.id.0.wrapping_mul(1_000_003) ^ (r.ts / (10 * MIN)),
        authenticated: true,
        framing_events: &events,
        visibility: Default::default(),
    };
    b.observe(&t);
    b.drain()
}

pub fn config() -> BehaviourConfig {
    BehaviourConfig { max_consumers: 10, ..BehaviourConfig::default() }
}

pub fn engine() -> Behaviour {
    Behaviour::new(config(), KEY, true).unwrap()
}

pub fn new_of(events: &[Anomaly], kind: AnomalyKind) -> usize {
    events.iter().filter(|a| a.kind == kind && a.lifecycle == Lifecycle::New).count()
}

/// The customer of consumer 6's requests (a keyed id, as identity makes them).
pub const CUSTOMER: CustomerId = CustomerId(0x5eed_c0ff_ee00_0042);

/// The scenario: six consumers with four days of steady history, one-off consumers that make
/// the profile table evict (max 10), and incidents that begin before `cut` and cross their
/// thresholds after it: enumeration (consumer 1), a rate surge (2), a PSD2 over-pull (3), a new
/// network (4), an open shadow-endpoint finding that closes after the cut (5), an oversized
/// response (6, which also names a customer), and late (out-of-order) requests of consumer 6.
/// Returns the requests in arrival order and the index of the first one after the cut.
pub fn scenario() -> (Vec<Req>, usize) {
    let mut v: Vec<Req> = Vec::new();
    let ips = ["", "198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.20", "198.51.100.5", "198.51.100.6"];
    let days = 4;
    for c in 1..=6u64 {
        let mut list = Req::new(MONDAY + c, identity(c, ips[c as usize]), "/aisp/accounts", "/aisp/accounts", 200);
        list.obs.response_ids = vec!["acc-1".into(), "acc-2".into(), "acc-3".into()];
        v.push(list);
        let per_hour = if c == 2 { 10 } else { 4 };
        for h in 0..days * 24 {
            for i in 0..per_hour {
                let ts = MONDAY + h * HOUR + i * (HOUR / per_hour) + c * SEC;
                let mut r = Req::own(ts, identity(c, ips[c as usize]), 1 + (h + i) % 3);
                if c == 6 {
                    r.id.customer = Some(CUSTOMER);
                }
                v.push(r);
            }
        }
    }
    // One-off consumers at minute 7 of the last twenty hours before the incidents.
    for k in 0..20u64 {
        let ts = MONDAY + (days * 24 - 20 + k) * HOUR + 7 * MIN;
        let mut id = identity(1000 + k, &format!("203.0.113.{}", 10 + k));
        id.source = IdSource::Network;
        v.push(Req::new(ts, id, "/aisp/accounts", "/aisp/accounts", 200));
    }
    let t0 = MONDAY + days * DAY;
    // 1: forty foreign ids, one every 5 s from t0, mostly refused.
    for i in 0..40u64 {
        let status = if i % 10 == 3 { 200 } else { 403 };
        v.push(Req::new(t0 + 20 * MIN + i * 5 * SEC, identity(1, ips[1]), "/aisp/accounts/{AccountId}", &format!("/aisp/accounts/{}", 40_000 + i), status));
    }
    // 2: eight times its rate for three hours.
    for i in 0..240u64 {
        v.push(Req::own(t0 + i * (3 * HOUR / 240) + 2 * SEC + 7, identity(2, ips[2]), 1 + i % 3));
    }
    // 3: six unattended pulls of one account, three hours apart (the fifth is over PSD2's four).
    for pull in 0..6u64 {
        v.push(Req::new(t0 - 3 * HOUR + pull * HOUR + 3 * SEC + 11, identity(3, ips[3]), "/aisp/accounts/{AccountId}", "/aisp/accounts/acc-9", 200));
    }
    // 4: a new network, one request every ten minutes.
    for i in 0..5u64 {
        v.push(Req::new(t0 + 10 * HOUR + i * 10 * MIN, identity(4, "192.0.2.55"), "/aisp/accounts", "/aisp/accounts", 200));
    }
    // 5: an undocumented endpoint before the cut, once more after it, then quiet.
    for i in 0..3u64 {
        let mut r = Req::new(t0 - 30 * MIN + i * 20 * MIN, identity(5, ips[5]), "/internal/export", "/internal/export", 200);
        r.obs.landing = Landing::Endpoint { class: Classification::Shadow, accepted: false };
        v.push(r);
    }
    // 6: a 5 MB answer where the endpoint gives 2 KB.
    let mut big = Req::own(t0 + 2 * HOUR + 6 * SEC, identity(6, ips[6]), 1);
    big.id.customer = Some(CUSTOMER);
    big.bytes = 5_000_000;
    v.push(big);
    v.sort_by_key(|r| r.ts);
    // Late requests: consumer 6 arriving 40 s behind its own request before it (the last of
    // its quarter-hour group, so nothing else of consumer 6 follows for a while).
    let mut late = Vec::new();
    for (k, (i, r)) in v.iter().enumerate().filter(|(_, r)| r.id.id.0 == 6).enumerate() {
        if k % 25 == 3 {
            let mut l = Req::own(r.ts.saturating_sub(40 * SEC), identity(6, ips[6]), 2);
            l.id.customer = Some(CUSTOMER);
            late.push((i + 1, l));
        }
    }
    for (at, l) in late.into_iter().rev() {
        v.insert(at, l);
    }
    // The cut: just after the first six enumeration requests.
    let cut = v.iter().position(|r| r.ts >= t0 + 20 * MIN + 30 * SEC).unwrap();
    (v, cut)
}

/// What a daemon's store holds: the global part, one row per consumer, and their sizes.
#[derive(Default)]
pub struct Store {
    pub global: String,
    pub rows: BTreeMap<u64, String>,
}

impl Store {
    /// A checkpoint: the global part, the rows of profiles changed since `since`, rows of
    /// removed profiles deleted. Returns the time to pass as `since` next.
    pub fn checkpoint(&mut self, b: &mut Behaviour, since: u64) -> u64 {
        self.global = serde_json::to_string(&b.snapshot_global()).unwrap();
        for (id, p) in b.profiles_changed_since(since) {
            self.rows.insert(id, serde_json::to_string(p).unwrap());
        }
        for id in b.take_removed() {
            self.rows.remove(&id);
        }
        b.latest()
    }

    /// Everything at once.
    pub fn full(b: &mut Behaviour) -> Store {
        let mut s = Store::default();
        s.checkpoint(b, 0);
        s
    }

    /// A layer restored from the store under `cfg` and `key`.
    pub fn restore(&self, cfg: BehaviourConfig, key: [u8; 16]) -> (Behaviour, apitap_discovery::behaviour::RestoreStats) {
        let global: BehaviourSnapshot = serde_json::from_str(&self.global).unwrap();
        let profiles = self.rows.iter().map(|(id, row)| (*id, serde_json::from_str::<Profile>(row).unwrap()));
        Behaviour::restore(cfg, key, true, global, profiles).unwrap()
    }
}

/// Every profile of a layer as JSON, by id: two layers in the same state give equal maps.
pub fn profiles_json(b: &Behaviour) -> BTreeMap<u64, String> {
    b.profiles_changed_since(0).map(|(id, p)| (id, serde_json::to_string(p).unwrap())).collect()
}
