//! Shared by the inventory persistence tests: the UK Open Banking specs of the fixtures and a
//! deterministic stream of realistic observations (documented account and payment calls,
//! undocumented internal endpoints whose user-name position merges into a parameter, scanner
//! 404s, assets, health checks, deprecated calls, sensitive bodies, TLS-only services).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, OnceLock};

use apitap_discovery::inventory::{AuthKind, Inventory, InventoryConfig, Observation, TlsObservation};
use apitap_discovery::openapi::{load_spec, Spec};
use apitap_discovery::specmatch::{SpecBinding, SpecSet};

/// 2026-03-02T00:00:00Z in ns.
pub const T0: u64 = 1_772_409_600_000_000_000;
pub const HOUR: u64 = 3_600_000_000_000;

pub const AIS: &str = "ob-uk/account-info-openapi.yaml";
pub const PIS: &str = "ob-uk/payment-initiation-openapi.yaml";

pub fn spec_file(name: &str) -> String {
    format!("{}/../fixtures/specs/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A fixture spec, parsed once per test binary.
fn loaded(name: &str) -> Spec {
    static CACHE: OnceLock<Mutex<HashMap<String, Spec>>> = OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    cache
        .entry(name.to_string())
        .or_insert_with(|| load_spec(name, &std::fs::read_to_string(spec_file(name)).unwrap()).unwrap())
        .clone()
}

/// A spec set of the named fixture specs, in that order, bound to the bank's API host.
pub fn specs(names: &[&str]) -> SpecSet {
    let binding = SpecBinding { hosts: vec!["api.bank.example".into()], ..SpecBinding::default() };
    SpecSet::new(names.iter().map(|n| (loaded(n), binding.clone())).collect(), vec![]).unwrap()
}

/// One transaction, owned.
#[derive(Clone, Debug)]
pub struct Req {
    pub ts: u64,
    pub client: IpAddr,
    pub server: SocketAddr,
    pub host: Option<String>,
    pub method: String,
    pub uri: String,
    pub status: Option<u16>,
    pub latency_ms: Option<f64>,
    pub request_type: Option<&'static str>,
    pub response_type: Option<&'static str>,
    pub auth: AuthKind,
    pub consumer: Option<u64>,
    pub request_body: Vec<u8>,
    pub response_body: Vec<u8>,
    pub deprecation: bool,
    pub response_bytes: u64,
}

/// What the stream holds: transactions and TLS sessions, in time order.
#[derive(Clone, Debug)]
pub enum Event {
    Http(Box<Req>),
    Tls { ts: u64, sni: &'static str, ja4: String },
}

/// A small deterministic generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!("{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff, b >> 52, b & 0xffff_ffff_ffff)
    }
}

const ACCOUNTS: &[&str] = &["22289", "31820", "87441", "10004", "55120"];

/// `n` events from `start`, spread over `hours` hours.
pub fn stream(seed: u64, start: u64, hours: u64, n: usize) -> Vec<Event> {
    let mut r = Rng::new(seed);
    let step = hours * HOUR / n as u64;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let ts = start + i as u64 * step + r.below(step.max(1));
        let api = SocketAddr::from(([10, 0, 0, 1], 443));
        let internal = SocketAddr::from(([10, 0, 0, 2], 8080));
        let client = IpAddr::from([192, 168, 1, (r.below(40) + 1) as u8]);
        let mut q = Req {
            ts,
            client,
            server: api,
            host: Some("api.bank.example".into()),
            method: "GET".into(),
            uri: "/".into(),
            status: Some(200),
            latency_ms: Some(1.0 + r.below(400_000) as f64 / 1000.0),
            request_type: None,
            response_type: Some("application/json"),
            auth: AuthKind::Bearer,
            consumer: Some(r.below(400)),
            request_body: Vec::new(),
            response_body: b"{\"Data\":{}}".to_vec(),
            deprecation: false,
            response_bytes: 200 + r.below(5_000),
        };
        let acc = ACCOUNTS[r.below(ACCOUNTS.len() as u64) as usize];
        match r.below(20) {
            0..=3 => q.uri = format!("/open-banking/v4.0/aisp/accounts/{acc}/balances"),
            4 => q.uri = "/open-banking/v4.0/aisp/accounts".into(),
            5 => {
                q.uri = format!("/open-banking/v4.0/aisp/accounts/{acc}/transactions?fromBookingDateTime=2026-01-01T00:00:00");
                q.response_body =
                    br#"{"Data":{"Transaction":[{"Amount":{"Amount":"12.50"},"CreditorAccount":{"Identification":"GB82WEST12345698765432"}}]}}"#
                        .to_vec();
            }
            6 => {
                q.method = "POST".into();
                q.uri = "/open-banking/v4.0/pisp/domestic-payment-consents".into();
                q.status = Some(if r.below(10) == 0 { 400 } else { 201 });
                q.request_type = Some("application/json");
                q.request_body = br#"{"Data":{"Initiation":{"InstructedAmount":{"Amount":"5.00","Currency":"GBP"}}}}"#.to_vec();
            }
            7 => q.uri = format!("/open-banking/v4.0/pisp/domestic-payments/{}", r.uuid()),
            8 | 9 => {
                q.host = Some("internal.bank.example:8080".into());
                q.server = internal;
                q.uri = format!("/internal/users/user{}/profile", r.below(300));
                q.auth = AuthKind::None;
                q.consumer = None;
                q.response_body = br#"{"iban":"GB82WEST12345698765432","name":"A. Customer"}"#.to_vec();
            }
            10 => {
                q.host = Some("internal.bank.example:8080".into());
                q.server = internal;
                q.uri = format!("/internal/export/{}", 1000 + r.below(5000));
                q.status = Some(if r.below(8) == 0 { 500 } else { 200 });
            }
            11 => {
                q.uri = "/legacy/statements".into();
                q.deprecation = true;
            }
            12 => {
                q.uri = format!("/wp-admin/probe{}.php", r.below(1000));
                q.status = Some(404);
                q.response_type = None;
                q.consumer = None;
                q.auth = AuthKind::None;
            }
            13 => {
                q.uri = "/static/app.js".into();
                q.response_type = Some("application/javascript");
            }
            14 => {
                q.uri = "/health".into();
                q.response_type = Some("text/plain");
                q.response_body = b"ok".to_vec();
            }
            15 => {
                q.host = None;
                q.server = SocketAddr::from(([10, 0, 0, 9], 8080));
                q.uri = format!("/v2/quotes/{}", r.below(3));
                q.status = if r.below(10) == 0 { None } else { Some(200) };
            }
            16 => {
                out.push(Event::Tls { ts, sni: "secure.bank.example", ja4: format!("t13d1516h2_8daaf6152771_{:012x}", r.below(3)) });
                continue;
            }
            17 => {
                q.uri = format!("/open-banking/v4.0/aisp/accounts/{acc}");
                q.status = Some(if r.below(6) == 0 { 401 } else { 200 });
            }
            _ => q.uri = format!("/open-banking/v4.0/aisp/accounts/{acc}/beneficiaries"),
        }
        out.push(Event::Http(Box::new(q)));
    }
    out
}

pub fn feed(inv: &mut Inventory, events: &[Event]) {
    for e in events {
        match e {
            Event::Http(q) => {
                let obs = Observation {
                    ts: q.ts,
                    client: q.client,
                    server: q.server,
                    host: q.host.as_deref(),
                    method: Some(&q.method),
                    uri: Some(&q.uri),
                    status: q.status,
                    latency_ms: q.latency_ms,
                    request_content_type: q.request_type,
                    response_content_type: q.response_type,
                    auth: q.auth,
                    consumer: q.consumer,
                    request_body: &q.request_body,
                    response_body: &q.response_body,
                    deprecation_signalled: q.deprecation,
                    visibility: Default::default(),
                };
                inv.observe_sized(&obs, Some(q.response_bytes));
            }
            Event::Tls { ts, sni, ja4 } => {
                let alpn = vec!["h2".to_string()];
                inv.observe_tls(&TlsObservation {
                    ts: *ts,
                    client: IpAddr::from([192, 168, 1, 9]),
                    server: SocketAddr::from(([10, 0, 0, 3], 443)),
                    sni: Some(sni),
                    alpn: &alpn,
                    client_version: "TLS 1.3",
                    server_version: Some("TLS 1.3"),
                    ja4,
                    ja4s: None,
                    decrypted: false,
                    server_suite: None,
                    findings: &[],
                    leaf: None,
                });
            }
        }
    }
}

pub fn inventory(names: &[&str]) -> Inventory {
    Inventory::new(InventoryConfig::default(), specs(names))
}

/// The report as JSON.
pub fn report(inv: &mut Inventory) -> serde_json::Value {
    serde_json::to_value(inv.report()).unwrap()
}

/// Snapshot, through JSON text, restored under `names` specs.
pub fn round_trip(inv: &Inventory, cfg: InventoryConfig, names: &[&str]) -> (Inventory, apitap_discovery::inventory::RestoreReport) {
    let text = serde_json::to_string(&inv.snapshot()).unwrap();
    Inventory::restore(cfg, specs(names), serde_json::from_str(&text).unwrap()).unwrap()
}

/// The endpoint entry of the report for `method` and `path`.
pub fn endpoint<'a>(report: &'a serde_json::Value, method: &str, path: &str) -> Option<&'a serde_json::Value> {
    report["endpoints"].as_array().unwrap().iter().find(|e| e["method"] == method && e["path"] == path)
}
