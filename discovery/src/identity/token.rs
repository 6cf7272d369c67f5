//! Opaque tokens linked to the client they were issued to, learnt at the token endpoint.
//!
//! Only keyed hashes of tokens are held. Links expire on packet time and are bounded in
//! number; the oldest goes first. The client a link names is kept once however many of its
//! tokens are live, so a client rotating its token every few minutes costs one entry per live
//! token, not one label each.

use std::collections::{HashMap, VecDeque};

use super::IdSource;

/// The non-secret description of a client that tokens are linked to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClientInfo {
    /// How the client authenticated at the token endpoint.
    pub source: IdSource,
    /// Its label.
    pub label: String,
    /// Its organisation identifier, from a client certificate.
    pub org_id: Option<String>,
    /// Its certificate subject.
    pub cert_subject: Option<String>,
}

#[derive(Debug)]
struct Client {
    info: ClientInfo,
    /// Live links naming it; the entry goes with the last one.
    refs: usize,
}

#[derive(Copy, Clone, Debug)]
struct Link {
    client: u64,
    customer: Option<u64>,
    /// Packet time (ns) after which the link no longer holds.
    expires: u64,
    /// The token hash (and the client id) were made under the previous key: a link restored
    /// after a key rotation, moved to the current key's hash when its token is next seen.
    old_key: bool,
    /// Insertion number, matched against the eviction queue so stale queue entries are
    /// recognised.
    seq: u64,
}

/// What a token is linked to.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Issue<'a> {
    /// The client's consumer id.
    pub client: u64,
    /// Its description.
    pub info: &'a ClientInfo,
    /// The customer the token was issued for.
    pub customer: Option<u64>,
    /// Packet time (ns) after which the link no longer holds.
    pub expires: u64,
}

/// What a lookup found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Linked<'a> {
    /// The client's consumer id.
    pub client: u64,
    /// Its description.
    pub info: &'a ClientInfo,
    /// The customer the token was issued for, when the token response named one.
    pub customer: Option<u64>,
}

/// What changed in the table, for the counters.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Churn {
    /// Links dropped because the table was full.
    pub evicted: u64,
    /// Links dropped because they had expired.
    pub expired: u64,
}

/// Token hash to client, bounded by `max` links.
#[derive(Debug, Default)]
pub(crate) struct TokenLinks {
    links: HashMap<u64, Link>,
    clients: HashMap<u64, Client>,
    /// (token hash, seq) in insertion order: the eviction order.
    order: VecDeque<(u64, u64)>,
    next_seq: u64,
    /// Links with `old_key`.
    old_links: usize,
}

impl TokenLinks {
    /// Links `token` to the issue's client until it expires, replacing any earlier link of the
    /// same token. At `max` links the oldest is evicted first.
    pub fn link(&mut self, token: u64, issue: &Issue<'_>, now: u64, max: usize) -> Churn {
        let Issue { client, info, customer, expires } = *issue;
        let mut churn = self.sweep(now);
        self.remove(token);
        while self.links.len() >= max.max(1) {
            let Some((key, seq)) = self.order.pop_front() else { break };
            if self.links.get(&key).is_some_and(|l| l.seq == seq) {
                self.remove(key);
                churn.evicted += 1;
            }
        }
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.links.insert(token, Link { client, customer, expires, seq, old_key: false });
        self.order.push_back((token, seq));
        let entry = self.clients.entry(client).or_insert_with(|| Client { info: info.clone(), refs: 0 });
        // A client seen again with a richer description (a certificate this time) keeps it.
        if entry.info != *info {
            entry.info = info.clone();
        }
        entry.refs += 1;
        self.compact(max);
        churn
    }

    /// The link of `token`, if it holds at packet time `now`; an expired link is dropped.
    pub fn lookup(&mut self, token: u64, now: u64) -> (Option<Linked<'_>>, Churn) {
        let mut churn = Churn::default();
        let Some(link) = self.links.get(&token).copied() else { return (None, churn) };
        if now > link.expires {
            self.remove(token);
            churn.expired += 1;
            return (None, churn);
        }
        let found = self.clients.get(&link.client).map(|c| Linked {
            client: link.client,
            info: &c.info,
            customer: link.customer,
        });
        (found, churn)
    }

    /// Whether `token` is linked (expired or not).
    pub fn contains(&self, token: u64) -> bool {
        self.links.contains_key(&token)
    }

    /// Whether a link made under the previous key is held.
    pub fn has_old_links(&self) -> bool {
        self.old_links > 0
    }

    /// Restores one link (see [`TokenLinks::link`]); `old_key`: its token hash and client id
    /// were made under the previous key.
    pub fn restore(&mut self, token: u64, issue: &Issue<'_>, old_key: bool, max: usize) -> Churn {
        let churn = self.link(token, issue, 0, max);
        if old_key {
            if let Some(l) = self.links.get_mut(&token) {
                l.old_key = true;
                self.old_links += 1;
            }
        }
        churn
    }

    /// Moves the link found under the previous key's hash `old_hash` to the current key's hash
    /// `new_hash` of the same token; `false` when `old_hash` holds no such link.
    pub fn migrate(&mut self, old_hash: u64, new_hash: u64, max: usize) -> bool {
        let Some(link) = self.links.get(&old_hash).copied() else { return false };
        if !link.old_key {
            return false;
        }
        let Some(info) = self.clients.get(&link.client).map(|c| c.info.clone()) else { return false };
        self.remove(old_hash);
        let issue = Issue { client: link.client, info: &info, customer: link.customer, expires: link.expires };
        self.link(new_hash, &issue, 0, max);
        true
    }

    /// Whether any link names `client`.
    pub fn has_client(&self, client: u64) -> bool {
        self.clients.contains_key(&client)
    }

    /// Renames a client in every link (the same client under the new key); returns the links
    /// renamed.
    pub fn rekey_client(&mut self, old: u64, new: u64) -> usize {
        let Some(c) = self.clients.remove(&old) else { return 0 };
        let mut n = 0;
        for l in self.links.values_mut().filter(|l| l.client == old) {
            l.client = new;
            n += 1;
        }
        match self.clients.get_mut(&new) {
            Some(e) => e.refs += c.refs,
            None => {
                self.clients.insert(new, c);
            }
        }
        n
    }

    /// Removes every link naming `client` (an erasure); returns how many.
    pub fn forget_client(&mut self, client: u64) -> usize {
        let tokens: Vec<u64> = self.links.iter().filter(|(_, l)| l.client == client).map(|(t, _)| *t).collect();
        for t in &tokens {
            self.remove(*t);
        }
        tokens.len()
    }

    /// Removes a customer from every link naming it (the links stay, naming only their
    /// client); returns how many.
    pub fn forget_customer(&mut self, customer: u64) -> usize {
        let mut n = 0;
        for l in self.links.values_mut().filter(|l| l.customer == Some(customer)) {
            l.customer = None;
            n += 1;
        }
        n
    }

    /// The live links in eviction order (oldest first), with their clients' descriptions.
    pub fn entries(&self) -> Vec<(u64, u64, Option<u64>, u64, &ClientInfo)> {
        self.order
            .iter()
            .filter_map(|(token, seq)| {
                let l = self.links.get(token).filter(|l| l.seq == *seq)?;
                let c = self.clients.get(&l.client)?;
                Some((*token, l.client, l.customer, l.expires, &c.info))
            })
            .collect()
    }

    /// Drops expired links at the old end of the queue (amortised constant work per call).
    pub fn sweep(&mut self, now: u64) -> Churn {
        let mut churn = Churn::default();
        while let Some(&(key, seq)) = self.order.front() {
            match self.links.get(&key) {
                Some(l) if l.seq == seq && now <= l.expires => break,
                Some(l) if l.seq == seq => {
                    self.remove(key);
                    churn.expired += 1;
                }
                _ => {}
            }
            self.order.pop_front();
        }
        churn
    }

    fn remove(&mut self, token: u64) {
        let Some(link) = self.links.remove(&token) else { return };
        if link.old_key {
            self.old_links = self.old_links.saturating_sub(1);
        }
        if let Some(c) = self.clients.get_mut(&link.client) {
            c.refs = c.refs.saturating_sub(1);
            if c.refs == 0 {
                self.clients.remove(&link.client);
            }
        }
    }

    /// Rebuilds the queue without stale entries once they outnumber the live ones, so the
    /// queue stays within twice the bound however links come and go.
    fn compact(&mut self, max: usize) {
        if self.order.len() > max.max(1).saturating_mul(2).max(64) {
            let links = &self.links;
            self.order.retain(|(key, seq)| links.get(key).is_some_and(|l| l.seq == *seq));
        }
    }

    /// Live links.
    pub fn len(&self) -> usize {
        self.links.len()
    }

    /// Approximate heap bytes: table slots (with the hash map's control bytes), the queue, the
    /// client descriptions.
    pub fn memory_bytes(&self) -> usize {
        let slot = |entry: usize| entry + 1;
        let links = self.links.capacity() * slot(std::mem::size_of::<(u64, Link)>());
        let clients = self.clients.capacity() * slot(std::mem::size_of::<(u64, Client)>())
            + self
                .clients
                .values()
                .map(|c| {
                    c.info.label.capacity()
                        + c.info.org_id.as_ref().map_or(0, String::capacity)
                        + c.info.cert_subject.as_ref().map_or(0, String::capacity)
                })
                .sum::<usize>();
        links + clients + self.order.capacity() * std::mem::size_of::<(u64, u64)>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::too_many_arguments)]
    fn put(
        t: &mut TokenLinks,
        token: u64,
        client: u64,
        info: &ClientInfo,
        customer: Option<u64>,
        now: u64,
        expires: u64,
        max: usize,
    ) -> Churn {
        t.link(token, &Issue { client, info, customer, expires }, now, max)
    }

    fn info(label: &str) -> ClientInfo {
        ClientInfo { source: IdSource::Basic, label: label.into(), org_id: None, cert_subject: None }
    }

    #[test]
    fn links_expire_on_packet_time() {
        let mut t = TokenLinks::default();
        put(&mut t, 1, 100, &info("a"), Some(7), 0, 50, 10);
        let (found, _) = t.lookup(1, 50);
        assert_eq!(found, Some(Linked { client: 100, info: &info("a"), customer: Some(7) }));
        let (found, churn) = t.lookup(1, 51);
        assert_eq!((found, churn.expired), (None, 1));
        assert_eq!((t.len(), t.clients.len()), (0, 0));
    }

    #[test]
    fn oldest_link_is_evicted_first_and_clients_are_shared() {
        let mut t = TokenLinks::default();
        for token in 1..=3 {
            assert_eq!(put(&mut t, token, 100, &info("a"), None, 0, 1000, 3), Churn::default());
        }
        assert_eq!(t.clients.len(), 1);
        assert_eq!(t.clients[&100].refs, 3);
        let churn = put(&mut t, 4, 200, &info("b"), None, 0, 1000, 3);
        assert_eq!(churn.evicted, 1);
        assert!(t.lookup(1, 0).0.is_none());
        assert!(t.lookup(2, 0).0.is_some());
        assert_eq!(t.clients[&100].refs, 2);
    }

    #[test]
    fn relinking_moves_a_token_and_sweep_drops_expired() {
        let mut t = TokenLinks::default();
        put(&mut t, 1, 100, &info("a"), None, 0, 10, 5);
        put(&mut t, 2, 100, &info("a"), None, 0, 1000, 5);
        put(&mut t, 1, 200, &info("b"), None, 0, 1000, 5);
        assert_eq!(t.lookup(1, 0).0.map(|l| l.client), Some(200));
        assert_eq!(t.clients[&100].refs, 1);
        assert_eq!(t.sweep(2000).expired, 2);
        assert_eq!((t.len(), t.clients.len()), (0, 0));
    }

    #[test]
    fn queue_stays_bounded_under_churn() {
        let mut t = TokenLinks::default();
        for i in 0..10_000u64 {
            put(&mut t, i % 7, i, &info("x"), None, i, i + 5, 100);
        }
        assert!(t.order.len() <= 200, "{}", t.order.len());
        assert!(t.len() <= 7);
        assert!(t.clients.len() <= 7);
    }
}
