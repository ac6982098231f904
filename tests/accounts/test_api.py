from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.core.files.storage import default_storage
from PIL import Image
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from accounts.models import ApiToken, User
from accounts.services import api_token_create, user_profile_update
from tests.accounts.images import image_bytes, noisy_png, png_claiming_size, upload
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

STRONG = "a-long-unusual-passphrase-42"
REGISTER = "/api/v1/auth/register/"
TOKEN = "/api/v1/auth/token/"
ME = "/api/v1/me/"
TOKENS = "/api/v1/me/tokens/"


def _token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _register(api, **overrides):
    data = {"username": "carol", "email": "carol@example.com", "password": STRONG}
    data.update(overrides)
    return api.post(REGISTER, data, format="json")


# --- Registration --------------------------------------------------------------------------------


def test_register_returns_the_member_and_a_working_first_token(
    api, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _register(api, display_name="Carol", token_name="my script")
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["username"] == "carol"
    assert body["user"]["display_name"] == "Carol"
    assert body["user"]["email"] == "carol@example.com"
    assert "password" not in body["user"]
    token = ApiToken.objects.get(pk=body["token_id"])
    assert (token.name, token.user.username) == ("my script", "carol")
    me = _token_client(body["token"]).get(ME)
    assert me.status_code == 200 and me.json()["username"] == "carol"
    # Same as the sign-up page: a primary address, a confirmation link by e-mail.
    assert EmailAddress.objects.filter(email="carol@example.com", primary=True).exists()
    assert [m.to for m in mailoutbox] == [["carol@example.com"]]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"username": "Alice"}, "username"),
        ({"email": "ALICE@example.com"}, "email"),
        ({"password": "password"}, "password"),
        ({"password": "carol"}, "password"),
        ({"email": "nope"}, "email"),
        ({"display_name": "x" * 81}, "display_name"),
    ],
)
def test_register_refuses_bad_input_with_field_errors_and_saves_nothing(
    api, alice, overrides, field
):
    response = _register(api, **overrides)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["errors"][field]
    assert list(User.objects.values_list("username", flat=True)) == ["alice"]
    assert not ApiToken.objects.exists()


def test_register_without_a_token_when_verification_is_mandatory(
    api, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    with django_capture_on_commit_callbacks(execute=True):
        response = _register(api)
    assert response.status_code == 202
    assert set(response.json()) == {"detail"}
    assert "auth/token/" in response.json()["detail"]
    carol = User.objects.get(username="carol")
    assert EmailAddress.objects.filter(user=carol, primary=True, verified=False).exists()
    assert not ApiToken.objects.exists()
    assert [m.to for m in mailoutbox] == [["carol@example.com"]]
    refused = api.post(TOKEN, {"username": "carol", "password": STRONG}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "email_unverified"


def test_register_answers_a_taken_address_like_a_free_one_when_verification_is_mandatory(
    api, alice, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    with django_capture_on_commit_callbacks(execute=True):
        free = _register(api, username="carol", email="carol@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        taken = _register(api, username="dave", email="ALICE@example.com")
    assert (taken.status_code, taken.json()) == (free.status_code, free.json())
    assert taken.status_code == 202
    assert set(taken.json()) == {"detail"}
    # Nothing created for the taken address; its owner is told someone tried.
    assert not User.objects.filter(username="dave").exists()
    assert not EmailAddress.objects.filter(email="alice@example.com").exclude(user=alice).exists()
    assert not ApiToken.objects.exists()
    assert [m.to for m in mailoutbox] == [["carol@example.com"], ["alice@example.com"]]
    assert "already" in mailoutbox[1].body.lower()
    assert "confirm" in mailoutbox[0].body.lower()


def test_a_member_who_never_confirmed_has_no_profile_when_verification_is_mandatory(
    api, client, alice, settings
):
    # Else the profile of the username chosen at sign-up would show whether the address
    # was free (an account was made) or taken (nothing was).
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    assert _register(api, username="carol", email="carol@example.com").status_code == 202
    assert api.get("/api/v1/users/carol/").status_code == 404
    assert client.get("/u/carol/").status_code == 404
    EmailAddress.objects.filter(email="carol@example.com").update(verified=True)
    assert api.get("/api/v1/users/carol/").status_code == 200
    assert client.get("/u/carol/").status_code == 200


def test_register_still_refuses_a_taken_username_when_verification_is_mandatory(
    api, alice, settings, mailoutbox
):
    # Usernames are public (profiles at /u/<username>/): refusing one reveals nothing.
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    response = _register(api, username="ALICE", email="someone@example.com")
    assert response.status_code == 400 and response.json()["errors"]["username"]
    assert mailoutbox == []


def test_register_is_throttled(api, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "register", "2/hour")
    assert _register(api, username="u1", email="u1@example.com").status_code == 201
    assert _register(api, username="u2", email="u2@example.com").status_code == 201
    response = _register(api, username="u3", email="u3@example.com")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert not User.objects.filter(username="u3").exists()


# --- Token exchange ------------------------------------------------------------------------------


@pytest.mark.parametrize("login", ["alice", "alice@example.com"])
def test_token_exchange_with_username_or_email(api, alice, login):
    response = api.post(
        TOKEN, {"username": login, "password": PASSWORD, "name": "ci"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"token", "id", "name"}
    assert body["name"] == "ci"
    assert ApiToken.objects.get(pk=body["id"]).key_hash == ApiToken.hash_key(body["token"])
    assert _token_client(body["token"]).get(ME).json()["username"] == "alice"


def test_token_exchange_with_bad_credentials_is_a_clear_400(api, alice):
    response = api.post(TOKEN, {"username": "alice", "password": "wrong"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_credentials"
    assert "username or e-mail address and password" in body["detail"]
    assert not ApiToken.objects.exists()


def test_token_exchange_is_throttled(api, alice, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "token", "1/hour")
    api.post(TOKEN, {"username": "alice", "password": "wrong"}, format="json")
    response = api.post(TOKEN, {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 429
    assert not ApiToken.objects.exists()


# --- /me/ ----------------------------------------------------------------------------------------


def test_me_requires_authentication(api):
    response = api.get(ME)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert api.patch(ME, {"bio": "x"}, format="json").status_code == 401


def test_me_with_a_token_header(alice_token_api, alice):
    body = alice_token_api.get(ME).json()
    assert body["username"] == "alice"
    assert body["email"] == "alice@example.com"
    assert body["avatar_url"] is None


def test_session_authenticated_me_works_for_the_browser(client, alice):
    client.force_login(alice)
    assert client.get(ME).json()["username"] == "alice"


def test_patch_me_updates_profile_but_never_the_username(alice_token_api, alice):
    response = alice_token_api.patch(
        ME, {"display_name": "Al", "bio": "Foxes.", "username": "mallory"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["display_name"] == "Al"
    alice.refresh_from_db()
    assert (alice.username, alice.display_name, alice.bio) == ("alice", "Al", "Foxes.")


def test_patch_me_email_change(alice_token_api, alice):
    response = alice_token_api.patch(ME, {"email": "Alice@Elsewhere.example"}, format="json")
    assert response.status_code == 200
    assert response.json()["email"] == "alice@elsewhere.example"
    assert EmailAddress.objects.get(user=alice, primary=True).email == "alice@elsewhere.example"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"bio": "x" * 501, "display_name": "Changed"}, "bio"),
        ({"email": "BOB@example.com", "display_name": "Changed"}, "email"),
        ({"email": "", "display_name": "Changed"}, "email"),
    ],
)
def test_patch_me_refuses_bad_input_and_saves_nothing(alice_token_api, alice, bob, data, field):
    response = alice_token_api.patch(ME, data, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][field]
    alice.refresh_from_db()
    assert alice.display_name == "Alice Liddell"
    assert (alice.bio, alice.email) == ("", "alice@example.com")


def test_avatar_upload_as_multipart(alice_token_api, alice, client, stored_files):
    response = alice_token_api.patch(
        ME, {"avatar": upload(image_bytes()), "bio": "Foxes."}, format="multipart"
    )
    assert response.status_code == 200
    avatar_url = response.json()["avatar_url"]
    assert avatar_url.startswith("http://testserver/u/alice/avatar/?v=")
    served = client.get(avatar_url.removeprefix("http://testserver"))
    assert served["Content-Type"] == "image/webp"
    alice.refresh_from_db()
    assert stored_files() == [alice.avatar.name]
    with default_storage.open(alice.avatar.name) as f, Image.open(f) as image:
        assert image.size == (256, 256)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"definitely not an image", "not one"),
        (png_claiming_size(20_000, 20_000), "too large"),
    ],
    ids=["not-an-image", "decompression-bomb"],
)
def test_bad_avatar_upload_is_a_400_and_nothing_is_stored(
    alice_token_api, alice, stored_files, data, message
):
    response = alice_token_api.patch(
        ME, {"avatar": upload(data), "bio": "Changed"}, format="multipart"
    )
    assert response.status_code == 400
    assert message in response.json()["errors"]["avatar"][0]
    alice.refresh_from_db()
    assert (alice.bio, alice.avatar.name) == ("", "")
    assert stored_files() == []


def test_oversized_avatar_upload_is_a_400(alice_token_api, settings, stored_files):
    settings.AVATAR_MAX_BYTES = 1024
    response = alice_token_api.patch(
        ME, {"avatar": upload(image_bytes(size=(900, 900)))}, format="multipart"
    )
    assert response.status_code == 400
    assert "must be 1.0" in response.json()["errors"]["avatar"][0]
    assert stored_files() == []


def test_oversized_avatar_upload_is_refused_without_a_temporary_copy(
    alice_token_api, alice, settings, tmp_path, stored_files
):
    settings.AVATAR_MAX_BYTES = 1024
    # Django's own handlers would spool this upload to a folder that does not exist.
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "no-such-folder")
    response = alice_token_api.patch(
        ME, {"avatar": upload(noisy_png((300, 300))), "bio": "Changed"}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"avatar": ["The avatar must be 1.0\xa0KB or smaller."]}
    alice.refresh_from_db()
    assert (alice.bio, alice.avatar.name) == ("", "")
    assert stored_files() == []


def test_delete_avatar(alice_token_api, alice, stored_files, django_capture_on_commit_callbacks):
    user_profile_update(user=alice, avatar=upload(image_bytes()))
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_token_api.delete("/api/v1/me/avatar/")
    assert response.status_code == 204
    alice.refresh_from_db()
    assert not alice.avatar
    assert stored_files() == []


def test_patch_avatar_null_removes_it(alice_token_api, alice):
    user_profile_update(user=alice, avatar=upload(image_bytes()))
    response = alice_token_api.patch(ME, {"avatar": None}, format="json")
    assert response.status_code == 200 and response.json()["avatar_url"] is None


# --- /me/tokens/ ---------------------------------------------------------------------------------


def test_token_list_shows_own_tokens_without_keys(alice_token_api, alice, bob):
    api_token_create(user=alice, name="second")
    api_token_create(user=bob, name="bobs")
    body = alice_token_api.get(TOKENS).json()
    assert [t["name"] for t in body["results"]] == ["second", "laptop"]
    assert set(body["results"][0]) == {"id", "name", "hint", "created_at", "last_used_at"}
    # The list was fetched with "laptop": its use is recorded.
    assert body["results"][1]["last_used_at"] is not None


def test_token_create_shows_the_key_once(alice_token_api, alice):
    response = alice_token_api.post(TOKENS, {"name": "render farm"}, format="json")
    assert response.status_code == 201
    key = response.json()["token"]
    assert key.startswith(response.json()["hint"])
    assert _token_client(key).get(ME).status_code == 200
    listing = alice_token_api.get(TOKENS).json()["results"]
    assert all("token" not in item for item in listing)


def test_token_create_needs_a_name(alice_token_api):
    response = alice_token_api.post(TOKENS, {"name": ""}, format="json")
    assert response.status_code == 400 and response.json()["errors"]["name"]


def test_revoked_token_stops_working(alice_token_api, alice):
    token, key = api_token_create(user=alice, name="ci")
    assert _token_client(key).get(ME).status_code == 200
    assert alice_token_api.delete(f"{TOKENS}{token.pk}/").status_code == 204
    response = _token_client(key).get(ME)
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid or revoked token."


def test_revoking_the_token_of_the_current_request_is_allowed(alice_key, alice_token_api):
    token = ApiToken.objects.get(key_hash=ApiToken.hash_key(alice_key))
    assert alice_token_api.delete(f"{TOKENS}{token.pk}/").status_code == 204
    assert alice_token_api.get(ME).status_code == 401


def test_revoking_someone_elses_token_is_404(alice_token_api, bob):
    bobs, key = api_token_create(user=bob, name="bob-server")
    response = alice_token_api.delete(f"{TOKENS}{bobs.pk}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert _token_client(key).get(ME).status_code == 200


def test_token_of_an_inactive_member_is_refused(alice_token_api, alice):
    alice.is_active = False
    alice.save()
    assert alice_token_api.get(ME).status_code == 401


# --- Public profiles -----------------------------------------------------------------------------


def test_public_profile_has_no_email(api, alice):
    response = api.get("/api/v1/users/alice/")
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "alice"
    assert body["display_name"] == "Alice Liddell"
    assert body["profile_url"] == "http://testserver/u/alice/"
    assert "email" not in body and "alice@example.com" not in response.content.decode()


def test_public_profile_of_inactive_or_unknown_member_is_404(api, alice):
    alice.is_active = False
    alice.save()
    assert api.get("/api/v1/users/alice/").status_code == 404
    assert api.get("/api/v1/users/nobody/").status_code == 404
