#!/usr/bin/env bash
# The main job on a fresh machine: start the built-in broker, produce a few
# sample JSON messages, consume them to the end and print them, run them
# through an --exec agent in a group, and show an Avro topic. No Docker.
set -euo pipefail
bin=${1:-bin/streamctl}
topic=example_kafka_topic
log=$(mktemp)

# Port 0: the broker picks a free port and says which on stderr.
"$bin" broker --listen "${DEMO_LISTEN:-127.0.0.1:0}" --partitions 3 --registry "${DEMO_REGISTRY:-127.0.0.1:0}" 2>"$log" &
broker=$!
schema=$(mktemp --suffix=.avsc)
trap 'kill $broker 2>/dev/null; wait $broker 2>/dev/null || true; rm -f "$log" "$schema"' EXIT
addr=
registry=
for _ in $(seq 1 100); do
  addr=$(sed -n 's/.*broker listening on \([^ ]*\).*/\1/p' "$log")
  registry=$(sed -n 's/.*schema registry listening on \([^ ]*\).*/\1/p' "$log")
  [ -n "$addr" ] && [ -n "$registry" ] && break
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

# The tutorial's agent: a program run per message, committed after it succeeds.
agent='printf "agent: %s/%s@%s got %s\n" "$STREAMCTL_TOPIC" "$STREAMCTL_PARTITION" "$STREAMCTL_OFFSET" "$(cat)"'
echo "== streamctl consume $topic -g hello -s json -e --exec '...' (an agent: each message committed once it succeeded)" >&2
"$bin" consume "$topic" -b "$addr" -g hello -s json -e --exec "$agent"
echo "== the same again: the group committed every message, so the agent has nothing to do" >&2
"$bin" consume "$topic" -b "$addr" -g hello -s json -e --exec "$agent"
echo "== streamctl offsets $topic -g hello (where the group stands: lag 0)" >&2
"$bin" offsets "$topic" -b "$addr" -g hello

avro_topic=orders
echo "== schema registry on $registry: an Avro topic, both ways" >&2
cat >"$schema" <<'AVSC'
{"type": "record", "name": "Order", "namespace": "shop", "fields": [
  {"name": "id", "type": "long"},
  {"name": "placed", "type": {"type": "long", "logicalType": "timestamp-millis"}},
  {"name": "total", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
  {"name": "note", "type": ["null", "string"], "default": null},
  {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID"]}, "default": "NEW"}
]}
AVSC
echo "== streamctl produce $avro_topic -s avro --value-schema order.avsc --register (registers $avro_topic-value)" >&2
printf '%s\n' \
  '{"id": 1, "placed": "2024-05-01T12:00:00.123Z", "total": "19.99"}' \
  '{"id": 2, "placed": 1714564801000, "total": 5, "note": "gift", "status": "PAID"}' |
  "$bin" produce "$avro_topic" -b "$addr" --schema-registry "$registry" -s avro --value-schema "$schema" --register --create-partitions 1 -v
echo "== streamctl produce $avro_topic -s avro (the latest $avro_topic-value; a bad line is named)" >&2
printf '%s\n' '{"id": 3, "placed": "2024-05-01T13:00:00Z", "total": "0.10"}' '{"id": 4, "placed": 0, "total": "1.005"}' |
  "$bin" produce "$avro_topic" -b "$addr" --schema-registry "$registry" -s avro || echo "(exit $?: line 2 does not fit the schema; line 1 was delivered)" >&2
echo "== streamctl consume $avro_topic -s avro -e (plain JSON: bare unions, readable timestamps, exact decimals)" >&2
"$bin" consume "$avro_topic" -b "$addr" --schema-registry "$registry" -s avro -e
echo "== streamctl consume $avro_topic -s sr -e -J (the envelope names value_schema_id)" >&2
"$bin" consume "$avro_topic" -b "$addr" --schema-registry "$registry" -s sr -e -J
echo "== streamctl consume $avro_topic -e -f '%o: %S bytes\n' (what is on the wire: Confluent framing and Avro binary)" >&2
"$bin" consume "$avro_topic" -b "$addr" -e -f '%o: %S bytes\n'
