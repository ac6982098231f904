"""The gallery at benchmark scale: latency and throughput of every browsing surface (issue 9).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/likeness_bench \\
        .venv/bin/python bench/gallery.py [--clients 8] [--duration 10] [--processes 1]

Needs a database seeded with ``manage.py seed_demo --fast`` (100,000 portraits, 1,000
members, 1,000,000 likes); the script refuses one without demo members. It then:

1. picks its targets from the data, as a visitor would find them: the 500-portrait remix
   tree (the root with most descendants), the member with most public portraits (profile),
   the most common style (filter), a word of the prompts (search), and demo member 0, who
   follows a hundred members, as the signed-in reader of the following feed (a session
   cookie for the page, a personal API token for the API);
2. captures the SQL that the gallery API runs for ``sort=top&period=week`` and
   ``sort=trending`` (``CaptureQueriesContext`` around an in-process request) and records
   ``EXPLAIN (ANALYZE, BUFFERS)`` of each of its queries on the portraits table (second
   run: warm cache);
3. starts daphne as production runs it (``DEBUG=false``, a ``SECRET_KEY``, behind one
   trusted proxy: every request carries ``X-Forwarded-Proto: https`` and
   ``X-Forwarded-For``; ``REDIS_URL`` for the cache and channel layer when given), one or
   ``--processes`` processes sharing one listening socket (``daphne --fd``);
4. drives each endpoint in turn with ``--clients`` concurrent keep-alive HTTP/1.1
   connections for ``--warmup`` seconds unrecorded, then ``--duration`` seconds
   recorded: p50/p90/p99 latency, requests/s, status codes. The load tool is ``wrk``
   (Debian's ``wrk``: C, one thread, its own latency histogram) when it is installed,
   else a small asyncio client in this file (``--tool asyncio``), which costs the two
   cores several times more per request and so measures the site slower.

Lists and trees are served from ``config.pagecache`` for ``PUBLIC_PAGE_TTL`` seconds (the
site's default), anonymous ones for everyone, a member's for that member's credential:
hammering one URL then measures mostly cache hits answered before Django, plus one
recomputation every TTL (while the others are served the page being replaced).
``--page-ttl 0`` measures every request uncached (the work a cache miss costs). Run both.

The API's throttles are lifted (``API_ANON_RATE``/``API_USER_RATE``): one loopback address
would otherwise be throttled after 120 requests, and the benchmark measures the pages,
not the 429. Prints a table and writes ``bench/results/gallery-<date>.json``. Numbers are
written down (bench/README.md), never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS_DIR = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/likeness_bench"


# --------------------------------------------------------------------------------------------
# The environment of a production-like site on this database
# --------------------------------------------------------------------------------------------
def site_env(args: argparse.Namespace) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        {
            "DATABASE_URL": args.database_url,
            "DEBUG": "false",
            "SECRET_KEY": args.secret_key,
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "TRUSTED_PROXY_COUNT": "1",
            "API_ANON_RATE": "100000000/minute",
            "API_USER_RATE": "100000000/minute",
            "CELERY_INPROCESS_WORKER": "false",
            "LIKENESS_DATA_DIR": args.data_dir,
            "STATIC_ROOT": str(Path(args.data_dir) / "static"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    if args.conn_max_age is not None:
        env["DB_CONN_MAX_AGE"] = str(args.conn_max_age)
    if args.page_ttl is not None:
        env["PUBLIC_PAGE_TTL"] = str(args.page_ttl)
    return env


# --------------------------------------------------------------------------------------------
# 1 + 2: targets, credentials and EXPLAIN, in this process
# --------------------------------------------------------------------------------------------
def prepare(args: argparse.Namespace) -> dict[str, Any]:
    os.environ.update(site_env(args))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if not args.redis_url:
        os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils.crypto import get_random_string

    from accounts.services import api_token_create
    from gallery.demo import demo_users
    from gallery.models import Follow, Like
    from portraits.models import LISTED, Portrait

    readers = demo_users().order_by("pk")
    reader = readers.first()
    if reader is None:
        raise SystemExit("No demo members: seed with `manage.py seed_demo --fast` first.")
    counts = {
        "portraits": Portrait.objects.count(),
        "listed": Portrait.objects.filter(LISTED).count(),
        "users": readers.count(),
        "likes": Like.objects.count(),
        "follows": Follow.objects.count(),
    }
    tree = (
        Portrait.objects.filter(root__isnull=False)
        .values("root")
        .annotate(size=Count("id"))
        .order_by("-size")
        .first()
    )
    tree_root = Portrait.objects.get(pk=tree["root"]) if tree else None
    author = (
        Portrait.objects.filter(LISTED)
        .values("author__username")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    style = (
        Portrait.objects.filter(LISTED)
        .exclude(style="")
        .values("style")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    _, token = api_token_create(user=reader, name=f"bench {secrets.token_hex(3)}")
    client = Client(HTTP_X_FORWARDED_PROTO="https", HTTP_X_FORWARDED_FOR="127.0.0.1")
    client.force_login(reader)
    # A browser signed in holds the CSRF cookie the site gave it on its first page too.
    session = f"sessionid={client.cookies['sessionid'].value}; csrftoken={get_random_string(32)}"

    explains: dict[str, Any] = {}
    anonymous = Client(HTTP_X_FORWARDED_PROTO="https", HTTP_X_FORWARDED_FOR="127.0.0.1")
    for name, query in (
        ("top_week", {"sort": "top", "period": "week"}),
        ("top_month", {"sort": "top", "period": "month"}),
        ("trending", {"sort": "trending"}),
        ("search", {"q": args.search}),
    ):
        url = "/api/v1/gallery/?" + urlencode(query)
        with CaptureQueriesContext(connection) as captured:
            response = anonymous.get(url, secure=True)
        plans = []
        for entry in captured.captured_queries:
            sql = entry["sql"]
            if not sql.lstrip().upper().startswith("SELECT") or "portraits_portrait" not in sql:
                continue
            plan = []
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    for _ in range(2):  # keep the second: warm cache, as under load
                        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                        plan = [row[0] for row in cursor.fetchall()]
            plans.append({"sql": sql, "ms_in_request": float(entry["time"]) * 1000, "plan": plan})
        explains[name] = {
            "url": url,
            "status": response.status_code,
            "queries": len(captured.captured_queries),
            "plans": plans,
        }
    follows_of_reader = Follow.objects.filter(follower=reader).count()
    connection.close()
    return {
        "reader": reader.username,
        "follows_of_reader": follows_of_reader,
        "token": token,
        "session": session,
        "tree_root": tree_root.public_id if tree_root else None,
        "tree_size": (tree["size"] + 1) if tree else 0,
        "profile": author["author__username"] if author else reader.username,
        "style": style["style"] if style else "",
        "search": args.search,
        "counts": counts,
        "explain": explains,
        "database": connection.vendor,
    }


def scenarios(targets: dict[str, Any]) -> list[dict[str, Any]]:
    """What is measured: (name, path, credential)."""
    api = "/api/v1/gallery/?"
    tree = targets["tree_root"]
    cases = [
        ("gallery page /", "/", None),
        ("gallery page / (session)", "/", "session"),
        ("explore page", "/explore/", None),
        ("API newest", api + "sort=newest", None),
        ("API top week", api + "sort=top&period=week", None),
        ("API top month", api + "sort=top&period=month", None),
        ("API top all", api + "sort=top&period=all", None),
        ("API trending", api + "sort=trending", None),
        ("API remixed", api + "sort=remixed", None),
        ("API style filter", api + urlencode({"sort": "newest", "style": targets["style"]}), None),
        ("API search", api + urlencode({"q": targets["search"]}), None),
        ("search page", "/explore/?" + urlencode({"q": targets["search"]}), None),
        ("profile page", f"/u/{targets['profile']}/", None),
        ("following page (session)", "/following/", "session"),
        ("API following feed (token)", "/api/v1/feed/following/", "token"),
    ]
    if tree:
        cases += [
            (f"tree page ({targets['tree_size']})", f"/p/{tree}/tree/", None),
            (f"API tree ({targets['tree_size']})", f"/api/v1/portraits/{tree}/tree/", None),
        ]
    return [{"name": n, "path": p, "auth": a} for n, p, a in cases]


# --------------------------------------------------------------------------------------------
# 3: daphne
# --------------------------------------------------------------------------------------------
def start_daphne(args: argparse.Namespace, log_dir: Path) -> tuple[list[subprocess.Popen], int]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    port = listener.getsockname()[1]
    env = site_env(args)
    processes = []
    for index in range(args.processes):
        log = open(log_dir / f"daphne-{index}.log", "w")  # noqa: SIM115 - closed with the process
        processes.append(
            subprocess.Popen(
                [
                    str(BIN / "daphne"),
                    "--fd",
                    str(listener.fileno()),
                    "config.asgi:application",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(listener.fileno(),),
                start_new_session=True,
            )
        )
    listener.close()  # the children hold it
    return processes, port


def stop_daphne(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, 15)
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(20)


# --------------------------------------------------------------------------------------------
# 4: the load tool: keep-alive HTTP/1.1 over asyncio streams
# --------------------------------------------------------------------------------------------
class Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> tuple[int, int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(raw)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                key, value = line.split(":", 1)
                headers[key.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = bytearray()
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                body += await self.reader.readexactly(size + 2)
                del body[-2:]
            body = bytes(body)
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, len(body), body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


def raw_request(path: str, cookie: str | None, token: str | None) -> bytes:
    lines = [
        f"GET {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "X-Forwarded-Proto: https",
        "X-Forwarded-For: 127.0.0.1",
        "Accept: text/html,application/json",
        "Connection: keep-alive",
    ]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    if token:
        lines.append(f"Authorization: Token {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def drive(
    port: int, raw: bytes, *, clients: int, warmup: float, duration: float
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    sizes: list[int] = []
    errors: list[str] = []
    start = time.perf_counter()
    record_from = start + warmup
    stop_at = record_from + duration

    async def client() -> None:
        connection = Connection(port)
        try:
            while True:
                sent = time.perf_counter()
                if sent >= stop_at:
                    return
                try:
                    status, size, _ = await connection.request(raw)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    await connection.close()
                    continue
                done = time.perf_counter()
                if sent >= record_from:
                    latencies.append(done - sent)
                    statuses[status] = statuses.get(status, 0) + 1
                    sizes.append(size)
        finally:
            await connection.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    latencies.sort()

    def pick(q: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "rps": round(len(latencies) / duration, 1),
        "p50_ms": round(pick(0.50), 2),
        "p90_ms": round(pick(0.90), 2),
        "p99_ms": round(pick(0.99), 2),
        "max_ms": round(latencies[-1] * 1000, 2) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else None,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "bytes": round(statistics.fmean(sizes)) if sizes else 0,
        "errors": errors[:5],
        "error_count": len(errors),
    }


# The same measurement with wrk (Debian's ``wrk``), a C load tool that costs the two cores far
# less than the asyncio client above: its own latency histogram, one thread, keep-alive.
WRK_PERCENTILE = re.compile(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk_drive(
    port: int, path: str, headers: list[str], *, clients: int, warmup: float, duration: float
) -> dict[str, Any]:
    base = ["wrk", "-t", "1", "-c", str(clients), "--timeout", "10s"]
    for header in headers:
        base += ["-H", header]
    url = f"http://127.0.0.1:{port}{path}"
    if warmup > 0:
        subprocess.run(
            [*base, "-d", f"{max(1, round(warmup))}s", url], check=True, capture_output=True
        )
    out = subprocess.run(
        [*base, "-d", f"{max(1, round(duration))}s", "--latency", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    percentiles = {
        q: round(float(value) * WRK_UNITS[unit], 2)
        for q, value, unit in WRK_PERCENTILE.findall(out)
    }
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "tool": "wrk",
        "requests": requests,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": percentiles.get("50"),
        "p90_ms": percentiles.get("90"),
        "p99_ms": percentiles.get("99"),
        "max_ms": None,
        "statuses": {"non-2xx": int(bad.group(1))} if bad else {"2xx": requests},
        "errors": [errors.group(1)] if errors else [],
        "error_count": 0 if not errors else 1,
        "wrk": out,
    }


async def probe(port: int, raw: bytes) -> tuple[int, int, bytes]:
    connection = Connection(port)
    try:
        return await connection.request(raw)
    finally:
        await connection.close()


async def wait_ready(port: int, processes: list[subprocess.Popen], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"daphne exited with {process.returncode}")
        try:
            status, _, _ = await probe(port, raw_request("/", None, None))
            if status < 500:
                return
        except (OSError, asyncio.IncompleteReadError):
            pass
        await asyncio.sleep(0.3)
    raise TimeoutError("daphne did not answer")


# --------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    parser.add_argument(
        "--data-dir", default=os.environ.get("LIKENESS_DATA_DIR", "/tmp/likeness-bench")
    )
    parser.add_argument(
        "--clients",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[8],
        help="Concurrent clients; a list (1,8) measures each endpoint at each.",
    )
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--processes", type=int, default=1, help="daphne processes on one socket")
    parser.add_argument(
        "--conn-max-age",
        type=int,
        help="DB_CONN_MAX_AGE for the site (default: the site's own default)",
    )
    parser.add_argument(
        "--page-ttl",
        type=int,
        help="PUBLIC_PAGE_TTL for the site: 0 measures every anonymous request uncached "
        "(default: the site's own, a few seconds)",
    )
    parser.add_argument(
        "--tool",
        choices=("wrk", "asyncio"),
        default="wrk" if shutil.which("wrk") else "asyncio",
        help="The load tool: wrk when installed (apt install wrk), else this file's client.",
    )
    parser.add_argument("--search", default="lighthouse")
    parser.add_argument("--only", help="Regular expression: only the scenarios it matches.")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--secret-key", default=secrets.token_urlsafe(40))
    args = parser.parse_args()
    Path(args.data_dir).mkdir(parents=True, exist_ok=True)

    began = time.monotonic()
    load_at_start = os.getloadavg()
    # DEBUG=false serves static files from a manifest, as production does after collectstatic.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=site_env(args),
        check=True,
    )
    targets = prepare(args)
    cases = scenarios(targets)
    if args.only:
        cases = [case for case in cases if re.search(args.only, case["name"])]
    log_dir = Path(args.data_dir) / "bench-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    processes, port = start_daphne(args, log_dir)
    results = []
    try:
        asyncio.run(wait_ready(port, processes))
        for case in cases:
            raw = raw_request(
                case["path"],
                targets["session"] if case["auth"] == "session" else None,
                targets["token"] if case["auth"] == "token" else None,
            )
            status, size, body = asyncio.run(probe(port, raw))
            entry: dict[str, Any] = {**case, "probe_status": status, "probe_bytes": size}
            if case["path"].startswith("/api/") and status == 200:
                try:
                    payload = json.loads(body)
                    items = payload.get("results", payload.get("nodes", []))
                    entry["items"] = len(items) if isinstance(items, list) else None
                except (ValueError, AttributeError):
                    entry["items"] = None
            if status != 200:
                entry["skipped"] = f"answered {status}"
                print(f"{case['name']:<32} skipped: {status} {case['path']}", flush=True)
                results.append(entry)
                continue
            for clients in args.clients:
                measured = {**entry, "clients": clients}
                if args.tool == "wrk":
                    head = raw.decode("latin-1").split("\r\n")[2:]
                    measured.update(
                        wrk_drive(
                            port,
                            case["path"],
                            [line for line in head if line and not line.startswith("Connection")],
                            clients=clients,
                            warmup=args.warmup,
                            duration=args.duration,
                        )
                    )
                else:
                    measured.update(
                        asyncio.run(
                            drive(
                                port,
                                raw,
                                clients=clients,
                                warmup=args.warmup,
                                duration=args.duration,
                            )
                        )
                    )
                results.append(measured)
                print(
                    f"{case['name']:<32} {clients:>2} clients  p50 {measured['p50_ms']:>7.1f} ms"
                    f"  p99 {measured['p99_ms']:>7.1f} ms  {measured['rps']:>6.1f} req/s"
                    f"  {measured['statuses']}",
                    flush=True,
                )
    finally:
        stop_daphne(processes)

    load = os.getloadavg()
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_at_start": [round(x, 2) for x in load_at_start],
            "loadavg_at_end": [round(x, 2) for x in load],
        },
        "settings": {
            "clients": args.clients,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "daphne_processes": args.processes,
            "load_tool": args.tool,
            "redis": bool(args.redis_url),
            "db_conn_max_age": args.conn_max_age,
            "public_page_ttl": args.page_ttl,
            "debug": False,
        },
        "targets": {k: v for k, v in targets.items() if k not in ("token", "session", "explain")},
        "explain": targets["explain"],
        "results": results,
        "seconds": round(time.monotonic() - began, 1),
    }
    print()
    print(table(results))
    for name, explain in targets["explain"].items():
        print(
            f"\nEXPLAIN (ANALYZE, BUFFERS): {name} — {explain['url']} ({explain['queries']} queries)"
        )
        for plan in explain["plans"]:
            print("  " + plan["sql"][:300])
            for line in plan["plan"]:
                print("    " + line)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"gallery-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {path}")


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        "| endpoint | clients | p50 ms | p99 ms | req/s | statuses |",
        "|---|---|---|---|---|---|",
    ]
    for entry in results:
        if "skipped" in entry:
            rows.append(f"| {entry['name']} | – | – | – | – | {entry['skipped']} |")
        else:
            rows.append(
                f"| {entry['name']} | {entry['clients']} | {entry['p50_ms']} | {entry['p99_ms']} "
                f"| {entry['rps']} "
                f"| {entry['statuses']} |"
            )
    return "\n".join(rows)


if __name__ == "__main__":
    main()
