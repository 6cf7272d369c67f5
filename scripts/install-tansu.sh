#!/usr/bin/env bash
# Builds the Kafka-protocol broker the integration tests start on loopback: tansu (crates.io,
# Apache-2.0), pinned. The first build takes about 25 minutes on 2 cores, so the binary is kept
# in a cache directory (APITAP_TOOLS, default ~/.cache/apitap-tools) and reused while its
# version matches; a fresh machine builds it from source. Prints the binary's path.
set -euo pipefail
version=0.6.0
features=dynostore,libsql
tools=${APITAP_TOOLS:-$HOME/.cache/apitap-tools}
root="$tools/tansu-$version"
bin="$root/bin/tansu"
if [ ! -x "$bin" ]; then
  echo "building tansu $version (features $features) into $root; this takes a while" >&2
  mkdir -p "$tools"
  CARGO_TARGET_DIR="$tools/target-tansu" cargo install --locked --quiet tansu \
    --version "$version" --features "$features" --root "$root" >&2 </dev/null
  rm -rf "$tools/target-tansu"
fi
echo "$bin"
