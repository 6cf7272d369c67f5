#!/usr/bin/env bash
# Installs what apitap needs on Debian 12 to build, run and test: libpcap (capture), what the
# Kafka client library (librdkafka, compiled from source by the rdkafka crate) needs to build
# (a C toolchain, OpenSSL and zlib headers; SASL PLAIN and SCRAM are built in, no libsasl2), the
# real peers the tests use (nginx, curl, tcpdump; iproute2 for the veth pairs and the soak's
# network namespace; openssl and stunnel4 for TLS in front of the
# Kafka test broker; sqlite3 as the independent reader of the store; chromium and a font to
# render the HTML report in the browser tests; prometheus, whose promtool checks the metrics
# exposition and whose server scrapes the metrics endpoint in tests/metrics.rs: on a host
# running systemd the package also starts a Prometheus service on :9090, stop it with
# `systemctl disable --now prometheus` if unwanted) and, when no recent enough Rust is present,
# the stable Rust toolchain through rustup. The fuzz run (scripts/fuzz.sh) needs python3 and
# editcap (wireshark-common, beside tshark) for its seeds, a C++ compiler for libFuzzer
# (build-essential), and the nightly Rust toolchain, which this script does not install (CI
# machines have it; it says so when it is missing). Safe to run again; needs root or sudo for apt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
packages=(build-essential pkg-config iproute2 libpcap-dev libssl-dev zlib1g-dev nginx-light curl tcpdump tshark wireshark-common python3 tcpreplay heaptrack ca-certificates openssl stunnel4 sqlite3 prometheus chromium fonts-dejavu-core apache2-bin nghttp2-client python3-grpcio)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    as_root=()
  elif command -v sudo >/dev/null; then
    as_root=(sudo)
  else
    echo "error: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
fi
# shellcheck source=scripts/rust-env.sh
source "$here/rust-env.sh"
if ! rust_is_recent; then
  echo "installing the stable Rust toolchain with rustup (Rust $RUST_MIN or later is needed)"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain stable
  source "$here/rust-env.sh"
  rust_is_recent || { echo "error: Rust $RUST_MIN or later is still not on PATH" >&2; exit 1; }
fi
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "warning: no nightly Rust toolchain: scripts/fuzz.sh (run by scripts/test.sh) will stop;" \
    "install it with: rustup toolchain install nightly --profile minimal" >&2
fi
