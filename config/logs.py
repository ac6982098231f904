"""Logs that say which job they are about, as plain lines or as JSON.

Every line logged while a job is being handled carries its id: the request that submits it
(once the row exists), the worker that claims, paints and stores it (a batch: the ids of
all its jobs while it paints, then each job's own while it is stored), its heartbeat and
the sweeper when it acts on it. Code marks the stretch with :func:`job_logging`; the
``job`` filter (``JobContextFilter``, on the console handler in ``config.settings``) puts
the id on each record as ``record.job`` ("" outside any job), and the formatters show it:

    2026-12-01 14:03:05,412 INFO generation.services.running [job 3f2c…]: Job 3f2c…: …

or, with ``LOG_FORMAT=json``, one object per line for a log collector::

    {"time": "2026-12-01T14:03:05.412+00:00", "level": "INFO",
     "logger": "generation.services.running", "job": "3f2c…", "message": "…"}

The id lives in a ``contextvars.ContextVar``: it follows the code into ``async`` tasks, but a
new thread starts without it, so threads that work for a job (its heartbeat, the store
thread) enter :func:`job_logging` themselves.
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_current_jobs: contextvars.ContextVar[str] = contextvars.ContextVar("likeness_jobs", default="")


@contextmanager
def job_logging(*job_ids) -> Iterator[None]:
    """Every line logged inside carries these jobs' ids (comma-separated for a batch)."""
    token = _current_jobs.set(",".join(str(job_id) for job_id in job_ids))
    try:
        yield
    finally:
        _current_jobs.reset(token)


def current_jobs() -> str:
    return _current_jobs.get()


class JobContextFilter(logging.Filter):
    """Sets ``record.job``: the ids :func:`job_logging` marked, unless the call passed its
    own (``extra={"job": ...}``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "job", ""):
            record.job = _current_jobs.get()
        return True


class PlainFormatter(logging.Formatter):
    """``time LEVEL logger [job <id>]: message``; the bracket only inside a job."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(job_note)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        job = getattr(record, "job", "")
        record.job_note = f" [job {job}]" if job else ""
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (ISO 8601, UTC), level, logger, job (when in one),
    message, and the exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        job = getattr(record, "job", "")
        if job:
            entry["job"] = job
        entry["message"] = record.getMessage()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
