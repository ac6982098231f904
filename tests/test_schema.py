"""The OpenAPI schema is valid and documents the API; the docs page renders offline."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_schema_is_valid_openapi(schema):
    validate(schema)


def test_schema_documents_the_accounts_api(schema):
    paths = schema["paths"]
    assert set(paths["/api/v1/auth/register/"]) >= {"post"}
    assert set(paths["/api/v1/auth/token/"]) >= {"post"}
    assert set(paths["/api/v1/me/"]) >= {"get", "patch"}
    assert set(paths["/api/v1/me/tokens/"]) >= {"get", "post"}
    assert "delete" in paths["/api/v1/me/tokens/{id}/"]
    assert "get" in paths["/api/v1/users/{username}/"]
    # Avatars are uploaded as multipart, and the public profile never carries an e-mail.
    assert "multipart/form-data" in paths["/api/v1/me/"]["patch"]["requestBody"]["content"]
    assert "email" not in schema["components"]["schemas"]["PublicUser"]["properties"]
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_docs_page_renders_from_our_own_static_files(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "drf_spectacular_sidecar" in html  # no CDN
    assert "/api/schema/" in html


def test_schema_generates_without_a_single_warning(tmp_path):
    from django.core.management import call_command

    # Every view documents itself: no guessed models, no ambiguous enums.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
    assert "/api/v1/jobs/" in (tmp_path / "s.yml").read_text()


# --- Every error is documented, in the one shape --------------------------------------


def _operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_error_response_is_the_one_shape_as_json(schema):
    seen = 0
    for path, method, operation in _operations(schema):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            seen += 1
            content = response.get("content", {})
            assert list(content) == ["application/json"], (method, path, status)
            assert content["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ApiError"
            }, (method, path, status)
    assert seen > 100
    assert set(schema["components"]["schemas"]["ApiError"]["properties"]) == {
        "detail",
        "code",
        "errors",
    }


def _statuses(schema, method, path):
    return set(schema["paths"][path][method]["responses"])


def test_each_operation_documents_the_errors_its_shape_implies(schema):
    # A list: bad query parameters, credentials, throttling; never a 404 (no id in its path).
    assert _statuses(schema, "get", "/api/v1/jobs/") >= {"200", "400", "401", "429"}
    assert "404" not in _statuses(schema, "get", "/api/v1/jobs/")
    # An id in the path can be unknown; a body can be invalid, too large, the wrong type.
    assert _statuses(schema, "get", "/api/v1/jobs/{id}/") >= {"404", "401"}
    assert _statuses(schema, "post", "/api/v1/jobs/") >= {"400", "401", "403", "413", "415"}
    # Anonymous readers are welcome, but a wrong token is still refused.
    assert "401" in _statuses(schema, "get", "/api/v1/models/")
    # Registering takes no credentials at all, so it cannot answer 401; it is throttled.
    register = _statuses(schema, "post", "/api/v1/auth/register/")
    assert "401" not in register and {"400", "429"} <= register
    # Conflicts are declared by the views whose services raise them.
    assert "409" in _statuses(schema, "post", "/api/v1/jobs/{id}/cancel/")
    assert "409" in _statuses(schema, "post", "/api/v1/portraits/{public_id}/reproduce/")
    throttled = schema["paths"]["/api/v1/jobs/"]["post"]["responses"]["429"]
    assert "Retry-After" in throttled["headers"]


# --- The schema and the validators agree -----------------------------------------------


def _request_property(schema, component, name):
    return schema["components"]["schemas"][component]["properties"][name]


def _query_parameter(schema, path, name):
    parameters = schema["paths"][path]["get"]["parameters"]
    return next(parameter for parameter in parameters if parameter["name"] == name)


def test_a_job_status_filter_outside_the_enum_is_a_field_error(schema, alice_api, tiny_model):
    from generation.models import GenerationJob

    assert set(_query_parameter(schema, "/api/v1/jobs/", "status")["schema"]["enum"]) == set(
        GenerationJob.Status.values
    )
    alice_api.post("/api/v1/jobs/", {"prompt": "a lighthouse keeper"}, format="json")
    for bad in ("AAA", "", "QUEUED"):
        response = alice_api.get("/api/v1/jobs/", {"status": bad})
        assert response.status_code == 400, bad
        body = response.json()
        assert body["code"] == "invalid" and "Choose one of" in body["errors"]["status"][0]
    assert len(alice_api.get("/api/v1/jobs/", {"status": "queued"}).json()["results"]) == 1


def test_a_blank_visibility_filter_is_a_field_error(schema, alice_api):
    assert set(
        _query_parameter(schema, "/api/v1/me/portraits/", "visibility")["schema"]["enum"]
    ) == {"private", "unlisted", "public"}
    response = alice_api.get("/api/v1/me/portraits/?visibility=")
    assert response.status_code == 400 and "visibility" in response.json()["errors"]


def test_a_number_where_the_schema_says_string_is_refused(schema, alice_api, alice):
    from accounts.models import ApiToken

    assert _request_property(schema, "ApiTokenRequest", "name")["type"] == "string"
    response = alice_api.post("/api/v1/me/tokens/", {"name": 12345}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"name": ["Not a valid string."]}
    assert not ApiToken.objects.filter(user=alice).exists()

    response = alice_api.post("/api/v1/auth/token/", {"username": 1, "password": 2}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"username", "password"}

    response = alice_api.patch("/api/v1/me/", {"display_name": False}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"display_name": ["Not a valid string."]}


def test_the_schema_says_a_prompt_is_never_blank_and_the_api_agrees(schema, alice_api, tiny_model):
    import re

    from generation.models import GenerationJob

    for component in ("JobSpecRequest", "RemixRequest"):
        prompt = _request_property(schema, component, "prompt")
        assert prompt["minLength"] == 1
        visible = re.compile(prompt["pattern"])
        assert visible.search("a fox") and not visible.search("  \t\x01 ")
    for blank in ("", "   ", "\x01\x02"):
        response = alice_api.post("/api/v1/jobs/", {"prompt": blank}, format="json")
        assert response.status_code == 400, repr(blank)
        assert "prompt" in response.json()["errors"]
    assert not GenerationJob.objects.exists()


def test_text_that_is_blank_once_stripped_is_documented_as_refused(schema, alice_api, alice):
    import re

    from accounts.models import ApiToken

    pattern = re.compile(_request_property(schema, "ApiTokenRequest", "name")["pattern"])
    assert not pattern.search("   ") and pattern.search(" render farm ")
    response = alice_api.post("/api/v1/me/tokens/", {"name": "   "}, format="json")
    assert response.status_code == 400 and "name" in response.json()["errors"]
    assert not ApiToken.objects.filter(user=alice).exists()


def test_a_remix_strength_of_zero_is_documented_as_refused(schema):
    strength = _request_property(schema, "RemixRequest", "init_strength")
    assert strength["minimum"] == 0 and strength["exclusiveMinimum"] is True
    assert strength["maximum"] == 1


def test_an_upload_to_verify_may_not_be_empty_and_the_schema_says_so(schema, api):
    # schemathesis (seed 7) sent an empty `file`, valid by the schema, and got a 400.
    request = schema["paths"]["/api/v1/credentials/verify/"]["post"]["requestBody"]
    ref = request["content"]["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert schema["components"]["schemas"][ref]["properties"]["file"]["minLength"] == 1

    from django.core.files.uploadedfile import SimpleUploadedFile

    empty = SimpleUploadedFile("empty.png", b"", content_type="image/png")
    response = api.post("/api/v1/credentials/verify/", {"file": empty}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()["errors"]


def test_the_schema_says_strings_carry_no_nul_as_drf_refuses_them(schema, alice_api):
    import re

    pattern = re.compile(_request_property(schema, "ApiTokenRequest", "name")["pattern"])
    assert pattern.search("render farm") and not pattern.search("render\x00farm")
    response = alice_api.post("/api/v1/me/tokens/", {"name": "render\x00farm"}, format="json")
    assert response.status_code == 400 and "name" in response.json()["errors"]
