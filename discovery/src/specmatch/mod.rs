//! Matching requests against the operations of loaded OpenAPI specs and operator templates.
//!
//! A [`SpecSet`] is built once from specs (each with a [`SpecBinding`] saying where its
//! traffic appears) and operator [`Route`]s, then answers [`SpecSet::match_request`] for
//! every transaction: which documented operation (or route) a `host`, `method` and
//! percent-decoded `path` are, and under which template the inventory names it.
//!
//! # Rules
//!
//! - **Segments.** Paths and templates are compared segment by segment. The leading `/` is
//!   removed and one trailing `/` is ignored on both sides, so `/accounts/` matches
//!   `/accounts`; an empty segment (`/a//b`) is kept and matches only an empty literal. A
//!   path that does not start with `/` (`*`, an absolute URI) matches nothing. Literal
//!   segments compare case-sensitively, as servers route them.
//! - **Parameters.** `{name}` matches exactly one non-empty segment. Parameters embedded in
//!   a segment (`{name}.json`, `v{major}`, `{a}-{b}`) match by their literal prefix, suffix
//!   and separators, each parameter taking at least one character; where a separator occurs
//!   several times only its leftmost occurrence is tried. Two parameters with nothing
//!   between them (`{a}{b}`) are refused in a route and read as a literal in a spec.
//! - **Parameter schemas** (spec operations only; route parameters accept anything): a
//!   string `enum` accepts exactly those values (case-sensitive), an integer `enum` those
//!   numbers; `integer` accepts an optional sign and digits of any length; `number` a decimal
//!   number; `boolean` `true`/`false` in any case; `format: uuid` the canonical 8-4-4-4-12
//!   hex form; `oneOf`/`anyOf` any alternative (and anything if one alternative is open).
//!   Every other schema accepts any segment. A `{name}` with no declared path parameter of
//!   that name (exact, else ASCII case-insensitive) accepts any segment.
//! - **Methods** compare ASCII case-insensitively. A HEAD request also matches GET
//!   operations and GET routes, ranked below a documented HEAD at the same template; the match
//!   does not flag this, but the target's method (see [`SpecSet::target_method`]) is then
//!   `GET`. A route without a method matches every method except OPTIONS; OPTIONS matches
//!   only operations and routes that name it, since preflight requests belong to the
//!   gateway rather than to the API.
//! - **Hosts.** A binding's or route's `hosts` restrict it to those `Host` header values:
//!   exact names compare ASCII case-insensitively, ignoring a trailing dot, and accept any
//!   port unless the pattern gives one (then the header must carry exactly that port);
//!   `*.suffix` accepts any name with at least one character before `.suffix` (not `suffix`
//!   itself). IPv6 literals are written in brackets. An empty list accepts every host,
//!   including a request with no host.
//! - **Base paths.** An operation's full template is a base path followed by its path: the
//!   binding's `base_path` when set, else each of the spec's `servers` base paths (every
//!   one yields its own template). Base paths are normalised to a leading `/` and no trailing
//!   `/`, and `""` or `/` mean the root.
//! - **Precedence.** Among every candidate matching the path (all specs, all base paths, all
//!   routes), the winner is decided by, in order: (1) specificity: at the first segment
//!   where two templates differ, a literal beats an enumerated parameter, which beats a
//!   segment with embedded literals (more literal characters first), which beats a typed
//!   parameter (integer, number, boolean, uuid), which beats an open parameter
//!   (`/accounts/me` beats `/accounts/{id}`); (2) an exact method beats an implied one
//!   (HEAD served by GET, a method-less route); (3) the longer base path (in
//!   segments); (4) a spec not marked superseded; (5) a spec operation over a route, since
//!   the operation carries documentation the route lacks (a route still wins whenever it is
//!   more specific, which is how an operator overrides a spec); (6) the earlier spec (in the
//!   order given), operation and base path, then the earlier route.
//! - **Base-path fallback.** Only when nothing matches at all, the path is tried against
//!   every spec's operation paths alone (gateways often strip or rewrite the base path),
//!   with the same rules and host restrictions. Such a match has
//!   [`SpecMatch::without_base_path`] set, an empty `base_path`, and the operation's path as
//!   its template; the caller decides whether to keep it. Specs whose base paths include the
//!   root are not tried again. The fallback applies to specs with a bound `base_path` too.
//!
//! # Cost
//!
//! Templates are compiled into one segment trie per method (plus one for method-less
//! routes, and a second set for the fallback), so a match only walks the branches the path
//! can take and visits each trie node at most once. A path with more segments than the
//! deepest template is refused before any walk, which also bounds the only per-request
//! buffer (the segment list) by the specs rather than by the traffic. Building is linear in
//! the templates; matching allocates the segment list, a small walk stack and the returned
//! strings. With all 29 specs of the shared specs directory loaded (388 operations), a
//! release build matches a mix of documented, gateway-rewritten and unknown paths in about
//! 250 ns each, a million in about a quarter of a second on one core (the ignored timing
//! test in `tests/specmatch_real.rs` prints it).
//!
//! # Not supported
//!
//! - Server variables beyond what the loader resolves (their `default`); a binding's
//!   `base_path` is literal text, never a template.
//! - Parameter `pattern`, `minLength`/`maxLength`, `minimum`/`maximum` and string formats
//!   other than `uuid` are not enforced: matching says which operation a request is, not
//!   whether it is valid.
//! - Path parameter styles other than `simple` (`label` `.x`, `matrix` `;x=`) are matched as
//!   plain segments, and a parameter never spans several segments.
//! - Percent-decoding is the caller's: a `%2F` decoded to `/` splits a segment.

mod host;
mod index;
mod pattern;

use std::fmt;

use crate::openapi::{Operation, ParamIn, Spec};
use host::{HostPattern, RequestHost};

/// Whether a `Host` value (port included if sent) is one that `pattern` names, by the rules
/// of spec bindings: exact name (case-insensitive, trailing dot ignored) or `*.suffix`, any
/// port unless the pattern gives one. A malformed pattern names nothing.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    HostPattern::parse(pattern).is_ok_and(|p| p.matches(&RequestHost::parse(host)))
}
use index::{segment_hash, Best, Candidate, MethodFit, Trie};
use pattern::{parse_segment, parse_template, split_path, Constraint, Segment};

/// Where a spec's traffic appears, as the operator configured it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecBinding {
    /// Hosts the spec is served on; empty = any host. Exact names (case-insensitive, port
    /// ignored unless given, e.g. `api.bank.example:8443`) or `*.suffix`.
    pub hosts: Vec<String>,
    /// The base path traffic really uses; `None` = the spec's `servers` base paths.
    pub base_path: Option<String>,
    /// The environment (`production`, `sandbox`, ...), carried through for the caller.
    pub environment: Option<String>,
    /// The operator says a newer version replaces this spec (e.g. UK OB v3.1 after v4.0).
    pub superseded: bool,
}

/// An operator-pinned template, matched like a spec operation but with no schema (its
/// parameters accept any non-empty segment).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    /// The method; `None` = every method except OPTIONS.
    pub method: Option<String>,
    /// The full path template, starting with `/`, e.g. `/internal/users/{id}/export`.
    pub template: String,
    /// Hosts, as in [`SpecBinding::hosts`]; empty = any host.
    pub hosts: Vec<String>,
}

/// What a request matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchTarget {
    /// Operation `operation` (index into `Spec::operations`) of spec `spec` (index into
    /// [`SpecSet::specs`]).
    Operation {
        /// The spec's index.
        spec: usize,
        /// The operation's index within the spec.
        operation: usize,
    },
    /// The route at this index of [`SpecSet::routes`].
    Route(usize),
}

/// The answer of [`SpecSet::match_request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecMatch {
    /// What matched.
    pub target: MatchTarget,
    /// The template the inventory names the endpoint by: the base path actually matched
    /// followed by the operation's path as written (e.g.
    /// `/open-banking/v4.0/aisp/accounts/{AccountId}`); a route's template as configured;
    /// the operation's path alone for a base-path fallback.
    pub template: String,
    /// The base path that matched (`""` for the root, routes and fallbacks).
    pub base_path: String,
    /// The path matched the operation only with the base path left out (see the module's
    /// base-path fallback rule).
    pub without_base_path: bool,
}

/// One spec of the set with its binding and the base paths it is matched under.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundSpec {
    /// The spec as loaded.
    pub spec: Spec,
    /// Where its traffic appears.
    pub binding: SpecBinding,
    /// The normalised base paths its operations are matched under: the binding's, else the
    /// spec's `servers` ones (`""` for the root). Never empty.
    pub base_paths: Vec<String>,
}

/// One documented operation under one base path, for listing (orphans are the entries no
/// traffic matched). An operation appears once per base path of its spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentedOperation {
    /// Index into [`SpecSet::specs`].
    pub spec: usize,
    /// Index into that spec's `operations`.
    pub operation: usize,
    /// Upper-case method.
    pub method: String,
    /// The normalised base path.
    pub base_path: String,
    /// Base path followed by the operation's path: the template a match reports.
    pub template: String,
}

/// Why a spec set could not be built. Names the configuration entry and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpecSetError {
    /// A route's template does not parse.
    RouteTemplate {
        /// Index of the route.
        route: usize,
        /// The template as configured.
        template: String,
        /// What is wrong.
        reason: String,
    },
    /// A route names an empty method or one with spaces.
    RouteMethod {
        /// Index of the route.
        route: usize,
        /// The method as configured.
        method: String,
    },
    /// A host pattern in a binding or route is malformed.
    Host {
        /// Which entry: `spec 3 (file.yaml)` or `route 2`.
        owner: String,
        /// The pattern as configured.
        host: String,
        /// What is wrong.
        reason: &'static str,
    },
}

impl fmt::Display for SpecSetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecSetError::RouteTemplate {
                route,
                template,
                reason,
            } => write!(
                f,
                "spec matching: route {route} template `{template}`: {reason}; write a path \
                 starting with `/` whose parameters are `{{name}}`"
            ),
            SpecSetError::RouteMethod { route, method } => write!(
                f,
                "spec matching: route {route} method `{method}` is not an HTTP method; give \
                 one such as GET, or none for every method"
            ),
            SpecSetError::Host {
                owner,
                host,
                reason,
            } => write!(
                f,
                "spec matching: {owner} host `{host}`: {reason}; write `name`, `name:port` \
                 or `*.suffix`"
            ),
        }
    }
}

impl std::error::Error for SpecSetError {}

/// The compiled candidates of one kind (with base paths, or the fallback without).
#[derive(Debug, Default)]
struct Index {
    /// Upper-case method and its trie.
    by_method: Vec<(String, Trie)>,
    /// Method-less routes.
    any_method: Trie,
    /// The most segments of any template, so deeper paths are refused at once.
    max_segments: usize,
}

impl Index {
    fn insert(&mut self, method: Option<&str>, segments: &[Segment], candidate: usize) {
        self.max_segments = self.max_segments.max(segments.len());
        let trie = match method {
            None => &mut self.any_method,
            Some(m) => {
                if !self.by_method.iter().any(|(k, _)| k == m) {
                    self.by_method.push((m.to_string(), Trie::default()));
                }
                match self.by_method.iter_mut().find(|(k, _)| k == m) {
                    Some((_, t)) => t,
                    None => return,
                }
            }
        };
        trie.insert(segments, candidate);
    }

    fn trie(&self, method: &str) -> Option<&Trie> {
        self.by_method
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(method))
            .map(|(_, t)| t)
    }

    fn search(&self, method: &str, segments: &[(&str, u64)], best: &mut Best<'_>) {
        if let Some(trie) = self.trie(method) {
            trie.search(segments, MethodFit::Exact, best);
        }
        if method.eq_ignore_ascii_case("HEAD") {
            if let Some(trie) = self.trie("GET") {
                trie.search(segments, MethodFit::Implied, best);
            }
        }
        if !method.eq_ignore_ascii_case("OPTIONS") {
            self.any_method.search(segments, MethodFit::Implied, best);
        }
    }
}

/// Specs and routes compiled for matching. Immutable once built; share it freely.
#[derive(Debug)]
pub struct SpecSet {
    specs: Vec<BoundSpec>,
    routes: Vec<Route>,
    operations: Vec<DocumentedOperation>,
    candidates: Vec<Candidate>,
    host_filters: Vec<Vec<HostPattern>>,
    /// Index into `host_filters` of each spec's binding hosts.
    spec_hosts: Vec<usize>,
    primary: Index,
    fallback: Index,
}

impl SpecSet {
    /// Compiles specs (in precedence order for ties) and routes.
    ///
    /// Errors name the route whose template or method does not parse, or the binding or
    /// route whose host pattern is malformed. A spec path that does not parse as a template
    /// is not an error: its malformed segments are matched as literal text.
    pub fn new(specs: Vec<(Spec, SpecBinding)>, routes: Vec<Route>) -> Result<Self, SpecSetError> {
        let mut set = SpecSet {
            specs: Vec::with_capacity(specs.len()),
            routes: Vec::new(),
            operations: Vec::new(),
            candidates: Vec::new(),
            host_filters: Vec::new(),
            spec_hosts: Vec::new(),
            primary: Index::default(),
            fallback: Index::default(),
        };
        for (spec_index, (spec, binding)) in specs.into_iter().enumerate() {
            let owner = format!("spec {spec_index} ({})", spec.source);
            let hosts = set.add_hosts(&owner, &binding.hosts)?;
            set.spec_hosts.push(hosts);
            let base_paths = effective_base_paths(&spec, &binding);
            let fallback_needed = !base_paths.iter().any(String::is_empty);
            for (op_index, operation) in spec.operations.iter().enumerate() {
                let path = normalise_op_path(&operation.path);
                let op_segments = spec_template(operation, &path);
                let target = MatchTarget::Operation {
                    spec: spec_index,
                    operation: op_index,
                };
                for base in &base_paths {
                    let mut segments: Vec<Segment> = literal_segments(base);
                    let base_segments = segments.len();
                    segments.extend(op_segments.iter().cloned());
                    let template = join_template(base, &path);
                    set.operations.push(DocumentedOperation {
                        spec: spec_index,
                        operation: op_index,
                        method: operation.method.to_ascii_uppercase(),
                        base_path: base.clone(),
                        template: template.clone(),
                    });
                    let id = set.push_candidate(Candidate {
                        target,
                        template,
                        base_path: base.clone(),
                        base_segments,
                        hosts,
                        superseded: binding.superseded,
                        ranks: segments.iter().map(Segment::rank).collect(),
                    });
                    set.primary
                        .insert(Some(&operation.method.to_ascii_uppercase()), &segments, id);
                }
                if fallback_needed {
                    let id = set.push_candidate(Candidate {
                        target,
                        template: path.clone(),
                        base_path: String::new(),
                        base_segments: 0,
                        hosts,
                        superseded: binding.superseded,
                        ranks: op_segments.iter().map(Segment::rank).collect(),
                    });
                    set.fallback.insert(
                        Some(&operation.method.to_ascii_uppercase()),
                        &op_segments,
                        id,
                    );
                }
            }
            set.specs.push(BoundSpec {
                spec,
                binding,
                base_paths,
            });
        }
        for (route_index, route) in routes.iter().enumerate() {
            set.add_route(route_index, route)?;
        }
        set.routes = routes;
        Ok(set)
    }

    fn add_hosts(&mut self, owner: &str, hosts: &[String]) -> Result<usize, SpecSetError> {
        let patterns = hosts
            .iter()
            .map(|h| {
                HostPattern::parse(h).map_err(|reason| SpecSetError::Host {
                    owner: owner.to_string(),
                    host: h.clone(),
                    reason,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.host_filters.push(patterns);
        Ok(self.host_filters.len().saturating_sub(1))
    }

    fn push_candidate(&mut self, candidate: Candidate) -> usize {
        self.candidates.push(candidate);
        self.candidates.len().saturating_sub(1)
    }

    fn add_route(&mut self, index: usize, route: &Route) -> Result<(), SpecSetError> {
        let method = match &route.method {
            None => None,
            Some(m) if m.is_empty() || !m.bytes().all(|b| b.is_ascii_graphic()) => {
                return Err(SpecSetError::RouteMethod {
                    route: index,
                    method: m.clone(),
                });
            }
            Some(m) => Some(m.to_ascii_uppercase()),
        };
        let segments = parse_template(&route.template, &|_| Constraint::Any).map_err(|e| {
            SpecSetError::RouteTemplate {
                route: index,
                template: route.template.clone(),
                reason: if e.segment == 0 {
                    e.reason.to_string()
                } else {
                    format!("segment {}: {}", e.segment, e.reason)
                },
            }
        })?;
        let hosts = self.add_hosts(&format!("route {index}"), &route.hosts)?;
        let id = self.push_candidate(Candidate {
            target: MatchTarget::Route(index),
            template: route.template.clone(),
            base_path: String::new(),
            base_segments: 0,
            hosts,
            superseded: false,
            ranks: segments.iter().map(Segment::rank).collect(),
        });
        self.primary.insert(method.as_deref(), &segments, id);
        Ok(())
    }

    /// Which operation or route a request is, by the rules of the module documentation.
    ///
    /// `host` is the `Host` header (port included if sent), `method` the request method in
    /// any case, `path` the request path percent-decoded, without query or fragment. Never
    /// panics; returns `None` when nothing matches, also under the base-path fallback.
    pub fn match_request(&self, host: &str, method: &str, path: &str) -> Option<SpecMatch> {
        let max = self.primary.max_segments.max(self.fallback.max_segments);
        let mut segments: Vec<(&str, u64)> = Vec::with_capacity(max.min(16));
        for segment in split_path(path)? {
            if segments.len() >= max {
                return None;
            }
            segments.push((segment, segment_hash(segment)));
        }
        let host = RequestHost::parse(host);
        for (index, without_base_path) in [(&self.primary, false), (&self.fallback, true)] {
            let mut best = Best::new(&self.candidates, &self.host_filters, host);
            index.search(method, &segments, &mut best);
            if let Some(winner) = best.winner() {
                return Some(SpecMatch {
                    target: winner.target,
                    template: winner.template.clone(),
                    base_path: winner.base_path.clone(),
                    without_base_path,
                });
            }
        }
        None
    }

    /// A request under the base path of a spec the operator declared superseded, for an
    /// operation that only another spec documents (an old major version called with a newer
    /// version's operation): the path with that base path removed is matched like
    /// [`SpecSet::match_request`] does without base paths. Returns the match, named under
    /// the superseded base path, and the superseded spec's index. Call it when
    /// `match_request` found nothing.
    pub fn match_under_superseded(&self, host: &str, method: &str, path: &str) -> Option<(SpecMatch, usize)> {
        let request_host = RequestHost::parse(host);
        for (i, bound) in self.specs.iter().enumerate() {
            let hosts = self.spec_hosts.get(i).and_then(|h| self.host_filters.get(*h));
            if !bound.binding.superseded || !hosts.is_some_and(|h| host::any_matches(h, &request_host)) {
                continue;
            }
            for base in bound.base_paths.iter().filter(|b| !b.is_empty() && b.as_str() != "/") {
                let Some(rest) = path.strip_prefix(base.as_str()).filter(|r| r.starts_with('/')) else { continue };
                if let Some(m) = self.match_request(host, method, rest).filter(|m| m.without_base_path) {
                    let template = format!("{base}{}", m.template);
                    return Some((SpecMatch { template, base_path: base.clone(), without_base_path: false, ..m }, i));
                }
            }
        }
        None
    }

    /// Every spec with its binding and effective base paths, indexed as in
    /// [`MatchTarget::Operation`].
    pub fn specs(&self) -> &[BoundSpec] {
        &self.specs
    }

    /// Every documented operation under every base path it is matched with, in spec order,
    /// then operation order, then base-path order.
    pub fn operations(&self) -> &[DocumentedOperation] {
        &self.operations
    }

    /// The routes, indexed as in [`MatchTarget::Route`].
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The operation a target names, if it names one.
    pub fn operation(&self, target: MatchTarget) -> Option<&Operation> {
        match target {
            MatchTarget::Operation { spec, operation } => {
                self.specs.get(spec)?.spec.operations.get(operation)
            }
            MatchTarget::Route(_) => None,
        }
    }

    /// The method a target is documented or configured for (`None` for a method-less
    /// route). Differs from the request's method when a HEAD request was served by GET.
    pub fn target_method(&self, target: MatchTarget) -> Option<&str> {
        match target {
            MatchTarget::Operation { .. } => self.operation(target).map(|o| o.method.as_str()),
            MatchTarget::Route(i) => self.routes.get(i)?.method.as_deref(),
        }
    }
}

/// The binding's base path, else the spec's, normalised.
fn effective_base_paths(spec: &Spec, binding: &SpecBinding) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let raw: Vec<&str> = match &binding.base_path {
        Some(b) => vec![b.as_str()],
        None => spec.base_paths.iter().map(String::as_str).collect(),
    };
    for base in raw {
        let base = normalise_base_path(base);
        if !out.contains(&base) {
            out.push(base);
        }
    }
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

/// A leading `/`, no trailing `/`, `""` for the root.
fn normalise_base_path(base: &str) -> String {
    let trimmed = base.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else if trimmed.starts_with('/') {
        trimmed.to_string()
    } else {
        format!("/{trimmed}")
    }
}

/// An operation path with a leading `/` (specs nearly always have one).
fn normalise_op_path(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    }
}

/// The template reported for an operation under a base path.
fn join_template(base: &str, path: &str) -> String {
    match (base.is_empty(), path == "/") {
        (true, _) => path.to_string(),
        (false, true) => base.to_string(),
        (false, false) => format!("{base}{path}"),
    }
}

/// A base path's segments, all literal.
fn literal_segments(base: &str) -> Vec<Segment> {
    split_path(base)
        .map(|s| s.map(|t| Segment::Literal(t.to_string())).collect())
        .unwrap_or_default()
}

/// An operation path's segments with its parameters' constraints; a malformed segment is
/// kept as literal text rather than refusing a spec the loader accepted.
fn spec_template(operation: &Operation, path: &str) -> Vec<Segment> {
    let constraint = |name: &str| {
        let path_params = || {
            operation
                .parameters
                .iter()
                .filter(|p| p.location == ParamIn::Path)
        };
        path_params()
            .find(|p| p.name == name)
            .or_else(|| path_params().find(|p| p.name.eq_ignore_ascii_case(name)))
            .map_or(Constraint::Any, |p| Constraint::from_schema(&p.schema))
    };
    split_path(path)
        .map(|segments| {
            segments
                .map(|s| {
                    parse_segment(s, &constraint)
                        .unwrap_or_else(|_| Segment::Literal(s.to_string()))
                })
                .collect()
        })
        .unwrap_or_default()
}
