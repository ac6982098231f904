"""ASGI entry point: HTTP and WebSockets, served by daphne.

daphne -b 0.0.0.0 -p 8000 config.asgi:application
"""

import gc
import os

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
if not settings.configured:  # this process is daphne's (not a test importing the app)
    # A web process shares a pool of database connections between its request threads
    # (config.settings: DB_POOL); DB_POOL=false keeps per-thread persistent connections.
    os.environ.setdefault("DB_POOL", "true")
    # Collect garbage far less often than Python's default (700 allocations): a full
    # collection walks every object of a Django process and stalled a whole event loop for
    # tens of ms; with this, 8 clients' p99 went from ~120 to ~25 ms (bench/README.md).
    gc.set_threshold(50_000, 50, 100)
# Django must be set up before anything imports models (the routing does).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from accounts.websocket import (  # noqa: E402
    AllowedHostsOrTokenOriginValidator,
    TokenOrSessionAuthMiddleware,
)
from config.daphne_requests import daphne_skip_form_parsing  # noqa: E402
from config.middleware import RequestBodyLimit  # noqa: E402
from config.pagecache import PublicPageCache  # noqa: E402
from config.websocket import websocket_router  # noqa: E402
from config.worker import start_inprocess_worker  # noqa: E402
from gallery.routing import websocket_urlpatterns as gallery_websockets  # noqa: E402
from generation.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Bodies over UPLOAD_MAX_BYTES are refused (413) without being read; fresh public
        # pages for anonymous visitors are answered before Django (config.pagecache).
        "http": RequestBodyLimit(PublicPageCache(django_asgi_app)),
        # Browsers always send an Origin (checked against ALLOWED_HOSTS); REST clients
        # without one must present an API token.
        "websocket": AllowedHostsOrTokenOriginValidator(
            TokenOrSessionAuthMiddleware(
                websocket_router([*websocket_urlpatterns, *gallery_websockets])
            )
        ),
    }
)

daphne_skip_form_parsing()  # malformed form bodies reach Django, which answers them
start_inprocess_worker()
