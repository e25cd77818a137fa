"""API tokens: a user's own tokens; the raw value is shown once, on the page that creates it."""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from backroom.accounts import permissions, services
from backroom.accounts.models import ApiToken
from backroom.accounts.selectors import roles, tokens_of
from backroom.kernel.exceptions import NotFound, PermissionDenied, ValidationFailed
from backroom.org.selectors import nodes_for
from backroom.web.errors import apply_errors, page
from backroom.web.forms import TokenForm
from backroom.web.rendering import render_page


@page(permissions.API_TOKENS_MANAGE)
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    actor = request.user
    form = TokenForm(
        request.POST or None,
        roles=roles(),
        nodes=nodes_for(actor, permissions.API_TOKENS_MANAGE),
    )
    context: dict[str, Any] = {"title": _("API tokens"), "form": form}
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            data = form.cleaned_data
            try:
                issued = services.create_api_token(
                    actor=actor,
                    name=data["name"],
                    role=data["role"],
                    node=data["node"],
                    expires_in_days=data["expires_in_days"],
                )
            except ValidationFailed as error:
                apply_errors(form, error)
            except PermissionDenied as error:
                form.add_error("role", error.message)
                status = 403
            else:
                # Rendered, not redirected: the raw value must never be stored, even in a session.
                context["issued"] = issued
                context["form"] = TokenForm(
                    roles=roles(), nodes=nodes_for(actor, permissions.API_TOKENS_MANAGE)
                )
                status = 200
    context["tokens"] = tokens_of(actor).order_by("-created_at")
    response = render_page(request, "web/tokens.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


@page(permissions.API_TOKENS_MANAGE)
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        token = tokens_of(request.user).get(pk=token_id)
    except ApiToken.DoesNotExist:
        raise NotFound() from None
    services.revoke_api_token(token, actor=request.user)
    messages.success(request, _("Token “%(name)s” revoked.") % {"name": token.name})
    return redirect("web:tokens")
