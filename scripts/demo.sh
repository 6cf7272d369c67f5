#!/usr/bin/env bash
# Sets everything up and runs the main job on the bundled capture: installs the system
# packages, builds apitap, and reads fixtures/demo/open-banking-demo.pcap into out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# After the install: a toolchain rustup just installed is on PATH only once this is sourced.
source scripts/rust-env.sh
cargo build --release --locked
# A demonstration key (ids stable between demo runs); a deployment sets its own secret.
APITAP_HASH_KEY="${APITAP_HASH_KEY:-demo-key-not-for-deployment}" \
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
echo
echo "anomalies in out/demo/anomalies.jsonl (OCSF Detection Findings, docs/anomalies.md); the findings opened:"
python3 - <<'PY' 2>/dev/null || true
import json
n = 0
for line in open("out/demo/anomalies.jsonl"):
    a = json.loads(line)
    u = a["unmapped"]
    if u["lifecycle"] == "new":
        n += 1
        print(f"  {u['kind']:<26} {a['severity']:<8} {a['message']}")
if n == 0:
    print("  none (the demo capture is short: most detectors need a baseline of days)")
PY
