#!/usr/bin/env bash
# Run one of Kafka's Java command-line tools from the cached jars:
#   scripts/kafka/tool.sh NAME [ARGS...]
# e.g. tool.sh topics --bootstrap-server 127.0.0.1:19092 --list
# Logging is WARN and above on stderr; stdout carries only the tool's output.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  cat >&2 <<'USAGE'
usage: scripts/kafka/tool.sh NAME [ARGS...]
NAME is one of:
  console-producer     org.apache.kafka.tools.ConsoleProducer
  console-consumer     org.apache.kafka.tools.consumer.ConsoleConsumer
  consumer-groups      org.apache.kafka.tools.consumer.group.ConsumerGroupCommand
  topics               org.apache.kafka.tools.TopicCommand
  get-offsets          org.apache.kafka.tools.GetOffsetShell
  configs              org.apache.kafka.tools.ConfigCommand
  broker-api-versions  org.apache.kafka.tools.BrokerApiVersionsCommand
  verifiable-producer  org.apache.kafka.tools.VerifiableProducer
  verifiable-consumer  org.apache.kafka.tools.VerifiableConsumer
  storage              kafka.tools.StorageTool
  class FQCN           any other main class on the Kafka classpath
USAGE
  exit 2
}

[[ $# -ge 1 ]] || usage
name=$1
shift
case $name in
  console-producer) main=org.apache.kafka.tools.ConsoleProducer ;;
  console-consumer) main=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
  consumer-groups) main=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
  topics) main=org.apache.kafka.tools.TopicCommand ;;
  get-offsets) main=org.apache.kafka.tools.GetOffsetShell ;;
  configs) main=org.apache.kafka.tools.ConfigCommand ;;
  broker-api-versions) main=org.apache.kafka.tools.BrokerApiVersionsCommand ;;
  verifiable-producer) main=org.apache.kafka.tools.VerifiableProducer ;;
  verifiable-consumer) main=org.apache.kafka.tools.VerifiableConsumer ;;
  storage) main=kafka.tools.StorageTool ;;
  class)
    [[ $# -ge 1 ]] || usage
    main=$1
    shift
    ;;
  -h | --help | help) usage ;;
  *)
    echo "streamctl-kafka: error: unknown tool '$name'" >&2
    usage
    ;;
esac

libs_ready || "$KAFKA_SCRIPTS_DIR/fetch.sh" >/dev/null
exec java "${KAFKA_TOOL_JVM_OPTS[@]}" -cp "$KAFKA_LIBS/*" "$main" "$@"
