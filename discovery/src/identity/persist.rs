//! The opaque-token links as data a store keeps across restarts, and erasure of what they name.
//!
//! A snapshot holds keyed hashes only (the token's, the client's, the customer's) and the
//! clients' non-secret descriptions (label, organisation id, certificate subject): never a
//! token. It records a check value of the key it was made under (the keyed hash of nothing),
//! so a restore knows whether its hashes are under the current key, the previous one (a
//! rotation: the links are found by the previous key's hash and moved as their tokens are seen
//! again), or neither (refused: such links can never match).

use serde::{Deserialize, Serialize};

use super::hash::{keyed, Domain};
use super::token::{ClientInfo, Issue};
use super::{CustomerId, IdSource, Identifier};

/// Version of the [`IdentitySnapshot`] encoding. Raised whenever a field is added, removed or
/// changes meaning; this version restores only its own (links are short-lived: another
/// format is refused and the links are learnt again at the next token issue).
pub const IDENTITY_SNAPSHOT_FORMAT: u32 = 1;

/// Longest label, organisation id or subject a restored client may hold, in bytes.
const MAX_CLIENT_TEXT: usize = 2048;

/// The token links of an [`Identifier`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IdentitySnapshot {
    /// [`IDENTITY_SNAPSHOT_FORMAT`] when written by this version.
    pub format: u32,
    /// The keyed hash of nothing under the key the hashes were made with (16 hex digits).
    pub key_check: String,
    /// The clients the links name.
    pub clients: Vec<ClientSnapshot>,
    /// The links, oldest first (the eviction order).
    pub links: Vec<LinkSnapshot>,
}

/// A client tokens are linked to.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClientSnapshot {
    /// Its consumer id.
    pub id: u64,
    /// How it authenticated at the token endpoint.
    pub source: IdSource,
    /// Its label.
    pub label: String,
    /// Its organisation identifier, from a client certificate.
    #[serde(default)]
    pub org_id: Option<String>,
    /// Its certificate subject.
    #[serde(default)]
    pub cert_subject: Option<String>,
}

/// One link: a token's keyed hash to its client.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LinkSnapshot {
    /// The token's keyed hash.
    pub token: u64,
    /// The client's consumer id (a [`ClientSnapshot::id`]).
    pub client: u64,
    /// The customer (keyed id) the token was issued for.
    #[serde(default)]
    pub customer: Option<u64>,
    /// Packet time (ns) after which the link no longer holds.
    pub expires: u64,
}

fn key_check(key: &[u8; 16]) -> String {
    format!("{:016x}", keyed(key, Domain::KeyCheck, &[]))
}

impl Identifier {
    /// The token links, for a checkpoint.
    pub fn snapshot(&self) -> IdentitySnapshot {
        let mut clients: Vec<ClientSnapshot> = Vec::new();
        let mut links = Vec::new();
        let mut named = std::collections::HashSet::new();
        for (token, client, customer, expires, info) in self.links.entries() {
            if named.insert(client) {
                clients.push(ClientSnapshot {
                    id: client,
                    source: info.source,
                    label: info.label.clone(),
                    org_id: info.org_id.clone(),
                    cert_subject: info.cert_subject.clone(),
                });
            }
            links.push(LinkSnapshot { token, client, customer, expires });
        }
        IdentitySnapshot { format: IDENTITY_SNAPSHOT_FORMAT, key_check: key_check(&self.key), clients, links }
    }

    /// Restores token links from a snapshot, after any already held, within
    /// `max_linked_tokens` (the oldest go first, counted as evicted). Links whose client is
    /// missing from the snapshot or whose texts are over-long are skipped. Returns the links
    /// restored.
    ///
    /// Errors: another format, or a snapshot made under a key that is neither the current nor
    /// the previous one (its hashes can never match; the message says what to do).
    pub fn restore_links(&mut self, snap: IdentitySnapshot) -> Result<usize, String> {
        if snap.format != IDENTITY_SNAPSHOT_FORMAT {
            return Err(format!(
                "identity snapshot format {} is not {IDENTITY_SNAPSHOT_FORMAT}, the one this version reads: start without the stored token \
                 links (they are learnt again at the next token issue)",
                snap.format
            ));
        }
        let old_key = if snap.key_check == key_check(&self.key) {
            false
        } else if self.prev_key.is_some_and(|k| snap.key_check == key_check(&k)) {
            true
        } else {
            return Err("identity snapshot made under another hashing key: its token links cannot match; after a key rotation set the \
                        old key as the previous key (see docs/behaviour.md), otherwise start without the stored token links"
                .into());
        };
        let max = self.cfg.max_linked_tokens;
        let clients: std::collections::HashMap<u64, ClientInfo> = snap
            .clients
            .into_iter()
            .filter(|c| [Some(&c.label), c.org_id.as_ref(), c.cert_subject.as_ref()].iter().flatten().all(|t| t.len() <= MAX_CLIENT_TEXT))
            .map(|c| (c.id, ClientInfo { source: c.source, label: c.label, org_id: c.org_id, cert_subject: c.cert_subject }))
            .collect();
        let mut n = 0usize;
        for l in snap.links {
            let Some(info) = clients.get(&l.client) else { continue };
            let issue = Issue { client: l.client, info, customer: l.customer, expires: l.expires };
            let churn = self.links.restore(l.token, &issue, old_key, max);
            self.stats.linked_tokens_evicted += churn.evicted;
            n += 1;
        }
        self.stats.linked_tokens_restored += n as u64;
        Ok(n.min(self.links.len()))
    }

    /// Removes every token link naming the consumer `id` (an erasure); returns how many.
    pub fn forget_consumer(&mut self, id: u64) -> usize {
        let n = self.links.forget_client(id);
        self.stats.linked_tokens_forgotten += n as u64;
        n
    }

    /// Removes the customer `customer` from every token link naming it (the links keep their
    /// client); returns how many.
    pub fn forget_customer(&mut self, customer: CustomerId) -> usize {
        let n = self.links.forget_customer(customer.0);
        self.stats.linked_tokens_forgotten += n as u64;
        n
    }

    /// Drops the links expired at packet time `now` (they are also dropped as identification
    /// goes on); returns how many.
    pub fn expire(&mut self, now: u64) -> usize {
        let churn = self.links.sweep(now);
        self.stats.linked_tokens_expired += churn.expired;
        usize::try_from(churn.expired).unwrap_or(usize::MAX)
    }

    /// The keyed ids a customer value (a JWT customer claim or a consent id, as the bank
    /// knows it) has, under the key and the previous one: what an erasure request is matched
    /// with ([`CustomerId`]'s text is what anomalies and profile summaries show).
    pub fn customer_ids_of(&self, value: &str) -> Vec<CustomerId> {
        customer_ids(&self.key, self.prev_key.as_ref(), value)
    }
}

/// The keyed ids a customer value has as a customer claim and as a consent id, under `key`
/// and, during a rotation, `previous`: what `apitap purge --customer-value` erases, without
/// an [`Identifier`] at hand.
pub fn customer_ids(key: &[u8; 16], previous: Option<&[u8; 16]>, value: &str) -> Vec<CustomerId> {
    let mut out = Vec::new();
    for key in std::iter::once(key).chain(previous) {
        for domain in [Domain::Customer, Domain::Consent] {
            out.push(CustomerId(keyed(key, domain, &[value.as_bytes()])));
        }
    }
    out
}
