//! Values that look like sensitive data to a careless detector and must produce no tags:
//! identifiers, amounts, timestamps, references, network and banking codes, tokens.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use apitap_discovery::content::{analyze_body, BodyFacts, ContentLimits};

/// Splitmix64: fixed seeds so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }

    fn pick(&mut self, n: usize, alphabet: &[u8]) -> String {
        (0..n)
            .map(|_| char::from(alphabet[self.below(alphabet.len() as u64) as usize]))
            .collect()
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// Every value as a string member and in free text, under a name that says nothing.
fn assert_untagged(values: &[String]) {
    let limits = ContentLimits::default();
    for v in values {
        let body = format!(
            r#"{{"value":{},"note":{}}}"#,
            json_string(v),
            json_string(&format!("see {v} here"))
        );
        let f = analyze_body(Some("application/json"), body.as_bytes(), &limits);
        assert_eq!(f.sensitive, vec![], "{v}");
        assert!(f.json && !f.truncated, "{v}");
        let f = analyze_body(Some("text/plain"), v.as_bytes(), &limits);
        assert_eq!(f.sensitive, vec![], "text {v}");
    }
}

fn assert_untagged_numbers(values: &[String]) {
    for v in values {
        let body = format!(r#"{{"value":{v}}}"#);
        let f: BodyFacts = analyze_body(
            Some("application/json"),
            body.as_bytes(),
            &ContentLimits::default(),
        );
        assert_eq!(f.sensitive, vec![], "{v}");
    }
}

fn luhn_complete(prefix: &str) -> String {
    (0..10)
        .map(|d| format!("{prefix}{d}"))
        .find(|s| {
            let sum: u32 = s
                .bytes()
                .rev()
                .enumerate()
                .map(|(i, c)| {
                    let d = u32::from(c - b'0');
                    if i % 2 == 1 {
                        if d * 2 > 9 {
                            d * 2 - 9
                        } else {
                            d * 2
                        }
                    } else {
                        d
                    }
                })
                .sum();
            sum % 10 == 0
        })
        .unwrap()
}

#[test]
fn uuids() {
    let mut rng = Rng(1);
    let hex = b"0123456789abcdef";
    let mut values: Vec<String> = (0..2000)
        .map(|_| {
            format!(
                "{}-{}-4{}-{}{}-{}",
                rng.pick(8, hex),
                rng.pick(4, hex),
                rng.pick(3, hex),
                rng.pick(1, b"89ab"),
                rng.pick(3, hex),
                rng.pick(12, hex)
            )
        })
        .collect();
    // All-digit UUIDs, upper case too.
    values.extend((0..500).map(|_| {
        format!(
            "{}-{}-{}-{}-{}",
            rng.digits(8),
            rng.digits(4),
            rng.digits(4),
            rng.digits(4),
            rng.digits(12)
        )
    }));
    values.extend((0..500).map(|_| rng.pick(32, b"0123456789ABCDEF")));
    assert_untagged(&values);
}

#[test]
fn amounts() {
    let mut rng = Rng(2);
    let mut values = vec![
        "1234567890123.45".to_string(),
        "9999999999999.99999".into(),
        "-4111111111111111.00".into(),
        "1,234,567.89".into(),
    ];
    for _ in 0..3000 {
        let int_digits = 1 + rng.below(13) as usize;
        let int = rng.digits(int_digits).trim_start_matches('0').to_string();
        let int = if int.is_empty() { "0".to_string() } else { int };
        let frac_digits = 1 + rng.below(5) as usize;
        values.push(format!("{int}.{}", rng.digits(frac_digits)));
    }
    // A 16-digit integer part with a fraction is an amount, not a card.
    values.push("4111111111111111.25".into());
    assert_untagged(&values);
    assert_untagged_numbers(
        &values
            .iter()
            .filter(|v| !v.contains(','))
            .cloned()
            .collect::<Vec<_>>(),
    );
}

#[test]
fn timestamps_and_dates() {
    let mut rng = Rng(3);
    let mut values = Vec::new();
    for _ in 0..1000 {
        let (y, mo, d, h, mi, s) = (
            1970 + rng.below(80),
            1 + rng.below(12),
            1 + rng.below(28),
            rng.below(24),
            rng.below(60),
            rng.below(60),
        );
        values.push(format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}+00:00"));
        values.push(format!(
            "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{}Z",
            rng.digits(3)
        ));
        values.push(format!("{y:04}-{mo:02}-{d:02}"));
        values.push(format!("{d:02}/{mo:02}/{y:04} {h:02}:{mi:02}"));
        values.push(format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}"));
    }
    // Epoch seconds, milliseconds, microseconds and nanoseconds, 2001 to 2033.
    let mut epochs = Vec::new();
    for _ in 0..1000 {
        let secs = 1_000_000_000 + rng.below(1_000_000_000);
        epochs.push(secs.to_string());
        epochs.push(format!("{secs}{}", rng.digits(3)));
        epochs.push(format!("{secs}{}", rng.digits(6)));
        epochs.push(format!("{secs}{}", rng.digits(9)));
    }
    values.push("Sun, 10 Sep 2017 19:43:31 GMT".into());
    values.push("PT1H30M".into());
    assert_untagged(&values);
    assert_untagged(&epochs);
    assert_untagged_numbers(&epochs);
}

#[test]
fn references_and_order_numbers() {
    let mut rng = Rng(4);
    let mut values: Vec<String> = [
        "ORD-2024-000123",
        "PO123456789",
        "INV/2024/00042",
        "#100023",
        "8815329842815468",
        "REF 2024 0115 0001 7788",
        "TX-4111-1111-1111-1111-99",
        "411111******1111",
        "**** **** **** 1111",
        "AB123456",
        "QQ123456C",
        "BG123456A",
        "GB00WEST12345698765432",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Random alphanumeric identifiers like the ones banks hand out.
    let alnum = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for _ in 0..5000 {
        let len = 8 + rng.below(20) as usize;
        values.push(rng.pick(len, alnum));
    }
    for _ in 0..1000 {
        values.push(format!("ORD-{}", rng.digits(10)));
        values.push(format!(
            "{}-{}",
            rng.pick(3, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
            rng.digits(8)
        ));
    }
    assert_untagged(&values);
}

#[test]
fn luhn_valid_numbers_that_cannot_be_cards() {
    let mut rng = Rng(5);
    let mut values = Vec::new();
    for _ in 0..2000 {
        // Prefixes no network issues.
        let first = ["1", "7", "8", "9", "0"][rng.below(5) as usize];
        values.push(luhn_complete(&format!("{first}{}", rng.digits(14))));
        // Visa at 13 digits and Diners at 14 need grouping or a card field.
        values.push(luhn_complete(&format!("4{}", rng.digits(11))));
        values.push(luhn_complete(&format!("36{}", rng.digits(11))));
        // 17 to 19 digits: random identifiers far more often than cards.
        values.push(luhn_complete(&format!("4{}", rng.digits(17))));
        // Amex prefix at 16 digits.
        values.push(luhn_complete(&format!("37{}", rng.digits(13))));
    }
    assert_untagged(&values);
    assert_untagged_numbers(
        &values
            .iter()
            .filter(|v| !v.starts_with('0'))
            .cloned()
            .collect::<Vec<_>>(),
    );
}

#[test]
fn valid_brazilian_ids_need_a_field_that_names_them() {
    let mut rng = Rng(6);
    let mut values = Vec::new();
    for _ in 0..500 {
        let body = rng.digits(9);
        let v: Vec<u32> = body.bytes().map(|b| u32::from(b - b'0')).collect();
        let d1 = v
            .iter()
            .zip((2..=10).rev())
            .map(|(d, w)| d * w)
            .sum::<u32>()
            * 10
            % 11
            % 10;
        let d2 = v
            .iter()
            .chain([d1].iter())
            .zip((2..=11).rev())
            .map(|(d, w)| d * w)
            .sum::<u32>()
            * 10
            % 11
            % 10;
        values.push(format!("{body}{d1}{d2}"));
    }
    assert_untagged(&values);
    assert_untagged_numbers(
        &values
            .iter()
            .filter(|v| !v.starts_with('0'))
            .cloned()
            .collect::<Vec<_>>(),
    );
}

#[test]
fn phone_like_numbers_outside_phone_fields() {
    let mut rng = Rng(7);
    let mut values = vec![
        "07700900123".to_string(),
        "(11) 98765-4321".into(),
        "020 7946 0958".into(),
        "+1234567".into(),
    ];
    for _ in 0..1000 {
        values.push(format!("0{}", rng.digits(10)));
        values.push(format!("{} {}", rng.digits(4), rng.digits(6)));
    }
    assert_untagged(&values);
}

#[test]
fn network_banking_and_token_values() {
    let mut rng = Rng(8);
    let mut values: Vec<String> = [
        "192.168.100.200",
        "2001:db8::8a2e:370:7334",
        "10.20.30-alpha.1",
        "NWBKGB2L",
        "DEUTDEFF500",
        "5493001KJTIIGC8Y1R12",
        "60-16-13",
        "31926819",
        "51.5074,-0.1278",
        "application/vnd.api+json",
        "https://api.example.com/v1/accounts/4111/transactions?from=2024-01-01",
        "eyJhbGciOiJQUzI1NiIsImtpZCI6IjEyMyJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwiaWF0IjoxNTE2MjM5MDIyfQ.c2lnbmF0dXJl",
        "image@2x.png",
        "user@localhost",
        "@mention",
        "lodash@4.17.21",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let b64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for _ in 0..1000 {
        values.push(rng.pick(64, b"0123456789abcdef"));
        values.push(format!("{}==", rng.pick(42, b64)));
        values.push(format!(
            "{}.{}.{}.{}",
            rng.below(256),
            rng.below(256),
            rng.below(256),
            rng.below(256)
        ));
    }
    assert_untagged(&values);
}
