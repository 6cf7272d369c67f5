//! Turning positions into parameters: the new-values rule, merges, the combination of
//! absorbed subtrees, and token shapes learnt after the fact.

use std::collections::BTreeMap;

use super::{literal, param, with, LitEdge, NodeId, ParamEdge, PathTemplater};
use crate::template::classify::Signature;
use crate::template::placeholder::Placeholder;
use crate::template::{MergeReason, Template, TemplateEvent, TemplateSegment};

impl PathTemplater {
    /// Remembers the shape of a `{token}` value at `node`'s parameter.
    pub(super) fn record_shape(&mut self, node: NodeId, seg: &str, prefix: &[TemplateSegment]) {
        let Some(sig) = Signature::of(seg) else {
            return;
        };
        let max = self.cfg.max_shapes_per_param;
        let Some(e) = self.nodes.get_mut(node).and_then(|n| n.param.as_mut()) else {
            return;
        };
        if e.shapes.contains(&sig) {
            return;
        }
        if e.shapes.len() >= max {
            self.stats.param_shapes_dropped += 1;
            return;
        }
        e.shapes.push(sig);
        let (name, target) = (e.name, e.child);
        if e.shapes.len() == max {
            let prefix = Template {
                segments: prefix.to_vec(),
            };
            self.emit(TemplateEvent::ParamShapesFull {
                prefix,
                max_shapes: max,
            });
        }
        // Identifiers of this shape seen before it was known, each rarely, were values too.
        let Some(n) = self.nodes.get_mut(node) else {
            return;
        };
        if n.merged {
            return;
        }
        let rare = self.cfg.survivor_min_hits;
        let fitting: Vec<Box<str>> = n
            .literals
            .iter()
            .filter(|(v, e)| {
                e.hits < rare && Signature::of(v).is_some_and(|s| s.is_mixed() && s.fits(sig))
            })
            .map(|(v, _)| v.clone())
            .collect();
        if fitting.is_empty() {
            return;
        }
        self.generation += 1;
        self.stats.literals_absorbed += fitting.len() as u64;
        let into = with(prefix, param(name));
        for v in fitting {
            let child = self
                .nodes
                .get_mut(node)
                .and_then(|n| n.literals.remove(&v))
                .map(|e| e.child);
            if let Some(child) = child {
                self.merge_into(target, child, &into);
            }
        }
    }

    /// Whether enough values were first seen in the later half of `node`'s hits.
    pub(super) fn new_values_rule_fires(&self, node: NodeId) -> bool {
        let Some(n) = self.nodes.get(node) else {
            return false;
        };
        if n.merged {
            return false;
        }
        let (mut all, mut ids) = (0u32, 0u32);
        for e in n
            .literals
            .values()
            .filter(|e| e.first_seen.saturating_mul(2) > n.hits)
        {
            all += 1;
            ids += u32::from(e.id_like);
        }
        let min_all = self.cfg.merge_min_new_values;
        let min_ids = self.cfg.merge_min_new_id_values;
        (min_all > 0 && all >= min_all) || (min_ids > 0 && ids >= min_ids)
    }

    /// Turns the open position `node` into a parameter: literals that stand out stay, the
    /// others and their subtrees are folded into the parameter.
    pub(super) fn merge(&mut self, node: NodeId, prefix: &[TemplateSegment], reason: MergeReason) {
        let Some(n) = self.nodes.get_mut(node) else {
            return;
        };
        if n.merged {
            return;
        }
        n.merged = true;
        let literals = std::mem::take(&mut n.literals);
        let mut hits: Vec<u64> = literals.values().map(|e| e.hits).collect();
        hits.sort_unstable();
        let median = hits.get(hits.len() / 2).copied().unwrap_or(0);
        let threshold = self
            .cfg
            .survivor_min_hits
            .max(self.cfg.survivor_factor.saturating_mul(median));
        let (kept, absorbed): (BTreeMap<_, _>, BTreeMap<_, _>) = literals
            .into_iter()
            .partition(|(_, e)| !e.id_like && e.hits >= threshold);
        let kept_count = kept.len();
        n.literals = kept;
        self.generation += 1;
        self.stats.positions_merged += 1;
        if reason == MergeReason::PositionLimit {
            self.stats.merges_at_position_limit += 1;
        }
        self.stats.literals_absorbed += absorbed.len() as u64;
        let event_prefix = Template {
            segments: prefix.to_vec(),
        };
        self.emit(TemplateEvent::PositionMerged {
            prefix: event_prefix,
            reason,
            absorbed: absorbed.len(),
            kept: kept_count,
        });
        for (_, e) in absorbed {
            self.absorb_into_param(node, prefix, e.child);
        }
    }

    /// Makes the subtree at `child` part of `node`'s parameter.
    pub(super) fn absorb_into_param(
        &mut self,
        node: NodeId,
        prefix: &[TemplateSegment],
        child: NodeId,
    ) {
        let existing = self
            .nodes
            .get(node)
            .and_then(|n| n.param.as_ref())
            .map(|e| (e.name, e.child));
        match existing {
            None => {
                if let Some(n) = self.nodes.get_mut(node) {
                    n.param = Some(ParamEdge::new(Placeholder::Any, child));
                }
            }
            Some((from, target)) => {
                let to = from.join(Placeholder::Any);
                if to != from {
                    self.set_param_name(node, prefix, from, to);
                }
                self.merge_into(target, child, &with(prefix, param(to)));
            }
        }
    }

    /// Moves everything under `source` into `target` (whose path is `prefix`) and frees
    /// `source`'s nodes. Never allocates.
    pub(super) fn merge_into(
        &mut self,
        target: NodeId,
        source: NodeId,
        prefix: &[TemplateSegment],
    ) {
        let src = self.release(source);
        let Some(t) = self.nodes.get_mut(target) else {
            return;
        };
        t.hits = t.hits.saturating_add(src.hits);
        for (value, e) in src.literals {
            let Some(t) = self.nodes.get_mut(target) else {
                return;
            };
            if let Some(te) = t.literals.get_mut(&value) {
                te.hits = te.hits.saturating_add(e.hits);
                let into = te.child;
                self.merge_into(into, e.child, &with(prefix, literal(&value)));
            } else if t.merged {
                self.stats.literals_absorbed += 1;
                self.absorb_into_param(target, prefix, e.child);
            } else {
                // Arriving now, the value counts as new for the new-values rule.
                let first_seen = t.hits;
                t.literals.insert(value, LitEdge { first_seen, ..e });
            }
        }
        if let Some(sp) = src.param {
            let existing = self
                .nodes
                .get(target)
                .and_then(|n| n.param.as_ref())
                .map(|e| (e.name, e.child));
            match existing {
                None => {
                    if let Some(t) = self.nodes.get_mut(target) {
                        t.param = Some(sp);
                    }
                }
                Some((from, into)) => {
                    let to = from.join(sp.name);
                    if to != from {
                        self.set_param_name(target, prefix, from, to);
                    }
                    let max = self.cfg.max_shapes_per_param;
                    if let Some(tp) = self.nodes.get_mut(target).and_then(|n| n.param.as_mut()) {
                        for sig in sp.shapes {
                            if tp.shapes.contains(&sig) {
                                continue;
                            }
                            if tp.shapes.len() < max {
                                tp.shapes.push(sig);
                            } else {
                                self.stats.param_shapes_dropped += 1;
                            }
                        }
                    }
                    self.merge_into(into, sp.child, &with(prefix, param(to)));
                }
            }
        }
        let Some(t) = self.nodes.get(target) else {
            return;
        };
        if t.merged {
            return;
        }
        if src.merged {
            self.merge(target, prefix, MergeReason::Combined);
        } else if t.literals.len() > self.cfg.max_literals_per_position {
            self.merge(target, prefix, MergeReason::PositionLimit);
        } else if self.new_values_rule_fires(target) {
            self.merge(target, prefix, MergeReason::NewValues);
        }
    }
}
