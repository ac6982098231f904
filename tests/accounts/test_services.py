from __future__ import annotations

import io

import pytest
from allauth.account.models import EmailAddress
from django.core.files.storage import default_storage
from PIL import Image

from accounts.models import ApiToken, User
from accounts.services import (
    EmailUnverified,
    InvalidCredentials,
    api_token_create,
    api_token_obtain,
    api_token_revoke,
    avatar_render,
    user_avatar_remove,
    user_profile_update,
    user_register,
)
from config.errors import DomainError, NotFound
from tests.accounts.images import (
    bilevel_png,
    image_bytes,
    noisy_png,
    png_claiming_size,
    upload,
)
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

STRONG = "a-long-unusual-passphrase-42"


def _errors(excinfo) -> dict[str, list[str]]:
    return excinfo.value.field_errors


# --- Registration -------------------------------------------------------------------------


def test_register_creates_active_member_with_primary_unverified_address():
    user = user_register(
        username="carol", email="Carol@Example.com", password=STRONG, display_name="  Carol  C "
    )
    user.refresh_from_db()
    assert user.is_active
    assert user.check_password(STRONG)
    assert user.email == "carol@example.com"
    assert user.display_name == "Carol C"
    address = EmailAddress.objects.get(user=user)
    assert (address.email, address.primary, address.verified) == ("carol@example.com", True, False)


@pytest.mark.parametrize(
    ("username", "email", "password", "field", "message"),
    [
        ("ALICE", "new@example.com", STRONG, "username", "already exists"),
        ("carol", "ALICE@example.COM", STRONG, "email", "already exists"),
        ("carol", "new@example.com", "password", "password", "too common"),
        ("carol", "new@example.com", "12345678901", "password", "entirely numeric"),
        ("carol", "not-an-address", STRONG, "email", "valid email"),
        ("bad name!", "new@example.com", STRONG, "username", "Enter a valid username"),
        ("admin", "new@example.com", STRONG, "username", "can not be used"),
    ],
)
def test_register_refuses_bad_input_and_saves_nothing(
    alice, username, email, password, field, message
):
    users_before = User.objects.count()
    with pytest.raises(DomainError) as excinfo:
        user_register(username=username, email=email, password=password)
    assert field in _errors(excinfo)
    assert message.lower() in " ".join(_errors(excinfo)[field]).lower()
    assert User.objects.count() == users_before
    assert not EmailAddress.objects.filter(email="new@example.com").exists()


def test_register_reports_every_bad_field_at_once(alice):
    with pytest.raises(DomainError) as excinfo:
        user_register(username="Alice", email="alice@EXAMPLE.com", password="123")
    assert set(_errors(excinfo)) == {"username", "email", "password"}


def test_password_similar_to_username_is_refused():
    with pytest.raises(DomainError) as excinfo:
        user_register(username="marmaladesky", email="m@example.com", password="marmaladesky1")
    assert "too similar" in " ".join(_errors(excinfo)["password"])


# --- Profile -------------------------------------------------------------------------------------


def test_profile_update_changes_only_the_given_fields(alice):
    user_profile_update(user=alice, bio="Painter of\r\nfoxes.")
    alice.refresh_from_db()
    assert alice.bio == "Painter of\nfoxes."
    assert alice.display_name == "Alice Liddell"


def test_overlong_bio_is_refused_and_nothing_changes(alice):
    with pytest.raises(DomainError) as excinfo:
        user_profile_update(user=alice, bio="x" * 501, display_name="New name")
    assert "500 characters" in _errors(excinfo)["bio"][0]
    alice.refresh_from_db()
    assert alice.bio == ""
    assert alice.display_name == "Alice Liddell"


def test_bio_of_500_characters_with_windows_line_breaks_is_accepted(alice):
    bio = "\r\n".join(["x" * 99] * 5) + "x"  # 504 as submitted, 500 once CRLF becomes LF
    user_profile_update(user=alice, bio=bio)
    alice.refresh_from_db()
    assert len(alice.bio) == 500


def test_email_change_makes_the_new_address_primary_and_unverified(alice):
    EmailAddress.objects.create(user=alice, email="alice@example.com", primary=True, verified=True)
    user_profile_update(user=alice, email="Alice@New.example")
    alice.refresh_from_db()
    assert alice.email == "alice@new.example"
    primary = EmailAddress.objects.get(user=alice, primary=True)
    assert (primary.email, primary.verified) == ("alice@new.example", False)
    old = EmailAddress.objects.get(user=alice, email="alice@example.com")
    assert (old.primary, old.verified) == (False, True)


def test_email_of_another_member_is_refused_whatever_its_case(alice, bob):
    with pytest.raises(DomainError) as excinfo:
        user_profile_update(user=alice, email="BOB@example.com")
    assert "already exists" in _errors(excinfo)["email"][0]
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"


def test_keeping_ones_own_email_in_another_case_is_not_a_change(alice):
    user_profile_update(user=alice, email="ALICE@example.com")
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"
    assert not EmailAddress.objects.filter(user=alice).exists()


# --- Avatars -------------------------------------------------------------------------------------


def test_avatar_is_reencoded_as_a_256_square_webp(alice, stored_files):
    user_profile_update(user=alice, avatar=upload(image_bytes(size=(300, 120))))
    alice.refresh_from_db()
    assert alice.avatar.name.startswith("avatars/") and alice.avatar.name.endswith(".webp")
    assert stored_files() == [alice.avatar.name]
    with default_storage.open(alice.avatar.name) as f, Image.open(f) as image:
        assert (image.format, image.size) == ("WEBP", (256, 256))


def test_large_photo_is_scaled_down(alice):
    photo = image_bytes(size=(4000, 3000), color=(10, 120, 200), fmt="JPEG")
    user_profile_update(user=alice, avatar=upload(photo, "photo.jpg", "image/jpeg"))
    with default_storage.open(alice.avatar.name) as f, Image.open(f) as image:
        assert image.size == (256, 256)
        assert image.convert("RGB").getpixel((128, 128))[2] > 150


def test_avatar_keeps_transparency(alice):
    user_profile_update(
        user=alice, avatar=upload(image_bytes(mode="RGBA", color=(0, 0, 0, 0), size=(40, 40)))
    )
    with default_storage.open(alice.avatar.name) as f, Image.open(f) as image:
        assert image.mode == "RGBA"
        assert image.getpixel((128, 128))[3] == 0


def test_no_uploaded_byte_is_stored(alice):
    # A JPEG comment survives a byte copy but not a re-encode.
    out = io.BytesIO()
    Image.new("RGB", (64, 64), "blue").save(out, "JPEG", comment=b"<script>alert(1)</script>")
    user_profile_update(user=alice, avatar=upload(out.getvalue(), "a.jpg", "image/jpeg"))
    with default_storage.open(alice.avatar.name) as f:
        assert b"<script>" not in f.read()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GIF89a but not really an image", "not one"),
        (b"%PDF-1.7 hello", "not one"),
        (image_bytes(fmt="BMP"), "not one"),  # a real image, in a format we do not decode
        (image_bytes(fmt="PNG")[:40], "not one"),  # truncated
        (png_claiming_size(20_000, 20_000), "too large"),  # Pillow's DecompressionBombError
        (png_claiming_size(10_000, 10_000), "too large"),  # Pillow's DecompressionBombWarning
        (bilevel_png((5000, 5000)), "too large"),  # a real image over AVATAR_MAX_PIXELS
    ],
    ids=["text", "pdf", "bmp", "truncated", "bomb-error", "bomb-warning", "over-pixel-limit"],
)
def test_bad_avatar_is_refused_and_nothing_is_stored(alice, stored_files, data, message):
    with pytest.raises(DomainError) as excinfo:
        user_profile_update(user=alice, avatar=upload(data), display_name="Changed")
    assert message in _errors(excinfo)["avatar"][0]
    alice.refresh_from_db()
    assert not alice.avatar
    assert alice.display_name == "Alice Liddell"
    assert stored_files() == []


def test_avatar_over_the_byte_limit_is_refused(alice, settings, stored_files):
    settings.AVATAR_MAX_BYTES = 4096
    data = noisy_png((64, 64))
    assert len(data) > 4096
    with pytest.raises(DomainError) as excinfo:
        avatar_render(upload(data))
    assert "4.0 KB or smaller" in _errors(excinfo)["avatar"][0].replace("\xa0", " ")
    assert stored_files() == []


def test_replacing_an_avatar_deletes_the_old_file_after_commit(
    alice, stored_files, django_capture_on_commit_callbacks
):
    user_profile_update(user=alice, avatar=upload(image_bytes(color="red")))
    old = alice.avatar.name
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        user_profile_update(user=alice, avatar=upload(image_bytes(color="green")))
    new = alice.avatar.name
    assert new != old
    # Until the transaction commits, the old file is still there for concurrent readers.
    assert stored_files() == sorted([old, new])
    for callback in callbacks:
        callback()
    assert stored_files() == [new]


def test_removing_an_avatar_deletes_its_file_after_commit(
    alice, stored_files, django_capture_on_commit_callbacks
):
    user_profile_update(user=alice, avatar=upload(image_bytes()))
    with django_capture_on_commit_callbacks(execute=True):
        user_avatar_remove(user=alice)
    alice.refresh_from_db()
    assert not alice.avatar
    assert alice.avatar_url == ""
    assert stored_files() == []


def test_refused_avatar_keeps_the_current_one(alice, stored_files):
    user_profile_update(user=alice, avatar=upload(image_bytes()))
    current = alice.avatar.name
    with pytest.raises(DomainError):
        user_profile_update(user=alice, avatar=upload(b"nope"))
    alice.refresh_from_db()
    assert alice.avatar.name == current
    assert stored_files() == [current]


# --- API tokens ----------------------------------------------------------------------------------


def test_token_key_is_not_stored_only_its_hash_and_hint(alice):
    token, key = api_token_create(user=alice, name="  render   farm ")
    assert token.name == "render farm"
    assert key.startswith("lk_") and len(key) > 40
    assert token.key_hash == ApiToken.hash_key(key) != key
    assert key.startswith(token.hint) and len(token.hint) < 12
    assert not ApiToken.objects.filter(key_hash=key).exists()


def test_token_needs_a_name(alice):
    with pytest.raises(DomainError) as excinfo:
        api_token_create(user=alice, name="   ")
    assert "name" in _errors(excinfo)
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("login", ["alice", "ALICE", "alice@example.com", "Alice@Example.com"])
def test_token_obtain_accepts_username_or_email_in_any_case(alice, login, rf):
    token, key = api_token_obtain(login=login, password=PASSWORD, name="cli", request=rf.post("/"))
    assert token.user == alice
    assert token.key_hash == ApiToken.hash_key(key)


def test_token_obtain_refuses_a_wrong_password_and_an_inactive_member(alice, rf):
    with pytest.raises(InvalidCredentials):
        api_token_obtain(login="alice", password="wrong", name="cli", request=rf.post("/"))
    alice.is_active = False
    alice.save()
    with pytest.raises(InvalidCredentials):
        api_token_obtain(login="alice", password=PASSWORD, name="cli", request=rf.post("/"))
    assert not ApiToken.objects.exists()


def test_token_obtain_needs_a_verified_address_when_verification_is_mandatory(alice, settings, rf):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    with pytest.raises(EmailUnverified):
        api_token_obtain(login="alice", password=PASSWORD, name="cli", request=rf.post("/"))
    EmailAddress.objects.create(user=alice, email=alice.email, primary=True, verified=True)
    token, _ = api_token_obtain(login="alice", password=PASSWORD, name="cli", request=rf.post("/"))
    assert token.user == alice


def test_revoking_another_members_token_is_not_found(alice, bob):
    token, _ = api_token_create(user=alice, name="laptop")
    with pytest.raises(NotFound):
        api_token_revoke(user=bob, token_id=token.pk)
    assert ApiToken.objects.filter(pk=token.pk).exists()
    api_token_revoke(user=alice, token_id=token.pk)
    assert not ApiToken.objects.filter(pk=token.pk).exists()
