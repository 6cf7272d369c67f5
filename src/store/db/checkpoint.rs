//! Writing one checkpoint atomically, and loading the last one back.

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::error::{Result, SqlContext};
use super::files::{from_sql, iso, to_sql, wall_ns};
use super::records::{EndpointRow, FindingRow};
use super::retention::{DataKind, RetentionConfig};
use super::{meta, purge, set_meta, Store};

/// One whole-blob section of state ("inventory", "behaviour", "identity", "changes", ...),
/// encoded by the caller. The store keeps the latest blob per name.
#[derive(Debug, Clone, Copy)]
pub struct Section<'a> {
    /// The section's name (the `state` table's key).
    pub name: &'a str,
    /// The caller's encoding version, returned on load, so a newer daemon can tell an older
    /// encoding.
    pub format: u32,
    /// The encoded state.
    pub data: &'a [u8],
}

/// A section as loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSection {
    /// The caller's encoding version.
    pub format: u32,
    /// Packet time of the checkpoint that wrote it (unix ns).
    pub updated: u64,
    /// The encoded state.
    pub data: Vec<u8>,
}

/// A consumer (who calls the APIs): readable columns plus the caller-encoded profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRow {
    /// The consumer's id (a keyed hash, as the identity module makes it).
    pub id: String,
    /// A non-secret label (client name, certificate subject), when one is known.
    pub label: Option<String>,
    /// Where the identity came from (certificate, jwt, api key, ...).
    pub source: Option<String>,
    /// Packet time of its first request (unix ns).
    pub first_seen: u64,
    /// Packet time of its latest request (unix ns); retention counts from it.
    pub last_seen: u64,
    /// Requests seen.
    pub requests: u64,
    /// Of those, answered 4xx or 5xx.
    pub errors: u64,
    /// Distinct endpoints called.
    pub endpoints: u64,
    /// The caller's encoding version of `profile`.
    pub format: u32,
    /// The encoded behavioural profile, if any.
    pub profile: Option<Vec<u8>>,
}

/// A customer seen behind a consumer (PSD2: the account holder a third party acts for), so
/// that one customer's data can be found and erased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerLink {
    /// The consumer's id.
    pub consumer_id: String,
    /// The customer's id (a keyed hash).
    pub customer_id: String,
    /// Packet time of the latest request naming both (unix ns).
    pub last_seen: u64,
}

/// Everything one checkpoint writes. Fields left empty change nothing.
#[derive(Debug, Clone, Default)]
pub struct Checkpoint<'a> {
    /// Packet time of the checkpoint (unix ns).
    pub packet_time: u64,
    /// Sections to replace (others keep their last value).
    pub sections: &'a [Section<'a>],
    /// Consumers changed since the last checkpoint, inserted or replaced whole.
    pub consumers: &'a [ConsumerRow],
    /// Consumers the daemon forgot (evicted); their rows and customer links are deleted.
    pub removed_consumers: &'a [String],
    /// Customer links seen since the last checkpoint (`last_seen` only moves forward).
    pub customer_links: &'a [CustomerLink],
    /// Finding events since the last checkpoint; each finding keeps its highest version.
    pub findings: &'a [FindingRow],
    /// The latest inventory's endpoints: `Some` replaces the whole table, `None` keeps it.
    pub endpoints: Option<&'a [EndpointRow]>,
    /// Further `meta` keys to set (sensor id, ...).
    pub meta: &'a [(&'a str, &'a str)],
    /// Erasures ([`Store::pending_erasures`]) the daemon applied to its memory before encoding
    /// this checkpoint; they are marked applied in the same transaction.
    pub applied_erasures: &'a [i64],
    /// When set, rows past their retention (measured back from `packet_time`) are deleted in
    /// the same transaction. Not logged as erasures: the daemon expires its memory itself.
    /// Cheap (indexed deletes), so the daemon can pass it with every checkpoint.
    pub retention: Option<&'a RetentionConfig>,
}

/// What a checkpoint wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckpointStats {
    /// Sections replaced.
    pub sections: u64,
    /// Bytes of section blobs and profiles written.
    pub blob_bytes: u64,
    /// Consumer rows written.
    pub consumers: u64,
    /// Consumer rows deleted (forgotten by the daemon).
    pub consumers_removed: u64,
    /// Customer links written.
    pub customer_links: u64,
    /// Finding events written (an older version of a stored finding is not written).
    pub findings: u64,
    /// Findings deleted because the table was past [`super::StoreLimits::max_findings`].
    pub findings_dropped: u64,
    /// Endpoint rows written (when the checkpoint carried them).
    pub endpoints: u64,
    /// Rows deleted again because a pending erasure covers them (the daemon had not applied it
    /// yet when it encoded the checkpoint).
    pub erased_again: u64,
    /// Erasures marked applied.
    pub erasures_applied: u64,
    /// Rows deleted because they were past their retention ([`Checkpoint::retention`]).
    pub expired: u64,
}

/// The last checkpoint, as [`Store::load`] returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Its packet time (unix ns).
    pub packet_time: u64,
    /// Every section by name.
    pub sections: BTreeMap<String, StoredSection>,
    /// Every consumer row, by id.
    pub consumers: Vec<ConsumerRow>,
    /// Every customer link, by consumer then customer.
    pub customer_links: Vec<CustomerLink>,
}

impl Store {
    /// Writes one checkpoint in one transaction: after a `kill -9` the store holds either the
    /// previous checkpoint or this one. Pending erasures are applied again to the rows written,
    /// so an erased consumer or customer never comes back through a checkpoint encoded before
    /// the daemon saw the erasure.
    pub fn checkpoint(&mut self, cp: &Checkpoint<'_>) -> Result<CheckpointStats> {
        let path = self.path.clone();
        let p = path.as_path();
        let limits = self.limits;
        let mut st = CheckpointStats::default();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).sql(p, "start a checkpoint")?;
        let at = to_sql(cp.packet_time);
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT INTO state (section, format, updated, data) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(section) DO UPDATE SET format = excluded.format, updated = excluded.updated, data = excluded.data",
                )
                .sql(p, "prepare the state update")?;
            for s in cp.sections {
                put.execute(params![s.name, s.format, at, s.data]).sql(p, &format!("write state section {}", s.name))?;
                st.sections += 1;
                st.blob_bytes += s.data.len() as u64;
            }
        }
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT INTO consumers (id, label, source, first_seen, last_seen, requests, format, profile, errors, endpoints)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                     ON CONFLICT(id) DO UPDATE SET label = excluded.label, source = excluded.source,
                        first_seen = excluded.first_seen, last_seen = excluded.last_seen,
                        requests = excluded.requests, format = excluded.format, profile = excluded.profile,
                        errors = excluded.errors, endpoints = excluded.endpoints",
                )
                .sql(p, "prepare the consumer update")?;
            for c in cp.consumers {
                put.execute(params![
                    c.id,
                    c.label,
                    c.source,
                    to_sql(c.first_seen),
                    to_sql(c.last_seen),
                    to_sql(c.requests),
                    c.format,
                    c.profile,
                    to_sql(c.errors),
                    to_sql(c.endpoints)
                ])
                .sql(p, &format!("write consumer {}", c.id))?;
                st.consumers += 1;
                st.blob_bytes += c.profile.as_ref().map_or(0, |b| b.len() as u64);
            }
            for id in cp.removed_consumers {
                st.consumers_removed += tx.execute("DELETE FROM consumers WHERE id = ?1", [id]).sql(p, "delete a consumer")? as u64;
                tx.execute("DELETE FROM consumer_customers WHERE consumer_id = ?1", [id]).sql(p, "delete a consumer's links")?;
            }
        }
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT INTO consumer_customers (consumer_id, customer_id, last_seen) VALUES (?1, ?2, ?3)
                     ON CONFLICT(consumer_id, customer_id) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
                )
                .sql(p, "prepare the customer link update")?;
            for l in cp.customer_links {
                put.execute(params![l.consumer_id, l.customer_id, to_sql(l.last_seen)]).sql(p, "write a customer link")?;
                st.customer_links += 1;
            }
        }
        st.findings = super::records::upsert_findings(&tx, p, cp.findings)?;
        if let Some(endpoints) = cp.endpoints {
            st.endpoints = super::records::replace_endpoints(&tx, p, endpoints)?;
        }
        if !cp.findings.is_empty() {
            st.findings_dropped = super::records::enforce_limits(&tx, p, &limits)?;
        }
        if let Some(retention) = cp.retention {
            for data in DataKind::ALL {
                let kind = purge::ErasureKind::OlderThan { data, cutoff: retention.get(data).cutoff(cp.packet_time) };
                st.expired += purge::erase_rows(&tx, p, &kind)?.rows_deleted();
            }
        }
        let pending = purge::pending(&tx, p)?;
        for e in &pending {
            st.erased_again += purge::erase_rows(&tx, p, &e.kind)?.rows_deleted();
        }
        st.erasures_applied = purge::mark_applied(&tx, p, cp.applied_erasures)?;
        let written = iso(wall_ns());
        let items: [(&str, String); 4] = [
            (meta::LAST_CHECKPOINT, cp.packet_time.to_string()),
            (meta::LAST_CHECKPOINT_ISO, iso(cp.packet_time)),
            (meta::LAST_CHECKPOINT_WRITTEN, written),
            (meta::WRITER_VERSION, env!("CARGO_PKG_VERSION").to_string()),
        ];
        for (k, v) in &items {
            set_meta(&tx, k, v).sql(p, &format!("write meta key {k}"))?;
        }
        for (k, v) in cp.meta {
            set_meta(&tx, k, v).sql(p, &format!("write meta key {k}"))?;
        }
        tx.commit().sql(p, "commit the checkpoint")?;
        if st.erasures_applied > 0 {
            // The replaced sections still held the erased subject in the WAL's older frames.
            self.truncate_wal();
        }
        Ok(st)
    }

    /// The last checkpoint: every section and consumer row, or `None` when the store has never
    /// had one. Reads in one transaction, so it sees one checkpoint even while another
    /// connection writes. Holds every profile in memory at once (bounded by the daemon's
    /// `max_consumers` when it wrote them).
    pub fn load(&mut self) -> Result<Option<Loaded>> {
        let path = self.path.clone();
        let p = path.as_path();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Deferred).sql(p, "start reading")?;
        let Some(packet_time) = super::last_checkpoint(&tx, p)? else {
            return Ok(None);
        };
        let mut out = Loaded { packet_time, ..Loaded::default() };
        {
            let mut q = tx.prepare("SELECT section, format, updated, data FROM state ORDER BY section").sql(p, "read the state")?;
            let rows = q
                .query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, StoredSection { format: r.get(1)?, updated: from_sql(r.get(2)?), data: r.get(3)? }))
                })
                .sql(p, "read the state")?;
            for row in rows {
                let (name, s) = row.sql(p, "read a state section")?;
                out.sections.insert(name, s);
            }
        }
        {
            let mut q = tx
                .prepare("SELECT id, label, source, first_seen, last_seen, requests, format, profile, errors, endpoints FROM consumers ORDER BY id")
                .sql(p, "read the consumers")?;
            let rows = q
                .query_map([], |r| {
                    Ok(ConsumerRow {
                        id: r.get(0)?,
                        label: r.get(1)?,
                        source: r.get(2)?,
                        first_seen: from_sql(r.get(3)?),
                        last_seen: from_sql(r.get(4)?),
                        requests: from_sql(r.get(5)?),
                        format: r.get(6)?,
                        profile: r.get(7)?,
                        errors: from_sql(r.get(8)?),
                        endpoints: from_sql(r.get(9)?),
                    })
                })
                .sql(p, "read the consumers")?;
            for row in rows {
                out.consumers.push(row.sql(p, "read a consumer")?);
            }
        }
        {
            let mut q = tx
                .prepare("SELECT consumer_id, customer_id, last_seen FROM consumer_customers ORDER BY consumer_id, customer_id")
                .sql(p, "read the customer links")?;
            let rows = q
                .query_map([], |r| Ok(CustomerLink { consumer_id: r.get(0)?, customer_id: r.get(1)?, last_seen: from_sql(r.get(2)?) }))
                .sql(p, "read the customer links")?;
            for row in rows {
                out.customer_links.push(row.sql(p, "read a customer link")?);
            }
        }
        tx.commit().sql(p, "finish reading")?;
        Ok(Some(out))
    }

    /// One section of the last checkpoint, without loading the rest.
    pub fn section(&self, name: &str) -> Result<Option<StoredSection>> {
        self.conn
            .query_row("SELECT format, updated, data FROM state WHERE section = ?1", [name], |r| {
                Ok(StoredSection { format: r.get(0)?, updated: from_sql(r.get(1)?), data: r.get(2)? })
            })
            .optional()
            .sql(&self.path, &format!("read state section {name}"))
    }
}
