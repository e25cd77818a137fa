"""Monthly periods per legal entity: open → soft-closed → closed, in date order.

- Open: any posting. Soft-closed: only those who close the books (`finance.close`) post into it;
  operations' automatic postings go to the first open period. Closed: nothing posts into it.
- A period closes only after every earlier period is closed; reopening needs a reason and goes
  one step back (closed → soft-closed → open), the latest period first.
- A reversal or a late document dated into a period it may not post into moves to the first
  day of the first period it may post into (`postable_date`), never into a closed one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.audit.services import record_audit
from backroom.events.services import publish
from backroom.finance.choices import PeriodStatus
from backroom.finance.events import PeriodChanged
from backroom.finance.exceptions import PeriodClosed
from backroom.finance.models import Period
from backroom.finance.permissions import FINANCE_CLOSE
from backroom.finance.services import as_user
from backroom.kernel.exceptions import Conflict, ValidationFailed
from backroom.org.models import LegalEntity

STEP_FORWARD: dict[str, str] = {
    PeriodStatus.OPEN: PeriodStatus.SOFT_CLOSED,
    PeriodStatus.SOFT_CLOSED: PeriodStatus.CLOSED,
}
STEP_BACK: dict[str, str] = {
    PeriodStatus.CLOSED: PeriodStatus.SOFT_CLOSED,
    PeriodStatus.SOFT_CLOSED: PeriodStatus.OPEN,
}


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def period_for(entity: LegalEntity, day: dt.date) -> Period:
    """The entity's period holding `day`, created open when first needed."""
    start = month_start(day)
    period = Period.objects.filter(entity=entity, start=start).first()
    if period is not None:
        return period
    try:
        with transaction.atomic():
            return Period.objects.create(
                entity=entity, start=start, end=next_month(start) - dt.timedelta(days=1)
            )
    except IntegrityError:
        return Period.objects.get(entity=entity, start=start)


def may_post(period: Period, actor: Any) -> bool:
    if period.status == PeriodStatus.OPEN:
        return True
    if period.status == PeriodStatus.SOFT_CLOSED:
        return bool(
            getattr(actor, "is_authenticated", False)
            and actor.has_scoped_permission(FINANCE_CLOSE, period.entity.node)
        )
    return False


def require_postable(period: Period, actor: Any) -> None:
    if not may_post(period, actor):
        raise PeriodClosed(
            {
                "date": [
                    _("%(period)s is %(status)s for %(entity)s; date the journal later.")
                    % {
                        "period": period.name,
                        "status": period.get_status_display().lower(),
                        "entity": period.entity.node.code,
                    }
                ]
            }
        )


def postable_date(entity: LegalEntity, day: dt.date, actor: Any) -> dt.date:
    """`day` when its period takes postings from `actor`, else the first day of the first
    later period that does (late documents and reversals never land in a closed period)."""
    period = period_for(entity, day)
    while not may_post(period, actor):
        period = period_for(entity, next_month(period.start))
        day = period.start
    return day


def change_period_status(period: Period, *, status: str, actor: Any, reason: str = "") -> Period:
    """Move a period one step forward (close) or back (reopen, with a reason)."""
    require_permission(actor, FINANCE_CLOSE, period.entity.node)
    with transaction.atomic():
        period = Period.objects.select_for_update().select_related("entity__node").get(pk=period.pk)
        previous = period.status
        if status == previous:
            raise Conflict(
                _("The period is %(status)s already.")
                % {"status": period.get_status_display().lower()}
            )
        if STEP_FORWARD.get(previous) == status:
            earlier = Period.objects.filter(entity=period.entity, start__lt=period.start)
            if earlier.exclude(status__in=_at_least(status)).exists():
                raise Conflict(
                    _("Close the earlier periods first: %(periods)s.")
                    % {
                        "periods": ", ".join(
                            p.name for p in earlier.exclude(status__in=_at_least(status))
                        )
                    }
                )
        elif STEP_BACK.get(previous) == status:
            if not reason.strip():
                raise ValidationFailed({"reason": [_("Say why the period is reopened.")]})
            later = Period.objects.filter(entity=period.entity, start__gt=period.start)
            if later.exclude(status__in=_at_most(status)).exists():
                raise Conflict(_("Reopen the later periods first."))
        else:
            raise ValidationFailed(
                {"status": [_("A period moves one step at a time: open, soft-closed, closed.")]}
            )
        period.status = status
        period.changed_at = timezone.now()
        period.changed_by = as_user(actor)
        period.save(update_fields=["status", "changed_at", "changed_by"])
        record_audit(
            actor=actor,
            action="finance.period.status",
            target=period,
            before={"status": previous},
            after={"status": status},
            reason=reason,
            org_node=period.entity.node,
        )
        publish(
            PeriodChanged(
                period_id=period.pk,
                entity=period.entity.node.code,
                period=period.name,
                status=status,
                previous=previous,
            ),
            org_node=period.entity.node,
        )
    return period


def _at_least(status: str) -> list[str]:
    order = list(PeriodStatus)
    return [s.value for s in order[order.index(PeriodStatus(status)) :]]


def _at_most(status: str) -> list[str]:
    order = list(PeriodStatus)
    return [s.value for s in order[: order.index(PeriodStatus(status)) + 1]]
