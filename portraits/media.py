"""Serving a portrait's files, only ever after the visibility check.

Media never lives under a public URL: pages and the API call :func:`file_response`
with a portrait the selectors let the viewer see. With a storage that signs URLs
(django-storages' S3Storage with ``querystring_auth``, as settings configure it)
the browser is redirected to a URL that expires in minutes, so the bytes do not
pass through Django; otherwise they are streamed from storage.

Caching: the files of a portrait never change (a new picture is a new portrait),
but its visibility and rating can. A public portrait rated general may sit in shared
caches for a few minutes; anything else is ``private`` (the viewer's browser only), so
a proxy never hands a private portrait to someone else, nor a mature one to someone who
has not opted in to see it.
"""

from __future__ import annotations

from django.http import FileResponse, HttpResponse, HttpResponseRedirect
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.text import slugify

from config.errors import NotFound
from portraits.models import Portrait

ORIGINAL, THUMBNAIL = "original", "thumbnail"
CONTENT_TYPES = {ORIGINAL: "image/png", THUMBNAIL: "image/webp"}
SIGNED_URL_SECONDS = 300
PUBLIC_MAX_AGE = 300
PRIVATE_MAX_AGE = 3600


def download_filename(portrait: Portrait, *, title: str) -> str:
    """``title``: as the downloader may read it (``portraits.selectors.portrait_title_for``)."""
    return f"{slugify(title)[:60] or 'portrait'}-{portrait.public_id}.png"


def _signs_urls(storage) -> bool:
    return bool(getattr(storage, "querystring_auth", False))


def file_response(
    portrait: Portrait, kind: str, *, attachment: bool = False, title: str = ""
) -> HttpResponse:
    """The file ``kind`` of a portrait the caller has checked the viewer may see.

    ``title`` names an attachment: the portrait's title as the viewer may read it
    (without one, it is named by its id alone).
    """
    field = portrait.image if kind == ORIGINAL else portrait.thumbnail
    if portrait.is_deleted or not field:
        raise NotFound("No such portrait.")
    storage = field.storage
    filename = download_filename(portrait, title=title) if attachment else None
    if _signs_urls(storage):
        parameters = {"ResponseContentType": CONTENT_TYPES[kind]}
        if attachment:
            parameters["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        response: HttpResponse = HttpResponseRedirect(
            storage.url(field.name, parameters=parameters, expire=SIGNED_URL_SECONDS)
        )
        # The redirect target is itself a short-lived secret: never cache it for long.
        patch_cache_control(response, private=True, max_age=min(60, SIGNED_URL_SECONDS))
    else:
        try:
            handle = storage.open(field.name, "rb")
        except FileNotFoundError:
            raise NotFound("This portrait's file is missing.") from None
        response = FileResponse(
            handle,
            content_type=CONTENT_TYPES[kind],
            as_attachment=attachment,
            filename=filename if attachment else None,
        )
        if (
            portrait.visibility == Portrait.Visibility.PUBLIC
            and portrait.rating == Portrait.Rating.GENERAL
        ):
            patch_cache_control(response, public=True, max_age=PUBLIC_MAX_AGE)
        else:
            patch_cache_control(response, private=True, max_age=PRIVATE_MAX_AGE)
    patch_vary_headers(response, ["Cookie", "Authorization"])
    response["X-Content-Type-Options"] = "nosniff"
    return response
