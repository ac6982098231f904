"""System checks: a site that cannot sign its portraits should say so at start-up."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register

from portraits.signing import signing_paths


@register(Tags.security)
def check_signing_credentials(app_configs=None, **kwargs):
    if not settings.PRODUCTION:
        return []  # created on first use (portraits.signing)
    key_path, chain_path = signing_paths()
    missing = [str(path) for path in (key_path, chain_path) if not path.exists()]
    if not missing:
        return []
    return [
        Warning(
            f"Content Credentials signing files are missing: {', '.join(missing)}. "
            "Every finished job will fail to store its portraits.",
            hint="Set C2PA_SIGNING_KEY and C2PA_SIGNING_CERTS to your signing key and "
            "certificate chain (or run `manage.py c2pa_dev_certs` for a test CA).",
            id="portraits.W001",
        )
    ]
