"""Atom feeds (Django's syndication framework): the gallery's newest portraits, and each
member's. Feed readers are anonymous: the items are the gallery's listed portraits
(``gallery.selectors``, built on ``portrait_list_public``), titled as anyone may read
them, with absolute links on ``SITE_URL``."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.syndication.views import Feed
from django.http import Http404
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.html import format_html

from accounts.models import User
from accounts.selectors import user_get_public
from config.errors import NotFound
from gallery.selectors import GalleryQuery, GalleryScope, gallery_page
from portraits.lineage import author_fields
from portraits.models import Portrait
from portraits.selectors import portrait_title_for

FEED_ITEMS = 30
_ANONYMOUS = AnonymousUser()


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


class _PortraitFeed(Feed):
    feed_type = Atom1Feed

    def _items(self, scope: GalleryScope) -> list[Portrait]:
        page = gallery_page(
            query=GalleryQuery(), viewer=_ANONYMOUS, page_size=FEED_ITEMS, scope=scope
        )
        return page.items

    def item_title(self, item: Portrait) -> str:
        return portrait_title_for(portrait=item, viewer=_ANONYMOUS)

    def item_link(self, item: Portrait) -> str:
        return _absolute(item.get_absolute_url())

    def item_guid(self, item: Portrait) -> str:
        return self.item_link(item)

    def item_description(self, item: Portrait) -> str:
        name, _, _ = author_fields(item)
        thumbnail = _absolute(reverse("portraits:thumbnail", kwargs={"public_id": item.public_id}))
        return format_html(
            '<p><img src="{}" width="{}" height="{}" alt="{}"></p><p>By {}.</p>',
            thumbnail,
            item.thumbnail_width,
            item.thumbnail_height,
            self.item_title(item),
            name,
        )

    def item_author_name(self, item: Portrait) -> str:
        return author_fields(item)[0]

    def item_author_link(self, item: Portrait) -> str | None:
        profile = author_fields(item)[2]
        return _absolute(profile) if profile else None

    def item_pubdate(self, item: Portrait):
        return item.published_at

    def item_updateddate(self, item: Portrait):
        return item.published_at


class NewestPortraitsFeed(_PortraitFeed):
    """The gallery's newest public portraits."""

    title = "Likeness: newest portraits"
    subtitle = "The newest public portraits on Likeness."

    def link(self) -> str:
        return _absolute(reverse("gallery:explore"))

    def feed_url(self) -> str:
        return _absolute(reverse("gallery:atom-newest"))

    def items(self) -> list[Portrait]:
        return self._items(GalleryScope())


class MemberPortraitsFeed(_PortraitFeed):
    """A member's public portraits, newest first (``/u/<username>/feed.atom``)."""

    def get_object(self, request, username: str) -> User:
        try:
            return user_get_public(username=username)
        except NotFound:
            raise Http404("No such member.") from None

    def title(self, member: User) -> str:
        return f"{member.public_name} on Likeness"

    def subtitle(self, member: User) -> str:
        return f"Public portraits by {member.public_name} (@{member.username})."

    def link(self, member: User) -> str:
        return _absolute(member.get_absolute_url())

    def feed_url(self, member: User) -> str:
        return _absolute(reverse("profile-atom", kwargs={"username": member.username}))

    def items(self, member: User) -> list[Portrait]:
        return self._items(GalleryScope(author=member))
