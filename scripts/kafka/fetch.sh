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

# fill TMP LOG: the broker's runtime jars, by the pom beside this script.
fill() {
  if ! mvn -q -B -Dstyle.color=never -f "$KAFKA_SCRIPTS_DIR/pom.xml" \
    -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$1" >"$2" 2>&1; then
    tail -n 40 "$2" >&2
    die "maven could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION (full log: $2)"
  fi
  [[ -f $1/kafka_2.13-$KAFKA_VERSION.jar && -f $1/kafka-tools-$KAFKA_VERSION.jar ]] ||
    die "maven finished but the kafka jars are missing from $1 (log: $2)"
}
fetch_into "$KAFKA_LIBS" "$KAFKA_VERSION" fill
