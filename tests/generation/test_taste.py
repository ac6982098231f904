"""Taste: what a member keeps, learned over recipe features, and their control over it.

The model is pure (``generation.taste``); the signals are recorded by the real services on
the real database, from the choices that make them (a sweep's triage and pick, a publish,
a like, a remix, a deletion). Whether the suggestions are kept more than the baselines' is
the benchmark's (``bench/taste.py``), not a test's.
"""

from __future__ import annotations

import json
import random

import pytest

from gallery.services import like_add, like_remove
from generation import selectors, services, taste
from generation.models import GenerationJob, TasteSignal
from portraits.services import portrait_delete, portrait_publish
from tests.conftest import _api_client
from tests.support import paint_job

STYLES = [
    taste.Choice(slug, slug.title()) for slug in ("watercolour", "film-noir", "ukiyo-e", "neon")
]


def signal(kind, style, *extra, against=()):
    return taste.Signal(kind, (f"style:{style}", *extra), tuple(against))


# --- The model (pure) -------------------------------------------------------------------------


def test_a_recipe_reads_as_its_style_modifiers_words_and_bands():
    modifiers = [taste.Choice("golden-hour", "Golden hour", "golden hour light")]
    recipe = {
        "style": "watercolour",
        "prompt": "A smiling sailor, golden hour light, with a pipe",
        "guidance_scale": 7.5,
        "steps": 40,
        "width": 512,
        "height": 768,
    }

    assert taste.recipe_features(recipe, modifiers=modifiers) == [
        "guidance:medium",
        "modifier:golden-hour",
        "shape:tall",
        "steps:many",
        "style:watercolour",
        "word:pipe",
        "word:sailor",
        "word:smiling",
    ]
    assert "style:" in taste.recipe_features({"prompt": "x"})  # no style is a choice too


def test_a_style_kept_again_and_again_ranks_first_and_says_why():
    signals = [signal("keep", "ukiyo-e") for _ in range(7)] + [signal("discard", "ukiyo-e")] * 2
    signals += [signal("discard", "watercolour")] * 3
    fitted = taste.taste_fit(signals)

    assert [c.slug for c in taste.taste_order(fitted, STYLES, prefix="style:")][0] == "ukiyo-e"
    found = taste.taste_suggest(fitted, STYLES, prefix="style:", count=3, rng=random.Random(1))
    assert found[0].choice.slug == "ukiyo-e" and not found[0].explore
    assert found[0].why == "You kept 7 of 9 Ukiyo-E portraits."
    # Discarded, it is not suggested and ranks last.
    assert "watercolour" not in [s.choice.slug for s in found if not s.explore]
    assert taste.taste_order(fitted, STYLES, prefix="style:")[-1].slug == "watercolour"


def test_a_discarded_style_is_not_ranked_first_however_often_it_is_tried():
    fitted = taste.taste_fit([signal("discard", "neon")] * 10 + [signal("keep", "neon")])
    assert taste.taste_order(fitted, STYLES, prefix="style:")[0].slug != "neon"
    suggested = taste.taste_suggest(fitted, STYLES, prefix="style:", explore=False)
    assert suggested == []  # nothing is wanted yet: nothing claimed


def test_a_pick_between_two_moves_the_chosen_above_the_other_alone():
    words = ("word:sailor",)
    fitted = taste.taste_fit(
        [signal(taste.PREFER, "film-noir", *words, against=("style:neon", *words))] * 3
    )
    assert fitted.weight("style:film-noir") > 0 > fitted.weight("style:neon")
    assert fitted.weight("word:sailor") == 0  # shared by both: it says nothing
    assert fitted.evidence["style:film-noir"].won == 3
    names = {"style:film-noir": "Film noir", "style:neon": "Neon"}
    assert taste.why_text(fitted.evidence["style:film-noir"], "style:film-noir", names) == (
        "You picked the Film noir portrait in 3 of 3 comparisons."
    )
    assert taste.why_text(fitted.evidence["style:neon"], "style:neon", names) == (
        "You preferred another to the Neon portrait in 3 of 3 comparisons."
    )
    learned = taste.taste_learned(fitted, names)
    assert [r["feature"] for r in learned["likes"]] == ["style:film-noir"]
    assert [r["feature"] for r in learned["dislikes"]] == ["style:neon"]


def test_what_it_learned_leaves_out_what_every_choice_shared():
    shared = ("word:sailor", "steps:few")
    fitted = taste.taste_fit(
        [signal("keep", "neon", *shared)] * 3
        + [signal("discard", "film-noir", *shared)]
        + [signal(taste.PREFER, "neon", *shared, against=("style:film-noir", *shared))]
    )
    learned = taste.taste_learned(fitted, {})
    assert [r["feature"] for r in learned["likes"]] == ["style:neon"]
    assert [r["feature"] for r in learned["dislikes"]] == ["style:film-noir"]
    assert learned["dislikes"][0]["why"] == (
        "You discarded 1 of 1 film-noir portrait; "
        "you preferred another to the film-noir portrait in 1 of 1 comparison."
    )
    assert abs(fitted.weight("word:sailor")) < 0.1  # the intercept took the keep rate


def test_the_exploration_slot_keeps_a_style_other_than_the_favourites():
    fitted = taste.taste_fit([signal("keep", "ukiyo-e")] * 5 + [signal("keep", "neon")] * 5)
    for seed in range(10):
        found = taste.taste_suggest(
            fitted, STYLES, prefix="style:", count=3, rng=random.Random(seed)
        )
        assert [s.explore for s in found] == [False, False, True]
        assert found[-1].choice.slug in {"watercolour", "film-noir"}
        assert found[-1].why.startswith("Something new: you have not tried")


def test_the_community_prior_holds_only_what_enough_members_chose():
    alone = {"alice": [signal("keep", "neon")] * 20}
    assert taste.community_prior(alone) == {}  # one member's taste is not the community's

    members = {name: [signal("keep", "neon"), signal("discard", "film-noir")] for name in "abc"}
    prior = taste.community_prior(members)
    assert prior["style:neon"] > 0 > prior["style:film-noir"]
    newcomer = taste.taste_fit([], prior=prior)
    assert taste.taste_order(newcomer, STYLES, prefix="style:")[0].slug == "neon"
    found = taste.taste_suggest(newcomer, STYLES, prefix="style:", explore=False)
    assert found[0].why == "Members often keep Neon; you have not tried it yet."


# --- Signals from the choices that make them ----------------------------------------------------


@pytest.fixture
def styled(tiny_model, style_presets, prompt_modifiers):
    return tiny_model


def style_sweep(user, styles=("watercolour", "film-noir", "ukiyo-e", "neon-futurism")):
    sweep = services.sweep_submit(
        user=user, spec={"prompt": "an old sailor", "steps": 2}, axis="styles", values=list(styles)
    )
    for job in sweep.cells.order_by("sweep_position"):
        paint_job(job.pk)
    return sweep


def test_triage_and_picks_on_a_sweep_are_recorded_and_undone(styled, alice):
    sweep = style_sweep(alice)
    services.sweep_triage(sweep=sweep, position=2, choice="keep", by=alice)
    services.sweep_triage(sweep=sweep, position=1, choice="keep", by=alice)
    services.sweep_triage(sweep=sweep, position=1, choice="discard", by=alice)  # changed mind
    services.sweep_triage(sweep=sweep, position=0, choice="skip", by=alice)

    rows = list(TasteSignal.objects.filter(user=alice).order_by("kind"))
    assert [(r.kind, r.job.sweep_position) for r in rows] == [("discard", 1), ("keep", 2)]
    assert "style:ukiyo-e" in rows[1].features and "word:sailor" in rows[1].features

    services.sweep_triage(sweep=sweep, position=2, choice="", by=alice)  # undecided
    assert not TasteSignal.objects.filter(user=alice, kind="keep").exists()

    services.sweep_pick(sweep=sweep, chosen=3, over=0, by=alice)
    services.sweep_pick(sweep=sweep, chosen=0, over=3, by=alice)  # the same two: replaced
    pick = TasteSignal.objects.get(user=alice, kind="prefer")
    assert "style:watercolour" in pick.features and "style:neon-futurism" in pick.against


@pytest.mark.parametrize(
    "chosen, over, field, message",
    [
        (1, 1, "over", "Choose two different cells."),
        (1, 9, "over", "No cell 9 in this sweep."),
        ("x", 1, "chosen", "No cell x in this sweep."),
    ],
)
def test_a_bad_pick_says_why_and_records_nothing(styled, alice, chosen, over, field, message):
    sweep = style_sweep(alice, styles=("watercolour", "film-noir"))
    with pytest.raises(Exception) as refused:
        services.sweep_pick(sweep=sweep, chosen=chosen, over=over, by=alice)
    assert refused.value.field_errors[field] == [message]
    assert not TasteSignal.objects.exists()


def test_a_pick_needs_two_painted_cells_and_the_sweeps_member(styled, alice, bob_api):
    sweep = services.sweep_submit(
        user=alice, spec={"prompt": "a king", "steps": 2}, axis="seeds", values=2
    )
    refused = _api_client(alice).post(
        f"/api/v1/sweeps/{sweep.pk}/pick/", {"chosen": 0, "over": 1}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["errors"]["chosen"] == ["Cell 0 has no picture yet."]
    for job in sweep.cells.all():
        paint_job(job.pk)
    url = f"/api/v1/sweeps/{sweep.pk}/pick/"
    assert bob_api.post(url, {"chosen": 0, "over": 1}, format="json").status_code == 404
    assert not TasteSignal.objects.exists()
    assert _api_client(alice).post(url, {"chosen": 0, "over": 1}, format="json").status_code == 200
    assert TasteSignal.objects.get().user == alice


def test_publish_like_remix_and_delete_are_signals_of_their_member(styled, alice, bob):
    job = services.job_submit(
        user=alice, spec={"prompt": "a smiling queen", "style": "neon-futurism", "steps": 2}
    )
    (portrait,) = paint_job(job.pk)
    portrait_publish(portrait=portrait, by=alice)
    like_add(user=bob, portrait=portrait)
    remix = services.job_submit_remix(
        user=bob, portrait=portrait, changes={"prompt": "a sad queen"}
    )

    assert sorted(TasteSignal.objects.filter(user=alice).values_list("kind", flat=True)) == [
        "publish"
    ]
    assert sorted(TasteSignal.objects.filter(user=bob).values_list("kind", flat=True)) == [
        "like",
        "remix",
    ]
    assert "word:sad" in TasteSignal.objects.get(user=bob, kind="remix").features
    assert TasteSignal.objects.get(user=bob, kind="remix").job == remix

    like_remove(user=bob, portrait=portrait)
    assert not TasteSignal.objects.filter(user=bob, kind="like").exists()
    other = services.job_submit(user=alice, spec={"prompt": "a dull tree", "steps": 2})
    (tree,) = paint_job(other.pk)
    portrait_delete(portrait=tree, by=alice)
    deleted = TasteSignal.objects.get(user=alice, kind="delete")
    assert "word:tree" in deleted.features and deleted.portrait is None


def test_a_like_refused_records_nothing(styled, alice, bob_api):
    job = services.job_submit(user=alice, spec={"prompt": "a private thing", "steps": 2})
    (portrait,) = paint_job(job.pk)  # private
    assert bob_api.put(f"/api/v1/portraits/{portrait.public_id}/like/").status_code == 404
    assert not TasteSignal.objects.exists()


# --- The studio: suggestions, control, privacy ------------------------------------------------


def test_the_studio_suggests_what_the_member_keeps_and_explains_it(styled, alice, client):
    for _ in range(3):
        sweep = style_sweep(alice)
        services.sweep_triage(sweep=sweep, position=2, choice="keep", by=alice)
        services.sweep_triage(sweep=sweep, position=0, choice="discard", by=alice)

    studio = _api_client(alice).get("/api/v1/taste/").json()
    assert studio["learning"] is True and studio["signals"] == 6
    assert studio["source"] == "you"
    assert studio["style_order"][0] == "ukiyo-e"
    assert studio["style_order"][-1] == "watercolour"
    first = studio["styles"][0]
    assert first["slug"] == "ukiyo-e"
    assert first["why"] == "You kept 3 of 3 Ukiyo-e woodblock portraits."
    assert studio["styles"][-1]["explore"] is True
    assert studio["next_sweep"]["styles"][0] == "ukiyo-e"
    assert studio["next_sweep"]["prompt"] == "an old sailor"  # the latest idea swept
    assert studio["learned"]["likes"][0]["feature"] == "style:ukiyo-e"
    assert studio["learned"]["dislikes"][0]["feature"] == "style:watercolour"

    # The create form's picker puts it first, under "Suggested for you", and says why.
    client.force_login(alice)
    page = client.get("/create/").content.decode()
    assert '<optgroup label="Suggested for you">' in page
    assert page.index('value="ukiyo-e"') < page.index('value="watercolour"')
    assert "You kept 3 of 3 Ukiyo-e woodblock portraits." in page
    refused = client.post("/create/", {"prompt": "", "style": "ukiyo-e"})  # shown again
    assert refused.status_code == 400
    assert '<optgroup label="Suggested for you">' in refused.content.decode()
    sweep_page = client.get("/sweeps/new/").content.decode()
    assert 'id="next-sweep"' in sweep_page
    assert sweep_page.index('value="ukiyo-e"') < sweep_page.index('value="watercolour"')


def test_switched_off_it_records_and_suggests_nothing_and_reset_forgets(styled, alice):
    api = _api_client(alice)
    sweep = style_sweep(alice)
    services.sweep_triage(sweep=sweep, position=1, choice="keep", by=alice)
    services.sweep_triage(sweep=sweep, position=0, choice="discard", by=alice)

    off = api.post("/api/v1/taste/learning/", {"learning": False}, format="json").json()
    assert off["learning"] is False and off["styles"] == [] and off["next_sweep"] is None
    assert off["learned"]["likes"][0]["feature"] == "style:film-noir"  # still shown to them
    services.sweep_triage(sweep=sweep, position=2, choice="keep", by=alice)
    assert TasteSignal.objects.filter(user=alice).count() == 2

    bad = api.post("/api/v1/taste/learning/", {"learning": "perhaps"}, format="json")
    assert bad.status_code == 400 and "learning" in bad.json()["errors"]
    missing = api.post("/api/v1/taste/learning/", {}, format="json")
    assert missing.status_code == 400 and missing.json()["errors"]["learning"]
    for vague in (0, "off"):  # JSON true or false only
        answer = api.post("/api/v1/taste/learning/", {"learning": vague}, format="json")
        assert answer.json()["errors"]["learning"] == ["Must be true or false."]
    assert api.get("/api/v1/taste/").json()["learning"] is False

    on = api.post("/api/v1/taste/learning/", {"learning": True}, format="json").json()
    assert on["learning"] is True and on["styles"]
    reset = api.post("/api/v1/taste/reset/").json()
    assert reset["signals"] == 0 and reset["learned"] == {"likes": [], "dislikes": []}
    assert not TasteSignal.objects.filter(user=alice).exists()


def test_a_member_downloads_their_signals(styled, alice, client):
    sweep = style_sweep(alice)
    services.sweep_triage(sweep=sweep, position=0, choice="keep", by=alice)
    services.sweep_pick(sweep=sweep, chosen=0, over=1, by=alice)
    client.force_login(alice)

    for url in ("/taste/export/", "/api/v1/taste/export/"):
        answer = client.get(url)
        assert answer.status_code == 200
        assert answer["Content-Disposition"] == 'attachment; filename="likeness-taste-alice.json"'
        body = json.loads(answer.content)
        assert body["member"] == "alice" and body["learning"] is True
        assert [s["kind"] for s in body["signals"]] == ["keep", "prefer"]
        assert "style:watercolour" in body["signals"][1]["features"]
        assert "style:film-noir" in body["signals"][1]["against"]


def test_one_members_taste_is_never_shown_to_another(styled, alice, bob, carol, client):
    sweep = style_sweep(alice)
    for position in range(4):
        services.sweep_triage(sweep=sweep, position=position, choice="keep", by=alice)

    for viewer in (bob, carol):
        studio = _api_client(viewer).get("/api/v1/taste/").json()
        assert studio["signals"] == 0 and studio["source"] == "none"
        assert studio["styles"] == [] and studio["learned"] == {"likes": [], "dislikes": []}
        export = _api_client(viewer).get("/api/v1/taste/export/").json()
        assert export["signals"] == []
    assert _api_client().get("/api/v1/taste/").status_code in (401, 403)
    assert client.get("/taste/").status_code == 302  # to log in


def test_a_newcomer_starts_from_what_members_keep(styled, alice, bob, carol, make_user):
    for member in (alice, bob, carol):
        sweep = style_sweep(member, styles=("film-noir", "watercolour"))
        services.sweep_triage(sweep=sweep, position=0, choice="keep", by=member)
        services.sweep_triage(sweep=sweep, position=1, choice="discard", by=member)

    studio = selectors.taste_studio(user=make_user("dora"))
    assert studio["source"] == "community" and studio["signals"] == 0
    assert studio["style_order"][0] == "film-noir"
    assert studio["styles"][0]["why"] == "Members often keep Film noir; you have not tried it yet."


def test_the_taste_page_shows_learning_controls_and_suggestions(styled, alice, client):
    sweep = style_sweep(alice)
    services.sweep_triage(sweep=sweep, position=3, choice="keep", by=alice)
    services.sweep_triage(sweep=sweep, position=1, choice="discard", by=alice)
    client.force_login(alice)

    page = client.get("/taste/").content.decode()
    assert "It has learned from 2 choices of yours." in page
    assert "You kept 1 of 1 Neon futurism portrait." in page
    assert "Neon futurism (style)" in page and "Film noir (style)" in page
    assert "“sailor”" not in page  # every cell had it: nothing learned of it
    assert 'id="next-sweep"' in page

    off = client.post("/taste/learning/", {"learning": "off"}, follow=True).content.decode()
    assert "Learning is off" in off and "Switch learning on" in off
    client.post("/taste/reset/")
    assert not TasteSignal.objects.filter(user=alice).exists()
    assert GenerationJob.objects.filter(sweep=sweep).count() == 4  # the work itself stays


def test_the_next_sweep_never_takes_a_remixs_words(styled, alice, bob):
    job = services.job_submit(user=alice, spec={"prompt": "a secret garden", "steps": 2})
    (parent,) = paint_job(job.pk)
    portrait_publish(portrait=parent, by=alice)
    services.job_submit(user=bob, spec={"prompt": "bob's own idea", "steps": 2})
    services.job_submit_remix(user=bob, portrait=parent, changes={"seed": 5})
    services.taste_learning_set(user=bob, learning=True)
    like_add(user=bob, portrait=parent)

    studio = selectors.taste_studio(user=bob)
    assert studio["next_sweep"] is None or studio["next_sweep"]["prompt"] == "bob's own idea"
    assert selectors.taste_idea_last(user=bob) == "bob's own idea"
