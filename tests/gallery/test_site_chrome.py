"""What every page carries: the favicon and the navigation (base.html)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


def test_every_page_links_the_favicon_and_favicon_ico_leads_to_it(client):
    html = client.get("/").content.decode()
    assert '<link rel="icon" href="/static/gallery/favicon.svg" type="image/svg+xml">' in html

    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/gallery/favicon.svg"
    assert "max-age=86400" in response["Cache-Control"]


def test_a_members_links_fold_into_a_menu_disclosure(client, alice):
    client.force_login(alice)
    html = client.get("/").content.decode()
    menu = re.search(r'<details class="nav-menu" data-nav-menu>(.*?)</details>', html, re.S)
    assert menu, "no menu disclosure"
    summary = re.search(r"<summary[^>]*>(.*?)</summary>", menu.group(1), re.S).group(1)
    assert "Menu" in summary
    # Every link is inside it, so that on a phone the header is the brand and one button.
    for href in ("/explore/", "/create/", "/jobs/", "/settings/"):
        assert f'href="{href}"' in menu.group(1)
    assert "gallery/nav.js" in html


def test_a_visitors_links_need_no_menu(client):
    html = client.get("/").content.decode()
    assert "nav-menu" not in html and "gallery/nav.js" not in html
    assert 'href="/accounts/login/"' in html
