"""Users and roles: who holds which role where; create users, grant and revoke roles."""

from typing import Any

from django.contrib import messages
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from backroom.accounts import permissions, services
from backroom.accounts.models import Membership
from backroom.accounts.selectors import get_user, memberships_for, roles, users_for
from backroom.imports.links import round_trip_exports
from backroom.kernel.exceptions import NotFound, PermissionDenied, ValidationFailed
from backroom.org.selectors import nodes_for
from backroom.web.errors import apply_errors, page
from backroom.web.forms import GrantForm, PasswordForm, UserCreateForm
from backroom.web.rendering import render_page

ROUND_TRIP_EXPORTS = ("users",)


def _with_visible_memberships(actor: Any, queryset: Any) -> Any:
    """Attach each user's memberships the actor may see (not those elsewhere in the tree)."""
    return queryset.prefetch_related(
        Prefetch(
            "memberships",
            queryset=memberships_for(actor).order_by("node__path", "role__code"),
            to_attr="visible_memberships",
        )
    )


@page(permissions.ACCOUNTS_VIEW)
def user_list(request: HttpRequest) -> HttpResponse:
    """Users the actor may see with their roles. Its export is the users importer's, offered to
    those who may import users, so that a file exported, edited and imported again
    round-trips."""
    user = request.user
    people = _with_visible_memberships(user, users_for(user).order_by("username"))
    return render_page(
        request,
        "web/users.html",
        {
            "title": _("Users"),
            "people": people,
            "can_manage": user.has_scoped_permission(permissions.ACCOUNTS_MANAGE),  # type: ignore[union-attr]
            "exports": round_trip_exports(user, ROUND_TRIP_EXPORTS),
        },
    )


def _grant_form(actor: Any, data: Any = None) -> GrantForm:
    return GrantForm(data, roles=roles(), nodes=nodes_for(actor, permissions.ACCOUNTS_MANAGE))


def _render_user(
    request: HttpRequest,
    person: Any,
    form: GrantForm,
    status: int = 200,
    password_form: PasswordForm | None = None,
) -> HttpResponse:
    actor = request.user
    person = _with_visible_memberships(actor, users_for(actor).filter(pk=person.pk)).get()
    return render_page(
        request,
        "web/user_detail.html",
        {
            "title": str(person),
            "person": person,
            "form": form,
            "password_form": password_form or PasswordForm(),
            "can_manage": actor.has_scoped_permission(permissions.ACCOUNTS_MANAGE),  # type: ignore[union-attr]
        },
        status=status,
    )


@page(permissions.ACCOUNTS_VIEW)
def user_detail(request: HttpRequest, user_id: int) -> HttpResponse:
    person = get_user(request.user, user_id)
    return _render_user(request, person, _grant_form(request.user))


@page(permissions.ACCOUNTS_MANAGE)
@require_POST
def user_grant(request: HttpRequest, user_id: int) -> HttpResponse:
    """Grant a role at a node; only nodes where the actor manages accounts are offered."""
    actor = request.user
    person = get_user(actor, user_id)
    form = _grant_form(actor, request.POST)
    if form.is_valid():
        try:
            services.grant_membership(
                person, form.cleaned_data["role"], form.cleaned_data["node"], actor=actor
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        except PermissionDenied as error:
            # The actor manages accounts there but the role carries more than it holds.
            form.add_error(None, error.message)
            return _render_user(request, person, form, status=403)
        else:
            messages.success(request, _("Role granted."))
            return redirect("web:user_detail", user_id=person.pk)
    return _render_user(request, person, form, status=422)


@page(permissions.ACCOUNTS_MANAGE)
@require_POST
def user_password(request: HttpRequest, user_id: int) -> HttpResponse:
    """Set the user's password (an imported user has none they know)."""
    actor = request.user
    person = get_user(actor, user_id)
    form = PasswordForm(request.POST)
    if form.is_valid():
        try:
            services.set_password(person, form.cleaned_data["password"], actor=actor)
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            messages.success(request, _("Password set: tell %(name)s.") % {"name": person})
            return redirect("web:user_detail", user_id=person.pk)
    return _render_user(request, person, _grant_form(actor), status=422, password_form=form)


@page(permissions.ACCOUNTS_MANAGE)
@require_POST
def membership_revoke(request: HttpRequest, membership_id: int) -> HttpResponse:
    actor = request.user
    try:
        membership = memberships_for(actor).get(pk=membership_id)
    except Membership.DoesNotExist:
        raise NotFound() from None
    services.revoke_membership(membership, actor=actor, reason=request.POST.get("reason", ""))
    messages.success(request, _("Role revoked."))
    return redirect("web:user_detail", user_id=membership.user_id)


@page(permissions.ACCOUNTS_MANAGE)
@require_http_methods(["GET", "POST"])
def user_create(request: HttpRequest) -> HttpResponse:
    actor = request.user
    form = UserCreateForm(
        request.POST or None,
        roles=roles(),
        nodes=nodes_for(actor, permissions.ACCOUNTS_MANAGE),
    )
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            data = form.cleaned_data
            try:
                person = services.create_user(
                    services.UserInput(
                        username=data["username"],
                        password=data["password"],
                        display_name=data["display_name"],
                        email=data["email"],
                        language=data["language"],
                    ),
                    actor=actor,
                    node=data["node"],
                    role=data["role"],
                )
            except ValidationFailed as error:
                apply_errors(form, error)
            else:
                messages.success(request, _("Created user %(name)s.") % {"name": person})
                return redirect("web:user_detail", user_id=person.pk)
    return render_page(
        request, "web/user_form.html", {"title": _("New user"), "form": form}, status=status
    )


@page()
def role_list(request: HttpRequest) -> HttpResponse:
    """Roles and their permissions, labelled from the permission catalogue."""
    rows = []
    for role in roles():
        codes = (
            list(permissions.CATALOGUE) if permissions.ALL in role.permissions else role.permissions
        )
        rows.append(
            {
                "role": role,
                "is_everything": permissions.ALL in role.permissions,
                "permissions": [
                    {"code": code, "label": permissions.CATALOGUE.get(code, code)} for code in codes
                ],
            }
        )
    return render_page(request, "web/roles.html", {"title": _("Roles"), "rows": rows})
