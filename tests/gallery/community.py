"""Portraits and members for the like, follow and profile tests (tests/gallery/test_likes.py,
test_follows.py, test_profile.py): rows made directly, as a publication leaves them; and
the race of a write against its own uncommitted twin (PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from portraits.community import trending_term
from portraits.models import Portrait
from tests.portraits.factories import PortraitFactory
from tests.support import wait_until

V = Portrait.Visibility


def published(author, *, ago: timedelta = timedelta(hours=1), **fields) -> Portrait:
    """A public portrait of ``author``'s, published ``ago``, with the trending score its
    publication gives it (``portraits.community.visibility_apply``)."""
    at = timezone.now() - ago
    return PortraitFactory(
        author=author, published_at=at, trending=trending_term("publish", at), **fields
    )


def unpublished(author, *, visibility=V.PRIVATE, **fields) -> Portrait:
    return PortraitFactory(author=author, visibility=visibility, published_at=None, **fields)


def waiting_on_a_lock() -> bool:
    """Whether some connection to the test database waits on a lock (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def race_with_uncommitted(write: Callable[[], object], *, what: str) -> dict[str, object]:
    """``write`` twice at once, the race made certain: the first inside a transaction
    held open once it returns, the second started while the first is uncommitted and
    seen waiting on a lock before the first commits. ``{"first": ..., "second": ...}``:
    what each returned, or the exception it raised."""
    first_written, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                results["first"] = write()
                first_written.set()
                release.wait(30)
        except Exception as exc:  # reported in the results
            results["first"] = exc
        finally:
            first_written.set()
            connection.close()

    def second() -> None:
        try:
            first_written.wait(30)
            results["second"] = write()
        except Exception as exc:
            results["second"] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    try:
        first_written.wait(30)
        wait_until(waiting_on_a_lock, timeout=30, interval=0.02, what=what)
    finally:
        release.set()
        for thread in threads:
            thread.join(60)
    return results
