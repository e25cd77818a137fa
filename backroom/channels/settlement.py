"""Daily settlement per platform account and business day: the income we compute for each order
against the income the platform reported for it (docs/channels-sales.md).

Our income for an order the platform delivered:

    expected = total (what the customer paid) + platform-borne discount (the platform pays it
               to us) − commission − delivery fee (kept by the platform for its riders)

which equals original price − merchant-borne discount − commission − delivery fee when the
order's figures are consistent. Packaging fees stay with us (they are part of the total).

The reported side is the platform's `income` per order from its push (a statement import may
later supply it instead: pass `statement`). Compared are the orders of the day that completed
(or were partially refunded after completion): refunds settle as their own statement lines, so
the comparison is on the order as completed and `refunded` is shown beside it. Cancelled,
wholly refunded and still open orders are counted apart and not compared.

A difference is an order missing on one side (no reported income; reported but not a completed
order here) or amounts more than 0.01 apart.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.channels.choices import ChannelKind, OrderStatus
from backroom.channels.models import ChannelAccount, Order
from backroom.channels.permissions_sales import CHANNELS_SALES
from backroom.channels.rollups import COUNTED
from backroom.kernel.exceptions import NotFound, PermissionDenied
from backroom.kernel.money import quantize_money
from backroom.org.models import Site

ZERO = Decimal(0)
TOLERANCE = Decimal("0.01")
# Channels whose pushes report the merchant's income per order.
SETTLED_KINDS: tuple[str, ...] = (ChannelKind.MEITUAN, ChannelKind.ELEME)


class Difference:
    """Why a settlement line differs (stable codes, shown translated)."""

    NONE = ""
    AMOUNT = "amount"
    MISSING_REPORTED = "missing_reported"
    MISSING_OURS = "missing_ours"

    LABELS = {
        AMOUNT: gettext_lazy("Amounts differ"),
        MISSING_REPORTED: gettext_lazy("No income reported by the platform"),
        MISSING_OURS: gettext_lazy("Reported by the platform, not a completed order here"),
    }


def expected_income(order: Order) -> Decimal:
    """Our income for an order the platform delivered (see the module), at storage precision."""
    return quantize_money(
        order.total + order.platform_discount - order.commission - order.delivery_fee,
        storage=True,
    )


@dataclass(frozen=True)
class SettlementLine:
    external_id: str
    display_id: str
    order_id: int | None
    status: str
    expected: Decimal | None
    reported: Decimal | None
    refunded: Decimal
    difference: Decimal
    reason: str  # a `Difference` code; "" when the line agrees

    @property
    def is_difference(self) -> bool:
        return bool(self.reason)

    @property
    def reason_label(self) -> str:
        return str(Difference.LABELS.get(self.reason, ""))


@dataclass
class Settlement:
    """One platform account's business day, compared order by order."""

    account: ChannelAccount
    business_date: dt.date
    currency: str
    lines: list[SettlementLine]
    not_compared: dict[str, int] = field(default_factory=dict)  # status → orders

    @property
    def differences(self) -> list[SettlementLine]:
        return [line for line in self.lines if line.is_difference]

    @property
    def expected_total(self) -> Decimal:
        return sum((line.expected or ZERO for line in self.lines), ZERO)

    @property
    def reported_total(self) -> Decimal:
        return sum((line.reported or ZERO for line in self.lines), ZERO)

    @property
    def difference_total(self) -> Decimal:
        return self.reported_total - self.expected_total

    @property
    def not_compared_total(self) -> int:
        return sum(self.not_compared.values())

    @property
    def counts(self) -> dict[str, int]:
        found = {Difference.AMOUNT: 0, Difference.MISSING_REPORTED: 0, Difference.MISSING_OURS: 0}
        for line in self.differences:
            found[line.reason] += 1
        return found


def _require(actor: Any) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise NotFound()
    if not actor.has_scoped_permission(CHANNELS_SALES):
        raise PermissionDenied()


def settlement_accounts(
    actor: Any, *, site: Site | None = None, kind: str | None = None
) -> QuerySet[ChannelAccount]:
    """The platform accounts whose settlement the actor may see."""
    rows = (
        ChannelAccount.objects.restrict(actor, CHANNELS_SALES)
        .filter(kind__in=SETTLED_KINDS)
        .select_related("site__node")
    )
    if site is not None:
        rows = rows.filter(site=site)
    if kind:
        rows = rows.filter(kind=kind)
    return rows.order_by("site__node__path", "kind", "name", "pk")


def get_settlement_account(actor: Any, account_id: int) -> ChannelAccount:
    _require(actor)
    account = settlement_accounts(actor).filter(pk=account_id).first()
    if account is None:
        raise NotFound()
    return account


def _compare(line_expected: Decimal | None, reported: Decimal | None) -> tuple[Decimal, str]:
    if line_expected is None:
        return (reported or ZERO), Difference.MISSING_OURS
    if reported is None:
        return -line_expected, Difference.MISSING_REPORTED
    difference = reported - line_expected
    return difference, (Difference.AMOUNT if abs(difference) > TOLERANCE else Difference.NONE)


def settle(
    actor: Any,
    *,
    account: ChannelAccount,
    business_date: dt.date,
    statement: Mapping[str, Decimal] | None = None,
) -> Settlement:
    """Compare an account's business day (see the module). `statement`, when given, is the
    platform's income per external order id and replaces what the pushes reported."""
    _require(actor)
    if not settlement_accounts(actor).filter(pk=account.pk).exists():
        raise NotFound()
    orders = list(
        Order.objects.filter(account=account, business_date=business_date).order_by(
            "placed_at", "pk"
        )
    )
    currency = orders[0].currency if orders else account.site.legal_entity.base_currency
    lines: list[SettlementLine] = []
    not_compared: dict[str, int] = {}
    seen: set[str] = set()
    for order in orders:
        seen.add(order.external_id)
        if order.status not in COUNTED:
            not_compared[order.status] = not_compared.get(order.status, 0) + 1
            if statement is None or order.external_id not in statement:
                continue
            settled = quantize_money(statement[order.external_id], storage=True)
            difference, reason = _compare(None, settled)
            lines.append(
                SettlementLine(
                    order.external_id,
                    order.display_id,
                    order.pk,
                    order.status,
                    None,
                    settled,
                    order.refunded_amount,
                    difference,
                    reason,
                )
            )
            continue
        expected = expected_income(order)
        reported: Decimal | None
        if statement is not None:
            found = statement.get(order.external_id)
            reported = quantize_money(found, storage=True) if found is not None else None
        else:
            reported = order.income
        difference, reason = _compare(expected, reported)
        lines.append(
            SettlementLine(
                order.external_id,
                order.display_id,
                order.pk,
                order.status,
                expected,
                reported,
                order.refunded_amount,
                difference,
                reason,
            )
        )
    for external_id, amount in sorted((statement or {}).items()):
        if external_id in seen:
            continue
        settled = quantize_money(amount, storage=True)
        difference, reason = _compare(None, settled)
        lines.append(
            SettlementLine(external_id, "", None, "", None, settled, ZERO, difference, reason)
        )
    return Settlement(account, business_date, currency, lines, not_compared)


def settlements(
    actor: Any,
    *,
    business_date: dt.date,
    site: Site | None = None,
    kind: str | None = None,
) -> list[Settlement]:
    """The day's settlement of every platform account the actor may see (filtered)."""
    _require(actor)
    return [
        settle(actor, account=account, business_date=business_date)
        for account in settlement_accounts(actor, site=site, kind=kind)
    ]


def _plain(value: Decimal | None) -> str:
    return "" if value is None else f"{quantize_money(value, storage=True):f}"


def csv_rows(rows: Sequence[Settlement], *, differences_only: bool = True) -> Iterator[list[str]]:
    """The settlement lines as CSV rows (a header first)."""
    yield [
        _("Store"),
        _("Channel"),
        _("Account"),
        _("Business date"),
        _("Order"),
        _("Order number"),
        _("Status"),
        _("Our income"),
        _("Reported income"),
        _("Difference"),
        _("Refunded"),
        _("Reason"),
    ]
    for settlement in rows:
        lines: Iterable[SettlementLine] = (
            settlement.differences if differences_only else settlement.lines
        )
        for line in lines:
            yield [
                settlement.account.site.node.code,
                settlement.account.get_kind_display(),
                settlement.account.name,
                settlement.business_date.isoformat(),
                line.external_id,
                line.display_id,
                str(OrderStatus(line.status).label) if line.status else "",
                _plain(line.expected),
                _plain(line.reported),
                _plain(line.difference),
                _plain(line.refunded),
                line.reason_label,
            ]


def to_csv(rows: Iterable[Sequence[str]]) -> str:
    """CSV text with a UTF-8 byte-order mark (Excel reads Chinese names correctly)."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue()
