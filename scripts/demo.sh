#!/usr/bin/env bash
# Sets everything up and runs the main job on the bundled capture: installs the system
# packages, builds apitap, and reads fixtures/demo/open-banking-demo.pcap into out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# After the install: a toolchain rustup just installed is on PATH only once this is sourced.
source scripts/rust-env.sh
cargo build --release --locked
target/release/apitap read fixtures/demo/open-banking-demo.pcap --out out/demo \
    --spec fixtures/specs/ob-uk/account-info-openapi.yaml \
    --spec fixtures/specs/ob-uk/payment-initiation-openapi.yaml
echo
echo "transactions written to out/demo/transactions.jsonl; the first three:"
head -n 3 out/demo/transactions.jsonl
echo
echo "endpoint inventory in out/demo/inventory.json (reconstructed spec: out/demo/openapi.yaml); endpoints with traffic:"
python3 - <<'PY' 2>/dev/null || true
import json
inv = json.load(open("out/demo/inventory.json"))
for e in inv["endpoints"]:
    if e["hits"]:
        print(f"  {e['classification']:<10} {e['method']:<5} {e['host']}{e['path']}  ({e['hits']} hits)")
print("  summary:", {k: v for k, v in inv["summary"].items() if isinstance(v, int)})
PY
