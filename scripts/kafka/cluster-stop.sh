#!/usr/bin/env bash
# Stop every process of the three-broker test cluster by the pids in its
# state dir (brokers first, then the controller; SIGTERM, bounded wait, then
# SIGKILL), and remove the state dir. Safe to run when nothing is running.
set -euo pipefail
# shellcheck source=cluster-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster-common.sh"

pids=()
for id in "${CLUSTER_BROKER_IDS[@]}"; do
  if pid=$(node_pid "$id"); then
    kill -TERM "$pid" 2>/dev/null || true
    pids+=("$pid")
  fi
done
# The brokers stop together: each waits for the controller, not for the others.
for pid in "${pids[@]}"; do
  stop_pid "$pid" "$CLUSTER_STOP_TIMEOUT"
done
if pid=$(node_pid controller); then
  stop_pid "$pid" "$CLUSTER_STOP_TIMEOUT"
fi
remove_state "$CLUSTER_STATE"
