"""What it costs to close WebSockets whose credential was revoked (issue 7).

    .venv/bin/python bench/ws_revocation.py [--events 2000] [--connections 300]
    REDIS_URL=redis://127.0.0.1:6379/13 .venv/bin/python bench/ws_revocation.py   # channels_redis
    DATABASE_URL=postgres://… .venv/bin/python bench/ws_revocation.py             # PostgreSQL

Two ways for an open ``ws/jobs/<id>/`` connection to learn that its token was revoked,
its session logged out, its member's password changed or the member deactivated:

A. re-check: re-read the credential from the database before relaying each event;
B. push: every connection joins ``auth.user.<id>`` and the revocation publishes a close
   message there (``accounts.connections``: what the project does, plus a re-read before a
   final event and once a minute, because channels_redis may drop a message).

On a consumer like the job consumer (``CredentialsWatchMixin`` on channels' JSON consumer,
behind ``TokenOrSessionAuthMiddleware``) driven by ``WebsocketCommunicator`` in this process,
it measures, for a token and for a session:

1. the relay cost per event: ``group_send`` of one progress-sized event, then waiting for the
   client to receive it, ``--events`` times, with A (re-read every event) and B (never
   re-read during the run); the difference is what A adds to every event of every follower;
2. the credential check alone (``credential_is_current``), in a quiet loop;
3. what B adds per connection: connect + first message + disconnect, with and without joining
   (and leaving) the ``auth.user.<id>`` group, ``--connections`` times;
4. B's revocation: ``revocation_publish`` from synchronous code (as a view calls it) until the
   connection receives its close; A's is "at the next event", never on an idle connection.

A temporary data directory with a migrated SQLite database unless DATABASE_URL is set (then
that database gets a throwaway member, deleted at the end); the in-memory channel layer
unless REDIS_URL is set. Prints a table and a ``RESULT {json}`` line and writes
``bench/results/ws_revocation-<date>.json``. Numbers are written down, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
# A progress event's size: a 128 px JPEG preview as a data URL is ~6 KB.
PREVIEW = "data:image/jpeg;base64," + "A" * 5800


def summarize(samples: list[float]) -> dict[str, float | int]:
    """Median, p90 and mean of ``samples`` (seconds) in milliseconds."""
    ordered = sorted(samples)
    p90 = statistics.quantiles(ordered, n=10, method="inclusive")[8] if len(ordered) > 1 else 0
    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered) * 1000, 4),
        "p90_ms": round(p90 * 1000, 4),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 4),
    }


def setup_django(data_dir: Path) -> None:
    os.environ["LIKENESS_DATA_DIR"] = str(data_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    # As in production: DEBUG on would log every query (and slow each one down).
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=300)
    parser.add_argument("--checks", type=int, default=2000)
    parser.add_argument("--revocations", type=int, default=100)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="likeness-bench-") as tmp:
        setup_django(Path(tmp))
        results = run(args)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"ws_revocation-{stamp}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nRESULT {json.dumps(results)}")
    print(f"written to {out.relative_to(ROOT)}")


def run(args: argparse.Namespace) -> dict[str, Any]:
    import django
    from asgiref.sync import async_to_sync, sync_to_async
    from channels.generic.websocket import AsyncJsonWebsocketConsumer
    from channels.layers import get_channel_layer
    from channels.testing import WebsocketCommunicator
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.connections import (
        ConnectionCredential,
        CredentialsWatchMixin,
        connection_credential,
        credential_is_current,
        revocation_publish,
    )
    from accounts.models import ApiToken, User
    from accounts.services import api_token_create
    from accounts.websocket import TokenOrSessionAuthMiddleware

    group = f"bench.{secrets.token_hex(4)}"

    class Follower(CredentialsWatchMixin, AsyncJsonWebsocketConsumer):
        """The job consumer's shape: watch, join the job's group, send the state, relay."""

        watch = True

        async def connect(self):
            if self.watch:
                if not await self.credentials_watch():
                    await self.close(code=4401)
                    return
            else:  # A: only the check on connect, no group to join
                self.credential = connection_credential(self.scope)
                if not await self._credential_is_current():
                    await self.close(code=4401)
                    return
            await self.channel_layer.group_add(group, self.channel_name)
            await self.accept()
            await self.send_json({"type": "state"})

        async def disconnect(self, code):
            await self.channel_layer.group_discard(group, self.channel_name)
            await self.credentials_unwatch()

        async def job_event(self, message):
            if await self.credentials_current(final=False):
                await self.send_json(message["event"])

    class RecheckEveryEvent(Follower):
        watch = False
        CREDENTIALS_RECHECK_SECONDS = -1.0  # every event re-reads the credential

    class PushOnly(Follower):
        watch = True
        CREDENTIALS_RECHECK_SECONDS = 1e9  # never re-read during the run

    class NoWatch(Follower):
        watch = False
        CREDENTIALS_RECHECK_SECONDS = 1e9

    user = User.objects.create_user(
        username=f"bench{secrets.token_hex(4)}",
        email=f"bench{secrets.token_hex(4)}@example.com",
        password=secrets.token_urlsafe(16),
    )
    token, key = api_token_create(user=user, name="bench")
    browser = Client()
    browser.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"
    credentials = {
        "token": [(b"authorization", f"Token {key}".encode())],
        "session": [(b"cookie", cookie.encode())],
    }
    layer = get_channel_layer()

    def communicator(consumer, kind: str) -> WebsocketCommunicator:
        app = TokenOrSessionAuthMiddleware(consumer.as_asgi())
        return WebsocketCommunicator(app, "/ws/bench/", headers=credentials[kind])

    async def relay(consumer, kind: str, n: int) -> list[float]:
        ws = communicator(consumer, kind)
        connected, _ = await ws.connect(timeout=30)
        assert connected
        await ws.receive_json_from(timeout=30)
        samples = []
        for step in range(n):
            event = {"type": "progress", "step": step, "total": n, "preview": PREVIEW}
            started = time.perf_counter()
            await layer.group_send(group, {"type": "job.event", "event": event})
            await ws.receive_from(timeout=30)
            samples.append(time.perf_counter() - started)
        await ws.disconnect()
        return samples

    async def connect_cycle(consumer, kind: str, n: int) -> list[float]:
        samples = []
        for _ in range(n):
            started = time.perf_counter()
            ws = communicator(consumer, kind)
            connected, _ = await ws.connect(timeout=30)
            assert connected
            await ws.receive_json_from(timeout=30)
            await ws.disconnect()
            samples.append(time.perf_counter() - started)
        return samples

    async def revoke_cycle(kind: str, n: int) -> list[float]:
        """Publish a revocation naming nothing (close all) from a sync thread, as a view
        would, and time it until the connection has its close."""
        samples = []
        publish = sync_to_async(revocation_publish, thread_sensitive=False)
        for _ in range(n):
            ws = communicator(PushOnly, kind)
            connected, _ = await ws.connect(timeout=30)
            assert connected
            await ws.receive_json_from(timeout=30)
            started = time.perf_counter()
            await publish(user_id=user.pk)
            message = await ws.receive_output(timeout=30)
            samples.append(time.perf_counter() - started)
            assert message["type"] == "websocket.close" and message["code"] == 4401, message
            await ws.disconnect()
        return samples

    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1],
        "python": platform.python_version(),
        "django": django.get_version(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "args": vars(args),
    }
    try:
        for kind in ("token", "session"):
            # 1. relay per event, A and B interleaved in blocks to share any drift
            a_samples: list[float] = []
            b_samples: list[float] = []
            block = max(args.events // 4, 1)
            async_to_sync(relay)(PushOnly, kind, 50)  # warm-up
            for _ in range(4):
                a_samples += async_to_sync(relay)(RecheckEveryEvent, kind, block)
                b_samples += async_to_sync(relay)(PushOnly, kind, block)
            # 2. the check alone, and its queries
            credential = ConnectionCredential(
                user_id=user.pk,
                token_id=token.pk if kind == "token" else None,
                session_key=browser.session.session_key if kind == "session" else None,
            )
            checks = []
            for _ in range(args.checks):
                started = time.perf_counter()
                assert credential_is_current(credential)
                checks.append(time.perf_counter() - started)
            with CaptureQueriesContext(connection) as queries:
                credential_is_current(credential)
            # 3. per connection, with and without the revocation group
            async_to_sync(connect_cycle)(PushOnly, kind, 20)  # warm-up
            with_group: list[float] = []
            without_group: list[float] = []
            per_block = max(args.connections // 4, 1)
            for _ in range(4):
                with_group += async_to_sync(connect_cycle)(PushOnly, kind, per_block)
                without_group += async_to_sync(connect_cycle)(NoWatch, kind, per_block)
            # 4. B's revocation, publish → close received
            revocations = async_to_sync(revoke_cycle)(kind, args.revocations)
            a, b = summarize(a_samples), summarize(b_samples)
            results[kind] = {
                "relay_per_event_A_recheck": a,
                "relay_per_event_B_push": b,
                "A_adds_per_event_ms": round(a["median_ms"] - b["median_ms"], 4),
                "check_alone": summarize(checks),
                "queries_per_check": len(queries.captured_queries),
                "connect_cycle_B_with_group": summarize(with_group),
                "connect_cycle_without_group": summarize(without_group),
                "revocation_publish_to_close_B": summarize(revocations),
            }
    finally:
        ApiToken.objects.filter(user=user).delete()
        user.delete()

    print(f"\n{'':44} {'token':>18} {'session':>18}")

    def row(label: str, path: tuple[str, ...]) -> None:
        cells = []
        for kind in ("token", "session"):
            value: Any = results[kind]
            for part in path:
                value = value[part]
            if isinstance(value, dict):
                cells.append(f"{value['median_ms']:.3f} / {value['p90_ms']:.3f}")
            else:
                cells.append(f"{value}")
        print(f"{label:44} {cells[0]:>18} {cells[1]:>18}")

    print(f"({results['database']}, {results['channel_layer']}; median / p90 ms)")
    row("1. relay one event, A: re-read every event", ("relay_per_event_A_recheck",))
    row("1. relay one event, B: push", ("relay_per_event_B_push",))
    row("   A adds per event and follower (ms)", ("A_adds_per_event_ms",))
    row("2. credential_is_current alone", ("check_alone",))
    row("   queries per check", ("queries_per_check",))
    row("3. connect+state+disconnect, B (auth group)", ("connect_cycle_B_with_group",))
    row("3. connect+state+disconnect, no auth group", ("connect_cycle_without_group",))
    row("4. B: revocation_publish → close received", ("revocation_publish_to_close_B",))
    return results


if __name__ == "__main__":
    main()
