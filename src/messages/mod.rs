//! What apitap publishes on each stream, as bytes: the JSON payload and the Kafka key of every
//! message, built from the pipeline's own values. Pure: no clock, no I/O; the caller passes
//! wall time where a message needs it (health lag), and gets the publisher's own
//! [`OutMessage`].
//!
//! | Stream | Builder | Key | Schema |
//! |---|---|---|---|
//! | anomalies | [`anomaly`], [`anomaly_value`] | consumer id, else finding id | `docs/schemas/anomaly.schema.json` |
//! | inventory | [`inventory_change`] | endpoint key | `docs/schemas/inventory-change.schema.json` |
//! | health | [`HealthTracker::message`] | sensor id | `docs/schemas/health.schema.json` |
//! | transactions | [`transaction`] | connection uid | `docs/schemas/transaction.schema.json` |
//!
//! Timestamps: every timestamp apitap adds is packet time (or, for `wall_time`, the sensor's
//! clock) as RFC 3339 in UTC with milliseconds, `2026-03-28T06:00:00.000Z`, the inventory's and
//! the anomaly `unmapped` section's convention. Durations are numbers with their unit in the
//! name (`lag_ms`). Two older layouts keep their own: the anomaly message's OCSF attributes
//! (epoch milliseconds, as OCSF requires) and the transaction record's Zeek `ts` (epoch seconds).
//! Layouts and examples: `docs/messages.md`.


mod health;
mod inventory;
mod records;

#[allow(unused_imports)] // the schema versions and anomaly_value/anomaly_key: used by tests/message_schemas.rs
pub use health::{flat_counters, HealthInput, HealthTracker, HEALTH_SCHEMA_VERSION};
#[allow(unused_imports)]
pub use inventory::{inventory_change, INVENTORY_CHANGE_SCHEMA_VERSION};
#[allow(unused_imports)]
pub use records::{anomaly, anomaly_key, anomaly_value, transaction};

use crate::kafka::{OutMessage, Topic};

impl OutMessage {
    /// A message whose payload is `value` serialised. Serialising a `serde_json::Value`
    /// cannot fail (its map keys are strings), so the empty payload of the fallback is never
    /// sent in practice.
    fn json(topic: Topic, key: impl Into<Vec<u8>>, value: &serde_json::Value) -> OutMessage {
        OutMessage { topic, key: key.into(), payload: serde_json::to_vec(value).unwrap_or_default() }
    }
}
