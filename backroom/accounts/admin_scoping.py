"""Django admin, scoped like everything else: staff see and change only what their roles cover.

`is_staff` only opens the door to /admin/; what a staff member sees is the same scoped queryset
the API and pages use (`Model.objects.restrict(user, view_permission)`), and what they may change
is decided by `has_scoped_permission(manage_permission, node of the object)`. Django's own model
permissions are not used. Writes go through the services (override `save_model` /
`delete_model`); a model without a service is read-only. Domain errors from a service are shown
as a message instead of a server error.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import ActionLocation
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect

from backroom.kernel.exceptions import DomainError, NotFound, PermissionDenied, ValidationFailed
from backroom.kernel.scoping import OrgScopedQuerySet


def node_of(obj: Any, node_path: str) -> Any:
    """Follow `node_path` ("node", "site__node", "" for a node itself) from `obj` to its node."""
    if not node_path:
        return obj
    for part in node_path.split("__"):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


class ScopedAdminMixin:
    """Scopes a ModelAdmin to the user's roles. Set the permissions and the path to the node.

    `manage_permission = None` makes the admin read-only. `node_path` defaults to the model's
    `scope_field`. Deleting is off unless `allow_delete` (and then `delete_model` must call a
    service).
    """

    view_permission: str = ""
    manage_permission: str | None = None
    node_path: str | None = None
    allow_add: bool = False
    allow_delete: bool = False

    # --- scoping ---------------------------------------------------------------------------

    def _node_path(self) -> str:
        if self.node_path is not None:
            return self.node_path
        return getattr(self.model, "scope_field", "")  # type: ignore[attr-defined]

    def scoped_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if isinstance(queryset, OrgScopedQuerySet):
            return queryset.restrict(request.user, self.view_permission)
        scoped: OrgScopedQuerySet = OrgScopedQuerySet(
            model=queryset.model, query=queryset.query, using=queryset.db
        )
        return scoped.restrict(request.user, self.view_permission)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return self.scoped_queryset(request, super().get_queryset(request))  # type: ignore[misc]

    def get_object(self, request: HttpRequest, object_id: str, from_field: Any = None) -> Any:
        """Another store's object is simply not there: a 404, not a redirect with a message."""
        obj = super().get_object(request, object_id, from_field)  # type: ignore[misc]
        if obj is None:
            raise Http404
        return obj

    # --- permissions -----------------------------------------------------------------------

    def _holds(self, request: HttpRequest, permission: str | None, obj: Model | None) -> bool:
        user = request.user
        if permission is None or not (user.is_active and user.is_staff):
            return False
        node = node_of(obj, self._node_path()) if obj is not None else None
        if obj is not None and node is None:
            # not tied to a node: the permission must cover the whole organisation
            return user.scope_paths(permission) is None or any(  # type: ignore[union-attr]
                path.count("/") == 2
                for path in user.scope_paths(permission)  # type: ignore[union-attr]
            )
        return bool(user.has_scoped_permission(permission, node))  # type: ignore[union-attr]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._holds(request, self.view_permission, None)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._holds(request, self.view_permission, obj)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._holds(request, self.manage_permission, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self.allow_add and self._holds(request, self.manage_permission, None)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.allow_delete and self._holds(request, self.manage_permission, obj)

    def get_actions(
        self, request: HttpRequest, action_location: Any = ActionLocation.CHANGE_LIST
    ) -> dict[str, Any]:
        actions = super().get_actions(request, action_location=action_location)  # type: ignore[misc]
        actions.pop("delete_selected", None)  # bulk delete would bypass the services
        return actions  # type: ignore[no-any-return]

    # --- domain errors ---------------------------------------------------------------------

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        return self._guarded(
            request,
            lambda: super(ScopedAdminMixin, self).changeform_view(  # type: ignore[misc]
                request, object_id, form_url, extra_context
            ),
        )

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return self._guarded(
            request,
            lambda: super(ScopedAdminMixin, self).delete_view(  # type: ignore[misc]
                request, object_id, extra_context
            ),
        )

    def _guarded(self, request: HttpRequest, view: Any) -> HttpResponse:
        """Run an admin view; a service's refusal becomes a 404, a 403 or a message."""
        try:
            return view()  # type: ignore[no-any-return]
        except NotFound:
            raise Http404 from None
        except PermissionDenied:
            raise DjangoPermissionDenied from None
        except DomainError as error:
            report_domain_error(self, request, error)
            return HttpResponseRedirect(request.get_full_path())


def report_domain_error(model_admin: Any, request: HttpRequest, error: DomainError) -> None:
    """Show a service's refusal (with every field problem) as an admin message."""
    text = error.message
    if isinstance(error, ValidationFailed) and error.errors:
        text += " " + "; ".join(
            f"{field}: {' '.join(problems)}" for field, problems in error.errors.items()
        )
    model_admin.message_user(request, text, level=messages.ERROR)


class ReadOnlyAdmin(ScopedAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """A scoped admin that only shows rows."""

    manage_permission = None

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        return [field.name for field in self.model._meta.fields]
