#!/usr/bin/env bash
# Installs what the Kafka integration tests need besides apitap: the tansu broker (built from
# crates.io by scripts/install-tansu.sh, cached), and an independent Kafka client for reading
# back what apitap published: Python's confluent-kafka, with py-ocsf-models to validate the
# anomaly messages against the published OCSF Detection Finding model. Both Python packages are
# pinned and installed into a virtual environment in the same cache directory
# (APITAP_TOOLS, default ~/.cache/apitap-tools). TLS in front of the broker is stunnel
# (Debian's stunnel4, installed by scripts/install-deps.sh). Prints the lines to export.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/venv.sh
source "$here/venv.sh"
tools=${APITAP_TOOLS:-$HOME/.cache/apitap-tools}
venv="$tools/kafka-venv"
mkdir -p "$tools"
# Tests running at the same time wait for one build rather than racing it.
exec 9>"$tools/.kafka-tools.lock"
flock 9
tansu=$("$here/install-tansu.sh")
want="confluent-kafka==2.16.1 py-ocsf-models==0.10.0"
pinned_venv "$venv" "$want"
echo "APITAP_TANSU=$tansu"
echo "APITAP_KAFKA_PYTHON=$venv/bin/python"
