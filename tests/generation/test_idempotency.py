"""`Idempotency-Key` on job submission: a client's retry never makes a second job."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from generation import services
from generation.models import GenerationJob, SubmissionKey

JOBS = "/api/v1/jobs/"
KEY = "5f0c7a4e-3b1d-4c2a-9e8f-0a1b2c3d4e5f"
REPLAYED = "Idempotent-Replayed"


def submit(client, body: dict, key: str | None = KEY, path: str = JOBS):
    extra = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(path, body, format="json", **extra)


@pytest.fixture(autouse=True)
def _no_enqueue(request):
    # About the API: the worker is tested elsewhere (transactional tests send for real).
    if "transactional_db" in request.fixturenames:
        yield
        return
    with request.getfixturevalue("django_capture_on_commit_callbacks")(execute=False):
        yield


def test_a_retry_with_the_same_key_answers_the_first_job(alice_api, tiny_model):
    first = submit(alice_api, {"prompt": "a cooper at his barrels", "num_images": 2})
    again = submit(alice_api, {"prompt": "a cooper at his barrels", "num_images": 2})

    assert first.status_code == again.status_code == 201, again.content
    assert again.json()["id"] == first.json()["id"]
    assert again["Location"] == first["Location"]
    assert again[REPLAYED] == "true" and REPLAYED not in first
    assert GenerationJob.objects.count() == 1


def test_the_order_of_a_json_body_s_keys_does_not_matter(alice_api, tiny_model):
    first = alice_api.post(
        JOBS,
        '{"prompt": "a glassblower", "steps": 3}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=KEY,
    )
    again = alice_api.post(
        JOBS,
        '{"steps": 3, "prompt": "a glassblower"}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=KEY,
    )
    assert again.status_code == 201 and again[REPLAYED] == "true"
    assert again.json()["id"] == first.json()["id"]


def test_the_same_key_for_another_request_is_refused_and_changes_nothing(alice_api, tiny_model):
    first = submit(alice_api, {"prompt": "a cooper"})
    other = submit(alice_api, {"prompt": "a wheelwright"})

    assert other.status_code == 422
    assert other.json() == {
        "detail": "This Idempotency-Key was used for a different request. "
        "Use a new key for a new submission.",
        "code": "idempotency_key_reused",
        "errors": {},
    }
    assert [str(pk) for pk in GenerationJob.objects.values_list("pk", flat=True)] == [
        first.json()["id"]
    ]


def test_without_a_key_every_submission_is_a_new_job(alice_api, tiny_model):
    submit(alice_api, {"prompt": "a tanner"}, key=None)
    second = submit(alice_api, {"prompt": "a tanner"}, key=None)
    assert second.status_code == 201 and REPLAYED not in second
    assert GenerationJob.objects.count() == 2


@pytest.mark.parametrize(
    "key",
    ["", " ", "x" * 256, "clé-unicode", "a\tb", " leading-space"],
    ids=["empty", "blank", "too-long", "non-ascii", "control", "padded"],
)
def test_a_malformed_key_is_a_400_and_submits_nothing(alice_api, tiny_model, key):
    response = submit(alice_api, {"prompt": "a chandler"}, key=key)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and "Idempotency-Key" in body["errors"]
    assert not GenerationJob.objects.exists()


def test_the_longest_key_and_printable_punctuation_are_accepted(alice_api, tiny_model):
    for key in ("k" * 255, "order 17: retry #2 (a~z)"):
        response = submit(alice_api, {"prompt": "a chandler"}, key=key)
        assert response.status_code == 201, response.content
    assert SubmissionKey.objects.count() == 2


def test_keys_belong_to_their_member(alice_api, bob_api, tiny_model):
    alices = submit(alice_api, {"prompt": "a miller"})
    bobs = submit(bob_api, {"prompt": "a miller"})
    assert bobs.status_code == 201 and REPLAYED not in bobs
    assert bobs.json()["id"] != alices.json()["id"]


def test_a_refused_submission_does_not_use_up_its_key(alice_api, tiny_model):
    refused = submit(alice_api, {"prompt": "", "width": 100})
    assert refused.status_code == 400
    fixed = submit(alice_api, {"prompt": "a thatcher", "width": 64})
    assert fixed.status_code == 201 and REPLAYED not in fixed
    assert GenerationJob.objects.count() == 1


def test_a_retry_past_the_quota_still_answers_its_job(alice_api, tiny_model, settings):
    """The retry is not a new submission: the active-job cap does not apply to it."""
    settings.GENERATION_MAX_ACTIVE_JOBS = 1
    first = submit(alice_api, {"prompt": "a fletcher"})
    again = submit(alice_api, {"prompt": "a fletcher"})
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert submit(alice_api, {"prompt": "a bowyer"}, key="another").status_code == 429


def test_keys_are_kept_for_a_day_then_swept(alice_api, tiny_model):
    first = submit(alice_api, {"prompt": "a cartwright"})
    SubmissionKey.objects.update(created_at=timezone.now() - timedelta(hours=23))
    assert services.jobs_sweep()["keys_expired"] == 0
    assert submit(alice_api, {"prompt": "a cartwright"})[REPLAYED] == "true"

    SubmissionKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert services.jobs_sweep()["keys_expired"] == 1
    assert not SubmissionKey.objects.exists()
    GenerationJob.objects.filter(pk=first.json()["id"]).update(
        status=GenerationJob.Status.SUCCEEDED
    )
    later = submit(alice_api, {"prompt": "a cartwright"})
    assert later.status_code == 201 and REPLAYED not in later
    assert later.json()["id"] != first.json()["id"]


def test_a_key_a_day_old_counts_as_new_even_before_the_sweeper_ran(alice_api, tiny_model):
    first = submit(alice_api, {"prompt": "a cartwright"})
    SubmissionKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    later = submit(alice_api, {"prompt": "a wainwright"})  # another body: not a conflict now
    assert later.status_code == 201 and later.json()["id"] != first.json()["id"]
    assert SubmissionKey.objects.get().job_id == GenerationJob.objects.get(pk=later.json()["id"]).pk


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_one_key_make_one_job(alice, tiny_model):
    """Two copies of a request in flight at once (a client retrying on a timeout while
    the first is still being answered): they meet at the barrier, then race."""
    from tests.test_outages import celery_broker

    barrier = threading.Barrier(2)
    answers = []

    def send() -> None:
        client = APIClient()
        client.force_authenticate(alice)
        try:
            barrier.wait(timeout=30)
            response = submit(client, {"prompt": "twins at a window"})
            answers.append((response.status_code, response.json()["id"], response.get(REPLAYED)))
        finally:
            connection.close()

    with celery_broker("memory://localhost/"):
        threads = [threading.Thread(target=send) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)

    assert [status for status, _, _ in answers] == [201, 201], answers
    assert answers[0][1] == answers[1][1]
    assert sorted(str(replayed) for _, _, replayed in answers) == ["None", "true"]
    assert GenerationJob.objects.count() == 1 and SubmissionKey.objects.count() == 1
