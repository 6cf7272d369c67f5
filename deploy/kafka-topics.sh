#!/usr/bin/env bash
# Creates apitap's topics with the settings they are meant for (Apache Kafka's
# kafka-topics.sh; KAFKA_BIN and BOOTSTRAP from the environment):
#   apitap.anomalies     keyed by consumer: 12 partitions keep each consumer's findings in
#                        order; kept 30 days.
#   apitap.inventory     keyed by endpoint, every message the endpoint's whole state:
#                        compacted, so the newest state of every endpoint stays.
#   apitap.health        keyed by sensor: kept 7 days.
#   apitap.transactions  keyed by connection (only with publish_transactions): kept 3 days.
set -euo pipefail
KAFKA_BIN=${KAFKA_BIN:-/opt/kafka/bin}
BOOTSTRAP=${BOOTSTRAP:?set BOOTSTRAP to host:port of a broker}
REPLICAS=${REPLICAS:-3}
create() {
  "$KAFKA_BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
    --replication-factor "$REPLICAS" --topic "$@"
}
day=86400000
create apitap.anomalies --partitions 12 --config retention.ms=$((30 * day)) --config min.insync.replicas=2
create apitap.inventory --partitions 6 --config cleanup.policy=compact --config min.insync.replicas=2
create apitap.health --partitions 3 --config retention.ms=$((7 * day))
create apitap.transactions --partitions 24 --config retention.ms=$((3 * day)) --config compression.type=producer
