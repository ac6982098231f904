"""Every scheduler the site offers paints: one tiny job each, through the real services."""

from __future__ import annotations

import pytest

from config.errors import DomainError
from generation import services
from generation.forms import JobForm
from generation.models import GenerationJob
from generation.tasks import run_job
from portraits.recipe import SCHEDULERS

Status = GenerationJob.Status


def test_the_form_offers_exactly_the_schedulers_of_the_recipe_table(db):
    offered = [name for name, _ in JobForm().fields["scheduler"].choices if name]

    assert offered == list(SCHEDULERS)


def test_a_scheduler_not_offered_is_refused_at_submission(alice, painter):
    with pytest.raises(DomainError) as caught:
        services.job_submit(
            user=alice, spec={"prompt": "a sailor", "scheduler": "LMSDiscreteScheduler"}
        )
    assert "scheduler" in caught.value.field_errors
    assert not GenerationJob.objects.exists()


@pytest.mark.inference
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("scheduler", list(SCHEDULERS))
def test_every_offered_scheduler_paints(
    scheduler, alice, tiny_model, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        job = services.job_submit(
            user=alice,
            spec={"prompt": "a sailor", "scheduler": scheduler, "steps": 2, "seed": 5},
        )

    run_job.apply(args=[str(job.pk)])

    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    (portrait,) = job.portraits.all()
    assert portrait.recipe["scheduler"] == scheduler
