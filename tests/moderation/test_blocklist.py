"""The prompt gate (issue 10): blocklist entries refuse or hold members' text.

Words and phrases match whole tokens after folding (case, accents, Unicode look-alikes,
invisible characters), never inside an innocent word; regular expressions are validated
when saved and cut off when slow. A ``block`` entry refuses a job's prompts before any job
exists, and a portrait's title, description or tags before anything changes, on pages and
in the API alike, quoting only the member's own words; a ``review`` entry lets the job run
and holds its portraits, each with a review case in the queue, unpublishable until
cleared. Each entry counts what it refused or held.
"""

from __future__ import annotations

import re

import pytest
from django.forms import modelform_factory

from config.errors import DomainError
from config.gates import TextRefused, text_gate_check
from generation import services as generation
from generation.models import GenerationJob, SubmissionKey
from moderation import blocklist
from moderation.blocklist import Blocklist, Entry, pattern_problems, text_fold
from moderation.models import BlockedTerm, Case
from portraits import community
from portraits.models import Portrait
from portraits.services import portrait_update
from tests.support import paint_job

V = Portrait.Visibility


def scan(entries, text: str, field: str = "prompt") -> list[str]:
    """The member's words that ``entries`` (patterns, or (kind, pattern)) matched in ``text``."""
    compiled = Blocklist(
        Entry(id=index, kind=kind, pattern=pattern, action="block")
        for index, (kind, pattern) in enumerate(
            (entry if isinstance(entry, tuple) else ("phrase", entry)) for entry in entries
        )
    )
    return [hit.words for hit in compiled.scan({field: text})]


# --- Folding --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "folded"),
    [
        ("Crème Brûlée", "creme brulee"),  # accents
        ("STRASSE straße", "strasse strasse"),  # case folding, not just lower()
        ("ｎａｚｉ", "nazi"),  # fullwidth
        ("𝐧𝐚𝐳𝐢", "nazi"),  # mathematical bold
        ("nаzі", "nazi"),  # Cyrillic а and і
        ("ΝΑΖΙ", "nazi"),  # Greek capitals
        ("NAZІ", "nazi"),  # Cyrillic capital І imitating I
        ("ꓠazi", "nazi"),  # Lisu letter imitating N
        ("n\u200baz\u00adi", "nazi"),  # zero-width space and soft hyphen typed inside
        ("ﬁne", "fine"),  # ligature
    ],
)
def test_text_is_folded_for_case_accents_and_look_alikes(typed, folded):
    assert text_fold(typed).text == folded


def test_ascii_is_never_remapped():
    # "1" and "l", "rn" and "m" look alike, but remapping ASCII would make innocent words
    # collide; regular expressions cover leetspeak explicitly.
    assert text_fold("l1 rn 0o").text == "l1 rn 0o"


def test_letters_of_other_scripts_with_no_latin_twin_stay_themselves():
    # п and т have no Latin twin; е and р look like e and p, and fold to them.
    assert text_fold("Пётр 色情").text == "\u043fe\u0442p 色情"


# --- Words and phrases ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "innocent",
    [
        "a classic class portrait",
        "the assassin's bass guitar",
        "passage, embassy, compass",
        "assets",
        "ass123",  # letters and digits are one token
    ],
)
def test_a_word_never_matches_inside_an_innocent_word(innocent):
    assert scan([("word", "ass")], innocent) == []


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("What an ass!", ["ass"]),
        ("ASS", ["ASS"]),
        ("kick-ass hero", ["ass"]),  # hyphens separate words
        ("snake_ass", ["ass"]),  # so do underscores
        ("Аss", ["Аss"]),  # Cyrillic А: quoted as typed
        ("a\u200bss", ["a\u200bss"]),
    ],
)
def test_a_word_matches_as_a_whole_token_whatever_its_case_or_disguise(text, words):
    assert scan([("word", "ass")], text) == words


def test_a_phrase_matches_its_words_in_order_with_only_separators_between():
    phrase = [("phrase", "red hot")]
    assert scan(phrase, "a RED, hot evening") == ["RED, hot"]
    assert scan(phrase, "red   hot") == ["red   hot"]
    assert scan(phrase, "red-hot chili") == ["red-hot"]
    assert scan(phrase, "hot red") == []
    assert scan(phrase, "red hotel") == []
    assert scan(phrase, "bored hot") == []


def test_an_entry_with_accents_matches_text_without_them_and_back():
    assert scan([("word", "crème")], "creme caramel") == ["creme"]
    assert scan([("word", "creme")], "Crème caramel") == ["Crème"]
    assert scan([("word", "Ærøskøbing")], "ærøskøbing harbour") == ["ærøskøbing"]


def test_an_entry_typed_with_look_alikes_matches_plain_text():
    assert scan([("word", "nаzі")], "a nazi uniform") == ["nazi"]  # the entry is Cyrillic


def test_words_of_scripts_without_spaces_match_inside_a_sentence():
    assert scan([("word", "色情")], "这是色情图片") == ["色情"]
    assert scan([("word", "色情")], "这是色的情") == []


def test_every_distinct_occurrence_is_quoted_once():
    assert scan([("word", "nazi")], "Nazi, nazi and NAZI and nazi") == ["Nazi", "nazi", "NAZI"]


# --- Regular expressions --------------------------------------------------------------------


def test_a_regex_searches_the_folded_text_and_quotes_what_the_member_typed():
    entries = [("regex", r"\bnud(e|ity)\b")]
    assert scan(entries, "Nüdity in art") == ["Nüdity"]
    assert scan(entries, "a NUDE study") == ["NUDE"]
    assert scan(entries, "nudes") == []


def test_a_regex_catches_what_a_word_cannot():
    leet = [("regex", r"\bn[a4@]z[i1!]\b")]
    assert scan(leet, "n4z1 flag") == ["n4z1"]


def test_a_regex_that_runs_out_of_time_holds_the_text_for_review_instead_of_hanging():
    # Saved behind the validation's back: (a|aa)+$ backtracks exponentially.
    compiled = Blocklist([Entry(id=7, kind="regex", pattern=r"(a|aa)+$", action="block")])
    (hit,) = compiled.scan({"prompt": "a" * 60 + "!"})
    assert hit.timed_out and hit.entry.action == "review" and hit.entry.id == 7
    assert blocklist.refusal_messages([hit]) == {}  # nothing to quote, nothing refused


def test_an_invalid_regex_saved_anyway_is_skipped():
    compiled = Blocklist([Entry(id=1, kind="regex", pattern="([", action="block")])
    assert compiled.scan({"prompt": "(["}) == []


# --- Validating an entry --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "pattern", "problem"),
    [
        ("regex", "([", "Not a valid regular expression"),
        ("regex", r"(a+)+$", "repeat inside a repeat"),
        ("regex", r"(\w+\s?)+$", "repeat inside a repeat"),
        ("regex", r"(?:.*,){20}x", "repeat inside a repeat"),
        ("regex", r"(a|aa)+$", "Alternatives that can match the same text"),
        ("regex", r"(a|)+b", "Alternatives that can match the same text"),
        ("regex", r"x*", "matches empty text"),
        ("regex", r"caf[eé]", "“é” (write “e”)"),
        ("regex", r"\p{L}+", "standard regular expression syntax"),
        ("regex", "a" * 201, "At most 200"),
        ("word", "two words", "make it a phrase"),
        ("word", "!!!", "no letters or digits"),
        ("phrase", "  ", "Enter a pattern"),
    ],
)
def test_a_bad_pattern_is_refused_with_a_reason(kind, pattern, problem):
    problems = pattern_problems(kind=kind, pattern=pattern)
    assert any(problem in message for message in problems), problems


@pytest.mark.parametrize(
    ("kind", "pattern"),
    [
        ("regex", r"\bn[a4@]z[i1!]\b"),
        ("regex", r"(cat|car|dog)+s"),
        ("regex", r"(a++)+$"),  # possessive: nothing to give back
        ("regex", r"(?>a+)+$"),  # atomic likewise
        ("regex", r"\d{3}-\d{4}"),
        ("regex", r"(ab{2}c){3}"),  # both repeats small and bounded
        ("word", "Ærøskøbing"),
        ("phrase", "red hot"),
        ("phrase", "色情"),
    ],
)
def test_a_sound_pattern_is_accepted(kind, pattern):
    assert pattern_problems(kind=kind, pattern=pattern) == []


@pytest.mark.django_db
def test_a_catastrophic_regex_is_refused_when_saved_and_nothing_is_stored(admin_client):
    response = admin_client.post(
        "/admin/moderation/blockedterm/add/",
        {"kind": "regex", "pattern": r"(a+)+$", "action": "block", "is_active": "on", "note": ""},
    )
    assert response.status_code == 200  # the form again, with the error
    assert "repeat inside a repeat" in response.content.decode()
    assert not BlockedTerm.objects.exists()

    form = modelform_factory(BlockedTerm, fields=["kind", "pattern", "action"])(
        {"kind": "regex", "pattern": "([", "action": "review"}
    )
    assert not form.is_valid()
    assert "Not a valid regular expression" in form.errors["pattern"][0]

    sound = modelform_factory(BlockedTerm, fields=["kind", "pattern", "action"])(
        {"kind": "regex", "pattern": r"\bn[a4]zi\b", "action": "review"}
    )
    assert sound.is_valid(), sound.errors


# --- The gate at submission -----------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_enqueue(request):
    if "db" not in request.fixturenames:  # the engine's tests need no database
        yield
        return
    # Jobs are finished by hand (paint_job); nothing is sent to a broker.
    with request.getfixturevalue("django_capture_on_commit_callbacks")(execute=False):
        yield


@pytest.fixture
def terms(db):
    """A small blocklist: one of each kind, and a review word."""
    return {
        "word": BlockedTerm.objects.create(kind="word", pattern="gore", action="block"),
        "phrase": BlockedTerm.objects.create(kind="phrase", pattern="blood bath", action="block"),
        "regex": BlockedTerm.objects.create(kind="regex", pattern=r"\bn[a4]k[e3]d\b"),
        "review": BlockedTerm.objects.create(kind="word", pattern="lingerie", action="review"),
        "off": BlockedTerm.objects.create(kind="word", pattern="portrait", is_active=False),
    }


def counts(term: BlockedTerm) -> tuple[int, int]:
    term.refresh_from_db()
    return term.refused_count, term.matched_count


def test_a_blocked_prompt_is_refused_before_any_job_exists(alice, painter, terms):
    with pytest.raises(TextRefused) as refused:
        generation.job_submit(
            user=alice,
            spec={"prompt": "a portrait, GÖRE everywhere", "negative_prompt": "blood, bath"},
        )

    assert refused.value.field_errors == {
        "prompt": ["Not allowed here: “GÖRE”. Please rephrase."],
        "negative_prompt": ["Not allowed here: “blood, bath”. Please rephrase."],
    }
    assert not GenerationJob.objects.exists()
    assert counts(terms["word"]) == (1, 0) and counts(terms["phrase"]) == (1, 0)
    assert counts(terms["review"]) == (0, 0) and counts(terms["off"]) == (0, 0)


def test_an_inactive_entry_or_an_innocent_word_lets_the_prompt_through(alice, painter, terms):
    job = generation.job_submit(
        user=alice, spec={"prompt": "a gorey portrait of a bloodbath survivor, snaked"}
    )
    assert job.held_for_review is False
    assert [counts(term) for term in terms.values()] == [(0, 0)] * 5


def test_a_refusal_quotes_the_member_s_words_never_the_list(alice, painter, terms):
    with pytest.raises(TextRefused) as refused:
        generation.job_submit(user=alice, spec={"prompt": "a N4K3D sitter"})
    message = " ".join(refused.value.field_errors["prompt"])
    assert "“N4K3D”" in message
    assert terms["regex"].pattern not in message and "gore" not in message


def test_the_api_answers_400_with_the_field_and_stores_nothing(alice_api, painter, terms):
    response = alice_api.post(
        "/api/v1/jobs/", {"prompt": "a quiet portrait", "negative_prompt": "gore"}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "text_refused"
    assert body["errors"] == {"negative_prompt": ["Not allowed here: “gore”. Please rephrase."]}
    assert not GenerationJob.objects.exists()
    assert counts(terms["word"]) == (1, 0)


def test_a_refusal_with_an_idempotency_key_is_counted_and_keeps_no_key(alice_api, painter, terms):
    # The key's transaction is committed for a refusal, not rolled back: the count stays.
    response = alice_api.post(
        "/api/v1/jobs/",
        {"prompt": "blood bath"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="0d1e5c6f-0000-4000-8000-000000000001",
    )

    assert response.status_code == 400 and "prompt" in response.json()["errors"]
    assert not GenerationJob.objects.exists() and not SubmissionKey.objects.exists()
    assert counts(terms["phrase"]) == (1, 0)


def test_the_create_page_shows_the_refusal_on_the_field(client, alice, painter, terms):
    client.force_login(alice)
    response = client.post("/create/", {"prompt": "gore and more", "model": "painter"})

    assert response.status_code == 400
    page = response.content.decode()
    assert "Not allowed here: “gore”" in page
    assert not GenerationJob.objects.exists()


def test_a_remix_with_a_blocked_prompt_is_refused(alice, bob, painter, terms):
    job = generation.job_submit(user=alice, spec={"prompt": "a fisherman"})
    (portrait,) = paint_job(job.pk)
    portrait_update(portrait=portrait, by=alice, data={"visibility": V.PUBLIC})

    with pytest.raises(TextRefused):
        generation.job_submit_remix(
            user=bob, portrait=portrait, changes={"prompt": "a fisherman in gore"}
        )
    assert GenerationJob.objects.count() == 1


def test_reproducing_a_prompt_blocked_since_is_refused_as_such_and_counted(alice, painter):
    job = generation.job_submit(user=alice, spec={"prompt": "a butcher, gore"})
    (portrait,) = paint_job(job.pk)
    term = BlockedTerm.objects.create(kind="word", pattern="gore")

    with pytest.raises(TextRefused) as refused:
        generation.job_submit_reproduction(user=alice, portrait=portrait)
    assert "prompt" in refused.value.field_errors  # not a "cannot be reproduced" conflict
    assert GenerationJob.objects.count() == 1
    assert counts(term) == (1, 0)


def test_without_a_registered_gate_nothing_is_refused(alice, terms, monkeypatch):
    monkeypatch.setattr("config.gates._gates", [])
    assert text_gate_check({"prompt": "gore"}, user=alice) is False


# --- The review path ------------------------------------------------------------------------


def test_a_review_match_runs_the_job_and_holds_each_portrait_in_the_queue(alice, painter, terms):
    job = generation.job_submit(
        user=alice, spec={"prompt": "a dancer in Lingerie, studio light", "num_images": 2}
    )
    assert job.held_for_review is True
    assert counts(terms["review"]) == (0, 1)

    portraits = paint_job(job.pk)

    assert [p.held_for_review for p in portraits] == [True, True]
    cases = Case.objects.filter(kind=Case.Kind.REVIEW, status=Case.Status.OPEN)
    assert sorted(c.target_portrait_id for c in cases) == sorted(p.pk for p in portraits)
    assert all("“Lingerie”" in case.notes and "prompt" in case.notes for case in cases)
    # A job that matched nothing stores portraits that are not held.
    (plain,) = paint_job(generation.job_submit(user=alice, spec={"prompt": "a dancer"}).pk)
    assert plain.held_for_review is False
    assert not Case.objects.filter(target_portrait=plain).exists()


@pytest.fixture
def held(alice, painter, terms):
    job = generation.job_submit(user=alice, spec={"prompt": "lingerie", "num_images": 2})
    return paint_job(job.pk)


def test_a_held_portrait_cannot_be_published_or_unlisted(alice, held, alice_api, client):
    first, second = held
    for visibility in (V.PUBLIC, V.UNLISTED):
        with pytest.raises(DomainError) as refused:
            portrait_update(portrait=first, by=alice, data={"visibility": visibility})
        assert "visibility" in refused.value.field_errors
    with pytest.raises(DomainError) as refused:
        community.portraits_visibility_set(by=alice, choices={second.public_id: V.PUBLIC})
    assert second.public_id in refused.value.field_errors

    response = alice_api.post(f"/api/v1/portraits/{first.public_id}/publish/")
    assert response.status_code == 400 and "visibility" in response.json()["errors"]
    response = alice_api.post(
        f"/api/v1/jobs/{first.job_id}/publish/",
        {"portraits": {first.public_id: "public"}},
        format="json",
    )
    assert response.status_code == 400
    client.force_login(alice)
    client.post(f"/p/{first.public_id}/visibility/", {"visibility": "public"})

    rows = Portrait.objects.filter(pk__in=[first.pk, second.pk])
    assert {(row.visibility, row.published_at) for row in rows} == {(V.PRIVATE, None)}
    # Private it may stay, and its owner may still edit it.
    portrait_update(portrait=first, by=alice, data={"visibility": V.PRIVATE, "title": "Study"})
    assert Portrait.objects.get(pk=first.pk).title == "Study"


def test_once_cleared_a_held_portrait_may_be_published(alice, held):
    first, _ = held
    Portrait.objects.filter(pk=first.pk).update(held_for_review=False)  # the moderator's clear
    first.refresh_from_db()
    portrait_update(portrait=first, by=alice, data={"visibility": V.PUBLIC})
    assert Portrait.objects.get(pk=first.pk).visibility == V.PUBLIC


# --- The gate on portrait edits -------------------------------------------------------------


@pytest.fixture
def portrait(alice, painter):
    (row,) = paint_job(generation.job_submit(user=alice, spec={"prompt": "a baker"}).pk)
    portrait_update(
        portrait=row, by=alice, data={"visibility": V.PUBLIC, "description": "Warm bread."}
    )
    row.refresh_from_db()
    return row


def _unchanged(portrait: Portrait) -> None:
    row = Portrait.objects.get(pk=portrait.pk)
    assert (row.title, row.description, row.visibility, row.held_for_review) == (
        "a baker",
        "Warm bread.",
        V.PUBLIC,
        False,
    )
    assert list(row.tags.values_list("slug", flat=True)) == []


def test_the_edit_page_refuses_a_blocked_title_on_its_field(client, alice, portrait, terms):
    client.force_login(alice)
    response = client.post(
        f"/p/{portrait.public_id}/edit/",
        {"title": "Gore", "description": "Warm bread.", "visibility": "public", "tags": ""},
    )

    assert response.status_code == 400
    assert "Not allowed here: “Gore”" in response.content.decode()
    _unchanged(portrait)
    assert counts(terms["word"]) == (1, 0)


def test_the_edit_page_refuses_blocked_tags(client, alice, portrait, terms):
    client.force_login(alice)
    response = client.post(
        f"/p/{portrait.public_id}/edit/",
        {
            "title": "a baker",
            "description": "Warm bread.",
            "visibility": "public",
            "tags": "bread, gore",
        },
    )
    assert response.status_code == 400
    assert "Not allowed here: “gore”" in response.content.decode()
    _unchanged(portrait)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "Blood bath"}, "title"),
        ({"description": "Fresh bread, n4ked"}, "description"),
        ({"tags": ["bread", "gore"]}, "tags"),
    ],
)
def test_the_api_refuses_a_blocked_edit_with_field_errors_and_changes_nothing(
    alice_api, portrait, terms, changes, field
):
    response = alice_api.patch(f"/api/v1/portraits/{portrait.public_id}/", changes, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "text_refused" and list(body["errors"]) == [field]
    assert body["errors"][field][0].startswith("Not allowed here: “")
    _unchanged(portrait)


def test_a_refused_edit_with_other_errors_reports_them_all(alice_api, portrait, terms):
    response = alice_api.patch(
        f"/api/v1/portraits/{portrait.public_id}/",
        {"title": "gore", "tags": ["!!!"]},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"title", "tags"}
    _unchanged(portrait)


def test_an_edit_is_checked_only_for_what_it_changes(alice, client, portrait, terms):
    # The title was accepted before "baker" was blocked: editing the description (the
    # page sends the title again) must not refuse it now.
    BlockedTerm.objects.create(kind="word", pattern="baker")
    client.force_login(alice)
    response = client.post(
        f"/p/{portrait.public_id}/edit/",
        {"title": "a baker", "description": "Rye.", "visibility": "public", "tags": ""},
    )
    assert response.status_code == 302
    assert Portrait.objects.get(pk=portrait.pk).description == "Rye."


def test_an_edit_matching_a_review_entry_is_saved_held_private_and_queued(
    alice_api, portrait, terms
):
    response = alice_api.patch(
        f"/api/v1/portraits/{portrait.public_id}/",
        {"description": "Bread and lingerie"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    row = Portrait.objects.get(pk=portrait.pk)
    assert row.description == "Bread and lingerie"
    assert row.held_for_review and row.visibility == V.PRIVATE
    (case,) = Case.objects.filter(target_portrait=row, kind="review", status="open")
    assert "description: “lingerie”" in case.notes
    assert counts(terms["review"]) == (0, 1)
    # Another edit while held opens no second case.
    alice_api.patch(
        f"/api/v1/portraits/{portrait.public_id}/", {"title": "Lingerie"}, format="json"
    )
    assert Case.objects.filter(target_portrait=row).count() == 1


def test_folded_quotes_are_the_member_s_own_characters():
    folded = text_fold("Ａ ＧＯＲＥ")
    match = re.search("gore", folded.text)
    assert folded.source(*match.span()) == "ＧＯＲＥ"


def test_the_edit_page_says_a_review_hold_and_the_portrait_page_offers_no_publish(
    client, alice, portrait, terms
):
    client.force_login(alice)
    response = client.post(
        f"/p/{portrait.public_id}/edit/",
        {"title": "Lingerie", "description": "Warm bread.", "visibility": "public", "tags": ""},
        follow=True,
    )

    page = response.content.decode()
    assert "need a moderator&#x27;s review" in page or "need a moderator's review" in page
    assert "Waiting for a moderator" in page
    assert 'name="visibility" value="public"' not in page  # no Publish button while held
    row = Portrait.objects.get(pk=portrait.pk)
    assert row.title == "Lingerie" and row.held_for_review and row.visibility == V.PRIVATE


def test_the_reproduce_button_says_which_words_are_refused(client, alice, painter):
    (portrait,) = paint_job(generation.job_submit(user=alice, spec={"prompt": "gore"}).pk)
    BlockedTerm.objects.create(kind="word", pattern="gore")
    client.force_login(alice)

    response = client.post(f"/p/{portrait.public_id}/reproduce/", follow=True)

    assert "Not allowed here: “gore”" in response.content.decode()
    assert GenerationJob.objects.count() == 1
