"""Suggested orders: per store × supplier, and per store × warehouse or central kitchen (配送),
from its order guide, what to order today, each line explained (see `suggestion_math` for the
arithmetic), and the store manager's submission as a requisition (要货) through procurement,
which asks for a reason where the manager deviates a lot.

Where the numbers come from:
- the window: today → the delivery after next, from the supplier's (or the warehouse's or
  kitchen's) delivery calendar for the store (`procurement.services.next_delivery_dates`;
  cut-off and lead time included);
- usage: `services.ingredient_demand` over the window (forecast menu demand and planned events
  exploded through the recipes with the store's modifier mix);
- the daily error: the backtest's daily error of each menu item, carried through the recipe
  (root of the sum of squares: menu items' errors are treated as independent), × 1.25 to turn
  a mean absolute error into a standard deviation;
- the service level: the item class's (catalog), else `PLANNING_SERVICE_LEVELS[class code]`,
  else `…["default"]`, else 0.95;
- on hand (the store's own locations), on order (open POs, and transfer orders to the store not
  yet dispatched), in transit (dispatched, not yet received);
- pack size and minimum order: the supplier item's, in its purchase unit, converted to base;
  a warehouse's or kitchen's line has its own unit and, optionally, a pack (no minimum);
- the par on the order guide line when there is no forecast for the item.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.audit.services import record_audit
from backroom.catalog.batch import catalog_batch
from backroom.catalog.models import Item
from backroom.catalog.recipes import explode
from backroom.catalog.selectors import site_today
from backroom.catalog.units import from_base, to_base
from backroom.inventory.selectors import inbound_transfers, site_on_hand
from backroom.kernel.exceptions import Conflict, DomainError, NotFound, ValidationFailed
from backroom.org.choices import SiteStatus
from backroom.org.models import Site
from backroom.planning import services
from backroom.planning.models import (
    DemandForecast,
    ForecastAccuracy,
    SuggestedLine,
    SuggestedOrder,
    SuggestionStatus,
)
from backroom.planning.permissions import PLANNING_VIEW
from backroom.planning.suggestion_math import STEP, LineInputs, suggest

MAE_TO_SIGMA = Decimal("1.25")
DEFAULT_SERVICE_LEVEL = Decimal("0.95")


def service_level(item: Item) -> Decimal:
    """The item's target service level: its item class's (set by HQ in the catalog), else the
    `PLANNING_SERVICE_LEVELS` setting's entry for the class code, else its "default", else
    0.95."""
    item_class = item.item_class if item.item_class_id else None
    if item_class is not None and item_class.service_level is not None:
        return Decimal(item_class.service_level)
    levels = getattr(settings, "PLANNING_SERVICE_LEVELS", {})
    code = item_class.code if item_class is not None else ""
    return Decimal(str(levels.get(code, levels.get("default", DEFAULT_SERVICE_LEVEL))))


def _per_unit(item_id: int, on: dt.date, shared: dict[str, Any]) -> dict[int, Decimal]:
    """What one portion of a menu item uses (cached per run: the same at every store)."""
    cache = shared.setdefault("per_unit", {})
    key = (item_id, on)
    if key not in cache:
        items = shared.setdefault("items", {})
        if item_id not in items:
            items.update(Item.objects.in_bulk([item_id]))
        try:
            cache[key] = explode(items[item_id], Decimal(1), on=on)
        except DomainError:  # a dish without a recipe adds no error
            cache[key] = {}
    return cache[key]  # type: ignore[no-any-return]


def daily_errors(
    site: Site, on: dt.date, *, shared: dict[str, Any] | None = None
) -> dict[int, Decimal]:
    """σ of one day's usage per stocked item, from the menu items' backtest errors."""
    shared = shared if shared is not None else {}
    squares: dict[int, float] = defaultdict(float)
    rows = ForecastAccuracy.objects.filter(
        site=site, menu_item__isnull=False, error_scale__gt=0
    ).values_list("menu_item_id", "error_scale")
    for menu_item_id, error_scale in rows:
        for item_id, quantity in _per_unit(menu_item_id, on, shared).items():
            squares[item_id] += (error_scale * float(quantity)) ** 2
    return {
        item_id: (Decimal(str(math.sqrt(total))) * MAE_TO_SIGMA).quantize(STEP, ROUND_HALF_UP)
        for item_id, total in squares.items()
    }


def build_suggestions(
    site: Site, *, today: dt.date | None = None, shared: dict[str, Any] | None = None
) -> list[SuggestedOrder]:
    """Suggest today's orders of the store from every supplier, warehouse and central kitchen
    of its order guides, replacing the open suggestions (a submitted one stays as it was
    submitted). `shared`: one dict for a run over many stores (recipes, items and modifiers
    are read once)."""
    shared = shared if shared is not None else {}
    with catalog_batch(reuse=True):  # units by code read once (for the whole run when open)
        return _build(site, today=today, shared=shared)


class _GuideLine(NamedTuple):
    """One order guide line as planning reads it: the item, the unit it is ordered in, its
    pack (in that unit; None: any quantity), minimum order (in that unit) and par."""

    item: Any
    unit: str
    pack: Decimal | None
    moq: Decimal
    par_quantity: Decimal | None
    supplier_item: Any | None  # None: from a warehouse or central kitchen


def _guide_lines(guides: list[Any], shared: dict[str, Any]) -> dict[int, list[_GuideLine]]:
    """Each guide's active lines, in order; supplier items and items (with their classes and
    units) are read once per run, as every store's guide names the same few hundred."""
    from backroom.procurement.models import OrderGuideLine, SupplierItem

    rows = list(
        OrderGuideLine.objects.filter(guide__in=guides)
        .order_by("guide", "position", "id")
        .values_list("guide_id", "supplier_item_id", "item_id", "unit", "pack_size", "par_quantity")
    )
    known = shared.setdefault("supplier_items", {})
    missing = {row[1] for row in rows if row[1] is not None} - known.keys()
    if missing:
        known.update(
            SupplierItem.objects.select_related("item__item_class", "item__base_unit")
            .prefetch_related("item__units")
            .in_bulk(list(missing))
        )
    items = shared.setdefault("guide_items", {})
    missing = {row[2] for row in rows if row[1] is None} - items.keys()
    if missing:
        items.update(
            Item.objects.select_related("item_class", "base_unit")
            .prefetch_related("units")
            .in_bulk(list(missing))
        )
    lines: dict[int, list[_GuideLine]] = {guide.pk: [] for guide in guides}
    for guide_id, supplier_item_id, item_id, unit, pack, par in rows:
        if supplier_item_id is not None:
            supplier_item = known[supplier_item_id]
            if supplier_item.is_active:
                lines[guide_id].append(
                    _GuideLine(
                        supplier_item.item,
                        supplier_item.purchase_unit,
                        supplier_item.pack_size,
                        supplier_item.minimum_order_quantity,
                        par,
                        supplier_item,
                    )
                )
        elif items[item_id].is_active:
            lines[guide_id].append(_GuideLine(items[item_id], unit, pack, Decimal(0), par, None))
    return lines


def _source_key(guide: Any) -> tuple[bool, str]:
    """Suppliers first (by code), then warehouses and kitchens (by code)."""
    if guide.supplier_id is not None:
        return (False, guide.supplier.code)
    return (True, guide.source_site.node.code)


def _build(site: Site, *, today: dt.date | None, shared: dict[str, Any]) -> list[SuggestedOrder]:
    from backroom.procurement.models import OrderGuide
    from backroom.procurement.selectors import on_order
    from backroom.procurement.services import next_delivery_dates

    day = today or site_today(site)
    guides = sorted(
        OrderGuide.objects.filter(store=site, is_active=True)
        .filter(Q(supplier__is_active=True) | Q(source_site__status=SiteStatus.OPEN))
        .select_related("supplier", "source_site__node"),
        key=_source_key,
    )
    lines_of = _guide_lines(guides, shared)
    item_ids = {line.item.pk for lines in lines_of.values() for line in lines}
    stock = site_on_hand(site, item_ids)
    ordered = on_order(site, item_ids)
    transfers = inbound_transfers(site, item_ids)
    errors = daily_errors(site, day, shared=shared)
    forecast_ends = DemandForecast.objects.filter(site=site, date__gte=day).order_by("-date")
    last_forecast = forecast_ends.values_list("date", flat=True).first()
    usage_cache: dict[dt.date, dict[int, Decimal]] = {}
    run = ForecastAccuracy.objects.filter(site=site).values_list("run_id", flat=True).first()
    made = []
    with transaction.atomic():
        SuggestedOrder.objects.filter(site=site, status=SuggestionStatus.OPEN).update(
            status=SuggestionStatus.SUPERSEDED
        )
        for guide in guides:
            source = guide.supplier or guide.source_site
            assert source is not None  # exactly one (a database constraint)
            dates = next_delivery_dates(source, site, day, count=2)
            if len(dates) < 2 or not lines_of[guide.pk]:
                continue
            delivery, cover_until = dates
            if cover_until not in usage_cache:
                usage_cache[cover_until] = services.ingredient_demand(
                    site, day, cover_until - dt.timedelta(days=1), shared=shared
                )
            usage = usage_cache[cover_until]
            covered = last_forecast is not None and last_forecast >= cover_until - dt.timedelta(
                days=1
            )
            order = SuggestedOrder.objects.create(
                site=site,
                supplier=guide.supplier,
                source_site=guide.source_site,
                order_date=day,
                delivery_date=delivery,
                cover_until=cover_until,
                run_id=run,
            )
            window = (cover_until - day).days
            rows = []
            for line in lines_of[guide.pk]:
                item = line.item
                per_pack = to_base(item, line.pack, line.unit) if line.pack is not None else None
                moq = to_base(item, line.moq, line.unit)
                par = (
                    to_base(item, line.par_quantity, line.unit)
                    if line.par_quantity is not None
                    else None
                )
                in_forecast = covered and item.pk in usage
                pending, transit = transfers.get(item.pk, (Decimal(0), Decimal(0)))
                inputs = LineInputs(
                    usage=usage[item.pk] if in_forecast else None,
                    daily_error=errors.get(item.pk, Decimal(0)),
                    window_days=window,
                    service_level=service_level(item),
                    on_hand=stock.get(item.pk, Decimal(0)),
                    on_order=ordered.get(item.pk, Decimal(0)) + pending,
                    in_transit=transit,
                    pack_size=per_pack,
                    moq=moq,
                    par=par,
                )
                result = suggest(inputs)
                if line.pack is not None:
                    quantity = (line.pack * result.packs).quantize(STEP)
                else:  # any quantity: the need in the line's unit, never less than it
                    quantity = from_base(item, result.quantity, line.unit).quantize(
                        STEP, ROUND_CEILING
                    )
                rows.append(
                    SuggestedLine(
                        order=order,
                        supplier_item=line.supplier_item,
                        item=item,
                        basis=result.basis,
                        usage=result.usage,
                        safety_stock=result.safety_stock,
                        par=par,
                        on_hand=inputs.on_hand,
                        on_order=inputs.on_order,
                        in_transit=inputs.in_transit,
                        need=result.need,
                        pack_size=per_pack,
                        unit_pack_size=line.pack,
                        moq=moq,
                        packs=result.packs,
                        quantity=quantity,
                        base_quantity=result.quantity,
                        unit=line.unit,
                        service_level=inputs.service_level,
                        daily_error=inputs.daily_error,
                        window_days=window,
                    )
                )
            SuggestedLine.objects.bulk_create(rows)
            made.append(order)
    return made


def suggestions_for(actor: Any, site: Site) -> list[SuggestedOrder]:
    """The store's open suggestions (the latest per supplier, warehouse or kitchen) and those
    submitted since yesterday, lines with their items: suppliers first, by name, then the
    warehouses and kitchens, by code."""
    require_permission(actor, PLANNING_VIEW, site.node)
    return list(
        SuggestedOrder.objects.restrict(actor, PLANNING_VIEW)
        .filter(site=site)
        .filter(
            Q(status=SuggestionStatus.OPEN)
            | Q(
                status=SuggestionStatus.SUBMITTED,
                order_date__gte=site_today(site) - dt.timedelta(days=1),
            )
        )
        .select_related("supplier", "source_site__node", "requisition")
        .prefetch_related("lines__item", "lines__supplier_item")
        .order_by(F("supplier__name").asc(nulls_last=True), "source_site__node__code", "pk")
    )


def get_suggestion(actor: Any, order_id: int) -> SuggestedOrder:
    order = (
        SuggestedOrder.objects.restrict(actor, PLANNING_VIEW)
        .select_related("site__node", "supplier", "source_site__node")
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        raise NotFound()
    return order


class _CutWithoutReason(Exception):
    """Undoes a requisition made only to check its lines (see `submit_suggestion`)."""


def submit_suggestion(
    order: SuggestedOrder,
    quantities: dict[int, Any],
    reasons: dict[int, str],
    *,
    actor: Any,
) -> Any:
    """Submit the suggestion as a requisition with the manager's quantities (in each line's
    unit, per line id; a line left out keeps the suggestion). Procurement checks pack multiples
    and asks for a reason on large deviations, a line cut to zero included (it is left out of
    the requisition; its reason is kept in the audit entry): every problem at once, nothing
    saved. A warehouse's or kitchen's suggestion makes distribution lines (配送), which become a
    draft transfer order once the requisition is approved."""
    from backroom.procurement.exceptions import DeviationReasonRequired, raise_all
    from backroom.procurement.services import RequisitionLineInput, create_requisition
    from backroom.procurement.services.requisitions import deviation_percent

    locked = SuggestedOrder.objects.select_for_update(of=("self",))
    with transaction.atomic():
        order = locked.select_related("site__node", "supplier", "source_site").get(pk=order.pk)
        if order.status != SuggestionStatus.OPEN:
            raise Conflict(_("This suggestion has been submitted or replaced already."))
        lines = list(order.lines.select_related("item").order_by("item__sku"))
        problems: dict[str, list[str]] = {}
        inputs = []
        cut: list[DomainError] = []  # suggested lines cut to zero without a reason
        not_ordered = []
        threshold = deviation_percent()  # a cut to zero deviates by 100 %
        for index, line in enumerate(lines):
            raw = quantities.get(line.pk, line.quantity)
            try:
                quantity = Decimal(str(raw).strip() or "0")
            except ArithmeticError:
                problems.setdefault(f"lines.{index}.quantity", []).append(_("Enter a number."))
                continue
            if not quantity.is_finite() or quantity < 0:
                problems.setdefault(f"lines.{index}.quantity", []).append(_("Enter zero or more."))
                continue
            if quantity == 0:
                reason = reasons.get(line.pk, "").strip()
                if line.quantity > 0 and not reason and threshold < 100:
                    cut.append(
                        DeviationReasonRequired(
                            _(
                                "%(item)s: none ordered against the suggested %(suggested)s; say why."
                            )
                            % {
                                "item": line.item.name,
                                "suggested": f"{line.quantity.normalize():f}",
                            },
                            line=index,
                            field="deviation_reason",
                            suggested=str(line.quantity),
                            threshold_percent=str(threshold),
                        )
                    )
                elif line.quantity > 0:
                    not_ordered.append(
                        {"sku": line.item.sku, "suggested": str(line.quantity), "reason": reason}
                    )
                continue
            source = (
                {"supplier_id": order.supplier_id}
                if order.supplier_id is not None
                else {"source_site_id": order.source_site_id, "unit": line.unit}
            )
            inputs.append(
                RequisitionLineInput(
                    item_id=line.item_id,
                    quantity=quantity,
                    suggested_quantity=line.quantity,
                    deviation_reason=reasons.get(line.pk, ""),
                    **source,  # type: ignore[arg-type]
                )
            )
        if problems:
            raise ValidationFailed(problems)
        if not inputs:
            raise_all(cut)
            raise ValidationFailed({"lines": [_("Nothing to order: every quantity is zero.")]})
        try:
            with transaction.atomic():
                requisition = create_requisition(
                    order.site, inputs, actor=actor, needed_by=order.delivery_date, submit=True
                )
                if cut:  # after the requisition's own checks, so every problem comes at once
                    raise _CutWithoutReason
        except _CutWithoutReason:
            raise_all(cut)
        except DomainError as error:
            if not cut or error.http_status in (403, 404):
                raise
            raise_all([*cut, *getattr(error, "problems", [error])])
        order.status = SuggestionStatus.SUBMITTED
        order.requisition = requisition
        order.save(update_fields=["status", "requisition", "updated_at"])
        record_audit(
            actor=actor,
            action="planning.suggestion.submitted",
            target=order,
            after={
                "requisition": requisition.number,
                "lines": len(inputs),
                "not_ordered": not_ordered,
            },
            org_node=order.site.node,
        )
    return requisition
