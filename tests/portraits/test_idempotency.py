"""`Idempotency-Key` on remixes and reproductions: a retried request is one job."""

from __future__ import annotations

import pytest

from generation.models import GenerationJob

pytestmark = pytest.mark.django_db

KEY = "a7d3e9c2-remix-retry"
REPLAYED = "Idempotent-Replayed"


def post(client, portrait, action: str, body: dict | None = None, key: str = KEY):
    return client.post(
        f"/api/v1/portraits/{portrait.public_id}/{action}/",
        body or {},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_a_remix_retried_with_its_key_is_one_job(alice, bob, create_portrait, bob_api):
    portrait = create_portrait(alice, prompt="a baker")
    first = post(bob_api, portrait, "remix", {"prompt": "a baker at dawn"})
    again = post(bob_api, portrait, "remix", {"prompt": "a baker at dawn"})

    assert first.status_code == again.status_code == 201, again.content
    assert again.json()["id"] == first.json()["id"] and again[REPLAYED] == "true"
    assert first.json()["delivery"] in {"sent", "deferred"}
    assert GenerationJob.objects.filter(user=bob).count() == 1

    changed = post(bob_api, portrait, "remix", {"prompt": "a baker at dusk"})
    assert changed.status_code == 422 and changed.json()["code"] == "idempotency_key_reused"
    assert GenerationJob.objects.filter(user=bob).count() == 1


def test_a_reproduction_retried_with_its_key_is_one_job(alice, create_portrait, alice_api):
    portrait = create_portrait(alice)
    jobs_before = GenerationJob.objects.count()
    first = post(alice_api, portrait, "reproduce")
    again = post(alice_api, portrait, "reproduce")
    assert first.status_code == again.status_code == 201, again.content
    assert again.json()["id"] == first.json()["id"] and again[REPLAYED] == "true"
    assert GenerationJob.objects.count() == jobs_before + 1


def test_a_key_names_one_request_whatever_the_endpoint(alice, create_portrait, alice_api):
    portrait = create_portrait(alice)
    assert post(alice_api, portrait, "reproduce").status_code == 201
    remixed = post(alice_api, portrait, "remix", {})
    assert remixed.status_code == 422
    submitted = alice_api.post(
        "/api/v1/jobs/", {"prompt": "x"}, format="json", HTTP_IDEMPOTENCY_KEY=KEY
    )
    assert submitted.status_code == 422
