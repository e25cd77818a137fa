"""Exchange rates by date: one row per day and currency pair, 1 currency = rate quote currency.
Natural key: date + currency + quote currency. Written through `finance.services.fx.set_fx_rate`
(audited, source `import`); a row whose rate is already stored is left as it is."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.finance.models import RATE_PLACES, FxRate
from backroom.finance.permissions import FINANCE_POST
from backroom.finance.selectors import fx_rates
from backroom.finance.services.fx import set_fx_rate
from backroom.imports.columns import CHOICE, DATE, DECIMAL, Column, Row
from backroom.imports.importers.base import CREATED, UNCHANGED, UPDATED, Change, Importer, register
from backroom.imports.importers.suppliers import CURRENCY_CHOICES
from backroom.imports.permissions import IMPORTS_USE
from backroom.imports.problems import Problems

SOURCE = "import"

Key = tuple[dt.date, str, str]


@register
class FxRatesImporter(Importer):
    kind = "fx_rates"
    label = gettext_lazy("Exchange rates")
    description = gettext_lazy(
        "Exchange rates by date: one row per day and currency pair, saying how many units of "
        "the quote currency one unit of the currency is worth. A rate already entered for the "
        "day is corrected."
    )
    permission = IMPORTS_USE
    writes = FINANCE_POST
    key_fields = ("date", "currency", "quote")
    columns = (
        Column(
            "date",
            "Date",
            "日期",
            DATE,
            True,
            "2026-11-10",
            aliases=("rate date", "汇率日期"),
        ),
        Column(
            "currency",
            "Currency",
            "币种",
            CHOICE,
            True,
            "USD",
            choices=CURRENCY_CHOICES,
            aliases=("from currency", "base currency", "原币", "货币"),
        ),
        Column(
            "quote",
            "Quote currency",
            "折算币种",
            CHOICE,
            True,
            "CNY",
            choices=CURRENCY_CHOICES,
            aliases=("quote", "to currency", "目标币种", "记账本位币"),
        ),
        Column(
            "rate",
            "Rate",
            "汇率",
            DECIMAL,
            True,
            Decimal("7.1234"),
            places=RATE_PLACES,
            minimum=None,
            aliases=("exchange rate", "fx rate", "兑换率"),
            help=gettext_lazy(
                "Units of the quote currency for one unit of the currency, above zero; at most "
                "12 decimal places."
            ),
        ),
    )

    def check_rows(self, rows: Sequence[Row], problems: Problems) -> None:
        for row in rows:
            if row.has("currency") and row.has("quote") and row["currency"] == row["quote"]:
                problems.add(
                    row.number,
                    "quote",
                    "invalid_value",
                    _("A rate needs two different currencies."),
                )
            if row.has("rate") and row["rate"] <= 0:
                problems.add(row.number, "rate", "invalid_number", _("A rate must be above zero."))

    def apply_rows(self, rows: Sequence[Row]) -> list[Change]:
        stored = self.stored([(row["date"], row["currency"], row["quote"]) for row in rows])
        changes = []
        for row in rows:
            key: Key = (row["date"], row["currency"], row["quote"])
            name = f"{key[0].isoformat()} {key[1]}/{key[2]}"
            before = stored.get(key)
            if before is not None and before == row["rate"]:
                changes.append(Change(row.number, UNCHANGED, name))
                continue
            set_fx_rate(
                date=key[0],
                currency=key[1],
                quote=key[2],
                rate=row["rate"],
                actor=self.actor,
                source=SOURCE,
            )
            if before is None:
                changes.append(Change(row.number, CREATED, name))
            else:
                changes.append(Change(row.number, UPDATED, name, ["rate"]))
        return changes

    def stored(self, keys: Sequence[Key]) -> dict[Key, Decimal]:
        """The stored rates of these keys (one query for a chunk)."""
        wanted = set(keys)
        found = FxRate.objects.filter(date__in={date for date, _currency, _quote in wanted})
        return {
            key: rate.rate
            for rate in found
            if (key := (rate.date, rate.currency, rate.quote)) in wanted
        }

    def export(self) -> Iterator[dict[str, Any]]:
        for rate in fx_rates().iterator(chunk_size=1000):
            yield {
                "date": rate.date,
                "currency": rate.currency,
                "quote": rate.quote,
                "rate": rate.rate,
            }
