"""The Python side of scripts/bench.sh's Avro comparison (issue 10).

Confluent's own client (confluent-kafka's Consumer and AvroDeserializer,
which decodes with fastavro) reading the topic streamctl reads, each record
printed as json.dumps on its own line, as `streamctl consume -s avro -e`
prints it.

  py_avro_consume.py consume --bootstrap HOST:PORT --registry URL --topic T --count N
      Reads N records from the start of every partition of T, decodes each
      value and prints it. Exits when N are printed.

  py_avro_consume.py decode  --bootstrap HOST:PORT --registry URL --topic T --count N
      Fetches N values first (not measured), then decodes and prints them in
      a loop, and writes "decode N cpu_s wall_s" to stderr for that loop
      alone: the deserializer's cost without the Kafka client's.

Decimals print as text, timestamps as ISO 8601, bytes as base64: the value
is formatted, not compared (testdata/sr/confluent_ref.py is the reference
for exact output). Exit 1 with a message on stderr on any failure.
"""

import argparse
import base64
import datetime
import decimal
import json
import sys
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer

TIMEOUT = 120.0  # seconds to read --count records


def die(msg):
    print(f"py_avro_consume: {msg}", file=sys.stderr)
    sys.exit(1)


def default(v):
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
        return v.isoformat()
    if isinstance(v, (bytes, bytearray)):
        return base64.b64encode(v).decode()
    if isinstance(v, uuid.UUID):
        return str(v)
    raise TypeError(f"cannot print {type(v).__name__}")


def values(args):
    """Yields the raw values of the first --count records of the topic."""
    c = Consumer({
        "bootstrap.servers": args.bootstrap,
        "group.id": f"py-bench-{uuid.uuid4()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "enable.partition.eof": False,
        "log_level": 4,
    })
    try:
        # Every partition from its start, assigned (no group join to wait for).
        md = c.list_topics(args.topic, timeout=10).topics[args.topic]
        if md.error is not None:
            raise KafkaException(md.error)
        c.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in md.partitions])
        left, deadline = args.count, time.monotonic() + TIMEOUT
        while left > 0:
            if time.monotonic() > deadline:
                die(f"{args.count - left} of {args.count} records in {TIMEOUT:.0f}s")
            for m in c.consume(num_messages=min(left, 10000), timeout=1.0):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise KafkaException(m.error())
                yield m.value()
                left -= 1
    finally:
        c.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["consume", "decode"])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--registry", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--count", type=int, required=True)
    args = p.parse_args()

    deser = AvroDeserializer(SchemaRegistryClient({"url": args.registry}))
    # No context: the writer's schema is looked up by its id alone
    # (GET /schemas/ids/N), whatever subject strategy registered it.
    ctx = None
    out = sys.stdout
    dumps = json.dumps
    if args.mode == "consume":
        for v in values(args):
            out.write(dumps(deser(v, ctx), default=default))
            out.write("\n")
    else:
        raw = list(values(args))
        c0, w0 = time.process_time(), time.perf_counter()
        for v in raw:
            out.write(dumps(deser(v, ctx), default=default))
            out.write("\n")
        out.flush()
        c1, w1 = time.process_time(), time.perf_counter()
        print(f"decode {len(raw)} {c1 - c0:.3f} {w1 - w0:.3f}", file=sys.stderr)
    out.flush()


if __name__ == "__main__":
    try:
        main()
    except (KafkaException, OSError, ValueError) as e:
        die(str(e))
