"""Suspensions that ran out are settled on the clock, not only when the member comes back.

``moderation.tasks.expire_suspensions`` (Celery beat, every ``MODERATION_EXPIRY_INTERVAL``)
and the embedded default's sweeper thread (``config.worker.sweep_round``) call
``moderation.services.suspensions_expire``. "Time passing" is the suspension's end moved
into the past in the database; nothing sleeps.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from config import worker
from config.celery import app
from moderation.models import ModerationAction
from moderation.services import member_suspend
from moderation.tasks import EXPIRE_SUSPENSIONS_TASK, expire_suspensions
from portraits.models import Portrait
from tests.moderation.decisions import (
    appears,
    moderation_notices,
    moderator_make,
    quokka,
    rule_make,
)

pytestmark = pytest.mark.django_db
A = ModerationAction.Kind
GALLERY = "/api/v1/gallery/"
REASON = "Posted the same picture forty times, as spam."


@pytest.fixture
def mod(make_user):
    return moderator_make(make_user)


@pytest.fixture
def rule(db):
    return rule_make("No spam")


@pytest.fixture
def suspended(mod, rule, django_capture_on_commit_callbacks):
    """Suspend ``user`` as a moderator does, then set when it ends: ``ends`` from now
    (negative: it has run out), or None for indefinitely. Their public portrait first."""

    def do(user, *, ends: timedelta | None):
        portrait = quokka(user, title=f"Quokka of {user.username}")
        with django_capture_on_commit_callbacks(execute=True):  # the public pages' cache
            member_suspend(
                moderator=mod,
                user=user,
                rule=rule,
                reason=REASON,
                until=None if ends is None else timezone.now() + timedelta(days=1),
            )
        if ends is not None:
            User.objects.filter(pk=user.pk).update(suspended_until=timezone.now() + ends)
        return Portrait.objects.get(pk=portrait.pk)

    return do


def _lifts() -> list[ModerationAction]:
    return list(ModerationAction.objects.filter(kind=A.LIFT).order_by("id"))


def test_the_task_settles_a_suspension_that_ran_out_and_its_portraits_come_back(
    alice, bob, suspended, rule, django_capture_on_commit_callbacks
):
    over = suspended(alice, ends=-timedelta(seconds=1))
    lasting = suspended(bob, ends=timedelta(hours=1))
    anonymous = APIClient()
    assert over.hidden_cause == Portrait.HiddenCause.SUSPENSION
    assert not appears(anonymous, GALLERY, over)  # read now: the cache holds this page

    with django_capture_on_commit_callbacks(execute=True):
        assert expire_suspensions.apply().get() == 1  # the task's code, through Celery

    # alice's suspension is over: her portrait is back (the cached page dropped) ...
    alice.refresh_from_db()
    assert alice.suspended_at is None and alice.suspended_until is None
    over.refresh_from_db()
    assert over.hidden_at is None and over.hidden_cause == ""
    assert appears(anonymous, GALLERY, over)
    assert anonymous.get(f"/api/v1/portraits/{over.public_id}/").status_code == 200
    # ... recorded as the system's lift (no moderator), citing the suspension's rule.
    (lift,) = _lifts()
    assert lift.moderator is None and lift.target_user_id == alice.pk and lift.rule == rule
    assert lift.after["portraits_restored"] == [over.public_id]
    assert moderation_notices(alice)[-1].detail["event"] == "suspension_expired"

    # bob's runs for another hour: still suspended, his portrait still hidden.
    bob.refresh_from_db()
    assert bob.is_suspended and bob.suspended_at is not None
    lasting.refresh_from_db()
    assert lasting.hidden_cause == Portrait.HiddenCause.SUSPENSION
    assert not appears(anonymous, GALLERY, lasting)
    assert "suspension_expired" not in [n.detail["event"] for n in moderation_notices(bob)]

    assert expire_suspensions.apply().get() == 0  # once: nothing left to settle
    assert len(_lifts()) == 1


def test_an_indefinite_suspension_never_runs_out(alice, suspended):
    portrait = suspended(alice, ends=None)

    assert expire_suspensions.apply().get() == 0

    alice.refresh_from_db()
    assert alice.is_suspended and alice.suspended_until is None
    portrait.refresh_from_db()
    assert portrait.hidden_cause == Portrait.HiddenCause.SUSPENSION
    assert _lifts() == []


def test_beat_sends_the_task_every_minute_to_the_housekeeping_queue():
    assert django_settings.MODERATION_EXPIRY_INTERVAL == 60  # the default
    entries = [
        entry
        for entry in django_settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == EXPIRE_SUSPENSIONS_TASK
    ]
    assert entries == [
        {
            "task": EXPIRE_SUSPENSIONS_TASK,
            "schedule": float(django_settings.MODERATION_EXPIRY_INTERVAL),
        }
    ]
    assert django_settings.CELERY_TASK_ROUTES[EXPIRE_SUSPENSIONS_TASK] == {"queue": "celery"}
    assert app.amqp.router.route({}, EXPIRE_SUSPENSIONS_TASK)["queue"].name == "celery"
    assert EXPIRE_SUSPENSIONS_TASK in app.tasks  # what a worker runs by that name


# --- The embedded default's sweeper thread ------------------------------------------------


def test_the_sweeper_thread_settles_suspensions_that_ran_out(alice, suspended):
    portrait = suspended(alice, ends=-timedelta(minutes=5))

    worker.sweep_round(first=True, expire=True)

    portrait.refresh_from_db()
    assert portrait.hidden_at is None
    assert [lift.target_user_id for lift in _lifts()] == [alice.pk]


def test_a_round_between_expiry_intervals_leaves_suspensions_alone(alice, suspended):
    portrait = suspended(alice, ends=-timedelta(minutes=5))

    worker.sweep_round(expire=False)

    portrait.refresh_from_db()
    assert portrait.hidden_cause == Portrait.HiddenCause.SUSPENSION
    assert _lifts() == []


def test_a_failing_job_sweep_does_not_stop_the_expiry(alice, suspended, monkeypatch, caplog):
    """Fault injection: the job sweep raises (as on a database it cannot read); the
    suspension is settled all the same, for real."""
    portrait = suspended(alice, ends=-timedelta(minutes=5))

    def broken_sweep(**kwargs):
        raise RuntimeError("the job sweep broke")

    monkeypatch.setattr(worker, "jobs_sweep", broken_sweep)
    with caplog.at_level(logging.WARNING, logger="config.worker"):
        worker.sweep_round(expire=True)

    portrait.refresh_from_db()
    assert portrait.hidden_at is None
    assert "The job sweeper failed" in caplog.text


def test_a_failing_expiry_does_not_stop_the_sweeper(alice, suspended, monkeypatch, caplog):
    """Fault injection the other way: the expiry raises; the round ends normally (the
    thread goes on to its next round) and says why."""
    suspended(alice, ends=-timedelta(minutes=5))

    def broken_expiry():
        raise RuntimeError("the expiry broke")

    monkeypatch.setattr(worker, "expire_suspensions", broken_expiry)
    with caplog.at_level(logging.WARNING, logger="config.worker"):
        worker.sweep_round(expire=True)  # does not raise

    assert "Settling expired suspensions failed" in caplog.text
    assert "The job sweeper failed" not in caplog.text
