//! The binding, precedence, route and base-path fallback rules of `specmatch`, each pinned
//! with small specs written for the test.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod specmatch_common;

use apitap_discovery::specmatch::{
    MatchTarget, Route, SpecBinding, SpecMatch, SpecSet, SpecSetError,
};
use specmatch_common::{any, op_target, route, set, spec, tpl, Op};

#[test]
fn host_bindings_restrict_a_spec_to_its_hosts() {
    let ops: &[Op<'_>] = &[("GET", "/accounts", &[])];
    let s = set(
        vec![
            (
                spec("a", &["/v1"], ops),
                SpecBinding {
                    hosts: vec!["api.bank.example".into(), "*.partners.example".into()],
                    ..any()
                },
            ),
            (
                spec("b", &["/v1"], ops),
                SpecBinding {
                    hosts: vec!["sandbox.bank.example:8443".into()],
                    environment: Some("sandbox".into()),
                    ..any()
                },
            ),
        ],
        vec![],
    );
    let target = |host: &str| {
        s.match_request(host, "GET", "/v1/accounts")
            .map(|m| m.target)
    };
    assert_eq!(target("api.bank.example"), Some(op_target(0, 0)));
    assert_eq!(target("API.BANK.EXAMPLE:443"), Some(op_target(0, 0)));
    assert_eq!(target("x.partners.example"), Some(op_target(0, 0)));
    assert_eq!(target("partners.example"), None);
    assert_eq!(target("sandbox.bank.example:8443"), Some(op_target(1, 0)));
    assert_eq!(
        target("sandbox.bank.example"),
        None,
        "the pattern's port is required"
    );
    assert_eq!(target("other.example"), None);
    assert_eq!(target(""), None);
    assert_eq!(s.specs()[1].binding.environment.as_deref(), Some("sandbox"));
    // The fallback keeps the restriction.
    assert_eq!(s.match_request("other.example", "GET", "/accounts"), None);
    assert!(
        s.match_request("api.bank.example", "GET", "/accounts")
            .unwrap()
            .without_base_path
    );
}

#[test]
fn the_binding_base_path_replaces_the_servers_ones() {
    let ops: &[Op<'_>] = &[("GET", "/accounts", &[])];
    let servers = &[
        "https://api.example/open/v1",
        "https://alt.example/other/v1/",
    ];
    let s = set(vec![(spec("a", servers, ops), any())], vec![]);
    assert_eq!(s.specs()[0].base_paths, vec!["/open/v1", "/other/v1"]);
    let m = s.match_request("h", "GET", "/other/v1/accounts").unwrap();
    assert_eq!(
        (m.template.as_str(), m.base_path.as_str()),
        ("/other/v1/accounts", "/other/v1")
    );
    assert!(tpl(&s, "h", "GET", "/open/v1/accounts").is_some());
    let bound = SpecBinding {
        base_path: Some("gw/bank/".into()),
        ..any()
    };
    let s = set(vec![(spec("a", servers, ops), bound)], vec![]);
    assert_eq!(s.specs()[0].base_paths, vec!["/gw/bank"]);
    let m = s.match_request("h", "GET", "/gw/bank/accounts").unwrap();
    assert_eq!(
        (m.template.as_str(), m.base_path.as_str()),
        ("/gw/bank/accounts", "/gw/bank")
    );
    assert!(!m.without_base_path);
    // The servers' base paths no longer apply; the path is not the operation's alone either.
    assert_eq!(tpl(&s, "h", "GET", "/open/v1/accounts"), None);
    // A root binding.
    let root = SpecBinding {
        base_path: Some("/".into()),
        ..any()
    };
    let s = set(vec![(spec("a", servers, ops), root)], vec![]);
    let m = s.match_request("h", "GET", "/accounts").unwrap();
    assert_eq!(
        (
            m.template.as_str(),
            m.base_path.as_str(),
            m.without_base_path
        ),
        ("/accounts", "", false)
    );
}

#[test]
fn the_longer_base_path_wins_a_tie() {
    let s = set(
        vec![
            (
                spec("short", &["/api"], &[("GET", "/v1/items", &[])]),
                any(),
            ),
            (spec("long", &["/api/v1"], &[("GET", "/items", &[])]), any()),
        ],
        vec![],
    );
    let m = s.match_request("h", "GET", "/api/v1/items").unwrap();
    assert_eq!(m.target, op_target(1, 0));
    assert_eq!(m.base_path, "/api/v1");
    assert_eq!(m.template, "/api/v1/items");
}

#[test]
fn a_superseded_spec_loses_a_tie_and_otherwise_the_earlier_spec_wins() {
    let ops: &[Op<'_>] = &[("GET", "/items/{id}", &[])];
    let old = SpecBinding {
        superseded: true,
        ..any()
    };
    let s = set(
        vec![
            (spec("old", &["/v"], ops), old.clone()),
            (spec("new", &["/v"], ops), any()),
        ],
        vec![],
    );
    assert_eq!(
        s.match_request("h", "GET", "/v/items/1").unwrap().target,
        op_target(1, 0)
    );
    let s = set(
        vec![
            (spec("x", &["/v"], ops), any()),
            (spec("y", &["/v"], ops), any()),
        ],
        vec![],
    );
    assert_eq!(
        s.match_request("h", "GET", "/v/items/1").unwrap().target,
        op_target(0, 0)
    );
    // A superseded spec still matches when it is the only one.
    let s = set(vec![(spec("old", &["/v"], ops), old)], vec![]);
    assert_eq!(
        s.match_request("h", "GET", "/v/items/1").unwrap().target,
        op_target(0, 0)
    );
}

#[test]
fn routes_lose_ties_to_operations_and_win_when_more_specific() {
    let s = set(
        vec![(spec("a", &[], &[("GET", "/users/{id}", &[])]), any())],
        vec![
            route(Some("GET"), "/users/{user}"),
            route(Some("GET"), "/users/me"),
            route(None, "/internal/{thing}/export"),
        ],
    );
    assert_eq!(
        s.match_request("h", "GET", "/users/7").unwrap().target,
        op_target(0, 0)
    );
    let m = s.match_request("h", "GET", "/users/me").unwrap();
    assert_eq!(m.target, MatchTarget::Route(1));
    assert_eq!(
        (
            m.template.as_str(),
            m.base_path.as_str(),
            m.without_base_path
        ),
        ("/users/me", "", false)
    );
    // The route with a parameter still matches methods the spec does not document.
    assert!(
        s.match_request("h", "POST", "/users/7").is_none(),
        "route 0 is GET only"
    );
    let m = s
        .match_request("h", "patch", "/internal/users/export")
        .unwrap();
    assert_eq!(m.target, MatchTarget::Route(2));
    assert_eq!(s.target_method(m.target), None);
    assert_eq!(s.routes()[2].template, "/internal/{thing}/export");
    // An exact method beats a method-less route at the same template.
    let s = set(
        vec![],
        vec![route(None, "/r/{x}"), route(Some("PUT"), "/r/{y}")],
    );
    assert_eq!(
        s.match_request("h", "PUT", "/r/1").unwrap().target,
        MatchTarget::Route(1)
    );
    assert_eq!(
        s.match_request("h", "GET", "/r/1").unwrap().target,
        MatchTarget::Route(0)
    );
}

#[test]
fn route_hosts_restrict_routes() {
    let s = set(
        vec![],
        vec![Route {
            method: None,
            template: "/x".into(),
            hosts: vec!["*.internal.example".into()],
        }],
    );
    assert!(tpl(&s, "svc.internal.example", "GET", "/x").is_some());
    assert!(tpl(&s, "api.bank.example", "GET", "/x").is_none());
}

#[test]
fn bad_routes_and_hosts_are_refused_naming_them() {
    let err =
        SpecSet::new(vec![], vec![route(None, "/ok"), route(None, "/users/{id")]).unwrap_err();
    assert_eq!(
        err,
        SpecSetError::RouteTemplate {
            route: 1,
            template: "/users/{id".into(),
            reason: "segment 2: a `{` is never closed".into(),
        }
    );
    let shown = err.to_string();
    assert!(
        shown.contains("route 1") && shown.contains("/users/{id"),
        "{shown}"
    );
    for bad in ["users/{id}", "/a/{}", "/a/{x}{y}", "/a/b}"] {
        let e = SpecSet::new(vec![], vec![route(None, bad)]).unwrap_err();
        assert!(
            matches!(e, SpecSetError::RouteTemplate { route: 0, .. }),
            "{bad}: {e}"
        );
    }
    let e = SpecSet::new(vec![], vec![route(Some("GE T"), "/a")]).unwrap_err();
    assert!(
        matches!(e, SpecSetError::RouteMethod { route: 0, .. }),
        "{e}"
    );
    let e = SpecSet::new(vec![], vec![route(Some(""), "/a")]).unwrap_err();
    assert!(
        matches!(e, SpecSetError::RouteMethod { route: 0, .. }),
        "{e}"
    );
    let bound = SpecBinding {
        hosts: vec!["ok.example".into(), "a.*.example".into()],
        ..any()
    };
    let e = SpecSet::new(
        vec![(spec("named", &[], &[("GET", "/a", &[])]), bound)],
        vec![],
    )
    .unwrap_err();
    match &e {
        SpecSetError::Host { owner, host, .. } => {
            assert_eq!(owner, "spec 0 (named.yaml)");
            assert_eq!(host, "a.*.example");
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("a.*.example"));
}

#[test]
fn the_base_path_fallback_applies_only_when_nothing_else_matches() {
    let s = set(
        vec![
            (
                spec(
                    "gw",
                    &["/open-banking/v4.0/aisp"],
                    &[("GET", "/accounts/{AccountId}", &[])],
                ),
                any(),
            ),
            (spec("root", &[], &[("GET", "/status", &[])]), any()),
        ],
        vec![route(Some("GET"), "/health")],
    );
    let m = s.match_request("h", "GET", "/accounts/acc-1").unwrap();
    assert_eq!(
        m,
        SpecMatch {
            target: op_target(0, 0),
            template: "/accounts/{AccountId}".into(),
            base_path: String::new(),
            without_base_path: true,
        }
    );
    let m = s
        .match_request("h", "GET", "/open-banking/v4.0/aisp/accounts/acc-1")
        .unwrap();
    assert!(!m.without_base_path);
    assert_eq!(m.template, "/open-banking/v4.0/aisp/accounts/{AccountId}");
    // A root spec matches directly, never through the fallback.
    let m = s.match_request("h", "GET", "/status").unwrap();
    assert_eq!((m.target, m.without_base_path), (op_target(1, 0), false));
    assert_eq!(
        s.match_request("h", "GET", "/health").unwrap().target,
        MatchTarget::Route(0)
    );
    // Another version's base path is not stripped by the fallback.
    assert_eq!(
        tpl(&s, "h", "GET", "/open-banking/v3.1/aisp/accounts/acc-1"),
        None
    );
}

#[test]
fn a_direct_match_anywhere_beats_the_fallback() {
    // `/accounts/{id}` of spec 0 without its base path would be more specific than route
    // `/{any}/{thing}`, but the fallback is tried only when nothing matches directly.
    let s = set(
        vec![(
            spec("a", &["/api"], &[("GET", "/accounts/{id}", &[])]),
            any(),
        )],
        vec![route(Some("GET"), "/{any}/{thing}")],
    );
    assert_eq!(
        s.match_request("h", "GET", "/accounts/1").unwrap().target,
        MatchTarget::Route(0)
    );
}

#[test]
fn operations_are_listed_once_per_base_path() {
    let s = set(
        vec![
            (
                spec(
                    "a",
                    &["/one", "https://h/two"],
                    &[("GET", "/x/{id}", &[]), ("post", "/x", &[])],
                ),
                any(),
            ),
            (spec("b", &[], &[("DELETE", "/", &[])]), any()),
        ],
        vec![route(None, "/r")],
    );
    let listed: Vec<(usize, usize, &str, &str, &str)> = s
        .operations()
        .iter()
        .map(|o| {
            (
                o.spec,
                o.operation,
                o.method.as_str(),
                o.base_path.as_str(),
                o.template.as_str(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            (0, 0, "GET", "/one", "/one/x/{id}"),
            (0, 0, "GET", "/two", "/two/x/{id}"),
            (0, 1, "POST", "/one", "/one/x"),
            (0, 1, "POST", "/two", "/two/x"),
            (1, 0, "DELETE", "", "/"),
        ]
    );
    assert_eq!(s.specs().len(), 2);
    assert_eq!(s.routes().len(), 1);
    assert_eq!(s.operation(op_target(0, 1)).unwrap().path, "/x");
    assert!(s.operation(op_target(5, 0)).is_none());
    assert!(s.operation(MatchTarget::Route(0)).is_none());
    // Every listed template is what a request instantiating it reports.
    for o in s.operations() {
        let path = o.template.replace("{id}", "7");
        let m = s.match_request("h", &o.method, &path).unwrap();
        assert_eq!(
            (m.template.as_str(), m.base_path.as_str()),
            (o.template.as_str(), o.base_path.as_str())
        );
    }
}
