# shellcheck shell=bash
# shellcheck disable=SC2034  # variables are used by the scripts that source this
# Shared settings of the three-broker test cluster (cluster-*.sh). Sourced.
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

CLUSTER_STATE=${STREAMCTL_CLUSTER_STATE:-/tmp/streamctl-cluster}
CLUSTER_CONTROLLER_PORT=${STREAMCTL_CLUSTER_CONTROLLER_PORT:-59099}
CLUSTER_CONTROLLER_ID=100
CLUSTER_BROKER_IDS=(1 2 3)
declare -A CLUSTER_PORT=(
  [1]=${STREAMCTL_CLUSTER_PORT_1:-59091}
  [2]=${STREAMCTL_CLUSTER_PORT_2:-59092}
  [3]=${STREAMCTL_CLUSTER_PORT_3:-59093}
)
CLUSTER_BROKER_HEAP=${STREAMCTL_CLUSTER_BROKER_HEAP:-512m}
CLUSTER_CONTROLLER_HEAP=${STREAMCTL_CLUSTER_CONTROLLER_HEAP:-256m}
CLUSTER_START_TIMEOUT=${STREAMCTL_CLUSTER_START_TIMEOUT:-90}
CLUSTER_STOP_TIMEOUT=${STREAMCTL_CLUSTER_STOP_TIMEOUT:-30}

# node_dir NODE: the directory of NODE ("controller" or a broker id).
node_dir() {
  if [[ $1 == controller ]]; then
    echo "$CLUSTER_STATE/controller"
  else
    echo "$CLUSTER_STATE/broker-$1"
  fi
}

# node_pid NODE: print the pid of NODE if it runs, or fail.
node_pid() {
  local dir
  dir=$(node_dir "$1")
  server_pid "$dir/kafka.pid" "$dir/server.properties"
}

# node_port NODE: the port NODE listens on.
node_port() {
  if [[ $1 == controller ]]; then
    echo "$CLUSTER_CONTROLLER_PORT"
  else
    echo "${CLUSTER_PORT[$1]}"
  fi
}

# bootstrap_list: every broker's host:port, comma-separated.
bootstrap_list() {
  local id out=
  for id in "${CLUSTER_BROKER_IDS[@]}"; do
    out+=${out:+,}$KAFKA_HOST:${CLUSTER_PORT[$id]}
  done
  echo "$out"
}

# node_launch NODE: start NODE from its existing config and data dir.
node_launch() {
  local dir heap=$CLUSTER_BROKER_HEAP
  dir=$(node_dir "$1")
  [[ $1 == controller ]] && heap=$CLUSTER_CONTROLLER_HEAP
  echo "--- launch $(date -u +%FT%T)" >>"$dir/logs/kafka.out"
  launch_server "$dir/server.properties" "$dir/logs" "$heap" "$dir/kafka.pid"
}

node_fail() {
  local dir
  dir=$(node_dir "$1")
  shift
  echo "--- tail of $dir/logs/server.log" >&2
  tail -n 30 "$dir/logs/server.log" >&2 2>/dev/null || echo "(none)" >&2
  die "$*"
}

# broker_registered ID: true once broker ID is in the cluster metadata
# (unfenced) as seen through its own listener.
broker_registered() {
  local port=${CLUSTER_PORT[$1]}
  if command -v kcat >/dev/null; then
    timeout 10 kcat -L -J -m 5 -b "$KAFKA_HOST:$port" 2>/dev/null |
      grep -q "\"id\":$1,\"name\":\"$KAFKA_HOST:$port\""
  else
    timeout 30 java "${KAFKA_TOOL_JVM_OPTS[@]}" -cp "$KAFKA_LIBS/*" org.apache.kafka.tools.TopicCommand \
      --bootstrap-server "$KAFKA_HOST:$port" --list >/dev/null 2>&1
  fi
}

# node_wait NODE: wait until NODE is serving, or fail naming it.
node_wait() {
  local pid port deadline=$((SECONDS + CLUSTER_START_TIMEOUT))
  pid=$(cat "$(node_dir "$1")/kafka.pid")
  port=$(node_port "$1")
  while :; do
    kill -0 "$pid" 2>/dev/null || node_fail "$1" "kafka node $1 exited during start-up"
    ((SECONDS < deadline)) || node_fail "$1" "kafka node $1 not ready after ${CLUSTER_START_TIMEOUT}s"
    if port_open "$port" && { [[ $1 == controller ]] || broker_registered "$1"; }; then
      return 0
    fi
    sleep 0.3
  done
}
