"""Does the studio learn each member's taste? (issue 14)

    .venv/bin/python bench/taste.py [--members 100] [--choices 200] [--styles 12]

Simulated members with hidden tastes triage sweeps that a suggester chose, and we count how
often they keep what was suggested. Three suggesters, on the same members, the same noise:

* **studio**: ``generation.taste`` as the site runs it: the member's signals fitted over the
  community's prior (``taste_fit``), three styles by learned weight and one exploration slot
  drawn from the posterior (``taste_suggest``);
* **random**: four styles at random;
* **popular**: the four styles the community keeps most, the same for everyone.

The members. Each style has a community-wide appeal (normal, sd 0.7) and each member their
own deviation from it (sd 1.0): tastes share a common part, so "most popular" is a fair
baseline, and differ, so it is not the best one. Each sweep is one idea (a prompt from a few,
whose words are features too) painted in four styles; the member sees each cell as its
style's appeal plus the luck of the seed (sd 0.6), keeps it above their own threshold (set
so they keep a third of random cells), discards it otherwise, and picks the better of the
two best cells (a pairwise signal). One *choice* is one cell kept or discarded.

The community the prior comes from: 100 other simulated members, 60 random choices each.

Reported: the share of suggested cells kept over the first 10, 50 and 200 choices
(cumulative), per suggester, with a 95 % interval over members; the studio's lead over each
baseline paired member by member (the same members and luck), with its interval; and how long one fit of a
member's newest 50, 200 and 500 signals takes (what a page pays after each new choice). Writes
``bench/results/taste-<date>.json``. Figures are written down in bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import platform
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generation import taste  # pure: no Django needed

CELLS = 4
IDEAS = ["an old sailor", "a girl with a red hat", "a smiling king", "a woman with glasses"]
WINDOWS = (10, 50, 200)


class Member:
    def __init__(self, rng: random.Random, appeal: dict[str, float]):
        self.taste = {s: a + rng.gauss(0, 1.0) for s, a in appeal.items()}
        # Keeps about a third of random cells: the threshold at that quantile.
        draws = sorted(self.taste[rng.choice(list(appeal))] + rng.gauss(0, 0.6) for _ in range(400))
        self.threshold = draws[int(len(draws) * 2 / 3)]

    def look(self, style: str, rng: random.Random) -> float:
        return self.taste[style] + rng.gauss(0, 0.6)


def cell_features(style: str, idea: str) -> tuple[str, ...]:
    recipe = {"style": style, "prompt": idea, "guidance_scale": 7, "steps": 25}
    recipe.update(width=512, height=512)
    return tuple(taste.recipe_features(recipe))


def sweep_signals(member: Member, styles, idea: str, rng: random.Random):
    """The member triages one sweep: (kept flags, signals)."""
    seen = [(member.look(s, rng), s) for s in styles]
    kept, signals = [], []
    for value, style in seen:
        keep = value > member.threshold
        kept.append(keep)
        signals.append(taste.Signal("keep" if keep else "discard", cell_features(style, idea)))
    (_, best), (_, second) = sorted(seen, reverse=True)[:2]
    signals.append(
        taste.Signal(taste.PREFER, cell_features(best, idea), against=cell_features(second, idea))
    )
    return kept, signals


def run_member(suggester, member, styles, prior, popular, choices, seed):
    rng = random.Random(seed)  # the member's luck: the same for every suggester
    pick_rng = random.Random(seed + 1)
    signals: list[taste.Signal] = []
    kept_flags: list[bool] = []
    choices_list = [taste.Choice(s, s) for s in styles]
    while len(kept_flags) < choices:
        idea = IDEAS[len(kept_flags) // CELLS % len(IDEAS)]
        if suggester == "random":
            chosen = pick_rng.sample(styles, CELLS)
        elif suggester == "popular":
            chosen = popular[:CELLS]
        else:
            fitted = taste.taste_fit(signals[-taste.SIGNALS_READ :], prior=prior)
            found = taste.taste_suggest(
                fitted, choices_list, prefix="style:", count=CELLS, rng=pick_rng
            )
            chosen = [s.choice.slug for s in found]
            # Fewer wanted than cells (early on): fill with exploration draws.
            rest = [s for s in styles if s not in chosen]
            chosen += pick_rng.sample(rest, CELLS - len(chosen))
        kept, new = sweep_signals(member, chosen, idea, rng)
        kept_flags.extend(kept)
        signals.extend(new)
    return kept_flags[:choices]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--choices", type=int, default=200)
    parser.add_argument("--styles", type=int, default=12)
    parser.add_argument("--community", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    styles = [f"style{i:02d}" for i in range(args.styles)]
    appeal = {s: rng.gauss(0, 0.7) for s in styles}

    # The community: other members' random sweeps, for the prior and the popular order.
    by_member, kept_count = {}, dict.fromkeys(styles, 0)
    for index in range(args.community):
        member = Member(rng, appeal)
        signals = []
        for round_ in range(60 // CELLS):
            chosen = rng.sample(styles, CELLS)
            kept, new = sweep_signals(member, chosen, IDEAS[round_ % len(IDEAS)], rng)
            signals.extend(new)
            for style, keep in zip(chosen, kept, strict=True):
                kept_count[style] += keep
        by_member[index] = signals
    prior = taste.community_prior(by_member)
    popular = sorted(styles, key=lambda s: -kept_count[s])

    results, kept_by = {}, {}
    started = time.perf_counter()
    for suggester in ("random", "popular", "studio"):
        member_rng = random.Random(args.seed + 1000)  # the same members for each
        per_member = []
        for index in range(args.members):
            member = Member(member_rng, appeal)
            flags = run_member(
                suggester, member, styles, prior, popular, args.choices, args.seed * 10_000 + index
            )
            per_member.append(flags)
        kept_by[suggester] = per_member
        results[suggester] = {}
        for window in (*WINDOWS, args.choices):
            if window > args.choices:
                continue
            rates = [sum(flags[:window]) / window for flags in per_member]
            mean = statistics.fmean(rates)
            half = 1.96 * statistics.stdev(rates) / math.sqrt(len(rates))
            results[suggester][window] = {"kept": round(mean, 4), "ci95": round(half, 4)}
        print(
            f"{suggester:>8}: "
            + "  ".join(
                f"first {w}: {r['kept'] * 100:5.1f} % ± {r['ci95'] * 100:.1f}"
                for w, r in results[suggester].items()
            ),
            flush=True,
        )
    elapsed = time.perf_counter() - started
    # Paired, member by member (the same members, the same luck): the studio's lead.
    lead = {}
    for baseline in ("random", "popular"):
        lead[baseline] = {}
        for window in results["studio"]:
            gaps = [
                (sum(ours[:window]) - sum(theirs[:window])) / window
                for ours, theirs in zip(kept_by["studio"], kept_by[baseline], strict=True)
            ]
            half = 1.96 * statistics.stdev(gaps) / math.sqrt(len(gaps))
            lead[baseline][window] = {
                "lead": round(statistics.fmean(gaps), 4),
                "ci95": round(half, 4),
            }
        print(
            f"studio − {baseline}: "
            + "  ".join(
                f"first {w}: {r['lead'] * 100:+5.1f} points ± {r['ci95'] * 100:.1f}"
                for w, r in lead[baseline].items()
            )
        )
    # What a page pays once after each new choice: one fit of a member's newest signals.
    fit_ms = {}
    history = [s for member_signals in by_member.values() for s in member_signals]
    for count in (50, 200, taste.SIGNALS_READ):
        sample = (history * (count // len(history) + 1))[:count]
        timer = time.perf_counter()
        for _ in range(5):
            taste.taste_fit(sample, prior=prior)
        fit_ms[count] = round((time.perf_counter() - timer) / 5 * 1000, 1)
    print("One fit: " + ", ".join(f"{n} signals {ms} ms" for n, ms in fit_ms.items()))
    print(f"({args.members} members × {args.choices} choices × 3 suggesters in {elapsed:.0f} s)")
    out = Path(__file__).parent / "results" / f"taste-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(
        json.dumps(
            {
                "command": " ".join(sys.argv),
                "args": vars(args),
                "python": platform.python_version(),
                "seconds": round(elapsed, 1),
                "kept_share": results,
                "studio_lead": lead,
                "fit_ms": fit_ms,
            },
            indent=2,
        )
    )
    print(f"Wrote {out}")


if __name__ == "__main__":
    main()
