"""A Faust agent typed with a Record, fed by
`streamctl produce --faust-record NAMESPACE`.

Order values arrive as JSON objects; Faust makes an Order of each because
the agent's topic has value_type=Order and, independently, because the
"__faust" namespace in the payload names a registered model. The agent
answers each Order with a Receipt record on a second topic, which
`streamctl consume -s json` reads.

Run as a script, Faust names the models after the file, not __main__:
records.Order and records.Receipt. The "ready" report says so.
"""

import json
from typing import List

import faust
from faust.models.base import maybe_model

from common import app as make_app, report, topic_name

app = make_app("streamctl-records")


class Order(faust.Record, serializer="json"):
    id: str
    amount: float
    items: List[str]


class Receipt(faust.Record, serializer="json"):
    order_id: str
    total: float
    count: int
    note: str


orders = app.topic(topic_name("orders", "orders"), value_type=Order)
receipts = app.topic(topic_name("receipts", "receipts"), value_type=Receipt)


@app.agent(orders)
async def handle(stream):
    async for event in stream.events():
        order = event.value
        payload = json.loads(event.message.value)
        # Without value_type, Faust finds the model by namespace alone.
        detected = maybe_model(payload)
        report(
            "order",
            type=type(order).__name__,
            is_order=isinstance(order, Order),
            detected=type(detected).__name__,
            ns=(payload.get("__faust") or {}).get("ns"),
            key=event.key.decode() if event.key is not None else None,
            fields=order.asdict() if isinstance(order, Order) else payload,
        )
        if isinstance(order, Order):
            receipt = Receipt(
                order_id=order.id,
                total=order.amount * len(order.items),
                count=len(order.items),
                note="merci, " + order.id,
            )
            await receipts.send(key=order.id.encode(), value=receipt)
            report("receipt", fields=receipt.asdict())


@app.task
async def ready():
    report("ready", order_ns=Order._options.namespace, receipt_ns=Receipt._options.namespace)


if __name__ == "__main__":
    app.main()
