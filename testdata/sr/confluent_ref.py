"""Reference encoder and decoder for streamctl's real-registry tier.

Confluent's own Python serializers (confluent-kafka) on one end of a topic,
so that streamctl's schema-registry codecs are checked against the byte
layout and the registry calls of the reference implementation.

  confluent_ref.py produce --registry URL --bootstrap HOST:PORT --topic T \
      --codec avro|protobuf|jsonschema --schema FILE [--message FQN] \
      [--ref NAME=SUBJECT=FILE ...] [--include DIR] < objects.jsonl

      Encodes each JSON line with the codec's serializer (which registers the
      schema under <topic>-value, TopicNameStrategy) and produces it to
      partition 0. Avro logical types are taken as JSON: timestamps as
      RFC3339 text or epoch milliseconds, dates as YYYY-MM-DD, decimals as
      text. Protobuf input is proto3's JSON mapping; --message names the
      message when the file has several. --ref registers another Avro schema
      under SUBJECT first and references it by NAME; Protobuf imports are
      registered by the serializer itself, each under its file name.
      --strategy record|topic-record names the value's subject after the
      record instead (Confluent's RecordNameStrategy, TopicRecordNameStrategy).

  confluent_ref.py consume --registry URL --bootstrap HOST:PORT --topic T \
      --codec avro|protobuf|jsonschema --count N [--schema FILE --message FQN]

      Reads N records from the start of partition 0, decodes each with the
      codec's deserializer and prints it as canonical JSON (sorted keys,
      compact), one per line. Avro timestamps print as RFC3339 UTC with
      milliseconds (microseconds where they are not whole), local timestamps
      and times alike without a zone, dates as YYYY-MM-DD, decimals as exact
      text, bytes as base64. Protobuf
      needs the message class (--schema, --message) and prints proto3 JSON.

  --key-codec C --key-schema FILE, in either direction, puts keys through
  codec C too (subject <topic>-key); lines are then {"key": K, "value": V}.

Exit 0 on success; 1 with a message on stderr otherwise. Nothing here is
streamctl code: it is the other side of the wire.
"""

import argparse
import base64
import datetime
import decimal
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient
from confluent_kafka.serialization import MessageField, SerializationContext

TIMEOUT = 60.0  # seconds for delivery, and for reading --count records


def die(msg):
    print(f"confluent_ref: {msg}", file=sys.stderr)
    sys.exit(1)


# --- Avro: plain JSON <-> the Python values fastavro takes and gives.

def _avro_named(schema, names, ns=None):
    """Collect named types (records, enums, fixed) by full name."""
    if isinstance(schema, list):
        for s in schema:
            _avro_named(s, names, ns)
    elif isinstance(schema, dict):
        t = schema.get("type")
        if t in ("record", "error", "enum", "fixed"):
            name = schema["name"]
            ns = schema.get("namespace", ns)
            full = name if "." in name or not ns else f"{ns}.{name}"
            names[full] = schema
            names.setdefault(name, schema)
            for f in schema.get("fields", []):
                _avro_named(f["type"], names, ns)
        elif t == "array":
            _avro_named(schema["items"], names, ns)
        elif t == "map":
            _avro_named(schema["values"], names, ns)
        elif isinstance(t, (dict, list)):
            _avro_named(t, names, ns)


def _resolve(schema, names):
    if isinstance(schema, str) and schema in names:
        return names[schema]
    if isinstance(schema, dict) and isinstance(schema.get("type"), (dict, list)):
        return schema["type"]
    if isinstance(schema, dict) and schema.get("type") in names and "logicalType" not in schema:
        return names[schema["type"]]
    return schema


def avro_from_json(schema, value, names):
    schema = _resolve(schema, names)
    if isinstance(schema, list):
        if value is None and "null" in schema:
            return None
        errors = []
        for branch in schema:
            if branch == "null":
                continue
            try:
                return avro_from_json(branch, value, names)
            except (TypeError, ValueError, KeyError, decimal.InvalidOperation) as e:
                errors.append(str(e))
        raise ValueError(f"{value!r} matches no branch of {schema}: {errors}")
    if isinstance(schema, str):
        schema = {"type": schema}
    t, logical = schema["type"], schema.get("logicalType")
    if logical in ("timestamp-millis", "timestamp-micros", "local-timestamp-millis", "local-timestamp-micros"):
        if isinstance(value, str):
            return datetime.datetime.fromisoformat(value)
        if not isinstance(value, int):
            raise TypeError(f"{value!r} is not a timestamp")
        return value
    if logical == "date":
        if isinstance(value, str):
            return datetime.date.fromisoformat(value)
        if not isinstance(value, int):
            raise TypeError(f"{value!r} is not a date")
        return value
    if logical in ("time-millis", "time-micros"):
        if isinstance(value, str):
            return datetime.time.fromisoformat(value)
        if not isinstance(value, int):
            raise TypeError(f"{value!r} is not a time")
        return value
    if logical == "decimal":
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise TypeError(f"{value!r} is not a decimal")
        return decimal.Decimal(str(value))
    if t in ("record", "error"):
        if not isinstance(value, dict):
            raise TypeError(f"{value!r} is not a record")
        out = {}
        for f in schema["fields"]:
            if f["name"] in value:
                out[f["name"]] = avro_from_json(f["type"], value[f["name"]], names)
        return out
    if t == "array":
        return [avro_from_json(schema["items"], v, names) for v in value]
    if t == "map":
        return {k: avro_from_json(schema["values"], v, names) for k, v in value.items()}
    if t in ("bytes", "fixed"):
        if not isinstance(value, str):
            raise TypeError(f"{value!r} is not base64 text")
        return base64.b64decode(value, validate=True)
    if t in ("int", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{value!r} is not an {t}")
    if t in ("float", "double") and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise TypeError(f"{value!r} is not a {t}")
    if t == "string" and not isinstance(value, str):
        raise TypeError(f"{value!r} is not a string")
    if t == "boolean" and not isinstance(value, bool):
        raise TypeError(f"{value!r} is not a boolean")
    return value


def json_value(value):
    """Python values from the deserializers as canonical JSON values."""
    if isinstance(value, datetime.datetime):
        spec = "milliseconds" if value.microsecond % 1000 == 0 else "microseconds"
        if value.tzinfo is None:  # local-timestamp-*
            return value.isoformat(timespec=spec)
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return value.isoformat(timespec=spec) + "Z"
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, datetime.time):
        return value.isoformat(timespec="milliseconds" if value.microsecond % 1000 == 0 else "microseconds")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    return value


# --- Protobuf: compile our .proto with grpcio-tools' protoc at run time.

def proto_message_class(schema_file, message, includes):
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    import grpc_tools

    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    dirs = [os.path.dirname(os.path.abspath(schema_file))] + list(includes or []) + [well_known]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "set.pb")
        cmd = [sys.executable, "-m", "grpc_tools.protoc", *(f"-I{d}" for d in dirs),
               "--include_imports", f"--descriptor_set_out={out}", os.path.basename(schema_file)]
        res = subprocess.run(cmd, cwd=dirs[0], capture_output=True, text=True)
        if res.returncode != 0:
            die(f"protoc {schema_file}: {res.stderr.strip()}")
        fds = descriptor_pb2.FileDescriptorSet()
        with open(out, "rb") as f:
            fds.ParseFromString(f.read())
    # The default pool already holds the well-known types the serializer
    # recognises by file name; add only our own files.
    from google.protobuf import timestamp_pb2  # noqa: F401  (registers google/protobuf/timestamp.proto)

    pool = descriptor_pool.Default()
    main = None
    for fd in fds.file:
        try:
            pool.FindFileByName(fd.name)
        except KeyError:
            pool.Add(fd)
        main = fd
    if message is None:
        if len(main.message_type) != 1:
            die(f"{schema_file} has {len(main.message_type)} top-level messages: name one with --message")
        message = (main.package + "." if main.package else "") + main.message_type[0].name
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(message))


# --- The two directions.

def registry(url):
    return SchemaRegistryClient({"url": url})


STRATEGIES = ("topic", "record", "topic-record")


def encoder(client, codec, schema_file, message=None, includes=None, ref_specs=None, strategy="topic"):
    """A function from a JSON object to Confluent-framed bytes for codec."""
    import confluent_kafka.schema_registry as sr

    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.schema_registry.json_schema import JSONSerializer
    from confluent_kafka.schema_registry.protobuf import ProtobufSerializer

    with open(schema_file) as f:
        text = f.read()
    conf = {"auto.register.schemas": True, "subject.name.strategy": {
        "topic": sr.topic_subject_name_strategy,
        "record": sr.record_subject_name_strategy,
        "topic-record": sr.topic_record_subject_name_strategy,
    }[strategy]}
    if codec == "avro":
        refs, names = [], {}
        for spec in ref_specs or []:
            name, subject, path = spec.split("=", 2)
            with open(path) as f:
                ref_text = f.read()
            client.register_schema(subject, Schema(ref_text, "AVRO"))
            version = client.lookup_schema(subject, Schema(ref_text, "AVRO")).version
            refs.append(SchemaReference(name, subject, version))
            _avro_named(json.loads(ref_text), names)
        parsed = json.loads(text)
        _avro_named(parsed, names)
        ser = AvroSerializer(client, Schema(text, "AVRO", refs), conf=conf)
        return lambda obj, ctx: ser(avro_from_json(parsed, obj, names), ctx)
    if codec == "jsonschema":
        ser = JSONSerializer(Schema(text, "JSON"), client, conf=conf)
        return ser
    from google.protobuf import json_format

    cls = proto_message_class(schema_file, message, includes)
    ser = ProtobufSerializer(cls, client, conf=conf)
    return lambda obj, ctx: ser(json_format.ParseDict(obj, cls()), ctx)


def decoder(client, codec, schema_file=None, message=None, includes=None):
    """A function from Confluent-framed bytes to a canonical JSON value."""
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.schema_registry.json_schema import JSONDeserializer
    from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer

    if codec == "avro":
        de = AvroDeserializer(client)
        return lambda b, ctx: json_value(de(b, ctx))
    if codec == "jsonschema":
        return JSONDeserializer(None, schema_registry_client=client)
    from google.protobuf import json_format

    if not schema_file:
        die("protobuf needs the message class: give --schema (and --message)")
    cls = proto_message_class(schema_file, message, includes)
    de = ProtobufDeserializer(cls, schema_registry_client=client)
    return lambda b, ctx: json_format.MessageToDict(de(b, ctx))


def produce(args):
    client = registry(args.registry)
    enc = encoder(client, args.codec, args.schema, args.message, args.include, args.ref, args.strategy)
    key_enc = encoder(client, args.key_codec, args.key_schema) if args.key_codec else None
    producer = Producer({"bootstrap.servers": args.bootstrap, "linger.ms": 5, "acks": "all"})
    ctx = SerializationContext(args.topic, MessageField.VALUE)
    key_ctx = SerializationContext(args.topic, MessageField.KEY)
    failed = []

    def delivered(err, _msg):
        if err is not None:
            failed.append(err)

    n = 0
    for lineno, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            obj, key = json.loads(line), None
            if key_enc:
                key, obj = key_enc(obj["key"], key_ctx), obj["value"]
            value = enc(obj, ctx)
        except Exception as e:  # the reference must say which line it could not encode
            die(f"line {lineno}: {type(e).__name__}: {e}")
        producer.produce(args.topic, key=key, value=value, partition=0, on_delivery=delivered)
        producer.poll(0)
        n += 1
    if producer.flush(TIMEOUT) != 0:
        die(f"{args.topic}: records still undelivered after {TIMEOUT}s")
    if failed:
        die(f"{args.topic}: delivery failed: {failed[0]}")
    print(f"confluent_ref: produced {n} records to {args.topic}", file=sys.stderr)


def consume(args):
    client = registry(args.registry)
    dec = decoder(client, args.codec, args.schema, args.message, args.include)
    key_dec = decoder(client, args.key_codec, args.key_schema) if args.key_codec else None
    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": "confluent-ref",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    consumer.assign([TopicPartition(args.topic, 0, 0)])
    ctx = SerializationContext(args.topic, MessageField.VALUE)
    key_ctx = SerializationContext(args.topic, MessageField.KEY)
    got, deadline = 0, time.monotonic() + TIMEOUT
    try:
        while got < args.count:
            left = deadline - time.monotonic()
            if left <= 0:
                die(f"{args.topic}: read {got} of {args.count} records in {TIMEOUT}s")
            msg = consumer.poll(min(left, 1.0))
            if msg is None:
                continue
            if msg.error():
                raise KafkaException(msg.error())
            try:
                obj = dec(msg.value(), ctx)
                if key_dec:
                    obj = {"key": key_dec(msg.key(), key_ctx), "value": obj}
            except Exception as e:
                die(f"{args.topic} offset {msg.offset()}: {type(e).__name__}: {e}")
            print(json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
                  flush=True)
            got += 1
    finally:
        consumer.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("direction", choices=["produce", "consume"])
    p.add_argument("--registry", required=True)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--codec", required=True, choices=["avro", "protobuf", "jsonschema"])
    p.add_argument("--schema")
    p.add_argument("--message")
    p.add_argument("--include", action="append")
    p.add_argument("--ref", action="append", help="NAME=SUBJECT=FILE (Avro)")
    p.add_argument("--count", type=int)
    p.add_argument("--strategy", choices=STRATEGIES, default="topic",
                   help="subject name strategy of the value (produce)")
    p.add_argument("--key-codec", choices=["avro", "protobuf", "jsonschema"],
                   help="keys too: input and output lines are {\"key\": K, \"value\": V}")
    p.add_argument("--key-schema", help="the key's schema file (produce; consume for protobuf)")
    args = p.parse_args()
    if args.direction == "produce":
        if not args.schema:
            die("produce needs --schema")
        produce(args)
    else:
        if args.count is None:
            die("consume needs --count")
        consume(args)


if __name__ == "__main__":
    main()
