"""The portraits admin shows a portrait's recipe and its changes as readable JSON."""

from __future__ import annotations

import html
import json

import pytest

pytestmark = pytest.mark.django_db


def test_the_change_page_shows_the_recipe_and_the_changes_as_json(
    admin_client, alice, create_portrait, remix
):
    child = remix(create_portrait(alice), alice, prompt="a lighthouse keeper at dusk")

    page = html.unescape(
        admin_client.get(f"/admin/portraits/portrait/{child.pk}/change/").content.decode()
    )

    assert f"<pre>{json.dumps(child.recipe, indent=2, ensure_ascii=False)}</pre>" in page
    assert f"<pre>{json.dumps(child.changes, indent=2, ensure_ascii=False)}</pre>" in page
    assert child.changes  # a remix's changes are never empty: the test shows something
