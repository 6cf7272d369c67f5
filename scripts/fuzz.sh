#!/usr/bin/env bash
# Runs the fuzz targets (fuzz/, docs/security.md "Fuzzing") for a bounded time each, one after
# the other: SECONDS_PER_TARGET (default 20, what CI runs from scripts/test.sh; `3600` for an
# hour each on demand). Targets may be named after the time; default all of them.
#
#   scripts/fuzz.sh                 # 20 s per target, every target
#   scripts/fuzz.sh 3600 http       # one hour of the HTTP parser
#
# Needs the nightly toolchain (cargo-fuzz builds with sanitizer-coverage flags only nightly
# accepts; the product itself builds on stable) and python3 (fuzz/seed.py). cargo-fuzz is built
# once into ~/.cache/apitap-tools (scripts/install-cargo-tool.sh). Before fuzzing, each target
# replays its regression inputs (fuzz/regressions/<target>); the corpora are seeded from the
# fixtures and ../shared (fuzz/seed.py) and grow across runs in
# ${CARGO_TARGET_DIR:-target}/fuzz/corpus. Fails if any target crashes, hangs (10 s for one
# input) or goes over 2 GiB, and prints the reproducer's path and the command that replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
source scripts/rust-env.sh
seconds=${1:-20}
shift || true
all=(capture decode defrag reassembly http h2 tls_hello tls_decrypt openapi graphql intel config)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2; exit 2; }

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "error: the nightly Rust toolchain is needed for fuzzing (cargo-fuzz) and is not installed;" >&2
  echo "       install it with: rustup toolchain install nightly --profile minimal" >&2
  exit 1
fi
command -v python3 >/dev/null || { echo "error: python3 is needed to seed the corpora (fuzz/seed.py)" >&2; exit 1; }

cargo_fuzz=$(scripts/install-cargo-tool.sh cargo-fuzz)
export PATH="$(dirname "$cargo_fuzz"):$PATH"
work="${CARGO_TARGET_DIR:-$repo/target}/fuzz"
mkdir -p "$work"
# Fuzzing is single-threaded per target; 2 GiB covers every target's documented limits.
opts=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1)

echo "building the fuzz targets (nightly, no sanitizer: the workspace has no unsafe code)"
# --sanitizer none: AddressSanitizer finds memory errors of unsafe code, of which the crates
# fuzzed have none, at twice the cost per input. Debug assertions and overflow checks stay on.
if ! (cd fuzz && CARGO_INCREMENTAL=0 cargo +nightly fuzz build --sanitizer none --debug-assertions \
  --target-dir "$work") >"$work/build.log" 2>&1; then
  tail -n 40 "$work/build.log" >&2
  echo "error: the fuzz targets did not build (log: $work/build.log)" >&2
  exit 1
fi
bin_dir="$work/x86_64-unknown-linux-gnu/release"
for t in "${targets[@]}"; do
  [ -x "$bin_dir/$t" ] || { echo "error: no fuzz target named $t (targets: ${all[*]})" >&2; exit 2; }
done

python3 fuzz/seed.py "$work/corpus"

passed=0
failed=()
summary=()
for t in "${targets[@]}"; do
  bin="$bin_dir/$t"
  artifacts="$work/artifacts/$t"
  mkdir -p "$artifacts" "$work/corpus/$t"
  # The largest input each target takes: a few frames; a connection's first requests; a
  # TLS 1.2 server flight with its certificate chain; specifications up to 128 KiB;
  # configuration files up to 64 KiB (the annotated example is 25 KiB); small capture files.
  case "$t" in
    capture) extra=(-max_len=20000) ;;
    http) extra=(-max_len=65536) ;;
    tls_hello) extra=(-max_len=20000) ;;
    openapi) extra=(-max_len=131072) ;;
    config) extra=(-max_len=65536) ;;
    *) extra=(-max_len=16384) ;;
  esac
  log="$work/$t.log"
  status=ok
  if [ -d "fuzz/regressions/$t" ] && [ -n "$(ls -A "fuzz/regressions/$t")" ]; then
    if ! "$bin" "${opts[@]}" "${extra[@]}" fuzz/regressions/"$t"/* >"$log" 2>&1; then
      echo "FAIL $t: a regression input crashes again (fuzz/regressions/$t); log: $log" >&2
      grep -E 'panicked|Running:' -A2 "$log" | head -20 >&2 || true
      failed+=("$t")
      continue
    fi
  fi
  if [ "$seconds" -gt 0 ]; then
    if ! "$bin" "$work/corpus/$t" "${opts[@]}" "${extra[@]}" -max_total_time="$seconds" \
      -artifact_prefix="$artifacts/" >"$log" 2>&1; then
      status=FAIL
    fi
  fi
  execs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
  summary+=("$(printf '%-12s %6ss %12s inputs run' "$t" "$seconds" "$execs")")
  if [ "$status" = ok ]; then
    passed=$((passed + 1))
  else
    failed+=("$t")
    echo "FAIL $t (log: $log)" >&2
    grep -E 'panicked at|ERROR: libFuzzer|SUMMARY' -A2 "$log" | head -20 >&2 || true
    for a in $(grep -oE "(crash|timeout|oom|leak|slow-unit)-[0-9a-f]+" "$log" | sort -u); do
      echo "  reproducer: $artifacts/$a" >&2
      echo "  replay it:  $bin $artifacts/$a" >&2
    done
  fi
done
printf '%s\n' "${summary[@]}"
echo "fuzz: $passed passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
