"""The RabbitMQ publisher against the real broker on 127.0.0.1:5672 (as ``make test`` ensures)."""

import socket
import time
import uuid

import pika
import pytest

from integration import amqp

BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


@pytest.fixture()
def exchange():
    name = f"shipment_visibility.pure.{uuid.uuid4().hex[:8]}"
    connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    channel = connection.channel()
    channel.exchange_declare(name, exchange_type="topic", durable=True)
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, name, routing_key="#")
    yield name, channel, queue
    channel.exchange_delete(name)
    connection.close()


def drain(channel, queue, expected, timeout=10):
    got, deadline = [], time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            time.sleep(0.02)
            continue
        got.append((method.routing_key, properties.message_id, body))
    return got


def test_a_batch_is_confirmed_and_arrives_in_order(exchange):
    name, channel, queue = exchange
    publisher = amqp.Publisher(BROKER_URL, name)
    messages = [("shipment.created", b'{"n": %d}' % i, f"msg_{i}", {"company_id": 1}, None) for i in range(500)]
    assert publisher.publish_many(messages) == [None] * 500
    got = drain(channel, queue, 500)
    assert [message_id for _key, message_id, _body in got] == [f"msg_{i}" for i in range(500)]
    publisher.close()


def test_unreachable_broker_then_backoff():
    publisher = amqp.Publisher("amqp://guest:guest@127.0.0.1:1/%2F", "x")
    with pytest.raises(amqp.BrokerUnavailable, match="cannot connect"):
        publisher.publish("shipment.created", b"{}", "msg_1")
    with pytest.raises(amqp.BrokerUnavailable, match="next try"):
        publisher.publish("shipment.created", b"{}", "msg_1")


def test_cut_connection_reports_the_batch_as_unavailable_and_reconnects(exchange):
    name, channel, queue = exchange
    publisher = amqp.Publisher(BROKER_URL, name)
    publisher.publish("shipment.created", b"{}", "msg_before")
    publisher._connection._impl._transport._sock.shutdown(socket.SHUT_RDWR)
    outcomes = publisher.publish_many([("shipment.created", b"{}", "msg_cut", None, None)])
    assert isinstance(outcomes[0], amqp.BrokerUnavailable)
    time.sleep(0.6)  # the backoff after one failure
    assert publisher.publish_many([("shipment.created", b"{}", "msg_after", None, None)]) == [None]
    ids = [message_id for _key, message_id, _body in drain(channel, queue, 3, timeout=3)]
    assert "msg_before" in ids and "msg_after" in ids
    publisher.close()
