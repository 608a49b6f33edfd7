#!/usr/bin/env bash
# The main job on a fresh machine: start the built-in broker, produce a few
# sample JSON messages, consume them to the end and print them. No Docker.
set -euo pipefail
bin=${1:-bin/streamctl}
topic=example_kafka_topic
log=$(mktemp)

# Port 0: the broker picks a free port and says which on stderr.
"$bin" broker --listen "${DEMO_LISTEN:-127.0.0.1:0}" --partitions 3 2>"$log" &
broker=$!
trap 'kill $broker 2>/dev/null; wait $broker 2>/dev/null || true; rm -f "$log"' EXIT
addr=
for _ in $(seq 1 100); do
  addr=$(sed -n 's/.*broker listening on \([^ ]*\).*/\1/p' "$log")
  [ -n "$addr" ] && break
  kill -0 $broker 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$addr" ] || { echo "demo: the broker did not start" >&2; cat "$log" >&2; exit 1; }
echo "== built-in broker on $addr" >&2

echo "== streamctl produce $topic -K: -s json (keys split at ':')" >&2
printf '%s\n' \
  'alice:{"user":"alice","action":"login","n":1}' \
  'bob:{"user":"bob","action":"purchase","amount":12.5}' \
  'alice:{"user":"alice","action":"logout","n":2}' |
  "$bin" produce "$topic" -b "$addr" -K: -s json -v

echo "== streamctl consume $topic -s json -e --pretty (to the end, then exit)" >&2
"$bin" consume "$topic" -b "$addr" -s json -e --pretty
echo "== the same as JSON envelopes, for jq: consume -J" >&2
"$bin" consume "$topic" -b "$addr" -s json -e -J
