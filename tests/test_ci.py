""".ci/run checks that PostgreSQL, Redis and RabbitMQ answer before it runs the suite."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ci_run(**urls: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(ROOT / ".ci" / "run")],
        env={**os.environ, **urls},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_ci_uses_the_default_port_of_a_url_without_one_and_fails_when_a_service_is_down():
    # RabbitMQ is always down here, so the script stops before it would run the suite.
    rabbit_port = _closed_port()
    result = _ci_run(
        DATABASE_URL="postgres://postgres@127.0.0.1/likeness",
        REDIS_URL="redis://127.0.0.1/15",
        RABBITMQ_URL=f"amqp://guest:guest@127.0.0.1:{rabbit_port}//",
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"RABBITMQ_URL (127.0.0.1:{rabbit_port}) is unreachable" in output
    # Reachable or not on this machine, each is looked for on its default port.
    assert "DATABASE_URL (127.0.0.1:5432) is" in output
    assert "REDIS_URL (127.0.0.1:6379) is" in output
    assert "None" not in output


def test_ci_names_every_unreachable_service():
    port = _closed_port()
    result = _ci_run(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{port}/likeness",
        REDIS_URL=f"redis://127.0.0.1:{port}/15",
        RABBITMQ_URL="amqp://guest:guest@127.0.0.1:notaport//",
    )
    assert result.returncode != 0
    assert f"DATABASE_URL (127.0.0.1:{port}) is unreachable" in result.stderr
    assert f"REDIS_URL (127.0.0.1:{port}) is unreachable" in result.stderr
    assert "RABBITMQ_URL is malformed" in result.stderr


def _make_dry_run(target: str) -> str:
    """The pytest line `make <target>` would run (printed, not run: `make -n`)."""
    result = subprocess.run(
        ["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    (line,) = [line for line in result.stdout.splitlines() if " -m pytest" in line]
    return line


def test_make_test_runs_the_whole_suite_and_names_the_slowest_tests():
    # .ci/run runs `make test`: nothing may be deselected there.
    line = _make_dry_run("test")
    assert " -m pytest --durations=20" in line
    assert ' -m "' not in line and "-k " not in line


def test_make_test_fast_leaves_out_only_browser_and_process_tests():
    line = _make_dry_run("test-fast")
    assert '-m "not browser and not processes" --durations=20' in line
