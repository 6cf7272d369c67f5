//! The per-service prefix tree of path positions and the rules that turn a position into a
//! parameter (see the module documentation of [`super`] for the algorithm).

use std::collections::{BTreeMap, VecDeque};

use super::classify::{classify, is_id_like, Signature};
use super::placeholder::{Placeholder, ANY_NAME, REST_NAME};
use super::{
    MergeReason, SegmentKind, Template, TemplateConfig, TemplateEvent, TemplateSegment,
    TemplaterStats,
};

mod merge;
mod snapshot;

pub use snapshot::{LiteralSnapshot, NodeSnapshot, ParamSnapshot, TemplaterSnapshot};

/// Index of a node in the arena.
type NodeId = usize;

/// The root: the position of a path's first segment.
const ROOT: NodeId = 0;

/// The most segments per path a templater accepts as
/// [`TemplateConfig::max_segments`] (256): combining subtrees recurses once per level, so
/// the depth of the tree must stay far from the stack's limit.
pub const MAX_SEGMENTS_CEILING: usize = 256;

/// One path position: the values seen there after one prefix template.
#[derive(Debug, Default)]
struct Node {
    /// Literal values (unclassified segments) and the positions after them. Ordered, so that
    /// merges walk values in the same order on every run.
    literals: BTreeMap<Box<str>, LitEdge>,
    /// The position's one parameter, if any value was classified or the position merged.
    param: Option<ParamEdge>,
    /// Whether the position became a parameter: a new literal value goes to `param`.
    merged: bool,
    /// Literal observations while open: the clock of the new-values rule.
    hits: u64,
}

#[derive(Debug)]
struct LitEdge {
    child: NodeId,
    hits: u64,
    /// The position's `hits` when this value was first seen.
    first_seen: u64,
    id_like: bool,
}

#[derive(Debug)]
struct ParamEdge {
    name: Placeholder,
    child: NodeId,
    /// Shapes of the `{token}` values seen here, at most
    /// [`TemplateConfig::max_shapes_per_param`].
    shapes: Vec<Signature>,
}

impl ParamEdge {
    fn new(name: Placeholder, child: NodeId) -> Self {
        ParamEdge {
            name,
            child,
            shapes: Vec::new(),
        }
    }

    /// Whether the unclassified `seg` has the shape of this parameter's token values.
    fn fits_shape(&self, seg: &str) -> bool {
        Signature::of(seg)
            .is_some_and(|sig| sig.is_mixed() && self.shapes.iter().any(|s| sig.fits(*s)))
    }
}

/// The outcome of one step down the tree.
enum Step {
    /// The segment was templated; the path continues at this node.
    Into(NodeId),
    /// The segment needed a node beyond [`TemplateConfig::max_nodes`].
    Full,
}

/// Infers path templates for one service (one `Host`), shared by all its methods.
///
/// Promises: memory is bounded by [`TemplateConfig`] (nodes, literals per position, segments
/// per path, bytes per literal, token shapes per parameter, queued events); [`PathTemplater::refine`] maps any template it
/// returned earlier to the current one; the same sequence of paths gives the same templates,
/// events and counters on every run (no clock, no randomness, ordered maps). Limits: a
/// position's merge is never undone, and after it only the literals that stood out at that
/// moment stay literals (see the module documentation).
#[derive(Debug)]
pub struct PathTemplater {
    cfg: TemplateConfig,
    nodes: Vec<Node>,
    free: Vec<NodeId>,
    live: usize,
    generation: u64,
    stats: TemplaterStats,
    events: VecDeque<TemplateEvent>,
}

/// A path of exactly one empty segment is `/`: no segments.
fn significant<S: AsRef<str>>(segments: &[S]) -> &[S] {
    match segments {
        [only] if only.as_ref().is_empty() => &[],
        _ => segments,
    }
}

/// A segment with no node to learn in: its placeholder, `{param}` when unclassified.
fn folded(segment: &str) -> TemplateSegment {
    TemplateSegment::Param(classify(segment).map_or(ANY_NAME, |k| k.name()).to_string())
}

fn param(p: Placeholder) -> TemplateSegment {
    TemplateSegment::Param(p.name().to_string())
}

fn literal(s: &str) -> TemplateSegment {
    TemplateSegment::Literal(s.to_string())
}

fn with(prefix: &[TemplateSegment], next: TemplateSegment) -> Vec<TemplateSegment> {
    let mut p = Vec::with_capacity(prefix.len() + 1);
    p.extend_from_slice(prefix);
    p.push(next);
    p
}

impl PathTemplater {
    /// A templater with an empty tree. `max_nodes` below 1 is taken as 1 (the root) and
    /// `max_segments` above [`MAX_SEGMENTS_CEILING`] as that ceiling.
    pub fn new(cfg: TemplateConfig) -> Self {
        let cfg = TemplateConfig {
            max_nodes: cfg.max_nodes.max(1),
            max_segments: cfg.max_segments.min(MAX_SEGMENTS_CEILING),
            ..cfg
        };
        PathTemplater {
            cfg,
            nodes: vec![Node::default()],
            free: Vec::new(),
            live: 1,
            generation: 0,
            stats: TemplaterStats::default(),
            events: VecDeque::new(),
        }
    }

    /// The configuration in force (with `max_nodes` and `max_segments` adjusted as
    /// [`PathTemplater::new`] says).
    pub fn config(&self) -> &TemplateConfig {
        &self.cfg
    }

    /// Learns one concrete path and returns its template as of now.
    ///
    /// `segments` are the percent-decoded segments after the leading `/`, without the query
    /// ([`super::split_path`] makes them); `[""]` is the same as no segments. A classified
    /// segment is a parameter at once; an unclassified one stays a literal until its
    /// position merges. The template can change later (see [`PathTemplater::refine`]).
    pub fn observe<S: AsRef<str>>(&mut self, segments: &[S]) -> Template {
        self.stats.paths_observed += 1;
        let segments = significant(segments);
        let max = self.cfg.max_segments;
        let (head, truncated) = match segments.get(..max) {
            Some(head) if segments.len() > max => (head, true),
            _ => (segments, false),
        };
        let mut out = Vec::with_capacity(head.len() + usize::from(truncated));
        let mut cur = Some(ROOT);
        for seg in head {
            let seg = seg.as_ref();
            match cur {
                Some(node) => match self.step(node, seg, &mut out) {
                    Step::Into(next) => cur = Some(next),
                    Step::Full => {
                        self.stats.paths_folded_at_node_limit += 1;
                        let prefix = Template {
                            segments: out.clone(),
                        };
                        self.emit(TemplateEvent::NodeLimitReached {
                            prefix,
                            max_nodes: self.cfg.max_nodes,
                        });
                        out.push(folded(seg));
                        cur = None;
                    }
                },
                None => out.push(folded(seg)),
            }
        }
        if truncated {
            self.stats.paths_truncated += 1;
            self.emit(TemplateEvent::PathTruncated {
                segments: segments.len(),
                max_segments: max,
            });
            out.push(TemplateSegment::Param(REST_NAME.to_string()));
        }
        Template { segments: out }
    }

    /// The template of a path without learning from it: what [`PathTemplater::observe`]
    /// would return for it, except for the changes observing it would make (a merge it
    /// would trigger, a parameter name it would widen). For a path observed before, it is
    /// [`PathTemplater::refine`] of what `observe` returned then.
    pub fn template_of<S: AsRef<str>>(&self, segments: &[S]) -> Template {
        let segments = significant(segments);
        let max = self.cfg.max_segments;
        let (head, truncated) = match segments.get(..max) {
            Some(head) if segments.len() > max => (head, true),
            _ => (segments, false),
        };
        // Nodes observing the path could still allocate: beyond them, it would be folded.
        let mut budget = self.cfg.max_nodes.saturating_sub(self.live);
        let mut out = Vec::with_capacity(head.len() + usize::from(truncated));
        // `None` once the path leaves the tree: every further segment needs a new node.
        let mut cur = Some(ROOT);
        let mut folding = false;
        for seg in head {
            let seg = seg.as_ref();
            if folding {
                out.push(folded(seg));
                continue;
            }
            let placeholder = match classify(seg) {
                Some(k) => Some(Placeholder::Kind(k)),
                None if seg.len() > self.cfg.max_segment_len => Some(Placeholder::Any),
                None => None,
            };
            let node = cur.and_then(|c| self.nodes.get(c));
            let known = node.and_then(|n| match placeholder {
                Some(p) => n.param.as_ref().map(|e| (e.child, param(e.name.join(p)))),
                None => match (n.literals.get(seg), &n.param) {
                    (Some(e), _) => Some((e.child, literal(seg))),
                    (None, Some(e)) if e.fits_shape(seg) => Some((e.child, param(e.name))),
                    (None, Some(e)) if n.merged => Some((e.child, param(Placeholder::Any))),
                    _ => None,
                },
            });
            match known {
                Some((child, segment)) => {
                    out.push(segment);
                    cur = Some(child);
                }
                None if budget == 0 => {
                    folding = true;
                    out.push(folded(seg));
                }
                None => {
                    budget -= 1;
                    out.push(match placeholder {
                        Some(p) => param(p),
                        None if node.is_some_and(|n| n.merged) => param(Placeholder::Any),
                        None => literal(seg),
                    });
                    cur = None;
                }
            }
        }
        if truncated {
            out.push(TemplateSegment::Param(REST_NAME.to_string()));
        }
        Template { segments: out }
    }

    /// Maps a template returned earlier by this templater to the current one: literals whose
    /// position merged since (and were not kept) become `{param}`, rare literals found since
    /// to have the shape of their position's `{token}` values become that parameter, and
    /// parameter names become their current, possibly wider, name. Idempotent; a template
    /// this templater never returned is mapped as far as the tree knows its positions and
    /// kept as it is beyond.
    pub fn refine(&self, template: &Template) -> Template {
        let mut out = Vec::with_capacity(template.segments.len());
        let mut cur = Some(ROOT);
        for seg in &template.segments {
            let node = cur.and_then(|c| self.nodes.get(c));
            let (next, segment) = match (seg, node) {
                (_, None) => (None, seg.clone()),
                (TemplateSegment::Param(name), _) if name == REST_NAME => (None, seg.clone()),
                (TemplateSegment::Literal(s), Some(n)) => {
                    match (n.literals.get(s.as_str()), &n.param) {
                        (Some(e), _) => (Some(e.child), seg.clone()),
                        (None, Some(e)) if e.fits_shape(s) => (Some(e.child), param(e.name)),
                        (None, Some(e)) if n.merged => (Some(e.child), param(Placeholder::Any)),
                        (None, None) if n.merged => (None, param(Placeholder::Any)),
                        _ => (None, seg.clone()),
                    }
                }
                (TemplateSegment::Param(name), Some(n)) => {
                    match (&n.param, Placeholder::from_name(name)) {
                        (Some(e), Some(p)) => (Some(e.child), param(e.name.join(p))),
                        (Some(e), None) => (Some(e.child), seg.clone()),
                        (None, _) => (None, seg.clone()),
                    }
                }
            };
            out.push(segment);
            cur = next;
        }
        Template { segments: out }
    }

    /// A counter that moves whenever templates returned earlier may have changed (a position
    /// merged or a parameter name widened): keys made before it moved should go through
    /// [`PathTemplater::refine`].
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The counters, with the current node count.
    pub fn stats(&self) -> TemplaterStats {
        TemplaterStats {
            nodes: self.live,
            ..self.stats.clone()
        }
    }

    /// The oldest queued event, if any.
    pub fn poll_event(&mut self) -> Option<TemplateEvent> {
        self.events.pop_front()
    }

    fn emit(&mut self, event: TemplateEvent) {
        if self.events.len() >= self.cfg.max_pending_events {
            self.stats.events_dropped += 1;
        } else {
            self.events.push_back(event);
        }
    }

    fn alloc(&mut self) -> Option<NodeId> {
        if self.live >= self.cfg.max_nodes {
            return None;
        }
        self.live += 1;
        match self.free.pop() {
            Some(id) => Some(id),
            None => {
                self.nodes.push(Node::default());
                Some(self.nodes.len() - 1)
            }
        }
    }

    /// Takes a node's content out and returns its slot to the free list.
    fn release(&mut self, id: NodeId) -> Node {
        let node = self
            .nodes
            .get_mut(id)
            .map(std::mem::take)
            .unwrap_or_default();
        self.free.push(id);
        self.live = self.live.saturating_sub(1);
        node
    }

    /// Templates one segment at `node`, learning from it.
    fn step(&mut self, node: NodeId, seg: &str, out: &mut Vec<TemplateSegment>) -> Step {
        let placeholder = match classify(seg) {
            Some(k) => Some(Placeholder::Kind(k)),
            None if seg.len() > self.cfg.max_segment_len => {
                self.stats.segments_too_long += 1;
                let prefix = Template {
                    segments: out.clone(),
                };
                self.emit(TemplateEvent::SegmentTooLong {
                    prefix,
                    len: seg.len(),
                    max_segment_len: self.cfg.max_segment_len,
                });
                Some(Placeholder::Any)
            }
            None => None,
        };
        if let Some(p) = placeholder {
            let step = self.enter_param(node, p, out);
            if p == Placeholder::Kind(SegmentKind::Token) && matches!(step, Step::Into(_)) {
                self.record_shape(
                    node,
                    seg,
                    out.split_last().map_or(&[][..], |(_, prefix)| prefix),
                );
            }
            return step;
        }
        let Some(n) = self.nodes.get_mut(node) else {
            return Step::Full;
        };
        if let Some(e) = n.literals.get_mut(seg) {
            e.hits += 1;
            if !n.merged {
                n.hits += 1;
            }
            out.push(literal(seg));
            return Step::Into(e.child);
        }
        if let Some(e) = n.param.as_ref().filter(|e| e.fits_shape(seg)) {
            let name = e.name;
            return self.enter_param(node, name, out);
        }
        if n.merged {
            return self.enter_param(node, Placeholder::Any, out);
        }
        if n.literals.len() >= self.cfg.max_literals_per_position {
            self.merge(node, out, MergeReason::PositionLimit);
            return self.enter_param(node, Placeholder::Any, out);
        }
        let Some(child) = self.alloc() else {
            return Step::Full;
        };
        let Some(n) = self.nodes.get_mut(node) else {
            return Step::Full;
        };
        n.hits += 1;
        let edge = LitEdge {
            child,
            hits: 1,
            first_seen: n.hits,
            id_like: is_id_like(seg),
        };
        n.literals.insert(seg.into(), edge);
        if self.new_values_rule_fires(node) {
            self.merge(node, out, MergeReason::NewValues);
            let kept = self
                .nodes
                .get(node)
                .and_then(|n| n.literals.get(seg))
                .map(|e| e.child);
            return match kept {
                Some(child) => {
                    out.push(literal(seg));
                    Step::Into(child)
                }
                None => self.enter_param(node, Placeholder::Any, out),
            };
        }
        out.push(literal(seg));
        Step::Into(child)
    }

    /// Follows (or creates) `node`'s parameter, widening its name to cover `p`.
    fn enter_param(
        &mut self,
        node: NodeId,
        p: Placeholder,
        out: &mut Vec<TemplateSegment>,
    ) -> Step {
        let existing = self
            .nodes
            .get(node)
            .and_then(|n| n.param.as_ref())
            .map(|e| (e.name, e.child));
        match existing {
            Some((from, child)) => {
                let to = from.join(p);
                if to != from {
                    self.set_param_name(node, out, from, to);
                }
                out.push(param(to));
                Step::Into(child)
            }
            None => {
                let Some(child) = self.alloc() else {
                    return Step::Full;
                };
                if let Some(n) = self.nodes.get_mut(node) {
                    n.param = Some(ParamEdge::new(p, child));
                }
                out.push(param(p));
                Step::Into(child)
            }
        }
    }

    fn set_param_name(
        &mut self,
        node: NodeId,
        prefix: &[TemplateSegment],
        from: Placeholder,
        to: Placeholder,
    ) {
        if let Some(e) = self.nodes.get_mut(node).and_then(|n| n.param.as_mut()) {
            e.name = to;
        }
        self.generation += 1;
        self.stats.params_widened += 1;
        let prefix = Template {
            segments: prefix.to_vec(),
        };
        self.emit(TemplateEvent::ParamWidened {
            prefix,
            from: from.name().to_string(),
            to: to.name().to_string(),
        });
    }
}
