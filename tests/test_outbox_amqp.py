"""RabbitMQ publishing against the real broker on 127.0.0.1:5672: confirms, outage, no loss."""

import json
import socket
import time
import uuid
from collections import Counter

import pika

from odoo.tests import tagged
from odoo.tools import SQL, mute_logger

from ..integration import amqp, outbound
from .outbox_common import OutboxCommon

BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
# pika logs a refused or cut connection at ERROR level; here that is the point of the test.
PIKA_LOGGERS = ("pika.adapters.utils.io_services_utils", "pika.adapters.utils.connection_workflow",
                "pika.adapters.blocking_connection", "pika.adapters.base_connection", "pika.connection",
                "pika.channel")


@tagged("post_install", "-at_install")
class TestOutboxAmqp(OutboxCommon):

    def setUp(self):
        super().setUp()
        self.exchange = f"shipment_visibility.test.{uuid.uuid4().hex[:8]}"
        self.subscription = self.Subscription.create({
            "name": "Data platform", "kind": "amqp", "amqp_url": BROKER_URL, "amqp_exchange": self.exchange})
        # Our own consumer: an exclusive queue bound to every routing key of the exchange.
        self.consumer = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
        self.channel = self.consumer.channel()
        self.channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
        self.queue = self.channel.queue_declare("", exclusive=True).method.queue
        self.channel.queue_bind(self.queue, self.exchange, routing_key="shipment.#")
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        amqp.drop_publishers()
        self.channel.exchange_delete(self.exchange)
        self.consumer.close()

    def received(self, expected, timeout=10):
        messages, deadline = [], time.monotonic() + timeout
        while len(messages) < expected and time.monotonic() < deadline:
            method, properties, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                time.sleep(0.05)
                continue
            messages.append((method, properties, body))
        return messages

    def deliveries(self):
        return self.Delivery.search([("subscription_id", "=", self.subscription.id)], order="id")

    def test_published_with_confirms_routing_key_and_properties(self):
        self.process("AMQP1", checkpoints=list(range(9)))
        outbox = self.messages_of("AMQP1")
        self.Delivery._cron_dispatch()
        self.assertEqual(set(self.deliveries().mapped("state")), {"delivered"}, "confirmed by the broker")
        received = self.received(len(outbox))
        self.assertEqual(len(received), len(outbox))
        by_uid = {message.message_uid: message for message in outbox}
        for method, properties, body in received:
            message = by_uid[properties.message_id]
            self.assertEqual(method.routing_key, message.event_type)
            self.assertEqual(properties.content_type, "application/json")
            self.assertEqual(properties.delivery_mode, 2, "persistent")
            self.assertEqual(properties.headers["company_id"], self.env.company.id)
            self.assertEqual(properties.headers["carrier"], self.carrier.name)
            self.assertEqual(body.decode(), message.payload)
            self.assertEqual(json.loads(body)["type"], message.event_type)
        self.assertEqual(Counter(m.routing_key for m, _p, _b in received)[outbound.DELIVERED], 1)
        self.assertTrue(self.subscription.last_success_at)

    @mute_logger(*PIKA_LOGGERS)
    def test_broker_unreachable_keeps_messages_until_it_is_back(self):
        self.subscription.amqp_url = "amqp://guest:guest@127.0.0.1:1/%2F"  # nothing listens there
        self.process("AMQP2", checkpoints=[3, 1])
        outbox = self.messages_of("AMQP2")
        self.Delivery._cron_dispatch()
        self.assertEqual(set(self.deliveries().mapped("state")), {"pending"})
        self.assertGreaterEqual(self.subscription.consecutive_failures, 1)
        errors = self.deliveries().attempt_ids.mapped("error")
        self.assertTrue(any("cannot connect" in (error or "") for error in errors), errors)
        # Back (here: the right address), and the messages were waiting.
        self.subscription.amqp_url = BROKER_URL
        self.env.execute_query(SQL("UPDATE shipment_outbox_delivery SET next_attempt_at = '2000-01-01'"))
        self.Delivery.invalidate_model()
        self.Delivery._cron_dispatch()
        self.assertEqual(set(self.deliveries().mapped("state")), {"delivered"})
        self.assertEqual(len(self.received(len(outbox))), len(outbox))
        self.assertEqual(self.subscription.consecutive_failures, 0)

    @mute_logger(*PIKA_LOGGERS)
    def test_connection_killed_mid_stream_loses_nothing(self):
        self.process("AMQP3", checkpoints=[3, 1])
        self.Delivery._cron_dispatch()
        first = len(self.messages_of("AMQP3"))
        self.assertEqual(len(self.received(first)), first)
        # Kill the worker's connection under it, as a broker restart or a network cut would.
        publisher = amqp.publisher_for(BROKER_URL, self.exchange)
        self.assertTrue(publisher.connected)
        publisher._connection._impl._transport._sock.shutdown(socket.SHUT_RDWR)
        self.process("AMQP3", checkpoints=list(range(9)))
        total = len(self.messages_of("AMQP3"))
        self.Delivery._cron_dispatch()
        pending = self.deliveries().filtered(lambda d: d.state == "pending")
        self.assertTrue(pending, "the publish on the dead connection is not counted as delivered")
        errors = self.deliveries().attempt_ids.mapped("error")
        self.assertTrue(any("connection lost" in (error or "") for error in errors), errors)
        deadline = time.monotonic() + 10
        while pending and time.monotonic() < deadline:
            time.sleep(0.3)
            self.env.execute_query(SQL("UPDATE shipment_outbox_delivery SET next_attempt_at = '2000-01-01' "
                                       "WHERE state = 'pending'"))
            self.Delivery.invalidate_model()
            self.Delivery._cron_dispatch()
            pending = self.deliveries().filtered(lambda d: d.state == "pending")
        self.assertFalse(pending)
        received = self.received(total - first, timeout=5)
        ids = Counter(properties.message_id for _m, properties, _b in received)
        expected = set(self.messages_of("AMQP3").mapped("message_uid")[first:])
        self.assertTrue(expected <= set(ids), "every message published after the cut")
