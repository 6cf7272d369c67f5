//! What the rest of apitap hands to the publisher: a message for one of the four streams,
//! already serialised, with the key Kafka partitions it by.

use std::fmt;

use serde::Serialize;

/// The four streams apitap publishes. The Kafka topic name of each comes from
/// [`super::config::TopicsConfig`]; the spool stores this enum, not the name, so renaming a
/// topic in the configuration sends spooled messages to the new name after a restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// Anomaly findings, keyed by consumer id.
    Anomalies,
    /// Inventory changes, keyed by endpoint (fit for a compacted topic).
    Inventory,
    /// Sensor health, keyed by sensor id.
    Health,
    /// Transaction records (off unless `publish_transactions` is set).
    Transactions,
}

impl Topic {
    /// Every stream, in a fixed order.
    pub const ALL: [Topic; 4] = [Topic::Anomalies, Topic::Inventory, Topic::Health, Topic::Transactions];

    /// The byte stored for this stream in a spool record.
    pub(crate) fn code(self) -> u8 {
        match self {
            Topic::Anomalies => 0,
            Topic::Inventory => 1,
            Topic::Health => 2,
            Topic::Transactions => 3,
        }
    }

    /// The stream for a spool byte; `None` for a byte no version of apitap writes.
    pub(crate) fn from_code(code: u8) -> Option<Topic> {
        match code {
            0 => Some(Topic::Anomalies),
            1 => Some(Topic::Inventory),
            2 => Some(Topic::Health),
            3 => Some(Topic::Transactions),
            _ => None,
        }
    }

    /// The stream's name in configuration and logs.
    pub fn name(self) -> &'static str {
        match self {
            Topic::Anomalies => "anomalies",
            Topic::Inventory => "inventory",
            Topic::Health => "health",
            Topic::Transactions => "transactions",
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One message to publish. The publisher copies nothing it does not have to: the buffers move
/// into librdkafka's queue or into the spool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutMessage {
    /// Which stream.
    pub topic: Topic,
    /// The Kafka key: messages with the same topic and key keep their order (see
    /// docs/kafka.md). An empty key is sent as an empty key, not as a null one.
    pub key: Vec<u8>,
    /// The serialised message (JSON by default).
    pub payload: Vec<u8>,
}

impl OutMessage {
    /// A message for `topic` with `key` and `payload`.
    #[allow(dead_code)] // used by tests/kafka_publisher.rs
    pub fn new(topic: Topic, key: impl Into<Vec<u8>>, payload: impl Into<Vec<u8>>) -> OutMessage {
        OutMessage { topic, key: key.into(), payload: payload.into() }
    }

    /// Key plus payload: what counts against `max_message_bytes`.
    pub fn size(&self) -> usize {
        self.key.len().saturating_add(self.payload.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_topic_round_trips_through_its_spool_byte_and_bytes_are_distinct() {
        let mut seen = Vec::new();
        for t in Topic::ALL {
            assert_eq!(Topic::from_code(t.code()), Some(t));
            assert!(!seen.contains(&t.code()));
            seen.push(t.code());
        }
        assert_eq!(Topic::from_code(4), None);
        assert_eq!(Topic::from_code(255), None);
    }
}
