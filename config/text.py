"""Text people show to others (titles, descriptions, display names, bios), made safe to show.

Pure functions, no Django: any app's services can use them. ``text_clean``

- normalises to NFC, so one visible text has one stored spelling;
- drops control characters (a title keeps none; a multi-line text keeps line breaks
  and tabs, with every line-break spelling made ``\\n``) and unpaired surrogates
  (which no database can store);
- drops the bidirectional embeddings, overrides and isolates (U+202A–U+202E,
  U+2066–U+2069), which can make text read backwards and spill over whatever the
  page shows next to it. The implicit marks (U+200E, U+200F, U+061C) stay: they only
  set the direction of one neutral character, and mixed-direction text needs them;
- trims whitespace (a single-line text has each run of it made one space);

and refuses, with ``UnsafeText`` (a message for the field), text that is not empty
but shows nothing (only whitespace, zero-width characters, joiners, variation
selectors, direction marks, blank "letters" such as the Hangul filler) and text that
stacks more than ``MAX_COMBINING_MARKS`` combining marks on one character ("Zalgo"
text that draws over the lines around it). It refuses rather than trims, so the
author sees what was wrong instead of finding their text silently changed.
Zero-width joiners and variation selectors inside visible text stay: emoji
sequences and several scripts need them.
"""

from __future__ import annotations

import re
import unicodedata

# The most combining marks one base character may carry. Real text needs fewer:
# NFC composes Latin and Vietnamese accents, Hebrew points with cantillation and
# Indic or Tibetan stacks use two or three; Zalgo text uses tens.
MAX_COMBINING_MARKS = 4

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Letters and symbols that render as nothing at all.
_BLANK_GLYPHS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Mn", "Me"})
_COMBINING_CATEGORIES = frozenset({"Mn", "Me"})
# Every spelling of a line break (and the vertical tab and form feed) becomes "\n".
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_SPACES = re.compile(r"\s+")


class UnsafeText(ValueError):
    """Text refused for showing; ``str(error)`` is the message for its field."""


def _keep(char: str, *, multiline: bool) -> bool:
    if char in BIDI_CONTROLS:
        return False
    category = unicodedata.category(char)
    if category == "Cs":
        return False
    if category == "Cc":
        return multiline and char in "\n\t"
    return True


def text_is_visible(text: str) -> bool:
    """Whether ``text`` shows at least one character on the page."""
    return any(
        unicodedata.category(char) not in _INVISIBLE_CATEGORIES and char not in _BLANK_GLYPHS
        for char in text
    )


def _longest_mark_run(text: str) -> int:
    longest = run = 0
    for char in text:
        category = unicodedata.category(char)
        if category in _COMBINING_CATEGORIES:
            run += 1
            longest = max(longest, run)
        elif category != "Cf":
            # A format character (ZWSP, a joiner, a direction mark) draws nothing and takes
            # no room: the marks after it still pile onto the same letter.
            run = 0
    return longest


def text_clean(value: str, *, multiline: bool = False) -> str:
    """``value`` as it should be stored and shown, or ``UnsafeText``. ``""`` stays ``""``."""
    text = str(value or "")
    # A title has each run of whitespace (tabs and line breaks too) made one space.
    text = _LINE_BREAKS.sub("\n", text) if multiline else _SPACES.sub(" ", text)
    text = "".join(char for char in text if _keep(char, multiline=multiline))
    # After the drops: one that stood between a letter and its accent would leave them
    # decomposed, a second spelling of the same visible text.
    text = unicodedata.normalize("NFC", text)
    text = text.strip() if multiline else _SPACES.sub(" ", text).strip()
    if not text:
        return ""
    if not text_is_visible(text):
        raise UnsafeText("Use some visible characters: this text shows nothing.")
    if _longest_mark_run(text) > MAX_COMBINING_MARKS:
        raise UnsafeText(
            f"At most {MAX_COMBINING_MARKS} accents or other combining marks on one character."
        )
    return text
