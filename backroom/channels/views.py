"""Channel pages: the live order board per store (anomalous orders highlighted), the order
alerts of a store and of every store in scope, and the unmapped items work list.

Thin views: parse what was posted, call `intake.change_status` / `services.save_mapping`,
render. The board refreshes itself every 15 seconds (HTMX polling of its partial).
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext
from django.views.decorators.http import require_POST

from backroom.catalog.choices import SELLABLE_KINDS
from backroom.catalog.models import Item
from backroom.catalog.selectors import site_today
from backroom.channels import anomalies, intake, order_calls, selectors, services
from backroom.channels.choices import FORWARD, TERMINAL, OrderStatus
from backroom.channels.models import AnomalyRule, Order
from backroom.channels.permissions import CHANNELS_MANAGE, CHANNELS_OPERATE, CHANNELS_VIEW
from backroom.kernel.exceptions import DomainError
from backroom.org.models import Site
from backroom.org.selectors import get_site, stores_for
from backroom.web.errors import page, problems_text
from backroom.web.exports import Column, export_format, export_table
from backroom.web.forms import posted_id
from backroom.web.rendering import render_page

# The next step offered on an open order's card, per status.
NEXT_STEP = {
    OrderStatus.RECEIVED: (OrderStatus.ACCEPTED, gettext_lazy("Accept")),
    OrderStatus.ACCEPTED: (OrderStatus.PREPARING, gettext_lazy("Start preparing")),
    OrderStatus.PREPARING: (OrderStatus.READY, gettext_lazy("Ready")),
    OrderStatus.READY: (OrderStatus.COMPLETED, gettext_lazy("Complete")),
    OrderStatus.DELIVERING: (OrderStatus.COMPLETED, gettext_lazy("Complete")),
}


def _board_context(
    request: HttpRequest, site: Site | None, stores: list[Site], *, anomalies_only: bool = False
) -> dict[str, Any]:
    columns: list[dict[str, Any]] = []
    may_operate = site is not None and bool(
        request.user.has_scoped_permission(CHANNELS_OPERATE, site.node)  # type: ignore[union-attr]
    )
    may_manage = site is not None and bool(
        request.user.has_scoped_permission(CHANNELS_MANAGE, site.node)  # type: ignore[union-attr]
    )
    if site is not None:
        day = site_today(site)
        by_status = selectors.board(request.user, site, day)
        shown = [order.pk for orders in by_status.values() for order in orders]
        alerts = anomalies.open_by_order(shown)
        # Platform calls (accept, cancel, ready) that did not get through: shown on the card.
        failed_calls = order_calls.failed_by_order(shown)
        for orders in by_status.values():
            for order in orders:
                order.failed_calls = failed_calls.get(order.pk, [])  # type: ignore[attr-defined]
                order.alerts = [  # type: ignore[attr-defined]
                    {
                        "rule": alert.rule,
                        "severity": alert.severity,
                        "message": anomalies.message_of(alert),
                    }
                    for alert in alerts.get(order.pk, [])
                ]
        for status in [*FORWARD, OrderStatus.PARTIALLY_REFUNDED, *sorted(TERMINAL)]:
            orders = by_status.get(status, [])
            if anomalies_only:
                orders = [order for order in orders if order.alerts]  # type: ignore[attr-defined]
            if status not in selectors.BOARD_OPEN and not orders:
                continue
            columns.append(
                {
                    "status": status,
                    "label": OrderStatus(status).label,
                    "orders": orders,
                    "is_open": status in selectors.BOARD_OPEN,
                }
            )
    return {
        "title": _("Order board"),
        "site": site,
        "stores": stores,
        "columns": columns,
        "may_operate": may_operate,
        "may_manage": may_manage,
        "anomalies_only": anomalies_only,
        "next_step": {str(key): (str(value[0]), value[1]) for key, value in NEXT_STEP.items()},
    }


@page(CHANNELS_VIEW)
def board(request: HttpRequest) -> HttpResponse:
    """A store's orders by state: open ones oldest first, and today's closed ones."""
    stores = stores_for(request.user, CHANNELS_VIEW)
    site_id = posted_id(request.GET.get("store"))
    site = get_site(request.user, site_id, CHANNELS_VIEW) if site_id else None
    if site is None and stores:
        site = stores[0]
    anomalies_only = request.GET.get("anomalies") == "1"
    return render_page(
        request,
        "channels/board.html",
        _board_context(request, site, stores, anomalies_only=anomalies_only),
        partial="board",
    )


@page(CHANNELS_OPERATE)
@require_POST
def order_status(request: HttpRequest, order_id: int) -> HttpResponse:
    """Move an order on from the board (the status machine decides what is allowed)."""
    order: Order = selectors.get_order(request.user, order_id)
    status = request.POST.get("status", "")
    key = request.POST.get("key") or uuid.uuid4().hex
    try:
        intake.change_status(
            order, status=status, actor=request.user, key=f"page:u{request.user.pk}:{key}"[:150]
        )
    except DomainError as error:
        if error.http_status in (403, 404):
            raise
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("Order %(order)s is now %(status)s.")
            % {"order": order, "status": OrderStatus(status).label},
        )
    return redirect(f"{reverse('channels:board')}?store={order.site_id}")


@page(CHANNELS_MANAGE)
def unmapped(request: HttpRequest) -> HttpResponse:
    """External SKUs without a mapping, each with a one-click mapping form."""
    site_id = posted_id(request.GET.get("store"))
    site = get_site(request.user, site_id, CHANNELS_MANAGE) if site_id else None
    rows = selectors.unmapped(request.user, site=site)
    items = list(
        Item.objects.filter(kind__in=SELLABLE_KINDS, is_active=True)
        .order_by("sku")
        .values("pk", "sku", "name")[:1000]
    )
    by_sku = {item["sku"]: item["pk"] for item in items}
    return render_page(
        request,
        "channels/unmapped.html",
        {
            "title": _("Unmapped items"),
            "rows": [{"row": row, "suggested": by_sku.get(row.external_sku)} for row in rows],
            "items": items,
            "site": site,
        },
    )


@page(CHANNELS_MANAGE)
@require_POST
def map_sku(request: HttpRequest) -> HttpResponse:
    """Save one mapping from the work list; its lines are caught up at once."""
    account = selectors.get_account(
        request.user, posted_id(request.POST.get("account")) or 0, CHANNELS_MANAGE
    )
    item = Item.objects.filter(pk=posted_id(request.POST.get("item")) or 0).first()
    code = request.POST.get("external_code", "")
    if item is None:
        messages.error(request, _("Choose the menu item this code is."))
    else:
        try:
            _mapping, caught_up = services.save_mapping(
                account=account, external_code=code, item=item, actor=request.user
            )
        except DomainError as error:
            if error.http_status in (403, 404):
                raise
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("%(code)s is now %(item)s; %(count)s lines caught up.")
                % {"code": code, "item": item.name, "count": caught_up},
            )
    return redirect(reverse("channels:unmapped"))


ALERTS_SHOWN = 200
EXPORT_CHUNK = 2000


def _at_store(anomaly: Any, moment: dt.datetime | None) -> dt.datetime | None:
    """A moment as the store's wall-clock time without a zone (Excel holds no zones)."""
    if moment is None:
        return None
    zone = zoneinfo.ZoneInfo(anomaly.site.time_zone)
    return moment.astimezone(zone).replace(tzinfo=None, microsecond=0)


ALERT_COLUMNS = [
    Column(gettext_lazy("Store code"), lambda anomaly: anomaly.site.node.code),
    Column(gettext_lazy("Store"), lambda anomaly: anomaly.site.node.name),
    Column(gettext_lazy("Detected at"), lambda anomaly: _at_store(anomaly, anomaly.detected_at)),
    Column(gettext_lazy("Rule"), lambda anomaly: str(anomaly.get_rule_display())),
    Column(gettext_lazy("Severity"), lambda anomaly: str(anomaly.get_severity_display())),
    Column(gettext_lazy("Channel"), lambda anomaly: str(anomaly.order.get_kind_display())),
    Column(gettext_lazy("Order"), lambda anomaly: anomaly.order.external_id),
    Column(gettext_lazy("Order number"), lambda anomaly: anomaly.order.display_id),
    Column(gettext_lazy("Order status"), lambda anomaly: str(anomaly.order.get_status_display())),
    Column(gettext_lazy("Message"), anomalies.message_of),
    Column(gettext_lazy("Resolved at"), lambda anomaly: _at_store(anomaly, anomaly.resolved_at)),
    Column(
        gettext_lazy("Resolution"),
        lambda anomaly: str(anomaly.get_resolution_display()) if anomaly.resolution else "",
    ),
    Column(
        gettext_lazy("Resolved by"),
        lambda anomaly: anomaly.resolved_by.username if anomaly.resolved_by else "",
    ),
    Column(gettext_lazy("Resolution note"), lambda anomaly: anomaly.resolution_note),
]


@page(CHANNELS_VIEW)
def alerts(request: HttpRequest) -> HttpResponse:
    """Order alerts: with `store`, that store's; without, every store in scope grouped by
    store and rule (HQ). `rule` and `state` (open, resolved, all) narrow the list;
    `?export=xlsx|csv` downloads every matching alert (the filters kept), not just the newest."""
    stores = stores_for(request.user, CHANNELS_VIEW)
    site_id = posted_id(request.GET.get("store"))
    site = get_site(request.user, site_id, CHANNELS_VIEW) if site_id else None
    rule = request.GET.get("rule", "")
    rule = rule if rule in AnomalyRule.values else ""
    state = request.GET.get("state", "open")
    state = state if state in anomalies.STATES else "open"
    found = anomalies.anomalies_for(request.user, site=site, rule=rule or None, state=state)
    if wanted := export_format(request):
        # Every matching alert, not the page's newest ones.
        every = found.iterator(chunk_size=EXPORT_CHUNK)
        return export_table(wanted, "order-alerts", ALERT_COLUMNS, every)
    rows = list(found[:ALERTS_SHOWN])
    managed = {store.pk for store in stores_for(request.user, CHANNELS_MANAGE)}
    return render_page(
        request,
        "channels/alerts.html",
        {
            "title": _("Order alerts"),
            "site": site,
            "stores": stores,
            "rule": rule,
            "state": state,
            "rules": AnomalyRule.choices,
            "states": [
                ("open", pgettext("alert", "Open")),
                ("resolved", _("Resolved")),
                ("all", _("All")),
            ],
            "groups": anomalies.alert_groups(request.user) if site is None else [],
            "rows": [
                {
                    "anomaly": anomaly,
                    "message": anomalies.message_of(anomaly),
                    "may_resolve": anomaly.resolved_at is None and anomaly.site_id in managed,
                }
                for anomaly in rows
            ],
            "shown": ALERTS_SHOWN,
            # An HTMX filter change swaps the list; the export buttons follow out of band.
            "exports_out_of_band": request.headers.get("HX-Request") == "true",
        },
        partial="alerts",
    )


@page(CHANNELS_MANAGE)
@require_POST
def resolve_alert(request: HttpRequest, anomaly_id: int) -> HttpResponse:
    """A manager resolves an alert with a note."""
    anomaly = anomalies.get_anomaly(request.user, anomaly_id)
    try:
        anomalies.resolve_anomaly(anomaly, note=request.POST.get("note", ""), actor=request.user)
    except DomainError as error:
        if error.http_status in (403, 404):
            raise
        messages.error(request, problems_text(error))
    else:
        messages.success(request, _("Alert resolved."))
    url = reverse("channels:alerts")
    if posted_id(request.POST.get("store")) == anomaly.site_id:
        url = f"{url}?store={anomaly.site_id}"
    return redirect(url)


urlpatterns = [
    path("board/", board, name="board"),
    path("alerts/", alerts, name="alerts"),
    path("alerts/<int:anomaly_id>/resolve/", resolve_alert, name="resolve_alert"),
    path("orders/<int:order_id>/status/", order_status, name="order_status"),
    path("unmapped/", unmapped, name="unmapped"),
    path("unmapped/map/", map_sku, name="map_sku"),
]
