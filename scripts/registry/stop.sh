#!/usr/bin/env bash
# Stop the local test registry (SIGTERM, bounded wait, then SIGKILL) and
# remove its state dir. Safe to run when nothing is running.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if pid=$(registry_pid); then
  stop_pid "$pid" "${STREAMCTL_REGISTRY_STOP_TIMEOUT:-20}"
fi
remove_state "$REGISTRY_STATE"
