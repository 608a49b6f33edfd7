#!/usr/bin/env bash
# Stop the local test broker (SIGTERM, bounded wait, then SIGKILL) and remove
# its state dir. Safe to run when nothing is running.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if pid=$(broker_pid); then
  stop_pid "$pid" "${STREAMCTL_KAFKA_STOP_TIMEOUT:-30}"
fi
remove_state "$KAFKA_STATE"
