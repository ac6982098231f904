"""An in-memory channel layer that a worker thread can publish to.

Channels' stock ``InMemoryChannelLayer`` keeps an ``asyncio.Queue`` per channel.
When the embedded worker thread (its own event loop, via ``async_to_sync``) puts
into a queue that a consumer awaits on the server's loop, the waiting consumer is
never woken: measured, 0 of 3 messages arrived. Here every put is handed to the
loop that receives on that channel with ``call_soon_threadsafe``, and the queue is
looked up there (``_put_on_owner_loop``).

Only for the single-process embedded default; production uses channels_redis, through
``RedisChannelLayer`` below.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from copy import deepcopy

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer as StockRedisChannelLayer
from redis.asyncio import BlockingConnectionPool


class ThreadSafeInMemoryChannelLayer(InMemoryChannelLayer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self._loops: dict[str, asyncio.AbstractEventLoop] = {}

    async def send(self, channel, message):
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message
        item = (time.time() + self.expiry, deepcopy(message))
        with self._lock:
            owner = self._loops.get(channel)
            if owner is None or owner is asyncio.get_running_loop() or owner.is_closed():
                # Nobody waits on another loop: the item goes in now, under the lock that
                # receive() takes to start waiting, so it is either seen or handed over.
                if not self._put(channel, item):
                    raise ChannelFull(channel)
                return
        owner.call_soon_threadsafe(self._put_on_owner_loop, channel, item)

    def _put(self, channel, item) -> bool:
        """Put ``item`` in ``channel``'s queue as it is now; False if full. Hold the lock."""
        queue = self.channels.setdefault(channel, asyncio.Queue(maxsize=self.get_capacity(channel)))
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:
            return False
        return True

    def _put_on_owner_loop(self, channel, item) -> None:
        # The queue is looked up here, on the loop that receives, and not by the sending
        # thread: receive() drops a queue it has emptied, so a queue looked up before
        # may be gone by now, and the item with it (measured: 120 of 20,000 lost). A
        # full channel drops the item, as a full channel does: progress events may be.
        with self._lock:
            self._put(channel, item)

    async def receive(self, channel):
        self.require_valid_channel_name(channel)
        with self._lock:
            self._loops[channel] = asyncio.get_running_loop()
            self._clean_expired()
            queue = self.channels.setdefault(
                channel, asyncio.Queue(maxsize=self.get_capacity(channel))
            )
        try:
            _, message = await queue.get()
        finally:
            with self._lock:
                if queue.empty() and self.channels.get(channel) is queue:
                    self.channels.pop(channel, None)
        return message

    async def group_add(self, group, channel):
        with self._lock:
            await super().group_add(group, channel)

    async def group_discard(self, group, channel):
        with self._lock:
            await super().group_discard(group, channel)
            self._loops.pop(channel, None)

    async def group_send(self, group, message):
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        with self._lock:
            self._clean_expired()
            members = list(self.groups.get(group, {}))
        for channel in members:
            with contextlib.suppress(ChannelFull):
                await self.send(channel, message)

    async def flush(self):
        with self._lock:
            self.channels = {}
            self.groups = {}
            self._loops = {}


class RedisChannelLayer(StockRedisChannelLayer):
    """channels_redis' layer, whose pool of connections to Redis waits for a free one
    instead of failing.

    redis-py's asyncio pool refuses a command outright ("Too many connections") once all of
    its connections (``max_connections``, 100 by default) are in use. A burst of WebSocket
    connects, each joining two groups, used them all: 1 or 2 of 1,000 sockets opened at once
    were refused with 4503 (bench/ws_watchers.py). This pool makes a command wait up to
    ``pool_timeout`` seconds for a connection (then it fails as before); a Redis that cannot
    be reached still fails at once. Configured like the stock layer (``hosts`` entries with
    an ``address``; a host entry's ``max_connections`` and ``pool_timeout`` are honoured);
    Sentinel hosts keep the stock pool.
    """

    POOL_TIMEOUT = 5.0

    def create_pool(self, index):
        host = dict(self.hosts[index])
        if "address" not in host:
            return super().create_pool(index)
        address = host.pop("address")
        timeout = host.pop("pool_timeout", self.POOL_TIMEOUT)
        return BlockingConnectionPool.from_url(address, timeout=timeout, **host)
