#!/usr/bin/env bash
# Supply-chain checks of the product's dependency graph (Cargo.lock; docs/security.md, "Supply
# chain"): cargo-deny's licences (only those deny.toml lists), bans (no second version of a
# crate beyond the listed exceptions, no wildcard versions) and sources (crates.io only). These
# need no network beyond crates.io and fail the run on any finding.
#
# Advisories (the RustSec database, which `cargo deny check advisories` and `cargo audit`
# read) are checked only when a copy of the database is on disk: it is published as a GitHub
# repository, which these machines and CI cannot reach, and no package registry they reach
# carries it. Put a clone of it in APITAP_ADVISORY_DB (default ~/.cargo/advisory-dbs, where
# cargo-deny keeps it) to have it checked; otherwise the run says it was skipped.
#
# cargo-deny is built once from crates.io into ~/.cache/apitap-tools (scripts/install-cargo-tool.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/rust-env.sh
deny=$(scripts/install-cargo-tool.sh cargo-deny)
"$deny" deny --locked check licenses bans sources

db=${APITAP_ADVISORY_DB:-$HOME/.cargo/advisory-dbs}
if [ -n "$(find "$db" -name '*.md' -path '*crates*' -print -quit 2>/dev/null)" ]; then
  "$deny" deny --frozen check advisories
else
  echo "advisories: not checked: no RustSec advisory database in $db (it is fetched from GitHub," \
    "which this network does not reach; see docs/security.md)"
fi
