from __future__ import annotations

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from portraits.models import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH, Portrait


class PortraitEditForm(forms.Form):
    """The owner's controls. Validation that matters lives in ``portrait_update``."""

    title = forms.CharField(max_length=TITLE_MAX_LENGTH)
    description = forms.CharField(
        max_length=DESCRIPTION_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    visibility = forms.ChoiceField(
        choices=Portrait.Visibility.choices,
        widget=forms.RadioSelect,
        help_text="Unlisted: anyone with the link, never in the gallery. Remixes of an "
        "unlisted portrait show the link in their lineage.",
    )


class CredentialsVerifyForm(forms.Form):
    file = forms.FileField(
        help_text=f"A PNG, JPEG or WebP image, up to {filesizeformat(settings.UPLOAD_MAX_BYTES)}."
    )
