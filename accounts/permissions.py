"""Who is a moderator. One definition, used by selectors, consumers and the admin."""

from __future__ import annotations

MODERATORS_GROUP = "Moderators"
MODERATE_PERMISSION = "portraits.moderate_portrait"
# What the Moderators group is granted (``app_label.codename``). Kept in sync after
# every ``migrate`` by ``accounts.apps.moderators_group_sync``; later issues add here.
# Issue 10: the queue (cases, reports, appeals: seen and worked through moderation's
# services), the site rules and the prompt gate's blocklist (managed), the audit trail
# (read only: nobody changes it) and every portrait (read, to judge it). Nothing that
# edits members, passwords, staff or superuser flags, or groups.
MODERATOR_PERMISSIONS = (
    "accounts.view_user",
    MODERATE_PERMISSION,
    "portraits.view_portrait",
    "moderation.view_case",
    "moderation.change_case",
    "moderation.view_report",
    "moderation.change_report",
    "moderation.view_appeal",
    "moderation.change_appeal",
    "moderation.view_rule",
    "moderation.add_rule",
    "moderation.change_rule",
    "moderation.delete_rule",
    "moderation.view_blockedterm",
    "moderation.add_blockedterm",
    "moderation.change_blockedterm",
    "moderation.delete_blockedterm",
    "moderation.view_moderationaction",
)


def is_moderator(user) -> bool:
    """Moderators see every job and portrait (to review them), whatever its visibility."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and (user.is_superuser or user.has_perm(MODERATE_PERMISSION))
    )
