//! The segment, parameter and method rules of `specmatch`, each pinned with small specs
//! written for the test.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod specmatch_common;

use apitap_discovery::specmatch::{SpecBinding, SpecMatch};
use specmatch_common::{any, op_target, route, set, spec, tpl, Op};

#[test]
fn a_parameter_matches_one_non_empty_segment() {
    let s = set(
        vec![(
            spec("a", &["/api"], &[("GET", "/accounts/{id}", &[])]),
            any(),
        )],
        vec![],
    );
    assert_eq!(
        s.match_request("h", "GET", "/api/accounts/acc-1"),
        Some(SpecMatch {
            target: op_target(0, 0),
            template: "/api/accounts/{id}".into(),
            base_path: "/api".into(),
            without_base_path: false,
        })
    );
    assert_eq!(
        tpl(&s, "h", "GET", "/api/accounts/"),
        None,
        "an empty value is no value"
    );
    assert_eq!(tpl(&s, "h", "GET", "/api/accounts//"), None);
    assert_eq!(
        tpl(&s, "h", "GET", "/api/accounts/a/b"),
        None,
        "one segment only"
    );
    assert_eq!(tpl(&s, "h", "GET", "/api/accounts"), None);
    assert_eq!(
        tpl(&s, "h", "GET", "/api/Accounts/1"),
        None,
        "literals are case-sensitive"
    );
    assert_eq!(tpl(&s, "h", "GET", "/API/accounts/1"), None);
}

#[test]
fn a_trailing_slash_in_traffic_still_matches() {
    let s = set(
        vec![(
            spec(
                "a",
                &["/api/"],
                &[("GET", "/accounts", &[]), ("GET", "/", &[])],
            ),
            any(),
        )],
        vec![],
    );
    assert_eq!(
        tpl(&s, "h", "GET", "/api/accounts/").as_deref(),
        Some("/api/accounts")
    );
    assert_eq!(
        tpl(&s, "h", "GET", "/api/accounts").as_deref(),
        Some("/api/accounts")
    );
    // The spec's root operation under its base path, with and without the slash.
    assert_eq!(tpl(&s, "h", "GET", "/api").as_deref(), Some("/api"));
    assert_eq!(tpl(&s, "h", "GET", "/api/").as_deref(), Some("/api"));
    assert_eq!(
        tpl(&s, "h", "GET", "/api/accounts//"),
        None,
        "only one trailing slash"
    );
}

#[test]
fn embedded_parameters_match_by_literal_prefix_and_suffix() {
    let s = set(
        vec![(
            spec(
                "a",
                &[],
                &[
                    ("GET", "/files/{name}.json", &[]),
                    ("GET", "/ranges/{from}-{to}", &[]),
                    ("GET", "/files/{name}", &[]),
                ],
            ),
            any(),
        )],
        vec![],
    );
    assert_eq!(
        tpl(&s, "h", "GET", "/files/report.json").as_deref(),
        Some("/files/{name}.json")
    );
    // `.json` alone leaves the parameter empty, so only the open parameter matches.
    assert_eq!(
        tpl(&s, "h", "GET", "/files/.json").as_deref(),
        Some("/files/{name}")
    );
    assert_eq!(
        tpl(&s, "h", "GET", "/files/report.xml").as_deref(),
        Some("/files/{name}")
    );
    assert_eq!(
        tpl(&s, "h", "GET", "/ranges/1-9").as_deref(),
        Some("/ranges/{from}-{to}")
    );
    assert_eq!(tpl(&s, "h", "GET", "/ranges/19"), None);
    assert_eq!(tpl(&s, "h", "GET", "/ranges/-9"), None);
}

#[test]
fn fixed_segments_win_over_parameters_whatever_the_order() {
    let ops: [Op<'_>; 2] = [("GET", "/accounts/{id}", &[]), ("GET", "/accounts/me", &[])];
    for order in [[0, 1], [1, 0]] {
        let s = set(
            vec![(spec("a", &[], &[ops[order[0]], ops[order[1]]]), any())],
            vec![],
        );
        assert_eq!(
            tpl(&s, "h", "GET", "/accounts/me").as_deref(),
            Some("/accounts/me")
        );
        assert_eq!(
            tpl(&s, "h", "GET", "/accounts/you").as_deref(),
            Some("/accounts/{id}")
        );
    }
    // Across specs too: the literal in the later spec wins.
    let s = set(
        vec![
            (spec("a", &[], &[("GET", "/accounts/{id}", &[])]), any()),
            (spec("b", &[], &[("GET", "/accounts/me", &[])]), any()),
        ],
        vec![],
    );
    assert_eq!(
        s.match_request("h", "GET", "/accounts/me").unwrap().target,
        op_target(1, 0)
    );
}

#[test]
fn the_first_differing_segment_decides() {
    let s = set(
        vec![(
            spec(
                "a",
                &[],
                &[("GET", "/{kind}/b/{x}", &[]), ("GET", "/a/{y}/{z}", &[])],
            ),
            any(),
        )],
        vec![],
    );
    // `/a/{y}/{z}` has the literal at the first position where the two differ, although
    // `/{kind}/b/{x}` has as many literals.
    assert_eq!(tpl(&s, "h", "GET", "/a/b/c").as_deref(), Some("/a/{y}/{z}"));
    assert_eq!(
        tpl(&s, "h", "GET", "/q/b/c").as_deref(),
        Some("/{kind}/b/{x}")
    );
}

#[test]
fn an_enum_value_never_collapses_into_a_parameter() {
    let kind: &[(&str, &str)] = &[("kind", "{type: string, enum: [savings, current]}")];
    let s = set(
        vec![(
            spec(
                "a",
                &[],
                &[
                    ("GET", "/accounts/{id}/x", &[]),
                    ("GET", "/accounts/{kind}/x", kind),
                ],
            ),
            any(),
        )],
        vec![],
    );
    assert_eq!(
        tpl(&s, "h", "GET", "/accounts/savings/x").as_deref(),
        Some("/accounts/{kind}/x")
    );
    assert_eq!(
        tpl(&s, "h", "GET", "/accounts/current/x").as_deref(),
        Some("/accounts/{kind}/x")
    );
    assert_eq!(
        tpl(&s, "h", "GET", "/accounts/Savings/x").as_deref(),
        Some("/accounts/{id}/x")
    );
    assert_eq!(
        tpl(&s, "h", "GET", "/accounts/acc-7/x").as_deref(),
        Some("/accounts/{id}/x")
    );
    // Alone, an enumerated parameter refuses other values.
    let s = set(
        vec![(
            spec("a", &[], &[("GET", "/accounts/{kind}/x", kind)]),
            any(),
        )],
        vec![],
    );
    assert_eq!(tpl(&s, "h", "GET", "/accounts/loan/x"), None);
    let int_enum: &[(&str, &str)] = &[("v", "{type: integer, enum: [1, 2]}")];
    let s = set(
        vec![(spec("a", &[], &[("GET", "/v/{v}", int_enum)]), any())],
        vec![],
    );
    assert!(tpl(&s, "h", "GET", "/v/2").is_some());
    assert!(tpl(&s, "h", "GET", "/v/3").is_none());
}

#[test]
fn typed_parameters_accept_only_their_type() {
    let s = set(
        vec![(
            spec(
                "a",
                &[],
                &[
                    ("GET", "/n/{n}", &[("n", "{type: integer}")]),
                    ("GET", "/u/{u}", &[("u", "{type: string, format: uuid}")]),
                    ("GET", "/b/{b}", &[("b", "{type: boolean}")]),
                    ("GET", "/f/{f}", &[("f", "{type: number}")]),
                    (
                        "GET",
                        "/o/{o}",
                        &[(
                            "o",
                            "{oneOf: [{type: integer}, {type: string, format: uuid}]}",
                        )],
                    ),
                ],
            ),
            any(),
        )],
        vec![],
    );
    for (path, hit) in [
        ("/n/42", true),
        ("/n/-42", true),
        ("/n/4x", false),
        ("/n/1.5", false),
        ("/u/123e4567-e89b-12d3-a456-426614174000", true),
        ("/u/123e4567", false),
        ("/b/true", true),
        ("/b/maybe", false),
        ("/f/1.25", true),
        ("/f/one", false),
        ("/o/7", true),
        ("/o/123e4567-e89b-12d3-a456-426614174000", true),
        ("/o/seven", false),
    ] {
        assert_eq!(tpl(&s, "h", "GET", path).is_some(), hit, "{path}");
    }
    // A typed parameter beats an open one where both match.
    let s = set(
        vec![(
            spec(
                "a",
                &[],
                &[
                    ("GET", "/x/{any}", &[]),
                    ("GET", "/x/{n}", &[("n", "{type: integer}")]),
                ],
            ),
            any(),
        )],
        vec![],
    );
    assert_eq!(tpl(&s, "h", "GET", "/x/12").as_deref(), Some("/x/{n}"));
    assert_eq!(
        tpl(&s, "h", "GET", "/x/twelve").as_deref(),
        Some("/x/{any}")
    );
}

#[test]
fn a_pattern_is_not_enforced() {
    let s = set(
        vec![(
            spec(
                "a",
                &[],
                &[(
                    "GET",
                    "/p/{p}",
                    &[("p", "{type: string, pattern: '^[0-9]+$'}")],
                )],
            ),
            any(),
        )],
        vec![],
    );
    assert!(tpl(&s, "h", "GET", "/p/abc").is_some());
}

#[test]
fn methods_compare_case_insensitively() {
    let s = set(
        vec![(spec("a", &[], &[("POST", "/pay", &[])]), any())],
        vec![],
    );
    assert!(tpl(&s, "h", "post", "/pay").is_some());
    assert!(tpl(&s, "h", "PoSt", "/pay").is_some());
    assert!(tpl(&s, "h", "GET", "/pay").is_none());
    assert!(tpl(&s, "h", "", "/pay").is_none());
}

#[test]
fn head_is_served_by_get_unless_head_is_documented() {
    let s = set(
        vec![(
            spec(
                "a",
                &[],
                &[
                    ("GET", "/a/{id}", &[]),
                    ("GET", "/b/{id}", &[]),
                    ("HEAD", "/b/{id}", &[]),
                ],
            ),
            any(),
        )],
        vec![],
    );
    let m = s.match_request("h", "HEAD", "/a/1").unwrap();
    assert_eq!(m.target, op_target(0, 0));
    assert_eq!(s.target_method(m.target), Some("GET"));
    let m = s.match_request("h", "head", "/b/1").unwrap();
    assert_eq!(m.target, op_target(0, 2));
    assert_eq!(s.target_method(m.target), Some("HEAD"));
    // The path decides first: a GET with a literal beats a documented HEAD with a parameter.
    let s = set(
        vec![(
            spec(
                "a",
                &[],
                &[("HEAD", "/f/{id}", &[]), ("GET", "/f/latest", &[])],
            ),
            any(),
        )],
        vec![],
    );
    assert_eq!(
        tpl(&s, "h", "HEAD", "/f/latest").as_deref(),
        Some("/f/latest")
    );
    assert_eq!(tpl(&s, "h", "HEAD", "/f/7").as_deref(), Some("/f/{id}"));
    // GET is not served by HEAD.
    let s = set(
        vec![(spec("a", &[], &[("HEAD", "/h", &[])]), any())],
        vec![],
    );
    assert!(tpl(&s, "h", "GET", "/h").is_none());
}

#[test]
fn options_matches_only_when_documented() {
    let s = set(
        vec![(
            spec("a", &[], &[("GET", "/a", &[]), ("OPTIONS", "/b", &[])]),
            any(),
        )],
        vec![route(None, "/c")],
    );
    assert!(tpl(&s, "h", "OPTIONS", "/a").is_none());
    assert!(tpl(&s, "h", "OPTIONS", "/b").is_some());
    assert!(
        tpl(&s, "h", "OPTIONS", "/c").is_none(),
        "a method-less route is not OPTIONS"
    );
    assert!(tpl(&s, "h", "DELETE", "/c").is_some());
    let s = set(vec![], vec![route(Some("options"), "/c")]);
    assert!(tpl(&s, "h", "OPTIONS", "/c").is_some());
}

#[test]
fn unknown_and_malformed_paths_match_nothing() {
    let s = set(
        vec![(
            spec("a", &["/api"], &[("GET", "/a/{x}", &[]), ("GET", "/", &[])]),
            any(),
        )],
        vec![],
    );
    for path in [
        "",
        "*",
        "api/a/1",
        "http://h/api/a/1",
        "/nope",
        "/api/a",
        "/api/a/1/2",
        "/api/b/1",
    ] {
        assert_eq!(tpl(&s, "h", "GET", path), None, "{path}");
    }
    let deep = format!("/api{}", "/a".repeat(10_000));
    assert_eq!(tpl(&s, "h", "GET", &deep), None);
}

#[test]
fn hostile_inputs_never_panic() {
    let s = set(
        vec![(
            spec(
                "a",
                &["/api"],
                &[
                    ("GET", "/f/{name}.json", &[]),
                    ("GET", "/r/{a}-{b}.{c}", &[]),
                    ("GET", "/u/{u}", &[("u", "{type: string, format: uuid}")]),
                    ("GET", "/n/{n}", &[("n", "{type: integer, enum: [1, 2]}")]),
                ],
            ),
            SpecBinding {
                hosts: vec!["*.bank.example".into()],
                ..any()
            },
        )],
        vec![route(None, "/x/{y}é")],
    );
    let alphabet: Vec<char> = "/{}.-é:[]a1 %\u{0}\u{10FFFF}".chars().collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let len = (next() % 24) as usize;
        let text: String = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        let path = format!("/api/{text}");
        let _ = s.match_request(&text, "GET", &path);
        let _ = s.match_request("a.bank.example", &text, &text);
    }
    assert!(tpl(&s, "a.bank.example", "GET", "/api/r/1-2.3").is_some());
    assert!(tpl(&s, "a.bank.example", "GET", "/x/zé").is_some());
    assert!(tpl(&s, "a.bank.example", "GET", "/x/é").is_none());
}

#[test]
fn a_malformed_spec_path_is_matched_literally() {
    let s = set(
        vec![(spec("a", &[], &[("GET", "/odd/{x", &[])]), any())],
        vec![],
    );
    assert_eq!(tpl(&s, "h", "GET", "/odd/{x").as_deref(), Some("/odd/{x"));
    assert_eq!(tpl(&s, "h", "GET", "/odd/1"), None);
}

#[test]
fn an_empty_set_matches_nothing() {
    let s = set(vec![], vec![]);
    assert_eq!(tpl(&s, "h", "GET", "/"), None);
    assert_eq!(tpl(&s, "h", "GET", "/a"), None);
    assert!(s.operations().is_empty());
}
