"""Link previews of a portrait page: ``{% load portrait_sharing %}{% portrait_social_meta portrait %}``.

OpenGraph and Twitter card tags, so a link pasted in a chat app previews with the
portrait's title, image and author. They say what *anyone* may see, whoever is looking at
the page: a preview is fetched by a stranger's server and shown to whoever is in the
chat. So they are written only for a portrait anonymous visitors may open (public or
unlisted, not hidden: ``portrait_is_viewable`` as anonymous), titled as anonymous reads
it, never for a private or hidden one, not even on its owner's own page. An unlisted
page also asks search engines not to index it: it is for those who have the link.
"""

from __future__ import annotations

from django import template
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from portraits.lineage import author_fields
from portraits.models import Portrait
from portraits.selectors import portrait_is_viewable, portrait_title_for

register = template.Library()

_ANONYMOUS = AnonymousUser()


@register.inclusion_tag("portraits/_social_meta.html")
def portrait_social_meta(portrait: Portrait) -> dict:
    if not portrait_is_viewable(portrait=portrait, viewer=_ANONYMOUS):
        return {"shared": False}
    name, _, _ = author_fields(portrait)
    return {
        "shared": True,
        "unlisted": portrait.visibility == Portrait.Visibility.UNLISTED,
        "title": portrait_title_for(portrait=portrait, viewer=_ANONYMOUS),
        "author": name,
        "url": f"{settings.SITE_URL}{portrait.get_absolute_url()}",
        "image": settings.SITE_URL
        + reverse("portraits:image", kwargs={"public_id": portrait.public_id}),
        "width": portrait.width,
        "height": portrait.height,
    }
