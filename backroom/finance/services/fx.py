"""Exchange rates by date. A rate is looked up for the date, or the latest one before it
within `FX_RATE_MAX_AGE_DAYS` (a weekend has no fixing); beyond that it is missing, with a clear
error, never a silent stale guess. The inverse of a stored rate is used when only it exists."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.audit.services import record_audit
from backroom.finance.exceptions import FxRateMissing
from backroom.finance.models import RATE_PLACES, FxRate
from backroom.finance.permissions import FINANCE_POST
from backroom.kernel.exceptions import ErrorCollector, ValidationFailed
from backroom.kernel.money import Money, to_decimal

RATE_STEP = Decimal(1).scaleb(-RATE_PLACES)


def max_age() -> dt.timedelta:
    return dt.timedelta(days=getattr(settings, "FX_RATE_MAX_AGE_DAYS", 7))


def set_fx_rate(
    *, date: dt.date, currency: str, quote: str, rate: Any, actor: Any, source: str = "manual"
) -> FxRate:
    """Enter (or correct) the rate of a day; 1 `currency` = `rate` `quote`."""
    require_permission(actor, FINANCE_POST)
    errors = ErrorCollector()
    currency, quote = str(currency).upper(), str(quote).upper()
    for field, code in (("currency", currency), ("quote", quote)):
        try:
            Money(Decimal(0), code)
        except ValidationFailed:
            errors.add(field, _("“%(code)s” is not an ISO 4217 currency code.") % {"code": code})
    if currency == quote:
        errors.add("quote", _("A rate needs two different currencies."))
    try:
        value = to_decimal(rate, field="rate")
        if value <= 0:
            errors.add("rate", _("A rate must be above zero."))
    except ValidationFailed as error:
        errors.errors.update(error.errors)
    errors.raise_if_any()
    with transaction.atomic():
        existing = (
            FxRate.objects.select_for_update()
            .filter(date=date, currency=currency, quote=quote)
            .first()
        )
        before = {"rate": existing.rate} if existing else None
        row, _created = FxRate.objects.update_or_create(
            date=date,
            currency=currency,
            quote=quote,
            defaults={"rate": value.quantize(RATE_STEP), "source": source},
        )
        record_audit(
            actor=actor,
            action="finance.fx_rate.set",
            target=row,
            before=before,
            after={"rate": row.rate},
        )
    return row


def rate_on(currency: str, quote: str, day: dt.date) -> Decimal:
    """Units of `quote` for one `currency` on `day`; `FxRateMissing` when there is none."""
    if currency == quote:
        return Decimal(1)
    since = day - max_age()
    for base, other, invert in ((currency, quote, False), (quote, currency, True)):
        row = (
            FxRate.objects.filter(currency=base, quote=other, date__lte=day, date__gte=since)
            .order_by("-date")
            .first()
        )
        if row is not None:
            return (Decimal(1) / row.rate).quantize(RATE_STEP) if invert else row.rate
    raise FxRateMissing(
        {
            "currency": [
                _("No %(currency)s→%(quote)s rate on %(date)s or in the %(days)s days before it.")
                % {
                    "currency": currency,
                    "quote": quote,
                    "date": day.isoformat(),
                    "days": max_age().days,
                }
            ]
        }
    )
