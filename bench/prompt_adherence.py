"""Does the offline model follow the prompt? (issue 12)

    .venv/bin/python bench/prompt_adherence.py [--model generation/weights/likeness-portraits]
        [--prompts 300] [--steps 20] [--guidance 6]

How it measures. A portrait's attributes are read back from pixels by a **small attribute
classifier trained on the generator's own drawings** (one convolutional trunk, one head per
attribute), not by hand-written palette statistics: a statistic can read a background colour,
but not a smile, glasses or a style, and one instrument for every attribute keeps the figures
comparable. It is trained here, on seeded drawings blurred and noised a little (the model's
pictures are softer than the drawings), and its own accuracy on held-out drawings and on the
VAE's reconstructions of them is printed first: the ceiling any model could reach through this
instrument.

1. **Held-out captions.** Portraits the training never saw (another seed) are captioned with
   ``caption_for``; the model paints each caption once (the site's way: the style preset's
   template around the words, its negative prompt); for every attribute the caption names,
   the classifier's reading is compared with the word. Reported as accuracy against two
   chances: uniform (1 / the number of values) and the majority value of that attribute in
   the evaluated captions (a model that ignored the word and painted the commonest value).
2. **One word swapped.** Two prompts that differ in one word (a background colour, a hair
   colour, an expression, glasses or a hat, the time of day, the style), painted from the same
   seed: how often does the classifier read the new word in the second picture? Nothing but the
   word differs, so this isolates what the word does.
3. **A style sweep**: one prompt in every style from one seed, as a contact sheet, with the
   classifier's style reading of each cell and each style's mean luminance and saturation.

Writes ``bench/results/prompt_adherence-<date>.json`` and two contact sheets
(``…-captions.png``: per held-out caption, the drawing and three seeds; ``…-styles.png``: the
sweep). Figures are written down in bench/README.md, never asserted by tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402

from generation.training import (  # noqa: E402
    STYLES,
    attributes_named,
    caption_for,
    contact_sheet,
    draw_portrait,
    sample_attributes,
)
from generation.training import attributes as A  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SIDE = 64  # the classifier's input: half the painted size, plenty for these attributes

# The attributes read back, and their values (None in a record = not shown, not scored).
HEADS: dict[str, tuple] = {
    "gender": A.GENDERS,
    "age": A.AGES,
    "expression": A.EXPRESSIONS,
    "hair_colour": A.HAIR_COLOURS,
    "hair_length": A.HAIR_LENGTHS,
    "eyes": A.EYES,
    "eye_colour": A.EYE_COLOURS,
    "glasses": (False, True),
    "hat": (False, True),
    "beard": (False, True),
    "background": A.BACKGROUNDS,
    "time_of_day": A.TIMES_OF_DAY,
    "lighting": A.LIGHTINGS,
    "skin": A.SKIN_TONES,
    "face_shape": A.FACE_SHAPES,
    "style": ("none", *STYLES),
}


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# --- The instrument ---------------------------------------------------------------------------


class Reader(torch.nn.Module):
    """One small CNN, one linear head per attribute."""

    def __init__(self):
        super().__init__()
        layers, channels = [], 3
        for width in (32, 64, 96, 128):
            layers += [
                torch.nn.Conv2d(channels, width, 3, padding=1),
                torch.nn.BatchNorm2d(width),
                torch.nn.ReLU(),
                torch.nn.Conv2d(width, width, 3, padding=1, stride=2),
                torch.nn.BatchNorm2d(width),
                torch.nn.ReLU(),
            ]
            channels = width
        self.trunk = torch.nn.Sequential(*layers, torch.nn.Flatten())  # 128 × 4 × 4
        self.heads = torch.nn.ModuleDict(
            {name: torch.nn.Linear(128 * 16, len(values)) for name, values in HEADS.items()}
        )

    def forward(self, x):
        features = self.trunk(x)
        return {name: head(features) for name, head in self.heads.items()}


def _value(attrs, name):
    if name == "style":
        return attrs.style or "none"
    value = getattr(attrs, name)
    if name == "hair_colour" and attrs.hair_length == "bald":
        return None
    return value


def _targets(records) -> dict[str, torch.Tensor]:
    out = {}
    for name, values in HEADS.items():
        index = {v: i for i, v in enumerate(values)}
        out[name] = torch.tensor([index.get(_value(a, name), -100) for a in records])
    return out


def to_input(images) -> torch.Tensor:
    """PIL images (any size) → the classifier's normalised 64 × 64 batch."""
    arrays = [
        np.asarray(im.convert("RGB").resize((SIDE, SIDE), Image.Resampling.BOX)) for im in images
    ]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 127.5 - 1


def _soften(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Blur and noise a batch a little, differently per image (the model paints softly)."""
    sigma = torch.rand(len(x), generator=generator) * 1.2
    out = []
    for image, s in zip(x, sigma.tolist(), strict=True):
        if s > 0.3:
            radius = 2
            grid = torch.arange(-radius, radius + 1, dtype=torch.float32)
            kernel = torch.exp(-(grid**2) / (2 * s * s))
            kernel = (kernel / kernel.sum()).view(1, 1, -1)
            image = F.conv2d(image[:, None], kernel[..., None], padding=(radius, 0))
            image = F.conv2d(image, kernel[:, :, None, :], padding=(0, radius))[:, 0]
        out.append(image)
    x = torch.stack(out)
    return x + torch.randn(x.shape, generator=generator) * 0.05


def train_reader(n: int, seed: int, epochs: int) -> Reader:
    rng = random.Random(seed)
    records = [sample_attributes(rng) for _ in range(n)]
    log(f"classifier: drawing {n} portraits …")
    x = to_input([draw_portrait(a, 128) for a in records])
    targets = _targets(records)
    torch.manual_seed(seed)
    reader = Reader()
    optimizer = torch.optim.AdamW(reader.parameters(), lr=2e-3, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(seed)
    steps = epochs * (n // 64)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=steps)
    reader.train()
    for step in range(steps):
        index = torch.randint(n, (64,), generator=generator)
        out = reader(_soften(x[index], generator))
        loss = sum(
            F.cross_entropy(out[name], targets[name][index], ignore_index=-100)
            for name in HEADS
            if (targets[name][index] != -100).any()
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 200 == 0:
            log(f"classifier: step {step}/{steps} loss {loss.item():.3f}")
    return reader.eval()


@torch.no_grad()
def read(reader: Reader, images) -> list[dict[str, object]]:
    out = reader(to_input(images))
    predictions = {name: logits.argmax(1).tolist() for name, logits in out.items()}
    return [{name: HEADS[name][predictions[name][i]] for name in HEADS} for i in range(len(images))]


def reader_ceiling(reader, records, images) -> dict[str, float]:
    readings = read(reader, images)
    scores = {}
    for name in HEADS:
        pairs = [(r[name], _value(a, name)) for r, a in zip(readings, records, strict=True)]
        pairs = [(p, t) for p, t in pairs if t is not None]
        scores[name] = round(sum(p == t for p, t in pairs) / len(pairs), 3)
    return scores


# --- The model ----------------------------------------------------------------------------


def load(model: Path):
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(model, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def styled(prompt: str, style: str | None) -> tuple[str, str]:
    """The prompt and negative prompt the site sends for ``prompt`` in ``style``."""
    if style is None or style == "none":
        return prompt, ""
    return STYLES[style].apply(prompt), STYLES[style].negative_prompt


def paint(pipe, prompts, negatives, seeds, steps, guidance, batch=16) -> list[Image.Image]:
    images = []
    for start in range(0, len(prompts), batch):
        chunk = slice(start, start + batch)
        generators = [torch.Generator().manual_seed(s) for s in seeds[chunk]]
        images += pipe(
            prompts[chunk],
            negative_prompt=negatives[chunk],
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=generators,
        ).images
    return images


def _caption_prompt(caption: str, style: str | None) -> tuple[str, str]:
    """A training-style caption, sent as the site would: the caption is already styled
    (template words or the style's name), so only the negative prompt is added."""
    return caption, STYLES[style].negative_prompt if style else ""


def held_out(pipe, reader, n, seed, steps, guidance):
    rng = random.Random(seed)
    records = [sample_attributes(rng) for _ in range(n)]
    captions = [caption_for(a, rng) for a in records]
    prompts, negatives = zip(
        *(_caption_prompt(c, a.style) for c, a in zip(captions, records, strict=True)), strict=True
    )
    images = paint(pipe, list(prompts), list(negatives), list(range(n)), steps, guidance)
    readings = read(reader, images)
    scored: dict[str, list[tuple[object, object]]] = {name: [] for name in HEADS}
    for caption, attrs, reading in zip(captions, records, readings, strict=True):
        named = attributes_named(caption)
        if attrs.style is None:
            named["style"] = "none"  # a caption without a style asks for the plain look
        for name in HEADS:
            if name in named and named[name] is not None:
                scored[name].append((reading[name], named[name]))
    table = {}
    for name, pairs in scored.items():
        if len(pairs) < 10:
            continue
        truths = [t for _, t in pairs]
        majority = max(truths.count(v) for v in set(truths)) / len(truths)
        table[name] = {
            "n": len(pairs),
            "accuracy": round(sum(p == t for p, t in pairs) / len(pairs), 3),
            "chance_uniform": round(1 / len(HEADS[name]), 3),
            "chance_majority": round(majority, 3),
        }
    return table, records, captions, images


SWAPS = {
    "background": [("on a {} background", v) for v in A.BACKGROUNDS],
    "hair_colour": [("with {} hair", v) for v in ("black", "blonde", "red", "grey", "blue")],
    "expression": [("{}", v) for v in ("smiling", "serious", "surprised")],
    "time_of_day": [("{}", v) for v in A.TIMES_OF_DAY],
}
TIME_WORDS = {"day": "in daylight", "dusk": "at dusk", "night": "at night"}


def swap_prompt(base: dict[str, str], attribute: str, value) -> str:
    parts = dict(base)
    parts[attribute] = value
    expression = parts["expression"]
    words = [f"a {expression} {parts['age']} {parts['gender']} with {parts['hair_colour']} hair"]
    if parts.get("glasses"):
        words.append("wearing glasses")
    if parts.get("hat"):
        words.append("wearing a hat")
    words.append(f"on a {parts['background']} background")
    words.append(TIME_WORDS[parts["time_of_day"]])
    return ", ".join(words)


def one_word_swaps(pipe, reader, n, seed, steps, guidance):
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        base = {
            "expression": rng.choice(A.EXPRESSIONS),
            "age": rng.choice(A.AGES),
            "gender": rng.choice(A.GENDERS),
            "hair_colour": rng.choice(("black", "blonde", "red", "grey", "blue", "brown")),
            "background": rng.choice(A.BACKGROUNDS),
            "time_of_day": rng.choice(A.TIMES_OF_DAY),
            "glasses": rng.random() < 0.5,
            "hat": rng.random() < 0.5,
        }
        attribute = rng.choice([*SWAPS, "glasses", "hat", "style"])
        style = rng.choice((None, *STYLES)) if attribute != "style" else None
        if attribute in ("glasses", "hat"):
            new = not base[attribute]
        elif attribute == "style":
            new = rng.choice(list(STYLES))
        else:
            new = rng.choice([v for _, v in SWAPS[attribute] if v != base[attribute]])
        before = swap_prompt(base, attribute, base[attribute] if attribute != "style" else None)
        after = swap_prompt(base, attribute, new) if attribute != "style" else before
        rows.append(
            (
                attribute,
                new,
                styled(before, style),
                styled(after, new if attribute == "style" else style),
                1000 + i,
            )
        )
    prompts = [r[3][0] for r in rows]
    negatives = [r[3][1] for r in rows]
    images = paint(pipe, prompts, negatives, [r[4] for r in rows], steps, guidance)
    readings = read(reader, images)
    table: dict[str, dict] = {}
    for (attribute, new, *_), reading in zip(rows, readings, strict=True):
        entry = table.setdefault(attribute, {"n": 0, "hits": 0})
        entry["n"] += 1
        entry["hits"] += reading[attribute] == new
    for attribute, entry in table.items():
        entry["accuracy"] = round(entry["hits"] / entry["n"], 3)
        # A reader that ignored the picture would name the new word 1 time in len(values).
        entry["chance_uniform"] = round(1 / len(HEADS[attribute]), 3)
    return table


def style_sweep(pipe, reader, prompts, seed, steps, guidance):
    order = ["none", *STYLES]
    cells = [(p, s) for p in prompts for s in order]
    texts, negatives = zip(*(styled(p, s) for p, s in cells), strict=True)
    images = paint(pipe, list(texts), list(negatives), [seed] * len(cells), steps, guidance)
    readings = read(reader, images)
    per_style = {}
    for (_, style), image, reading in zip(cells, images, readings, strict=True):
        hsv = np.asarray(image.convert("HSV"), dtype=np.float32) / 255
        entry = per_style.setdefault(style, {"read_as_style": 0, "luminance": [], "saturation": []})
        entry["read_as_style"] += reading["style"] == style
        entry["luminance"].append(float(hsv[..., 2].mean()))
        entry["saturation"].append(float(hsv[..., 1].mean()))
    for entry in per_style.values():
        entry["read_as_style"] = f"{entry['read_as_style']}/{len(prompts)}"
        entry["luminance"] = round(float(np.mean(entry["luminance"])), 3)
        entry["saturation"] = round(float(np.mean(entry["saturation"])), 3)
    return per_style, images, len(order)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", type=Path, default=ROOT / "generation/weights/likeness-portraits"
    )
    parser.add_argument("--prompts", type=int, default=300)
    parser.add_argument("--swaps", type=int, default=300)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--guidance", type=float, default=6.0)
    parser.add_argument("--classifier-images", type=int, default=6000)
    parser.add_argument("--classifier-epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=50_000, help="held-out seeds start here")
    args = parser.parse_args(argv)
    started = time.monotonic()
    torch.manual_seed(0)

    reader = train_reader(args.classifier_images, seed=args.seed + 1, epochs=args.classifier_epochs)
    pipe = load(args.model)
    rng = random.Random(args.seed + 2)
    check = [sample_attributes(rng) for _ in range(500)]
    drawn = [draw_portrait(a, 128) for a in check]
    with torch.no_grad():
        pixels = torch.from_numpy(np.stack([np.asarray(im) for im in drawn])).permute(0, 3, 1, 2)
        pixels = pixels.float() / 127.5 - 1
        decoded = pipe.vae.decode(pipe.vae.encode(pixels).latent_dist.mean).sample
    recon = [
        Image.fromarray(((d.permute(1, 2, 0).clamp(-1, 1) + 1) * 127.5).round().byte().numpy())
        for d in decoded
    ]
    ceiling = {
        "drawings": reader_ceiling(reader, check, drawn),
        "vae": reader_ceiling(reader, check, recon),
    }
    log("classifier on held-out drawings / their VAE reconstructions:")
    for name in HEADS:
        log(f"  {name:12} {ceiling['drawings'][name]:.3f} / {ceiling['vae'][name]:.3f}")

    adherence, records, captions, images = held_out(
        pipe, reader, args.prompts, args.seed + 3, args.steps, args.guidance
    )
    log("held-out captions: attribute, n, accuracy, chance (uniform / majority)")
    for name, row in adherence.items():
        log(
            f"  {name:12} {row['n']:4} {row['accuracy']:.3f}  {row['chance_uniform']:.3f} / {row['chance_majority']:.3f}"
        )

    swaps = one_word_swaps(pipe, reader, args.swaps, args.seed + 4, args.steps, args.guidance)
    log("one word swapped: attribute, n, new word read, chance")
    for name, row in sorted(swaps.items()):
        log(f"  {name:12} {row['n']:4} {row['accuracy']:.3f}  {row['chance_uniform']:.3f}")

    sweep_prompts = [
        "portrait of a bearded old man with glasses",
        "a smiling woman with red hair",
    ]
    sweep, sweep_images, cols = style_sweep(
        pipe, reader, sweep_prompts, 7, args.steps, args.guidance
    )
    log("style sweep: style, read as its style, mean luminance, mean saturation")
    for style, row in sweep.items():
        log(
            f"  {style:24} {row['read_as_style']:>5} {row['luminance']:.3f} {row['saturation']:.3f}"
        )

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(parents=True, exist_ok=True)
    sheet_rows = []
    for i in range(12):
        extra = paint(
            pipe,
            [captions[i]] * 3,
            [_caption_prompt(captions[i], records[i].style)[1]] * 3,
            [101, 102, 103],
            args.steps,
            args.guidance,
        )
        sheet_rows += [draw_portrait(records[i], 128), images[i], *extra]
    contact_sheet(sheet_rows, cols=5).save(RESULTS / f"prompt_adherence-{stamp}-captions.png")
    (RESULTS / f"prompt_adherence-{stamp}-captions.txt").write_text(
        "Rows: the drawing the caption was made from, then the model's paintings of the "
        "caption from seeds i, 101, 102, 103.\n" + "".join(f"{c}\n" for c in captions[:12]),
        encoding="utf-8",
    )
    contact_sheet(sweep_images, cols=cols).save(RESULTS / f"prompt_adherence-{stamp}-styles.png")
    result = {
        "model": str(args.model),
        "args": {k: str(v) for k, v in vars(args).items()},
        "classifier_ceiling": ceiling,
        "held_out_captions": adherence,
        "one_word_swaps": swaps,
        "style_sweep": {"prompts": sweep_prompts, "columns": ["none", *STYLES], "styles": sweep},
        "seconds": round(time.monotonic() - started, 1),
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        },
    }
    path = RESULTS / f"prompt_adherence-{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(
        "RESULT "
        + json.dumps(
            {
                "held_out": {k: v["accuracy"] for k, v in adherence.items()},
                "swaps": {k: v["accuracy"] for k, v in swaps.items()},
            }
        )
    )
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
