"""Closed stock periods: once a store's month is closed, nothing is posted into it.

Finance (or whoever holds `inventory.manage` at the store) closes a store's stock period
through a business date, usually the last day of a month after its closing count. From then on
every posting whose move falls on or before that business date (in the store's time zone and
day cut-off) is refused with `period_closed`, listing every offending line at once; corrections
go into the open period (a reversal dated today). Reopening (closing through an earlier date, or
none) needs a reason; every change is audited and kept as a row, the latest row per store wins.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.accounts.authorization import require_permission
from backroom.audit.services import record_audit
from backroom.events.catalogue import event
from backroom.events.services import publish
from backroom.inventory.models import StockPeriodClose
from backroom.inventory.permissions import INVENTORY_MANAGE
from backroom.kernel.dates import business_date
from backroom.kernel.exceptions import ErrorCollector, ValidationFailed
from backroom.org.models import Site


class PeriodClosed(ValidationFailed):
    """Moves dated into a closed period: every offending line, nothing posted."""

    code = "period_closed"
    default_message = gettext_lazy("The stock period is closed for some lines; nothing was posted.")


@event("inventory.period.closed")
@dataclass(frozen=True)
class StockPeriodClosed:
    """A store's stock period is closed through `closed_through` (null: reopened entirely)."""

    site_id: int
    closed_through: str | None
    previous: str | None


def _latest(site_ids: Iterable[int]) -> QuerySet[StockPeriodClose]:
    """Each store's latest change, in one statement (the latest id per store as a subquery)."""
    latest = (
        StockPeriodClose.objects.filter(site_id__in=set(site_ids))
        .values("site_id")
        .annotate(last=Max("id"))
        .values("last")
    )
    return StockPeriodClose.objects.filter(id__in=latest)


def closed_through(site_ids: Iterable[int]) -> dict[int, dt.date]:
    """The date each store's stock is closed through (stores never closed are absent).

    Read by every posting (`finish_posting`): one query.
    """
    rows = _latest(site_ids).values_list("site_id", "closed_through")
    return {site_id: through for site_id, through in rows if through is not None}


def latest_changes(site_ids: Iterable[int]) -> dict[int, StockPeriodClose]:
    """Each store's latest change (who made it, when), even a reopening; never closed: absent."""
    return {row.site_id: row for row in _latest(site_ids).select_related("created_by")}


def changes(site: Site) -> QuerySet[StockPeriodClose]:
    """Every change of the store's closed date, newest first (scope the site first)."""
    return StockPeriodClose.objects.filter(site=site).select_related("created_by").order_by("-id")


@dataclass(frozen=True)
class DatedMove:
    """What the check needs of a move about to be written."""

    site: Site
    occurred_at: dt.datetime
    line: int | None = None


def check_open(moves: Iterable[DatedMove]) -> None:
    """Refuse, all at once, moves falling on or before their store's closed date."""
    moves = list(moves)
    closed = closed_through({move.site.pk for move in moves})
    if not closed:
        return
    errors = ErrorCollector()
    for index, move in enumerate(moves):
        through = closed.get(move.site.pk)
        if through is None:
            continue
        day = business_date(
            move.occurred_at, time_zone=move.site.time_zone, cutoff_hour=move.site.cutoff_hour
        )
        if day <= through:
            line = move.line if move.line is not None else index
            errors.add(
                f"lines.{line}.occurred_at",
                _("%(site)s is closed through %(date)s; date the move after it.")
                % {"site": move.site.code, "date": through.isoformat()},
            )
    if errors:
        raise PeriodClosed(errors.errors)


def close_period(
    site: Site, *, through: dt.date | None, actor: Any, reason: str = ""
) -> StockPeriodClose:
    """Close the store's stock period through `through`; an earlier date (or None) reopens."""
    require_permission(actor, INVENTORY_MANAGE, site.node)
    with transaction.atomic():
        Site.objects.select_for_update().filter(pk=site.pk).first()  # one change at a time
        previous = closed_through([site.pk]).get(site.pk)
        today = business_date(
            dt.datetime.now(dt.UTC), time_zone=site.time_zone, cutoff_hour=site.cutoff_hour
        )
        errors = ErrorCollector()
        if through is not None and through >= today:
            errors.add("through", _("Only days that have ended can be closed."))
        reopening = previous is not None and (through is None or through < previous)
        if reopening and not reason.strip():
            errors.add("reason", _("Say why the period is reopened."))
        if through is not None and through == previous:
            errors.add("through", _("The period is already closed through this date."))
        errors.raise_if_any()
        row = StockPeriodClose.objects.create(
            site=site,
            closed_through=through,
            reason=reason.strip(),
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        record_audit(
            actor=actor,
            action="inventory.period.reopen" if reopening else "inventory.period.close",
            target=row,
            before={"closed_through": previous.isoformat() if previous else None},
            after={"closed_through": through.isoformat() if through else None},
            reason=reason,
            org_node=site.node,
        )
        publish(
            StockPeriodClosed(
                site_id=site.pk,
                closed_through=through.isoformat() if through else None,
                previous=previous.isoformat() if previous else None,
            ),
            org_node=site.node,
        )
    return row
