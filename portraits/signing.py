"""Where this site's Content Credentials key and certificates come from.

``settings.C2PA_SIGNING_KEY`` and ``settings.C2PA_SIGNING_CERTS`` name PEM files. In
production they are a real signing certificate (from a CA in the C2PA trust list) and
its key; ``manage.py check`` warns when they are missing (``portraits.checks``).

Outside production (``settings.PRODUCTION``: an explicit ``DEBUG=false``) a missing pair
at the default location is created on first use with the development CA
(``portraits.dev_ca.create_dev_ca``, the same as ``manage.py c2pa_dev_certs``), so the
embedded default signs out of the box. Never in production: a production site that
silently minted its own CA would sign with a key nobody chose.
"""

from __future__ import annotations

import threading
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from portraits.dev_ca import DEV_CA_CERT_NAME, DEV_CHAIN_NAME, DEV_KEY_NAME, create_dev_ca

_create_lock = threading.Lock()


def signing_paths() -> tuple[Path, Path]:
    """(key path, certificate chain path) from settings."""
    return Path(settings.C2PA_SIGNING_KEY), Path(settings.C2PA_SIGNING_CERTS)


def _dev_pair_creatable(key_path: Path, chain_path: Path) -> bool:
    # Only the layout create_dev_ca writes, and only when neither file exists (never
    # replace half of a pair someone put there).
    return (
        not settings.PRODUCTION
        and key_path.parent == chain_path.parent
        and key_path.name == DEV_KEY_NAME
        and chain_path.name == DEV_CHAIN_NAME
        and not key_path.exists()
        and not chain_path.exists()
    )


def signing_credentials() -> tuple[bytes, bytes]:
    """(private key PEM, certificate chain PEM) to sign portraits with.

    Raises ImproperlyConfigured naming the settings when the files are missing and
    cannot be created (in production, or at a non-default location).
    """
    key_path, chain_path = signing_paths()
    if not (key_path.exists() and chain_path.exists()):
        with _create_lock:
            if _dev_pair_creatable(key_path, chain_path):
                create_dev_ca(key_path.parent)
    if not (key_path.exists() and chain_path.exists()):
        raise ImproperlyConfigured(
            f"No C2PA signing key/certificates at C2PA_SIGNING_KEY={key_path} and "
            f"C2PA_SIGNING_CERTS={chain_path}. Point them at your signing certificate, or "
            "run `manage.py c2pa_dev_certs` for a development CA."
        )
    return key_path.read_bytes(), chain_path.read_bytes()


def site_trust_anchor() -> bytes | None:
    """The development CA next to the chain (``ca.pem``), when this site uses one.

    Passed to the manifest reader so a file signed by this site reads as *trusted*
    (by this site), while any other unknown signer stays untrusted.
    """
    _, chain_path = signing_paths()
    anchor = chain_path.parent / DEV_CA_CERT_NAME
    return anchor.read_bytes() if anchor.exists() else None
