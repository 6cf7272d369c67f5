use super::suppress::MAX_TEXT_BYTES;
use super::*;
use crate::behaviour::{AnomalyKind, ConsumerRef, EndpointRef};
use crate::sketch::clock::BankClock;

fn london() -> BankClock {
    BankClock::new(chrono_tz::Europe::London)
}

fn ns(rfc3339: &str) -> u64 {
    parse_instant(rfc3339, &BankClock::utc(), false).unwrap()
}

fn spec() -> SuppressionSpec {
    SuppressionSpec { id: "r1".into(), owner: "soc".into(), reason: "why".into(), expires: "2030-01-01".into(), ..SuppressionSpec::default() }
}

fn consumer(label: &str) -> ConsumerRef {
    ConsumerRef { id: "00112233445566778899aabbccddeeff".into(), label: label.into(), source: "jwt", org_id: None }
}

fn endpoint(service: &str, method: &str, path: &str) -> EndpointRef {
    EndpointRef { service: service.into(), method: method.into(), path_template: path.into(), classification: None }
}

fn subject<'a>(kind: AnomalyKind, time: &str) -> Subject<'a> {
    Subject { kind, time: ns(time), consumer: None, client_ip: None, user_agent: None, fingerprint: None, endpoint: None }
}

#[test]
fn weekly_windows_follow_the_bank_clock_across_daylight_saving() {
    let w = TimeWindow::parse("daily 01:00-04:00", &london()).unwrap();
    // Summer: 01:30 local is 00:30 UTC. Winter: 01:30 local is 01:30 UTC.
    assert!(w.contains(ns("2026-07-01T00:30:00Z"), &london()));
    assert!(!w.contains(ns("2026-07-01T03:30:00Z"), &london()), "04:30 local in summer");
    assert!(w.contains(ns("2026-12-01T03:30:00Z"), &london()));
    assert!(!w.contains(ns("2026-12-01T00:30:00Z"), &london()), "00:30 local in winter");
}

#[test]
fn a_window_ending_before_it_starts_runs_past_midnight_from_the_listed_days() {
    let c = BankClock::utc();
    let w = TimeWindow::parse("Fri 22:00-06:00", &c).unwrap();
    // 2026-11-20 is a Friday.
    assert!(w.contains(ns("2026-11-20T23:00:00Z"), &c));
    assert!(w.contains(ns("2026-11-21T05:59:00Z"), &c), "Saturday early morning belongs to Friday's night");
    assert!(!w.contains(ns("2026-11-21T23:00:00Z"), &c), "Saturday night is not listed");
    assert!(!w.contains(ns("2026-11-20T05:00:00Z"), &c), "Friday early morning is Thursday's night");
    let whole = TimeWindow::parse("weekends 00:00-24:00", &c).unwrap();
    assert!(whole.contains(ns("2026-11-22T23:59:59Z"), &c));
    assert!(!whole.contains(ns("2026-11-23T00:00:00Z"), &c));
}

#[test]
fn absolute_windows_and_dates_cover_whole_local_days() {
    let c = london();
    let w = TimeWindow::parse("2026-11-20/2026-11-20", &c).unwrap();
    assert!(w.contains(ns("2026-11-20T00:00:00Z"), &c));
    assert!(w.contains(ns("2026-11-20T23:59:59Z"), &c));
    assert!(!w.contains(ns("2026-11-21T00:00:00Z"), &c));
    // In summer the local day starts an hour before UTC midnight.
    let s = TimeWindow::parse("2026-07-01/2026-07-01", &c).unwrap();
    assert!(s.contains(ns("2026-06-30T23:30:00Z"), &c));
    assert!(!s.contains(ns("2026-07-01T23:30:00Z"), &c));
}

#[test]
fn bad_windows_say_what_to_write() {
    let c = BankClock::utc();
    for (text, needle) in [
        ("daily 04:00-04:00", "empty"),
        ("Mon-Fry 01:00-02:00", "days"),
        ("daily 1:00-02:00", "HH:MM"),
        ("daily 01:00-25:00", "HH:MM"),
        ("2026-11-21/2026-11-20", "ends before"),
        ("yesterday/today", "RFC 3339"),
        ("daily 0100", "HH:MM-HH:MM"),
    ] {
        let e = TimeWindow::parse(text, &c).unwrap_err();
        assert!(e.contains(needle), "{text}: {e}");
    }
}

#[test]
fn every_given_criterion_must_hold_and_any_value_of_one_may() {
    let mut s = spec();
    s.networks = vec!["10.66.0.0/16".into(), "192.0.2.7".into()];
    s.kinds = vec!["bola_enumeration".into(), "http_smuggling".into()];
    let rules = Suppressions::compile(&[s], BankClock::utc()).unwrap();
    let mut sub = subject(AnomalyKind::BolaEnumeration, "2026-11-20T10:00:00Z");
    sub.client_ip = Some("10.66.3.4".parse().unwrap());
    assert_eq!(rules.matching(&sub).map(|r| r.spec.id.as_str()), Some("r1"));
    sub.client_ip = Some("192.0.2.7".parse().unwrap());
    assert!(rules.matching(&sub).is_some());
    sub.kind = AnomalyKind::RateSurge;
    assert!(rules.matching(&sub).is_none(), "kind not listed");
    sub.kind = AnomalyKind::HttpSmuggling;
    sub.client_ip = Some("10.67.0.1".parse().unwrap());
    assert!(rules.matching(&sub).is_none(), "network not listed");
    sub.client_ip = None;
    assert!(rules.matching(&sub).is_none(), "a network criterion needs an address");
}

#[test]
fn consumers_agents_fingerprints_and_endpoints() {
    let mut s = spec();
    s.consumers = vec!["batch-backoffice".into()];
    s.user_agents = vec!["Datadog/Synthetics".into()];
    s.fingerprints = vec!["t13d1516h2_8daaf6152771_02713d6af862".into()];
    s.endpoints = vec!["*.bank.example GET /accounts/*".into()];
    let rules = Suppressions::compile(&[s], BankClock::utc()).unwrap();
    let c = consumer("batch-backoffice");
    let e = endpoint("api.bank.example", "GET", "/accounts/{AccountId}/balances");
    let mut sub = subject(AnomalyKind::OffHours, "2026-11-20T02:00:00Z");
    sub.consumer = Some(&c);
    sub.user_agent = Some("datadog/synthetics 1.0");
    sub.fingerprint = Some("t13d1516h2_8daaf6152771_02713d6af862");
    sub.endpoint = Some(&e);
    assert!(rules.matching(&sub).is_some());
    let other = endpoint("api.bank.example", "POST", "/accounts/{AccountId}/balances");
    sub.endpoint = Some(&other);
    assert!(rules.matching(&sub).is_none(), "method differs");
    let apex = endpoint("bank.example", "GET", "/accounts/1");
    sub.endpoint = Some(&apex);
    assert!(rules.matching(&sub).is_none(), "*.bank.example is a suffix, not the apex");
    sub.endpoint = Some(&e);
    sub.user_agent = Some("curl/8.0");
    assert!(rules.matching(&sub).is_none(), "agent differs");
    sub.user_agent = Some("Datadog/Synthetics");
    let by_id = ConsumerRef { label: "someone-else".into(), ..consumer("x") };
    sub.consumer = Some(&by_id);
    assert!(rules.matching(&sub).is_none(), "label differs and the rule does not name the id");
}

#[test]
fn a_consumer_may_be_named_by_its_id() {
    let mut s = spec();
    s.consumers = vec!["00112233445566778899AABBCCDDEEFF".into()];
    let rules = Suppressions::compile(&[s], BankClock::utc()).unwrap();
    let c = consumer("anything");
    let mut sub = subject(AnomalyKind::RateSurge, "2026-11-20T02:00:00Z");
    sub.consumer = Some(&c);
    assert!(rules.matching(&sub).is_some());
}

#[test]
fn a_rule_stops_at_its_expiry_on_packet_time_and_the_first_rule_that_holds_wins() {
    let mut a = spec();
    a.id = "until-friday".into();
    a.expires = "2026-11-20T12:00:00Z".into();
    a.kinds = vec!["rate_surge".into()];
    let mut b = spec();
    b.id = "window".into();
    b.windows = vec!["daily 11:00-13:00".into()];
    let rules = Suppressions::compile(&[a, b], BankClock::utc()).unwrap();
    let before = subject(AnomalyKind::RateSurge, "2026-11-20T11:59:59Z");
    assert_eq!(rules.matching(&before).map(|r| r.spec.id.as_str()), Some("until-friday"));
    let after = subject(AnomalyKind::RateSurge, "2026-11-20T12:00:00Z");
    assert_eq!(rules.matching(&after).map(|r| r.spec.id.as_str()), Some("window"), "expired: the next rule holds");
    let later = subject(AnomalyKind::RateSurge, "2026-11-20T13:00:00Z");
    assert!(rules.matching(&later).is_none());
}

#[test]
fn a_date_expiry_includes_that_whole_local_day() {
    let mut s = spec();
    s.expires = "2026-11-20".into();
    s.kinds = vec!["off_hours".into()];
    let rules = Suppressions::compile(&[s], london()).unwrap();
    assert!(rules.matching(&subject(AnomalyKind::OffHours, "2026-11-20T23:59:00Z")).is_some());
    assert!(rules.matching(&subject(AnomalyKind::OffHours, "2026-11-21T00:00:00Z")).is_none());
}

/// A change to a valid rule, and what the error must say about it.
type Breakage = (Box<dyn Fn(&mut SuppressionSpec)>, &'static str);

#[test]
fn bad_rules_name_the_field_and_the_fix() {
    let cases: Vec<Breakage> = vec![
        (Box::new(|s| s.owner.clear()), "owner must not be empty"),
        (Box::new(|s| s.reason = " ".into()), "reason must not be empty"),
        (Box::new(|s| s.expires = "soon".into()), "expires"),
        (Box::new(|s| s.id = "a b".into()), "id"),
        (Box::new(|s| s.networks = vec!["10.0.0.0/33".into()]), "networks"),
        (Box::new(|s| s.kinds = vec!["bola".into()]), "bola_enumeration"),
        (Box::new(|s| s.endpoints = vec!["GET accounts".into()]), "start with '/'"),
        (Box::new(|s| s.endpoints = vec!["a b c d".into()]), "HOST METHOD PATH"),
        (Box::new(|s| s.endpoints = vec!["/a*b".into()]), "only at the end"),
        (Box::new(|s| s.windows = vec!["nightly".into()]), "HH:MM"),
        (Box::new(|_| {}), "no criterion"),
        (Box::new(|s| s.user_agents = vec!["x".repeat(MAX_TEXT_BYTES + 1)]), "at most"),
    ];
    for (change, needle) in cases {
        let mut s = spec();
        if needle != "no criterion" {
            s.kinds = vec!["off_hours".into()];
        }
        change(&mut s);
        let e = Suppression::compile(&s, &BankClock::utc()).unwrap_err();
        assert!(e.contains(needle), "{s:?}: {e}");
    }
}

#[test]
fn duplicate_ids_and_too_many_rules_are_refused_with_the_rule_index() {
    let mut a = spec();
    a.kinds = vec!["off_hours".into()];
    let (i, e) = Suppressions::compile(&[a.clone(), a.clone()], BankClock::utc()).unwrap_err();
    assert_eq!(i, 1);
    assert!(e.contains("unique"), "{e}");
    let many = vec![a; MAX_SUPPRESSIONS + 1];
    assert!(Suppressions::compile(&many, BankClock::utc()).is_err());
}
