"""How many live watchers one web process holds (issue 15): a thousand WebSockets on one
daphne process on channels_redis, while jobs paint.

    REDIS_URL=redis://127.0.0.1:6379/11 .venv/bin/python bench/ws_watchers.py \\
        [--watchers 800] [--listeners 200] [--members 100] [--probes 50] [--steps 20]

In a fresh temporary data directory (SQLite, as ``make run``; nothing under ./data is
touched), with ``REDIS_URL`` for the channel layer and the broker: one daphne process and
one ``celery worker --pool solo``. ``--members`` members register; ``--watchers`` sockets
follow their jobs (``ws/jobs/<id>/``, spread evenly, each with its owner's token) and
``--listeners`` sockets listen to their notifications (``ws/notifications/``). Then:

* **connecting**: every socket opened at once (at most 100 handshakes in flight): from the
  TCP connect to the first message (the state), p50/p99, and daphne's resident memory before
  and after, per connection;
* **publish → receipt**: while the members' jobs paint for real (one each, submitted
  together), this process publishes ``--probes`` progress events per job, one every
  ``--probe-interval`` (150 ms, the rate the site sends progress at), with
  ``generation.events.publish`` — the very call a worker makes, through the same
  channels_redis — each stamped with its send time; every watcher of the job records when it
  got each one: p50/p99 of the delay over all deliveries, and how many were dropped;
* **done**: every watcher must get its job's ``done`` (each one re-read for its subscriber by
  the consumer); the delay from the job's ``finished_at`` to each receipt, and how many never
  came.

Prints a summary and a ``RESULT {json}`` line and writes
``bench/results/ws_watchers-<date>.json``. Numbers are written down, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import job_latency  # noqa: E402 - the temporary site and its helpers
from job_latency import Site, http_json, log, parse_time, register  # noqa: E402

from tests import support  # noqa: E402

RESULTS_DIR = ROOT / "bench" / "results"
HANDSHAKES_IN_FLIGHT = 100


def setup_django(env: dict[str, str]) -> None:
    """Django in this process, on the site's settings (``env``): the probes are published
    with them, through the same channels_redis."""
    for name in job_latency.DEPLOYMENT_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def percentiles(samples: list[float]) -> dict[str, float | int]:
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {
        "n": len(ordered),
        "p50": at(0.50),
        "p90": at(0.90),
        "p99": at(0.99),
        "max": round(ordered[-1] * 1000, 2),
        "mean": round(statistics.fmean(ordered) * 1000, 2),
    }


class Watcher:
    """One WebSocket and what it received: (receipt time, message)."""

    def __init__(self, url: str, token: str, job_id: str | None) -> None:
        self.url, self.token, self.job_id = url, token, job_id
        self.connect_s: float | None = None
        self.received: list[tuple[float, dict]] = []
        self.error = ""
        self.socket = None
        self.done = asyncio.Event()

    async def open(self, handshakes: asyncio.Semaphore) -> None:
        import websockets

        async with handshakes:
            started = time.perf_counter()
            try:
                self.socket = await websockets.connect(
                    self.url,
                    additional_headers={"Authorization": f"Token {self.token}"},
                    open_timeout=60,
                    max_size=2**22,
                )
                first = json.loads(await asyncio.wait_for(self.socket.recv(), 60))
            except Exception as exc:  # counted, not fatal: a failure is a result
                self.error = f"{type(exc).__name__}: {exc}"
                return
            self.connect_s = time.perf_counter() - started
            self.received.append((time.time(), first))

    async def listen(self) -> None:
        if self.socket is None:
            return
        try:
            async for raw in self.socket:
                message = json.loads(raw)
                self.received.append((time.time(), message))
                if message.get("type") in {"done", "failed", "cancelled"}:
                    self.done.set()
        except Exception as exc:
            self.error = self.error or f"{type(exc).__name__}: {exc}"
        finally:
            self.done.set()

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()


async def probe(job_ids: list[str], count: int, interval: float) -> int:
    """Publish ``count`` stamped progress events to each job, as a worker publishes."""
    from asgiref.sync import sync_to_async

    from generation import events

    def send(step: int) -> None:
        for job_id in job_ids:
            events.publish(
                job_id,
                {"type": "progress", "step": step, "total": count, "probe_sent": time.time()},
            )

    for step in range(1, count + 1):
        await sync_to_async(send, thread_sensitive=False)(step)
        await asyncio.sleep(interval)
    return count * len(job_ids)


async def scenario(args, port: int, daphne_pid: int) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}"
    tokens = [register(base) for _ in range(args.members)]
    # One queued job per member first (nothing paints until the worker is told to: the
    # worker is started below), so every watcher follows a job that has not begun.
    jobs = []
    for token in tokens:
        body = {"prompt": "a portrait of a watcher", "steps": args.steps, "width": 64, "height": 64}
        jobs.append(http_json("POST", f"{base}/api/v1/jobs/", body, token))
    watchers: list[Watcher] = []
    for index in range(args.watchers):
        member = index % args.members
        url = f"ws://127.0.0.1:{port}{jobs[member]['ws_url']}"
        watchers.append(Watcher(url, tokens[member], jobs[member]["id"]))
    listeners = [
        Watcher(f"ws://127.0.0.1:{port}/ws/notifications/", tokens[i % args.members], None)
        for i in range(args.listeners)
    ]
    sockets = watchers + listeners
    rss_before = rss_kib(daphne_pid)
    handshakes = asyncio.Semaphore(HANDSHAKES_IN_FLIGHT)
    opened_at = time.perf_counter()
    await asyncio.gather(*(s.open(handshakes) for s in sockets))
    all_open_s = time.perf_counter() - opened_at
    rss_after = rss_kib(daphne_pid)
    connected = [s for s in sockets if s.connect_s is not None]
    log(f"connected {len(connected)} of {len(sockets)} in {all_open_s:.1f} s")
    listening = [asyncio.create_task(s.listen()) for s in sockets]
    return {
        "tokens": tokens,
        "jobs": jobs,
        "watchers": watchers,
        "listeners": listeners,
        "listening": listening,
        "connect": {
            "sockets": len(sockets),
            "connected": len(connected),
            "errors": sorted({s.error for s in sockets if s.error})[:5],
            "all_open_s": round(all_open_s, 2),
            "to_first_message_ms": percentiles([s.connect_s for s in connected]),
            "daphne_rss_mib_before": round(rss_before / 1024, 1),
            "daphne_rss_mib_after": round(rss_after / 1024, 1),
            "kib_per_connection": round((rss_after - rss_before) / max(1, len(connected)), 1),
        },
    }


async def run(args, port: int, daphne_pid: int, start_worker) -> dict[str, Any]:
    state = await scenario(args, port, daphne_pid)
    watchers: list[Watcher] = state["watchers"]
    job_ids = [job["id"] for job in state["jobs"]]
    if not args.no_paint:
        start_worker()  # the jobs paint from now on, while the probes go out
    sent = await probe(job_ids, args.probes, args.probe_interval)
    waited = time.perf_counter()
    try:
        await asyncio.wait_for(
            asyncio.gather(*(w.done.wait() for w in watchers)),
            timeout=1.0 if args.no_paint else args.timeout,
        )
    except TimeoutError:
        if not args.no_paint:
            log("not every watcher got its job's end in time")
    done_wait_s = time.perf_counter() - waited
    finished = {}
    for job, token in zip(state["jobs"], state["tokens"], strict=True):
        resource = http_json("GET", f"http://127.0.0.1:{port}{job['api_url']}", token=token)
        finished[job["id"]] = (resource["status"], parse_time(resource.get("finished_at")))
    for socket in watchers + state["listeners"]:
        await socket.close()
    for task in state["listening"]:
        task.cancel()

    delays, done_delays, missing_done = [], [], 0
    received_probes = 0
    for watcher in watchers:
        for at, message in watcher.received:
            if message.get("type") == "progress" and "probe_sent" in message:
                delays.append(at - message["probe_sent"])
                received_probes += 1
        ends = [(at, m) for at, m in watcher.received if m.get("type") == "done"]
        status, finished_at = finished[watcher.job_id]
        if ends and finished_at is not None:
            done_delays.append(ends[0][0] - finished_at)
        elif status == "succeeded":  # its job painted, and this watcher never heard
            missing_done += 1
    expected_probes = args.probes * len(watchers)
    return {
        "connect": state["connect"],
        "probes": {
            "published": sent,
            "expected_deliveries": expected_probes,
            "delivered": received_probes,
            "dropped": expected_probes - received_probes,
            "publish_to_receipt_ms": percentiles(delays),
        },
        "done": {
            "jobs": {
                status: sum(1 for s, _ in finished.values() if s == status)
                for status in {s for s, _ in finished.values()}
            },
            "watchers": len(watchers),
            "delivered": len(done_delays),
            "missing": missing_done,
            "finished_to_receipt_ms": percentiles(done_delays),
            "wait_s": round(done_wait_s, 2),
        },
        "listeners_errors": sum(1 for s in state["listeners"] if s.error),
    }


def fresh_database(url: str) -> None:
    """Drop and create the PostgreSQL database ``url`` names (from the server's own
    ``postgres`` database): a benchmark's site starts empty, as a fresh SQLite file does."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if parts.scheme not in {"postgres", "postgresql"} or not name:
        sys.exit(f"--database-url must name a PostgreSQL database, not {url!r}")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchers", type=int, default=800)
    parser.add_argument("--listeners", type=int, default=200)
    parser.add_argument("--members", type=int, default=100, help="one job each")
    parser.add_argument("--probes", type=int, default=50, help="stamped events per job")
    parser.add_argument(
        "--probe-interval",
        type=float,
        default=0.15,
        help="seconds between a job's probes (the site's GENERATION_PROGRESS_INTERVAL_MS)",
    )
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument(
        "--worker-threads",
        default="",
        help="LIKENESS_TORCH_THREADS for the worker (default: every core, as the site's)",
    )
    parser.add_argument(
        "--no-paint",
        action="store_true",
        help="no worker: the probes alone, what the web process relays without painting "
        "beside it (the jobs stay queued, so no done)",
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL database to create afresh and serve the site from (dropped first if "
        "it exists), as production; default: the embedded default's SQLite",
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    if not args.redis_url:
        sys.exit("REDIS_URL (or --redis-url) must be set: this measures channels_redis")

    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="likeness-watchers-") as tmp:
        site = Site(Path(tmp), database_url=args.database_url)
        try:
            if args.database_url:
                fresh_database(args.database_url)
            log(f"setting up a site in {tmp}")
            site.prepare()
            prefix = f"likeness-watchers-{os.getpid()}"
            env = site.env(
                REDIS_URL=args.redis_url,
                CHANNELS_PREFIX=prefix,
                GENERATION_MAX_ACTIVE_JOBS="1000",
                API_USER_RATE="1000000/hour",
            )
            job_latency.purge_redis_queues(site, env)
            # This process publishes the probes through the same settings.
            setup_django(env)
            port = support.free_port()
            daphne = site.daphne(port, env)
            worker_env = dict(env)
            if args.worker_threads:
                worker_env["LIKENESS_TORCH_THREADS"] = args.worker_threads
            results = asyncio.run(
                run(args, port, daphne.pid, lambda: site.celery_worker(worker_env))
            )
        finally:
            site.stop_all()
            logs = "".join(path.read_text() for path in Path(tmp).glob("*.log"))
        # What the processes logged as refused or failed (the first lines, to read why).
        results["server_errors"] = [
            line for line in logs.splitlines() if "refused" in line or "Error" in line
        ][:10]
    results = {
        "benchmark": "ws_watchers",
        "date": started.isoformat(timespec="seconds"),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        **results,
        "duration_s": round((datetime.now(UTC) - started).total_seconds(), 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"ws_watchers-{started:%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    connect, probes, done = results["connect"], results["probes"], results["done"]
    print(
        f"connected {connect['connected']}/{connect['sockets']} in {connect['all_open_s']} s; "
        f"to first message {connect['to_first_message_ms']}; "
        f"{connect['kib_per_connection']} KiB per connection\n"
        f"probes: {probes['delivered']}/{probes['expected_deliveries']} delivered, "
        f"publish → receipt {probes['publish_to_receipt_ms']}\n"
        f"done: {done['delivered']}/{done['watchers']} watchers, missing {done['missing']}, "
        f"finished → receipt {done['finished_to_receipt_ms']}"
    )
    print("RESULT " + json.dumps(results, separators=(",", ":")))
    log(f"written {path}")


if __name__ == "__main__":
    main()
