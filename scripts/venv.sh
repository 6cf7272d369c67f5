# Sourced by the install-*-tools.sh scripts: `pinned_venv DIR "pkg==1 pkg2==2"` creates (or
# re-creates, when the pins changed) a Python virtual environment in DIR with exactly those
# packages. Quiet on standard output, which the callers keep for the lines to export.
pinned_venv() {
  local venv=$1 want=$2
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.pinned" 2>/dev/null)" != "$want" ]; then
    echo "creating $venv ($want)" >&2
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    # shellcheck disable=SC2086
    "$venv/bin/pip" install --quiet --disable-pip-version-check $want >&2 </dev/null
    echo "$want" > "$venv/.pinned"
  fi
}
