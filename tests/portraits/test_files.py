"""What the stored original PNG says about itself: recipe chunks and Content Credentials."""

from __future__ import annotations

import pytest

from portraits import credentials, imagefiles, selectors

pytestmark = pytest.mark.django_db


def _stored(portrait) -> bytes:
    with portrait.image.open("rb") as handle:
        return handle.read()


def test_stored_png_carries_the_a1111_parameters_and_provenance(alice, bob, create_portrait, remix):
    original = create_portrait(alice, prompt="a fisherman, oil", negative_prompt="blurry", seed=3)
    child = remix(original, bob, prompt="a fisherman, charcoal", steps=9, init_strength=0.5)

    embedded = imagefiles.read_png_metadata(_stored(child))

    parsed = imagefiles.parse_a1111_parameters(embedded["parameters"])
    assert parsed["prompt"] == "a fisherman, charcoal"
    assert parsed["negative_prompt"] == "blurry"
    assert parsed["params"]["Steps"] == "9"
    assert parsed["params"]["Seed"] == "3"
    assert parsed["params"]["Size"] == "64x64"
    assert parsed["params"]["CFG scale"] == "7.0"
    assert parsed["params"]["Model"] == "Painter"
    assert parsed["params"]["Denoising strength"] == "0.5"

    provenance = embedded["provenance"]
    assert provenance["portrait"] == {
        "id": child.public_id,
        "url": f"https://likeness.test/p/{child.public_id}/",
    }
    assert provenance["author"]["username"] == "bob"
    assert provenance["parent"] == {
        "id": original.public_id,
        "url": f"https://likeness.test/p/{original.public_id}/",
    }
    assert provenance["lineage"] == [original.public_id]
    assert provenance["generator"]["diffusers"] == "0.42.1"
    assert provenance["generator"]["torch"] == "2.13.0+cpu"
    assert provenance["generator"]["device"] == "cpu"
    assert provenance["recipe"]["seed"] == 3
    assert "model_source" not in provenance["recipe"]  # may be a server path


def test_a_style_is_written_as_the_prompt_the_model_received(alice, create_portrait):
    from generation.models import StylePreset

    StylePreset.objects.update_or_create(
        slug="test-noir",
        defaults={
            "name": "Noir",
            "prompt_template": "{prompt}, film noir",
            "negative_prompt": "color",
        },
    )
    portrait = create_portrait(alice, prompt="a detective", style="test-noir")

    parsed = imagefiles.parse_a1111_parameters(
        imagefiles.read_png_metadata(_stored(portrait))["parameters"]
    )

    assert parsed["prompt"] == "a detective, film noir"
    assert parsed["negative_prompt"] == "color"
    assert parsed["params"]["Style"] == "Noir"


def test_manifest_of_a_remix_verifies_and_names_its_parent(
    alice, bob, carol, create_portrait, remix, c2pa_dev_credentials
):
    original = create_portrait(alice, prompt="a lighthouse")
    child = remix(original, bob, prompt="a lighthouse in a storm")
    grandchild = remix(child, carol, prompt="a lighthouse in a storm, at dawn")
    chain, _key = c2pa_dev_credentials
    anchors = (chain.parent / "ca.pem").read_bytes()

    parent_report = credentials.read_manifest(_stored(child), trust_anchors_pem=anchors)
    report = credentials.read_manifest(_stored(grandchild), trust_anchors_pem=anchors)

    assert report["valid"] and report["trusted"], report["validation_errors"]
    # Neutral titles, never the prompt: every descendant's file keeps these for good.
    assert report["title"] == f"Likeness portrait {grandchild.public_id}"
    assert report["author"] == "Carol"
    assert report["url"] == f"https://likeness.test/p/{grandchild.public_id}/"
    assert report["digital_source_type"] == credentials.TRAINED_ALGORITHMIC_MEDIA
    assert report["parent"]["relationship"] == "parentOf"
    assert report["parent"]["title"] == f"Likeness portrait {child.public_id}"
    # The ingredient is the parent's signed file itself: its manifest, by label.
    assert report["parent"]["manifest_label"] == parent_report["active_manifest"]["label"]
    original_report = credentials.read_manifest(_stored(original), trust_anchors_pem=anchors)
    assert original_report["valid"] and original_report["parent"] is None


def test_signing_is_the_last_write_so_any_change_breaks_the_manifest(alice, create_portrait):
    portrait = create_portrait(alice)
    data = bytearray(_stored(portrait))
    data[-20] ^= 0xFF  # inside the image data, far from the manifest chunk

    report = credentials.read_manifest(bytes(data))

    assert report["valid"] is False


def test_portrait_credentials_reads_back_the_stored_file_and_checks_it_names_the_portrait(
    alice, create_portrait
):
    portrait = create_portrait(alice)

    report = selectors.portrait_credentials(portrait=portrait, viewer=alice)

    assert report["present"] and report["valid"] and report["trusted"]
    assert report["matches_portrait"] is True
    assert report["png_provenance"]["portrait"]["id"] == portrait.public_id
    assert report["png_parameters"].startswith("a portrait of a woman with red hair")


def test_remix_of_a_parent_deleted_while_queued_is_signed_as_a_remix_not_an_original(
    alice, bob, create_portrait, paint, client, django_capture_on_commit_callbacks
):
    from generation import services as generation_services
    from portraits import services

    original = create_portrait(alice, prompt="a beekeeper")
    job = generation_services.job_submit_remix(
        portrait=original, user=bob, changes={"prompt": "two bees"}
    )
    with django_capture_on_commit_callbacks(execute=True):  # the file goes after commit
        assert services.portrait_delete(portrait=original, by=alice) is True

    (child,) = paint(job)
    # The file as signed: a viewer's report leaves the deleted parent's id out.
    report = credentials.file_report(selectors.portrait_original_bytes(portrait=child))

    assert report["valid"] and report["trusted"], report["validation_errors"]
    assert report["digital_source_type"] == credentials.TRAINED_ALGORITHMIC_MEDIA
    actions = next(
        a["data"]["actions"]
        for a in report["active_manifest"]["assertions"]
        if a["label"] == "c2pa.actions.v2"
    )
    assert [a["action"] for a in actions] == ["c2pa.opened", "c2pa.edited"]
    assert "deleted, or not to be named" in actions[1]["description"]
    # A tombstone is named nowhere, the file included.
    assert report["parent"]["title"] == "Likeness portrait (not named)"
    assert original.public_id.encode() not in selectors.portrait_original_bytes(portrait=child)
    assert report["parent"]["manifest_label"] is None  # nothing of the deleted file
    # Still a remix, of a parent it does not name.
    assert report["png_provenance"]["parent"] == {"id": None, "url": None}
    assert report["png_provenance"]["lineage"] == [None]
    assert (child.parent_id, child.depth) == (original.pk, 1)
    client.force_login(bob)
    page = client.get(f"/p/{child.public_id}/credentials/").content.decode()
    assert "Deleted or not to be named when this portrait was painted." in page
