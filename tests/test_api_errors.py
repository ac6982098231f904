"""Every API error has one shape: {"detail": str, "code": str, "errors": {field: [str]}}."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import path
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny

from config import urls as site_urls

pytestmark = pytest.mark.django_db


@api_view(["GET"])
@permission_classes([AllowAny])
def _broken_endpoint(request):
    raise RuntimeError("a bug, not a refusal")


def _broken_page(request):
    raise RuntimeError("a bug, not a refusal")


def _forbidden(request):
    raise PermissionDenied("not yours")


# A test-only URLconf (@pytest.mark.urls(__name__)): the site's, its error handlers,
# and two views that really raise. No such endpoint exists in production.
urlpatterns = [
    path("api/v1/test-only/broken/", _broken_endpoint),
    path("test-only/broken/", _broken_page),
    path("api/v1/test-only/forbidden/", _forbidden),
    path("test-only/forbidden/", _forbidden),
    *site_urls.urlpatterns,
]
handler400 = site_urls.handler400
handler403 = site_urls.handler403
handler404 = site_urls.handler404
handler500 = site_urls.handler500


def _assert_error_shape(body):
    assert set(body) == {"detail", "code", "errors"}
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["errors"], dict)
    for messages in body["errors"].values():
        assert isinstance(messages, list) and all(isinstance(m, str) for m in messages)


def test_validation_error_lists_field_errors(api):
    response = api.post("/api/v1/auth/register/", {"username": "carol"}, format="json")
    assert response.status_code == 400
    body = response.json()
    _assert_error_shape(body)
    assert body["code"] == "invalid"
    assert body["detail"] == "Invalid input."
    assert set(body["errors"]) == {"email", "password"}
    assert body["errors"]["password"] == ["This field is required."]


def test_domain_error_from_a_service_has_the_same_shape(api, alice):
    response = api.post(
        "/api/v1/auth/register/",
        {"username": "ALICE", "email": "x@example.com", "password": "a-long-passphrase-42"},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    _assert_error_shape(body)
    assert body["errors"]["username"] == ["A user with that username already exists."]


def test_not_found(api):
    response = api.get("/api/v1/users/nobody/")
    assert response.status_code == 404
    body = response.json()
    _assert_error_shape(body)
    assert (body["code"], body["errors"]) == ("not_found", {})


def test_not_authenticated(api):
    response = api.get("/api/v1/me/")
    assert response.status_code == 401
    body = response.json()
    _assert_error_shape(body)
    assert body["code"] == "not_authenticated"


def test_bad_token(api):
    api.credentials(HTTP_AUTHORIZATION="Token lk_unknown")
    response = api.get("/api/v1/me/")
    assert response.status_code == 401
    body = response.json()
    _assert_error_shape(body)
    assert (body["detail"], body["code"]) == ("Invalid or revoked token.", "authentication_failed")


def test_method_not_allowed(alice_api):
    response = alice_api.put("/api/v1/me/", {}, format="json")
    assert response.status_code == 405
    _assert_error_shape(response.json())


# --- Errors that never reach a DRF view: Django's handlers (config.views) ------------------------


@pytest.mark.parametrize("url", ["/api/v1/no-such-endpoint/", "/api/v1/me/tokens/abc/", "/api/v2/"])
def test_unknown_api_path_answers_json_in_the_error_shape(api, url):
    response = api.get(url)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    body = response.json()
    _assert_error_shape(body)
    assert body == {"detail": "Not found.", "code": "not_found", "errors": {}}


def test_unknown_page_is_a_friendly_html_page_in_the_site_layout(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert 'class="site-header"' in html
    assert "This page does not exist" in html and "/no-such-page/" in html


def test_a_page_raising_404_gets_the_same_friendly_page(client):
    response = client.get("/u/nobody/")
    assert response.status_code == 404
    assert "This page does not exist" in response.content.decode()


@pytest.mark.urls(__name__)
def test_server_error_in_the_api_answers_json_in_the_error_shape(api):
    api.raise_request_exception = False
    response = api.get("/api/v1/test-only/broken/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    body = response.json()
    _assert_error_shape(body)
    assert body["code"] == "server_error"
    assert "a bug" not in body["detail"]  # internals stay in the log


@pytest.mark.urls(__name__)
def test_server_error_on_a_page_is_a_friendly_html_page(client):
    client.raise_request_exception = False
    response = client.get("/test-only/broken/")
    assert response.status_code == 500
    html = response.content.decode()
    assert 'class="site-header"' in html and "Something went wrong" in html
    assert "a bug" not in html


@pytest.mark.urls(__name__)
def test_permission_denied_outside_drf(api, client):
    response = api.get("/api/v1/test-only/forbidden/")
    assert response.status_code == 403
    body = response.json()
    _assert_error_shape(body)
    assert body["code"] == "permission_denied"
    page = client.get("/test-only/forbidden/")
    assert page.status_code == 403
    html = page.content.decode()
    assert 'class="site-header"' in html and "You may not open this page" in html


def test_request_refused_before_any_view_answers_json_under_the_api(api):
    # Django refuses an unknown Host before routing (a 400 from handler400).
    response = api.get("/api/v1/users/nobody/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    body = response.json()
    _assert_error_shape(body)
    assert body["code"] == "bad_request"


def test_request_refused_before_any_view_is_the_sites_400_page(client):
    response = client.get("/u/nobody/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert 'class="site-header"' in html and "could not be understood" in html


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/"])
def test_errors_of_the_schema_and_its_docs_are_in_the_one_shape(api, url):
    # Both views render YAML or HTML; their errors are JSON like every other under /api/.
    response = api.post(url)
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    body = response.json()
    _assert_error_shape(body)
    assert body["code"] == "method_not_allowed"


def test_an_unsupported_content_type_is_not_echoed_back_at_any_length(alice_api):
    long_type = "text/" + "x" * 5000
    response = alice_api.post("/api/v1/jobs/", "hi", content_type=long_type)
    assert response.status_code == 415
    body = response.json()
    assert body["code"] == "unsupported_media_type" and len(body["detail"]) < 200
    short = alice_api.post("/api/v1/jobs/", "hi", content_type="text/plain")
    assert short.json()["detail"] == 'Unsupported media type "text/plain" in request.'
