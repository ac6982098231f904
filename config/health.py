"""``GET /healthz``: whether this web process can serve, for load balancers and monitors.

Answers without a session, a cookie or any authentication, never cached, in one JSON
object::

    {"status": "ok", "checks": {"database": {"ok": true, "ms": 0.4},
                                "cache": {"ok": true, "backend": "redis", "ms": 0.3},
                                "broker": {"ok": true, "transport": "redis", "ms": 1.9},
                                "workers": {"ok": true, "up": 2, "ready": 2, "ms": 0.5}}}

HTTP 200 while the database answers, 503 when it does not: nothing a member does works
without it, so a load balancer should send them elsewhere. The cache and the broker are
reported but do not fail the check: with Redis down the site carries on by design (the
cache falls back to the process's memory, ``config.cache``; a job submitted meanwhile waits
queued and is sent again by the sweeper), and every web process shares the same Redis, so
taking them all out of the pool would turn a degraded site into no site. ``status`` then
reads ``degraded``. Apps add what they know (:func:`health_report_register`): generation,
how many workers announced themselves lately (``workers.up``) and how many of them have
their models loaded (``workers.ready``), informative, as a web process is healthy without
one.

Nothing secret is said: no host, URL, user or error message, only which part failed and
the kind of error (``"error": "ConnectionError"``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from config.celery import app as celery_app

# How long the broker may take to accept a connection before it counts as unreachable.
BROKER_TIMEOUT = 2.0

# What apps add to the report once the database answers, by name (config may not import
# them: each registers its own from its AppConfig.ready).
_reports: dict[str, Callable[[], dict[str, Any]]] = {}


def health_report_register(name: str, report: Callable[[], dict[str, Any]]) -> None:
    """Add ``report()`` (a dict, read from the database) to ``/healthz`` as ``name``:
    informative, it never makes the site unhealthy (a failure reads ``"ok": false``)."""
    _reports[name] = report


def _timed(check: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        result = {"ok": True, **check()}
    except Exception as exc:  # reported, never raised: this is the report of what fails
        result = {"ok": False, "error": type(exc).__name__}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def _database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {}


def _cache() -> dict[str, Any]:
    reachable = getattr(cache, "reachable", None)  # config.cache's Redis cache
    if reachable is None:
        return {"backend": "local memory"}
    if not reachable():
        return {"ok": False, "backend": "redis", "error": "unreachable"}
    return {"backend": "redis"}


def _broker() -> dict[str, Any]:
    with celery_app.connection_for_write() as conn:
        transport = conn.transport.driver_type  # "redis", "amqp"; config.broker's: "memory"
        if transport == "memory":
            return {"transport": "memory (in this process)"}
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT)
    return {"transport": transport}


@never_cache
@require_safe
def healthz(request):
    checks = {"database": _timed(_database)}
    checks["cache"] = _timed(_cache)
    checks["broker"] = _timed(_broker)
    if not checks["database"]["ok"]:
        status = "unavailable"
    elif all(check["ok"] for check in checks.values()):
        status = "ok"
    else:
        status = "degraded"
    if checks["database"]["ok"]:
        checks |= {name: _timed(report) for name, report in _reports.items()}
    return JsonResponse(
        {"status": status, "checks": checks}, status=503 if status == "unavailable" else 200
    )
