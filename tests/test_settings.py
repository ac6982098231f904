"""Malformed environment variables stop start-up with a message naming the variable."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


# Variables a developer's shell may carry that would change what these tests start.
_CLEARED = {
    "DATABASE_URL",
    "REDIS_URL",
    "DEBUG",
    "SECRET_KEY",
    "CELERY_BROKER_URL",
    "EMAIL_URL",
    "LOG_LEVEL",
    "GENERATION_SUBMIT_RATE",
    "API_ANON_RATE",
    "API_USER_RATE",
    "API_REGISTER_RATE",
    "API_TOKEN_RATE",
}


def _django_setup(tmp_path, code="", **env):
    environment = {key: value for key, value in os.environ.items() if key not in _CLEARED}
    environment.update(
        DJANGO_SETTINGS_MODULE="config.settings", LIKENESS_DATA_DIR=str(tmp_path), **env
    )
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup()\n{code}"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_defaults_start(tmp_path):
    result = _django_setup(tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "nonsense"),
        ("DATABASE_URL", "postgres://host:port/db"),
        ("DEBUG", "maybe"),
        ("REDIS_URL", "nonsense"),
        ("REDIS_URL", "redis://localhost:notaport/0"),
        ("REDIS_URL", "redis://localhost:6379/zero"),
        ("REDIS_URL", "unix://"),
        ("AVATAR_MAX_BYTES", "two megabytes"),
        ("ACCOUNT_EMAIL_VERIFICATION", "sometimes"),
        ("EMAIL_URL", "garbage"),
        ("EMAIL_URL", "smtp://h:x"),
        ("EMAIL_URL", "smtp://"),
        ("GENERATION_SUBMIT_RATE", "30/month"),
        ("GENERATION_SUBMIT_RATE", "lots"),
        ("API_ANON_RATE", "0/minute"),
        ("API_USER_RATE", "600"),
        ("API_REGISTER_RATE", "twenty/hour"),
        ("API_TOKEN_RATE", "30/fortnight"),
        ("LOG_LEVEL", "loud"),
    ],
)
def test_malformed_variable_fails_with_its_name(tmp_path, variable, value):
    result = _django_setup(tmp_path, **{variable: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"Environment variable {variable}=" in result.stderr


def test_a_malformed_url_is_reported_without_its_password(tmp_path):
    result = _django_setup(tmp_path, EMAIL_URL="smtp://mailer:hunter2@mail.example.com:x")
    assert "EMAIL_URL='smtp://mailer:***@mail.example.com:x'" in result.stderr
    assert "hunter2" not in result.stderr


def _settings_of(tmp_path, *names, **env) -> dict:
    code = (
        "import json; from django.conf import settings\n"
        f"print(json.dumps({{n: getattr(settings, n) for n in {list(names)!r}}}, default=str))"
    )
    result = _django_setup(tmp_path, code, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_email_url_configures_smtp_and_keeps_djangos_defaults_for_the_rest(tmp_path):
    values = _settings_of(
        tmp_path,
        "EMAIL_BACKEND",
        "EMAIL_HOST",
        "EMAIL_PORT",
        "EMAIL_USE_SSL",
        "EMAIL_HOST_USER",
        "EMAIL_HOST_PASSWORD",
        EMAIL_URL="smtp+ssl://mailer:s3cret@mail.example.com",
    )
    assert values == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "mail.example.com",
        "EMAIL_PORT": 465,
        "EMAIL_USE_SSL": True,
        "EMAIL_HOST_USER": "mailer",
        "EMAIL_HOST_PASSWORD": "s3cret",
    }


def test_without_email_url_mails_go_to_the_console(tmp_path):
    values = _settings_of(tmp_path, "EMAIL_BACKEND")
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"


def test_rates_and_log_level_are_read_in_one_spelling(tmp_path):
    values = _settings_of(
        tmp_path,
        "GENERATION_SUBMIT_RATE",
        "REST_FRAMEWORK",
        "LOGGING",
        GENERATION_SUBMIT_RATE=" 12 / Hours ",
        API_USER_RATE="5/s",
        LOG_LEVEL="warning",
    )
    assert values["GENERATION_SUBMIT_RATE"] == "12/hour"
    assert values["REST_FRAMEWORK"]["DEFAULT_THROTTLE_RATES"]["user"] == "5/second"
    assert values["LOGGING"]["root"]["level"] == "WARNING"


def test_a_unix_socket_redis_url_becomes_celerys_redis_socket_url(tmp_path):
    values = _settings_of(
        tmp_path,
        "CELERY_BROKER_URL",
        "CACHES",
        "CHANNEL_LAYERS",
        REDIS_URL="unix:///run/redis/redis.sock?db=3",
    )
    # redis-py (cache, channels_redis) reads unix://…?db=N; kombu wants its own spelling.
    assert values["CELERY_BROKER_URL"] == "redis+socket:///run/redis/redis.sock?virtual_host=3"
    assert values["CACHES"]["default"]["LOCATION"] == "unix:///run/redis/redis.sock?db=3"
    assert values["CHANNEL_LAYERS"]["default"]["CONFIG"]["hosts"] == [
        {"address": "unix:///run/redis/redis.sock?db=3", "socket_timeout": 15}
    ]


REDIS_OVER_A_SOCKET = """
from config.celery import app
with app.connection_for_write() as connection:
    queue = connection.SimpleQueue("likeness-settings-probe")
    queue.put({"hello": "socket"})
    message = queue.get(timeout=10)
    message.ack()
    queue.close()
from django.core.cache import cache
cache.set("probe", "cached")
print("celery:", message.payload["hello"], "cache:", cache.get("probe"))
"""


# The redis-server program comes with Redis: the shared `redis` marker skips this (with
# its reason) on the embedded default and requires it where CI requires services.
@pytest.mark.redis
def test_celery_and_the_cache_reach_redis_over_a_unix_socket(tmp_path):
    # A short folder: a socket path may not exceed ~100 characters, tmp_path can.
    folder = Path(tempfile.mkdtemp(prefix="likeness-redis-"))
    sock = folder / "redis.sock"
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--save",
            "",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        result = _django_setup(
            tmp_path,
            REDIS_OVER_A_SOCKET,
            REDIS_URL=f"unix://{sock}?db=2",
            CELERY_INPROCESS_WORKER="false",
        )
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(folder, ignore_errors=True)
    assert result.returncode == 0, result.stderr
    assert "celery: socket cache: cached" in result.stdout


def test_production_without_a_secret_key_fails(tmp_path):
    result = _django_setup(tmp_path, DEBUG="false", ALLOWED_HOSTS="likeness.example")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


# DEBUG unset, DEBUG=true and DEBUG=false are three different sites (config.settings).
_MODE_SETTINGS = (
    "DEBUG",
    "PRODUCTION",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_PRELOAD",
    "ACCOUNT_EMAIL_VERIFICATION",
    "STORAGES",
    "WHITENOISE_USE_FINDERS",
    "WHITENOISE_AUTOREFRESH",
)


def test_the_embedded_default_hides_debug_pages_but_is_not_hardened(tmp_path):
    values = _settings_of(tmp_path, *_MODE_SETTINGS)
    # Visitors of `make run` get the site's own 404/500 pages, never the URL list.
    assert values["DEBUG"] is False
    assert values["PRODUCTION"] is False
    # …and it still runs on plain http on this machine, without collectstatic.
    assert values["SECRET_KEY"].startswith("django-insecure-")
    assert values["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]"]
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["CSRF_COOKIE_SECURE"] is False
    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0
    assert values["ACCOUNT_EMAIL_VERIFICATION"] == "optional"
    assert values["STORAGES"]["staticfiles"]["BACKEND"].endswith(".StaticFilesStorage")
    assert values["WHITENOISE_USE_FINDERS"] is True
    assert values["WHITENOISE_AUTOREFRESH"] is True


def test_debug_true_shows_debug_pages_without_hardening(tmp_path):
    values = _settings_of(tmp_path, *_MODE_SETTINGS, DEBUG="true")
    assert values["DEBUG"] is True
    assert values["PRODUCTION"] is False
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["WHITENOISE_USE_FINDERS"] is True


def test_an_explicit_debug_false_is_production(tmp_path):
    values = _settings_of(
        tmp_path, *_MODE_SETTINGS, DEBUG="false", SECRET_KEY="production-" + "x" * 50
    )
    assert values["DEBUG"] is False
    assert values["PRODUCTION"] is True
    assert values["ALLOWED_HOSTS"] == []
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] == 31536000
    assert values["SECURE_HSTS_PRELOAD"] is True
    assert values["ACCOUNT_EMAIL_VERIFICATION"] == "mandatory"
    assert values["STORAGES"]["staticfiles"]["BACKEND"] == (
        "whitenoise.storage.CompressedManifestStaticFilesStorage"
    )
    assert values["WHITENOISE_USE_FINDERS"] is False
    assert values["WHITENOISE_AUTOREFRESH"] is False


def test_an_empty_debug_is_the_embedded_default_not_production(tmp_path):
    # `DEBUG= make run` (an empty value, e.g. from a template .env) must not demand a key.
    values = _settings_of(tmp_path, "DEBUG", "PRODUCTION", DEBUG="")
    assert values == {"DEBUG": False, "PRODUCTION": False}


@pytest.mark.processes
def test_make_runs_site_shows_its_own_404_serves_static_files_and_a_favicon(
    transactional_db, tmp_path
):
    """daphne with the environment `make run` gives it: no DEBUG, no collectstatic."""
    from urllib.error import HTTPError
    from urllib.request import HTTPRedirectHandler, Request, build_opener

    from tests import support

    port = support.free_port()
    env = support.process_env(
        DEBUG=None,
        # An empty STATIC_ROOT: nothing was collected, the apps' folders must serve.
        STATIC_ROOT=str(tmp_path / "static-root"),
        REDIS_URL="",
        CELERY_BROKER_URL="",
        CELERY_INPROCESS_WORKER="false",
    )
    site = support.daphne(env, tmp_path / "daphne.log", port)

    class NoRedirects(HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = build_opener(NoRedirects)

    def get(path: str):
        try:
            response = opener.open(Request(f"http://127.0.0.1:{port}{path}"), timeout=30)
        except HTTPError as error:
            response = error
        with response:
            return response.status, dict(response.headers), response.read()

    try:
        support.wait_for_port(port, site)
        status, _, body = get("/no-such-page/")
        stylesheet_status, stylesheet_headers, stylesheet = get("/static/gallery/likeness.css")
        icon_status, icon_headers, _ = get("/favicon.ico")
        if icon_status in (301, 302):
            svg_status, svg_headers, svg = get(icon_headers["Location"])
    finally:
        support.stop(site)

    page = body.decode()
    assert status == 404
    assert "This page does not exist" in page
    assert "URLconf" not in page and "DEBUG = True" not in page
    assert stylesheet_status == 200, support.read_log(site)
    assert stylesheet_headers["Content-Type"].startswith("text/css")
    assert b".site-header" in stylesheet
    assert icon_status in (301, 302)
    assert svg_status == 200
    assert svg_headers["Content-Type"] == "image/svg+xml"
    assert svg.lstrip().startswith(b"<svg")
