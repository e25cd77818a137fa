"""Helpers for the adapter tests: what Django would hand a view for a fake's push."""

from __future__ import annotations

from urllib.parse import parse_qsl

from backroom.channels.platforms.base import InboundRequest
from backroom.channels.testing.fakes import PushRequest

CALLBACK = "https://backroom.example.com/channels/meituan/7/"


def as_inbound(push: PushRequest, *, topic: str = "") -> InboundRequest:
    """The InboundRequest a view builds: form fields decoded once, as Django's request.POST."""
    params = (
        dict(parse_qsl(push.body.decode(), keep_blank_values=True))
        if "form" in push.content_type
        else {}
    )
    return InboundRequest(
        method=push.method,
        url=push.url,
        params=params,
        body=push.body,
        headers={"content-type": push.content_type},
        topic=topic,
    )
