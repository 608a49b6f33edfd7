"""Every codec Faust ships, both ways.

Faust to streamctl: on start, a task sends known values with each codec,
one topic per codec (PREFIX-out-CODEC, "|" written "-"), and reports each
value with the exact bytes Faust put on the wire. The test reads them back
with `streamctl consume -s CODEC`.

streamctl to Faust: an agent per codec on PREFIX-in-CODEC, with that
value_serializer, reports what Faust decoded from what `streamctl produce
-s CODEC` sent, the bytes it got, and the bytes Faust itself would have
written for the same value.
"""

import datetime
import decimal

from faust.serializers import codecs

from common import app as make_app, b64, report, topic_name

app = make_app("streamctl-codecs")

CODECS = ["raw", "json", "binary", "pickle", "json|binary"]
PREFIX = topic_name("prefix", "codecs")


def slug(codec):
    return codec.replace("|", "-")


def out_topic(codec):
    return f"{PREFIX}-out-{slug(codec)}"


def in_topic(codec):
    return f"{PREFIX}-in-{slug(codec)}"


class Point:
    """A user's class, pickled by reference to __main__.Point."""

    def __init__(self, x, y):
        self.x = x
        self.y = y


DOC = {
    "name": "caf\u00e9 \u2713 \U0001f680",
    "n": 42,
    "neg": -7,
    "big": 2**70,
    "f": 2.5,
    "tiny": -1e-07,
    "ok": True,
    "no": False,
    "nothing": None,
    "nested": [1, [2, [3, {"k": "v"}]], []],
    "empty": {},
    "quote": 'a "q" \\ and\ttab',
}
ASCII = {"id": "A-1", "amount": 12.5, "items": ["x", "y"], "n": 3}
BYTES = b"caf\xc3\xa9 \x00\x01\xfe\xff\ttab \x7f end"

TEXT = "h\u00e9llo \u2713 world"

# (case, codec, value). Faust sends a bytes value as it is, whatever the
# codec (Serializers.dumps_value skips bytes), so binary gets a bytearray
# (any bytes) and a str (its UTF-8), which it does encode.
CASES = [
    ("bytes", "raw", BYTES),
    ("text", "raw", TEXT),
    ("bytes", "binary", bytearray(BYTES)),
    ("text", "binary", TEXT),
    ("doc", "json", DOC),
    ("ascii", "json", ASCII),
    ("list", "json", [1, "two", 3.0, None]),
    ("doc", "pickle", DOC),
    ("mixed", "pickle", {"tuple": (1, "a"), "bytes": b"\x00\xffraw", "text": b"utf8 bytes", "set": [3]}),
    ("objects", "pickle", {
        "when": datetime.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=datetime.timezone.utc),
        "price": decimal.Decimal("19.99"),
        "point": Point(1, 2),
    }),
    ("doc", "json|binary", DOC),
    ("ascii", "json|binary", ASCII),
]


def shown(case, codec, value):
    """The value as JSON for the report, where JSON can say it: not for
    raw and binary (see bytes) nor for class instances."""
    if codec in ("raw", "binary") or case == "objects":
        return None
    return value


@app.task
async def send_each_codec():
    report("ready", prefix=PREFIX)
    for case, codec, value in CASES:
        topic = app.topic(out_topic(codec), value_serializer=codec)
        fut = await topic.send(key=case.encode(), value=value)
        meta = await fut
        raw = value.encode() if isinstance(value, str) else value
        # What topic.send put on the wire, by the same call it makes.
        wire = app.serializers.dumps_value(None, value, serializer=codec)
        report(
            "sent",
            case=case,
            codec=codec,
            topic=out_topic(codec),
            offset=meta.offset,
            wire=b64(wire),
            bytes=b64(raw) if isinstance(raw, (bytes, bytearray)) else None,
            value=shown(case, codec, value),
        )
    report("all_sent", count=len(CASES))


def receiver(codec):
    async def receive(stream):
        async for event in stream.events():
            value = event.value
            report(
                "received",
                codec=codec,
                key=event.key.decode() if event.key is not None else None,
                type=type(value).__name__,
                value=None if isinstance(value, bytes) else value,
                bytes=b64(value) if isinstance(value, bytes) else None,
                wire=b64(event.message.value),
                faust_wire=b64(codecs.dumps(codec, value)),
            )

    receive.__name__ = receive.__qualname__ = "receive_" + slug(codec).replace("-", "_")
    return receive


for _codec in CODECS:
    app.agent(app.topic(in_topic(_codec), value_serializer=_codec))(receiver(_codec))


if __name__ == "__main__":
    app.main()
