"""The whole path with the real pipeline: job → Celery task → tiny model → portraits.

Only what needs real pixels lives here: reproducing a portrait paints the identical image
(same device class, dtype and torch thread count — one process here), for text-to-image
and for an image-to-image remix, which reads its parent's stored original.
"""

from __future__ import annotations

import pytest
from PIL import Image

from generation import services as generation_services
from generation.services import job_submit
from portraits import selectors, services
from portraits.models import Portrait

pytest.importorskip("diffusers")
pytestmark = [pytest.mark.django_db, pytest.mark.inference]


def _pixels(portrait: Portrait) -> bytes:
    with portrait.image.open("rb") as handle, Image.open(handle) as image:
        return image.convert("RGB").tobytes()


def _file(portrait: Portrait) -> bytes:
    with portrait.image.open("rb") as handle:
        return handle.read()


def _only_portrait(job) -> Portrait:
    (portrait,) = job.portraits.all()
    return portrait


def test_reproduce_paints_identical_pixels(alice, run_job):
    job = run_job(
        job_submit(user=alice, spec={"prompt": "a sea captain", "seed": 4321, "steps": 3})
    )
    portrait = _only_portrait(job)

    copy = _only_portrait(
        run_job(generation_services.job_submit_reproduction(portrait=portrait, user=alice))
    )
    other_seed = _only_portrait(
        run_job(job_submit(user=alice, spec={"prompt": "a sea captain", "seed": 4322, "steps": 3}))
    )

    assert copy.pk != portrait.pk
    assert copy.recipe["seed"] == portrait.recipe["seed"] == 4321
    assert copy.recipe["model_revision"] == portrait.recipe["model_revision"]
    assert copy.recipe["model_revision"].startswith("sha256:")
    assert _pixels(copy) == _pixels(portrait)
    assert _pixels(other_seed) != _pixels(portrait)  # the comparison can fail
    # The server compared them too, on the pixels (the two files differ byte for byte).
    assert (copy.reproduces, copy.pixels_match) == (portrait, True)
    assert copy.pixels_sha256 == portrait.pixels_sha256 != other_seed.pixels_sha256
    assert _file(copy) != _file(portrait)


def test_an_img2img_remix_reproduces_identically_and_credits_its_chain(
    alice, bob, run_job, bob_api
):
    original = _only_portrait(
        run_job(job_submit(user=alice, spec={"prompt": "a miller", "seed": 11, "steps": 4}))
    )
    services.portrait_update(portrait=original, by=alice, data={"visibility": "public"})

    response = bob_api.post(
        f"/api/v1/portraits/{original.public_id}/remix/",
        {"prompt": "a miller in the rain", "init_strength": 0.5},
    )
    assert response.status_code == 201, response.json()
    from generation.models import GenerationJob

    child = _only_portrait(run_job(GenerationJob.objects.get(pk=response.json()["id"])))
    copy = _only_portrait(
        run_job(generation_services.job_submit_reproduction(portrait=child, user=bob))
    )

    assert child.parent == original and child.is_img2img
    assert child.changes["init_strength"] == 0.5
    assert (copy.parent, copy.recipe["init_strength"]) == (original, 0.5)
    assert _pixels(copy) == _pixels(child)
    assert _pixels(child) != _pixels(original)
    assert [(c.username, c.role) for c in selectors.portrait_credits(portrait=child)] == [
        ("alice", "original"),
        ("bob", "img2img_remixer"),
    ]
    report = selectors.portrait_credentials(portrait=child, viewer=bob)
    assert report["valid"]
    assert report["parent"]["title"] == f"Likeness portrait {original.public_id}"
