//! The segment classifiers: published test values of each kind, near misses, and the words
//! real API paths are made of (every literal segment of every shipped specification).
//!
//! IBANs and card numbers are the issuers' and registries' published examples; the
//! near misses change one character of them.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

use apitap_discovery::openapi::load_spec;
use apitap_discovery::template::{classify, SegmentKind};

fn assert_kind(kind: Option<SegmentKind>, values: &[&str]) {
    for v in values {
        assert_eq!(classify(v), kind, "classify({v:?})");
    }
}

#[test]
fn uuids_of_any_version_with_or_without_braces() {
    assert_kind(
        Some(SegmentKind::Uuid),
        &[
            "123e4567-e89b-12d3-a456-426614174000",
            "550E8400-E29B-41D4-A716-446655440000",
            "00000000-0000-0000-0000-000000000000",
            "{f47ac10b-58cc-4372-a567-0e02b2c3d479}",
            "01890a5d-ac96-774b-bcce-b302099a8057",
        ],
    );
    assert_ne!(
        classify("123e4567-e89b-12d3-a456-42661417400"),
        Some(SegmentKind::Uuid)
    );
    assert_ne!(
        classify("123e4567e89b-12d3-a456-4266141740000"),
        Some(SegmentKind::Uuid)
    );
    assert_ne!(
        classify("{123e4567-e89b-12d3-a456-426614174000"),
        Some(SegmentKind::Uuid)
    );
    assert_ne!(
        classify("123e4567-e89b-12d3-a456-42661417400z"),
        Some(SegmentKind::Uuid)
    );
    // Without hyphens it is 32 hex digits.
    assert_eq!(
        classify("123e4567e89b12d3a456426614174000"),
        Some(SegmentKind::Hex)
    );
}

#[test]
fn dates_and_date_times() {
    assert_kind(
        Some(SegmentKind::Date),
        &["2024-01-31", "2024-02-29", "1999-12-31"],
    );
    assert_kind(
        Some(SegmentKind::DateTime),
        &[
            "2024-01-31T10:15:00Z",
            "2026-03-28T14:00:00+01:00",
            "2024-01-31T10:15:00.123Z",
            "2024-01-31 10:15",
            "20240131T101500Z",
        ],
    );
    assert_kind(
        None,
        &[
            "2023-02-29",
            "2024-13-01",
            "2024-01-32",
            "2024-01-31T25:00",
            "2024-01-31Tnoon",
        ],
    );
    // The basic form of a date is a number.
    assert_eq!(classify("20240131"), Some(SegmentKind::Integer));
}

#[test]
fn emails() {
    assert_kind(
        Some(SegmentKind::Email),
        &[
            "alice@example.com",
            "first.last+tag@mail.bank.co.uk",
            "x_y-z@sub-domain.example.org",
            "o'brien@example.ie",
        ],
    );
    assert_kind(
        None,
        &[
            "alice@example",
            "@example.com",
            "alice@",
            "a..b@example.com",
            ".a@example.com",
            "a@b@example.com",
            "alice@-x.com",
            "alice@example.c0m",
        ],
    );
}

#[test]
fn ibans_check_mod97_and_country_length() {
    assert_kind(
        Some(SegmentKind::Iban),
        &[
            "GB82WEST12345698765432",
            "GB29NWBK60161331926819",
            "DE89370400440532013000",
            "FR1420041010050500013M02606",
            "NL91ABNA0417164300",
            "BE68539007547034",
            "NO9386011117947",
            "CH9300762011623852957",
            "ES9121000418450200051332",
            "IT60X0542811101000000123456",
            "BR1800360305000010009795493C1",
            "gb82west12345698765432",
            "GB82 WEST 1234 5698 7654 32",
        ],
    );
    // A wrong check digit, a missing or extra character, a country outside the registry, a
    // right checksum at the wrong length for the country.
    assert_kind(
        None,
        &[
            "GB82WEST12345698765433",
            "GB82WEST1234569876543",
            "GB82WEST123456987654321",
            "XX82WEST12345698765432",
            "GB",
            "GB82",
        ],
    );
    assert_ne!(classify("DE89370400440532013001"), Some(SegmentKind::Iban));
}

#[test]
fn card_numbers_need_luhn_and_an_issuer_prefix_of_the_right_length() {
    assert_kind(
        Some(SegmentKind::CardNumber),
        &[
            "4111111111111111",
            "4012888888881881",
            "4222222222222",
            "5555555555554444",
            "5105105105105100",
            "2223003122003222",
            "378282246310005",
            "371449635398431",
            "6011111111111117",
            "6011000990139424",
            "3530111333300000",
            "30569309025904",
            "6200000000000005",
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
        ],
    );
    // Luhn fails, the prefix belongs to no issuer, an American Express prefix at 16 digits,
    // a Visa at 14: all plain numbers.
    assert_kind(
        Some(SegmentKind::Integer),
        &[
            "4111111111111112",
            "9111111111111119",
            "3782822463100051",
            "41111111111118",
            "79927398713",
        ],
    );
    assert_kind(None, &["4111 1111-1111 1111", "4111  1111 1111 1111"]);
}

#[test]
fn structured_account_numbers() {
    assert_kind(
        Some(SegmentKind::AccountNumber),
        &[
            "12-34-56-12345678",
            "401234-31926819",
            "0001-1234567-8",
            "1234-5-123456-7",
            "3456-X-98765-X",
            "1234567-8",
            "98765-x",
        ],
    );
    // A bare UK account number is a number; dates, sort codes alone and short forms are not
    // accounts.
    assert_eq!(classify("31926819"), Some(SegmentKind::Integer));
    for v in [
        "2024-01-31",
        "12-34-56",
        "1234-5",
        "2024-1-5",
        "12-34-56-1234567",
        "0001-12-8",
    ] {
        assert_ne!(classify(v), Some(SegmentKind::AccountNumber), "{v}");
    }
}

#[test]
fn integers_and_hex() {
    assert_kind(
        Some(SegmentKind::Integer),
        &["0", "42", "00123", "18446744073709551616123"],
    );
    assert_kind(
        Some(SegmentKind::Hex),
        &[
            "5f2b1c9a",
            "507f1f77bcf86cd799439011",
            "D41D8CD98F00B204E9800998ECF8427E",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "ffffffffffffffffffffffffffffffff",
        ],
    );
    // No digit, odd length, too short, mixed case.
    assert_kind(
        None,
        &["deadbeef", "abc1234", "a1b2c3", "DeadBeef12", "-42", "4.2"],
    );
}

#[test]
fn tokens_jwts_and_random_identifiers() {
    assert_kind(
        Some(SegmentKind::Token),
        &[
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.",
            "aB3dE5fG7hJ9",
            "k3j9x8m2q7w1",
            "Qk9Gx_2mT-aP0zLw8YcVbA",
            "XkPqRtmZvLab",
            "AB12CD34GH56",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "pi_3MtwBwLkdIwHu7ix28a3tqPa",
        ],
    );
    // Too short, one letter case without digits, few long runs, a repeated pattern.
    assert_kind(
        None,
        &[
            "aB3dE5fG7h",
            "kqjxmzqwptrlvbnm",
            "ORD2024000123AB",
            "xy1xy1xy1xy1xy1xy1",
        ],
    );
}

/// Path words of the APIs the sensor watches, enumeration values of Berlin Group and Open
/// Banking, versions, currencies, and common web paths: none is a parameter.
#[test]
fn words_versions_and_enumeration_values_are_not_classified() {
    assert_kind(
        None,
        &[
            "account-access-consents",
            "standing-orders",
            "v4.0",
            "v3.1",
            "v3.1.11",
            "v1",
            "v2",
            "aisp",
            "pisp",
            "cbpii",
            "open-banking",
            "open-finance",
            "USD",
            "EUR",
            "GBP",
            "BRL",
            "CAD",
            "sepa-credit-transfers",
            "instant-sepa-credit-transfers",
            "target-2-payments",
            "cross-border-credit-transfers",
            "pain.001-sepa-credit-transfers",
            "pain.001-instant-sepa-credit-transfers",
            "pain.001-target-2-payments",
            "pain.001-cross-border-credit-transfers",
            "accounts",
            "accounts-export",
            "internal",
            "me",
            "self",
            "domestic-vrp-consents",
            "international-scheduled-payment-consents",
            "funds-confirmation",
            "XMLHttpRequest",
            "getAccountsV2",
            "oauth2callback",
            "ISO20022",
            "sha256",
            "x509",
            ".well-known",
            "openid-configuration",
            "jwks.json",
            "index.html",
            "wp-login.php",
            "favicon.ico",
            "balanceAccounts",
            "paymentInstruments",
            "transactionRules",
            "UK.OBIE.SortCodeAccountNumber",
            "",
        ],
    );
}

fn spec_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            spec_files(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            out.push(path);
        }
    }
}

/// Every literal segment of every path and base path in the shipped specifications (and the
/// shared specification set where present) stays unclassified: a documented literal taken
/// for a value would merge documented endpoints.
#[test]
fn no_literal_segment_of_a_real_specification_is_classified() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    spec_files(&root.join("fixtures/specs"), &mut files);
    spec_files(&root.join("../shared/specs"), &mut files);
    let mut literals = std::collections::BTreeSet::new();
    let mut loaded = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let Ok(spec) = load_spec(&file.display().to_string(), &text) else {
            continue;
        };
        loaded += 1;
        let paths = spec
            .operations
            .iter()
            .map(|o| o.path.as_str())
            .chain(spec.base_paths.iter().map(String::as_str));
        for path in paths {
            for seg in path
                .split('/')
                .filter(|s| !s.is_empty() && !s.starts_with('{'))
            {
                literals.insert(seg.to_string());
            }
        }
    }
    assert!(loaded >= 6, "the fixture specifications load ({loaded})");
    assert!(
        literals.len() > 100,
        "enough words to mean something: {}",
        literals.len()
    );
    let classified: Vec<_> = literals
        .iter()
        .filter_map(|s| classify(s).map(|k| (s.clone(), k)))
        .collect();
    assert!(
        classified.is_empty(),
        "classified spec literals: {classified:?}"
    );
}

fn collect_identifiers(v: &serde_norway::Value, out: &mut std::collections::BTreeSet<String>) {
    use serde_norway::Value;
    match v {
        Value::Mapping(map) => {
            for (k, sub) in map {
                match (k.as_str(), sub) {
                    (Some("properties"), Value::Mapping(props)) => {
                        out.extend(props.keys().filter_map(|k| k.as_str().map(String::from)))
                    }
                    (Some("operationId"), Value::String(id)) => {
                        out.insert(id.clone());
                    }
                    (Some("enum"), Value::Sequence(values)) => {
                        out.extend(values.iter().filter_map(|x| x.as_str().map(String::from)))
                    }
                    _ => {}
                }
                collect_identifiers(sub, out);
            }
        }
        Value::Sequence(items) => items.iter().for_each(|x| collect_identifiers(x, out)),
        Value::Tagged(t) => collect_identifiers(&t.value, out),
        _ => {}
    }
}

/// Property names, operation ids and enumeration values of the shipped specifications are
/// the words API designers use (camelCase, snake_case, codes); almost none may read as a
/// token. The few that do are named so that a change in the classifier shows.
#[test]
fn identifiers_of_real_specifications_are_rarely_tokens() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/specs");
    let mut files = Vec::new();
    spec_files(&root, &mut files);
    let mut ids = std::collections::BTreeSet::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        // Some files start with a byte-order mark, which the YAML parser reads as content.
        let text = text.trim_start_matches('\u{feff}');
        let value: serde_norway::Value = if file.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(text).unwrap()
        } else {
            serde_norway::from_str(text).unwrap()
        };
        collect_identifiers(&value, &mut ids);
    }
    assert!(ids.len() > 1000, "{} identifiers", ids.len());
    let tokens: Vec<&String> = ids
        .iter()
        .filter(|s| classify(s) == Some(SegmentKind::Token))
        .collect();
    assert!(
        tokens.len() * 500 <= ids.len(),
        "{} of {} identifiers read as tokens: {tokens:?}",
        tokens.len(),
        ids.len()
    );
}

/// A small deterministic generator for the rate checks.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| char::from(alphabet[(self.next() % alphabet.len() as u64) as usize]))
            .collect()
    }
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The traffic simulator's object ids are 12 random letters and digits: nearly all are
/// tokens at first sight; longer random strings all are.
#[test]
fn random_alphanumeric_identifiers_are_mostly_tokens() {
    let mut rng = SplitMix(7);
    let n = 10_000;
    let rate = |len: usize, rng: &mut SplitMix| {
        let hits = (0..n)
            .filter(|_| classify(&rng.pick(ALNUM, len)) == Some(SegmentKind::Token))
            .count();
        hits as f64 / n as f64
    };
    let r12 = rate(12, &mut rng);
    let r24 = rate(24, &mut rng);
    assert!(r12 > 0.99, "12 characters: {r12}");
    assert!(r24 > 0.998, "24 characters: {r24}");
    // Lower case and digits (base 36) of 16 characters.
    let base36 = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let hits = (0..n)
        .filter(|_| classify(&rng.pick(base36, 16)) == Some(SegmentKind::Token))
        .count();
    assert!(hits as f64 / n as f64 > 0.9, "base36: {hits}");
}

#[test]
fn hostile_segments_do_not_panic() {
    let mut rng = SplitMix(11);
    let bytes: Vec<u8> = (0u8..=255).collect();
    for len in 0..200 {
        let raw: Vec<u8> = (0..len)
            .map(|_| bytes[(rng.next() % 256) as usize])
            .collect();
        let s = String::from_utf8_lossy(&raw);
        let _ = classify(&s);
    }
    for s in [
        "{",
        "}",
        "{}",
        "-",
        "@",
        "@@",
        "T",
        "2024-",
        "2024-01-31T",
        "eyJ",
        "eyJ..",
        "%",
        "é",
        "4111 ",
        " 4111",
    ] {
        let _ = classify(s);
    }
    let long = "9".repeat(100_000);
    assert_eq!(classify(&long), Some(SegmentKind::Integer));
    let long = "xy1".repeat(30_000);
    assert_eq!(classify(&long), None, "a repeated pattern is no token");
    let long = "aB3dE5fG7hJ9".repeat(10_000);
    assert_eq!(classify(&long), Some(SegmentKind::Token));
}
