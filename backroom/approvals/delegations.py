"""The "My delegations" page (转交): delegate one's approvals for a period, see current, upcoming
and past delegations given and received, cancel one (see docs/approvals.md, "Delegations").

- Everyone signed in manages their own. Holders of `approvals.manage` may also act for users in
  their scope (`runtime.can_manage_delegations_of`: the permission at every node where the user
  holds a role), naming them in "For"; the page lists the delegations of the users in that scope.
- Saving calls `runtime.create_delegation`; cancelling `runtime.cancel_delegation`. Every problem
  is shown at once next to its field, with the typed values kept (422): what the page cannot
  read (an unknown username, a date that is not one) and what `runtime.delegation_problems`
  finds in the rest.
- Times are typed and shown in the current time zone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from backroom.accounts.models import User
from backroom.accounts.permissions import ORG_VIEW
from backroom.accounts.selectors import users_for
from backroom.approvals import runtime
from backroom.approvals.models import Delegation
from backroom.approvals.permissions import APPROVALS_MANAGE
from backroom.kernel import clock
from backroom.kernel.exceptions import DomainError, PermissionDenied, ValidationFailed
from backroom.web.errors import page

FIELDS = ("delegator", "delegate", "starts_at", "ends_at", "reason")
# The service's error keys → the page's fields.
FIELD_MAP = {"delegate_id": "delegate", "delegator_id": "delegator"}
INPUT_FORMAT = "%Y-%m-%dT%H:%M"


def _is_admin(user: Any) -> bool:
    return bool(user.has_scoped_permission(APPROVALS_MANAGE))


def _local_input(value: dt.datetime) -> str:
    return timezone.localtime(value).strftime(INPUT_FORMAT)


def _parse_instant(value: str) -> dt.datetime | None:
    """A `datetime-local` value in the current time zone; None when it is not one."""
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def _user_named(username: str) -> User | None:
    return User.objects.filter(username__iexact=username.strip()).first() if username else None


def managed_delegations(actor: Any) -> QuerySet[Delegation]:
    """Delegations of the users in an administrator's scope (not the actor's own)."""
    if not _is_admin(actor):
        return Delegation.objects.none()
    scoped = users_for(actor, APPROVALS_MANAGE).exclude(pk=actor.pk).values("pk")
    return (
        Delegation.objects.filter(delegator_id__in=scoped)
        .select_related("delegator", "delegate")
        .order_by("-starts_at", "-pk")
    )


@dataclass
class Row:
    delegation: Delegation
    state: str  # "current", "upcoming", "ended", "cancelled"
    can_cancel: bool

    @property
    def state_label(self) -> str:
        return {
            "current": pgettext("delegation", "In force"),
            "upcoming": _("Upcoming"),
            "ended": _("Ended"),
            "cancelled": _("Cancelled"),
        }[self.state]


def _rows(actor: Any, delegations: Any, now: dt.datetime) -> list[Row]:
    rows = []
    manageable: dict[int, bool] = {}  # per delegator: the check costs queries
    for delegation in delegations:
        if delegation.cancelled_at is not None:
            state = "cancelled"
        elif delegation.ends_at <= now:
            state = "ended"
        elif delegation.starts_at > now:
            state = "upcoming"
        else:
            state = "current"
        can_cancel = False
        if state in ("current", "upcoming"):
            if delegation.delegator_id not in manageable:
                manageable[delegation.delegator_id] = runtime.can_manage_delegations_of(
                    actor, delegation.delegator
                )
            can_cancel = manageable[delegation.delegator_id]
        rows.append(Row(delegation=delegation, state=state, can_cancel=can_cancel))
    return rows


def _open(now: dt.datetime) -> Q:
    return Q(cancelled_at__isnull=True, ends_at__gt=now)


def _render(
    request: HttpRequest,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    user: Any = request.user
    now = clock.now()
    given = Delegation.objects.filter(delegator_id=user.pk).select_related("delegator", "delegate")
    received = Delegation.objects.filter(delegate_id=user.pk).select_related(
        "delegator", "delegate"
    )
    order = ("-starts_at", "-pk")
    is_admin = _is_admin(user)
    if values is None:
        start = now.replace(second=0, microsecond=0)
        values = {
            "delegator": "",
            "delegate": "",
            "starts_at": _local_input(start),
            "ends_at": "",
            "reason": "",
        }
    suggestions = (
        users_for(user, ORG_VIEW).filter(is_active=True).exclude(pk=user.pk).order_by("username")
    )
    return render(
        request,
        "approvals/delegations.html",
        {
            "title": _("My delegations"),
            "values": values,
            "errors": errors or {},
            "is_admin": is_admin,
            "suggestions": list(suggestions.values_list("username", flat=True)[:300]),
            "given_open": _rows(user, given.filter(_open(now)).order_by(*order), now),
            "given_past": _rows(user, given.exclude(_open(now)).order_by(*order)[:50], now),
            "received": _rows(user, received.filter(_open(now)).order_by(*order), now),
            "managed": _rows(user, managed_delegations(user).filter(_open(now))[:100], now)
            if is_admin
            else [],
            "time_zone": timezone.get_current_timezone_name(),
        },
        status=status,
    )


@page()
def delegations(request: HttpRequest) -> HttpResponse:
    """The page; a POST creates a delegation (for oneself, or for a user in an
    administrator's scope)."""
    if request.method != "POST":
        return _render(request)
    user: Any = request.user
    values = {name: request.POST.get(name, "").strip()[:2100] for name in FIELDS}
    errors: dict[str, list[str]] = {}
    delegator: User | None = user
    if values["delegator"] and values["delegator"].lower() != user.username.lower():
        if not _is_admin(user):
            raise PermissionDenied(_("You can only delegate your own approvals."))
        delegator = _user_named(values["delegator"])
        if delegator is None or not runtime.can_manage_delegations_of(user, delegator):
            errors["delegator"] = [_("There is no such user in your scope.")]
            delegator = None
    delegate = _user_named(values["delegate"])
    if not values["delegate"]:
        errors["delegate"] = [_("Name the person who approves for you.")]
    elif delegate is None:
        errors["delegate"] = [_("There is no such user.")]
    starts_at = _parse_instant(values["starts_at"])
    ends_at = _parse_instant(values["ends_at"])
    for name, parsed in (("starts_at", starts_at), ("ends_at", ends_at)):
        if parsed is None:
            errors[name] = [_("Enter a date and time.")]
    for key, texts in runtime.delegation_problems(
        delegator=delegator,
        delegate=delegate,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=values["reason"],
    ).items():
        errors.setdefault(FIELD_MAP.get(key, key), [str(text) for text in texts])
    if not errors:
        assert delegator is not None and delegate is not None
        assert starts_at is not None and ends_at is not None
        try:
            runtime.create_delegation(
                delegator=delegator,
                delegate=delegate,
                starts_at=starts_at,
                ends_at=ends_at,
                reason=values["reason"],
                actor=user,
            )
        except ValidationFailed as error:  # a window taken meanwhile
            for key, texts in error.errors.items():
                errors[FIELD_MAP.get(key, key)] = [str(text) for text in texts]
    if errors:
        return _render(request, values=values, errors=errors, status=422)
    messages.success(
        request,
        _("%(delegate)s now approves for %(delegator)s from %(start)s to %(end)s.")
        % {
            "delegate": delegate,
            "delegator": delegator,
            "start": timezone.localtime(starts_at).strftime("%Y-%m-%d %H:%M"),  # type: ignore[arg-type]
            "end": timezone.localtime(ends_at).strftime("%Y-%m-%d %H:%M"),  # type: ignore[arg-type]
        },
    )
    return redirect("approvals:delegations")


@page()
@require_POST
def delegation_cancel(request: HttpRequest, delegation_id: int) -> HttpResponse:
    """End a delegation now: its delegator's, or one an administrator may manage (else 404)."""
    delegation = runtime.managed_delegation(request.user, delegation_id)
    try:
        runtime.cancel_delegation(delegation, actor=request.user)
    except DomainError as error:
        if error.http_status == 404:
            raise
        messages.error(request, _("Nothing was changed: %(error)s") % {"error": error.message})
    else:
        messages.success(request, _("The delegation is cancelled."))
    return redirect("approvals:delegations")


urlpatterns = [
    path("delegations/", delegations, name="delegations"),
    path("delegations/<int:delegation_id>/cancel/", delegation_cancel, name="delegation_cancel"),
]
