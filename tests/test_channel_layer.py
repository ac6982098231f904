"""The production channel layer (channels_redis, ``config.channel_layers.RedisChannelLayer``)
keeps an idle WebSocket open, and a burst of connects does not run out of connections.

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
    from django.conf import settings

    from config.channel_layers import RedisChannelLayer

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


def _burst_of_joins(layer_class, joins: int) -> list[str]:
    """``joins`` channels joining a group at once, as a burst of WebSocket connects does,
    on a layer allowed 4 connections to Redis; the errors."""
    from django.conf import settings

    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    hosts = [{**host, "max_connections": 4} for host in config["hosts"]]
    layer = layer_class(**{**config, "hosts": hosts, "prefix": config["prefix"] + "-burst"})

    async def burst() -> list[str]:
        async def join(index: int) -> str:
            try:
                await layer.group_add("burst", f"specific.burst!{index}")
            except Exception as exc:
                return type(exc).__name__
            return ""

        try:
            results = await asyncio.gather(*(join(i) for i in range(joins)))
            await layer.flush()
        finally:
            await layer.close_pools()
        return [error for error in results if error]

    return async_to_sync(burst)()


def test_a_burst_of_joins_waits_for_a_free_connection_instead_of_failing():
    from channels_redis.core import RedisChannelLayer as StockRedisChannelLayer

    from config.channel_layers import RedisChannelLayer

    # The stock pool refuses a command once its connections are all in use...
    assert "MaxConnectionsError" in _burst_of_joins(StockRedisChannelLayer, 200)
    # ...the site's waits for one.
    assert _burst_of_joins(RedisChannelLayer, 200) == []
