"""Square: the item-sales CSV export, parsed into orders and refunds, and webhook verification.

The export has no line id: each line gets a composite key (`line_key`) from its ticket, time,
item, modifiers, amounts and its occurrence among identical lines, and the file its sha256, so
importing the same or an overlapping export twice counts nothing twice. Lines of one ticket share
`Transaction ID`; `Event Type` is Payment or Refund; money is a currency string (`$8.00`,
`-$8.00`). Every bad row is reported with its row number, all at once; good rows still parse, and a
ticket with a bad row is held back whole (`skipped_transactions`) so it is imported complete
once the file is fixed.

Webhooks: `x-square-hmacsha256-signature` is the base64 HMAC-SHA256, keyed with the signature
key, of the notification URL followed by the raw body; `event_id` is the idempotency key.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import hmac
import io
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils.translation import gettext_lazy as _

from backroom.channels.choices import ChannelKind, OrderStatus
from backroom.channels.platforms.base import (
    CanonicalOrder,
    Credentials,
    EventKind,
    InboundRequest,
    LineIn,
    ModifierIn,
    PlatformEvent,
    RefundLine,
    Reply,
)
from backroom.channels.platforms.errors import (
    NOT_JSON,
    NOT_NUMBER,
    NOT_OBJECT,
    NOT_TIME,
    REQUIRED,
    BadSignature,
    MalformedCsv,
    MalformedPayload,
    MissingParameter,
    PlatformError,
)
from backroom.channels.platforms.parsing import digest, loads_exact, text

SIGNATURE_HEADER = "x-square-hmacsha256-signature"

COLUMNS = (
    "Date",
    "Time",
    "Time Zone",
    "Category",
    "Item",
    "Qty",
    "Price Point Name",
    "SKU",
    "Modifiers Applied",
    "Gross Sales",
    "Discounts",
    "Net Sales",
    "Tax",
    "Transaction ID",
    "Payment ID",
    "Device Name",
    "Notes",
    "Details",
    "Event Type",
    "Location",
    "Dining Option",
    "Customer ID",
    "Customer Name",
    "Customer Reference ID",
    "Unit",
    "Count",
    "GTIN",
    "Itemization Type",
    "Commission",
    "Employee",
    "Fulfillment Note",
    "Channel",
    "Token",
    "Card Brand",
    "PAN Suffix",
)
# Older exports lack some columns; these are needed to import anything at all.
REQUIRED_COLUMNS = ("Date", "Time", "Item", "Qty", "Gross Sales", "Transaction ID")
PAYMENT = "Payment"
REFUND = "Refund"

# Square writes Rails time-zone names; IANA names are accepted as they are.
RAILS_ZONES = {
    "Pacific Time (US & Canada)": "America/Los_Angeles",
    "Mountain Time (US & Canada)": "America/Denver",
    "Central Time (US & Canada)": "America/Chicago",
    "Eastern Time (US & Canada)": "America/New_York",
    "Arizona": "America/Phoenix",
    "Alaska": "America/Juneau",
    "Hawaii": "Pacific/Honolulu",
    "London": "Europe/London",
    "Dublin": "Europe/Dublin",
    "Paris": "Europe/Paris",
    "Madrid": "Europe/Madrid",
    "Tokyo": "Asia/Tokyo",
    "Sydney": "Australia/Sydney",
    "Melbourne": "Australia/Melbourne",
    "Brisbane": "Australia/Brisbane",
    "Perth": "Australia/Perth",
    "Beijing": "Asia/Shanghai",
    "Hong Kong": "Asia/Hong_Kong",
    "UTC": "UTC",
}
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y")
TIME_FORMATS = ("%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p")
_MONEY = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$|^\.\d+$")
CENT = Decimal("0.0001")

NOT_MONEY = _("is not an amount of money.")
NOT_ZERO = _("must not be zero.")
UNKNOWN_ZONE = _("is not a known time zone.")
UNKNOWN_EVENT = _("must be Payment or Refund.")


@dataclass(frozen=True)
class RowError:
    """One problem of one row; `row` counts like a spreadsheet (the header is row 1)."""

    row: int
    column: str
    message: str


@dataclass(frozen=True)
class SquareLine:
    """One good row of the export."""

    row: int
    line_key: str  # composite de-duplication key
    transaction_id: str
    payment_id: str
    event_type: str  # Payment or Refund
    occurred_at: dt.datetime
    location: str
    item: str
    price_point: str
    sku: str
    quantity: Decimal  # signed as exported
    modifiers: tuple[str, ...]
    gross_sales: Decimal
    discounts: Decimal
    net_sales: Decimal
    tax: Decimal
    customer_name: str
    notes: str

    @property
    def external_sku(self) -> str:
        """The SKU, or the item name (with its price point) when the item has no SKU."""
        if self.sku:
            return self.sku
        if self.price_point and self.price_point.lower() != "regular":
            return f"{self.item} / {self.price_point}"
        return self.item


@dataclass(frozen=True)
class SquareImport:
    """What a file holds: its hash, good lines, events per ticket, and every bad row."""

    file_sha256: str
    lines: tuple[SquareLine, ...]
    events: tuple[PlatformEvent, ...]
    errors: tuple[RowError, ...]
    missing_columns: tuple[str, ...]  # optional columns absent from this (older) export
    skipped_transactions: tuple[str, ...]  # tickets held back because one of their rows is bad

    def error_details(self) -> dict[str, list[str]]:
        """Errors as `{"row 5: Qty": [...]}`, the shape of `MalformedPayload` details."""
        details: dict[str, list[str]] = {}
        for error in self.errors:
            details.setdefault(f"row {error.row}: {error.column}", []).append(error.message)
        return details


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_money(value: str) -> Decimal | None:
    """`$8.00`, `-$8.00`, `$-8.00`, `($8.00)`, `1,234.50`, `8` → Decimal; None when not money."""
    raw = value.strip()
    if not raw:
        return None
    negative = raw.startswith("(") and raw.endswith(")")
    if negative:
        raw = raw[1:-1].strip()
    if "-" in raw:
        if raw.count("-") > 1 or not (raw.startswith("-") or re.match(r"^[^\d.]+-", raw)):
            return None
        negative = not negative
        raw = raw.replace("-", "", 1)
    # Strip a currency symbol or code before the number (`$`, `CA$`, `€`, `USD `).
    number = re.sub(r"^[^\d.]{1,4}\s?", "", raw.strip())
    if not _MONEY.match(number):
        return None
    try:
        amount = Decimal(number.replace(",", ""))
    except InvalidOperation:
        return None
    return -amount if negative else amount


def parse_quantity(value: str) -> Decimal | None:
    try:
        quantity = Decimal(value.strip().replace(",", ""))
    except InvalidOperation:
        return None
    return quantity if quantity.is_finite() else None


def _zone(name: str, default: ZoneInfo) -> ZoneInfo | None:
    if not name.strip():
        return default
    name = RAILS_ZONES.get(name.strip(), name.strip())
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _parse_when(date_text: str, time_text: str) -> dt.datetime | None:
    date = _first_format(date_text, DATE_FORMATS)
    clock = _first_format(time_text, TIME_FORMATS)
    if date is None or clock is None:
        return None
    return dt.datetime.combine(date.date(), clock.time())


def _first_format(value: str, formats: tuple[str, ...]) -> dt.datetime | None:
    for fmt in formats:
        try:
            return dt.datetime.strptime(value.strip(), fmt)  # naive; the zone comes after
        except ValueError:
            continue
    return None


def parse_item_sales(
    data: bytes, *, default_timezone: str = "UTC", currency: str = "USD"
) -> SquareImport:
    """Parse an item-sales export. Raises `MalformedCsv` only when nothing can be read (not
    UTF-8, no header, a required column missing); row problems come back in `errors`."""
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise MalformedCsv({"file": [str(_("is not UTF-8 text."))]}) from error
    reader = csv.reader(io.StringIO(content, newline=""))
    header = next(reader, None)
    if not header or not any(cell.strip() for cell in header):
        raise MalformedCsv({"file": [str(_("has no header row."))]})
    names = [cell.strip() for cell in header]
    missing_required = [column for column in REQUIRED_COLUMNS if column not in names]
    if missing_required:
        raise MalformedCsv({column: [str(REQUIRED)] for column in missing_required})
    default_zone = ZoneInfo(default_timezone)

    errors: list[RowError] = []
    lines: list[SquareLine] = []
    bad_tickets: set[tuple[str, str]] = set()
    seen: dict[str, int] = defaultdict(int)
    for index, cells in enumerate(reader):
        row_number = index + 2
        if not any(cell.strip() for cell in cells):
            continue
        row = {
            name: (cells[position].strip() if position < len(cells) else "")
            for position, name in enumerate(names)
        }
        line, row_errors = _parse_row(row, row_number, default_zone)
        ticket = (row.get("Transaction ID", ""), row.get("Event Type") or PAYMENT)
        if row_errors:
            errors.extend(row_errors)
            bad_tickets.add(ticket)
            continue
        assert line is not None
        identity = "\x1f".join(
            row.get(column, "")
            for column in (
                "Transaction ID",
                "Payment ID",
                "Event Type",
                "Date",
                "Time",
                "Item",
                "Price Point Name",
                "SKU",
                "Modifiers Applied",
                "Qty",
                "Gross Sales",
                "Discounts",
                "Net Sales",
            )
        )
        seen[identity] += 1  # two identical lines on one ticket are two lines
        key = "sq_" + hashlib.sha256(f"{identity}\x1f{seen[identity]}".encode()).hexdigest()[:40]
        lines.append(_with_key(line, key))

    events = _events(lines, bad_tickets, currency)
    return SquareImport(
        file_sha256=file_sha256(data),
        lines=tuple(lines),
        events=tuple(events),
        errors=tuple(errors),
        missing_columns=tuple(column for column in COLUMNS if column not in names),
        skipped_transactions=tuple(sorted({ticket for ticket, _type in bad_tickets if ticket})),
    )


def _with_key(line: SquareLine, key: str) -> SquareLine:
    return SquareLine(**{**line.__dict__, "line_key": key})


def _parse_row(
    row: Mapping[str, str], row_number: int, default_zone: ZoneInfo
) -> tuple[SquareLine | None, list[RowError]]:
    errors: list[RowError] = []

    def problem(column: str, message: Any) -> None:
        errors.append(RowError(row=row_number, column=column, message=str(message)))

    for column in ("Date", "Time", "Item", "Qty", "Gross Sales", "Transaction ID"):
        if not row.get(column):
            problem(column, REQUIRED)
    event_type = row.get("Event Type") or PAYMENT
    if event_type not in (PAYMENT, REFUND):
        problem("Event Type", UNKNOWN_EVENT)
    zone = _zone(row.get("Time Zone", ""), default_zone)
    if zone is None:
        problem("Time Zone", UNKNOWN_ZONE)
    when = None
    if row.get("Date") and row.get("Time"):
        when = _parse_when(row["Date"], row["Time"])
        if when is None:
            problem("Date", NOT_TIME)
    quantity = None
    if row.get("Qty"):
        quantity = parse_quantity(row["Qty"])
        if quantity is None:
            problem("Qty", NOT_NUMBER)
        elif quantity == 0:
            problem("Qty", NOT_ZERO)
    amounts: dict[str, Decimal | None] = {}
    for column in ("Gross Sales", "Discounts", "Net Sales", "Tax"):
        value = row.get(column, "")
        if not value:
            amounts[column] = None
            continue
        amounts[column] = parse_money(value)
        if amounts[column] is None:
            problem(column, NOT_MONEY)
    if errors:
        return None, errors
    assert when is not None and zone is not None and quantity is not None
    gross = amounts["Gross Sales"] or Decimal(0)
    discounts = amounts["Discounts"] or Decimal(0)
    net = amounts["Net Sales"] if amounts["Net Sales"] is not None else gross + discounts
    modifiers = tuple(
        part.strip() for part in row.get("Modifiers Applied", "").split(",") if part.strip()
    )
    return (
        SquareLine(
            row=row_number,
            line_key="",
            transaction_id=row["Transaction ID"],
            payment_id=row.get("Payment ID", ""),
            event_type=event_type,
            occurred_at=when.replace(tzinfo=zone),
            location=row.get("Location", ""),
            item=row["Item"],
            price_point=row.get("Price Point Name", ""),
            sku=row.get("SKU", ""),
            quantity=quantity,
            modifiers=modifiers,
            gross_sales=gross,
            discounts=discounts,
            net_sales=net,
            tax=amounts["Tax"] or Decimal(0),
            customer_name=row.get("Customer Name", ""),
            notes=row.get("Notes", ""),
        ),
        [],
    )


def _events(
    lines: list[SquareLine], bad_tickets: set[tuple[str, str]], currency: str
) -> list[PlatformEvent]:
    tickets: dict[tuple[str, str], list[SquareLine]] = defaultdict(list)
    for line in lines:
        if (line.transaction_id, line.event_type) not in bad_tickets:
            tickets[(line.transaction_id, line.event_type)].append(line)
    events = []
    for (transaction_id, event_type), ticket in tickets.items():
        if event_type == PAYMENT:
            events.append(_payment_event(transaction_id, ticket, currency))
    for (transaction_id, event_type), ticket in tickets.items():
        if event_type == REFUND:
            paid = tickets.get((transaction_id, PAYMENT), [])
            events.append(_refund_event(transaction_id, ticket, paid))
    return events


def _payment_event(transaction_id: str, ticket: list[SquareLine], currency: str) -> PlatformEvent:
    first = min(ticket, key=lambda line: (line.occurred_at, line.row))
    order_lines = tuple(
        LineIn(
            line_no=number,
            external_sku=line.external_sku,
            name=line.item,
            quantity=line.quantity,
            unit_price=(line.gross_sales / line.quantity).quantize(CENT, ROUND_HALF_UP),
            modifiers=tuple(
                ModifierIn(code=modifier, name=modifier) for modifier in line.modifiers
            ),
        )
        for number, line in enumerate(ticket, start=1)
    )
    notes = "; ".join(dict.fromkeys(line.notes for line in ticket if line.notes))
    order = CanonicalOrder(
        external_id=transaction_id,
        display_id=transaction_id,
        store_ref=first.location,
        placed_at=first.occurred_at,
        status=OrderStatus.COMPLETED,  # a till sale is complete when exported
        lines=order_lines,
        currency=currency,
        total=sum((line.net_sales + line.tax for line in ticket), Decimal(0)),
        original_price=sum((line.gross_sales for line in ticket), Decimal(0)),
        merchant_discount=abs(sum((line.discounts for line in ticket), Decimal(0))),
        customer_name=first.customer_name,
        notes=notes,
    )
    return PlatformEvent(
        kind=EventKind.ORDER_PLACED,
        external_order_id=transaction_id,
        event_key="placed",
        raw_type=PAYMENT,
        occurred_at=first.occurred_at,
        status=OrderStatus.COMPLETED,
        order=order,
        extra={"line_keys": ",".join(line.line_key for line in ticket)},
    )


def _refund_event(
    transaction_id: str, ticket: list[SquareLine], paid: list[SquareLine]
) -> PlatformEvent:
    refund_lines = tuple(
        RefundLine(
            external_sku=line.external_sku, quantity=abs(line.quantity), amount=abs(line.net_sales)
        )
        for line in ticket
    )
    refunded: dict[str, Decimal] = defaultdict(Decimal)
    for line in ticket:
        refunded[line.external_sku] += abs(line.quantity)
    sold: dict[str, Decimal] = defaultdict(Decimal)
    for line in paid:
        sold[line.external_sku] += line.quantity
    whole = bool(sold) and all(
        refunded.get(sku, Decimal(0)) >= quantity for sku, quantity in sold.items()
    )
    keys = sorted(line.line_key for line in ticket)
    return PlatformEvent(
        kind=EventKind.REFUNDED if whole else EventKind.PARTIALLY_REFUNDED,
        external_order_id=transaction_id,
        event_key=f"refund:{digest(*keys)}",
        raw_type=REFUND,
        occurred_at=min(line.occurred_at for line in ticket),
        status=OrderStatus.REFUNDED if whole else OrderStatus.PARTIALLY_REFUNDED,
        refund_lines=refund_lines,
        refund_amount=sum((abs(line.net_sales + line.tax) for line in ticket), Decimal(0)),
        extra={"line_keys": ",".join(line.line_key for line in ticket)},
    )


# --- webhooks ----------------------------------------------------------------------------------


def sign_webhook(notification_url: str, body: bytes, signature_key: str) -> str:
    """The `x-square-hmacsha256-signature` value: base64 HMAC-SHA256 of URL + raw body."""
    mac = hmac.new(signature_key.encode(), notification_url.encode() + body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def verify_webhook(notification_url: str, body: bytes, signature: str, signature_key: str) -> bool:
    """True when the header matches (constant-time). The URL must be exactly the one configured
    in Square, scheme and query included."""
    return hmac.compare_digest(
        sign_webhook(notification_url, body, signature_key), signature.strip()
    )


def parse_webhook(body: bytes) -> list[PlatformEvent]:
    """A webhook notification, recorded by its `event_id`. Square orders arrive through the CSV
    import, so a notification is acknowledged and kept as history (IGNORED)."""
    try:
        payload = loads_exact(body)
    except ValueError as error:
        raise MalformedPayload({"body": [str(NOT_JSON)]}) from error
    if not isinstance(payload, dict):
        raise MalformedPayload({"body": [str(NOT_OBJECT)]})
    missing = [key for key in ("event_id", "type") if not payload.get(key)]
    if missing:
        raise MalformedPayload({key: [str(REQUIRED)] for key in missing})
    data: dict[str, Any] = payload["data"] if isinstance(payload.get("data"), dict) else {}
    inner: dict[str, Any] = data["object"] if isinstance(data.get("object"), dict) else {}
    order_id = ""
    for value in inner.values():
        if isinstance(value, dict) and value.get("order_id"):
            order_id = text(value["order_id"])
            break
    return [
        PlatformEvent(
            kind=EventKind.IGNORED,
            external_order_id=order_id,
            event_key=text(payload["event_id"]),
            raw_type=text(payload["type"]),
            extra={"object_type": text(data.get("type")), "object_id": text(data.get("id"))},
        )
    ]


class SquareAdapter:
    """Square webhooks for a generic view (see `base.PlatformAdapter`); CSV imports use
    `parse_item_sales` directly. `credentials.secret` is the webhook signature key."""

    kind: str = ChannelKind.SQUARE.value
    topics: tuple[str, ...] = ("",)

    def app_ref(self, request: InboundRequest) -> str:
        return ""

    def store_ref(self, request: InboundRequest) -> str:
        try:
            payload = loads_exact(request.body)
        except ValueError:
            return ""
        return text(payload.get("merchant_id")) if isinstance(payload, dict) else ""

    def verify_request(self, request: InboundRequest, credentials: Credentials) -> None:
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not signature:
            raise MissingParameter([SIGNATURE_HEADER])
        if not verify_webhook(request.url, request.body, signature, credentials.secret):
            raise BadSignature()

    def parse(self, request: InboundRequest) -> list[PlatformEvent]:
        return parse_webhook(request.body)

    def ack(self) -> Reply:
        return Reply(200, {})

    def reject(self, error_: Exception) -> Reply:
        if isinstance(error_, PlatformError):
            return Reply(error_.http_status, error_.as_dict())
        return Reply(400, {"code": "error", "message": str(error_)})
