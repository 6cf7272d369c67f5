//! The GraphQL operation extractor (discovery's `graphql::extract`) on request bodies and
//! query strings. The first byte picks the form: 0 a JSON body, 1 an `application/graphql`
//! body, 2 a query string (the rest as text), so one target covers the JSON and batch
//! reading, the lexer and the document reader. Seeds: the documents under
//! fuzz/seeds/graphql (`fuzz/seed.py`).
//!
//! Checked besides "no panic": every bound holds on the result (fields, name lengths, batch),
//! and no name carries anything but name characters (values never leak into names).
#![no_main]

use apitap_discovery::graphql::{extract, GraphqlLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&form, rest)) = data.split_first() else { return };
    let limits = GraphqlLimits { max_bytes: 8192, max_depth: 16, max_fields: 8, max_name_len: 32, max_batch: 4, max_operations: 4 };
    let text = String::from_utf8_lossy(rest);
    let found = match form % 3 {
        0 => extract("", Some("application/json"), rest, &limits),
        1 => extract("", Some("application/graphql"), rest, &limits),
        _ => extract(&text, None, b"", &limits),
    };
    let Some(found) = found else { return };
    assert!(found.operations.len() <= limits.max_batch);
    assert!(found.batch_size >= found.operations.len());
    for op in &found.operations {
        assert!(op.fields.len() <= limits.max_fields, "{op:?}");
        assert!(op.fields.iter().all(|f| f.len() <= limits.max_name_len && !f.is_empty()), "{op:?}");
        let ok = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_:{},".contains(&b));
        assert!(ok(&op.name) && op.fields.iter().all(|f| ok(f)), "{op:?}");
        assert!(!op.introspection || op.fields.iter().any(|f| f == "__schema" || f == "__type"), "{op:?}");
    }
});
