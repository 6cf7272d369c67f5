//! The compiled form of a spec set: one segment trie per method, so a match walks only the
//! branches a path can take instead of scanning every operation.

use std::cmp::Ordering;

use super::host::{any_matches, HostPattern, RequestHost};
use super::pattern::{Segment, SegmentPattern};
use super::MatchTarget;

/// One thing a request can match: a spec operation under one base path, or a route.
#[derive(Debug)]
pub(crate) struct Candidate {
    pub(crate) target: MatchTarget,
    /// The template reported for a match.
    pub(crate) template: String,
    /// The base path matched (`""` for routes and the base-path fallback).
    pub(crate) base_path: String,
    /// Segments in the base path, for the longer-base-path rule.
    pub(crate) base_segments: usize,
    /// Index into the set's host filters.
    pub(crate) hosts: usize,
    /// From the binding (always false for routes).
    pub(crate) superseded: bool,
    /// Specificity of each segment of the full template (see [`Segment::rank`]).
    pub(crate) ranks: Box<[u32]>,
}

/// How well a candidate's method fits the request's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum MethodFit {
    /// Served by a method-less route, or a HEAD request by a GET operation.
    Implied,
    /// The same method.
    Exact,
}

/// A trie over template segments. Node 0 is the root.
#[derive(Debug)]
pub(crate) struct Trie {
    nodes: Vec<Node>,
}

#[derive(Debug, Default)]
struct Node {
    /// Literal children with the hash of their text, sorted by hash: a lookup compares
    /// integers and then at most the texts sharing a hash.
    literals: Vec<(u64, Box<str>, usize)>,
    /// Parameter children; equal patterns share a node whatever their parameter names.
    patterns: Vec<(SegmentPattern, usize)>,
    /// Candidates whose template ends here.
    terminals: Vec<usize>,
}

impl Default for Trie {
    fn default() -> Self {
        Trie {
            nodes: vec![Node::default()],
        }
    }
}

impl Trie {
    /// Adds a candidate under its full template.
    pub(crate) fn insert(&mut self, segments: &[Segment], candidate: usize) {
        let mut at = 0;
        for segment in segments {
            at = self.child(at, segment);
        }
        if let Some(node) = self.nodes.get_mut(at) {
            node.terminals.push(candidate);
        }
    }

    fn child(&mut self, parent: usize, segment: &Segment) -> usize {
        let fresh = self.nodes.len();
        let Some(node) = self.nodes.get_mut(parent) else {
            return parent;
        };
        match segment {
            Segment::Literal(text) => {
                let hash = segment_hash(text);
                if let Some(child) = find_literal(&node.literals, hash, text) {
                    return child;
                }
                let at = node.literals.partition_point(|(h, _, _)| *h <= hash);
                node.literals
                    .insert(at, (hash, text.as_str().into(), fresh));
            }
            Segment::Pattern(pattern) => {
                if let Some((_, c)) = node.patterns.iter().find(|(p, _)| p == pattern) {
                    return *c;
                }
                node.patterns.push((pattern.clone(), fresh));
            }
        }
        self.nodes.push(Node::default());
        fresh
    }

    /// Offers every candidate whose template matches `segments` to `best`. Each node is
    /// visited at most once per call (it has one parent), so the work is bounded by the size
    /// of the trie whatever the path.
    /// `segments` carry their [`segment_hash`].
    pub(crate) fn search(&self, segments: &[(&str, u64)], fit: MethodFit, best: &mut Best<'_>) {
        let mut stack = Vec::with_capacity(8);
        stack.push((0usize, 0usize));
        while let Some((at, depth)) = stack.pop() {
            let Some(node) = self.nodes.get(at) else {
                continue;
            };
            let Some(&(segment, hash)) = segments.get(depth) else {
                for &candidate in &node.terminals {
                    best.offer(candidate, fit);
                }
                continue;
            };
            let next = depth.saturating_add(1);
            if let Some(child) = find_literal(&node.literals, hash, segment) {
                stack.push((child, next));
            }
            for (pattern, child) in &node.patterns {
                if pattern.matches(segment) {
                    stack.push((*child, next));
                }
            }
        }
    }
}

/// FNV-1a over the segment's bytes: cheap for the short texts of path segments. Only
/// literals from specs and routes are keyed by it, so crafted collisions in traffic cost a
/// request nothing more than a few string comparisons.
pub(crate) fn segment_hash(segment: &str) -> u64 {
    segment.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The child for literal `text` with hash `hash`, if any.
fn find_literal(literals: &[(u64, Box<str>, usize)], hash: u64, text: &str) -> Option<usize> {
    let start = literals.partition_point(|(h, _, _)| *h < hash);
    literals
        .get(start..)?
        .iter()
        .take_while(|(h, _, _)| *h == hash)
        .find(|(_, t, _)| **t == *text)
        .map(|(_, _, child)| *child)
}

/// The best candidate seen so far during one match.
pub(crate) struct Best<'a> {
    candidates: &'a [Candidate],
    host_filters: &'a [Vec<HostPattern>],
    host: RequestHost<'a>,
    best: Option<(usize, MethodFit)>,
}

impl<'a> Best<'a> {
    pub(crate) fn new(
        candidates: &'a [Candidate],
        host_filters: &'a [Vec<HostPattern>],
        host: RequestHost<'a>,
    ) -> Best<'a> {
        Best {
            candidates,
            host_filters,
            host,
            best: None,
        }
    }

    /// The winner, if any candidate was accepted.
    pub(crate) fn winner(&self) -> Option<&'a Candidate> {
        self.best.and_then(|(i, _)| self.candidates.get(i))
    }

    fn offer(&mut self, index: usize, fit: MethodFit) {
        let Some(candidate) = self.candidates.get(index) else {
            return;
        };
        let hosts = self
            .host_filters
            .get(candidate.hosts)
            .map_or(&[][..], Vec::as_slice);
        if !any_matches(hosts, &self.host) {
            return;
        }
        let better = match self.best {
            None => true,
            Some((current, current_fit)) => self.candidates.get(current).is_none_or(|c| {
                precedence((candidate, index, fit), (c, current, current_fit)) == Ordering::Greater
            }),
        };
        if better {
            self.best = Some((index, fit));
        }
    }
}

/// Which of two candidates matching the same path wins (`Greater` = the first). The order
/// of the rules is documented on the module.
fn precedence(a: (&Candidate, usize, MethodFit), b: (&Candidate, usize, MethodFit)) -> Ordering {
    let (ca, ia, fa) = a;
    let (cb, ib, fb) = b;
    let is_operation = |c: &Candidate| matches!(c.target, MatchTarget::Operation { .. });
    ca.ranks
        .cmp(&cb.ranks)
        .then(fa.cmp(&fb))
        .then(ca.base_segments.cmp(&cb.base_segments))
        .then(cb.superseded.cmp(&ca.superseded))
        .then(is_operation(ca).cmp(&is_operation(cb)))
        // Earlier candidates (earlier specs, then routes in order) win.
        .then(ib.cmp(&ia))
}

#[cfg(test)]
mod tests {
    use super::super::pattern::{parse_template, Constraint};
    use super::*;

    fn candidate(template: &str, target: MatchTarget) -> (Vec<Segment>, Candidate) {
        let segments = parse_template(template, &|_| Constraint::Any).unwrap();
        let ranks = segments.iter().map(Segment::rank).collect();
        (
            segments,
            Candidate {
                target,
                template: template.to_string(),
                base_path: String::new(),
                base_segments: 0,
                hosts: 0,
                superseded: false,
                ranks,
            },
        )
    }

    fn hashed<'a>(segments: &[&'a str]) -> Vec<(&'a str, u64)> {
        segments.iter().map(|s| (*s, segment_hash(s))).collect()
    }

    #[test]
    fn literals_sharing_a_hash_are_told_apart() {
        let mut trie = Trie::default();
        let a = trie.child(0, &Segment::Literal("a".into()));
        let b = trie.child(0, &Segment::Literal("b".into()));
        // Force a collision: both texts under one hash.
        let node = &mut trie.nodes[0];
        for entry in &mut node.literals {
            entry.0 = 7;
        }
        assert_eq!(find_literal(&trie.nodes[0].literals, 7, "a"), Some(a));
        assert_eq!(find_literal(&trie.nodes[0].literals, 7, "b"), Some(b));
        assert_eq!(find_literal(&trie.nodes[0].literals, 7, "c"), None);
        assert_eq!(find_literal(&trie.nodes[0].literals, 8, "a"), None);
    }

    #[test]
    fn equal_patterns_share_a_node_and_every_match_is_offered() {
        let mut trie = Trie::default();
        let mut candidates = Vec::new();
        for (i, t) in ["/a/{x}", "/a/{y}", "/a/b", "/{z}/b"].iter().enumerate() {
            let (segments, c) = candidate(t, MatchTarget::Route(i));
            trie.insert(&segments, i);
            candidates.push(c);
        }
        // root, a, {x}=={y}, b, {z}, {z}/b
        assert_eq!(trie.nodes.len(), 6);
        let filters = vec![Vec::new()];
        let mut best = Best::new(&candidates, &filters, RequestHost::parse("h"));
        trie.search(&hashed(&["a", "b"]), MethodFit::Exact, &mut best);
        assert_eq!(best.winner().map(|c| c.template.as_str()), Some("/a/b"));
        let mut best = Best::new(&candidates, &filters, RequestHost::parse("h"));
        trie.search(&hashed(&["a", "c"]), MethodFit::Exact, &mut best);
        assert_eq!(
            best.winner().map(|c| c.template.as_str()),
            Some("/a/{x}"),
            "the earlier of two equal templates wins"
        );
        let mut best = Best::new(&candidates, &filters, RequestHost::parse("h"));
        trie.search(&hashed(&["c", "b"]), MethodFit::Exact, &mut best);
        assert_eq!(best.winner().map(|c| c.template.as_str()), Some("/{z}/b"));
        let mut best = Best::new(&candidates, &filters, RequestHost::parse("h"));
        trie.search(&hashed(&["a"]), MethodFit::Exact, &mut best);
        assert!(best.winner().is_none());
    }
}
