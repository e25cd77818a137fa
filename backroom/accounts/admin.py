"""Admin for users, roles, memberships and API tokens, scoped to the staff member's roles.

Profile edits go through `update_user`, (de)activation through `set_user_active`, granting and
revoking roles through `grant_membership` / `revoke_membership`. Roles and tokens are read-only
here (tokens are issued and revoked by their owner).
"""

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from backroom.accounts import selectors, services
from backroom.accounts.admin_scoping import ReadOnlyAdmin, ScopedAdminMixin, report_domain_error
from backroom.accounts.models import ApiToken, Membership, Role, User
from backroom.accounts.permissions import ACCOUNTS_MANAGE, ACCOUNTS_VIEW
from backroom.kernel.exceptions import DomainError
from backroom.org.selectors import nodes_for

PROFILE_FIELDS = ["display_name", "email", "language", "manager"]


@admin.register(User)
class UserAdmin(ScopedAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    view_permission = ACCOUNTS_VIEW
    manage_permission = ACCOUNTS_MANAGE
    list_display = ["username", "display_name", "email", "is_active", "last_login"]
    list_filter = ["is_active"]
    search_fields = ["username", "display_name", "email"]
    fields = ["username", *PROFILE_FIELDS, "is_active", "last_login", "date_joined"]
    readonly_fields = ["username", "is_active", "last_login", "date_joined"]
    actions = ["deactivate", "reactivate"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return selectors.users_for(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._holds(request, ACCOUNTS_VIEW, None)  # rows are scoped by the selector

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if not self._holds(request, ACCOUNTS_MANAGE, None):
            return False
        if obj is None:
            return True
        try:
            services.require_manage_user(request.user, obj)  # type: ignore[arg-type]
        except DomainError:
            return False
        return True

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "manager":
            kwargs["queryset"] = selectors.users_for(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: User, form: ModelForm, change: bool) -> None:  # type: ignore[type-arg]
        changed = [name for name in form.changed_data if name in PROFILE_FIELDS]
        values = {name: getattr(obj, name) for name in changed if name != "manager"}
        if "manager" in changed:
            values["manager_id"] = obj.manager_id
        fields = [("manager_id" if name == "manager" else name) for name in changed]
        services.update_user(
            User.objects.get(pk=obj.pk),
            services.UserChanges(**values, fields=fields),
            actor=request.user,
        )

    def _set_active(self, request: HttpRequest, queryset: QuerySet[User], active: bool) -> None:
        for user in queryset:
            try:
                services.set_user_active(user, active, actor=request.user)
            except DomainError as error:
                report_domain_error(self, request, error)

    @admin.action(description=_("Deactivate the selected users"), permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self._set_active(request, queryset, False)

    @admin.action(description=_("Reactivate the selected users"), permissions=["change"])
    def reactivate(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self._set_active(request, queryset, True)


@admin.register(Role)
class RoleAdmin(ReadOnlyAdmin):
    """Roles are catalogue data: any user who may see accounts sees them."""

    view_permission = ACCOUNTS_VIEW
    list_display = ["code", "name", "is_system"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Role]:
        return selectors.roles()

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._holds(request, ACCOUNTS_VIEW, None)


@admin.register(Membership)
class MembershipAdmin(ScopedAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Granting adds a row through `grant_membership`; deleting one revokes it."""

    view_permission = ACCOUNTS_VIEW
    manage_permission = ACCOUNTS_MANAGE
    allow_add = True
    allow_delete = True
    list_display = ["user", "role", "node"]
    list_filter = ["role"]
    list_select_related = ["user", "role", "node"]
    search_fields = ["user__username", "node__code"]
    fields = ["user", "role", "node"]

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # a membership is granted or revoked, never edited

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "node":
            kwargs["queryset"] = nodes_for(request.user, ACCOUNTS_MANAGE)
        if db_field.name == "user":
            kwargs["queryset"] = selectors.users_for(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        granted = services.grant_membership(obj.user, obj.role, obj.node, actor=request.user)
        obj.pk = granted.pk

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        services.revoke_membership(obj, actor=request.user)


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    view_permission = ACCOUNTS_VIEW
    list_display = ["name", "prefix", "user", "role", "node", "expires_at", "revoked_at"]
    list_select_related = ["user", "role", "node"]
    exclude = ["token_hash"]

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        return [f.name for f in self.model._meta.fields if f.name != "token_hash"]
