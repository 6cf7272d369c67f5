//! GraphQL operations in the inventory: two operations on `POST /graphql` are two entries,
//! not one opaque endpoint; an introspection query from outside the internal networks is a
//! finding and one from inside is not; errors answered with HTTP 200 are counted; the
//! operations go through the change tracker, the snapshot and a hostile restore.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::{IpAddr, SocketAddr};

use apitap_discovery::inventory::{
    AuthKind, ChangeConfig, ChangeKind, ChangeTracker, Inventory, InventoryConfig, InventoryReport, Observation, Visibility,
};
use apitap_discovery::specmatch::SpecSet;

/// 2026-03-02T00:00:00Z in ns.
const T0: u64 = 1_772_409_600_000_000_000;
const SEC: u64 = 1_000_000_000;

struct Req<'a> {
    ts: u64,
    client: &'a str,
    method: &'a str,
    uri: &'a str,
    content_type: &'a str,
    body: &'a str,
    response: &'a str,
}

fn feed(inv: &mut Inventory, r: &Req<'_>) {
    let obs = Observation {
        ts: r.ts,
        client: r.client.parse::<IpAddr>().unwrap(),
        server: "10.0.0.5:8080".parse::<SocketAddr>().unwrap(),
        host: Some("api.bank.example"),
        method: Some(r.method),
        uri: Some(r.uri),
        status: Some(200),
        latency_ms: Some(3.0),
        request_content_type: Some(r.content_type),
        response_content_type: Some("application/json"),
        auth: AuthKind::Bearer,
        consumer: None,
        request_body: r.body.as_bytes(),
        response_body: r.response.as_bytes(),
        deprecation_signalled: false,
        visibility: Visibility::Clear,
    };
    inv.observe(&obs);
}

fn post<'a>(ts: u64, client: &'a str, body: &'a str) -> Req<'a> {
    Req { ts, client, method: "POST", uri: "/graphql", content_type: "application/json", body, response: r#"{"data":{}}"# }
}

const ACCOUNTS: &str = r#"{"query":"query GetAccounts { accounts { id iban } }","operationName":"GetAccounts","variables":{"customer":"C-991"}}"#;
const PAY: &str = r#"{"query":"mutation Pay($iban: String!) { transfer(to: $iban, amount: 10) { id } }","variables":{"iban":"DE89370400440532013000"}}"#;
const INTROSPECTION: &str = r#"{"query":"query IntrospectionQuery { __schema { queryType { name } types { name } } }"}"#;

fn op<'a>(r: &'a InventoryReport, name: &str) -> &'a apitap_discovery::inventory::GraphqlOperationReport {
    r.graphql_operations.iter().find(|o| o.operation_name == name).unwrap_or_else(|| panic!("no operation {name}: {:?}", r.graphql_operations))
}

fn inventory() -> Inventory {
    Inventory::new(InventoryConfig::default(), SpecSet::new(vec![], vec![]).unwrap())
}

#[test]
fn two_operations_on_one_path_are_two_entries_and_the_http_endpoint_stays_one() {
    let mut inv = inventory();
    for i in 0..3 {
        feed(&mut inv, &post(T0 + i * SEC, "10.1.0.1", ACCOUNTS));
    }
    feed(&mut inv, &Req { response: r#"{"data":null,"errors":[{"message":"insufficient funds"}]}"#, ..post(T0 + 5 * SEC, "10.1.0.2", PAY) });
    feed(&mut inv, &post(T0 + 6 * SEC, "10.1.0.2", PAY));
    // The same operation over GET and as application/graphql is the same entry.
    feed(&mut inv, &Req { method: "GET", uri: "/graphql?query=query%20GetAccounts%7Baccounts%7Bid%7D%7D", body: "", ..post(T0 + 7 * SEC, "10.1.0.3", "") });
    feed(&mut inv, &Req { content_type: "application/graphql", body: "query GetAccounts { accounts { id } }", ..post(T0 + 8 * SEC, "10.1.0.3", "") });
    // A JSON body that is not GraphQL stays out.
    feed(&mut inv, &Req { uri: "/search", body: r#"{"query":"balance"}"#, ..post(T0 + 9 * SEC, "10.1.0.3", "") });
    let r = inv.report();
    assert_eq!(r.graphql_operations.len(), 2, "{:?}", r.graphql_operations);
    let a = op(&r, "GetAccounts");
    assert_eq!((a.hits, a.consumers, a.errors), (5, 2, 0));
    assert_eq!(a.fields, ["accounts"]);
    assert_eq!(a.methods.get("GET"), Some(&1));
    assert_eq!(a.key, "api.bank.example GRAPHQL /graphql query GetAccounts");
    let p = op(&r, "Pay");
    assert_eq!((p.hits, p.errors, p.operation_type.name()), (2, 1, "mutation"));
    assert_eq!(r.summary.graphql_operations, 2);
    assert_eq!(r.counters["graphql_requests"], 7);
    // The HTTP endpoints are as they were: one POST /graphql, one GET /graphql.
    let gql: Vec<_> = r.endpoints.iter().filter(|e| e.path == "/graphql").map(|e| (e.method.as_str(), e.hits)).collect();
    assert_eq!(gql.len(), 2, "{gql:?}");
    assert!(gql.contains(&("POST", 6)), "{gql:?}");
    // Names only: no variable or argument value anywhere in the report.
    let text = serde_json::to_string(&r).unwrap();
    for secret in ["DE89370400440532013000", "C-991", "insufficient funds"] {
        assert!(!text.contains(secret), "{secret} in the report");
    }
    assert!(r.findings.iter().all(|f| f.kind != "graphql_introspection"));
}

#[test]
fn introspection_from_outside_is_a_finding_and_from_inside_is_not() {
    let mut inv = inventory();
    feed(&mut inv, &post(T0, "10.9.9.9", INTROSPECTION));
    feed(&mut inv, &post(T0 + SEC, "192.168.1.7", r#"{"query":"{ __typename accounts { id } }"}"#));
    let r = inv.report();
    assert_eq!(op(&r, "IntrospectionQuery").introspection, 1);
    assert!(r.findings.iter().all(|f| f.kind != "graphql_introspection"), "{:?}", r.findings);

    feed(&mut inv, &post(T0 + 2 * SEC, "203.0.113.50", INTROSPECTION));
    feed(&mut inv, &post(T0 + 3 * SEC, "198.51.100.4", r#"{"query":"{ __type(name: \"Account\") { fields { name } } }"}"#));
    feed(&mut inv, &post(T0 + 4 * SEC, "198.51.100.4", r#"{"query":"{ __typename }"}"#));
    let r = inv.report();
    let found: Vec<_> = r.findings.iter().filter(|f| f.kind == "graphql_introspection").collect();
    assert_eq!(found.len(), 2, "{found:?}");
    let f = found.iter().find(|f| f.path.as_deref() == Some("/graphql query IntrospectionQuery")).unwrap();
    assert_eq!((f.count, f.method.as_deref()), (1, Some("GRAPHQL")));
    assert!(f.detail.contains("203.0.113.0/24") && f.detail.contains("__schema") && f.detail.contains("2026-03-02T00:00:02"), "{}", f.detail);
    assert!(!f.detail.contains("10.9.9"), "an internal client named: {}", f.detail);
    assert!(found.iter().any(|f| f.path.as_deref() == Some("/graphql query {__type}")));

    // A configured list replaces the default: 203.0.113.0/24 internal, 10.0.0.0/8 not.
    let cfg = InventoryConfig { internal_networks: vec!["203.0.113.0/24".parse().unwrap()], ..InventoryConfig::default() };
    let mut inv = Inventory::new(cfg, SpecSet::new(vec![], vec![]).unwrap());
    feed(&mut inv, &post(T0, "203.0.113.50", INTROSPECTION));
    assert!(inv.report().findings.iter().all(|f| f.kind != "graphql_introspection"));
    feed(&mut inv, &post(T0, "10.9.9.9", INTROSPECTION));
    assert_eq!(inv.report().findings.iter().filter(|f| f.kind == "graphql_introspection").count(), 1);
}

#[test]
fn new_operations_are_announced_like_new_endpoints() {
    let mut inv = inventory();
    let mut tracker = ChangeTracker::new(ChangeConfig::default());
    feed(&mut inv, &post(T0, "10.1.0.1", ACCOUNTS));
    let first = tracker.handle_report(T0, &inv.report());
    let gql: Vec<_> = first.iter().filter(|c| c.graphql.is_some()).collect();
    assert_eq!(gql.len(), 1);
    assert_eq!(gql[0].key, "api.bank.example GRAPHQL /graphql query GetAccounts");
    assert!(gql[0].initial);
    feed(&mut inv, &post(T0 + SEC, "10.1.0.1", ACCOUNTS));
    feed(&mut inv, &post(T0 + SEC, "10.1.0.1", PAY));
    let next = tracker.handle_report(T0 + 2 * SEC, &inv.report());
    // (POST /graphql itself gets an update of its own: the IBAN in Pay's variables is a new
    // sensitive-data kind of its request bodies.)
    let keys: Vec<(&str, &str)> = next.iter().filter(|c| c.graphql.is_some()).map(|c| (c.key.as_str(), c.kind.name())).collect();
    assert_eq!(keys, [("api.bank.example GRAPHQL /graphql mutation Pay", "new_endpoint")]);
    // Introspection from outside: an update naming the finding.
    feed(&mut inv, &post(T0 + 3 * SEC, "203.0.113.50", INTROSPECTION));
    let found = tracker.handle_report(T0 + 4 * SEC, &inv.report());
    let intro = found.iter().find(|c| c.key == "api.bank.example GRAPHQL /graphql query IntrospectionQuery").unwrap();
    assert_eq!(intro.findings, ["graphql_introspection"]);
    feed(&mut inv, &post(T0 + 5 * SEC, "203.0.113.51", INTROSPECTION));
    let after = tracker.handle_report(T0 + 6 * SEC, &inv.report());
    assert!(after.iter().all(|c| c.graphql.is_none()), "a finding already announced is not news: {:?}", after.iter().map(|c| &c.key).collect::<Vec<_>>());
    let snap = tracker.snapshot();
    let restored = ChangeTracker::restore(ChangeConfig::default(), snap, 100).unwrap();
    assert_eq!(restored.tracked(), tracker.tracked());
    assert!(next.iter().any(|c| matches!(c.kind, ChangeKind::NewEndpoint)));
}

#[test]
fn operations_survive_a_snapshot_and_a_hostile_one_is_refused() {
    let mut inv = inventory();
    feed(&mut inv, &post(T0, "10.1.0.1", ACCOUNTS));
    feed(&mut inv, &post(T0 + SEC, "203.0.113.50", INTROSPECTION));
    let before = serde_json::to_value(inv.report()).unwrap();
    let snap = inv.snapshot();
    let json = serde_json::to_string(&snap).unwrap();
    let (mut back, _) = Inventory::restore(InventoryConfig::default(), SpecSet::new(vec![], vec![]).unwrap(), serde_json::from_str(&json).unwrap()).unwrap();
    assert_eq!(serde_json::to_value(back.report()).unwrap(), before);

    // A snapshot from before GraphQL (no `graphql` key) restores with none.
    let mut old: serde_json::Value = serde_json::from_str(&json).unwrap();
    old["services"][0].as_object_mut().unwrap().remove("graphql");
    let (mut back, _) = Inventory::restore(InventoryConfig::default(), SpecSet::new(vec![], vec![]).unwrap(), serde_json::from_value(old).unwrap()).unwrap();
    assert!(back.report().graphql_operations.is_empty());

    let hostile = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        f(&mut v["services"][0]["graphql"][0]);
        Inventory::restore(InventoryConfig::default(), SpecSet::new(vec![], vec![]).unwrap(), serde_json::from_value(v).unwrap()).err().unwrap()
    };
    assert!(hostile(&|g| g["operations"][0]["operation_type"] = "drop".into()).contains("operation type"));
    assert!(hostile(&|g| g["operations"][0]["name"] = "<script>".into()).contains("not a GraphQL operation name"));
    assert!(hostile(&|g| g["operations"][0]["hits"] = u64::MAX.into()).contains("graphql operation"));
    assert!(hostile(&|g| {
        let o = g["operations"][0].clone();
        g["operations"].as_array_mut().unwrap().push(o);
    })
    .contains("twice"));

    // Lower bounds cut the operations, the busiest kept.
    let cfg = InventoryConfig { max_graphql_operations: 1, ..InventoryConfig::default() };
    feed(&mut inv, &post(T0 + 2 * SEC, "10.1.0.1", ACCOUNTS));
    let (mut small, report) = Inventory::restore(cfg, SpecSet::new(vec![], vec![]).unwrap(), inv.snapshot()).unwrap();
    let names: Vec<String> = small.report().graphql_operations.iter().map(|o| o.operation_name.clone()).collect();
    assert_eq!(names, ["GetAccounts"]);
    assert!(report.values_cut >= 1);
}

#[test]
fn operations_past_the_bound_are_counted_not_kept() {
    let cfg = InventoryConfig { max_graphql_operations: 3, ..InventoryConfig::default() };
    let mut inv = Inventory::new(cfg, SpecSet::new(vec![], vec![]).unwrap());
    for i in 0..10 {
        let body = format!(r#"{{"query":"query Op{i} {{ a }}"}}"#);
        feed(&mut inv, &post(T0 + i * SEC, "10.1.0.1", &body));
    }
    let r = inv.report();
    assert_eq!(r.graphql_operations.len(), 3);
    assert_eq!(r.counters["graphql_operations_overflow"], 7);
    let svc = r.services.iter().find(|s| s.host == "api.bank.example").unwrap();
    assert_eq!((svc.graphql[0].operations, svc.graphql[0].overflow_requests, svc.graphql[0].requests), (3, 7, 10));
}
