"""Platform callbacks: the public URLs Meituan, Ele.me and Square push to (docs/channels.md,
"Callbacks").

No session and no CSRF token: the platform's signature is the authentication. For each push:

1. find the channel account it addresses (the platform store code, else, for a Meituan push
   without `app_poi_code`, the order it names); unknown → the platform's unknown-store reply;
2. verify the signature with that account's credentials over the callback URL exactly as the
   platform called it (`callback_url`); a bad signature or another app → the platform's error
   reply, nothing stored, one warning in the log (platform, reason, store code, remote address:
   never the payload or a secret);
3. read the push's order id and event key (`adapter.parse`, pure, no database), store the body
   verbatim in the inbox (`intake.receive_message`, unique per account, order id and event key:
   a replay is acknowledged and changes nothing) and answer at once. The worker applies it
   (`jobs.process_inbox_message` with the parsers of `channels.parsers`).

A signed push that cannot be read is stored too, marked failed with the reason and
acknowledged: it is ours to fix, and the inbox retry applies it once the parser is fixed.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from backroom.channels.choices import ChannelKind, InboxStatus
from backroom.channels.intake import receive_message
from backroom.channels.models import ChannelAccount, InboxMessage, Order
from backroom.channels.outbound import credentials_for
from backroom.channels.parsers import meituan_content_type
from backroom.channels.platforms import get_adapter, meituan
from backroom.channels.platforms.base import InboundRequest, PlatformAdapter, PlatformEvent, Reply
from backroom.channels.platforms.errors import PlatformError, UnknownStore
from backroom.channels.platforms.parsing import digest, loads_exact, text
from backroom.channels.selectors import account_for_push

logger = logging.getLogger(__name__)

JSON = "application/json"


def callback_url(request: HttpRequest) -> str:
    """The URL the platform called, as it signed it: `CHANNELS_CALLBACK_BASE_URL` (which
    defaults to `BACKROOM_BASE_URL` from the environment) + the path, else the absolute URI of
    the request (the Host header). Behind a proxy set the base URL to the public one."""
    base = str(getattr(settings, "CHANNELS_CALLBACK_BASE_URL", "") or "").rstrip("/")
    if base:
        return base + request.path
    return request.build_absolute_uri(request.path)


# --- the views -----------------------------------------------------------------------------


@csrf_exempt
@require_http_methods(["GET", "POST"])
def meituan_callback(request: HttpRequest, topic: str) -> HttpResponse:
    """One Meituan callback per event (`meituan.TOPICS`); a request without parameters is the
    platform testing the URL."""
    return handle(request, ChannelKind.MEITUAN, topic)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def eleme_callback(request: HttpRequest) -> HttpResponse:
    """Ele.me: GET is the heartbeat, every message is POSTed here."""
    return handle(request, ChannelKind.ELEME)


@csrf_exempt
@require_http_methods(["POST"])
def square_webhook(request: HttpRequest) -> HttpResponse:
    """Square webhooks (recorded by `event_id`; orders come through the CSV import)."""
    return handle(request, ChannelKind.SQUARE)


def handle(request: HttpRequest, kind: str, topic: str = "") -> HttpResponse:
    adapter = get_adapter(kind)
    request.body  # noqa: B018  (read the raw body first: a multipart form would consume it)
    inbound = InboundRequest.from_django(request, url=callback_url(request), topic=topic)
    if _is_heartbeat(kind, inbound):
        return _reply(adapter.ack())
    account, store_ref = _account_for(kind, adapter, inbound)
    if account is None:
        return _rejected(request, adapter, UnknownStore(store_ref), store_ref)
    try:
        adapter.verify_request(inbound, credentials_for(account))
    except PlatformError as error:
        return _rejected(request, adapter, error, store_ref)
    store(account, kind, inbound, request)
    return _reply(adapter.ack())


def store(
    account: ChannelAccount, kind: str, inbound: InboundRequest, request: HttpRequest
) -> tuple[InboxMessage, bool]:
    """Store a verified push verbatim, keyed by its order id and event key; a push that
    cannot be read is stored failed with the reason (not queued; the inbox retry re-reads it)."""
    adapter = get_adapter(kind)
    payload, content_type = _payload(kind, inbound, request)
    try:
        events = adapter.parse(inbound)
    except PlatformError as error:
        with transaction.atomic():
            message, created = receive_message(
                account,
                payload=payload,
                external_order_id=_order_ref(kind, inbound),
                event_key=_malformed_key(kind, inbound),
                raw_type=inbound.topic or "malformed",
                content_type=content_type,
                process=False,
            )
            if created:
                InboxMessage.objects.filter(pk=message.pk).update(
                    status=InboxStatus.FAILED, reason=f"{error.code}: {error.message}"[:5000]
                )
        return message, created
    external_order_id, event_key, raw_type = _keys(events)
    return receive_message(
        account,
        payload=payload,
        external_order_id=external_order_id,
        event_key=event_key,
        raw_type=raw_type,
        content_type=content_type,
    )


# --- helpers -------------------------------------------------------------------------------


def _reply(reply: Reply) -> HttpResponse:
    return HttpResponse(
        reply.content(), status=reply.status, content_type="application/json;charset=utf-8"
    )


def _rejected(
    request: HttpRequest, adapter: PlatformAdapter, error: PlatformError, store_ref: str
) -> HttpResponse:
    logger.warning(
        "channels callback rejected: platform=%s reason=%s store=%s remote=%s path=%s",
        adapter.kind,
        error.code,
        store_ref[:64],
        request.META.get("REMOTE_ADDR", ""),
        request.path,
    )
    return _reply(adapter.reject(error))


def _is_heartbeat(kind: str, inbound: InboundRequest) -> bool:
    if kind == ChannelKind.MEITUAN:
        return not inbound.params  # Meituan testing the URL
    if kind == ChannelKind.ELEME:
        return inbound.method == "GET"
    return False


def _account_for(
    kind: str, adapter: PlatformAdapter, inbound: InboundRequest
) -> tuple[ChannelAccount | None, str]:
    """The account the push claims (unverified until its signature is checked)."""
    refs = [adapter.store_ref(inbound)]
    if kind == ChannelKind.SQUARE:
        refs.append(_square_location(inbound))
    for ref in refs:
        if ref:
            account = account_for_push(kind, ref)
            if account is not None:
                return account, ref
    order_id = _order_ref(kind, inbound)
    if kind == ChannelKind.MEITUAN and not refs[0] and order_id:
        # Some Meituan pushes (cancellation, refunds) may omit app_poi_code: the order knows.
        # Looked up per active account, through the (account, external id) index.
        accounts = list(
            ChannelAccount.objects.filter(kind=kind, is_active=True).values_list("pk", flat=True)
        )
        order = (
            Order.objects.select_related("account__site__node")
            .filter(account_id__in=accounts, external_id=order_id, pos_uuid__isnull=True)
            .first()
        )
        if order is not None:
            return order.account, order.account.store_ref
    return None, next((ref for ref in refs if ref), "")


def _square_location(inbound: InboundRequest) -> str:
    """The `location_id` of a Square notification's object, when it has one."""
    try:
        payload = loads_exact(inbound.body)
    except ValueError:
        return ""
    data = payload.get("data") if isinstance(payload, dict) else None
    inner = data.get("object") if isinstance(data, dict) else None
    if isinstance(inner, dict):
        for value in inner.values():
            if isinstance(value, dict) and value.get("location_id"):
                return text(value["location_id"])
    return ""


def _payload(kind: str, inbound: InboundRequest, request: HttpRequest) -> tuple[str, str]:
    """(the push as received, its content type). Meituan's form body (or query string for a
    GET) is kept as sent; the callback topic goes with the content type, which the parser reads."""
    body = inbound.body.decode("utf-8", errors="replace")
    if kind == ChannelKind.MEITUAN:
        query = request.META.get("QUERY_STRING", "")
        payload = "&".join(
            part for part in (query, body if inbound.method == "POST" else "") if part
        )
        return payload, meituan_content_type(inbound.topic)
    return body, JSON


def _keys(events: list[PlatformEvent]) -> tuple[str, str, str]:
    """(external order id, event key, raw type) of a push's events (one for every platform)."""
    first = events[0]
    if len(events) == 1:
        return first.external_order_id, first.event_key, first.raw_type
    return (
        first.external_order_id,
        "|".join(event.event_key for event in events),
        first.raw_type,
    )


def _order_ref(kind: str, inbound: InboundRequest) -> str:
    """The order id a push names, best effort (for unreadable pushes and routing)."""
    if kind == ChannelKind.MEITUAN:
        return meituan.decode_value(inbound.params.get("order_id", "")).strip()[:64]
    try:
        payload: Any = loads_exact(inbound.body)
        if kind == ChannelKind.ELEME and isinstance(payload, dict):
            message = payload.get("message")
            message = loads_exact(text(message)) if isinstance(message, str) else message
            if isinstance(message, dict):
                return text(message.get("orderId") or message.get("id"))[:64]
    except ValueError:
        return ""
    return ""


def _malformed_key(kind: str, inbound: InboundRequest) -> str:
    """A key that stays the same when the platform pushes the same unreadable push again
    (Meituan and Ele.me re-sign with a new timestamp)."""
    if kind == ChannelKind.MEITUAN:
        decoded = meituan.decode_params(inbound.params)
        return f"malformed:{inbound.topic}:{meituan.stable_digest(decoded)}"
    try:
        payload = loads_exact(inbound.body)
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        if kind == ChannelKind.ELEME:
            return f"malformed:{digest(text(payload.get('type')), text(payload.get('message')))}"
        if payload.get("event_id"):
            return f"malformed:{text(payload['event_id'])}"
    return f"malformed:{digest(inbound.body.decode('utf-8', errors='replace'))}"


urlpatterns = [
    *(
        path(
            f"callbacks/meituan/{topic}/",
            meituan_callback,
            {"topic": topic},
            name=f"meituan_{topic}",
        )
        for topic in meituan.TOPICS
    ),
    path("callbacks/eleme/", eleme_callback, name="eleme_callback"),
    path("callbacks/square/", square_webhook, name="square_webhook"),
]
