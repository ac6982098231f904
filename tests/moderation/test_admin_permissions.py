"""What the Moderators group may do in the admin: the queue, rules, the blocklist and
reading the audit trail; and every escalation a moderator might try, refused, with nothing
changed. Regular members do not reach the admin at all."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client

from accounts.models import ApiToken, User
from accounts.permissions import MODERATORS_GROUP
from accounts.services import api_token_create
from moderation.models import Case, ModerationAction, Rule
from moderation.services import member_warn
from portraits.models import Portrait
from tests.conftest import PASSWORD
from tests.moderation.admin_helpers import CHANGELIST, case_url, decide, report, text_of
from tests.portraits.factories import PortraitFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule(db):
    return Rule.objects.create(title="No harassment", order=1)


@pytest.fixture
def mod_client(mod):
    client = Client()
    client.force_login(mod)
    return client


@pytest.fixture
def admin_user(make_user):
    return make_user("root", is_staff=True, is_superuser=True)


def _group_perms(group: Group) -> set[str]:
    return {
        f"{p.content_type.app_label}.{p.codename}"
        for p in group.permissions.select_related("content_type")
    }


# --- Who reaches the admin -------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/admin/", CHANGELIST, "/admin/moderation/moderationaction/", "/admin/accounts/user/"]
)
def test_regular_members_and_visitors_are_sent_to_the_admin_sign_in(client, alice, url):
    assert client.get(url)["Location"].startswith("/admin/login/")
    client.force_login(alice)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_regular_member_cannot_sign_in_to_the_admin(client, alice):
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "alice", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert "staff account" in text_of(response)
    assert client.get("/admin/").status_code == 302


def test_moderators_see_moderation_and_only_read_the_rest(mod_client):
    index = mod_client.get("/admin/")
    assert index.status_code == 200
    apps = {
        app["app_label"]: {m["object_name"] for m in app["models"]}
        for app in index.context["app_list"]
    }
    assert apps["moderation"] == {"Case", "Rule", "BlockedTerm", "ModerationAction"}
    assert "auth" not in apps  # no groups or permissions
    assert "generation" not in apps
    assert apps["accounts"] == {"User"}  # read-only, below
    for url in (CHANGELIST, "/admin/moderation/rule/", "/admin/moderation/blockedterm/"):
        assert mod_client.get(url).status_code == 200


# --- Escalations, each refused --------------------------------------------------------


def test_moderator_cannot_change_anyones_password(mod_client, mod, alice):
    for user in (alice, mod):
        url = f"/admin/accounts/user/{user.pk}/password/"
        assert mod_client.get(url).status_code == 403
        posted = mod_client.post(
            url, {"password1": "a-new-long-passphrase-1", "password2": "a-new-long-passphrase-1"}
        )
        assert posted.status_code == 403
        user.refresh_from_db()
        assert user.check_password(PASSWORD)


def _user_form(user, **changes):
    data = {
        "username": user.username,
        "email": user.email,
        "display_name": user.display_name,
        "bio": user.bio,
        "is_active": "on",
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(
    "changes",
    [{"is_staff": "on"}, {"is_superuser": "on"}, {"is_staff": "on", "is_superuser": "on"}],
)
def test_moderator_cannot_raise_staff_or_superuser_flags(mod_client, mod, alice, changes):
    for user in (mod, alice):
        response = mod_client.post(
            f"/admin/accounts/user/{user.pk}/change/", _user_form(user, **changes)
        )
        assert response.status_code == 403
    mod.refresh_from_db()
    alice.refresh_from_db()
    assert not mod.is_superuser and not alice.is_staff and not alice.is_superuser


def test_moderator_user_page_is_read_only(mod_client, alice):
    page = mod_client.get(f"/admin/accounts/user/{alice.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="is_superuser"' not in html and 'name="groups"' not in html
    assert 'name="_save"' not in html


def test_moderator_cannot_add_themselves_or_anyone_to_a_group(mod_client, mod, alice):
    admins = Group.objects.create(name="Administrators")
    admins.permissions.add(*Permission.objects.all())
    moderators = Group.objects.get(name=MODERATORS_GROUP)
    granted = _group_perms(moderators)
    # Through the user's page.
    for user in (mod, alice):
        response = mod_client.post(
            f"/admin/accounts/user/{user.pk}/change/", _user_form(user, groups=[admins.pk])
        )
        assert response.status_code == 403
    # Through the groups' pages.
    assert mod_client.get("/admin/auth/group/").status_code == 403
    assert (
        mod_client.post(
            f"/admin/auth/group/{moderators.pk}/change/",
            {
                "name": MODERATORS_GROUP,
                "permissions": list(Permission.objects.values_list("pk", flat=True)),
            },
        ).status_code
        == 403
    )
    assert mod_client.post("/admin/auth/group/add/", {"name": "Mine"}).status_code == 403
    assert (
        mod_client.post(f"/admin/auth/group/{admins.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    # Directly granted permissions go through the same refused user page.
    response = mod_client.post(
        f"/admin/accounts/user/{mod.pk}/change/",
        _user_form(mod, user_permissions=list(Permission.objects.values_list("pk", flat=True))),
    )
    assert response.status_code == 403
    mod.refresh_from_db()
    assert set(mod.groups.values_list("name", flat=True)) == {MODERATORS_GROUP}
    assert not mod.user_permissions.exists()
    assert not alice.groups.exists()
    assert _group_perms(moderators) == granted
    assert Group.objects.filter(name="Mine").count() == 0


def test_moderator_cannot_add_or_delete_members_or_touch_their_tokens(mod_client, alice):
    token, _ = api_token_create(user=alice, name="laptop")
    assert (
        mod_client.post(
            "/admin/accounts/user/add/",
            {
                "username": "sock",
                "email": "sock@example.com",
                "usable_password": "true",
                "password1": "a-long-unusual-passphrase-42",
                "password2": "a-long-unusual-passphrase-42",
            },
        ).status_code
        == 403
    )
    assert not User.objects.filter(username="sock").exists()
    assert (
        mod_client.post(f"/admin/accounts/user/{alice.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert mod_client.get("/admin/accounts/apitoken/").status_code == 403
    assert (
        mod_client.post(f"/admin/accounts/apitoken/{token.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert User.objects.filter(pk=alice.pk, is_active=True).exists()
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_moderator_cannot_edit_a_portrait_around_the_services(mod_client, alice):
    portrait = PortraitFactory(author=alice, title="Mine")
    page = mod_client.get(f"/admin/portraits/portrait/{portrait.pk}/change/")
    assert page.status_code == 200 and 'name="title"' not in page.content.decode()
    response = mod_client.post(
        f"/admin/portraits/portrait/{portrait.pk}/change/",
        {"title": "Defaced", "description": "", "visibility": "private"},
    )
    assert response.status_code == 403
    assert (
        mod_client.post(
            f"/admin/portraits/portrait/{portrait.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    portrait.refresh_from_db()
    assert (portrait.title, portrait.visibility, portrait.deleted_at) == ("Mine", "public", None)


@pytest.fixture
def trail(mod, alice, rule):
    member_warn(moderator=mod, user=alice, rule=rule, reason="Rude.")
    return ModerationAction.objects.get()


def _trail_rows():
    return list(ModerationAction.objects.order_by("pk").values())


@pytest.mark.parametrize("who", ["moderator", "superuser"])
def test_nobody_adds_changes_or_deletes_the_audit_trail_in_the_admin(
    who, mod_client, admin_user, trail
):
    if who == "superuser":
        client = Client()
        client.force_login(admin_user)
    else:
        client = mod_client
    rows = _trail_rows()
    base = "/admin/moderation/moderationaction/"
    assert client.get(base).status_code == 200
    page = client.get(f"{base}{trail.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="reason"' not in html and 'name="_save"' not in html
    assert "deletelink" not in html
    assert client.get(f"{base}add/").status_code == 403
    assert client.post(f"{base}add/", {"kind": "warn", "reason": "forged"}).status_code == 403
    assert (
        client.post(
            f"{base}{trail.pk}/change/", {"kind": "restore", "reason": "rewritten"}
        ).status_code
        == 403
    )
    assert client.get(f"{base}{trail.pk}/delete/").status_code == 403
    assert client.post(f"{base}{trail.pk}/delete/", {"post": "yes"}).status_code == 403
    # No bulk action offered, and a forged one does nothing.
    assert 'name="action"' not in client.get(base).content.decode()
    client.post(base, {"action": "delete_selected", "_selected_action": [trail.pk], "post": "yes"})
    assert _trail_rows() == rows


def test_moderator_cannot_add_or_delete_cases_or_rewrite_what_a_case_is_about(
    mod_client, mod, alice, bob, rule
):
    portrait = PortraitFactory(author=alice, title="Reported")
    report(bob, portrait=portrait, rule=rule)
    case = Case.objects.get()
    assert mod_client.get("/admin/moderation/case/add/").status_code == 403
    assert (
        mod_client.post(f"/admin/moderation/case/{case.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    other = PortraitFactory(author=bob, title="Other")
    response = mod_client.post(
        case_url(case),
        {
            "notes": "n",
            "kind": "review",
            "status": "closed",
            "target_portrait": other.pk,
            "target_user": bob.pk,
        },
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.kind, case.status, case.target_portrait_id, case.target_user_id, case.notes) == (
        "report",
        "open",
        portrait.pk,
        None,
        "n",
    )


def test_moderator_cannot_suspend_an_administrator_or_themselves(
    mod_client, mod, admin_user, alice, rule
):
    # A report about the administrator offers nothing against them, and a forged
    # decision is refused.
    report(alice, user=admin_user, rule=rule)
    case = Case.objects.get(target_user=admin_user)
    choices = mod_client.get(case_url(case)).context["decision_form"].fields["decision"].choices
    assert [name for name, _ in choices] == ["dismiss"]
    response = decide(mod_client, case, "suspend", rule=rule, reason="Power.", period="indefinite")
    assert response.status_code == 200 and "decision" in response.context["decision_form"].errors
    # A report about the moderator: the service refuses them acting on their own account.
    report(alice, user=mod, rule=rule)
    own = Case.objects.get(target_user=mod)
    response = decide(mod_client, own, "warn", rule=rule, reason="Self-serving.")
    assert response.status_code == 200
    assert "own account" in text_of(response)
    admin_user.refresh_from_db()
    assert not admin_user.is_suspended
    assert not ModerationAction.objects.exists()
    assert Case.objects.filter(status="open").count() == 2


def test_a_staff_member_outside_the_group_cannot_work_the_queue(make_user, rule, alice, bob):
    staff = make_user("intern", is_staff=True)
    portrait = PortraitFactory(author=alice)
    report(bob, portrait=portrait, rule=rule)
    case = Case.objects.get()
    client = Client()
    client.force_login(staff)
    assert client.get(CHANGELIST).status_code == 403
    assert client.get(case_url(case)).status_code == 403
    assert decide(client, case, "hide", rule=rule, reason="x").status_code == 403
    portrait.refresh_from_db()
    assert not portrait.is_hidden


# --- The portraits admin: no way around the moderation services -------------------------

PORTRAIT_MODERATION_FIELDS = (
    "rating",
    "rating_locked",
    "held_for_review",
    "hidden_at",
    "hidden_cause",
    "hidden_rule",
    "hidden_reason",
)
# A portrait's moderation state as a form would forge it: mature and locked, held, hidden.
FORGED_MODERATION_STATE = {
    "rating": "mature",
    "rating_locked": "on",
    "held_for_review": "on",
    "hidden_at_0": "2026-01-01",
    "hidden_at_1": "12:00:00",
    "hidden_cause": "moderation",
    "hidden_rule": "Forged rule",
    "hidden_reason": "Forged reason",
}


def _moderation_state(portrait) -> dict:
    portrait.refresh_from_db()
    return {field: getattr(portrait, field) for field in PORTRAIT_MODERATION_FIELDS}


def _portrait_url(portrait) -> str:
    return f"/admin/portraits/portrait/{portrait.pk}/change/"


def test_moderator_sees_a_portraits_moderation_state_but_cannot_change_it_there(mod_client, alice):
    portrait = PortraitFactory(author=alice, title="Mine")
    before = _moderation_state(portrait)

    page = mod_client.get(_portrait_url(portrait))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Rating locked" in html and "Held for review" in html  # shown, read-only
    for field in PORTRAIT_MODERATION_FIELDS:
        assert f'name="{field}' not in html
    response = mod_client.post(
        _portrait_url(portrait),
        {"title": "Mine", "description": "", "visibility": "public", **FORGED_MODERATION_STATE},
    )

    assert response.status_code == 403
    assert _moderation_state(portrait) == before
    assert not ModerationAction.objects.exists()


def test_the_portrait_admin_never_writes_the_moderation_state_even_for_an_administrator(
    admin_user, alice
):
    """An administrator edits title, description and visibility here, through the owner's
    service; the moderation fields in a forged form are ignored (actions go through the
    queue, recorded)."""
    portrait = PortraitFactory(author=alice, title="Mine")
    before = _moderation_state(portrait)
    client = Client()
    client.force_login(admin_user)
    html = client.get(_portrait_url(portrait)).content.decode()
    assert 'name="title"' in html  # an administrator's form: editable fields exist
    for field in PORTRAIT_MODERATION_FIELDS:
        assert f'name="{field}' not in html

    response = client.post(
        _portrait_url(portrait),
        {"title": "Renamed", "description": "", "visibility": "public", **FORGED_MODERATION_STATE},
    )

    assert response.status_code == 302
    portrait.refresh_from_db()
    assert portrait.title == "Renamed"
    assert _moderation_state(portrait) == before
    assert not ModerationAction.objects.exists()


def test_moderator_cannot_take_portraits_down_with_the_portrait_admins_bulk_action(
    mod_client, admin_user, alice
):
    """ "Make private" is an administrator's edit: a moderator hides from the queue, which
    cites a rule and records it. Not offered to them, and a forged POST changes nothing."""
    portrait = PortraitFactory(author=alice, title="Mine")
    changelist = "/admin/portraits/portrait/"
    assert "make_private" not in mod_client.get(changelist).content.decode()

    mod_client.post(
        changelist, {"action": "make_private", "_selected_action": [portrait.pk], "index": "0"}
    )

    portrait.refresh_from_db()
    assert portrait.visibility == Portrait.Visibility.PUBLIC
    # An administrator still has it.
    client = Client()
    client.force_login(admin_user)
    assert "make_private" in client.get(changelist).content.decode()
    client.post(
        changelist, {"action": "make_private", "_selected_action": [portrait.pk], "index": "0"}
    )
    portrait.refresh_from_db()
    assert portrait.visibility == Portrait.Visibility.PRIVATE


def test_a_held_portrait_made_public_in_the_portrait_admin_is_refused_with_the_reason(
    admin_user, alice
):
    portrait = PortraitFactory(
        author=alice, title="Held", visibility=Portrait.Visibility.PRIVATE, held_for_review=True
    )
    client = Client()
    client.force_login(admin_user)

    response = client.post(
        _portrait_url(portrait),
        {"title": "Held", "description": "", "visibility": "public"},
        follow=True,
    )

    assert response.status_code == 200
    assert "waiting for a moderator" in text_of(response)
    portrait.refresh_from_db()
    assert (portrait.visibility, portrait.held_for_review) == ("private", True)
