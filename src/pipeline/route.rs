//! Routing of IP fragments to workers. Whole packets go to the worker of their connection (the
//! address pair and TCP ports); a datagram's first fragment shows the ports and goes the same
//! way, and every other fragment of that datagram must follow it, though it shows no ports.
//! The reading thread therefore remembers where each datagram's first fragment went, and holds
//! the fragments that arrive before it, as the kernel's `PACKET_FANOUT_FLAG_DEFRAG` does
//! before it hashes. The worker reassembles the datagram itself.
//!
//! Bounded: [`MAX_ROUTES`] datagrams remembered, [`MAX_HELD_BYTES`] of early fragments held.
//! A held fragment whose first fragment does not come within the fragment timeout, or that the
//! bound pushes out, goes to the worker of its address pair (where it waits in that worker's
//! fragment table, and expires there, counted, as it would have on one thread).

use std::collections::{HashMap, VecDeque};

use apitap_sensor::packet::LinkType;
use apitap_sensor::Timestamp;

/// Datagrams whose route is remembered at once.
pub const MAX_ROUTES: usize = 65_536;

/// Bytes of fragments held while their datagram's first fragment has not been seen.
pub const MAX_HELD_BYTES: usize = 16 << 20;

/// A fragment held for its route, with what its packet record carried.
pub struct HeldFragment {
    /// Capture time.
    pub ts: Timestamp,
    /// Link type.
    pub link: LinkType,
    /// Length on the wire.
    pub wire_len: u32,
    /// Captured bytes.
    pub data: Vec<u8>,
    /// Worker of its address pair, if it never finds its route.
    pub fallback: usize,
}

enum Route {
    /// The first fragment went to this worker.
    To(usize),
    /// Fragments waiting for the first one.
    Waiting(Vec<HeldFragment>),
}

/// Counters of the routing.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RouteStats {
    /// Fragments held until their first fragment arrived.
    pub held: u64,
    /// Held fragments sent to their pair's worker because no first fragment came in time or
    /// the bounds were reached.
    pub unrouted: u64,
    /// Routes forgotten early because [`MAX_ROUTES`] was reached.
    pub routes_evicted: u64,
}

/// Where each datagram's fragments go.
pub struct Router {
    routes: HashMap<u64, Route>,
    /// Datagrams in the order they were first seen, with that time, for expiry.
    order: VecDeque<(Timestamp, u64)>,
    held_bytes: usize,
    timeout_nanos: u64,
    stats: RouteStats,
}

impl Router {
    /// A router that forgets a datagram `timeout_nanos` of packet time after its first
    /// fragment was seen (the fragment table's own timeout).
    pub fn new(timeout_nanos: u64) -> Self {
        Router { routes: HashMap::new(), order: VecDeque::new(), held_bytes: 0, timeout_nanos, stats: RouteStats::default() }
    }

    /// Counters.
    pub fn stats(&self) -> RouteStats {
        self.stats
    }

    /// A fragment of `datagram`. `first_to`: the worker its first fragment goes to when this
    /// is that first fragment (with ports), else `None`. Returns the worker for this fragment
    /// (`None`: held) and any held fragments that now go to that worker, to send after it.
    pub fn fragment(&mut self, ts: Timestamp, datagram: u64, first_to: Option<usize>, held: impl FnOnce() -> HeldFragment, out: &mut Vec<(usize, HeldFragment)>) -> Option<usize> {
        match (self.routes.get_mut(&datagram), first_to) {
            (Some(Route::To(w)), _) => Some(*w),
            (Some(Route::Waiting(_)), Some(w)) => {
                if let Some(Route::Waiting(list)) = self.routes.insert(datagram, Route::To(w)) {
                    for f in list {
                        self.held_bytes = self.held_bytes.saturating_sub(f.data.len());
                        out.push((w, f));
                    }
                }
                Some(w)
            }
            (Some(Route::Waiting(list)), None) => {
                let f = held();
                self.held_bytes = self.held_bytes.saturating_add(f.data.len());
                self.stats.held += 1;
                list.push(f);
                self.shed(out);
                None
            }
            (None, Some(w)) => {
                self.remember(ts, datagram, Route::To(w), out);
                Some(w)
            }
            (None, None) => {
                let f = held();
                self.held_bytes = self.held_bytes.saturating_add(f.data.len());
                self.stats.held += 1;
                self.remember(ts, datagram, Route::Waiting(vec![f]), out);
                self.shed(out);
                None
            }
        }
    }

    /// Forgets datagrams older than the timeout as of `now`; their held fragments go to their
    /// pair's worker.
    pub fn expire(&mut self, now: Timestamp, out: &mut Vec<(usize, HeldFragment)>) {
        while let Some(&(ts, key)) = self.order.front() {
            if now.saturating_since(ts) < self.timeout_nanos {
                break;
            }
            self.order.pop_front();
            self.forget(key, out);
        }
    }

    /// Everything still held, at the end of input.
    pub fn finish(&mut self, out: &mut Vec<(usize, HeldFragment)>) {
        while let Some((_, key)) = self.order.pop_front() {
            self.forget(key, out);
        }
    }

    fn remember(&mut self, ts: Timestamp, datagram: u64, route: Route, out: &mut Vec<(usize, HeldFragment)>) {
        if self.routes.len() >= MAX_ROUTES {
            if let Some((_, oldest)) = self.order.pop_front() {
                self.stats.routes_evicted += 1;
                self.forget(oldest, out);
            }
        }
        self.routes.insert(datagram, route);
        self.order.push_back((ts, datagram));
    }

    /// Sends the oldest held datagrams to their pair's worker while over the byte bound.
    fn shed(&mut self, out: &mut Vec<(usize, HeldFragment)>) {
        while self.held_bytes > MAX_HELD_BYTES {
            let oldest_waiting = self.order.iter().position(|(_, k)| matches!(self.routes.get(k), Some(Route::Waiting(_))));
            let Some(i) = oldest_waiting else { break };
            let Some((_, key)) = self.order.remove(i) else { break };
            self.forget(key, out);
        }
    }

    fn forget(&mut self, key: u64, out: &mut Vec<(usize, HeldFragment)>) {
        if let Some(Route::Waiting(list)) = self.routes.remove(&key) {
            for f in list {
                self.held_bytes = self.held_bytes.saturating_sub(f.data.len());
                self.stats.unrouted += 1;
                out.push((f.fallback, f));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(n: usize, fallback: usize) -> HeldFragment {
        HeldFragment { ts: Timestamp(0), link: LinkType::Raw, wire_len: n as u32, data: vec![0; n], fallback }
    }

    #[test]
    fn later_fragments_follow_the_first_whatever_the_order() {
        let mut r = Router::new(1_000);
        let mut out = Vec::new();
        // Two later fragments before the first: held.
        assert_eq!(r.fragment(Timestamp(1), 7, None, || frag(10, 0), &mut out), None);
        assert_eq!(r.fragment(Timestamp(2), 7, None, || frag(20, 0), &mut out), None);
        assert!(out.is_empty());
        // The first goes to worker 3 and releases them to worker 3, in order.
        assert_eq!(r.fragment(Timestamp(3), 7, Some(3), || frag(30, 0), &mut out), Some(3));
        assert_eq!(out.iter().map(|(w, f)| (*w, f.data.len())).collect::<Vec<_>>(), vec![(3, 10), (3, 20)]);
        out.clear();
        // A later one after the first goes straight there.
        assert_eq!(r.fragment(Timestamp(4), 7, None, || frag(5, 0), &mut out), Some(3));
        assert_eq!(r.stats().held, 2);
        assert_eq!(r.stats().unrouted, 0);
    }

    #[test]
    fn fragments_without_a_first_go_to_their_pair_after_the_timeout() {
        let mut r = Router::new(1_000);
        let mut out = Vec::new();
        assert_eq!(r.fragment(Timestamp(10), 9, None, || frag(10, 1), &mut out), None);
        r.expire(Timestamp(500), &mut out);
        assert!(out.is_empty(), "not yet");
        r.expire(Timestamp(1_010), &mut out);
        assert_eq!(out.iter().map(|(w, _)| *w).collect::<Vec<_>>(), vec![1]);
        assert_eq!(r.stats().unrouted, 1);
        // The route is gone: a first fragment now starts afresh.
        out.clear();
        assert_eq!(r.fragment(Timestamp(1_020), 9, Some(0), || frag(10, 1), &mut out), Some(0));
        assert!(out.is_empty());
    }

    #[test]
    fn held_bytes_and_routes_are_bounded() {
        let mut r = Router::new(u64::MAX);
        let mut out = Vec::new();
        let big = MAX_HELD_BYTES / 4 + 1;
        for d in 0..6u64 {
            r.fragment(Timestamp(d), d, None, || frag(big, 2), &mut out);
        }
        assert!(r.held_bytes <= MAX_HELD_BYTES, "{}", r.held_bytes);
        assert_eq!(out.len(), 3, "the oldest went to their pair's worker");
        out.clear();
        for d in 100..100 + MAX_ROUTES as u64 + 10 {
            r.fragment(Timestamp(d), d, Some(0), || frag(1, 0), &mut out);
        }
        assert!(r.routes.len() <= MAX_ROUTES);
        assert!(r.stats().routes_evicted >= 10);
    }
}
