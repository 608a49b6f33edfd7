"""Write the pickle fixtures that codec's tests decode.

Run from anywhere with python3 (any 3.8+); pass --faust when run by a
Python that has faust-streaming installed to also write what Faust's own
codecs produce:

    python3 testdata/codec/gen_fixtures.py
    /tmp/venv/bin/python testdata/codec/gen_fixtures.py --faust

Each fixture is base64 text of a pickle, one file per case and protocol,
named <case>.p<protocol>.b64, because base64 is what Faust puts on the wire.
"""

import base64
import collections
import datetime
import decimal
import os
import pickle
import sys
import types
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "pickle")

# A user class that lives in a module other than __main__, as a Faust app's
# classes do; pickle needs to find it by name, so register the module.
shop = types.ModuleType("shop.models")
sys.modules["shop"] = types.ModuleType("shop")
sys.modules["shop.models"] = shop


class Order:
    def __init__(self, id, items):
        self.id = id
        self.items = items


Order.__module__ = "shop.models"
Order.__qualname__ = "Order"
shop.Order = Order

recursive = [1]
recursive.append(recursive)

CASES = {
    "nested": {
        "name": "caf\u00e9",
        "items": [1, [2, 3], {"k": None}],
        "ok": True,
        "no": False,
        "none": None,
    },
    "tuple": (1, "a", (2.5,)),
    "set": {1, 2, 3},
    "frozenset": frozenset(["x"]),
    "bytes": [b"\x00\xffbin", b"plain text", b""],
    "bytearray": bytearray(b"\x01\xfe"),
    "unicode": "h\u00e9llo w\u00f6rld \u2713 \U0001f680 \"quoted\" \\ \n",
    "bigint": [2**100, -(2**70), 2**31, -(2**31) - 1, 255, 65535, -1],
    "float": [1.0, 0.1, -2.5e-10, 1e100, 1e16, 123456.789, -0.0],
    "float_special": [float("nan"), float("inf"), float("-inf")],
    "keys": {1: "int", None: "none", (1, 2): "tuple", 2.5: "float", b"k": "bytes"},
    "datetime": [
        datetime.datetime(2024, 1, 2, 3, 4, 5, 6),
        datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
        datetime.date(2024, 2, 29),
        datetime.time(23, 59, 1),
    ],
    "decimal": decimal.Decimal("12.50"),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "class": Order(7, ["apple", "pear"]),
    "ordereddict": collections.OrderedDict([("b", 1), ("a", 2)]),
    "recursive": recursive,
    "shared": [[1], [1]],
}


def write(name, data):
    with open(os.path.join(OUT, name), "w") as f:
        f.write(base64.b64encode(data).decode("ascii") + "\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    for case, obj in CASES.items():
        for proto in range(pickle.HIGHEST_PROTOCOL + 1):
            write(f"{case}.p{proto}.b64", pickle.dumps(obj, protocol=proto))
    if "--faust" in sys.argv:
        from faust.serializers import codecs

        for case in ("nested", "datetime", "class", "bytes"):
            for codec in ("pickle", "pickle_restricted"):
                data = codecs.dumps(codec, CASES[case])
                with open(os.path.join(OUT, f"faust_{codec}_{case}.b64"), "wb") as f:
                    f.write(data + b"\n")
        with open(os.path.join(HERE, "faust_json_binary.txt"), "wb") as f:
            f.write(codecs.dumps("json|binary", CASES["nested"]) + b"\n")


if __name__ == "__main__":
    main()
