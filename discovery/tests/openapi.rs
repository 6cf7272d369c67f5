//! The loader against real specifications (the shared specs directory and the copies under
//! `fixtures/specs/`) and against small documents that pin each error and resolution rule.
//!
//! Expected numbers were counted independently of this crate, with a Python one-off that
//! read each file with PyYAML / json and walked `paths` (operations = keys among get, put,
//! post, delete, options, head, patch, trace; `deprecated: true` counted per operation;
//! `$ref`s followed by hand), and checked against the specs' READMEs where those give them.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod spec_files;

use std::time::{Duration, Instant};

use apitap_discovery::openapi::{Operation, ParamIn, Schema, Spec};
use spec_files::{fixture, load_file, shared_specs_dir, spec_files};

fn op<'s>(spec: &'s Spec, method: &str, path: &str) -> &'s Operation {
    spec.operations
        .iter()
        .find(|o| o.method == method && o.path == path)
        .unwrap_or_else(|| panic!("{} has no {method} {path}", spec.source))
}

fn property_names(schema: &Schema) -> Vec<&str> {
    match schema {
        Schema::Object { properties, .. } => properties.iter().map(|(n, _)| n.as_str()).collect(),
        other => panic!("expected an object, got {other:?}"),
    }
}

// ---------------------------------------------------------------- every real specification

#[test]
fn every_shared_spec_loads_with_the_operations_it_declares() {
    let dir = shared_specs_dir();
    assert!(
        dir.is_dir(),
        "the shared specs directory {} is missing",
        dir.display()
    );
    let files = spec_files(&dir);
    // 5 Adyen JSON + 8 UK Open Banking YAML + 16 Open Finance Brasil YAML (10 + 6 old majors).
    assert_eq!(files.len(), 29, "{files:?}");
    // path (relative to the shared dir) -> operations, counted with the Python one-off.
    let expected: &[(&str, usize)] = &[
        ("adyen/BalancePlatformService-v2.json", 91),
        ("adyen/CheckoutService-v71.json", 28),
        ("adyen/OpenBankingService-v1.json", 2),
        ("adyen/PaymentService-v68.json", 13),
        ("adyen/TransferService-v4.json", 12),
        ("ob-uk/account-info-openapi.yaml", 29),
        ("ob-uk/confirmation-funds-openapi.yaml", 4),
        ("ob-uk/event-notifications-openapi.yaml", 1),
        ("ob-uk/events-openapi.yaml", 5),
        ("ob-uk/payment-initiation-openapi.yaml", 41),
        ("ob-uk/v3.1.11/account-info-openapi.yaml", 29),
        ("ob-uk/v3.1.11/payment-initiation-openapi.yaml", 41),
        ("ob-uk/vrp-openapi.yaml", 9),
        ("obb-br/accounts_2.4.2.yml", 6),
        ("obb-br/automatic-payments_2.0.0.yml", 7),
        ("obb-br/consents_3.3.1.yml", 5),
        ("obb-br/credit-cards_2.3.1.yml", 7),
        ("obb-br/customers_2.2.1.yml", 6),
        ("obb-br/enrollments_2.1.0.yml", 8),
        ("obb-br/loans_2.5.0.yml", 5),
        ("obb-br/old-majors/accounts_1.0.3.yml", 5),
        ("obb-br/old-majors/consents_1.0.3.yml", 3),
        ("obb-br/old-majors/consents_2.2.0.yml", 5),
        ("obb-br/old-majors/payments_1.2.0.yml", 4),
        ("obb-br/old-majors/payments_2.1.0.yml", 5),
        ("obb-br/old-majors/payments_3.1.0.yml", 5),
        ("obb-br/payments_4.0.0.yml", 6),
        ("obb-br/resources_3.1.0.yml", 1),
        ("obb-br/webhook_1.2.0.yml", 5),
    ];
    let mut total = Duration::ZERO;
    for file in &files {
        let start = Instant::now();
        let spec = load_file(file);
        total += start.elapsed();
        let relative = file
            .strip_prefix(&dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let want = expected
            .iter()
            .find(|(p, _)| *p == relative)
            .map(|(_, n)| *n);
        assert_eq!(Some(spec.operations.len()), want, "{relative}");
        assert!(
            !spec.title.is_empty() && !spec.version.is_empty(),
            "{relative}: info"
        );
        // Every Brazilian spec lists a production and a homologation host with one path.
        if relative.starts_with("obb-br/") {
            assert_eq!(
                spec.base_paths.len(),
                1,
                "{relative}: {:?}",
                spec.base_paths
            );
            assert!(
                spec.base_paths[0].starts_with("/open-banking/"),
                "{relative}"
            );
        }
    }
    println!("loaded {} shared specifications in {total:?}", files.len());
    // A loose ceiling that still catches an accidental blow-up (the debug build takes a
    // fraction of this; the release figure is in the crate's documentation).
    assert!(
        total < Duration::from_secs(20),
        "loading every shared spec took {total:?}"
    );
}

// ---------------------------------------------------------------- UK Open Banking

#[test]
fn ob_uk_v4_account_info_operations_and_base_path() {
    let spec = fixture("ob-uk/account-info-openapi.yaml");
    assert_eq!(spec.operations.len(), 29);
    assert_eq!(spec.base_paths, vec!["/open-banking/v4.0/aisp"]);
    let first = &spec.operations[0];
    assert_eq!(
        (first.method.as_str(), first.path.as_str()),
        ("POST", "/account-access-consents")
    );
    assert!(spec.operations.iter().all(|o| !o.deprecated));
}

#[test]
fn ob_uk_v4_get_account_parameters_security_and_response_shape() {
    let spec = fixture("ob-uk/account-info-openapi.yaml");
    let get = op(&spec, "GET", "/accounts/{AccountId}");
    assert_eq!(get.operation_id.as_deref(), Some("GetAccountsAccountId"));
    assert_eq!(get.tags, vec!["Accounts"]);
    assert_eq!(get.security, vec!["PSUOAuth2Security"]);

    let names: Vec<(&str, ParamIn, bool)> = get
        .parameters
        .iter()
        .map(|p| (p.name.as_str(), p.location, p.required))
        .collect();
    assert_eq!(
        names,
        vec![
            ("AccountId", ParamIn::Path, true),
            ("x-fapi-auth-date", ParamIn::Header, false),
            ("x-fapi-customer-ip-address", ParamIn::Header, false),
            ("x-fapi-interaction-id", ParamIn::Header, false),
            ("Authorization", ParamIn::Header, true),
            ("x-customer-user-agent", ParamIn::Header, false),
        ]
    );
    let Schema::String {
        pattern: Some(pattern),
        ..
    } = &get.parameters[1].schema
    else {
        panic!("x-fapi-auth-date: {:?}", get.parameters[1].schema);
    };
    assert!(
        pattern.starts_with("^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)"),
        "{pattern}"
    );

    let statuses: Vec<&str> = get.responses.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(
        statuses,
        vec!["200", "400", "401", "403", "405", "406", "429", "500"]
    );
    // 401, 405, 406 and 429 are documented without content.
    let without_body: Vec<&str> = get
        .responses
        .iter()
        .filter(|r| r.body.is_none())
        .map(|r| r.status.as_str())
        .collect();
    assert_eq!(without_body, vec!["401", "405", "406", "429"]);
    // Three media types are offered; plain application/json is chosen.
    let ok = get.responses[0].body.as_ref().unwrap();
    assert_eq!(ok.media_type, "application/json");
    assert_eq!(property_names(&ok.schema), vec!["Data", "Links", "Meta"]);
    let Schema::Object {
        properties,
        required,
    } = &ok.schema
    else {
        unreachable!()
    };
    assert_eq!(required, &vec!["Data".to_owned()]);
    // Data holds the Account array.
    let data = &properties[0].1;
    assert!(property_names(data).contains(&"Account"), "{data:?}");
}

#[test]
fn ob_uk_v4_payment_initiation_operations_body_and_base_path() {
    let spec = fixture("ob-uk/payment-initiation-openapi.yaml");
    assert_eq!(spec.operations.len(), 41);
    assert_eq!(spec.base_paths, vec!["/open-banking/v4.0/pisp"]);
    let post = op(&spec, "POST", "/domestic-payment-consents");
    assert_eq!(post.security, vec!["TPPOAuth2Security"]);
    let body = post.request_body.as_ref().unwrap();
    assert!(body.required);
    assert_eq!(body.media_type, "application/json");
    assert_eq!(property_names(&body.schema), vec!["Data", "Risk"]);
    let idempotency = post
        .parameters
        .iter()
        .find(|p| p.name == "x-idempotency-key")
        .unwrap();
    assert!(idempotency.required);
    assert!(matches!(
        idempotency.schema,
        Schema::String {
            max_length: Some(40),
            ..
        }
    ));
    let created = post.responses.iter().find(|r| r.status == "201").unwrap();
    let created = created.body.as_ref().unwrap();
    assert_eq!(
        property_names(&created.schema),
        vec!["Data", "Risk", "Links", "Meta"]
    );
}

#[test]
fn ob_uk_v3_1_11_has_the_same_operations_under_another_base_path() {
    let old = fixture("ob-uk/v3.1.11/account-info-openapi.yaml");
    let new = fixture("ob-uk/account-info-openapi.yaml");
    assert_eq!(old.base_paths, vec!["/open-banking/v3.1/aisp"]);
    let keys = |s: &Spec| {
        let mut k: Vec<(String, String)> = s
            .operations
            .iter()
            .map(|o| (o.method.clone(), o.path.clone()))
            .collect();
        k.sort();
        k
    };
    assert_eq!(keys(&old).len(), 29);
    assert_eq!(keys(&old), keys(&new));
}

// ---------------------------------------------------------------- Open Finance Brasil

#[test]
fn obb_br_accounts_balances_operation() {
    let spec = fixture("obb-br/accounts_2.4.2.yml");
    assert_eq!(spec.operations.len(), 6);
    // Two servers (production and homologation hosts) share one path.
    assert_eq!(spec.base_paths, vec!["/open-banking/accounts/v2"]);
    let get = op(&spec, "GET", "/accounts/{accountId}/balances");
    assert_eq!(
        get.operation_id.as_deref(),
        Some("accountsGetAccountsAccountIdBalances")
    );
    assert_eq!(get.security, vec!["OpenId", "OAuth2Security"]);
    let account_id = get
        .parameters
        .iter()
        .find(|p| p.name == "accountId")
        .unwrap();
    assert_eq!(
        (account_id.location, account_id.required),
        (ParamIn::Path, true)
    );
    let Schema::String {
        pattern,
        max_length,
        ..
    } = &account_id.schema
    else {
        panic!("{:?}", account_id.schema);
    };
    assert_eq!(
        pattern.as_deref(),
        Some(r"^[a-zA-Z0-9][a-zA-Z0-9\-]{0,99}$")
    );
    assert_eq!(*max_length, Some(100));
    let interaction = get
        .parameters
        .iter()
        .find(|p| p.name == "x-fapi-interaction-id")
        .unwrap();
    assert!(interaction.required);
    assert!(matches!(&interaction.schema, Schema::String { format: Some(f), .. } if f == "uuid"));
    assert_eq!(get.parameters.len(), 6);
    let statuses: Vec<&str> = get.responses.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(statuses.len(), 14);
    assert_eq!(statuses.last(), Some(&"default"));
    let ok = get.responses[0].body.as_ref().unwrap();
    assert_eq!(ok.media_type, "application/json");
    assert_eq!(property_names(&ok.schema), vec!["data", "links", "meta"]);
    // Error responses are only offered as `application/json; charset=utf-8`.
    let bad = get.responses[1].body.as_ref().unwrap();
    assert_eq!(bad.media_type, "application/json; charset=utf-8");
}

// ---------------------------------------------------------------- Adyen (OpenAPI 3.1, JSON)

#[test]
fn adyen_transfers_deprecated_operations() {
    let spec = fixture("adyen/TransferService-v4.json");
    assert_eq!(spec.operations.len(), 12);
    assert_eq!(spec.base_paths, vec!["/btl/v4"]);
    let mut deprecated: Vec<(&str, &str)> = spec
        .operations
        .iter()
        .filter(|o| o.deprecated)
        .map(|o| (o.method.as_str(), o.path.as_str()))
        .collect();
    deprecated.sort();
    assert_eq!(
        deprecated,
        vec![
            ("GET", "/grants"),
            ("GET", "/grants/{id}"),
            ("POST", "/grants")
        ]
    );
    assert_eq!(
        op(&spec, "GET", "/grants").security,
        vec!["clientKey", "BasicAuth", "ApiKeyAuth"]
    );
    // No document-level security and none on the operation: nothing applies.
    assert!(op(&spec, "POST", "/cashouts").security.is_empty());
    // `#/components/parameters/Idempotency-Key` is resolved.
    let post = op(&spec, "POST", "/transfers");
    let names: Vec<&str> = post.parameters.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["Idempotency-Key", "WWW-Authenticate"]);
}

#[test]
fn all_shared_adyen_deprecations_match_the_readme() {
    // adyen/README.txt lists 3 + 3 + 1 + 1 deprecated operations.
    let dir = shared_specs_dir().join("adyen");
    let count = |f: &str| {
        load_file(&dir.join(f))
            .operations
            .iter()
            .filter(|o| o.deprecated)
            .count()
    };
    assert_eq!(count("BalancePlatformService-v2.json"), 3);
    assert_eq!(count("TransferService-v4.json"), 3);
    assert_eq!(count("CheckoutService-v71.json"), 1);
    assert_eq!(count("PaymentService-v68.json"), 1);
    assert_eq!(count("OpenBankingService-v1.json"), 0);
}
