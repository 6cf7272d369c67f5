#!/usr/bin/env bash
# Runs the whole test suite: unit, transcript, crafted-packet, capture-file, Zeek-oracle and
# live-capture and Kafka tests. The live test needs root (or CAP_NET_RAW), nginx and curl
# (scripts/install-deps.sh). The Zeek oracle reads ../shared/pcaps/zeek-oracle. The Kafka
# tests start a real broker (tansu), built from crates.io on first use (about 30 minutes on 2
# cores) and cached in ~/.cache/apitap-tools. Before the tests, the supply-chain checks
# (scripts/supply-chain.sh: licences, bans, sources); after them, when no test filter is given,
# every fuzz target replays its regression inputs and runs for APITAP_FUZZ_SECONDS (default 20)
# seconds (scripts/fuzz.sh; nightly Rust; about 3 minutes, 6 on a fresh machine), then the
# daemon soaks in hostile traffic under a memory cap for APITAP_SOAK_SECONDS (default 60;
# scripts/soak.sh). The soak runs the binary the tests just built (optimised, with overflow
# checks on, which is what a soak should catch); by hand, scripts/soak.sh builds the release one.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/rust-env.sh
# The Kafka tests' broker and independent client (built once, then cached; see the script).
kafka_env=$(scripts/install-kafka-tools.sh)
while IFS='=' read -r name value; do export "$name=$value"; done <<< "$kafka_env"
# The deploy files' independent checkers (hadolint, the Kubernetes schemas).
deploy_env=$(scripts/install-deploy-tools.sh)
while IFS='=' read -r name value; do export "$name=$value"; done <<< "$deploy_env"
scripts/supply-chain.sh
cargo test --workspace --locked "$@"
if [ $# -eq 0 ]; then
  scripts/fuzz.sh "${APITAP_FUZZ_SECONDS:-20}"
  SOAK_BIN="${SOAK_BIN:-${CARGO_TARGET_DIR:-target}/debug/apitap}" scripts/soak.sh "${APITAP_SOAK_SECONDS:-60}"
fi
