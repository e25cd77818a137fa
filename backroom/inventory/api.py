"""Inventory API (mounted at /api/v1/inventory/): locations, on hand, moves, and the ledger's
writes — receipts, consumption, adjustments, transfers, production, reversals, batches and
reservations.

Idempotency: each write takes a `key` in the body (per move in a batch); without one, the
request's `Idempotency-Key` header is used. Keys are namespaced per user, so one client's key
never replays another's moves. A replay answers 200 with `replayed: true`; a first post 201.
"""

import uuid
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Path, Query, Router, Status
from ninja.pagination import paginate

from backroom.config.api_support import ObjectId, Pagination, errors
from backroom.inventory import selectors, services
from backroom.inventory.models import Location, Reservation, StockMove
from backroom.inventory.permissions import INVENTORY_VIEW
from backroom.inventory.schemas import (
    AdjustIn,
    AvailabilityFilter,
    AvailabilityOut,
    BalanceOut,
    BatchIn,
    BatchOut,
    ConsumeIn,
    CostCorrectionIn,
    ExpiringFilter,
    LocationFilter,
    LocationIn,
    LocationOut,
    LocationPatch,
    MoveFilter,
    MoveOut,
    OnHandFilter,
    PostingOut,
    ProduceIn,
    ReceiveIn,
    ReservationEndIn,
    ReservationFilter,
    ReservationIn,
    ReservationOut,
    ReverseIn,
    SourceIn,
    TransferIn,
    TransferReceiptIn,
    availability_row,
    balance_row,
)
from backroom.kernel.exceptions import NotFound
from backroom.org.selectors import get_site

router = Router(tags=["inventory"])


def _key(request: HttpRequest, key: str | None) -> str:
    """The ledger key: the client's key (body, else Idempotency-Key) namespaced by user."""
    raw = key or request.headers.get("Idempotency-Key") or f"auto-{uuid.uuid4().hex}"
    return f"api:u{request.user.pk}:{raw}"


def _source(source: SourceIn | None) -> services.Source | None:
    return services.Source(source.type, source.id, source.number) if source else None


def _posting(result: services.PostingResult) -> Status:
    body = {
        "posting_id": result.posting.pk,
        "operation": result.posting.operation,
        "replayed": result.replayed,
        "move_count": len(result.rows),
        "moves": result.rows,
        "warnings": result.warnings,
    }
    return Status(200 if result.replayed else 201, body)


def _location(request: HttpRequest, location_id: int) -> Location:
    return selectors.get_location(request.user, location_id)


def _site(request: HttpRequest, site_id: int | None) -> Any:
    return get_site(request.user, site_id) if site_id is not None else None


# --- locations -----------------------------------------------------------------------------


@router.get("/locations", response={200: list[LocationOut], **errors(404)})
@paginate(Pagination)
def list_locations(request: HttpRequest, filters: Query[LocationFilter]) -> QuerySet[Location]:
    """Stock locations at the sites the caller may see."""
    rows = selectors.locations_for(request.user, site=_site(request, filters.site_id))
    if filters.kind:
        rows = rows.filter(kind=filters.kind)
    if filters.is_active is not None:
        rows = rows.filter(is_active=filters.is_active)
    return rows


@router.get("/locations/{location_id}", response={200: LocationOut, **errors(404)})
def get_location(request: HttpRequest, location_id: Path[ObjectId]) -> Location:
    return _location(request, location_id)


@router.post("/locations", response={201: LocationOut, **errors(400, 403, 404)})
def create_location(request: HttpRequest, payload: LocationIn) -> Status:
    """Add a location to a site (inventory.manage at the site)."""
    site = get_site(request.user, payload.site_id)
    location = services.create_location(
        site, code=payload.code, name=payload.name, kind=payload.kind, actor=request.user
    )
    return Status(201, location)


@router.patch("/locations/{location_id}", response={200: LocationOut, **errors(400, 403, 404)})
def update_location(
    request: HttpRequest, location_id: Path[ObjectId], payload: LocationPatch
) -> Location:
    """Rename a location, or close/reopen it."""
    location = _location(request, location_id)
    return services.update_location(
        location,
        actor=request.user,
        name=payload.name,
        is_active=payload.is_active,
        reason=payload.reason,
    )


# --- reads ---------------------------------------------------------------------------------


@router.get("/on-hand", response={200: list[BalanceOut], **errors(404)})
@paginate(Pagination)
def list_on_hand(request: HttpRequest, filters: Query[OnHandFilter]) -> list[dict[str, Any]]:
    """On hand by site, location and lot, with value and days to expiry."""
    location = _location(request, filters.location_id) if filters.location_id else None
    rows = selectors.on_hand(
        request.user,
        site=_site(request, filters.site_id),
        location=location,
        lot_id=filters.lot_id,
    )
    if filters.item_id:
        rows = rows.filter(item_id=filters.item_id)
    today = timezone.localdate()
    return _LazyRows(rows, lambda balance: balance_row(balance, today))  # type: ignore[return-value]


@router.get("/expiring", response={200: list[BalanceOut], **errors(404)})
@paginate(Pagination)
def list_expiring(request: HttpRequest, filters: Query[ExpiringFilter]) -> list[dict[str, Any]]:
    """Stock in lots that expire within `within_days` (expired ones first)."""
    today = timezone.localdate()
    rows = selectors.expiring_soon(
        request.user, within_days=filters.within_days, site=_site(request, filters.site_id)
    )
    return _LazyRows(rows, lambda balance: balance_row(balance, today))  # type: ignore[return-value]


@router.get("/items/{item_id}/moves", response={200: list[MoveOut], **errors(404)})
@paginate(Pagination)
def list_item_moves(
    request: HttpRequest, item_id: Path[ObjectId], filters: Query[MoveFilter]
) -> QuerySet[StockMove]:
    """Movement history of an item, newest first; each move names its source document."""
    from backroom.catalog.models import Item

    item = Item.objects.filter(pk=item_id).first()
    if item is None:
        raise NotFound()
    location = _location(request, filters.location_id) if filters.location_id else None
    return selectors.movement_history(
        request.user,
        item,
        site=_site(request, filters.site_id),
        location=location,
        since=filters.since,
        until=filters.until,
    )


@router.get("/moves/{move_id}", response={200: MoveOut, **errors(404)})
def get_move(request: HttpRequest, move_id: Path[ObjectId]) -> StockMove:
    return selectors.get_move(request.user, move_id)


# --- writes --------------------------------------------------------------------------------


@router.post("/receipts", response={200: PostingOut, 201: PostingOut, **errors(400, 403, 404, 409)})
def receive(request: HttpRequest, payload: ReceiveIn) -> Status:
    """Receive stock into a location (and a lot with its expiry)."""
    return _posting(
        services.receive(
            item=payload.item_id,
            location=payload.location_id,
            quantity=payload.quantity,
            unit=payload.unit,
            unit_cost=payload.unit_cost,
            lot_code=payload.lot_code,
            expiry_date=payload.expiry_date,
            source=_source(payload.source),
            occurred_at=payload.occurred_at,
            key=_key(request, payload.key),
            actor=request.user,
        )
    )


@router.post(
    "/consumptions", response={200: PostingOut, 201: PostingOut, **errors(400, 403, 404, 409)}
)
def consume(request: HttpRequest, payload: ConsumeIn) -> Status:
    """Take stock out (first-expiring lot first); 409 insufficient_stock when short."""
    return _posting(
        services.consume(
            item=payload.item_id,
            location=payload.location_id,
            quantity=payload.quantity,
            unit=payload.unit,
            lot_code=payload.lot_code,
            reason=payload.reason,
            source=_source(payload.source),
            occurred_at=payload.occurred_at,
            key=_key(request, payload.key),
            actor=request.user,
        )
    )


@router.post(
    "/adjustments", response={200: PostingOut, 201: PostingOut, **errors(400, 403, 404, 409)}
)
def adjust(request: HttpRequest, payload: AdjustIn) -> Status:
    """Change on hand by a signed quantity."""
    return _posting(
        services.adjust(
            item=payload.item_id,
            location=payload.location_id,
            quantity=payload.quantity,
            unit=payload.unit,
            unit_cost=payload.unit_cost,
            lot_code=payload.lot_code,
            expiry_date=payload.expiry_date,
            reason=payload.reason,
            source=_source(payload.source),
            occurred_at=payload.occurred_at,
            key=_key(request, payload.key),
            actor=request.user,
        )
    )


@router.post(
    "/transfers", response={200: PostingOut, 201: PostingOut, **errors(400, 403, 404, 409)}
)
def transfer(request: HttpRequest, payload: TransferIn) -> Status:
    """Transfer stock; between sites it waits in transit until received."""
    return _posting(
        services.transfer(
            item=payload.item_id,
            from_location=payload.from_location_id,
            to_location=payload.to_location_id,
            quantity=payload.quantity,
            unit=payload.unit,
            lot_code=payload.lot_code,
            source=_source(payload.source),
            occurred_at=payload.occurred_at,
            key=_key(request, payload.key),
            actor=request.user,
        )
    )


@router.post(
    "/transfers/{posting_id}/receipts",
    response={200: PostingOut, 201: PostingOut, **errors(400, 403, 404, 409)},
)
def receive_transfer(
    request: HttpRequest, posting_id: Path[ObjectId], payload: TransferReceiptIn
) -> Status:
    """Receive a transfer (its posting id) at the destination, in full or in part."""
    dispatch = (
        selectors.movement_postings(request.user)
        .filter(pk=posting_id, operation="transfer")
        .first()
    )
    if dispatch is None:
        raise NotFound()
    first = StockMove.objects.filter(posting=dispatch).order_by("id").first()
    if first is None:
        raise NotFound()
    return _posting(
        services.receive_transfer(
            transfer_key=first.source_id,
            location=payload.location_id,
            quantity=payload.quantity,
            key=_key(request, payload.key),
            actor=request.user,
        )
    )


@router.post(
    "/productions", response={200: PostingOut, 201: PostingOut, **errors(400, 403, 404, 409)}
)
def produce(request: HttpRequest, payload: ProduceIn) -> Status:
    """Produce a prepared item from components; its lot carries their summed cost."""
    return _posting(
        services.produce(
            item=payload.item_id,
            location=payload.location_id,
            quantity=payload.quantity,
            unit=payload.unit,
            components=[
                services.ComponentInput(c.item_id, c.quantity, c.unit) for c in payload.components
            ],
            lot_code=payload.lot_code,
            expiry_date=payload.expiry_date,
            source=_source(payload.source),
            occurred_at=payload.occurred_at,
            key=_key(request, payload.key),
            actor=request.user,
        )
    )


@router.post(
    "/moves/{move_id}/reversal",
    response={200: PostingOut, 201: PostingOut, **errors(400, 403, 404, 409)},
)
def reverse_move(request: HttpRequest, move_id: Path[ObjectId], payload: ReverseIn) -> Status:
    """Reverse a move (inventory.manage): the exact opposite, dated now."""
    move = selectors.get_move(request.user, move_id)
    return _posting(
        services.reverse_move(
            move, key=_key(request, payload.key), actor=request.user, reason=payload.reason
        )
    )


@router.post(
    "/moves/{move_id}/cost-correction",
    response={200: PostingOut, 201: PostingOut, **errors(400, 403, 404, 409)},
)
def correct_cost(
    request: HttpRequest, move_id: Path[ObjectId], payload: CostCorrectionIn
) -> Status:
    """Correct a receipt's cost later: revalue what remains, the rest to price variance."""
    move = selectors.get_move(request.user, move_id)
    return _posting(
        services.correct_receipt_cost(
            move,
            unit_cost=payload.unit_cost,
            key=_key(request, payload.key),
            actor=request.user,
            reason=payload.reason,
        )
    )


@router.post("/batches", response={200: BatchOut, 201: BatchOut, **errors(400, 403, 404, 409)})
def post_batch(request: HttpRequest, payload: BatchIn, moves: bool = False) -> Status:
    """Post up to 5,000 lines at once, all or nothing; every bad line is reported together."""
    prefix = f"api:u{request.user.pk}:"
    move = services.MoveInput
    # The collector is held off while the inputs are built and posted, and until the batch's
    # objects are freed (see `services.collector_paused`): otherwise building 5,000 inputs sets
    # off collections that walk the whole process, and the first collection after the pause
    # walks every object the batch still holds.
    with services.collector_paused():
        lines = [
            move(
                action,
                item_id,
                location_id,
                quantity,
                prefix + key,
                unit,
                unit_cost,
                lot_code,
                expiry_date,
                reason,
                None if source is None else _source(source),
                occurred_at,
            )
            for (
                action,
                item_id,
                location_id,
                quantity,
                key,
                unit,
                unit_cost,
                lot_code,
                expiry_date,
                reason,
                source,
                occurred_at,
            ) in payload.plain()
        ]
        result = services.post_moves(lines, actor=request.user)
        response = _posting(result)
        if not moves:
            response.value["moves"] = None
        del lines, result
    return response


# --- reservations --------------------------------------------------------------------------


@router.get("/reservations", response={200: list[ReservationOut], **errors(404)})
@paginate(Pagination)
def list_reservations(
    request: HttpRequest, filters: Query[ReservationFilter]
) -> QuerySet[Reservation]:
    return selectors.reservations_for(
        request.user, site=_site(request, filters.site_id), active_only=bool(filters.active)
    )


@router.post(
    "/reservations",
    response={200: ReservationOut, 201: ReservationOut, **errors(400, 403, 404, 409)},
)
def reserve(request: HttpRequest, payload: ReservationIn) -> Status:
    """Reserve stock for an order; refused with insufficient_stock beyond available-to-promise."""
    site = get_site(request.user, payload.site_id)
    location = _location(request, payload.location_id) if payload.location_id else None
    key = _key(request, payload.key)
    existed = Reservation.objects.filter(idempotency_key=key).exists()
    reservation = services.reserve(
        item=payload.item_id,
        site=site,
        location=location,
        quantity=payload.quantity,
        unit=payload.unit,
        source=_source(payload.source),
        expires_at=payload.expires_at,
        key=key,
        actor=request.user,
    )
    return Status(200 if existed else 201, reservation)


@router.post(
    "/reservations/{reservation_id}/end",
    response={200: ReservationOut, **errors(400, 403, 404, 409)},
)
def end_reservation(
    request: HttpRequest, reservation_id: Path[ObjectId], payload: ReservationEndIn
) -> Reservation:
    """Release a reservation, or mark it fulfilled."""
    reservation = selectors.get_reservation(request.user, reservation_id)
    return services.end_reservation(
        reservation, actor=request.user, status=payload.status, reason=payload.reason
    )


@router.get("/available", response={200: list[AvailabilityOut], **errors(403, 404)})
@paginate(Pagination)
def list_available(
    request: HttpRequest, filters: Query[AvailabilityFilter]
) -> list[dict[str, Any]]:
    """Available-to-promise per item at a site (inventory.view there), by SKU: on hand in the
    site's locations (in transit left out) − active, unexpired reservations, never clipped at
    zero. With `location_id`: that location's stock, less its own and the site-wide
    reservations. Repeat `item_id` for several items; without it, every item with stock or
    reservations at the site."""
    site = get_site(request.user, filters.site_id)
    location = _location(request, filters.location_id) if filters.location_id else None
    rows = selectors.available_stock(
        request.user, site, item_ids=filters.item_id or None, location=location
    )
    return [availability_row(row) for row in rows]


class _LazyRows:
    """A queryset mapped row by row after pagination slices it (so only one page is built)."""

    def __init__(self, queryset: QuerySet[Any], convert: Any) -> None:
        self.queryset = queryset
        self.convert = convert

    def __len__(self) -> int:
        return self.queryset.count()

    def count(self) -> int:
        return self.queryset.count()

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self.convert(row) for row in self.queryset[index]]
        return self.convert(self.queryset[index])


__all__ = ["INVENTORY_VIEW", "router"]


# --- counts (盘点) -------------------------------------------------------------------------
# Counting needs inventory.count at the site; approving variances above the threshold
# inventory.manage. Reading a sheet needs inventory.view; another store's sheet is a 404.

from backroom.inventory import counts as count_reads  # noqa: E402
from backroom.inventory.models import CountSheet  # noqa: E402
from backroom.inventory.schemas import (  # noqa: E402
    CountCancelIn,
    CountFilter,
    CountIn,
    CountPostIn,
    CountRecordIn,
    CountSheetDetailOut,
    CountSheetOut,
)


def _sheet(request: HttpRequest, sheet_id: int) -> CountSheet:
    return count_reads.get_count_sheet(request.user, sheet_id)


@router.get("/counts", response={200: list[CountSheetOut], **errors(404)})
@paginate(Pagination)
def list_counts(request: HttpRequest, filters: Query[CountFilter]) -> QuerySet[CountSheet]:
    """Count sheets at the sites the caller may see, newest first."""
    return count_reads.count_sheets_for(
        request.user, site=_site(request, filters.site_id), status=filters.status
    ).prefetch_related("locations")


@router.post("/counts", response={201: CountSheetOut, **errors(400, 403, 404, 409)})
def create_count(request: HttpRequest, payload: CountIn) -> Status:
    """Create a count (and by default start it: theoretical quantities frozen now)."""
    site = get_site(request.user, payload.site_id)
    template = None
    if payload.template_id is not None:
        template = _template_of_site(request, payload.template_id, site.pk)
    sheet = services.create_count(
        site,
        actor=request.user,
        kind=payload.kind,
        location_ids=payload.location_ids,
        item_ids=payload.item_ids,
        review_threshold=payload.review_threshold,
        template=template,
    )
    if payload.start:
        sheet = services.start_count(sheet, actor=request.user)
    return Status(201, sheet)


@router.get("/counts/{sheet_id}", response={200: CountSheetDetailOut, **errors(404)})
def get_count(request: HttpRequest, sheet_id: Path[ObjectId]) -> CountSheet:
    """A count sheet with its lines in shelf order."""
    return _sheet(request, sheet_id)


@router.post(
    "/counts/{sheet_id}/start", response={200: CountSheetOut, **errors(400, 403, 404, 409)}
)
def start_count(request: HttpRequest, sheet_id: Path[ObjectId]) -> CountSheet:
    """Start counting a draft: freeze the theoretical quantities."""
    return services.start_count(_sheet(request, sheet_id), actor=request.user)


@router.post(
    "/counts/{sheet_id}/lines", response={200: CountSheetOut, **errors(400, 403, 404, 409)}
)
def record_counts(
    request: HttpRequest, sheet_id: Path[ObjectId], payload: CountRecordIn
) -> CountSheet:
    """Record counted quantities in count units (3 case + 4 bag) on up to 5,000 lines at once;
    every bad line is reported together and nothing is saved."""
    return services.record_counts(
        _sheet(request, sheet_id),
        [
            services.LineCount(
                line.line_id,
                [services.CountEntry(entry.unit, entry.quantity) for entry in line.entries],
            )
            for line in payload.lines
        ],
        actor=request.user,
    )


@router.post(
    "/counts/{sheet_id}/submit", response={200: CountSheetOut, **errors(400, 403, 404, 409)}
)
def submit_count(request: HttpRequest, sheet_id: Path[ObjectId]) -> CountSheet:
    """Close counting; flags `requires_review` when a variance is above the threshold."""
    return services.submit_count(_sheet(request, sheet_id), actor=request.user)


@router.post("/counts/{sheet_id}/post", response={200: CountSheetOut, **errors(400, 403, 404, 409)})
def post_count(request: HttpRequest, sheet_id: Path[ObjectId], payload: CountPostIn) -> CountSheet:
    """Post the variances to the ledger; 409 count_review_required above the threshold unless
    `approved` (inventory.manage). Posting again returns the posted sheet."""
    return services.post_count(
        _sheet(request, sheet_id), actor=request.user, approved=payload.approved
    )


@router.post(
    "/counts/{sheet_id}/cancel", response={200: CountSheetOut, **errors(400, 403, 404, 409)}
)
def cancel_count(
    request: HttpRequest, sheet_id: Path[ObjectId], payload: CountCancelIn
) -> CountSheet:
    """Abandon a count that is not posted."""
    return services.cancel_count(
        _sheet(request, sheet_id), actor=request.user, reason=payload.reason
    )


# --- count templates (盘点模板) -----------------------------------------------------------------
# Reading needs inventory.view at the site; creating, changing and archiving inventory.manage.

from backroom.inventory.counts import UnknownCountTemplate  # noqa: E402
from backroom.inventory.models import CountTemplate  # noqa: E402
from backroom.inventory.schemas import (  # noqa: E402
    CountTemplateDetailOut,
    CountTemplateFilter,
    CountTemplateIn,
    CountTemplateLineIn,
    CountTemplateOut,
    CountTemplatePatch,
)


def _template_lines(lines: list[CountTemplateLineIn]) -> list[services.TemplateLineInput]:
    return [
        services.TemplateLineInput(
            location_id=line.location_id,
            item_id=line.item_id,
            shelf_order=line.shelf_order,
            count_units=line.count_units,
        )
        for line in lines
    ]


def _template_of_site(request: HttpRequest, template_id: int, site_id: int) -> CountTemplate:
    try:
        template = count_reads.get_count_template(request.user, template_id)
    except NotFound:
        raise UnknownCountTemplate(template_id) from None
    if template.site_id != site_id:
        raise UnknownCountTemplate(template_id)
    return template


@router.get("/count-templates", response={200: list[CountTemplateOut], **errors(404)})
@paginate(Pagination)
def list_count_templates(
    request: HttpRequest, filters: Query[CountTemplateFilter]
) -> QuerySet[CountTemplate]:
    """Count templates at the sites the caller may see (active ones unless asked)."""
    return count_reads.count_templates_for(
        request.user,
        site=_site(request, filters.site_id),
        include_archived=filters.include_archived,
    )


@router.post(
    "/count-templates", response={201: CountTemplateDetailOut, **errors(400, 403, 404, 409)}
)
def create_count_template(request: HttpRequest, payload: CountTemplateIn) -> Status:
    """Create a count template; every bad line is reported together and nothing is saved."""
    site = get_site(request.user, payload.site_id)
    template = services.create_count_template(
        site,
        actor=request.user,
        name=payload.name,
        kind=payload.kind,
        lines=_template_lines(payload.lines),
    )
    return Status(201, count_reads.get_count_template(request.user, template.pk))


@router.get("/count-templates/{template_id}", response={200: CountTemplateDetailOut, **errors(404)})
def get_count_template(request: HttpRequest, template_id: Path[ObjectId]) -> CountTemplate:
    """A count template with its lines in walk order."""
    return count_reads.get_count_template(request.user, template_id)


@router.patch(
    "/count-templates/{template_id}",
    response={200: CountTemplateDetailOut, **errors(400, 403, 404, 409)},
)
def update_count_template(
    request: HttpRequest, template_id: Path[ObjectId], payload: CountTemplatePatch
) -> CountTemplate:
    """Rename a template, change its kind or replace its lines."""
    template = services.update_count_template(
        count_reads.get_count_template(request.user, template_id),
        actor=request.user,
        name=payload.name,
        kind=payload.kind,
        lines=_template_lines(payload.lines) if payload.lines is not None else None,
    )
    return count_reads.get_count_template(request.user, template.pk)


@router.post(
    "/count-templates/{template_id}/archive",
    response={200: CountTemplateOut, **errors(400, 403, 404, 409)},
)
def archive_count_template(request: HttpRequest, template_id: Path[ObjectId]) -> CountTemplate:
    """Archive a template: no new count starts from it."""
    template = services.archive_count_template(
        count_reads.get_count_template(request.user, template_id), actor=request.user
    )
    return count_reads.get_count_template(request.user, template.pk)


# --- waste records and transfer orders: backroom/inventory/api_documents.py ------------------
from backroom.inventory.api_documents import router as documents_router  # noqa: E402

router.add_router("", documents_router)
router.add_router("/reports", "backroom.inventory.api_reports.router")  # stock reports, AvT
router.add_router("", "backroom.inventory.api_periods.router")  # closed stock periods
