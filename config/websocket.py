"""WebSocket routing shared by every app: a path no app routes is refused, not a crash.

channels' URLRouter raises when no route matches, which daphne answers with an
HTTP 500 to the handshake. ``websocket_router`` ends its routes with a catch-all
that accepts and closes with 4404, the code the job consumer uses for an unknown
job (accepting first, so that the client sees the code).
"""

from __future__ import annotations

from channels.generic.websocket import AsyncWebsocketConsumer
from channels.routing import URLRouter
from django.urls import re_path

CLOSE_NOT_FOUND = 4404


class UnknownPathConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        await self.accept()
        await self.close(code=CLOSE_NOT_FOUND)


def websocket_router(patterns) -> URLRouter:
    """``URLRouter(patterns)``, with every other path refused with 4404."""
    return URLRouter([*patterns, re_path(r"", UnknownPathConsumer.as_asgi())])
