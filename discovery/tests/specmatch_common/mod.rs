//! Helpers shared by the `specmatch_*` test files: small specs written inline.

#![allow(dead_code)]

use apitap_discovery::openapi::{load_spec, Spec};
use apitap_discovery::specmatch::{MatchTarget, Route, SpecBinding, SpecSet};

/// One operation of a test spec: method, path, and `(name, schema)` of its path parameters
/// (schema in YAML flow style).
pub type Op<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

/// A spec with the given servers (URLs) and operations.
pub fn spec(name: &str, servers: &[&str], ops: &[Op<'_>]) -> Spec {
    let mut text = format!("openapi: 3.0.3\ninfo:\n  title: {name}\n  version: '1'\n");
    if !servers.is_empty() {
        text.push_str("servers:\n");
        for s in servers {
            text.push_str(&format!("  - url: '{s}'\n"));
        }
    }
    text.push_str("paths:\n");
    let mut paths: Vec<&str> = Vec::new();
    for (_, p, _) in ops {
        if !paths.contains(p) {
            paths.push(p);
        }
    }
    for path in paths {
        text.push_str(&format!("  '{path}':\n"));
        for (method, _, params) in ops.iter().filter(|(_, p, _)| *p == path) {
            text.push_str(&format!("    {}:\n", method.to_lowercase()));
            text.push_str("      responses: {'200': {description: ok}}\n");
            if !params.is_empty() {
                text.push_str("      parameters:\n");
                for (pname, schema) in *params {
                    text.push_str(&format!(
                        "        - {{name: {pname}, in: path, required: true, schema: {schema}}}\n"
                    ));
                }
            }
        }
    }
    load_spec(&format!("{name}.yaml"), &text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

pub fn any() -> SpecBinding {
    SpecBinding::default()
}

pub fn set(specs: Vec<(Spec, SpecBinding)>, routes: Vec<Route>) -> SpecSet {
    SpecSet::new(specs, routes).unwrap()
}

pub fn route(method: Option<&str>, template: &str) -> Route {
    Route {
        method: method.map(str::to_string),
        template: template.to_string(),
        hosts: vec![],
    }
}

/// The template matched, or `None`.
pub fn tpl(set: &SpecSet, host: &str, method: &str, path: &str) -> Option<String> {
    set.match_request(host, method, path).map(|m| m.template)
}

pub fn op_target(spec: usize, operation: usize) -> MatchTarget {
    MatchTarget::Operation { spec, operation }
}
