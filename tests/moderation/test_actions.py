"""Moderators' decisions through ``moderation.services``: what each changes, on every
public surface and in the API, whom it tells (with the rule and the reason, never the
moderator's name), which cases and reports it closes, and what it refuses.

The admin's forms (H2) call the same services; their tests drive the real admin pages.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from config.errors import Conflict, DomainError, PermissionDenied
from gallery.models import Notification
from moderation import services
from moderation.models import Case, ModerationAction, Report
from moderation.selectors import portrait_descendants, strikes_count
from portraits.models import Portrait
from tests.moderation.decisions import (
    LISTS,
    appears,
    body,
    moderation_notices,
    moderator_make,
    names_a_moderator,
    quokka,
    reported,
    rule_make,
)
from tests.portraits.factories import PortraitFactory, recipe_for

pytestmark = pytest.mark.django_db
A = ModerationAction.Kind
V = Portrait.Visibility
REASON = "Posted the same picture forty times, as spam."


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = "https://likeness.test"


@pytest.fixture
def mod(make_user):
    return moderator_make(make_user)


@pytest.fixture
def rule(db):
    return rule_make("No spam")


@pytest.fixture
def portrait(alice):
    return quokka(alice)


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


# --- Hide and restore ---------------------------------------------------------------------


def test_hidden_portrait_leaves_every_public_list_and_page_at_once(
    portrait, alice, bob, mod, rule, django_capture_on_commit_callbacks
):
    anonymous, other = _client(), _client(bob)
    for url in LISTS:  # seen, and the anonymous answers cached by the page cache
        assert appears(anonymous, url, portrait), url
        assert appears(other, url, portrait), url

    with django_capture_on_commit_callbacks(execute=True):
        services.portrait_hide(moderator=mod, portrait=portrait, rule=rule, reason=REASON)

    for url in LISTS:
        assert not appears(anonymous, url, portrait), url
        assert not appears(other, url, portrait), url
        assert not appears(_client(alice), url, portrait), url  # listed nowhere, for anyone
    for url in (f"/p/{portrait.public_id}/", f"/api/v1/portraits/{portrait.public_id}/"):
        assert body(anonymous, url)[0] == 404
        assert body(other, url)[0] == 404
    assert body(anonymous, f"/p/{portrait.public_id}/image/")[0] == 404
    # Its owner and moderators still open it.
    assert body(_client(alice), f"/p/{portrait.public_id}/")[0] == 200
    assert body(_client(mod), f"/p/{portrait.public_id}/")[0] == 200


def test_owner_sees_hidden_by_moderators_with_rule_and_reason_on_the_page_and_in_the_api(
    portrait, alice, mod, rule
):
    services.portrait_hide(moderator=mod, portrait=portrait, rule=rule, reason=REASON)

    status, page = body(_client(alice), f"/p/{portrait.public_id}/")
    assert status == 200
    assert "Hidden by moderators" in page
    assert "No spam" in page and "forty times" in page
    assert not names_a_moderator(page)

    api = APIClient()
    api.force_authenticate(alice)
    data = api.get(f"/api/v1/portraits/{portrait.public_id}/").json()
    assert data["moderation"] == {
        "hidden": True,
        "hidden_by": "moderators",
        "rule": "No spam",
        "reason": REASON,
        "held_for_review": False,
    }


def test_hide_records_one_action_with_the_exact_state_before_and_after(portrait, mod, rule):
    published_at = portrait.published_at.isoformat()

    action = services.portrait_hide(moderator=mod, portrait=portrait, rule=rule, reason=REASON)

    assert ModerationAction.objects.count() == 1
    action = ModerationAction.objects.get()
    assert (action.kind, action.moderator, action.rule, action.reason) == (
        A.HIDE,
        mod,
        rule,
        REASON,
    )
    assert (action.target_portrait_id, action.target_user_id) == (portrait.pk, portrait.author_id)
    portrait.refresh_from_db()
    assert action.before == {
        "visibility": "public",
        "published_at": published_at,
        "hidden_at": None,
        "hidden_cause": "",
        "hidden_rule": "",
        "hidden_reason": "",
        "rating": "general",
        "rating_locked": False,
        "held_for_review": False,
    }
    assert action.after == {
        **action.before,
        "hidden_at": portrait.hidden_at.isoformat(),
        "hidden_cause": "moderation",
        "hidden_rule": "No spam",
        "hidden_reason": REASON,
    }


def test_hide_tells_the_author_the_rule_reason_and_where_to_appeal_never_who(
    portrait, alice, mod, rule, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        action = services.portrait_hide(moderator=mod, portrait=portrait, rule=rule, reason=REASON)

    (notice,) = moderation_notices(alice)
    assert notice.actor_id is None and notice.portrait_id == portrait.pk
    assert notice.detail["event"] == "hidden"
    assert notice.detail["appeal_url"] == f"/moderation/appeals/?action={action.pk}"

    api = APIClient()
    api.force_authenticate(alice)
    (item,) = api.get("/api/v1/notifications/").json()["results"]
    assert item["kind"] == "moderation"
    assert item["actor"]["name"] == "Moderators" and item["actor"]["username"] is None
    assert item["text"].startswith("Moderators hid your portrait “Quokka at dusk”.")
    assert "Rule: No spam." in item["text"] and REASON in item["text"]
    assert item["moderation"]["rule"] == "No spam"
    assert item["moderation"]["reason"] == REASON
    assert item["moderation"]["appeal_url"].endswith(f"/moderation/appeals/?action={action.pk}")
    assert item["actor"] == {
        "name": "Moderators",
        "username": None,
        "url": None,
        "avatar_url": None,
    }
    assert not names_a_moderator(str(item))

    status, page = body(_client(alice), "/notifications/")
    assert "Moderators" in page and REASON in page and "Appeal this decision" in page
    assert not names_a_moderator(page.split("<main", 1)[-1].split("</main>", 1)[0])


def test_hide_closes_the_case_and_every_report_and_tells_each_reporter_the_outcome(
    portrait, alice, bob, carol, mod, rule
):
    case = reported(reporters=[bob, carol], rule=rule, portrait=portrait)

    services.portrait_hide(moderator=mod, portrait=portrait, rule=rule, reason=REASON, case=case)

    case.refresh_from_db()
    assert case.status == Case.Status.CLOSED and case.closed_at is not None
    assert set(Report.objects.values_list("outcome", flat=True)) == {"action taken"}
    for reporter in (bob, carol):
        (notice,) = moderation_notices(reporter)
        assert notice.detail["event"] == "report_outcome"
        assert notice.detail["outcome"] == "action taken"
        assert notice.detail["reason"] == ""  # the reason is the author's, not theirs
        assert notice.actor_id is None
    api = APIClient()
    api.force_authenticate(bob)
    (item,) = api.get("/api/v1/notifications/").json()["results"]
    assert item["text"].startswith("Moderators decided on your report.")
    assert "Outcome: action taken." in item["text"]
    # The hidden portrait is not named to them any more.
    assert item["portrait"]["available"] is False and "Quokka" not in item["text"]


def test_a_hide_without_a_case_decides_the_open_reports_about_the_portrait(
    portrait, bob, mod, rule
):
    case = reported(reporters=[bob], rule=rule, portrait=portrait)

    services.portrait_hide(moderator=mod, portrait=portrait, rule=rule, reason=REASON)

    case.refresh_from_db()
    assert case.status == Case.Status.CLOSED
    assert Report.objects.get().outcome == "action taken"


def test_restore_brings_it_back_everywhere_and_tells_the_author(
    portrait, alice, bob, mod, rule, django_capture_on_commit_callbacks
):
    services.portrait_hide(moderator=mod, portrait=portrait, rule=rule, reason=REASON)
    assert not appears(_client(), "/api/v1/gallery/", portrait)

    with django_capture_on_commit_callbacks(execute=True):
        action = services.portrait_restore(
            moderator=mod, portrait=portrait, rule=rule, reason="Not spam after all."
        )

    portrait.refresh_from_db()
    assert (portrait.hidden_at, portrait.hidden_cause, portrait.hidden_rule) == (None, "", "")
    for url in LISTS:
        assert appears(_client(), url, portrait), url
    assert action.before["hidden_cause"] == "moderation" and action.after["hidden_cause"] == ""
    assert [n.detail["event"] for n in moderation_notices(alice)] == ["hidden", "restored"]
    assert moderation_notices(alice)[1].detail["appeal_url"] is None  # a restore is not appealed


def test_hiding_twice_or_restoring_what_is_not_hidden_is_a_conflict(portrait, mod, rule):
    with pytest.raises(Conflict):
        services.portrait_restore(moderator=mod, portrait=portrait, rule=rule, reason=REASON)
    services.portrait_hide(moderator=mod, portrait=portrait, rule=rule, reason=REASON)
    with pytest.raises(Conflict):
        services.portrait_hide(moderator=mod, portrait=portrait, rule=rule, reason=REASON)
    assert ModerationAction.objects.count() == 1


def test_only_moderators_act_and_every_action_cites_an_active_rule_and_a_reason(
    portrait, alice, bob, mod, rule
):
    with pytest.raises(PermissionDenied):
        services.portrait_hide(moderator=bob, portrait=portrait, rule=rule, reason=REASON)
    with pytest.raises(PermissionDenied):
        services.member_warn(moderator=None, user=alice, rule=rule, reason=REASON)
    with pytest.raises(DomainError) as missing_rule:
        services.portrait_hide(moderator=mod, portrait=portrait, rule=None, reason=REASON)
    assert "rule" in missing_rule.value.field_errors
    with pytest.raises(DomainError) as missing_reason:
        services.portrait_hide(moderator=mod, portrait=portrait, rule=rule, reason="  ")
    assert "reason" in missing_reason.value.field_errors
    rule.is_active = False
    rule.save()
    with pytest.raises(DomainError) as retired:
        services.portrait_hide(moderator=mod, portrait=portrait, rule=rule, reason=REASON)
    assert "rule" in retired.value.field_errors
    portrait.refresh_from_db()
    assert portrait.hidden_at is None
    assert not ModerationAction.objects.exists() and not Notification.objects.exists()


def test_a_closed_case_or_an_appeal_case_is_not_decided_by_an_action(portrait, bob, mod, rule):
    case = reported(reporters=[bob], rule=rule, portrait=portrait)
    services.case_dismiss(moderator=mod, case=case, rule=rule, reason="Fine.")
    with pytest.raises(Conflict):
        services.portrait_hide(
            moderator=mod, portrait=portrait, rule=rule, reason=REASON, case=case
        )
    portrait.refresh_from_db()
    assert portrait.hidden_at is None


# --- Rating, dismissal, review ------------------------------------------------------------


def test_marking_mature_locks_the_rating_and_the_owner_cannot_undo_it(
    portrait, alice, bob, mod, rule
):
    from portraits.services import portrait_update

    action = services.portrait_rate(
        moderator=mod, portrait=portrait, rating="mature", rule=rule, reason="Nudity."
    )

    portrait.refresh_from_db()
    assert (portrait.rating, portrait.rating_locked) == ("mature", True)
    assert action.kind == A.MATURE
    assert (action.before["rating"], action.after["rating"]) == ("general", "mature")
    assert (action.before["rating_locked"], action.after["rating_locked"]) == (False, True)
    assert moderation_notices(alice)[0].detail["event"] == "rated_mature"
    with pytest.raises(DomainError) as refused:
        portrait_update(portrait=portrait, by=alice, data={"rating": "general"})
    assert "rating" in refused.value.field_errors
    portrait.refresh_from_db()
    assert portrait.rating == "mature"
    # Anyone who has not opted in no longer finds it.
    assert not appears(_client(), "/api/v1/gallery/", portrait)
    assert not appears(_client(bob), "/api/v1/gallery/", portrait)
    with pytest.raises(Conflict):
        services.portrait_rate(
            moderator=mod, portrait=portrait, rating="mature", rule=rule, reason="Again."
        )


def test_dismissal_closes_the_case_tells_reporters_no_action_and_changes_nothing(
    portrait, alice, bob, mod, rule
):
    case = reported(reporters=[bob], rule=rule, portrait=portrait)

    action = services.case_dismiss(moderator=mod, case=case, rule=rule, reason="Not spam.")

    case.refresh_from_db()
    portrait.refresh_from_db()
    assert case.status == Case.Status.CLOSED and portrait.hidden_at is None
    assert action.kind == A.DISMISS and action.case_id == case.pk
    assert Report.objects.get().outcome == "no action"
    (notice,) = moderation_notices(bob)
    assert notice.detail["outcome"] == "no action"
    assert moderation_notices(alice) == []  # the reported author is not told
    assert appears(_client(), "/api/v1/gallery/", portrait)


def test_dismissing_a_report_about_a_member_records_the_member_as_target(alice, bob, mod, rule):
    case = reported(reporters=[bob], rule=rule, user=alice)

    action = services.case_dismiss(moderator=mod, case=case, rule=rule, reason="Not harassment.")

    assert (action.target_user_id, action.target_portrait_id) == (alice.pk, None)
    assert moderation_notices(bob)[0].detail["target"] == "member"


def test_clearing_a_held_portrait_lets_its_owner_publish_and_closes_its_review_case(alice, mod):
    held = PortraitFactory(
        author=alice, visibility=V.PRIVATE, published_at=None, held_for_review=True
    )
    case = Case.objects.create(kind=Case.Kind.REVIEW, target_portrait=held)

    action = services.portrait_review_clear(moderator=mod, portrait=held)

    held.refresh_from_db()
    case.refresh_from_db()
    assert held.held_for_review is False and case.status == Case.Status.CLOSED
    assert action.kind == A.CLEAR_REVIEW and action.rule is None
    assert (action.before["held_for_review"], action.after["held_for_review"]) == (True, False)
    assert moderation_notices(alice)[0].detail["event"] == "review_cleared"
    with pytest.raises(Conflict):
        services.portrait_review_clear(moderator=mod, portrait=held)


def test_a_held_portrait_hidden_then_restored_goes_back_to_the_review_queue(alice, mod, rule):
    # The hide closes its review case; the restore must not leave it held with no case,
    # which nothing in the queue would ever clear (its owner could never publish it).
    held = PortraitFactory(
        author=alice, visibility=V.PRIVATE, published_at=None, held_for_review=True
    )
    review = Case.objects.create(kind=Case.Kind.REVIEW, target_portrait=held)
    services.portrait_hide(moderator=mod, portrait=held, rule=rule, reason=REASON, case=review)
    review.refresh_from_db()
    assert review.status == Case.Status.CLOSED

    services.portrait_restore(moderator=mod, portrait=held, rule=rule, reason="A mistake.")

    held.refresh_from_db()
    assert held.held_for_review is True
    reopened = Case.objects.get(
        kind=Case.Kind.REVIEW, target_portrait=held, status=Case.Status.OPEN
    )
    assert reopened.pk != review.pk
    services.portrait_review_clear(moderator=mod, portrait=held)
    reopened.refresh_from_db()
    assert reopened.status == Case.Status.CLOSED


# --- Members: warnings and suspensions ----------------------------------------------------


def test_a_warning_is_a_strike_citing_the_rule_and_tells_the_member(alice, mod, rule):
    assert strikes_count(user=alice) == 0

    action = services.member_warn(moderator=mod, user=alice, rule=rule, reason=REASON)
    services.member_warn(moderator=mod, user=alice, rule=rule, reason="Again.")

    assert strikes_count(user=alice) == 2
    assert (action.kind, action.target_user_id, action.target_portrait_id) == (
        A.WARN,
        alice.pk,
        None,
    )
    assert (action.before, action.after) == ({"strikes": 0}, {"strikes": 1})
    notice = moderation_notices(alice)[0]
    assert notice.detail["event"] == "warned" and notice.detail["rule"] == "No spam"
    assert notice.detail["appeal_url"] == f"/moderation/appeals/?action={action.pk}"


def test_moderators_cannot_act_on_themselves_or_on_administrators(mod, rule, make_user):
    admin = make_user("root", is_superuser=True, is_staff=True)
    with pytest.raises(PermissionDenied):
        services.member_warn(moderator=mod, user=mod, rule=rule, reason=REASON)
    with pytest.raises(PermissionDenied):
        services.member_suspend(moderator=mod, user=admin, rule=rule, reason=REASON)
    assert not ModerationAction.objects.exists()


def test_suspension_hides_only_public_portraits_and_lifting_restores_only_those(
    alice, bob, mod, rule, django_capture_on_commit_callbacks
):
    public = quokka(alice)
    unlisted = quokka(alice, title="Unlisted quokka", visibility=V.UNLISTED, published_at=None)
    private = quokka(alice, title="Private quokka", visibility=V.PRIVATE, published_at=None)
    hidden = quokka(alice, title="Hidden quokka")
    services.portrait_hide(moderator=mod, portrait=hidden, rule=rule, reason=REASON)
    others = quokka(bob, title="Bob's quokka")

    until = timezone.now() + timedelta(days=7)
    with django_capture_on_commit_callbacks(execute=True):
        action = services.member_suspend(
            moderator=mod, user=alice, rule=rule, reason=REASON, until=until
        )

    alice.refresh_from_db()
    assert alice.is_suspended and alice.suspended_until == until
    states = {
        p.title: (p.hidden_cause, p.hidden_at is not None)
        for p in Portrait.objects.filter(author=alice)
    }
    assert states == {
        "Quokka at dusk": ("suspension", True),
        "Unlisted quokka": ("", False),
        "Private quokka": ("", False),
        "Hidden quokka": ("moderation", True),
    }
    assert action.after["portraits_hidden"] == [public.public_id]
    assert action.before == {"suspended_at": None, "suspended_until": None}
    assert action.after["suspended_until"] == until.isoformat()
    assert not appears(_client(), "/api/v1/gallery/", public)
    assert appears(_client(), "/api/v1/gallery/", others)
    assert body(_client(), f"/p/{unlisted.public_id}/")[0] == 200
    notice = moderation_notices(alice)[-1]
    assert notice.detail["event"] == "suspended" and notice.detail["until"] == until.isoformat()
    assert strikes_count(user=alice) == 1

    with django_capture_on_commit_callbacks(execute=True):
        lift = services.member_suspension_lift(
            moderator=mod, user=alice, rule=rule, reason="Served."
        )

    alice.refresh_from_db()
    assert not alice.is_suspended and alice.suspended_at is None
    assert lift.after["portraits_restored"] == [public.public_id]
    assert Portrait.objects.get(pk=public.pk).hidden_at is None
    assert Portrait.objects.get(pk=hidden.pk).hidden_cause == "moderation"
    assert appears(_client(), "/api/v1/gallery/", public)
    assert not appears(_client(), "/api/v1/gallery/", hidden)
    assert moderation_notices(alice)[-1].detail["event"] == "suspension_lifted"
    assert private.hidden_at is None


def test_suspending_twice_or_lifting_no_suspension_is_a_conflict_and_until_is_in_the_future(
    alice, mod, rule
):
    with pytest.raises(Conflict):
        services.member_suspension_lift(moderator=mod, user=alice, rule=rule, reason="No.")
    with pytest.raises(DomainError) as past:
        services.member_suspend(
            moderator=mod,
            user=alice,
            rule=rule,
            reason=REASON,
            until=timezone.now() - timedelta(minutes=1),
        )
    assert "until" in past.value.field_errors
    services.member_suspend(moderator=mod, user=alice, rule=rule, reason=REASON)
    with pytest.raises(Conflict):
        services.member_suspend(moderator=mod, user=alice, rule=rule, reason=REASON)
    assert ModerationAction.objects.filter(kind=A.SUSPEND).count() == 1


def test_a_moderators_hide_overrides_the_suspension_and_outlives_it(alice, mod, rule):
    public = quokka(alice)
    services.member_suspend(moderator=mod, user=alice, rule=rule, reason=REASON)
    assert Portrait.objects.get(pk=public.pk).hidden_cause == "suspension"

    services.portrait_hide(moderator=mod, portrait=public, rule=rule, reason="Spam too.")
    services.member_suspension_lift(moderator=mod, user=alice, rule=rule, reason="Served.")

    public.refresh_from_db()
    assert (public.hidden_cause, public.hidden_reason) == ("moderation", "Spam too.")


def test_restoring_a_portrait_of_a_suspended_member_keeps_it_hidden_for_the_suspension(
    alice, mod, rule
):
    public = quokka(alice)
    services.portrait_hide(moderator=mod, portrait=public, rule=rule, reason=REASON)
    services.member_suspend(moderator=mod, user=alice, rule=rule, reason=REASON)

    services.portrait_restore(moderator=mod, portrait=public, rule=rule, reason="Not spam.")

    public.refresh_from_db()
    assert public.hidden_cause == "suspension" and public.hidden_at is not None
    services.member_suspension_lift(moderator=mod, user=alice, rule=rule, reason="Served.")
    public.refresh_from_db()
    assert public.hidden_at is None


def test_an_expired_suspension_is_settled_by_the_system_and_its_portraits_come_back(
    alice, mod, rule
):
    public = quokka(alice)
    services.member_suspend(
        moderator=mod, user=alice, rule=rule, reason=REASON, until=timezone.now() + timedelta(1)
    )
    type(alice).objects.filter(pk=alice.pk).update(
        suspended_until=timezone.now() - timedelta(seconds=1)
    )
    alice.refresh_from_db()
    assert not alice.is_suspended  # the clock lets her in already

    assert services.suspensions_expire() == 1
    assert services.suspensions_expire() == 0  # once

    alice.refresh_from_db()
    assert alice.suspended_at is None
    assert Portrait.objects.get(pk=public.pk).hidden_at is None
    lift = ModerationAction.objects.filter(kind=A.LIFT).get()
    assert lift.moderator is None and lift.rule == rule
    assert moderation_notices(alice)[-1].detail["event"] == "suspension_expired"


# --- Descendants --------------------------------------------------------------------------


@pytest.fixture
def family(alice, bob, carol):
    """alice's original; bob's remix of it; carol's remix of bob's; alice's own second."""
    original = quokka(alice, title="Original quokka", recipe=recipe_for("a quokka"))
    remix = quokka(bob, title="Bob's remix", parent=original, recipe=recipe_for("a red quokka"))
    deeper = quokka(carol, title="Carol's remix", parent=remix, recipe=recipe_for("a red cat"))
    return original, remix, deeper


def test_descendants_of_a_hidden_portrait_are_shown_to_the_moderator(family):
    original, remix, deeper = family
    assert list(portrait_descendants(portrait=original)) == [remix, deeper]
    assert list(portrait_descendants(portrait=remix)) == [deeper]


def test_hiding_with_descendants_hides_each_with_its_own_action_and_tells_each_author(
    family, alice, bob, carol, mod, rule
):
    original, remix, deeper = family

    services.portrait_hide(
        moderator=mod, portrait=original, rule=rule, reason=REASON, descendants="hide"
    )

    assert set(
        Portrait.objects.filter(pk__in=[original.pk, remix.pk, deeper.pk]).values_list(
            "hidden_cause", flat=True
        )
    ) == {"moderation"}
    actions = ModerationAction.objects.filter(kind=A.HIDE)
    assert sorted(actions.values_list("target_portrait_id", flat=True)) == sorted(
        [original.pk, remix.pk, deeper.pk]
    )
    for member in (alice, bob, carol):
        assert [n.detail["event"] for n in moderation_notices(member)] == ["hidden"]
    for portrait in family:
        assert not appears(_client(), "/api/v1/gallery/", portrait)


def test_flagging_descendants_opens_a_review_case_for_each_and_hides_nothing_else(
    family, bob, carol, mod, rule
):
    original, remix, deeper = family

    services.portrait_hide(
        moderator=mod, portrait=original, rule=rule, reason=REASON, descendants="flag"
    )

    reviews = Case.objects.filter(kind=Case.Kind.REVIEW, status=Case.Status.OPEN)
    assert sorted(reviews.values_list("target_portrait_id", flat=True)) == sorted(
        [remix.pk, deeper.pk]
    )
    flags = ModerationAction.objects.filter(kind=A.FLAG)
    assert sorted(flags.values_list("target_portrait_id", flat=True)) == sorted(
        [remix.pk, deeper.pk]
    )
    assert {flag.after["review_case"] for flag in flags} == set(
        reviews.values_list("pk", flat=True)
    )
    assert appears(_client(), "/api/v1/gallery/", remix)
    assert appears(_client(), "/api/v1/gallery/", deeper)
    assert moderation_notices(bob) == [] and moderation_notices(carol) == []
    with pytest.raises(DomainError):
        services.portrait_hide(
            moderator=mod, portrait=remix, rule=rule, reason=REASON, descendants="all"
        )


def test_lineage_and_tree_show_a_hidden_ancestor_as_removed_by_moderators_with_its_credit(
    family, alice, bob, carol, mod, rule
):
    original, remix, deeper = family
    services.portrait_hide(moderator=mod, portrait=remix, rule=rule, reason=REASON)

    # carol's page, its lineage: bob's step is removed, still credited with what it changed.
    status, page = body(_client(), f"/p/{deeper.public_id}/")
    assert status == 200
    lineage = page.split('id="lineage"', 1)[1]
    assert "Removed by moderators" in lineage and "Bob&#x27;s remix" not in page
    assert f"/p/{remix.public_id}/" not in page
    assert re.search(r"Remixer: (<a [^>]*>)?bob<", lineage)  # credited, linked
    assert "Changed: prompt." in lineage  # its change, named (the words are not shown)
    credits = page.split('id="credits"', 1)[1].split("</ol>", 1)[0]
    assert ">bob</a>" in credits

    api = APIClient()
    steps = api.get(f"/api/v1/portraits/{deeper.public_id}/lineage/").json()["steps"]
    hidden_step = steps[1]
    assert hidden_step["available"] is False and hidden_step["removed_by_moderators"] is True
    assert hidden_step["id"] is None and hidden_step["title"] is None
    assert hidden_step["author"]["username"] == "bob"
    assert hidden_step["changes"]["changed"] == ["prompt"]
    assert [step["removed_by_moderators"] for step in steps] == [False, True, False]
    parent = api.get(f"/api/v1/portraits/{deeper.public_id}/").json()["parent"]
    assert parent["available"] is False and parent["removed_by_moderators"] is True
    assert parent["author"]["username"] == "bob" and parent["id"] is None

    # The tree, on its page and in the API.
    status, tree_page = body(_client(), f"/p/{deeper.public_id}/tree/")
    assert "Removed by moderators" in tree_page and "Bob&#x27;s remix" not in tree_page
    members = api.get(f"/api/v1/portraits/{deeper.public_id}/tree/").json()["members"]
    assert [m["removed_by_moderators"] for m in members] == [False, True, False]
    assert members[1]["author"]["username"] == "bob" and members[1]["id"] is None

    # bob, its owner, still sees it, marked; so does the moderator.
    status, own = body(_client(bob), f"/p/{deeper.public_id}/tree/")
    assert "Bob&#x27;s remix" in own and "hidden by moderators" in own
    bob_api = APIClient()
    bob_api.force_authenticate(bob)
    mine = bob_api.get(f"/api/v1/portraits/{deeper.public_id}/lineage/").json()["steps"][1]
    assert mine["available"] is True and mine["removed_by_moderators"] is True


def test_a_hidden_private_step_reads_not_available_like_any_private_one(alice, bob, mod, rule):
    original = quokka(alice, title="Original quokka", recipe=recipe_for("a quokka"))
    private = quokka(
        bob,
        title="Bob's private remix",
        parent=original,
        recipe=recipe_for("a red quokka"),
        visibility=V.PRIVATE,
        published_at=None,
    )
    deeper = quokka(alice, title="Alice again", parent=private, recipe=recipe_for("a red cat"))
    services.portrait_hide(moderator=mod, portrait=private, rule=rule, reason=REASON)

    steps = APIClient().get(f"/api/v1/portraits/{deeper.public_id}/lineage/").json()["steps"]

    assert steps[1]["available"] is False and steps[1]["removed_by_moderators"] is False
    status, page = body(_client(), f"/p/{deeper.public_id}/")
    assert "Removed by moderators" not in page and "No longer available" in page
