"""Appeals through ``moderation.services``: who may appeal what (once), the queue's appeal
case, upholding with a reply, and reversing, which restores exactly what was there
before: visibility, rating, its lock, publication and the hidden state, field for field.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from config.errors import Conflict, DomainError, NotFound, PermissionDenied
from moderation import services
from moderation.models import Appeal, Case, ModerationAction
from moderation.selectors import appealable_actions_for, cases_open, strikes_count
from moderation.services import PORTRAIT_FIELDS
from portraits.models import Portrait
from tests.moderation.decisions import (
    appears,
    moderation_notices,
    moderator_make,
    names_a_moderator,
    quokka,
    rule_make,
)
from tests.portraits.factories import PortraitFactory

pytestmark = pytest.mark.django_db
A = ModerationAction.Kind
V = Portrait.Visibility
REASON = "Spam, forty times over."
TEXT = "It was one picture, posted once. Please look again."
REPLY = "You are right: the copies were someone else's."


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = "https://likeness.test"


@pytest.fixture
def mod(make_user):
    return moderator_make(make_user)


@pytest.fixture
def rule(db):
    return rule_make("No spam")


def _state(portrait: Portrait) -> dict:
    row = Portrait.objects.get(pk=portrait.pk)
    return {field: getattr(row, field) for field in (*PORTRAIT_FIELDS, "trending")}


def _anonymous_sees(portrait) -> bool:
    from django.test import Client

    return appears(Client(), "/api/v1/gallery/", portrait)


# --- Reversal restores exactly -------------------------------------------------------------


def test_reversing_a_hide_restores_exactly_what_was_there_before(
    alice, mod, rule, django_capture_on_commit_callbacks
):
    portrait = quokka(alice, published_at=timezone.now() - timedelta(days=3))
    services.portrait_rate(
        moderator=mod, portrait=portrait, rating="general", rule=rule, reason="It is fine."
    )
    before = _state(portrait)
    assert before["visibility"] == "public" and before["rating_locked"] is True
    hide = services.portrait_hide(moderator=mod, portrait=portrait, rule=rule, reason=REASON)
    assert not _anonymous_sees(portrait)
    appeal = services.appeal_submit(user=alice, action=hide, text=TEXT)

    with django_capture_on_commit_callbacks(execute=True):  # the page cache is dropped
        reversal = services.appeal_decide(moderator=mod, appeal=appeal, reverse=True, reply=REPLY)

    assert _state(portrait) == before  # visibility, publication, rating, lock, hidden state
    assert _anonymous_sees(portrait)
    assert (reversal.kind, reversal.reverses_id, reversal.reason) == (
        A.APPEAL_REVERSED,
        hide.pk,
        REPLY,
    )
    assert reversal.before == hide.after and reversal.after == hide.before
    appeal.refresh_from_db()
    assert appeal.status == Appeal.Status.REVERSED and appeal.reply == REPLY
    assert appeal.decided_at is not None


def test_reversing_a_hide_of_a_portrait_hidden_for_a_suspension_puts_back_that_hiding(
    alice, mod, rule
):
    portrait = quokka(alice)
    services.member_suspend(moderator=mod, user=alice, rule=rule, reason="A week off.")
    before = _state(portrait)
    assert before["hidden_cause"] == "suspension"
    hide = services.portrait_hide(moderator=mod, portrait=portrait, rule=rule, reason=REASON)
    appeal = services.appeal_submit(user=alice, action=hide, text=TEXT)

    services.appeal_decide(moderator=mod, appeal=appeal, reverse=True, reply=REPLY)

    assert _state(portrait) == before  # the very same hidden_at, for the suspension
    services.member_suspension_lift(moderator=mod, user=alice, rule=rule, reason="Served.")
    assert Portrait.objects.get(pk=portrait.pk).hidden_at is None


def test_reversal_keeps_what_the_owner_chose_since_and_what_others_undid(alice, mod, rule):
    portrait = quokka(alice)
    hide = services.portrait_hide(moderator=mod, portrait=portrait, rule=rule, reason=REASON)
    # alice takes her hidden portrait private meanwhile: her choice, not the moderators'.
    Portrait.objects.filter(pk=portrait.pk).update(visibility=V.PRIVATE)
    appeal = services.appeal_submit(user=alice, action=hide, text=TEXT)

    services.appeal_decide(moderator=mod, appeal=appeal, reverse=True, reply=REPLY)

    state = _state(portrait)
    assert (state["visibility"], state["hidden_at"], state["hidden_cause"]) == ("private", None, "")

    # A hide already undone by a restore: reversing it changes nothing more.
    other = quokka(alice, title="Another quokka")
    hide = services.portrait_hide(moderator=mod, portrait=other, rule=rule, reason=REASON)
    services.portrait_restore(moderator=mod, portrait=other, rule=rule, reason="Oops.")
    restored = _state(other)
    appeal = services.appeal_submit(user=alice, action=hide, text=TEXT)
    reversal = services.appeal_decide(moderator=mod, appeal=appeal, reverse=True, reply=REPLY)
    assert _state(other) == restored
    assert reversal.before == reversal.after


def test_reversing_a_suspension_lets_the_member_back_and_brings_back_their_portraits(
    alice, mod, rule
):
    portrait = quokka(alice)
    until = timezone.now() + timedelta(days=30)
    suspend = services.member_suspend(
        moderator=mod, user=alice, rule=rule, reason="A month off.", until=until
    )
    appeal = services.appeal_submit(user=alice, action=suspend, text=TEXT)
    assert strikes_count(user=alice) == 1

    reversal = services.appeal_decide(moderator=mod, appeal=appeal, reverse=True, reply=REPLY)

    alice.refresh_from_db()
    assert (alice.suspended_at, alice.suspended_until, alice.is_suspended) == (None, None, False)
    assert Portrait.objects.get(pk=portrait.pk).hidden_at is None
    assert _anonymous_sees(portrait)
    assert reversal.after["portraits_restored"] == [portrait.public_id]
    assert reversal.reverses_id == suspend.pk
    assert strikes_count(user=alice) == 0  # a reversed suspension is no strike


def test_reversing_a_hide_of_a_held_portrait_puts_it_back_in_the_review_queue(alice, mod, rule):
    held = PortraitFactory(
        author=alice, visibility=V.PRIVATE, published_at=None, held_for_review=True
    )
    review = Case.objects.create(kind=Case.Kind.REVIEW, target_portrait=held)
    hide = services.portrait_hide(
        moderator=mod, portrait=held, rule=rule, reason=REASON, case=review
    )
    appeal = services.appeal_submit(user=alice, action=hide, text=TEXT)

    services.appeal_decide(moderator=mod, appeal=appeal, reverse=True, reply=REPLY)

    held.refresh_from_db()
    assert held.hidden_at is None and held.held_for_review is True
    assert Case.objects.filter(
        kind=Case.Kind.REVIEW, target_portrait=held, status=Case.Status.OPEN
    ).exists()


def test_reversing_a_warning_takes_back_its_strike(alice, mod, rule):
    first = services.member_warn(moderator=mod, user=alice, rule=rule, reason="Careful.")
    services.member_warn(moderator=mod, user=alice, rule=rule, reason="Again.")
    appeal = services.appeal_submit(user=alice, action=first, text=TEXT)

    reversal = services.appeal_decide(moderator=mod, appeal=appeal, reverse=True, reply=REPLY)

    assert strikes_count(user=alice) == 1
    assert (reversal.before, reversal.after) == ({"strikes": 2}, {"strikes": 1})
    assert first not in appealable_actions_for(user=alice)


# --- Upholding, telling, the queue ----------------------------------------------------------


def test_upholding_changes_nothing_and_tells_the_appellant_the_reply(alice, mod, rule):
    portrait = quokka(alice)
    hide = services.portrait_hide(moderator=mod, portrait=portrait, rule=rule, reason=REASON)
    hidden = _state(portrait)
    appeal = services.appeal_submit(user=alice, action=hide, text=TEXT)

    decision = services.appeal_decide(
        moderator=mod, appeal=appeal, reverse=False, reply="The copies are yours."
    )

    assert _state(portrait) == hidden
    assert decision.kind == A.APPEAL_UPHELD and decision.target_portrait_id == portrait.pk
    appeal.refresh_from_db()
    assert appeal.status == Appeal.Status.UPHELD
    notice = moderation_notices(alice)[-1]
    assert notice.detail["event"] == "appeal_upheld"
    assert notice.detail["reason"] == "The copies are yours."
    assert notice.detail["appeal_url"] is None  # once per action
    assert notice.actor_id is None and not names_a_moderator(str(notice.detail))


def test_the_appellant_reads_the_reversal_in_their_notifications(alice, mod, rule):
    from rest_framework.test import APIClient

    hide = services.portrait_hide(moderator=mod, portrait=quokka(alice), rule=rule, reason=REASON)
    appeal = services.appeal_submit(user=alice, action=hide, text=TEXT)
    services.appeal_decide(moderator=mod, appeal=appeal, reverse=True, reply=REPLY)

    api = APIClient()
    api.force_authenticate(alice)
    latest = api.get("/api/v1/notifications/").json()["results"][0]
    assert latest["text"].startswith(
        "Moderators reversed their decision on your appeal “Quokka at dusk”."
    )
    assert latest["moderation"]["event"] == "appeal_reversed"
    assert latest["moderation"]["reason"] == REPLY
    assert not names_a_moderator(str(latest))


def test_an_appeal_opens_a_case_in_the_queue_and_the_decision_closes_it(alice, mod, rule):
    portrait = quokka(alice)
    hide = services.portrait_hide(moderator=mod, portrait=portrait, rule=rule, reason=REASON)
    warn = services.member_warn(moderator=mod, user=alice, rule=rule, reason="Careful.")

    appeal = services.appeal_submit(user=alice, action=hide, text=TEXT)
    services.appeal_submit(user=alice, action=warn, text=TEXT)  # two at once: two cases

    case = Case.objects.get(appeal=appeal)
    assert (case.kind, case.status) == (Case.Kind.APPEAL, Case.Status.OPEN)
    assert (case.target_portrait_id, case.target_user_id) == (portrait.pk, alice.pk)
    assert list(cases_open(kind=Case.Kind.APPEAL)) == list(
        Case.objects.filter(kind="appeal").order_by("id")
    )
    assert appealable_actions_for(user=alice).count() == 0

    services.appeal_decide(moderator=mod, appeal=appeal, reverse=False, reply="No.")

    case.refresh_from_db()
    assert case.status == Case.Status.CLOSED and case.closed_at is not None
    assert cases_open(kind=Case.Kind.APPEAL).count() == 1


# --- What is refused ------------------------------------------------------------------------


def test_an_action_is_appealed_once(alice, mod, rule):
    hide = services.portrait_hide(moderator=mod, portrait=quokka(alice), rule=rule, reason=REASON)
    services.appeal_submit(user=alice, action=hide, text=TEXT)

    with pytest.raises(Conflict) as twice:
        services.appeal_submit(user=alice, action=hide, text="Again, please.")

    assert "action" in twice.value.field_errors
    assert Appeal.objects.count() == 1 and Case.objects.filter(kind="appeal").count() == 1


def test_only_the_affected_member_may_appeal(alice, bob, mod, rule):
    hide = services.portrait_hide(moderator=mod, portrait=quokka(alice), rule=rule, reason=REASON)
    with pytest.raises(NotFound):
        services.appeal_submit(user=bob, action=hide, text=TEXT)
    with pytest.raises(NotFound):
        services.appeal_submit(user=mod, action=hide, text=TEXT)
    assert not Appeal.objects.exists()


def test_only_a_hide_a_warning_or_a_suspension_may_be_appealed(alice, mod, rule):
    portrait = quokka(alice)
    rated = services.portrait_rate(
        moderator=mod, portrait=portrait, rating="mature", rule=rule, reason="Nudity."
    )
    hide = services.portrait_hide(moderator=mod, portrait=portrait, rule=rule, reason=REASON)
    restore = services.portrait_restore(moderator=mod, portrait=portrait, rule=rule, reason="Ok.")
    for action in (rated, restore):
        with pytest.raises(DomainError) as refused:
            services.appeal_submit(user=alice, action=action, text=TEXT)
        assert "action" in refused.value.field_errors
    assert list(appealable_actions_for(user=alice)) == [hide]


def test_an_appeal_needs_words_and_not_too_many(alice, mod, rule):
    hide = services.portrait_hide(moderator=mod, portrait=quokka(alice), rule=rule, reason=REASON)
    for text in ("", "   ", "x" * 2001):
        with pytest.raises(DomainError) as refused:
            services.appeal_submit(user=alice, action=hide, text=text)
        assert "text" in refused.value.field_errors
    assert not Appeal.objects.exists()
    assert services.appeal_submit(user=alice, action=hide, text="x" * 2000).pk is not None


def test_deciding_needs_a_moderator_a_reply_and_an_open_appeal(alice, bob, mod, rule):
    portrait = quokka(alice)
    hide = services.portrait_hide(moderator=mod, portrait=portrait, rule=rule, reason=REASON)
    appeal = services.appeal_submit(user=alice, action=hide, text=TEXT)

    with pytest.raises(PermissionDenied):
        services.appeal_decide(moderator=alice, appeal=appeal, reverse=True, reply=REPLY)
    with pytest.raises(PermissionDenied):
        services.appeal_decide(moderator=bob, appeal=appeal, reverse=True, reply=REPLY)
    with pytest.raises(DomainError) as no_reply:
        services.appeal_decide(moderator=mod, appeal=appeal, reverse=True, reply=" ")
    assert "reply" in no_reply.value.field_errors
    assert Portrait.objects.get(pk=portrait.pk).hidden_cause == "moderation"

    services.appeal_decide(moderator=mod, appeal=appeal, reverse=False, reply="No.")
    with pytest.raises(Conflict):
        services.appeal_decide(moderator=mod, appeal=appeal, reverse=True, reply=REPLY)
    assert Portrait.objects.get(pk=portrait.pk).hidden_cause == "moderation"
    assert ModerationAction.objects.filter(kind=A.APPEAL_REVERSED).count() == 0


def test_an_appeal_case_is_decided_by_the_appeal_not_by_another_action(alice, mod, rule):
    portrait = quokka(alice)
    hide = services.portrait_hide(moderator=mod, portrait=portrait, rule=rule, reason=REASON)
    appeal = services.appeal_submit(user=alice, action=hide, text=TEXT)
    case = Case.objects.get(appeal=appeal)

    with pytest.raises(Conflict):
        services.case_dismiss(moderator=mod, case=case, rule=rule, reason="Nothing to see.")
    with pytest.raises(Conflict):
        services.member_warn(moderator=mod, user=alice, rule=rule, reason="x", case=case)
    assert Case.objects.get(pk=case.pk).status == Case.Status.OPEN
