"""The public rules and the transparency log, as pages and in the API: when, what kind and
under which rule, never who took a decision nor why; a target named and linked only while
the reader may see it (issue 10, "Rules" and "Audit trail")."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.services import user_deactivate
from moderation import services
from moderation.models import ModerationAction, Rule
from portraits.models import Portrait
from tests.gallery.community import published, unpublished

pytestmark = pytest.mark.django_db
A = ModerationAction.Kind
V = Portrait.Visibility
REASON = "Posted the same portrait forty times in an hour."


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = "https://likeness.test"


@pytest.fixture
def rules(db):
    return [
        Rule.objects.create(title="Consent", text="Only likenesses you may use.", order=2),
        Rule.objects.create(title="No spam", text="Do not flood\n\nthe gallery.", order=1),
        Rule.objects.create(title="Retired rule", text="Gone.", order=0, is_active=False),
    ]


@pytest.fixture
def rule(rules):
    return rules[1]


@pytest.fixture
def kestrel(make_user):
    """A moderator whose name must never be in the log."""
    user = make_user("kestrel", is_staff=True)
    user.groups.add(Group.objects.get(name="Moderators"))
    return user


@pytest.fixture
def portrait(alice):
    return published(alice, title="The Lighthouse Keeper")


def get(url: str, user=None):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client.get(url)


def api_get(url: str, user=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client.get(url)


# --- Rules -------------------------------------------------------------------------------


def test_the_rules_page_shows_the_active_rules_in_order_to_anyone(rules):
    page = get("/rules/")
    html = page.content.decode()
    assert page.status_code == 200
    assert html.index("No spam") < html.index("Consent")
    assert "Retired rule" not in html
    assert f'id="rule-{rules[1].pk}"' in html and "<p>the gallery.</p>" in html


def test_the_rules_api_lists_the_active_rules_in_order(rules):
    response = api_get("/api/v1/rules/")
    assert response.status_code == 200
    data = response.json()
    assert [rule["title"] for rule in data] == ["No spam", "Consent"]
    assert data[0]["url"] == f"http://testserver/rules/#rule-{rules[1].pk}"
    assert data[0]["text"] == "Do not flood\n\nthe gallery."


# --- The log -----------------------------------------------------------------------------


def test_the_log_shows_date_kind_and_rule_never_moderator_or_reason(
    kestrel, portrait, rule, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.portrait_hide(moderator=kestrel, portrait=portrait, rule=rule, reason=REASON)
    page = get("/moderation/log/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Hidden" in html and "No spam" in html
    assert "kestrel" not in html and REASON not in html
    # Hidden: nobody but its owner (and moderators) may see it, so it is not named.
    assert portrait.public_id not in html and "The Lighthouse Keeper" not in html
    assert "a portrait" in html

    data = api_get("/api/v1/moderation/log/").json()
    (entry,) = data["results"]
    assert entry["kind"] == "hide" and entry["kind_label"] == "Hidden"
    assert entry["rule"] == {"id": rule.pk, "title": "No spam"}
    assert entry["target"] == {
        "type": "portrait",
        "available": False,
        "label": "a portrait",
        "url": None,
    }
    assert "kestrel" not in str(data) and REASON not in str(data)


def test_a_target_is_linked_again_once_visible_even_for_a_cached_anonymous_page(
    kestrel, portrait, rule, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.portrait_hide(moderator=kestrel, portrait=portrait, rule=rule, reason=REASON)
    assert portrait.public_id not in get("/moderation/log/").content.decode()
    assert portrait.public_id not in str(api_get("/api/v1/moderation/log/").json())
    with django_capture_on_commit_callbacks(execute=True):
        services.portrait_restore(moderator=kestrel, portrait=portrait, rule=rule, reason="OK.")
    html = get("/moderation/log/").content.decode()
    assert html.count(f'href="/p/{portrait.public_id}/"') == 2  # the hide and the restore
    assert "The Lighthouse Keeper" in html
    entries = api_get("/api/v1/moderation/log/").json()["results"]
    assert [e["kind"] for e in entries] == ["restore", "hide"]
    assert all(e["target"]["url"].endswith(f"/p/{portrait.public_id}/") for e in entries)


def test_the_owner_sees_their_own_hidden_portrait_linked(alice, carol, kestrel, portrait, rule):
    services.portrait_hide(moderator=kestrel, portrait=portrait, rule=rule, reason=REASON)
    assert f"/p/{portrait.public_id}/" in get("/moderation/log/", alice).content.decode()
    assert f"/p/{portrait.public_id}/" not in get("/moderation/log/", carol).content.decode()


def test_a_member_target_is_linked_while_their_profile_is_public(
    bob, kestrel, rule, django_capture_on_commit_callbacks
):
    services.member_warn(moderator=kestrel, user=bob, rule=rule, reason="Rude.")
    assert 'href="/u/bob/"' in get("/moderation/log/").content.decode()
    (entry,) = api_get("/api/v1/moderation/log/").json()["results"]
    assert entry["target"]["type"] == "member" and entry["target"]["available"] is True
    with django_capture_on_commit_callbacks(execute=True):  # drops the cached public pages
        user_deactivate(user=bob)
    html = get("/moderation/log/").content.decode()
    assert "/u/bob/" not in html and "a member" in html
    (entry,) = api_get("/api/v1/moderation/log/").json()["results"]
    assert entry["target"] == {
        "type": "member",
        "available": False,
        "label": "a member",
        "url": None,
    }


def test_the_log_never_names_what_was_reported_flagged_or_held(
    alice, bob, carol, kestrel, portrait, rule
):
    # Reports dismissed: the reported member is not told they were reported, so nobody
    # else may read it either; nor that a portrait was flagged or held for review.
    from moderation.models import Case
    from moderation.reports import report_submit

    report_submit(reporter=bob, user=alice, category="harassment", rule=rule)
    report_submit(reporter=bob, portrait=portrait, category="spam", rule=rule)
    for case in Case.objects.filter(status=Case.Status.OPEN):
        services.case_dismiss(moderator=kestrel, case=case, rule=rule, reason="Nothing.")
    remix = published(carol, title="The Keeper's Remix", parent=portrait)
    original = published(carol, title="A Rough Sketch")
    services.portrait_hide(
        moderator=kestrel, portrait=original, rule=rule, reason=REASON, descendants="none"
    )
    services.portrait_restore(moderator=kestrel, portrait=original, rule=rule, reason="OK.")
    flagged_parent = published(bob, title="Flagged Parent")
    flagged = published(carol, title="Flagged Child", parent=flagged_parent)
    services.portrait_hide(
        moderator=kestrel, portrait=flagged_parent, rule=rule, reason=REASON, descendants="flag"
    )
    services.portrait_review_clear(moderator=kestrel, portrait=flagged)

    kinds = {"dismiss", "flag", "clear_review"}
    for viewer in (None, alice, carol):
        entries = api_get("/api/v1/moderation/log/", viewer).json()["results"]
        withheld = [e for e in entries if e["kind"] in kinds]
        assert sorted(e["kind"] for e in withheld) == [
            "clear_review",
            "dismiss",
            "dismiss",
            "flag",
        ]
        assert all(
            e["target"]["available"] is False and e["target"]["url"] is None for e in withheld
        )
        html = get("/moderation/log/", viewer).content.decode()
        if viewer is not alice:  # her own pages link her profile in the menu
            assert "/u/alice/" not in html and "Alice" not in html
        assert portrait.public_id not in html and flagged.public_id not in html
    # What was decided about a target is still named while it is visible.
    assert remix.public_id not in html  # never acted on
    assert original.public_id in html


def test_the_log_filters_by_kind_and_rule(alice, bob, kestrel, rules, rule):
    consent = rules[0]
    services.member_warn(moderator=kestrel, user=bob, rule=rule, reason="Rude.")
    services.portrait_hide(
        moderator=kestrel, portrait=published(alice), rule=consent, reason="Not hers."
    )
    kinds = lambda url: [e["kind"] for e in api_get(url).json()["results"]]  # noqa: E731
    assert kinds("/api/v1/moderation/log/") == ["hide", "warn"]
    assert kinds("/api/v1/moderation/log/?kind=warn") == ["warn"]
    assert kinds(f"/api/v1/moderation/log/?rule={consent.pk}") == ["hide"]
    assert kinds(f"/api/v1/moderation/log/?rule={consent.pk}&kind=warn") == []
    page = get("/moderation/log/?kind=hide")
    assert [entry.kind for entry in page.context["entries"]] == ["hide"]
    # Retired rules stay filterable: the log keeps what was decided under them.
    assert get(f"/moderation/log/?rule={rules[2].pk}").status_code == 200


@pytest.mark.parametrize(
    ("query", "field"),
    [("kind=vanish", "kind"), ("rule=999999", "rule"), ("rule=abc", "rule"), ("rule=-1", "rule")],
)
def test_a_filter_that_is_not_one_of_the_choices_is_a_400(rules, query, field):
    response = api_get(f"/api/v1/moderation/log/?{query}")
    assert response.status_code == 400 and field in response.json()["errors"]
    page = get(f"/moderation/log/?{query}")
    assert page.status_code == 400 and field in page.context["form"].errors


def test_the_pages_blank_filters_mean_any(rules):
    # What the page's own form sends when nothing is chosen.
    assert get("/moderation/log/?kind=&rule=").status_code == 200


def test_the_log_pages_with_cursors_in_a_fixed_number_of_queries(alice, kestrel, rule):
    portraits = [published(alice, title=f"P{i}") for i in range(6)]
    for p in portraits[:3]:
        services.portrait_hide(moderator=kestrel, portrait=p, rule=rule, reason=REASON)
        services.portrait_restore(moderator=kestrel, portrait=p, rule=rule, reason="OK.")
    private = unpublished(alice, visibility=V.PRIVATE)
    services.portrait_rate(
        moderator=kestrel, portrait=private, rating="mature", rule=rule, reason="Nudity."
    )
    counts = []
    for size in (2, 7):
        with CaptureQueriesContext(connection) as queries:
            response = api_get(f"/api/v1/moderation/log/?page_size={size}")
        assert len(response.json()["results"]) == size
        counts.append(len(queries))
    assert counts[0] == counts[1]

    seen, url = [], "/api/v1/moderation/log/?page_size=3"
    while url:
        data = api_get(url).json()
        seen += [entry["id"] for entry in data["results"]]
        url = data["next"]
    assert seen == list(
        ModerationAction.objects.order_by("-created_at", "-id").values_list("pk", flat=True)
    )
    # The private portrait's entry is there, unnamed, for anyone else.
    assert private.public_id not in str(api_get("/api/v1/moderation/log/?kind=mature").json())

    page = get("/moderation/log/")
    assert page.status_code == 200 and len(page.context["entries"]) == 7


# --- The OpenAPI schema --------------------------------------------------------------------


def test_the_schema_documents_rules_reports_appeals_and_the_log(db):
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    assert set(paths["/api/v1/rules/"]) == {"get"}
    assert set(paths["/api/v1/reports/"]) == {"get", "post"}
    assert set(paths["/api/v1/appeals/"]) == {"get", "post"}
    assert set(paths["/api/v1/appeals/appealable/"]) == {"get"}
    assert set(paths["/api/v1/moderation/log/"]) == {"get"}

    report = paths["/api/v1/reports/"]["post"]
    assert {"200", "201", "400", "401", "403", "404", "429"} <= set(report["responses"])
    assert "Retry-After" in report["responses"]["429"]["headers"]
    body = schema["components"]["schemas"]["ReportCreateRequest"]
    assert body["additionalProperties"] is False
    assert 2000 in [choice.get("maxLength") for choice in body["properties"]["text"]["oneOf"]]
    category = schema["components"]["schemas"]["CategoryEnum"]["enum"]
    assert category == ["spam", "harassment", "likeness", "minors", "illegal", "other"]

    appeal = paths["/api/v1/appeals/"]["post"]["responses"]
    assert {"201", "400", "404", "409"} <= set(appeal)

    log = paths["/api/v1/moderation/log/"]["get"]
    kind = next(p for p in log["parameters"] if p["name"] == "kind")
    assert "hide" in str(kind["schema"]) or "$ref" in kind["schema"]
    entry = schema["components"]["schemas"]["LogEntry"]["properties"]
    assert "moderator" not in entry and "reason" not in entry
