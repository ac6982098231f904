from django import forms
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import (
    AdminPasswordChangeForm,
    AdminUserCreationForm,
    UserChangeForm,
)
from django.urls import reverse
from django.utils.html import format_html

from accounts.models import ApiToken, User
from accounts.services import (
    api_token_revoke,
    email_validate,
    user_avatar_remove,
    user_deactivate,
    user_delete,
    user_password_changed,
    user_profile_update,
)
from accounts.suspension import is_suspended, suspension_message
from config.errors import DomainError


def user_admin_link(user: User):
    """A member as other admin pages name them: their username, linked to their admin page
    (a job's owner, a portrait's author)."""
    return format_html(
        '<a href="{}">{}</a>', reverse("admin:accounts_user_change", args=[user.pk]), user.username
    )


class AdminSignInForm(AdminAuthenticationForm):
    """The admin's sign-in (Django's own, not allauth's): a suspended staff member is
    refused here too, before they are signed in (accounts.suspension)."""

    def confirm_login_allowed(self, user):
        if is_suspended(user):
            raise forms.ValidationError(suspension_message(user), code="account_suspended")
        super().confirm_login_allowed(user)


admin.site.login_form = AdminSignInForm

# Saved through ``user_profile_update``, so the admin follows the members' own rules:
# a changed e-mail address becomes the primary allauth EmailAddress (unverified, and a
# confirmation link is mailed), display names and bios are normalised the same way.
PROFILE_FIELDS = ("email", "display_name", "bio")


class _EmailRulesMixin:
    """The service's e-mail rules, as a form error: also unique among allauth's addresses."""

    def clean_email(self) -> str:
        user = self.instance if self.instance.pk else None
        try:
            return email_validate(email=self.cleaned_data.get("email", ""), user=user)
        except DomainError as exc:
            raise forms.ValidationError(exc.field_errors.get("email") or exc.message) from None


class UserAdminChangeForm(_EmailRulesMixin, UserChangeForm):
    pass


class UserAdminCreationForm(_EmailRulesMixin, AdminUserCreationForm):
    pass


class UserAdminPasswordChangeForm(AdminPasswordChangeForm):
    """The admin's "change password" form. A new password revokes the member's API tokens
    by itself (see accounts.apps); so does turning password log-in off, here."""

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=commit)
        if commit and not user.has_usable_password():
            user_password_changed(user=user)
        return user


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserAdminChangeForm
    add_form = UserAdminCreationForm
    change_password_form = UserAdminPasswordChangeForm
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Profile", {"fields": ("email", "display_name", "bio", "avatar_preview")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "email", "usable_password", "password1", "password2"),
            },
        ),
    )
    # Avatars are only ever set through the service that re-encodes them, so
    # the raw file field is not editable here; moderators can remove one.
    readonly_fields = ("avatar_preview", "last_login", "date_joined")
    list_display = ("username", "email", "display_name", "is_active", "is_staff", "date_joined")
    list_filter = ("is_active", "is_staff", "is_superuser", "groups", "date_joined")
    search_fields = ("username", "email", "display_name")
    ordering = ("-date_joined",)
    date_hierarchy = "date_joined"
    actions = ["remove_avatars"]

    @admin.display(description="Avatar")
    def avatar_preview(self, user: User):
        if not user.avatar:
            return "—"
        return format_html(
            '<img src="{}" width="96" height="96" alt="" style="border-radius:50%">',
            user.avatar_url,
        )

    @admin.action(description="Remove the avatar of the selected users")
    def remove_avatars(self, request, queryset):
        removed = 0
        for user in queryset.exclude(avatar=""):
            user_avatar_remove(user=user)
            removed += 1
        self.message_user(request, f"Removed {removed} avatar(s).", messages.SUCCESS)

    def save_model(self, request, obj: User, form, change: bool) -> None:
        changes = {
            field: form.cleaned_data[field]
            for field in PROFILE_FIELDS
            if field in form.changed_data
        }
        # The form has already set the new values on obj: put the stored ones back,
        # save the rest (username, permissions, password), then let the service
        # write these and keep the EmailAddress rows in step. One transaction (the
        # admin's), so a refusal leaves nothing half-saved.
        for field in changes:
            setattr(obj, field, form.initial.get(field, ""))
        super().save_model(request, obj, form, change)
        if changes:
            user_profile_update(user=obj, request=request, **changes)
        if change and "is_active" in form.changed_data and not obj.is_active:
            # Deactivated: sessions and tokens are refused from the next request on;
            # open connections are closed now.
            user_deactivate(user=obj)

    def delete_model(self, request, obj: User) -> None:
        user_delete(user=obj)

    def delete_queryset(self, request, queryset) -> None:
        for user in queryset:
            user_delete(user=user)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """View and revoke tokens. Keys cannot be created or read here: only their hint exists."""

    list_display = ("name", "user", "hint_display", "created_at", "last_used_at")
    list_select_related = ("user",)
    search_fields = ("name", "hint", "user__username", "user__email")
    list_filter = ("created_at", "last_used_at")
    fields = ("user", "name", "hint_display", "created_at", "last_used_at")
    readonly_fields = fields
    ordering = ("-created_at",)

    @admin.display(description="Key starts with", ordering="hint")
    def hint_display(self, token: ApiToken) -> str:
        return f"{token.hint}…"

    def has_add_permission(self, request) -> bool:
        return False  # a key is shown once, to its owner, on the settings page

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def delete_model(self, request, obj: ApiToken) -> None:
        api_token_revoke(user=obj.user, token_id=obj.pk)

    def delete_queryset(self, request, queryset) -> None:
        for token in queryset.select_related("user"):
            api_token_revoke(user=token.user, token_id=token.pk)
