"""Media through the S3 API, over HTTP: django-storages' S3Storage, configured as
``config.settings`` configures it from the ``AWS_*`` variables, against moto's S3 server
started by this module on 127.0.0.1 (boto3 on both sides, real requests, no cloud account).

Each test gets a bucket of its own. What moto does not do, and real S3 does: it does not
refuse a presigned URL once it has expired (so the tests check the expiry the site asks
for, not S3 enforcing it) and it does not check signatures; it does refuse an anonymous
read of a private object, which is what keeps media private.
"""

from __future__ import annotations

import io
import logging
import urllib.error
import urllib.request
import uuid
from email.message import Message
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from django.core.files.storage import default_storage
from PIL import Image

from accounts.services import user_profile_update
from portraits.credentials import read_manifest
from portraits.models import Portrait
from portraits.services import portrait_delete
from tests import support
from tests.test_settings import _settings_of

pytestmark = pytest.mark.django_db(transaction=True)

ACCESS_KEY, SECRET_KEY, REGION = "likeness-test", "likeness-test-secret", "eu-west-1"
S3_SETTINGS = (
    "STORAGES",
    "AWS_S3_ENDPOINT_URL",
    "AWS_S3_REGION_NAME",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_ACL",
    "AWS_QUERYSTRING_AUTH",
    "AWS_QUERYSTRING_EXPIRE",
    "AWS_S3_SIGNATURE_VERSION",
    "AWS_S3_ADDRESSING_STYLE",
)


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 server, in a thread of this process, on a free port."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request else
    port = support.free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def s3_settings(s3_endpoint, tmp_path_factory):
    """What config.settings makes of the S3 variables (evaluated with them set)."""
    return _settings_of(
        tmp_path_factory.mktemp("s3-settings"),
        *S3_SETTINGS,
        AWS_STORAGE_BUCKET_NAME="placeholder",
        AWS_S3_ENDPOINT_URL=s3_endpoint,
        AWS_S3_REGION_NAME=REGION,
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
    )


@pytest.fixture
def bucket(settings, s3_endpoint, s3_settings):
    """This test's media on S3: a fresh bucket, the site's storage pointed at it; yields
    a boto3 client of its own (another client, reading what the site wrote)."""
    name = f"likeness-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    for key, value in s3_settings.items():
        setattr(settings, key, value)
    settings.AWS_STORAGE_BUCKET_NAME = name
    assert settings.STORAGES["default"]["BACKEND"] == "storages.backends.s3.S3Storage"
    client.bucket = name
    yield client


def keys(bucket) -> list[str]:
    listed = bucket.list_objects_v2(Bucket=bucket.bucket)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def stored(bucket, key: str) -> bytes:
    return bucket.get_object(Bucket=bucket.bucket, Key=key)["Body"].read()


def fetch(url: str) -> tuple[int, bytes, Message]:
    """GET ``url`` as a browser following the site's redirect would: status, body, headers."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


def test_a_portrait_s_files_are_written_to_s3_and_served_by_signed_redirect(
    alice, bucket, create_portrait, client, s3_endpoint
):
    portrait = create_portrait(alice, visibility=Portrait.Visibility.PRIVATE)
    assert keys(bucket) == sorted([portrait.image.name, portrait.thumbnail.name])

    client.force_login(alice)
    response = client.get(f"/p/{portrait.public_id}/image/")
    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith(f"{s3_endpoint}/{bucket.bucket}/")
    status, body, headers = fetch(url)
    assert status == 200
    assert body == stored(bucket, portrait.image.name)  # byte for byte, signed
    assert headers["Content-Type"] == "image/png"
    manifest = read_manifest(body)
    assert manifest["present"] and manifest["valid"], manifest["validation_errors"]
    assert "private" in response["Cache-Control"]

    status, thumbnail, headers = fetch(
        client.get(f"/p/{portrait.public_id}/thumbnail/")["Location"]
    )
    assert status == 200 and headers["Content-Type"] == "image/webp"
    assert Image.open(io.BytesIO(thumbnail)).format == "WEBP"


def test_a_download_is_a_signed_attachment_that_expires(alice, bucket, create_portrait, client):
    portrait = create_portrait(alice)
    client.force_login(alice)
    url = client.get(f"/api/v1/portraits/{portrait.public_id}/download/")["Location"]
    status, body, headers = fetch(url)
    assert status == 200 and body == stored(bucket, portrait.image.name)
    assert headers["Content-Disposition"].startswith("attachment;")
    assert f'{portrait.public_id}.png"' in headers["Content-Disposition"]
    # Signed with SigV4, valid for the five minutes the site asks (portraits.media).
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["300"] and query["X-Amz-Signature"][0]


def test_a_private_object_is_not_readable_without_a_signature(
    alice, bob, bucket, create_portrait, client, s3_endpoint
):
    portrait = create_portrait(alice, visibility=Portrait.Visibility.PRIVATE)
    for name in (portrait.image.name, portrait.thumbnail.name):
        status, _, _ = fetch(f"{s3_endpoint}/{bucket.bucket}/{name}")
        assert status == 403, name
    # And the site signs nothing for someone who may not see it.
    client.force_login(bob)
    assert client.get(f"/p/{portrait.public_id}/image/").status_code == 404


def test_deleting_a_portrait_deletes_its_objects(
    alice, bucket, create_portrait, django_capture_on_commit_callbacks
):
    kept = create_portrait(alice, prompt="a lighthouse keeper")
    gone = create_portrait(alice, prompt="a ferryman")
    names = [gone.image.name, gone.thumbnail.name]
    with django_capture_on_commit_callbacks(execute=True):
        portrait_delete(portrait=gone, by=alice)
    assert keys(bucket) == sorted([kept.image.name, kept.thumbnail.name])
    assert not any(default_storage.exists(name) for name in names)


def test_an_avatar_is_stored_on_s3_and_served_from_it(alice, bucket, client):
    picture = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 80, 40)).save(picture, format="PNG")
    picture.seek(0)
    picture.name = "me.png"
    user_profile_update(user=alice, avatar=picture)
    alice.refresh_from_db()
    assert keys(bucket) == [alice.avatar.name]
    response = client.get(alice.avatar_url)
    assert response.status_code == 200 and response["Content-Type"] == "image/webp"
    served = b"".join(response.streaming_content)
    assert served == stored(bucket, alice.avatar.name)
