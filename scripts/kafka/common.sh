# shellcheck shell=bash
# shellcheck disable=SC2034  # variables are used by the scripts that source this
# Shared settings for the local test-broker scripts. Sourced, not executed.
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
LOG_NAME=streamctl-kafka

# Newest Kafka 4.x that Maven Central serves (checked with mvn dependency:get).
# fetch.sh passes this to Maven, so this line is the one place to bump it.
KAFKA_VERSION=4.4.0

KAFKA_SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KAFKA_HOME_DIR=${STREAMCTL_KAFKA_HOME:-$HOME/.cache/streamctl/kafka-$KAFKA_VERSION}
KAFKA_LIBS=$KAFKA_HOME_DIR/libs
KAFKA_STATE=${STREAMCTL_KAFKA_STATE:-/tmp/streamctl-kafka}

KAFKA_HOST=127.0.0.1
KAFKA_PORT=${STREAMCTL_KAFKA_PORT:-19092}
KAFKA_SASL_PORT=${STREAMCTL_KAFKA_SASL_PORT:-19093}
KAFKA_SSL_PORT=${STREAMCTL_KAFKA_SSL_PORT:-19094}
KAFKA_MTLS_PORT=${STREAMCTL_KAFKA_MTLS_PORT:-19095}
# A second SASL_PLAINTEXT listener whose sessions last KAFKA_REAUTH_MS
# (connections.max.reauth.ms, KIP-368): a client that does not authenticate
# again within it has its connection closed at its next request.
KAFKA_REAUTH_PORT=${STREAMCTL_KAFKA_REAUTH_PORT:-19096}
KAFKA_REAUTH_MS=${STREAMCTL_KAFKA_REAUTH_MS:-3000}
KAFKA_CONTROLLER_PORT=${STREAMCTL_KAFKA_CONTROLLER_PORT:-19099}

KAFKA_USER=alice
KAFKA_PASSWORD=alice-secret

# Short-lived CLI JVMs: class-data sharing on, C1 only, small serial heap, JVM
# warnings on stderr (never stdout, which carries the tools' data) and CDS
# mismatch chatter off.
KAFKA_TOOL_JVM_OPTS=(-Xshare:auto -XX:TieredStopAtLevel=1 -XX:+UseSerialGC
  -Xms32m -Xmx256m -Djava.awt.headless=true
  -Xlog:disable -Xlog:all=warning:stderr '-Xlog:cds*=off:stderr'
  "-Dlog4j2.configurationFile=$KAFKA_SCRIPTS_DIR/log4j2-tools.xml")

# AppCDS archive of Kafka client/tool classes (roughly halves tool start-up).
# start.sh dumps it once, after the broker is up; it is keyed on the JVM build
# so a JDK upgrade makes a new one instead of a mismatch; it lives inside libs/,
# so a re-fetch of the jars drops it.
kafka_cds_archive() {
  local java libjvm key
  java=$(readlink -f "$(command -v java)")
  libjvm=$(dirname "$(dirname "$java")")/lib/server/libjvm.so
  key=$( { echo "$java"; stat -c '%s %Y' "$libjvm" 2>/dev/null; } | md5sum | cut -c1-12)
  echo "$KAFKA_LIBS/.cds/tools-$key.jsa"
}
KAFKA_CDS=$(kafka_cds_archive)
if [[ -s $KAFKA_CDS ]]; then
  KAFKA_TOOL_JVM_OPTS+=("-XX:SharedArchiveFile=$KAFKA_CDS")
fi

# port_open PORT: true if something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  port_open_at "$KAFKA_HOST" "$1"
}

# libs_ready: true if fetch.sh completed for this version.
libs_ready() {
  fetched "$KAFKA_LIBS" "$KAFKA_VERSION"
}

# run_tool MAINCLASS ARGS...: run a Kafka Java tool from the cached jars.
run_tool() {
  local main=$1
  shift
  java "${KAFKA_TOOL_JVM_OPTS[@]}" -cp "$KAFKA_LIBS/*" "$main" "$@"
}

# server_pid PIDFILE PROPS: print the pid in PIDFILE if it is a live
# kafka.Kafka running PROPS, or fail.
server_pid() {
  local pid
  [[ -f $1 ]] || return 1
  pid=$(cat "$1")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Guard against pid reuse: the process must be our kafka.Kafka for this config.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $2" || return 1
  echo "$pid"
}

# broker_pid: print the pid of our running broker, or fail.
broker_pid() {
  server_pid "$KAFKA_STATE/kafka.pid" "$KAFKA_STATE/server.properties"
}

# launch_server PROPS LOGDIR HEAP PIDFILE: start kafka.Kafka PROPS in the
# background with the test JVM flags, logging into LOGDIR, and write its pid.
launch_server() {
  nohup java -Xms64m "-Xmx$3" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExplicitGCInvokesConcurrent \
    -Xshare:auto -Djava.awt.headless=true \
    "-Dlog4j2.configurationFile=$KAFKA_SCRIPTS_DIR/log4j2-broker.xml" \
    "-Dstreamctl.kafka.logdir=$2" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$1" \
    </dev/null >>"$2/kafka.out" 2>&1 &
  echo "$!" >"$4"
}
