from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_migrate


def moderators_group_sync(sender, using=DEFAULT_DB_ALIAS, apps=global_apps, **kwargs) -> None:
    """Give the Moderators group its permissions once they exist.

    Permissions are created by a post_migrate handler per app, after that app's
    migrations ran, so a data migration cannot rely on them; this runs right
    after (django.contrib.auth's handler is connected first) for each app named
    in MODERATOR_PERMISSIONS. Idempotent; also re-creates the group after a
    database flush (whose post_migrate passes no ``apps``: the real registry is used).
    """
    from accounts.permissions import MODERATOR_PERMISSIONS, MODERATORS_GROUP

    codenames = [
        perm.split(".", 1)[1]
        for perm in MODERATOR_PERMISSIONS
        if perm.split(".", 1)[0] == sender.label
    ]
    if not codenames:
        return
    try:
        Group = apps.get_model("auth", "Group")
        Permission = apps.get_model("auth", "Permission")
    except LookupError:  # auth not migrated yet
        return
    group, _ = Group.objects.using(using).get_or_create(name=MODERATORS_GROUP)
    permissions = Permission.objects.using(using).filter(
        content_type__app_label=sender.label, codename__in=codenames
    )
    group.permissions.add(*permissions)


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        post_migrate.connect(moderators_group_sync, dispatch_uid="accounts.moderators_group_sync")
