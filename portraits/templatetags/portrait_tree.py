"""``{% tree_outline outline %}``: the members of a remix tree as nested list items.

The tree page draws up to ``PORTRAIT_FAMILY_MAX_MEMBERS`` members. As a template loop
with an included edge per member, 500 members took ~90 ms of Django's template engine,
the larger part of making the page (bench/README.md); built here with ``format_html``,
the same markup takes a few ms. What a member shows is decided by
``portraits.lineage`` (``LineageStep``, ``changes_for_viewer``), as before: this only
writes it out, escaping every value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst

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
    return mark_safe("".join(parts))  # every value went through format_html


def _member(step) -> str:
    if step.available:
        thumbnail = format_html(
            '<a href="{}" tabindex="-1" aria-hidden="true"><img src="{}" width="{}" '
            'height="{}" alt="" loading="lazy"></a>',
            step.url,
            step.thumbnail_url,
            step.thumbnail_width,
            step.thumbnail_height,
        )
        title = format_html(
            '<a href="{}"{}>{}</a>',
            step.url,
            mark_safe(' aria-current="page"') if step.is_current else "",
            step.title,
        )
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
        badges.append(format_html('<span class="badge">{}</span>', step.visibility))
    if step.available and step.removed_by_moderators:
        badges.append('<span class="badge badge-moderation">hidden by moderators</span>')
    author = (
        format_html('<a href="{}">{}</a>', step.author_url, step.author_name)
        if step.author_url
        else escape(step.author_name)
    )
    classes = "tree-node"
    if step.is_current:
        classes += " current"
    if not step.available:
        classes += " unavailable"
    return format_html(
        '<li class="tree-item">\n  <div class="{}">\n    <div class="tree-thumb">{}</div>\n'
        '    <div class="tree-text">\n      <p class="tree-title">{} {}</p>\n'
        '      <p class="muted tree-author">{}: {}</p>\n      {}\n    </div>\n  </div>\n  ',
        classes,
        thumbnail,
        mark_safe(title),  # built above with format_html, or a constant
        mark_safe(" ".join(badges)),  # as above
        capfirst(step.role_label),
        author,
        _edge(step.changes) if step.depth > 0 else "",
    )


def _names(names: Iterable[str]) -> str:
    return ", ".join(escape(param_label(name)) for name in names)


def _diff(ops: Iterable[Mapping[str, Any]]) -> str:
    """The words an edge added and deleted; "rewritten" when it has no diff to show."""
    ops = list(ops)
    if not ops:
        return " rewritten"
    words = []
    for op in ops:
        if op["op"] == "insert":
            words.append(format_html(' <ins class="diff-add">{}</ins>', op["text"]))
        elif op["op"] == "delete":
            words.append(format_html(' <del class="diff-del">{}</del>', op["text"]))
    return "".join(words)


def _edge(changes: Mapping[str, Any]) -> str:
    """What one edge changed, in a line (the tree's short form of ``_changes.html``)."""
    if changes.get("detail_hidden"):
        return format_html(
            '<p class="edge muted">Changed {}</p>',
            mark_safe(_names(changes.get("changed") or ()) or "nothing"),
        )
    if not changes.get("changed"):
        return '<p class="edge muted">No changes</p>'
    parts = []
    for name, label in (("prompt", "prompt"), ("negative_prompt", "negative prompt")):
        if name in changes["changed"]:
            parts.append(
                format_html(
                    '<span class="edge-change"><span class="muted">{}</span>{}</span>',
                    label,
                    mark_safe(_diff(changes.get(f"{name}_diff") or ())),
                )
            )
    style = changes.get("style")
    if style:
        parts.append(
            format_html(
                '<span class="edge-change"><span class="muted">style</span> {} → {}</span>',
                (style.get("from") or {}).get("name") or "none",
                (style.get("to") or {}).get("name") or "none",
            )
        )
    for name, values in (changes.get("params") or {}).items():
        parts.append(
            format_html(
                '<span class="edge-change"><span class="muted">{}</span> {} → {}</span>',
                param_label(name),
                values[0],
                values[1],
            )
        )
    if changes.get("img2img"):
        parts.append(
            format_html(
                '<span class="edge-change"><span class="muted">image-to-image</span> {}</span>',
                changes.get("init_strength"),
            )
        )
    return format_html('<p class="edge">{}</p>', mark_safe("".join(parts)))
