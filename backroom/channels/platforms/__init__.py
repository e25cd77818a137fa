"""One adapter per platform: signing, parsing pushes into `base.PlatformEvent`, reply formats.

`get_adapter(kind)` gives the `base.PlatformAdapter` of a channel kind, so one callback view
serves every platform::

    adapter = get_adapter(kind)
    inbound = InboundRequest.from_django(request, url=public_url, topic=topic)
    try:
        adapter.verify_request(inbound, credentials)  # store nothing when this raises
    except PlatformError as error:
        return adapter.reject(error)
    events = adapter.parse(inbound)  # MalformedPayload: keep the raw payload as failed
    return adapter.ack()
"""

from __future__ import annotations

from backroom.channels.platforms.base import PlatformAdapter
from backroom.channels.platforms.eleme import ElemeAdapter
from backroom.channels.platforms.meituan import MeituanAdapter
from backroom.channels.platforms.square import SquareAdapter

ADAPTERS: dict[str, PlatformAdapter] = {
    adapter.kind: adapter for adapter in (MeituanAdapter(), ElemeAdapter(), SquareAdapter())
}


def get_adapter(kind: str) -> PlatformAdapter:
    """The adapter of a channel kind (a `ChannelKind` value); KeyError for kinds without one."""
    return ADAPTERS[kind]


__all__ = ["ADAPTERS", "get_adapter"]
