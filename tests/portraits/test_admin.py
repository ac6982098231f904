"""The portraits admin, as a moderator reads it: each row says what the portrait is and
where it stands (deleted, hidden, held, rated, who can see it) in the staff's words; a
portrait's page shows its recipe in the create form's words, what it changed, and its
family as links to the other portraits' pages, by title."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portraits.models import Portrait
from portraits.services import portrait_delete
from tests.portraits.factories import PortraitFactory, recipe_for

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/portraits/portrait/"


def change_url(portrait: Portrait) -> str:
    return f"/admin/portraits/portrait/{portrait.pk}/change/"


@pytest.fixture
def mod_client(mod):
    client = Client()
    client.force_login(mod)
    return client


def _row(page: str, portrait: Portrait) -> str:
    """The change list's row of ``portrait`` (its checkbox or its link opens it)."""
    start = page.index(change_url(portrait))
    return page[page.rindex("<tr", 0, start) : page.index("</tr>", start)]


def _field(page: str, name: str) -> str:
    """A change page's read-only field ``name``: from its row to the next row."""
    start = page.index(f"field-{name}")
    end = page.find('<div class="form-row', start)
    return page[start : end if end != -1 else None]


def test_a_deleted_portrait_lists_as_deleted_not_as_public_with_its_title(
    mod_client, alice, bob, create_portrait, remix
):
    original = create_portrait(alice, prompt="a lighthouse keeper")
    remix(original, bob, prompt="a lighthouse keeper at night")
    assert portrait_delete(portrait=original, by=alice)  # a tombstone: it has a remix
    original.refresh_from_db()

    row = _row(mod_client.get(CHANGELIST).content.decode(), original)

    assert "Deleted" in row
    assert "Public (in the gallery)" not in row
    assert f"<del>{original.title}</del>" in row and "(deleted)" in row
    assert "/thumbnail/" not in row  # its files are gone: no broken image


def test_each_row_says_its_state_in_words(mod_client, alice):
    hidden = PortraitFactory(
        author=alice,
        title="Hidden one",
        hidden_at=timezone.now(),
        hidden_cause=Portrait.HiddenCause.MODERATION,
    )
    suspended = PortraitFactory(
        author=alice,
        title="Suspended one",
        hidden_at=timezone.now(),
        hidden_cause=Portrait.HiddenCause.SUSPENSION,
    )
    held = PortraitFactory(
        author=alice,
        title="Held one",
        visibility=Portrait.Visibility.PRIVATE,
        held_for_review=True,
        rating=Portrait.Rating.MATURE,
        rating_locked=True,
    )
    unlisted = PortraitFactory(author=alice, visibility=Portrait.Visibility.UNLISTED)

    page = mod_client.get(CHANGELIST).content.decode()

    assert "Hidden by moderators" in _row(page, hidden)
    assert "Hidden: author suspended" in _row(page, suspended)
    held_row = _row(page, held)
    assert "Held for review" in held_row and "Mature, locked" in held_row
    assert "Private (its author only)" in held_row
    assert "Unlisted (anyone with the link)" in _row(page, unlisted)


def test_visibility_is_labelled_for_the_staff_not_for_the_owner(mod_client, admin_client, alice):
    portrait = PortraitFactory(author=alice, visibility=Portrait.Visibility.PRIVATE)

    pages = {
        "list (moderator)": mod_client.get(CHANGELIST).content.decode(),
        "page (moderator, read-only)": mod_client.get(change_url(portrait)).content.decode(),
        "list (administrator)": admin_client.get(CHANGELIST).content.decode(),
        "form (administrator)": admin_client.get(change_url(portrait)).content.decode(),
    }

    for name, page in pages.items():
        assert "only you" not in page, name
        assert "Private (its author only)" in page, name
    # The administrator's select still saves the same values.
    assert (
        '<option value="private" selected>Private (its author only)</option>'
        in (pages["form (administrator)"])
    )


def test_the_author_links_to_their_account_and_a_gone_author_is_named(mod_client, alice, bob):
    portrait = PortraitFactory(author=alice)
    orphan = PortraitFactory(author=bob)
    orphan.author = None
    orphan.save(update_fields=["author"])

    page = mod_client.get(CHANGELIST).content.decode()

    assert f'<a href="/admin/accounts/user/{alice.pk}/change/">alice</a>' in _row(page, portrait)
    assert "bob (account deleted)" in _row(page, orphan)


def test_a_remix_row_names_what_it_remixes(mod_client, alice, bob):
    parent = PortraitFactory(author=alice, title="Lighthouse")
    child = PortraitFactory(author=bob, title="Lighthouse at night", parent=parent)

    page = mod_client.get(CHANGELIST).content.decode()

    assert "remix of “Lighthouse”" in _row(page, child)


def _changelist_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(CHANGELIST)
    assert response.status_code == 200
    return len(queries)


def test_the_change_list_reads_a_fixed_number_of_queries_whatever_is_on_the_page(
    mod_client, alice, bob, carol
):
    PortraitFactory(author=alice)
    few = _changelist_queries(mod_client)
    # Many more rows, of every kind a column reads more about: remixes (their parent's
    # title), a deleted parent, an author whose account is gone, hidden and held ones.
    for author in (alice, bob, carol):
        parent = PortraitFactory(author=author)
        PortraitFactory(author=bob, parent=parent)
        PortraitFactory(author=carol, parent=parent, held_for_review=True)
    gone = PortraitFactory(author=bob)
    PortraitFactory(author=alice, parent=gone)
    Portrait.objects.filter(pk=gone.pk).update(deleted_at=timezone.now(), author=None)
    PortraitFactory(author=carol, hidden_at=timezone.now(), hidden_cause="moderation")

    assert _changelist_queries(mod_client) == few


def test_the_recipe_reads_in_the_create_forms_words_with_raw_json_collapsed(
    mod_client, alice, create_portrait, style_presets
):
    style = style_presets.exclude(negative_prompt="").first()
    portrait = create_portrait(
        alice,
        prompt="a lighthouse keeper",
        style=style.slug,
        scheduler="DPMSolverMultistepScheduler",
    )

    page = mod_client.get(change_url(portrait)).content.decode()

    recipe = _field(page, "recipe_view")
    readable = recipe[: recipe.index("Technical details")]
    assert "<dl" in readable and "<dt>Sampler</dt>" in readable and "DPM++ 2M" in readable
    assert "DPMSolverMultistepScheduler" not in readable  # only in the technical details
    assert "<dt>Style</dt>" in readable and style.name in readable
    assert "Adds to the negative prompt" in readable and style.negative_prompt in readable
    # The JSON is there for whoever needs it, but only in the collapsed "Stored data".
    stored = page.index('<fieldset class="module aligned collapse"')
    assert page.count("<pre") == 2 and page.index("<pre") > stored
    assert "<summary>" in page[stored : page.index("<pre")]


def test_what_a_remix_changed_reads_as_lineage_shows_it(mod_client, alice, bob):
    parent = PortraitFactory(author=alice, recipe=recipe_for("a lighthouse keeper"))
    child = PortraitFactory(
        author=bob, parent=parent, recipe=recipe_for("a lighthouse keeper at night", seed=9)
    )

    changed = _field(mod_client.get(change_url(child)).content.decode(), "changes_view")

    assert '<ins class="diff-add">at night</ins>' in changed
    assert "<dt>seed</dt>" in changed and '<del class="diff-del">1</del>' in changed
    assert '"prompt_diff"' not in changed  # not the JSON


def test_the_family_links_to_each_portraits_admin_page_by_title(mod_client, alice, bob, carol):
    root = PortraitFactory(author=alice, title="Lighthouse")
    parent = PortraitFactory(author=bob, title="Lighthouse at night", parent=root)
    child = PortraitFactory(author=carol, title="Lighthouse in fog", parent=parent)
    sibling = PortraitFactory(author=alice, title="Lighthouse in rain", parent=parent)

    child_page = mod_client.get(change_url(child)).content.decode()
    parent_page = mod_client.get(change_url(parent)).content.decode()

    family = _field(child_page, "lineage")
    assert f'<a href="{change_url(root)}">Lighthouse</a> by alice' in family
    assert f'<a href="{change_url(parent)}">Lighthouse at night</a> by bob' in family
    assert family.index("Lighthouse</a>") < family.index("Lighthouse at night</a>")
    assert f"#{root.pk}" not in family and "→" not in family
    remixes = _field(parent_page, "remixes")
    assert f'<a href="{change_url(child)}">Lighthouse in fog</a> by carol' in remixes
    assert f'<a href="{change_url(sibling)}">Lighthouse in rain</a> by alice' in remixes
    assert "2 direct remixes" in remixes


def test_the_remixes_link_opens_the_list_of_exactly_those(mod_client, alice, bob):
    parent = PortraitFactory(author=alice, title="Lighthouse")
    child = PortraitFactory(author=bob, title="Lighthouse at night", parent=parent)
    grandchild = PortraitFactory(author=alice, title="Lighthouse in fog", parent=child)
    PortraitFactory(author=bob, title="Unrelated")

    remixes = _field(mod_client.get(change_url(parent)).content.decode(), "remixes")
    links = dict(
        (text, href.replace("&amp;", "&"))
        for href, text in re.findall(r'<a href="([^"]*\?[^"]*)">([^<]*)</a>', remixes)
    )
    direct = mod_client.get(links["1 direct remix"]).content.decode()
    everyone = mod_client.get(links["2 descendants in all"]).content.decode()

    assert change_url(child) in direct and change_url(grandchild) not in direct
    assert change_url(child) in everyone and change_url(grandchild) in everyone
    assert "Unrelated" not in direct + everyone and change_url(parent) not in everyone


def test_a_deleted_parent_reads_deleted_in_the_family(
    mod_client, alice, bob, create_portrait, remix
):
    original = create_portrait(alice, prompt="a lighthouse keeper")
    child = remix(original, bob, prompt="a lighthouse keeper at night")
    portrait_delete(portrait=original, by=alice)

    child_page = mod_client.get(change_url(child)).content.decode()
    original_page = mod_client.get(change_url(original)).content.decode()

    assert f'<a href="{change_url(original)}">{original.title}</a>' in _field(child_page, "lineage")
    assert "(deleted)" in _field(child_page, "lineage")
    assert "Deleted" in _field(original_page, "state")
    assert "its page is gone" in _field(original_page, "page_link")
    assert "View on site" not in original_page and "View on site" in child_page


def test_a_reproduction_reads_as_one_and_links_its_original(
    mod_client, alice, bob, create_portrait, remix, paint
):
    from generation.services import job_submit_reproduction

    original = create_portrait(alice, prompt="a lighthouse keeper")
    child = remix(original, bob, prompt="a lighthouse keeper at night")
    (copy,) = paint(job_submit_reproduction(user=bob, portrait=child))

    row = _row(mod_client.get(CHANGELIST).content.decode(), copy)
    page = mod_client.get(change_url(copy)).content.decode()

    assert f"reproduction of “{child.title}”" in row and "remix of" not in row
    reproduction = _field(page, "reproduction")
    assert f'<a href="{change_url(child)}">{child.title}</a> by bob' in reproduction
    assert ("its pixels match" if copy.pixels_match else "its pixels differ") in reproduction


def test_the_job_links_where_the_reader_may_follow_it(
    mod_client, admin_client, alice, create_portrait
):
    portrait = create_portrait(alice)

    moderators = _field(mod_client.get(change_url(portrait)).content.decode(), "job_page_link")
    administrators = _field(admin_client.get(change_url(portrait)).content.decode(), "job_link")

    site_page = f"/jobs/{portrait.job_id}/"
    assert f'<a href="{site_page}">' in moderators
    assert mod_client.get(site_page).status_code == 200  # moderators see every job there
    admin_page = f"/admin/generation/generationjob/{portrait.job_id}/change/"
    assert f'<a href="{admin_page}">' in administrators
    assert admin_client.get(admin_page).status_code == 200
