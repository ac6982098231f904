"""Reports: a member reports a portrait or a member they can see, from the page and by API;
repeats collapse into one, submissions are rate-limited, and what they cannot see (or
themselves) is refused with nothing written and nothing revealed (issue 10, "Reports" and
"Bad input")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from config.errors import DomainError, NotFound, QuotaExceeded
from moderation import services
from moderation.models import Case, Report, Rule
from moderation.reports import report_submit
from portraits.models import Portrait
from tests.gallery.community import published, race_with_uncommitted, unpublished

pytestmark = pytest.mark.django_db
V = Portrait.Visibility
C = Report.Category


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = "https://likeness.test"
    settings.MODERATION_REPORT_RATE = "10/hour"


@pytest.fixture
def rule(db):
    return Rule.objects.create(title="No spam", text="Do not flood the gallery.", order=1)


@pytest.fixture
def other_rule(db):
    return Rule.objects.create(title="Consent", text="Only likenesses you may use.", order=2)


@pytest.fixture
def kestrel(make_user):
    """A moderator whose name must never reach members."""
    user = make_user("kestrel", is_staff=True)
    user.groups.add(Group.objects.get(name="Moderators"))
    return user


@pytest.fixture
def portrait(alice):
    return published(alice, title="The Lighthouse Keeper")


def client_for(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def api_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def nothing_written() -> bool:
    return not Report.objects.exists() and not Case.objects.exists()


# --- The service ---------------------------------------------------------------------------


def test_a_report_opens_an_open_report_case_for_its_target(bob, portrait, rule):
    report = report_submit(
        reporter=bob, portrait=portrait, category=C.SPAM, rule=rule, text="  Posted 40 times.  "
    )
    assert report.collapsed is False
    assert (report.reporter, report.target_portrait, report.target_user) == (bob, portrait, None)
    assert (report.category, report.rule, report.text) == ("spam", rule, "Posted 40 times.")
    case = report.case
    assert (case.kind, case.status, case.target_portrait) == ("report", "open", portrait)


def test_reports_by_different_members_join_the_targets_one_open_case(bob, carol, portrait, rule):
    first = report_submit(reporter=bob, portrait=portrait, category=C.SPAM, rule=rule)
    second = report_submit(reporter=carol, portrait=portrait, category=C.OTHER, rule=rule.pk)
    assert first.case_id == second.case_id
    assert Case.objects.count() == 1 and Report.objects.count() == 2


def test_repeated_reports_by_one_member_on_one_target_collapse_into_one(
    bob, portrait, rule, other_rule
):
    first = report_submit(reporter=bob, portrait=portrait, category=C.SPAM, rule=rule, text="a")
    again = report_submit(
        reporter=bob, portrait=portrait, category=C.LIKENESS, rule=other_rule, text="it is me"
    )
    assert again.collapsed is True and again.pk == first.pk
    (only,) = Report.objects.all()
    assert (only.category, only.rule, only.text) == ("likeness", other_rule, "it is me")
    assert only.updated_at > only.created_at
    assert Case.objects.count() == 1


def test_once_the_case_is_decided_a_new_report_starts_a_new_case(bob, portrait, rule, kestrel):
    first = report_submit(reporter=bob, portrait=portrait, category=C.SPAM, rule=rule)
    services.case_dismiss(moderator=kestrel, case=first.case, rule=rule, reason="Not spam.")
    second = report_submit(reporter=bob, portrait=portrait, category=C.SPAM, rule=rule)
    assert second.collapsed is False and second.pk != first.pk
    assert second.case_id != first.case_id and second.case.status == "open"
    first.refresh_from_db()
    assert first.outcome == Report.Outcome.NO_ACTION


def test_a_member_can_be_reported(bob, carol, rule):
    report = report_submit(reporter=bob, user=carol, category=C.HARASSMENT, rule=rule)
    assert (report.target_user, report.target_portrait) == (carol, None)
    assert report.case.target_user == carol


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda alice: unpublished(alice, visibility=V.PRIVATE), id="private"),
        pytest.param(
            lambda alice: published(
                alice, hidden_at=timezone.now(), hidden_cause=Portrait.HiddenCause.MODERATION
            ),
            id="hidden",
        ),
        pytest.param(lambda alice: published(alice, deleted_at=timezone.now()), id="deleted"),
    ],
)
def test_reporting_a_portrait_one_cannot_see_is_not_found_and_writes_nothing(
    make, alice, bob, rule
):
    unseen = make(alice)
    with pytest.raises(NotFound) as caught:
        # Even with every other field wrong: the 404 comes first and says nothing more.
        report_submit(reporter=bob, portrait=unseen, category="bogus", rule=None, text="x" * 5000)
    assert caught.value.message == "No such portrait." and caught.value.field_errors == {}
    assert nothing_written()


def test_a_portrait_hidden_since_the_caller_loaded_it_is_not_found(bob, portrait, rule, kestrel):
    stale = Portrait.objects.get(pk=portrait.pk)
    services.portrait_hide(moderator=kestrel, portrait=portrait, rule=rule, reason="Spam.")
    with pytest.raises(NotFound):
        report_submit(reporter=bob, portrait=stale, category=C.SPAM, rule=rule)
    assert not Report.objects.exists()


def test_reporting_an_inactive_member_is_not_found(bob, carol, rule):
    carol.is_active = False
    carol.save()
    with pytest.raises(NotFound):
        report_submit(reporter=bob, user=carol, category=C.SPAM, rule=rule)
    assert nothing_written()


def test_reporting_yourself_or_your_own_portrait_is_refused(alice, portrait, rule):
    with pytest.raises(DomainError) as own:
        report_submit(reporter=alice, portrait=portrait, category=C.SPAM, rule=rule)
    assert own.value.field_errors == {"portrait": ["You cannot report your own portrait."]}
    with pytest.raises(DomainError) as yourself:
        report_submit(reporter=alice, user=alice, category=C.SPAM, rule=rule)
    assert yourself.value.field_errors == {"user": ["You cannot report yourself."]}
    assert nothing_written()


def test_unknown_category_unknown_or_retired_rule_and_overlong_text_are_field_errors(
    bob, portrait, rule
):
    retired = Rule.objects.create(title="Old rule", is_active=False)
    with pytest.raises(DomainError) as caught:
        report_submit(
            reporter=bob, portrait=portrait, category="rude", rule=retired, text="x" * 2001
        )
    errors = caught.value.field_errors
    assert set(errors) == {"category", "rule", "text"}  # every bad field at once
    assert "No such rule" in errors["rule"][0]
    assert "2000" in errors["text"][0]
    for unknown in (999_999, "abc", "", None, True):
        with pytest.raises(DomainError) as caught:
            report_submit(reporter=bob, portrait=portrait, category=C.SPAM, rule=unknown)
        assert set(caught.value.field_errors) == {"rule"}
    assert nothing_written()
    # Exactly the limit is fine.
    assert report_submit(
        reporter=bob, portrait=portrait, category=C.SPAM, rule=rule, text="x" * 2000
    )


def test_new_reports_past_the_rate_are_refused_with_when_to_retry(
    settings, alice, bob, carol, rule
):
    settings.MODERATION_REPORT_RATE = "2/hour"
    first, second, third = (published(alice, title=f"P{i}") for i in range(3))
    report_submit(reporter=bob, portrait=first, category=C.SPAM, rule=rule)
    report_submit(reporter=bob, portrait=second, category=C.SPAM, rule=rule)
    with pytest.raises(QuotaExceeded) as caught:
        report_submit(reporter=bob, portrait=third, category=C.SPAM, rule=rule)
    assert "2/hour" in caught.value.message
    assert 3500 < caught.value.retry_after <= 3601
    assert Report.objects.filter(target_portrait=third).count() == 0
    # Updating an open report adds nothing for moderators: still accepted.
    assert report_submit(reporter=bob, portrait=first, category=C.OTHER, rule=rule).collapsed
    # The limit is each member's own.
    report_submit(reporter=carol, portrait=third, category=C.SPAM, rule=rule)
    # Reports older than the window no longer count.
    Report.objects.filter(reporter=bob).update(created_at=timezone.now() - timedelta(hours=2))
    assert not report_submit(reporter=bob, portrait=third, category=C.SPAM, rule=rule).collapsed


# --- The API -------------------------------------------------------------------------------


def test_api_reports_a_portrait_then_a_repeat_updates_it(bob, portrait, rule):
    api = api_for(bob)
    body = {"portrait": portrait.public_id, "category": "spam", "rule": rule.pk, "text": "Spam."}
    response = api.post("/api/v1/reports/", body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["portrait"] == portrait.public_id and data["user"] is None
    assert data["status"] == "received" and data["outcome"] is None
    assert data["rule"] == {"id": rule.pk, "title": "No spam"}
    assert data["url"].endswith(f"/moderation/reports/{data['id']}/")

    again = api.post("/api/v1/reports/", {**body, "category": "other"}, format="json")
    assert again.status_code == 200
    assert again.json()["id"] == data["id"] and again.json()["category"] == "other"
    assert Report.objects.count() == 1


def test_api_reports_a_member_by_username(bob, carol, rule):
    response = api_for(bob).post(
        "/api/v1/reports/", {"user": "CAROL", "category": "harassment", "rule": rule.pk}
    )
    assert response.status_code == 201
    assert response.json()["user"] == "carol"
    assert Report.objects.get().target_user == carol


def test_api_answers_an_unseen_portrait_exactly_like_one_that_never_existed(alice, bob, rule):
    private = unpublished(alice, visibility=V.PRIVATE)
    api = api_for(bob)
    answers = [
        api.post("/api/v1/reports/", {"portrait": pid, "category": "spam", "rule": rule.pk})
        for pid in (private.public_id, "p" + "0" * (len(private.public_id) - 1))
    ]
    assert [a.status_code for a in answers] == [404, 404]
    assert answers[0].json() == answers[1].json()
    assert answers[0].json()["code"] == "not_found"
    member = api.post("/api/v1/reports/", {"user": "nobody", "category": "spam", "rule": rule.pk})
    assert member.status_code == 404
    assert nothing_written()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"category": "rude"}, "category"),
        ({"rule": 999_999}, "rule"),
        ({"rule": "1"}, "rule"),  # a string is not the integer the schema says
        ({"text": "x" * 2001}, "text"),
        ({"text": 5}, "text"),
        ({"user": "carol"}, "non_field_errors"),  # both a portrait and a member
        ({"moderator": "kestrel"}, "moderator"),  # an unknown field
    ],
)
def test_api_bad_input_is_a_field_error_and_changes_nothing(
    bob, carol, portrait, rule, body, field
):
    request = {"portrait": portrait.public_id, "category": "spam", "rule": rule.pk, **body}
    response = api_for(bob).post("/api/v1/reports/", request, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    assert nothing_written()


def test_api_refuses_reporting_yourself_with_a_field_error(alice, portrait, rule):
    api = api_for(alice)
    own = api.post(
        "/api/v1/reports/", {"portrait": portrait.public_id, "category": "spam", "rule": rule.pk}
    )
    assert own.status_code == 400 and "portrait" in own.json()["errors"]
    me = api.post("/api/v1/reports/", {"user": "alice", "category": "spam", "rule": rule.pk})
    assert me.status_code == 400 and "user" in me.json()["errors"]
    assert nothing_written()


def test_api_rate_limit_is_a_429_with_retry_after(settings, alice, bob, rule):
    settings.MODERATION_REPORT_RATE = "1/hour"
    first, second = published(alice, title="One"), published(alice, title="Two")
    api = api_for(bob)
    body = {"category": "spam", "rule": rule.pk}
    assert api.post("/api/v1/reports/", {**body, "portrait": first.public_id}).status_code == 201
    refused = api.post("/api/v1/reports/", {**body, "portrait": second.public_id})
    assert refused.status_code == 429
    assert refused.json()["code"] == "quota_exceeded"
    assert 3500 < int(refused["Retry-After"]) <= 3601
    assert Report.objects.count() == 1


def test_api_reporting_needs_credentials(portrait, rule):
    response = api_for().post(
        "/api/v1/reports/", {"portrait": portrait.public_id, "category": "spam", "rule": rule.pk}
    )
    assert response.status_code in (401, 403)
    assert nothing_written()


def test_api_lists_only_your_own_reports_with_their_outcome(bob, carol, portrait, rule, kestrel):
    mine = report_submit(reporter=bob, portrait=portrait, category=C.SPAM, rule=rule)
    report_submit(reporter=carol, portrait=portrait, category=C.SPAM, rule=rule)
    services.portrait_hide(
        moderator=kestrel, portrait=portrait, rule=rule, reason="Spam.", case=mine.case
    )
    data = api_for(bob).get("/api/v1/reports/").json()
    assert [item["id"] for item in data["results"]] == [mine.pk]
    (item,) = data["results"]
    assert item["status"] == "decided" and item["outcome"] == "action taken"
    assert "kestrel" not in str(data)


# --- The pages -----------------------------------------------------------------------------


def test_the_report_link_shows_to_signed_in_members_on_others_portraits_and_profiles(
    alice, bob, portrait
):
    link = f"/p/{portrait.public_id}/report/"
    assert link in client_for(bob).get(portrait.get_absolute_url()).content.decode()
    assert link not in client_for(alice).get(portrait.get_absolute_url()).content.decode()
    assert link not in client_for().get(portrait.get_absolute_url()).content.decode()
    member_link = "/u/alice/report/"
    assert member_link in client_for(bob).get("/u/alice/").content.decode()
    assert member_link not in client_for(alice).get("/u/alice/").content.decode()
    assert member_link not in client_for().get("/u/alice/").content.decode()


def test_reporting_from_the_page_shows_it_was_received(bob, portrait, rule, other_rule):
    client = client_for(bob)
    url = f"/p/{portrait.public_id}/report/"
    form = client.get(url)
    html = form.content.decode()
    assert form.status_code == 200
    assert "Non-consensual likeness of a real person" in html and "Consent" in html
    response = client.post(url, {"category": "likeness", "rule": other_rule.pk, "text": "Me."})
    report = Report.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/moderation/reports/{report.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert "Report received" in page and "The Lighthouse Keeper" in page and "Consent" in page
    # A repeat from the page updates the same report.
    client.post(url, {"category": "spam", "rule": rule.pk, "text": ""})
    assert Report.objects.get().category == "spam"


def test_reporting_a_member_from_their_profile(bob, carol, rule):
    client = client_for(bob)
    response = client.post("/u/carol/report/", {"category": "harassment", "rule": rule.pk})
    assert response.status_code == 302
    assert Report.objects.get().target_user == carol


def test_report_page_errors_are_shown_on_the_form(bob, portrait, rule):
    client = client_for(bob)
    response = client.post(
        f"/p/{portrait.public_id}/report/", {"category": "rude", "rule": "999", "text": "x" * 2001}
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert set(form.errors) == {"category", "rule", "text"}
    assert nothing_written()


def test_report_page_of_an_unseen_portrait_is_404_and_anonymous_is_sent_to_log_in(alice, bob, rule):
    private = unpublished(alice, visibility=V.PRIVATE)
    url = f"/p/{private.public_id}/report/"
    assert client_for(bob).get(url).status_code == 404
    assert client_for(bob).post(url, {"category": "spam", "rule": rule.pk}).status_code == 404
    anonymous = client_for().get(f"/p/{published(alice).public_id}/report/")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert client_for(bob).get("/u/nobody/report/").status_code == 404
    assert nothing_written()


def test_report_page_of_ones_own_portrait_or_self_says_so_without_a_form(alice, portrait, rule):
    client = client_for(alice)
    page = client.get(f"/p/{portrait.public_id}/report/")
    assert page.status_code == 400
    assert "You cannot report your own portrait" in page.content.decode()
    assert "<textarea" not in page.content.decode()
    posted = client.post("/u/alice/report/", {"category": "spam", "rule": rule.pk})
    assert posted.status_code == 400 and "You cannot report yourself" in posted.content.decode()
    assert nothing_written()


def test_report_page_past_the_rate_is_a_429_with_the_message(settings, alice, bob, rule):
    settings.MODERATION_REPORT_RATE = "1/hour"
    client = client_for(bob)
    client.post(f"/p/{published(alice).public_id}/report/", {"category": "spam", "rule": rule.pk})
    response = client.post(
        f"/p/{published(alice).public_id}/report/", {"category": "spam", "rule": rule.pk}
    )
    assert response.status_code == 429
    assert "the limit is 1/hour" in response.content.decode()
    assert Report.objects.count() == 1


def test_a_report_page_is_its_reporters_only_and_shows_the_outcome_without_names(
    bob, carol, portrait, rule, kestrel
):
    report = report_submit(reporter=bob, portrait=portrait, category=C.SPAM, rule=rule)
    url = f"/moderation/reports/{report.pk}/"
    assert client_for(carol).get(url).status_code == 404
    assert client_for().get(url).status_code == 302
    services.case_dismiss(moderator=kestrel, case=report.case, rule=rule, reason="Fine art.")
    page = client_for(bob).get(url).content.decode()
    assert "took no action" in page
    assert "kestrel" not in page and "Fine art." not in page


# --- Concurrency (PostgreSQL) --------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_members_simultaneous_reports_collapse_into_one(bob, portrait, rule):
    """The second waits on the reporter's row lock, then finds the first's report open."""
    results = race_with_uncommitted(
        lambda: report_submit(reporter=bob, portrait=portrait, category=C.SPAM, rule=rule),
        what="the second report waiting",
    )
    assert [results["first"].collapsed, results["second"].collapsed] == [False, True]
    assert Report.objects.count() == 1 and Case.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_members_reporting_at_once_join_one_case(bob, carol, portrait, rule):
    """Both open the target's case: the second insert waits on the open-case unique index,
    meets the constraint when the first commits, and joins the first's case."""
    reporters = iter([bob, carol])
    results = race_with_uncommitted(
        lambda: report_submit(
            reporter=next(reporters), portrait=portrait, category=C.SPAM, rule=rule
        ),
        what="the second case waiting",
    )
    assert results["first"].case_id == results["second"].case_id
    assert Case.objects.count() == 1 and Report.objects.count() == 2
