"""Who is a moderator. One definition, used by selectors, consumers and the admin."""

from __future__ import annotations

MODERATORS_GROUP = "Moderators"
MODERATE_PERMISSION = "portraits.moderate_portrait"
# What the Moderators group is granted (``app_label.codename``). Kept in sync after
# every ``migrate`` by ``accounts.apps.moderators_group_sync``; later issues add here.
MODERATOR_PERMISSIONS = ("accounts.view_user", MODERATE_PERMISSION)


def is_moderator(user) -> bool:
    """Moderators see every job and portrait (to review them), whatever its visibility."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and (user.is_superuser or user.has_perm(MODERATE_PERMISSION))
    )
