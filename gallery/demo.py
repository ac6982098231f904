"""A demo community for a fresh clone, and the same at benchmark scale (``seed_demo``).

Two builders, one cast:

* ``demo_seed`` paints a small community through the real path, one member action at a
  time: members sign up (``accounts.services``), follow each other, submit jobs and
  remixes (``generation.services.job_submit`` / ``job_submit_remix``), the worker's own
  code paints them with the configured model (``job_start`` then ``job_run``, what the
  Celery task does), owners publish (``portraits.services.portrait_update``,
  ``portraits.community.portraits_visibility_set``) and tag them, members like them
  (``gallery.services``). Notifications follow from those services as they would for
  real members.
* ``demo_seed_fast`` builds benchmark scale (100,000 portraits, a million likes) in
  minutes: the same models, rows bulk-inserted, the pictures synthetic (one small file
  per style, shared), but every counter and score computed by ``portraits.community``'s
  own functions, in the order its services would have applied them, so the rows are
  the ones the per-row services would have left (the tests recompute and compare).

Demo members are recognised by their e-mail domain (``DEMO_EMAIL_DOMAIN``); ``demo_reset``
removes them with everything they made.
"""

from __future__ import annotations

import io
import json
import random
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, models, transaction
from django.test.utils import override_settings
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFont

from accounts import services as account_services
from gallery import services as gallery_services
from gallery.models import Follow, Like, Notification
from generation import services as generation_services
from generation.models import GenerationJob, GenerationModel, StylePreset
from generation.selectors import model_get_default
from portraits import community
from portraits import recipe as recipes
from portraits import services as portrait_services
from portraits.imagefiles import make_thumbnail
from portraits.lineage import compute_changes
from portraits.models import Portrait, Tag, new_public_id

User = get_user_model()
V = Portrait.Visibility

DEMO_EMAIL_DOMAIN = "demo.likeness.invalid"
# Where the benchmark's shared synthetic pictures live in storage (one pair per style).
SYNTHETIC_DIR = "portraits/demo"

Progress = Callable[[str, int], Any]  # (phase, total) → an object with update(n) and close()


# --- The cast --------------------------------------------------------------------------

MEMBERS: list[tuple[str, str, str]] = [
    (
        "ada",
        "Ada Okafor",
        "Painter of light by day, prompt tinkerer by night. Baroque shadows are my weakness.",
    ),
    ("bruno", "Bruno Ferreira", "Film photographer. I remix to find the picture I missed."),
    ("chiyo", "Chiyo Tanaka", "Ukiyo-e prints and quiet faces. Lisbon ⇄ Kyoto."),
    ("dmitri", "Dmitri Volkov", "Retired typesetter. Portraits of people who never existed."),
    ("elena", "Elena Rossi", "Renaissance nerd. If it has gold leaf, I will like it."),
    ("farid", "Farid Haddad", "Neon, rain and strangers in the city. Remixes welcome."),
    ("greta", "Greta Lindqvist", "Charcoal and watercolour studies; slow art only."),
    ("hugo", "Hugo Martin", "Teacher. I make portraits with my students on Fridays."),
    ("imani", "Imani Mensah", "Pop art and bold colour. Everything is a poster."),
    ("jonas", "Jonas Weber", "Surrealist at heart: faces with impossible architecture."),
    ("kiri", "Kiri Walker", "Bioluminescent forests and the people who live in them."),
    ("lucia", "Lucía Navarro", "Noir detective stories, one portrait at a time."),
]
FIRST_NAMES = [
    "Amara",
    "Ben",
    "Clara",
    "Dario",
    "Elif",
    "Finn",
    "Gaia",
    "Hana",
    "Ivo",
    "Jade",
    "Kofi",
    "Lea",
    "Mateo",
    "Nia",
    "Omar",
    "Pia",
    "Quentin",
    "Rosa",
    "Sami",
    "Tove",
    "Umar",
    "Vera",
    "Wen",
    "Xenia",
    "Yusuf",
    "Zoe",
    "Aiko",
    "Bram",
    "Cyra",
    "Dev",
    "Esme",
    "Femi",
    "Gus",
    "Ilse",
    "Juno",
    "Kai",
    "Lior",
    "Mina",
    "Noor",
    "Otto",
    "Priya",
    "Rafa",
    "Sora",
    "Teo",
    "Uma",
    "Vik",
    "Willa",
    "Yara",
    "Zeke",
]
LAST_NAMES = [
    "Abe",
    "Bauer",
    "Costa",
    "Diallo",
    "Eriksen",
    "Fontaine",
    "Garcia",
    "Horvat",
    "Ibsen",
    "Jansen",
    "Kaur",
    "Laine",
    "Moreau",
    "Nakamura",
    "Obi",
    "Petrov",
    "Quinn",
    "Rahman",
    "Silva",
    "Tanaka",
    "Ueda",
    "Varga",
    "Wójcik",
    "Xu",
    "Yilmaz",
    "Zhou",
    "Adeyemi",
    "Brandt",
    "Castillo",
    "Dubois",
    "Evans",
    "Fischer",
    "Gallo",
    "Haas",
    "Ito",
    "Jovanovic",
    "Kim",
    "Lund",
    "Mensah",
    "Novak",
]
BIO_PARTS = (
    "Portraits of strangers.",
    "Remixing the classics.",
    "Learning to see light.",
    "Oil and candlelight.",
    "Night owl, prompt collector.",
    "I like faces with a story.",
    "Weekend painter.",
    "Watercolour, mostly.",
    "Film noir forever.",
    "Museum guard by day.",
)

# Characters in the words the offline demo model was trained on (generation/training:
# age, hair, expression, glasses, hat, beard, background, time of day), so the demo
# community's portraits look like their prompts; a real model reads them just as well.
SUBJECTS = (
    "an old lighthouse keeper with a grey beard",
    "a young violinist with long black hair, eyes closed",
    "a smiling baker with red hair",
    "a serious old boxer with short grey hair",
    "a surprised young woman with blue hair",
    "an astronomer with glasses",
    "a bearded fisherman wearing a hat",
    "a smiling grandmother with silver hair and glasses",
    "a jazz trumpeter with a big smile",
    "a young botanist with short brown hair",
    "a stern chess master with glasses",
    "a cheerful child with golden hair",
    "a cartographer with auburn hair and a straight face",
    "a beekeeper in a hat",
    "a tired nurse with long dark hair",
    "a poet with a smile and jet-black hair",
    "a serious young woman with short blonde hair",
    "a bald blacksmith with a full beard",
    "a dancer with long red hair",
    "an elderly monk with a shaved head",
    "a street musician in a hat",
    "a clockmaker with round glasses",
    "an astonished explorer with a grey beard",
    "a gardener with chestnut hair",
)
DETAILS = (
    "lit from the left",
    "at sunset",
    "at night",
    "light from the right",
    "in daylight",
    "on a teal background",
    "on a yellow background",
    "against a purple backdrop",
    "on a red background",
    "under a night sky",
    "at dusk",
    "on a green background",
)
REMIX_ADDITIONS = (
    "wearing a blue hat",
    "with glasses",
    "smiling broadly",
    "with a surprised look",
    "with green eyes",
    "in a hat",
    "with a serious expression",
    "with closed eyes",
    "laughing",
    "with silver hair",
)
TAG_WORDS = (
    "portrait",
    "character",
    "light",
    "night",
    "winter",
    "music",
    "craft",
    "sea",
    "study",
    "story",
    "vintage",
    "colour",
    "mood",
    "elderly",
    "youth",
    "rain",
)


def _prompt(rng: random.Random) -> str:
    return f"{rng.choice(SUBJECTS)}, {rng.choice(DETAILS)}"


def _remixed_prompt(rng: random.Random, prompt: str) -> str:
    addition = rng.choice(REMIX_ADDITIONS)
    head, _, tail = prompt.partition(", ")
    if addition in prompt:
        return f"{head}, {rng.choice(DETAILS)}"
    return f"{head} {addition}, {tail}" if tail else f"{head} {addition}"


def _tags_for(rng: random.Random, style: str, prompt: str) -> list[str]:
    tags = [style] if style else []
    words = [word for word in TAG_WORDS if word in prompt] or list(TAG_WORDS)
    tags += rng.sample(words, k=min(len(words), rng.randint(1, 2)))
    return list(dict.fromkeys(tags))


def _avatar_png(name: str, rng: random.Random) -> bytes:
    """A cheap generated avatar: the member's initials on a two-colour gradient."""
    size = 256
    top = tuple(rng.randint(40, 200) for _ in range(3))
    bottom = tuple(rng.randint(40, 200) for _ in range(3))
    gradient = Image.linear_gradient("L").resize((size, size))
    image = Image.composite(
        Image.new("RGB", (size, size), bottom), Image.new("RGB", (size, size), top), gradient
    )
    initials = "".join(part[0] for part in name.split()[:2]).upper()
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=110)
    draw.text((size / 2, size / 2), initials, fill=(255, 255, 255), font=font, anchor="mm")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


# --- What exists already ----------------------------------------------------------------


def demo_users() -> models.QuerySet:
    return User.objects.filter(email__iendswith=f"@{DEMO_EMAIL_DOMAIN}")


def demo_reset() -> dict[str, int]:
    """Remove the demo members and everything they made (jobs, portraits, likes,
    follows, notifications), remixes deepest first so no parent is removed under its
    remix. Refuses (``ValueError``) when someone else's portrait remixes a demo one:
    removing it would take another member's work apart."""
    users = demo_users()
    portraits = Portrait.objects.filter(author__in=users)
    foreign = Portrait.objects.filter(parent__in=portraits).exclude(author__in=users)
    if foreign.exists():
        raise ValueError(
            f"{foreign.count()} portrait(s) of other members remix demo portraits; "
            "remove those first."
        )
    files = {
        name
        for pair in portraits.values_list("image", "thumbnail").iterator(chunk_size=5000)
        for name in pair
        if name and not name.startswith(f"{SYNTHETIC_DIR}/")
    }
    removed = {"users": users.count(), "portraits": portraits.count()}
    with transaction.atomic():
        # The rows that point at demo portraits or members, then the portraits by depth so
        # PROTECT never trips. ``_raw_delete``: one DELETE each, not Django's collector,
        # which would load a million likes to look for what cascades from them (nothing
        # does, and no receiver listens to their deletion).
        Notification.objects.filter(
            models.Q(recipient__in=users) | models.Q(actor__in=users)
        ).delete()
        Notification.objects.filter(portrait__in=portraits)._raw_delete(using="default")
        Like.objects.filter(portrait__in=portraits)._raw_delete(using="default")
        # A demo member's likes of anyone else's portraits, and remixes of them, come out
        # of those portraits' counters: likes by the accounts' own pre_delete receiver
        # (gallery.services.likes_withdraw), remixes here.
        outside = portraits.filter(parent__isnull=False, deleted_at__isnull=True).exclude(
            parent__author__in=users
        )
        for parent_id, created_at in outside.values_list("parent_id", "created_at"):
            community.portrait_activity_record(
                portrait_id=parent_id, kind="remix", at=created_at, delta=-1
            )
        Follow.objects.filter(models.Q(follower__in=users) | models.Q(followed__in=users)).delete()
        Portrait.tags.through.objects.filter(portrait__in=portraits)._raw_delete(using="default")
        GenerationJob.objects.filter(user__in=users).update(parent=None)
        GenerationJob.objects.filter(parent__in=portraits).update(parent=None)
        GenerationJob.objects.filter(user__in=users).delete()
        depths = sorted(set(portraits.values_list("depth", flat=True)), reverse=True)
        for depth in depths:
            Portrait.objects.filter(author__in=users, depth=depth)._raw_delete(using="default")
        EmailAddress.objects.filter(user__in=users).delete()
        if removed["users"] <= 100:
            for user in list(users):  # closes their open connections too
                account_services.user_delete(user=user)
        else:  # benchmark scale: members who never signed in, removed in bulk
            files |= {name for name in users.values_list("avatar", flat=True) if name}
            users.delete()
    for name in files:
        with suppress(OSError):
            default_storage.delete(name)
    return removed


# --- The small community, painted --------------------------------------------------------


@dataclass
class DemoSummary:
    users: int = 0
    portraits: int = 0
    published: int = 0
    remixes: int = 0
    max_depth: int = 0
    likes: int = 0
    follows: int = 0
    tags: int = 0
    notifications: int = 0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def _members(count: int, rng: random.Random) -> Iterator[tuple[str, str, str]]:
    for index in range(count):
        if index < len(MEMBERS):
            yield MEMBERS[index]
        else:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            yield (
                f"{first}{last}{index}".lower(),
                f"{first} {last}",
                " ".join(rng.sample(BIO_PARTS, 2)),
            )


def _plan(count: int, members: int, styles: int, rng: random.Random) -> list[dict[str, Any]]:
    """What to paint, in order: originals first (every style at least once when there is
    room), then remixes, the first of which form one chain as deep as it can go and the
    rest branch from anywhere. An original names its painter and style by index; a
    remix's painter is chosen when it is painted, never the author of its parent."""
    originals = max(1, min(count, max(min(styles, (count + 1) // 2), count * 2 // 5)))
    steps: list[dict[str, Any]] = []
    for index in range(originals):
        steps.append({"kind": "original", "author": index % members, "style": index % styles})
    chain_length = min(count - originals, 5)
    parent = 0
    for index in range(count - originals):
        if index < chain_length:
            steps.append({"kind": "remix", "parent": parent})
            parent = len(steps) - 1
        else:
            steps.append({"kind": "remix", "parent": rng.randrange(len(steps))})
    return steps


@contextmanager
def _operator_quota():
    # The operator seeds the demo, not a member: members' submission rate and active-job
    # limits do not apply to it (each job is painted before the next is submitted).
    with override_settings(GENERATION_SUBMIT_RATE="1000000/hour", GENERATION_MAX_ACTIVE_JOBS=1000):
        yield


def _paint(submit: Callable[[], GenerationJob]) -> list[Portrait]:
    """Submit a job and paint it in this process the way the worker's task does: the
    job is claimed (``job_start``) in the submission's own transaction, so the message
    sent to the broker on commit finds it running and is ignored by any worker, then
    ``job_run`` paints and stores it."""
    with transaction.atomic():
        job = submit()
        running = generation_services.job_start(job_id=job.pk, worker="seed_demo")
    if running is None:
        raise RuntimeError(f"job {job.pk} could not be claimed")
    status = generation_services.job_run(job=running)
    if status != GenerationJob.Status.SUCCEEDED:
        running.refresh_from_db(fields=["error"])
        raise RuntimeError(f"job {job.pk} {status}: {running.error}")
    return list(Portrait.objects.filter(job_id=job.pk).order_by("index_in_job"))


def demo_seed(
    *,
    users: int = 12,
    portraits: int = 60,
    seed: int = 1,
    password: str | None = None,
    progress: Progress | None = None,
) -> DemoSummary:
    """Paint a small community through the real path (see the module docstring).

    ``password``: every demo member's password (to sign in as one); without it their
    passwords are unusable. Needs a default model (``add_demo_model``) and the
    signing credentials, as any painted portrait does.
    """
    if users < 2:
        raise ValueError("A community needs at least two members.")
    if portraits < 1:
        raise ValueError("Paint at least one portrait.")
    model = model_get_default()
    if model is None:
        raise ValueError("No default model: run `python manage.py add_demo_model` first.")
    styles = list(StylePreset.objects.filter(is_enabled=True).order_by("order", "name"))
    if not styles:
        raise ValueError("No enabled style preset.")
    rng = random.Random(seed)
    started = time.monotonic()
    summary = DemoSummary()

    # Members, with profiles and avatars, through the sign-up and profile services.
    members = []
    for username, display_name, bio in _members(users, rng):
        user = account_services.user_register(
            username=username,
            email=f"{username}@{DEMO_EMAIL_DOMAIN}",
            password=password or secrets.token_urlsafe(24),
            display_name=display_name,
        )
        EmailAddress.objects.filter(user=user).update(verified=True)
        avatar = SimpleUploadedFile("avatar.png", _avatar_png(display_name, rng), "image/png")
        account_services.user_profile_update(user=user, bio=bio, avatar=avatar)
        if password is None:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        members.append(user)
    summary.users = len(members)

    # Follows before painting: followers hear of each publication.
    for index, follower in enumerate(members):
        others = [m for m in members if m.pk != follower.pk]
        for followed in rng.sample(others, k=min(len(others), 2 + index % 4)):
            gallery_services.follow_add(follower=follower, followed=followed)
            summary.follows += 1

    plan = _plan(portraits, len(members), len(styles), rng)
    made: list[Portrait] = []  # one published portrait per step, in step order
    bar = progress("painting", len(plan)) if progress else None
    with _operator_quota():
        for step in plan:
            if step["kind"] == "original":
                author = members[step["author"]]
                style = styles[step["style"]]
                # Now and then a batch of two, of which the owner publishes one.
                batch = 2 if len(made) % 5 == 4 and len(made) + 2 <= portraits else 1
                spec = {
                    "prompt": _prompt(rng),
                    "style": style.slug,
                    "seed": rng.randrange(2**31),
                    "num_images": batch,
                }
                painted = _paint(partial(generation_services.job_submit, user=author, spec=spec))
            else:
                parent = made[step["parent"]]
                candidates = [m for m in members if m.pk != parent.author_id]
                author = rng.choice(candidates)
                changes: dict[str, Any] = {}
                roll = rng.random()
                if roll < 0.45:
                    changes["prompt"] = _remixed_prompt(rng, parent.recipe.get("prompt", ""))
                elif roll < 0.7:
                    changes["style"] = rng.choice(styles).slug
                elif roll < 0.85:
                    changes["init_strength"] = round(rng.uniform(0.4, 0.8), 2)
                    changes["seed"] = rng.randrange(2**31)
                else:
                    changes["seed"] = rng.randrange(2**31)
                    changes["guidance_scale"] = round(rng.uniform(5, 9), 1)
                painted = _paint(
                    partial(
                        generation_services.job_submit_remix,
                        user=author,
                        portrait=parent,
                        changes=changes,
                    )
                )
                summary.remixes += 1
            keep, *rest = painted
            if rest:
                community.portraits_visibility_set(
                    by=author,
                    choices={keep.public_id: V.PUBLIC, **{p.public_id: V.PRIVATE for p in rest}},
                )
                keep.refresh_from_db()
            else:
                keep = portrait_services.portrait_update(
                    portrait=keep, by=author, data={"visibility": V.PUBLIC}
                )
            community.portrait_tags_set(
                portrait=keep,
                slugs=community.tags_parse(
                    _tags_for(rng, keep.style, keep.recipe.get("prompt", ""))
                ),
            )
            made.append(keep)
            summary.portraits += len(painted)
            summary.published += 1
            summary.max_depth = max(summary.max_depth, keep.depth)
            if bar:
                bar.update(1)
    if bar:
        bar.close()

    # Likes: everyone likes a few of the others' portraits, the popular ones more.
    weights = [1.0 / (1 + index % 7) for index in range(len(made))]
    for member in members:
        theirs = [p for p in made if p.author_id != member.pk]
        wanted = min(len(theirs), rng.randint(3, 3 + len(theirs) // 2))
        chosen: dict[int, Portrait] = {}
        pool = [(p, weights[made.index(p)]) for p in theirs]
        while len(chosen) < wanted:
            portrait = rng.choices([p for p, _ in pool], weights=[w for _, w in pool])[0]
            chosen[portrait.pk] = portrait
        for portrait in chosen.values():
            gallery_services.like_add(user=member, portrait=portrait)
            summary.likes += 1

    summary.tags = Tag.objects.filter(portraits__author__in=members).distinct().count()
    summary.notifications = Notification.objects.filter(recipient__in=members).count()
    summary.seconds = time.monotonic() - started
    return summary


# --- Benchmark scale -------------------------------------------------------------------


@contextmanager
def _timestamps_as_given(*model_fields: tuple[type[models.Model], str]):
    """Let bulk inserts keep the ``auto_now``/``auto_now_add`` values they carry: a year
    of history is written at once, and ``created_at`` is part of what is measured."""
    saved = []
    for model, name in model_fields:
        model_field = model._meta.get_field(name)
        saved.append((model_field, model_field.auto_now, model_field.auto_now_add))
        model_field.auto_now = model_field.auto_now_add = False
    try:
        yield
    finally:
        for model_field, auto_now, auto_now_add in saved:
            model_field.auto_now, model_field.auto_now_add = auto_now, auto_now_add


def _bulk_insert(
    model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence]
) -> int:
    """Insert plain rows into ``model``'s table: PostgreSQL's COPY (a million likes in
    seconds), elsewhere ``bulk_create`` in batches. ``columns`` are column names."""
    count = 0
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(model._meta.db_table)
        names = ", ".join(connection.ops.quote_name(c) for c in columns)
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
                count += 1
        return count
    attnames = {f.column: f.attname for f in model._meta.concrete_fields}
    batch: list[models.Model] = []
    for row in rows:
        batch.append(model(**{attnames[c]: v for c, v in zip(columns, row, strict=True)}))
        if len(batch) >= 2000:
            model.objects.bulk_create(batch)
            count += len(batch)
            batch = []
    if batch:
        model.objects.bulk_create(batch)
        count += len(batch)
    return count


def _ids_reserve(model: type[models.Model], count: int) -> list[int]:
    """On PostgreSQL, ``count`` ids drawn from ``model``'s own id sequence (so COPY can
    write rows that point at each other, and later inserts never collide); elsewhere
    none (``bulk_create`` returns them)."""
    if connection.vendor != "postgresql" or not count:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, count],
        )
        return [row[0] for row in cursor.fetchall()]


def _copy_objects(model: type[models.Model], objects: Iterable[models.Model], *, bar=None) -> None:
    """PostgreSQL's COPY of unsaved model instances, every concrete column as the instance
    holds it (JSON as text, files by name): ``bulk_create``'s rows, a dozen times faster."""
    fields = model._meta.concrete_fields
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    kinds = [
        "json"
        if isinstance(f, models.JSONField)
        else "file"
        if isinstance(f, models.FileField)
        else ""
        for f in fields
    ]
    count = 0
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for count, obj in enumerate(objects, 1):
            row = []
            for f, kind in zip(fields, kinds, strict=True):
                value = getattr(obj, f.attname)
                if kind == "json":
                    value = json.dumps(value)
                elif kind == "file":
                    value = value.name if value else ""
                row.append(value)
            copy.write_row(row)
            if bar and count % 1000 == 0:
                bar.update(1000)
        if bar:
            bar.update(count % 1000)


def _synthetic_pictures(
    styles: Sequence[StylePreset],
) -> dict[str, tuple[str, str, int, int, int, int]]:
    """One small original and thumbnail per style, written once and shared by path:
    ``{style slug: (image name, thumbnail name, width, height, thumb width, thumb height)}``."""
    pictures = {}
    for index, style in enumerate([*styles, None]):
        slug = style.slug if style else ""
        stem = slug or "plain"
        width = height = 128
        hue = (index * 67) % 256
        tint = Image.new("RGB", (width, height), (hue, (hue * 3) % 256, (255 - hue) % 256))
        image = Image.blend(
            Image.linear_gradient("L").resize((width, height)).convert("RGB"), tint, 0.55
        )
        image_name, thumb_name = f"{SYNTHETIC_DIR}/{stem}.png", f"{SYNTHETIC_DIR}/{stem}-thumb.webp"
        out = io.BytesIO()
        image.save(out, "PNG")
        thumb, thumb_width, thumb_height = make_thumbnail(image)
        for name, data in ((image_name, out.getvalue()), (thumb_name, thumb)):
            if default_storage.exists(name):
                default_storage.delete(name)
            default_storage.save(name, ContentFile(data))
        pictures[slug] = (image_name, thumb_name, width, height, thumb_width, thumb_height)
    return pictures


@dataclass
class _Node:
    """One portrait of the synthetic world before it is inserted."""

    author: int
    at: datetime  # created (painted)
    visibility: str
    published_at: datetime | None
    parent: int | None
    public_id: str
    recipe: dict[str, Any]
    depth: int = 0
    root: int | None = None
    hidden: bool = False
    tags: list[str] = field(default_factory=list)
    pk: int | None = None
    ancestry: str = ""
    likes: list[datetime] = field(default_factory=list)
    remixes: list[datetime] = field(default_factory=list)


def demo_seed_fast(
    *,
    users: int = 1000,
    portraits: int = 100_000,
    likes: int = 1_000_000,
    tree: int = 500,
    seed: int = 1,
    progress: Progress | None = None,
    log: Callable[[str], None] = lambda line: None,
) -> DemoSummary:
    """Benchmark scale in minutes (see the module docstring). Rows are the ones the per-row
    services would leave: ``like_count`` = its likes, ``remix_count`` = its remixes,
    ``trending`` folded from the publication, like and remix terms in time order with
    ``portraits.community``'s own functions; lineage (parent, root, depth, ancestry,
    changes) as ``portrait_create_from_job`` writes it; search documents by
    ``search_documents_refresh``. One remix tree of exactly ``tree`` portraits (when
    ``portraits`` allows) is there for the benchmark: ``summary.extra["tree_root"]``."""
    if users < 2:
        raise ValueError("A community needs at least two members.")
    started = time.monotonic()
    summary = DemoSummary()
    rng = random.Random(seed)
    now = timezone.now()
    year_ago = now - timedelta(days=365)
    styles = list(StylePreset.objects.filter(is_enabled=True).order_by("order", "name"))
    model = model_get_default() or GenerationModel.objects.order_by("pk").first()
    if model is None:
        raise ValueError("No generation model: run `python manage.py add_demo_model` first.")
    limits = model.limits()
    templates = {style.slug: style.template() for style in styles}
    phase_started = time.monotonic()

    def phase(name: str) -> None:
        nonlocal phase_started
        elapsed = time.monotonic() - phase_started
        summary.phases[name] = round(elapsed, 2)
        log(f"{name}: {elapsed:.1f} s")
        phase_started = time.monotonic()

    # Members, verified (a profile is public once its member has confirmed an address).
    password = make_password(None)
    cast = list(_members(users, rng))
    with _timestamps_as_given((User, "date_joined")):
        created_users = User.objects.bulk_create(
            [
                User(
                    username=username,
                    email=f"{username}@{DEMO_EMAIL_DOMAIN}",
                    display_name=display_name,
                    bio=bio,
                    password=password,
                    date_joined=year_ago - timedelta(days=rng.randint(1, 400)),
                )
                for username, display_name, bio in cast
            ],
            batch_size=1000,
        )
    if created_users[0].pk is None:  # a backend that does not return ids
        created_users = list(demo_users().order_by("pk"))
    EmailAddress.objects.bulk_create(
        [EmailAddress(user=u, email=u.email, primary=True, verified=True) for u in created_users],
        batch_size=1000,
    )
    user_ids = [u.pk for u in created_users]
    names = [u.public_name for u in created_users]
    summary.users = len(user_ids)
    phase("members")

    # The world: when each portrait was painted and published, who painted it, what it remixes.
    times = sorted(year_ago + (now - year_ago) * (rng.random() ** 0.6) for _ in range(portraits))
    author_weights = [1.0 / (1 + i) ** 0.8 for i in range(users)]
    rng.shuffle(author_weights)
    authors = rng.choices(range(users), weights=author_weights, k=portraits)
    nodes: list[_Node] = []
    tree_size = tree if portraits >= tree * 2 and tree > 0 else 0
    tree_members: set[int] = set()
    tree_root = len(times) // 3 if tree_size else None
    if tree_size:
        later = range(tree_root + 1, portraits)
        tree_members = {tree_root, *rng.sample(later, tree_size - 1)}
    tree_order: list[int] = []
    pool: list[int] = []  # public portraits outside the tree that may be remixed
    for index, at in enumerate(times):
        author = authors[index]
        parent: int | None = None
        if index in tree_members:
            if index != tree_root:
                parent = rng.choice(tree_order)
        elif pool and rng.random() < 0.35:
            parent = pool[-rng.randint(1, min(len(pool), 3000))] if rng.random() < 0.6 else None
            if parent is None:  # the rich get richer: remix what was remixed
                parent = rng.choice(pool)
                if nodes[parent].parent is not None and rng.random() < 0.5:
                    parent = nodes[parent].parent
        if parent is not None and authors[parent] == author:
            author = (author + 1 + rng.randrange(users - 1)) % users
        roll = rng.random()
        visibility = (
            V.PUBLIC
            if roll < 0.92 or index == tree_root
            else V.PRIVATE
            if roll < 0.97
            else V.UNLISTED
        )
        if index in tree_members and index != tree_root and rng.random() < 0.05:
            visibility = V.PRIVATE
        created = at - timedelta(seconds=rng.uniform(0, 6 * 3600))
        if parent is not None:
            created = max(created, nodes[parent].published_at + timedelta(seconds=1))
            at = max(at, created)
        node = _Node(
            author=author,
            at=created,
            visibility=visibility,
            published_at=at if visibility == V.PUBLIC else None,
            parent=parent,
            public_id=new_public_id(),
            recipe={},
            hidden=visibility == V.PUBLIC and rng.random() < 0.005 and index != tree_root,
        )
        if parent is not None:
            up = nodes[parent]
            node.depth = up.depth + 1
            node.root = up.root if up.root is not None else parent
            up.remixes.append(node.at)
        nodes.append(node)
        if visibility == V.PUBLIC and not node.hidden:
            # Only what others may see is remixed by others; the tree grows apart.
            (tree_order if index in tree_members else pool).append(index)
    phase("world")

    # Recipes (built by portraits.recipe as a job would freeze them) and lineage changes.
    for node in nodes:
        if node.parent is None:
            style = rng.choice(styles) if styles and rng.random() < 0.9 else None
            asked = {
                "prompt": _prompt(rng),
                "negative_prompt": "",
                "scheduler": "",
                "seed": rng.randrange(2**31),
                "steps": limits.default_steps,
                "guidance_scale": limits.default_guidance,
                "width": limits.default_width,
                "height": limits.default_height,
                "num_images": 1,
                "init_strength": None,
            }
        else:
            parent_recipe = nodes[node.parent].recipe
            asked = {key: parent_recipe.get(key) for key in recipes.ASKED_FIELDS}
            asked.update(
                num_images=1,
                init_strength=None,
                scheduler=parent_recipe.get("requested_scheduler", ""),
            )
            style = next((s for s in styles if s.slug == parent_recipe.get("style")), None)
            roll = rng.random()
            if roll < 0.5:
                asked["prompt"] = _remixed_prompt(rng, asked["prompt"])
            elif roll < 0.75 and styles:
                style = rng.choice(styles)
            else:
                asked["seed"] = rng.randrange(2**31)
        frozen = recipes.job_snapshot(
            prompt=asked["prompt"],
            negative_prompt=asked["negative_prompt"],
            model=limits,
            style=templates[style.slug] if style else None,
            parent=nodes[node.parent].public_id if node.parent is not None else None,
        )
        (node.recipe,) = recipes.portrait_recipes(
            recipes.recipe_assemble(asked, frozen),
            seeds=[asked["seed"]],
            scheduler=limits.default_scheduler or "PNDMScheduler",
            model_revision=limits.revision or "sha256:demo",
            device="cpu",
            dtype="float32",
            diffusers_version="0.42.1",
            torch_version="2.13.0+cpu",
        )
        node.tags = _tags_for(rng, style.slug if style else "", asked["prompt"])
    phase("recipes")

    # Likes: a few portraits collect most of them; members who like more, like more.
    likeable = [i for i, n in enumerate(nodes) if n.visibility == V.PUBLIC]
    liker_weights = [1.0 / (1 + i) ** 0.7 for i in range(users)]
    rng.shuffle(liker_weights)
    popularity = [min(rng.paretovariate(1.2), 60.0) for _ in likeable]
    # At most four in five of the possible (member, others' portrait) pairs: past that,
    # drawing distinct pairs by popularity takes long.
    wanted = min(likes, len(likeable) * (users - 1) * 4 // 5)
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < wanted:
        need = wanted - len(pairs)
        chosen = rng.choices(likeable, weights=popularity, k=need + need // 10 + 10)
        who = rng.choices(range(users), weights=liker_weights, k=len(chosen))
        for pair in zip(who, chosen, strict=True):
            if nodes[pair[1]].author == pair[0]:
                continue
            pairs.add(pair)
            if len(pairs) >= wanted:
                break
    like_rows = []
    for user, index in pairs:
        node = nodes[index]
        at = node.published_at + (now - node.published_at) * (rng.random() ** 3)
        node.likes.append(at)
        like_rows.append((user, index, at))
    summary.likes = len(like_rows)
    phase("likes planned")

    # Counters and trending, as portraits.community's services would have left them:
    # the publication's term, then each like and remix in time order.
    counts = []
    for node in nodes:
        events = [(node.published_at, "publish")] if node.published_at else []
        events += [(at, "like") for at in node.likes] + [(at, "remix") for at in node.remixes]
        events.sort(key=lambda event: event[0])
        trending = None
        for at, kind in events:
            # _log2_add is the very sum portrait_activity_record and visibility_apply use.
            trending = community._log2_add(trending, community.trending_term(kind, at))
        counts.append((len(node.likes), len(node.remixes), trending))
    phase("counters")

    # Insert: portraits level by level (a remix needs its parent's id), then the rest.
    pictures = _synthetic_pictures(styles)
    by_depth: dict[int, list[int]] = defaultdict(list)
    for index, node in enumerate(nodes):
        by_depth[node.depth].append(index)
    bar = progress("portraits", len(nodes)) if progress else None
    order = [index for depth in sorted(by_depth) for index in by_depth[depth]]
    preassigned = _ids_reserve(Portrait, len(order))
    if preassigned:  # PostgreSQL: ids from the table's own sequence, then one COPY
        for index, pk in zip(order, preassigned, strict=True):
            nodes[index].pk = pk

    def portrait_row(index: int) -> Portrait:
        node = nodes[index]
        parent = nodes[node.parent] if node.parent is not None else None
        if parent is not None:  # the parent's descendant_prefix
            node.ancestry = f"{parent.ancestry or '/'}{parent.pk}/"
        like_count, remix_count, trending = counts[index]
        image, thumb, width, height, thumb_width, thumb_height = pictures.get(
            node.recipe.get("style") or "", pictures[""]
        )
        return Portrait(
            pk=node.pk,
            public_id=node.public_id,
            author_id=user_ids[node.author],
            author_name=names[node.author],
            title=recipes.title_from_prompt(node.recipe["prompt"]),
            visibility=node.visibility,
            image=image,
            width=width,
            height=height,
            thumbnail=thumb,
            thumbnail_width=thumb_width,
            thumbnail_height=thumb_height,
            recipe=node.recipe,
            parent_id=parent.pk if parent else None,
            root_id=nodes[node.root].pk if node.root is not None else None,
            depth=node.depth,
            ancestry=node.ancestry,
            changes=compute_changes(parent.recipe, node.recipe) if parent else {},
            published_at=node.published_at,
            like_count=like_count,
            remix_count=remix_count,
            trending=trending,
            hidden_at=node.published_at + timedelta(days=1) if node.hidden else None,
            hidden_cause="moderation" if node.hidden else "",
            style=node.recipe.get("style") or "",
            model=node.recipe.get("model") or "",
            created_at=node.at,
            updated_at=node.published_at or node.at,
        )

    if preassigned:
        with transaction.atomic():  # foreign keys are checked at commit: any order will do
            _copy_objects(Portrait, (portrait_row(index) for index in order), bar=bar)
    else:
        with _timestamps_as_given((Portrait, "created_at"), (Portrait, "updated_at")):
            # Level by level: a remix needs its parent's id, which the insert returns.
            for depth in sorted(by_depth):
                level = by_depth[depth]
                for start in range(0, len(level), 2000):
                    chunk = level[start : start + 2000]
                    made = Portrait.objects.bulk_create([portrait_row(index) for index in chunk])
                    for index, row in zip(chunk, made, strict=True):
                        nodes[index].pk = row.pk
                    if bar:
                        bar.update(len(chunk))
    if bar:
        bar.close()
    summary.portraits = len(nodes)
    summary.published = sum(1 for n in nodes if n.visibility == V.PUBLIC)
    summary.remixes = sum(1 for n in nodes if n.parent is not None)
    summary.max_depth = max((n.depth for n in nodes), default=0)
    if tree_root is not None:
        summary.extra["tree_root"] = nodes[tree_root].public_id
        summary.extra["tree_size"] = tree_size
    phase("portraits inserted")

    with _timestamps_as_given((Like, "created_at")):
        _bulk_insert(
            Like,
            ["user_id", "portrait_id", "created_at"],
            ((user_ids[user], nodes[index].pk, at) for user, index, at in like_rows),
        )
    phase("likes inserted")

    # Follows: everyone follows a handful, the popular a lot more; member 0 (the benchmark's
    # signed-in reader) follows a hundred.
    follow_pairs: set[tuple[int, int]] = set()
    for follower in range(users):
        count = 100 if follower == 0 else rng.randint(3, 40)
        for followed in rng.choices(range(users), weights=author_weights, k=count):
            if followed != follower:
                follow_pairs.add((follower, followed))
    _bulk_insert(
        Follow,
        ["follower_id", "followed_id", "created_at"],
        (
            (user_ids[a], user_ids[b], year_ago + (now - year_ago) * rng.random())
            for a, b in follow_pairs
        ),
    )
    summary.follows = len(follow_pairs)
    phase("follows inserted")

    # Tags, then what search reads, through portraits.community.
    slugs = sorted({slug for node in nodes for slug in node.tags})
    Tag.objects.bulk_create([Tag(slug=slug) for slug in slugs], ignore_conflicts=True)
    tag_ids = dict(Tag.objects.filter(slug__in=slugs).values_list("slug", "pk"))
    through = Portrait.tags.through
    _bulk_insert(
        through,
        ["portrait_id", "tag_id"],
        ((node.pk, tag_ids[slug]) for node in nodes for slug in node.tags),
    )
    summary.tags = len(slugs)
    phase("tags inserted")

    bar = progress("search documents", len(nodes)) if progress else None
    ids = [node.pk for node in nodes]
    for start in range(0, len(ids), 1000):
        with transaction.atomic():
            community.search_documents_refresh(portrait_ids=ids[start : start + 1000])
        if bar:
            bar.update(len(ids[start : start + 1000]))
    if bar:
        bar.close()
    phase("search documents")

    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        # What a bulk load is followed by: statistics for the planner, and the visibility
        # map that lets index-only scans skip the heap (VACUUM cannot run in a transaction).
        with connection.cursor() as cursor:
            for model_ in (User, EmailAddress, Portrait, Like, Follow, through, Tag):
                cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model_._meta.db_table)}")
        phase("vacuum analyze")
    summary.seconds = time.monotonic() - started
    return summary
