"""The moderators' queue on the real admin pages, as a member of Moderators.

Each decision is taken by POSTing the case page's decision form, the way its button does,
and its effect is read where members read it: the public gallery pages and API (as an
anonymous visitor), the owner's portrait page, the notifications of the people concerned,
and the audit trail.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gallery.models import Notification
from moderation.models import Appeal, BlockedTerm, Case, ModerationAction, Report, Rule
from portraits.models import Portrait
from tests.moderation.admin_helpers import (
    CHANGELIST,
    case_url,
    decide,
    everywhere,
    family,
    nowhere,
    report,
    shown_to_public,
    text_of,
)
from tests.portraits.factories import PortraitFactory

pytestmark = pytest.mark.django_db
A = ModerationAction.Kind


@pytest.fixture
def rules(db):
    return {
        "harassment": Rule.objects.create(title="No harassment", text="Be kind.", order=1),
        "likeness": Rule.objects.create(
            title="No likeness without consent", text="Real people consent.", order=2
        ),
    }


@pytest.fixture
def dave(make_user):
    return make_user("dave")


@pytest.fixture
def portraits(alice, bob, carol, dave):
    return family(alice=alice, bob=bob, carol=carol, dave=dave)


@pytest.fixture
def reported(portraits, rules, bob, carol):
    """alice's "Red beard", reported by bob and by carol: one open case."""
    portrait = portraits["reported"]
    report(bob, portrait=portrait, rule=rules["harassment"], text="It mocks my neighbour.")
    report(carol, portrait=portrait, rule=rules["likeness"], category="likeness")
    return Case.objects.get(target_portrait=portrait, status=Case.Status.OPEN)


@pytest.fixture
def mod_client(client, mod):
    client.force_login(mod)
    return client


def notices(user) -> list[dict]:
    return list(
        Notification.objects.filter(recipient=user, kind=Notification.Kind.MODERATION)
        .order_by("created_at", "id")
        .values_list("detail", flat=True)
    )


# --- The queue -------------------------------------------------------------------------


def test_queue_row_shows_the_target_its_reports_reporters_and_family(
    mod_client, reported, portraits
):
    page = mod_client.get(CHANGELIST)
    assert page.status_code == 200
    html = page.content.decode()
    reported_portrait = portraits["reported"]
    assert f"/p/{reported_portrait.public_id}/thumbnail/" in html
    text = text_of(page)
    assert "Red beard by alice" in text
    assert "Harassment" in text and "Non-consensual likeness of a real person" in text
    assert "No harassment; No likeness without consent" in text
    assert "It mocks my neighbour." in text
    assert "bob, carol" in text
    # Its family: a remix of carol's original, with two remixes below it.
    assert "remix of Lighthouse" in text
    assert "2 descendants" in text


def test_open_cases_come_first_and_one_targets_cases_sit_together(
    mod_client, rules, portraits, alice, bob, carol, dave, mod
):
    first = portraits["child"]
    report(carol, portrait=first, rule=rules["harassment"])
    second = portraits["grandchild"]
    report(carol, portrait=second, rule=rules["harassment"])
    closed = Case.objects.get(target_portrait=second)
    from moderation.services import case_dismiss

    case_dismiss(moderator=mod, case=closed, rule=rules["harassment"], reason="Fine.")
    report(alice, user=dave, rule=rules["harassment"])
    # A review case about the first target, opened after the member's report: it joins
    # the first target's row group, ahead of the later member case.
    Portrait.objects.filter(pk=first.pk).update(held_for_review=True)
    review = Case.objects.create(kind=Case.Kind.REVIEW, target_portrait=first)
    ids = [case.pk for case in mod_client.get(CHANGELIST).context["cl"].result_list]
    member_case = Case.objects.get(target_user=dave)
    first_report = Case.objects.get(target_portrait=first, kind=Case.Kind.REPORT)
    assert ids == [first_report.pk, review.pk, member_case.pk, closed.pk]


def test_queue_filters_by_kind_status_category_target_and_assignment(
    mod_client, reported, rules, portraits, alice, dave, mod, make_user
):
    report(alice, user=dave, rule=rules["harassment"], category="spam")
    member_case = Case.objects.get(target_user=dave)
    Case.objects.filter(pk=reported.pk).update(assigned_to=mod)

    def listed(**params):
        return {case.pk for case in mod_client.get(CHANGELIST, params).context["cl"].result_list}

    assert listed() == {reported.pk, member_case.pk}
    assert listed(assigned="me") == {reported.pk}
    assert listed(assigned="nobody") == {member_case.pk}
    assert listed(assigned_to__id__exact=mod.pk) == {reported.pk}
    assert listed(category="spam") == {member_case.pk}
    assert listed(category="likeness") == {reported.pk}
    assert listed(target="member") == {member_case.pk}
    assert listed(kind__exact="report", status__exact="open") == {reported.pk, member_case.pk}
    assert listed(kind__exact="appeal") == set()
    # Only moderators are offered in the "assigned to" filter.
    html = mod_client.get(CHANGELIST).content.decode()
    assert f"assigned_to__id__exact={mod.pk}" in html
    assert f"assigned_to__id__exact={alice.pk}" not in html


def test_queue_reads_a_fixed_number_of_queries_whatever_its_length(
    mod_client, rules, alice, make_user
):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert mod_client.get(CHANGELIST).status_code == 200
        return len(captured)

    def reported_remix(n):
        parent = PortraitFactory(author=alice, title=f"Original {n}")
        portrait = PortraitFactory(author=alice, parent=parent, title=f"Remix {n}")
        PortraitFactory(author=alice, parent=portrait, title=f"Child {n}")
        for who in range(2):
            report(make_user(f"r{n}x{who}"), portrait=portrait, rule=rules["harassment"])

    reported_remix(0)
    few = queries()
    for n in range(1, 6):
        reported_remix(n)
    assert queries() == few
    assert len(mod_client.get(CHANGELIST).context["cl"].result_list) == 6


def test_assign_to_me_takes_the_selected_open_cases(mod_client, reported, mod):
    response = mod_client.post(
        CHANGELIST, {"action": "assign_to_me", "_selected_action": [reported.pk]}
    )
    assert response.status_code == 302
    reported.refresh_from_db()
    assert reported.assigned_to == mod
    assert "mod" in text_of(mod_client.get(CHANGELIST, {"assigned": "me"}))


def test_notes_and_assignment_are_saved_on_the_case_page(mod_client, reported, mod, alice):
    response = mod_client.post(
        case_url(reported), {"assigned_to": mod.pk, "notes": "Looks like a pattern; ask Sam."}
    )
    assert response.status_code == 302, response.content.decode()
    reported.refresh_from_db()
    assert (reported.assigned_to, reported.notes) == (mod, "Looks like a pattern; ask Sam.")
    assert "Looks like a pattern" in text_of(mod_client.get(CHANGELIST))
    # A case goes to a moderator, never to any member.
    refused = mod_client.post(case_url(reported), {"assigned_to": alice.pk, "notes": ""})
    assert refused.status_code == 200
    reported.refresh_from_db()
    assert reported.assigned_to == mod


def test_bulk_dismissal_asks_for_a_rule_and_reason_then_tells_each_reporter(
    mod_client, reported, rules, portraits, bob, carol, django_capture_on_commit_callbacks
):
    selected = {"action": "dismiss_selected", "_selected_action": [reported.pk]}
    asked = mod_client.post(CHANGELIST, selected)
    assert asked.status_code == 200
    assert 'name="rule"' in asked.content.decode() and 'name="reason"' in asked.content.decode()
    incomplete = mod_client.post(CHANGELIST, {**selected, "apply": "1", "reason": "x"})
    assert incomplete.status_code == 200
    assert Case.objects.get(pk=reported.pk).is_open
    with django_capture_on_commit_callbacks(execute=True):
        done = mod_client.post(
            CHANGELIST,
            {**selected, "apply": "1", "rule": rules["harassment"].pk, "reason": "Satire."},
        )
    assert done.status_code == 302
    reported.refresh_from_db()
    assert not reported.is_open
    assert set(Report.objects.values_list("outcome", flat=True)) == {"no action"}
    assert notices(bob) and notices(carol)
    assert everywhere(portraits["reported"])


# --- A case's page ---------------------------------------------------------------------


def test_case_page_shows_reports_lineage_descendants_and_the_decision_form(
    mod_client, reported, portraits
):
    page = mod_client.get(case_url(reported))
    assert page.status_code == 200
    text = text_of(page)
    assert "It mocks my neighbour." in text
    assert "A remix of: Lighthouse" in text
    assert "2 descendants" in text
    assert "Red beard at night" in text and "Red beard in fog" in text
    form = page.context["decision_form"]
    assert [name for name, _ in form.fields["decision"].choices] == [
        "hide",
        "mature",
        "warn",
        "suspend",
        "dismiss",
    ]


def test_a_decision_without_rule_or_reason_is_refused_and_changes_nothing(
    mod_client, reported, rules, portraits
):
    response = decide(mod_client, reported, "hide", reason="")
    assert response.status_code == 200
    errors = response.context["decision_form"].errors
    assert set(errors) == {"rule", "reason"}
    response = decide(mod_client, reported, "hide", rule=rules["harassment"], reason="  ")
    assert set(response.context["decision_form"].errors) == {"reason"}
    portraits["reported"].refresh_from_db()
    assert not portraits["reported"].is_hidden
    assert not ModerationAction.objects.exists()
    assert Case.objects.get(pk=reported.pk).is_open


def test_hide_takes_it_off_every_public_surface_and_tells_owner_and_reporters(
    mod_client,
    reported,
    rules,
    portraits,
    alice,
    bob,
    carol,
    client,
    django_capture_on_commit_callbacks,
):
    portrait = portraits["reported"]
    assert everywhere(portrait)  # and now cached, for anonymous visitors
    with django_capture_on_commit_callbacks(execute=True):
        response = decide(
            mod_client, reported, "hide", rule=rules["harassment"], reason="Targets a person."
        )
    assert response.status_code == 302, text_of(response)
    assert response["Location"] == CHANGELIST
    assert nowhere(portrait)
    portrait.refresh_from_db()
    assert portrait.hidden_cause == Portrait.HiddenCause.MODERATION
    # The owner still sees it, marked hidden by moderators with the rule and the reason.
    owner = Client()
    owner.force_login(alice)
    owner_page = text_of(owner.get(f"/p/{portrait.public_id}/"))
    assert "hidden by moderators" in owner_page.lower()
    assert "No harassment" in owner_page and "Targets a person." in owner_page
    # Notified: the owner with rule and reason; each reporter of the outcome.
    (told,) = notices(alice)
    assert (told["rule"], told["reason"]) == ("No harassment", "Targets a person.")
    assert notices(bob) and notices(carol)
    assert set(Report.objects.values_list("outcome", flat=True)) == {"action taken"}
    (action,) = ModerationAction.objects.all()
    assert (action.kind, action.moderator.username, action.case_id) == (A.HIDE, "mod", reported.pk)
    # Its descendants were left alone, and the case is out of the open queue.
    assert everywhere(portraits["child"])
    reported.refresh_from_db()
    assert not reported.is_open
    assert mod_client.get(CHANGELIST, {"status__exact": "open"}).context["cl"].result_count == 0


@pytest.mark.parametrize("descendants", ["hide", "flag"])
def test_hide_with_descendants_hides_or_flags_them_in_one_step(
    mod_client, reported, rules, portraits, descendants, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = decide(
            mod_client,
            reported,
            "hide",
            rule=rules["harassment"],
            reason="The whole branch mocks them.",
            descendants=descendants,
        )
    assert response.status_code == 302, text_of(response)
    below = [portraits["child"], portraits["grandchild"]]
    kinds = sorted(
        ModerationAction.objects.filter(target_portrait__in=below).values_list("kind", flat=True)
    )
    if descendants == "hide":
        assert all(nowhere(p) for p in below)
        assert kinds == [A.HIDE, A.HIDE]
    else:
        assert all(everywhere(p) for p in below)  # flagged, still up until reviewed
        assert kinds == [A.FLAG, A.FLAG]
        assert (
            Case.objects.filter(
                kind=Case.Kind.REVIEW, status=Case.Status.OPEN, target_portrait__in=below
            ).count()
            == 2
        )
    # The original above it is untouched.
    assert everywhere(portraits["original"])


def test_restore_on_the_closed_case_brings_a_hidden_portrait_back_everywhere(
    mod_client, reported, rules, portraits, django_capture_on_commit_callbacks
):
    portrait = portraits["reported"]
    with django_capture_on_commit_callbacks(execute=True):
        decide(mod_client, reported, "hide", rule=rules["harassment"], reason="First look.")
    assert nowhere(portrait)
    # The case is closed; its page still offers what can be done to its target.
    page = mod_client.get(case_url(reported))
    choices = [name for name, _ in page.context["decision_form"].fields["decision"].choices]
    assert "restore" in choices and "hide" not in choices and "dismiss" not in choices
    with django_capture_on_commit_callbacks(execute=True):
        response = decide(
            mod_client, reported, "restore", rule=rules["harassment"], reason="Misread."
        )
    assert response.status_code == 302, text_of(response)
    assert everywhere(portrait)
    restore = ModerationAction.objects.get(kind=A.RESTORE, target_portrait=portrait)
    assert restore.case_id is None  # recorded on its own: the case stays closed
    reported.refresh_from_db()
    assert not reported.is_open


def test_mark_mature_locks_the_rating_and_hides_it_from_anonymous_visitors(
    mod_client, reported, rules, portraits, alice, django_capture_on_commit_callbacks
):
    portrait = portraits["reported"]
    with django_capture_on_commit_callbacks(execute=True):
        response = decide(
            mod_client, reported, "mature", rule=rules["harassment"], reason="Gory detail."
        )
    assert response.status_code == 302, text_of(response)
    portrait.refresh_from_db()
    assert (portrait.rating, portrait.rating_locked) == ("mature", True)
    seen = shown_to_public(portrait)
    assert not seen["gallery API"] and not seen["gallery page"] and not seen["explore page"]
    assert not seen["thumbnail"]
    (told,) = notices(alice)
    assert told["rule"] == "No harassment"
    # The owner cannot undo a moderator's rating.
    from rest_framework.test import APIClient

    owner = APIClient()
    owner.force_authenticate(alice)
    refused = owner.patch(
        f"/api/v1/portraits/{portrait.public_id}/", {"rating": "general"}, format="json"
    )
    assert refused.status_code == 400 and "rating" in refused.json()["errors"]
    portrait.refresh_from_db()
    assert portrait.rating == "mature"


def test_warn_gives_the_author_a_strike_citing_the_rule(
    mod_client, reported, rules, portraits, alice, django_capture_on_commit_callbacks
):
    from moderation.selectors import strikes_count

    with django_capture_on_commit_callbacks(execute=True):
        response = decide(
            mod_client, reported, "warn", rule=rules["harassment"], reason="Second time."
        )
    assert response.status_code == 302, text_of(response)
    assert strikes_count(user=alice) == 1
    (told,) = notices(alice)
    assert (told["rule"], told["reason"]) == ("No harassment", "Second time.")
    assert everywhere(portraits["reported"])  # a warning hides nothing


def test_suspend_for_a_period_hides_their_public_work_and_lift_brings_it_back(
    mod_client, reported, rules, portraits, alice, carol, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = decide(
            mod_client,
            reported,
            "suspend",
            rule=rules["harassment"],
            reason="Repeated harassment.",
            period="7",
        )
    assert response.status_code == 302, text_of(response)
    alice.refresh_from_db()
    assert alice.is_suspended
    assert timedelta(days=6, hours=23) < alice.suspended_until - timezone.now() <= timedelta(days=7)
    assert nowhere(portraits["reported"])
    assert everywhere(portraits["original"])  # carol's work is not alice's
    (told,) = notices(alice)
    assert told["reason"] == "Repeated harassment."

    # Lifted from a new case about alice herself.
    report(carol, user=alice, rule=rules["harassment"], text="Please look again.")
    member_case = Case.objects.get(target_user=alice, status=Case.Status.OPEN)
    page = mod_client.get(case_url(member_case))
    choices = [name for name, _ in page.context["decision_form"].fields["decision"].choices]
    assert choices == ["lift", "dismiss"]
    with django_capture_on_commit_callbacks(execute=True):
        response = decide(
            mod_client, member_case, "lift", rule=rules["harassment"], reason="Served enough."
        )
    assert response.status_code == 302, text_of(response)
    alice.refresh_from_db()
    assert not alice.is_suspended
    assert everywhere(portraits["reported"])


def test_suspend_indefinitely(mod_client, reported, rules, alice):
    response = decide(
        mod_client,
        reported,
        "suspend",
        rule=rules["harassment"],
        reason="Threats.",
        period="indefinite",
    )
    assert response.status_code == 302, text_of(response)
    alice.refresh_from_db()
    assert alice.is_suspended and alice.suspended_until is None


def test_dismiss_leaves_the_portrait_up_and_tells_reporters_no_action(
    mod_client, reported, rules, portraits, alice, bob, carol, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = decide(
            mod_client, reported, "dismiss", rule=rules["harassment"], reason="Not about a person."
        )
    assert response.status_code == 302, text_of(response)
    assert everywhere(portraits["reported"])
    assert set(Report.objects.values_list("outcome", flat=True)) == {"no action"}
    assert notices(bob) and notices(carol)
    assert ModerationAction.objects.get().kind == A.DISMISS


# --- Appeals and reviews in the same queue ---------------------------------------------


@pytest.fixture
def appealed_hide(reported, rules, portraits, mod, alice):
    from moderation.services import appeal_submit, portrait_hide

    portrait_hide(
        moderator=mod,
        portrait=portraits["reported"],
        rule=rules["harassment"],
        reason="Targets a person.",
        case=reported,
    )
    action = ModerationAction.objects.get(kind=A.HIDE)
    appeal = appeal_submit(user=alice, action=action, text="It is my own grandfather.")
    return Case.objects.get(appeal=appeal)


def test_an_appeal_is_in_the_queue_with_what_it_appeals(mod_client, appealed_hide):
    text = text_of(mod_client.get(CHANGELIST))
    assert "Appeal of “Hidden” (No harassment)" in text
    assert "It is my own grandfather." in text
    page = mod_client.get(case_url(appealed_hide))
    text = text_of(page)
    assert "Appeal by alice" in text and "Targets a person." in text
    assert "hidden_cause" in text  # what the hide changed, before → after
    form = page.context["decision_form"]
    assert [name for name, _ in form.fields["decision"].choices] == ["uphold", "reverse"]


def test_reversing_an_appeal_restores_exactly_what_was_there_and_answers_the_member(
    mod_client, appealed_hide, portraits, alice, django_capture_on_commit_callbacks
):
    portrait = portraits["reported"]
    refused = mod_client.post(
        f"/admin/moderation/case/{appealed_hide.pk}/decide/",
        {"decide-decision": "reverse", "decide-reply": ""},
    )
    assert refused.status_code == 200
    assert "reply" in refused.context["decision_form"].errors
    before = Portrait.objects.filter(pk=portrait.pk).values(
        "visibility", "published_at", "rating", "rating_locked"
    )[0]
    with django_capture_on_commit_callbacks(execute=True):
        response = mod_client.post(
            f"/admin/moderation/case/{appealed_hide.pk}/decide/",
            {"decide-decision": "reverse", "decide-reply": "You are right: family is fine."},
        )
    assert response.status_code == 302, text_of(response)
    portrait.refresh_from_db()
    assert not portrait.is_hidden and portrait.hidden_cause == ""
    assert (
        Portrait.objects.filter(pk=portrait.pk).values(
            "visibility", "published_at", "rating", "rating_locked"
        )[0]
        == before
    )
    assert everywhere(portrait)
    appeal = Appeal.objects.get()
    assert (appeal.status, appeal.reply) == ("reversed", "You are right: family is fine.")
    assert any("You are right" in str(detail) for detail in notices(alice))
    reversal = ModerationAction.objects.get(kind=A.APPEAL_REVERSED)
    assert reversal.reverses.kind == A.HIDE


def test_upholding_an_appeal_keeps_the_decision_and_answers_the_member(
    mod_client, appealed_hide, portraits, alice
):
    response = mod_client.post(
        f"/admin/moderation/case/{appealed_hide.pk}/decide/",
        {"decide-decision": "uphold", "decide-reply": "It still targets a real person."},
    )
    assert response.status_code == 302, text_of(response)
    assert Appeal.objects.get().status == "upheld"
    assert nowhere(portraits["reported"])
    appealed_hide.refresh_from_db()
    assert not appealed_hide.is_open


@pytest.fixture
def held(alice, db):
    portrait = PortraitFactory(
        author=alice, title="Held one", visibility=Portrait.Visibility.PRIVATE, held_for_review=True
    )
    return portrait, Case.objects.create(kind=Case.Kind.REVIEW, target_portrait=portrait)


def test_clearing_a_review_lets_the_owner_publish(mod_client, held, alice):
    portrait, case = held
    text = text_of(mod_client.get(CHANGELIST))
    assert "Held by the prompt gate for review" in text
    choices = mod_client.get(case_url(case)).context["decision_form"].fields["decision"].choices
    assert [name for name, _ in choices] == ["clear", "hide"]
    response = decide(mod_client, case, "clear", reason="A harmless word.")
    assert response.status_code == 302, text_of(response)
    portrait.refresh_from_db()
    assert not portrait.held_for_review
    case.refresh_from_db()
    assert not case.is_open
    from portraits.services import portrait_update

    portrait_update(portrait=portrait, by=alice, data={"visibility": "public", "tags": ["sea"]})
    assert everywhere(portrait)


def test_hiding_a_held_portrait_keeps_it_off_the_gallery(mod_client, held, rules, alice):
    portrait, case = held
    response = decide(mod_client, case, "hide", rule=rules["harassment"], reason="Slur.")
    assert response.status_code == 302, text_of(response)
    portrait.refresh_from_db()
    assert portrait.hidden_cause == Portrait.HiddenCause.MODERATION
    case.refresh_from_db()
    assert not case.is_open


# --- Rules, the blocklist and the audit trail ------------------------------------------


def test_moderators_manage_rules_and_a_cited_rule_cannot_be_deleted(mod_client, reported, rules):
    added = mod_client.post(
        "/admin/moderation/rule/add/",
        {"title": "No spam", "text": "Do not flood.", "order": 3, "is_active": "on"},
    )
    assert added.status_code == 302
    listing = text_of(mod_client.get("/admin/moderation/rule/"))
    assert "No spam" in listing and "1 report(s), 0 action(s)" in listing
    cited = rules["harassment"]
    page = mod_client.get(f"/admin/moderation/rule/{cited.pk}/delete/")
    assert "protected" in text_of(page).lower()
    mod_client.post(f"/admin/moderation/rule/{cited.pk}/delete/", {"post": "yes"})
    assert Rule.objects.filter(pk=cited.pk).exists()
    unused = Rule.objects.get(title="No spam")
    mod_client.post(f"/admin/moderation/rule/{unused.pk}/delete/", {"post": "yes"})
    assert not Rule.objects.filter(pk=unused.pk).exists()


def test_blocklist_changelist_shows_refused_and_held_counts(mod_client):
    BlockedTerm.objects.create(kind="word", pattern="gore", refused_count=7, matched_count=0)
    BlockedTerm.objects.create(
        kind="phrase", pattern="real person", action="review", matched_count=3
    )
    page = mod_client.get("/admin/moderation/blockedterm/")
    rows = [
        (term.pattern, term.refused_count, term.matched_count)
        for term in page.context["cl"].result_list
    ]
    assert rows == [("gore", 7, 0), ("real person", 0, 3)]
    html = page.content.decode()
    assert "field-refused_count" in html and ">7<" in html
    # The counters are the gate's: read-only on an entry's page.
    term = BlockedTerm.objects.get(pattern="gore")
    assert (
        'name="refused_count"'
        not in mod_client.get(f"/admin/moderation/blockedterm/{term.pk}/change/").content.decode()
    )


def test_audit_trail_is_listed_read_only_with_before_and_after(
    mod_client, reported, rules, portraits
):
    decide(mod_client, reported, "hide", rule=rules["harassment"], reason="Targets a person.")
    action = ModerationAction.objects.get()
    listing = text_of(mod_client.get("/admin/moderation/moderationaction/"))
    assert "Hidden" in listing and "Targets a person." in listing
    page = mod_client.get(f"/admin/moderation/moderationaction/{action.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "hidden_cause" in html and 'name="reason"' not in html and "_save" not in html


def test_audit_trail_keeps_an_entry_whose_portrait_is_gone(
    mod_client, rules, portraits, alice, dave
):
    from portraits.services import portrait_delete

    leaf = portraits["grandchild"]  # dave's, with no remixes of its own
    report(alice, portrait=leaf, rule=rules["harassment"])
    case = Case.objects.get(target_portrait=leaf)
    decide(mod_client, case, "hide", rule=rules["harassment"], reason="Targets a person.")
    action = ModerationAction.objects.get()
    assert not portrait_delete(portrait=leaf, by=dave)  # no descendants: the row goes
    assert not Portrait.objects.filter(pk=leaf.pk).exists()
    assert ModerationAction.objects.filter(pk=action.pk).exists()
    listing = mod_client.get("/admin/moderation/moderationaction/")
    assert f"portrait #{leaf.pk} (deleted)" in text_of(listing)
    page = mod_client.get(f"/admin/moderation/moderationaction/{action.pk}/change/")
    assert f"portrait #{leaf.pk} (deleted)" in text_of(page)
