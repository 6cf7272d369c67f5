//! `specmatch` against the real specifications: the copies under `fixtures/specs/` and, when
//! present, the full shared specs directory next to the workspace.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod spec_files;

use std::path::Path;
use std::time::Instant;

use apitap_discovery::openapi::{Operation, ParamIn, Schema, Spec};
use spec_files::{fixture, fixtures_dir, load_file, shared_specs_dir, spec_files};
use apitap_discovery::specmatch::{MatchTarget, SpecBinding, SpecSet};

fn load_dir(dir: &Path) -> Vec<(Spec, SpecBinding)> {
    spec_files(dir)
        .iter()
        .map(|p| (load_file(p), SpecBinding::default()))
        .collect()
}

/// A value a server would accept for a path parameter, from its schema: the first enum
/// value, a number, a UUID, or a word no spec uses as a literal segment.
fn sample(name: &str, op: &Operation) -> String {
    let schema = op
        .parameters
        .iter()
        .find(|p| p.location == ParamIn::Path && p.name == name)
        .map(|p| &p.schema);
    match schema {
        Some(Schema::String { enumeration, .. }) if !enumeration.is_empty() => {
            enumeration[0].clone()
        }
        Some(Schema::String {
            format: Some(f), ..
        }) if f == "uuid" => "0b7e2a4c-3f1d-4c6e-9a8b-112233445566".into(),
        Some(Schema::Integer { enumeration, .. }) if !enumeration.is_empty() => {
            enumeration[0].to_string()
        }
        Some(Schema::Integer { .. }) => "42".into(),
        _ => format!("{}-x1", name.to_lowercase()),
    }
}

/// `template` with each `{name}` replaced by a sample value.
fn instantiate(template: &str, op: &Operation) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some((before, after)) = rest.split_once('{') {
        out.push_str(before);
        let (name, tail) = after.split_once('}').unwrap();
        out.push_str(&sample(name, op));
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// Every operation under every base path, instantiated, matches itself with the template
/// base path + operation path, and no method nobody documents matches it.
fn assert_every_operation_matches_itself(set: &SpecSet) -> usize {
    let mut checked = 0;
    for (spec_index, bound) in set.specs().iter().enumerate() {
        for (op_index, op) in bound.spec.operations.iter().enumerate() {
            for base in &bound.base_paths {
                // Built here from the model, not from the set's listing.
                let template = format!("{base}{}", op.path);
                let path = instantiate(&template, op);
                let m = set
                    .match_request("api.bank.example", &op.method, &path)
                    .unwrap_or_else(|| {
                        panic!(
                            "{} {path} ({}) matched nothing",
                            op.method, bound.spec.source
                        )
                    });
                assert_eq!(
                    m.target,
                    MatchTarget::Operation {
                        spec: spec_index,
                        operation: op_index
                    },
                    "{} {path} of {} matched {:?} {}",
                    op.method,
                    bound.spec.source,
                    m.target,
                    m.template
                );
                assert_eq!(m.template, template);
                assert_eq!(&m.base_path, base);
                assert!(!m.without_base_path);
                assert!(set
                    .match_request("api.bank.example", "TRACE", &path)
                    .is_none());
                let with_slash = format!("{path}/");
                assert_eq!(
                    set.match_request("h", &op.method, &with_slash)
                        .map(|m| m.target),
                    Some(m.target)
                );
                checked += 1;
            }
        }
    }
    checked
}

#[test]
fn every_fixture_operation_matches_itself_and_no_other() {
    let specs = load_dir(&fixtures_dir());
    assert_eq!(specs.len(), 11);
    let set = SpecSet::new(specs, vec![]).unwrap();
    // 29 (UK AIS v4.0) + 29 (UK AIS v3.1.11) + 41 (UK PIS v4.0) + 12 (Adyen transfers)
    // + 6 (Brazil accounts v2), and for the inventory's scenarios 91 (Adyen Balance Platform)
    // + 7 (Brazil credit cards) + 5 (Brazil consents) + 5 (Brazil accounts v1) + 1 (token
    // endpoint) + 5 (the gRPC payment methods, `POST /package.Service/Method`), each under its
    // one server base path (the Brazilian specs' two servers share it).
    assert_eq!(assert_every_operation_matches_itself(&set), 231);
    assert_eq!(set.operations().len(), 231);
}

#[test]
fn every_shared_spec_operation_matches_itself_and_no_other() {
    let dir = shared_specs_dir();
    if !dir.is_dir() {
        eprintln!("skipped: {} is not present", dir.display());
        return;
    }
    let set = SpecSet::new(load_dir(&dir), vec![]).unwrap();
    assert_eq!(set.specs().len(), 29);
    assert_eq!(assert_every_operation_matches_itself(&set), 388);
}

fn uk_pair(superseded: bool) -> SpecSet {
    SpecSet::new(
        vec![
            (
                fixture("ob-uk/v3.1.11/account-info-openapi.yaml"),
                SpecBinding {
                    superseded,
                    ..SpecBinding::default()
                },
            ),
            (
                fixture("ob-uk/account-info-openapi.yaml"),
                SpecBinding::default(),
            ),
        ],
        vec![],
    )
    .unwrap()
}

#[test]
fn uk_v4_and_v3_1_11_are_told_apart_by_their_base_paths() {
    for superseded in [false, true] {
        let set = uk_pair(superseded);
        let v3 = set
            .match_request(
                "api.bank.example",
                "GET",
                "/open-banking/v3.1/aisp/accounts/acc-1/transactions",
            )
            .unwrap();
        let v4 = set
            .match_request(
                "api.bank.example",
                "GET",
                "/open-banking/v4.0/aisp/accounts/acc-1/transactions",
            )
            .unwrap();
        assert_eq!(
            v3.template,
            "/open-banking/v3.1/aisp/accounts/{AccountId}/transactions"
        );
        assert_eq!(v3.base_path, "/open-banking/v3.1/aisp");
        assert!(matches!(v3.target, MatchTarget::Operation { spec: 0, .. }));
        assert_eq!(
            v4.template,
            "/open-banking/v4.0/aisp/accounts/{AccountId}/transactions"
        );
        assert!(matches!(v4.target, MatchTarget::Operation { spec: 1, .. }));
        let op = set.operation(v4.target).unwrap();
        assert_eq!(
            (op.method.as_str(), op.path.as_str()),
            ("GET", "/accounts/{AccountId}/transactions")
        );
        // Another version that no spec documents is not folded into either.
        assert!(set
            .match_request("h", "GET", "/open-banking/v3.0/aisp/accounts/acc-1")
            .is_none());
    }
}

#[test]
fn without_its_base_path_the_newer_spec_wins_unless_neither_is_superseded() {
    let m = uk_pair(true)
        .match_request("h", "GET", "/accounts/acc-1/balances")
        .unwrap();
    assert!(m.without_base_path);
    assert_eq!(
        (m.template.as_str(), m.base_path.as_str()),
        ("/accounts/{AccountId}/balances", "")
    );
    assert!(
        matches!(m.target, MatchTarget::Operation { spec: 1, .. }),
        "{:?}",
        m.target
    );
    let m = uk_pair(false)
        .match_request("h", "GET", "/accounts/acc-1/balances")
        .unwrap();
    assert!(
        matches!(m.target, MatchTarget::Operation { spec: 0, .. }),
        "the earlier spec: {:?}",
        m.target
    );
}

#[test]
fn adyen_transfers_operations() {
    let set = SpecSet::new(
        vec![(
            fixture("adyen/TransferService-v4.json"),
            SpecBinding::default(),
        )],
        vec![],
    )
    .unwrap();
    let op_of = |method: &str, path: &str| {
        let m = set.match_request("balanceplatform-api-test.adyen.com", method, path)?;
        let op = set.operation(m.target).unwrap();
        Some((
            op.method.clone(),
            op.path.clone(),
            op.deprecated,
            m.template,
        ))
    };
    let expect = |method: &str, path: &str, op_path: &str, deprecated: bool| {
        assert_eq!(
            op_of(method, path),
            Some((
                method.to_string(),
                op_path.to_string(),
                deprecated,
                format!("/btl/v4{op_path}")
            )),
            "{method} {path}"
        );
    };
    expect(
        "POST",
        "/btl/v4/transfers/approve",
        "/transfers/approve",
        false,
    );
    expect(
        "POST",
        "/btl/v4/transfers/cancel",
        "/transfers/cancel",
        false,
    );
    expect("POST", "/btl/v4/transfers", "/transfers", false);
    // No GET is documented on the literal, so a GET there is the parameter.
    expect("GET", "/btl/v4/transfers/approve", "/transfers/{id}", false);
    expect(
        "GET",
        "/btl/v4/transfers/3JNC3O5ZVFLLGV4B",
        "/transfers/{id}",
        false,
    );
    expect(
        "POST",
        "/btl/v4/transfers/3JNC3O5ZVFLLGV4B/returns",
        "/transfers/{transferId}/returns",
        false,
    );
    expect(
        "GET",
        "/btl/v4/transactions/EVJN42272224222B5JB8BRC84N686ZEUR",
        "/transactions/{id}",
        false,
    );
    // The deprecated grants operations still match (the inventory calls them zombies).
    expect("GET", "/btl/v4/grants", "/grants", true);
    expect("POST", "/btl/v4/grants", "/grants", true);
    expect(
        "GET",
        "/btl/v4/grants/GR00000000000000000000001",
        "/grants/{id}",
        true,
    );
    assert_eq!(op_of("POST", "/btl/v4/transfers/3JNC3O5ZVFLLGV4B"), None);
    assert_eq!(op_of("DELETE", "/btl/v4/transfers/3JNC3O5ZVFLLGV4B"), None);
    assert_eq!(op_of("GET", "/btl/v3/transfers/3JNC3O5ZVFLLGV4B"), None);
}

#[test]
fn unknown_paths_on_real_specs_match_nothing() {
    let set = SpecSet::new(load_dir(&fixtures_dir()), vec![]).unwrap();
    for path in [
        "/open-banking/v4.0/aisp/internal/accounts-export",
        "/open-banking/v4.0/aisp/accounts/acc-1/transactionz",
        "/open-banking/v4.0/aisp/accounts/acc-1/transactions/extra",
        "/open-banking/v4.0/aisp",
        "/open-banking/v4.0",
        "/",
        "/favicon.ico",
        "/open-banking/accounts/v9/accounts",
        "/internal/accounts-export",
    ] {
        assert_eq!(
            set.match_request("api.bank.example", "GET", path),
            None,
            "{path}"
        );
    }
}

#[test]
fn host_bindings_on_real_specs() {
    let uk = SpecBinding {
        hosts: vec!["api.bank.example".into(), "*.obuk.bank.example".into()],
        environment: Some("production".into()),
        ..SpecBinding::default()
    };
    let adyen = SpecBinding {
        hosts: vec!["balanceplatform-api-test.adyen.com".into()],
        ..SpecBinding::default()
    };
    let set = SpecSet::new(
        vec![
            (fixture("ob-uk/account-info-openapi.yaml"), uk),
            (fixture("adyen/TransferService-v4.json"), adyen),
        ],
        vec![],
    )
    .unwrap();
    let uk_path = "/open-banking/v4.0/aisp/accounts";
    assert!(set
        .match_request("api.bank.example", "GET", uk_path)
        .is_some());
    assert!(set
        .match_request("eu.obuk.bank.example:443", "GET", uk_path)
        .is_some());
    assert!(set
        .match_request("balanceplatform-api-test.adyen.com", "GET", uk_path)
        .is_none());
    assert!(set
        .match_request(
            "balanceplatform-api-test.adyen.com",
            "GET",
            "/btl/v4/transfers/t1"
        )
        .is_some());
    assert!(set
        .match_request("api.bank.example", "GET", "/btl/v4/transfers/t1")
        .is_none());
    assert_eq!(
        set.specs()[0].binding.environment.as_deref(),
        Some("production")
    );
}

#[test]
fn a_gateway_base_path_binding_on_a_real_spec() {
    let bound = SpecBinding {
        base_path: Some("/gw/uk/aisp".into()),
        ..SpecBinding::default()
    };
    let set = SpecSet::new(
        vec![(fixture("ob-uk/account-info-openapi.yaml"), bound)],
        vec![],
    )
    .unwrap();
    let m = set
        .match_request(
            "h",
            "GET",
            "/gw/uk/aisp/accounts/acc-1/statements/st-1/file",
        )
        .unwrap();
    assert_eq!(
        m.template,
        "/gw/uk/aisp/accounts/{AccountId}/statements/{StatementId}/file"
    );
    assert_eq!(m.base_path, "/gw/uk/aisp");
    assert!(set
        .match_request("h", "GET", "/open-banking/v4.0/aisp/accounts/acc-1")
        .is_none());
    let m = set.match_request("h", "GET", "/accounts/acc-1").unwrap();
    assert!(m.without_base_path);
    assert_eq!(m.template, "/accounts/{AccountId}");
}

/// Matching speed with every real spec loaded: prints the time per path. Run with
/// `cargo test --release -p apitap-discovery --test specmatch_real -- --ignored --nocapture`.
#[test]
#[ignore = "timing, run by hand in release"]
fn timing_one_million_paths() {
    let dir = if shared_specs_dir().is_dir() {
        shared_specs_dir()
    } else {
        fixtures_dir()
    };
    let set = SpecSet::new(load_dir(&dir), vec![]).unwrap();
    let mut requests: Vec<(String, String)> = Vec::new();
    for bound in set.specs() {
        for op in &bound.spec.operations {
            let base = &bound.base_paths[0];
            requests.push((
                op.method.clone(),
                instantiate(&format!("{base}{}", op.path), op),
            ));
            requests.push((op.method.clone(), instantiate(&op.path, op)));
            requests.push((op.method.clone(), format!("{base}/unknown{}", op.path)));
        }
    }
    let total = 1_000_000;
    let start = Instant::now();
    let mut matched = 0usize;
    for i in 0..total {
        let (method, path) = &requests[i % requests.len()];
        if set
            .match_request("api.bank.example", method, path)
            .is_some()
        {
            matched += 1;
        }
    }
    let elapsed = start.elapsed();
    eprintln!(
        "{} operations in {} specs: {total} matches in {elapsed:?} ({:.0} ns each), {matched} matched",
        set.operations().len(),
        set.specs().len(),
        elapsed.as_nanos() as f64 / total as f64
    );
    assert!(matched > 0);
}
