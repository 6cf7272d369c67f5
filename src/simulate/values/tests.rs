#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::*;
use apitap_discovery::openapi::{load_spec, ParamIn};

const NOW: i64 = 1_700_000_000; // 2023-11-14T22:13:20Z

fn ctx(ids: &[(String, String)]) -> ValueCtx<'_> {
    ValueCtx { now_secs: NOW, currency: "GBP", country: "GB", ids }
}

fn string(pattern: Option<&str>, min: Option<u64>, max: Option<u64>) -> Schema {
    Schema::String { format: None, enumeration: vec![], pattern: pattern.map(Into::into), min_length: min, max_length: max }
}

fn formatted(format: &str) -> Schema {
    Schema::String { format: Some(format.into()), enumeration: vec![], pattern: None, min_length: None, max_length: None }
}

fn enumerated(values: &[&str]) -> Schema {
    Schema::String { format: None, enumeration: values.iter().map(|v| v.to_string()).collect(), pattern: None, min_length: None, max_length: None }
}

fn object(props: Vec<(&str, Schema)>, required: &[&str]) -> Schema {
    Schema::Object { properties: props.into_iter().map(|(n, s)| (n.to_string(), s)).collect(), required: required.iter().map(|r| r.to_string()).collect() }
}

fn array(items: Schema, min: Option<u64>, max: Option<u64>) -> Schema {
    Schema::Array { items: Box::new(items), min_items: min, max_items: max }
}

const AMOUNT_PATTERN: &str = r"^\d{1,13}$|^\d{1,13}\.\d{1,5}$";

fn amount_schema() -> Schema {
    object(vec![("Amount", string(Some(AMOUNT_PATTERN), None, None)), ("Currency", string(Some("^[A-Z]{3,3}$"), None, None))], &["Amount", "Currency"])
}

fn account_identification() -> Schema {
    object(
        vec![
            ("SchemeName", string(None, None, None)),
            ("Identification", string(None, Some(1), Some(256))),
            ("Name", string(None, Some(1), Some(350))),
            ("LEI", string(Some("^[A-Z0-9]{18,18}[0-9]{2,2}$"), Some(1), Some(20))),
            ("SecondaryIdentification", string(None, Some(1), Some(34))),
        ],
        &["SchemeName", "Identification"],
    )
}

/// The OB-UK v4 `OBReadAccount6` response, transcribed by hand from the specification.
fn ob_read_account() -> Schema {
    let account = object(
        vec![
            ("AccountId", string(None, Some(1), Some(40))),
            ("Status", enumerated(&["Deleted", "Disabled", "Enabled", "Pending", "ProForma"])),
            ("StatusUpdateDateTime", formatted("date-time")),
            ("Currency", string(Some("^[A-Z]{3,3}$"), None, None)),
            ("AccountCategory", enumerated(&["Business", "Personal"])),
            ("Description", string(None, Some(1), Some(35))),
            ("Nickname", string(None, Some(1), Some(70))),
            ("OpeningDate", formatted("date-time")),
            ("MaturityDate", formatted("date-time")),
            ("Account", array(account_identification(), None, None)),
            ("Servicer", object(vec![("SchemeName", string(None, None, None)), ("Identification", string(None, Some(1), Some(35)))], &["SchemeName", "Identification"])),
        ],
        &["AccountId"],
    );
    let links = object(vec![("Self", formatted("uri")), ("Next", formatted("uri"))], &["Self"]);
    let meta = object(vec![("TotalPages", Schema::Integer { minimum: None, maximum: None, enumeration: vec![] }), ("FirstAvailableDateTime", formatted("date-time"))], &[]);
    object(vec![("Data", object(vec![("Account", array(account, None, None))], &[])), ("Links", links), ("Meta", meta)], &["Data"])
}

/// The OB-UK `OBReadBalance1` response (credit lines and amounts), by hand.
fn ob_read_balance() -> Schema {
    let credit_line = object(
        vec![("Included", Schema::Boolean), ("Type", enumerated(&["Available", "Credit", "Emergency", "Pre-Agreed", "Temporary"])), ("Amount", amount_schema())],
        &["Included"],
    );
    let balance = object(
        vec![
            ("AccountId", string(None, Some(1), Some(40))),
            ("CreditDebitIndicator", enumerated(&["Credit", "Debit"])),
            ("Type", enumerated(&["ClosingAvailable", "ClosingBooked", "Expected", "InterimAvailable"])),
            ("DateTime", formatted("date-time")),
            ("Amount", amount_schema()),
            ("CreditLine", array(credit_line, None, None)),
        ],
        &["AccountId", "CreditDebitIndicator", "Type", "DateTime", "Amount"],
    );
    object(vec![("Data", object(vec![("Balance", array(balance, Some(1), None))], &["Balance"]))], &["Data"])
}

/// Checks a value against its schema and the promised bounds, independently of the
/// generator: type, required and known properties, enumerations, lengths, items, numeric
/// bounds, date shapes, and the bank identifiers' check digits.
fn check(schema: &Schema, v: &Value, path: &str, depth: usize) -> Result<(), String> {
    let fail = |why: &str| Err(format!("{path}: {why}: {v}"));
    match schema {
        Schema::Object { properties, required } => {
            let Some(map) = v.as_object() else { return fail("not an object") };
            if depth >= MAX_DEPTH {
                return if map.is_empty() { Ok(()) } else { fail("filled below the depth limit") };
            }
            for r in required {
                if !map.contains_key(r) {
                    return fail(&format!("missing required {r}"));
                }
            }
            for (k, sub) in map {
                let Some((_, s)) = properties.iter().find(|(n, _)| n == k) else { return fail(&format!("unknown property {k}")) };
                check(s, sub, &format!("{path}.{k}"), depth + 1)?;
            }
            if let (Some(scheme), Some(id)) = (map.get("SchemeName").and_then(Value::as_str), map.get("Identification").and_then(Value::as_str)) {
                let ok = match scheme {
                    "UK.OBIE.IBAN" => iban_is_valid(id),
                    "UK.OBIE.SortCodeAccountNumber" => id.len() == 14 && id.bytes().all(|b| b.is_ascii_digit()),
                    "UK.OBIE.PAN" => luhn_ok(id) && id.len() == 16,
                    "UK.OBIE.BICFI" => id.len() == 8 && id[4..6] == *"GB",
                    _ => false,
                };
                if !ok {
                    return fail("identification does not fit its scheme");
                }
            }
            Ok(())
        }
        Schema::Array { items, min_items, max_items } => {
            let Some(list) = v.as_array() else { return fail("not an array") };
            if depth >= MAX_DEPTH {
                return if list.is_empty() { Ok(()) } else { fail("filled below the depth limit") };
            }
            let n = list.len() as u64;
            if n < min_items.unwrap_or(0).min(MAX_ARRAY_ITEMS) || n > max_items.unwrap_or(u64::MAX) || n > min_items.unwrap_or(0).max(3) || n == 0 && max_items != &Some(0) {
                return fail("item count out of bounds");
            }
            list.iter().enumerate().try_for_each(|(i, x)| check(items, x, &format!("{path}[{i}]"), depth + 1))
        }
        Schema::String { format, enumeration, pattern, min_length, max_length } => {
            let Some(s) = v.as_str() else { return fail("not a string") };
            if !enumeration.is_empty() {
                return if enumeration.iter().any(|e| e == s) { Ok(()) } else { fail("not in the enumeration") };
            }
            let len = s.chars().count() as u64;
            if len > 64 || len < min_length.unwrap_or(0) || len > max_length.unwrap_or(u64::MAX) {
                return fail("length out of bounds");
            }
            if let Some(p) = pattern {
                if pattern::matches(p, s) != Some(true) {
                    return fail("does not match the pattern");
                }
            }
            if pattern.as_deref() == Some(AMOUNT_PATTERN) && !is_amount(s) {
                return fail("not an amount");
            }
            if path.ends_with("Currency") && s != "GBP" {
                return fail("not the context currency");
            }
            match format.as_deref() {
                Some("date-time") if !is_date_time(s) => fail("not an RFC 3339 date-time"),
                Some("uri") if !s.starts_with("https://") => fail("not a URI"),
                _ => Ok(()),
            }
        }
        Schema::Integer { minimum, maximum, .. } => match v.as_i64() {
            Some(i) if minimum.is_none_or(|m| i >= m) && maximum.is_none_or(|m| i <= m) => Ok(()),
            _ => fail("integer out of bounds"),
        },
        Schema::Number { minimum, maximum } => match v.as_f64() {
            Some(x) if minimum.is_none_or(|m| x >= m) && maximum.is_none_or(|m| x <= m) => Ok(()),
            _ => fail("number out of bounds"),
        },
        Schema::Boolean => v.as_bool().map(|_| ()).ok_or(format!("{path}: not a boolean")),
        Schema::OneOf(alts) => {
            if alts.iter().any(|a| check(a, v, path, depth).is_ok()) {
                Ok(())
            } else {
                fail("matches no alternative")
            }
        }
        Schema::Any => Ok(()),
    }
}

/// `^\d{1,13}(\.\d{1,5})?$` written out by hand, plus the two decimals the generator promises
/// for named amounts.
fn is_amount(s: &str) -> bool {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    (1..=13).contains(&int.len()) && int.bytes().all(|b| b.is_ascii_digit()) && frac.len() == 2 && frac.bytes().all(|b| b.is_ascii_digit())
}

/// `YYYY-MM-DDTHH:MM:SS+00:00` or `YYYY-MM-DDTHH:MM:SSZ`, field by field.
fn is_date_time(s: &str) -> bool {
    if let Some(base) = s.strip_suffix('Z') {
        return is_date_time(&format!("{base}+00:00"));
    }
    let b = s.as_bytes();
    b.len() == 25
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 | 22 => *c == b':',
            19 => *c == b'+',
            _ => c.is_ascii_digit(),
        })
        && s.ends_with("+00:00")
        && (1..=12).contains(&s[5..7].parse::<u32>().unwrap())
        && (1..=31).contains(&s[8..10].parse::<u32>().unwrap())
        && s[11..13].parse::<u32>().unwrap() < 24
}

fn json_depth(v: &Value) -> usize {
    match v {
        Value::Object(m) if !m.is_empty() => 1 + m.values().map(json_depth).max().unwrap_or(0),
        Value::Array(a) if !a.is_empty() => 1 + a.iter().map(json_depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[test]
fn thousand_ob_uk_account_and_balance_values_stay_within_bounds() {
    let ids = vec![];
    let c = ctx(&ids);
    let mut rng = Rng::new(2024);
    let mut schemes = std::collections::BTreeSet::new();
    for schema in [ob_read_account(), ob_read_balance()] {
        for i in 0..1000 {
            let v = generate(&schema, "response", &c, &mut rng);
            check(&schema, &v, "$", 0).unwrap_or_else(|e| panic!("value {i}: {e}"));
            assert!(json_depth(&v) <= MAX_DEPTH);
            if let Some(accounts) = v.pointer("/Data/Account").and_then(Value::as_array) {
                for a in accounts.iter().filter_map(|a| a.get("Account")).filter_map(Value::as_array).flatten() {
                    schemes.insert(a["SchemeName"].as_str().unwrap().to_string());
                }
            }
        }
    }
    // The open SchemeName gets each realistic scheme, so the scheme checks above ran.
    assert!(schemes.contains("UK.OBIE.IBAN") && schemes.contains("UK.OBIE.SortCodeAccountNumber") && schemes.contains("UK.OBIE.PAN"), "{schemes:?}");
}

#[test]
fn the_real_ob_uk_account_spec_generates_valid_responses() {
    let text = include_str!("../../../fixtures/specs/ob-uk/account-info-openapi.yaml");
    let spec = load_spec("account-info-openapi.yaml", text).unwrap();
    let ids = vec![];
    let c = ctx(&ids);
    let mut rng = Rng::new(7);
    let mut bodies = 0;
    for op in &spec.operations {
        for resp in op.responses.iter().filter(|r| r.status.starts_with('2')) {
            let Some(body) = &resp.body else { continue };
            for i in 0..20 {
                let v = generate(&body.schema, "response", &c, &mut rng);
                check(&body.schema, &v, &format!("{} {} #{i}", op.method, op.path), 0).unwrap();
                assert!(json_depth(&v) <= MAX_DEPTH);
                bodies += 1;
            }
        }
    }
    assert!(bodies >= 20 * 20, "{bodies} bodies: the spec has many documented responses");
}

#[test]
fn known_ids_are_reused_and_unknown_ones_are_fresh() {
    let ids = vec![("AccountId".to_string(), "22289".to_string()), ("accountid".to_string(), "31820".to_string())];
    let c = ctx(&ids);
    let mut rng = Rng::new(1);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..200 {
        let v = generate(&ob_read_balance(), "response", &c, &mut rng);
        for b in v["Data"]["Balance"].as_array().unwrap() {
            seen.insert(b["AccountId"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["22289", "31820"]);

    let param = |name: &str, schema: Schema| Parameter { name: name.into(), location: ParamIn::Path, required: true, schema };
    let p = param("AccountId", string(None, None, None));
    assert!(["22289", "31820"].contains(&path_value(&p, &c, &mut rng).as_str()));
    let fresh = path_value(&param("StatementId", string(None, None, None)), &c, &mut rng);
    assert!(fresh.len() == 12 && fresh.bytes().all(|b| b.is_ascii_alphanumeric()), "{fresh}");
    let uuid = path_value(&param("ConsentId", formatted("uuid")), &c, &mut rng);
    assert_eq!(uuid.len(), 36);
    let number = path_value(&param("page", Schema::Integer { minimum: Some(2), maximum: Some(2), enumeration: vec![] }), &c, &mut rng);
    assert_eq!(number, "2");
    let odd = path_value(&param("Name", enumerated(&["a b/c"])), &c, &mut rng);
    assert_eq!(odd, "a%20b%2Fc");
}

#[test]
fn dates_follow_the_scenario_clock() {
    assert_eq!(format_date_time(NOW), "2023-11-14T22:13:20+00:00");
    assert_eq!(format_date_time(0), "1970-01-01T00:00:00+00:00");
    assert_eq!(format_date_time(951_782_400), "2000-02-29T00:00:00+00:00");
    assert_eq!(format_date_time(-1), "1969-12-31T23:59:59+00:00");
    let ids = vec![];
    let c = ctx(&ids);
    let mut rng = Rng::new(3);
    let now = format_date_time(NOW);
    let oldest = format_date_time(NOW - 90 * 86_400);
    let newest = format_date_time(NOW + 90 * 86_400);
    for _ in 0..300 {
        // Fixed-width RFC 3339 strings in one offset sort like the times they denote.
        let past = generate(&formatted("date-time"), "BookingDateTime", &c, &mut rng);
        let past = past.as_str().unwrap();
        assert!(is_date_time(past) && past <= now.as_str() && past >= oldest.as_str(), "{past}");
        let future = generate(&formatted("date-time"), "ExpirationDateTime", &c, &mut rng);
        let future = future.as_str().unwrap();
        assert!(future >= now.as_str() && future <= newest.as_str(), "{future}");
        let day = generate(&formatted("date"), "BookingDate", &c, &mut rng);
        let day = day.as_str().unwrap();
        assert!(day.len() == 10 && day <= &now[..10] && day >= &oldest[..10], "{day}");
        // A name alone is enough when the format is missing.
        assert!(is_date_time(generate(&string(None, None, None), "StatusUpdateDateTime", &c, &mut rng).as_str().unwrap()));
    }
}

#[test]
fn name_hints_give_bank_values() {
    let ids = vec![];
    let c = ValueCtx { now_secs: NOW, currency: "BRL", country: "BR", ids: &ids };
    let mut rng = Rng::new(9);
    for _ in 0..200 {
        let iban_value = generate(&string(None, None, Some(34)), "DebtorIban", &c, &mut rng);
        let iban_value = iban_value.as_str().unwrap();
        assert!(iban_is_valid(iban_value) && iban_value.len() == 29 && iban_value.starts_with("BR"), "{iban_value}");
        assert_eq!(generate(&string(None, None, None), "TargetCurrency", &c, &mut rng), "BRL");
        assert_eq!(generate(&string(None, None, None), "Country", &c, &mut rng), "BR");
        let amount = generate(&string(None, None, None), "InstructedAmount", &c, &mut rng);
        assert!(is_amount(amount.as_str().unwrap()), "{amount}");
        let email = generate(&formatted("email"), "x", &c, &mut rng);
        let email = email.as_str().unwrap();
        assert!(email.ends_with("@example.com") && email.len() == 20, "{email}");
    }
}

#[test]
fn a_hint_that_breaks_the_schema_gives_way() {
    let ids = vec![];
    let c = ctx(&ids);
    let mut rng = Rng::new(10);
    // A "Currency" that must be two lower-case letters cannot be GBP: the pattern wins.
    for _ in 0..100 {
        let v = generate(&string(Some("^[a-z]{2}$"), None, None), "Currency", &c, &mut rng);
        let s = v.as_str().unwrap();
        assert!(s.len() == 2 && s.bytes().all(|b| b.is_ascii_lowercase()), "{s}");
        // An IBAN that may not exceed 10 characters is not an IBAN any more.
        let v = generate(&string(None, None, Some(10)), "Iban", &c, &mut rng);
        assert!(v.as_str().unwrap().len() <= 10);
    }
}

#[test]
fn containers_respect_depth_and_item_limits() {
    let ids = vec![];
    let c = ctx(&ids);
    let mut rng = Rng::new(12);
    let mut nested = string(None, None, None);
    for _ in 0..20 {
        nested = object(vec![("Next", nested), ("Items", array(Schema::Boolean, Some(1), None))], &["Next", "Items"]);
    }
    let v = generate(&nested, "root", &c, &mut rng);
    assert_eq!(json_depth(&v), MAX_DEPTH);
    for _ in 0..200 {
        let n = |min, max, rng: &mut Rng| generate(&array(Schema::Boolean, min, max), "x", &c, rng).as_array().unwrap().len();
        assert!((1..=3).contains(&n(None, None, &mut rng)));
        assert_eq!(n(Some(5), None, &mut rng), 5);
        assert_eq!(n(None, Some(0), &mut rng), 0);
        assert_eq!(n(Some(100), None, &mut rng), MAX_ARRAY_ITEMS as usize);
        assert!((2..=3).contains(&n(Some(2), Some(9), &mut rng)));
        assert_eq!(n(Some(0), Some(1), &mut rng), 1);
    }
    let strings: Vec<String> = (0..300).map(|_| generate(&string(None, Some(70), None), "Name", &c, &mut rng).as_str().unwrap().to_string()).collect();
    assert!(strings.iter().all(|s| s.len() == 70), "minLength above the usual cap still holds");
    let strings: Vec<String> = (0..300).map(|_| generate(&string(None, None, None), "Description", &c, &mut rng).as_str().unwrap().to_string()).collect();
    assert!(strings.iter().all(|s| (1..=MAX_STRING).contains(&s.len())));
}

#[test]
fn scalars_stay_within_bounds() {
    let ids = vec![];
    let c = ctx(&ids);
    let mut rng = Rng::new(13);
    for _ in 0..500 {
        let i = generate(&Schema::Integer { minimum: Some(-3), maximum: Some(4), enumeration: vec![] }, "n", &c, &mut rng).as_i64().unwrap();
        assert!((-3..=4).contains(&i));
        let i = generate(&Schema::Integer { minimum: None, maximum: Some(-10), enumeration: vec![] }, "n", &c, &mut rng).as_i64().unwrap();
        assert!(i <= -10);
        let e = generate(&Schema::Integer { minimum: None, maximum: None, enumeration: vec![7, 9] }, "n", &c, &mut rng).as_i64().unwrap();
        assert!(e == 7 || e == 9);
        let x = generate(&Schema::Number { minimum: Some(0.5), maximum: Some(0.75) }, "n", &c, &mut rng).as_f64().unwrap();
        assert!((0.5..=0.75).contains(&x), "{x}");
        let x = generate(&Schema::Number { minimum: Some(f64::NAN), maximum: None }, "n", &c, &mut rng).as_f64().unwrap();
        assert!((0.0..=1000.0).contains(&x), "{x}");
        let pick = generate(&Schema::OneOf(vec![Schema::Boolean, enumerated(&["z"])]), "n", &c, &mut rng);
        assert!(pick.is_boolean() || pick == "z");
    }
    assert_eq!(generate(&Schema::OneOf(vec![]), "n", &c, &mut rng), Value::Null);
}

#[test]
fn same_seed_same_values() {
    let ids = vec![];
    let c = ctx(&ids);
    let a = generate(&ob_read_account(), "r", &c, &mut Rng::new(5));
    let b = generate(&ob_read_account(), "r", &c, &mut Rng::new(5));
    assert_eq!(a, b);
    assert_ne!(a, generate(&ob_read_account(), "r", &c, &mut Rng::new(6)));
}

#[test]
fn every_fixture_spec_generates_valid_bodies_and_parameters() {
    let specs = [
        ("ob-uk/account-info-openapi.yaml", include_str!("../../../fixtures/specs/ob-uk/account-info-openapi.yaml")),
        ("ob-uk/payment-initiation-openapi.yaml", include_str!("../../../fixtures/specs/ob-uk/payment-initiation-openapi.yaml")),
        ("ob-uk/v3.1.11/account-info-openapi.yaml", include_str!("../../../fixtures/specs/ob-uk/v3.1.11/account-info-openapi.yaml")),
        ("obb-br/accounts_2.4.2.yml", include_str!("../../../fixtures/specs/obb-br/accounts_2.4.2.yml")),
        ("adyen/TransferService-v4.json", include_str!("../../../fixtures/specs/adyen/TransferService-v4.json")),
    ];
    let ids = vec![];
    let c = ctx(&ids);
    let mut rng = Rng::new(31);
    let mut failures = Vec::new();
    let mut checked = 0;
    for (name, text) in specs {
        let spec = load_spec(name, text).unwrap();
        for op in &spec.operations {
            let mut schemas: Vec<(String, &Schema)> = op.responses.iter().filter(|r| r.status.starts_with('2')).filter_map(|r| r.body.as_ref()).map(|b| ("response".to_string(), &b.schema)).collect();
            schemas.extend(op.request_body.iter().map(|b| ("body".to_string(), &b.schema)));
            schemas.extend(op.parameters.iter().map(|p| (p.name.clone(), &p.schema)));
            for (hint, schema) in schemas {
                for _ in 0..10 {
                    let v = generate(schema, &hint, &c, &mut rng);
                    checked += 1;
                    let at = format!("{name} {} {} {hint}", op.method, op.path);
                    if let Err(e) = check(schema, &v, &at, 0) {
                        failures.push(e);
                    }
                }
            }
        }
    }
    failures.sort();
    failures.dedup();
    assert!(checked > 1000, "{checked}");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn http_dates_are_imf_fixdates() {
    // The example of RFC 9110 section 5.6.7, and the OB-UK x-fapi-auth-date example.
    assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(http_date(1_505_072_611), "Sun, 10 Sep 2017 19:43:31 GMT");
    assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
}

#[test]
fn fapi_headers_get_their_shapes() {
    let ids = vec![];
    let c = ctx(&ids);
    let mut rng = Rng::new(14);
    // OB-UK declares these headers as free strings with the no-blank-at-the-ends pattern.
    let header = string(Some(r"^(?!\s)(.*)(\S)$"), None, Some(40));
    for _ in 0..100 {
        let ip = generate(&string(None, None, None), "x-fapi-customer-ip-address", &c, &mut rng);
        let octets: Vec<u8> = ip.as_str().unwrap().split('.').map(|o| o.parse().unwrap()).collect();
        assert_eq!(octets.len(), 4, "{ip}");
        let key = generate(&header, "x-idempotency-key", &c, &mut rng);
        assert_eq!(key.as_str().unwrap().len(), 36, "{key}");
        let date = generate(&string(None, None, None), "x-fapi-auth-date", &c, &mut rng);
        assert!(date.as_str().unwrap().ends_with(" GMT") && date.as_str().unwrap() < "Wed", "{date}");
        let ua = generate(&string(None, None, None), "x-customer-user-agent", &c, &mut rng);
        assert!(USER_AGENTS.contains(&ua.as_str().unwrap()));
    }
    // The Brazilian date-time pattern wants the Z form and at most 20 characters.
    let br = Schema::String {
        format: Some("date-time".into()),
        enumeration: vec![],
        pattern: Some(r"^(\d{4})-(1[0-2]|0?[1-9])-(3[01]|[12][0-9]|0?[1-9])T(?:[01]\d|2[0123]):(?:[012345]\d):(?:[012345]\d)Z$".into()),
        min_length: None,
        max_length: Some(20),
    };
    for _ in 0..100 {
        let v = generate(&br, "updateDateTime", &c, &mut rng);
        let v = v.as_str().unwrap();
        assert!(v.len() == 20 && v.ends_with('Z') && &v[..10] <= "2023-11-14" && &v[..10] >= "2023-08-16", "{v}");
    }
}
