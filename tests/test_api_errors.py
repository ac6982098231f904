"""Every API error has one shape: {"detail": str, "code": str, "errors": {field: [str]}}."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


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
