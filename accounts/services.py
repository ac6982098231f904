"""Writes for accounts: registration, profile and avatar, personal API tokens.

Pages, the API, the admin and allauth's sign-up form all call these functions,
so one set of rules decides what a valid username, e-mail address, password,
profile or avatar is. Every function validates everything before it writes
anything: a refusal (``DomainError`` with field errors) leaves the database and
the storage as they were.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any, NamedTuple

from allauth.account import app_settings as allauth_settings
from allauth.account.adapter import get_adapter
from allauth.account.app_settings import LoginMethod
from allauth.account.internal.flows.login import derive_login_method
from allauth.account.models import EmailAddress
from allauth.core import context as allauth_context
from allauth.core.internal.ratelimit import parse_rates
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from PIL import Image, ImageOps

from accounts.connections import revocation_publish
from accounts.models import BIO_MAX_LENGTH, DISPLAY_NAME_MAX_LENGTH, ApiToken, User
from accounts.suspension import (
    is_suspended,
    suspension_expired_settle,
    suspension_refusal,
)
from config.errors import DomainError, NotFound, QuotaExceeded
from config.pagecache import member_pages_invalidate, public_pages_invalidate
from config.text import UnsafeText, text_clean

logger = logging.getLogger(__name__)

AVATAR_SIZE = 256
# Decoders we let near user bytes: the formats browsers upload, nothing exotic.
AVATAR_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
API_TOKEN_NAME_MAX_LENGTH = ApiToken._meta.get_field("name").max_length
API_TOKEN_HINT_LENGTH = 10


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
"""Marks an argument of ``user_profile_update`` that was not given (leave as is)."""


class InvalidCredentials(DomainError):
    """No active member has that login and password."""

    code = "invalid_credentials"


class EmailUnverified(DomainError):
    """The member must confirm an e-mail address before this is allowed."""

    code = "email_unverified"


class TooManyLoginAttempts(QuotaExceeded):
    """The failed-login limit refuses every attempt, the right password too, for now."""

    code = "too_many_login_attempts"


def _invalid(field_errors: dict[str, list[str]]) -> DomainError:
    if len(field_errors) == 1:
        (messages,) = field_errors.values()
        message = messages[0]
    else:
        message = "Please correct the errors below."
    return DomainError(message, field_errors=field_errors)


# --- Field rules (shared by forms, serializers and the services) ------------------


def _clean_username(username: str, errors: dict[str, list[str]]) -> str:
    username = User.normalize_username((username or "").strip())
    if not username:
        errors["username"] = ["Choose a username."]
        return username
    try:
        # allauth's rules, so the API and the sign-up page agree: the model's
        # validators, ACCOUNT_USERNAME_BLACKLIST and a case-insensitive uniqueness check.
        get_adapter().clean_username(username)
    except ValidationError as exc:
        errors["username"] = list(exc.messages)
    return username


def _email_taken(email: str, *, exclude_user: User | None = None) -> bool:
    users = User.objects.filter(email__iexact=email)
    addresses = EmailAddress.objects.filter(email__iexact=email)
    if exclude_user is not None:
        users = users.exclude(pk=exclude_user.pk)
        addresses = addresses.exclude(user_id=exclude_user.pk)
    return users.exists() or addresses.exists()


def _clean_email(
    email: str, errors: dict[str, list[str]], *, user: User | None = None, taken_ok: bool = False
) -> str:
    # Stored lower-cased, as allauth stores its addresses.
    email = (email or "").strip().lower()
    if not email:
        errors["email"] = ["Enter an e-mail address."]
        return email
    try:
        validate_email(email)
    except ValidationError as exc:
        errors["email"] = list(exc.messages)
        return email
    if not taken_ok and _email_taken(email, exclude_user=user):
        errors["email"] = ["A user with that e-mail address already exists."]
    return email


def email_validate(*, email: str, user: User | None = None) -> str:
    """The address as it would be stored for ``user`` (None: a new member), or ``DomainError``.

    For forms that check early (the admin's); ``user_profile_update`` applies the same rules.
    """
    errors: dict[str, list[str]] = {}
    email = _clean_email(email, errors, user=user)
    if errors:
        raise _invalid(errors)
    return email


def _clean_display_name(display_name: str, errors: dict[str, list[str]]) -> str:
    try:
        display_name = text_clean(display_name)  # NFC, no controls or bidi overrides
    except UnsafeText as exc:
        errors["display_name"] = [str(exc)]
        return ""
    if len(display_name) > DISPLAY_NAME_MAX_LENGTH:
        errors["display_name"] = [
            f"Keep the display name to {DISPLAY_NAME_MAX_LENGTH} characters or fewer."
        ]
    return display_name


def display_name_validate(display_name: str) -> str:
    """The display name as it would be stored, or ``DomainError`` (for forms that check early)."""
    errors: dict[str, list[str]] = {}
    display_name = _clean_display_name(display_name, errors)
    if errors:
        raise _invalid(errors)
    return display_name


def _clean_bio(bio: str, errors: dict[str, list[str]]) -> str:
    # Browsers submit textareas with CRLF; count (and store) what is displayed.
    try:
        bio = text_clean(bio, multiline=True)
    except UnsafeText as exc:
        errors["bio"] = [str(exc)]
        return ""
    if len(bio) > BIO_MAX_LENGTH:
        errors["bio"] = [
            f"Keep the bio to {BIO_MAX_LENGTH} characters or fewer (it has {len(bio)})."
        ]
    return bio


def _clean_password(password: str, user: User, errors: dict[str, list[str]]) -> None:
    try:
        get_adapter().clean_password(password or "", user=user)
    except ValidationError as exc:
        errors["password"] = list(exc.messages)


# --- Avatars -----------------------------------------------------------------------


def avatar_render(upload) -> bytes:
    """Check an uploaded file is a reasonable image and re-encode it as a 256×256 WebP.

    Only these re-encoded pixels are ever stored and served, never the uploaded
    bytes. Refuses (``DomainError`` on the ``avatar`` field) anything that is not a
    PNG/JPEG/WebP/GIF image, a file over ``AVATAR_MAX_BYTES`` and an image of more
    than ``AVATAR_MAX_PIXELS`` pixels (a decompression bomb), checked from the
    header before any pixel is decoded.
    """
    max_bytes = settings.AVATAR_MAX_BYTES
    too_big = f"The avatar must be {filesizeformat(max_bytes)} or smaller."
    if (getattr(upload, "size", None) or 0) > max_bytes:
        raise _invalid({"avatar": [too_big]})
    upload.seek(0)
    data = upload.read(max_bytes + 1)  # never trust the declared size alone
    if len(data) > max_bytes:
        raise _invalid({"avatar": [too_big]})

    not_an_image = "Upload a PNG, JPEG, WebP or GIF image; this file is not one."
    max_pixels = settings.AVATAR_MAX_PIXELS
    bomb = f"The image is too large: at most {max_pixels:,} pixels (e.g. 4096×4096)."
    try:
        # Pillow warns (and only raises at twice Image.MAX_IMAGE_PIXELS) for huge
        # images; treat its warning as a refusal too. The explicit pixel check below
        # is the real guard: catch_warnings is process-wide and not thread-safe.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=AVATAR_FORMATS) as probe:
                width, height = probe.size
                if width * height > max_pixels:
                    raise _invalid({"avatar": [bomb]})
                probe.verify()  # structure and checksums, without decoding pixels
            with Image.open(io.BytesIO(data), formats=AVATAR_FORMATS) as image:
                image.seek(0)  # the first frame of an animation
                # JPEG only: decode at a reduced scale (≥ 2× the target), far less memory.
                image.draft("RGB", (AVATAR_SIZE * 2, AVATAR_SIZE * 2))
                image = ImageOps.exif_transpose(image)
                has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
                image = image.convert("RGBA" if has_alpha else "RGB")
                fitted = ImageOps.fit(image, (AVATAR_SIZE, AVATAR_SIZE), Image.Resampling.LANCZOS)
                out = io.BytesIO()
                fitted.save(out, "WEBP", quality=85, method=4)
    except DomainError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _invalid({"avatar": [bomb]}) from None
    except Exception:
        # Pillow reports broken or hostile files with many exception types
        # (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error…).
        raise _invalid({"avatar": [not_an_image]}) from None
    return out.getvalue()


def _delete_file_later(name: str) -> None:
    """Delete a stored file once the transaction that stopped using it commits."""

    def delete() -> None:
        try:
            default_storage.delete(name)
        except Exception:  # a leftover file is harmless; a failed request is not
            logger.exception("Could not delete the replaced avatar %s", name)

    transaction.on_commit(delete)


def _http_request(request) -> HttpRequest:
    """The Django request behind ``request``: allauth wants it, and a DRF Request wraps it."""
    return getattr(request, "_request", request)


def _mail_after_commit(request, send: Callable[[HttpRequest], None], *, what: str) -> None:
    """Send one of allauth's mails once the transaction commits; nothing without ``request``
    (allauth builds its links from one). The committed account must never turn into an error
    page over a mail server's hiccup: a failure is logged, and the member can ask again."""
    if request is None:
        return
    http_request = _http_request(request)

    def deliver() -> None:
        try:
            # allauth's mail code reads the request from its context variable (set by
            # its middleware, but gone once a callback runs after the response).
            with allauth_context.request_context(http_request):
                send(http_request)
        except Exception:
            logger.exception("Could not send %s", what)

    transaction.on_commit(deliver)


# --- E-mail verification ----------------------------------------------------------------


def email_verification_required() -> bool:
    """Whether members must confirm an address before they may log in (or get API tokens)."""
    return allauth_settings.EMAIL_VERIFICATION == allauth_settings.EmailVerificationMethod.MANDATORY


def _send_verification_later(address: EmailAddress, request: HttpRequest | None, *, signup: bool):
    """Mail a confirmation link after commit, when the site verifies addresses at all.

    The link is built from ``request`` (allauth needs one without the sites
    framework); without one (a management command) nothing is sent, and the
    member can ask for a new link on the e-mail settings page.
    """
    if allauth_settings.EMAIL_VERIFICATION == allauth_settings.EmailVerificationMethod.NONE:
        return
    _mail_after_commit(
        request,
        lambda http_request: address.send_confirmation(http_request, signup=signup),
        what=f"the verification e-mail to {address.email}",
    )


def user_has_verified_email(*, user: User) -> bool:
    return EmailAddress.objects.filter(user=user, verified=True).exists()


# --- Registration and profile ---------------------------------------------------------------


def _user_build(
    *, username: str, email: str, password: str, display_name: str, email_taken_ok: bool = False
) -> User:
    """Validate a registration and return the unsaved member, password hashed.

    ``email_taken_ok``: leave a taken address for the caller to handle quietly.
    """
    errors: dict[str, list[str]] = {}
    username = _clean_username(username, errors)
    email = _clean_email(email, errors, taken_ok=email_taken_ok)
    display_name = _clean_display_name(display_name, errors)
    user = User(username=username, email=email, display_name=display_name)
    _clean_password(password, user, errors)
    if errors:
        raise _invalid(errors)
    # Hashing is deliberately slow: done before any write transaction starts, so
    # it never holds SQLite's write lock.
    user.set_password(password)
    return user


def _user_insert(user: User) -> EmailAddress:
    try:
        with transaction.atomic():
            user.save()
            return EmailAddress.objects.create(
                user=user, email=user.email, primary=True, verified=False
            )
    except IntegrityError:
        # Someone took the name or address between the check and the insert.
        raise _invalid(
            {"username": ["That username or e-mail address was just taken; try another."]}
        ) from None


def user_register(
    *,
    username: str,
    email: str,
    password: str,
    display_name: str = "",
    request: HttpRequest | None = None,
) -> User:
    """Create an active member with a primary (unverified) e-mail address.

    Runs the rules of the sign-up page: allauth's username rules, a
    case-insensitively unique username and e-mail address, and Django's password
    validators. With ``request``, a confirmation e-mail is sent after commit
    (unless ``ACCOUNT_EMAIL_VERIFICATION`` is ``none``).
    """
    user = _user_build(username=username, email=email, password=password, display_name=display_name)
    address = _user_insert(user)
    _send_verification_later(address, request, signup=True)
    return user


class Registration(NamedTuple):
    """What registering through the API gave: the member and their first token and key,
    or all None when the address must be confirmed first (see ``user_register_with_token``)."""

    user: User | None
    token: ApiToken | None
    key: str | None


def sign_up_hides_taken_addresses() -> bool:
    """Whether sign-up answers a taken e-mail address exactly like a free one.

    allauth's enumeration prevention (``ACCOUNT_PREVENT_ENUMERATION``, on by default),
    which only mandatory verification makes possible: nobody gets in without the
    mailbox, so the mailbox's owner can be told instead of the visitor.
    """
    return email_verification_required() and bool(allauth_settings.PREVENT_ENUMERATION)


def _send_account_exists_later(email: str, request: HttpRequest | None) -> None:
    """Tell an address's owner, after commit, that someone tried to sign up with it.

    allauth's own mail ("account already exists", with links to log in and to reset
    the password), as its sign-up page sends. Needs ``request`` for the links.
    """
    _mail_after_commit(
        request,
        lambda http_request: get_adapter(http_request).send_account_already_exists_mail(email),
        what="the account-exists e-mail",
    )


def user_register_with_token(
    *,
    username: str,
    email: str,
    password: str,
    display_name: str = "",
    token_name: str,
    request: HttpRequest | None = None,
) -> Registration:
    """Register (see ``user_register``) and create a first API token, in one transaction.

    When e-mail verification is mandatory there is no token (the address must be
    confirmed first, as for a log-in on the website), and, as on the sign-up page,
    the result does not tell whether the address was free: ``Registration(None, None,
    None)`` either way. A free address gets a new member and a confirmation link; a
    taken one gets nothing created, and its owner a mail saying they have an account.
    Field errors (a taken username, which is public anyway; a weak password) are
    raised in both cases alike.
    """
    quiet = sign_up_hides_taken_addresses()
    user = _user_build(
        username=username,
        email=email,
        password=password,
        display_name=display_name,
        email_taken_ok=quiet,
    )
    if quiet:
        if _email_taken(user.email):
            _send_account_exists_later(user.email, request)
        else:
            address = _user_insert(user)
            _send_verification_later(address, request, signup=True)
        return Registration(None, None, None)
    token = key = None
    with transaction.atomic():
        address = _user_insert(user)
        if not email_verification_required():
            token, key = api_token_create(user=user, name=token_name)
    _send_verification_later(address, request, signup=True)
    return Registration(user if key else None, token, key)


def user_profile_update(
    *,
    user: User,
    display_name: str = UNSET,
    bio: str = UNSET,
    email: str = UNSET,
    avatar: Any = UNSET,
    request: HttpRequest | None = None,
) -> User:
    """Change what a member shows about themselves; arguments left out stay as they are.

    ``avatar`` is an uploaded file (validated and re-encoded by ``avatar_render``)
    or ``None`` to remove it; the file it replaces is deleted after commit. A new
    ``email`` becomes the primary address, unverified (a confirmation is mailed
    when ``request`` is given); the old addresses stay on the e-mail page.
    """
    errors: dict[str, list[str]] = {}
    changes: dict[str, Any] = {}
    if display_name is not UNSET:
        changes["display_name"] = _clean_display_name(display_name, errors)
    if bio is not UNSET:
        changes["bio"] = _clean_bio(bio, errors)
    new_email = None
    if email is not UNSET:
        cleaned = (email or "").strip().lower()
        if cleaned != user.email.lower():
            new_email = _clean_email(email, errors, user=user)
            changes["email"] = new_email
    avatar_bytes = None
    if avatar is not UNSET and avatar is not None:
        try:
            avatar_bytes = avatar_render(avatar)
        except DomainError as exc:
            errors.update(exc.field_errors)
    if errors:
        raise _invalid(errors)

    new_avatar_name = None
    if avatar_bytes is not None:
        # The name comes from the model's upload_to (a fresh uuid), never from the upload.
        new_avatar_name = default_storage.save(
            user.avatar.field.generate_filename(user, "avatar.webp"), ContentFile(avatar_bytes)
        )
    try:
        with transaction.atomic():
            # Locks the row, so two concurrent uploads cannot both delete one old file
            # and leave the other's file orphaned.
            old_avatar_name = (
                User.objects.select_for_update()
                .filter(pk=user.pk)
                .values_list("avatar", flat=True)
                .get()
            )
            if avatar is not UNSET:
                changes["avatar"] = new_avatar_name or ""
            for field, value in changes.items():
                setattr(user, field, value)
            if changes:
                user.save(update_fields=list(changes))
            if new_email is not None:
                address = _email_make_primary(user=user, email=new_email)
            if avatar is not UNSET and old_avatar_name:
                _delete_file_later(old_avatar_name)
    except Exception as exc:
        if new_avatar_name:
            default_storage.delete(new_avatar_name)
        if isinstance(exc, IntegrityError):
            # Another member took the address between the check and the update.
            user.refresh_from_db()
            raise _invalid({"email": ["A user with that e-mail address already exists."]}) from None
        raise
    if new_email is not None and not address.verified:
        _send_verification_later(address, request, signup=False)
    return user


def _email_make_primary(*, user: User, email: str) -> EmailAddress:
    EmailAddress.objects.filter(user=user, primary=True).exclude(email__iexact=email).update(
        primary=False
    )
    address = EmailAddress.objects.filter(user=user, email__iexact=email).first()
    if address is None:
        return EmailAddress.objects.create(user=user, email=email, primary=True, verified=False)
    if not address.primary:
        address.primary = True
        address.save(update_fields=["primary"])
    return address


def user_mature_set(*, user: User, shows_mature: bool, age_confirmed: bool = False) -> User:
    """Turn mature portraits on or off for ``user`` (``portraits.selectors`` reads it).

    Turning them on needs ``age_confirmed``: the member's own statement that they are 18
    or older, made each time they turn them on and recorded with its time in
    ``mature_confirmed_at``. Turning them off needs nothing and keeps when they last
    confirmed. Asking for what already is changes nothing.
    """
    if not isinstance(shows_mature, bool) or not isinstance(age_confirmed, bool):
        raise _invalid({"shows_mature": ["Choose true or false."]})
    showing = user.shows_mature and user.mature_confirmed_at is not None
    if shows_mature == showing:
        return user
    if shows_mature and not age_confirmed:
        raise _invalid(
            {"age_confirmed": ["Confirm that you are 18 or older to see mature content."]}
        )
    user.shows_mature = shows_mature
    fields = ["shows_mature"]
    if shows_mature:
        user.mature_confirmed_at = timezone.now()
        fields.append("mature_confirmed_at")
    user.save(update_fields=fields)
    return user


def user_avatar_remove(*, user: User) -> User:
    """Remove the avatar; its file is deleted after commit."""
    return user_profile_update(user=user, avatar=None)


def user_delete(*, user: User) -> None:
    """Delete an account for good (tokens and addresses go with it); its avatar file after commit.

    Portraits keep their author's name (``Portrait.author_name``); prefer
    deactivating (``user_deactivate``) to keep everything but the access. Open
    connections are closed after commit.
    """
    with transaction.atomic():
        user_id, avatar_name = user.pk, user.avatar.name
        user.delete()
        if avatar_name:
            _delete_file_later(avatar_name)
        credentials_revoked(user_id=user_id)
        transaction.on_commit(public_pages_invalidate)  # their profile, their names


# --- Personal API tokens ------------------------------------------------------------------------


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a named token; returns it and its key, which is never retrievable again."""
    name = " ".join((name or "").split())
    if not name:
        raise _invalid({"name": ["Give the token a name, e.g. the script or machine using it."]})
    if len(name) > API_TOKEN_NAME_MAX_LENGTH:
        raise _invalid(
            {"name": [f"Keep the name to {API_TOKEN_NAME_MAX_LENGTH} characters or fewer."]}
        )
    key = ApiToken.new_key()
    token = ApiToken.objects.create(
        user=user, name=name, key_hash=ApiToken.hash_key(key), hint=key[:API_TOKEN_HINT_LENGTH]
    )
    return token, key


def _login_credentials(login: str, password: str) -> dict[str, str]:
    """What allauth's log-in form passes to ``authenticate`` for what a member typed.

    The same keys as ``LoginForm.user_credentials``, because allauth keys its per-account
    failed-login counter on them (the e-mail address, else the username, lower-cased):
    the web log-in and the token endpoint then spend one budget.
    """
    method = derive_login_method(login)
    credentials = {method.value: login, "password": password}
    if LoginMethod.USERNAME in allauth_settings.LOGIN_METHODS:
        credentials[LoginMethod.USERNAME.value] = login
    return credentials


def _login_lockout_seconds() -> int:
    """How long until a locked-out log-in is certainly accepted again: the longest window
    of allauth's ``login_failed`` rates (every failure counted now has expired by then)."""
    rates = parse_rates(allauth_settings.RATE_LIMITS.get("login_failed"))
    return max((int(rate.duration) for rate in rates), default=60)


def api_token_obtain(
    *, login: str, password: str, name: str, request: HttpRequest
) -> tuple[ApiToken, str]:
    """Exchange a username (or e-mail address) and password for a new named token.

    Authenticates through allauth, as the web log-in does, so both share its rate limit
    ``login_failed`` (by default 5 failures per account in 5 minutes, 10 a minute per
    client address): past it every attempt, the right password too, is refused with
    ``TooManyLoginAttempts`` until the window has passed. Refuses inactive members
    and, when ``ACCOUNT_EMAIL_VERIFICATION`` is ``mandatory``, members without a verified
    address (the web log-in refuses them too), and suspended members (``AccountSuspended``,
    naming the page where they read why and can appeal).
    """
    http_request = _http_request(request)
    adapter = get_adapter(http_request)
    login = (login or "").strip()
    try:
        user = adapter.authenticate(http_request, **_login_credentials(login, password or ""))
    except ValidationError as exc:
        if exc.code != "too_many_login_attempts":
            raise
        raise TooManyLoginAttempts(
            adapter.error_messages["too_many_login_attempts"],
            retry_after=_login_lockout_seconds(),
        ) from None
    # allauth hands back an inactive member whose password was right (its pages then show
    # "account inactive"); a token is refused all the same, with the usual answer.
    if user is None or not user.is_active:
        raise InvalidCredentials(
            "Unable to log in with that username or e-mail address and password."
        )
    if email_verification_required() and not user_has_verified_email(user=user):
        raise EmailUnverified(
            "Confirm your e-mail address first: log in on the website to get a new link."
        )
    # After the password, so only the account's owner learns it is suspended (403).
    if is_suspended(user):
        raise suspension_refusal(user, request=http_request)
    suspension_expired_settle(user)
    return api_token_create(user=user, name=name)


def api_token_revoke(*, user: User, token_id: int) -> ApiToken:
    """Delete one of ``user``'s tokens and return it: it stops working at once, and the
    WebSocket connections opened with it are closed (4401) after commit.

    Another member's token is reported as missing, never as forbidden.
    """
    token = ApiToken.objects.filter(user=user, pk=token_id).first()
    if token is None:
        raise NotFound("No such API token.")
    token.delete()
    credentials_revoked(user_id=user.pk, token_id=token_id)
    return token


# --- Ending access ----------------------------------------------------------------------------


def credentials_revoked(
    *, user_id: int, token_id: int | None = None, session_key: str | None = None
) -> None:
    """Once the transaction commits, close the member's open WebSocket connections (code
    4401) that use API token ``token_id``, or session ``session_key``, or, neither given,
    all of them.

    Call it wherever a credential stops being valid; HTTP requests need nothing, as they
    check their credential every time. Connections that miss the message (a channel layer
    outage) find out when they next re-read their credential (see accounts.connections).
    """
    transaction.on_commit(
        partial(revocation_publish, user_id=user_id, token_id=token_id, session_key=session_key)
    )
    transaction.on_commit(partial(member_pages_invalidate, user_id))  # pages kept for them


def user_password_changed(*, user: User) -> int:
    """A member's password was changed or reset, wherever that happened: revoke every API
    token they have and close all their connections. Returns how many tokens went.

    Their other sessions end by themselves (Django stores a hash of the password in
    each session); the one that made the change is carried over by Django, on a new key.
    Called after every ``set_password`` + ``save`` of an existing member (see
    accounts.apps) and when the admin turns password log-in off.
    """
    with transaction.atomic():
        revoked, _ = ApiToken.objects.filter(user=user).delete()
        credentials_revoked(user_id=user.pk)
    return revoked


def user_deactivate(*, user: User) -> User:
    """Take a member's access away (``is_active=False``), keeping their account and work.

    Log-ins, sessions and API tokens are refused from the next request on (every
    authentication backend refuses inactive members); open connections close at once.
    Tokens are kept, so reactivating the member gives them back.
    """
    with transaction.atomic():
        user.is_active = False
        user.save(update_fields=["is_active"])
        credentials_revoked(user_id=user.pk)
        transaction.on_commit(public_pages_invalidate)  # their profile is gone from view
    return user


# --- API tokens in use --------------------------------------------------------------

# Writing last_used_at on every request would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _api_token_find(key: str) -> ApiToken | None:
    """The token ``key`` opens, its active owner loaded as ``token.user``; or None."""
    if not key or not key.startswith(ApiToken.PREFIX):
        return None
    token = ApiToken.objects.select_related("user").filter(key_hash=ApiToken.hash_key(key)).first()
    if token is None or not token.user.is_active:
        return None
    return token


def _api_token_used(token: ApiToken) -> ApiToken:
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def api_token_for_key(key: str) -> ApiToken | None:
    """The token ``key`` opens, its active owner loaded as ``token.user``; or None (also
    while the owner is suspended).

    Used by the WebSocket middleware (which remembers which token a connection used, so
    that revoking it closes the connection).
    """
    token = _api_token_find(key)
    if token is None or is_suspended(token.user):
        return None
    suspension_expired_settle(token.user)
    return _api_token_used(token)


def user_for_token_key(key: str, *, request: HttpRequest | None = None):
    """The active user owning ``key``, or None; ``AccountSuspended`` (saying until when,
    and the address where they read why, absolute with ``request``) while the owner is
    suspended. Used by the API."""
    token = _api_token_find(key)
    if token is None:
        return None
    if is_suspended(token.user):
        raise suspension_refusal(token.user, request=request)
    suspension_expired_settle(token.user)
    return _api_token_used(token).user
