//! Publishing to Kafka for the SOC: the `[kafka]` configuration, the classification of
//! librdkafka's errors, the bounded on-disk spool and the publisher that ties them together.
//! docs/kafka.md is the operator's reference (settings, delivery guarantees, spool sizing,
//! what is not supported).
//!
//! The capture path calls [`Publisher::publish`] with an [`OutMessage`]; it never waits for
//! the brokers. Side effects (librdkafka's threads, the spool's files, the replay thread)
//! live here, in the binary, never in the sans-IO crates.


pub mod config;
pub mod error;
pub mod log;
pub mod message;
pub mod publisher;
pub mod spool;

pub use config::KafkaConfig;
pub use message::{OutMessage, Topic};
#[allow(unused_imports)] // Published, PublisherEvent, PublisherStats: used by tests/kafka_publisher.rs
pub use publisher::{FlushReport, Published, Publisher, PublisherEvent, PublisherStats};
