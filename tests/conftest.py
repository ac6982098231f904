"""The standard cast and clients, shared by every test module.

alice owns things, bob and carol are other members, mod is a moderator, and anonymous is
nobody. The suite runs against whatever DATABASE_URL / REDIS_URL say; tests that
need PostgreSQL or Redis are marked and skipped (with the reason) when those are
not configured, and `.ci/run` configures both.
"""

from __future__ import annotations

import os

import pytest

PASSWORD = "correct-horse-battery-staple"
# Small defaults so tests paint fast, and room above them for what a test asks for.
MODEL_LIMITS = {
    "default_steps": 4,
    "max_steps": 50,
    "default_guidance": 7.0,
    "max_guidance": 20.0,
    "default_width": 64,
    "default_height": 64,
    "max_width": 256,
    "max_height": 256,
}


def pytest_collection_modifyitems(config, items):
    if not config.pluginmanager.has_plugin("django"):
        return  # plain-function runs with -p no:django
    from django.conf import settings

    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    on_redis = bool(settings.REDIS_URL)
    require = os.environ.get("LIKENESS_REQUIRE_SERVICES") == "1"
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            if require:
                raise pytest.UsageError(
                    "LIKENESS_REQUIRE_SERVICES=1 but DATABASE_URL is not PostgreSQL"
                )
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL"))
        if "redis" in item.keywords and not on_redis:
            if require:
                raise pytest.UsageError("LIKENESS_REQUIRE_SERVICES=1 but REDIS_URL is not set")
            item.add_marker(pytest.mark.skip(reason="needs Redis: set REDIS_URL"))
        if "rabbitmq" in item.keywords and not os.environ.get("RABBITMQ_URL"):
            if require:
                raise pytest.UsageError("LIKENESS_REQUIRE_SERVICES=1 but RABBITMQ_URL is not set")
            item.add_marker(pytest.mark.skip(reason="needs RabbitMQ: set RABBITMQ_URL"))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    """Before a test's fixtures (its database among them) are torn down, let a queue-position
    pass that its start or cancel asked for finish: the pass reads the database from a
    thread of its own (generation.services.lifecycle.QueuePositionPublisher)."""
    if item.config.pluginmanager.has_plugin("django"):
        from generation.services.lifecycle import queue_positions_publisher

        assert queue_positions_publisher.wait_idle(timeout=60), "a queue-position pass hung"


@pytest.fixture(autouse=True)
def _fast_passwords_and_fresh_throttles(request):
    if not request.config.pluginmanager.has_plugin("django"):
        yield
        return
    from django.core.cache import cache

    # PBKDF2 at full strength costs ~0.3 s a hash; the suite hashes hundreds.
    request.getfixturevalue("settings").PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher"
    ]
    # DRF's and allauth's rate limits count in the cache: start every test at zero.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session")
def c2pa_dev_credentials(tmp_path_factory):
    """A throwaway development CA and signing key, made once per test session."""
    from portraits.dev_ca import create_dev_ca

    return create_dev_ca(tmp_path_factory.mktemp("c2pa"))


@pytest.fixture(autouse=True)
def _media_and_keys_in_tmp(request, tmp_path):
    if request.config.pluginmanager.has_plugin("django"):
        settings = request.getfixturevalue("settings")
        settings.MEDIA_ROOT = tmp_path / "media"
        chain, key = request.getfixturevalue("c2pa_dev_credentials")
        settings.C2PA_SIGNING_CERTS, settings.C2PA_SIGNING_KEY = chain, key


@pytest.fixture
def make_user(db, django_user_model):
    def make(username: str, **extra):
        extra.setdefault("email", f"{username}@example.com")
        return django_user_model.objects.create_user(username=username, password=PASSWORD, **extra)

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice", display_name="Alice Liddell")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def carol(make_user):
    """A third member, for what takes more than two (a remix of a remix, a follower)."""
    return make_user("carol", display_name="Carol")


@pytest.fixture
def mod(make_user):
    from django.contrib.auth.models import Group

    user = make_user("mod", is_staff=True)
    user.groups.add(Group.objects.get(name="Moderators"))
    return user


def _api_client(user=None):
    from rest_framework.test import APIClient

    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def api():
    return _api_client()


@pytest.fixture
def alice_api(alice):
    return _api_client(alice)


@pytest.fixture
def bob_api(bob):
    return _api_client(bob)


@pytest.fixture
def style_presets(db):
    """The seeded style presets, again: transactional tests flush data migrations away."""
    import importlib

    from django.apps import apps

    from generation.models import StylePreset

    if not StylePreset.objects.exists():
        importlib.import_module("generation.migrations.0003_seed_style_presets").seed(apps, None)
    return StylePreset.objects.all()


@pytest.fixture
def prompt_modifiers(db):
    """The seeded prompt builder's chips, again (as ``style_presets``)."""
    import importlib

    from django.apps import apps

    from generation.models import PromptModifier

    if not PromptModifier.objects.exists():
        importlib.import_module("generation.migrations.0016_seed_prompt_modifiers").seed(apps, None)
    return PromptModifier.objects.all()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """The tiny offline pipeline, built once per test session (random weights)."""
    from generation.tinymodel import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("models") / "likeness-tiny")


@pytest.fixture
def tiny_model(db, tiny_model_dir):
    """The tiny pipeline registered as the default model, with test-sized defaults."""
    from generation.services import model_register

    model, _ = model_register(
        name="Tiny",
        slug="tiny",
        source=str(tiny_model_dir),
        family="sd",
        demo="noise",
        limits=MODEL_LIMITS,
        make_default=True,
    )
    return model


@pytest.fixture
def turbo_model(tiny_model):
    """A second model with very different defaults (a turbo model's few steps and CFG 0),
    on the tiny pipeline's weights."""
    from generation.services import model_register

    model, _ = model_register(
        name="Turbo",
        slug="turbo",
        source=tiny_model.source,
        family="sd",
        limits={
            "default_steps": 2,
            "max_steps": 4,
            "default_guidance": 0.0,
            "max_guidance": 2.0,
            "default_width": 96,
            "default_height": 64,
            "max_width": 256,
            "max_height": 256,
        },
    )
    return model


@pytest.fixture
def painter(db):
    """A registered model that is never loaded: tests that store results without running
    the pipeline (``tests/portraits/conftest.py``'s ``paint``) or only need ids use it."""
    from generation.services import model_register

    model, _ = model_register(
        name="Painter",
        slug="painter",
        source="/models/painter",
        family="sd",
        limits=MODEL_LIMITS,
        make_default=True,
    )
    return model
