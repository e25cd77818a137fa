"""How the worker reads stored platform pushes: one parser per channel kind, registered with
`intake.register_parser` when the app is ready (`ChannelsConfig.ready`).

A parser rebuilds the `InboundRequest` from the verbatim payload the callback stored
(`channels.callbacks`) and hands it to the platform adapter, so the worker reads a push exactly
as the callback did:

- Meituan: the form body (values URL-encoded as Meituan sends them); the callback topic is a
  parameter of the stored content type (`application/x-www-form-urlencoded; topic=order_placed`).
- Ele.me: the JSON body (integers kept exact: ids above 2**53).
- Square: a webhook's JSON body, or (`text/csv`) the rows of one ticket of an item-sales
  import (`channels.square_import`), read in the store's time zone and currency.

Adapters raise `MalformedPayload` (a `DomainError`) for what they cannot read: the message stays
failed with the reason and is retried by the inbox sweep.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from backroom.channels.choices import ChannelKind
from backroom.channels.intake import register_parser
from backroom.channels.models import ChannelAccount
from backroom.channels.platforms import get_adapter, square
from backroom.channels.platforms.base import InboundRequest, PlatformEvent

CSV = "text/csv"
FORM = "application/x-www-form-urlencoded"


def meituan_content_type(topic: str) -> str:
    """The content type a Meituan push is stored with: its form type and callback topic."""
    return f"{FORM}; topic={topic}"


def content_type_topic(content_type: str) -> str:
    """The `topic` parameter of a stored Meituan push's content type."""
    for part in content_type.split(";")[1:]:
        name, _sep, value = part.strip().partition("=")
        if name.strip() == "topic":
            return value.strip()
    return ""


def parse_meituan(account: ChannelAccount, payload: str, content_type: str) -> list[PlatformEvent]:
    params = dict(parse_qsl(payload, keep_blank_values=True))
    request = InboundRequest(
        method="POST",
        url="",
        params=params,
        body=payload.encode(),
        topic=content_type_topic(content_type),
    )
    return get_adapter(ChannelKind.MEITUAN).parse(request)


def parse_eleme(account: ChannelAccount, payload: str, content_type: str) -> list[PlatformEvent]:
    request = InboundRequest(method="POST", url="", body=payload.encode())
    return get_adapter(ChannelKind.ELEME).parse(request)


def parse_square(account: ChannelAccount, payload: str, content_type: str) -> list[PlatformEvent]:
    if content_type.split(";")[0].strip() == CSV:
        return list(square_events(account, payload.encode()).events)
    request = InboundRequest(method="POST", url="", body=payload.encode())
    return get_adapter(ChannelKind.SQUARE).parse(request)


def square_events(account: ChannelAccount, data: bytes) -> square.SquareImport:
    """An item-sales export (or part of one) read for this account's store."""
    site = account.site
    return square.parse_item_sales(
        data, default_timezone=site.time_zone, currency=site.legal_entity.base_currency
    )


register_parser(ChannelKind.MEITUAN, parse_meituan)
register_parser(ChannelKind.ELEME, parse_eleme)
register_parser(ChannelKind.SQUARE, parse_square)
