"""The production channel layer (channels_redis) keeps an idle WebSocket open.

channels_redis waits for a channel's next message with a blocking ``BZPOPMIN`` of
``brpop_timeout`` (5 s). redis-py 8 gives every connection a 5 s socket timeout by
default, so a connection with nothing to relay for 5 s — a job waiting in the queue, a
model loading — raised ``redis.exceptions.TimeoutError`` inside the consumer and daphne
closed the WebSocket with 1011, measured on a production-like deployment (the issue 7
review). The layer's socket timeout must outlast its blocking pop.
"""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync

pytestmark = pytest.mark.redis


def test_an_idle_channel_keeps_waiting_past_the_blocking_pop():
    from channels_redis.core import RedisChannelLayer
    from django.conf import settings

    # A layer of this test's own, built from the settings daphne uses: its pools belong
    # to this test's event loop.
    layer = RedisChannelLayer(**settings.CHANNEL_LAYERS["default"]["CONFIG"])

    async def idle_receive() -> str:
        channel = await layer.new_channel()
        try:
            # Nothing is ever sent: the receive must still be waiting when the deadline
            # (two blocking pops) passes, not fail on a socket timeout.
            await asyncio.wait_for(layer.receive(channel), timeout=2 * layer.brpop_timeout + 1)
        except TimeoutError:
            return "still waiting"
        finally:
            await layer.close_pools()
        return "received a message nobody sent"

    assert async_to_sync(idle_receive)() == "still waiting"
