//! Lenient accessors over the document tree.
//!
//! YAML lets a specification write `200:` (a number key) where JSON writes `"200"`, `1.0`
//! where a string was meant, or attach a `!tag`; these helpers read all of those the way a
//! person would, so the rest of the loader deals only with strings.

use serde_norway::{Mapping, Value};

/// Looks through YAML tags: `!foo {..}` reads as `{..}`.
pub(crate) fn untag(mut v: &Value) -> &Value {
    while let Value::Tagged(tagged) = v {
        v = &tagged.value;
    }
    v
}

pub(crate) fn as_map(v: &Value) -> Option<&Mapping> {
    untag(v).as_mapping()
}

pub(crate) fn as_seq(v: &Value) -> Option<&Vec<Value>> {
    untag(v).as_sequence()
}

/// `v[key]` for a mapping, matching a number or boolean key by its text too.
pub(crate) fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let map = as_map(v)?;
    if let Some(found) = map.get(key) {
        return Some(found);
    }
    map.iter()
        .find(|(k, _)| !k.is_string() && scalar_text(k).as_deref() == Some(key))
        .map(|(_, v)| v)
}

/// A scalar's text: strings as they are, numbers and booleans as written in YAML.
pub(crate) fn scalar_text(v: &Value) -> Option<String> {
    match untag(v) {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `v[key]` as text (see [`scalar_text`]).
pub(crate) fn get_text(v: &Value, key: &str) -> Option<String> {
    get(v, key).and_then(scalar_text)
}

/// `v[key]` as a string slice; only real strings.
pub(crate) fn get_str<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    get(v, key).map(untag).and_then(Value::as_str)
}

pub(crate) fn get_bool(v: &Value, key: &str) -> Option<bool> {
    get(v, key).map(untag).and_then(Value::as_bool)
}

pub(crate) fn get_u64(v: &Value, key: &str) -> Option<u64> {
    let n = get(v, key).map(untag)?;
    n.as_u64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= u64::MAX as f64)
            .map(|f| f as u64)
    })
}

pub(crate) fn get_f64(v: &Value, key: &str) -> Option<f64> {
    get(v, key).map(untag).and_then(Value::as_f64)
}

/// The mapping's entries with their keys as text; entries whose key is not a scalar
/// (possible in YAML, meaningless in OpenAPI) are skipped.
pub(crate) fn entries(map: &Mapping) -> impl Iterator<Item = (String, &Value)> {
    map.iter()
        .filter_map(|(k, v)| scalar_text(k).map(|k| (k, v)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_norway::from_str(text).unwrap()
    }

    #[test]
    fn number_keys_are_found_by_their_text() {
        let v = yaml("200: ok\n'404': missing\n");
        assert_eq!(get_text(&v, "200").as_deref(), Some("ok"));
        assert_eq!(get_text(&v, "404").as_deref(), Some("missing"));
        assert_eq!(get(&v, "500"), None);
    }

    #[test]
    fn tags_are_looked_through_and_scalars_read_as_text() {
        let v = yaml("a: !custom {b: 1.5}\nc: true\n");
        assert_eq!(get(&v, "a").and_then(|a| get_f64(a, "b")), Some(1.5));
        assert_eq!(get_text(&v, "c").as_deref(), Some("true"));
        assert_eq!(get_str(&v, "c"), None);
    }

    #[test]
    fn integral_floats_read_as_u64_but_negative_or_fractional_do_not() {
        let v = yaml("a: 3.0\nb: -1\nc: 2.5\nd: 7\n");
        let got: Vec<_> = ["a", "b", "c", "d"]
            .iter()
            .map(|k| get_u64(&v, k))
            .collect();
        assert_eq!(got, vec![Some(3), None, None, Some(7)]);
    }
}
