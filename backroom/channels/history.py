"""History import: sales from before a store went live on Backroom, as completed orders that
count in the sales rollups but never touch stock (docs/decisions/0007-sales-history-without-depletion.md).

A chain going live brings its past sales (a POS export, the platforms' order lists) so that
the sales pages, rollups and forecasts start with history. Those sales happened before the
stock ledger knew the store: depleting them now would take today's stock for food sold weeks
ago. So `import_history` stores them as orders flagged `is_history`:

- completed at their own time, business date from the store's day and cut-off, lines mapped
  through the account's menu mappings as the intake maps them (`intake.resolve_codes`; an
  unknown SKU is kept as an unmapped line, counted in the rollups' unmapped bucket);
- never reserved, never depleted (not now, not when a mapping is saved later:
  `services.save_mapping` skips them), no inbox message and no per-order events; one history
  row per order says where it came from;
- in the rollups at once, set-wise (`rollups.refresh_orders_sales` on the orders in hand,
  `rollups.fresh_orders`), with their net sales kept
  apart in `SalesDay.history_net` so the AvT's "% of sales" does not count them;
- idempotent on (account, external id) like every order: ids already present are replays and
  change nothing.

Bulk inserts throughout (orders, lines, history rows, rollups): a demo's 60 days × 14 stores
(about 90,000 orders) take well under a minute on SQLite.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.audit.services import record_audit
from backroom.channels import intake, rollups
from backroom.channels.choices import OrderStatus
from backroom.channels.events import HistoryImported
from backroom.channels.models import ChannelAccount, Order, OrderHistory, OrderLine
from backroom.channels.permissions import CHANNELS_MANAGE
from backroom.channels.platforms.base import CanonicalOrder, EventKind, PlatformEvent
from backroom.events.services import publish
from backroom.kernel.bulk import insert_rows
from backroom.kernel.dates import business_date
from backroom.kernel.exceptions import ValidationFailed

EVENT_KEY = "history"
MAX_ORDERS = 200_000
CHUNK = 2000


@dataclass(frozen=True)
class HistoryResult:
    created: int
    replayed: int
    first_day: dt.date | None
    last_day: dt.date | None


class HistoryRejected(ValidationFailed):
    """Orders that cannot be imported as history, every one listed (`details.orders`, the
    first 200, and `details.count`); nothing was imported."""

    code = "history_rejected"

    def __init__(self, problems: list[dict[str, object]]) -> None:
        super().__init__(
            {},
            message=_("%(count)s orders cannot be imported as history; nothing was imported.")
            % {"count": len(problems)},
        )
        self.details["orders"] = problems[:200]
        self.details["count"] = len(problems)


def _check(account: ChannelAccount, orders: Sequence[CanonicalOrder], today: dt.date) -> None:
    site = account.site
    problems: list[dict[str, object]] = []
    seen: set[str] = set()
    for index, order in enumerate(orders):
        reasons = []
        if not order.external_id or len(order.external_id) > 64:
            reasons.append(_("An external id of 1 to 64 characters is required."))
        elif order.external_id in seen:
            reasons.append(_("The external id is repeated in the import."))
        seen.add(order.external_id)
        if order.placed_at.tzinfo is None:
            reasons.append(_("The time has no time zone."))
        elif (
            business_date(order.placed_at, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
            >= today
        ):
            reasons.append(_("History ends before the store's current business day."))
        if not order.lines:
            reasons.append(_("An order needs at least one line."))
        if any(line.quantity <= 0 for line in order.lines):
            reasons.append(_("Quantities must be above zero."))
        if reasons:
            problems.append({"index": index, "external_id": order.external_id, "problems": reasons})
    if problems:
        raise HistoryRejected(problems)


def import_history(
    account: ChannelAccount,
    orders: Sequence[CanonicalOrder],
    *,
    actor: object,
    today: dt.date,
    source: str = "",
) -> HistoryResult:
    """Import completed sales from before go-live into `account` (see the module): all or
    nothing, every problem reported at once; orders whose external id the account already has
    are replays. `today` is the store's current business day: history must end before it.
    `source` names where the sales came from (kept on each order's history row)."""
    require_permission(actor, CHANNELS_MANAGE, account.site.node)
    if len(orders) > MAX_ORDERS:
        raise ValidationFailed(
            {"orders": [_("At most %(count)s orders per import.") % {"count": MAX_ORDERS}]}
        )
    _check(account, orders, today)
    site = account.site
    created = 0
    days: set[dt.date] = set()
    with transaction.atomic():
        existing: set[str] = set()
        ids = [order.external_id for order in orders]
        for start in range(0, len(ids), CHUNK):
            existing.update(
                Order.objects.filter(
                    intake.by_external_ids(account, ids[start : start + CHUNK])
                ).values_list("external_id", flat=True)
            )
        new = [order for order in orders if order.external_id not in existing]
        skus = {line.external_sku for order in new for line in order.lines}
        modifier_codes = {m.code for order in new for line in order.lines for m in line.modifiers}
        items, modifiers = intake.resolve_codes(account, skus, modifier_codes)
        for start in range(0, len(new), CHUNK):
            created += _insert(account, new[start : start + CHUNK], items, modifiers, source)
        days = {
            business_date(order.placed_at, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
            for order in new
        }
        if created:
            record_audit(
                actor=actor,
                action="channels.history.import",
                target=account,
                after={
                    "orders": created,
                    "replayed": len(orders) - created,
                    "first_day": str(min(days)),
                    "last_day": str(max(days)),
                    "source": source[:200],
                },
                org_node=site.node,
            )
            publish(
                HistoryImported(
                    account_id=account.pk,
                    site_id=site.pk,
                    orders=created,
                    first_day=str(min(days)),
                    last_day=str(max(days)),
                ),
                org_node=site.node,
            )
    return HistoryResult(
        created=created,
        replayed=len(orders) - created,
        first_day=min(days) if days else None,
        last_day=max(days) if days else None,
    )


def _insert(
    account: ChannelAccount,
    chunk: Sequence[CanonicalOrder],
    items: dict[str, intake.Resolved],
    modifiers: dict[str, str],
    source: str,
) -> int:
    built: list[tuple[Order, list[OrderLine]]] = []
    for data in chunk:
        event = PlatformEvent(
            kind=EventKind.ORDER_PLACED,
            external_order_id=data.external_id,
            event_key=EVENT_KEY,
            raw_type="history",
            occurred_at=data.placed_at,
            status=OrderStatus.COMPLETED,
            order=data,
        )
        # The intake's own mapping of a canonical order (lines, modifiers, money, business day).
        order, lines, _status = intake._build_order(account, data, event, items, modifiers)
        order.status = OrderStatus.COMPLETED
        order.completed_at = data.placed_at
        order.status_changed_at = data.placed_at
        order.is_history = True
        built.append((order, lines))
    # kernel.bulk's insert (COPY on PostgreSQL, executemany on SQLite): as `bulk_create`.
    insert_rows([order for order, _lines in built], ids=True)
    lines_to_save: list[OrderLine] = []
    for order, lines in built:
        for line in lines:
            line.order = order
            lines_to_save.append(line)
    insert_rows(lines_to_save, ids=False)
    note = _("Imported history before go-live: never depleted.")
    if source:
        note = f"{note} ({source})"
    now = timezone.now()
    insert_rows(
        [
            OrderHistory(
                order=order,
                event_key=EVENT_KEY,
                event_kind="history_imported",
                raw_type="history",
                from_status="",
                to_status=OrderStatus.COMPLETED,
                is_applied=True,
                note=note[:500],
                event={},
                occurred_at=order.placed_at,
                recorded_at=now,
            )
            for order, _lines in built
        ],
        ids=False,
    )
    # Into the rollups set-wise, from the objects in hand (no reading back).
    with rollups.fresh_orders(built):
        rollups.refresh_orders_sales([order.pk for order, _lines in built])
    return len(built)
