"""Media privacy: files only after the visibility check, never from a public folder."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.storage import FileSystemStorage, default_storage
from PIL import Image

from portraits.models import Portrait

pytestmark = pytest.mark.django_db

V = Portrait.Visibility
KINDS = ("image", "thumbnail", "download")


class SigningStorage(FileSystemStorage):
    """Local files behind S3Storage's interface: ``url()`` signs and expires."""

    querystring_auth = True

    def url(self, name, parameters=None, expire=None, http_method=None):
        query = "&".join(f"{key}={value}" for key, value in (parameters or {}).items())
        return f"https://bucket.example/{name}?X-Amz-Expires={expire}&{query}"


def _bytes(response) -> bytes:
    return b"".join(response.streaming_content)


def test_a_private_portraits_files_are_404_for_others_and_served_to_owner_and_moderators(
    alice, bob, mod, create_portrait, client
):
    portrait = create_portrait(alice, visibility=V.PRIVATE)
    paths = [f"/p/{portrait.public_id}/{kind}/" for kind in KINDS]
    paths.append(f"/api/v1/portraits/{portrait.public_id}/download/")

    for path in paths:
        assert client.get(path).status_code == 404, path
    client.force_login(bob)
    for path in paths:
        assert client.get(path).status_code == 404, path
    for viewer in (alice, mod):
        client.force_login(viewer)
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, path
            assert "private" in response["Cache-Control"]
            assert "public" not in response["Cache-Control"]


def test_files_are_the_stored_ones_with_the_right_types(alice, create_portrait, client):
    portrait = create_portrait(alice)
    with portrait.image.open("rb") as handle:
        stored = handle.read()

    original = client.get(f"/p/{portrait.public_id}/image/")
    thumbnail = client.get(f"/p/{portrait.public_id}/thumbnail/")
    download = client.get(f"/api/v1/portraits/{portrait.public_id}/download/")

    assert original["Content-Type"] == "image/png"
    assert _bytes(original) == stored  # byte for byte: chunks and manifest intact
    assert thumbnail["Content-Type"] == "image/webp"
    assert Image.open(io.BytesIO(_bytes(thumbnail))).format == "WEBP"
    assert download["Content-Disposition"].startswith("attachment;")
    assert f'{portrait.public_id}.png"' in download["Content-Disposition"]
    assert _bytes(download) == stored
    assert "public" in original["Cache-Control"]


def test_unlisted_files_are_served_to_anyone_with_the_link_but_not_cached_publicly(
    alice, create_portrait, client
):
    portrait = create_portrait(alice, visibility=V.UNLISTED)

    response = client.get(f"/p/{portrait.public_id}/thumbnail/")

    assert response.status_code == 200
    assert "private" in response["Cache-Control"]


def test_media_is_not_reachable_under_media_url(alice, create_portrait, client, settings):
    portrait = create_portrait(alice)

    assert client.get(f"{settings.MEDIA_URL}{portrait.image.name}").status_code == 404


@pytest.mark.parametrize("remixed", [False, True], ids=["row-deleted", "tombstone"])
def test_deleted_portraits_files_are_gone(
    remixed, alice, bob, create_portrait, remix, client, django_capture_on_commit_callbacks
):
    from portraits.services import portrait_delete

    original = create_portrait(alice)
    if remixed:
        remix(original, bob)
    names = [original.image.name, original.thumbnail.name]
    assert all(default_storage.exists(name) for name in names)

    with django_capture_on_commit_callbacks(execute=True):
        tombstone = portrait_delete(portrait=original, by=alice)

    assert tombstone is remixed
    assert [name for name in names if default_storage.exists(name)] == []
    client.force_login(alice)
    for kind in KINDS:
        assert client.get(f"/p/{original.public_id}/{kind}/").status_code == 404


def test_with_signed_url_storage_views_redirect_after_the_check(
    alice, bob, create_portrait, client, settings
):
    portrait = create_portrait(alice, visibility=V.PRIVATE)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}.SigningStorage"},
    }

    client.force_login(bob)
    assert client.get(f"/p/{portrait.public_id}/image/").status_code == 404
    client.force_login(alice)
    response = client.get(f"/p/{portrait.public_id}/download/")

    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert target.netloc == "bucket.example"
    assert target.path == f"/{portrait.image.name}"
    query = parse_qs(target.query)
    assert int(query["X-Amz-Expires"][0]) <= 300
    assert query["ResponseContentDisposition"][0].startswith("attachment;")
    assert "private" in response["Cache-Control"]
