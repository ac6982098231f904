"""The embedded default's broker (config/broker.py): a waiting worker is woken by a send."""

from __future__ import annotations

import threading

from kombu import Connection

from config import broker
from tests.support import wait_until

HOUR = 3600.0


def connection() -> Connection:
    # A fallback poll of an hour: only the wake-up can deliver within the test's patience.
    return Connection(
        "memory://", transport=broker.Transport, transport_options={"polling_interval": HOUR}
    )


def test_a_waiting_consumer_is_woken_by_a_send_not_by_polling():
    received: list = []
    with connection() as consumer_side, connection() as sender_side:
        inbox = consumer_side.SimpleQueue("likeness-wake-test")
        consumer = threading.Thread(
            target=lambda: received.append(inbox.get(block=True, timeout=HOUR).payload),
            daemon=True,
        )
        consumer.start()
        # Sent only once the consumer sleeps on the condition (CPython keeps its waiters).
        wait_until(lambda: broker._sent._waiters, timeout=30, what="the consumer to wait")
        sender_side.SimpleQueue("likeness-wake-test").put({"job": 1})
        consumer.join(timeout=60)
        inbox.close()

    assert received == [{"job": 1}]


def test_a_consumer_with_nothing_sent_times_out_as_kombu_s_does():
    with connection() as consumer_side:
        inbox = consumer_side.SimpleQueue("likeness-quiet-test")
        try:
            inbox.get(block=True, timeout=0.05)
        except inbox.Empty:
            pass
        else:  # pragma: no cover - the assertion below says what went wrong
            raise AssertionError("a message came from nowhere")
        finally:
            inbox.close()
