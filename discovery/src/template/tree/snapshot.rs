//! A templater's learnt state as plain data, so that a restarted sensor templates paths
//! exactly as it did before it stopped.
//!
//! The tree is written as a flat list of nodes (the root first, then breadth-first), each
//! edge naming its child by index: no recursion, so a deep tree cannot exhaust the stack of
//! a serialiser, and a restored tree is checked in one pass. Node indices are renumbered on
//! every snapshot; they carry no meaning beyond the snapshot.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::{LitEdge, Node, NodeId, ParamEdge, PathTemplater, ROOT};
use crate::template::classify::Signature;
use crate::template::placeholder::Placeholder;
use crate::template::{TemplateConfig, TemplateEvent, TemplaterStats, MAX_SEGMENTS_CEILING};

/// Everything a [`PathTemplater`] has learnt: its tree, generation, counters and queued
/// events. Plain data for serde (JSON, CBOR, ...). Built by [`PathTemplater::snapshot`],
/// read back by [`PathTemplater::restore`], which checks it as hostile input.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplaterSnapshot {
    /// The tree's nodes; index 0 is the root (the position of a path's first segment).
    pub nodes: Vec<NodeSnapshot>,
    /// [`PathTemplater::generation`].
    pub generation: u64,
    /// The counters ([`TemplaterStats::nodes`] is recomputed on restore).
    pub stats: TemplaterStats,
    /// Events queued and not yet polled, oldest first.
    pub events: Vec<TemplateEvent>,
}

/// One path position of the tree.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSnapshot {
    /// Literal values seen here, in ascending order of value.
    pub literals: Vec<LiteralSnapshot>,
    /// The position's parameter, if any.
    pub param: Option<ParamSnapshot>,
    /// The position became a parameter: new literal values go to it.
    pub merged: bool,
    /// Literal observations while the position was open.
    pub hits: u64,
}

/// A literal value at a position and the position after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiteralSnapshot {
    /// The segment, percent-decoded.
    pub value: String,
    /// Index of the node after it.
    pub child: usize,
    /// Observations of it.
    pub hits: u64,
    /// The position's hit count when it was first seen.
    pub first_seen: u64,
    /// It looked like an identifier.
    pub id_like: bool,
}

/// A position's parameter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamSnapshot {
    /// Placeholder name without braces (`int`, `uuid`, `param`, ...).
    pub name: String,
    /// Index of the node after it.
    pub child: usize,
    /// Shapes of its `{token}` values: length and character-class mask (bits: digit,
    /// lower-case, upper-case, separator).
    pub shapes: Vec<(usize, u8)>,
}

/// The longest literal a snapshot may hold, in bytes: far above any
/// [`TemplateConfig::max_segment_len`] in use, so only a forged snapshot hits it.
const MAX_LITERAL_BYTES: usize = 64 * 1024;

/// The largest counter a snapshot may carry (2^62): far above what a templater counts, low
/// enough that counting on never overflows.
const MAX_COUNT: u64 = 1 << 62;

fn count(v: u64, what: &str) -> Result<u64, String> {
    if v > MAX_COUNT {
        return Err(format!("path templater {what} is {v}, above the largest plausible count {MAX_COUNT}"));
    }
    Ok(v)
}

impl PathTemplater {
    /// The learnt state as plain data. Costs one pass over the live nodes.
    pub fn snapshot(&self) -> TemplaterSnapshot {
        // Breadth-first from the root: old id -> new index.
        let mut order: Vec<NodeId> = vec![ROOT];
        let mut index: BTreeMap<NodeId, usize> = BTreeMap::from([(ROOT, 0)]);
        let mut next = 0usize;
        while let Some(&id) = order.get(next) {
            next += 1;
            let Some(node) = self.nodes.get(id) else { continue };
            let children = node.literals.values().map(|e| e.child).chain(node.param.as_ref().map(|p| p.child));
            for child in children {
                if let std::collections::btree_map::Entry::Vacant(slot) = index.entry(child) {
                    slot.insert(order.len());
                    order.push(child);
                }
            }
        }
        let at = |id: NodeId| index.get(&id).copied().unwrap_or(0);
        let nodes = order
            .iter()
            .filter_map(|id| self.nodes.get(*id))
            .map(|n| NodeSnapshot {
                literals: n
                    .literals
                    .iter()
                    .map(|(v, e)| LiteralSnapshot {
                        value: v.to_string(),
                        child: at(e.child),
                        hits: e.hits,
                        first_seen: e.first_seen,
                        id_like: e.id_like,
                    })
                    .collect(),
                param: n.param.as_ref().map(|p| ParamSnapshot {
                    name: p.name.name().to_string(),
                    child: at(p.child),
                    shapes: p.shapes.iter().map(|s| s.parts()).collect(),
                }),
                merged: n.merged,
                hits: n.hits,
            })
            .collect();
        TemplaterSnapshot {
            nodes,
            generation: self.generation,
            stats: self.stats(),
            events: self.events.iter().cloned().collect(),
        }
    }

    /// A templater carrying on from `snap` under `cfg` (adjusted as [`PathTemplater::new`]
    /// says). The snapshot is checked as hostile input: it must be a tree rooted at node 0
    /// (every other node the child of exactly one edge, every index in range), hold at most
    /// `max_nodes` nodes, be no deeper than `max_segments` positions, and use only known
    /// placeholder names, distinct literals of at most 64 KiB and valid shapes. Shapes beyond
    /// `max_shapes_per_param` and events beyond `max_pending_events` are dropped and counted,
    /// as if the limits had applied when they arrived. An empty snapshot is an empty tree.
    /// Errors say what is wrong and where.
    pub fn restore(cfg: TemplateConfig, snap: TemplaterSnapshot) -> Result<PathTemplater, String> {
        let mut t = PathTemplater::new(cfg);
        if snap.nodes.is_empty() {
            return Ok(t);
        }
        let s = &snap.stats;
        for (v, what) in [
            (snap.generation, "generation"),
            (s.paths_observed, "paths_observed"),
            (s.positions_merged, "positions_merged"),
            (s.merges_at_position_limit, "merges_at_position_limit"),
            (s.literals_absorbed, "literals_absorbed"),
            (s.params_widened, "params_widened"),
            (s.paths_folded_at_node_limit, "paths_folded_at_node_limit"),
            (s.paths_truncated, "paths_truncated"),
            (s.segments_too_long, "segments_too_long"),
            (s.param_shapes_dropped, "param_shapes_dropped"),
            (s.events_dropped, "events_dropped"),
        ] {
            count(v, what)?;
        }
        let count_nodes = snap.nodes.len();
        if count_nodes > t.cfg.max_nodes {
            return Err(format!(
                "path templater holds {count_nodes} nodes, more than templates.max_nodes = {} (raise the limit to keep what was learnt)",
                t.cfg.max_nodes
            ));
        }
        // Each node's parent position depth; the root is at depth 0.
        let mut depth: Vec<Option<usize>> = vec![None; count_nodes];
        if let Some(d) = depth.get_mut(ROOT) {
            *d = Some(0);
        }
        let max_depth = t.cfg.max_segments.min(MAX_SEGMENTS_CEILING);
        let mut nodes: Vec<Node> = Vec::with_capacity(count_nodes);
        let mut queue: VecDeque<usize> = VecDeque::from([ROOT]);
        // Nodes are converted in breadth-first order from the root, then placed by index.
        let mut built: Vec<Option<Node>> = (0..count_nodes).map(|_| None).collect();
        let mut snaps: Vec<Option<NodeSnapshot>> = snap.nodes.into_iter().map(Some).collect();
        while let Some(i) = queue.pop_front() {
            let Some(ns) = snaps.get_mut(i).and_then(Option::take) else {
                return Err(format!("path templater node {i} is reached twice (not a tree)"));
            };
            let d = depth.get(i).copied().flatten().unwrap_or(0);
            let mut claim = |child: usize| -> Result<NodeId, String> {
                if child == ROOT || child >= count_nodes {
                    return Err(format!("path templater node {i} names child {child}, not a node (0 < child < {count_nodes})"));
                }
                match depth.get_mut(child) {
                    Some(slot @ None) => *slot = Some(d + 1),
                    _ => return Err(format!("path templater node {child} has two parents (not a tree)")),
                }
                if d + 1 > max_depth {
                    return Err(format!(
                        "path templater node {child} is {} positions deep, more than templates.max_segments = {max_depth}",
                        d + 1
                    ));
                }
                queue.push_back(child);
                Ok(child)
            };
            let mut literals = BTreeMap::new();
            for l in ns.literals {
                if l.value.len() > MAX_LITERAL_BYTES {
                    return Err(format!("path templater node {i}: a literal of {} bytes (at most {MAX_LITERAL_BYTES})", l.value.len()));
                }
                let child = claim(l.child)?;
                let edge = LitEdge {
                    child,
                    hits: count(l.hits, "literal hits")?,
                    first_seen: count(l.first_seen, "literal first_seen")?,
                    id_like: l.id_like,
                };
                if literals.insert(l.value.clone().into_boxed_str(), edge).is_some() {
                    return Err(format!("path templater node {i}: literal `{}` listed twice", l.value));
                }
            }
            let param = match ns.param {
                None => None,
                Some(p) => {
                    let name = Placeholder::from_name(&p.name)
                        .ok_or_else(|| format!("path templater node {i}: unknown placeholder `{}`", p.name))?;
                    let child = claim(p.child)?;
                    let mut shapes = Vec::new();
                    for (len, mask) in p.shapes {
                        let sig = Signature::from_parts(len, mask)
                            .ok_or_else(|| format!("path templater node {i}: shape mask {mask} has unknown classes"))?;
                        if shapes.contains(&sig) {
                            continue;
                        }
                        if shapes.len() < t.cfg.max_shapes_per_param {
                            shapes.push(sig);
                        } else {
                            t.stats.param_shapes_dropped = t.stats.param_shapes_dropped.saturating_add(1);
                        }
                    }
                    Some(ParamEdge { name, child, shapes })
                }
            };
            if let Some(slot) = built.get_mut(i) {
                *slot = Some(Node { literals, param, merged: ns.merged, hits: count(ns.hits, "node hits")? });
            }
        }
        for (i, n) in built.into_iter().enumerate() {
            match n {
                Some(n) => nodes.push(n),
                None => return Err(format!("path templater node {i} is not reachable from the root")),
            }
        }
        t.nodes = nodes;
        t.live = count_nodes;
        t.generation = snap.generation;
        t.stats = TemplaterStats { nodes: count_nodes, ..snap.stats };
        for event in snap.events {
            t.emit(event);
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::split_path;

    fn observe_all(t: &mut PathTemplater, paths: &[String]) -> Vec<String> {
        paths.iter().map(|p| t.observe(&split_path(p)).to_string()).collect()
    }

    #[test]
    fn a_restored_templater_continues_exactly() {
        let cfg = TemplateConfig::default();
        let first: Vec<String> = (0..300)
            .map(|i| match i % 3 {
                0 => format!("/customers/user{}x/orders", i * 7919 % 1000),
                1 => format!("/accounts/{}/balances", 10_000 + i),
                _ => format!("/static/words/{}", ["alpha", "beta", "gamma"][i % 3]),
            })
            .collect();
        let second: Vec<String> = (300..600).map(|i| format!("/customers/u{}/orders/{}", i * 31 % 977, i)).collect();
        let mut a = PathTemplater::new(cfg.clone());
        observe_all(&mut a, &first);
        let snap = a.snapshot();
        let json = serde_json::to_string(&snap).unwrap();
        let mut b = PathTemplater::restore(cfg, serde_json::from_str(&json).unwrap()).unwrap();
        assert_eq!(b.stats(), a.stats());
        assert_eq!(b.generation(), a.generation());
        assert_eq!(observe_all(&mut b, &second), observe_all(&mut a, &second));
        assert_eq!(b.stats(), a.stats());
        assert_eq!(b.snapshot(), a.snapshot());
        let mut events = (Vec::new(), Vec::new());
        while let Some(e) = a.poll_event() {
            events.0.push(e);
        }
        while let Some(e) = b.poll_event() {
            events.1.push(e);
        }
        assert!(!events.0.is_empty());
        assert_eq!(events.0, events.1);
    }

    #[test]
    fn forged_trees_are_refused() {
        let cfg = TemplateConfig::default();
        let lit = |value: &str, child| LiteralSnapshot { value: value.into(), child, hits: 1, first_seen: 1, id_like: false };
        let node = |literals| NodeSnapshot { literals, ..NodeSnapshot::default() };
        let cases = [
            (vec![node(vec![lit("a", 5)])], "not a node"),
            (vec![node(vec![lit("a", 1), lit("b", 1)]), node(vec![])], "two parents"),
            (vec![node(vec![lit("a", 1)]), node(vec![lit("b", 1)])], "two parents"),
            (vec![node(vec![lit("a", 0)])], "not a node"),
            (vec![node(vec![]), node(vec![])], "not reachable"),
            (vec![node(vec![lit("a", 1), lit("a", 2)]), node(vec![]), node(vec![])], "listed twice"),
        ];
        for (nodes, want) in cases {
            let err = PathTemplater::restore(cfg.clone(), TemplaterSnapshot { nodes, ..TemplaterSnapshot::default() }).unwrap_err();
            assert!(err.contains(want), "{err} (wanted {want})");
        }
        // A chain deeper than max_segments.
        let deep: Vec<NodeSnapshot> = (0..40).map(|i| node(if i < 39 { vec![lit("x", i + 1)] } else { vec![] })).collect();
        let err = PathTemplater::restore(cfg.clone(), TemplaterSnapshot { nodes: deep, ..TemplaterSnapshot::default() }).unwrap_err();
        assert!(err.contains("max_segments"), "{err}");
        let bad_param = vec![
            NodeSnapshot { param: Some(ParamSnapshot { name: "AccountId".into(), child: 1, shapes: vec![] }), ..NodeSnapshot::default() },
            node(vec![]),
        ];
        let err = PathTemplater::restore(cfg.clone(), TemplaterSnapshot { nodes: bad_param, ..TemplaterSnapshot::default() }).unwrap_err();
        assert!(err.contains("unknown placeholder"), "{err}");
        let small = TemplateConfig { max_nodes: 2, ..cfg };
        let three = vec![node(vec![lit("a", 1), lit("b", 2)]), node(vec![]), node(vec![])];
        let err = PathTemplater::restore(small, TemplaterSnapshot { nodes: three, ..TemplaterSnapshot::default() }).unwrap_err();
        assert!(err.contains("max_nodes"), "{err}");
    }
}
