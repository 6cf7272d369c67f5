//! Erasure of one consumer or customer, purge by age, and the erasure log a running daemon
//! reads to forget the same data in memory.

use std::path::Path;

use rusqlite::{params, Transaction, TransactionBehavior};
use serde_json::Value;

use super::error::{Result, SqlContext, StoreError};
use super::files::{from_sql, iso, to_sql, wall_ns};
use super::retention::{DataKind, RetentionConfig};
use super::Store;

/// Shortest id accepted for erasure: ids are keyed hashes (16 hex digits), and erasure also
/// rewrites every JSON text containing the id, which a short string would match by accident.
pub const MIN_ID_CHARS: usize = 8;

/// Text that replaces an erased id inside JSON columns.
pub const ERASED: &str = "[erased]";

/// What to purge.
#[derive(Debug, Clone, Copy)]
pub enum Purge<'a> {
    /// Everything about one consumer: its profile row, its customer links, its findings, and
    /// its id inside the endpoints' and findings' JSON.
    Consumer(&'a str),
    /// Everything about one customer: its links to consumers, findings naming it, and its id
    /// inside JSON columns.
    Customer(&'a str),
    /// Rows last seen before `now` minus their kind's retention.
    Expired {
        /// The reference time (unix ns): packet time for the daemon, or the wall clock.
        now: u64,
        /// The periods.
        retention: &'a RetentionConfig,
    },
}

/// One entry of the erasure log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErasureKind {
    /// One consumer, by id.
    Consumer(String),
    /// One customer, by id.
    Customer(String),
    /// One kind of data last seen before `cutoff` (unix ns).
    OlderThan {
        /// Which kind.
        data: DataKind,
        /// The cutoff.
        cutoff: u64,
    },
}

/// An erasure as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    /// Its id (increasing).
    pub id: i64,
    /// When it was requested (ISO-8601, wall clock).
    pub requested_at: String,
    /// What. Once applied, a consumer or customer erasure no longer names its subject (the
    /// log must not keep the id it erased): `kind` then holds an empty id.
    pub kind: ErasureKind,
    /// When a daemon applied it to its memory (ISO-8601), `None` while pending.
    pub applied_at: Option<String>,
}

/// Rows one erasure removed or rewrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erased {
    /// `consumers` rows deleted.
    pub consumers: u64,
    /// `consumer_customers` rows deleted.
    pub customer_links: u64,
    /// `findings` rows deleted.
    pub findings: u64,
    /// `reports` rows deleted.
    pub reports: u64,
    /// Rows whose JSON mentioned the id and was rewritten without it.
    pub scrubbed: u64,
}

impl Erased {
    /// Rows deleted or rewritten.
    pub fn rows_deleted(&self) -> u64 {
        self.consumers + self.customer_links + self.findings + self.reports + self.scrubbed
    }

    fn add(&mut self, o: Erased) {
        self.consumers += o.consumers;
        self.customer_links += o.customer_links;
        self.findings += o.findings;
        self.reports += o.reports;
        self.scrubbed += o.scrubbed;
    }
}

/// What a purge did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeStats {
    /// Rows removed or rewritten.
    pub erased: Erased,
    /// The erasure log entries written, for the daemon to apply to its memory (and for the
    /// requester's ticket).
    pub erasures: Vec<i64>,
    /// True when the write-ahead log was emptied afterwards, so no copy of the erased rows
    /// remains in `-wal`; false when another connection (the daemon) was reading and the
    /// WAL is emptied later, at a checkpoint of SQLite's.
    pub wal_truncated: bool,
}

impl PurgeStats {
    /// Takes in the figures of the next purge of one request (a customer value erases several
    /// keyed ids): counts and log entries add up; the WAL state is the latest purge's.
    pub fn add(&mut self, next: PurgeStats) {
        self.erased.add(next.erased);
        self.erasures.extend(next.erasures);
        self.wal_truncated = next.wal_truncated;
    }
}

fn check_id(p: &Path, what: &str, id: &str) -> Result<()> {
    if id.trim() != id || id.chars().count() < MIN_ID_CHARS {
        return Err(StoreError::Invalid {
            path: p.to_path_buf(),
            what: format!(
                "{what} id {id:?} is too short or padded: give the id as the store shows it (16 hex digits, column {}), at least {MIN_ID_CHARS} characters",
                if what == "consumer" { "consumers.id" } else { "consumer_customers.customer_id" }
            ),
        });
    }
    Ok(())
}

/// Replaces `id` in every string and object key of `v`; true when something changed.
fn scrub_value(v: &mut Value, id: &str) -> bool {
    match v {
        Value::String(s) if s.contains(id) => {
            *s = s.replace(id, ERASED);
            true
        }
        Value::Array(items) => items.iter_mut().fold(false, |acc, item| scrub_value(item, id) | acc),
        Value::Object(map) => {
            let mut changed = false;
            let old = std::mem::take(map);
            for (k, mut val) in old {
                changed |= scrub_value(&mut val, id);
                let key = if k.contains(id) {
                    changed = true;
                    k.replace(id, ERASED)
                } else {
                    k
                };
                map.insert(key, val);
            }
            changed
        }
        _ => false,
    }
}

/// Rewrites the JSON columns that mention `id`. Text that is not JSON has the id replaced
/// as plain text.
fn scrub(tx: &Transaction<'_>, p: &Path, id: &str) -> Result<u64> {
    let mut n = 0;
    for (table, column) in [("findings", "data"), ("endpoints", "data"), ("reports", "endpoint_keys")] {
        let rows: Vec<(i64, String)> = {
            let mut q = tx
                .prepare(&format!("SELECT rowid, {column} FROM {table} WHERE instr({column}, ?1) > 0"))
                .sql(p, &format!("search {table} for the id"))?;
            let it = q.query_map([id], |r| Ok((r.get(0)?, r.get(1)?))).sql(p, &format!("search {table} for the id"))?;
            it.collect::<rusqlite::Result<_>>().sql(p, &format!("search {table} for the id"))?
        };
        for (rowid, text) in rows {
            let new = match serde_json::from_str::<Value>(&text) {
                Ok(mut v) => {
                    scrub_value(&mut v, id);
                    serde_json::to_string(&v).unwrap_or_else(|_| text.replace(id, ERASED))
                }
                Err(_) => text.replace(id, ERASED),
            };
            tx.execute(&format!("UPDATE {table} SET {column} = ?1 WHERE rowid = ?2"), params![new, rowid])
                .sql(p, &format!("rewrite {table} without the id"))?;
            n += 1;
        }
    }
    Ok(n)
}

/// Deletes (and rewrites) the rows an erasure covers.
pub(super) fn erase_rows(tx: &Transaction<'_>, p: &Path, kind: &ErasureKind) -> Result<Erased> {
    let mut e = Erased::default();
    let exec = |sql: &str, args: &[&dyn rusqlite::ToSql], doing: &str| -> Result<u64> {
        tx.execute(sql, args).map(|n| n as u64).sql(p, doing)
    };
    match kind {
        ErasureKind::Consumer(id) if !id.is_empty() => {
            e.consumers = exec("DELETE FROM consumers WHERE id = ?1", &[id], "erase the consumer")?;
            e.customer_links = exec("DELETE FROM consumer_customers WHERE consumer_id = ?1", &[id], "erase the consumer's links")?;
            e.findings = exec("DELETE FROM findings WHERE consumer_id = ?1", &[id], "erase the consumer's findings")?;
            e.scrubbed = scrub(tx, p, id)?;
        }
        ErasureKind::Customer(id) if !id.is_empty() => {
            e.customer_links = exec("DELETE FROM consumer_customers WHERE customer_id = ?1", &[id], "erase the customer's links")?;
            e.findings = exec("DELETE FROM findings WHERE customer_id = ?1", &[id], "erase the customer's findings")?;
            e.scrubbed = scrub(tx, p, id)?;
        }
        ErasureKind::Consumer(_) | ErasureKind::Customer(_) => {}
        ErasureKind::OlderThan { data, cutoff } => {
            let c = to_sql(*cutoff);
            match data {
                DataKind::ConsumerProfiles => {
                    e.customer_links = exec(
                        "DELETE FROM consumer_customers WHERE consumer_id IN (SELECT id FROM consumers WHERE last_seen < ?1)",
                        &[&c],
                        "purge the links of expired consumers",
                    )?;
                    e.consumers = exec("DELETE FROM consumers WHERE last_seen < ?1", &[&c], "purge expired consumers")?;
                }
                DataKind::CustomerLinks => {
                    e.customer_links =
                        exec("DELETE FROM consumer_customers WHERE last_seen < ?1", &[&c], "purge expired customer links")?;
                }
                DataKind::Findings => {
                    e.findings = exec("DELETE FROM findings WHERE last_seen < ?1", &[&c], "purge expired findings")?;
                }
                DataKind::Reports => {
                    e.reports = exec("DELETE FROM reports WHERE packet_time < ?1", &[&c], "purge expired reports")?;
                }
            }
        }
    }
    Ok(e)
}

/// An `erasures` row as stored, before its kind is checked.
struct RawErasure {
    id: i64,
    requested_at: String,
    kind: String,
    subject: Option<String>,
    cutoff: Option<i64>,
    applied_at: Option<String>,
}

fn read_erasure(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawErasure> {
    Ok(RawErasure { id: r.get(0)?, requested_at: r.get(1)?, kind: r.get(2)?, subject: r.get(3)?, cutoff: r.get(4)?, applied_at: r.get(5)? })
}

fn to_erasure(p: &Path, row: RawErasure) -> Result<Erasure> {
    let RawErasure { id, requested_at, kind, subject, cutoff, applied_at } = row;
    let subject = subject.unwrap_or_default();
    let kind = match (kind.as_str(), cutoff) {
        ("consumer", _) => ErasureKind::Consumer(subject),
        ("customer", _) => ErasureKind::Customer(subject),
        ("older_than", Some(c)) => match DataKind::from_name(&subject) {
            Some(data) => ErasureKind::OlderThan { data, cutoff: from_sql(c) },
            None => {
                return Err(StoreError::Corrupt {
                    path: p.to_path_buf(),
                    what: format!("erasures row {id}: unknown kind of data {subject:?}"),
                })
            }
        },
        _ => {
            return Err(StoreError::Corrupt {
                path: p.to_path_buf(),
                what: format!("erasures row {id}: kind {kind:?} without the cutoff it needs"),
            })
        }
    };
    Ok(Erasure { id, requested_at, kind, applied_at })
}

const ERASURE_COLUMNS: &str = "id, requested_at, kind, subject, cutoff, applied_at";

/// Erasures not yet applied by a daemon, oldest first.
pub(super) fn pending(conn: &rusqlite::Connection, p: &Path) -> Result<Vec<Erasure>> {
    let mut q = conn
        .prepare_cached(&format!("SELECT {ERASURE_COLUMNS} FROM erasures WHERE applied_at IS NULL ORDER BY id"))
        .sql(p, "read the pending erasures")?;
    let rows = q.query_map([], read_erasure).sql(p, "read the pending erasures")?;
    let mut out = Vec::new();
    for row in rows {
        out.push(to_erasure(p, row.sql(p, "read an erasure")?)?);
    }
    Ok(out)
}

/// Marks erasures applied and forgets whom they named.
pub(super) fn mark_applied(tx: &Transaction<'_>, p: &Path, ids: &[i64]) -> Result<u64> {
    let now = iso(wall_ns());
    let mut n = 0;
    for id in ids {
        n += tx
            .execute(
                "UPDATE erasures SET applied_at = ?1, subject = CASE WHEN kind = 'older_than' THEN subject ELSE NULL END
                 WHERE id = ?2 AND applied_at IS NULL",
                params![now, id],
            )
            .sql(p, "mark an erasure applied")? as u64;
    }
    Ok(n)
}

fn log(tx: &Transaction<'_>, p: &Path, kind: &ErasureKind) -> Result<i64> {
    let (k, subject, cutoff) = match kind {
        ErasureKind::Consumer(id) => ("consumer", id.as_str(), None),
        ErasureKind::Customer(id) => ("customer", id.as_str(), None),
        ErasureKind::OlderThan { data, cutoff } => ("older_than", data.name(), Some(to_sql(*cutoff))),
    };
    tx.execute(
        "INSERT INTO erasures (requested_at, kind, subject, cutoff) VALUES (?1, ?2, ?3, ?4)",
        params![iso(wall_ns()), k, subject, cutoff],
    )
    .sql(p, "log the erasure")?;
    Ok(tx.last_insert_rowid())
}

impl Store {
    /// Deletes what `what` covers in one transaction and logs the erasure, so that a running
    /// daemon forgets the same data in memory at its next checkpoint ([`Store::pending_erasures`]).
    /// Erased rows are overwritten (secure delete) and the write-ahead log is emptied when no
    /// other connection is reading. The state sections (encoded blobs) are not touched: the
    /// daemon rewrites them without the subject when it applies the erasure.
    pub fn purge(&mut self, what: &Purge<'_>) -> Result<PurgeStats> {
        let p = self.path.clone();
        let kinds: Vec<ErasureKind> = match *what {
            Purge::Consumer(id) => {
                check_id(&p, "consumer", id)?;
                vec![ErasureKind::Consumer(id.to_string())]
            }
            Purge::Customer(id) => {
                check_id(&p, "customer", id)?;
                vec![ErasureKind::Customer(id.to_string())]
            }
            Purge::Expired { now, retention } => DataKind::ALL
                .into_iter()
                .map(|data| ErasureKind::OlderThan { data, cutoff: retention.get(data).cutoff(now) })
                .collect(),
        };
        let mut stats = PurgeStats::default();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).sql(&p, "start the purge")?;
        for k in &kinds {
            stats.erased.add(erase_rows(&tx, &p, k)?);
            stats.erasures.push(log(&tx, &p, k)?);
        }
        tx.commit().sql(&p, "commit the purge")?;
        stats.wal_truncated = self.truncate_wal();
        Ok(stats)
    }

    /// Checkpoints the WAL into the store and empties it; false when a reader kept it.
    pub(super) fn truncate_wal(&self) -> bool {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0))
            .is_ok_and(|busy| busy == 0)
    }

    /// Erasures no daemon has applied yet, oldest first. The daemon applies each to its
    /// memory (forgets the consumer, customer or expired data) and passes their ids in
    /// [`super::Checkpoint::applied_erasures`], or calls [`Store::mark_applied`].
    pub fn pending_erasures(&self) -> Result<Vec<Erasure>> {
        pending(&self.conn, &self.path)
    }

    /// Marks erasures applied (they no longer name their subject). Returns how many were
    /// pending.
    pub fn mark_applied(&mut self, ids: &[i64]) -> Result<u64> {
        let p = self.path.clone();
        let tx = self.conn.transaction().sql(&p, "start marking erasures")?;
        let n = mark_applied(&tx, &p, ids)?;
        tx.commit().sql(&p, "commit the erasure marks")?;
        self.truncate_wal();
        Ok(n)
    }

    /// The whole erasure log, oldest first.
    pub fn erasures(&self) -> Result<Vec<Erasure>> {
        let mut q = self
            .conn
            .prepare(&format!("SELECT {ERASURE_COLUMNS} FROM erasures ORDER BY id"))
            .sql(&self.path, "read the erasure log")?;
        let rows = q.query_map([], read_erasure).sql(&self.path, "read the erasure log")?;
        let mut out = Vec::new();
        for row in rows {
            out.push(to_erasure(&self.path, row.sql(&self.path, "read an erasure")?)?);
        }
        Ok(out)
    }
}
