"""Receiving avatar uploads without storing more than an avatar may be.

Django's default upload handlers keep the whole of an uploaded file, in memory
up to ``FILE_UPLOAD_MAX_MEMORY_SIZE`` and in a temporary file beyond, before any
view sees it. ``AvatarUploadHandler`` (installed first on the views that take an
avatar) keeps at most ``AVATAR_MAX_BYTES`` of the ``avatar`` field and only
counts the rest; the service then refuses the file by its size with its usual
message and field error, so pages and API answer as before, without a temporary
copy of an oversized upload.

Under ASGI, Django reads the request body into a spooled temporary file before
the view runs: the limit of the whole request belongs to the reverse proxy in
front (e.g. nginx's ``client_max_body_size``).
"""

from __future__ import annotations

import io
import tempfile

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopFutureHandlers

AVATAR_FIELD = "avatar"


class OversizedUpload(UploadedFile):
    """An upload that went over its limit: ``size`` is what arrived; the content was dropped."""

    def __init__(self, *, name: str, content_type: str, size: int) -> None:
        super().__init__(io.BytesIO(), name=name, content_type=content_type, size=size)


class AvatarUploadHandler(FileUploadHandler):
    """Keeps at most ``AVATAR_MAX_BYTES`` of the avatar field; other files pass through."""

    def new_file(self, field_name, *args, **kwargs) -> None:
        super().new_file(field_name, *args, **kwargs)
        self.is_avatar = field_name == AVATAR_FIELD
        if not self.is_avatar:
            return
        self.max_bytes = settings.AVATAR_MAX_BYTES
        self.received = 0
        # As Django's own handlers: in memory while small, on disk beyond (a large
        # AVATAR_MAX_BYTES), and never more than the limit either way.
        self.file = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - becomes the upload
            max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, dir=settings.FILE_UPLOAD_TEMP_DIR
        )
        raise StopFutureHandlers  # this field is ours alone

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if not self.is_avatar:
            return raw_data
        self.received += len(raw_data)
        if self.received <= self.max_bytes:
            self.file.write(raw_data)
        elif not self.file.closed:
            self.file.close()  # refused whatever follows: keep nothing, count the rest
        return None

    def file_complete(self, file_size: int) -> UploadedFile | None:
        if not self.is_avatar:
            return None
        if self.received > self.max_bytes:
            self.file.close()
            return OversizedUpload(
                name=self.file_name, content_type=self.content_type, size=self.received
            )
        self.file.seek(0)
        return UploadedFile(
            self.file,
            name=self.file_name,
            content_type=self.content_type,
            size=self.received,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )


def avatar_upload_limit(request) -> None:
    """Install ``AvatarUploadHandler`` on ``request``; before anything reads its body."""
    request.upload_handlers.insert(0, AvatarUploadHandler(request))
