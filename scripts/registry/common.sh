# shellcheck shell=bash
# shellcheck disable=SC2034  # variables are used by the scripts that source this
# Shared settings for the local test schema registry (Apicurio Registry, in
# memory, Confluent-compatible API). Sourced, not executed.
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
LOG_NAME=streamctl-registry

# 3.0.9 is the newest Apicurio that runs on Java 17 (3.3.x needs Java 21).
REGISTRY_VERSION=3.0.9
REGISTRY_ARTIFACT=io.apicurio:apicurio-registry-app:$REGISTRY_VERSION:tar.gz:all

REGISTRY_SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REGISTRY_HOME_DIR=${STREAMCTL_REGISTRY_HOME:-$HOME/.cache/streamctl/apicurio-$REGISTRY_VERSION}
REGISTRY_APP=$REGISTRY_HOME_DIR/app
REGISTRY_STATE=${STREAMCTL_REGISTRY_STATE:-/tmp/streamctl-registry}

REGISTRY_HOST=127.0.0.1
REGISTRY_PORT=${STREAMCTL_REGISTRY_PORT:-18081}
REGISTRY_URL=http://$REGISTRY_HOST:$REGISTRY_PORT/apis/ccompat/v7

# port_open PORT: true if something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  port_open_at "$REGISTRY_HOST" "$1"
}

# app_ready: true if fetch.sh completed for this version.
app_ready() {
  fetched "$REGISTRY_APP" "$REGISTRY_VERSION"
}

# runner_jar: the Quarkus runner jar inside the unpacked app.
runner_jar() {
  local jar
  jar=$(find "$REGISTRY_APP" -maxdepth 3 -name "apicurio-registry-app-*-runner.jar" -print -quit)
  [[ -n $jar ]] || return 1
  echo "$jar"
}

# registry_pid: print the pid of our running registry, or fail.
registry_pid() {
  local pid
  [[ -f $REGISTRY_STATE/registry.pid ]] || return 1
  pid=$(cat "$REGISTRY_STATE/registry.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Guard against pid reuse: the process must be our registry for this state dir.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-Dstreamctl.registry.state=$REGISTRY_STATE " || return 1
  echo "$pid"
}
