"""The jobs API: submit, read, list, cancel; errors in the one format."""

from __future__ import annotations

import pytest

from generation.models import GenerationJob


@pytest.fixture(autouse=True)
def _no_enqueue(django_capture_on_commit_callbacks):
    # These tests are about the API; the worker is tested elsewhere.
    with django_capture_on_commit_callbacks(execute=False):
        yield


def test_submit_answers_the_job_with_where_to_follow_it(alice_api, tiny_model):
    response = alice_api.post(
        "/api/v1/jobs/", {"prompt": "a cellist", "num_images": 2}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    job = GenerationJob.objects.get(pk=body["id"])
    assert body["status"] == "queued"
    assert body["queue_position"] == 1
    assert body["ws_url"] == f"/ws/jobs/{job.pk}/"
    assert body["url"] == f"/jobs/{job.pk}/"
    assert response["Location"] == f"/api/v1/jobs/{job.pk}/"
    assert body["recipe"]["num_images"] == 2 and body["recipe"]["seed"] == job.seed
    assert "model_source" not in body["recipe"]  # a server path stays on the server


def test_field_errors_use_the_one_error_format(alice_api, tiny_model):
    response = alice_api.post(
        "/api/v1/jobs/", {"prompt": "", "width": 100, "steps": 999}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] and body["code"] == "invalid"
    assert set(body["errors"]) == {"prompt", "width", "steps"}
    assert "multiple of 8" in body["errors"]["width"][0]
    assert not GenerationJob.objects.exists()


def test_wrong_types_are_field_errors(alice_api, tiny_model):
    response = alice_api.post("/api/v1/jobs/", {"prompt": "x", "seed": "abc"}, format="json")
    assert response.status_code == 400
    assert "seed" in response.json()["errors"]


def test_a_client_cannot_claim_a_parent_or_strength(alice_api, tiny_model):
    response = alice_api.post(
        "/api/v1/jobs/", {"prompt": "x", "parent": "abc", "init_strength": 0.5}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"parent", "init_strength"}
    assert not GenerationJob.objects.exists()


def test_quota_answers_429_with_a_message(alice_api, tiny_model, settings):
    settings.GENERATION_MAX_ACTIVE_JOBS = 1
    assert alice_api.post("/api/v1/jobs/", {"prompt": "x"}, format="json").status_code == 201
    response = alice_api.post("/api/v1/jobs/", {"prompt": "y"}, format="json")
    assert response.status_code == 429
    assert "limit is 1" in response.json()["detail"]
    assert response["Retry-After"]


def test_anonymous_cannot_submit(api, tiny_model):
    response = api.post("/api/v1/jobs/", {"prompt": "x"}, format="json")

    # 401, not 403: the first authentication class (API tokens) names its scheme.
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["code"] == "not_authenticated"
    assert not GenerationJob.objects.exists()


def test_jobs_are_private_to_their_owner_and_moderators(alice_api, bob_api, mod, tiny_model):
    from rest_framework.test import APIClient

    job_id = alice_api.post("/api/v1/jobs/", {"prompt": "x"}, format="json").json()["id"]
    assert alice_api.get(f"/api/v1/jobs/{job_id}/").status_code == 200
    response = bob_api.get(f"/api/v1/jobs/{job_id}/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert bob_api.get("/api/v1/jobs/").json()["results"] == []
    moderator = APIClient()
    moderator.force_authenticate(mod)
    assert moderator.get(f"/api/v1/jobs/{job_id}/").status_code == 200
    assert bob_api.post(f"/api/v1/jobs/{job_id}/cancel/").status_code == 404


def test_malformed_job_id_is_404(alice_api):
    assert alice_api.get("/api/v1/jobs/not-a-uuid/").status_code == 404


def test_list_my_jobs_filters_by_status(alice_api, tiny_model):
    first = alice_api.post("/api/v1/jobs/", {"prompt": "one"}, format="json").json()["id"]
    alice_api.post("/api/v1/jobs/", {"prompt": "two"}, format="json")
    alice_api.post(f"/api/v1/jobs/{first}/cancel/")
    body = alice_api.get("/api/v1/jobs/?status=cancelled").json()
    assert [job["id"] for job in body["results"]] == [first]
    assert len(alice_api.get("/api/v1/jobs/").json()["results"]) == 2


def test_cancel_twice_is_a_conflict(alice_api, tiny_model):
    job_id = alice_api.post("/api/v1/jobs/", {"prompt": "x"}, format="json").json()["id"]
    assert alice_api.post(f"/api/v1/jobs/{job_id}/cancel/").json()["status"] == "cancelled"
    response = alice_api.post(f"/api/v1/jobs/{job_id}/cancel/")
    assert response.status_code == 409 and "already cancelled" in response.json()["detail"]


def test_models_and_styles_are_listed(api, tiny_model, style_presets):
    models = api.get("/api/v1/models/").json()
    assert [m["slug"] for m in models] == ["tiny"] and models[0]["paints_noise"] is True
    styles = api.get("/api/v1/styles/").json()
    assert len(styles) >= 10 and all("{prompt}" in s["prompt_template"] for s in styles)


def test_job_list_query_count_is_fixed(alice_api, tiny_model, django_assert_max_num_queries):
    for n in range(3):
        alice_api.post("/api/v1/jobs/", {"prompt": f"p{n}"}, format="json")
    with django_assert_max_num_queries(8) as small:
        alice_api.get("/api/v1/jobs/")
    for n in range(3, 12):
        GenerationJob.objects.create(
            user=GenerationJob.objects.first().user,
            model=tiny_model,
            prompt=f"p{n}",
            seed=n,
            steps=4,
            guidance_scale=7,
            width=64,
            height=64,
            frozen={},
        )
    with django_assert_max_num_queries(len(small.captured_queries)):
        alice_api.get("/api/v1/jobs/")
