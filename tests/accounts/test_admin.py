from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group

from accounts.models import ApiToken, User
from accounts.permissions import MODERATOR_PERMISSIONS, MODERATORS_GROUP, is_moderator
from accounts.services import api_token_create, user_profile_update
from tests.accounts.images import image_bytes, upload

pytestmark = pytest.mark.django_db


def test_moderators_group_has_its_permissions(mod, alice):
    group = Group.objects.get(name=MODERATORS_GROUP)
    perms = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
    assert perms == set(MODERATOR_PERMISSIONS)
    assert {"accounts.view_user", "portraits.moderate_portrait"} <= perms
    assert not {p for p in perms if p.startswith("auth.") or p == "accounts.change_user"}
    assert mod.has_perm("portraits.moderate_portrait")
    assert is_moderator(mod) and not is_moderator(alice)


def test_user_admin_lists_and_searches_members(admin_client, alice, bob):
    html = admin_client.get("/admin/accounts/user/", {"q": "Liddell"}).content.decode()
    assert "alice" in html and ">bob<" not in html


def test_user_admin_shows_the_avatar_without_an_upload_field(admin_client, alice):
    user_profile_update(user=alice, avatar=upload(image_bytes()))
    html = admin_client.get(f"/admin/accounts/user/{alice.pk}/change/").content.decode()
    assert alice.avatar_url in html
    assert 'type="file"' not in html
    assert 'name="display_name"' in html and 'name="bio"' in html


def test_user_admin_refuses_a_duplicate_email_in_another_case(admin_client, alice):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "username": "carol",
            "email": "ALICE@example.com",
            "usable_password": "true",
            "password1": "a-long-unusual-passphrase-42",
            "password2": "a-long-unusual-passphrase-42",
        },
    )
    assert response.status_code == 200
    assert "A user with that e-mail address already exists." in response.content.decode()
    assert not User.objects.filter(username="carol").exists()


def _change_user(admin_client, user, **changes):
    data = {
        "username": user.username,
        "email": user.email,
        "display_name": user.display_name,
        "bio": user.bio,
        "is_active": "on",
    }
    data.update(changes)
    return admin_client.post(f"/admin/accounts/user/{user.pk}/change/", data)


def _addresses(user):
    return list(
        EmailAddress.objects.filter(user=user)
        .order_by("email")
        .values_list("email", "primary", "verified")
    )


def test_changing_an_email_in_the_admin_makes_it_the_primary_allauth_address(
    admin_client, alice, mailoutbox, django_capture_on_commit_callbacks
):
    EmailAddress.objects.create(user=alice, email=alice.email, primary=True, verified=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = _change_user(admin_client, alice, email="Alice.New@Example.com")
    assert response.status_code == 302, response.content.decode()
    alice.refresh_from_db()
    assert alice.email == "alice.new@example.com"
    assert _addresses(alice) == [
        ("alice.new@example.com", True, False),
        ("alice@example.com", False, True),
    ]
    # The member confirms the new address, as after changing it themselves.
    assert [mail.to for mail in mailoutbox] == [["alice.new@example.com"]]


def test_admin_refuses_an_email_another_member_has_as_a_secondary_address(admin_client, alice, bob):
    EmailAddress.objects.create(user=bob, email="bob.work@example.com", verified=True)
    response = _change_user(admin_client, alice, email="BOB.WORK@example.com")
    assert response.status_code == 200
    assert "A user with that e-mail address already exists." in response.content.decode()
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"
    assert not EmailAddress.objects.filter(user=alice).exists()


def test_admin_saves_display_name_and_bio_by_the_members_rules(admin_client, alice):
    response = _change_user(
        admin_client, alice, display_name="  Alice   in  Wonderland ", bio="Foxes.\r\nHares.\r\n"
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert (alice.display_name, alice.bio) == ("Alice in Wonderland", "Foxes.\nHares.")
    assert not EmailAddress.objects.filter(user=alice).exists()  # e-mail untouched


def test_adding_a_member_in_the_admin_gives_them_a_primary_allauth_address(admin_client):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "username": "carol",
            "email": "Carol@Example.com",
            "usable_password": "true",
            "password1": "a-long-unusual-passphrase-42",
            "password2": "a-long-unusual-passphrase-42",
        },
    )
    assert response.status_code == 302, response.content.decode()
    carol = User.objects.get(username="carol")
    assert carol.email == "carol@example.com"
    assert carol.check_password("a-long-unusual-passphrase-42")
    assert _addresses(carol) == [("carol@example.com", True, False)]


def test_admin_action_removes_avatars_through_the_service(
    admin_client, alice, stored_files, django_capture_on_commit_callbacks
):
    user_profile_update(user=alice, avatar=upload(image_bytes()))
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            "/admin/accounts/user/",
            {"action": "remove_avatars", "_selected_action": [alice.pk]},
        )
    alice.refresh_from_db()
    assert not alice.avatar
    assert stored_files() == []


def test_token_admin_is_read_only_and_never_shows_the_hash(admin_client, alice):
    token, key = api_token_create(user=alice, name="laptop")
    listing = admin_client.get("/admin/accounts/apitoken/").content.decode()
    assert "laptop" in listing and f"{token.hint}…" in listing
    detail = admin_client.get(f"/admin/accounts/apitoken/{token.pk}/change/").content.decode()
    assert token.key_hash not in detail and key not in detail
    assert 'name="name"' not in detail  # view-only
    assert admin_client.get("/admin/accounts/apitoken/add/").status_code == 403


def test_token_admin_delete_revokes(admin_client, alice):
    token, _ = api_token_create(user=alice, name="laptop")
    admin_client.post(f"/admin/accounts/apitoken/{token.pk}/delete/", {"post": "yes"})
    assert not ApiToken.objects.exists()


def test_deleting_a_member_in_the_admin_deletes_their_avatar_file(
    admin_client, alice, stored_files, django_capture_on_commit_callbacks
):
    user_profile_update(user=alice, avatar=upload(image_bytes()))
    api_token_create(user=alice, name="laptop")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"/admin/accounts/user/{alice.pk}/delete/", {"post": "yes"})
    assert not User.objects.filter(username="alice").exists()
    assert not ApiToken.objects.exists()
    assert stored_files() == []


def test_the_admin_index_has_one_accounts_section_and_names_allauths_apart(admin_client):
    """allauth's ``account`` app is also called "Accounts": the index showed two sections of
    that name, one of members and tokens, one of e-mail addresses."""
    page = admin_client.get("/admin/").content.decode()

    assert page.count('title="Models in the Accounts application"') == 1
    assert 'title="Models in the Sign-in email addresses application"' in page
    accounts = page.index('title="Models in the Accounts application"')
    assert page.index("/admin/accounts/user/") > accounts
    assert "/admin/account/emailaddress/" in page
