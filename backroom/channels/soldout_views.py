"""The sold-out panel (估清) per store: the menu with the portions left, sold-out items on top,
one tap to hold an item sold out (with a reason) or to clear a hold; and the outbound calls
to the platforms that failed, each with a retry.

Thin views: parse what was posted, call `soldout` / `outbound` services, redirect back.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from backroom.channels import outbound, soldout
from backroom.channels.models import OutboundStatus
from backroom.channels.permissions import CHANNELS_MANAGE, CHANNELS_VIEW
from backroom.kernel.exceptions import DomainError
from backroom.org.models import Site
from backroom.org.selectors import get_site, stores_for
from backroom.web.errors import page, problems_text
from backroom.web.forms import posted_id
from backroom.web.rendering import render_page

FAILED_SHOWN = 50


def _panel_url(site_id: int) -> str:
    return f"{reverse('channels:sold_out')}?store={site_id}"


@page(CHANNELS_VIEW)
def sold_out(request: HttpRequest) -> HttpResponse:
    """A store's menu with live counts and states, and its failed platform calls."""
    stores = stores_for(request.user, CHANNELS_VIEW)
    site_id = posted_id(request.GET.get("store"))
    site = soldout.panel_site(request.user, site_id) if site_id else (stores[0] if stores else None)
    context: dict[str, Any] = {
        "title": _("Sold out"),
        "site": site,
        "stores": stores,
        "rows": [],
        "failed": [],
        "may_manage": False,
    }
    if site is not None:
        context["rows"] = soldout.panel(request.user, site)
        context["failed"] = list(
            soldout.outbound_calls_for(request.user, site=site)
            .filter(status__in=[OutboundStatus.FAILED, OutboundStatus.GIVEN_UP])
            .select_related("account", "item")[:FAILED_SHOWN]
        )
        context["may_manage"] = bool(
            request.user.has_scoped_permission(CHANNELS_MANAGE, site.node)  # type: ignore[union-attr]
        )
    return render_page(request, "channels/soldout.html", context, partial="panel")


def _posted_site(request: HttpRequest) -> Site:
    return get_site(request.user, posted_id(request.POST.get("store")) or 0)


@page(CHANNELS_MANAGE)
@require_POST
def hold(request: HttpRequest) -> HttpResponse:
    """Hold an item sold out by hand, with a reason."""
    site = _posted_site(request)
    try:
        result = soldout.mark_sold_out(
            site=site,
            item=posted_id(request.POST.get("item")) or 0,
            reason=request.POST.get("reason", ""),
            actor=request.user,
        )
    except DomainError as error:
        if error.http_status in (403, 404):
            raise
        messages.error(request, problems_text(error))
    else:
        messages.success(
            request,
            _("%(sku)s is sold out until you clear it.") % {"sku": result.state.item.sku},
        )
    return redirect(_panel_url(site.pk))


@page(CHANNELS_MANAGE)
@require_POST
def clear(request: HttpRequest) -> HttpResponse:
    """Release a hold: back in stock when the store can make the item."""
    site = _posted_site(request)
    try:
        result = soldout.clear_sold_out(
            site=site,
            item=posted_id(request.POST.get("item")) or 0,
            reason=request.POST.get("reason", ""),
            actor=request.user,
        )
    except DomainError as error:
        if error.http_status in (403, 404):
            raise
        messages.error(request, problems_text(error))
    else:
        if result.state.is_sold_out:
            messages.warning(
                request,
                _("%(sku)s is no longer held, but stays sold out until stock returns.")
                % {"sku": result.state.item.sku},
            )
        else:
            messages.success(
                request, _("%(sku)s is back in stock.") % {"sku": result.state.item.sku}
            )
    return redirect(_panel_url(site.pk))


@page(CHANNELS_MANAGE)
@require_POST
def retry(request: HttpRequest, call_id: int) -> HttpResponse:
    """Try a failed platform call again now."""
    call = soldout.get_outbound_call(request.user, call_id)
    try:
        outbound.retry_call(call, actor=request.user)
    except DomainError as error:
        if error.http_status in (403, 404):
            raise
        messages.error(request, error.message)
    else:
        messages.success(request, _("The call is being sent again."))
    if request.POST.get("back") == "board":  # retried from an order's card
        return redirect(f"{reverse('channels:board')}?store={call.account.site_id}")
    return redirect(_panel_url(call.account.site_id))


urlpatterns = [
    path("sold-out/", sold_out, name="sold_out"),
    path("sold-out/hold/", hold, name="sold_out_hold"),
    path("sold-out/clear/", clear, name="sold_out_clear"),
    path("outbound/<int:call_id>/retry/", retry, name="outbound_retry"),
]
