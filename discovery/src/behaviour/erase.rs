//! Erasure (GDPR: one consumer, one customer), retention (profiles inactive too long) and key
//! rotation (a profile follows its consumer to the id the new key gives it).
//!
//! Nothing here emits an anomaly event: an erased consumer's open findings disappear without a
//! `closed` event, since that event would carry the data being erased.

use std::time::Duration;

use super::anomaly::ConsumerRef;
use super::Behaviour;
use crate::identity::{CustomerId, Identity};

impl Behaviour {
    /// Remembers that a consumer's profile went, so the store deletes its row; at most
    /// `max_consumers` ids between two [`Behaviour::take_removed`] calls (more are counted in
    /// `removed_unreported`).
    pub(super) fn note_removed(&mut self, id: u64) {
        if self.removed.len() >= self.cfg.max_consumers {
            self.stats.removed_unreported += 1;
        } else {
            self.removed.push(id);
        }
    }

    /// The consumer ids whose profile left since the last call (evicted at `max_consumers`,
    /// moved to a new id after a key rotation), whose store rows are now stale. Ids removed by
    /// [`Behaviour::forget_consumer`] and [`Behaviour::expire`] are returned by those calls
    /// instead. When `stats().removed_unreported` grew, some ids were not kept: compare the
    /// store with [`Behaviour::consumer_ids`].
    pub fn take_removed(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.removed)
    }

    /// Every consumer id with a profile, in no particular order.
    pub fn consumer_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.profiles.keys().copied()
    }

    /// Moves the profile of `old` to the consumer `id` names (the same credential under a new
    /// key), with its open findings and rate-limit history. Returns whether there was one.
    pub(super) fn rekey(&mut self, old: u64, id: &Identity) -> bool {
        let new = id.id.0;
        if self.profiles.contains_key(&new) {
            return false;
        }
        let Some(mut p) = self.profiles.remove(&old) else { return false };
        // Labels of hashed credentials carry digits of the id: take the new ones.
        p.label.clone_from(&id.label);
        p.source = id.source.name().to_string();
        p.org_id.clone_from(&id.org_id);
        p.changed = self.latest;
        self.profiles.insert(new, p);
        let consumer = ConsumerRef { id: id.id.to_string(), label: id.label.clone(), source: id.source.name(), org_id: id.org_id.clone() };
        self.alerts.rekey(old, new, Some(&consumer));
        self.note_removed(old);
        self.stats.consumers_rekeyed += 1;
        true
    }

    /// Erases one consumer: its profile, its open findings and their queued events, its
    /// rate-limit history. Returns whether anything of it was held. The store deletes the
    /// consumer's row; identity links naming it go with
    /// [`Identifier::forget_consumer`](crate::identity::Identifier::forget_consumer).
    pub fn forget_consumer(&mut self, id: u64) -> bool {
        let profile = self.profiles.remove(&id).is_some();
        let findings = self.alerts.forget_consumer(id);
        let found = profile || findings > 0;
        if found {
            self.stats.consumers_forgotten += 1;
        }
        found
    }

    /// Erases one customer, given as the anomalies write it (16 hex digits, the keyed id): its
    /// per-customer counts in every profile, the `customer` of open findings and queued events,
    /// and evidence values equal to it. Returns how many places were cleaned. Profiles changed
    /// are marked changed (the next checkpoint rewrites their rows).
    ///
    /// Not erased, because they name no customer: the distinct-customer estimate of each
    /// profile (a HyperLogLog of hashes), and account keys in the PSD2 and breadth windows
    /// (unkeyed hashes of account ids, not tied to a customer; they leave with their 24-hour
    /// and rate windows).
    pub fn forget_customer(&mut self, customer: &str) -> usize {
        let text = customer.trim().to_ascii_lowercase();
        let mut n = 0;
        if let Ok(c) = text.parse::<CustomerId>() {
            let latest = self.latest;
            for p in self.profiles.values_mut() {
                if p.forget_customer(c.0) {
                    p.changed = latest;
                    n += 1;
                }
            }
        }
        n += self.alerts.forget_customer(&text);
        self.stats.customer_erasures += n as u64;
        n
    }

    /// Retention: drops the profiles whose latest request is more than `inactive` before
    /// `now_ns` (packet time) and returns their ids, smallest first, so the store deletes
    /// their rows. Their open findings, if any, close as usual.
    pub fn expire(&mut self, now_ns: u64, inactive: Duration) -> Vec<u64> {
        let span = u64::try_from(inactive.as_nanos()).unwrap_or(u64::MAX);
        let cutoff = now_ns.saturating_sub(span);
        let mut gone: Vec<u64> = self.profiles.iter().filter(|(_, p)| p.last_seen < cutoff).map(|(k, _)| *k).collect();
        gone.sort_unstable();
        for k in &gone {
            self.profiles.remove(k);
        }
        self.stats.consumers_expired += gone.len() as u64;
        gone
    }
}
