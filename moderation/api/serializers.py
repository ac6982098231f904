"""The moderation API's shapes: requests parsed strictly, responses as documented.

Nothing outside ``moderation.api`` imports these. What a member reads of a decision never
names the moderator.
"""

from __future__ import annotations

from django.db.models import TextChoices
from django.urls import reverse
from rest_framework import serializers

from config.api.fields import RefusesUnknownFieldsMixin, StrictCharField, StrictIntegerField
from config.api.filters import EnumFilter, QuerySerializer
from moderation.models import (
    APPEAL_TEXT_MAX_LENGTH,
    REPORT_TEXT_MAX_LENGTH,
    Appeal,
    ModerationAction,
    Report,
    Rule,
)

# The largest id a database integer column holds.
MAX_ID = 2**63 - 1


class RuleSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    text = serializers.CharField(help_text="The rule in full (plain text, paragraphs).")
    order = serializers.IntegerField(help_text="Rules are listed in this order.")
    url = serializers.SerializerMethodField(help_text="The rule on the site's rules page.")

    def get_url(self, rule: Rule) -> str:
        path = f"{reverse('moderation:rules')}#rule-{rule.pk}"
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class RuleRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()


# --- Reports ---------------------------------------------------------------------------


class ReportCreateSerializer(RefusesUnknownFieldsMixin, serializers.Serializer):
    """Report one portrait (`portrait`) or one member (`user`), never both."""

    portrait = StrictCharField(
        required=False, max_length=64, help_text="The public id of a portrait you can see."
    )
    user = StrictCharField(required=False, max_length=150, help_text="A member's username.")
    category = serializers.ChoiceField(
        choices=Report.Category.choices,
        help_text="What is wrong: spam, harassment, likeness (a real person's likeness "
        "without consent), minors (sexual content involving minors), illegal, other.",
    )
    rule = StrictIntegerField(
        min_value=1, max_value=MAX_ID, help_text="The id of the rule it breaks (GET /rules/)."
    )
    text = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=REPORT_TEXT_MAX_LENGTH,
        help_text="What moderators should know. Only moderators read it.",
    )

    def validate(self, data):
        if ("portrait" in data) == ("user" in data):
            raise serializers.ValidationError("Name one portrait or one member to report.")
        return data


class ReportStatus(TextChoices):
    RECEIVED = "received", "received"
    DECIDED = "decided", "decided"


class ReportSerializer(serializers.Serializer):
    """One of your reports: received, then decided."""

    id = serializers.IntegerField()
    portrait = serializers.CharField(
        allow_null=True, help_text="The reported portrait's public id (null for a member)."
    )
    user = serializers.CharField(
        allow_null=True, help_text="The reported member's username (null for a portrait)."
    )
    category = serializers.ChoiceField(choices=Report.Category.choices)
    rule = RuleRefSerializer()
    text = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(
        choices=ReportStatus.choices,
        help_text="`received` until moderators decide; then `decided`, with its `outcome`.",
    )
    outcome = serializers.ChoiceField(
        choices=[("action taken", "action taken"), ("no action", "no action")],
        allow_null=True,
        help_text="What came of it (never who decided, nor why: that is the member's).",
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField(
        help_text="Later than `created_at` when you reported the same target again."
    )
    decided_at = serializers.DateTimeField(allow_null=True)
    url = serializers.CharField(help_text="Its page on the site.")


def report_data(report: Report, request) -> dict:
    return {
        "id": report.pk,
        "portrait": report.target_portrait.public_id if report.target_portrait_id else None,
        "user": report.target_user.username if report.target_user_id else None,
        "category": report.category,
        "rule": {"id": report.rule.pk, "title": report.rule.title},
        "text": report.text,
        "status": "decided" if report.outcome else "received",
        "outcome": report.outcome or None,
        "created_at": report.created_at,
        "updated_at": report.updated_at,
        "decided_at": report.outcome_at,
        "url": request.build_absolute_uri(
            reverse("moderation:report-detail", kwargs={"pk": report.pk})
        ),
    }


# --- Appeals ---------------------------------------------------------------------------


class DecisionPortraitSerializer(serializers.Serializer):
    available = serializers.BooleanField(help_text="Whether you can still open it.")
    id = serializers.CharField(allow_null=True)
    title = serializers.CharField(allow_null=True)
    url = serializers.CharField(allow_null=True)


class DecisionSerializer(serializers.Serializer):
    """A moderators' decision about you: a hidden portrait, a warning or a suspension."""

    id = serializers.IntegerField(help_text="Appeal it by this id (POST /appeals/).")
    kind = serializers.ChoiceField(choices=ModerationAction.Kind.choices)
    rule = RuleRefSerializer(allow_null=True)
    reason = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    portrait = DecisionPortraitSerializer(
        allow_null=True, help_text="The portrait it hid; null for a warning or suspension."
    )
    suspended_until = serializers.DateTimeField(
        allow_null=True, help_text="A suspension's end; null: indefinitely, or not one."
    )


class AppealCreateSerializer(RefusesUnknownFieldsMixin, serializers.Serializer):
    action = StrictIntegerField(
        min_value=1,
        max_value=MAX_ID,
        help_text="The decision's id (GET /appeals/appealable/, or a moderation notice).",
    )
    text = StrictCharField(
        max_length=APPEAL_TEXT_MAX_LENGTH,
        help_text="Why it should be reconsidered. Each decision is appealed once.",
    )


class AppealSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    decision = DecisionSerializer()
    text = serializers.CharField()
    status = serializers.ChoiceField(
        choices=Appeal.Status.choices,
        help_text="`open` until a moderator answers: `upheld` (the decision stands) or "
        "`reversed` (it was undone, exactly).",
    )
    reply = serializers.CharField(allow_null=True, help_text="The moderators' answer.")
    created_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)


# --- The transparency log --------------------------------------------------------------


class LogQuerySerializer(QuerySerializer):
    kind = EnumFilter(ModerationAction.Kind.choices, help_text="Only actions of this kind.")
    rule = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="Only actions citing this rule (its id).",
    )

    def validate_rule(self, value: int) -> Rule:
        rule = Rule.objects.filter(pk=value).first()
        if rule is None:
            raise serializers.ValidationError("No such rule.")
        return rule


class LogTargetSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=[("portrait", "portrait"), ("member", "member")])
    available = serializers.BooleanField(
        help_text="Whether you may see it now; if not, no name and no link. Always false "
        "for `dismiss`, `flag` and `clear_review`: nobody is told what was reported, "
        "flagged or held for review."
    )
    label = serializers.CharField(
        help_text='Its title or name while available; "a portrait" or "a member" otherwise.'
    )
    url = serializers.CharField(allow_null=True)


class LogEntrySerializer(serializers.Serializer):
    """One moderation action as anyone may read it: never who took it, nor why."""

    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    kind = serializers.ChoiceField(choices=ModerationAction.Kind.choices)
    kind_label = serializers.CharField(help_text='In words: "Hidden", "Warned"…')
    rule = RuleRefSerializer(allow_null=True)
    target = LogTargetSerializer(allow_null=True)
