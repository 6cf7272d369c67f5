//! Taking the inventory apart into a [`InventorySnapshot`] and putting it back together,
//! against the specs in force at restore time (see docs/inventory.md, "Persistence").

use std::collections::HashSet;

use serde::Serialize;

use super::resolve::{self, Resolved};
use super::scope::Category;
use super::service::{Documented, Inferred, NotFound, Service, MAX_SERVERS_PER_SERVICE};
use super::snapshot::{
    self, count, text, DocumentedSnapshot, EndpointSnapshot, InferredSnapshot, InventorySnapshot, OtherSnapshot, ServiceSnapshot,
    SpecUseSnapshot, StatBounds, TargetSnapshot, SNAPSHOT_FORMAT,
};
use super::stats::{EndpointStats, MergeLimits};
use super::traffic::Traffic;
use super::{normalize_method, Inventory, InventoryConfig, SpecUse};
use crate::specmatch::{MatchTarget, SpecSet};
use crate::template::{PathTemplater, Template};

/// The most operations a snapshot may list over all its specs (a forged snapshot cannot make
/// restore build an unbounded set): ten times [`crate::openapi::MAX_OPERATIONS`].
pub const MAX_SNAPSHOT_OPERATIONS: usize = 10 * crate::openapi::MAX_OPERATIONS;

/// What [`Inventory::restore`] did with the snapshot's endpoints.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RestoreReport {
    /// Services restored.
    pub services: usize,
    /// Documented endpoints that are documented again (their operation or route still
    /// exists, possibly in a spec now loaded at another position or from another file).
    pub documented_kept: usize,
    /// Inferred endpoints that stay inferred.
    pub inferred_kept: usize,
    /// Documented endpoints whose operation is gone: now inferred (shadow), statistics kept.
    pub moved_to_shadow: usize,
    /// Inferred endpoints whose template now fits an operation (or route) added since the
    /// snapshot: now documented, statistics kept.
    pub now_documented: usize,
    /// Endpoints whose statistics were merged into another's (an endpoint now documented
    /// under an operation that already had statistics, or two that now share a name).
    pub merged: usize,
    /// API endpoints dropped because the configuration's bounds are lower than the
    /// snapshot's content (`max_endpoints_per_service`, `max_endpoints_total`); the fewest
    /// hits go first.
    pub dropped_for_limits: usize,
    /// Non-API endpoints dropped for `max_other_endpoints_per_service`.
    pub other_dropped: usize,
    /// Values (content types, query names, JSON fields, TLS values, server addresses) cut for
    /// the per-endpoint bounds and counted as dropped.
    pub values_cut: u64,
}

fn target_snapshot(specs: &SpecSet, target: MatchTarget) -> Option<TargetSnapshot> {
    match target {
        MatchTarget::Operation { spec, operation } => {
            let op = specs.specs().get(spec)?.spec.operations.get(operation)?;
            Some(TargetSnapshot::Operation { spec: resolve::spec_id(specs, spec)?, method: op.method.clone(), path: op.path.clone() })
        }
        MatchTarget::Route(i) => {
            let r = specs.routes().get(i)?;
            Some(TargetSnapshot::Route(snapshot::RouteId { method: r.method.clone(), template: r.template.clone(), hosts: r.hosts.clone() }))
        }
    }
}

fn service_snapshot(specs: &SpecSet, name: &str, svc: &Service) -> ServiceSnapshot {
    let mut documented: Vec<DocumentedSnapshot> = svc
        .documented
        .iter()
        .filter_map(|((method, template), d)| {
            Some(DocumentedSnapshot {
                method: method.clone(),
                template: template.clone(),
                target: target_snapshot(specs, d.target)?,
                under_superseded: d.under_superseded.and_then(|i| resolve::spec_id(specs, i)),
                without_base_path: d.without_base_path,
                stats: d.stats.snapshot(),
            })
        })
        .collect();
    documented.sort_by(|a, b| (&a.template, &a.method).cmp(&(&b.template, &b.method)));
    let mut inferred: Vec<InferredSnapshot> = svc
        .inferred
        .iter()
        .map(|((method, _), i)| InferredSnapshot { method: method.clone(), template: i.template.clone(), stats: i.stats.snapshot() })
        .collect();
    inferred.sort_by(|a, b| (&a.template, &a.method).cmp(&(&b.template, &b.method)));
    let mut other: Vec<OtherSnapshot> = svc
        .other
        .iter()
        .map(|((method, path, category), st)| OtherSnapshot {
            method: method.clone(),
            path: path.clone(),
            category: category.name().to_string(),
            stats: st.snapshot(),
        })
        .collect();
    other.sort_by(|a, b| (&a.path, &a.method, &a.category).cmp(&(&b.path, &b.method, &b.category)));
    ServiceSnapshot {
        name: name.to_string(),
        requests: svc.requests,
        decrypted_requests: svc.decrypted_requests,
        first_seen: svc.first_seen,
        last_seen: svc.last_seen,
        servers: svc.servers.clone(),
        templater: svc.templater.snapshot(),
        generation: svc.generation,
        documented,
        inferred,
        other,
        other_requests: svc.other_requests.iter().map(|(c, n)| (c.name().to_string(), *n)).collect(),
        overflow_requests: svc.overflow_requests,
        overflow_paths: svc.overflow_paths,
        not_found: svc.not_found.snapshot(),
        deep_paths: svc.deep_paths,
        tls: svc.tls.clone(),
        traffic: svc.traffic.buckets().copied().collect(),
        graphql: super::graphql_persist::snapshot(&svc.graphql),
    }
}

/// Whether an operation or route of the new specs was loaded when the snapshot was taken.
struct Known {
    /// Per new spec, the operations (lower-case method, path) its snapshot counterpart had;
    /// `None` when the spec is new.
    ops: Vec<Option<HashSet<(String, String)>>>,
    routes: Vec<bool>,
}

impl Known {
    fn new(specs: &SpecSet, snap: &InventorySnapshot) -> Known {
        let ops = (0..specs.specs().len())
            .map(|s| {
                let id = resolve::spec_id(specs, s)?;
                // The snapshot spec this one continues: same file, else same title and version.
                let old = snap
                    .specs
                    .iter()
                    .find(|o| o.id == id)
                    .or_else(|| snap.specs.iter().find(|o| o.id.file == id.file))
                    .or_else(|| snap.specs.iter().find(|o| o.id.title == id.title && o.id.version == id.version))?;
                Some(old.operations.iter().map(|(m, p)| (m.to_ascii_lowercase(), p.clone())).collect())
            })
            .collect();
        let routes = specs
            .routes()
            .iter()
            .map(|r| snap.routes.iter().any(|o| o.method == r.method && o.template == r.template && o.hosts == r.hosts))
            .collect();
        Known { ops, routes }
    }

    fn op_is_new(&self, specs: &SpecSet, s: usize, k: usize) -> bool {
        let Some(op) = specs.specs().get(s).and_then(|b| b.spec.operations.get(k)) else { return false };
        match self.ops.get(s) {
            Some(Some(old)) => !old.contains(&(op.method.to_ascii_lowercase(), op.path.clone())),
            _ => true,
        }
    }
}

/// Adds statistics to a service's documented endpoint; says whether they were merged.
fn put_documented(svc: &mut Service, method: String, r: Resolved, stats: EndpointStats, limits: &MergeLimits) -> bool {
    let key = (method, r.template);
    match svc.documented.get_mut(&key) {
        Some(d) => {
            d.stats.merge(&stats, limits);
            true
        }
        None => {
            let d = Documented { target: r.target, under_superseded: r.under_superseded, without_base_path: r.without_base_path, stats };
            svc.documented.insert(key, d);
            false
        }
    }
}

/// Adds statistics to a service's inferred endpoint; says whether they were merged.
fn put_inferred(svc: &mut Service, method: String, template: Template, stats: EndpointStats, limits: &MergeLimits) -> bool {
    let key = (method, template.to_string());
    match svc.inferred.get_mut(&key) {
        Some(i) => {
            i.stats.merge(&stats, limits);
            true
        }
        None => {
            svc.inferred.insert(key, Inferred { template, stats });
            false
        }
    }
}

fn method(m: &str) -> Result<String, String> {
    match normalize_method(m) {
        Some(n) if n == m => Ok(n),
        _ if m == "OTHER" => Ok(m.to_string()),
        _ => Err(format!("method `{}` is not an upper-case method token", m.chars().take(32).collect::<String>())),
    }
}

impl Inventory {
    /// Everything the inventory holds, as plain data for the daemon's store (see
    /// [`InventorySnapshot`]). Services and endpoints are listed in name order, so the same
    /// state gives the same snapshot. Costs a copy of the inventory (up to the bounds' worst
    /// case, about 16 KiB per endpoint).
    pub fn snapshot(&self) -> InventorySnapshot {
        let mut names: Vec<&String> = self.services.keys().collect();
        names.sort();
        let services =
            names.into_iter().filter_map(|n| self.services.get(n).map(|svc| service_snapshot(&self.specs, n, svc))).collect();
        let mut spec_use: Vec<SpecUseSnapshot> = self
            .spec_use
            .iter()
            .filter_map(|(i, u)| Some(SpecUseSnapshot { spec: resolve::spec_id(&self.specs, *i)?, uses: *u }))
            .collect();
        spec_use.sort_by(|a, b| a.spec.cmp(&b.spec));
        let (specs, routes) = resolve::loaded(&self.specs);
        InventorySnapshot { format: SNAPSHOT_FORMAT, counters: self.stats.clone(), specs, routes, spec_use, services }
    }

    /// An inventory that carries on from `snap` under `cfg`, matching against `specs` (which
    /// may differ from the specs of the snapshot: a reload).
    ///
    /// Documented endpoints are found again by their operation's identity (see
    /// [`InventorySnapshot`]): still there, they are documented under the new specs; gone,
    /// they become inferred (shadow) endpoints with their statistics, unless their template is
    /// documented by another operation. Inferred endpoints whose template now fits an
    /// operation or route added since the snapshot (a `{param}` facing a path parameter,
    /// fixed segments equal) become documented, merged with that operation's statistics if it
    /// has some. [`RestoreReport`] counts each case.
    ///
    /// The snapshot is hostile input: it is checked whole and never panics. It is refused,
    /// with a message saying what is wrong, when its `format` is not [`SNAPSHOT_FORMAT`], it
    /// holds more services than `max_services`, a service's templater does not fit
    /// `templates` limits, or anything is malformed (an unknown name, a histogram value out
    /// of range, a sketch of the wrong size, a counter above
    /// [`snapshot::MAX_SNAPSHOT_COUNT`], a text above [`snapshot::MAX_SNAPSHOT_TEXT`]
    /// bytes). Endpoints beyond `max_endpoints_per_service` or `max_endpoints_total` (a lower
    /// configuration than when it was written) are dropped, fewest hits first, and values
    /// beyond per-endpoint bounds are cut and counted as dropped.
    pub fn restore(cfg: InventoryConfig, specs: SpecSet, snap: InventorySnapshot) -> Result<(Inventory, RestoreReport), String> {
        let fail = |e: String| format!("inventory snapshot: {e}");
        if snap.format != SNAPSHOT_FORMAT {
            return Err(fail(format!(
                "format {} is not the format {SNAPSHOT_FORMAT} this release reads (written by another release: restore with it, or start with an empty inventory)",
                snap.format
            )));
        }
        if snap.services.len() > cfg.max_services {
            return Err(fail(format!(
                "{} services, more than max_services = {} (raise max_services to keep them, or start with an empty inventory)",
                snap.services.len(),
                cfg.max_services
            )));
        }
        let listed: usize = snap.specs.iter().map(|s| s.operations.len()).sum::<usize>() + snap.routes.len();
        if listed > MAX_SNAPSHOT_OPERATIONS {
            return Err(fail(format!("{listed} operations and routes listed, more than {MAX_SNAPSHOT_OPERATIONS}")));
        }
        let known = Known::new(&specs, &snap);
        let mut inv = Inventory::new(cfg, specs);
        let mut report = RestoreReport::default();
        let c = &snap.counters;
        for (v, what) in [
            (c.transactions, "counters.transactions"),
            (c.without_request, "counters.without_request"),
            (c.out_of_scope, "counters.out_of_scope"),
            (c.services_overflow, "counters.services_overflow"),
            (c.tls_sessions, "counters.tls_sessions"),
            (c.odd_methods, "counters.odd_methods"),
            (c.bodies_analysed, "counters.bodies_analysed"),
            (c.bodies_sampled_out, "counters.bodies_sampled_out"),
        ] {
            count(v, what).map_err(fail)?;
        }
        inv.stats = snap.counters.clone();
        for u in &snap.spec_use {
            count(u.uses.with_base_path, "spec_use").map_err(fail)?;
            count(u.uses.without_base_path, "spec_use").map_err(fail)?;
            if let Some(i) = resolve::find_spec(&inv.specs, &u.spec) {
                let e: &mut SpecUse = inv.spec_use.entry(i).or_default();
                e.with_base_path = e.with_base_path.saturating_add(u.uses.with_base_path);
                e.without_base_path = e.without_base_path.saturating_add(u.uses.without_base_path);
            }
        }
        for s in snap.services {
            let name = s.name.clone();
            if inv.services.contains_key(&name) {
                return Err(fail(format!("service `{}` listed twice", name.chars().take(256).collect::<String>())));
            }
            text(&name, "a service name").map_err(fail)?;
            let svc = inv.restore_service(s, &known, &mut report).map_err(|e| fail(format!("service `{name}`: {e}")))?;
            inv.services.insert(name, svc);
            report.services += 1;
        }
        inv.enforce_endpoint_bounds(&mut report);
        Ok((inv, report))
    }

    fn stat_bounds(&self) -> StatBounds {
        StatBounds {
            content_types: self.cfg.max_content_types,
            query_params: self.cfg.max_query_params,
            param_name_len: self.cfg.max_param_name_len,
            shape_fields: self.cfg.max_shape_fields,
        }
    }

    fn restore_service(&self, s: ServiceSnapshot, known: &Known, report: &mut RestoreReport) -> Result<Service, String> {
        let cfg = &self.cfg;
        let bounds = self.stat_bounds();
        let limits = self.merge_limits();
        let stats = |e: EndpointSnapshot, report: &mut RestoreReport, what: &str| {
            EndpointStats::restore(e, bounds).map(|(st, cut)| {
                report.values_cut += cut;
                st
            })
            .map_err(|err| format!("{what}: {err}"))
        };
        let mut svc = Service::new(s.first_seen, cfg.templates.clone());
        svc.requests = count(s.requests, "requests")?;
        svc.first_seen = s.first_seen;
        svc.last_seen = s.last_seen;
        for a in s.servers {
            if svc.servers.len() < MAX_SERVERS_PER_SERVICE {
                svc.add_server(a);
            } else {
                report.values_cut += 1;
            }
        }
        svc.templater = PathTemplater::restore(cfg.templates.clone(), s.templater)?;
        svc.generation = s.generation;
        for d in s.documented {
            let m = method(&d.method)?;
            text(&d.template, "a documented template")?;
            let what = format!("documented {m} {}", d.template);
            let st = stats(d.stats, report, &what)?;
            let found = resolve::by_identity(&self.specs, &d.target, d.under_superseded.as_ref(), d.without_base_path, &d.template)
                .or_else(|| resolve::by_template(&self.specs, &s.name, &m, &Template::parse(&d.template), &|_, _| true, &|_| true));
            let merged = match found {
                Some(r) => {
                    report.documented_kept += 1;
                    put_documented(&mut svc, m, r, st, &limits)
                }
                None => {
                    report.moved_to_shadow += 1;
                    put_inferred(&mut svc, m, Template::parse(&d.template), st, &limits)
                }
            };
            report.merged += usize::from(merged);
        }
        for i in s.inferred {
            let m = method(&i.method)?;
            let shown = i.template.to_string();
            text(&shown, "an inferred template")?;
            let st = stats(i.stats, report, &format!("inferred {m} {shown}"))?;
            let is_new = |sp: usize, op: usize| known.op_is_new(&self.specs, sp, op);
            let route_is_new = |r: usize| !known.routes.get(r).copied().unwrap_or(false);
            let merged = match resolve::by_template(&self.specs, &s.name, &m, &i.template, &is_new, &route_is_new) {
                Some(r) => {
                    report.now_documented += 1;
                    put_documented(&mut svc, m, r, st, &limits)
                }
                None => {
                    report.inferred_kept += 1;
                    put_inferred(&mut svc, m, i.template, st, &limits)
                }
            };
            report.merged += usize::from(merged);
        }
        for o in s.other {
            let m = method(&o.method)?;
            text(&o.path, "a path")?;
            let category = Category::from_name(&o.category).ok_or_else(|| format!("unknown category `{}`", o.category))?;
            let st = stats(o.stats, report, &format!("{} {m} {}", o.category, o.path))?;
            let key = (m, o.path, category);
            if svc.other.contains_key(&key) || svc.other.len() < cfg.max_other_endpoints_per_service {
                svc.other.entry(key).or_insert_with(|| EndpointStats::new(st.first_seen)).merge(&st, &limits);
            } else {
                report.other_dropped += 1;
            }
        }
        for (name, n) in s.other_requests {
            let category = Category::from_name(&name).ok_or_else(|| format!("unknown category `{name}`"))?;
            svc.other_requests.insert(category, count(n, "other_requests")?);
        }
        svc.overflow_requests = count(s.overflow_requests, "overflow_requests")?;
        svc.decrypted_requests = count(s.decrypted_requests, "decrypted_requests")?;
        if svc.decrypted_requests > svc.requests {
            return Err(format!("decrypted_requests: {}, more than the service's {} requests", svc.decrypted_requests, svc.requests));
        }
        svc.overflow_paths = count(s.overflow_paths, "overflow_paths")?;
        svc.not_found = NotFound::restore(s.not_found, cfg.max_not_found_paths)?;
        svc.deep_paths = count(s.deep_paths, "deep_paths")?;
        svc.tls = match s.tls {
            Some(t) => {
                let (facts, cut) = snapshot::tls(t, cfg.max_tls_values)?;
                report.values_cut += cut;
                Some(facts)
            }
            None => None,
        };
        svc.traffic = Traffic::from_buckets(s.traffic, cfg.traffic_hours)?;
        svc.graphql = super::graphql_persist::restore(s.graphql, super::MAX_GRAPHQL_PATHS_PER_SERVICE, cfg.max_graphql_operations, report)?;
        Ok(svc)
    }

    /// Drops endpoints beyond `max_endpoints_per_service` (inferred) and
    /// `max_endpoints_total` (all), fewest hits first, and sets the endpoint total.
    fn enforce_endpoint_bounds(&mut self, report: &mut RestoreReport) {
        let per_service = self.cfg.max_endpoints_per_service;
        for svc in self.services.values_mut() {
            if svc.inferred.len() > per_service {
                let mut keys: Vec<(u64, (String, String))> = svc.inferred.iter().map(|(k, i)| (i.stats.hits, k.clone())).collect();
                keys.sort();
                let excess = svc.inferred.len() - per_service;
                for (_, k) in keys.into_iter().take(excess) {
                    svc.inferred.remove(&k);
                    report.dropped_for_limits += 1;
                }
            }
        }
        let total: usize = self.services.values().map(|s| s.documented.len() + s.inferred.len()).sum();
        if total > self.cfg.max_endpoints_total {
            // (hits, service, documented?, key)
            let mut all: Vec<(u64, String, bool, (String, String))> = Vec::with_capacity(total);
            for (name, svc) in &self.services {
                all.extend(svc.documented.iter().map(|(k, d)| (d.stats.hits, name.clone(), true, k.clone())));
                all.extend(svc.inferred.iter().map(|(k, i)| (i.stats.hits, name.clone(), false, k.clone())));
            }
            all.sort();
            for (_, name, documented, key) in all.into_iter().take(total - self.cfg.max_endpoints_total) {
                if let Some(svc) = self.services.get_mut(&name) {
                    if documented {
                        svc.documented.remove(&key);
                    } else {
                        svc.inferred.remove(&key);
                    }
                    report.dropped_for_limits += 1;
                }
            }
        }
        self.endpoints_total = self.services.values().map(|s| s.documented.len() + s.inferred.len()).sum();
        // GraphQL operations past the total bound: the fewest hits go first.
        let mut ops: Vec<(u64, String, String, (crate::graphql::OperationType, String))> = Vec::new();
        for (name, svc) in &self.services {
            for (path, ep) in &svc.graphql {
                ops.extend(ep.operations.iter().map(|(k, st)| (st.hits, name.clone(), path.clone(), k.clone())));
            }
        }
        if ops.len() > self.cfg.max_graphql_operations_total {
            ops.sort();
            let excess = ops.len() - self.cfg.max_graphql_operations_total;
            for (_, name, path, key) in ops.drain(..excess) {
                if let Some(ep) = self.services.get_mut(&name).and_then(|s| s.graphql.get_mut(&path)) {
                    ep.operations.remove(&key);
                    report.dropped_for_limits += 1;
                }
            }
        }
        self.graphql_total = ops.len();
    }
}
