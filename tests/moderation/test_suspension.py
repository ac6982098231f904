"""A suspended member cannot sign in, keep a session, use a token, submit or keep a
WebSocket open; once the suspension runs out they are back everywhere, with their portraits.

Each path through the real thing: allauth's sign-in page, the token endpoint, the site's
middleware and DRF authentication, the real ASGI application for WebSockets. The
suspension itself is ``moderation.services.member_suspend``; "time passing" is the
suspension's end moved into the past (``is_suspended`` reads the clock). The WebSocket
tests also run on PostgreSQL + Redis (``DATABASE_URL`` / ``REDIS_URL``), as does the
submission race, which needs PostgreSQL's row locks.
"""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.contrib.auth import SESSION_KEY
from django.contrib.messages import get_messages
from django.db import connection, transaction
from django.test import Client
from django.urls import resolve, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken, User
from accounts.services import api_token_create
from accounts.suspension import AccountSuspended, not_suspended_q
from config.errors import DomainError
from gallery.services import follow_add
from generation.models import GenerationJob
from generation.services import job_submit
from portraits.models import Portrait
from tests.conftest import PASSWORD
from tests.portraits.factories import PortraitFactory

TOKEN_OBTAIN = "/api/v1/auth/token/"
ME = "/api/v1/me/"
WS_PATH = "/ws/notifications/"
TIMEOUT = 10
REASON = "Harassed another member."


@pytest.fixture
def rule(db):
    from moderation.models import Rule

    return Rule.objects.create(title="Be kind", text="No harassment.", order=1)


@pytest.fixture
def suspend(mod, rule):
    """Suspend ``user`` as a moderator does, until ``until`` (None: indefinitely)."""

    def do(user, *, until=None):
        from moderation.services import member_suspend

        member_suspend(moderator=mod, user=user, rule=rule, reason=REASON, until=until)
        user.refresh_from_db()
        return user

    return do


@pytest.fixture
def lift(mod, rule):
    def do(user):
        from moderation.services import member_suspension_lift

        member_suspension_lift(moderator=mod, user=user, rule=rule, reason="Appeal accepted.")
        user.refresh_from_db()
        return user

    return do


def run_out(user) -> User:
    """The suspension's end has passed (as the clock would make it)."""
    User.objects.filter(pk=user.pk).update(suspended_until=timezone.now() - timedelta(minutes=1))
    user.refresh_from_db()
    assert user.suspended_at is not None and not user.is_suspended
    return user


def signed_in_user_id(client) -> str | None:
    return client.session.get(SESSION_KEY)


def token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def assert_suspended_page(location: str) -> None:
    """``location`` is a suspended member's page, which shows why without any sign-in."""
    path = urlsplit(location).path
    assert resolve(path).view_name == "moderation:suspended", location
    page = Client().get(path)
    assert page.status_code == 200
    assert REASON in page.content.decode()


def suspended_page_in(detail: str) -> str:
    """The absolute address of the suspended page an API refusal names."""
    match = re.search(r"http://testserver/moderation/suspended/\S+/", detail)
    assert match, detail
    return match.group(0)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def submit(user, prompt="a lighthouse keeper at dusk"):
    return job_submit(user=user, spec={"prompt": prompt})


# --- The rule itself ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("at", "until", "suspended"),
    [
        (None, None, False),
        (-1, None, True),  # indefinitely
        (-1, +1, True),
        (-2, -1, False),  # run out
    ],
)
def test_the_query_filter_agrees_with_is_suspended(alice, at, until, suspended):
    now = timezone.now()
    hours = lambda n: None if n is None else now + timedelta(hours=n)  # noqa: E731
    User.objects.filter(pk=alice.pk).update(suspended_at=hours(at), suspended_until=hours(until))
    alice.refresh_from_db()
    assert alice.is_suspended is suspended
    assert User.objects.filter(not_suspended_q(), pk=alice.pk).exists() is not suspended


# --- Signing in --------------------------------------------------------------------------------


def test_signing_in_on_the_page_is_refused_and_sends_them_to_the_suspended_page(
    client, alice, suspend
):
    suspend(alice, until=timezone.now() + timedelta(days=7))
    response = client.post(reverse("account_login"), {"login": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert_suspended_page(response["Location"])
    assert signed_in_user_id(client) is None
    (message,) = messages_of(response)
    assert message == "You cannot sign in while your account is suspended."


def test_the_suspended_page_is_reachable_without_signing_in(client, alice, suspend):
    suspend(alice)
    response = client.post(
        reverse("account_login"), {"login": "alice@example.com", "password": PASSWORD}, follow=True
    )
    assert response.status_code == 200
    assert resolve(response.redirect_chain[-1][0]).view_name == "moderation:suspended"
    body = response.content.decode()
    assert REASON in body and "You cannot sign in" in body  # the page, and the message
    assert signed_in_user_id(client) is None


def test_a_wrong_password_says_nothing_of_the_suspension(client, alice, suspend):
    suspend(alice)
    response = client.post(reverse("account_login"), {"login": "alice", "password": "nope"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "you specified are not correct" in body and "suspended" not in body.lower()


def test_the_token_endpoint_refuses_a_suspended_member_with_the_reason(api, alice, suspend):
    suspend(alice)
    response = api.post(
        TOKEN_OBTAIN, {"username": "alice", "password": PASSWORD, "name": "cli"}, format="json"
    )
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "account_suspended"
    assert "suspended indefinitely" in body["detail"]
    assert_suspended_page(suspended_page_in(body["detail"]))
    assert not ApiToken.objects.filter(user=alice).exists()


def test_the_token_endpoint_with_a_wrong_password_says_nothing_of_the_suspension(
    api, alice, suspend
):
    suspend(alice)
    response = api.post(
        TOKEN_OBTAIN, {"username": "alice", "password": "nope", "name": "cli"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_credentials"


# --- Sessions opened before the suspension --------------------------------------------------------


def test_an_open_session_is_signed_out_at_its_next_page_and_sent_to_the_suspended_page(
    client, alice, suspend
):
    client.post(reverse("account_login"), {"login": "alice", "password": PASSWORD})
    assert client.get(reverse("accounts:settings")).status_code == 200
    suspend(alice)

    response = client.get(reverse("accounts:settings"))
    assert response.status_code == 302
    assert_suspended_page(response["Location"])
    assert signed_in_user_id(client) is None
    assert messages_of(response) == ["You have been signed out: your account is suspended."]
    # From then on simply signed out.
    again = client.get(reverse("accounts:settings"))
    assert again["Location"].startswith(reverse("account_login"))


def test_a_form_posted_by_an_open_session_does_nothing(client, alice, suspend, painter):
    client.force_login(alice)
    suspend(alice)
    response = client.post(reverse("generation:job-create"), {"prompt": "a cellist"})
    assert response.status_code == 302
    assert resolve(urlsplit(response["Location"]).path).view_name == "moderation:suspended"
    assert not GenerationJob.objects.exists()


def test_an_open_session_on_the_api_answers_401_with_the_reason_then_is_anonymous(
    client, alice, suspend
):
    client.force_login(alice)
    assert client.get(ME).status_code == 200
    suspend(alice)

    response = client.get(ME)
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "account_suspended" and "suspended" in body["detail"]
    assert signed_in_user_id(client) is None
    assert client.get(ME).json()["code"] == "not_authenticated"


def test_other_members_sessions_carry_on(client, alice, bob, suspend):
    client.force_login(bob)
    suspend(alice)
    assert client.get(reverse("accounts:settings")).status_code == 200


# --- API tokens -----------------------------------------------------------------------------------


def test_a_suspended_member_s_token_answers_401_saying_so(alice, suspend):
    _, key = api_token_create(user=alice, name="script")
    api = token_client(key)
    assert api.get(ME).status_code == 200
    suspend(alice, until=timezone.now() + timedelta(days=3))

    response = api.get(ME)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    body = response.json()
    assert body["code"] == "account_suspended"
    assert body["detail"].startswith("This account is suspended until ")
    assert_suspended_page(suspended_page_in(body["detail"]))
    # A read anyone may make is refused too: the token is what is refused, not the action.
    assert api.get("/api/v1/gallery/").status_code == 401


def test_a_suspended_member_s_token_cannot_submit(alice, suspend, painter):
    _, key = api_token_create(user=alice, name="script")
    suspend(alice)
    response = token_client(key).post("/api/v1/jobs/", {"prompt": "a cellist"}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "account_suspended"
    assert not GenerationJob.objects.exists()


def test_lifting_the_suspension_gives_the_token_back(alice, suspend, lift):
    _, key = api_token_create(user=alice, name="script")
    suspend(alice)
    assert token_client(key).get(ME).status_code == 401
    lift(alice)
    assert token_client(key).get(ME).json()["username"] == "alice"


# --- Submission -----------------------------------------------------------------------------------


def test_job_submit_refuses_a_suspended_member_and_saves_nothing(alice, suspend, painter):
    suspend(alice)
    with pytest.raises(AccountSuspended) as refused:
        submit(alice)
    assert "suspended" in refused.value.message
    assert not GenerationJob.objects.exists()


def test_a_request_signed_in_before_the_suspension_submits_nothing(
    alice, suspend, painter, django_capture_on_commit_callbacks
):
    # The member a request authenticated as, read before the moderator acted.
    as_signed_in = User.objects.get(pk=alice.pk)
    suspend(alice)
    assert not as_signed_in.is_suspended  # what that request still believes

    with pytest.raises(AccountSuspended):
        submit(as_signed_in)
    api = APIClient()
    api.force_authenticate(as_signed_in)
    response = api.post("/api/v1/jobs/", {"prompt": "a cellist"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "account_suspended"
    assert not GenerationJob.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_submission_waiting_on_the_suspension_s_row_lock_is_refused(alice, suspend, painter):
    as_signed_in = User.objects.get(pk=alice.pk)
    outcome: dict = {}

    def submit_meanwhile():
        try:
            outcome["job"] = submit(as_signed_in)
        except AccountSuspended as exc:
            outcome["refused"] = exc
        finally:
            connection.close()

    def waiting_on_this_connection() -> bool:
        # pg_locks is the whole server's (other databases' tests wait on locks too), and
        # pg_stat_activity is read once per transaction: ask for a backend this one blocks.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks"
                " WHERE NOT granted AND pg_backend_pid() = ANY(pg_blocking_pids(pid))"
            )
            return cursor.fetchone()[0] > 0

    submitter = threading.Thread(target=submit_meanwhile)
    with transaction.atomic():
        suspend(alice)  # holds the member's row until commit
        submitter.start()
        deadline = timezone.now() + timedelta(seconds=TIMEOUT)
        while not waiting_on_this_connection():
            assert timezone.now() < deadline, "the submission never waited for the row lock"
    submitter.join(TIMEOUT)
    assert not submitter.is_alive()
    assert "refused" in outcome, outcome
    assert not GenerationJob.objects.exists()


# --- WebSockets -------------------------------------------------------------------------------------


@pytest.fixture
def application(settings):
    settings.CELERY_INPROCESS_WORKER = False  # importing the ASGI module would start one
    from config.asgi import application

    return application


def by_token(application, key: str) -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application, WS_PATH, headers=[(b"authorization", f"Token {key}".encode())]
    )


def by_session(application, client) -> WebsocketCommunicator:
    name = django_settings.SESSION_COOKIE_NAME
    cookie = f"{name}={client.cookies[name].value}".encode()
    return WebsocketCommunicator(
        application, WS_PATH, headers=[(b"origin", b"http://testserver"), (b"cookie", cookie)]
    )


async def opened(ws: WebsocketCommunicator) -> WebsocketCommunicator:
    connected, _ = await ws.connect(timeout=TIMEOUT)
    assert connected
    first = await ws.receive_json_from(timeout=TIMEOUT)
    assert first["type"] == "unread", first
    return ws


async def close_code(ws: WebsocketCommunicator) -> int:
    message = await ws.receive_output(timeout=TIMEOUT)
    assert message["type"] == "websocket.close", message
    return message["code"]


async def refusal_code(ws: WebsocketCommunicator) -> int:
    connected, _ = await ws.connect(timeout=TIMEOUT)
    assert connected, "refusals accept the handshake, so the client sees the close code"
    code = await close_code(ws)
    await ws.disconnect()  # as a client does: the consumer ends on it, not cancelled
    return code


@pytest.mark.django_db(transaction=True)
def test_suspending_closes_the_member_s_open_websockets_only(
    application, alice, bob, carol, suspend
):
    _, alices_key = api_token_create(user=alice, name="ws")
    _, bobs_key = api_token_create(user=bob, name="ws")
    browser = Client()
    browser.force_login(alice)

    async def scenario():
        alices = [
            await opened(by_token(application, alices_key)),
            await opened(by_session(application, browser)),
        ]
        bobs = await opened(by_token(application, bobs_key))
        await database_sync_to_async(suspend)(alice)
        codes = [await close_code(ws) for ws in alices]
        # bob's socket still relays: the next thing pushed to him arrives.
        await database_sync_to_async(follow_add)(follower=carol, followed=bob)
        pushed = await bobs.receive_json_from(timeout=TIMEOUT)
        for ws in (*alices, bobs):
            await ws.disconnect()
        return codes, pushed["type"]

    assert async_to_sync(scenario)() == ([4401, 4401], "notification")


@pytest.mark.django_db(transaction=True)
def test_a_suspended_member_cannot_open_a_websocket(application, alice, suspend):
    _, key = api_token_create(user=alice, name="ws")
    browser = Client()
    browser.force_login(alice)  # a session from before the suspension
    suspend(alice)

    async def scenario():
        return [
            await refusal_code(by_token(application, key)),
            await refusal_code(
                WebsocketCommunicator(application, f"{WS_PATH}?token={key}")  # query form
            ),
            await refusal_code(by_session(application, browser)),
        ]

    assert async_to_sync(scenario)() == [4401, 4401, 4401]


@pytest.mark.django_db(transaction=True)
def test_once_the_suspension_has_run_out_websockets_open_again(application, alice, suspend):
    _, key = api_token_create(user=alice, name="ws")
    browser = Client()
    browser.force_login(alice)
    suspend(alice, until=timezone.now() + timedelta(days=1))
    run_out(alice)

    async def scenario():
        sockets = [
            await opened(by_token(application, key)),
            await opened(by_session(application, browser)),
        ]
        for ws in sockets:
            await ws.disconnect()
        return len(sockets)

    assert async_to_sync(scenario)() == 2


# --- When the suspension runs out ------------------------------------------------------------------


def test_an_expired_suspension_lets_the_member_back_in_everywhere(
    client, api, alice, suspend, painter, django_capture_on_commit_callbacks
):
    _, key = api_token_create(user=alice, name="script")
    suspend(alice, until=timezone.now() + timedelta(days=1))
    run_out(alice)

    response = client.post(reverse("account_login"), {"login": "alice", "password": PASSWORD})
    assert response.status_code == 302 and signed_in_user_id(client) == str(alice.pk)
    assert client.get(reverse("accounts:settings")).status_code == 200
    assert token_client(key).get(ME).status_code == 200
    obtained = api.post(
        TOKEN_OBTAIN, {"username": "alice", "password": PASSWORD, "name": "new"}, format="json"
    )
    assert obtained.status_code == 201
    with django_capture_on_commit_callbacks(execute=False):
        assert submit(alice).status == GenerationJob.Status.QUEUED


def test_an_expired_suspension_gives_back_the_portraits_it_hid_at_sign_in(client, alice, suspend):
    public = PortraitFactory(author=alice)
    private = PortraitFactory(author=alice, visibility=Portrait.Visibility.PRIVATE)
    suspend(alice, until=timezone.now() + timedelta(days=1))
    public.refresh_from_db()
    assert public.hidden_cause == Portrait.HiddenCause.SUSPENSION
    run_out(alice)

    client.post(reverse("account_login"), {"login": "alice", "password": PASSWORD})
    public.refresh_from_db()
    private.refresh_from_db()
    assert (public.hidden_at, public.hidden_cause) == (None, "")
    assert public.visibility == Portrait.Visibility.PUBLIC
    assert private.hidden_cause == "" and private.visibility == Portrait.Visibility.PRIVATE
    alice.refresh_from_db()
    assert alice.suspended_at is None  # settled once, not at every request


def test_an_expired_suspension_gives_back_the_portraits_when_a_token_is_used(alice, suspend):
    public = PortraitFactory(author=alice)
    _, key = api_token_create(user=alice, name="script")
    suspend(alice, until=timezone.now() + timedelta(days=1))
    run_out(alice)
    assert token_client(key).get(ME).status_code == 200
    public.refresh_from_db()
    assert public.hidden_cause == ""


# --- Nobody else is locked out ----------------------------------------------------------------------


def test_a_superuser_is_never_treated_as_suspended_unless_suspended(client, admin_user, alice):
    assert admin_user.suspended_at is None and not admin_user.is_suspended
    response = client.post(reverse("account_login"), {"login": "admin", "password": "password"})
    assert response.status_code == 302 and signed_in_user_id(client) == str(admin_user.pk)
    assert client.get("/admin/").status_code == 200
    _, key = api_token_create(user=admin_user, name="ops")
    assert token_client(key).get(ME).status_code == 200


def test_a_superuser_suspended_explicitly_is_refused_like_anyone(admin_client, admin_user):
    # Moderators cannot suspend an administrator (moderation.services); set by hand here.
    User.objects.filter(pk=admin_user.pk).update(suspended_at=timezone.now())
    response = admin_client.get("/admin/")
    assert response.status_code == 302
    assert resolve(urlsplit(response["Location"]).path).view_name == "moderation:suspended"
    assert signed_in_user_id(admin_client) is None


def test_without_a_suspended_page_the_sign_in_page_says_why(client, alice, suspend, monkeypatch):
    suspend(alice)
    monkeypatch.setattr("accounts.suspension._page_url", None)  # no moderation pages
    response = client.post(
        reverse("account_login"), {"login": "alice", "password": PASSWORD}, follow=True
    )
    assert [url for url, _ in response.redirect_chain] == [reverse("account_login")]
    assert "suspended indefinitely" in response.content.decode()
    assert signed_in_user_id(client) is None


def test_a_publication_that_reaches_the_service_after_a_suspension_is_refused(alice, suspend):
    """A request that began before the suspension (a session not yet signed out) gets no
    further: publishing reads the author's suspension under the lock a suspension takes."""
    from portraits.services import portrait_publish

    portrait = PortraitFactory(author=alice, visibility=Portrait.Visibility.PRIVATE)
    suspend(alice)

    with pytest.raises(DomainError) as refused:
        portrait_publish(portrait=portrait, by=alice)

    assert "suspended" in refused.value.field_errors["visibility"][0]
    assert Portrait.objects.get(pk=portrait.pk).visibility == Portrait.Visibility.PRIVATE


def test_a_suspended_staff_member_cannot_sign_in_to_the_admin_either(make_user, suspend):
    """The admin's sign-in is Django's, not allauth's: it refuses them before signing
    them in (no session, last_login untouched), and still lets others in."""
    staff = make_user("sam", is_staff=True)
    other = make_user("tess", is_staff=True)
    suspend(staff)
    client = Client()

    refused = client.post("/admin/login/", {"username": "sam", "password": PASSWORD})
    allowed = Client().post("/admin/login/", {"username": "tess", "password": PASSWORD})

    assert refused.status_code == 200 and SESSION_KEY not in client.session
    assert "suspended" in refused.content.decode()
    staff.refresh_from_db()
    assert staff.last_login is None
    assert allowed.status_code == 302
    other.refresh_from_db()
    assert other.last_login is not None
