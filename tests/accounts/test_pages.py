from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from accounts.models import ApiToken, User
from accounts.services import api_token_create, user_profile_update
from tests.accounts.images import image_bytes, noisy_png, png_claiming_size, upload
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

STRONG = "a-long-unusual-passphrase-42"


def _signup(client, **overrides):
    data = {
        "username": "carol",
        "display_name": "Carol Cameron",
        "email": "carol@example.com",
        "password1": STRONG,
        "password2": STRONG,
    }
    data.update(overrides)
    return client.post(reverse("account_signup"), data)


def _logged_in_user_id(client):
    return client.session.get("_auth_user_id")


# --- allauth pages in the site's layout ---------------------------------------------------------


@pytest.mark.parametrize(
    "url_name",
    ["account_login", "account_signup", "account_reset_password", "account_reset_password_done"],
)
def test_entrance_pages_render_inside_the_site_layout(client, url_name):
    response = client.get(reverse(url_name))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="site-header"' in html and "gallery/likeness.css" in html
    assert "accounts/entrance.css" in html


@pytest.mark.parametrize(
    "url_name", ["account_logout", "account_change_password", "account_email", "accounts:settings"]
)
def test_signed_in_pages_render_inside_the_site_layout(client, alice, url_name):
    client.force_login(alice)
    response = client.get(reverse(url_name))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="site-header"' in html and "accounts/accounts.css" in html


# --- Sign-up -------------------------------------------------------------------------------------


def test_signup_creates_a_member_with_display_name_and_logs_them_in(client, mailoutbox):
    response = _signup(client)
    assert response.status_code == 302
    carol = User.objects.get(username="carol")
    assert carol.display_name == "Carol Cameron"
    assert carol.email == "carol@example.com"
    assert _logged_in_user_id(client) == str(carol.pk)
    assert EmailAddress.objects.filter(user=carol, primary=True, verified=False).exists()
    # ACCOUNT_EMAIL_VERIFICATION is "optional" by default: a link is sent, log-in is not held up.
    assert [m.to for m in mailoutbox] == [["carol@example.com"]]


def test_signup_form_asks_for_a_display_name(client):
    html = client.get(reverse("account_signup")).content.decode()
    assert 'name="display_name"' in html
    assert html.index('name="username"') < html.index('name="display_name"')


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"username": "ALICE"}, "A user with that username already exists."),
        ({"email": "ALICE@Example.com"}, "A user is already registered with this email address."),
        ({"password1": "password", "password2": "password"}, "This password is too common."),
        ({"display_name": "x" * 81}, "80 characters or fewer"),
    ],
    ids=["duplicate-username", "duplicate-email", "weak-password", "long-display-name"],
)
def test_signup_refuses_bad_input_with_a_message_and_creates_nothing(
    client, alice, overrides, message
):
    response = _signup(client, **overrides)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.exclude(pk=alice.pk).exists()
    assert _logged_in_user_id(client) is None


def test_signup_with_mandatory_verification_holds_login_until_confirmed(
    client, settings, mailoutbox
):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    response = _signup(client)
    assert response.status_code == 302
    assert _logged_in_user_id(client) is None
    link = re.search(r"https?://testserver(/accounts/confirm-email/\S+/)", mailoutbox[0].body)
    client.post(link.group(1))
    assert EmailAddress.objects.get(email="carol@example.com").verified


def test_signup_with_mandatory_verification_answers_a_taken_address_like_a_free_one(
    client, alice, settings, mailoutbox
):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    free = _signup(client, username="carol", email="carol@example.com")
    taken = _signup(Client(), username="dave", email="ALICE@example.com")
    assert free.status_code == taken.status_code == 302
    assert free["Location"] == taken["Location"] == reverse("account_email_verification_sent")
    assert not User.objects.filter(username="dave").exists()
    assert [m.to for m in mailoutbox] == [["carol@example.com"], ["alice@example.com"]]
    assert "already" in mailoutbox[1].body.lower()


# --- Log in, log out, passwords ------------------------------------------------------------------


@pytest.mark.parametrize("login", ["alice", "alice@example.com"])
def test_login_with_username_or_email(client, alice, login):
    response = client.post(reverse("account_login"), {"login": login, "password": PASSWORD})
    assert response.status_code == 302
    assert _logged_in_user_id(client) == str(alice.pk)


def test_login_with_a_wrong_password_says_so(client, alice):
    response = client.post(reverse("account_login"), {"login": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "you specified are not correct" in response.content.decode()
    assert _logged_in_user_id(client) is None


def test_logout_ends_the_session(client, alice):
    client.force_login(alice)
    response = client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert _logged_in_user_id(client) is None


def test_password_change(client, alice):
    client.force_login(alice)
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": STRONG, "password2": STRONG},
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(STRONG)


def test_password_change_refuses_a_weak_password(client, alice):
    client.force_login(alice)
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": "12345678", "password2": "12345678"},
    )
    assert "This password is entirely numeric." in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_password_reset_by_email_link(client, alice, mailoutbox):
    client.post(reverse("account_reset_password"), {"email": "ALICE@example.com"})
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["alice@example.com"]
    path = re.search(r"https?://testserver(/accounts/password/reset/key/\S+/)", mailoutbox[0].body)
    response = client.get(path.group(1), follow=True)
    set_password_url = response.redirect_chain[-1][0]
    response = client.post(set_password_url, {"password1": STRONG, "password2": STRONG})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(STRONG)


# --- Public profile ------------------------------------------------------------------------------


def test_profile_shows_public_information(client, alice):
    user_profile_update(user=alice, bio="I paint foxes.", avatar=upload(image_bytes()))
    html = client.get("/u/alice/").content.decode()
    assert "<h1" in html and "Alice Liddell" in html
    assert "I paint foxes." in html
    assert "@alice" in html
    assert alice.date_joined.strftime("%B %Y") in html
    assert f'src="{alice.avatar_url}"' in html
    assert "alice@example.com" not in html


def test_profile_lists_only_public_portraits(client, alice):
    from portraits.models import Portrait

    def portrait(title, visibility):
        return Portrait.objects.create(
            author=alice,
            author_name="alice",
            title=title,
            visibility=visibility,
            published_at=timezone.now() if visibility == Portrait.Visibility.PUBLIC else None,
            trending=0.0 if visibility == Portrait.Visibility.PUBLIC else None,
            image="portraits/x.png",
            width=64,
            height=64,
            thumbnail="portraits/x-thumb.webp",
            thumbnail_width=32,
            thumbnail_height=32,
            recipe={},
        )

    portrait("Fox at dawn", Portrait.Visibility.PUBLIC)
    portrait("Secret fox", Portrait.Visibility.PRIVATE)
    portrait("Link-only fox", Portrait.Visibility.UNLISTED)
    response = client.get("/u/alice/")
    assert [p.title for p in response.context["portraits"]] == ["Fox at dawn"]
    html = response.content.decode()
    assert "Fox at dawn" in html
    assert "Secret fox" not in html and "Link-only fox" not in html


def test_profile_of_unknown_or_inactive_member_is_404(client, alice):
    assert client.get("/u/nobody/").status_code == 404
    alice.is_active = False
    alice.save()
    assert client.get("/u/alice/").status_code == 404


def test_profile_url_in_another_case_redirects_to_the_canonical_one(client, alice):
    response = client.get("/u/ALICE/")
    assert response.status_code == 301
    assert response["Location"] == "/u/alice/"


def test_avatar_is_served_through_the_app_with_long_caching(client, alice):
    user_profile_update(user=alice, avatar=upload(image_bytes()))
    response = client.get(alice.avatar_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert "immutable" in response["Cache-Control"]
    body = b"".join(response.streaming_content)
    assert body[:4] == b"RIFF" and body[8:12] == b"WEBP"
    again = client.get(alice.avatar_url, HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_avatar_of_member_without_one_or_inactive_is_404(client, alice):
    assert client.get("/u/alice/avatar/").status_code == 404
    user_profile_update(user=alice, avatar=upload(image_bytes()))
    alice.is_active = False
    alice.save()
    assert client.get("/u/alice/avatar/").status_code == 404


# --- Settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/settings/", "/settings/tokens/"])
def test_settings_pages_send_anonymous_visitors_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next={path}"


def test_settings_saves_profile_and_avatar(client, alice, stored_files):
    client.force_login(alice)
    response = client.post(
        "/settings/",
        {"display_name": "Alice L.", "bio": "Foxes.", "avatar": upload(image_bytes())},
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert (alice.display_name, alice.bio) == ("Alice L.", "Foxes.")
    assert stored_files() == [alice.avatar.name]
    with default_storage.open(alice.avatar.name) as f, Image.open(f) as image:
        assert (image.format, image.size) == ("WEBP", (256, 256))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"bio": "x" * 501}, "Keep the bio to 500 characters or fewer"),
        ({"avatar": upload(b"not an image at all")}, "this file is not one"),
        ({"avatar": upload(png_claiming_size(20_000, 20_000))}, "The image is too large"),
    ],
    ids=["long-bio", "not-an-image", "decompression-bomb"],
)
def test_settings_refuse_bad_input_with_a_message_and_save_nothing(
    client, alice, stored_files, data, message
):
    client.force_login(alice)
    response = client.post("/settings/", {"display_name": "Changed", "bio": "", **data})
    assert response.status_code == 200
    assert message in response.content.decode()
    alice.refresh_from_db()
    assert (alice.display_name, alice.bio, alice.avatar.name) == ("Alice Liddell", "", "")
    assert stored_files() == []


def test_settings_refuse_an_oversized_avatar(client, alice, settings, stored_files):
    settings.AVATAR_MAX_BYTES = 1024
    client.force_login(alice)
    response = client.post("/settings/", {"avatar": upload(image_bytes(size=(900, 900)))})
    assert "The avatar must be 1.0" in response.content.decode()
    assert stored_files() == []


def test_an_oversized_avatar_is_refused_without_a_temporary_copy(
    client, alice, settings, tmp_path, stored_files
):
    settings.AVATAR_MAX_BYTES = 1024
    # Django's own handlers would write anything over 1 KB to a temporary file, in a
    # folder that does not exist: the request would fail if one were attempted.
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "no-such-folder")
    client.force_login(alice)
    response = client.post(
        "/settings/",
        {"display_name": "Changed", "bio": "", "avatar": upload(noisy_png((300, 300)))},
    )
    assert response.status_code == 200
    assert "The avatar must be 1.0\xa0KB or smaller." in response.content.decode()
    alice.refresh_from_db()
    assert (alice.display_name, alice.avatar.name) == ("Alice Liddell", "")
    assert stored_files() == []


def test_an_avatar_larger_than_the_memory_limit_is_still_received_whole(
    client, alice, settings, tmp_path, stored_files
):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # kept on disk while it arrives
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    client.force_login(alice)
    response = client.post(
        "/settings/", {"display_name": "Alice", "bio": "", "avatar": upload(noisy_png((120, 90)))}
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert stored_files() == [alice.avatar.name]
    with default_storage.open(alice.avatar.name) as f, Image.open(f) as image:
        assert (image.format, image.size) == ("WEBP", (256, 256))


def test_settings_page_still_checks_the_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post("/settings/", {"display_name": "Forged", "bio": ""})
    assert response.status_code == 403
    alice.refresh_from_db()
    assert alice.display_name == "Alice Liddell"


def test_settings_remove_avatar(client, alice, stored_files, django_capture_on_commit_callbacks):
    user_profile_update(user=alice, avatar=upload(image_bytes()))
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/settings/", {"display_name": "Alice", "bio": "", "remove_avatar": "on"})
    alice.refresh_from_db()
    assert not alice.avatar
    assert stored_files() == []


def test_token_page_shows_a_new_key_exactly_once(client, alice):
    client.force_login(alice)
    response = client.post("/settings/tokens/", {"name": "render farm"})
    key = response.context["new_key"]
    token = ApiToken.objects.get(user=alice)
    assert token.key_hash == ApiToken.hash_key(key)
    assert key in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    listing = client.get("/settings/tokens/").content.decode()
    assert key not in listing
    assert "render farm" in listing and f"{token.hint}…" in listing


def test_token_page_lists_only_ones_own_tokens(client, alice, bob):
    api_token_create(user=alice, name="alice-laptop")
    api_token_create(user=bob, name="bob-server")
    client.force_login(alice)
    html = client.get("/settings/tokens/").content.decode()
    assert "alice-laptop" in html and "bob-server" not in html


def test_token_page_refuses_an_empty_name(client, alice):
    client.force_login(alice)
    response = client.post("/settings/tokens/", {"name": "   "})
    assert response.context["new_key"] is None
    assert "errorlist" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_revoking_a_token_from_the_page(client, alice, bob):
    token, _ = api_token_create(user=alice, name="old laptop")
    bobs, _ = api_token_create(user=bob, name="bob-server")
    client.force_login(alice)
    assert client.post(f"/settings/tokens/{bobs.pk}/revoke/").status_code == 404
    response = client.post(f"/settings/tokens/{token.pk}/revoke/", follow=True)
    assert "“old laptop” is revoked" in response.content.decode()
    assert list(ApiToken.objects.values_list("pk", flat=True)) == [bobs.pk]
    assert client.get(f"/settings/tokens/{token.pk}/revoke/").status_code == 404


def test_revoking_a_token_asks_first(client, alice, bob):
    token, _ = api_token_create(user=alice, name="old laptop")
    bobs, _ = api_token_create(user=bob, name="bob-server")
    client.force_login(alice)
    revoke_url = f"/settings/tokens/{token.pk}/revoke/"

    listing = client.get("/settings/tokens/").content.decode()
    # No one-click form on the list: its "Revoke…" is a link to the question.
    assert f'action="{revoke_url}"' not in listing
    assert f'href="{revoke_url}"' in listing

    response = client.get(revoke_url)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Revoke the token “old laptop”?" in html
    assert f"{token.hint}…" in html and "stop working at once" in html
    assert '<form method="post"' in html and ">Revoke token</button>" in html
    assert ApiToken.objects.filter(pk=token.pk).exists()
    # Someone else's token is not even asked about.
    assert client.get(f"/settings/tokens/{bobs.pk}/revoke/").status_code == 404

    client.post(revoke_url)
    assert not ApiToken.objects.filter(pk=token.pk).exists()


def test_a_new_token_comes_with_a_copy_button(client, alice):
    client.force_login(alice)
    html = client.post("/settings/tokens/", {"name": "render farm"}).content.decode()
    assert re.search(
        r'<button type="button"[^>]*data-copy="new-token-key"[^>]*>Copy</button>', html
    )
    assert 'id="new-token-key"' in html
    assert "accounts/tokens.js" in html
