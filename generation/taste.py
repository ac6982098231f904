"""Taste: what a member keeps, learned over recipe features. Pure: no queries, no torch.

Every choice a member makes is a signal (``generation.models.TasteSignal``): keeping or
discarding a sweep's cell, picking one of two side by side, publishing, liking,
remixing, deleting. Each is about a recipe, read here as **features**
(:func:`recipe_features`): its style, the prompt builder's modifiers found in its prompt,
its other words, and its guidance, steps and shape in coarse bands. Not pixels: the
features are what a member chooses when they submit, and a deployment needs no second
model to read them.

The model (:func:`taste_fit`) is a logistic regression, one weight per feature, fitted
to the member's signals and shrunk toward a prior: the community's weights for a member
with few signals, so a newcomer starts from what members keep, and their own choices
take over as they make them. A keep, a publish, a like or a remix says "more like this";
a discard or a delete "less"; a pick between two cells of a sweep is a pairwise
comparison (Bradley–Terry), the strongest signal, since only the swept feature differed.

Suggestions (:func:`taste_suggest`) rank styles and modifiers by their learned weight,
each with why in words ("You kept 7 of 9 Watercolour portraits"), and always keep a slot
for exploration, drawn from the posterior (Thompson sampling), so the studio does not
collapse onto one style and keeps learning about those tried least.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# What each kind of signal says: (does the member want more like it, how strongly).
POINTWISE = {
    "keep": (True, 1.0),
    "discard": (False, 1.0),
    "publish": (True, 1.5),
    "like": (True, 0.5),
    "remix": (True, 1.0),
    "delete": (False, 1.0),
}
# One cell picked over another of the same sweep: the winner's features against the loser's.
PREFER = "prefer"
PREFER_WEIGHT = 2.0
KINDS = (*POINTWISE, PREFER)
# How many signals a fit reads (the newest): taste drifts, and a fit stays cheap.
SIGNALS_READ = 500

# The prior's precision: how many signals' worth a feature's prior weight counts for.
PRIOR_PRECISION = 1.0
# The intercept's is weak: it takes the member's overall rate of keeping, so a feature every
# choice shared (a sweep's words and settings) is not credited with it.
BIAS_PRECISION = 0.01
ITERATIONS = 40
BIAS = "bias"
# How widely the exploration slot samples each weight: its posterior's spread, tempered
# (bench/taste.py: at 1 it explores too widely in a member's first choices, costing them
# keeps the community's prior would have found).
EXPLORE_SPREAD = 0.5

# Bands of the numbers, so that guidance 7 and 7.5 are one taste.
GUIDANCE_BANDS = ((5.0, "low"), (9.0, "medium"), (math.inf, "high"))
STEPS_BANDS = ((20, "few"), (36, "standard"), (math.inf, "many"))
WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "the",
        "with",
        "without",
        "of",
        "in",
        "on",
        "at",
        "by",
        "for",
        "from",
        "to",
        "into",
        "over",
        "under",
        "his",
        "her",
        "their",
        "its",
        "this",
        "that",
        "these",
        "those",
        "who",
        "whose",
        "which",
        "very",
        "portrait",
        "painting",
        "picture",
        "image",
        "style",
    ]
)
MAX_WORDS = 12


@dataclass(frozen=True)
class Choice:
    """A named thing the studio may suggest: a style or a modifier."""

    slug: str
    name: str
    text: str = ""  # a modifier's words, found in a prompt


def _band(value: Any, bands) -> str | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return next(name for limit, name in bands if number < limit)


def recipe_features(recipe: Mapping[str, Any], *, modifiers: Sequence[Choice] = ()) -> list[str]:
    """The features of one recipe (a job's or a portrait's), sorted: ``style:<slug>``
    (``style:`` alone for none), ``modifier:<slug>`` for each enabled modifier whose words
    are in the prompt, ``word:<w>`` for its other words, and ``guidance:``, ``steps:`` and
    ``shape:`` bands."""
    features = {f"style:{recipe.get('style') or ''}"}
    prompt = str(recipe.get("prompt") or "").lower()
    for modifier in modifiers:
        words = modifier.text.lower().strip()
        if words and words in prompt:
            features.add(f"modifier:{modifier.slug}")
            prompt = prompt.replace(words, " ")
    words = dict.fromkeys(w for w in WORD.findall(prompt) if w not in STOPWORDS)
    features.update(f"word:{w}" for w in list(words)[:MAX_WORDS])
    guidance = _band(recipe.get("guidance_scale"), GUIDANCE_BANDS)
    if guidance:
        features.add(f"guidance:{guidance}")
    steps = _band(recipe.get("steps"), STEPS_BANDS)
    if steps:
        features.add(f"steps:{steps}")
    try:
        width, height = int(recipe["width"]), int(recipe["height"])
    except (KeyError, TypeError, ValueError):
        pass
    else:
        features.add(
            "shape:square" if width == height else "shape:tall" if height > width else "shape:wide"
        )
    return sorted(features)


@dataclass(frozen=True)
class Signal:
    """One choice, as the model reads it."""

    kind: str
    features: tuple[str, ...]
    against: tuple[str, ...] = ()  # the loser's features, for ``prefer``


@dataclass
class Evidence:
    """What a member did with recipes that have one feature: the words of "why"."""

    kept: int = 0
    discarded: int = 0
    published: int = 0
    liked: int = 0
    remixed: int = 0
    deleted: int = 0
    won: int = 0  # picked over another cell
    lost: int = 0

    @property
    def total(self) -> int:
        return sum(vars(self).values())


_EVIDENCE_FIELD = {
    "keep": "kept",
    "discard": "discarded",
    "publish": "published",
    "like": "liked",
    "remix": "remixed",
    "delete": "deleted",
}


@dataclass
class Taste:
    """A fitted preference: a weight and its uncertainty per feature, and the evidence."""

    weights: dict[str, float] = field(default_factory=dict)
    variances: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, Evidence] = field(default_factory=dict)
    prior: dict[str, float] = field(default_factory=dict)
    signals: int = 0

    def weight(self, feature: str) -> float:
        return self.weights.get(feature, self.prior.get(feature, 0.0))

    def variance(self, feature: str) -> float:
        return self.variances.get(feature, 1.0 / PRIOR_PRECISION)

    def score(self, features: Iterable[str]) -> float:
        return sum(self.weight(f) for f in features)


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _examples(signals: Iterable[Signal]):
    """(feature vector, label, weight) rows: a pointwise signal with the bias; a pick as
    the difference of two vectors (shared features cancel), labelled 1."""
    for signal in signals:
        if signal.kind == PREFER:
            vector: dict[str, float] = Counter(signal.features)
            for f in signal.against:
                vector[f] = vector.get(f, 0.0) - 1.0
            vector = {f: v for f, v in vector.items() if v}
            if vector:
                yield vector, 1.0, PREFER_WEIGHT
        elif signal.kind in POINTWISE:
            wanted, weight = POINTWISE[signal.kind]
            vector = {f: 1.0 for f in signal.features}
            vector[BIAS] = 1.0
            yield vector, 1.0 if wanted else 0.0, weight


def taste_evidence(signals: Iterable[Signal]) -> dict[str, Evidence]:
    evidence: dict[str, Evidence] = {}
    for signal in signals:
        if signal.kind == PREFER:
            won, lost = set(signal.features), set(signal.against)
            for f in won - lost:
                evidence.setdefault(f, Evidence()).won += 1
            for f in lost - won:
                evidence.setdefault(f, Evidence()).lost += 1
        elif signal.kind in _EVIDENCE_FIELD:
            name = _EVIDENCE_FIELD[signal.kind]
            for f in signal.features:
                found = evidence.setdefault(f, Evidence())
                setattr(found, name, getattr(found, name) + 1)
    return evidence


def taste_fit(signals: Sequence[Signal], *, prior: Mapping[str, float] | None = None) -> Taste:
    """The maximum a posteriori weights: a logistic regression over ``signals`` with a
    Gaussian prior centred on ``prior`` (zero where it says nothing). Each step moves
    every weight by its gradient over a bound of its curvature (a diagonal Newton step,
    which cannot overshoot), so a few dozen steps settle it."""
    prior = dict(prior or {})
    rows = list(_examples(signals))
    features = {f for vector, _, _ in rows for f in vector}
    weights = {f: prior.get(f, 0.0) for f in features}
    # An upper bound of each weight's curvature: sigma' <= 1/4.
    precision = {f: BIAS_PRECISION if f == BIAS else PRIOR_PRECISION for f in features}
    bound = dict(precision)
    for vector, _, weight in rows:
        for f, x in vector.items():
            bound[f] += 0.25 * weight * x * x
    for _ in range(ITERATIONS if rows else 0):
        gradient = {f: -precision[f] * (weights[f] - prior.get(f, 0.0)) for f in features}
        for vector, label, weight in rows:
            error = label - _sigmoid(sum(weights[f] * x for f, x in vector.items()))
            for f, x in vector.items():
                gradient[f] += weight * error * x
        for f in features:
            weights[f] += gradient[f] / bound[f]
    # The posterior's spread (Laplace, diagonal): what the exploration slot samples from.
    curvature = dict(precision)
    for vector, _, weight in rows:
        p = _sigmoid(sum(weights[f] * x for f, x in vector.items()))
        for f, x in vector.items():
            curvature[f] += weight * p * (1 - p) * x * x
    return Taste(
        weights=weights,
        variances={f: 1.0 / c for f, c in curvature.items()},
        evidence=taste_evidence(signals),
        prior=prior,
        signals=len(signals),
    )


# --- The community's prior -----------------------------------------------------------

# A feature enters the prior only when this many members signalled about it: the prior
# is the community's, and never one member's taste shown to another.
COMMUNITY_MIN_MEMBERS = 3
# How far the community's choices move a newcomer (log-odds at most).
COMMUNITY_SCALE = 1.0


def community_prior(signals_by_member: Mapping[Any, Sequence[Signal]]) -> dict[str, float]:
    """Each feature's smoothed log-odds of being wanted, over every member's pointwise
    signals and picks, for features at least ``COMMUNITY_MIN_MEMBERS`` members signalled
    about; centred, so that the prior ranks without favouring what is merely common."""
    wanted: Counter = Counter()
    unwanted: Counter = Counter()
    members: dict[str, set] = {}
    for member, signals in signals_by_member.items():
        for signal in signals:
            if signal.kind == PREFER:
                ups, downs = set(signal.features), set(signal.against)
                ups, downs = ups - downs, downs - ups
                weight = PREFER_WEIGHT
            elif signal.kind in POINTWISE:
                good, weight = POINTWISE[signal.kind]
                ups, downs = (
                    (set(signal.features), set()) if good else (set(), set(signal.features))
                )
            else:
                continue
            for f in ups:
                wanted[f] += weight
                members.setdefault(f, set()).add(member)
            for f in downs:
                unwanted[f] += weight
                members.setdefault(f, set()).add(member)
    odds = {
        f: math.log((wanted[f] + 1.0) / (unwanted[f] + 1.0))
        for f, who in members.items()
        if len(who) >= COMMUNITY_MIN_MEMBERS
    }
    if not odds:
        return {}
    # Centred per kind of feature (styles against styles, words against words).
    prior: dict[str, float] = {}
    kinds: dict[str, list[str]] = {}
    for f in odds:
        kinds.setdefault(f.split(":", 1)[0], []).append(f)
    for names in kinds.values():
        mean = sum(odds[f] for f in names) / len(names)
        for f in names:
            prior[f] = max(-COMMUNITY_SCALE, min(COMMUNITY_SCALE, odds[f] - mean))
    return prior


# --- Suggestions ------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    choice: Choice
    score: float
    why: str
    explore: bool = False


def feature_nouns(feature: str, names: Mapping[str, str]) -> tuple[str, str, str]:
    """A feature in words: its name ("Watercolour", "“smiling”"), and the portraits that
    have it, singular and plural ("Watercolour portrait", "portraits with “smiling”")."""
    kind, _, value = feature.partition(":")
    name = names.get(feature, value)
    if kind == "style":
        name = name or "No style"
        return name, f"{name} portrait", f"{name} portraits"
    if kind in ("modifier", "word"):
        name = name if kind == "modifier" else f"“{value}”"
        return name, f"portrait with {name}", f"portraits with {name}"
    if kind == "guidance":
        return (
            f"{value} guidance",
            f"portrait at {value} guidance",
            f"portraits at {value} guidance",
        )
    if kind == "steps":
        return f"{value} steps", f"portrait with {value} steps", f"portraits with {value} steps"
    return value, f"{value} portrait", f"{value} portraits"


def _count(n: int, nouns: tuple[str, str, str]) -> str:
    return f"{n} {nouns[1] if n == 1 else nouns[2]}"


def why_text(
    evidence: Evidence | None, feature: str, names: Mapping[str, str], *, prior: float = 0.0
) -> str:
    """In words, the strongest evidence about one feature ("You kept 7 of 9 Watercolour
    portraits", "You picked the Film noir portrait in 3 of 4 comparisons"), or the
    community's where the member has none."""
    nouns = feature_nouns(feature, names)
    if evidence is None or not evidence.total:
        if prior > 0:
            return f"Members often keep {nouns[0]}; you have not tried it yet."
        return f"You have not tried {nouns[0]} yet."
    facts = []
    judged = evidence.kept + evidence.discarded
    if judged:
        verb, number = (
            ("kept", evidence.kept)
            if evidence.kept >= evidence.discarded
            else ("discarded", evidence.discarded)
        )
        facts.append(f"you {verb} {number} of {_count(judged, nouns)}")
    compared = evidence.won + evidence.lost
    if compared:
        comparisons = "comparison" if compared == 1 else "comparisons"
        if evidence.won >= evidence.lost:
            facts.append(f"you picked the {nouns[1]} in {evidence.won} of {compared} {comparisons}")
        else:
            facts.append(
                f"you preferred another to the {nouns[1]} in {evidence.lost} of {compared} "
                f"{comparisons}"
            )
    for number, verb in (
        (evidence.published, "published"),
        (evidence.liked, "liked"),
        (evidence.remixed, "remixed"),
        (evidence.deleted, "deleted"),
    ):
        if number:
            facts.append(f"you {verb} {_count(number, nouns)}")
    text = "; ".join(facts[:2])
    return text[0].upper() + text[1:] + "."


def _rank(taste: Taste, choices: Sequence[Choice], prefix: str) -> list[tuple[float, Choice]]:
    # Ties (nothing learned) keep the choices' own order.
    return sorted(
        ((taste.weight(prefix + c.slug), c) for c in choices),
        key=lambda pair: -pair[0],
    )


def taste_suggest(
    taste: Taste,
    choices: Sequence[Choice],
    *,
    prefix: str,
    count: int = 3,
    explore: bool = True,
    rng: random.Random | None = None,
) -> list[Suggestion]:
    """Up to ``count`` choices (styles: ``prefix="style:"``; modifiers: ``"modifier:"``):
    the best by learned weight that the member or the community wants (weight above
    zero), then, when ``explore``, one more drawn by Thompson sampling among the rest (a
    weight sampled from each one's posterior, the highest taken), so that a style tried
    little gets its chance. Each says why."""
    rng = rng or random.Random(0)
    ranked = _rank(taste, choices, prefix)
    picked = [(score, choice) for score, choice in ranked if score > 0]
    picked = picked[: count - 1 if explore else count]
    suggestions = [
        Suggestion(
            choice,
            score,
            why_text(
                taste.evidence.get(prefix + choice.slug),
                prefix + choice.slug,
                {prefix + choice.slug: choice.name},
                prior=taste.prior.get(prefix + choice.slug, 0.0),
            ),
        )
        for score, choice in picked
    ]
    rest = [choice for _, choice in ranked if choice not in {s.choice for s in suggestions}]
    # With nothing learned, of the member or the community, there is nothing to explore from.
    if explore and rest and (suggestions or taste.signals):
        draws = [
            (
                rng.gauss(
                    taste.weight(prefix + c.slug),
                    EXPLORE_SPREAD * math.sqrt(taste.variance(prefix + c.slug)),
                ),
                c,
            )
            for c in rest
        ]
        _, choice = max(draws, key=lambda pair: pair[0])
        feature = prefix + choice.slug
        evidence = taste.evidence.get(feature)
        tried = evidence.total if evidence else 0
        if not tried:
            why = f"Something new: you have not tried {choice.name} yet."
        elif tried < 4:
            times = "once" if tried == 1 else f"{tried} times"
            why = f"Worth another look: you have tried {choice.name} only {times}."
        else:
            seen = why_text(evidence, feature, {feature: choice.name})
            why = f"Worth another look: {seen[0].lower()}{seen[1:]}"
        suggestions.append(Suggestion(choice, taste.weight(feature), why, explore=True))
    return suggestions


def taste_order(taste: Taste, choices: Sequence[Choice], *, prefix: str) -> list[Choice]:
    """Every choice, the best for this member first (the style picker's order)."""
    return [choice for _, choice in _rank(taste, choices, prefix)]


def _leaning(evidence: Evidence) -> int:
    """Which way a member's own choices about a feature went: +1 toward, -1 away, 0 even."""
    toward = evidence.kept + evidence.published + evidence.liked + evidence.remixed + evidence.won
    away = evidence.discarded + evidence.deleted + evidence.lost
    return (toward > away) - (toward < away)


def taste_learned(
    taste: Taste, names: Mapping[str, str], *, count: int = 8, least: float = 0.1
) -> dict[str, list[dict[str, Any]]]:
    """What the studio has learned, in words: the features the member's own signals moved
    most (by at least ``least``), toward (``likes``) and away (``dislikes``), each with its
    evidence. A feature whose weight moved against what the member did with it (a word
    every cell of their sweeps shared, kept and discarded alike, that only the others'
    differences moved) is left out: its evidence would contradict it."""
    rows = []
    for feature, weight in taste.weights.items():
        evidence = taste.evidence.get(feature)
        moved = weight - taste.prior.get(feature, 0.0)
        if feature == BIAS or evidence is None or abs(moved) < least:
            continue
        if _leaning(evidence) != (1 if moved > 0 else -1):
            continue
        label, _, _ = feature_nouns(feature, names)
        kind = feature.partition(":")[0]
        row = {
            "feature": feature,
            "label": f"{label} ({kind})" if kind in ("style", "modifier") else label,
            "weight": round(weight, 3),
            "why": why_text(evidence, feature, names),
            "toward": moved > 0,
        }
        # Among equals, what a member chooses most deliberately first: the style, the
        # modifiers, then words and settings.
        rank = (
            ("style", "modifier", "word").index(kind)
            if kind in ("style", "modifier", "word")
            else 3
        )
        rows.append((-round(abs(moved), 2), rank, feature, row))
    rows = [row for *_, row in sorted(rows)]
    return {
        "likes": [r for r in rows if r["toward"]][:count],
        "dislikes": [r for r in rows if not r["toward"]][:count],
    }
