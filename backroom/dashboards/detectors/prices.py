"""`price_jump`: a supplier invoice's unit prices against the items' price history.
`price_change`: a supplier's new price list moves prices beyond the supplier's alert threshold."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from backroom.dashboards.alerts import Signal, raise_alert
from backroom.dashboards.choices import Severity
from backroom.dashboards.detectors.common import (
    CENT,
    ONE,
    PRICE_CHANGE,
    PRICE_JUMP,
    RATIO,
    config,
    number,
    spread,
    text,
)

# --- price_jump --------------------------------------------------------------------------------


def detect_price_jumps(invoice_id: int, *, now: dt.datetime | None = None) -> int:
    """Each line of a supplier invoice against the item's earlier prices from that supplier,
    each purchase once: earlier invoice lines, and purchase-order lines not invoiced yet (in
    the same purchase unit).
    Alerts on a rise above max(`min_rise`, k robust σ of the prices relative to their median).
    Returns the alerts raised or grouped."""
    from backroom.procurement.models import (
        PurchaseOrderLine,
        SupplierInvoice,
        SupplierInvoiceLine,
    )

    values = config(PRICE_JUMP)
    invoice = (
        SupplierInvoice.objects.select_related(
            "supplier",
            "purchase_order__store__node",
            "purchase_order__store__legal_entity",
            "org_node",
        )
        .filter(pk=invoice_id)
        .first()
    )
    if invoice is None:
        return 0
    site = invoice.purchase_order.store if invoice.purchase_order else None
    raised = 0
    lines = SupplierInvoiceLine.objects.filter(invoice=invoice).select_related(
        "purchase_order_line", "item"
    )
    for line in lines.order_by("line_no"):
        order_line = line.purchase_order_line
        item = line.item or (order_line.item if order_line else None)
        if item is None or line.unit_price <= 0:
            continue
        unit = order_line.unit if order_line else ""
        earlier_invoices = (
            SupplierInvoiceLine.objects.filter(invoice__supplier=invoice.supplier, unit_price__gt=0)
            .filter(Q(item=item) | Q(purchase_order_line__item=item))
            .filter(
                Q(invoice__invoice_date__lt=invoice.invoice_date)
                | Q(invoice__invoice_date=invoice.invoice_date, invoice_id__lt=invoice.pk)
            )
            .exclude(invoice=invoice)
        )
        order_lines = PurchaseOrderLine.objects.filter(
            order__supplier=invoice.supplier,
            item=item,
            unit_price__gt=0,
            order__created_at__lte=invoice.created_at,
        ).exclude(
            # A purchase counts once: at its invoiced price once it is invoiced (this
            # invoice's own lines are the prices being judged).
            pk__in=SupplierInvoiceLine.objects.filter(purchase_order_line__isnull=False).values(
                "purchase_order_line"
            )
        )
        if unit:
            earlier_invoices = earlier_invoices.filter(
                Q(purchase_order_line__unit=unit) | Q(purchase_order_line__isnull=True)
            )
            order_lines = order_lines.filter(unit=unit)
        prices: list[tuple[dt.date, str, str, int, Decimal]] = [
            (date, "invoice", number, document_id, price)
            for date, number, document_id, price in earlier_invoices.values_list(
                "invoice__invoice_date", "invoice__invoice_number", "invoice_id", "unit_price"
            )
        ]
        prices += [
            (timezone.localdate(created), "purchase_order", number, document_id, price)
            for created, number, document_id, price in order_lines.values_list(
                "order__created_at", "order__number", "order_id", "unit_price"
            )
        ]
        prices.sort(key=lambda row: (row[0], row[1], row[3]), reverse=True)
        prices = prices[: int(values["history"])]
        if len(prices) < int(values["min_history"]):
            continue
        history = spread([row[4] for row in prices])
        if history.median <= 0:
            continue
        relative_sigma = history.sigma / history.median
        threshold = max(number(values, "min_rise"), number(values, "k") * relative_sigma)
        rise = line.unit_price / history.median - 1
        if rise <= threshold:
            continue
        severity = Severity.CRITICAL if rise > 2 * threshold else Severity.WARNING
        figures = {
            "supplier": invoice.supplier.name,
            "item": item.name,
            "price": text(line.unit_price),
            "currency": invoice.currency,
            "unit": unit or item.sku,
            "median": text(history.median),
            "percent": text(rise * 100, ONE),
            "threshold": text(threshold * 100, ONE),
            "number": invoice.invoice_number,
            "count": history.count,
        }
        title = (
            _("Price jump from %(supplier)s: %(item)s at %(price)s %(currency)s (+%(percent)s %%)")
            % figures
        )
        message = (
            _(
                "Invoice %(number)s bills %(item)s at %(price)s %(currency)s per %(unit)s; its "
                "last %(count)s prices from %(supplier)s had a median of %(median)s "
                "%(currency)s. It alerts above +%(threshold)s %%."
            )
            % figures
        )
        details = {
            "invoice_id": invoice.pk,
            "invoice_number": invoice.invoice_number,
            "invoice_date": invoice.invoice_date.isoformat(),
            # The page of a document: its URL name, reversed with its id by whoever shows it.
            "invoice_page": "procurement:invoice_detail",
            "line_no": line.line_no,
            "supplier_id": invoice.supplier_id,
            "supplier": invoice.supplier.code,
            "item_id": item.pk,
            "item": item.sku,
            "unit": unit,
            "currency": invoice.currency,
            "actual": text(line.unit_price),
            "median": text(history.median),
            "mad": text(history.mad),
            "rise": text(rise, RATIO),
            "threshold_rise": text(threshold, RATIO),
            "history_count": history.count,
            "history_from": prices[-1][0].isoformat(),
            "history_to": prices[0][0].isoformat(),
            "history": [
                {
                    "date": date.isoformat(),
                    "source": source,
                    "number": number,
                    "id": document_id,
                    "price": str(price),
                }
                for date, source, number, document_id, price in prices
            ],
            "site_id": site.pk if site else None,
        }
        alert, _is_new = raise_alert(
            Signal(
                title=title,
                severity=severity,
                node=invoice.org_node,
                site=site,
                fingerprint=f"supplier:{invoice.supplier_id}:item:{item.pk}",
                message=message,
                details=details,
            ),
            detector=PRICE_JUMP,
            now=now,
        )
        raised += alert is not None
    return raised


# --- price_change ------------------------------------------------------------------------------

SHOWN_LINES = 5


def _price(value: str) -> str:
    """A price as written: to the cent, or as many places as it has beyond."""
    price = Decimal(value)
    return text(price) if price == price.quantize(CENT) else f"{price.normalize():f}"


def alert_price_change(
    price_list_id: int, lines: list[dict[str, Any]], *, now: dt.datetime | None = None
) -> bool:
    """One alert for a price list whose prices moved beyond its supplier's threshold (the lines
    of `procurement.price.changed`), on the node the list covers (the supplier's own node when
    it covers every store), so that the buyers and HQ above it see it. A replay groups on the
    open alert. Returns whether an alert was raised or grouped."""
    from backroom.procurement.models import PriceList

    price_list = (
        PriceList.objects.select_related("supplier__node", "node").filter(pk=price_list_id).first()
    )
    if price_list is None or not lines:
        return False
    supplier = price_list.supplier
    threshold = supplier.price_alert_percent
    factor = number(config(PRICE_CHANGE), "critical_factor")
    largest = max(abs(Decimal(line["change_percent"])) for line in lines)
    severity = Severity.CRITICAL if largest > factor * threshold else Severity.WARNING
    moves = [
        _("%(sku)s %(old)s → %(new)s (%(change)s %%)")
        % {
            "sku": line["sku"],
            "old": _price(line["old_price"]),
            "new": _price(line["new_price"]),
            "change": f"{Decimal(line['change_percent']):+}",
        }
        for line in sorted(lines, key=lambda row: -abs(Decimal(row["change_percent"])))
    ]
    shown = "; ".join(moves[:SHOWN_LINES])
    if len(moves) > SHOWN_LINES:
        shown += " " + _("and %(count)s more") % {"count": len(moves) - SHOWN_LINES}
    figures = {
        "supplier": supplier.name,
        "count": len(lines),
        "threshold": text(threshold, ONE),
        "list": price_list.name,
        "from": price_list.valid_from.isoformat(),
        "currency": price_list.currency,
    }
    alert, _is_new = raise_alert(
        Signal(
            title=_("Price change from %(supplier)s: %(count)s items beyond ±%(threshold)s %%")
            % figures,
            severity=severity,
            node=price_list.node or supplier.node,
            fingerprint=f"price_list:{price_list.pk}",
            message=_("Price list “%(list)s” (%(currency)s, from %(from)s): ") % figures + shown,
            details={
                "price_list_id": price_list.pk,
                "price_list": price_list.name,
                "valid_from": price_list.valid_from.isoformat(),
                "supplier_id": supplier.pk,
                "supplier": supplier.code,
                "currency": price_list.currency,
                "threshold_percent": text(threshold),
                "lines": lines,
            },
        ),
        detector=PRICE_CHANGE,
        now=now,
    )
    return alert is not None
