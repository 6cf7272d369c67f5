# Sourced by the other scripts: puts a rustup toolchain on PATH when there is one, and says
# whether the Rust on PATH is recent enough for apitap (the workspace's rust-version).
RUST_MIN=1.85
if [ -f "$HOME/.cargo/env" ]; then
  # shellcheck disable=SC1091
  source "$HOME/.cargo/env"
fi
rust_is_recent() {
  command -v cargo >/dev/null || return 1
  local v
  v=$(rustc --version 2>/dev/null | awk '{print $2}')
  [ -n "$v" ] && [ "$(printf '%s\n%s\n' "$RUST_MIN" "$v" | sort -V | head -n 1)" = "$RUST_MIN" ]
}
