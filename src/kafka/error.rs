//! What a librdkafka error code means for the publisher: try again later, or stop and tell the
//! operator. One pure function, [`classify`], decides it, so every path (a refused `produce`,
//! a failed delivery report, a client-level error) follows the same policy and the policy is
//! tested without a broker.

use std::fmt;

use rdkafka::error::RDKafkaErrorCode;

/// How the publisher treats an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Transient (broker down or slow, leader moving, timeout, a purge the publisher itself
    /// asked for): the message is kept in the spool and sent again later.
    Retriable,
    /// Retrying on its own cannot succeed: an operator must change something. The kind says
    /// what, and whether the message is kept ([`FatalKind::keeps_message`]).
    Fatal(FatalKind),
}

/// Why an error is fatal. Each kind carries the sentence the operator reads in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FatalKind {
    /// The broker refused the credentials (SASL or TLS client certificate).
    Authentication,
    /// The cluster refused apitap's principal as a whole (no IDEMPOTENT_WRITE, or a
    /// transactional or delegation-token refusal).
    Authorization,
    /// The principal may not write to this topic.
    TopicAuthorization,
    /// The topic does not exist and the broker does not create topics on first use.
    UnknownTopic,
    /// The message is larger than the broker or topic accepts.
    MessageTooLarge,
    /// The broker rejected this record (invalid record, timestamp or compression for the topic).
    InvalidMessage,
    /// The client configuration is invalid or not supported by the broker.
    InvalidConfig,
    /// The producer instance hit a fatal error (idempotence broken, fenced) and cannot produce
    /// until apitap is restarted.
    ProducerFatal,
    /// Any other code librdkafka hands back after its own retries.
    Other,
}

impl FatalKind {
    /// Whether a message that failed this way is kept in the spool (true) or dropped and
    /// counted (false). Kinds that stop every stream alike (credentials, the cluster's
    /// permission, the configuration, a dead producer) keep the message: nothing else gets
    /// through either, and fixing them makes the same message deliverable. Kinds confined to
    /// one topic or one message drop it: the spool is one ordered queue for all streams, and a
    /// message held back for a missing topic would hold up the anomalies queued behind it.
    pub fn keeps_message(self) -> bool {
        match self {
            FatalKind::Authentication | FatalKind::Authorization | FatalKind::InvalidConfig | FatalKind::ProducerFatal => true,
            FatalKind::TopicAuthorization
            | FatalKind::UnknownTopic
            | FatalKind::MessageTooLarge
            | FatalKind::InvalidMessage
            | FatalKind::Other => false,
        }
    }

    /// The operator's sentence: what is wrong and what to change.
    pub fn operator_message(self) -> &'static str {
        match self {
            FatalKind::Authentication => {
                "the broker refused apitap's credentials: check [kafka.sasl] (mechanism, username, password file or variable) and the TLS client certificate, then restart apitap; messages are kept in the spool meanwhile"
            }
            FatalKind::Authorization => {
                "the cluster refused apitap's principal: grant it IDEMPOTENT_WRITE on the cluster; messages are kept in the spool and sent again"
            }
            FatalKind::TopicAuthorization => {
                "the broker refused to let apitap's principal write to a topic: grant it WRITE and DESCRIBE on the topic; messages for it are dropped (counted) until then, the other streams go on"
            }
            FatalKind::UnknownTopic => {
                "a topic does not exist and the broker does not create topics automatically: create it (see docs/kafka.md) or fix [kafka.topics]; messages for it are dropped (counted) until then, the other streams go on"
            }
            FatalKind::MessageTooLarge => {
                "a message is larger than the broker accepts: raise the topic's max.message.bytes (and kafka.max_message_bytes) or stop publishing large records; the message was dropped"
            }
            FatalKind::InvalidMessage => {
                "the broker rejected a record as invalid (record, timestamp or compression type): check the topic's settings; the message was dropped"
            }
            FatalKind::InvalidConfig => {
                "the Kafka client configuration is invalid or not supported by this broker: check [kafka] and [kafka.extra], then restart apitap; messages are kept in the spool meanwhile"
            }
            FatalKind::ProducerFatal => {
                "the Kafka producer hit a fatal error and cannot go on: restart apitap; messages are kept in the spool meanwhile"
            }
            FatalKind::Other => "the broker refused a message with an unexpected error; the message was dropped",
        }
    }
}

impl fmt::Display for FatalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FatalKind::Authentication => "authentication",
            FatalKind::Authorization => "authorization",
            FatalKind::TopicAuthorization => "topic authorization",
            FatalKind::UnknownTopic => "unknown topic",
            FatalKind::MessageTooLarge => "message too large",
            FatalKind::InvalidMessage => "invalid message",
            FatalKind::InvalidConfig => "invalid configuration",
            FatalKind::ProducerFatal => "producer fatal error",
            FatalKind::Other => "other",
        })
    }
}

/// Classifies a librdkafka error code.
///
/// The retriable list holds the conditions that end by themselves (connectivity, timeouts,
/// leadership and replica movement, throttling, a full local queue, purges the publisher
/// requested); librdkafka has already retried them internally when they reach a delivery
/// report, so seeing one means the broker was unreachable or slow for longer than
/// `message_timeout_ms`. Everything else needs a person; codes not listed are fatal
/// ([`FatalKind::Other`]) rather than retried forever, because a message that fails the same
/// unknown way on every attempt would hold up the spool behind it.
pub fn classify(code: RDKafkaErrorCode) -> ErrorClass {
    use RDKafkaErrorCode as C;
    match code {
        // Connectivity and time.
        C::BrokerTransportFailure
        | C::Resolve
        | C::MessageTimedOut
        | C::AllBrokersDown
        | C::OperationTimedOut
        | C::TimedOutQueue
        | C::RequestTimedOut
        | C::NetworkException
        | C::BrokerNotAvailable
        | C::DestroyBroker
        | C::BrokerDestroy
        | C::NodeUpdate
        | C::Retry
        | C::Interrupted
        | C::WaitCache
        | C::InProgress
        | C::PreviousInProgress
        | C::RebootstrapRequired
        // The local queue is full: the broker is slower than publish.
        | C::QueueFull
        // Purges the publisher asks for to keep order after a failure.
        | C::PurgeQueue
        | C::PurgeInflight
        // Leadership, replicas and storage moving on the cluster.
        | C::LeaderNotAvailable
        | C::NotLeaderForPartition
        | C::ReplicaNotAvailable
        | C::PreferredLeaderNotAvailable
        | C::EligibleLeadersNotAvailable
        | C::FencedLeaderEpoch
        | C::UnknownLeaderEpoch
        | C::NotEnoughReplicas
        | C::NotEnoughReplicasAfterAppend
        | C::ISRInsufficient
        | C::KafkaStorageError
        | C::CoordinatorLoadInProgress
        | C::CoordinatorNotAvailable
        | C::NotCoordinator
        | C::NotController
        | C::ThrottlingQuotaExceeded
        | C::ConcurrentTransactions
        // The idempotent producer recovers from these by itself (epoch bump), and what it
        // hands back is a message that was not written.
        | C::OutOfOrderSequenceNumber
        | C::UnknownProducerId
        | C::InvalidProducerEpoch
        // A corrupt batch on the wire (CRC) is sent again.
        | C::InvalidMessage
        | C::BadMessage
        // UNKNOWN_SERVER_ERROR: the broker failed, not the message (a broker whose store
        // broke answers every request so until it is repaired or restarted); dropping would
        // lose every message of the outage.
        | C::Unknown => ErrorClass::Retriable,

        C::Authentication
        | C::SaslAuthenticationFailed
        | C::UnsupportedSASLMechanism
        | C::IllegalSASLState
        | C::SSL
        | C::UnacceptableCredential => ErrorClass::Fatal(FatalKind::Authentication),

        C::TopicAuthorizationFailed => ErrorClass::Fatal(FatalKind::TopicAuthorization),

        C::ClusterAuthorizationFailed
        | C::TransactionalIdAuthorizationFailed
        | C::DelegationTokenAuthorizationFailed
        | C::SecurityDisabled => ErrorClass::Fatal(FatalKind::Authorization),

        C::UnknownTopic | C::UnknownTopicOrPartition | C::UnknownPartition | C::UnknownTopicId | C::InvalidTopic => {
            ErrorClass::Fatal(FatalKind::UnknownTopic)
        }

        C::MessageSizeTooLarge | C::MessageBatchTooLarge | C::InvalidMessageSize => {
            ErrorClass::Fatal(FatalKind::MessageTooLarge)
        }

        C::InvalidRecord
        | C::InvalidTimestamp
        | C::BadCompression
        | C::UnsupportedCompressionType
        | C::UnsupportedForMessageFormat
        | C::KeySerialization
        | C::ValueSerialization
        | C::PolicyViolation => ErrorClass::Fatal(FatalKind::InvalidMessage),

        C::InvalidArgument
        | C::InvalidConfig
        | C::InvalidRequiredAcks
        | C::UnsupportedVersion
        | C::UnsupportedFeature
        | C::NotImplemented
        | C::NotConfigured
        | C::UnknownProtocol
        | C::InvalidRequest => ErrorClass::Fatal(FatalKind::InvalidConfig),

        C::Fatal | C::Fenced | C::ProducerFenced | C::GaplessGuarantee | C::Inconsistent | C::State => {
            ErrorClass::Fatal(FatalKind::ProducerFatal)
        }

        _ => ErrorClass::Fatal(FatalKind::Other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RDKafkaErrorCode as C;

    #[test]
    fn an_unreachable_or_slow_broker_is_retriable() {
        for code in [
            C::Unknown,
            C::MessageTimedOut,
            C::AllBrokersDown,
            C::BrokerTransportFailure,
            C::QueueFull,
            C::RequestTimedOut,
            C::NotEnoughReplicas,
            C::NotLeaderForPartition,
            C::LeaderNotAvailable,
            C::PurgeQueue,
            C::PurgeInflight,
            C::ThrottlingQuotaExceeded,
        ] {
            assert_eq!(classify(code), ErrorClass::Retriable, "{code:?}");
        }
    }

    #[test]
    fn the_fatal_cases_the_operator_must_fix_are_named() {
        let cases = [
            (C::SaslAuthenticationFailed, FatalKind::Authentication),
            (C::Authentication, FatalKind::Authentication),
            (C::SSL, FatalKind::Authentication),
            (C::TopicAuthorizationFailed, FatalKind::TopicAuthorization),
            (C::ClusterAuthorizationFailed, FatalKind::Authorization),
            (C::UnknownTopicOrPartition, FatalKind::UnknownTopic),
            (C::UnknownTopic, FatalKind::UnknownTopic),
            (C::MessageSizeTooLarge, FatalKind::MessageTooLarge),
            (C::InvalidRecord, FatalKind::InvalidMessage),
            (C::InvalidRequiredAcks, FatalKind::InvalidConfig),
            (C::InvalidConfig, FatalKind::InvalidConfig),
            (C::Fatal, FatalKind::ProducerFatal),
            (C::ProducerFenced, FatalKind::ProducerFatal),
        ];
        for (code, kind) in cases {
            assert_eq!(classify(code), ErrorClass::Fatal(kind), "{code:?}");
        }
    }

    #[test]
    fn an_unlisted_code_is_fatal_other_and_drops_the_message() {
        assert_eq!(classify(C::GroupMaxSizeReached), ErrorClass::Fatal(FatalKind::Other));
        assert!(!FatalKind::Other.keeps_message());
    }

    #[test]
    fn client_wide_faults_keep_the_message_and_topic_or_message_faults_drop_it() {
        assert!(FatalKind::Authentication.keeps_message());
        assert!(FatalKind::Authorization.keeps_message());
        assert!(!FatalKind::UnknownTopic.keeps_message());
        assert!(!FatalKind::TopicAuthorization.keeps_message());
        assert!(FatalKind::ProducerFatal.keeps_message());
        assert!(!FatalKind::MessageTooLarge.keeps_message());
        assert!(!FatalKind::InvalidMessage.keeps_message());
    }

    #[test]
    fn operator_messages_say_what_to_change() {
        assert!(FatalKind::Authentication.operator_message().contains("[kafka.sasl]"));
        assert!(FatalKind::UnknownTopic.operator_message().contains("create it"));
        assert!(FatalKind::MessageTooLarge.operator_message().contains("max.message.bytes"));
        assert!(FatalKind::Authorization.operator_message().contains("IDEMPOTENT_WRITE"));
        assert!(FatalKind::TopicAuthorization.operator_message().contains("WRITE and DESCRIBE"));
    }
}
