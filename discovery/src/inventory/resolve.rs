//! Finding a snapshot's documented endpoints again in a (possibly different) set of specs,
//! and the documented operation an inferred template now names.
//!
//! An operation is found by its spec's identity ([`SpecId`]: the same file, else the same
//! title and version; the binding breaks ties) and its method and path as written. A template
//! *fits* an operation's or route's template when both have the same number of segments,
//! every fixed segment is equal and every parameter faces a whole-segment parameter
//! (`{AccountId}`); one trailing `/` is ignored, as the matcher ignores it.

use super::snapshot::{RouteId, SpecId, SpecSnapshot, TargetSnapshot};
use crate::specmatch::{host_matches, BoundSpec, MatchTarget, SpecSet};
use crate::template::{Template, TemplateSegment};

/// The identity of spec `i` of `specs`.
pub(super) fn spec_id(specs: &SpecSet, i: usize) -> Option<SpecId> {
    specs.specs().get(i).map(|b| SpecId {
        file: b.spec.source.clone(),
        title: b.spec.title.clone(),
        version: b.spec.version.clone(),
        hosts: b.binding.hosts.clone(),
        environment: b.binding.environment.clone(),
    })
}

/// Every loaded spec with its operations, and the routes, for a snapshot.
pub(super) fn loaded(specs: &SpecSet) -> (Vec<SpecSnapshot>, Vec<RouteId>) {
    let s = (0..specs.specs().len())
        .filter_map(|i| {
            let id = spec_id(specs, i)?;
            let bound = specs.specs().get(i)?;
            let operations = bound.spec.operations.iter().map(|o| (o.method.clone(), o.path.clone())).collect();
            Some(SpecSnapshot { id, operations })
        })
        .collect();
    let r = specs
        .routes()
        .iter()
        .map(|r| RouteId { method: r.method.clone(), template: r.template.clone(), hosts: r.hosts.clone() })
        .collect();
    (s, r)
}

/// The spec of `specs` that `id` names: the same file or the same title and version, the
/// closest (file, then title and version, then binding) first, the earlier on a tie.
pub(super) fn find_spec(specs: &SpecSet, id: &SpecId) -> Option<usize> {
    let score = |b: &BoundSpec| {
        let file = b.spec.source == id.file;
        let named = b.spec.title == id.title && b.spec.version == id.version;
        let bound = b.binding.hosts == id.hosts && b.binding.environment == id.environment;
        (file || named).then_some(u8::from(file) * 4 + u8::from(named) * 2 + u8::from(bound))
    };
    let mut best: Option<(u8, usize)> = None;
    for (i, b) in specs.specs().iter().enumerate() {
        if let Some(s) = score(b) {
            if best.is_none_or(|(top, _)| s > top) {
                best = Some((s, i));
            }
        }
    }
    best.map(|(_, i)| i)
}

/// A documented endpoint found again: what documents it and under which template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Resolved {
    pub target: MatchTarget,
    pub under_superseded: Option<usize>,
    pub without_base_path: bool,
    pub template: String,
}

fn op_path(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    }
}

/// The operation a snapshot's documented endpoint named, in `specs`, if it still exists and
/// is still named by `template` (same base path).
pub(super) fn by_identity(
    specs: &SpecSet,
    target: &TargetSnapshot,
    under_superseded: Option<&SpecId>,
    without_base_path: bool,
    template: &str,
) -> Option<Resolved> {
    match target {
        TargetSnapshot::Route(id) => {
            let i = specs.routes().iter().position(|r| r.method == id.method && r.template == id.template && r.hosts == id.hosts)?;
            (id.template == template).then(|| Resolved {
                target: MatchTarget::Route(i),
                under_superseded: None,
                without_base_path: false,
                template: template.to_string(),
            })
        }
        TargetSnapshot::Operation { spec, method, path } => {
            let s = find_spec(specs, spec)?;
            let bound = specs.specs().get(s)?;
            let k = bound.spec.operations.iter().position(|o| o.method.eq_ignore_ascii_case(method) && o.path == *path)?;
            let target = MatchTarget::Operation { spec: s, operation: k };
            let alone = op_path(path);
            if let Some(old) = under_superseded {
                let j = find_spec(specs, old)?;
                let old_bound = specs.specs().get(j).filter(|b| b.binding.superseded)?;
                let named = old_bound
                    .base_paths
                    .iter()
                    .any(|b| !b.is_empty() && b != "/" && format!("{b}{alone}") == template);
                return named.then(|| Resolved { target, under_superseded: Some(j), without_base_path: false, template: template.to_string() });
            }
            let under_base = specs.operations().iter().any(|o| o.spec == s && o.operation == k && o.template == template);
            if under_base {
                return Some(Resolved { target, under_superseded: None, without_base_path: false, template: template.to_string() });
            }
            let fallback = without_base_path && alone == template && !bound.base_paths.iter().any(String::is_empty);
            fallback.then(|| Resolved { target, under_superseded: None, without_base_path: true, template: template.to_string() })
        }
    }
}

/// Segments of a template text: one trailing empty segment ignored.
fn text_segments(t: &str) -> Vec<&str> {
    let body = t.strip_prefix('/').unwrap_or(t);
    if body.is_empty() {
        return Vec::new();
    }
    let mut v: Vec<&str> = body.split('/').collect();
    if v.len() > 1 && v.last() == Some(&"") {
        v.pop();
    }
    v
}

fn whole_param(s: &str) -> bool {
    s.strip_prefix('{').and_then(|r| r.strip_suffix('}')).is_some_and(|n| !n.is_empty() && !n.contains(['{', '}']))
}

/// Whether an inferred template fits a documented template (see the module documentation).
pub(super) fn fits(template: &Template, documented: &str) -> bool {
    let mut mine: Vec<&TemplateSegment> = template.segments.iter().collect();
    if mine.len() > 1 && matches!(mine.last(), Some(TemplateSegment::Literal(s)) if s.is_empty()) {
        mine.pop();
    }
    let theirs = text_segments(documented);
    mine.len() == theirs.len()
        && mine.iter().zip(theirs).all(|(m, t)| match m {
            TemplateSegment::Literal(l) => l == t && !whole_param(t),
            TemplateSegment::Param(name) => name != "rest" && whole_param(t),
        })
}

fn hosts_allow(hosts: &[String], service: &str) -> bool {
    hosts.is_empty() || hosts.iter().any(|h| host_matches(h, service))
}

/// 0: the method is the operation's; 1: a HEAD served by a GET (or a route for any method).
fn method_fit(request: &str, documented: Option<&str>) -> Option<u8> {
    match documented {
        Some(m) if m.eq_ignore_ascii_case(request) => Some(0),
        Some(m) if m.eq_ignore_ascii_case("GET") && request == "HEAD" => Some(1),
        None if request != "OPTIONS" => Some(1),
        _ => None,
    }
}

/// The documented operation (or operator route) `template` fits for `method` on `service`,
/// among the operations `is_new` accepts and every route `route_is_new` accepts: operations
/// under their base paths first (an exact method before HEAD-by-GET, a current spec before a
/// superseded one, then spec order), then routes, then operations without their base path
/// for specs that have one.
pub(super) fn by_template(
    specs: &SpecSet,
    service: &str,
    method: &str,
    template: &Template,
    is_new: &dyn Fn(usize, usize) -> bool,
    route_is_new: &dyn Fn(usize) -> bool,
) -> Option<Resolved> {
    let resolved = |target, without_base_path, template: &str| Resolved {
        target,
        under_superseded: None,
        without_base_path,
        template: template.to_string(),
    };
    let mut best: Option<((u8, bool), Resolved)> = None;
    for o in specs.operations() {
        let Some(bound) = specs.specs().get(o.spec) else { continue };
        let Some(fit) = method_fit(method, Some(&o.method)) else { continue };
        if !is_new(o.spec, o.operation) || !hosts_allow(&bound.binding.hosts, service) || !fits(template, &o.template) {
            continue;
        }
        let rank = (fit, bound.binding.superseded);
        if best.as_ref().is_none_or(|(r, _)| rank < *r) {
            let target = MatchTarget::Operation { spec: o.spec, operation: o.operation };
            best = Some((rank, resolved(target, false, &o.template)));
        }
    }
    if let Some((_, r)) = best {
        return Some(r);
    }
    for (i, r) in specs.routes().iter().enumerate() {
        if route_is_new(i) && method_fit(method, r.method.as_deref()).is_some() && hosts_allow(&r.hosts, service) && fits(template, &r.template) {
            return Some(resolved(MatchTarget::Route(i), false, &r.template));
        }
    }
    for (s, bound) in specs.specs().iter().enumerate() {
        if bound.base_paths.iter().any(String::is_empty) || !hosts_allow(&bound.binding.hosts, service) {
            continue;
        }
        for (k, op) in bound.spec.operations.iter().enumerate() {
            let alone = op_path(&op.path);
            if is_new(s, k) && method_fit(method, Some(&op.method)) == Some(0) && fits(template, &alone) {
                return Some(resolved(MatchTarget::Operation { spec: s, operation: k }, true, &alone));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fit_by_segment() {
        let t = Template::parse;
        assert!(fits(&t("/v1/accounts/{int}"), "/v1/accounts/{AccountId}"));
        assert!(fits(&t("/v1/accounts/{int}/"), "/v1/accounts/{AccountId}"));
        assert!(fits(&t("/v1/accounts"), "/v1/accounts/"));
        assert!(fits(&t("/"), "/"));
        assert!(!fits(&t("/v1/accounts/me"), "/v1/accounts/{AccountId}"));
        assert!(!fits(&t("/v1/accounts/{int}"), "/v1/accounts/{AccountId}.json"));
        assert!(!fits(&t("/v1/accounts/{int}"), "/v1/accounts"));
        assert!(!fits(&t("/v2/accounts/{int}"), "/v1/accounts/{AccountId}"));
        assert!(!fits(&t("/v1/{rest}"), "/v1/{path}"));
    }
}
