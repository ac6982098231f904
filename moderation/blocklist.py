"""The prompt gate's matching engine: blocklist entries against a member's own text.

Pure functions over plain values (no models): ``moderation.gate`` loads the entries and
counts what they caught, ``BlockedTerm.clean`` validates an entry with
``pattern_problems``.

**Folding.** Text and entries are compared after the same folding (``text_fold``), one
character at a time: NFKC (fullwidth and mathematical letters, ligatures), look-alike
letters of other scripts mapped to the Latin letter they imitate (Cyrillic "а" → "a",
Greek "ο" → "o", Cherokee "Ꮃ" → "w"), case folding, accents and other combining marks
removed ("é" → "e"), and invisible format characters dropped (zero-width spaces, soft
hyphens, bidi controls: typed inside a word to split it). The look-alike table is derived
from Unicode's confusables data (UTS #39) as the ``confusable-homoglyphs`` package ships
it: a non-ASCII character whose confusables include exactly one Latin letter (either case)
folds to that letter. ASCII itself is never remapped ("1" stays "1", "rn" stays "rn"):
what an entry cannot catch that way, a regular expression can.

**Words and phrases** match whole tokens, never inside a word: "ass" does not match
"class" nor "assassin". A token is a run of letters and digits (underscore and every
other character separate tokens), except that each Han, Hiragana or Katakana character is
a token of its own, since those scripts do not separate words with spaces: a blocked
Chinese word matches as its run of characters. A phrase matches its words in order with
nothing but separators between them ("red, hot" matches the phrase "red hot").

**Regular expressions** (the ``regex`` package, Python's ``re`` syntax) are searched in
the folded text, case-insensitively; write them in plain lower-case letters (the folded
text has no accents or look-alikes) and use ``\\b`` for word boundaries. A pattern is at
most ``REGEX_MAX_LENGTH`` characters, is refused when saved if it could take exponential
time (a repeat inside a repeat, alternatives that overlap inside a repeat) or if it is
slow on probe texts, and each search is cut off after ``REGEX_TIMEOUT`` seconds: a search
that runs out of time counts as a match to review (logged), so a slow pattern can neither
hang a request nor let text through unexamined.
"""

from __future__ import annotations

import functools
import logging
import string
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from re import _constants as sre_constants  # the stdlib parser's node names
from re import _parser as sre_parser  # the only parser of Python's regex syntax

import regex

logger = logging.getLogger(__name__)

WORD = "word"
PHRASE = "phrase"
REGEX = "regex"
BLOCK = "block"
REVIEW = "review"

PATTERN_MAX_LENGTH = 200
REGEX_MAX_LENGTH = PATTERN_MAX_LENGTH
# Seconds one regular expression may search one field. Free text here is at most a few
# thousand characters, which a sane pattern searches in well under a millisecond.
REGEX_TIMEOUT = 0.1
# Probe texts for a new pattern are this long: longer than any field the gate checks.
PROBE_LENGTH = 2500
# A repeat allowing more than this many rounds counts as unbounded for nesting.
REPEAT_LARGE = 50
# At most this many of one field's matched words are quoted back, each at most this long.
QUOTED_MAX = 5
QUOTE_MAX_LENGTH = 60

# --- Folding ----------------------------------------------------------------------------

# Combining marks (accents) and format characters (zero-width space and joiners, soft
# hyphen, bidi controls): nothing of what a word looks like.
_DROPPED_CATEGORIES = frozenset({"Mn", "Me", "Cf"})


@functools.cache
def confusables_table() -> dict[str, str]:
    """Non-ASCII character → the one Latin letter (lower case) it is confusable with.

    Built once per process from the ``confusable-homoglyphs`` data (Unicode's
    confusables.txt, UTS #39): about a thousand entries, read lazily so that importing
    this module stays cheap.
    """
    from confusable_homoglyphs.confusables import confusables_data

    table: dict[str, str] = {}
    for char, homoglyphs in confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        letters = {
            glyph["c"].lower()
            for glyph in homoglyphs
            if len(glyph["c"]) == 1 and glyph["c"] in string.ascii_letters
        }
        if len(letters) == 1:
            letter = letters.pop()
            # Unicode's prototype of a capital I is "l" (they look alike), but here ASCII
            # "I" is case-folded to "i", not remapped: a capital that imitates it ("І",
            # "Ι", "Ӏ") must fold to "i" as well, or "NAZІ" would escape "nazi".
            if letter == "l" and unicodedata.category(char) == "Lu":
                letter = "i"
            table[char] = letter
    return table


@functools.lru_cache(maxsize=8192)
def char_fold(char: str) -> str:
    """One character folded (see the module's docstring): zero, one or more characters."""
    table = confusables_table()
    folded: list[str] = []
    for compat in unicodedata.normalize("NFKC", char):
        # Before case folding too: a capital that imitates a Latin capital (Cyrillic "Н"
        # looks like "H") folds to what it looks like, not to its own small letter.
        compat = table.get(compat, compat)
        for part in unicodedata.normalize("NFD", compat.casefold()):
            if unicodedata.category(part) in _DROPPED_CATEGORIES:
                continue
            folded.append(table.get(part, part))
    return "".join(folded)


@dataclass(frozen=True)
class FoldedText:
    """A text folded, and where each folded character came from in ``original``.

    ``original`` is the text in NFC (what the member typed, composed), ``text`` the folded
    text; ``origin[i]`` is the index in ``original`` of the character that folded into
    ``text[i]``.
    """

    original: str
    text: str
    origin: tuple[int, ...]

    def source(self, start: int, end: int) -> str:
        """The member's own characters that folded into ``text[start:end]``."""
        first = self.origin[start]
        last = self.origin[end - 1] + 1
        # Marks after the last character were dropped from the folded text: keep them.
        while last < len(self.original) and unicodedata.category(self.original[last]) in (
            "Mn",
            "Me",
        ):
            last += 1
        return self.original[first:last]


def text_fold(text: str) -> FoldedText:
    """``text`` folded for matching (see the module's docstring)."""
    original = unicodedata.normalize("NFC", text)
    pieces: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(original):
        piece = char_fold(char)
        pieces.append(piece)
        origin.extend([index] * len(piece))
    return FoldedText(original=original, text="".join(pieces), origin=tuple(origin))


_SCRIPTS_WITHOUT_SPACES = r"\p{Han}\p{Hiragana}\p{Katakana}"
_TOKEN = regex.compile(
    rf"[{_SCRIPTS_WITHOUT_SPACES}]|[^\W_{_SCRIPTS_WITHOUT_SPACES}]+", regex.UNICODE
)


@dataclass(frozen=True)
class Token:
    text: str
    start: int  # in the folded text
    end: int


def tokens(folded: str) -> list[Token]:
    """The tokens of a folded text, in order."""
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(folded)]


def term_tokens(pattern: str) -> tuple[str, ...]:
    """A word or phrase entry as the tokens it matches."""
    return tuple(token.text for token in tokens(text_fold(pattern).text))


# --- Matching ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One blocklist entry, as the engine needs it."""

    id: int
    kind: str  # WORD, PHRASE or REGEX
    pattern: str
    action: str  # BLOCK or REVIEW


@dataclass(frozen=True)
class Hit:
    """``entry`` matched ``words`` (the member's own text) in ``field``.

    ``timed_out``: a regular expression ran out of time there (``words`` is empty).
    """

    entry: Entry
    field: str
    words: str
    timed_out: bool = False


@functools.lru_cache(maxsize=512)
def regex_compile(pattern: str) -> regex.Pattern:
    return regex.compile(pattern, regex.IGNORECASE | regex.UNICODE)


class Blocklist:
    """Entries compiled for scanning: words and phrases indexed by their first token."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.terms: dict[str, list[tuple[tuple[str, ...], Entry]]] = {}
        self.regexes: list[tuple[regex.Pattern, Entry]] = []
        for entry in entries:
            if entry.kind == REGEX:
                try:
                    self.regexes.append((regex_compile(entry.pattern), entry))
                except regex.error:
                    # Saved without validation (clean() refuses it): it can match nothing.
                    logger.warning("Blocklist entry %s is not a valid regex: skipped", entry.id)
                continue
            words = term_tokens(entry.pattern)
            if words:
                self.terms.setdefault(words[0], []).append((words, entry))

    def scan(self, fields: Mapping[str, str]) -> list[Hit]:
        """Every entry's hits in every field (one hit per entry, field and matched text)."""
        hits: list[Hit] = []
        for field, text in fields.items():
            if not text:
                continue
            folded = text_fold(text)
            hits.extend(self._scan_terms(field, folded))
            hits.extend(self._scan_regexes(field, folded))
        return hits

    def _scan_terms(self, field: str, folded: FoldedText) -> Iterator[Hit]:
        found = tokens(folded.text)
        words = [token.text for token in found]
        seen: set[tuple[int, str]] = set()
        for index, word in enumerate(words):
            for term, entry in self.terms.get(word, ()):
                end = index + len(term)
                if tuple(words[index:end]) != term:
                    continue
                source = folded.source(found[index].start, found[end - 1].end)
                if (entry.id, source) not in seen:
                    seen.add((entry.id, source))
                    yield Hit(entry=entry, field=field, words=source)

    def _scan_regexes(self, field: str, folded: FoldedText) -> Iterator[Hit]:
        for compiled, entry in self.regexes:
            seen: set[str] = set()
            try:
                for match in compiled.finditer(folded.text, timeout=REGEX_TIMEOUT):
                    if match.end() == match.start():
                        continue  # an empty match quotes nothing and names nothing
                    source = folded.source(match.start(), match.end())
                    if source not in seen:
                        seen.add(source)
                        yield Hit(entry=entry, field=field, words=source)
                    if len(seen) >= QUOTED_MAX:
                        break
            except TimeoutError:
                logger.warning(
                    "Blocklist entry %s ran out of time on %s (%d characters): held for review",
                    entry.id,
                    field,
                    len(folded.text),
                )
                yield Hit(
                    entry=Entry(id=entry.id, kind=entry.kind, pattern=entry.pattern, action=REVIEW),
                    field=field,
                    words="",
                    timed_out=True,
                )


def refusal_messages(hits: Sequence[Hit]) -> dict[str, list[str]]:
    """Field → one message quoting the member's own words that were refused there.

    Only what they wrote is quoted, never an entry's pattern: the list stays private.
    """
    by_field: dict[str, list[str]] = {}
    for hit in hits:
        if hit.timed_out or not hit.words:
            continue
        quote = hit.words.strip()
        if len(quote) > QUOTE_MAX_LENGTH:
            quote = quote[: QUOTE_MAX_LENGTH - 1] + "…"
        quoted = by_field.setdefault(hit.field, [])
        if quote.casefold() not in (q.casefold() for q in quoted):
            quoted.append(quote)
    messages: dict[str, list[str]] = {}
    for field, quoted in by_field.items():
        shown = ", ".join(f"“{quote}”" for quote in quoted[:QUOTED_MAX])
        if len(quoted) > QUOTED_MAX:
            shown += ", …"
        messages[field] = [f"Not allowed here: {shown}. Please rephrase."]
    return messages


# --- Validation of an entry -------------------------------------------------------------


def pattern_problems(*, kind: str, pattern: str) -> list[str]:
    """What is wrong with an entry's pattern (empty when it may be saved)."""
    if not pattern or not pattern.strip():
        return ["Enter a pattern."]
    if kind == REGEX:
        return regex_problems(pattern)
    if len(pattern) > PATTERN_MAX_LENGTH:
        return [f"At most {PATTERN_MAX_LENGTH} characters."]
    words = term_tokens(pattern)
    if not words:
        return ["It has no letters or digits, so it could never match."]
    if kind == WORD and len(words) > 1:
        shown = " ".join(words)
        return [f"A word entry is one word; this is {len(words)} (“{shown}”): make it a phrase."]
    return []


def regex_problems(pattern: str) -> list[str]:
    """Why a regular expression may not be saved: invalid, too long, or possibly slow."""
    if len(pattern) > REGEX_MAX_LENGTH:
        return [f"At most {REGEX_MAX_LENGTH} characters."]
    try:
        compiled = regex_compile(pattern)
    except regex.error as exc:
        return [f"Not a valid regular expression: {exc}."]
    try:
        tree = sre_parser.parse(pattern)
    except Exception as exc:  # re.error, or a limit of the parser (RecursionError…)
        return [f"Use Python's standard regular expression syntax: {exc}."]
    problems = []
    problem = _backtracking_problem(tree)
    if problem:
        problems.append(problem)
    unfolded = sorted({chr(code) for code in _literals(tree) if _folds_away(chr(code))})
    if unfolded:
        shown = ", ".join(f"“{char}” (write “{char_fold(char)}”)" for char in unfolded)
        problems.append(
            "Text is matched with accents removed, look-alike letters and case folded, so "
            f"these characters can never match: {shown}."
        )
    if problems:
        return problems
    if compiled.search("") is not None:
        return ["It matches empty text, so it would match everything."]
    slow = _slow_probe(compiled, pattern)
    if slow:
        return [slow]
    return []


def _folds_away(char: str) -> bool:
    return char_fold(char) != char.lower()


def _repeats(op) -> bool:
    return op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT)


def _is_open(high: int) -> bool:
    return high > REPEAT_LARGE  # MAXREPEAT (unbounded) is a large number too


def _children(op, av) -> Iterator:
    """The sub-patterns of one parsed node (what may match inside it)."""
    if _repeats(op) or op == sre_constants.POSSESSIVE_REPEAT:
        yield av[2]
    elif op == sre_constants.SUBPATTERN:
        yield av[3]
    elif op == sre_constants.BRANCH:
        yield from av[1]
    elif op == sre_constants.ATOMIC_GROUP:
        yield av
    elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
        yield av[1]
    elif op == sre_constants.GROUPREF_EXISTS:
        yield av[1]
        if av[2] is not None:
            yield av[2]


def _literal_prefix(subpattern) -> str:
    """The literal text a sub-pattern must begin with (lower case: patterns ignore case)."""
    prefix = []
    for op, av in subpattern:
        if op == sre_constants.LITERAL:
            prefix.append(chr(av).lower())
        elif op != sre_constants.AT:  # an anchor takes no character: look past it
            break
    return "".join(prefix)


def _alternatives_overlap(alternatives) -> bool:
    """Whether two alternatives may match the same text at one place: one's literal
    beginning is a beginning of the other's (an empty one is a beginning of anything)."""
    prefixes = [_literal_prefix(alternative) for alternative in alternatives]
    return any(
        longer.startswith(shorter)
        for index, shorter in enumerate(prefixes)
        for other, longer in enumerate(prefixes)
        if index != other and len(shorter) <= len(longer)
    )


def _backtracking_problem(subpattern, *, repeated: bool = False, outer_open: bool = False) -> str:
    """A message if the pattern can backtrack exponentially (or with a degree as large as
    a repeat count), as ``(a+)+$``, ``(a|aa)+$`` or ``(.*,){20}x`` do; else "".

    A repeat inside a repeat (when either of the two is unbounded or large), and
    alternatives inside a repeat that may match the same text (``_alternatives_overlap``). Possessive
    repeats and atomic groups never give back what they took, so they are safe.
    """
    for op, av in subpattern:
        if _repeats(op):
            low, high, body = av
            if high != 1 and repeated and (outer_open or _is_open(high)):
                return (
                    "A repeat inside a repeat, such as (a+)+, can take exponential time on "
                    "some texts. Write it without the inner or the outer repeat, or make the "
                    "inner one possessive (a++) or atomic ((?>a+))."
                )
            if high != 1:
                problem = _backtracking_problem(
                    body, repeated=True, outer_open=outer_open or _is_open(high)
                )
            else:
                problem = _backtracking_problem(body, repeated=repeated, outer_open=outer_open)
            if problem:
                return problem
            continue
        if op in (sre_constants.POSSESSIVE_REPEAT, sre_constants.ATOMIC_GROUP):
            continue
        if op == sre_constants.BRANCH and repeated and _alternatives_overlap(av[1]):
            return (
                "Alternatives that can match the same text inside a repeat, such as (a|aa)+, "
                "can take exponential time on some texts. Make each alternative begin with "
                "its own letters, or make the repeat possessive ((…)++)."
            )
        for child in _children(op, av):
            problem = _backtracking_problem(child, repeated=repeated, outer_open=outer_open)
            if problem:
                return problem
    return ""


def _literals(subpattern) -> Iterator[int]:
    """Every literal character of a parsed pattern, in character classes too."""
    for op, av in subpattern:
        if op == sre_constants.LITERAL:
            yield av
        elif op == sre_constants.IN:
            for item_op, item_av in av:
                if item_op == sre_constants.LITERAL:
                    yield item_av
                elif item_op == sre_constants.RANGE:
                    yield from item_av
        else:
            for child in _children(op, av):
                yield from _literals(child)


def _probe_texts(pattern: str) -> Iterator[str]:
    """Long texts that make a backtracking pattern show itself: runs of each character the
    pattern names and of a few common ones, each ending in something else."""
    chars = dict.fromkeys([*(c for c in pattern.lower() if c.isalnum() or c in " ,.-'"), *"a1 "])
    for char in chars:
        run = char * PROBE_LENGTH
        yield run
        yield run[:-1] + "\x00"
    yield ("ab " * PROBE_LENGTH)[:PROBE_LENGTH] + "!"


def _slow_probe(compiled: regex.Pattern, pattern: str) -> str:
    for text in _probe_texts(pattern):
        try:
            compiled.search(text, timeout=REGEX_TIMEOUT)
        except TimeoutError:
            return (
                f"It is too slow: searching a text of {len(text)} characters took longer "
                f"than {REGEX_TIMEOUT:g} s. Simplify it (fewer .* and nested repeats)."
            )
    return ""
