from __future__ import annotations

from pathlib import Path

import pytest
from rest_framework.test import APIClient

from accounts.services import api_token_create


@pytest.fixture
def stored_files(settings):
    """The files under MEDIA_ROOT (a fresh folder per test), relative, sorted."""

    def files() -> list[str]:
        root = Path(settings.MEDIA_ROOT)
        if not root.exists():
            return []
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    return files


@pytest.fixture
def alice_key(alice):
    _, key = api_token_create(user=alice, name="laptop")
    return key


@pytest.fixture
def alice_token_api(alice_key):
    """alice through a real token header (not force_authenticate)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {alice_key}")
    return client
