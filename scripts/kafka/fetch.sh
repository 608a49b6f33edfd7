#!/usr/bin/env bash
# Fetch Apache Kafka (broker + tools + log4j2 backend) from Maven Central into
# ${STREAMCTL_KAFKA_HOME:-$HOME/.cache/streamctl/kafka-<version>}/libs and print
# that directory. Cached: a second run does not start Maven.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if libs_ready; then
  echo "$KAFKA_LIBS"
  exit 0
fi

command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
command -v java >/dev/null || die "java not found (apt-get install openjdk-17-jre-headless)"

mkdir -p "$KAFKA_HOME_DIR"
# Serialise concurrent fetches (parallel test jobs) on one lock.
exec 9>"$KAFKA_HOME_DIR/.fetch.lock"
flock 9
if libs_ready; then
  echo "$KAFKA_LIBS"
  exit 0
fi

tmp=$(mktemp -d "$KAFKA_HOME_DIR/libs.tmp.XXXXXX")
chmod 755 "$tmp"
log=$KAFKA_HOME_DIR/fetch.log
trap 'rm -rf "$tmp"' EXIT
if ! mvn -q -B -Dstyle.color=never -f "$KAFKA_SCRIPTS_DIR/pom.xml" \
  -Dkafka.version="$KAFKA_VERSION" \
  dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  die "maven could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION (full log: $log)"
fi
[[ -f $tmp/kafka_2.13-$KAFKA_VERSION.jar && -f $tmp/kafka-tools-$KAFKA_VERSION.jar ]] ||
  die "maven finished but the kafka jars are missing from $tmp (log: $log)"
echo "$KAFKA_VERSION" >"$tmp/.complete"
rm -rf "$KAFKA_LIBS"
mv "$tmp" "$KAFKA_LIBS"
trap - EXIT
echo "$KAFKA_LIBS"
