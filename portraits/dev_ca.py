"""A throwaway certificate authority for development: Content Credentials out of the box.

C2PA refuses a bare self-signed signing certificate, so a development site signs with a
certificate issued by a CA made here (``manage.py c2pa_dev_certs``, or on first use
outside production, ``settings.PRODUCTION``: ``portraits.signing``). No trust list knows
this CA: a reader reports what it signed as intact but not trusted, unless the CA
(``ca.pem``) is passed as a trust anchor.

Cryptography only: no Django, no c2pa.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

# File names inside a development CA folder; settings' defaults point at the last two.
DEV_CA_CERT_NAME = "ca.pem"
DEV_CHAIN_NAME = "chain.pem"
DEV_KEY_NAME = "signer.key"

# id-kp-documentSigning (RFC 9336); C2PA accepts it, as it does emailProtection.
_DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")


def create_dev_ca(folder: Path, *, common_name: str = "Likeness development") -> tuple[Path, Path]:
    """Write a throwaway CA and a signing certificate it issued, for development.

    Writes into ``folder``: ``chain.pem`` (signing certificate, then the CA), ``signer.key``
    (its EC P-256 key, mode 0600) and ``ca.pem`` (the CA alone, to pass as a trust anchor).
    Returns ``(chain path, key path)``. Overwrites existing files; callers decide whether
    that is allowed.

    C2PA refuses a bare self-signed signing certificate, hence the two levels. The leaf
    has what C2PA's certificate profile asks for: not a CA, ``digitalSignature`` key usage,
    extended key usages emailProtection and documentSigning, key identifiers. The CA's
    private key is never written: nothing else can ever be issued from it.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # Backdated a little so a clock slightly behind still accepts a fresh certificate.
    not_before = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    organization = x509.NameAttribute(NameOID.ORGANIZATION_NAME, common_name)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name} root CA"), organization]
    )
    ca_cert = _certificate(
        subject=ca_name,
        key=ca_key,
        issuer=ca_name,
        issuer_key=ca_key,
        not_before=not_before,
        days=3650,
        extensions=[
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (_key_usage(key_cert_sign=True, crl_sign=True), True),
        ],
    )

    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer_cert = _certificate(
        subject=x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name} signer"), organization]
        ),
        key=signer_key,
        issuer=ca_name,
        issuer_key=ca_key,
        not_before=not_before,
        days=5 * 365,
        extensions=[
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (_key_usage(digital_signature=True), True),
            (
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, _DOCUMENT_SIGNING]),
                False,
            ),
            (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False),
        ],
    )

    pem = serialization.Encoding.PEM
    chain_path = folder / DEV_CHAIN_NAME
    key_path = folder / DEV_KEY_NAME
    _write(folder / DEV_CA_CERT_NAME, ca_cert.public_bytes(pem), mode=0o644)
    _write(chain_path, signer_cert.public_bytes(pem) + ca_cert.public_bytes(pem), mode=0o644)
    _write(
        key_path,
        signer_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        mode=0o600,
    )
    return chain_path, key_path


def _key_usage(
    *, digital_signature: bool = False, key_cert_sign: bool = False, crl_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _write(path: Path, content: bytes, *, mode: int) -> None:
    # Create with the final mode so a private key is never readable by others, even briefly.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
    os.chmod(path, mode)  # an existing file keeps its old mode through os.open


def _certificate(
    *,
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    not_before: dt.datetime,
    days: int,
    extensions: list[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    """A certificate for ``key`` signed by ``issuer_key``, with its subject key identifier
    and ``extensions`` (each with whether it is critical)."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + dt.timedelta(hours=1, days=days))
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    builder = builder.add_extension(
        x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
    )
    return builder.sign(issuer_key, hashes.SHA256())
