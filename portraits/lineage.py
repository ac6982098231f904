"""What a remix changed, and how a chain of remixes looks to a given viewer.

Pure functions, no queries: ``portraits.services`` computes a step's ``changes`` once,
at creation (so they survive the parent becoming private or deleted), and
``portraits.selectors`` reads the rows of a chain in one query and hands them here.

A step's stored ``changes`` (empty for an original)::

    {
      "prompt_changed": bool,
      "prompt_diff": [{"op": "equal" | "insert" | "delete", "text": "words"}, ...],
      "negative_prompt_changed": bool,
      "negative_prompt_diff": [...],
      "params": {"steps": [20, 30], "model": ["Tiny", "SD 1.5"], ...},  # changed only,
                  # of portraits.recipe.COMPARED (the prompts have their diffs, the style
                  # its own entry)
      "style": {"from": {"slug", "name"} | None, "to": {...} | None} | None,
      "img2img": bool,
      "init_strength": float | None,
    }
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from portraits.links import member_url, portrait_url
from portraits.models import Portrait
from portraits.recipe import COMPARED, title_for_viewer


def word_diff(old: str, new: str) -> list[dict[str, str]]:
    """A word-level diff of two prompts: consecutive ``equal``/``delete``/``insert`` runs.

    Words are split on whitespace (a prompt's commas stay attached to their word, which
    reads better than a character diff and keeps the ops few). A ``replace`` is written
    as a ``delete`` then an ``insert``, so a reader needs to know only three ops.
    """
    old_words, new_words = old.split(), new.split()
    matcher = difflib.SequenceMatcher(a=old_words, b=new_words, autojunk=False)
    ops: list[dict[str, str]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("equal", "delete", "replace") and i2 > i1:
            ops.append(
                {"op": "equal" if tag == "equal" else "delete", "text": _join(old_words[i1:i2])}
            )
        if tag in ("insert", "replace") and j2 > j1:
            ops.append({"op": "insert", "text": _join(new_words[j1:j2])})
    return ops


def _join(words: Sequence[str]) -> str:
    return " ".join(words)


def _param_value(recipe: Mapping[str, Any], key: str) -> Any:
    # Models are compared by slug but shown by name.
    if key == "model":
        return recipe.get("model_name") or recipe.get("model")
    return recipe.get(key)


def compute_changes(parent_recipe: Mapping[str, Any], recipe: Mapping[str, Any]) -> dict[str, Any]:
    """What ``recipe`` changed from ``parent_recipe`` (see the module docstring)."""
    prompt_old, prompt_new = parent_recipe.get("prompt") or "", recipe.get("prompt") or ""
    negative_old = parent_recipe.get("negative_prompt") or ""
    negative_new = recipe.get("negative_prompt") or ""
    params: dict[str, list[Any]] = {}
    for key in COMPARED:
        compared_old, compared_new = parent_recipe.get(key), recipe.get(key)
        if compared_old != compared_new:
            params[key] = [_param_value(parent_recipe, key), _param_value(recipe, key)]
    style = None
    if (parent_recipe.get("style") or None) != (recipe.get("style") or None):
        style = {"from": _style_ref(parent_recipe), "to": _style_ref(recipe)}
    init_strength = recipe.get("init_strength")
    return {
        "prompt_changed": prompt_old.split() != prompt_new.split(),
        "prompt_diff": word_diff(prompt_old, prompt_new),
        "negative_prompt_changed": negative_old.split() != negative_new.split(),
        "negative_prompt_diff": word_diff(negative_old, negative_new),
        "params": params,
        "style": style,
        "img2img": init_strength is not None,
        "init_strength": init_strength,
    }


def _style_ref(recipe: Mapping[str, Any]) -> dict[str, str] | None:
    if not recipe.get("style"):
        return None
    return {"slug": recipe["style"], "name": recipe.get("style_name") or recipe["style"]}


def changed_fields(changes: Mapping[str, Any]) -> list[str]:
    """The names of what a step changed, in display order (no values)."""
    if not changes:
        return []
    names = []
    if changes.get("prompt_changed"):
        names.append("prompt")
    if changes.get("negative_prompt_changed"):
        names.append("negative_prompt")
    if changes.get("style"):
        names.append("style")
    names += [key for key in COMPARED if key in (changes.get("params") or {})]
    if changes.get("img2img"):
        names.append("init_strength")
    return names


def changes_for_viewer(
    changes: Mapping[str, Any],
    *,
    step_visible: bool,
    parent_visible: bool,
    parent_withheld: Collection[str] = (),
) -> dict[str, Any]:
    """A step's changes as a viewer may read them.

    A diff shows both of its sides: the words a remix deleted are the parent's words,
    the old value of a parameter is the parent's value. So the full diff is shown only
    when the viewer may see both the step and its parent. Otherwise only *which* things
    changed (``changed``) and whether it was image-to-image remain: enough to credit
    the step's author for what they did, without revealing a private (or deleted)
    prompt word by word — neither the private step's own words nor, through a public
    child's diff, its private parent's.

    A step that *kept* its parent's prompt has no "prompt" among its ``changed`` names.
    Those words are not the step's but the parent author's (see ``portraits.recipe``): once
    the step that wrote them is hidden from the viewer, the step's recipe withholds them
    from everyone but the step's author and moderators, and so does the next step's diff,
    whose unchanged and deleted runs are the same words: ``parent_withheld`` (decided by
    ``portraits.selectors.portrait_withheld`` for the parent) names the prompts whose diff
    is left out, and ``diff_withheld`` lists them, so a page can say the prompt changed
    from words no longer available.
    """
    view: dict[str, Any] = {
        "changed": changed_fields(changes),
        "img2img": bool(changes.get("img2img")),
        "detail_hidden": False,
    }
    if not changes:
        return view
    if not (step_visible and parent_visible):
        view["detail_hidden"] = True
        return view
    # An unchanged prompt still has a diff (one "equal" run): leave it out, as for the
    # negative prompt, or a step that changed nothing would never read "No changes."
    diffs = {
        name: list(changes.get(f"{name}_diff") or [])
        if changes.get(f"{name}_changed") and name not in parent_withheld
        else []
        for name in ("prompt", "negative_prompt")
    }
    view.update(
        prompt_diff=diffs["prompt"],
        negative_prompt_diff=diffs["negative_prompt"],
        diff_withheld=[
            name
            for name in ("prompt", "negative_prompt")
            if changes.get(f"{name}_changed") and name in parent_withheld
        ],
        params={key: list(value) for key, value in (changes.get("params") or {}).items()},
        style=changes.get("style"),
        init_strength=changes.get("init_strength"),
    )
    return view


# --- A chain as one viewer sees it ---------------------------------------------------


@dataclass
class LineageStep:
    """One portrait of a chain, with only what the viewer may see filled in.

    ``available`` is False for a private portrait of someone else and for a deleted
    one: then ``public_id``, ``title``, the URLs and the prompt stay empty, while the
    author's credit, the role and the names of what changed remain. An available step
    whose prompt is withheld from the viewer (kept from a hidden step, see
    ``portraits.recipe``) has ``prompt`` None, ``prompt_withheld`` True, and a default
    title made from that prompt reads "Untitled remix".
    """

    depth: int
    available: bool
    is_deleted: bool
    is_current: bool
    role: str
    role_label: str
    author_name: str
    author_username: str | None
    author_url: str | None
    created_at: datetime
    changes: dict[str, Any]
    public_id: str | None = None
    title: str | None = None
    url: str | None = None
    thumbnail_url: str | None = None
    thumbnail_width: int | None = None
    thumbnail_height: int | None = None
    prompt: str | None = None
    prompt_withheld: bool = False
    visibility: str | None = None
    # Hidden by moderators: a step others could see but for that reads "removed by
    # moderators" (still crediting its author and what it changed); its owner and
    # moderators, who still see it, read it as hidden.
    removed_by_moderators: bool = False


@dataclass
class ParentRef:
    """A remix's parent as one viewer may see it: the one shape for pages, API and WebSocket.

    ``available`` is False for a private parent of someone else, a tombstone, and (for a
    job) a parent whose row is gone: then ``public_id``, ``title`` and ``url`` stay empty
    — never its id, its title (renamed or not) or a link — and only its author's credit
    remains (``author_name`` is None too when not even the row is left).
    """

    available: bool
    public_id: str | None = None
    title: str | None = None
    url: str | None = None
    author_name: str | None = None
    author_username: str | None = None
    author_url: str | None = None
    removed_by_moderators: bool = False

    def as_dict(self, *, absolute: Callable[[str], str] | None = None) -> dict[str, Any]:
        """``{"available", "id", "title", "url", "author"}``; ``absolute`` turns the page's
        path into a full URL (an API request's ``build_absolute_uri``)."""
        url = self.url
        if url is not None and absolute is not None:
            url = absolute(url)
        author = None
        if self.author_name is not None:
            author = {
                "name": self.author_name,
                "username": self.author_username,
                "url": self.author_url,
            }
        return {
            "available": self.available,
            "id": self.public_id,
            "title": self.title,
            "url": url,
            "author": author,
            "removed_by_moderators": self.removed_by_moderators,
        }


@dataclass
class Credit:
    """Someone who shaped a portrait: their first role, every role, every step they made."""

    name: str
    username: str | None
    url: str | None
    role: str
    role_label: str
    roles: list[str] = field(default_factory=list)
    depths: list[int] = field(default_factory=list)

    @property
    def role_labels(self) -> list[str]:
        """Every role they played, as people read them, in order of first contribution."""
        return [Portrait.Role(role).label for role in self.roles]


def author_fields(portrait: Portrait) -> tuple[str, str | None, str | None]:
    """(name, username, profile URL): the stored name survives a deleted account, and a
    closed or suspended one keeps its name but has no profile to link to."""
    author = portrait.author
    if author is None:
        return portrait.author_name, None, None
    if not author.is_active:
        return author.public_name, None, None
    return (
        author.public_name,
        author.username,
        member_url(author.username),
    )


def removed_by_moderators(portrait: Portrait, *, visible: bool) -> bool:
    """Whether to say moderators removed ``portrait``: it is hidden by them and, but for
    that, it would be shared (public or unlisted, not deleted). A private step stays
    merely "not available": that moderators acted on it is nobody else's business."""
    return (
        portrait.hidden_cause == Portrait.HiddenCause.MODERATION
        and not portrait.is_deleted
        and (visible or portrait.visibility != Portrait.Visibility.PRIVATE)
    )


def build_steps(
    chain: Sequence[Portrait],
    *,
    visible: Iterable[bool],
    withheld: Iterable[Collection[str]],
    current_id: int,
) -> list[LineageStep]:
    """Steps for ``chain`` (root first), given whether the viewer may see each portrait
    and which of its prompts are withheld from them (``portraits.recipe``)."""
    visible = list(visible)
    withheld = list(withheld)
    return [
        build_step(
            portrait,
            visible=is_visible,
            withheld=hold,
            parent_visible=visible[index - 1] if index > 0 else True,
            parent_withheld=withheld[index - 1] if index > 0 else (),
            current_id=current_id,
        )
        for index, (portrait, is_visible, hold) in enumerate(
            zip(chain, visible, withheld, strict=True)
        )
    ]


def build_step(
    portrait: Portrait,
    *,
    visible: bool,
    withheld: Collection[str],
    parent_visible: bool,
    parent_withheld: Collection[str],
    current_id: int | None,
) -> LineageStep:
    """One portrait as a step of a chain or a member of a tree, given whether the viewer
    may see it and its parent, and which of their prompts are withheld from them."""
    name, username, profile = author_fields(portrait)
    role = Portrait.Role(portrait.role)
    step = LineageStep(
        depth=portrait.depth,
        available=visible,
        is_deleted=portrait.is_deleted,
        is_current=portrait.pk == current_id,
        role=role.value,
        role_label=role.label,
        author_name=name,
        author_username=username,
        author_url=profile,
        created_at=portrait.created_at,
        changes=changes_for_viewer(
            portrait.changes,
            step_visible=visible,
            parent_visible=parent_visible,
            parent_withheld=parent_withheld,
        ),
        removed_by_moderators=removed_by_moderators(portrait, visible=visible),
    )
    if visible:
        step.public_id = portrait.public_id
        step.title = title_for_viewer(portrait.title, portrait.recipe, withhold=withheld)
        step.url = portrait_url("portraits:detail", portrait.public_id)
        step.thumbnail_url = portrait_url("portraits:thumbnail", portrait.public_id)
        step.thumbnail_width = portrait.thumbnail_width
        step.thumbnail_height = portrait.thumbnail_height
        step.prompt_withheld = "prompt" in withheld
        step.prompt = None if step.prompt_withheld else portrait.recipe.get("prompt", "")
        step.visibility = portrait.visibility
    return step


def build_parent(parent: Portrait | None, *, visible: bool, title: str | None) -> ParentRef:
    """``parent`` as a viewer sees it, given whether they may open it (``visible``) and
    its title as they may read it (``portraits.selectors.portrait_title_for``)."""
    if parent is None:
        return ParentRef(available=False)
    name, username, profile = author_fields(parent)
    ref = ParentRef(
        available=visible,
        author_name=name,
        author_username=username,
        author_url=profile,
        removed_by_moderators=removed_by_moderators(parent, visible=visible),
    )
    if visible:
        ref.public_id = parent.public_id
        ref.title = title
        ref.url = parent.get_absolute_url()
    return ref


def build_credits(chain: Sequence[Portrait]) -> list[Credit]:
    """Everyone who shaped the last portrait of ``chain``, in order of first contribution.

    One entry per person (a member by account, a deleted account by its stored name),
    so someone who remixed twice is listed once with both steps. Built from the rows
    themselves, which a tombstone keeps: privacy or deletion of a step never removes
    its author from the credits.
    """
    credits: dict[object, Credit] = {}
    for portrait in chain:
        name, username, profile = author_fields(portrait)
        key: object = portrait.author_id if portrait.author_id is not None else ("name", name)
        role = Portrait.Role(portrait.role)
        credit = credits.get(key)
        if credit is None:
            credit = credits[key] = Credit(
                name=name, username=username, url=profile, role=role.value, role_label=role.label
            )
        if role.value not in credit.roles:
            credit.roles.append(role.value)
        credit.depths.append(portrait.depth)
    return list(credits.values())


# --- A remix tree as one viewer sees it -------------------------------------------------


@dataclass
class FamilyMember:
    """One member of a remix tree: a step (``LineageStep``: what the viewer may see of it,
    and what its edge from the parent changed), its place (``key``: its position in the
    tree, shallowest first; ``parent_key``: its parent's, None for the original), and its
    children in the shown part of the tree, oldest first."""

    key: int
    parent_key: int | None
    step: LineageStep
    children: list[FamilyMember] = field(default_factory=list)


@dataclass
class Family:
    """The tree of everyone who built on an original, as one viewer sees it.

    ``members`` is the shown part, shallowest first (depth, then creation), so every
    member's parent comes before it: ``members[0]`` is the original. A huge tree is
    shown to ``max_members``; ``total`` counts the whole tree, ``left_out`` the rest.
    """

    members: list[FamilyMember]
    total: int
    max_members: int
    current_key: int | None

    @property
    def root(self) -> FamilyMember:
        return self.members[0]

    @property
    def left_out(self) -> int:
        return self.total - len(self.members)


def build_family(
    rows: Sequence[Portrait],
    *,
    visible: Sequence[bool],
    withheld: Sequence[Collection[str]],
    current_id: int,
    total: int,
    max_members: int,
) -> Family:
    """A tree from ``rows`` (the original first, then its descendants shallowest first,
    so a parent always comes before its children), given whether the viewer may see each
    and which of its prompts are withheld from them."""
    keys = {row.pk: index for index, row in enumerate(rows)}
    members: list[FamilyMember] = []
    for index, row in enumerate(rows):
        parent_key = keys.get(row.parent_id) if index else None
        step = build_step(
            row,
            visible=visible[index],
            withheld=withheld[index],
            parent_visible=visible[parent_key] if parent_key is not None else True,
            parent_withheld=withheld[parent_key] if parent_key is not None else (),
            current_id=current_id,
        )
        member = FamilyMember(key=index, parent_key=parent_key, step=step)
        members.append(member)
        if parent_key is not None:
            members[parent_key].children.append(member)
    return Family(
        members=members,
        total=total,
        max_members=max_members,
        current_key=keys.get(current_id),
    )
