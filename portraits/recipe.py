"""The recipe, and what of it each viewer may read.

Pure functions, no queries: who may see what is decided in ``portraits.selectors``, which
hands the answer (``parent_visible``, the ids a viewer may not open) to these functions.

A recipe (on ``GenerationJob.recipe`` and, per image, ``Portrait.recipe``) is the remixer's
own: the words and numbers they submitted, inherited from the parent or not. Once
published with their portrait it is theirs to show, so a remix that kept its parent's
prompt keeps showing those words after the parent becomes private or is deleted. What a
recipe must never carry to a viewer who may not open the parent is the parent itself:
its public id (``recipe["parent"]``). Everything else about the parent — its title,
picture, page, its prompt *as the parent's* (the lineage diff) — is not in the recipe at
all, and ``portraits.lineage`` withholds it.

A signed file is the exception that cannot follow: its ``likeness:provenance`` chunk and
C2PA manifest were written once, when the parent was visible to the remixer, and name
ancestors by id (never by title or prompt, see ``portraits.credentials``). The site's
reading of a file (``provenance_for_viewer``) leaves those ids out for a viewer who may not
open them; the bytes themselves, signed, cannot change.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

# Keys that stay on the server: a model's source may be a local folder path.
PRIVATE_RECIPE_KEYS = frozenset({"model_source"})
# The key naming the portrait a recipe was remixed from (its public id).
PARENT_KEY = "parent"


def public_recipe(recipe: Mapping[str, Any]) -> dict[str, Any]:
    """The recipe without server-side keys: what is written into the portrait's file.

    Still names the parent: a page, the API or a WebSocket shows a recipe only through
    :func:`recipe_for_viewer`.
    """
    return {key: value for key, value in recipe.items() if key not in PRIVATE_RECIPE_KEYS}


def recipe_for_viewer(recipe: Mapping[str, Any], *, parent_visible: bool) -> dict[str, Any]:
    """The recipe as one viewer may read it, on every surface (page, API, WebSocket).

    ``parent_visible``: whether this viewer may open the recipe's parent now (decided by
    ``portraits.selectors``; False for a tombstone and for a parent whose row is gone).
    Otherwise ``parent`` is ``None``, as an original's: the recipe then holds only what
    its own author submitted. The key stays, so the shape is the same for every viewer.
    """
    shown = public_recipe(recipe)
    if PARENT_KEY in shown and not parent_visible:
        shown[PARENT_KEY] = None
    return shown


def provenance_for_viewer(value: Any, *, hidden_ids: Collection[str]) -> Any:
    """``value`` (a Content Credentials report, a provenance chunk: any JSON) with every
    string that names one of ``hidden_ids`` replaced by ``None``.

    ``hidden_ids`` are the public ids of the chain's portraits the viewer may not open.
    A file names ancestors in several places (the provenance ``parent`` and ``lineage``,
    the recipe's ``parent``, the ``parentOf`` ingredient's title "Likeness portrait <id>",
    each manifest's page URL); replacing any string that holds such an id catches them all,
    wherever the file's layout puts them, and keeps lists in place (``lineage`` reads
    ``[original, None]``: a step that is there, not available). Public ids are 16 random
    characters, so no other text holds one by chance.
    """
    if not hidden_ids:
        return value
    if isinstance(value, str):
        return None if any(public_id in value for public_id in hidden_ids) else value
    if isinstance(value, Mapping):
        return {
            key: provenance_for_viewer(item, hidden_ids=hidden_ids) for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [provenance_for_viewer(item, hidden_ids=hidden_ids) for item in value]
    return value
