//! The inventory change tracker against a real inventory fed with observations: new
//! endpoints announced once, classification changes, documented endpoints going orphan after
//! the quiet period of packet time (and coming back), the updates a SIEM acts on, removals,
//! and keys that do not depend on the run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use apitap_discovery::inventory::{
    AuthKind, ChangeConfig, ChangeKind, ChangeTracker, Classification, EndpointChange, Inventory, InventoryConfig, Observation,
};
use apitap_discovery::openapi::load_spec;
use apitap_discovery::specmatch::{SpecBinding, SpecSet};

/// 2026-03-02T00:00:00Z in ns.
const T0: u64 = 1_772_409_600_000_000_000;
const HOUR: u64 = 3_600_000_000_000;
const DAY: u64 = 24 * HOUR;

const SPEC: &str = r#"
openapi: 3.0.3
info: {title: Accounts, version: "1.0"}
servers: [{url: "https://api.bank.example/v1"}]
paths:
  /accounts:
    get: {operationId: listAccounts, responses: {"200": {description: ok}}}
  /accounts/{AccountId}:
    get:
      operationId: getAccount
      parameters: [{name: AccountId, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: ok}}
  /payments:
    post: {operationId: createPayment, responses: {"201": {description: ok}}}
"#;

fn inventory(hosts: &[&str]) -> Inventory {
    let spec = load_spec("accounts.yaml", SPEC).unwrap();
    let binding = SpecBinding { hosts: hosts.iter().map(|h| h.to_string()).collect(), ..SpecBinding::default() };
    Inventory::new(InventoryConfig::default(), SpecSet::new(vec![(spec, binding)], vec![]).unwrap())
}

/// One request as the inventory sees it.
struct Req<'a> {
    ts: u64,
    host: &'a str,
    method: &'a str,
    uri: &'a str,
    status: u16,
    auth: AuthKind,
    deprecation: bool,
    body: &'a [u8],
}

fn req<'a>(ts: u64, method: &'a str, uri: &'a str) -> Req<'a> {
    Req { ts, host: "api.bank.example", method, uri, status: 200, auth: AuthKind::Bearer, deprecation: false, body: b"{}" }
}

fn feed(inv: &mut Inventory, r: &Req<'_>) {
    let obs = Observation {
        ts: r.ts,
        client: IpAddr::from([10, 0, 0, 5]),
        server: SocketAddr::from(([10, 0, 0, 1], 443)),
        host: Some(r.host),
        method: Some(r.method),
        uri: Some(r.uri),
        status: Some(r.status),
        latency_ms: Some(12.0),
        request_content_type: None,
        response_content_type: Some("application/json"),
        auth: r.auth,
        consumer: Some(7),
        request_body: b"",
        response_body: r.body,
        deprecation_signalled: r.deprecation,
        visibility: Default::default(),
    };
    inv.observe(&obs);
}

fn changes(tracker: &mut ChangeTracker, inv: &mut Inventory, now: u64) -> Vec<EndpointChange> {
    tracker.handle_report(now, &inv.report())
}

/// `(key, change name)` of each change.
fn summary(ch: &[EndpointChange]) -> Vec<(String, &'static str)> {
    ch.iter().map(|c| (c.key.clone(), c.kind.name())).collect()
}

#[test]
fn the_first_report_announces_every_endpoint_once_and_then_only_new_ones() {
    let mut inv = inventory(&["api.bank.example"]);
    let mut t = ChangeTracker::new(ChangeConfig::default());
    feed(&mut inv, &req(T0, "GET", "/v1/accounts"));
    feed(&mut inv, &req(T0 + 1, "GET", "/v1/accounts/22289"));
    let first = changes(&mut t, &mut inv, T0 + HOUR);
    let mut got = summary(&first);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("api.bank.example GET /v1/accounts".to_string(), "new_endpoint"),
            ("api.bank.example GET /v1/accounts/{AccountId}".to_string(), "new_endpoint"),
            // Never called: an orphan, announced too so the topic holds the whole inventory.
            ("api.bank.example POST /v1/payments".to_string(), "new_endpoint"),
        ]
    );
    assert!(first.iter().all(|c| c.initial && c.time == T0 + HOUR));
    let class = |key: &str| first.iter().find(|c| c.key == key).unwrap().classification;
    assert_eq!(class("api.bank.example GET /v1/accounts"), Classification::Documented);
    assert_eq!(class("api.bank.example POST /v1/payments"), Classification::Orphan);

    // More hits on known endpoints within the refresh interval: nothing to say.
    for i in 0..50 {
        feed(&mut inv, &req(T0 + 2 * HOUR + i, "GET", "/v1/accounts"));
    }
    assert!(changes(&mut t, &mut inv, T0 + 3 * HOUR).is_empty());
    assert!(changes(&mut t, &mut inv, T0 + 3 * HOUR).is_empty());

    // A shadow endpoint appears: one new_endpoint, not initial, with its whole state.
    feed(&mut inv, &req(T0 + 4 * HOUR, "GET", "/internal/debug/users"));
    let later = changes(&mut t, &mut inv, T0 + 5 * HOUR);
    assert_eq!(summary(&later), vec![("api.bank.example GET /internal/debug/users".to_string(), "new_endpoint")]);
    let c = &later[0];
    assert!(!c.initial);
    assert_eq!(c.classification, Classification::Shadow);
    assert_eq!(c.findings, vec!["shadow_endpoint"]);
    let e = c.endpoint.as_ref().unwrap();
    assert_eq!((e.hits, e.classification, e.auth.get("bearer").copied()), (1, Classification::Shadow, Some(1)));
    assert!(changes(&mut t, &mut inv, T0 + 6 * HOUR).is_empty());
    assert_eq!(t.tracked(), 4);
    assert_eq!(t.stats().new_endpoints, 4);
}

#[test]
fn a_deprecation_header_turns_a_documented_endpoint_into_a_zombie() {
    let mut inv = inventory(&["api.bank.example"]);
    let mut t = ChangeTracker::new(ChangeConfig::default());
    feed(&mut inv, &req(T0, "GET", "/v1/accounts"));
    let _ = changes(&mut t, &mut inv, T0);
    feed(&mut inv, &Req { deprecation: true, ..req(T0 + HOUR, "GET", "/v1/accounts") });
    let ch = changes(&mut t, &mut inv, T0 + HOUR);
    assert_eq!(summary(&ch), vec![("api.bank.example GET /v1/accounts".to_string(), "classification_changed")]);
    let c = &ch[0];
    assert_eq!(c.kind, ChangeKind::ClassificationChanged { from: Classification::Documented });
    assert_eq!(c.classification, Classification::Zombie);
    let e = c.endpoint.as_ref().unwrap();
    assert_eq!(e.zombie_reasons, vec!["deprecation_header"]);
    assert_eq!(e.hits, 2);
    assert_eq!(c.findings, vec!["zombie_in_use"]);
    assert!(changes(&mut t, &mut inv, T0 + 2 * HOUR).is_empty(), "a class change is reported once");
}

#[test]
fn a_base_path_appearing_turns_a_base_path_less_match_into_a_shadow() {
    let mut inv = inventory(&["api.bank.example"]);
    let mut t = ChangeTracker::new(ChangeConfig::default());
    // Without the spec's base path: matched, documented, while `/v1` never appears.
    feed(&mut inv, &req(T0, "GET", "/accounts"));
    let first = changes(&mut t, &mut inv, T0);
    let key = first.iter().find(|c| c.classification == Classification::Documented).expect("a documented endpoint").key.clone();
    // Now `/v1` appears: the match without it only resembles the operation.
    feed(&mut inv, &req(T0 + HOUR, "GET", "/v1/accounts/1"));
    let ch = changes(&mut t, &mut inv, T0 + HOUR);
    let c = ch.iter().find(|c| c.key == key).expect("a change for the base-path-less endpoint");
    assert_eq!(c.kind, ChangeKind::ClassificationChanged { from: Classification::Documented });
    assert_eq!(c.classification, Classification::Shadow);
}

#[test]
fn a_documented_endpoint_goes_orphan_after_the_quiet_period_of_packet_time_and_comes_back() {
    let mut inv = inventory(&["api.bank.example"]);
    let mut t = ChangeTracker::new(ChangeConfig { refresh_after: None, ..ChangeConfig::default() });
    feed(&mut inv, &req(T0, "GET", "/v1/accounts"));
    feed(&mut inv, &req(T0, "GET", "/internal/debug/users"));
    feed(&mut inv, &req(T0, "GET", "/v1/accounts/1"));
    let _ = changes(&mut t, &mut inv, T0);
    // Traffic elsewhere keeps packet time moving; /v1/accounts stays quiet.
    feed(&mut inv, &req(T0 + 6 * DAY, "GET", "/v1/accounts/2"));
    assert!(changes(&mut t, &mut inv, T0 + 7 * DAY - 1).is_empty(), "one nanosecond short of seven days");
    let ch = changes(&mut t, &mut inv, T0 + 7 * DAY);
    // The shadow endpoint quiet as long gets no message: only documented operations orphan.
    assert_eq!(summary(&ch), vec![("api.bank.example GET /v1/accounts".to_string(), "gone_orphan")]);
    let c = &ch[0];
    assert_eq!(c.kind, ChangeKind::GoneOrphan { from: Classification::Documented });
    assert_eq!(c.classification, Classification::Orphan);
    let e = c.endpoint.as_ref().unwrap();
    assert_eq!(e.classification, Classification::Orphan);
    assert_eq!(e.last_seen.as_deref(), Some("2026-03-02T00:00:00.000Z"));
    assert_eq!(e.hits, 1);
    assert!(changes(&mut t, &mut inv, T0 + 8 * DAY).is_empty(), "gone is reported once");
    // Called again: back to documented.
    feed(&mut inv, &req(T0 + 9 * DAY, "GET", "/v1/accounts"));
    let ch = changes(&mut t, &mut inv, T0 + 9 * DAY);
    assert_eq!(summary(&ch), vec![("api.bank.example GET /v1/accounts".to_string(), "classification_changed")]);
    assert_eq!(ch[0].kind, ChangeKind::ClassificationChanged { from: Classification::Orphan });
    assert_eq!(ch[0].classification, Classification::Documented);
    assert_eq!(t.stats().gone_orphans, 1);
}

#[test]
fn the_quiet_period_is_configurable_and_a_clock_going_back_does_not_undo_it() {
    let mut inv = inventory(&["api.bank.example"]);
    let cfg = ChangeConfig { orphan_after: Duration::from_secs(86_400), refresh_after: None };
    let mut t = ChangeTracker::new(cfg);
    feed(&mut inv, &req(T0, "GET", "/v1/accounts"));
    let _ = changes(&mut t, &mut inv, T0);
    let ch = changes(&mut t, &mut inv, T0 + DAY);
    assert_eq!(summary(&ch), vec![("api.bank.example GET /v1/accounts".to_string(), "gone_orphan")]);
    // A report stamped earlier (a capture whose clock stepped back) is taken at the latest time.
    let ch = changes(&mut t, &mut inv, T0 + HOUR);
    assert!(ch.is_empty(), "{:?}", summary(&ch));
}

#[test]
fn updates_only_for_what_a_siem_acts_on_and_a_daily_refresh_while_in_use() {
    let mut inv = inventory(&["api.bank.example"]);
    let mut t = ChangeTracker::new(ChangeConfig::default());
    feed(&mut inv, &req(T0, "GET", "/v1/accounts/1"));
    let _ = changes(&mut t, &mut inv, T0);
    // Unauthenticated access appears.
    feed(&mut inv, &Req { auth: AuthKind::None, ..req(T0 + HOUR, "GET", "/v1/accounts/2") });
    let ch = changes(&mut t, &mut inv, T0 + HOUR);
    assert_eq!(ch.len(), 1);
    assert_eq!(ch[0].kind, ChangeKind::Updated { changed: vec!["auth"] });
    let auth = &ch[0].endpoint.as_ref().unwrap().auth;
    assert_eq!((auth.get("bearer"), auth.get("none")), (Some(&1), Some(&1)));
    // An IBAN in a response, sent without credentials: a new sensitive kind and a finding.
    let body = br#"{"Data":{"Account":{"Iban":"GB82WEST12345698765432"}}}"#;
    feed(&mut inv, &Req { auth: AuthKind::None, body, ..req(T0 + 2 * HOUR, "GET", "/v1/accounts/3") });
    let ch = changes(&mut t, &mut inv, T0 + 2 * HOUR);
    assert_eq!(ch.len(), 1, "{:?}", summary(&ch));
    assert_eq!(ch[0].kind, ChangeKind::Updated { changed: vec!["response_sensitive", "findings"] });
    assert_eq!(ch[0].findings, vec!["sensitive_data_without_authentication"]);
    // Plain traffic: nothing until the refresh interval has passed since the last message.
    feed(&mut inv, &req(T0 + 3 * HOUR, "GET", "/v1/accounts/4"));
    assert!(changes(&mut t, &mut inv, T0 + 25 * HOUR).is_empty());
    let ch = changes(&mut t, &mut inv, T0 + 26 * HOUR);
    assert_eq!(ch.len(), 1);
    assert_eq!(ch[0].kind, ChangeKind::Updated { changed: vec!["activity"] });
    assert_eq!(ch[0].endpoint.as_ref().unwrap().hits, 4);
    // No traffic since the refresh: no further refresh however long it stays quiet (before
    // the orphan period).
    assert!(changes(&mut t, &mut inv, T0 + 3 * DAY).is_empty());
    assert_eq!((t.stats().updates, t.stats().refreshes), (3, 1));
}

#[test]
fn an_orphan_listed_under_the_wildcard_host_is_removed_when_called_under_a_real_one() {
    // Bound to no host: orphans are listed under `*`.
    let mut inv = inventory(&[]);
    let mut t = ChangeTracker::new(ChangeConfig::default());
    let first = changes(&mut t, &mut inv, T0);
    let mut keys: Vec<&str> = first.iter().map(|c| c.key.as_str()).collect();
    keys.sort();
    assert_eq!(keys, ["* GET /v1/accounts", "* GET /v1/accounts/{AccountId}", "* POST /v1/payments"]);
    feed(&mut inv, &Req { status: 201, ..req(T0 + HOUR, "POST", "/v1/payments") });
    let ch = changes(&mut t, &mut inv, T0 + HOUR);
    assert_eq!(
        summary(&ch),
        vec![("api.bank.example POST /v1/payments".to_string(), "new_endpoint"), ("* POST /v1/payments".to_string(), "removed"),]
    );
    let removed = &ch[1];
    assert!(removed.endpoint.is_none());
    assert_eq!((removed.service.as_str(), removed.method.as_str(), removed.path.as_str()), ("*", "POST", "/v1/payments"));
    assert_eq!(removed.classification, Classification::Orphan);
    assert_eq!(t.tracked(), 3);
    assert!(changes(&mut t, &mut inv, T0 + 2 * HOUR).is_empty());
}

#[test]
fn keys_are_the_same_whatever_the_run_order_and_the_host_spelling() {
    let run = |order: &[usize], host: &str| -> Vec<String> {
        let reqs = [req(T0, "GET", "/v1/accounts"), req(T0 + 1, "GET", "/v1/accounts/9"), req(T0 + 2, "GET", "/internal/export")];
        let mut inv = inventory(&["api.bank.example"]);
        for &i in order {
            feed(&mut inv, &Req { host, ..reqs[i] });
        }
        let mut t = ChangeTracker::new(ChangeConfig::default());
        let mut keys: Vec<String> = changes(&mut t, &mut inv, T0 + DAY).into_iter().map(|c| c.key).collect();
        keys.sort();
        keys
    };
    let a = run(&[0, 1, 2], "api.bank.example");
    assert_eq!(
        a,
        [
            "api.bank.example GET /internal/export",
            "api.bank.example GET /v1/accounts",
            "api.bank.example GET /v1/accounts/{AccountId}",
            "api.bank.example POST /v1/payments",
        ]
    );
    assert_eq!(run(&[2, 1, 0], "API.Bank.Example:443"), a);
    assert_eq!(run(&[1, 2, 0], "api.bank.example."), a);
}
