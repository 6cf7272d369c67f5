//! The run's Kafka streams: anomalies and transaction records as they are produced, inventory
//! changes every [`INVENTORY_EVERY_NANOS`] of packet time and at the end, health every
//! [`HEALTH_EVERY`] of wall time and at the end. The same sink serves `read` (a recorded
//! capture replayed into the SIEM) and live capture. Publishing never blocks: the publisher
//! spools what the brokers do not take (docs/kafka.md).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use apitap_discovery::behaviour::{Anomaly, Producer};
use apitap_discovery::inventory::{ChangeConfig, ChangeTracker, Inventory};

use crate::kafka::{FlushReport, KafkaConfig, OutMessage, Publisher, Topic};
use crate::messages::{self, HealthInput, HealthTracker};
use crate::record::TransactionRecord;
use crate::summary::Summary;

/// Packet time between two inventory comparisons (the whole report is rebuilt each time):
/// fifteen minutes. A new endpoint's first use is an anomaly at once (shadow or zombie use);
/// the inventory stream follows within the quarter hour. Every five minutes cost a quarter of
/// a two-week replay's time (docs/performance.md).
pub const INVENTORY_EVERY_NANOS: u64 = 15 * 60 * 1_000_000_000;
/// Wall time between two health messages.
pub const HEALTH_EVERY: Duration = Duration::from_secs(60);
/// How long the end of a run waits for the brokers before leaving the rest in the spool.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Publishes one run's streams.
pub struct KafkaSink {
    publisher: Publisher,
    producer: Producer,
    changes: ChangeTracker,
    health: HealthTracker,
    next_inventory: u64,
    last_health: Instant,
    /// Whether transaction records are published (`publish_transactions`).
    transactions: bool,
}

fn wall_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl KafkaSink {
    /// Starts the publisher (which replays a spool left by an earlier run first).
    pub fn open(cfg: KafkaConfig, producer: Producer) -> Result<KafkaSink> {
        let brokers = cfg.brokers.join(",");
        let transactions = cfg.publishes(Topic::Transactions);
        let publisher = Publisher::new(cfg, &producer.sensor_id).with_context(|| format!("cannot start publishing to Kafka ({brokers})"))?;
        Ok(KafkaSink {
            publisher,
            producer,
            changes: ChangeTracker::new(ChangeConfig::default()),
            health: HealthTracker::new(),
            next_inventory: 0,
            last_health: Instant::now(),
            transactions,
        })
    }

    /// Carries on from a restored change tracker, so a restart does not announce every
    /// endpoint again as new.
    pub fn restore_changes(&mut self, snap: apitap_discovery::inventory::ChangeTrackerSnapshot, max_tracked: usize) -> Result<(), String> {
        self.changes = ChangeTracker::restore(ChangeConfig::default(), snap, max_tracked)?;
        Ok(())
    }

    /// The publisher's counters (for the metrics endpoint).
    pub fn publisher_stats(&self) -> crate::kafka::PublisherStats {
        self.publisher.stats()
    }

    /// The change tracker's state, for the daemon's checkpoints.
    pub fn changes_snapshot(&self) -> apitap_discovery::inventory::ChangeTrackerSnapshot {
        self.changes.snapshot()
    }

    fn send(&mut self, m: OutMessage) {
        // Every outcome is counted by the publisher; a drop is also reported as an event.
        let _ = self.publisher.publish(m);
    }

    /// A finding event.
    pub fn anomaly(&mut self, a: &Anomaly) {
        let m = messages::anomaly(a, &self.producer);
        self.send(m);
    }

    /// A finding event built as JSON already (an analyst's decision on a finding the
    /// detectors closed, from the store's copy).
    pub fn anomaly_value(&mut self, value: &serde_json::Value) {
        let m = messages::anomaly_value(value);
        self.send(m);
    }

    /// A transaction record, when the transactions stream is on (the message is not even
    /// built otherwise: this is once per transaction).
    pub fn transaction(&mut self, rec: &TransactionRecord) {
        if self.transactions {
            let m = messages::transaction(rec, &self.producer.sensor_id);
            self.send(m);
        }
    }

    /// Whether packet time passed the inventory interval (the first call only starts it).
    pub fn inventory_due(&mut self, packet_now: u64) -> bool {
        if packet_now == 0 || packet_now < self.next_inventory {
            return false;
        }
        let first = self.next_inventory == 0;
        self.next_inventory = packet_now.saturating_add(INVENTORY_EVERY_NANOS);
        !first
    }

    /// Publishes the inventory changes since the last comparison.
    pub fn inventory(&mut self, now: u64, inventory: &mut Inventory) {
        let report = inventory.report();
        for c in self.changes.handle_report(now, &report) {
            let m = messages::inventory_change(&c, &self.producer.sensor_id);
            self.send(m);
        }
    }

    /// Whether a health message is due (wall time).
    pub fn health_due(&self) -> bool {
        self.last_health.elapsed() >= HEALTH_EVERY
    }

    /// Publishes a health message with the run's counters so far.
    pub fn health(&mut self, packet_now: u64, summary: &Summary) {
        let publisher = messages::flat_counters(&self.publisher.stats());
        let input = HealthInput {
            sensor_id: &self.producer.sensor_id,
            version: &self.producer.version,
            packet_time: (packet_now > 0).then_some(packet_now),
            wall_time: wall_nanos(),
            summary,
            publisher: Some(&publisher),
        };
        let m = self.health.message(&input);
        self.send(m);
        self.last_health = Instant::now();
    }

    /// Reports what the publisher noticed (outages, drops, fatal errors) on standard error.
    pub fn report_events(&mut self) {
        for e in self.publisher.drain_events() {
            crate::kafka::log::line(&format!("kafka: {}", serde_json::to_string(&e).unwrap_or_default()));
        }
    }

    /// End of the run: the last inventory changes and health, then a flush of up to `timeout`
    /// ([`SHUTDOWN_TIMEOUT`] for a run that is not hurried); what the brokers did not confirm
    /// stays in the spool for the next run.
    pub fn finish(mut self, packet_now: u64, inventory: Option<&mut Inventory>, summary: &Summary, timeout: Duration) -> FlushReport {
        if let Some(inv) = inventory {
            self.inventory(packet_now, inv);
        }
        self.health(packet_now, summary);
        self.report_events();
        self.publisher.close(timeout)
    }
}
