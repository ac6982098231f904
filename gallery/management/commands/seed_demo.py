"""``python manage.py seed_demo``: a community to explore on a fresh clone (``gallery.demo``)."""

from __future__ import annotations

import logging
import os
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from tqdm import tqdm

from config.errors import DomainError
from gallery import demo


class Command(BaseCommand):
    help = (
        "Fill the site with a demo community: members with profiles, portraits in every "
        "style painted by the configured model (the tiny one by default) with remix chains "
        "across members, likes, follows, tags and notifications. With --fast, benchmark "
        "scale in minutes (e.g. --portraits 100000 --users 1000 --likes 1000000): synthetic "
        "shared pictures, but real rows with exact counters. Refuses when demo members "
        "exist already, unless --reset."
    )

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, help="Members (default 12; 1000 with --fast).")
        parser.add_argument(
            "--portraits", type=int, help="Portraits (default 60; 100000 with --fast)."
        )
        parser.add_argument(
            "--likes", type=int, default=None, help="Likes with --fast (default 10 per portrait)."
        )
        parser.add_argument("--fast", action="store_true", help="Benchmark scale: bulk rows.")
        parser.add_argument(
            "--tree", type=int, default=500, help="With --fast: one remix tree of this size."
        )
        parser.add_argument(
            "--seed", type=int, default=1, help="Random seed (same seed, same world)."
        )
        parser.add_argument(
            "--password",
            help="Give every demo member this password (to sign in as one). "
            "Without it, their passwords are unusable.",
        )
        parser.add_argument(
            "--reset", action="store_true", help="Remove the demo members and their work first."
        )
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="Do nothing when demo members exist (what `make demo` runs every time).",
        )

    def handle(
        self,
        *args,
        users,
        portraits,
        likes,
        fast,
        tree,
        seed,
        password,
        reset,
        if_missing,
        **options,
    ):
        existing = demo.demo_users().count()
        if existing and if_missing and not reset:
            self.stdout.write(f"{existing} demo members exist already; nothing to do.")
            return
        if existing and not reset:
            raise CommandError(
                f"{existing} demo members exist already; run again with --reset to replace them."
            )
        if reset and existing:
            try:
                removed = demo.demo_reset()
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(
                f"Removed {removed['users']} demo members and {removed['portraits']} portraits."
            )
        verbosity = options.get("verbosity", 1)

        def progress(phase: str, total: int):
            return tqdm(
                total=total,
                desc=phase,
                unit="portrait" if phase in ("painting", "portraits") else "row",
                file=sys.stderr,
                disable=verbosity < 1 or None,  # None: shown on a terminal only
                dynamic_ncols=True,
            )

        quieted = {name: logging.getLogger(name).level for name in ("portraits", "generation")}
        if verbosity <= 1:
            # The worker's per-job lines and the tokenizer's truncation warnings would
            # scroll the progress bar away; errors still show. Until the command ends: it
            # may run inside another process (a test's), whose logs it must leave as found.
            for name in quieted:
                logging.getLogger(name).setLevel(logging.ERROR)
            # The libraries set their own loggers' levels from these when first imported.
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
        try:
            try:
                if fast:
                    portraits = 100_000 if portraits is None else portraits
                    summary = demo.demo_seed_fast(
                        users=1000 if users is None else users,
                        portraits=portraits,
                        likes=10 * portraits if likes is None else likes,
                        tree=tree,
                        seed=seed,
                        progress=progress,
                        log=(lambda line: self.stdout.write(f"  {line}"))
                        if verbosity > 1
                        else print_nothing,
                    )
                else:
                    if likes is not None:
                        raise CommandError("--likes goes with --fast; members like what they like.")
                    summary = demo.demo_seed(
                        users=12 if users is None else users,
                        portraits=60 if portraits is None else portraits,
                        seed=seed,
                        password=password,
                        progress=progress,
                    )
            except (ValueError, RuntimeError) as exc:
                raise CommandError(str(exc)) from exc
            except DomainError as exc:  # e.g. a --password the password validators refuse
                details = " ".join(
                    m
                    for messages in (exc.field_errors or {}).values()
                    for m in ([messages] if isinstance(messages, str) else messages)
                )
                raise CommandError(details or exc.message) from exc

        finally:
            for name, level in quieted.items():
                logging.getLogger(name).setLevel(level)

        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded on {connection.vendor}: {summary.users} members, {summary.portraits} "
                f"portraits ({summary.published} published, {summary.remixes} remixes, "
                f"chains up to {summary.max_depth} deep), {summary.likes} likes, "
                f"{summary.follows} follows, {summary.tags} tags"
                + ("" if fast else f", {summary.notifications} notifications")
                + f" in {summary.seconds:.1f} s."
            )
        )
        if summary.phases:
            self.stdout.write(
                "Phases: "
                + ", ".join(f"{name} {seconds} s" for name, seconds in summary.phases.items())
            )
        if "tree_root" in summary.extra:
            self.stdout.write(
                f"Remix tree of {summary.extra['tree_size']}: /p/{summary.extra['tree_root']}/tree/"
            )
        if not fast:
            who = demo.MEMBERS[0][0]
            self.stdout.write(
                f"Sign in as “{who}” (or any demo member) with the password you gave"
                if password
                else "Demo members have no usable password; give one with --password to sign in as them."
            )


def print_nothing(line: str) -> None:
    return None
