"""Closed stock periods: postings dated into them are refused, all lines at once; reopening needs a reason."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from backroom.audit.models import AuditEntry
from backroom.inventory import services
from backroom.inventory.models import StockMove, StockPeriodClose
from backroom.inventory.periods import PeriodClosed, close_period, closed_through
from backroom.inventory.tests.conftest import D, key
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import PermissionDenied, ValidationFailed
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

BASE = "/api/v1/inventory"


def _at(days_ago: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days_ago)


def _receive(stock, occurred_at, quantity="1"):
    return services.receive(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(quantity),
        unit_cost=D(10),
        key=key("rcv"),
        actor=SYSTEM,
        occurred_at=occurred_at,
    )


def test_a_posting_into_a_closed_period_is_refused_and_a_later_one_is_not(tree, stock):
    through = (_at(10)).astimezone(dt.UTC).date()
    close_period(tree.store_a.site, through=through, actor=SYSTEM)
    assert closed_through([tree.store_a.site.pk]) == {tree.store_a.site.pk: through}

    with pytest.raises(PeriodClosed) as refused:
        _receive(stock, _at(20))
    assert refused.value.code == "period_closed"
    assert StockMove.objects.count() == 0

    _receive(stock, _at(2))  # the open period
    assert StockMove.objects.count() == 1
    services.receive(  # another store is not closed
        item=stock.flour,
        location=stock.freezer_b,
        quantity=D(1),
        unit_cost=D(10),
        key=key("rcv"),
        actor=SYSTEM,
        occurred_at=_at(20),
    )
    assert StockMove.objects.count() == 2


def test_a_batch_reports_every_line_in_the_closed_period(tree, stock):
    close_period(tree.store_a.site, through=_at(10).date(), actor=SYSTEM)
    lines = [
        services.MoveInput(
            action="receive",
            item_id=stock.flour.pk,
            location_id=stock.walk_in.pk,
            quantity=D(1),
            unit_cost=D(5),
            key=key("b"),
            occurred_at=_at(days),
        )
        for days in (20, 1, 30)
    ]
    with pytest.raises(ValidationFailed) as refused:
        services.post_moves(lines, actor=SYSTEM)
    fields = refused.value.errors
    assert len(fields) == 2, fields
    assert StockMove.objects.count() == 0


def test_reopening_needs_a_reason_and_today_cannot_be_closed(tree):
    site = tree.store_a.site
    close_period(site, through=_at(10).date(), actor=SYSTEM)
    with pytest.raises(ValidationFailed) as missing:
        close_period(site, through=_at(40).date(), actor=SYSTEM)
    assert "reason" in missing.value.errors
    with pytest.raises(ValidationFailed) as today:
        close_period(site, through=_at(-1).date(), actor=SYSTEM)
    assert "through" in today.value.errors
    close_period(site, through=None, actor=SYSTEM, reason="supplier credit note for October")
    assert closed_through([site.pk]) == {}
    assert list(
        AuditEntry.objects.filter(action__startswith="inventory.period.")
        .values_list("action", flat=True)
        .order_by("id")
    ) == ["inventory.period.close", "inventory.period.reopen"]


def test_closing_needs_manage_at_the_store(tree):
    staff = make_user("store_staff", tree.store_a)
    with pytest.raises(PermissionDenied):
        close_period(tree.store_a.site, through=_at(10).date(), actor=staff)
    assert not StockPeriodClose.objects.exists()


def test_period_close_api_matrix(tree):
    site = tree.store_a.site
    through = _at(10).date().isoformat()
    result = assert_matrix(
        "POST",
        f"{BASE}/sites/{site.pk}/period-close",
        payload={"through": through},
        allowed=make_user("finance", tree.group),
        forbidden=make_user("store_staff", tree.store_a),
        other_scope=make_user("finance", tree.store_b),
        snapshot=lambda: list(StockPeriodClose.objects.values_list("id", flat=True)),
    )
    assert result.allowed.json()["closed_through"] == through
    shown = client_for(make_user("store_staff", tree.store_a)).get(
        f"{BASE}/sites/{site.pk}/period-close"
    )
    assert shown.status_code == 200 and shown.json()["closed_through"] == through
    bad = client_for(make_user("finance", tree.group)).post(
        f"{BASE}/sites/{site.pk}/period-close",
        json.dumps({"through": "2000-01-01"}),
        content_type="application/json",
    )
    assert bad.status_code == 422 and "reason" in bad.json()["details"]["fields"]
