#!/usr/bin/env bash
# Creates (once) a Python virtual environment with Confluent's Python client
# (confluent-kafka and its schema-registry serializers, pinned in
# requirements.txt beside this script) for the real-registry tier, and prints
# the path of its python on stdout:
#
#   export STREAMCTL_SR_PYTHON=$(scripts/registry/venv.sh)
#
# The venv is cached in ${STREAMCTL_SR_VENV:-$HOME/.cache/streamctl/sr-venv-HASH},
# HASH naming the requirements, so a changed pin builds a new one; once it is
# complete a run only checks that it imports the serializers. Everything but
# the final path goes to stderr. Exits 1 with a message when python3, its venv
# module, pip or the package index is not to be had.
#
# Env: STREAMCTL_SR_VENV (venv dir), STREAMCTL_SR_PYTHON3 (the python to build
# it with, default python3).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REQS=$HERE/requirements.txt
HASH=$(md5sum "$REQS" | cut -c1-10)
VENV=${STREAMCTL_SR_VENV:-$HOME/.cache/streamctl/sr-venv-$HASH}
PY=${STREAMCTL_SR_PYTHON3:-python3}
# Written last: a venv without it was interrupted and is rebuilt.
DONE=$VENV/.streamctl-complete

say() { echo "sr-venv: $*" >&2; }
die() { say "$*"; exit 1; }

ready() {
	[[ -f $DONE ]] && "$VENV/bin/python" - <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
# The imports themselves are the check.
from confluent_kafka.schema_registry.avro import AvroSerializer  # noqa: F401
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer  # noqa: F401
from confluent_kafka.schema_registry.json_schema import JSONSerializer  # noqa: F401
import grpc_tools.protoc  # noqa: F401
sys.exit(version("confluent-kafka") != "2.16.1")
PY
}

mkdir -p "$(dirname "$VENV")"
# Serialise concurrent builds of the same venv on one lock.
exec 9>"$VENV.lock"
flock 9
if ready; then
	echo "$VENV/bin/python"
	exit 0
fi

command -v "$PY" >/dev/null || die "$PY not found
hint: install Python 3.9 or newer, or point STREAMCTL_SR_PYTHON3 at one"
"$PY" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 9))' ||
	die "$("$PY" --version 2>&1) is older than confluent-kafka's serializers need (3.9)"

start=$SECONDS
say "creating $VENV with confluent-kafka 2.16.1 (20-60 s the first time: wheels only)"
rm -rf "$VENV"
"$PY" -m venv "$VENV" >&2 || die "$PY -m venv failed
hint: on Debian, apt-get install python3-venv"
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check --no-input "$@" >&2; }
pip install --quiet --upgrade pip ||
	die "pip cannot reach the package index (see above)
hint: set PIP_INDEX_URL to a reachable mirror"
pip install --quiet --only-binary=:all: -r "$REQS" ||
	die "pip install -r $REQS failed (see above)"
touch "$DONE"
ready || die "$VENV was built but cannot import confluent-kafka's serializers (see above)"
say "ready in $((SECONDS - start))s"
echo "$VENV/bin/python"
