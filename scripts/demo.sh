#!/usr/bin/env bash
# Sets everything up and runs the main job on the bundled capture: installs the system
# packages, builds apitap, and reads fixtures/demo/open-banking-demo.pcap into out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# After the install: a toolchain rustup just installed is on PATH only once this is sourced.
source scripts/rust-env.sh
cargo build --release --locked
target/release/apitap read fixtures/demo/open-banking-demo.pcap --out out/demo
echo
echo "transactions written to out/demo/transactions.jsonl; the first three:"
head -n 3 out/demo/transactions.jsonl
