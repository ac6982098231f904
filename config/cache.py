"""The default cache with Redis: Redis, and each process's own memory while Redis is down.

What this site keeps in its cache is rate-limit bookkeeping (DRF's throttles on every API
request, allauth's limits on log-ins, failed log-ins per account, sign-ups and password
resets, and their locks) and what can be made again: the gallery's ordered snapshots
behind its cursors (``gallery.selectors``) and anonymous visitors' public pages
(``config.pagecache``). Nothing in it is the record of anything: sessions, quotas and
jobs live in the database. So when Redis cannot be reached the cache carries on in the
process's memory (a ``LocMemCache``) instead of raising, which made every API request
and every log-in a 500:

* the limits stay enforced, counted per process — a deployment of N web processes lets
  up to N times a rate through while the outage lasts. That is the trade chosen over the
  alternatives: failing open (no limit at all, for the failed-login limit too) or failing
  closed (every write answering 503, though nothing it needs is down);
* after a failed call, Redis is left alone for ``RETRY_AFTER`` seconds (a circuit
  breaker, per process), so a Redis that does not answer at all — a host gone, not a
  refused connection — costs one short timeout per process every few seconds, not one
  per request. The socket timeouts in ``OPTIONS`` (settings) bound that one call;
* afterwards the next call tries Redis again. Counts kept locally meanwhile are
  forgotten once it answers (limits restart from what Redis held, which is harmless for
  rate limits and for pages made again — and the reason this cache must not be used for
  anything that is not).
"""

from __future__ import annotations

import logging
import threading
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

RETRY_AFTER = 5.0


class _Outage:
    """Whether one Redis location is to be left alone, shared by the threads of a process
    (Django builds a cache object per thread)."""

    def __init__(self) -> None:
        self.retry_at = 0.0
        self.down = False
        self.lock = threading.Lock()

    def tripped(self, location: str, error: Exception) -> None:
        with self.lock:
            self.retry_at = time.monotonic() + RETRY_AFTER
            if not self.down:
                self.down = True
                logger.warning(
                    "Redis cache at %s is unreachable (%s): counting rate limits in this "
                    "process's memory until it answers again",
                    location,
                    error,
                )

    def recovered(self, location: str) -> None:
        if self.down:
            with self.lock:
                if self.down:
                    self.down = False
                    logger.warning("Redis cache at %s answers again", location)


_outages: dict[str, _Outage] = {}
_outages_lock = threading.Lock()


def _outage_for(location: str) -> _Outage:
    with _outages_lock:
        return _outages.setdefault(location, _Outage())


class RedisCacheWithLocalFallback(RedisCache):
    """Django's RedisCache that falls back to a per-process LocMemCache on Redis errors."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._location = str(server)
        self._outage = _outage_for(self._location)
        local_params = {key: value for key, value in params.items() if key != "OPTIONS"}
        local_params["OPTIONS"] = {"MAX_ENTRIES": 10_000}
        # LocMemCache keeps its data per name, so every thread's object shares one store.
        self._local = LocMemCache(f"redis-fallback:{self._location}", local_params)

    def _call(self, name: str, *args, **kwargs):
        outage = self._outage
        if time.monotonic() >= outage.retry_at:
            try:
                result = getattr(super(), name)(*args, **kwargs)
            except RedisError as exc:
                outage.tripped(self._location, exc)
            else:
                outage.recovered(self._location)
                return result
        return getattr(self._local, name)(*args, **kwargs)

    def reachable(self) -> bool:
        """Whether Redis answers a PING now (one call, bounded by the socket timeouts),
        whatever the breaker says: for ``/healthz`` (config.health)."""
        try:
            return bool(self._cache.get_client(write=True).ping())
        except RedisError:
            return False

    # Every operation RedisCache implements; BaseCache builds the rest (get_or_set, decr,
    # the async variants, ...) on these.
    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("add", key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._call("get", key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set", key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("touch", key, timeout, version)

    def delete(self, key, version=None):
        return self._call("delete", key, version)

    def get_many(self, keys, version=None):
        return self._call("get_many", keys, version)

    def has_key(self, key, version=None):
        return self._call("has_key", key, version)

    def incr(self, key, delta=1, version=None):
        return self._call("incr", key, delta, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set_many", data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._call("delete_many", keys, version)

    def clear(self):
        self._local.clear()
        return self._call("clear")
