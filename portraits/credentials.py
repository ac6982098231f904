"""Content Credentials (C2PA) for portraits: sign a PNG, read and verify its manifest.

Every portrait PNG is signed as the very last write: the manifest hashes the file's
bytes (all chunks but its own ``caBX``), so any later re-encode invalidates or strips it.

What a signed portrait says:

- an original: ``c2pa.created`` with digital source type *trainedAlgorithmicMedia*;
- a remix: its signed parent as a ``parentOf`` ingredient, ``c2pa.opened`` pointing at
  that ingredient, then ``c2pa.edited`` with *trainedAlgorithmicMedia* (the pixels were
  repainted by the model), so a viewer walks the chain back through every remix;
- a remix whose parent was deleted before it was painted: the same actions, with a
  ``parentOf`` ingredient that names the parent but carries no file and no manifest
  (never ``c2pa.created``: it is not an original);
- a ``cawg.metadata`` assertion with title, author and the portrait's page.

Privacy: a remix's file carries its parent's whole manifest store, and with it every
ancestor's manifest, for as long as the file exists. So a manifest holds nothing a user
wrote that could later become private: callers pass a neutral title
(:func:`manifest_title`), never the portrait's title (which defaults to its prompt),
and no thumbnail of the parent is embedded.

Trust: our development CA (``portraits.dev_ca``) is in no public trust list, so a reader
reports such a manifest as intact (``valid``) but not ``trusted``, unless the CA is passed
as a trust anchor (``file_report`` passes this site's own). Where the signing key and
certificates come from is ``portraits.signing``. c2pa is imported inside the functions: it loads a native library (~70 ms) that
most processes importing this module never use.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.core.exceptions import ValidationError

from portraits import imagefiles
from portraits.signing import site_trust_anchor

if TYPE_CHECKING:
    import c2pa
    from django.core.files.uploadedfile import UploadedFile

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
PNG_MIME = "image/png"

# Failures that only say "no trust list vouches for this signer": the manifest is intact.
_TRUST_CODES = frozenset({"signingCredential.untrusted", "timeStamp.untrusted"})
# Links the c2pa.opened action to the parent ingredient inside one manifest definition.
_PARENT_INGREDIENT_LABEL = "parent"
_ACTIONS_LABELS = ("c2pa.actions.v2", "c2pa.actions")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_MANIFEST_CHUNK = b"caBX"  # where C2PA embeds its manifest store in a PNG

# Signing: no thumbnails. Not for the claim (the asset *is* the image, and a noisy 512² PNG
# thumbnail weighs hundreds of KB and ~60 ms), and above all not for the ingredient: with
# thumbnails on, c2pa embeds a picture of the parent in every remix's file, which would
# show a parent that is (or later becomes) private to anyone holding a public remix.
# Reading: never reach out to the network.
_SIGN_SETTINGS: Mapping[str, Any] = {"builder": {"thumbnail": {"enabled": False}}}
_READ_SETTINGS: Mapping[str, Any] = {
    "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}
}


def manifest_title(public_id: str | None) -> str:
    """The title a portrait's manifest (and its remixes' ingredient) carries.

    Neutral and stable on purpose: a portrait's own title defaults to its prompt, can
    be edited later, and its portrait can become private or be deleted, while every
    remix's file keeps a copy of this manifest for good. ``None``: a parent the remix's
    file may not name (private to someone else, or deleted, when the remix was painted).
    """
    return f"Likeness portrait {public_id}" if public_id else "Likeness portrait (not named)"


@dataclass(frozen=True)
class ParentIngredient:
    """A remix's parent, as its manifest names it.

    ``data`` is the parent's signed PNG (its manifest travels inside the ingredient, so
    the chain stays verifiable), or ``None`` when the parent was deleted, or it or an
    ancestor was private to someone else, when the remix was painted (its file names its
    own ancestors): then the ingredient says so and carries nothing.
    """

    title: str
    data: bytes | None


def sign_png(
    data: bytes,
    *,
    title: str,
    author: str,
    claim_generator: str,
    portrait_url: str,
    parent: ParentIngredient | None = None,
    key_pem: bytes,
    cert_chain_pem: bytes,
    tsa_url: str | None = None,
) -> bytes:
    """Return ``data`` (a PNG) with an embedded, signed C2PA manifest.

    ``claim_generator`` is ``"name/version"`` (``"Likeness/0.1.0"``) or just a name.
    ``title`` and ``parent.title`` end up in every descendant's file: pass
    :func:`manifest_title`, nothing a user wrote. ``parent`` is set for a remix (see
    :class:`ParentIngredient`).
    ``cert_chain_pem`` is the signing certificate followed by its intermediates (the root
    may be included or left out); the algorithm follows the key type. ``tsa_url`` adds an
    RFC 3161 timestamp and is the only network access; ``None`` signs offline.

    A signer is single-use in c2pa-python, so one is made per call. Raises
    ``c2pa.C2paError`` if the library refuses the key, chain or asset.
    """
    import c2pa

    builder_definition = _manifest_definition(
        title=title,
        author=author,
        claim_generator=claim_generator,
        portrait_url=portrait_url,
        parent=parent,
    )
    signer_info = c2pa.C2paSignerInfo(
        signing_alg_for_key(key_pem), cert_chain_pem, key_pem, tsa_url
    )
    signed = io.BytesIO()
    with (
        c2pa.Context.from_dict(dict(_SIGN_SETTINGS)) as context,
        c2pa.Builder(builder_definition, context=context) as builder,
        c2pa.Signer.from_info(signer_info) as signer,
    ):
        if parent is not None and parent.data is not None:
            builder.add_ingredient(
                {
                    "title": parent.title,
                    "relationship": "parentOf",
                    "label": _PARENT_INGREDIENT_LABEL,
                },
                PNG_MIME,
                io.BytesIO(parent.data),
            )
        builder.sign(signer, PNG_MIME, io.BytesIO(data), signed)
    return signed.getvalue()


def read_manifest(
    data: bytes, mime: str = PNG_MIME, *, trust_anchors_pem: bytes | None = None
) -> dict[str, Any]:
    """Read and validate the C2PA manifest embedded in ``data``.

    Returns a dict with:

    - ``present``: a manifest store was found;
    - ``valid``: signature, certificate chain and content hashes all check out (the
      library's validation state is ``Valid`` or ``Trusted``);
    - ``trusted``: the signer chains to a trust anchor (the library's built-in list, or
      ``trust_anchors_pem``, e.g. our development CA);
    - ``validation_state``: the library's word (``Invalid``/``Valid``/``Trusted``);
    - ``validation_errors``: failures as ``{"code", "explanation", "url"}``, leaving out
      the "untrusted signer" codes, which ``trusted`` reports;
    - ``active_manifest``: the active manifest as the library reports it;
    - ``title``, ``digital_source_type``, ``author``, ``url``;
    - ``parent``: ``{"title", "relationship", "manifest_label", "description"}`` of the
      ``parentOf`` ingredient, or ``None`` (``manifest_label`` is ``None`` when the
      ingredient carries no manifest, e.g. a parent deleted before the remix);
    - ``signer``: the signing certificate's common name (else its organization) and
      ``signer_organization``.

    Never touches the network.
    """
    import c2pa

    settings: dict[str, Any] = dict(_READ_SETTINGS)
    if trust_anchors_pem:
        # user_anchors adds to the built-in anchors rather than replacing them.
        settings["trust"] = {"user_anchors": trust_anchors_pem.decode("ascii")}
    result = _empty_report()
    try:
        with c2pa.Context.from_dict(settings) as context:
            reader = c2pa.Reader.try_create(mime, io.BytesIO(data), context=context)
            if reader is None:
                return result
            with reader:
                state = reader.get_validation_state()
                validation_results = reader.get_validation_results()
                active = reader.get_active_manifest()
                store_status = _store_validation_status(reader)
    except c2pa.C2paError as error:
        # The library's errors do not say whether a manifest was there at all (a garbled
        # one and a file that is no image both raise), so for a PNG look for its chunk:
        # a manifest that is present but unreadable is as bad as a broken signature.
        present = _png_has_manifest_chunk(data)
        result.update(
            present=present,
            validation_state="Invalid" if present else None,
            validation_errors=[{"code": "manifest.unreadable", "explanation": str(error)}],
        )
        return result

    failures = _failures(validation_results, store_status)
    result.update(
        present=True,
        valid=state in ("Valid", "Trusted"),
        trusted=state == "Trusted",
        validation_state=state,
        validation_errors=[f for f in failures if f.get("code") not in _TRUST_CODES],
        active_manifest=active,
    )
    if active:
        signature = active.get("signature_info") or {}
        metadata = _assertion_data(active, "cawg.metadata") or {}
        creators = metadata.get("dc:creator") or []
        result.update(
            title=active.get("title"),
            digital_source_type=_digital_source_type(active),
            author=creators[0] if isinstance(creators, list) and creators else None,
            url=metadata.get("dc:identifier"),
            parent=_parent_ingredient(active),
            signer=signature.get("common_name") or signature.get("issuer"),
            signer_organization=signature.get("issuer"),
        )
    return result


NOT_AN_IMAGE = "This is not an image we can read."


def is_readable_image(data: bytes) -> bool:
    """Whether ``data`` is a picture at all: Pillow recognises its format and reads its
    header (size, mode). Only the header: a picture whose later bytes were tampered with
    is still one, and verifying its credentials is what tells that it was changed.
    Nothing is decoded, so a huge or hostile upload costs little."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.width > 0 and image.height > 0
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return False


def validate_readable_image(upload: UploadedFile) -> None:
    """The verify form's and API's check of an upload, as a field validator (DRF reads a
    Django ``ValidationError`` too): a file that is no picture has no credentials to find,
    so it is refused with :data:`NOT_AN_IMAGE` rather than reported as "No Content
    Credentials found", which reads as if a picture was checked. The upload is read and
    rewound for whoever reads it next."""
    data = upload.read()
    upload.seek(0)
    if not is_readable_image(data):
        raise ValidationError(NOT_AN_IMAGE, code="not_an_image")


def file_report(data: bytes) -> dict[str, Any]:
    """What a file says about itself: its C2PA manifest, verified against the built-in
    trust list and this site's own CA (:func:`read_manifest`'s report), and, for a PNG,
    its ``parameters`` and provenance text chunks (``png_parameters``, ``png_provenance``).

    Reads only ``data``: whoever may see what it shows is the caller's business
    (``portraits.selectors.portrait_credentials`` for a portrait's own file).
    """
    report = read_manifest(data, trust_anchors_pem=site_trust_anchor())
    try:
        embedded = imagefiles.read_png_metadata(data)
    except (ValueError, OSError):  # not a PNG, or no image at all: no text chunks
        embedded = {"parameters": None, "provenance": None}
    report["png_parameters"] = embedded["parameters"]
    report["png_provenance"] = embedded["provenance"]
    return report


def signing_alg_for_key(key_pem: bytes) -> c2pa.C2paSigningAlg:
    """The C2PA signing algorithm that matches a PEM private key.

    EC P-256/384/521 → ES256/384/512, Ed25519 → Ed25519, RSA → PS256 (C2PA does not
    allow PKCS#1 v1.5 RSA signatures). Raises ``ValueError`` for anything else.
    """
    import c2pa

    key = serialization.load_pem_private_key(key_pem, password=None)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return c2pa.C2paSigningAlg.ED25519
    if isinstance(key, rsa.RSAPrivateKey):
        return c2pa.C2paSigningAlg.PS256
    if isinstance(key, ec.EllipticCurvePrivateKey):
        by_curve = {
            "secp256r1": c2pa.C2paSigningAlg.ES256,
            "secp384r1": c2pa.C2paSigningAlg.ES384,
            "secp521r1": c2pa.C2paSigningAlg.ES512,
        }
        if key.curve.name in by_curve:
            return by_curve[key.curve.name]
    raise ValueError(f"no C2PA signing algorithm for a {type(key).__name__} key")


def _manifest_definition(
    *,
    title: str,
    author: str,
    claim_generator: str,
    portrait_url: str,
    parent: ParentIngredient | None,
) -> dict[str, Any]:
    name, _, version = claim_generator.partition("/")
    generator: dict[str, str] = {"name": name}
    if version:
        generator["version"] = version
    ingredients: list[dict[str, Any]] = []
    if parent is not None:
        # The spec wants c2pa.opened first, tied to the parentOf ingredient; the repaint
        # itself is an edit whose pixels still come from a trained model.
        description = "Remixed by a diffusion model from the parent portrait."
        if parent.data is None:
            # Still a remix (its recipe came from the parent), so never c2pa.created, and
            # c2pa.edited alone is refused (the first action must be created or opened):
            # an ingredient that only names the parent keeps the record honest.
            description = (
                "Remixed by a diffusion model from the parent portrait, whose file is not "
                "included: it was deleted, or not to be named, when this one was painted."
            )
            ingredients.append(
                {
                    "title": parent.title,
                    "format": PNG_MIME,
                    "relationship": "parentOf",
                    "label": _PARENT_INGREDIENT_LABEL,
                    "description": "Deleted or not to be named when this portrait was painted.",
                }
            )
        actions: list[dict[str, Any]] = [
            {
                "action": "c2pa.opened",
                "parameters": {"ingredientIds": [_PARENT_INGREDIENT_LABEL]},
            },
            {
                "action": "c2pa.edited",
                "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                "softwareAgent": generator,
                "description": description,
            },
        ]
    else:
        actions = [
            {
                "action": "c2pa.created",
                "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                "softwareAgent": generator,
                "description": "Generated by a diffusion model from a text prompt.",
            }
        ]
    # CAWG metadata rather than stds.schema-org.CreativeWork, which C2PA 2.x dropped and
    # c2pa-rs marks deprecated (still written, only to read 1.x manifests). Without a
    # CAWG identity assertion this is the platform's statement, not the author's.
    metadata: dict[str, Any] = {
        "@context": {"dc": "http://purl.org/dc/elements/1.1/"},
        "dc:title": title,
        "dc:identifier": portrait_url,
    }
    if author:
        metadata["dc:creator"] = [author]
    definition: dict[str, Any] = {
        "claim_generator_info": [generator],
        "title": title,
        "assertions": [
            {"label": "c2pa.actions.v2", "data": {"actions": actions}},
            {"label": "cawg.metadata", "kind": "Json", "data": metadata},
        ],
    }
    if ingredients:
        definition["ingredients"] = ingredients
    return definition


def _empty_report() -> dict[str, Any]:
    return {
        "present": False,
        "valid": False,
        "trusted": False,
        "validation_state": None,
        "validation_errors": [],
        "active_manifest": None,
        "title": None,
        "digital_source_type": None,
        "author": None,
        "url": None,
        "parent": None,
        "signer": None,
        "signer_organization": None,
    }


def _store_validation_status(reader: c2pa.Reader) -> list[dict[str, Any]]:
    store = json.loads(reader.json())
    return list(store.get("validation_status") or [])


def _failures(
    validation_results: Mapping[str, Any] | None, store_status: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    if not validation_results:
        # Older stores only carry the flat list, which holds failures alone.
        return [_status_entry(entry) for entry in store_status]
    entries = list((validation_results.get("activeManifest") or {}).get("failure") or [])
    for delta in validation_results.get("ingredientDeltas") or []:
        entries.extend((delta.get("validationDeltas") or {}).get("failure") or [])
    return [_status_entry(entry) for entry in entries]


def _status_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "code": entry.get("code"),
        "explanation": entry.get("explanation"),
        "url": entry.get("url"),
    }


def _assertion_data(manifest: Mapping[str, Any], label: str) -> dict[str, Any] | None:
    for assertion in manifest.get("assertions") or []:
        if assertion.get("label") == label and isinstance(assertion.get("data"), dict):
            return assertion["data"]
    return None


def _digital_source_type(manifest: Mapping[str, Any]) -> str | None:
    for label in _ACTIONS_LABELS:
        for action in (_assertion_data(manifest, label) or {}).get("actions") or []:
            if action.get("digitalSourceType"):
                return action["digitalSourceType"]
    return None


def _parent_ingredient(manifest: Mapping[str, Any]) -> dict[str, Any] | None:
    for ingredient in manifest.get("ingredients") or []:
        if ingredient.get("relationship") == "parentOf":
            return {
                "title": ingredient.get("title"),
                "relationship": "parentOf",
                "manifest_label": ingredient.get("active_manifest"),
                "description": ingredient.get("description"),
            }
    return None


def _png_has_manifest_chunk(data: bytes) -> bool:
    if not data.startswith(_PNG_SIGNATURE):
        return False
    offset = len(_PNG_SIGNATURE)
    while offset + 8 <= len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        if data[offset + 4 : offset + 8] == _PNG_MANIFEST_CHUNK:
            return True
        offset += 12 + length  # length, type, data, CRC
    return False
