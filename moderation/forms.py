"""The members' forms: a report, an appeal, the transparency log's filters.

They parse and show what a member typed; the services (``moderation.reports``,
``moderation.services``) decide and refuse, and their refusals are shown on these forms
(``config.errors.form_add_domain_error``).
"""

from __future__ import annotations

from django import forms

from moderation.models import (
    APPEAL_TEXT_MAX_LENGTH,
    REPORT_TEXT_MAX_LENGTH,
    ModerationAction,
    Report,
    Rule,
)
from moderation.reports import rules_active


class RuleChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.title


class ReportForm(forms.Form):
    category = forms.ChoiceField(
        label="What is wrong",
        choices=Report.Category.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose what is wrong."},
    )
    rule = RuleChoiceField(
        label="The rule it breaks",
        queryset=rules_active(),
        empty_label="Choose a rule…",
        error_messages={
            "required": "Choose the rule it breaks.",
            "invalid_choice": "No such rule: choose one of the site's rules.",
        },
    )
    text = forms.CharField(
        label="What moderators should know",
        required=False,
        max_length=REPORT_TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=f"Optional, up to {REPORT_TEXT_MAX_LENGTH} characters. Only moderators read it.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rule"].queryset = rules_active()  # read per request: rules change


class AppealForm(forms.Form):
    text = forms.CharField(
        label="Why the decision should be reconsidered",
        max_length=APPEAL_TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=(
            f"Up to {APPEAL_TEXT_MAX_LENGTH} characters. You can appeal each decision once; "
            "a moderator answers with a reply you will see here and in your notifications."
        ),
        error_messages={"required": "Say why the decision should be reconsidered."},
    )


class LogFilterForm(forms.Form):
    """The transparency log's filters (``?kind=&rule=``): a value that is not one of
    the choices is a field error, never ignored."""

    kind = forms.ChoiceField(
        label="Action",
        required=False,
        choices=[("", "Any action"), *ModerationAction.Kind.choices],
    )
    rule = RuleChoiceField(
        label="Rule",
        required=False,
        # Retired rules too: the log keeps citing what was decided under them.
        queryset=Rule.objects.all(),
        empty_label="Any rule",
        error_messages={"invalid_choice": "No such rule."},
    )
