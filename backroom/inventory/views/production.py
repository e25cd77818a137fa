"""Production (prep) pages, phone first: the recent productions at the user's stores, and a form
to record one — a prepared item made at a location, its recipe's ingredients consumed.

The form shows what the production will use before it is posted: the recipe explosion
(`catalog.recipes.explode`, the same function whose result is posted as the components), the
stock on hand at the location and what is short. It refreshes with HTMX when the item, quantity,
unit or location change ("Update preview" re-renders the page without JavaScript). A hidden
idempotency key, made when the form is drawn, goes with the post: a double tap or a resubmitted
form replays the first posting instead of producing twice.

Thin views: they parse what was typed, call `services.produce` and render; every error the
page can see (no item, a unit the item lacks, no recipe) is shown at once, and the service's
own refusals (short of stock, a closed period) next to the form, with nothing posted.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from backroom.catalog.choices import ItemKind
from backroom.catalog.models import Item, Recipe
from backroom.catalog.recipes import explode
from backroom.catalog.selectors import items_for
from backroom.catalog.selectors import site_today as business_date_at
from backroom.catalog.units import to_base
from backroom.inventory import selectors, services
from backroom.inventory.choices import LocationKind, MoveReason, PostingOperation
from backroom.inventory.ledger import site_today
from backroom.inventory.models import Location, Lot, StockMove, StockPosting
from backroom.inventory.permissions import INVENTORY_MOVE, INVENTORY_VIEW
from backroom.inventory.views.exporting import EXPORT_CHUNK, store_time
from backroom.kernel.exceptions import DomainError
from backroom.kernel.money import QUANTITY_PLACES, to_decimal
from backroom.web.errors import page, problem_messages
from backroom.web.exports import Column, export_format, export_table
from backroom.web.forms import posted_id
from backroom.web.rendering import render_page

PAGE_SIZE = 30
LOT_CODE_LENGTH = 60
ZERO = Decimal(0)
FIELDS = ["location_id", "item_id", "quantity", "unit", "lot_code", "expiry_date"]
_KEY = re.compile(r"[0-9a-f]{32}")
_QUANTITY_STEP = Decimal(1).scaleb(-QUANTITY_PLACES)


def _typed(raw: str) -> str:
    """What was typed, with a decimal comma read as a point (2,5 → 2.5)."""
    value = raw.strip().replace(" ", "")
    if value.count(",") == 1 and "." not in value:
        value = value.replace(",", ".")
    return value


def _shown(quantity: Decimal) -> str:
    """A quantity as a cook reads it: at most 3 places, no trailing zeros (1.5, not 1.500)."""
    rounded = quantity.quantize(Decimal("0.001")).normalize()
    return f"{rounded:f}"


def _ledger_key(request: HttpRequest, raw: str) -> str:
    """The form's key namespaced by user: one user's form never replays another's posting."""
    return f"page:u{request.user.pk}:production:{raw}"


# --- the list ---------------------------------------------------------------------------------


@dataclass
class ProductionRow:
    """One production: its posting (store, currency) and the move that made the product."""

    posting: StockPosting
    move: StockMove

    @property
    def currency(self) -> str:
        site = self.posting.site
        return str(site.legal_entity.base_currency) if site is not None else ""


def _site_currency(move: StockMove) -> str:
    return str(move.site.legal_entity.base_currency)


PRODUCTION_COLUMNS = [
    Column(gettext_lazy("Produced at"), lambda move: store_time(move.occurred_at, move.site)),
    Column(gettext_lazy("Store code"), lambda move: move.site.node.code),
    Column(gettext_lazy("Store"), lambda move: move.site.node.name),
    Column(gettext_lazy("Location"), lambda move: move.location.code),
    Column(gettext_lazy("SKU"), lambda move: move.item.sku),
    Column(gettext_lazy("Item"), lambda move: move.item.name),
    Column(gettext_lazy("Quantity"), lambda move: move.quantity),
    Column(gettext_lazy("Unit"), lambda move: move.item.base_unit.code),
    Column(gettext_lazy("Lot"), lambda move: move.lot.code if move.lot else ""),
    Column(gettext_lazy("Use by"), lambda move: move.lot.expiry_date if move.lot else None),
    Column(gettext_lazy("Unit cost"), lambda move: move.unit_cost),
    Column(gettext_lazy("Value"), lambda move: move.value),
    Column(gettext_lazy("Currency"), _site_currency),
    Column(gettext_lazy("Reversed"), lambda move: move.is_reversed),
    Column(gettext_lazy("Recorded by"), lambda move: str(move.posting.actor or "")),
    Column(gettext_lazy("Posting"), lambda move: move.posting_id),
]


@page(INVENTORY_VIEW)
def production_list(request: HttpRequest) -> HttpResponse:
    """The productions at the stores the user may see, newest first, a page at a time;
    `?export=xlsx|csv` downloads every one of them (the product made by each)."""
    postings = (
        selectors.movement_postings(request.user)
        .filter(operation=PostingOperation.PRODUCE)
        .select_related("site__node", "site__legal_entity")
        .order_by("-id")
    )
    if wanted := export_format(request):
        products = (
            StockMove.objects.filter(
                posting__in=postings.values("pk"), reason=MoveReason.PRODUCTION
            )
            .select_related(
                "site__node",
                "site__legal_entity",
                "item__base_unit",
                "location",
                "lot",
                "posting__actor",
            )
            .annotate(is_reversed=Exists(StockMove.objects.filter(reverses=OuterRef("pk"))))
            .order_by("-posting_id", "key_line", "pk")
        )
        return export_table(
            wanted, "production", PRODUCTION_COLUMNS, products.iterator(chunk_size=EXPORT_CHUNK)
        )
    page_obj = Paginator(postings, PAGE_SIZE).get_page(request.GET.get("page"))
    shown = list(page_obj.object_list)
    made = {
        move.posting_id: move
        for move in StockMove.objects.filter(
            posting_id__in=[posting.pk for posting in shown], reason=MoveReason.PRODUCTION
        )
        .select_related("item__base_unit", "location", "lot")
        .annotate(is_reversed=Exists(StockMove.objects.filter(reverses=OuterRef("pk"))))
    }
    rows = [ProductionRow(posting, made[posting.pk]) for posting in shown if posting.pk in made]
    return render_page(
        request,
        "inventory/production_list.html",
        {
            "title": _("Production"),
            "page_obj": page_obj,
            "rows": rows,
            "may_record": request.user.has_scoped_permission(INVENTORY_MOVE),  # type: ignore[union-attr]
        },
        partial="productions",
    )


# --- the form ---------------------------------------------------------------------------------


@dataclass
class ComponentRow:
    """What the production takes of one stocked item at the location, in its base unit."""

    item: Item
    quantity: Decimal
    on_hand: Decimal | None = None  # None: no location chosen yet
    average_cost: Decimal | None = None

    @property
    def short_by(self) -> Decimal:
        if self.on_hand is None:
            return ZERO
        return max(self.quantity - max(self.on_hand, ZERO), ZERO)

    @property
    def quantity_text(self) -> str:
        return _shown(self.quantity)

    @property
    def on_hand_text(self) -> str:
        return _shown(self.on_hand) if self.on_hand is not None else ""

    @property
    def short_text(self) -> str:
        return _shown(self.short_by)

    @property
    def value(self) -> Decimal | None:
        if self.average_cost is None:
            return None
        return self.quantity * self.average_cost


@dataclass
class ProductionForm:
    """The form as typed, what it resolves to, and its problems."""

    values: dict[str, str]
    location: Location | None = None
    item: Item | None = None
    quantity: Decimal | None = None  # in the typed unit
    base_quantity: Decimal | None = None
    expiry_date: dt.date | None = None
    default_expiry: dt.date | None = None  # from the item's shelf life when none is typed
    components: list[ComponentRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    @property
    def unit_code(self) -> str:
        if self.get("unit"):
            return self.get("unit")
        return self.item.base_unit.code if self.item is not None else ""

    @property
    def quantity_text(self) -> str:
        return _shown(self.quantity) if self.quantity is not None else ""

    @property
    def currency(self) -> str:
        return str(self.location.site.legal_entity.base_currency) if self.location else ""

    @property
    def estimated_value(self) -> Decimal | None:
        values = [row.value for row in self.components]
        if not values or any(value is None for value in values):
            return None
        return sum((value for value in values if value is not None), ZERO)

    @property
    def short_rows(self) -> list[ComponentRow]:
        return [row for row in self.components if row.short_by > 0]


def _locations(request: HttpRequest) -> list[Location]:
    """Open stock locations where the user may move stock, grouped by site in the select."""
    return list(
        selectors.locations_for(request.user, INVENTORY_MOVE)
        .filter(is_active=True)
        .exclude(kind=LocationKind.IN_TRANSIT)
        .select_related("site__node", "site__legal_entity")
    )


def _prepared_items(request: HttpRequest, on: dt.date) -> list[Item]:
    """Active prepared items with a recipe version effective on `on`."""
    current = Recipe.objects.filter(item=OuterRef("pk"), effective_from__lte=on).filter(
        Q(effective_to__isnull=True) | Q(effective_to__gt=on)
    )
    return list(
        items_for(request.user)
        .filter(is_active=True, kind=ItemKind.PREPARED)
        .filter(Exists(current))
        .order_by("name", "sku")
    )


def _choose_location(request: HttpRequest, raw: str, locations: list[Location]) -> Location | None:
    location_id = posted_id(raw) or 0
    if not location_id:
        return None
    found = next((location for location in locations if location.pk == location_id), None)
    if found is None:
        # Another store's location is a 404 (telling nothing); the user's own closed or
        # in-transit location is refused as an error below.
        found = selectors.get_location(request.user, location_id, INVENTORY_MOVE)
    return found


def _read(
    request: HttpRequest,
    data: Any,
    location: Location | None,
    locations: list[Location],
    items: list[Item],
    *,
    strict: bool,
) -> ProductionForm:
    """Parse the form and explode the recipe; `strict` reports the fields left empty too."""
    form = ProductionForm({name: str(data.get(name, "")).strip() for name in FIELDS})
    form.location = location
    if form.location is not None and form.location not in locations:
        form.errors.append(_("Choose an open stock location."))
    elif form.location is None and strict:
        form.errors.append(_("Choose a location."))
    item_id = posted_id(form.get("item_id")) or 0
    if item_id:
        form.item = next((item for item in items if item.pk == item_id), None)
        if form.item is None:
            form.errors.append(_("Choose a prepared item that has a recipe."))
    elif strict:
        form.errors.append(_("Choose a prepared item."))
    typed = _typed(form.get("quantity"))
    if typed:
        try:
            quantity = to_decimal(typed, field="quantity")
        except DomainError as error:
            form.errors.extend(problem_messages(error))
        else:
            if quantity <= 0:
                form.errors.append(_("The quantity must be more than zero."))
            else:
                form.quantity = quantity.quantize(_QUANTITY_STEP)
    elif strict:
        form.errors.append(_("Type the quantity made."))
    lot_code = form.get("lot_code")
    if len(lot_code) > LOT_CODE_LENGTH:
        form.errors.append(
            _("A lot code has at most %(count)s characters.") % {"count": LOT_CODE_LENGTH}
        )
    if form.get("expiry_date"):
        try:
            form.expiry_date = dt.date.fromisoformat(form.get("expiry_date"))
        except ValueError:
            form.errors.append(_("The expiry date is not a date."))
    if form.item is None or form.quantity is None:
        return form
    unit = form.get("unit")
    try:
        # As the service reads the product's quantity: the base unit unless another is given.
        form.base_quantity = (
            to_base(form.item, form.quantity, unit)
            if unit and unit != form.item.base_unit.code
            else form.quantity
        )
        site = form.location.site if form.location is not None else None
        used = explode(form.item, form.base_quantity, site=site)
    except DomainError as error:
        form.errors.extend(problem_messages(error))
        return form
    _fill_components(request, form, {item_id: q for item_id, q in used.items() if q > 0})
    if not form.components:
        form.errors.append(
            _("The recipe of %(item)s uses nothing kept in stock.") % {"item": form.item.sku}
        )
    if form.location is not None and form.expiry_date is None and form.item.shelf_life_days:
        form.default_expiry = site_today(form.location) + dt.timedelta(
            days=form.item.shelf_life_days
        )
    return form


def _fill_components(request: HttpRequest, form: ProductionForm, used: dict[int, Decimal]) -> None:
    """The exploded quantities as rows, with what the location holds of each."""
    components = {item.pk: item for item in items_for(request.user).filter(pk__in=used)}
    held: dict[int, Any] = {}
    if form.location is not None:
        held = {
            row.item_id: row
            for row in selectors.valuations(request.user, site=form.location.site).filter(
                location=form.location, item_id__in=used
            )
        }
    for item_id, quantity in used.items():
        valuation = held.get(item_id)
        form.components.append(
            ComponentRow(
                item=components[item_id],
                quantity=quantity,
                on_hand=(valuation.quantity if valuation else ZERO)
                if form.location is not None
                else None,
                average_cost=valuation.average_cost if valuation else None,
            )
        )
    form.components.sort(key=lambda row: row.item.sku)


def _record(request: HttpRequest, form: ProductionForm, key: str) -> services.PostingResult:
    assert form.item is not None and form.location is not None and form.quantity is not None
    return services.produce(
        item=form.item,
        location=form.location,
        quantity=form.quantity,
        unit=form.get("unit") or None,
        components=[services.ComponentInput(row.item.pk, row.quantity) for row in form.components],
        lot_code=form.get("lot_code") or None,
        expiry_date=form.expiry_date,
        key=_ledger_key(request, key),
        actor=request.user,
    )


def _say_done(request: HttpRequest, form: ProductionForm, result: services.PostingResult) -> None:
    if result.replayed:
        messages.info(request, _("This production was already recorded; nothing was posted twice."))
        return
    made = next(move for move in result.moves if move.reason == MoveReason.PRODUCTION)
    lot = Lot.objects.get(pk=made.lot_id).code if made.lot_id is not None else ""
    assert form.item is not None and form.quantity is not None
    messages.success(
        request,
        _("%(quantity)s %(unit)s of %(item)s produced, lot %(lot)s.")
        % {
            "quantity": f"{form.quantity.normalize():f}",
            "unit": form.unit_code,
            "item": form.item.name,
            "lot": lot,
        },
    )
    if result.warnings:
        messages.warning(
            request,
            _("Some ingredients went below zero on hand at %(location)s: count them soon.")
            % {"location": form.location},
        )


@page(INVENTORY_MOVE)
@require_http_methods(["GET", "POST"])
def production_new(request: HttpRequest) -> HttpResponse:
    """Record a production: location, prepared item, quantity and unit, optional lot and
    expiry; the ingredients it will use are previewed (an HTMX fragment) before posting."""
    data = request.POST if request.method == "POST" else request.GET
    locations = _locations(request)
    chosen = _choose_location(request, data.get("location_id", ""), locations)
    if chosen is None and len(locations) == 1:
        chosen = locations[0]
    place = chosen or (locations[0] if locations else None)
    # Recipes are chain-wide; the store's business date decides which version is current.
    items = _prepared_items(request, business_date_at(place.site if place is not None else None))
    key = data.get("key", "")
    posting = request.method == "POST" and "preview" not in data
    form = _read(request, data, chosen, locations, items, strict=posting)
    status = 200
    if posting:
        if not _KEY.fullmatch(key):
            form.errors.append(_("This form is out of date: check it and record again."))
        if not form.errors:
            try:
                result = _record(request, form, key)
            except DomainError as error:
                if error.http_status in (403, 404):
                    raise
                form.errors.extend(problem_messages(error))
            else:
                _say_done(request, form, result)
                return redirect("inventory:production_list")
        status = 422
    if not _KEY.fullmatch(key):
        key = uuid.uuid4().hex
    return render_page(
        request,
        "inventory/production_new.html",
        {
            "title": _("Record production"),
            "locations": locations,
            "items": items,
            "form": form,
            "key": key,
            "is_preview": not posting,
        },
        partial="preview",
        status=status,
    )


urlpatterns = [
    path("production/", production_list, name="production_list"),
    path("production/new/", production_new, name="production_new"),
]
