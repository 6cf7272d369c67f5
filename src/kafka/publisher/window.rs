//! The replay window: spooled records handed to librdkafka and not yet resolved.
//!
//! Delivery reports arrive in any order across partitions, but the spool may only forget a
//! record once every record before it is confirmed. The window keeps the records in the order
//! they were read and releases the confirmed prefix. Pure bookkeeping, tested on its own.

use std::collections::VecDeque;

use super::super::spool::Position;

/// How a handed-out record ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// The broker has it, or it was dropped for good (fatal): the spool may forget it.
    Done,
    /// It failed and must be sent again: the spool keeps it and everything after it.
    Failed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    InFlight,
    Done,
    Failed,
}

/// Records handed out, in read order, each with a tag that comes back in its delivery report.
#[derive(Debug, Default)]
pub struct ReplayWindow {
    /// Tag of the first slot.
    front: u64,
    slots: VecDeque<(Position, Slot)>,
    in_flight: usize,
    failed: bool,
}

impl ReplayWindow {
    /// Adds a record about to be handed out; returns its tag.
    pub fn push(&mut self, pos: Position) -> u64 {
        let tag = self.front.wrapping_add(self.slots.len() as u64);
        self.slots.push_back((pos, Slot::InFlight));
        self.in_flight = self.in_flight.saturating_add(1);
        tag
    }

    /// Takes back the last [`ReplayWindow::push`] (librdkafka refused the record at once).
    pub fn unpush(&mut self) {
        if let Some((_, Slot::InFlight)) = self.slots.back() {
            self.slots.pop_back();
            self.in_flight = self.in_flight.saturating_sub(1);
        }
    }

    /// Records a delivery report; returns the positions the spool may now commit, in order.
    /// An unknown or already resolved tag changes nothing.
    pub fn resolve(&mut self, tag: u64, how: Resolution) -> Vec<Position> {
        let Some(index) = tag.checked_sub(self.front).and_then(|i| usize::try_from(i).ok()) else { return Vec::new() };
        let Some(slot) = self.slots.get_mut(index) else { return Vec::new() };
        if slot.1 != Slot::InFlight {
            return Vec::new();
        }
        self.in_flight = self.in_flight.saturating_sub(1);
        slot.1 = match how {
            Resolution::Done => Slot::Done,
            Resolution::Failed => {
                self.failed = true;
                Slot::Failed
            }
        };
        let mut commit = Vec::new();
        while let Some((pos, Slot::Done)) = self.slots.front() {
            commit.push(*pos);
            self.slots.pop_front();
            self.front = self.front.wrapping_add(1);
        }
        commit
    }

    /// Records handed out and not yet reported.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Whether some record failed since the last [`ReplayWindow::clear`].
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Forgets everything once no report is outstanding, before the spool rewinds to its first
    /// unconfirmed record. Returns the failed records' positions (so the caller can tell which
    /// of them the spool no longer has). Tags keep counting, so a late report of a forgotten
    /// record cannot resolve a new one.
    pub fn clear(&mut self) -> Vec<Position> {
        let failed = self.slots.iter().filter(|(_, s)| *s == Slot::Failed).map(|(p, _)| *p).collect();
        self.front = self.front.wrapping_add(self.slots.len() as u64);
        self.slots.clear();
        self.in_flight = 0;
        self.failed = false;
        failed
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn p(offset: u64) -> Position {
        Position { segment: 7, offset }
    }

    #[test]
    fn out_of_order_reports_release_only_the_confirmed_prefix() {
        let mut w = ReplayWindow::default();
        let tags: Vec<u64> = (1..=4).map(|i| w.push(p(i * 10))).collect();
        assert_eq!(w.resolve(tags[2], Resolution::Done), vec![]);
        assert_eq!(w.resolve(tags[1], Resolution::Done), vec![]);
        assert_eq!(w.resolve(tags[0], Resolution::Done), vec![p(10), p(20), p(30)]);
        assert_eq!(w.in_flight(), 1);
        assert_eq!(w.resolve(tags[3], Resolution::Done), vec![p(40)]);
        assert!(w.is_empty());
    }

    #[test]
    fn a_failure_holds_back_everything_after_it() {
        let mut w = ReplayWindow::default();
        let a = w.push(p(1));
        let b = w.push(p(2));
        let c = w.push(p(3));
        assert_eq!(w.resolve(a, Resolution::Done), vec![p(1)]);
        assert_eq!(w.resolve(b, Resolution::Failed), vec![]);
        assert_eq!(w.resolve(c, Resolution::Done), vec![]);
        assert!(w.failed());
        assert_eq!(w.in_flight(), 0);
        assert_eq!(w.clear(), vec![p(2)]);
        assert!(!w.failed());
        assert!(w.is_empty());
    }

    #[test]
    fn a_late_report_after_clear_does_not_touch_new_records() {
        let mut w = ReplayWindow::default();
        let old = w.push(p(1));
        w.clear();
        let new = w.push(p(1));
        assert_ne!(old, new);
        assert_eq!(w.resolve(old, Resolution::Done), vec![]);
        assert_eq!(w.in_flight(), 1);
        assert_eq!(w.resolve(new, Resolution::Done), vec![p(1)]);
    }

    #[test]
    fn a_duplicate_report_counts_once_and_unpush_takes_back_the_last() {
        let mut w = ReplayWindow::default();
        let a = w.push(p(1));
        let _b = w.push(p(2));
        w.unpush();
        assert_eq!(w.in_flight(), 1);
        assert_eq!(w.resolve(a, Resolution::Done), vec![p(1)]);
        assert_eq!(w.resolve(a, Resolution::Done), vec![]);
        assert!(w.is_empty());
        assert_eq!(w.in_flight(), 0);
    }
}
