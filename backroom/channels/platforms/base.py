"""What every platform adapter produces: canonical events, free of HTTP and of the database.

An adapter (`meituan`, `eleme`, `square`, the POS API) turns what a platform sends into
`PlatformEvent`s; `backroom.channels.intake` stores and applies them. Ids are strings: Ele.me's
exceed 2**53, so they are never parsed as floats. Money is `Decimal` in the order's currency.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

from backroom.channels.choices import OrderStatus

if TYPE_CHECKING:
    from django.http import HttpRequest


class EventKind(StrEnum):
    ORDER_PLACED = "order_placed"  # a new (paid) order, with its lines
    STATUS_CHANGED = "status_changed"  # accepted, ready, delivering, completed...
    CANCELLED = "cancelled"
    REFUND_REQUESTED = "refund_requested"
    REFUNDED = "refunded"  # whole order
    PARTIALLY_REFUNDED = "partially_refunded"
    HEARTBEAT = "heartbeat"  # answered, not stored as an order event
    IGNORED = "ignored"  # a message type we acknowledge but do not act on (reminders, shop status)


@dataclass(frozen=True)
class ModifierIn:
    code: str  # the platform's modifier/spec/attribute code, or its text when it has no code
    name: str = ""
    quantity: Decimal = Decimal(1)


@dataclass(frozen=True)
class LineIn:
    line_no: int
    external_sku: str  # app_food_code / sku id / our POS SKU
    name: str
    quantity: Decimal
    unit_price: Decimal
    modifiers: tuple[ModifierIn, ...] = ()


@dataclass(frozen=True)
class CanonicalOrder:
    external_id: str
    display_id: str
    store_ref: str  # the platform's store code (app_poi_code, shopId) or our store code for POS
    placed_at: dt.datetime  # aware
    status: OrderStatus
    lines: tuple[LineIn, ...]
    currency: str = "CNY"
    total: Decimal = Decimal(0)  # what the customer paid
    original_price: Decimal = Decimal(0)  # before discounts
    platform_discount: Decimal = Decimal(0)  # borne by the platform
    merchant_discount: Decimal = Decimal(0)  # borne by us
    delivery_fee: Decimal = Decimal(0)
    packaging_fee: Decimal = Decimal(0)
    commission: Decimal = Decimal(0)
    income: Decimal | None = None  # the platform's reported settlement to us, when it sends one
    paid: bool = True
    customer_name: str = ""
    customer_phone: str = ""
    address: str = ""
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    notes: str = ""
    staff_code: str = ""  # who rang it up at the till (POS only)
    day_seq: str = (
        ""  # the store's daily order number shown to the kitchen (Meituan day_seq, Ele.me daySn)
    )


@dataclass(frozen=True)
class RefundLine:
    external_sku: str
    quantity: Decimal
    amount: Decimal = Decimal(0)


@dataclass(frozen=True)
class PlatformEvent:
    kind: EventKind
    external_order_id: str
    # Idempotency: (channel account, external_order_id, event_key) is applied once.
    event_key: str
    raw_type: str  # the platform's own code/URL name, kept for the history
    occurred_at: dt.datetime | None = None
    status: OrderStatus | None = None  # the canonical status this event moves the order to
    order: CanonicalOrder | None = None  # ORDER_PLACED (and any event carrying the full order)
    refund_lines: tuple[RefundLine, ...] = ()
    refund_amount: Decimal | None = None
    reason: str = ""
    extra: dict[str, str] = field(default_factory=dict)


# --- The adapter interface: what a generic callback view needs (added with the adapters) -----


@dataclass(frozen=True)
class Credentials:
    """A channel account's secrets, decrypted for one call; never logged."""

    app_id: str = ""  # Meituan app_id, Ele.me appId (pushes); checked against the request's own
    secret: str = ""  # Meituan app_secret, Ele.me secret, Square webhook signature key
    token: str = ""  # Ele.me OAuth access token, for outbound calls
    app_key: str = ""  # Ele.me app key, for outbound calls (`metas.app_key`)


@dataclass(frozen=True)
class InboundRequest:
    """What a platform sent, free of Django: build it with `from_django` in the view.

    `url` is the absolute callback URL as the platform addressed it, without the query string:
    Meituan and Square sign over it, so behind a proxy pass the public URL explicitly.
    `params` are the query and form fields (first value of each), as Django decoded them.
    """

    method: str
    url: str
    params: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    topic: str = ""  # Meituan's callback name (one URL per event), from the URL route

    @classmethod
    def from_django(
        cls, request: HttpRequest, *, url: str | None = None, topic: str = ""
    ) -> InboundRequest:
        params: dict[str, str] = {key: request.GET[key] for key in request.GET}
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            params.update({key: request.POST[key] for key in request.POST})
        return cls(
            method=request.method or "GET",
            url=url or request.build_absolute_uri(request.path),
            params=params,
            body=request.body,
            headers={name.lower(): value for name, value in request.headers.items()},
            topic=topic,
        )


@dataclass(frozen=True)
class Reply:
    """The HTTP answer a platform expects: status and a JSON body."""

    status: int
    body: dict[str, Any]

    def content(self) -> bytes:
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class OutboundRequest:
    """A signed call to a platform's API, built without I/O: the caller sends it and records it.

    `params` are sent as form fields (Meituan); `json_body` as a JSON body (Ele.me).
    `action` names the call for the outbound log (`food/sku/sellStatus`, `eleme.order.confirmOrderLite`).
    """

    method: str
    url: str
    action: str
    params: Mapping[str, str] = field(default_factory=dict)
    json_body: Mapping[str, Any] | None = None

    def encode(self) -> tuple[str, str, bytes | None, dict[str, str]]:
        """(method, url with query for GET, body, headers) ready for any HTTP client."""
        if self.json_body is not None:
            body = json.dumps(self.json_body, ensure_ascii=False, separators=(",", ":")).encode()
            return self.method, self.url, body, {"Content-Type": "application/json;charset=utf-8"}
        encoded = urlencode(dict(self.params))
        if self.method == "GET":
            return self.method, f"{self.url}?{encoded}", None, {}
        return (
            self.method,
            self.url,
            encoded.encode(),
            {"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
        )


class PlatformAdapter(Protocol):
    """One per channel kind (see `platforms.get_adapter`). Views call, in this order:

    1. `verify_request(request, credentials)`: raises `MissingParameter`, `UnknownApp` or
       `BadSignature`; answer `reject(error)` and store nothing.
    2. `parse(request)`: the events (raises `MalformedPayload`; keep the raw payload as failed).
    3. answer `ack()` at once; apply the events asynchronously.
    """

    kind: str  # a ChannelKind value
    topics: tuple[str, ...]  # callback names routed to this adapter ("" when one URL serves all)

    def verify_request(self, request: InboundRequest, credentials: Credentials, /) -> None: ...

    def parse(self, request: InboundRequest, /) -> list[PlatformEvent]: ...

    def app_ref(self, request: InboundRequest, /) -> str:
        """The app id the request claims (unverified): to find the account's credentials."""
        ...

    def store_ref(self, request: InboundRequest, /) -> str:
        """The platform store the request is for (unverified): "" when it names none."""
        ...

    def ack(self) -> Reply: ...

    def reject(self, error: Exception, /) -> Reply: ...
