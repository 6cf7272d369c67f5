//! JSON Schema (as OpenAPI 3.0 and 3.1 use it) reduced to [`Schema`].
//!
//! The expansion is bounded three ways: nesting deeper than [`MAX_SCHEMA_DEPTH`] becomes
//! [`Schema::Any`]; a `$ref` to a schema that is already being expanded on the current path
//! (a recursive schema) becomes [`Schema::Any`] at the point of recursion; and the whole
//! document may build at most [`MAX_SCHEMA_NODES`] nodes, past which loading fails.

use serde_norway::Value;

use super::access::{
    as_map, as_seq, entries, get, get_bool, get_f64, get_str, get_u64, scalar_text, untag,
};
use super::error::{SpecError, SpecErrorKind};
use super::model::{Schema, MAX_SCHEMA_DEPTH};
use super::refs::Ctx;
use super::MAX_SCHEMA_NODES;

/// How many `$ref`s may be open on one path through a schema. Each hop costs a stack frame
/// without adding nesting, so a long chain of distinct references needs its own bound.
const MAX_REF_CHAIN: usize = 64;

impl<'a> Ctx<'a> {
    /// Resolves and reduces the schema object `v`.
    pub(crate) fn schema(&mut self, v: &'a Value) -> Result<Schema, SpecError> {
        let mut open_refs = Vec::new();
        self.schema_at(v, 0, &mut open_refs)
    }

    fn schema_at(
        &mut self,
        v: &'a Value,
        depth: usize,
        open_refs: &mut Vec<&'a str>,
    ) -> Result<Schema, SpecError> {
        if depth >= MAX_SCHEMA_DEPTH {
            return Ok(Schema::Any);
        }
        self.count_schema_node()?;
        if let Some(reference) = get_str(v, "$ref") {
            if open_refs.contains(&reference) || open_refs.len() >= MAX_REF_CHAIN {
                return Ok(Schema::Any);
            }
            let target = self.resolve(reference)?;
            open_refs.push(reference);
            let resolved = self.schema_at(target, depth, open_refs);
            open_refs.pop();
            return resolved;
        }
        let mut schema = self.typed(v, depth, open_refs)?;
        if let Some(members) = get(v, "allOf").and_then(as_seq) {
            let mut parts = vec![schema];
            for member in members {
                parts.push(self.schema_at(member, depth + 1, open_refs)?);
            }
            schema = merge_all(parts);
        }
        let alternatives = get(v, "oneOf").or_else(|| get(v, "anyOf")).and_then(as_seq);
        if let Some(alternatives) = alternatives {
            let mut alts = Vec::with_capacity(alternatives.len());
            for alt in alternatives {
                if self.is_null_schema(alt) {
                    continue;
                }
                let alt = self.schema_at(alt, depth + 1, open_refs)?;
                alts.push(match (&schema, alt) {
                    (Schema::Object { .. }, alt) => merge(schema.clone(), alt),
                    (_, Schema::Any) => schema.clone(),
                    (_, alt) => alt,
                });
            }
            schema = match alts.len() {
                0 => schema,
                1 => alts.pop().unwrap_or(Schema::Any),
                _ => Schema::OneOf(alts),
            };
        }
        Ok(schema)
    }

    fn count_schema_node(&mut self) -> Result<(), SpecError> {
        self.schema_nodes += 1;
        if self.schema_nodes <= MAX_SCHEMA_NODES {
            return Ok(());
        }
        Err(SpecError::new(
            self.source,
            1,
            SpecErrorKind::TooManySchemaNodes,
            format!("the resolved schemas grow past {MAX_SCHEMA_NODES} nodes (MAX_SCHEMA_NODES)"),
            "split the specification or reuse fewer large schemas inline",
        ))
    }

    /// `type: 'null'` (3.1) or `nullable`-only alternatives carry no shape of their own.
    fn is_null_schema(&self, v: &'a Value) -> bool {
        let v = match get_str(v, "$ref") {
            Some(reference) => match self.resolve(reference) {
                Ok(target) => target,
                Err(_) => return false,
            },
            None => v,
        };
        match get(v, "type").map(untag) {
            Some(Value::String(t)) => t == "null",
            Some(Value::Sequence(types)) => {
                !types.is_empty()
                    && types
                        .iter()
                        .all(|t| scalar_text(t).as_deref() == Some("null"))
            }
            _ => false,
        }
    }

    /// The schema's own shape, ignoring `allOf`/`oneOf`/`anyOf`.
    fn typed(
        &mut self,
        v: &'a Value,
        depth: usize,
        open_refs: &mut Vec<&'a str>,
    ) -> Result<Schema, SpecError> {
        let schema = match declared_type(v).unwrap_or_else(|| inferred_type(v)) {
            "object" => self.object(v, depth, open_refs)?,
            "array" => {
                let items = match get(v, "items") {
                    Some(items) => self.schema_at(items, depth + 1, open_refs)?,
                    None => Schema::Any,
                };
                Schema::Array {
                    items: Box::new(items),
                    min_items: get_u64(v, "minItems"),
                    max_items: get_u64(v, "maxItems"),
                }
            }
            "string" => Schema::String {
                format: get_str(v, "format").map(str::to_owned),
                enumeration: enum_values(v)
                    .iter()
                    .filter_map(|e| scalar_text(e))
                    .collect(),
                pattern: get_str(v, "pattern").map(str::to_owned),
                min_length: get_u64(v, "minLength"),
                max_length: get_u64(v, "maxLength"),
            },
            "integer" => {
                let (minimum, maximum) = integer_bounds(v);
                Schema::Integer {
                    minimum,
                    maximum,
                    enumeration: enum_values(v)
                        .iter()
                        .filter_map(|e| as_integer(e))
                        .collect(),
                }
            }
            "number" => Schema::Number {
                minimum: get_f64(v, "minimum").or_else(|| exclusive_number(v, "exclusiveMinimum")),
                maximum: get_f64(v, "maximum").or_else(|| exclusive_number(v, "exclusiveMaximum")),
            },
            "boolean" => Schema::Boolean,
            _ => Schema::Any,
        };
        Ok(schema)
    }

    fn object(
        &mut self,
        v: &'a Value,
        depth: usize,
        open_refs: &mut Vec<&'a str>,
    ) -> Result<Schema, SpecError> {
        let mut properties = Vec::new();
        if let Some(map) = get(v, "properties").and_then(as_map) {
            for (name, property) in entries(map) {
                properties.push((name, self.schema_at(property, depth + 1, open_refs)?));
            }
        }
        let required = get(v, "required")
            .and_then(as_seq)
            .map(|names| names.iter().filter_map(scalar_text).collect())
            .unwrap_or_default();
        Ok(Schema::Object {
            properties,
            required,
        })
    }
}

/// The first non-null entry of `type` (a string in 3.0, a string or a list in 3.1).
fn declared_type(v: &Value) -> Option<&str> {
    match get(v, "type").map(untag)? {
        Value::String(t) => Some(t.as_str()),
        Value::Sequence(types) => types
            .iter()
            .filter_map(|t| untag(t).as_str())
            .find(|t| *t != "null"),
        _ => None,
    }
}

/// What an untyped schema evidently is, from the keywords it uses.
fn inferred_type(v: &Value) -> &'static str {
    let has = |key: &str| get(v, key).is_some();
    if has("properties") || has("additionalProperties") || has("required") {
        return "object";
    }
    if has("items") {
        return "array";
    }
    if let Some(first) = enum_values(v).first() {
        return match untag(first) {
            Value::String(_) => "string",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            _ => "any",
        };
    }
    if matches!(get_str(v, "format"), Some("int32" | "int64")) {
        return "integer";
    }
    if has("pattern") || has("minLength") || has("maxLength") || has("format") {
        return "string";
    }
    if has("minimum") || has("maximum") {
        return "number";
    }
    "any"
}

/// `enum`, or `const` as a one-value enum.
fn enum_values(v: &Value) -> Vec<&Value> {
    if let Some(values) = get(v, "enum").and_then(as_seq) {
        return values.iter().filter(|e| !untag(e).is_null()).collect();
    }
    get(v, "const")
        .filter(|c| !untag(c).is_null())
        .into_iter()
        .collect()
}

fn as_integer(v: &Value) -> Option<i64> {
    let v = untag(v);
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64)
    })
}

/// Integer bounds, with exclusive bounds (3.0 booleans or 3.1 numbers) made inclusive.
fn integer_bounds(v: &Value) -> (Option<i64>, Option<i64>) {
    let bound = |key: &str, exclusive_key: &str, step: i64| {
        let inclusive = get(v, key).and_then(as_integer);
        match (get(v, exclusive_key).map(untag), inclusive) {
            (Some(Value::Bool(true)), Some(b)) => b.checked_add(step),
            (Some(Value::Number(_)), None) => get(v, exclusive_key)
                .and_then(as_integer)
                .and_then(|b| b.checked_add(step)),
            _ => inclusive,
        }
    };
    (
        bound("minimum", "exclusiveMinimum", 1),
        bound("maximum", "exclusiveMaximum", -1),
    )
}

/// A 3.1 numeric exclusive bound, used as an (approximately) inclusive one.
fn exclusive_number(v: &Value, key: &str) -> Option<f64> {
    if get_bool(v, key).is_some() {
        return None;
    }
    get_f64(v, key)
}

/// `allOf`: objects are merged into one; a `oneOf` among them is distributed over the
/// merged object; otherwise the first part with a shape wins.
fn merge_all(parts: Vec<Schema>) -> Schema {
    parts.into_iter().fold(Schema::Any, merge)
}

/// Combines two schemas that must both hold.
fn merge(a: Schema, b: Schema) -> Schema {
    match (a, b) {
        (Schema::Any, b) => b,
        (a, Schema::Any) => a,
        (
            Schema::Object {
                mut properties,
                mut required,
            },
            Schema::Object {
                properties: more,
                required: more_required,
            },
        ) => {
            for (name, schema) in more {
                match properties.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, existing)) => {
                        let earlier = std::mem::replace(existing, Schema::Any);
                        *existing = merge_property(earlier, schema);
                    }
                    None => properties.push((name, schema)),
                }
            }
            for name in more_required {
                if !required.contains(&name) {
                    required.push(name);
                }
            }
            Schema::Object {
                properties,
                required,
            }
        }
        (object @ Schema::Object { .. }, Schema::OneOf(alts))
        | (Schema::OneOf(alts), object @ Schema::Object { .. }) => Schema::OneOf(
            alts.into_iter()
                .map(|alt| merge(object.clone(), alt))
                .collect(),
        ),
        (a, _) => a,
    }
}

/// A property defined by two `allOf` members: both objects merge, otherwise the later,
/// more specific definition wins.
fn merge_property(earlier: Schema, later: Schema) -> Schema {
    match (earlier, later) {
        (a @ Schema::Object { .. }, b @ Schema::Object { .. }) => merge(a, b),
        (a, Schema::Any) => a,
        (_, b) => b,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn load(yaml: &str, pointer: &str) -> Schema {
        let root: Value = serde_norway::from_str(yaml).unwrap();
        let mut ctx = Ctx {
            source: "t.yaml",
            text: yaml,
            root: &root,
            schema_nodes: 0,
        };
        let target = super::super::refs::pointer(&root, pointer).unwrap();
        ctx.schema(target).unwrap()
    }

    fn string() -> Schema {
        Schema::String {
            format: None,
            enumeration: vec![],
            pattern: None,
            min_length: None,
            max_length: None,
        }
    }

    #[test]
    fn all_of_unites_properties_and_required_in_order() {
        let s = load(
            "s:\n  allOf:\n    - {type: object, properties: {a: {type: string}}, required: [a]}\n    \
             - {properties: {b: {type: boolean}}, required: [b, a]}\n",
            "#/s",
        );
        let expected = Schema::Object {
            properties: vec![("a".into(), string()), ("b".into(), Schema::Boolean)],
            required: vec!["a".into(), "b".into()],
        };
        assert_eq!(s, expected);
    }

    #[test]
    fn one_of_drops_null_alternatives_and_a_single_survivor_stands_alone() {
        let s = load("s: {oneOf: [{type: 'null'}, {type: boolean}]}\n", "#/s");
        assert_eq!(s, Schema::Boolean);
        let s = load("s: {anyOf: [{type: integer}, {type: boolean}]}\n", "#/s");
        let int = Schema::Integer {
            minimum: None,
            maximum: None,
            enumeration: vec![],
        };
        assert_eq!(s, Schema::OneOf(vec![int, Schema::Boolean]));
    }

    #[test]
    fn type_lists_take_the_non_null_type_and_const_is_a_one_value_enum() {
        let s = load(
            "s: {type: ['null', string], const: EUR, nullable: true}\n",
            "#/s",
        );
        let expected = Schema::String {
            format: None,
            enumeration: vec!["EUR".into()],
            pattern: None,
            min_length: None,
            max_length: None,
        };
        assert_eq!(s, expected);
    }

    #[test]
    fn exclusive_integer_bounds_become_inclusive() {
        let s = load(
            "s: {type: integer, minimum: 0, exclusiveMinimum: true, exclusiveMaximum: 10}\n",
            "#/s",
        );
        assert_eq!(
            s,
            Schema::Integer {
                minimum: Some(1),
                maximum: Some(9),
                enumeration: vec![]
            }
        );
    }

    #[test]
    fn self_reference_is_cut_where_it_recurs() {
        let s = load(
            "components:\n  schemas:\n    Node:\n      type: object\n      properties:\n        \
             next: {$ref: '#/components/schemas/Node'}\n        v: {type: boolean}\n",
            "#/components/schemas/Node",
        );
        let expected = Schema::Object {
            properties: vec![
                (
                    "next".into(),
                    Schema::Object {
                        properties: vec![
                            ("next".into(), Schema::Any),
                            ("v".into(), Schema::Boolean),
                        ],
                        required: vec![],
                    },
                ),
                ("v".into(), Schema::Boolean),
            ],
            required: vec![],
        };
        // The reference to Node inside Node is expanded once (the outer Node was reached
        // directly, not through a reference) and then cut.
        assert_eq!(s, expected);
    }

    #[test]
    fn nesting_beyond_the_depth_limit_is_any() {
        let mut yaml = String::from("s: ");
        for _ in 0..MAX_SCHEMA_DEPTH + 3 {
            yaml.push_str("{type: array, items: ");
        }
        yaml.push_str("{type: boolean}");
        yaml.push_str(&"}".repeat(MAX_SCHEMA_DEPTH + 3));
        yaml.push('\n');
        let mut s = load(&yaml, "#/s");
        let mut arrays = 0;
        while let Schema::Array { items, .. } = s {
            arrays += 1;
            s = *items;
        }
        assert_eq!((arrays, s), (MAX_SCHEMA_DEPTH, Schema::Any));
    }
}
