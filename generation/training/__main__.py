"""Look at the training data: ``python -m generation.training sheet.png [--n 64] [--size 128]``.

Writes a contact sheet of the first ``n`` portraits of the seeded data set, and their
captions, one a line, next to it (``sheet.txt``): what the training command will see.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from generation.training.dataset import dataset
from generation.training.drawing import contact_sheet


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m generation.training", description=__doc__.splitlines()[0]
    )
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cols", type=int, default=8)
    args = parser.parse_args(argv)
    items = list(dataset(args.n, seed=args.seed, size=args.size))
    contact_sheet([image for image, _, _ in items], cols=args.cols).save(args.out)
    args.out.with_suffix(".txt").write_text(
        "".join(f"{caption}\n" for _, caption, _ in items), encoding="utf-8"
    )
    print(f"{args.out}: {args.n} portraits at {args.size} px, seed {args.seed}")


if __name__ == "__main__":
    main()
