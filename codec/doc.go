// Package codec converts Kafka message keys and values between their bytes
// on the wire and the text a person reads and types, using the codec names
// of Python's Faust (faust-streaming, faust/serializers/codecs.py).
//
// A codec's text form is what streamctl consume prints and what streamctl
// produce reads. Codecs compose with "|" as in Faust: for "json|binary",
// producing runs json then binary (the wire holds base64 of compact JSON),
// and consuming runs binary then json. The text form is always that of the
// leftmost codec. An empty spec means raw. Empty keys and values (Kafka
// nulls and tombstones) pass through every chain untouched.
//
// # Codecs
//
// raw: the bytes as they are, both ways.
//
// json: JSON text. Consuming checks that the value is JSON and prints it
// byte for byte as the producer wrote it. Producing checks the input and
// writes it compactly, with no spaces after "," and ":" — the separators
// Faust passes to json.dumps. Faust (without orjson) also escapes non-ASCII
// characters as \uXXXX where streamctl writes UTF-8; both decode to the
// same value.
//
// binary: the wire holds standard base64 (not URL-safe), as Faust's binary
// codec writes it with b64encode; the text form is the decoded bytes.
// Decoding skips whitespace and forgives missing "=" padding, but unlike
// Python's b64decode, which silently drops any byte outside the alphabet,
// it reports such a byte and where it is.
//
// hex: streamctl's own, not Faust's: the wire holds hex digits (either
// case, surrounding whitespace ignored) and the text form is the decoded
// bytes.
//
// pickle, pickle_restricted, pickle_fickling: the wire holds base64 of a
// Python pickle, as Faust writes it. The text form is JSON. Consuming reads
// any pickle protocol (0 to 5) with a small interpreter that never imports
// or calls anything; the names Faust's variants differ by only matter to
// Python. Producing writes protocol 4 for pickle, Python's default and so
// Faust's, and protocol 5 for the other two, as Faust does; the bytes are
// those CPython's pickle.dumps(json.loads(text)) writes.
//
// # How a pickle is shown as JSON
//
//   - None, True, False, int and float become null, true, false and
//     numbers. Integers keep every digit, however large. Floats print as
//     Python's repr does, so 1.0 stays 1.0; NaN and the infinities become
//     the strings "NaN", "Infinity" and "-Infinity".
//   - str becomes a string.
//   - bytes and bytearray become a string when they are valid UTF-8, and
//     {"__bytes__": "<standard base64>"} otherwise. Producing turns
//     {"__bytes__": "..."} back into bytes, so such values round-trip.
//   - list, tuple, set and frozenset become arrays.
//   - dict becomes an object in the dict's order. Keys that are not
//     strings become the text of their JSON: 1 is "1", None is "null",
//     (1, 2) is "[1,2]".
//   - An instance of any class, such as datetime.datetime, decimal.Decimal
//     or a user's own, becomes
//     {"__class__": "module.Name", "args": [...], "state": ...}: args are
//     what the class was called with (absent when there were none),
//     state what was set on the instance afterwards, usually its __dict__
//     (absent when none). "kwargs" appears for keyword arguments; "items"
//     and "dictitems" appear for subclasses of list, set and dict, such as
//     collections.OrderedDict. For datetime.datetime, date and time (naive
//     or with a fixed offset), decimal.Decimal and uuid.UUID, "value"
//     adds the readable form, such as "2024-01-02T03:04:05.000006+00:00".
//   - A class or function that is referenced but not called becomes
//     {"__global__": "module.Name"}; a persistent ID {"__persistent_id__": id};
//     a copyreg extension code {"__extension__": code}; a container that
//     contains itself {"__recursive__": true} where it recurs.
//
// Producing accepts JSON only: objects become dicts, arrays lists, numbers
// with a fraction or exponent floats and others ints; "__class__" objects
// stay plain dicts, because constructing classes is exactly what this
// package refuses to do.
//
// A pickle that is malformed or truncated, asks for out-of-band buffers,
// or would expand through shared references into more than 64 MiB of JSON
// is an error; none of these panics.
//
// # Schema registry codecs
//
// avro, protobuf, jsonschema and sr read and write the Confluent wire
// format (ParseHeader, AppendHeader): byte 0, a 4-byte big-endian schema
// id, then the payload. Their text form is JSON. They take their schemas
// from a Registry, which the caller implements (streamctl's is
// internal/registry) and passes in a SchemaConfig to ParseSchema; the
// package itself does no I/O. Decoding finds the schema by the id in the
// bytes (or, for Confluent Platform 8, by the GUID in a record header, see
// Chain.DecodeHeader) and DecodeID reports the id; encoding writes with the
// schema SchemaConfig chooses (an id, a subject version, a local schema
// looked up or registered under the subject a Strategy names) or, with
// EncodeID, the one an envelope names. sr takes whatever type the registry
// says; the others refuse another type with a TypeMismatchError.
//
// Avro values are shown as plain JSON by default (AvroPlain): fields in
// schema order, bare unions, bytes as base64, logical types readable
// (timestamps as RFC 3339 in UTC, dates, times of day, exact decimal
// strings); AvroNative is the specification's JSON encoding. Encoding takes
// either: bare or tagged unions, defaults filled in, numbers never passed
// through a float. Input that does not fit is a *FieldError whose Path
// names the place, "items[2].sku". JSON Schema validates on encoding and
// only checks for JSON on decoding. Each schema type is a schemaFormat in
// the formats table.
//
// Protobuf values are proto3's canonical JSON (protojson), compacted:
// protojson varies its whitespace on purpose. A payload starts with the
// message-index path (ReadMessageIndex, AppendMessageIndex), which names
// the message to decode; encoding writes the one SchemaConfig.ProtoMessage
// names, or the schema's only top-level message (ProtoMessageError
// otherwise). CompileProto reads both forms registries hold, .proto text
// and base64 FileDescriptorProtos, and supplies the imports Confluent's
// clients never register: the well-known types, google/type and
// Confluent's own files, embedded under protoinclude/.
//
// # Faust records
//
// Faust serializes a Record as a JSON object with an extra key,
// "__faust": {"ns": "module.ClassName"}. StripFaustMeta removes it for
// display and AddFaustMeta adds it when producing to a Faust app.
package codec
