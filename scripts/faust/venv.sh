#!/usr/bin/env bash
# Creates (once) a Python virtual environment with faust-streaming for the
# Faust test tier, and prints the path of its python on stdout:
#
#   export STREAMCTL_FAUST_PYTHON=$(scripts/faust/venv.sh)
#   go test -count=1 -run Faust ./faust/
#
# The venv is cached in ${STREAMCTL_FAUST_VENV:-$HOME/.cache/streamctl/faust-venv-VERSION};
# once it is complete a run only checks that it imports the pinned Faust.
# Everything but the final path goes to stderr. Exits 1 with a message when
# python3, its venv module, pip or the package index is not to be had.
#
# Env: STREAMCTL_FAUST_VENV (venv dir), STREAMCTL_FAUST_PYTHON3 (the python to
# build it with, default python3), STREAMCTL_FAUST_VERSION (faust-streaming
# version, default the one the tier is tested with, pinned below).
set -euo pipefail

VERSION=${STREAMCTL_FAUST_VERSION:-0.15.3}
VENV=${STREAMCTL_FAUST_VENV:-$HOME/.cache/streamctl/faust-venv-$VERSION}
PY=${STREAMCTL_FAUST_PYTHON3:-python3}
# Written last: a venv without it was interrupted and is rebuilt.
DONE=$VENV/.streamctl-complete

say() { echo "faust-venv: $*" >&2; }
die() { say "$*"; exit 1; }

ready() {
	[[ -f $DONE ]] && "$VENV/bin/python" - "$VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
import faust  # noqa: F401  (the import itself is the check)
sys.exit(version("faust-streaming") != sys.argv[1])
PY
}

if ready; then
	echo "$VENV/bin/python"
	exit 0
fi

command -v "$PY" >/dev/null || die "$PY not found
hint: install Python 3.8-3.12, or point STREAMCTL_FAUST_PYTHON3 at one"
"$PY" -c 'import sys; sys.exit(not (3, 8) <= sys.version_info[:2] <= (3, 12))' ||
	die "$("$PY" --version 2>&1) is outside what faust-streaming $VERSION supports (3.8-3.12)
hint: point STREAMCTL_FAUST_PYTHON3 at another python"

start=$SECONDS
say "creating $VENV with faust-streaming==$VERSION (15-40 s the first time: all wheels on Python 3.11, nothing to compile)"
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
"$PY" -m venv "$VENV" >&2 || die "$PY -m venv failed
hint: on Debian, apt-get install python3-venv"
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check --no-input "$@" >&2; }
pip install --quiet --upgrade pip ||
	die "pip cannot reach the package index (see above)
hint: set PIP_INDEX_URL to a reachable mirror"
pip install --quiet "faust-streaming==$VERSION" ||
	die "pip install faust-streaming==$VERSION failed (see above)"
touch "$DONE"
ready || die "$VENV was built but cannot import faust (see above)"
say "ready in $((SECONDS - start))s"
echo "$VENV/bin/python"
