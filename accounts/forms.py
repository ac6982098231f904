"""Forms for the account pages. They parse input; the services decide what is valid.

Length limits are shown to the browser as ``maxlength`` attributes but enforced
by the services, so a page and the API refuse exactly the same input.
"""

from __future__ import annotations

from allauth.account import forms as allauth_forms
from django import forms

from accounts.models import BIO_MAX_LENGTH, DISPLAY_NAME_MAX_LENGTH
from accounts.services import (
    API_TOKEN_NAME_MAX_LENGTH,
    AVATAR_FORMATS,
    UNSET,
    display_name_validate,
    user_profile_update,
)
from config.errors import DomainError

AVATAR_ACCEPT = ",".join(f"image/{fmt.lower()}" for fmt in AVATAR_FORMATS)


def _display_name_field() -> forms.CharField:
    return forms.CharField(
        label="Display name",
        required=False,
        help_text="Shown on your profile and next to your portraits. Optional.",
        widget=forms.TextInput(attrs={"maxlength": DISPLAY_NAME_MAX_LENGTH}),
    )


class SignupForm(allauth_forms.SignupForm):
    """allauth's sign-up form plus a display name.

    Enabled with ``ACCOUNT_FORMS = {"signup": "accounts.forms.SignupForm"}``.
    """

    field_order = ["username", "display_name", "email", "password1", "password2"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["display_name"] = _display_name_field()
        allauth_forms.set_form_field_order(self, self.field_order)

    def clean_display_name(self) -> str:
        try:
            return display_name_validate(self.cleaned_data.get("display_name", ""))
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None

    def custom_signup(self, request, user) -> None:
        super().custom_signup(request, user)
        if self.cleaned_data.get("display_name"):
            user_profile_update(user=user, display_name=self.cleaned_data["display_name"])


class ProfileForm(forms.Form):
    display_name = _display_name_field()
    bio = forms.CharField(
        label="Bio",
        required=False,
        strip=False,
        help_text=f"A few words about you, up to {BIO_MAX_LENGTH} characters.",
        widget=forms.Textarea(attrs={"rows": 5, "maxlength": BIO_MAX_LENGTH}),
    )
    avatar = forms.FileField(
        label="New avatar",
        required=False,
        help_text="PNG, JPEG, WebP or GIF; it is cropped to a square.",
        widget=forms.FileInput(attrs={"accept": AVATAR_ACCEPT}),
    )
    remove_avatar = forms.BooleanField(label="Remove my avatar", required=False)

    def profile_changes(self) -> dict:
        """Keyword arguments for ``user_profile_update``."""
        data = self.cleaned_data
        if data.get("remove_avatar") and not data.get("avatar"):
            avatar = None
        else:
            avatar = data.get("avatar") or UNSET
        return {"display_name": data["display_name"], "bio": data["bio"], "avatar": avatar}


class MatureContentForm(forms.Form):
    """Settings → Mature content: ``accounts.services.user_mature_set`` decides."""

    shows_mature = forms.BooleanField(
        label="Show me portraits rated mature",
        required=False,
        help_text="In the gallery, search, tags, profiles, feeds, remix trees and by link.",
    )
    age_confirmed = forms.BooleanField(
        label="I am 18 or older",
        required=False,
        help_text="Needed to turn mature content on; we record when you confirmed it.",
    )


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label="Token name",
        help_text="What will use it, e.g. “render-farm script” or “laptop”.",
        widget=forms.TextInput(attrs={"maxlength": API_TOKEN_NAME_MAX_LENGTH}),
    )
