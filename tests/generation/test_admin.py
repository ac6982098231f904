"""The generation admin writes through the services, as every other caller does."""

from __future__ import annotations

import pytest
from django.contrib.admin import helpers

from generation import services
from generation.models import GenerationModel

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/generation/generationmodel/"


@pytest.fixture
def models():
    old, _ = services.model_register(name="Old", slug="old", source="org/old", make_default=True)
    new, _ = services.model_register(name="New", slug="new", source="org/new")
    GenerationModel.objects.filter(pk=new.pk).update(is_enabled=False)
    return old, new


def _act(admin_client, action, *models):
    return admin_client.post(
        CHANGELIST,
        {"action": action, helpers.ACTION_CHECKBOX_NAME: [model.pk for model in models]},
        follow=True,
    )


def test_make_default_moves_the_flag_and_enables_the_model(admin_client, models):
    old, new = models

    response = _act(admin_client, "make_default", new)

    old.refresh_from_db()
    new.refresh_from_db()
    assert new.is_default and new.is_enabled
    assert not old.is_default
    assert "New is now the default model." in response.content.decode()


def test_make_default_goes_through_the_registry_service(admin_client, models, monkeypatch):
    _, new = models
    made = []
    service = services.model_make_default

    def spy(*, model):
        made.append(model.pk)
        return service(model=model)

    monkeypatch.setattr(services, "model_make_default", spy)

    _act(admin_client, "make_default", new)

    assert made == [new.pk]


def test_make_default_wants_exactly_one_model(admin_client, models):
    old, new = models

    response = _act(admin_client, "make_default", old, new)

    assert "Select exactly one model." in response.content.decode()
    assert list(GenerationModel.objects.filter(is_default=True)) == [old]


# --- Jobs, as a moderator reads them (issue 11) -----------------------------------------


def _job_url(job) -> str:
    return f"/admin/generation/generationjob/{job.pk}/change/"


def _field(page: str, name: str) -> str:
    start = page.index(f"field-{name}")
    end = page.find('<div class="form-row', start)
    return page[start : end if end != -1 else None]


@pytest.fixture
def remix_job(painter, alice, bob, style_presets):
    """bob's four-image remix, painted, of alice's public "Lighthouse" (styled, sampled)."""
    from generation.services import job_submit, job_submit_remix
    from portraits.services import portrait_update
    from tests.support import paint_job

    style = style_presets.exclude(negative_prompt="").first()
    spec = {"prompt": "a lighthouse keeper", "style": style.slug, "seed": 3}
    (parent,) = paint_job(job_submit(user=alice, spec=spec).pk)
    portrait_update(portrait=parent, by=alice, data={"title": "Lighthouse", "visibility": "public"})
    job = job_submit_remix(
        user=bob,
        portrait=parent,
        changes={"scheduler": "DPMSolverMultistepScheduler", "num_images": 4},
    )
    return job, parent, style, paint_job(job.pk)


def test_a_jobs_page_reads_its_recipe_and_links_its_parent_and_portraits_by_title(
    admin_client, remix_job
):
    job, parent, style, made = remix_job

    page = admin_client.get(_job_url(job)).content.decode()

    recipe = _field(page, "recipe_view")
    readable = recipe[: recipe.index("Technical details")]
    assert "<dt>Sampler</dt>" in readable and "DPM++ 2M" in readable
    assert "DPMSolverMultistepScheduler" not in readable
    assert style.name in readable and "Adds to the negative prompt" in readable
    parent_url = f"/admin/portraits/portrait/{parent.pk}/change/"
    assert f'<a href="{parent_url}">Lighthouse</a> by alice' in _field(page, "parent_link")
    portraits = _field(page, "portraits_made")
    for portrait in made:
        assert f'<a href="/admin/portraits/portrait/{portrait.pk}/change/">' in portraits
    # Nothing here can be edited: no button pretends otherwise; the JSON is collapsed.
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    stored = page.index('<fieldset class="module aligned collapse"')
    assert page.count("<pre") == 2 and page.index("<pre") > stored


def test_the_job_list_reads_a_fixed_number_of_queries_whatever_is_on_the_page(
    admin_client, remix_job, painter, alice, bob
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from generation.services import job_submit, job_submit_remix

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = admin_client.get("/admin/generation/generationjob/")
        assert response.status_code == 200
        return len(captured)

    few = queries()
    _, parent, _, _ = remix_job
    for user in (alice, bob):
        job_submit(user=user, spec={"prompt": "a gardener"})
        job_submit_remix(user=user, portrait=parent, changes={"seed": 5})

    page = admin_client.get("/admin/generation/generationjob/").content.decode()
    assert queries() == few
    assert "remix of “Lighthouse”" in page
