"""What the Faust apps in this directory share: settings from the
environment and a report channel for the Go test that runs them.

Each app is an ordinary Faust app started with `python APP.py worker`. The
test (faust/faust_test.go) sets:

  STREAMCTL_FAUST_BROKER   kafka://127.0.0.1:PORT (default kafka://localhost:9092)
  STREAMCTL_FAUST_APP_ID   the app id, which is also the consumer group
  STREAMCTL_FAUST_DATADIR  where Faust keeps its data directory
  STREAMCTL_FAUST_REPORT_FD  a file descriptor to write reports to
  STREAMCTL_FAUST_TOPIC_*  topic names, where an app has more than the tutorial's

Reports are JSON lines, one per event, flushed at once. Without a report
fd they go to stdout, so a person running an app by hand sees them (the
worker prints them through its logger as WARNING lines).
"""

import base64
import json
import os
import sys
import warnings

import faust

# The codec app uses pickle on purpose, on topics only the test writes.
warnings.filterwarnings("ignore", message="The pickle codec calls pickle.loads")


def app(default_id):
    """Returns a faust.App named default_id (or STREAMCTL_FAUST_APP_ID)
    configured to start fast and leave nothing behind: in-memory tables, no
    web server (the worker also runs with --without-web: the app setting alone
    still binds 0.0.0.0:6066), no leader topic, one partition per topic Faust creates."""
    return faust.App(
        os.environ.get("STREAMCTL_FAUST_APP_ID", default_id),
        broker=os.environ.get("STREAMCTL_FAUST_BROKER", "kafka://localhost:9092"),
        datadir=os.environ.get("STREAMCTL_FAUST_DATADIR", "{appid}-data"),
        store="memory://",
        web_enabled=False,
        topic_disable_leader=True,
        topic_partitions=1,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        # Keys raw, values json: Faust's own defaults, named so the apps say
        # what they rely on.
        key_serializer="raw",
        value_serializer="json",
    )


def topic_name(suffix, default):
    return os.environ.get("STREAMCTL_FAUST_TOPIC_" + suffix.upper(), default)


_fd = os.environ.get("STREAMCTL_FAUST_REPORT_FD")
_out = os.fdopen(int(_fd), "w", buffering=1, encoding="utf-8") if _fd else sys.stdout


def report(event, **fields):
    """Writes one JSON line {"event": event, ...fields} for the test."""
    line = json.dumps({"event": event, **fields}, default=jsonable, ensure_ascii=False)
    _out.write(line + "\n")
    _out.flush()


def jsonable(obj):
    """Shows bytes as streamctl's pickle codec does: a string when they are
    UTF-8, else {"__bytes__": base64}. Tuples are arrays already; models
    show their fields."""
    if isinstance(obj, (bytes, bytearray)):
        try:
            return bytes(obj).decode("utf-8")
        except UnicodeDecodeError:
            return {"__bytes__": b64(obj)}
    if isinstance(obj, faust.Record):
        return obj.asdict()
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def b64(data):
    return base64.b64encode(bytes(data)).decode("ascii")
