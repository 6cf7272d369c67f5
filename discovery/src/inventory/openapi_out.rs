//! An OpenAPI 3.1 document reconstructed from traffic: every API endpoint that had traffic
//! (orphans are left out: traffic says nothing about them), its path and query parameters,
//! the response codes seen and the JSON body shapes, for users to diff against their own.
//!
//! Types come from what was seen: a field seen as two types becomes `type: [a, b]`; integers
//! and numbers are both `number` when mixed. Nothing is marked `required` (absence is not
//! observable from a sample) and no value, example or enum is written: the document holds
//! shapes only, never data.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::report::{Classification, EndpointReport, InventoryReport, ShapeReport};
use crate::content::JsonType;

fn type_name(t: JsonType) -> &'static str {
    match t {
        JsonType::Null => "null",
        JsonType::Bool => "boolean",
        JsonType::Integer => "integer",
        JsonType::Number => "number",
        JsonType::String => "string",
        JsonType::Object => "object",
        JsonType::Array => "array",
    }
}

/// A schema tree built from flattened field paths (`a.b[].c`).
#[derive(Default)]
struct Node {
    types: Vec<JsonType>,
    props: BTreeMap<String, Node>,
    items: Option<Box<Node>>,
}

impl Node {
    fn insert(&mut self, path: &str, types: &[JsonType]) {
        let mut node = self;
        let mut rest = path;
        while !rest.is_empty() {
            // A leading `[]` steps into array items; a name steps into a property.
            if let Some(r) = rest.strip_prefix("[]") {
                node = node.items.get_or_insert_with(Box::default);
                rest = r.strip_prefix('.').unwrap_or(r);
                continue;
            }
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            let (name, r) = rest.split_at(end);
            node = node.props.entry(name.to_string()).or_default();
            rest = r.strip_prefix('.').unwrap_or(r);
        }
        for t in types {
            if !node.types.contains(t) {
                node.types.push(*t);
            }
        }
    }

    fn schema(&self) -> Value {
        let mut m = Map::new();
        let mut names: Vec<&str> = self.types.iter().map(|t| type_name(*t)).collect();
        if !self.props.is_empty() && !names.contains(&"object") {
            names.push("object");
        }
        if self.items.is_some() && !names.contains(&"array") {
            names.push("array");
        }
        if names.contains(&"integer") && names.contains(&"number") {
            names.retain(|n| *n != "integer");
        }
        names.sort_unstable();
        names.dedup();
        match names.as_slice() {
            [] => {}
            [one] => {
                m.insert("type".into(), json!(one));
            }
            many => {
                m.insert("type".into(), json!(many));
            }
        }
        if !self.props.is_empty() {
            let props: Map<String, Value> = self.props.iter().map(|(k, v)| (k.clone(), v.schema())).collect();
            m.insert("properties".into(), Value::Object(props));
        }
        if let Some(items) = &self.items {
            m.insert("items".into(), items.schema());
        }
        Value::Object(m)
    }
}

fn shape_schema(shape: &ShapeReport) -> Option<Value> {
    if shape.fields.is_empty() {
        return None;
    }
    let mut root = Node::default();
    for (path, types) in &shape.fields {
        root.insert(path, types);
    }
    Some(root.schema())
}

/// Path parameter names of a template, in order.
fn path_params(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = rest.get(start + 1..).unwrap_or("");
        let Some(end) = after.find('}') else { break };
        let name = after.get(..end).unwrap_or("");
        if !name.is_empty() && !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
        rest = after.get(end + 1..).unwrap_or("");
    }
    out
}

fn operation(e: &EndpointReport) -> Value {
    let mut op = Map::new();
    if let Some(spec) = &e.spec {
        if let Some(id) = &spec.operation_id {
            op.insert("operationId".into(), json!(id));
        }
    }
    op.insert("x-apitap-classification".into(), json!(e.classification));
    op.insert("x-apitap-hits".into(), json!(e.hits));
    if e.classification == Classification::Zombie {
        op.insert("deprecated".into(), json!(true));
    }
    let mut params: Vec<Value> = path_params(&e.path)
        .into_iter()
        .map(|n| json!({"name": n, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    params.extend(e.query_params.iter().map(|n| json!({"name": n, "in": "query", "schema": {"type": "string"}})));
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    let content = |types: &BTreeMap<String, u64>, shape: &ShapeReport| -> Option<Value> {
        let schema = shape_schema(shape);
        let mut c = Map::new();
        for t in types.keys() {
            let is_json = t == "application/json" || t.ends_with("+json");
            let s = if is_json { schema.clone().unwrap_or_else(|| json!({})) } else { json!({}) };
            c.insert(t.clone(), json!({ "schema": s }));
        }
        if c.is_empty() {
            schema.map(|s| json!({"application/json": {"schema": s}}))
        } else {
            Some(Value::Object(c))
        }
    };
    if let Some(c) = content(&e.request_content_types, &e.request_body) {
        op.insert("requestBody".into(), json!({ "content": c }));
    }
    let mut responses = Map::new();
    for code in e.status.keys().filter(|c| c.as_str() != "0") {
        let mut r = Map::new();
        r.insert("description".into(), json!(format!("seen in traffic ({} times)", e.status.get(code).copied().unwrap_or(0))));
        let success = code.starts_with('2');
        if success {
            if let Some(c) = content(&e.response_content_types, &e.response_body) {
                r.insert("content".into(), c);
            }
        }
        responses.insert(code.clone(), Value::Object(r));
    }
    if responses.is_empty() {
        responses.insert("default".into(), json!({"description": "no response seen"}));
    }
    op.insert("responses".into(), Value::Object(responses));
    Value::Object(op)
}

/// The reconstructed OpenAPI 3.1 document as a JSON value (serialise it as YAML or JSON).
pub fn reconstruct(report: &InventoryReport) -> Value {
    let seen: Vec<&EndpointReport> =
        report.endpoints.iter().filter(|e| e.classification != Classification::Orphan && e.hits > 0).collect();
    let mut hosts_of_path: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut hosts: Vec<&str> = Vec::new();
    for e in &seen {
        let hs = hosts_of_path.entry(e.path.as_str()).or_default();
        if !hs.contains(&e.host.as_str()) {
            hs.push(&e.host);
        }
        if !hosts.contains(&e.host.as_str()) {
            hosts.push(&e.host);
        }
    }
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for e in seen {
        // A path key cannot name a host: a path that several services serve is written once
        // per service as `path#host` so that none overwrites another; every operation also
        // carries `x-apitap-host`.
        let shared = hosts_of_path.get(e.path.as_str()).is_some_and(|h| h.len() > 1);
        let key = if shared { format!("{}#{}", e.path, e.host) } else { e.path.clone() };
        let mut op = operation(e);
        if let Value::Object(m) = &mut op {
            m.insert("x-apitap-host".into(), json!(e.host));
        }
        paths.entry(key).or_default().insert(e.method.to_ascii_lowercase(), op);
    }
    let out_paths: Map<String, Value> = paths.into_iter().map(|(k, v)| (k, Value::Object(v))).collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "API reconstructed from traffic by apitap",
            "version": "observed",
            "description": "Endpoints, parameters, response codes and body shapes seen in traffic. Shapes only: no values."
        },
        "servers": hosts.iter().map(|h| json!({"url": format!("//{h}")})).collect::<Vec<_>>(),
        "paths": out_paths,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_shapes_become_schemas() {
        let mut root = Node::default();
        root.insert("Data.Account[].AccountId", &[JsonType::String]);
        root.insert("Data.Account[].Nickname", &[JsonType::String, JsonType::Null]);
        root.insert("Data.Account", &[JsonType::Array]);
        root.insert("Meta.TotalPages", &[JsonType::Integer]);
        let s = root.schema();
        assert_eq!(s["properties"]["Data"]["properties"]["Account"]["type"], json!("array"));
        assert_eq!(
            s["properties"]["Data"]["properties"]["Account"]["items"]["properties"]["AccountId"]["type"],
            json!("string")
        );
        assert_eq!(
            s["properties"]["Data"]["properties"]["Account"]["items"]["properties"]["Nickname"]["type"],
            json!(["null", "string"])
        );
        assert_eq!(s["properties"]["Meta"]["properties"]["TotalPages"]["type"], json!("integer"));
    }

    #[test]
    fn top_level_arrays() {
        let mut root = Node::default();
        root.insert("[].id", &[JsonType::Integer, JsonType::Number]);
        let s = root.schema();
        assert_eq!(s["type"], json!("array"));
        assert_eq!(s["items"]["properties"]["id"]["type"], json!("number"));
    }

    #[test]
    fn path_parameters_are_listed_once_in_order() {
        assert_eq!(path_params("/a/{AccountId}/b/{x}.json/{AccountId}"), ["AccountId", "x"]);
        assert!(path_params("/a/b").is_empty());
    }
}
