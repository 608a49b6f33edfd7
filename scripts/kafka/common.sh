# shellcheck shell=bash
# shellcheck disable=SC2034  # variables are used by the scripts that source this
# Shared settings for the local test-broker scripts. Sourced, not executed.

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

die() {
  echo "streamctl-kafka: error: $*" >&2
  exit 1
}

# port_open PORT: true if something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  (exec 3<>"/dev/tcp/$KAFKA_HOST/$1") 2>/dev/null
}

# libs_ready: true if fetch.sh completed for this version.
libs_ready() {
  [[ -f $KAFKA_LIBS/.complete ]] && [[ $(cat "$KAFKA_LIBS/.complete") == "$KAFKA_VERSION" ]]
}

# run_tool MAINCLASS ARGS...: run a Kafka Java tool from the cached jars.
run_tool() {
  local main=$1
  shift
  java "${KAFKA_TOOL_JVM_OPTS[@]}" -cp "$KAFKA_LIBS/*" "$main" "$@"
}

# broker_pid: print the pid of our running broker, or fail.
broker_pid() {
  local pid
  [[ -f $KAFKA_STATE/kafka.pid ]] || return 1
  pid=$(cat "$KAFKA_STATE/kafka.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Guard against pid reuse: the process must be our kafka.Kafka for this state dir.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $KAFKA_STATE/server.properties" || return 1
  echo "$pid"
}
