"""Confluent's own Protobuf serializer and deserializer, for streamctl's
live interop test (cmd/protobuf_python_test.go). Run by a Python with
confluent-kafka and protobuf installed:

    python confluent_protobuf.py REGISTRY_URL serialize TOPIC < lines
    python confluent_protobuf.py REGISTRY_URL deserialize TOPIC < lines

serialize reads "MESSAGE<TAB>JSON" lines and writes the framed bytes of
each as hex, registering the schema as the serializer does (base64
FileDescriptorProtos, an imported file as a subject of its own).
serialize-header does the same in the Confluent 8 form, the schema's GUID
(and the message index) in the __value_schema_id header: it writes
"VALUE_HEX<TAB>HEADER_HEX". deserialize reads "MESSAGE<TAB>HEX" lines and writes each record's JSON as
json_format gives it, one compact line each. The schemas are the
FileDescriptorSet testdata/codec/protobuf/schema.fds, since Python's
protobuf cannot read .proto text.
"""

import json
import os
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf import timestamp_pb2  # noqa: F401 (puts the file in the default pool)
from confluent_kafka.schema_registry import SchemaRegistryClient, header_schema_id_serializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext, SerializationError

HERE = os.path.dirname(os.path.abspath(__file__))
FDS = os.path.join(HERE, "..", "..", "codec", "protobuf", "schema.fds")


def main():
    url, mode, topic = sys.argv[1:4]
    pool = descriptor_pool.Default()
    with open(FDS, "rb") as f:
        for fdp in descriptor_pb2.FileDescriptorSet.FromString(f.read()).file:
            pool.Add(fdp)
    client = SchemaRegistryClient({"url": url})
    ctx = SerializationContext(topic, MessageField.VALUE)
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line:
            continue
        name, data = line.split("\t", 1)
        cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(name))
        if mode == "serialize":
            msg = json_format.Parse(data, cls())
            print(ProtobufSerializer(cls, client)(msg, ctx).hex())
        elif mode == "serialize-header":
            if cls.DESCRIPTOR.containing_type is not None:
                # With use.latest.version the serializer finds only
                # top-level messages.
                print("skip")
                continue
            msg = json_format.Parse(data, cls())
            hctx = SerializationContext(topic, MessageField.VALUE, [])
            # The schema is the one serialize registered: a registration's
            # answer may lack the GUID (srfake's does), the subject's does not.
            ser = ProtobufSerializer(cls, client, {
                "schema.id.serializer": header_schema_id_serializer,
                "auto.register.schemas": False,
                "use.latest.version": True,
            })
            try:
                value = ser(msg, hctx)
            except SerializationError as e:
                if "GUID is not set" not in str(e):
                    raise
                print("no-guid")  # a registry without GUIDs (Confluent 8) has no header form
                continue
            (key, header), = hctx.headers
            assert key == "__value_schema_id", key
            print(value.hex() + "\t" + header.hex())
        else:
            msg = ProtobufDeserializer(cls, {"use.deprecated.format": False}, client)(bytes.fromhex(data), ctx)
            print(json.dumps(json_format.MessageToDict(msg), separators=(",", ":"), sort_keys=True))
        sys.stdout.flush()


main()
