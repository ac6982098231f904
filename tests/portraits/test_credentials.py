"""Content Credentials: a development CA, signed originals and remixes, tampering."""

from __future__ import annotations

import io
import random
import stat
import struct
import zlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from cryptography.x509.oid import ExtendedKeyUsageOID
from PIL import Image

from portraits.credentials import (
    TRAINED_ALGORITHMIC_MEDIA,
    ParentIngredient,
    manifest_title,
    read_manifest,
    sign_png,
    signing_alg_for_key,
)
from portraits.dev_ca import DEV_CA_CERT_NAME, create_dev_ca
from portraits.imagefiles import encode_png, read_png_metadata


@pytest.fixture(scope="module")
def dev_ca(tmp_path_factory):
    folder = tmp_path_factory.mktemp("c2pa")
    chain_path, key_path = create_dev_ca(folder)
    return {
        "folder": folder,
        "chain_path": chain_path,
        "key_path": key_path,
        "keys": {"key_pem": key_path.read_bytes(), "cert_chain_pem": chain_path.read_bytes()},
        "ca_pem": (folder / DEV_CA_CERT_NAME).read_bytes(),
    }


def generated_png(seed: int, *, parameters: str = "a portrait", provenance=None) -> bytes:
    pixels = random.Random(seed).randbytes(64 * 64 * 3)
    image = Image.frombytes("RGB", (64, 64), pixels)
    return encode_png(image, parameters=parameters, provenance=provenance or {"seed": seed})


def sign_original(dev_ca, *, title: str = "The sailor", seed: int = 1) -> bytes:
    return sign_png(
        generated_png(seed),
        title=title,
        author="alice",
        claim_generator="Likeness/0.1.0",
        portrait_url="https://likeness.example/p/aaa/",
        **dev_ca["keys"],
    )


def flip_a_pixel_byte(png: bytes) -> bytes:
    """Change one byte of image data, keeping the PNG well-formed (CRC recomputed)."""
    data = bytearray(png)
    offset = 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        if data[offset + 4 : offset + 8] == b"IDAT":
            data[offset + 8 + length // 2] ^= 0xFF
            crc = zlib.crc32(bytes(data[offset + 4 : offset + 8 + length]))
            data[offset + 8 + length : offset + 12 + length] = struct.pack(">I", crc)
            return bytes(data)
        offset += 12 + length
    raise AssertionError("no IDAT chunk")


def _actions(report) -> list[dict]:
    return next(
        a["data"]["actions"]
        for a in report["active_manifest"]["assertions"]
        if a["label"] == "c2pa.actions.v2"
    )


def test_dev_ca_writes_a_chain_and_a_private_key(dev_ca):
    assert stat.S_IMODE(dev_ca["key_path"].stat().st_mode) == 0o600
    leaf, ca = x509.load_pem_x509_certificates(dev_ca["chain_path"].read_bytes())

    assert leaf.issuer == ca.subject
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    ekus = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in ekus
    assert ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in ekus
    assert x509.load_pem_x509_certificate(dev_ca["ca_pem"]) == ca


def test_original_reads_back_valid_ai_generated_and_without_parent(dev_ca):
    report = read_manifest(sign_original(dev_ca))

    assert report["present"] is True
    assert report["valid"] is True
    assert report["validation_errors"] == []
    assert report["digital_source_type"] == TRAINED_ALGORITHMIC_MEDIA
    assert report["parent"] is None
    assert report["title"] == "The sailor"
    assert report["author"] == "alice"
    assert report["url"] == "https://likeness.example/p/aaa/"
    assert report["signer"] == "Likeness development signer"
    assert [a["action"] for a in _actions(report)] == ["c2pa.created"]


def test_dev_ca_is_valid_but_untrusted_unless_passed_as_anchor(dev_ca):
    signed = sign_original(dev_ca)

    untrusted = read_manifest(signed)
    trusted = read_manifest(signed, trust_anchors_pem=dev_ca["ca_pem"])

    assert (untrusted["valid"], untrusted["trusted"]) == (True, False)
    assert untrusted["validation_state"] == "Valid"
    assert (trusted["valid"], trusted["trusted"]) == (True, True)
    assert trusted["validation_state"] == "Trusted"


def _sign_remix(dev_ca, parent: ParentIngredient) -> bytes:
    return sign_png(
        generated_png(2),
        title=manifest_title("bbb"),
        author="bob",
        claim_generator="Likeness/0.1.0",
        portrait_url="https://likeness.example/p/bbb/",
        parent=parent,
        **dev_ca["keys"],
    )


def test_remix_names_its_signed_parent_as_parent_of_ingredient(dev_ca):
    parent = sign_original(dev_ca, title=manifest_title("aaa"), seed=1)

    report = read_manifest(_sign_remix(dev_ca, ParentIngredient(manifest_title("aaa"), parent)))

    assert report["valid"] is True
    assert report["validation_errors"] == []
    assert report["title"] == "Likeness portrait bbb"
    assert report["parent"]["title"] == "Likeness portrait aaa"
    assert report["parent"]["relationship"] == "parentOf"
    assert report["digital_source_type"] == TRAINED_ALGORITHMIC_MEDIA
    actions = _actions(report)
    assert [a["action"] for a in actions] == ["c2pa.opened", "c2pa.edited"]
    assert actions[0]["parameters"]["ingredients"], "c2pa.opened must point at the parent"
    # The parent's own manifest travels inside the remix: the chain stays verifiable.
    assert report["parent"]["manifest_label"] == read_manifest(parent)["active_manifest"]["label"]


def test_a_remix_carries_its_parents_manifest_but_no_picture_of_it(dev_ca):
    import json

    import c2pa

    parent = sign_original(dev_ca, title="Words the parent's author wrote", seed=1)

    remix = _sign_remix(dev_ca, ParentIngredient(manifest_title("aaa"), parent))

    # Whatever the parent's manifest says is in the remix's bytes for good: hence the
    # neutral titles the service passes (see test_lineage for the whole chain).
    assert b"Words the parent's author wrote" in remix
    with c2pa.Reader("image/png", io.BytesIO(remix)) as reader:
        store = json.loads(reader.json())
    (ingredient,) = store["manifests"][store["active_manifest"]]["ingredients"]
    assert "thumbnail" not in ingredient  # no picture of a parent that may turn private
    assert all("thumbnail" not in manifest for manifest in store["manifests"].values())


def test_remix_of_a_parent_without_its_file_is_no_original(dev_ca):
    report = read_manifest(
        _sign_remix(dev_ca, ParentIngredient(manifest_title(None), None)),
        trust_anchors_pem=dev_ca["ca_pem"],
    )

    assert (report["valid"], report["trusted"]) == (True, True), report["validation_errors"]
    assert report["digital_source_type"] == TRAINED_ALGORITHMIC_MEDIA
    actions = _actions(report)
    assert [a["action"] for a in actions] == ["c2pa.opened", "c2pa.edited"]
    assert actions[0]["parameters"]["ingredients"]
    assert "deleted, or not to be named" in actions[1]["description"]
    assert report["parent"] == {
        "title": "Likeness portrait (not named)",
        "relationship": "parentOf",
        "manifest_label": None,
        "description": "Deleted or not to be named when this portrait was painted.",
    }


def test_tampering_with_pixels_after_signing_fails_validation(dev_ca):
    tampered = flip_a_pixel_byte(sign_original(dev_ca))

    report = read_manifest(tampered)

    assert report["present"] is True
    assert report["valid"] is False
    assert "assertion.dataHash.mismatch" in [e["code"] for e in report["validation_errors"]]


def test_text_chunks_survive_signing(dev_ca):
    png = generated_png(3, parameters="a lighthouse\nSteps: 20", provenance={"author": "Zoë"})

    signed = sign_png(
        png,
        title="Lighthouse",
        author="alice",
        claim_generator="Likeness",
        portrait_url="https://likeness.example/p/ccc/",
        **dev_ca["keys"],
    )

    assert read_png_metadata(signed) == {
        "parameters": "a lighthouse\nSteps: 20",
        "provenance": {"author": "Zoë"},
    }


def test_resaving_a_signed_png_strips_its_credentials(dev_ca):
    with Image.open(io.BytesIO(sign_original(dev_ca))) as image:
        resaved = io.BytesIO()
        image.save(resaved, format="PNG")

    assert read_manifest(resaved.getvalue())["present"] is False


def test_unsigned_png_has_no_manifest():
    report = read_manifest(generated_png(4))

    assert report["present"] is False
    assert report["valid"] is False
    assert report["validation_errors"] == []


def test_bytes_that_are_no_image_report_no_valid_manifest():
    report = read_manifest(b"definitely not a PNG")

    assert report["present"] is False
    assert report["valid"] is False


def test_signing_algorithm_follows_the_key_type():
    import c2pa

    def pem(key) -> bytes:
        return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())

    assert signing_alg_for_key(pem(ec.generate_private_key(ec.SECP256R1()))) == (
        c2pa.C2paSigningAlg.ES256
    )
    assert signing_alg_for_key(pem(ec.generate_private_key(ec.SECP384R1()))) == (
        c2pa.C2paSigningAlg.ES384
    )
    assert signing_alg_for_key(pem(ed25519.Ed25519PrivateKey.generate())) == (
        c2pa.C2paSigningAlg.ED25519
    )
    with pytest.raises(ValueError, match="no C2PA signing algorithm"):
        signing_alg_for_key(pem(ec.generate_private_key(ec.SECP256K1())))


def test_dev_certs_command_writes_a_chain_and_a_private_key_and_keeps_them(tmp_path, settings):
    from django.core.management import CommandError, call_command

    folder = tmp_path / "c2pa"
    settings.C2PA_SIGNING_KEY = folder / "signer.key"
    settings.C2PA_SIGNING_CERTS = folder / "chain.pem"
    out = io.StringIO()

    call_command("c2pa_dev_certs", "--dir", str(folder), stdout=out)

    key_path, chain_path = folder / "signer.key", folder / "chain.pem"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    leaf, ca = x509.load_pem_x509_certificates(chain_path.read_bytes())
    assert leaf.issuer == ca.subject
    assert x509.load_pem_x509_certificate((folder / DEV_CA_CERT_NAME).read_bytes()) == ca
    assert str(key_path) in out.getvalue() and "note:" not in out.getvalue()
    report = read_manifest(
        sign_png(
            generated_png(5),
            title=manifest_title("ddd"),
            author="alice",
            claim_generator="Likeness",
            portrait_url="https://likeness.example/p/ddd/",
            key_pem=key_path.read_bytes(),
            cert_chain_pem=chain_path.read_bytes(),
        ),
        trust_anchors_pem=(folder / DEV_CA_CERT_NAME).read_bytes(),
    )
    assert report["trusted"], report["validation_errors"]

    # Earlier portraits stay verifiable only with the CA that signed them: no silent overwrite.
    key = key_path.read_bytes()
    with pytest.raises(CommandError, match="Refusing to overwrite.*--force"):
        call_command("c2pa_dev_certs", "--dir", str(folder), stdout=io.StringIO())
    assert key_path.read_bytes() == key

    key_path.chmod(0o644)  # someone loosened it: a replaced key is private again
    call_command("c2pa_dev_certs", "--dir", str(folder), "--force", stdout=io.StringIO())
    assert key_path.read_bytes() != key
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600


def test_dev_certs_command_warns_when_settings_sign_with_other_files(tmp_path, settings):
    from django.core.management import call_command

    settings.C2PA_SIGNING_KEY = tmp_path / "elsewhere" / "signer.key"
    out = io.StringIO()

    call_command("c2pa_dev_certs", "--dir", str(tmp_path / "c2pa"), stdout=out)

    assert "settings.C2PA_SIGNING_KEY" in out.getvalue()
