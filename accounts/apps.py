from allauth.account import apps as allauth_apps
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


def password_saved(sender, instance, created=False, raw=False, **kwargs) -> None:
    """A member's password was changed, wherever: allauth's change and reset pages, the
    admin, ``manage.py changepassword``, a shell. ``set_password`` keeps the new password
    in ``_password`` until ``save()`` has told the password validators (Django's own
    "password changed" hook, which this follows); a hash upgraded at log-in is not a change.
    """
    if created or raw or getattr(instance, "_password", None) is None:
        return
    from accounts.services import user_password_changed

    user_password_changed(user=instance)


def logged_out(sender, request=None, user=None, **kwargs) -> None:
    """A session logged out (allauth's page, the admin's, django.contrib.auth.logout):
    close the connections it opened. Sent before the session is flushed, so its key is known.
    """
    from accounts.services import credentials_revoked

    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is not None and session_key:
        credentials_revoked(user_id=user.pk, session_key=session_key)


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out
        from django.db.models.signals import post_save

        from accounts import checks  # noqa: F401  (registers the deployment checks)

        post_migrate.connect(moderators_group_sync, dispatch_uid="accounts.moderators_group_sync")
        post_save.connect(
            password_saved, sender=self.get_model("User"), dispatch_uid="accounts.password_saved"
        )
        user_logged_out.connect(logged_out, dispatch_uid="accounts.logged_out")


class SignInEmailConfig(allauth_apps.AccountConfig):
    """allauth's ``account`` app (its e-mail addresses and their confirmations), named for
    what it holds. allauth calls it "Accounts", which is this project's own app's name: the
    admin's index listed two "Accounts" sections, one of members, one of e-mail addresses.
    INSTALLED_APPS names it by its path."""

    verbose_name = "Sign-in email addresses"
    # Not a candidate when Django looks in this module for the ``accounts`` app's config
    # (a second candidate would leave "accounts" with a bare AppConfig, and no ready()).
    default = False
