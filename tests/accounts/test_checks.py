"""Settings that decide what sign-up reveals, and the deployment checks that watch them."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks

from tests.test_settings import _settings_of


def _deploy_warnings() -> set[str]:
    return {message.id for message in run_checks(include_deployment_checks=True)}


def test_verification_is_mandatory_in_production_and_optional_for_make_run(tmp_path):
    def verification(**env):
        return _settings_of(tmp_path, "ACCOUNT_EMAIL_VERIFICATION", **env)[
            "ACCOUNT_EMAIL_VERIFICATION"
        ]

    assert verification() == "optional"
    assert verification(DEBUG="false", SECRET_KEY="x" * 50) == "mandatory"
    assert (
        verification(DEBUG="false", SECRET_KEY="x" * 50, ACCOUNT_EMAIL_VERIFICATION="optional")
        == "optional"
    )


@pytest.mark.parametrize(
    ("verification", "warned"), [("optional", True), ("none", True), ("mandatory", False)]
)
def test_check_deploy_warns_when_sign_up_reveals_taken_addresses(settings, verification, warned):
    settings.ACCOUNT_EMAIL_VERIFICATION = verification
    assert ("accounts.W001" in _deploy_warnings()) is warned


def test_check_deploy_warns_when_a_proxy_is_trusted_about_https_but_not_addresses(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.TRUSTED_PROXY_COUNT = 0
    assert "accounts.W002" in _deploy_warnings()
    settings.TRUSTED_PROXY_COUNT = 1
    assert "accounts.W002" not in _deploy_warnings()
