#!/usr/bin/env bash
# Stop the local test registry (SIGTERM, bounded wait, then SIGKILL) and
# remove its state dir. Safe to run when nothing is running.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

STOP_TIMEOUT=${STREAMCTL_REGISTRY_STOP_TIMEOUT:-20}

if pid=$(registry_pid); then
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "streamctl-registry: registry $pid ignored SIGTERM for ${STOP_TIMEOUT}s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
fi
case $REGISTRY_STATE in
  "" | / | "$HOME") die "refusing to remove state dir '$REGISTRY_STATE'" ;;
esac
rm -rf "$REGISTRY_STATE"
