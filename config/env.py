"""Reading the environment: every malformed variable stops start-up with its name.

django-environ parses; these helpers turn its many failure modes (ValueError,
silently-empty dicts, warnings) into one ImproperlyConfigured that names the
variable, so a typo in production fails loudly at boot rather than at 3 a.m.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlencode, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

_DB_ENGINES = {
    "django.db.backends.sqlite3",
    "django.db.backends.postgresql",
    "django.db.backends.mysql",
}


_URL_PASSWORD = re.compile(r"(//[^/@:]*:)[^/@]*@")


def _fail(name: str, value: str, why: str) -> ImproperlyConfigured:
    # Start-up errors end up in logs: never print a URL's password there.
    shown = _URL_PASSWORD.sub(r"\1***@", value)
    return ImproperlyConfigured(f"Environment variable {name}={shown!r} is malformed: {why}")


def env_bool(name: str, default: bool | None) -> bool | None:
    """true/false (and their spellings); ``default`` when unset or empty."""
    raw = env.str(name, default="")
    if raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise _fail(name, raw, "expected true/false, yes/no, on/off or 1/0")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = env.str(name, default="")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _fail(name, raw, "expected a whole number") from None
    if minimum is not None and value < minimum:
        raise _fail(name, raw, f"must be at least {minimum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = env.str(name, default="")
    if raw == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_database(name: str, default: str) -> dict:
    raw = env.str(name, default="") or default
    try:
        config = env.db_url_config(raw)
    except (ValueError, KeyError) as exc:
        raise _fail(name, raw, str(exc)) from None
    engine = config.get("ENGINE", "")
    if engine not in _DB_ENGINES:
        raise _fail(name, raw, "expected sqlite:///path, postgres://… or mysql://…")
    if not config.get("NAME"):
        raise _fail(name, raw, "it names no database")
    return config


def env_url(name: str, default: str, *, schemes: set[str]) -> str:
    raw = env.str(name, default="")
    if raw == "":
        return default
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise _fail(name, raw, str(exc)) from None
    if parts.scheme not in schemes:
        raise _fail(name, raw, f"expected a URL starting with one of {sorted(schemes)}")
    return raw


def env_choice(name: str, default: str, *, choices: set[str]) -> str:
    """One of ``choices`` (compared case-insensitively; returned as spelled in ``choices``)."""
    raw = env.str(name, default="")
    if raw == "":
        return default
    by_lower = {choice.lower(): choice for choice in choices}
    try:
        return by_lower[raw.strip().lower()]
    except KeyError:
        raise _fail(name, raw, f"expected one of {', '.join(sorted(choices))}") from None


def env_log_level(name: str, default: str) -> str:
    return env_choice(name, default, choices=set(logging.getLevelNamesMapping()) - {"NOTSET"})


_RATE_PERIODS = {
    **dict.fromkeys(("s", "sec", "second", "seconds"), "second"),
    **dict.fromkeys(("m", "min", "minute", "minutes"), "minute"),
    **dict.fromkeys(("h", "hour", "hours"), "hour"),
    **dict.fromkeys(("d", "day", "days"), "day"),
}


def env_rate(name: str, default: str) -> str:
    """A rate such as ``30/hour``, returned in the one spelling every reader parses.

    DRF's throttles (and the generation quota) read only the first letter of the
    period, so ``30/month`` would silently mean thirty a minute: refuse it here.
    """
    raw = env.str(name, default="")
    if raw == "":
        return default
    count, slash, period = raw.strip().partition("/")
    count, period = count.strip(), period.strip().lower()
    if not slash or not count.isdigit() or int(count) < 1 or period not in _RATE_PERIODS:
        raise _fail(name, raw, "expected requests per second, minute, hour or day, e.g. 30/hour")
    return f"{int(count)}/{_RATE_PERIODS[period]}"


def env_redis_url(name: str) -> str:
    """``redis://``, ``rediss://`` or ``unix:///path/to/redis.sock`` (``?db=N``); "" if unset."""
    url = env_url(name, "", schemes={"redis", "rediss", "unix"})
    if not url:
        return url
    parts = urlsplit(url)
    if parts.scheme == "unix":
        if not parts.path or parts.path == "/":
            raise _fail(
                name, url, "a unix:// URL needs the socket's path, e.g. unix:///run/redis.sock"
            )
        database = dict(parse_qsl(parts.query)).get("db", "0")
    else:
        if not parts.hostname:
            raise _fail(name, url, "it names no host, e.g. redis://localhost:6379/0")
        database = parts.path.strip("/") or "0"
    if not database.isdigit():
        raise _fail(name, url, f"the database must be a number, not {database!r}")
    return url


def celery_broker_url_for_redis(url: str) -> str:
    """The Celery (kombu) spelling of a Redis URL.

    redis-py (the cache, channels_redis) takes ``unix:///path?db=N``; kombu wants
    ``redis+socket:///path?virtual_host=N`` and rejects ``unix://``.
    """
    parts = urlsplit(url)
    if parts.scheme != "unix":
        return url
    query = urlencode(
        [("virtual_host" if key == "db" else key, value) for key, value in parse_qsl(parts.query)]
    )
    # Spelled out: urlunsplit drops the "//" of an empty authority, which kombu needs.
    return f"redis+socket://{parts.netloc}{parts.path}" + (f"?{query}" if query else "")


_SMTP_DEFAULT_PORTS = {"smtp+ssl": 465, "smtps": 587, "smtp+tls": 587}


def env_email(name: str) -> dict:
    """Django's EMAIL_* settings from an e-mail URL (``smtp://user:password@host:587``, …).

    Unset: the console backend (mails are printed). Settings the URL leaves out
    keep Django's defaults instead of becoming ``None``.
    """
    raw = env.str(name, default="")
    if raw == "":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    schemes = sorted(environ.Env.EMAIL_SCHEMES)
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise _fail(name, raw, str(exc)) from None
    if parts.scheme not in environ.Env.EMAIL_SCHEMES:
        raise _fail(name, raw, f"expected a URL starting with one of {schemes}")
    try:
        config = env.email_url_config(raw)
    except (ValueError, ImproperlyConfigured) as exc:
        raise _fail(name, raw, str(exc)) from None
    if parts.scheme == "filemail" and not config.get("EMAIL_FILE_PATH"):
        raise _fail(name, raw, "it names no folder, e.g. filemail:////var/tmp/likeness-mail")
    if parts.scheme.startswith("smtp"):
        if not parts.hostname:
            raise _fail(
                name, raw, "it names no host, e.g. smtp://user:password@mail.example.com:587"
            )
        if parts.port is None and parts.scheme in _SMTP_DEFAULT_PORTS:
            config["EMAIL_PORT"] = _SMTP_DEFAULT_PORTS[parts.scheme]
    return {key: value for key, value in config.items() if value not in (None, "")}
