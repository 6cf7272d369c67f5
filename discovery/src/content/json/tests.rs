use super::*;
use crate::content::{analyze_body, BodyFacts, ContentLimits};

fn facts(body: &str) -> BodyFacts {
    analyze_body(
        Some("application/json"),
        body.as_bytes(),
        &ContentLimits::default(),
    )
}

#[test]
fn escapes_are_decoded_for_keys_and_values() {
    let f = facts(r#"{"na\u006De":"jane\u0040example.com","tab\tkey":1}"#);
    assert_eq!(f.shape[1], ("name".to_string(), JsonType::String));
    assert_eq!(f.sensitive, vec![(crate::content::SensitiveKind::Email, 1)]);
    assert_eq!(f.shape[2], ("tab\tkey".to_string(), JsonType::Integer));
    assert!(f.events.is_empty() && !f.truncated);
}

#[test]
fn surrogate_pairs_and_lone_surrogates() {
    let mut buf = Vec::new();
    assert!(!decode(br"\uD83D\uDE00 \uD800x \u00e9", &mut buf, 100));
    assert_eq!(
        String::from_utf8(buf).unwrap(),
        "\u{1F600} \u{FFFD}x \u{e9}"
    );
}

#[test]
fn data_keys_become_stars() {
    let f =
        facts(r#"{"123":1,"3fa85f64-5717-4562-b3fc-2c963f66afa6":2,"jane@example.com":3,"v2":4}"#);
    let paths: Vec<&str> = f.shape.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["", "*", "v2"]);
    assert_eq!(f.sensitive, vec![(crate::content::SensitiveKind::Email, 1)]);
}

#[test]
fn a_byte_order_mark_is_skipped_and_offsets_stay_the_bodys() {
    let f = facts("\u{FEFF}{\"a\":1,}");
    assert!(f.json);
    assert_eq!(
        f.shape,
        vec![
            (String::new(), JsonType::Object),
            ("a".to_string(), JsonType::Integer)
        ]
    );
    assert_eq!(f.events, vec![ContentEvent::Malformed { offset: 10 }]);
}

#[test]
fn form_feed_is_not_json_whitespace() {
    let f = facts("\u{c}{\"a\":1}");
    assert!(!f.json);
    assert!(f.shape.is_empty());
}

fn ids_of(body: &str, max_ids: usize) -> Vec<String> {
    let limits = ContentLimits { max_ids, ..ContentLimits::default() };
    crate::content::analyze_body(Some("application/json"), body.as_bytes(), &limits).object_ids
}

#[test]
fn object_ids_come_from_id_keys_only() {
    let body = r#"{"Data":{"Account":[{"AccountId":"acc-1","Nickname":"Bills","Status":"Enabled"},
        {"AccountId":"acc-2","accountId":"acc-3","consent_id":"c 9","id":42,"paid":"yes","ID":"x"}]},
        "Links":{"Self":"https://h/accounts"},"Meta":{"TotalPages":1}}"#;
    // `consent_id` holds a blank: not an identifier; `paid` is no id key.
    assert_eq!(ids_of(body, 16), ["acc-1", "acc-2", "acc-3", "42", "x"]);
    assert!(ids_of(body, 0).is_empty(), "collection is off by default");
    assert_eq!(ids_of(body, 2), ["acc-1", "acc-2"], "bounded by max_ids");
}

#[test]
fn object_ids_skip_cut_and_overlong_values() {
    let long = "9".repeat(crate::content::MAX_OBJECT_ID_BYTES + 1);
    let body = format!(r#"{{"AccountId":"{long}","OtherId":"ok","LastId":"cut-her"#);
    assert_eq!(ids_of(&body, 16), ["ok"]);
    let dup = r#"[{"AccountId":"a"},{"AccountId":"a"},{"AccountId":"b\u0031"}]"#;
    assert_eq!(ids_of(dup, 16), ["a", "b1"], "escapes decoded, duplicates once");
}
