"""Tags: owners set them on the edit form and by API (normalised, at most a limit), the
portrait page links them, and the edit form suggests some from the style."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portraits.models import TAGS_MAX_PER_PORTRAIT, Portrait, Tag
from portraits.services import portrait_update

V = Portrait.Visibility

pytestmark = pytest.mark.django_db


def _tags(portrait) -> list[str]:
    return sorted(Portrait.objects.get(pk=portrait.pk).tags.values_list("slug", flat=True))


def _edit_url(portrait) -> str:
    return reverse("portraits:edit", kwargs={"public_id": portrait.public_id})


def _form(portrait, **changes) -> dict:
    return {
        "title": portrait.title,
        "description": portrait.description,
        "visibility": portrait.visibility,
        "tags": "",
        **changes,
    }


# --- The edit form ----------------------------------------------------------------------


def test_owner_tags_a_portrait_on_the_edit_form_and_the_page_links_them(
    alice, create_portrait, client
):
    portrait = create_portrait(alice)
    client.force_login(alice)

    response = client.post(
        _edit_url(portrait), _form(portrait, tags="Harbour, #dusk  Oil_Painting harbour")
    )

    assert response.status_code == 302
    assert _tags(portrait) == ["dusk", "harbour", "oil_painting"]
    page = client.get(portrait.get_absolute_url()).content.decode()
    for slug in ("dusk", "harbour", "oil_painting"):
        tag = Tag.objects.get(slug=slug)
        assert f'<a class="tag" href="{tag.get_absolute_url()}">#{slug}</a>' in page
    # The form opens with them, and search reads them.
    edit = client.get(_edit_url(portrait)).content.decode()
    assert 'value="dusk, harbour, oil_painting"' in edit
    assert "harbour" in Portrait.objects.get(pk=portrait.pk).search_text


def test_emptying_the_field_removes_every_tag(alice, create_portrait, client):
    portrait = create_portrait(alice)
    portrait_update(portrait=portrait, by=alice, data={"tags": ["one", "two"]})
    client.force_login(alice)

    client.post(_edit_url(portrait), _form(portrait, tags=""))

    assert _tags(portrait) == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            " ".join(f"tag{n}" for n in range(TAGS_MAX_PER_PORTRAIT + 1)),
            "At most 10 tags (11 given).",
        ),
        ("fine, !!!", "“!!!” has no letters or digits."),
        ("---", "has no letters or digits."),
        ("x" * 41, "longer than 40 characters"),
    ],
)
def test_bad_tags_on_the_form_are_a_field_error_and_nothing_changes(
    alice, create_portrait, client, raw, message
):
    portrait = create_portrait(alice)
    portrait_update(portrait=portrait, by=alice, data={"tags": "kept"})
    client.force_login(alice)

    response = client.post(
        _edit_url(portrait), _form(portrait, title="A new title", tags=raw, visibility="private")
    )

    assert response.status_code == 400
    form = response.context["form"]
    assert any(message in error for error in form.errors["tags"])
    fresh = Portrait.objects.get(pk=portrait.pk)
    assert (fresh.title, fresh.visibility) == (portrait.title, V.PUBLIC)
    assert _tags(portrait) == ["kept"]


def test_edit_form_suggests_tags_from_the_style(alice, bob, create_portrait, client, style_presets):
    listed = create_portrait(bob, style="film-noir")
    portrait_update(portrait=listed, by=bob, data={"tags": "rain, detective"})
    hidden = create_portrait(bob, style="film-noir", visibility=V.PRIVATE)
    portrait_update(portrait=hidden, by=bob, data={"tags": "secret-word"})
    mature = create_portrait(bob, style="film-noir")
    portrait_update(portrait=mature, by=bob, data={"tags": "mature-word", "rating": "mature"})
    portrait = create_portrait(alice, style="film-noir")
    client.force_login(alice)

    html = client.get(_edit_url(portrait)).content.decode()

    suggestions = html.split('class="tag-suggestions"')[1].split("</ul>")[0]
    assert 'data-target="id_tags"' in suggestions
    for slug in ("film-noir", "detective", "rain"):
        assert f'data-tag="{slug}"' in suggestions
    assert "secret-word" not in suggestions  # only listed portraits' tags are suggested
    assert "mature-word" not in suggestions  # and only general ones': alice has not opted in
    assert "portraits/tags.js" in html


def test_others_cannot_tag_a_portrait(alice, bob, create_portrait, client):
    portrait = create_portrait(alice)
    client.force_login(bob)

    response = client.post(_edit_url(portrait), _form(portrait, tags="mine"))

    assert response.status_code == 403 and _tags(portrait) == []


# --- The API ------------------------------------------------------------------------------


def _api_url(portrait) -> str:
    return f"/api/v1/portraits/{portrait.public_id}/"


def test_owner_sets_tags_by_api_as_a_list(alice, create_portrait, alice_api):
    portrait = create_portrait(alice)

    response = alice_api.patch(
        _api_url(portrait), {"tags": ["Dusk", "Oil Painting", "dusk"]}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["tags"] == ["dusk", "oil-painting"]
    assert _tags(portrait) == ["dusk", "oil-painting"]
    alice_api.patch(_api_url(portrait), {"tags": []}, format="json")
    assert _tags(portrait) == []


@pytest.mark.parametrize(
    "tags",
    [
        [f"tag{n}" for n in range(TAGS_MAX_PER_PORTRAIT + 1)],  # too many
        ["fine", "!!!"],  # punctuation only
        ["#"],
        ["x" * 41],  # too long
        [""],  # blank
        ["   "],
        [1],  # not text
        [["nested"]],
        "dusk",  # not a list
        {"dusk": True},
        None,
        ["nul\x00"],
    ],
)
def test_bad_tags_by_api_are_a_400_on_tags_and_nothing_changes(
    alice, create_portrait, alice_api, tags
):
    portrait = create_portrait(alice)
    portrait_update(portrait=portrait, by=alice, data={"tags": ["kept"]})

    response = alice_api.patch(
        _api_url(portrait), {"title": "Renamed", "tags": tags}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and body["errors"]["tags"]
    assert _tags(portrait) == ["kept"]
    assert Portrait.objects.get(pk=portrait.pk).title == portrait.title


def test_punctuation_only_tag_names_the_tag_in_its_error(alice, create_portrait, alice_api):
    portrait = create_portrait(alice)

    response = alice_api.patch(_api_url(portrait), {"tags": ["ok", "?!"]}, format="json")

    assert response.json()["errors"] == {"tags": ["“?!” has no letters or digits."]}


def test_others_cannot_tag_by_api(alice, bob, create_portrait, bob_api, api):
    portrait = create_portrait(alice)
    private = create_portrait(alice, visibility=V.PRIVATE)

    assert bob_api.patch(_api_url(portrait), {"tags": ["x"]}, format="json").status_code == 403
    assert bob_api.patch(_api_url(private), {"tags": ["x"]}, format="json").status_code == 404
    assert api.patch(_api_url(portrait), {"tags": ["x"]}, format="json").status_code in (401, 403)
    assert _tags(portrait) == [] and _tags(private) == []


def test_setting_the_same_tags_again_writes_nothing(
    alice, create_portrait, django_assert_max_num_queries
):
    portrait = create_portrait(alice)
    portrait_update(portrait=portrait, by=alice, data={"tags": ["a", "b"]})
    portrait = Portrait.objects.get(pk=portrait.pk)

    with django_assert_max_num_queries(1):  # reads the tags, finds them the same
        portrait_update(portrait=portrait, by=alice, data={"tags": "b a"})
