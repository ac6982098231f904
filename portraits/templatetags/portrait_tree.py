"""``{% tree_outline outline %}``: the members of a remix tree as nested list items.

The tree page draws up to ``PORTRAIT_FAMILY_MAX_MEMBERS`` members. As a template loop
with an included edge per member, 500 members took ~90 ms of Django's template engine,
the larger part of making the page (bench/README.md). Built here as plain strings, every
value escaped with the standard library's ``html.escape`` (what Django's ``escape``
does, without its lazy-string checks, which were most of the time of ``format_html``
here), the same markup takes a few ms. What a member shows is decided by
``portraits.lineage`` (``LineageStep``, ``changes_for_viewer``), as before: this only
writes it out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst

from portraits.recipe import param_display
from portraits.templatetags.portrait_tags import param_label

register = template.Library()


@register.simple_tag
def tree_outline(outline: Iterable[Mapping[str, Any]]) -> SafeString:
    """Each member as ``<li class="tree-item">``, opening a ``<ul>`` for its children or
    closing as many lists as end after it (``portraits.views._tree_outline``)."""
    parts: list[str] = []
    for item in outline:
        parts.append(_member(item["member"].step))
        if item["has_children"]:
            parts.append("<ul>")
        else:
            parts.append("</li>" + "</ul></li>" * len(item["closes"]))
    return mark_safe("".join(parts))  # every value in it went through escape()


def _e(value: Any) -> str:
    return escape(str(value))


def _member(step) -> str:
    if step.available:
        url = _e(step.url)
        thumbnail = (
            f'<a href="{url}" tabindex="-1" aria-hidden="true"><img src="{_e(step.thumbnail_url)}"'
            f' width="{_e(step.thumbnail_width)}" height="{_e(step.thumbnail_height)}" alt=""'
            ' loading="lazy"></a>'
        )
        current = ' aria-current="page"' if step.is_current else ""
        title = f'<a href="{url}"{current}>{_e(step.title)}</a>'
    else:
        thumbnail = '<div class="placeholder" aria-hidden="true"></div>'
        title = (
            "<em>Removed by moderators</em>"
            if step.removed_by_moderators
            else "<em>Not available</em>"
        )
    badges = []
    if step.is_current:
        badges.append('<span class="badge">this portrait</span>')
    if step.available and step.visibility != "public":
        badges.append(f'<span class="badge">{_e(step.visibility)}</span>')
    if step.available and step.removed_by_moderators:
        badges.append('<span class="badge badge-moderation">hidden by moderators</span>')
    author = (
        f'<a href="{_e(step.author_url)}">{_e(step.author_name)}</a>'
        if step.author_url
        else _e(step.author_name)
    )
    classes = "tree-node"
    if step.is_current:
        classes += " current"
    if not step.available:
        classes += " unavailable"
    edge = _edge(step.changes) if step.depth > 0 else ""
    return (
        f'<li class="tree-item">\n  <div class="{classes}">\n'
        f'    <div class="tree-thumb">{thumbnail}</div>\n'
        f'    <div class="tree-text">\n      <p class="tree-title">{title} {" ".join(badges)}</p>\n'
        f'      <p class="muted tree-author">{_e(capfirst(step.role_label))}: {author}</p>\n'
        f"      {edge}\n    </div>\n  </div>\n  "
    )


def _names(names: Iterable[str]) -> str:
    return ", ".join(_e(param_label(name)) for name in names)


def _diff(ops: Iterable[Mapping[str, Any]]) -> str:
    """The words an edge added and deleted; "rewritten" when it has no diff to show."""
    ops = list(ops)
    if not ops:
        return " rewritten"
    words = []
    for op in ops:
        if op["op"] == "insert":
            words.append(f' <ins class="diff-add">{_e(op["text"])}</ins>')
        elif op["op"] == "delete":
            words.append(f' <del class="diff-del">{_e(op["text"])}</del>')
    return "".join(words)


def _change(label: str, html: str) -> str:
    return f'<span class="edge-change"><span class="muted">{_e(label)}</span>{html}</span>'


def _edge(changes: Mapping[str, Any]) -> str:
    """What one edge changed, in a line (the tree's short form of ``_changes.html``)."""
    if changes.get("detail_hidden"):
        return (
            f'<p class="edge muted">Changed {_names(changes.get("changed") or ()) or "nothing"}</p>'
        )
    if not changes.get("changed"):
        return '<p class="edge muted">No changes</p>'
    parts = []
    for name, label in (("prompt", "prompt"), ("negative_prompt", "negative prompt")):
        if name in changes["changed"]:
            parts.append(_change(label, _diff(changes.get(f"{name}_diff") or ())))
    style = changes.get("style")
    if style:
        before = (style.get("from") or {}).get("name") or "none"
        after = (style.get("to") or {}).get("name") or "none"
        parts.append(_change("style", f" {_e(before)} → {_e(after)}"))
    for name, values in (changes.get("params") or {}).items():
        old, new = (param_display(name, value) for value in values)
        parts.append(_change(param_label(name), f" {_e(old)} → {_e(new)}"))
    if changes.get("img2img"):
        parts.append(_change("image-to-image", f" {_e(changes.get('init_strength'))}"))
    return f'<p class="edge">{"".join(parts)}</p>'
