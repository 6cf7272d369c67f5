//! Body analysis on hostile and partial input: prefixes cut at every byte, malformed JSON,
//! random bytes, deep nesting, every limit, and a full 64 KiB body.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use apitap_discovery::content::{
    analyze_body, BodyFacts, ContentEvent, ContentLimits, JsonType, SensitiveKind,
};

const JSON: Option<&str> = Some("application/json");

fn json_with(body: &[u8], limits: &ContentLimits) -> BodyFacts {
    analyze_body(JSON, body, limits)
}

fn json(body: &[u8]) -> BodyFacts {
    json_with(body, &ContentLimits::default())
}

/// xorshift64*: a fixed-seed generator so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const SAMPLES: &[&str] = &[
    r#"{"Data":{"Account":[{"AccountId":"22289","Currency":"GBP","Account":[{"SchemeName":"UK.OBIE.IBAN","Identification":"GB29NWBK60161331926819","Name":"Mr Kevin"}]},{"AccountId":"31821","Currency":"GBP","Account":[{"SchemeName":"UK.OBIE.PAN","Identification":"5555555555554444"}]}]},"Links":{"Self":"/accounts"},"Meta":{"TotalPages":1}}"#,
    r#"{"data":{"loggedUser":{"document":{"identification":"11144477735","rel":"CPF"}},"businessEntity":{"document":{"identification":"11222333000181","rel":"CNPJ"}},"permissions":["ACCOUNTS_READ","RESOURCES_READ"],"expirationDateTime":"2026-05-21T08:30:00Z"}}"#,
    "[ {\"a\" : -12.5e+3, \"b\" : [true, false, null, 0, 1.0E-2], \"c\\u00e9\" : \"x\\n\\\"y\\\" \\ud83d\\ude00\" },\n  {\"email\": \"jane\\u0040example.com\", \"n\": 4111111111111111, \"phone\": \"+44 7700 900123\"} ]\n",
    r#"{"nested":[[[{"deep":[1,[2,[3,{"k":"AB123456C"}]]]}]]],"empty":{},"list":[],"s":""}"#,
];

#[test]
fn every_prefix_gives_a_prefix_of_the_full_shape() {
    for sample in SAMPLES {
        let full = json(sample.as_bytes());
        assert!(full.json && !full.truncated, "{sample}: {:?}", full.events);
        assert!(
            !full.sensitive.is_empty() || sample.contains("nested"),
            "{sample}"
        );
        let end = sample.trim_end().len();
        for k in 0..=sample.len() {
            let cut = sample.as_bytes().get(..k).unwrap();
            let f = json(cut);
            assert!(
                full.shape.starts_with(&f.shape),
                "{sample} cut at {k}: {:?} not a prefix of {:?}",
                f.shape,
                full.shape
            );
            for (kind, n) in &f.sensitive {
                assert!(*n <= full.count(*kind), "{sample} cut at {k}: {kind:?} {n}");
            }
            let started = cut.iter().any(|b| !b.is_ascii_whitespace());
            assert_eq!(f.json, started, "{sample} cut at {k}");
            if started && k < end {
                assert!(f.truncated, "{sample} cut at {k}");
                assert_eq!(f.events, vec![ContentEvent::CutOff], "{sample} cut at {k}");
            }
            if k >= end {
                assert_eq!(f, full, "{sample} cut at {k}");
            }
        }
    }
}

#[test]
fn the_byte_limit_cuts_like_a_shorter_body() {
    let body = SAMPLES[0].as_bytes();
    for max_bytes in [0, 1, 17, 100, body.len() - 1] {
        let limits = ContentLimits {
            max_bytes,
            ..ContentLimits::default()
        };
        let f = json_with(body, &limits);
        let shorter = json(&body[..max_bytes]);
        assert_eq!(f.shape, shorter.shape, "{max_bytes}");
        assert!(f.truncated);
        assert_eq!(
            f.events.first(),
            Some(&ContentEvent::BytesLimit {
                body_len: body.len()
            })
        );
    }
}

#[test]
fn malformed_json_stops_the_scan_and_keeps_what_was_found() {
    let cases: &[(&str, usize, &[&str])] = &[
        (r#"{"a":1,}"#, 7, &["", "a"]),
        (r#"{"a" 1}"#, 5, &[""]),
        ("[1 2]", 3, &["", "[]"]),
        (r#"{"a":01}"#, 6, &[""]),
        (r#"{"a":tru}"#, 5, &[""]),
        ("{\"a\":\"x\u{1}\"}", 7, &["", "a"]),
        (r#"{"a":"\q"}"#, 7, &["", "a"]),
        (r#"{"a":1}}"#, 7, &["", "a"]),
        (r#"{"a":1} {"b":2}"#, 8, &["", "a"]),
        (r#"{"a":[1}"#, 7, &["", "a", "a[]"]),
        (r#"{"a":-}"#, 6, &[""]),
        (r#"{"a":1.}"#, 7, &[""]),
        (r#"{1:2}"#, 1, &[""]),
    ];
    for (body, offset, paths) in cases {
        let f = json(body.as_bytes());
        assert!(f.json, "{body}");
        assert!(f.truncated, "{body}");
        assert_eq!(
            f.events,
            vec![ContentEvent::Malformed { offset: *offset }],
            "{body}"
        );
        let got: Vec<&str> = f.shape.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(&got, paths, "{body}");
    }
    // Values before the error are scanned.
    let f = json(br#"{"e":"jane@example.com","x":nope}"#);
    assert_eq!(f.count(SensitiveKind::Email), 1);
}

#[test]
fn random_bytes_never_panic_and_stay_bounded() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let alphabet = b"{}[]:,\"\\ \n0123456789-+.eEtrufalsn@abcAB/u%=&";
    let limits = ContentLimits {
        max_fields: 16,
        max_path_bytes: 24,
        max_depth: 6,
        ..ContentLimits::default()
    };
    for round in 0..4000 {
        let len = rng.below(200);
        let body: Vec<u8> = (0..len)
            .map(|_| {
                if rng.below(4) == 0 {
                    rng.next() as u8
                } else {
                    alphabet[rng.below(alphabet.len())]
                }
            })
            .collect();
        for ct in [
            JSON,
            Some("application/x-www-form-urlencoded"),
            Some("text/plain"),
            None,
        ] {
            let f = analyze_body(ct, &body, &limits);
            assert!(f.shape.len() <= limits.max_fields, "round {round}");
            assert!(
                f.shape
                    .iter()
                    .all(|(p, _)| p.len() <= limits.max_path_bytes),
                "round {round}"
            );
            assert!(f.events.len() <= 7, "round {round}");
        }
    }
}

#[test]
fn mutated_documents_never_panic() {
    let mut rng = Rng(42);
    for round in 0..3000 {
        let mut body = SAMPLES[round % SAMPLES.len()].as_bytes().to_vec();
        for _ in 0..=rng.below(4) {
            let at = rng.below(body.len());
            match rng.below(3) {
                0 => body[at] = rng.next() as u8,
                1 => {
                    body.remove(at);
                }
                _ => body.insert(at, b"\"{}[],:\\"[rng.below(8)]),
            }
        }
        let f = json(&body);
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        assert_eq!(
            f.json,
            first.is_some_and(|b| b"{[\"-0123456789tfn".contains(b)),
            "round {round}"
        );
        if f.events
            .iter()
            .any(|e| matches!(e, ContentEvent::Malformed { .. }))
        {
            assert!(f.truncated);
        }
    }
}

#[test]
fn nesting_beyond_the_limit_is_skipped_and_the_rest_read() {
    let body = br#"{"a":{"b":{"c":{"d":{"e":"x@example.com"}},"c2":"jane@example.com"}},"z":true}"#;
    let limits = ContentLimits {
        max_depth: 3,
        ..ContentLimits::default()
    };
    let f = json_with(body, &limits);
    let paths: Vec<(&str, JsonType)> = f.shape.iter().map(|(p, t)| (p.as_str(), *t)).collect();
    assert_eq!(
        paths,
        vec![
            ("", JsonType::Object),
            ("a", JsonType::Object),
            ("a.b", JsonType::Object),
            ("a.b.c", JsonType::Object),
            ("a.b.c2", JsonType::String),
            ("z", JsonType::Bool),
        ]
    );
    // The address inside the skipped object is not scanned; the one after it is.
    assert_eq!(f.sensitive, vec![(SensitiveKind::Email, 1)]);
    assert!(f.truncated);
    assert_eq!(f.events, vec![ContentEvent::TooDeep { skipped: 1 }]);
}

#[test]
fn a_hundred_thousand_open_brackets() {
    let body = vec![b'['; 100_000];
    let limits = ContentLimits {
        max_bytes: body.len(),
        ..ContentLimits::default()
    };
    let f = json_with(&body, &limits);
    assert_eq!(f.shape.len(), 33);
    assert_eq!(
        f.events,
        vec![ContentEvent::TooDeep { skipped: 1 }, ContentEvent::CutOff]
    );
    let closed: Vec<u8> = [vec![b'['; 50_000], vec![b']'; 50_000]].concat();
    let f = json_with(&closed, &limits);
    assert_eq!(f.events, vec![ContentEvent::TooDeep { skipped: 1 }]);
}

#[test]
fn the_field_limit_drops_pairs_but_not_tags() {
    let body =
        br#"{"a":1,"b":2,"c":"jane@example.com","d":"GB29NWBK60161331926819","a":"now a string"}"#;
    let limits = ContentLimits {
        max_fields: 3,
        ..ContentLimits::default()
    };
    let f = json_with(body, &limits);
    assert_eq!(f.shape.len(), 3);
    assert_eq!(
        f.sensitive,
        vec![(SensitiveKind::Iban, 1), (SensitiveKind::Email, 1)]
    );
    assert!(f.truncated);
    assert_eq!(f.events, vec![ContentEvent::FieldsDropped { values: 3 }]);
}

#[test]
fn long_paths_are_not_recorded_nor_their_children() {
    let body = br#"{"short":{"averyveryverylongkey":{"x":1,"y":[2]},"k":"4111111111111111"}}"#;
    let limits = ContentLimits {
        max_path_bytes: 12,
        ..ContentLimits::default()
    };
    let f = json_with(body, &limits);
    let paths: Vec<&str> = f.shape.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["", "short", "short.k"]);
    // The long key's object and its three values.
    assert_eq!(f.events, vec![ContentEvent::PathTooLong { values: 4 }]);
    assert_eq!(f.sensitive, vec![(SensitiveKind::CardNumber, 1)]);
}

#[test]
fn long_strings_are_examined_up_to_the_limit() {
    let limits = ContentLimits {
        max_string_bytes: 32,
        ..ContentLimits::default()
    };
    let early = format!(r#"{{"note":"mail jane@example.com {}"}}"#, "x ".repeat(100));
    let f = json_with(early.as_bytes(), &limits);
    assert_eq!(f.sensitive, vec![(SensitiveKind::Email, 1)]);
    assert_eq!(f.events, vec![ContentEvent::LongStrings { strings: 1 }]);
    assert!(!f.truncated);
    // An address across the 32-byte mark, and one after it: neither counts.
    let across = format!(
        r#"{{"note":"{}jane@example.com x@example.com"}}"#,
        "x ".repeat(12)
    );
    let f = json_with(across.as_bytes(), &limits);
    assert_eq!(f.sensitive, vec![]);
    // Escaped strings are decoded up to the limit too.
    let escaped = format!(r#"{{"note":"\u0041B123456C {}"}}"#, "y".repeat(64));
    let f = json_with(escaped.as_bytes(), &limits);
    assert_eq!(f.sensitive, vec![(SensitiveKind::UkNino, 1)]);
}

/// One UK Open Banking transaction with an IBAN and a PAN; `i` varies the ids and amounts.
fn transaction(i: usize) -> String {
    format!(
        r#"{{"AccountId":"acc{i:05}","TransactionId":"tx-{i:08}","TransactionReference":"REF{i:06}","Amount":{{"Amount":"{}.{:02}","Currency":"GBP"}},"CreditDebitIndicator":"Debit","Status":"Booked","BookingDateTime":"2024-03-{:02}T10:{:02}:00+00:00","ValueDateTime":"2024-03-{:02}T10:{:02}:00+00:00","TransactionInformation":"Card payment {i}","BankTransactionCode":{{"Code":"ReceivedCreditTransfer","SubCode":"DomesticCreditTransfer"}},"CreditorAccount":{{"SchemeName":"UK.OBIE.IBAN","Identification":"GB29NWBK60161331926819","Name":"Acme Ltd"}},"CardInstrument":{{"CardSchemeName":"Visa","AuthorisationType":"ConsumerDevice","Name":"Mr Kevin","Identification":"4111111111111111"}},"Balance":{{"Amount":{{"Amount":"1230.00","Currency":"GBP"}},"CreditDebitIndicator":"Credit","Type":"InterimBooked"}}}}"#,
        100 + i * 7 % 9000,
        i % 100,
        1 + i % 28,
        i % 60,
        1 + i % 28,
        i % 60,
    )
}

fn transactions(n: usize) -> String {
    let list: Vec<String> = (0..n).map(transaction).collect();
    format!(
        r#"{{"Data":{{"Transaction":[{}]}},"Links":{{"Self":"/transactions"}},"Meta":{{"TotalPages":1}}}}"#,
        list.join(",")
    )
}

#[test]
fn a_full_64_kib_body() {
    let one = json(transactions(1).as_bytes());
    let mut n = 1;
    while transactions(n + 1).len() <= 64 * 1024 {
        n += 1;
    }
    let body = transactions(n);
    assert!(
        body.len() > 60 * 1024 && body.len() <= 64 * 1024,
        "{}",
        body.len()
    );
    let f = json(body.as_bytes());
    assert!(f.json && !f.truncated, "{:?}", f.events);
    assert_eq!(f.shape, one.shape);
    assert_eq!(f.shape.len(), 37);
    assert_eq!(
        f.sensitive,
        vec![
            (SensitiveKind::CardNumber, n as u32),
            (SensitiveKind::Iban, n as u32)
        ]
    );

    // A longer body is cut at the default limit: the shape stops before `Links`, the counts
    // cover the transactions within the first 64 KiB.
    let longer = transactions(n + 40);
    let f = json(longer.as_bytes());
    assert!(f.truncated);
    assert_eq!(
        f.events,
        vec![
            ContentEvent::BytesLimit {
                body_len: longer.len()
            },
            ContentEvent::CutOff
        ]
    );
    assert_eq!(f.shape, one.shape[..33]);
    let cards = f.count(SensitiveKind::CardNumber) as usize;
    assert!((n..=n + 1).contains(&cards), "{cards} of {n}");
}

#[test]
fn pathological_texts_take_linear_time() {
    // Half a megabyte, so quadratic work would show as minutes, linear as a fraction of a second.
    let n = 512 * 1024;
    let limits = ContentLimits {
        max_bytes: n,
        ..ContentLimits::default()
    };
    let bodies: Vec<Vec<u8>> = vec![
        b"1 ".repeat(n / 2),
        b"1-".repeat(n / 2),
        b"+1 ".repeat(n / 3),
        b"a."
            .repeat(n / 2 - 40)
            .into_iter()
            .chain(b"@".iter().copied())
            .chain(b"b".repeat(80))
            .collect(),
        b"a@".repeat(n / 2),
        b"AB12 ".repeat(n / 5),
        b"GB82 ".repeat(n / 5),
        b"9".repeat(n),
    ];
    let started = std::time::Instant::now();
    for body in &bodies {
        for ct in [Some("text/plain"), JSON] {
            let f = analyze_body(ct, body, &limits);
            assert_eq!(f.sensitive, vec![], "{:?}", &body[..12]);
        }
        // The same text as one JSON string value and as form values.
        let quoted = [b"\"".as_slice(), body, b"\""].concat();
        let limits = ContentLimits {
            max_string_bytes: n,
            ..limits
        };
        assert_eq!(analyze_body(JSON, &quoted, &limits).sensitive, vec![]);
        analyze_body(Some("application/x-www-form-urlencoded"), body, &limits);
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
