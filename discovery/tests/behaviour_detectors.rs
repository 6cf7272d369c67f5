//! The detectors on hand-made transactions: each rule fires on the pattern it is for, and
//! stays quiet on the benign look-alike next to it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::IpAddr;

use apitap_discovery::behaviour::{Anomaly, AnomalyKind, Behaviour, BehaviourConfig, Lifecycle, Transaction};
use apitap_discovery::identity::{ConsumerId, Country, CustomerId, Geo, IdSource, Identity, LoginAttempt, LoginKind, LoginOutcome, Grant, Prefix};
use apitap_discovery::inventory::{Classification, Landing, Observed, Visibility};

const SEC: u64 = 1_000_000_000;
const MIN: u64 = 60 * SEC;
const HOUR: u64 = 60 * MIN;
const DAY: u64 = 24 * HOUR;
/// Monday 2026-03-02 00:00:00 UTC.
const MONDAY: u64 = 1_772_409_600 * SEC;

fn identity(id: u64, ip: &str) -> Identity {
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

fn observed(template: &str, class: Classification) -> Observed {
    Observed {
        service: "api.bank.example".into(),
        method: "GET".into(),
        template: Some(template.into()),
        api: Some("Account and Transaction API Specification 4.0.0".into()),
        landing: Landing::Endpoint { class, accepted: false },
        response_sensitive: 0,
        response_ids: Vec::new(),
    }
}

/// One request in the tests' shape.
struct Req {
    ts: u64,
    id: Identity,
    obs: Observed,
    path: String,
    status: u16,
    bytes: u64,
    ua: Option<String>,
    authenticated: bool,
    events: Vec<&'static str>,
    visibility: Visibility,
}

impl Req {
    fn new(ts: u64, id: Identity, template: &str, path: &str, status: u16) -> Self {
        Req {
            ts,
            id,
            obs: observed(template, Classification::Documented),
            path: path.into(),
            status,
            bytes: 2000,
            ua: Some("tpp-client/1.0".into()),
            authenticated: true,
            events: Vec::new(),
            visibility: Visibility::Clear,
        }
    }
}

fn feed(b: &mut Behaviour, r: &Req) -> Vec<Anomaly> {
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
        // One connection per consumer and ten minutes.
        connection: r.id.id.0.wrapping_mul(1_000_003) ^ (r.ts / (10 * MIN)),
        authenticated: r.authenticated,
        framing_events: &r.events,
        visibility: r.visibility,
    };
    b.observe(&t);
    b.drain()
}

fn engine(tz: &str) -> Behaviour {
    let cfg = BehaviourConfig { timezone: tz.into(), ..BehaviourConfig::default() };
    Behaviour::new(cfg, [9; 16], true).unwrap()
}

fn new_of(events: &[Anomaly], kind: AnomalyKind) -> usize {
    events.iter().filter(|a| a.kind == kind && a.lifecycle == Lifecycle::New).count()
}

/// Ten requests an hour, every hour, for `days` days from `start`, from `ip`, reading the
/// accounts the consumer was given. Returns every event raised.
fn steady(b: &mut Behaviour, consumer: u64, ip: &str, start: u64, days: u64, per_hour: u64) -> Vec<Anomaly> {
    let mut out = Vec::new();
    let mut list = Req::new(start, identity(consumer, ip), "/aisp/accounts", "/aisp/accounts", 200);
    list.obs.response_ids = vec!["acc-1".into(), "acc-2".into(), "acc-3".into()];
    out.extend(feed(b, &list));
    for h in 0..days * 24 {
        for i in 0..per_hour {
            let ts = start + h * HOUR + i * (HOUR / per_hour) + 1;
            let acc = format!("acc-{}", 1 + (h + i) % 3);
            let mut r = Req::new(ts, identity(consumer, ip), "/aisp/accounts/{AccountId}/balances", &format!("/aisp/accounts/{acc}/balances"), 200);
            r.id.attended = true;
            out.extend(feed(b, &r));
        }
    }
    out
}

#[test]
fn enumeration_of_foreign_ids_fires_within_twenty_requests_and_own_ids_never_do() {
    let mut b = engine("UTC");
    let base = steady(&mut b, 1, "198.51.100.7", MONDAY, 1, 4);
    assert_eq!(new_of(&base, AnomalyKind::BolaEnumeration), 0, "reading its own accounts is no enumeration");
    let t0 = MONDAY + DAY + HOUR;
    let mut fired_at = None;
    for i in 0..40u64 {
        let status = if i % 10 == 3 { 200 } else { 403 };
        let r = Req::new(t0 + i * SEC, identity(1, "198.51.100.7"), "/aisp/accounts/{AccountId}", &format!("/aisp/accounts/{}", 40_000 + i), status);
        let ev = feed(&mut b, &r);
        if new_of(&ev, AnomalyKind::BolaEnumeration) > 0 && fired_at.is_none() {
            fired_at = Some(i + 1);
            let a = ev.iter().find(|a| a.kind == AnomalyKind::BolaEnumeration).unwrap();
            assert_eq!(a.consumer.as_ref().unwrap().label, "client-1");
            assert!(a.evidence["refused_share"].as_f64().unwrap() >= 0.5);
        }
    }
    let n = fired_at.expect("enumeration not detected");
    assert!(n <= 20, "detected after {n} foreign-id requests");
}

/// The first `kind` finding of foreign-id enumeration and then a service error spike, with the
/// attack's requests read as `attack` after a baseline read in clear.
fn findings_of_an_attack_read(attack: Visibility) -> Vec<Anomaly> {
    let mut b = engine("UTC");
    for c in 0..5u64 {
        steady(&mut b, 20 + c, &format!("198.51.{c}.9"), MONDAY, 1, 12);
    }
    let t0 = MONDAY + DAY + HOUR;
    let mut out = Vec::new();
    for i in 0..40u64 {
        let status = if i % 10 == 3 { 200 } else { 403 };
        let mut r = Req::new(t0 + i * SEC, identity(20, "198.51.0.9"), "/aisp/accounts/{AccountId}", &format!("/aisp/accounts/{}", 40_000 + i), status);
        r.visibility = attack;
        out.extend(feed(&mut b, &r));
    }
    let t1 = MONDAY + DAY + 12 * HOUR;
    for i in 0..60u64 {
        let status = if i % 6 == 5 { 200 } else { 503 };
        let mut r = Req::new(t1 + i * 10 * SEC, identity(21 + i % 4, &format!("198.51.{}.9", 1 + i % 4)), "/aisp/accounts", "/aisp/accounts", status);
        r.visibility = attack;
        out.extend(feed(&mut b, &r));
    }
    out
}

#[test]
fn a_finding_says_how_its_detecting_request_was_read() {
    for attack in [Visibility::Decrypted, Visibility::Clear] {
        let found = findings_of_an_attack_read(attack);
        let first = |kind| found.iter().find(|a| a.kind == kind && a.lifecycle == Lifecycle::New).unwrap_or_else(|| panic!("no {kind:?}"));
        let enumeration = first(AnomalyKind::BolaEnumeration);
        assert_eq!(enumeration.visibility, attack);
        let spike = found
            .iter()
            .find(|a| a.kind == AnomalyKind::ErrorSpike && a.lifecycle == Lifecycle::New && a.consumer.is_none())
            .expect("a service-wide error spike");
        assert_eq!(spike.visibility, attack, "a finding without a consumer still says it");
        let json = enumeration.to_json(&apitap_discovery::behaviour::Producer { sensor_id: "s".into(), version: "0".into() });
        assert_eq!(json["unmapped"]["visibility"], attack.name());
    }
}

#[test]
fn an_aggregator_reading_many_ids_it_is_answered_for_is_not_enumeration() {
    let mut b = engine("UTC");
    steady(&mut b, 2, "198.51.100.9", MONDAY, 1, 4);
    let t0 = MONDAY + DAY + HOUR;
    let mut all = Vec::new();
    for i in 0..400u64 {
        let r = Req::new(t0 + i * 5 * SEC, identity(2, "198.51.100.9"), "/aisp/accounts/{AccountId}", &format!("/aisp/accounts/own-{i}"), 200);
        all.extend(feed(&mut b, &r));
    }
    for kind in [AnomalyKind::BolaEnumeration, AnomalyKind::BulkExport] {
        assert_eq!(new_of(&all, kind), 0, "{kind:?}: {all:#?}");
    }
}

fn login(ts: u64, ip: &str, user: u64, ok: bool) -> Req {
    let mut r = Req::new(ts, identity(77, ip), "/as/token.oauth2", "/as/token.oauth2", if ok { 200 } else { 401 });
    r.obs.method = "POST".into();
    r.id.source = IdSource::TokenClient;
    r.id.login = Some(LoginAttempt {
        kind: LoginKind::TokenEndpoint { grant: Grant::Password },
        user: Some(user),
        outcome: if ok { LoginOutcome::Success } else { LoginOutcome::Failure },
    });
    r
}

#[test]
fn credential_stuffing_across_users_and_networks_fires_within_five_minutes() {
    let mut b = engine("UTC");
    let t0 = MONDAY + 3 * HOUR;
    let mut fired = None;
    for i in 0..200u64 {
        // 1,500 guesses an hour from rotating addresses, one user each.
        let ts = t0 + i * (HOUR / 1500);
        let ip = format!("86.{}.{}.{}", 128 + i % 60, (i * 7) % 250, 1 + i % 250);
        let ev = feed(&mut b, &login(ts, &ip, 10_000 + i, i % 250 == 0));
        if fired.is_none() && new_of(&ev, AnomalyKind::CredentialStuffing) > 0 {
            fired = Some(ts - t0);
        }
    }
    let after = fired.expect("stuffing not detected");
    assert!(after <= 5 * MIN, "after {} s", after / SEC);
}

#[test]
fn a_password_reset_day_of_401s_from_known_networks_is_not_stuffing_nor_a_surge() {
    let mut b = engine("UTC");
    let base = steady(&mut b, 5, "100.64.3.4", MONDAY, 4, 10);
    assert!(base.is_empty(), "{base:#?}");
    let t0 = MONDAY + 4 * DAY;
    let mut all = Vec::new();
    for i in 0..600u64 {
        let ts = t0 + i * (DAY / 600);
        let mut r = Req::new(ts, identity(5, "100.64.3.4"), "/aisp/accounts/{AccountId}/balances", "/aisp/accounts/acc-1/balances", if i % 5 < 3 { 401 } else { 200 });
        r.id.attended = true;
        r.id.login = (r.status == 401).then_some(LoginAttempt { kind: LoginKind::Unauthorized, user: None, outcome: LoginOutcome::Failure });
        all.extend(feed(&mut b, &r));
    }
    assert!(all.iter().all(|a| a.lifecycle != Lifecycle::New), "{all:#?}");
}

#[test]
fn more_than_four_unattended_accesses_of_one_account_a_day_is_bulk_export() {
    let mut b = engine("UTC");
    let t0 = MONDAY + 6 * HOUR;
    let mut events = Vec::new();
    for pull in 0..6u64 {
        for op in ["", "/balances", "/transactions"] {
            let tpl = format!("/aisp/accounts/{{AccountId}}{op}");
            let r = Req::new(t0 + pull * 3 * HOUR + SEC, identity(3, "203.0.113.5"), &tpl, &format!("/aisp/accounts/acc-9{op}"), 200);
            events.push((pull, feed(&mut b, &r)));
        }
    }
    let first = events.iter().find(|(_, ev)| new_of(ev, AnomalyKind::BulkExport) > 0).map(|(p, _)| *p);
    assert_eq!(first, Some(4), "the fifth access of the day fires");
    // The same six accesses spread over six days, or attended, never fire.
    let mut b = engine("UTC");
    for pull in 0..6u64 {
        let r = Req::new(t0 + pull * DAY, identity(3, "203.0.113.5"), "/aisp/accounts/{AccountId}", "/aisp/accounts/acc-9", 200);
        assert_eq!(new_of(&feed(&mut b, &r), AnomalyKind::BulkExport), 0);
    }
    let mut b = engine("UTC");
    for pull in 0..6u64 {
        let mut r = Req::new(t0 + pull * HOUR, identity(3, "203.0.113.5"), "/aisp/accounts/{AccountId}", "/aisp/accounts/acc-9", 200);
        r.id.attended = true;
        assert_eq!(new_of(&feed(&mut b, &r), AnomalyKind::BulkExport), 0);
    }
}

#[test]
fn a_surge_of_usual_calls_fires_and_a_month_end_peak_does_not() {
    let mut b = engine("UTC");
    let base = steady(&mut b, 4, "192.0.2.130", MONDAY, 7, 10);
    assert!(base.is_empty(), "{base:#?}");
    // 1.6 times the usual rate for a day: quiet.
    let t1 = MONDAY + 7 * DAY;
    let peak = steady(&mut b, 4, "192.0.2.130", t1, 1, 16);
    assert_eq!(new_of(&peak, AnomalyKind::RateSurge), 0, "{peak:#?}");
    // Eight times the usual rate: a surge.
    let t2 = t1 + DAY;
    let surge = steady(&mut b, 4, "192.0.2.130", t2, 1, 80);
    assert_eq!(new_of(&surge, AnomalyKind::RateSurge), 1, "{surge:#?}");
}

#[test]
fn a_token_used_at_night_from_a_new_network_is_off_hours_within_minutes_in_the_bank_zone() {
    let mut b = engine("Europe/London");
    // Working hours only (08:00-18:00 UTC, 09:00-19:00 BST in summer) for a week in June.
    let june = MONDAY + 91 * DAY;
    for d in 0..7 {
        for h in 8..18 {
            for i in 0..6 {
                let r = Req::new(june + d * DAY + h * HOUR + i * 10 * MIN, identity(6, "203.0.113.70"), "/aisp/accounts", "/aisp/accounts", 200);
                assert!(feed(&mut b, &r).is_empty());
            }
        }
    }
    // 22:30 UTC is 23:30 BST: off hours in London, though not before 23:00 UTC.
    let night = june + 7 * DAY + 22 * HOUR + 30 * MIN;
    let mut first = None;
    for i in 0..10u64 {
        let r = Req::new(night + i * MIN, identity(6, "45.155.204.10"), "/aisp/accounts", "/aisp/accounts", 200);
        let ev = feed(&mut b, &r);
        assert_eq!(new_of(&ev, AnomalyKind::NewOrigin), 0, "the off-hours finding covers the new network");
        if first.is_none() && new_of(&ev, AnomalyKind::OffHours) > 0 {
            first = Some(i);
        }
    }
    assert_eq!(first, Some(0));
}

#[test]
fn a_new_network_in_working_hours_is_new_origin_after_three_requests() {
    let mut b = engine("UTC");
    steady(&mut b, 8, "198.51.100.20", MONDAY, 4, 4);
    let t = MONDAY + 4 * DAY + 10 * HOUR;
    let mut n = 0;
    for i in 0..5u64 {
        let ev = feed(&mut b, &Req::new(t + i * MIN, identity(8, "192.0.2.55"), "/aisp/accounts", "/aisp/accounts", 200));
        n += new_of(&ev, AnomalyKind::NewOrigin);
        if i < 2 {
            assert_eq!(n, 0);
        }
    }
    assert_eq!(n, 1, "one finding for the incident");
    let mut ua = Req::new(t + HOUR, identity(8, "198.51.100.20"), "/aisp/accounts", "/aisp/accounts", 200);
    ua.ua = Some("python-requests/2.31.0".into());
    let mut fp = 0;
    for i in 0..3 {
        ua.ts = t + HOUR + i * MIN;
        fp += new_of(&feed(&mut b, &ua), AnomalyKind::NewFingerprint);
    }
    assert_eq!(fp, 1);
}

/// An identity whose address a network database placed in `asn` and `country`.
fn placed(id: u64, ip: &str, asn: u32, country: &str) -> Identity {
    let mut i = identity(id, ip);
    i.geo = Geo { asn: Some(asn), as_org: Some(format!("AS {asn} Ltd").into()), country: Country::new(country) };
    i
}

#[test]
fn a_new_network_is_graded_by_its_provider_and_country_when_a_database_names_them() {
    let mut b = engine("UTC");
    // Four days from one network of AS 64500 in Great Britain.
    for h in 0..4 * 24 {
        for i in 0..4u64 {
            let ts = MONDAY + h * HOUR + i * 15 * MIN + 1;
            let mut r = Req::new(ts, placed(9, "198.51.100.20", 64_500, "GB"), "/aisp/accounts", "/aisp/accounts", 200);
            r.id.attended = true;
            feed(&mut b, &r);
        }
    }
    let first_of = |b: &mut Behaviour, t: u64, id: Identity| {
        let mut found = None;
        for i in 0..5u64 {
            let ev = feed(b, &Req::new(t + i * MIN, id.clone(), "/aisp/accounts", "/aisp/accounts", 200));
            if let Some(a) = ev.into_iter().find(|a| a.kind == AnomalyKind::NewOrigin && a.lifecycle == Lifecycle::New) {
                found.get_or_insert(a);
            }
        }
        found.expect("a new network is new_origin")
    };
    // Another network of the same provider, in the same country: reported, but low.
    let t = MONDAY + 4 * DAY + 10 * HOUR;
    let same = first_of(&mut b, t, placed(9, "198.51.101.7", 64_500, "GB"));
    assert_eq!(same.severity, apitap_discovery::behaviour::Severity::Low);
    assert_eq!(same.evidence["new_asn"], serde_json::json!(false));
    assert_eq!(same.evidence["new_country"], serde_json::json!(false));
    // A new provider in a country never used: high, and both say so.
    let far = first_of(&mut b, t + 2 * HOUR, placed(9, "203.0.113.9", 64_511, "RU"));
    assert_eq!(far.severity, apitap_discovery::behaviour::Severity::High);
    assert_eq!(far.evidence["asn"], serde_json::json!(64_511));
    assert_eq!(far.evidence["country"], serde_json::json!("RU"));
    assert_eq!(far.evidence["new_asn"], serde_json::json!(true));
    assert_eq!(far.evidence["new_country"], serde_json::json!(true));
    assert!(far.message.contains("AS64511"), "{}", far.message);
    // The OCSF message places the address.
    let producer = apitap_discovery::behaviour::Producer { sensor_id: "s".into(), version: "0".into() };
    let json = far.to_json(&producer);
    assert_eq!(json["src_endpoint"]["autonomous_system"]["number"], serde_json::json!(64_511));
    assert_eq!(json["src_endpoint"]["autonomous_system"]["name"], serde_json::json!("AS 64511 Ltd"));
    assert_eq!(json["src_endpoint"]["location"]["country"], serde_json::json!("RU"));
    // Without a database nothing of it appears.
    let plain = first_of(&mut b, t + 4 * HOUR, identity(9, "192.0.2.40"));
    assert_eq!(plain.severity, apitap_discovery::behaviour::Severity::Medium, "{:?}", plain);
    assert!(plain.evidence.get("asn").is_none() && plain.evidence.get("country").is_none());
    assert!(plain.to_json(&producer)["src_endpoint"].get("autonomous_system").is_none());
}

#[test]
fn an_error_spike_on_a_service_fires_within_two_minutes() {
    let mut b = engine("UTC");
    for c in 0..5u64 {
        steady(&mut b, 20 + c, &format!("198.51.{c}.9"), MONDAY, 1, 12);
    }
    let t0 = MONDAY + DAY + 12 * HOUR;
    let mut fired = None;
    for i in 0..60u64 {
        let ts = t0 + i * 10 * SEC;
        let status = if i % 6 == 5 { 200 } else { 503 };
        let ev = feed(&mut b, &Req::new(ts, identity(20 + i % 5, &format!("198.51.{}.9", i % 5)), "/aisp/accounts", "/aisp/accounts", status));
        if fired.is_none() && new_of(&ev, AnomalyKind::ErrorSpike) > 0 {
            fired = Some(ts - t0);
        }
    }
    assert!(fired.expect("no spike") <= 2 * MIN);
}

#[test]
fn a_response_far_above_the_endpoint_sizes_is_response_size() {
    let mut b = engine("UTC");
    steady(&mut b, 30, "198.51.100.30", MONDAY, 1, 4);
    let mut r = Req::new(MONDAY + DAY, identity(30, "198.51.100.30"), "/aisp/accounts/{AccountId}/balances", "/aisp/accounts/acc-1/balances", 200);
    r.bytes = 30_000;
    assert_eq!(new_of(&feed(&mut b, &r), AnomalyKind::ResponseSize), 0, "15 times a 2 KB norm but under 1 MiB");
    r.ts += MIN;
    r.bytes = 5_000_000;
    assert_eq!(new_of(&feed(&mut b, &r), AnomalyKind::ResponseSize), 1);
}

#[test]
fn surface_findings_shadow_zombie_unauthenticated_and_smuggling() {
    let mut b = engine("UTC");
    let mut r = Req::new(MONDAY, identity(40, "198.51.100.40"), "/internal/export", "/internal/export", 200);
    r.obs.landing = Landing::Endpoint { class: Classification::Shadow, accepted: false };
    assert_eq!(new_of(&feed(&mut b, &r), AnomalyKind::ShadowEndpointUse), 1);
    r.ts += MIN;
    assert!(feed(&mut b, &r).is_empty(), "the same consumer and endpoint is one finding");
    r.obs.landing = Landing::Endpoint { class: Classification::Shadow, accepted: true };
    r.obs.template = Some("/internal/accepted".into());
    assert!(feed(&mut b, &r).is_empty(), "an accepted shadow endpoint is not alerted");
    r.obs.landing = Landing::Endpoint { class: Classification::Zombie, accepted: false };
    r.obs.template = Some("/v3/accounts".into());
    assert_eq!(new_of(&feed(&mut b, &r), AnomalyKind::ZombieEndpointUse), 1);
    let mut u = Req::new(MONDAY + HOUR, identity(41, "203.0.113.200"), "/aisp/accounts/{AccountId}", "/aisp/accounts/acc-1", 200);
    u.id.source = IdSource::Network;
    u.authenticated = false;
    u.obs.response_sensitive = 3;
    assert_eq!(new_of(&feed(&mut b, &u), AnomalyKind::UnauthenticatedSensitive), 1);
    u.authenticated = true;
    u.id = identity(42, "203.0.113.201");
    assert_eq!(new_of(&feed(&mut b, &u), AnomalyKind::UnauthenticatedSensitive), 0);
    let mut s = Req::new(MONDAY + 2 * HOUR, identity(43, "198.51.100.43"), "/aisp/accounts", "/aisp/accounts", 400);
    s.events = vec!["content_length_and_chunked"];
    assert_eq!(new_of(&feed(&mut b, &s), AnomalyKind::HttpSmuggling), 1);
}

#[test]
fn a_replay_gives_the_same_findings_with_the_same_ids_and_a_new_key_other_ids() {
    let run = |key: u8| {
        let mut b = Behaviour::new(BehaviourConfig::default(), [key; 16], true).unwrap();
        let mut all = steady(&mut b, 50, "198.51.100.50", MONDAY, 4, 5);
        for i in 0..30u64 {
            let r = Req::new(MONDAY + 4 * DAY + i * SEC, identity(50, "198.51.100.50"), "/aisp/accounts/{AccountId}", &format!("/aisp/accounts/{i}"), 404);
            all.extend(feed(&mut b, &r));
        }
        b.advance(MONDAY + 6 * DAY);
        all.extend(b.drain());
        all
    };
    let (a, b, c) = (run(1), run(1), run(2));
    assert!(!a.is_empty());
    assert_eq!(a, b);
    assert_eq!(a.last().unwrap().lifecycle, Lifecycle::Closed);
    assert_ne!(a[0].finding_id, c[0].finding_id);
}

#[test]
fn a_profile_filled_to_every_bound_stays_within_64_kib() {
    let mut b = engine("UTC");
    let mut id = identity(60, "10.0.0.1");
    id.customer = Some(CustomerId(1));
    let mut ts = MONDAY;
    for i in 0..20_000u64 {
        ts += 30 * SEC;
        let ip = format!("10.{}.{}.1", i % 200, (i / 200) % 200);
        let mut r = Req::new(ts, placed(60, &ip, (i % 500) as u32, ["GB", "DE", "FR", "NL", "BR", "US", "JP", "IN"][(i % 8) as usize]), "/aisp/accounts/{AccountId}/x", &format!("/aisp/accounts/a{i}/x"), if i % 2 == 0 { 200 } else { 404 });
        r.obs.template = Some(format!("/aisp/accounts/{{AccountId}}/x{}", i % 300));
        r.path = format!("/aisp/accounts/a{i}/x{}", i % 300);
        r.obs.response_ids = (0..20).map(|k| format!("id-{i}-{k}")).collect();
        r.ua = Some(format!("agent/{}", i % 100));
        r.id.customer = Some(CustomerId(i));
        r.id.login = (i % 3 == 0).then_some(LoginAttempt { kind: LoginKind::Form, user: Some(i), outcome: LoginOutcome::Failure });
        feed(&mut b, &r);
    }
    let (largest, _) = b.profile_memory();
    assert!(largest > 20_000, "the profile did fill up: {largest}");
    assert!(largest <= 64 * 1024, "{largest} bytes");
}
