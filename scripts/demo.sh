#!/usr/bin/env bash
# The main job on a fresh machine: start the built-in broker, produce a few
# sample JSON messages, consume them to the end and print them. No Docker.
set -euo pipefail
bin=${1:-bin/streamctl}
port=${DEMO_PORT:-19192}
addr=127.0.0.1:$port
topic=example_kafka_topic

"$bin" broker --listen "$addr" --partitions 3 2>/tmp/streamctl-demo-broker.log &
broker=$!
trap 'kill $broker 2>/dev/null; wait $broker 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  grep -q 'listening' /tmp/streamctl-demo-broker.log 2>/dev/null && break
  sleep 0.1
done

echo "== streamctl produce $topic (keys split at ':')" >&2
printf '%s\n' \
  'alice:{"user":"alice","action":"login","n":1}' \
  'bob:{"user":"bob","action":"purchase","amount":12.5}' \
  'alice:{"user":"alice","action":"logout","n":2}' |
  "$bin" produce "$topic" -b "$addr" -K: -s json -v

echo "== streamctl consume $topic -e (to the end, then exit)" >&2
"$bin" consume "$topic" -b "$addr" -s json -e --color=always -o start
echo "== the same as JSON envelopes, for jq" >&2
"$bin" consume "$topic" -b "$addr" -s json -e -J
