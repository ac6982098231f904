"""Celery tasks: moderation's housekeeping on the clock.

``expire_suspensions`` settles every suspension whose ``suspended_until`` has passed
(``services.suspensions_expire``: the portraits it hid come back, a system ``lift`` is
recorded, the member is told). Without it, that happens only when the member comes back
(``accounts.suspension``), so a member who never does would stay out of the gallery.
Beat sends it every ``MODERATION_EXPIRY_INTERVAL`` seconds (settings.CELERY_BEAT_SCHEDULE)
to the ``celery`` queue (settings.CELERY_TASK_ROUTES); the embedded default's sweeper
thread runs it itself (``config.worker``).
"""

from __future__ import annotations

from celery import shared_task

from moderation import services

EXPIRE_SUSPENSIONS_TASK = "moderation.tasks.expire_suspensions"


@shared_task(name=EXPIRE_SUSPENSIONS_TASK, ignore_result=True)
def expire_suspensions() -> int:
    """Settle the suspensions that ran out; returns how many."""
    return services.suspensions_expire()
