from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.html import format_html

from accounts.models import ApiToken, User
from accounts.services import api_token_revoke, user_avatar_remove, user_delete


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
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
