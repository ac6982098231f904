"""The like and follow buttons, for any app's pages: ``{% load community %}``.

The portrait page belongs to ``portraits``, which may not import the gallery (apps
import only to their left). A template tag is how a Django app puts its own UI on
another app's pages (``django-contrib-comments``' ``{% render_comment_form %}``): the
portrait page names the button and the gallery renders it, with no Python import from
portraits to gallery. Templates are the layer where the apps meet already: every page
extends the gallery's ``base.html``.

Each button is a form that works without JavaScript (a POST, sent back to the page) and
that ``gallery/community.js`` turns into an in-place toggle.
"""

from __future__ import annotations

from django import template

from gallery import selectors

register = template.Library()


def _next(context) -> str:
    request = context.get("request")
    return request.get_full_path() if request is not None else ""


@register.inclusion_tag("gallery/_like_button.html", takes_context=True)
def like_button(context, portrait, liked=None):
    """The like button and count of ``portrait`` for this page's viewer. ``liked``:
    whether they like it, when the page already knows (``liked_among`` for a list);
    otherwise one query."""
    user = context.get("user")
    likeable = selectors.portrait_likeable(portrait=portrait, viewer=user)
    if liked is None:
        liked = likeable and selectors.liked(viewer=user, portrait=portrait)
    return {
        "portrait": portrait,
        "liked": liked,
        "likeable": likeable,
        "signed_in": user is not None and user.is_authenticated,
        "next": _next(context),
    }


@register.inclusion_tag("gallery/_follow_button.html", takes_context=True)
def follow_button(context, member, followed=None, scope=""):
    """The follow button for ``member`` (nothing on one's own). ``followed``: whether the
    viewer follows them, when the page already knows (``followed_among`` for a list);
    otherwise one query. ``scope``: the id of an element whose ``data-field`` counts
    (``follower_count``) the script updates with the answer."""
    user = context.get("user")
    signed_in = user is not None and user.is_authenticated
    if followed is None:
        followed = selectors.follows(viewer=user, user=member)
    return {
        "member": member,
        "followed": followed,
        "signed_in": signed_in,
        "own": signed_in and user.pk == member.pk,
        "scope": scope,
        "next": _next(context),
    }
