"""Hostile input, on every URL of the site: never a server error, always the right shape.

The walks below take every URL pattern Django knows (``get_resolver()``: the site's apps,
the API's routers, allauth, the admin), put junk into each path parameter and each
common query parameter, and send it as anonymous, as a member and as a moderator. A
5xx anywhere fails; so does an error under /api/ that is not the one JSON shape, or an
error page elsewhere that is not HTML. The NUL byte is the case PostgreSQL turns into a
500 (``A string literal cannot contain NUL``) when it reaches a query: on PostgreSQL
the walk also runs without ``config.middleware`` to show the formats are checked anyway.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import URLResolver, get_resolver
from django.utils.regex_helper import normalize
from rest_framework.throttling import ScopedRateThrottle

from generation.models import GenerationJob
from tests.portraits.factories import PortraitFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent

# Percent-encoded, as a client would send them. Control characters first: the site
# refuses those (400) before any view; the rest must each be a 4xx or a page.
CONTROL_JUNK = ["%00", "a%00b", "%01", "%0A", "%1F", "%7F", "%C2%85"]
OTHER_JUNK = [
    "..",
    "%2E%2E%2F",
    "%E2%80%AE",  # a right-to-left override
    "x" * 300,
    "%FF%FE",  # not UTF-8
    "-1",
    "9" * 30,
    "%F0%9F%98%80",
    "%27%22%3C%3E",
    "%20",
]
QUERY_PARAMS = ["status", "visibility", "cursor", "page", "page_size", "remix", "v", "next"]


@dataclass(frozen=True)
class Route:
    template: str  # "api/v1/portraits/%(public_id)s/", as Django's reverse() keeps it
    params: tuple[str, ...]

    def url(self, values: dict[str, str]) -> str:
        return "/" + self.template % values

    @property
    def third_party(self) -> bool:
        return self.template.startswith(("admin/", "accounts/"))


def site_routes() -> list[Route]:
    """Every URL pattern of the site, with the names of its parameters."""
    found: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            regex = pattern.pattern.regex.pattern.removeprefix("^")
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + regex)
            else:
                found.append(prefix + regex)

    walk(get_resolver().url_patterns, "")
    routes = {
        Route(template, tuple(params)) for regex in found for template, params in normalize(regex)
    }
    return sorted(routes, key=lambda route: route.template)


def _problem(url: str, response) -> str | None:
    """What is wrong with ``response``, or None."""
    status = response.status_code
    if status >= 500:
        return f"{url}: {status}"
    if status < 400:
        return None
    content_type = response.get("Content-Type", "")
    if url.startswith("/api/"):
        if not content_type.startswith("application/json"):
            return f"{url}: {status} with {content_type!r}, not the API's JSON"
        body = response.json()
        if set(body) != {"detail", "code", "errors"} or not isinstance(body["errors"], dict):
            return f"{url}: {status} {body!r}, not the one error shape"
    elif status != 405 and not content_type.startswith("text/html"):
        return f"{url}: {status} with {content_type!r}, not a page"
    return None


@pytest.fixture
def world(alice, style_presets, painter):
    """Something of alice's behind every kind of id: a portrait, a job, a token, a style."""
    from accounts.services import api_token_create
    from generation.services import job_submit

    portrait = PortraitFactory(author=alice)
    job = job_submit(user=alice, spec={"prompt": "a lighthouse keeper"})
    token, _ = api_token_create(user=alice, name="walk")
    return {"portrait": portrait, "job": job, "token": token, "style": style_presets.first()}


def _clients(member, moderator=None) -> dict[str, Client]:
    """Anonymous, ``member`` and ``moderator`` (if given), each with their own session."""
    clients = {"anonymous": Client()}
    for who, user in (("member", member), ("moderator", moderator)):
        if user is not None:
            clients[who] = Client()
            clients[who].force_login(user)
    for client in clients.values():
        client.raise_request_exception = False  # a 500 is what we look for, not a traceback
    return clients


@pytest.fixture
def no_throttles(monkeypatch):
    """The walks send thousands of requests: rate limits would answer 429 before a view ran."""
    from rest_framework.views import APIView

    monkeypatch.setattr(APIView, "get_throttles", lambda self: [])


def _valid_values(route: Route, world) -> dict[str, str] | None:
    """Real values for ``route``'s parameters (alice's things), or None for other routes."""
    values = {}
    for name in route.params:
        if name == "public_id":
            values[name] = world["portrait"].public_id
        elif name == "username":
            values[name] = "alice"
        elif name == "pk" and "jobs/" in route.template:
            values[name] = str(world["job"].pk)
        elif name == "pk" and "tokens/" in route.template:
            values[name] = str(world["token"].pk)
        elif name == "slug" and "models/" in route.template:
            values[name] = "painter"
        elif name == "slug" and "styles/" in route.template:
            values[name] = world["style"].slug
        else:
            return None
    return values


def _walk_path_junk(routes, clients, junk_values) -> list[str]:
    problems = []
    for route in routes:
        for junk in junk_values:
            url = route.url(dict.fromkeys(route.params, junk))
            for who, client in clients.items():
                problem = _problem(url, client.get(url))
                if problem:
                    problems.append(f"{who} {problem}")
    return problems


def test_the_walk_sees_every_part_of_the_site():
    templates = {route.template for route in site_routes()}
    for expected in (
        "p/%(public_id)s/",
        "u/%(username)s/",
        "jobs/%(pk)s/",
        "api/v1/portraits/%(public_id)s/remixes/",
        "api/v1/jobs/%(pk)s/",
        "api/v1/me/tokens/%(pk)s/",
        "api/v1/models/%(slug)s/",
        "api/v1/users/%(username)s/",
        "accounts/confirm-email/%(key)s/",
        "admin/portraits/portrait/%(object_id)s/change/",
    ):
        assert expected in templates
    assert len(templates) > 100


def test_junk_in_any_path_parameter_is_never_a_server_error(world, alice, mod, no_throttles):
    routes = [route for route in site_routes() if route.params]
    problems = _walk_path_junk(routes, _clients(alice, mod), CONTROL_JUNK + OTHER_JUNK)
    assert problems == [], "\n".join(problems)


def test_a_control_character_in_a_path_or_query_is_a_400_in_the_right_shape(client, api):
    for url in ("/p/%00/", "/u/a%01/", "/jobs/?status=%00", "/accounts/login/?next=%0A"):
        response = client.get(url)
        assert response.status_code == 400, url
        assert response["Content-Type"].startswith("text/html")
        assert "control character" in response.content.decode()
    for url in ("/api/v1/portraits/%00/", "/api/v1/jobs/?status=%00", "/api/v1/me/?x=%7F"):
        response = api.get(url)
        assert response.status_code == 400, url
        assert response["Content-Type"] == "application/json"
        body = response.json()
        assert body["code"] == "bad_request" and "control character" in body["detail"]
        assert body["errors"] == {}


def test_junk_in_query_parameters_is_never_a_server_error(world, alice, no_throttles):
    clients = _clients(alice)  # the admin is not walked here: its filters are Django's
    problems = []
    for route in site_routes():
        if route.template.startswith("admin/"):
            continue
        values = _valid_values(route, world)
        if values is None:
            continue
        base = route.url(values)
        for param in QUERY_PARAMS:
            for junk in ("%00", "%E2%80%AE" + "x" * 300, "-1"):
                url = f"{base}?{param}={junk}"
                for who, client in clients.items():
                    problem = _problem(url, client.get(url))
                    if problem:
                        problems.append(f"{who} {problem}")
    assert problems == [], "\n".join(problems)


@pytest.mark.postgres
def test_on_postgresql_nul_reaches_no_query_even_without_the_middleware(
    world, alice, mod, settings, no_throttles
):
    """The formats are checked where each value enters (URL converters, DRF lookup
    patterns, filters), not only by the middleware: the site's own routes, without it."""
    settings.MIDDLEWARE = [
        name
        for name in settings.MIDDLEWARE
        if name != "config.middleware.RequestScreeningMiddleware"
    ]
    clients = _clients(alice, mod)
    routes = [route for route in site_routes() if not route.third_party]
    problems = _walk_path_junk([r for r in routes if r.params], clients, ["%00", "a%00b"])
    for route in routes:
        values = _valid_values(route, world)
        if values is None:
            continue
        for param in QUERY_PARAMS:
            url = f"{route.url(values)}?{param}=%00"
            for who, client in clients.items():
                problem = _problem(url, client.get(url))
                if problem:
                    problems.append(f"{who} {problem}")
    assert problems == [], "\n".join(problems)


# --- Cursors ----------------------------------------------------------------------------------

BAD_CURSORS = [
    "cD1nYXJiYWdl",  # p=garbage
    base64.b64encode(b"p=%00").decode(),
    base64.b64encode(b"p=2024-13-45 99:99:99+00:00").decode(),
    base64.b64encode(b"p=0001-01-01 00:00:00+14:00").decode(),  # before year 1 in UTC
    base64.b64encode(b"p=2024-01-01 00:00:00").decode(),  # naive: never one of ours
    base64.b64encode(b"o=x").decode(),
    "!!!not-base64",
    "%FF",
]


def _cursor_paginated_api_lists(world, api) -> list[str]:
    """Every API list (under any route) whose answer is a cursor page."""
    found = []
    for route in site_routes():
        if not route.template.startswith("api/v1/"):
            continue
        values = _valid_values(route, world)
        if values is None:
            continue
        url = route.url(values)
        response = api.get(url)
        is_json = response.get("Content-Type") == "application/json"
        body = response.json() if response.status_code == 200 and is_json else None
        if isinstance(body, dict) and {"next", "previous", "results"} <= set(body):
            found.append(url)
    return found


def test_a_bad_cursor_is_a_400_with_a_cursor_error_on_every_cursor_paginated_list(world, alice_api):
    lists = _cursor_paginated_api_lists(world, alice_api)
    portrait = world["portrait"].public_id
    assert set(lists) == {
        "/api/v1/jobs/",
        "/api/v1/sweeps/",
        "/api/v1/me/portraits/",
        "/api/v1/me/tokens/",
        f"/api/v1/portraits/{portrait}/remixes/",
        "/api/v1/notifications/",
        "/api/v1/users/alice/followers/",
        "/api/v1/users/alice/following/",
        "/api/v1/reports/",
        "/api/v1/appeals/",
        "/api/v1/appeals/appealable/",
        "/api/v1/moderation/log/",
    }
    for url in lists:
        for cursor in BAD_CURSORS:
            response = alice_api.get(f"{url}?cursor={cursor}")
            assert response.status_code == 400, (url, cursor, response.content)
            body = response.json()
            assert body["code"] == "invalid"
            assert body["errors"] == {
                "cursor": ["Not a valid cursor: follow the next or previous link of a page."]
            }


def test_a_bad_cursor_on_a_page_is_the_sites_400_page(world, alice, client):
    client.force_login(alice)
    portrait = world["portrait"].public_id
    for url in ("/me/portraits/", f"/p/{portrait}/remixes/", "/notifications/", "/sweeps/"):
        for cursor in BAD_CURSORS:
            response = client.get(f"{url}?cursor={cursor}")
            assert response.status_code == 400, (url, cursor)
            html = response.content.decode()
            assert 'class="site-header"' in html and "could not be understood" in html


def test_next_links_still_page_through_after_the_check(alice, alice_api):
    made = [PortraitFactory(author=alice) for _ in range(3)]
    seen, url = [], "/api/v1/me/portraits/?page_size=1"
    while url:
        body = alice_api.get(url).json()
        seen += [item["id"] for item in body["results"]]
        url = body["next"]
    assert seen == [portrait.public_id for portrait in reversed(made)]


@pytest.mark.parametrize("page_size", ["null", "abc", "0", "-1", "101", "1.5", "", "\u0661"])
def test_a_page_size_that_is_not_1_to_100_is_a_field_error_not_ignored(alice_api, page_size):
    for url in ("/api/v1/jobs/", "/api/v1/me/portraits/", "/api/v1/me/tokens/"):
        response = alice_api.get(url, {"page_size": page_size})
        assert response.status_code == 400, (url, page_size)
        assert response.json()["errors"] == {"page_size": ["Must be a whole number from 1 to 100."]}


def test_the_schema_says_what_page_size_accepts(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    (parameter,) = [
        parameter
        for parameter in schema["paths"]["/api/v1/jobs/"]["get"]["parameters"]
        if parameter["name"] == "page_size"
    ]
    assert parameter["schema"] == {"type": "integer", "minimum": 1, "maximum": 100}


# --- Bodies -----------------------------------------------------------------------------------

DEEP = "[" * 100_000


def _assert_parse_error(response, fragment: str):
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "parse_error" and body["errors"] == {}
    assert fragment in body["detail"]


@pytest.mark.parametrize(
    "body",
    [DEEP, "[" * 40 + "]" * 40, '{"a":' * 33 + "1" + "}" * 33],
    ids=["100000-open-brackets", "40-levels", "33-levels-of-objects"],
)
def test_deeply_nested_json_is_a_parse_error_on_register(api, body, django_user_model):
    response = api.generic("POST", "/api/v1/auth/register/", body, content_type="application/json")
    _assert_parse_error(response, "nested deeper than 32 levels")
    assert not django_user_model.objects.exists()


def test_deeply_nested_json_is_a_parse_error_on_job_submission(alice_api):
    response = alice_api.generic("POST", "/api/v1/jobs/", DEEP, content_type="application/json")
    _assert_parse_error(response, "nested deeper than 32 levels")
    assert not GenerationJob.objects.exists()


def test_json_that_nests_a_little_is_still_fine(api):
    body = {"username": "carol", "email": "carol@example.com", "password": ["x"]}
    response = api.post("/api/v1/auth/register/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"password"}  # a field error, not a parse error


def test_deep_json_on_every_api_endpoint_that_takes_a_body_is_never_a_server_error(
    world, alice, no_throttles
):
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    problems = []
    for route in site_routes():
        if not route.template.startswith("api/"):
            continue
        url = route.url(_valid_values(route, world) or dict.fromkeys(route.params, "x"))
        for method in ("POST", "PUT", "PATCH"):
            response = client.generic(method, url, DEEP, content_type="application/json")
            problem = _problem(url, response)
            if problem:
                problems.append(f"{method} {problem}")
            elif response.status_code == 400:
                assert response.json()["code"] == "parse_error", (method, url)
    assert problems == [], "\n".join(problems)


def test_a_png_whose_provenance_chunk_nests_deeply_verifies_without_a_server_error(api):
    import io

    from PIL import Image, PngImagePlugin

    from portraits.imagefiles import PROVENANCE_KEY

    info = PngImagePlugin.PngInfo()
    info.add_text(PROVENANCE_KEY, DEEP)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG", pnginfo=info)
    buffer.seek(0)
    buffer.name = "deep.png"

    response = api.post("/api/v1/credentials/verify/", {"file": buffer}, format="multipart")

    assert response.status_code == 200
    assert response.json()["png_provenance"] is None


MALFORMED_MULTIPART = [
    ("multipart/form-data; boundary=xyz", b"garbage"),
    ("multipart/form-data; boundary=xyz", b""),
    ("multipart/form-data", b"garbage"),
    ("multipart/form-data; boundary=", b"--\r\n"),
    ("multipart/form-data; boundary=xyz", b"--xyz\r\nContent-Disposition: form-data\r\n\r\n"),
]


def test_a_malformed_multipart_body_is_a_4xx_in_the_one_shape_everywhere_under_the_api(
    world, alice, no_throttles
):
    clients = _clients(alice)
    problems = []
    for route in site_routes():
        if not route.template.startswith("api/v1/"):
            continue
        url = route.url(_valid_values(route, world) or dict.fromkeys(route.params, "x"))
        for content_type, body in MALFORMED_MULTIPART:
            for who, client in clients.items():
                for method in ("POST", "PATCH"):
                    response = client.generic(method, url, body, content_type=content_type)
                    problem = _problem(url, response)
                    if problem:
                        problems.append(f"{who} {method} {content_type!r} {problem}")
    assert problems == [], "\n".join(problems)


def _multipart(*parts: bytes, boundary: bytes = b"b") -> bytes:
    return b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts) + (
        b"--" + boundary + b"--\r\n"
    )


@pytest.mark.parametrize(
    "body",
    [
        b"--b\r\n[]--b--\r\n",  # schemathesis' find: a part with no headers at all
        _multipart(b"Content-Type: text/plain\r\n\r\nAda"),  # no Content-Disposition
        _multipart(b"Content-Disposition: form-data\r\n\r\nAda"),  # no field name
        b"--b\r\nContent-Disposition: form-data; name=display_name\r\n\r\nAda\r\n",  # unclosed
        b"no boundary anywhere",
    ],
)
def test_a_multipart_part_django_would_skip_is_a_parse_error_and_changes_nothing(alice, body):
    client = Client()
    client.force_login(alice)
    response = client.patch("/api/v1/me/", body, content_type="multipart/form-data; boundary=b")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    alice.refresh_from_db()
    assert alice.display_name == "Alice Liddell"


def test_a_well_formed_multipart_patch_still_works(alice):
    client = Client()
    client.force_login(alice)
    field = b'Content-Disposition: form-data; name="display_name"\r\n\r\nAda L.'
    for body, expected in ((_multipart(field), "Ada L."), (b"--b--\r\n", "Ada L.")):
        response = client.patch("/api/v1/me/", body, content_type="multipart/form-data; boundary=b")
        assert response.status_code == 200, response.content
        assert response.json()["display_name"] == expected


# --- Upload size ------------------------------------------------------------------------------


def test_readme_caps_the_proxy_at_the_same_size_as_the_site():
    readme = (ROOT / "README.md").read_text()
    megabytes = {int(m) for m in re.findall(r"client_max_body_size (\d+)m", readme)}
    assert megabytes == {django_settings.UPLOAD_MAX_BYTES // (1024 * 1024)}
    assert django_settings.UPLOAD_MAX_BYTES == 10 * 1024 * 1024  # the documented default
    assert django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE == django_settings.UPLOAD_MAX_BYTES


def test_a_body_over_the_limit_is_refused_by_its_length_before_it_is_read(api, client, settings):
    settings.UPLOAD_MAX_BYTES = 1024 * 1024
    too_large = str(settings.UPLOAD_MAX_BYTES + 1)
    # The declared length decides: not a byte of the (absent) body is read.
    response = api.generic(
        "POST",
        "/api/v1/credentials/verify/",
        b"",
        content_type="multipart/form-data; boundary=xyz",
        CONTENT_LENGTH=too_large,
    )
    assert response.status_code == 413
    assert response.json() == {
        "detail": "The request is larger than 1.0\xa0MB, the most this site accepts.",
        "code": "request_too_large",
        "errors": {},
    }
    page = client.generic(
        "POST",
        "/credentials/verify/",
        b"",
        content_type="multipart/form-data; boundary=xyz",
        CONTENT_LENGTH=too_large,
    )
    assert page.status_code == 413
    assert "more than this site accepts" in page.content.decode()


def test_anonymous_verification_has_its_own_rate(api, client, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "verify", "2/hour")
    for _ in range(2):
        assert api.post("/api/v1/credentials/verify/", {}, format="multipart").status_code == 400

    response = api.post("/api/v1/credentials/verify/", {}, format="multipart")

    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    # The page spends the same budget (same address): refused too, on the form.
    page = client.post("/credentials/verify/", {})
    assert page.status_code == 429
    assert "Too many verifications" in page.content.decode()


def _asgi_exchange(scope_headers, chunks, *, path="/api/v1/credentials/verify/"):
    """Send ``chunks`` (never an end of body) to the site's ASGI stack: the response, if any."""
    from asgiref.sync import async_to_sync
    from asgiref.testing import ApplicationCommunicator
    from django.core.handlers.asgi import ASGIHandler

    from config.middleware import RequestBodyLimit

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *scope_headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }

    async def exchange():
        communicator = ApplicationCommunicator(RequestBodyLimit(ASGIHandler()), scope)
        for chunk in chunks:
            await communicator.send_input(
                {"type": "http.request", "body": chunk, "more_body": True}
            )
        # Django answers without the rest of the body: it was never going to read it.
        start = await communicator.receive_output(timeout=10)
        body = await communicator.receive_output(timeout=10)
        await communicator.send_input({"type": "http.disconnect"})
        await communicator.wait(timeout=10)
        return start, body

    return async_to_sync(exchange)()


def test_over_the_limit_by_content_length_the_asgi_app_answers_before_reading_a_byte(settings):
    settings.UPLOAD_MAX_BYTES = 64 * 1024
    start, body = _asgi_exchange(
        [(b"content-type", b"multipart/form-data; boundary=xyz"), (b"content-length", b"70000")],
        chunks=[],  # not one byte sent: Django would wait for them forever
    )
    assert start["status"] == 413
    assert dict((k.lower(), v) for k, v in start["headers"])[b"content-type"] == b"application/json"
    assert json.loads(body["body"])["code"] == "request_too_large"


def test_a_chunked_body_over_the_limit_is_cut_off_and_answered_413(settings):
    settings.UPLOAD_MAX_BYTES = 64 * 1024
    start, body = _asgi_exchange(
        [(b"content-type", b"multipart/form-data; boundary=xyz")],  # no length: chunked
        chunks=[b"x" * 16384] * 5,  # 80 KiB and more to come, never an end
    )
    assert start["status"] == 413
    assert json.loads(body["body"])["code"] == "request_too_large"


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_daphne_answers_malformed_multipart_and_oversized_bodies_in_the_one_shape(tmp_path):
    """Twisted refused unparseable multipart bodies with a bare 400 before daphne saw them."""
    from tests import support

    port = support.free_port()
    web = support.daphne(
        support.process_env(
            UPLOAD_MAX_BYTES=str(1024 * 1024),
            AVATAR_MAX_BYTES=str(512 * 1024),
            API_VERIFY_RATE="1000/hour",
        ),
        tmp_path / "daphne.log",
        port,
    )

    def post(path, content_type, body):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            connection.request("POST", path, body=body, headers={"Content-Type": content_type})
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type"), response.read()
        finally:
            connection.close()

    with support.running(web):
        support.wait_for_port(port, web)
        for path in ("/api/v1/credentials/verify/", "/api/v1/auth/register/"):
            for content_type, body in MALFORMED_MULTIPART:
                status, received_type, content = post(path, content_type, body)
                assert (status, received_type) == (400, "application/json"), (path, body, content)
                assert set(json.loads(content)) == {"detail", "code", "errors"}

        status, received_type, content = post(
            "/api/v1/credentials/verify/",
            "multipart/form-data; boundary=xyz",
            b"x" * (1024 * 1024 + 1),
        )
        assert (status, received_type) == (413, "application/json")
        assert json.loads(content)["code"] == "request_too_large"


# --- Titles, descriptions, display names, bios --------------------------------------------------

RLO, PDF, LRI, PDI = "\u202e", "\u202c", "\u2066", "\u2069"


def test_portrait_text_is_cleaned_through_the_api(alice, alice_api):
    portrait = PortraitFactory(author=alice)
    response = alice_api.patch(
        f"/api/v1/portraits/{portrait.public_id}/",
        {
            "title": f"Caf\u0065\u0301 {RLO}gnp.exe{PDF}\x07",
            "description": f"Line one\r\n{LRI}two{PDI}\x00\u2028three",
        },
        format="json",
    )
    # DRF refuses the NUL in a CharField itself; without it the text is cleaned.
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"description"}

    response = alice_api.patch(
        f"/api/v1/portraits/{portrait.public_id}/",
        {
            "title": f"Caf\u0065\u0301 {RLO}gnp.exe{PDF}\x07",
            "description": f"Line one\r\n{LRI}two{PDI}\x1b\u2028three",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    portrait.refresh_from_db()
    assert portrait.title == "Caf\u00e9 gnp.exe"
    assert portrait.description == "Line one\ntwo\nthree"


@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("\u200b\u200c\u200d\u2060\ufeff", "shows nothing"),
        ("\u3164\ufe0f", "shows nothing"),
        (f"{RLO}\u200b{PDF}", "shows nothing"),
        ("Z" + "\u0336\u0337\u0338\u0335\u0334" * 4, "combining marks"),
    ],
    ids=["zero-width", "hangul-filler", "bidi-and-zero-width", "zalgo"],
)
def test_invisible_or_mark_padded_titles_are_refused_by_api_and_page(
    alice, alice_api, client, title, message
):
    portrait = PortraitFactory(author=alice, title="Kept")
    response = alice_api.patch(
        f"/api/v1/portraits/{portrait.public_id}/", {"title": title}, format="json"
    )
    assert response.status_code == 400
    assert message in response.json()["errors"]["title"][0]

    client.force_login(alice)
    page = client.post(
        f"/p/{portrait.public_id}/edit/",
        {"title": title, "description": "", "visibility": portrait.visibility},
    )
    assert page.status_code == 400
    assert message in page.content.decode()
    portrait.refresh_from_db()
    assert portrait.title == "Kept"


def test_invisible_description_is_refused(alice, alice_api):
    portrait = PortraitFactory(author=alice, description="Kept")
    response = alice_api.patch(
        f"/api/v1/portraits/{portrait.public_id}/",
        {"description": "\u200b\n\u200b"},
        format="json",
    )
    assert response.status_code == 400
    assert "shows nothing" in response.json()["errors"]["description"][0]
    portrait.refresh_from_db()
    assert portrait.description == "Kept"


def test_a_title_made_from_a_hostile_prompt_is_cleaned(alice):
    from portraits.services import title_from_prompt

    assert title_from_prompt(f"{RLO}a fox{PDF}\x00 at dawn") == "a fox at dawn"
    assert title_from_prompt("\u200b\u200b") == "Untitled portrait"


def test_display_name_and_bio_are_cleaned_through_the_api_and_the_settings_page(
    alice, alice_api, client
):
    response = alice_api.patch("/api/v1/me/", {"display_name": "\u200b\u200b"}, format="json")
    assert response.status_code == 400
    assert "shows nothing" in response.json()["errors"]["display_name"][0]

    response = alice_api.patch(
        "/api/v1/me/",
        {"display_name": f"{RLO}Alice{PDF}", "bio": f"Foxes{LRI}\r\nand owls{PDI}\x1b"},
        format="json",
    )
    assert response.status_code == 200
    alice.refresh_from_db()
    assert (alice.display_name, alice.bio) == ("Alice", "Foxes\nand owls")

    client.force_login(alice)
    page = client.post("/settings/", {"display_name": "Alice", "bio": "o" + "\u0301" * 9})
    assert page.status_code == 200
    assert "combining marks" in page.content.decode()
    alice.refresh_from_db()
    assert alice.bio == "Foxes\nand owls"
