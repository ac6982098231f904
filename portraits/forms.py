from __future__ import annotations

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from portraits import credentials
from portraits.models import (
    DESCRIPTION_MAX_LENGTH,
    TAG_MAX_LENGTH,
    TAGS_MAX_PER_PORTRAIT,
    TITLE_MAX_LENGTH,
    Portrait,
)


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
    rating = forms.ChoiceField(
        choices=Portrait.Rating.choices,
        widget=forms.RadioSelect,
        required=False,  # left out: left as it is
        help_text="Mature: only members who are 18 or older and chose to see mature content "
        "see it, in lists and by its link; nobody else sees anything of it.",
    )
    tags = forms.CharField(
        required=False,
        # Room for TAGS_MAX_PER_PORTRAIT long tags and their separators; the service
        # (``community.tags_parse``) says what is wrong with the tags themselves.
        max_length=(TAG_MAX_LENGTH + 2) * TAGS_MAX_PER_PORTRAIT,
        help_text=f"Comma or space separated, up to {TAGS_MAX_PER_PORTRAIT}; join the words "
        "of one tag with hyphens (oil-painting). Stored in lower case.",
    )

    def __init__(self, *args, rating_locked: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if rating_locked:
            # Still a field (the service refuses a change, with its reason): said up front.
            self.fields["rating"].help_text = "Moderators set this rating: only they can change it."

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("rating"):
            cleaned.pop("rating", None)
        return cleaned


class CredentialsVerifyForm(forms.Form):
    file = forms.FileField(
        help_text=f"A PNG, JPEG or WebP image, up to {filesizeformat(settings.UPLOAD_MAX_BYTES)}.",
        validators=[credentials.validate_readable_image],
    )
