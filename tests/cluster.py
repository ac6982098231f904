"""The production shape as separate processes on one machine: several daphne processes and
several Celery workers on PostgreSQL and Redis, media on an S3 API server, static files
collected and served as in production (README, "Running at scale").

Used by ``tests/test_scale_out.py``, and by people through ``make scale-out``
(``python -m tests.cluster``), which starts two web processes and two workers on the
PostgreSQL and Redis named by ``DATABASE_URL`` and ``REDIS_URL`` (migrated, the demo model
registered), with moto's S3 server on 127.0.0.1, and prints where they listen. Members sign
up as in production (e-mail verification is mandatory; without ``EMAIL_URL`` the mail is
printed in the web processes' logs), or ``manage.py createsuperuser`` with the same
``DATABASE_URL``.

Everything runs with ``DEBUG=false``, as production does, except for what needs the TLS
proxy a real deployment has in front of daphne: ``SECURE_SSL_REDIRECT`` and HSTS are off,
so plain http on 127.0.0.1 answers.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from tests import support

ROOT = Path(__file__).resolve().parent.parent
S3_REGION = "eu-west-1"
S3_ACCESS_KEY, S3_SECRET_KEY = "likeness-cluster", "likeness-cluster-secret"


class S3Server:
    """moto's S3 API server in a thread of this process, on 127.0.0.1, with one bucket."""

    def __init__(self, bucket: str | None = None) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request else
        self.port = support.free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.bucket = bucket or f"likeness-{uuid.uuid4().hex[:12]}"
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    def start(self) -> S3Server:
        self._server.start()
        self.client().create_bucket(
            Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": S3_REGION}
        )
        return self

    def stop(self) -> None:
        self._server.stop()

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=S3_REGION,
            aws_access_key_id=S3_ACCESS_KEY,
            aws_secret_access_key=S3_SECRET_KEY,
        )

    def env(self) -> dict[str, str]:
        """The variables that put a site's media in this bucket (config.settings)."""
        return {
            "AWS_STORAGE_BUCKET_NAME": self.bucket,
            "AWS_S3_ENDPOINT_URL": self.endpoint,
            "AWS_S3_REGION_NAME": S3_REGION,
            "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
        }

    def keys(self) -> list[str]:
        listed = self.client().list_objects_v2(Bucket=self.bucket)
        return sorted(item["Key"] for item in listed.get("Contents", []))


def production_env(base: dict[str, str], root: Path, **extra: str) -> dict[str, str]:
    """``base`` (a child's environment) as production configures a site, on this machine."""
    return {
        **base,
        "DEBUG": "false",
        "SECRET_KEY": "cluster-only-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SITE_URL": "http://127.0.0.1",
        # No TLS proxy in front here: plain http must answer (README says what a real
        # deployment sets).
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
        "CELERY_INPROCESS_WORKER": "false",
        "STATIC_ROOT": str(root / "static"),
        **extra,
    }


@dataclass
class Cluster:
    """``webs`` daphne processes and ``workers`` Celery workers (``--pool solo``, each
    ``worker<N>@host``) sharing ``env``; logs in ``root``."""

    env: dict[str, str]
    root: Path
    webs: int = 2
    workers: int = 2
    ports: list[int] = field(default_factory=list)
    web_processes: list[subprocess.Popen] = field(default_factory=list)
    worker_processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def manage(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
        )

    def start(self) -> Cluster:
        # Production serves collectstatic's hashed files (whitenoise): collect them first.
        self.manage("collectstatic", "--noinput")
        for index in range(self.webs):
            port = support.free_port()
            self.ports.append(port)
            self.web_processes.append(
                support.daphne(self.env, self.root / f"web{index + 1}.log", port)
            )
        for index in range(self.workers):
            self.start_worker(f"worker{index + 1}")
        for port, process in zip(self.ports, self.web_processes, strict=True):
            support.wait_for_port(port, process, timeout=90)
        return self

    def start_worker(self, name: str) -> subprocess.Popen:
        process = support.celery_worker(self.env, self.root / f"{name}.log", name)
        self.worker_processes[name] = process
        return process

    def url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports[index]}"

    def kill_worker(self, name: str) -> None:
        """SIGKILL a worker and everything it started: a machine lost mid-job."""
        process = self.worker_processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def logs(self) -> str:
        processes = [*self.web_processes, *self.worker_processes.values()]
        return "\n".join(f"--- {p.args[-1]}\n{support.read_log(p)}" for p in processes)

    def stop(self) -> None:
        for process in [*self.worker_processes.values(), *self.web_processes]:
            support.stop(process)


def main() -> None:  # pragma: no cover - for people (make scale-out)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webs", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    for name in ("DATABASE_URL", "REDIS_URL"):
        if not os.environ.get(name):
            sys.exit(f"{name} must be set: this runs the production shape (README)")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    with tempfile.TemporaryDirectory(prefix="likeness-cluster-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        s3 = S3Server().start()
        stack.callback(s3.stop)
        base = {key: value for key, value in os.environ.items() if key != "DEBUG"}
        env = production_env(base, root, **s3.env(), LIKENESS_DATA_DIR=str(root / "data"))
        cluster = Cluster(env, root, webs=args.webs, workers=args.workers)
        cluster.manage("migrate", "--noinput")
        cluster.manage("c2pa_dev_certs")
        cluster.manage("add_demo_model")
        cluster.start()
        stack.callback(cluster.stop)
        for index in range(cluster.webs):
            print(f"web {index + 1}: {cluster.url(index)}/")
        print(f"workers: {', '.join(cluster.worker_processes)}; media: {s3.endpoint}/{s3.bucket}")
        print(f"logs: {root}  (Ctrl-C stops everything)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":  # pragma: no cover
    main()
