//! Services the capture has stopped seeing in both directions, over a window of wall time:
//! the most common failure after a network change is a mirror that loses one direction, and
//! then every connection of a service that used to be a conversation shows one side only.
//! Pure: the caller passes the time and the flow table's counts (`Pipeline::take_sides`).

use std::collections::HashMap;
use std::net::SocketAddr;

use apitap_sensor::flow::Sides;

/// One-sided connections a service needs within a window, with no two-way one, to count as
/// seen in one direction only.
pub const MIN_ONE_SIDED: u64 = 20;

/// Services named in the health at most (the busiest first).
pub const MAX_LISTED: usize = 16;

/// Services remembered; further ones are not watched.
pub const MAX_SERVICES: usize = 4096;

#[derive(Debug, Default, Clone, Copy)]
struct Entry {
    /// The service has been a conversation at least once: a port that never answered (a scan
    /// of a closed or filtered port) is not a service that lost a direction.
    ever_two_way: bool,
    current: Sides,
    previous: Sides,
}

/// Two consecutive windows of counts per service.
#[derive(Debug)]
pub struct SidesWindow {
    window: f64,
    started: Option<f64>,
    services: HashMap<SocketAddr, Entry>,
}

impl SidesWindow {
    /// A watch over windows of `window_secs` (at least 1).
    pub fn new(window_secs: f64) -> SidesWindow {
        SidesWindow { window: window_secs.max(1.0), started: None, services: HashMap::new() }
    }

    /// Takes the counts of connections closed since the last call, at wall time `now`
    /// (seconds).
    pub fn absorb(&mut self, now: f64, counts: &[(SocketAddr, Sides)]) {
        let started = *self.started.get_or_insert(now);
        if now - started >= self.window {
            let skipped = now - started >= 2.0 * self.window;
            for e in self.services.values_mut() {
                e.previous = if skipped { Sides::default() } else { e.current };
                e.current = Sides::default();
            }
            self.services.retain(|_, e| e.ever_two_way || e.previous != Sides::default());
            self.started = Some(now);
        }
        for (addr, s) in counts {
            let len = self.services.len();
            let e = match self.services.get_mut(addr) {
                Some(e) => e,
                None if len < MAX_SERVICES => self.services.entry(*addr).or_default(),
                None => continue,
            };
            e.current.two_way = e.current.two_way.saturating_add(s.two_way);
            e.current.one_sided = e.current.one_sided.saturating_add(s.one_sided);
            e.ever_two_way |= s.two_way > 0;
        }
    }

    /// The services seen in one direction only: once conversations, and in this window and
    /// the one before at least [`MIN_ONE_SIDED`] one-sided connections and no two-way one.
    /// The busiest first, at most [`MAX_LISTED`], as `address:port`.
    pub fn one_sided(&self) -> Vec<String> {
        let mut found: Vec<(u64, SocketAddr)> = self
            .services
            .iter()
            .filter_map(|(a, e)| {
                let two = e.current.two_way.saturating_add(e.previous.two_way);
                let one = e.current.one_sided.saturating_add(e.previous.one_sided);
                (e.ever_two_way && two == 0 && one >= MIN_ONE_SIDED).then_some((one, *a))
            })
            .collect();
        found.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
        found.into_iter().take(MAX_LISTED).map(|(_, a)| a.to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sides(two_way: u64, one_sided: u64) -> Sides {
        Sides { two_way, one_sided }
    }

    #[test]
    fn a_service_that_loses_a_direction_is_named_and_a_scanned_port_is_not() {
        let api: SocketAddr = "10.2.0.9:8080".parse().unwrap();
        let scanned: SocketAddr = "10.2.0.9:23".parse().unwrap();
        let mut w = SidesWindow::new(60.0);
        w.absorb(0.0, &[(api, sides(50, 1))]);
        assert!(w.one_sided().is_empty());
        // The mirror loses the server's direction: every connection is one-sided from now on.
        w.absorb(60.0, &[(api, sides(0, 30)), (scanned, sides(0, 500))]);
        assert!(w.one_sided().is_empty(), "the window before still had conversations");
        w.absorb(120.0, &[(api, sides(0, 30))]);
        assert_eq!(w.one_sided(), ["10.2.0.9:8080"]);
        // Below the minimum it is not news; a conversation again clears it.
        let mut quiet = SidesWindow::new(60.0);
        quiet.absorb(0.0, &[(api, sides(5, 0))]);
        quiet.absorb(60.0, &[(api, sides(0, MIN_ONE_SIDED - 1))]);
        quiet.absorb(120.0, &[]);
        assert!(quiet.one_sided().is_empty());
        w.absorb(130.0, &[(api, sides(1, 0))]);
        assert!(w.one_sided().is_empty());
    }
}
