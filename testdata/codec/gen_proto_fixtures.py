"""Write what Confluent's own Protobuf serializer puts in a registry and on
the wire, for codec's TestProtoConfluentPython to read.

Needs confluent-kafka (2.16.1 was used) and protobuf in the Python that
runs it:

    go test ./codec -run TestProtoConfluentPython -update   # writes protobuf/schema.fds
    /path/to/venv/bin/python testdata/codec/gen_proto_fixtures.py

Python's protobuf cannot read .proto text, so the schemas come from
protobuf/schema.fds, the FileDescriptorSet that the Go test compiles from
its own .proto text. The serializer registers them with a mock registry
(in the form it always uses: base64 FileDescriptorProtos, one subject per
imported file), and this script writes every registered schema, each
record's framed bytes and json_format's JSON of the record to
protobuf/confluent_python.json.
"""

import json
import os

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf import timestamp_pb2  # noqa: F401 (puts the file in the default pool)
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "protobuf")

pool = descriptor_pool.Default()
with open(os.path.join(OUT, "schema.fds"), "rb") as f:
    fds = descriptor_pb2.FileDescriptorSet.FromString(f.read())
for fdp in fds.file:
    pool.Add(fdp)

# Each case has a topic of its own, so each gets a subject of its own.
CASES = [
    ("order", "shop.Order", {
        "id": "o-1",
        "customer": {"name": "Ada", "address": {"city": "Paris", "zip": "75001"}},
        "items": [
            {"sku": "tea", "qty": 2, "price": {"currency": "EUR", "units": "3", "nanos": 500000000}},
            {"sku": "cup", "qty": 1},
        ],
        "placedAt": "2026-12-01T09:30:00.250Z",
        "tags": {"gift": "yes"},
        "status": "PLACED",
    }),
    ("refund", "shop.Refund", {"orderId": "o-1", "amount": {"value": "MDk=", "precision": 5, "scale": 2}}),
    ("address", "shop.Order.Customer.Address", {"city": "Oslo", "zip": "0150"}),
    ("item", "shop.Order.Item", {"sku": "pot", "price": {"units": "-2"}}),
]

client = SchemaRegistryClient.new_client({"url": "mock://"})
records = []
for case, name, value in CASES:
    cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(name))
    msg = json_format.ParseDict(value, cls())
    topic = "proto-" + case
    ctx = SerializationContext(topic, MessageField.VALUE)
    wire = ProtobufSerializer(cls, client)(msg, ctx)
    back = ProtobufDeserializer(cls)(wire, ctx)
    assert back == msg, case
    records.append({
        "case": case,
        "topic": topic,
        "message": name,
        "wire": wire.hex(),
        "json": json.loads(json_format.MessageToJson(msg)),
    })

schemas = {}
for subject in sorted(client.get_subjects()):
    for version in client.get_versions(subject):
        rs = client.get_version(subject, version)
        schemas.setdefault(str(rs.schema_id), {
            "subject": subject,
            "version": version,
            "schemaType": rs.schema.schema_type,
            "schema": rs.schema.schema_str,
            "references": [
                {"name": r.name, "subject": r.subject, "version": r.version}
                for r in (rs.schema.references or [])
            ],
        })

with open(os.path.join(OUT, "confluent_python.json"), "w") as f:
    json.dump({"schemas": schemas, "records": records}, f, indent=1, sort_keys=True)
    f.write("\n")
