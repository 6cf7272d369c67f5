#!/usr/bin/env bash
# Runs the whole test suite: unit, transcript, crafted-packet, capture-file, Zeek-oracle and
# live-capture tests. The live test needs root (or CAP_NET_RAW), nginx and curl
# (scripts/install-deps.sh). The Zeek oracle reads ../shared/pcaps/zeek-oracle.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/rust-env.sh
cargo test --workspace --locked "$@"
