"""Publishing our events to RabbitMQ (AMQP 0-9-1) with publisher confirms.

One connection per worker process and broker, reused across runs; a broken connection
is dropped and opened again on the next publish, no sooner than a backoff allows, so
that a broker outage costs one failed connect per backoff period instead of one per
message. A message is done only once the broker confirmed it: anything unconfirmed
stays in the outbox and is published again (consumers drop duplicates by
``message_id``). Nothing here imports Odoo.
"""

import logging
import threading
import time

import pika
import pika.exceptions
import pika.spec

_logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5
MAX_BACKOFF_SECONDS = 30
CONFIRM_TIMEOUT_SECONDS = 30


class BrokerUnavailable(Exception):
    """The broker could not be reached or dropped the connection: retry later."""


class PublishRefused(Exception):
    """The broker refused (nacked or returned) a message."""


class Publisher:
    """A confirming publisher on one durable topic exchange.

    :param str url: ``amqp://user:password@host:port/vhost`` (``amqps`` for TLS).
    :param str exchange: declared durable, type ``topic``.
    """

    def __init__(self, url, exchange, clock=time.monotonic):
        self.url = url
        self.exchange = exchange
        self._clock = clock
        self._connection = None
        self._channel = None
        self._failures = 0
        self._retry_at = 0.0

    @property
    def connected(self):
        return bool(self._connection and self._connection.is_open and self._channel and self._channel.is_open)

    def _connect(self):
        if self.connected:
            return
        if self._clock() < self._retry_at:
            raise BrokerUnavailable(f"broker unreachable; next try in {self._retry_at - self._clock():.1f} s")
        self.close()
        try:
            params = pika.URLParameters(self.url)
            params.socket_timeout = CONNECT_TIMEOUT_SECONDS
            params.blocked_connection_timeout = 30
            params.connection_attempts = 1
            self._connection = pika.BlockingConnection(params)
            self._channel = self._connection.channel()
            self._channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
            # Confirms are tracked here, not by the blocking channel (which would wait for
            # each one): a batch is published, then its confirms are awaited together.
            self._next_tag, self._outcomes, selected = 1, {}, []
            self._channel._impl.confirm_delivery(self._on_confirm, callback=lambda _frame: selected.append(True))
            deadline = self._clock() + CONNECT_TIMEOUT_SECONDS
            while not selected and self._clock() < deadline:
                self._connection.process_data_events(time_limit=0.1)
            if not selected:
                raise pika.exceptions.AMQPConnectionError("the broker did not enable publisher confirms")
        except (pika.exceptions.AMQPError, OSError) as exc:
            self._failed()
            raise BrokerUnavailable(f"cannot connect to the broker: {exc.__class__.__name__}: {exc}") from exc
        self._failures = 0

    def _failed(self):
        self._failures += 1
        self._retry_at = self._clock() + min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** (self._failures - 1))
        self.close()

    def _on_confirm(self, frame):
        method = frame.method
        acked = isinstance(method, pika.spec.Basic.Ack)
        if method.multiple:
            tags = [tag for tag in self._outcomes if tag <= method.delivery_tag]
        else:
            tags = [method.delivery_tag]
        for tag in tags:
            if self._outcomes.get(tag) is None:
                self._outcomes[tag] = acked

    def publish_many(self, messages, timeout=CONFIRM_TIMEOUT_SECONDS):
        """Publish persistent JSON messages, then wait for the broker's confirms of all of them.

        :param list messages: ``(routing_key, body, message_id, headers, correlation_id)``.
        :return: one entry per message: ``None`` when confirmed, else the exception
            (:class:`BrokerUnavailable`: publish it again; :class:`PublishRefused`).
        :raises BrokerUnavailable: no connection could be made.
        """
        self._connect()
        tags = []
        try:
            for routing_key, body, message_id, headers, correlation_id in messages:
                properties = pika.BasicProperties(
                    content_type="application/json", delivery_mode=pika.DeliveryMode.Persistent,
                    message_id=message_id, headers=headers or {}, correlation_id=correlation_id,
                    timestamp=int(time.time()))
                tag, self._next_tag = self._next_tag, self._next_tag + 1
                self._outcomes[tag] = None
                self._channel._impl.basic_publish(self.exchange, routing_key, body, properties)
                tags.append(tag)
            deadline = self._clock() + timeout
            while any(self._outcomes[tag] is None for tag in tags) and self._clock() < deadline:
                self._connection.process_data_events(time_limit=0.05)
        except (pika.exceptions.AMQPError, OSError, ValueError) as exc:
            # ValueError: pika's I/O loop met a socket that was already gone.
            self._failed()
            lost = BrokerUnavailable(f"connection lost while publishing: {exc.__class__.__name__}: {exc}")
            outcomes = [self._outcome(tag, lost) for tag in tags]
            return outcomes + [lost] * (len(messages) - len(outcomes))
        unconfirmed = BrokerUnavailable(f"no confirm from the broker within {timeout} s")
        outcomes = [self._outcome(tag, unconfirmed) for tag in tags]
        if any(isinstance(outcome, BrokerUnavailable) for outcome in outcomes):
            self._failed()
        return outcomes

    def _outcome(self, tag, missing):
        confirmed = self._outcomes.pop(tag, None)
        if confirmed is None:
            return missing
        return None if confirmed else PublishRefused("the broker refused (nacked) the message")

    def publish(self, routing_key, body, message_id, headers=None, correlation_id=None):
        """Publish one message and wait for its confirm.

        :raises BrokerUnavailable: no connection, or it broke (the message may or may
            not have arrived: publishing it again is the safe way).
        :raises PublishRefused: the broker nacked it.
        """
        outcome = self.publish_many([(routing_key, body, message_id, headers, correlation_id)])[0]
        if outcome is not None:
            raise outcome

    def close(self):
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except (pika.exceptions.AMQPError, OSError):
                _logger.debug("closing a broken broker connection failed", exc_info=True)


_PUBLISHERS = {}
_PUBLISHERS_LOCK = threading.Lock()


def publisher_for(url, exchange):
    """The publisher of this thread for (url, exchange): one connection per worker."""
    key = (threading.get_ident(), url, exchange)
    with _PUBLISHERS_LOCK:
        publisher = _PUBLISHERS.get(key)
        if publisher is None:
            publisher = _PUBLISHERS[key] = Publisher(url, exchange)
        return publisher


def drop_publishers():
    """Close every cached connection (tests, worker shutdown)."""
    with _PUBLISHERS_LOCK:
        publishers = list(_PUBLISHERS.values())
        _PUBLISHERS.clear()
    for publisher in publishers:
        publisher.close()
