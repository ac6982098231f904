"""Reading the environment: every malformed variable stops start-up with its name.

django-environ parses; these helpers turn its many failure modes (ValueError,
silently-empty dicts, warnings) into one ImproperlyConfigured that names the
variable, so a typo in production fails loudly at boot rather than at 3 a.m.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

_DB_ENGINES = {
    "django.db.backends.sqlite3",
    "django.db.backends.postgresql",
    "django.db.backends.mysql",
}


def _fail(name: str, value: str, why: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"Environment variable {name}={value!r} is malformed: {why}")


def env_bool(name: str, default: bool) -> bool:
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


def env_float(name: str, default: float) -> float:
    raw = env.str(name, default="")
    if raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise _fail(name, raw, "expected a number") from None


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
