//! Which services the capture sees in one direction only: each closed connection is counted
//! under its responder as a conversation (both endpoints sent something) or one-sided. A
//! mirror that loses one direction after a network change turns a service's conversations
//! into one-sided flows; the daemon's health watches for that.

use std::collections::HashMap;
use std::net::SocketAddr;

/// Services (responder address and port) counted between two takes; connections of further
/// services are counted in [`SidesTally::untracked`] only.
pub const MAX_SIDES_SERVICES: usize = 4096;

/// Closed connections of one service.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sides {
    /// Both endpoints sent something.
    pub two_way: u64,
    /// Only one endpoint did.
    pub one_sided: u64,
}

/// The counts since the last [`SidesTally::take`].
#[derive(Debug, Default)]
pub(crate) struct SidesTally {
    map: HashMap<SocketAddr, Sides>,
    /// Connections of services beyond [`MAX_SIDES_SERVICES`], not counted per service.
    untracked: u64,
}

impl SidesTally {
    pub(crate) fn add(&mut self, service: SocketAddr, two_way: bool) {
        let len = self.map.len();
        match self.map.get_mut(&service) {
            Some(s) => bump(s, two_way),
            None if len < MAX_SIDES_SERVICES => bump(self.map.entry(service).or_default(), two_way),
            None => self.untracked = self.untracked.saturating_add(1),
        }
    }

    /// The counts per service since the last take, and the untracked connections; both start
    /// again from zero.
    pub(crate) fn take(&mut self) -> (Vec<(SocketAddr, Sides)>, u64) {
        let mut out: Vec<(SocketAddr, Sides)> = self.map.drain().collect();
        out.sort_by_key(|(a, _)| *a);
        (out, std::mem::take(&mut self.untracked))
    }
}

fn bump(s: &mut Sides, two_way: bool) {
    let n = if two_way { &mut s.two_way } else { &mut s.one_sided };
    *n = n.saturating_add(1);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn counts_per_service_are_bounded_and_taken_once() {
        let mut t = SidesTally::default();
        let a: SocketAddr = "10.0.0.1:443".parse().unwrap();
        t.add(a, true);
        t.add(a, false);
        t.add(a, false);
        for i in 0..MAX_SIDES_SERVICES + 5 {
            t.add(SocketAddr::from(([10, 1, (i >> 8) as u8, i as u8], 80)), false);
        }
        let (list, untracked) = t.take();
        assert_eq!(list.len(), MAX_SIDES_SERVICES);
        assert_eq!(untracked, 6);
        assert_eq!(list.iter().find(|(s, _)| *s == a).unwrap().1, Sides { two_way: 1, one_sided: 2 });
        assert_eq!(t.take(), (Vec::new(), 0));
    }
}
