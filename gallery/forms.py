"""Forms of the gallery's pages. They validate; the services write."""

from __future__ import annotations

from django import forms

from gallery.models import NotificationSettings


class NotificationSettingsForm(forms.ModelForm):
    """Which kinds of notification a member wants (``gallery.notify`` saves it)."""

    class Meta:
        model = NotificationSettings
        fields = ["remix", "like", "follow", "publish"]
        help_texts = {
            "remix": "Anywhere up the chain: you are credited on every remix of a remix.",
            "publish": "Only the first time a portrait is made public.",
        }
