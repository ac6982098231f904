"""config.text: what a title, description, display name or bio may show (pure, no database)."""

from __future__ import annotations

import pytest

from config.text import MAX_COMBINING_MARKS, UnsafeText, text_clean, text_is_visible


@pytest.mark.parametrize(
    ("given", "single_line", "multi_line"),
    [
        ("  Hello\tworld \n", "Hello world", "Hello\tworld"),
        ("Cafe\u0301", "Caf\u00e9", "Caf\u00e9"),  # NFC
        ("a\u202eevil\u202c b", "aevil b", "aevil b"),  # override and pop
        ("\u2066isolated\u2069 text", "isolated text", "isolated text"),
        ("bell\x07 and escape\x1b", "bell and escape", "bell and escape"),
        (
            "one\r\ntwo\rthree\u2028four\x85five",
            "one two three four five",
            "one\ntwo\nthree\nfour\nfive",
        ),
        ("lone \ud800surrogate", "lone surrogate", "lone surrogate"),
        ("\u200fRTL mark kept", "\u200fRTL mark kept", "\u200fRTL mark kept"),
        ("family \U0001f468\u200d\U0001f469\u200d\U0001f467", None, None),  # joiners kept
        ("\u2764\ufe0f", None, None),  # a variation selector is kept
        ("\u05e9\u05b8\u05c1\u05dc\u05d5\u05b9\u05dd", None, None),  # Hebrew points (in NFC order)
        ("", "", ""),
        ("   \n\t ", "", ""),
        ("\u202e\u202c", "", ""),  # only controls: empty, for the caller's "required"
    ],
)
def test_text_clean(given, single_line, multi_line):
    assert text_clean(given) == (given if single_line is None else single_line)
    assert text_clean(given, multiline=True) == (given if multi_line is None else multi_line)


@pytest.mark.parametrize(
    "given",
    [
        "\u200b",
        "\u200b\u200c\u200d\u2060\ufeff",
        "\ufe0f\U000e0100",  # variation selectors alone
        "\u3164",  # Hangul filler
        "\u2800\u2800",  # braille blank
        "\u200e\u200f\u061c",  # direction marks alone
        "\u202e\u200b\u202c",
        "\u0301\u0301",  # combining marks with nothing under them
    ],
)
def test_text_that_shows_nothing_is_refused(given):
    with pytest.raises(UnsafeText, match="shows nothing"):
        text_clean(given)
    assert not text_is_visible(given)


def test_combining_marks_are_capped_per_character():
    enough = "Z" + "\u0300\u0301\u0302\u0303"[:MAX_COMBINING_MARKS]
    assert text_clean(enough) == enough
    with pytest.raises(UnsafeText, match="combining marks"):
        text_clean("Z" + "\u0336" * (MAX_COMBINING_MARKS + 1) + " fine")
    with pytest.raises(UnsafeText, match="combining marks"):
        text_clean("ok " + "e" + "\u0301" * 20, multiline=True)


@pytest.mark.parametrize("removed", ["\u202e", "\x00", "\u2066", "\ud800"])
def test_text_is_nfc_once_what_it_drops_is_gone(removed):
    # A dropped character between a letter and its accent left "e" + U+0301 (not NFC):
    # two spellings of one visible title.
    for multiline in (False, True):
        assert text_clean(f"Cafe{removed}\u0301", multiline=multiline) == "Caf\u00e9"


@pytest.mark.parametrize("between", ["\u200b", "\u200c", "\u200d", "\u2060", "\u200e", "\ufeff"])
def test_invisible_characters_between_marks_do_not_reset_the_cap(between):
    # A format character renders nothing and takes no room, so the marks after it pile
    # onto the same letter (seen in Chromium): "Z" + ("\u0301" + ZWSP) * 40 drew as tall
    # as 40 marks in a row.
    with pytest.raises(UnsafeText, match="combining marks"):
        text_clean("Z" + ("\u0336" + between) * (MAX_COMBINING_MARKS + 1))
    # A letter after the joiner starts a new count: emoji and Indic conjuncts stay.
    assert text_clean("\U0001f441\ufe0f\u200d\U0001f5e8\ufe0f") == (
        "\U0001f441\ufe0f\u200d\U0001f5e8\ufe0f"
    )
    assert text_clean("\u0915\u094d\u200d\u0937") == "\u0915\u094d\u200d\u0937"
