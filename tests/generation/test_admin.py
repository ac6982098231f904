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
