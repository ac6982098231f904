"""Appeals from the member's side: the settings page that lists what they may appeal, the
form a moderation notice links to, the API, and the page a suspended member reaches
without signing in. Once per decision, only one's own, never naming the moderator
(issue 10, "Appeals" and "Bad input")."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import signing
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from gallery.models import Notification
from moderation import services
from moderation.models import Appeal, Case, ModerationAction, Rule
from moderation.views import SUSPENDED_PAGE_MAX_AGE, SUSPENDED_PAGE_SALT, suspension_page_url
from portraits.models import Portrait
from tests.conftest import PASSWORD
from tests.gallery.community import published

pytestmark = pytest.mark.django_db
A = ModerationAction.Kind
REASON = "Posted the same portrait forty times in an hour."


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = "https://likeness.test"


@pytest.fixture
def rule(db):
    return Rule.objects.create(title="No spam", text="Do not flood the gallery.", order=1)


@pytest.fixture
def kestrel(make_user):
    """A moderator whose name must never reach members."""
    user = make_user("kestrel", is_staff=True)
    user.groups.add(Group.objects.get(name="Moderators"))
    return user


@pytest.fixture
def portrait(alice):
    return published(alice, title="The Lighthouse Keeper")


@pytest.fixture
def hidden(kestrel, portrait, rule):
    """Alice's portrait, hidden by a moderator: the action she may appeal."""
    return services.portrait_hide(moderator=kestrel, portrait=portrait, rule=rule, reason=REASON)


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


# --- Settings → Appeals and the appeal form ----------------------------------------------


def test_the_appeals_page_lists_decisions_with_rule_and_reason_never_the_moderator(alice, hidden):
    page = client_for(alice).get("/moderation/appeals/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Portrait hidden by moderators" in html
    assert "No spam" in html and REASON in html
    assert "The Lighthouse Keeper" in html  # her own portrait: she can still open it
    assert f"/moderation/appeals/new/{hidden.pk}/" in html
    assert "kestrel" not in html


def test_appealing_from_the_form_opens_an_appeal_case_once(alice, hidden):
    client = client_for(alice)
    url = f"/moderation/appeals/new/{hidden.pk}/"
    form = client.get(url)
    assert form.status_code == 200 and REASON in form.content.decode()
    response = client.post(url, {"text": "It was one portrait, uploaded once."})
    assert response.status_code == 302 and response["Location"] == "/moderation/appeals/"
    appeal = Appeal.objects.get()
    assert (appeal.action, appeal.appellant, appeal.status) == (hidden, alice, "open")
    assert Case.objects.filter(kind="appeal", appeal=appeal, status="open").exists()
    listing = client.get("/moderation/appeals/").content.decode()
    assert "Waiting for a moderator" in listing and "It was one portrait" in listing
    assert f"/moderation/appeals/new/{hidden.pk}/" not in listing  # no longer appealable

    # Twice: the form sends them to their appeals, and a POST writes nothing.
    again = client.get(url)
    assert again.status_code == 302 and again["Location"] == "/moderation/appeals/"
    client.post(url, {"text": "Please!"})
    assert Appeal.objects.count() == 1 and Case.objects.filter(kind="appeal").count() == 1


def test_the_moderation_notice_links_to_the_appeal_form(alice, hidden):
    notice = Notification.objects.get(recipient=alice, kind=Notification.Kind.MODERATION)
    client = client_for(alice)
    response = client.get(notice.detail["appeal_url"], follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == f"/moderation/appeals/new/{hidden.pk}/"
    assert "Send appeal" in response.content.decode()


def test_someone_elses_decision_cannot_be_appealed_and_says_nothing(bob, hidden):
    client = client_for(bob)
    url = f"/moderation/appeals/new/{hidden.pk}/"
    assert client.get(url).status_code == 404
    assert client.post(url, {"text": "Not mine, but still."}).status_code == 404
    assert client.get("/moderation/appeals/new/999999/").status_code == 404
    assert client_for().get(url).status_code == 302  # anonymous: sign in first
    assert not Appeal.objects.exists()


@pytest.mark.parametrize(("text", "words"), [("   ", "Say why"), ("x" * 2001, "2000")])
def test_a_blank_or_overlong_appeal_is_a_field_error(alice, hidden, text, words):
    response = client_for(alice).post(f"/moderation/appeals/new/{hidden.pk}/", {"text": text})
    assert response.status_code == 400
    assert words in str(response.context["form"].errors["text"])
    assert not Appeal.objects.exists()


def test_the_answer_is_shown_to_the_member(alice, hidden, kestrel):
    appeal = services.appeal_submit(user=alice, action=hidden, text="It is my own face.")
    services.appeal_decide(
        moderator=kestrel, appeal=appeal, reverse=True, reply="You are right, sorry."
    )
    html = client_for(alice).get("/moderation/appeals/").content.decode()
    assert "Reversed" in html and "You are right, sorry." in html
    assert "kestrel" not in html
    assert Portrait.objects.get(pk=hidden.target_portrait_id).hidden_at is None


def test_a_warning_can_be_appealed_from_the_settings_page(bob, kestrel, rule):
    warning = services.member_warn(moderator=kestrel, user=bob, rule=rule, reason="Rude replies.")
    client = client_for(bob)
    html = client.get("/moderation/appeals/").content.decode()
    assert "Warning (a strike)" in html and "Rude replies." in html
    client.post(f"/moderation/appeals/new/{warning.pk}/", {"text": "I apologised."})
    assert Appeal.objects.get().action == warning


# --- The API -----------------------------------------------------------------------------


def test_api_lists_appealable_decisions_and_appeals_once(alice, hidden, portrait):
    api = api_for(alice)
    (decision,) = api.get("/api/v1/appeals/appealable/").json()["results"]
    assert decision["id"] == hidden.pk and decision["kind"] == "hide"
    assert decision["rule"]["title"] == "No spam" and decision["reason"] == REASON
    assert decision["portrait"]["id"] == portrait.public_id
    assert "moderator" not in decision

    created = api.post("/api/v1/appeals/", {"action": hidden.pk, "text": "Mine."}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["status"] == "open" and body["reply"] is None
    assert body["decision"]["id"] == hidden.pk
    assert api.get("/api/v1/appeals/appealable/").json()["results"] == []
    listed = api.get("/api/v1/appeals/").json()["results"]
    assert [item["id"] for item in listed] == [body["id"]]

    twice = api.post("/api/v1/appeals/", {"action": hidden.pk, "text": "Again."}, format="json")
    assert twice.status_code == 409 and twice.json()["code"] == "conflict"
    assert Appeal.objects.count() == 1


def test_api_someone_elses_decision_is_answered_like_a_missing_one(bob, hidden):
    api = api_for(bob)
    theirs = api.post("/api/v1/appeals/", {"action": hidden.pk, "text": "x"}, format="json")
    missing = api.post("/api/v1/appeals/", {"action": 999_999, "text": "x"}, format="json")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()
    assert api.get("/api/v1/appeals/").json()["results"] == []
    assert not Appeal.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "x" * 2001}, "text"),
        ({"text": ""}, "text"),
        ({"action": "1"}, "action"),
        ({"reply": "I decide"}, "reply"),
    ],
)
def test_api_bad_appeals_are_field_errors(alice, hidden, body, field):
    request = {"action": hidden.pk, "text": "Fine.", **body}
    response = api_for(alice).post("/api/v1/appeals/", request, format="json")
    assert response.status_code == 400 and field in response.json()["errors"]
    assert not Appeal.objects.exists()


def test_api_appeals_need_credentials(hidden):
    assert api_for().get("/api/v1/appeals/").status_code in (401, 403)
    assert api_for().post("/api/v1/appeals/", {"action": hidden.pk, "text": "x"}).status_code in (
        401,
        403,
    )


# --- The suspended member's page ---------------------------------------------------------


@pytest.fixture
def suspended_bob(bob, kestrel, rule):
    until = timezone.now() + timedelta(days=7)
    action = services.member_suspend(
        moderator=kestrel, user=bob, rule=rule, reason="Harassed three members.", until=until
    )
    bob.refresh_from_db()
    return bob, action


def test_a_suspended_member_reads_why_and_until_when_without_signing_in(suspended_bob):
    bob, _ = suspended_bob
    url = suspension_page_url(bob)
    assert url.startswith("/moderation/suspended/")
    page = client_for().get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "Your account is suspended" in html
    assert "No spam" in html and "Harassed three members." in html
    assert bob.suspended_until.strftime("%-d %B %Y") in html
    assert "kestrel" not in html
    assert page["Cache-Control"].startswith("max-age=0") or "no-cache" in page["Cache-Control"]


def test_a_suspended_member_appeals_from_their_page_once(suspended_bob):
    bob, action = suspended_bob
    client, url = client_for(), suspension_page_url(bob)
    page = client.get(url)
    assert f'name="action" value="{action.pk}"' in page.content.decode()
    response = client.post(url, {"action": action.pk, "text": "I was not harassing anyone."})
    assert response.status_code == 302
    appeal = Appeal.objects.get()
    assert (appeal.action, appeal.appellant) == (action, bob)
    html = client.get(url).content.decode()
    assert "Your appeal is waiting for a moderator" in html
    assert f'name="action" value="{action.pk}"' not in html
    client.post(url, {"action": action.pk, "text": "Again."})
    assert Appeal.objects.count() == 1


def test_a_suspended_member_can_appeal_a_hide_from_their_page_too(suspended_bob, kestrel, rule):
    bob, _ = suspended_bob
    mine = published(bob, title="Mine")
    hide = services.portrait_hide(moderator=kestrel, portrait=mine, rule=rule, reason="Spam.")
    client, url = client_for(), suspension_page_url(bob)
    client.post(url, {"action": hide.pk, "text": "Not spam."})
    assert Appeal.objects.get().action == hide


def test_the_suspended_page_refuses_someone_elses_decision(suspended_bob, hidden):
    bob, _ = suspended_bob
    response = client_for().post(suspension_page_url(bob), {"action": hidden.pk, "text": "x"})
    assert response.status_code == 302
    assert not Appeal.objects.exists()


def test_a_tampered_or_expired_link_shows_nothing(suspended_bob):
    bob, _ = suspended_bob
    url = suspension_page_url(bob)
    token = url.rstrip("/").rsplit("/", 1)[1]
    tampered = client_for().get(
        url.replace(token, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    )
    assert tampered.status_code == 404 and "Harassed" not in tampered.content.decode()

    class Yesterday(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(time.time()) - SUSPENDED_PAGE_MAX_AGE - 60)

    old = Yesterday(salt=SUSPENDED_PAGE_SALT).sign_object(
        {"u": bob.pk, "s": bob.suspended_at.isoformat()}, compress=True
    )
    expired = client_for().get(f"/moderation/suspended/{old}/")
    assert expired.status_code == 404 and "Harassed" not in expired.content.decode()
    assert "Sign in" in expired.content.decode()
    assert client_for().post(f"/moderation/suspended/{old}/", {"text": "x"}).status_code == 404
    assert not Appeal.objects.exists()


def test_a_link_for_an_earlier_suspension_stops_working_and_a_lifted_one_says_so(
    suspended_bob, kestrel, rule
):
    bob, _ = suspended_bob
    old_url = suspension_page_url(bob)
    services.member_suspension_lift(moderator=kestrel, user=bob, rule=rule, reason="Appeal.")
    over = client_for().get(old_url)
    assert over.status_code == 200 and "no longer suspended" in over.content.decode()
    services.member_suspend(moderator=kestrel, user=bob, rule=rule, reason="Again.")
    assert client_for().get(old_url).status_code == 404
    bob.refresh_from_db()
    fresh = client_for().get(suspension_page_url(bob))
    assert fresh.status_code == 200 and "indefinitely" in fresh.content.decode()


def test_signing_in_while_suspended_leads_to_the_suspended_page(suspended_bob):
    bob, action = suspended_bob
    response = Client().post(
        "/accounts/login/", {"login": "bob", "password": PASSWORD}, follow=True
    )
    final_path = response.redirect_chain[-1][0] if response.redirect_chain else ""
    assert final_path.startswith("/moderation/suspended/")
    html = response.content.decode()
    assert "Your account is suspended" in html and "Harassed three members." in html
    assert f'name="action" value="{action.pk}"' in html
    assert "_auth_user_id" not in response.client.session  # not signed in
