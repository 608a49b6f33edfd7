"""The app of Faust's tutorial, as it is, with the settings the test needs.

    python tutorial.py worker -l info

then, from a shell, `streamctl produce example_kafka_topic` and type lines.
The tutorial prints each value; this app also reports it, with its key, as
a JSON line for the test (see common.py).
"""

from common import app as make_app, b64, report

app = make_app("myapp")
topic = app.topic("example_kafka_topic", value_serializer="raw")


@app.agent(topic)
async def process(stream):
    async for event in stream.events():
        value, key = event.value, event.key
        print(value)
        report(
            "received",
            key=None if key is None else b64(key),
            value=None if value is None else b64(value),
        )


@app.task
async def ready():
    report("ready")


if __name__ == "__main__":
    app.main()
