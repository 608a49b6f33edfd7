#!/usr/bin/env bash
# One broker of the three-broker test cluster, by id:
#   cluster-broker.sh kill ID    SIGKILL it (no controlled shutdown); returns once it is gone
#   cluster-broker.sh stop ID    SIGTERM it (controlled shutdown, bounded wait, then SIGKILL)
#   cluster-broker.sh start ID   start it again on its data dir; returns once it is registered
#   cluster-broker.sh pid ID     print its pid, or exit 1 if it is not running
# ID is 1, 2, 3 or "controller". The pids come from the state dir.
set -euo pipefail
# shellcheck source=cluster-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster-common.sh"

usage() {
  echo "usage: scripts/kafka/cluster-broker.sh kill|stop|start|pid ID" >&2
  exit 2
}
[[ $# -eq 2 ]] || usage
action=$1 node=$2
case $node in
  controller) ;;
  *) [[ -n ${CLUSTER_PORT[$node]:-} ]] || die "no broker $node (brokers: ${CLUSTER_BROKER_IDS[*]})" ;;
esac
[[ -f $(node_dir "$node")/server.properties ]] || die "no cluster in $CLUSTER_STATE (run scripts/kafka/cluster-start.sh)"

case $action in
  kill)
    if pid=$(node_pid "$node"); then
      kill -KILL "$pid"
      while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    fi
    ;;
  stop)
    if pid=$(node_pid "$node"); then
      stop_pid "$pid" "$CLUSTER_STOP_TIMEOUT"
    fi
    ;;
  start)
    if ! node_pid "$node" >/dev/null; then
      port=$(node_port "$node")
      deadline=$((SECONDS + CLUSTER_STOP_TIMEOUT))
      while port_open "$port"; do
        ((SECONDS < deadline)) || die "port $KAFKA_HOST:$port still in use"
        sleep 0.1
      done
      node_launch "$node"
    fi
    node_wait "$node"
    ;;
  pid) node_pid "$node" ;;
  *) usage ;;
esac
