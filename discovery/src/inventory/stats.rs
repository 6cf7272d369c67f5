//! What the inventory accumulates per endpoint, in bounded memory, and how two endpoints'
//! statistics merge when templating folds them into one.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::distinct::Distinct;
use super::sampling::Sampling;
use crate::content::{JsonType, SensitiveKind};

/// Latency histogram range: 10 µs to ten minutes, two significant digits, 32-bit counts:
/// about 10.5 KiB per endpoint, allocated at its first latency.
pub(super) const LATENCY_MIN_MICROS: u64 = 10;
/// See [`LATENCY_MIN_MICROS`].
pub(super) const LATENCY_MAX_MICROS: u64 = 600_000_000;

/// Counts by key with a bound on distinct keys; what does not fit is counted in `dropped`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundedCounts {
    /// Counts by key.
    pub counts: BTreeMap<String, u64>,
    /// Observations whose key did not fit.
    pub dropped: u64,
}

impl BoundedCounts {
    /// Counts `key` once (`n` times), unless `max` keys are already held.
    pub fn add(&mut self, key: &str, n: u64, max: usize) {
        if let Some(c) = self.counts.get_mut(key) {
            *c += n;
        } else if self.counts.len() < max {
            self.counts.insert(key.to_string(), n);
        } else {
            self.dropped += n;
        }
    }

    pub(super) fn merge(&mut self, other: &BoundedCounts, max: usize) {
        for (k, n) in &other.counts {
            self.add(k, *n, max);
        }
        self.dropped += other.dropped;
    }
}

/// JSON field paths and the types seen at each, bounded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// Field path to type names seen.
    pub fields: BTreeMap<String, Vec<JsonType>>,
    /// Fields not kept because the bound was reached.
    pub dropped: u64,
    /// Bodies seen as JSON.
    pub json_bodies: u64,
    /// Bodies whose scan stopped early (cut prefix, limit, malformed).
    pub truncated_bodies: u64,
}

impl Shape {
    /// Adds one field path with its type; returns whether the pair is new to the shape.
    pub fn add(&mut self, path: &str, ty: JsonType, max: usize) -> bool {
        if let Some(types) = self.fields.get_mut(path) {
            if !types.contains(&ty) {
                types.push(ty);
                types.sort();
                return true;
            }
        } else if self.fields.len() < max {
            self.fields.insert(path.to_string(), vec![ty]);
            return true;
        } else {
            self.dropped += 1;
        }
        false
    }

    fn merge(&mut self, other: &Shape, max: usize) {
        for (path, types) in &other.fields {
            for ty in types {
                self.add(path, *ty, max);
            }
        }
        self.dropped += other.dropped;
        self.json_bodies += other.json_bodies;
        self.truncated_bodies += other.truncated_bodies;
    }
}

/// Everything counted for one endpoint.
#[derive(Clone, Debug)]
pub struct EndpointStats {
    /// Requests.
    pub hits: u64,
    /// Packet time (ns) of the first and last request.
    pub first_seen: u64,
    /// See `first_seen`.
    pub last_seen: u64,
    /// Distinct consumers (keyed digests).
    pub consumers: Distinct,
    /// Distinct client addresses (digests).
    pub clients: Distinct,
    /// Final status codes; `0` counts transactions without a response.
    pub status: BTreeMap<u16, u64>,
    /// Latency in microseconds.
    pub latency: Option<Histogram<u32>>,
    /// Request media types.
    pub request_types: BoundedCounts,
    /// Response media types.
    pub response_types: BoundedCounts,
    /// Authentication kinds by name.
    pub auth: BTreeMap<&'static str, u64>,
    /// Query parameter names (values are never kept).
    pub query_params: BoundedCounts,
    /// JSON shape of request bodies.
    pub request_shape: Shape,
    /// JSON shape of response bodies.
    pub response_shape: Shape,
    /// Sensitive values found in request bodies, by kind.
    pub request_sensitive: BTreeMap<SensitiveKind, u64>,
    /// Sensitive values found in response bodies, by kind.
    pub response_sensitive: BTreeMap<SensitiveKind, u64>,
    /// Successful responses carrying sensitive data to a request without any credential.
    pub sensitive_unauthenticated: u64,
    /// Responses with a `Deprecation` or `Sunset` header.
    pub deprecation_signals: u64,
    /// Requests read from decrypted TLS (the other `hits` were read in clear).
    pub decrypted: u64,
    /// Which request bodies get the full analysis.
    pub request_sampling: Sampling,
    /// Which response bodies get the full analysis.
    pub response_sampling: Sampling,
}

impl EndpointStats {
    /// Empty statistics starting at `ts`.
    pub fn new(ts: u64) -> Self {
        EndpointStats {
            hits: 0,
            first_seen: ts,
            last_seen: ts,
            consumers: Distinct::default(),
            clients: Distinct::default(),
            status: BTreeMap::new(),
            latency: None,
            request_types: BoundedCounts::default(),
            response_types: BoundedCounts::default(),
            auth: BTreeMap::new(),
            query_params: BoundedCounts::default(),
            request_shape: Shape::default(),
            response_shape: Shape::default(),
            request_sensitive: BTreeMap::new(),
            response_sensitive: BTreeMap::new(),
            sensitive_unauthenticated: 0,
            deprecation_signals: 0,
            decrypted: 0,
            request_sampling: Sampling::default(),
            response_sampling: Sampling::default(),
        }
    }

    /// Counts one request at `ts`.
    pub fn hit(&mut self, ts: u64) {
        self.hits += 1;
        self.first_seen = self.first_seen.min(ts);
        self.last_seen = self.last_seen.max(ts);
    }

    /// Records a latency.
    pub fn latency_ms(&mut self, ms: f64) {
        if !ms.is_finite() || ms < 0.0 {
            return;
        }
        let micros = ((ms * 1000.0) as u64).clamp(LATENCY_MIN_MICROS, LATENCY_MAX_MICROS);
        if self.latency.is_none() {
            self.latency = Histogram::new_with_bounds(LATENCY_MIN_MICROS, LATENCY_MAX_MICROS, 2).ok();
        }
        if let Some(h) = self.latency.as_mut() {
            let _ = h.record(micros);
        }
    }

    /// Latency percentiles in milliseconds: p50, p90, p99, max.
    pub fn latency_percentiles(&self) -> Option<[f64; 4]> {
        let h = self.latency.as_ref().filter(|h| !h.is_empty())?;
        let ms = |v: u64| v as f64 / 1000.0;
        Some([
            ms(h.value_at_quantile(0.5)),
            ms(h.value_at_quantile(0.9)),
            ms(h.value_at_quantile(0.99)),
            ms(h.max()),
        ])
    }

    /// Folds another endpoint's statistics into this one.
    pub fn merge(&mut self, other: &EndpointStats, limits: &MergeLimits) {
        self.hits += other.hits;
        self.first_seen = self.first_seen.min(other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
        self.consumers.merge(&other.consumers);
        self.clients.merge(&other.clients);
        for (k, n) in &other.status {
            *self.status.entry(*k).or_default() += n;
        }
        match (self.latency.as_mut(), other.latency.as_ref()) {
            (Some(mine), Some(theirs)) => {
                let _ = mine.add(theirs);
            }
            (None, Some(theirs)) => self.latency = Some(theirs.clone()),
            _ => {}
        }
        self.request_types.merge(&other.request_types, limits.content_types);
        self.response_types.merge(&other.response_types, limits.content_types);
        for (k, n) in &other.auth {
            *self.auth.entry(k).or_default() += n;
        }
        self.query_params.merge(&other.query_params, limits.query_params);
        self.request_shape.merge(&other.request_shape, limits.shape_fields);
        self.response_shape.merge(&other.response_shape, limits.shape_fields);
        for (k, n) in &other.request_sensitive {
            *self.request_sensitive.entry(*k).or_default() += n;
        }
        for (k, n) in &other.response_sensitive {
            *self.response_sensitive.entry(*k).or_default() += n;
        }
        self.sensitive_unauthenticated += other.sensitive_unauthenticated;
        self.deprecation_signals += other.deprecation_signals;
        self.decrypted += other.decrypted;
        self.request_sampling.merge(&other.request_sampling);
        self.response_sampling.merge(&other.response_sampling);
    }
}

/// The bounds that apply when statistics merge.
#[derive(Clone, Copy, Debug)]
pub struct MergeLimits {
    /// Content types per direction.
    pub content_types: usize,
    /// Query parameter names.
    pub query_params: usize,
    /// JSON fields per direction.
    pub shape_fields: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_counts_drop_past_the_limit() {
        let mut c = BoundedCounts::default();
        c.add("a", 1, 2);
        c.add("b", 1, 2);
        c.add("c", 3, 2);
        c.add("a", 1, 2);
        assert_eq!(c.counts.get("a"), Some(&2));
        assert_eq!(c.dropped, 3);
    }

    #[test]
    fn merge_adds_and_keeps_extremes() {
        let lim = MergeLimits { content_types: 4, query_params: 4, shape_fields: 4 };
        let mut a = EndpointStats::new(100);
        a.hit(100);
        a.latency_ms(10.0);
        a.status.insert(200, 1);
        let mut b = EndpointStats::new(50);
        b.hit(50);
        b.hit(300);
        b.latency_ms(1000.0);
        b.status.insert(200, 2);
        a.merge(&b, &lim);
        assert_eq!((a.hits, a.first_seen, a.last_seen), (3, 50, 300));
        assert_eq!(a.status.get(&200), Some(&3));
        let p = a.latency_percentiles().unwrap();
        assert!(p[3] >= 990.0 && p[0] < 20.0, "{p:?}");
    }
}
