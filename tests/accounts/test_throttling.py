"""Who a request comes from, and how many tries it gets.

Rate limits key on the client's address, which is only as trustworthy as the
proxies in front of the site: ``TRUSTED_PROXY_COUNT`` (default 0: no proxy, the
socket's address) says how far ``X-Forwarded-For`` may be believed, for DRF's
throttles and allauth's rate limits alike. Failed logins are limited per account
too, and the web log-in and ``POST /api/v1/auth/token/`` share allauth's counters.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from allauth.account.adapter import get_adapter
from django.urls import reverse
from rest_framework.throttling import ScopedRateThrottle

from accounts.models import ApiToken, User
from tests.conftest import PASSWORD
from tests.test_settings import _settings_of

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register/"
TOKEN = "/api/v1/auth/token/"
STRONG = "a-long-unusual-passphrase-42"
LOCKED_OUT = "Too many failed login attempts. Try again later."


@pytest.fixture
def proxies(settings):
    """Set the trusted proxy count the way TRUSTED_PROXY_COUNT does, for DRF and allauth."""

    def trust(count: int) -> None:
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": count}
        settings.ALLAUTH_TRUSTED_PROXY_COUNT = count

    return trust


def _token(client, password="wrong", login="alice", **extra):
    return client.post(
        TOKEN, {"username": login, "password": password, "name": "t"}, format="json", **extra
    )


# --- Proxies -------------------------------------------------------------------------------------


def test_the_setting_drives_drf_allauth_and_the_https_header(tmp_path):
    names = ("REST_FRAMEWORK", "ALLAUTH_TRUSTED_PROXY_COUNT", "SECURE_PROXY_SSL_HEADER")

    def values(**env):
        found = _settings_of(tmp_path, *names, **env)
        return (
            found["REST_FRAMEWORK"]["NUM_PROXIES"],
            found["ALLAUTH_TRUSTED_PROXY_COUNT"],
            found["SECURE_PROXY_SSL_HEADER"],
        )

    https = ["HTTP_X_FORWARDED_PROTO", "https"]  # a tuple, through JSON
    assert values() == (0, 0, None)
    assert values(TRUSTED_PROXY_COUNT="2") == (2, 2, https)
    # The older switch keeps meaning what it meant (trust X-Forwarded-Proto), and trusts no
    # forwarded address by itself.
    assert values(BEHIND_PROXY="true") == (0, 0, https)
    assert values(TRUSTED_PROXY_COUNT="1", BEHIND_PROXY="false") == (1, 1, None)


@pytest.mark.parametrize("value", ["two", "-1"])
def test_a_malformed_proxy_count_stops_start_up_with_its_name(tmp_path, value):
    from tests.test_settings import _django_setup

    result = _django_setup(tmp_path, TRUSTED_PROXY_COUNT=value)
    assert result.returncode != 0
    assert "Environment variable TRUSTED_PROXY_COUNT=" in result.stderr


def test_a_fresh_forwarded_address_does_not_buy_a_fresh_token_bucket(api, alice, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "token", "2/hour")
    answers = [
        _token(api, password=PASSWORD, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code
        for n in range(3)
    ]
    assert answers == [201, 201, 429]
    assert ApiToken.objects.count() == 2


def test_a_fresh_forwarded_address_does_not_buy_a_fresh_register_bucket(api, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "register", "2/hour")
    answers = [
        api.post(
            REGISTER,
            {"username": f"u{n}", "email": f"u{n}@example.com", "password": STRONG},
            format="json",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        ).status_code
        for n in range(3)
    ]
    assert answers == [201, 201, 429]
    assert not User.objects.filter(username="u2").exists()


def test_behind_one_proxy_the_client_is_the_address_the_proxy_appended(
    api, alice, monkeypatch, proxies
):
    proxies(1)
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "token", "1/hour")
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    # Whatever a client writes itself is to the left of what our proxy appends.
    first = _token(api, password=PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy)
    spoofed = _token(api, password=PASSWORD, HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7", **proxy)
    other = _token(api, password=PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.8", **proxy)
    assert (first.status_code, spoofed.status_code, other.status_code) == (201, 429, 201)


def test_allauth_takes_the_client_from_the_same_setting(rf, proxies):
    request = rf.post("/", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7", REMOTE_ADDR="10.0.0.1")
    assert get_adapter().get_client_ip(request) == "10.0.0.1"
    proxies(1)
    assert get_adapter().get_client_ip(request) == "198.51.100.7"


def test_fewer_forwarded_addresses_than_proxies_is_the_connection_s_address_not_a_500(
    client, rf, proxies
):
    # A request that bypassed a proxy: allauth itself raises ImproperlyConfigured here.
    proxies(2)
    request = rf.post("/", HTTP_X_FORWARDED_FOR="1.2.3.4", REMOTE_ADDR="10.0.0.1")
    assert get_adapter().get_client_ip(request) == "10.0.0.1"
    response = client.post(
        "/accounts/login/",
        {"login": "alice", "password": "wrong"},
        HTTP_X_FORWARDED_FOR="1.2.3.4",
    )
    assert response.status_code == 200  # the form again, with its error


# --- Failed logins, per account ------------------------------------------------------------------


def _from(n: int) -> dict:
    """A different client address per attempt: the limit is the account's, not the address's."""
    return {"REMOTE_ADDR": f"198.51.100.{n}"}


def test_token_endpoint_locks_the_account_after_five_failures_like_the_web_login(api, alice):
    for n in range(5):
        refused = _token(api, **_from(n))
        assert refused.status_code == 400 and refused.json()["code"] == "invalid_credentials"
    locked = _token(api, password=PASSWORD, **_from(9))
    assert locked.status_code == 429
    assert locked.json() == {"detail": LOCKED_OUT, "code": "too_many_login_attempts", "errors": {}}
    assert 0 < int(locked["Retry-After"]) <= 300
    assert not ApiToken.objects.exists()
    # Another account is not held up.
    assert _token(api, password="nope", login="bob", **_from(9)).status_code == 400


def test_the_web_login_and_the_token_endpoint_share_one_budget(api, client, alice):
    for n in range(3):
        client.post(reverse("account_login"), {"login": "alice", "password": "wrong"}, **_from(n))
    for n in range(3, 5):
        assert _token(api, **_from(n)).status_code == 400
    page = client.post(reverse("account_login"), {"login": "alice", "password": PASSWORD})
    assert LOCKED_OUT in page.content.decode()
    assert client.session.get("_auth_user_id") is None
    assert _token(api, password=PASSWORD, **_from(7)).status_code == 429


def test_failures_on_the_token_endpoint_lock_the_web_login(api, client, alice):
    for n in range(5):
        _token(api, **_from(n))
    page = client.post(reverse("account_login"), {"login": "alice", "password": PASSWORD})
    assert LOCKED_OUT in page.content.decode()


def test_the_lock_out_ends_when_its_window_has_passed(api, alice, monkeypatch):
    import allauth.core.internal.ratelimit as allauth_ratelimit

    now = [time.time()]

    # allauth's counters read time.time(); its cache lock uses monotonic() and sleep().
    clock = SimpleNamespace(time=lambda: now[0], monotonic=time.monotonic, sleep=time.sleep)
    monkeypatch.setattr(allauth_ratelimit, "time", clock)
    for n in range(5):
        _token(api, **_from(n))
    assert _token(api, password=PASSWORD, **_from(8)).status_code == 429
    now[0] += 299
    assert _token(api, password=PASSWORD, **_from(8)).status_code == 429
    now[0] += 2
    assert _token(api, password=PASSWORD, **_from(8)).status_code == 201


def test_a_successful_exchange_does_not_count_as_a_failure(api, alice):
    for n in range(4):
        _token(api, **_from(n))
    for n in range(3):
        assert _token(api, password=PASSWORD, **_from(10 + n)).status_code == 201
    assert _token(api, **_from(20)).status_code == 400  # the fifth failure, not yet locked


def test_the_lock_out_is_per_account_even_by_e_mail_address(api, alice):
    for n in range(5):
        _token(api, login="alice@example.com", **_from(n))
    locked = _token(api, login="ALICE@example.com", password=PASSWORD, **_from(9))
    assert locked.status_code == 429


def test_the_per_address_limit_of_failed_logins_still_applies(api, alice, bob, make_user):
    # allauth's 10 failures a minute per address, whichever accounts they try.
    for n in range(10):
        make_user(f"m{n}")
        assert _token(api, login=f"m{n}").status_code == 400
    assert _token(api, login="bob", password=PASSWORD).status_code == 429
