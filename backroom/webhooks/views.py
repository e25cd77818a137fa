"""Webhook pages: list, create, detail (deliveries), edit, rotate secret, delivery, replay."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from backroom.kernel.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed
from backroom.web.rendering import render_page
from backroom.webhooks import selectors, services
from backroom.webhooks.forms import EndpointForm
from backroom.webhooks.models import WebhookEndpoint

PAGE_SIZE = 25
_SECRET_SESSION_KEY = "webhooks:new-secret:{}"

View = Callable[..., HttpResponse]


def _scoped(view: View) -> View:
    """Signed-in only; a hidden object is a 404 page, a refused one a 403 page."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            raise Http404() from None
        except PermissionDenied:
            raise DjangoPermissionDenied() from None

    return wrapper


def _require_manage(request: HttpRequest, endpoint: WebhookEndpoint | None = None) -> None:
    if not selectors.can_manage(request.user, endpoint):
        raise PermissionDenied()


def _node_choices(request: HttpRequest) -> list[tuple[int, str]]:
    return [
        (node.pk, f"{'· ' * node.depth}{node.name} ({node.code})")
        for node in selectors.manageable_nodes(request.user)
    ]


def _stash_secret(request: HttpRequest, endpoint_id: int, secret: str) -> None:
    # Kept in the session only until the next page shows it once.
    request.session[_SECRET_SESSION_KEY.format(endpoint_id)] = secret


@_scoped
@require_http_methods(["GET"])
def endpoint_list(request: HttpRequest) -> HttpResponse:
    endpoints = list(selectors.endpoints_for(request.user))
    context = {
        "title": _("Webhooks"),
        "endpoints": endpoints,
        "can_create": selectors.can_manage(request.user),
    }
    return render_page(request, "webhooks/endpoint_list.html", context)


@_scoped
@require_http_methods(["GET", "POST"])
def endpoint_create(request: HttpRequest) -> HttpResponse:
    _require_manage(request)
    form = EndpointForm(
        request.POST or None,
        nodes=_node_choices(request),
        event_types=selectors.available_event_types(),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            issued = services.create_endpoint(
                services.EndpointInput(
                    node_id=data["node"] or None,
                    name=data["name"],
                    url=data["url"],
                    event_types=data["event_types"],
                    description=data["description"],
                    is_active=data["is_active"],
                ),
                actor=request.user,
            )
        except ValidationFailed as error:
            form.add_service_errors(error.errors)
        else:
            _stash_secret(request, issued.endpoint.pk, issued.secret)
            messages.success(request, _("The endpoint was created."))
            return redirect("webhooks:endpoint_detail", endpoint_id=issued.endpoint.pk)
    status = 422 if request.method == "POST" else 200
    context = {"title": _("New webhook endpoint"), "form": form, "endpoint": None}
    return render_page(request, "webhooks/endpoint_form.html", context, status=status)


@_scoped
@require_http_methods(["GET"])
def endpoint_detail(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = selectors.get_endpoint(request.user, endpoint_id)
    page = Paginator(selectors.deliveries_for(request.user, endpoint), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "title": endpoint.name,
        "endpoint": endpoint,
        "deliveries": page,
        "can_manage": selectors.can_manage(request.user, endpoint),
        "new_secret": request.session.pop(_SECRET_SESSION_KEY.format(endpoint.pk), None),
        "signing_secret_count": len(endpoint.signing_secrets()),
        "circuit_threshold": services.CIRCUIT_FAILURE_THRESHOLD,
    }
    return render_page(request, "webhooks/endpoint_detail.html", context, partial="deliveries")


@_scoped
@require_http_methods(["GET", "POST"])
def endpoint_edit(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = selectors.get_endpoint(request.user, endpoint_id)
    _require_manage(request, endpoint)
    initial = {
        "name": endpoint.name,
        "url": endpoint.url,
        "event_types": endpoint.event_types,
        "description": endpoint.description,
        "is_active": endpoint.is_active,
    }
    form = EndpointForm(
        request.POST or None,
        initial=initial,
        nodes=[],
        event_types=selectors.available_event_types(),
        with_node=False,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.update_endpoint(
                endpoint,
                services.EndpointChanges(
                    name=data["name"],
                    url=data["url"],
                    event_types=data["event_types"],
                    description=data["description"],
                    is_active=data["is_active"],
                ),
                actor=request.user,
            )
        except ValidationFailed as error:
            form.add_service_errors(error.errors)
        else:
            messages.success(request, _("The endpoint was saved."))
            return redirect("webhooks:endpoint_detail", endpoint_id=endpoint.pk)
    status = 422 if request.method == "POST" else 200
    context = {"title": _("Edit %(name)s") % {"name": endpoint.name}, "form": form}
    context["endpoint"] = endpoint
    return render_page(request, "webhooks/endpoint_form.html", context, status=status)


@_scoped
@require_POST
def rotate_secret(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = selectors.get_endpoint(request.user, endpoint_id)
    issued = services.rotate_secret(endpoint, actor=request.user)
    _stash_secret(request, endpoint.pk, issued.secret)
    messages.success(
        request, _("A new secret was issued; the previous one stays valid for 24 hours.")
    )
    return redirect("webhooks:endpoint_detail", endpoint_id=endpoint.pk)


@_scoped
@require_http_methods(["GET"])
def delivery_detail(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = selectors.get_delivery(request.user, delivery_id)
    context = {
        "title": _("Delivery #%(id)s") % {"id": delivery.pk},
        "delivery": delivery,
        "endpoint": delivery.endpoint,
        "attempts": list(selectors.attempts_of(request.user, delivery)),
        "body": json.dumps(
            json.loads(services.build_body(delivery.event)), indent=2, ensure_ascii=False
        ),
        "can_manage": selectors.can_manage(request.user, delivery.endpoint),
    }
    return render_page(request, "webhooks/delivery_detail.html", context)


@_scoped
@require_POST
def replay(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = selectors.get_delivery(request.user, delivery_id)
    try:
        services.replay_delivery(delivery, actor=request.user)
    except Conflict as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The delivery was queued to be sent again now."))
    return redirect("webhooks:delivery_detail", delivery_id=delivery.pk)
