"""Moderation (issue 10): rules, cases (the one queue), reports, the audit trail, appeals
and the prompt gate's blocklist.

The app sits at the right end (``config ← accounts ← portraits ← generation ← gallery ←
moderation``): it writes the fields the left apps keep for it (``Portrait.hidden_*``,
``Portrait.rating_locked``, ``User.suspended_*``) through its services, and nobody imports
it.

``ModerationAction`` is the audit trail and is append-only: the ORM refuses to change or
delete a row (``save`` of an existing row, ``delete``, and its queryset's ``update`` and
``delete``), and on PostgreSQL a trigger refuses any ``UPDATE`` or ``DELETE`` whatever
issues it (migration ``0002_audit_trail_append_only``).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models
from django.db.models import Q

from moderation import blocklist

REPORT_TEXT_MAX_LENGTH = 2000
APPEAL_TEXT_MAX_LENGTH = 2000
RULE_TITLE_MAX_LENGTH = 200
BLOCKED_PATTERN_MAX_LENGTH = 200


class Rule(models.Model):
    """A site rule, cited by every report, strike and hide; shown on ``/rules/``."""

    title = models.CharField(max_length=RULE_TITLE_MAX_LENGTH)
    text = models.TextField(blank=True)
    order = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.title


class Case(models.Model):
    """A row of the moderators' queue: everything open about one target.

    Reports about a portrait or a member collapse into one open ``report`` case per
    target; the prompt gate opens a ``review`` case for a held portrait; an appeal opens
    an ``appeal`` case (its target is the appealed action's target, and its ``appeal``).
    ``notes`` are internal and never shown to members.
    """

    class Kind(models.TextChoices):
        REPORT = "report", "Report"
        APPEAL = "appeal", "Appeal"
        REVIEW = "review", "Review"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    target_portrait = models.ForeignKey(
        "portraits.Portrait",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="moderation_cases",
    )
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="moderation_cases",
    )
    appeal = models.ForeignKey(
        "moderation.Appeal", on_delete=models.CASCADE, null=True, blank=True, related_name="cases"
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_cases",
    )
    notes = models.TextField(blank=True, help_text="Internal: never shown to members.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["report", "appeal", "review"]), name="moderation_case_kind"
            ),
            models.CheckConstraint(
                condition=Q(status="open", closed_at__isnull=True)
                | Q(status="closed", closed_at__isnull=False),
                name="moderation_case_closed_at",
            ),
            # A report or review is about exactly one target; an appeal names its appeal.
            models.CheckConstraint(
                condition=(
                    Q(kind__in=["report", "review"], appeal__isnull=True)
                    & (
                        Q(target_portrait__isnull=False, target_user__isnull=True)
                        | Q(target_portrait__isnull=True, target_user__isnull=False)
                    )
                )
                | Q(kind="appeal", appeal__isnull=False),
                name="moderation_case_target",
            ),
            # One open report/review case per target; one case per appeal.
            models.UniqueConstraint(
                fields=["kind", "target_portrait"],
                condition=Q(status="open", target_portrait__isnull=False) & ~Q(kind="appeal"),
                name="moderation_one_open_case_per_portrait",
            ),
            models.UniqueConstraint(
                fields=["kind", "target_user"],
                condition=Q(status="open", target_user__isnull=False) & ~Q(kind="appeal"),
                name="moderation_one_open_case_per_user",
            ),
            models.UniqueConstraint(
                fields=["appeal"],
                condition=Q(appeal__isnull=False),
                name="moderation_one_case_per_appeal",
            ),
        ]
        indexes = [
            models.Index(
                fields=["created_at", "id"],
                condition=Q(status="open"),
                name="moderation_open_cases_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} case {self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


class Report(models.Model):
    """One member's report of a portrait or a member. A repeat while it is open updates
    it (collapse); ``outcome`` is filled when its case is decided."""

    class Category(models.TextChoices):
        SPAM = "spam", "Spam"
        HARASSMENT = "harassment", "Harassment"
        LIKENESS = "likeness", "Non-consensual likeness of a real person"
        MINORS = "minors", "Sexual content involving minors"
        ILLEGAL = "illegal", "Illegal content"
        OTHER = "other", "Other"

    class Outcome(models.TextChoices):
        PENDING = "", "Pending"
        ACTION_TAKEN = "action taken", "Action taken"
        NO_ACTION = "no action", "No action"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reports_made"
    )
    target_portrait = models.ForeignKey(
        "portraits.Portrait", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="reports_received",
    )
    category = models.CharField(max_length=12, choices=Category.choices)
    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="reports")
    text = models.TextField(max_length=REPORT_TEXT_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    outcome = models.CharField(
        max_length=12, choices=Outcome.choices, blank=True, default=Outcome.PENDING
    )
    outcome_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    category__in=["spam", "harassment", "likeness", "minors", "illegal", "other"]
                ),
                name="moderation_report_category",
            ),
            models.CheckConstraint(
                condition=Q(target_portrait__isnull=False, target_user__isnull=True)
                | Q(target_portrait__isnull=True, target_user__isnull=False),
                name="moderation_report_target",
            ),
            models.CheckConstraint(
                condition=Q(outcome="", outcome_at__isnull=True)
                | Q(outcome__in=["action taken", "no action"], outcome_at__isnull=False),
                name="moderation_report_outcome",
            ),
            # One open report per reporter and target: a repeat updates it.
            models.UniqueConstraint(
                fields=["reporter", "target_portrait"],
                condition=Q(outcome="", target_portrait__isnull=False),
                name="moderation_one_open_report_per_portrait",
            ),
            models.UniqueConstraint(
                fields=["reporter", "target_user"],
                condition=Q(outcome="", target_user__isnull=False),
                name="moderation_one_open_report_per_user",
            ),
        ]
        indexes = [
            # The rate limit counts a reporter's recent reports.
            models.Index(fields=["reporter", "-created_at"], name="moderation_reporter_idx"),
        ]

    def __str__(self) -> str:
        return f"report {self.pk} by {self.reporter_id}"


class AppendOnlyViolation(IntegrityError):
    """An attempt to change or delete an audit-trail row (``ModerationAction``).

    An ``IntegrityError``, like the one PostgreSQL's trigger raises for a raw
    ``UPDATE``/``DELETE`` (SQLSTATE 23001, restrict_violation), so both read the same.
    """


class ModerationActionQuerySet(models.QuerySet):
    """Refuses changes in bulk (``update``, ``bulk_update``, ``delete``): the audit trail
    only grows. Raised before any SQL runs, so the caller's transaction stays usable."""

    def update(self, **kwargs):
        raise AppendOnlyViolation("The moderation audit trail is append-only: no update.")

    def delete(self):
        raise AppendOnlyViolation("The moderation audit trail is append-only: no delete.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyViolation("The moderation audit trail is append-only: no update.")

    update.queryset_only = True
    delete.queryset_only = True

    def _raw_delete(self, using):
        raise AppendOnlyViolation("The moderation audit trail is append-only: no delete.")


class ModerationAction(models.Model):
    """One moderation decision on one target: the append-only audit trail.

    Who (``moderator``; NULL for the system, e.g. a suspension that ran out), what
    (``kind``), on what (``target_portrait`` / ``target_user``: no database constraint and
    no cascade, so a deleted target leaves its history), under which rule and why, the
    exact fields it changed (``before`` → ``after``) and when. ``reverses`` points at the
    action an appeal's reversal undid.

    Append-only: ``save()`` inserts only, ``delete()`` refuses, and so do the queryset's
    ``update()`` and ``delete()``; on PostgreSQL the trigger of migration 0002 refuses
    any ``UPDATE`` or ``DELETE`` (raw SQL included). The public transparency log shows
    the date, kind and rule title, never the moderator.
    """

    class Kind(models.TextChoices):
        HIDE = "hide", "Hidden"
        RESTORE = "restore", "Restored"
        MATURE = "mature", "Marked mature"
        GENERAL = "general", "Marked general"
        DISMISS = "dismiss", "Reports dismissed"
        WARN = "warn", "Warned"
        SUSPEND = "suspend", "Suspended"
        LIFT = "lift", "Suspension lifted"
        FLAG = "flag", "Flagged for review"
        CLEAR_REVIEW = "clear_review", "Cleared after review"
        APPEAL_UPHELD = "appeal_upheld", "Appeal upheld"
        APPEAL_REVERSED = "appeal_reversed", "Appeal reversed"

    # What a member may appeal.
    APPEALABLE_KINDS = (Kind.HIDE, Kind.WARN, Kind.SUSPEND)

    kind = models.CharField(max_length=16, choices=Kind.choices)
    moderator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="moderation_actions",
    )
    target_portrait = models.ForeignKey(
        "portraits.Portrait",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    rule = models.ForeignKey(
        Rule, on_delete=models.PROTECT, null=True, blank=True, related_name="actions"
    )
    reason = models.TextField(blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    case = models.ForeignKey(
        Case,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="actions",
    )
    reverses = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ModerationActionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "hide",
                        "restore",
                        "mature",
                        "general",
                        "dismiss",
                        "warn",
                        "suspend",
                        "lift",
                        "flag",
                        "clear_review",
                        "appeal_upheld",
                        "appeal_reversed",
                    ]
                ),
                name="moderation_action_kind",
            ),
        ]
        indexes = [
            # The transparency log, newest first; a member's history (strikes).
            models.Index(fields=["-created_at", "-id"], name="moderation_log_idx"),
            models.Index(fields=["target_user", "kind"], name="moderation_action_user_idx"),
            models.Index(fields=["target_portrait"], name="moderation_action_portrait_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.pk})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyViolation("The moderation audit trail is append-only: no change.")
        kwargs["force_insert"] = True
        kwargs.pop("force_update", None)
        kwargs.pop("update_fields", None)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyViolation("The moderation audit trail is append-only: no delete.")


class Appeal(models.Model):
    """The affected member's one appeal of a hide, a strike or a suspension."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        UPHELD = "upheld", "Upheld"
        REVERSED = "reversed", "Reversed"

    action = models.OneToOneField(ModerationAction, on_delete=models.PROTECT, related_name="appeal")
    appellant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="appeals"
    )
    text = models.TextField(max_length=APPEAL_TEXT_MAX_LENGTH)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    reply = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="open", decided_at__isnull=True)
                | Q(status__in=["upheld", "reversed"], decided_at__isnull=False),
                name="moderation_appeal_decided_at",
            ),
        ]

    def __str__(self) -> str:
        return f"appeal {self.pk} of action {self.action_id}"


class BlockedTerm(models.Model):
    """A blocklist entry of the prompt gate (``moderation.blocklist``): a whole word, a
    phrase or a regular expression; ``block`` refuses the submission, ``review`` holds its
    portraits for a moderator. The counters are what moderators see per entry."""

    class Kind(models.TextChoices):
        WORD = "word", "Whole word"
        PHRASE = "phrase", "Phrase"
        REGEX = "regex", "Regular expression"

    class Action(models.TextChoices):
        BLOCK = "block", "Block (refuse at submission)"
        REVIEW = "review", "Review (hold for a moderator)"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.WORD)
    pattern = models.CharField(max_length=BLOCKED_PATTERN_MAX_LENGTH)
    action = models.CharField(max_length=10, choices=Action.choices, default=Action.BLOCK)
    note = models.TextField(blank=True, help_text="Internal: never shown to members.")
    is_active = models.BooleanField(default=True)
    refused_count = models.PositiveIntegerField(default=0, editable=False)
    matched_count = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "pattern"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["word", "phrase", "regex"]), name="moderation_term_kind"
            ),
            models.CheckConstraint(
                condition=Q(action__in=["block", "review"]), name="moderation_term_action"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.pattern}"

    def clean(self) -> None:
        """Refuse a word or phrase that could never match, and a regular expression that
        is invalid, too long, or could take exponential time (``blocklist.pattern_problems``:
        the admin's form and anything else that validates before saving)."""
        super().clean()
        problems = blocklist.pattern_problems(kind=self.kind, pattern=self.pattern)
        if problems:
            raise ValidationError({"pattern": problems})
