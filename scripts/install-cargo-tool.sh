#!/usr/bin/env bash
# Builds one of the cargo subcommands the checks use from crates.io, pinned, into a cache
# directory (APITAP_TOOLS, default ~/.cache/apitap-tools), and reuses it while its version
# matches; a fresh machine builds it from source (cargo-fuzz about 2 minutes on 2 cores,
# cargo-deny about 8). Prints the binary's path.
#
#   scripts/install-cargo-tool.sh cargo-fuzz   # libFuzzer driver (scripts/fuzz.sh), MIT OR Apache-2.0
#   scripts/install-cargo-tool.sh cargo-deny   # licences, bans, sources (scripts/supply-chain.sh), MIT OR Apache-2.0
set -euo pipefail
tool=${1:?usage: scripts/install-cargo-tool.sh cargo-fuzz|cargo-deny}
case "$tool" in
  cargo-fuzz) version=0.13.2 ;;
  cargo-deny) version=0.20.2 ;;
  *) echo "error: unknown tool $tool (cargo-fuzz or cargo-deny)" >&2; exit 2 ;;
esac
tools=${APITAP_TOOLS:-$HOME/.cache/apitap-tools}
root="$tools/$tool-$version"
bin="$root/bin/$tool"
mkdir -p "$tools"
# Runs started at the same time wait for one build rather than racing it.
exec 9>"$tools/.$tool.lock"
flock 9
if [ ! -x "$bin" ]; then
  echo "building $tool $version into $root" >&2
  CARGO_TARGET_DIR="$tools/target-$tool" cargo install --locked --quiet "$tool" \
    --version "$version" --root "$root" >&2 </dev/null
  rm -rf "$tools/target-$tool"
fi
echo "$bin"
