"""The OpenAPI schema and its Swagger UI, with errors in the API's one shape.

Both are DRF views that render something other than JSON (OpenAPI YAML/JSON, an
HTML page), and DRF renders a view's errors with the view's own renderer: a 405 or
a 429 on /api/schema/ came back as ``application/vnd.oai.openapi``, on /api/docs/
as HTML. Every error under /api/ is ``{"detail", "code", "errors"}`` in JSON.
"""

from __future__ import annotations

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.renderers import JSONRenderer


class JsonErrorsMixin:
    def finalize_response(self, request, response, *args, **kwargs):
        if getattr(response, "exception", False):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class SchemaView(JsonErrorsMixin, SpectacularAPIView):
    pass


class SwaggerView(JsonErrorsMixin, SpectacularSwaggerView):
    pass
