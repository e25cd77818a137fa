"""Calls to the platforms' APIs (sold out, back in stock; accept, cancel, ready an order):
recorded, sent after commit, retried with backoff.

Each call is an `OutboundCall` row written in the transaction that decided it (`queue_call`),
so a rollback sends nothing and a crash after commit loses nothing: the periodic
`soldout_jobs.send_due_outbound` sends what is due. A call stores what to send (`request`,
no credentials) and is built and signed again at each attempt by the builder registered for
(channel kind, action), with the account's credentials, so timestamps are fresh.

Statuses: `pending` (not yet sent, or being sent), `sent` (the platform accepted it),
`failed` (with the reason; `next_attempt_at` set when the platform may accept it later:
HTTP 5xx/429, its own system errors, a network failure; empty when it refused the call for
good), `given_up` (retryable failures past `MAX_ATTEMPTS`), `superseded` (a newer call for
the same account and item replaced it before it was sent). A person may retry a failed or
given-up call (`retry_call`). A call about an order names it and is unique per (order,
action), so deciding the same thing twice records one call.

No lock is held across the network call: a call is claimed (committed) first, sent, then its
result is recorded in a new transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.audit.services import record_audit, snapshot
from backroom.catalog.models import Item
from backroom.channels.choices import ChannelKind
from backroom.channels.models import ChannelAccount, Order, OutboundCall, OutboundStatus
from backroom.channels.permissions import CHANNELS_MANAGE
from backroom.channels.platforms import eleme, meituan
from backroom.channels.platforms.base import Credentials, OutboundRequest
from backroom.channels.platforms.errors import OutboundRejected
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import Conflict

logger = logging.getLogger(__name__)

# Waits before each retry after a retryable failure; then the call is given up.
RETRY_DELAYS: tuple[dt.timedelta, ...] = (
    dt.timedelta(seconds=30),
    dt.timedelta(minutes=2),
    dt.timedelta(minutes=10),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=1),
    dt.timedelta(hours=2),
    dt.timedelta(hours=4),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
TIMEOUT = 10.0  # seconds per HTTP call
CLAIM = dt.timedelta(seconds=TIMEOUT + 50)  # a claimed call is not taken again before this
RESPONSE_EXCERPT = 1000
PLATFORM_KINDS = (ChannelKind.MEITUAN, ChannelKind.ELEME)

Builder = Callable[[ChannelAccount, Credentials, Mapping[str, Any], str | None], OutboundRequest]
Transport = Callable[[OutboundRequest, float], tuple[int, bytes]]

_BUILDERS: dict[tuple[str, str], Builder] = {}
_PARSERS: dict[str, Callable[[int, bytes], Any]] = {
    ChannelKind.MEITUAN.value: meituan.parse_response,
    ChannelKind.ELEME.value: eleme.parse_response,
}


def register_builder(kind: str, action: str, builder: Builder) -> None:
    """How a call of `action` to a `kind` account is built:
    `builder(account, credentials, request, api_base) -> OutboundRequest` (signed, no I/O)."""
    _BUILDERS[(str(kind), str(action))] = builder


def credentials_for(account: ChannelAccount) -> Credentials:
    """The account's credentials for one call (never logged). Keys of `account.secrets`:
    `app_id`, `secret` (or `app_secret`), and for Ele.me `app_key` and `token`."""
    secrets: dict[str, Any] = dict(account.secrets or {})  # type: ignore[arg-type]
    return Credentials(
        app_id=str(secrets.get("app_id", "")),
        secret=str(secrets.get("secret") or secrets.get("app_secret") or ""),
        token=str(secrets.get("token", "")),
        app_key=str(secrets.get("app_key", "")),
    )


def api_base(account: ChannelAccount) -> str | None:
    """The platform API base URL when the account overrides it (`secrets["api_base"]`: a
    sandbox, or the fake platform in tests); None for the platform's own."""
    secrets: dict[str, Any] = dict(account.secrets or {})  # type: ignore[arg-type]
    value = str(secrets.get("api_base", "")).strip()
    return value or None


def is_dry_run(account: ChannelAccount) -> bool:
    """A demo or rehearsal account (`secrets["dry_run"]`): its calls are built, signed and
    recorded but never sent, whatever `CHANNELS_OUTBOUND_DRY_RUN` says."""
    secrets: dict[str, Any] = dict(account.secrets or {})  # type: ignore[arg-type]
    return str(secrets.get("dry_run", "")).lower() in ("1", "true", "yes")


def platform_accounts(site_id: int) -> list[ChannelAccount]:
    """The store's active accounts on platforms we call (Meituan, Ele.me)."""
    return list(
        ChannelAccount.objects.filter(
            site_id=site_id, is_active=True, kind__in=PLATFORM_KINDS
        ).order_by("pk")
    )


# --- recording ---------------------------------------------------------------------------------


def queue_call(
    *,
    account: ChannelAccount,
    action: str,
    request: Mapping[str, Any],
    item: Item | int | None = None,
    order: Order | None = None,
    supersedes: Iterable[str] = (),
    error: str = "",
) -> OutboundCall:
    """Record a call in the caller's transaction; it is sent after commit.

    A call about an `order` is recorded once per (order, action) (a unique constraint): asked
    again, the first call is returned and nothing new is queued.

    Unsent calls of the same account and item whose action is in `supersedes` are marked
    superseded first (a back-in-stock replaces a sold-out not yet delivered). With `error`,
    the call is recorded as failed for good with that reason and never sent (e.g. the item
    has no code the platform understands): it shows in the failed list instead of vanishing.
    """
    item_id = item.pk if isinstance(item, Item) else item
    now = timezone.now()
    if supersedes and item_id is not None:
        OutboundCall.objects.filter(
            account=account,
            item_id=item_id,
            action__in=list(supersedes),
            status__in=[OutboundStatus.PENDING, OutboundStatus.FAILED, OutboundStatus.GIVEN_UP],
        ).update(status=OutboundStatus.SUPERSEDED, next_attempt_at=None, updated_at=now)
    row = OutboundCall(
        account=account,
        action=action,
        item_id=item_id,
        order=order,
        request=dict(request),
        status=OutboundStatus.FAILED if error else OutboundStatus.PENDING,
        last_error=error[:2000],
        next_attempt_at=None if error else now,
    )
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        if order is None:
            raise
        return OutboundCall.objects.get(order=order, action=action)
    call = row
    if not error:
        transaction.on_commit(partial(_enqueue, [call.pk]), robust=True)
    return call


def _enqueue(call_ids: list[int]) -> None:
    from backroom.channels.soldout_jobs import send_outbound_call

    for call_id in call_ids:
        send_outbound_call(call_id)


# --- sending -----------------------------------------------------------------------------------


def http_send(request: OutboundRequest, timeout: float) -> tuple[int, bytes]:
    """Send with the stdlib; an HTTP error status is returned, a network failure raises OSError."""
    method, url, body, headers = request.encode()
    if not url.lower().startswith(("http://", "https://")):
        raise OSError(_("Only http and https URLs are allowed."))
    outgoing = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(outgoing, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        try:
            return error.code, error.read()
        finally:
            error.close()


# Replaceable in tests (or by a deployment that needs a proxy): how requests go out.
transport: Transport = http_send


def due(now: dt.datetime) -> Q:
    """Calls to attempt now: pending or retryable, their time come, not claimed by a worker."""
    return (
        Q(status__in=[OutboundStatus.PENDING, OutboundStatus.FAILED])
        & Q(next_attempt_at__lte=now)
        & (Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
    )


def _claim(call_id: int, now: dt.datetime) -> bool:
    with transaction.atomic():
        return (
            OutboundCall.objects.filter(due(now), pk=call_id).update(
                claimed_until=now + CLAIM, updated_at=now
            )
            == 1
        )


def _excerpt(raw: bytes) -> str:
    return raw[:RESPONSE_EXCERPT].decode("utf-8", errors="replace")


def _response_json(status: int, raw: bytes) -> dict[str, Any]:
    try:
        body: Any = json.loads(raw) if raw else None
    except ValueError:
        body = _excerpt(raw)
    text = json.dumps(body, ensure_ascii=False, default=str)
    if len(text) > RESPONSE_EXCERPT:
        body = text[:RESPONSE_EXCERPT]
    return {"status": status, "body": body}


def send_call(call_id: int, *, now: dt.datetime | None = None) -> OutboundCall | None:
    """One attempt at a due call, recorded; None when it was not due (at `now`, default the
    current time) or another worker has it."""
    now = now or timezone.now()
    if not _claim(call_id, now):
        return None
    call = OutboundCall.objects.select_related("account").get(pk=call_id)
    account = call.account
    response: dict[str, Any] | None = None
    platform_action = call.platform_action
    retryable = False
    error = ""
    builder = _BUILDERS.get((account.kind, call.action))
    parser = _PARSERS.get(account.kind)
    if builder is None or parser is None:
        error = _("Backroom cannot send %(action)s to %(channel)s.") % {
            "action": call.action,
            "channel": account.get_kind_display(),
        }
    elif not account.is_active:
        error = _("The channel account is inactive.")
    else:
        try:
            outgoing = builder(account, credentials_for(account), call.request, api_base(account))
            platform_action = outgoing.action
        except (KeyError, ValueError, TypeError) as problem:
            error = _("The call could not be built: %(problem)s") % {"problem": problem}
        else:
            # Outside any transaction: the network (unless dry-running: the demo, a laptop).
            try:
                if settings.CHANNELS_OUTBOUND_DRY_RUN or is_dry_run(account):
                    status, raw = _dry_run(outgoing)
                else:
                    status, raw = transport(outgoing, TIMEOUT)
            except OSError as problem:
                retryable = True
                error = _("The platform could not be reached: %(problem)s") % {"problem": problem}
            else:
                response = _response_json(status, raw)
                try:
                    parser(status, raw)
                except OutboundRejected as rejected:
                    retryable = rejected.is_retryable
                    error = rejected.message
    return _record(call.pk, platform_action, response, error, retryable=retryable, now=now)


def _dry_run(outgoing: OutboundRequest) -> tuple[int, bytes]:
    """What a platform would answer to a well-formed call, without calling it
    (`CHANNELS_OUTBOUND_DRY_RUN`): the call is recorded as sent, with `dry_run` in its
    response."""
    logger.info("outbound call not sent (dry run): %s %s", outgoing.method, outgoing.url)
    return 200, json.dumps({"data": "ok", "message": "ok", "dry_run": True}).encode()


def _record(
    call_id: int,
    platform_action: str,
    response: dict[str, Any] | None,
    error: str,
    *,
    retryable: bool,
    now: dt.datetime,
) -> OutboundCall:
    now = max(now, timezone.now())
    with transaction.atomic():
        call = OutboundCall.objects.select_for_update().get(pk=call_id)
        call.attempts += 1
        call.claimed_until = None
        call.platform_action = platform_action[:100]
        call.response = response
        call.last_error = error[:2000]
        if call.status == OutboundStatus.SUPERSEDED:
            pass  # replaced while in flight: keep the result, not the status
        elif not error:
            call.status = OutboundStatus.SENT
            call.sent_at = now
            call.next_attempt_at = None
        elif retryable and call.attempts < MAX_ATTEMPTS:
            call.status = OutboundStatus.FAILED
            call.next_attempt_at = now + RETRY_DELAYS[call.attempts - 1]
        else:
            call.status = OutboundStatus.GIVEN_UP if retryable else OutboundStatus.FAILED
            call.next_attempt_at = None
        call.save()
    if error:
        logger.warning("outbound call %s (%s) failed: %s", call.pk, call.action, error)
    return call


def send_due(limit: int = 200, *, now: dt.datetime | None = None) -> int:
    """Attempt every due call (oldest first); the number of attempts made. Safe in several
    workers at once: each call is claimed before it is sent."""
    now = now or timezone.now()
    ids = list(
        OutboundCall.objects.filter(due(now))
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    attempts = 0
    for call_id in ids:
        try:
            if send_call(call_id, now=now) is not None:
                attempts += 1
        except Exception:
            logger.exception("outbound call %s could not be sent", call_id)
    return attempts


def retry_call(call: OutboundCall, *, actor: Any = SYSTEM) -> OutboundCall:
    """A person asks for a failed or given-up call to be tried again now (a fresh cycle of
    attempts); sent after commit. 409 for a call that is sent, superseded or pending."""
    account = ChannelAccount.objects.select_related("site__node").get(pk=call.account_id)
    require_permission(actor, CHANNELS_MANAGE, account.site.node)
    with transaction.atomic():
        locked = OutboundCall.objects.select_for_update().get(pk=call.pk)
        if locked.status not in (OutboundStatus.FAILED, OutboundStatus.GIVEN_UP):
            raise Conflict(
                _("Only a failed call can be retried."),
                details={"status": locked.status},
            )
        before = snapshot(locked, ["status", "attempts", "last_error", "next_attempt_at"])
        locked.status = OutboundStatus.PENDING
        locked.attempts = 0
        locked.next_attempt_at = timezone.now()
        locked.claimed_until = None
        locked.save()
        record_audit(
            actor=actor,
            action="channels.outbound.retry",
            target=locked,
            before=before,
            after=snapshot(locked, ["status", "attempts", "last_error", "next_attempt_at"]),
            org_node=account.site.node,
        )
        transaction.on_commit(partial(_enqueue, [locked.pk]), robust=True)
    return locked
