//! The anomaly and transaction messages: layouts that exist already (`anomalies.jsonl`,
//! `transactions.jsonl`), given a key and, for transactions, the sensor id.

use apitap_discovery::behaviour::{Anomaly, Producer};
use serde_json::Value;

use super::{OutMessage, Topic};
use crate::record::TransactionRecord;

/// The anomaly message: exactly the `anomalies.jsonl` line ([`Anomaly::to_json`], OCSF 2004),
/// keyed by [`anomaly_key`].
pub fn anomaly(a: &Anomaly, producer: &Producer) -> OutMessage {
    anomaly_value(&a.to_json(producer))
}

/// The anomaly message for an already-built anomaly JSON object (an `anomalies.jsonl` line
/// read back, a spooled finding): the payload is `value` unchanged.
pub fn anomaly_value(value: &Value) -> OutMessage {
    OutMessage::json(Topic::Anomalies, anomaly_key(value), value)
}

/// The key of an anomaly message: the consumer id (`unmapped.consumer.id`, 16 hex digits), so
/// every finding about one consumer lands in one partition, in order, and a SIEM correlates
/// them per consumer. Findings without a consumer (error spikes of a whole service or
/// endpoint) are keyed by their finding id (`unmapped.finding_id`, 32 hex digits): their
/// events stay in order, they spread over partitions instead of piling onto an empty key's
/// one, and the length tells the two kinds of key apart. Empty only for a value that is not
/// an anomaly message (neither field present).
pub fn anomaly_key(value: &Value) -> String {
    let unmapped = value.get("unmapped");
    let text = |v: Option<&Value>| v.and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    text(unmapped.and_then(|u| u.get("consumer")).and_then(|c| c.get("id")))
        .or_else(|| text(unmapped.and_then(|u| u.get("finding_id"))))
        .unwrap_or_default()
}

/// The transaction message: the `transactions.jsonl` record with `sensor_id` added, keyed by
/// the connection uid (`uid`). The connection, not the consumer: every record carries its
/// uid, while the consumer is only known once the identity layer has run (and not at all for
/// unauthenticated traffic); keying by connection keeps the exchanges of one connection in
/// order (`trans_depth`) in one partition, and spreads a busy consumer's many connections
/// over the partitions.
pub fn transaction(record: &TransactionRecord, sensor_id: &str) -> OutMessage {
    let mut value = serde_json::to_value(record).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.insert("sensor_id".into(), Value::String(sensor_id.to_string()));
    }
    OutMessage::json(Topic::Transactions, record.uid.as_bytes(), &value)
}
