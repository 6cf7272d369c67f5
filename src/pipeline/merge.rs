//! Puts the workers' finished items back in input order. Each item carries the input position
//! (packet or tick) that finished it, and each worker says how far through the input it is;
//! an item is released once every worker is past its position, in (position, worker) order,
//! and a tick releases the analysis clock after the items it finished. The order therefore
//! depends only on the input and the number of workers, never on thread timing.

use std::collections::VecDeque;

use apitap_sensor::Timestamp;

use crate::app::Done;

/// What the merge hands on, in order.
pub enum Released {
    /// A finished transaction or TLS hello.
    Done(Done),
    /// Packet time reached `now` (a tick): the analysis may close what is quiet.
    Advance(Timestamp),
}

/// The merge of N workers' outputs.
pub struct Merge {
    queues: Vec<VecDeque<(u64, Done)>>,
    /// Per worker: everything up to this input position is processed.
    upto: Vec<u64>,
    ticks: VecDeque<(u64, Timestamp)>,
    released: Vec<Released>,
}

impl Merge {
    /// A merge of `n` workers.
    pub fn new(n: usize) -> Self {
        Merge { queues: (0..n).map(|_| VecDeque::new()).collect(), upto: vec![0; n], ticks: VecDeque::new(), released: Vec::new() }
    }

    /// A tick at input position `index`.
    pub fn push_tick(&mut self, index: u64, now: Timestamp) {
        self.ticks.push_back((index, now));
    }

    /// `worker`'s items (in its order) and how far it has got.
    pub fn push(&mut self, worker: usize, done: Vec<(u64, Done)>, upto: u64) {
        if let Some(q) = self.queues.get_mut(worker) {
            q.extend(done);
        }
        if let Some(u) = self.upto.get_mut(worker) {
            *u = (*u).max(upto);
        }
        self.release();
    }

    /// The input position every worker has passed.
    pub fn upto(&self) -> u64 {
        self.upto.iter().copied().min().unwrap_or(0)
    }

    /// Takes what has been released.
    pub fn take_released(&mut self) -> Vec<Released> {
        std::mem::take(&mut self.released)
    }

    fn release(&mut self) {
        let upto = self.upto();
        loop {
            // The worker whose next item comes first: lowest position, then lowest worker.
            let next = self
                .queues
                .iter()
                .enumerate()
                .filter_map(|(w, q)| q.front().map(|(i, _)| (*i, w)))
                .filter(|(i, _)| *i <= upto)
                .min();
            let tick = self.ticks.front().copied().filter(|(i, _)| *i <= upto);
            match (next, tick) {
                (Some((i, _)), Some((t, now))) if t < i => {
                    self.ticks.pop_front();
                    self.released.push(Released::Advance(now));
                }
                (Some((_, w)), _) => {
                    if let Some((_, d)) = self.queues.get_mut(w).and_then(VecDeque::pop_front) {
                        self.released.push(Released::Done(d));
                    }
                }
                (None, Some((_, now))) => {
                    self.ticks.pop_front();
                    self.released.push(Released::Advance(now));
                }
                (None, None) => break,
            }
        }
    }
}
