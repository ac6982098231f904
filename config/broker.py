"""The embedded default's broker: kombu's memory transport, woken the moment a task is sent.

kombu's virtual transports poll: when a queue is empty the worker sleeps for the
transport's ``polling_interval`` and looks again. With the memory transport (the embedded
default: the web process's request threads send, its worker thread receives) that sleep
was what a job waited between its submission and its start: ~25 ms on average at a 50 ms
interval (``bench/job_latency.py``), and an idle worker woke twenty times a second. Here
sending a message notifies a condition the worker sleeps on, so it starts a job at once and
sleeps undisturbed (up to ``polling_interval``, a fallback) while nothing is sent.
Messages still pass only between threads of one process, as with kombu's own.
"""

from __future__ import annotations

import threading
from queue import Empty
from time import monotonic

from kombu.transport import memory

_sent = threading.Condition()
_sends = 0  # how many messages were sent; read under _sent


class Channel(memory.Channel):
    def _put(self, queue, message, **kwargs):
        global _sends
        super()._put(queue, message, **kwargs)
        with _sent:
            _sends += 1
            _sent.notify_all()


class Transport(memory.Transport):
    Channel = Channel

    def drain_events(self, connection, timeout=None):
        """kombu's ``virtual.Transport.drain_events``, waiting for a send instead of
        sleeping: a message sent between the look and the wait is seen by the count."""
        started = monotonic()
        while True:
            with _sent:
                seen = _sends
            try:
                self.cycle.get(self._deliver, timeout=timeout)
                return
            except Empty:
                waited = monotonic() - started
                if timeout is not None and waited >= timeout:
                    raise TimeoutError() from None
                wait = self.polling_interval
                if timeout is not None:
                    wait = min(wait, timeout - waited) if wait else timeout - waited
                with _sent:
                    if _sends == seen:
                        _sent.wait(wait)
